/* First object of the two-library program: imports from libm.so.6 first, then libc.so.6
 * (DT_NEEDED must follow that first-seen order), and exports code and data of every kind. */
#include "util.h"

#pragma dynimport p_ldexp ldexp "libm.so.6"
#pragma dynimport p_environ environ "libc.so.6"
#pragma dynexport a_func exp_func
#pragma dynexport a_data exp_data
#pragma dynexport a_ro exp_ro
#pragma dynexport a_bss exp_bss
#pragma dynexport b_func exp_func_b

double (*p_ldexp)(double, int);
char ***p_environ;

int a_data[7] = {1, 2, 3, 4, 5, 6, 7};
const int a_ro[3] = {10, 20, 30};
char a_bss[100];

extern int b_func(int);
extern void b_report(long v);

int a_func(int x)
{
	return x * 3 + a_data[x % 7] + a_ro[x % 3] + a_bss[x % 100];
}

ENTRY _start(void)
{
	b_report((long)p_ldexp(3.0, 4));
	b_report(a_func(2) + b_func(1) + (*p_environ != 0));
}
