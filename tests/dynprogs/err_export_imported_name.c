/* Error: one name both dynexported (under puts) and dynimported (puts from libc). */
#pragma dynimport p_puts puts "libc.so.6"
#pragma dynexport my_puts puts
int (*p_puts)(const char *);
int my_puts(const char *s) { return p_puts(s); }
void _start(void) { my_puts("x"); }
