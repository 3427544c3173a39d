/* Fibonacci numbers, remembered in a table in the module's bss. */
#include "calc.h"

static long memo[64];

long
fib(int n)
{
	long a, b, t;
	int i;

	if(n < 0 || n >= 64)
		return -1;
	if(n < 2 || memo[n] != 0)
		return n < 2 ? n : memo[n];
	a = 0;
	b = 1;
	for(i = 1; i < n; i++){
		t = a + b;
		a = b;
		b = t;
	}
	memo[n] = b;
	return b;
}
