/* With err_imp_libc.c: one local imported from two different libraries. */
#pragma dynimport p_fn cos "libm.so.6"
extern double (*p_fn)(double);
double use_it(void) { return p_fn(2.0); }
