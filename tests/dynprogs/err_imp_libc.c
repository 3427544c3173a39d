/* With err_imp_libm.c: one local imported from two different libraries. */
#pragma dynimport p_fn cos "libc.so.6"
double (*p_fn)(double);
void _start(void) { p_fn(1.0); }
