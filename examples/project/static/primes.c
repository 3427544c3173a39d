/* A static freestanding program: dyntools' rt gives it _start, write and exit. */
#include "rt.h"

static int
isprime(unsigned n)
{
	unsigned d;

	if(n < 2)
		return 0;
	for(d = 2; d * d <= n; d++)
		if(n % d == 0)
			return 0;
	return 1;
}

static int
collatz(unsigned long long n)
{
	int steps;

	for(steps = 0; n != 1; steps++)
		n = (n & 1) ? 3 * n + 1 : n / 2;
	return steps;
}

int
main(int argc, char **argv)
{
	unsigned n;
	int i;

	print_str("primes below 50:");
	for(n = 0; n < 50; n++)
		if(isprime(n)){
			print_char(' ');
			print_uint(n);
		}
	print_nl();
	print_str("collatz steps of 27: ");
	print_int(collatz(27));
	print_nl();
	print_str("2^40 / 7 = ");
	print_uint((1ULL << 40) / 7);
	print_nl();
	print_str("-2^40 % 1000 = ");
	print_int(-(1LL << 40) % 1000);
	print_nl();
	print_str("hex: ");
	print_hex(0xdeadbeefULL);
	print_nl();
	for(i = 1; i < argc; i++){
		print_str("arg: ");
		print_str(argv[i]);
		print_nl();
	}
	return 0;
}
