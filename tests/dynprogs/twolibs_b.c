/* Second object of the two-library program: imports from libc.so.6 only (direct calls),
 * and libm.so.6's ldexp again under the same local name, which is allowed. */
#include "util.h"

extern int puts(const char *);
extern void exit(int);

#pragma dynimport puts puts "libc.so.6"
#pragma dynimport exit exit "libc.so.6"
#pragma dynimport p_ldexp ldexp "libm.so.6"

extern double (*p_ldexp)(double, int);
static int calls;

int b_func(int x)
{
	return (int)p_ldexp(x, 1);
}

void b_report(long v)
{
	char m[40];

	num(cpy(m, "value "), v);
	puts(m);
	if (++calls == 2)
		exit(0);
}
