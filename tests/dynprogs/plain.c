/* A plain object (no directives): the tests give it a hand-made .dynpragma section. */
int plain_value = 7;
void _start(void) {}
