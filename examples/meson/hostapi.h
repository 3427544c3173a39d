/* What the host exports to modules (exports.yaml) and what greet imports (greet.yaml). */
void host_print(char *s);
int host_twice(int x);
