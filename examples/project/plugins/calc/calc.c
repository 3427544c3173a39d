/* The calc plugin: arithmetic spread over three files, reported through the host. */
#include "hostapi.h"
#include "calc.h"

char *plugin_name = "calc";

int
plugin_run(int n)
{
	long f;
	int i, s;

	f = fib(n);
	host_printint("fib(n)", f);
	host_printint("gcd(fib(2n), fib(n+5))", gcd(fib(2 * n), fib(n + 5)));
	s = 0;
	for(i = 1; i <= n; i++)
		s = host_add(s, i * i);
	host_printint("sum of squares 1..n", s);
	host_printint("primes below 100", nprimes(100));
	return (int)f + s;
}
