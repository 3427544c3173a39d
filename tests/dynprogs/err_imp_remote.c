/* With err_imp_libc.c: one local imported as two different remote names. */
#pragma dynimport p_fn sin "libc.so.6"
extern double (*p_fn)(double);
double use_other(void) { return p_fn(3.0); }
