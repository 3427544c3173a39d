/* Recursion (direct and mutual) and static locals. */
#include "prog.h"

long long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int ack(int m, int n)
{
	if (m == 0)
		return n + 1;
	if (n == 0)
		return ack(m - 1, 1);
	return ack(m - 1, ack(m, n - 1));
}

int is_even(unsigned n);
int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }
int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }

unsigned long long gcd(unsigned long long a, unsigned long long b) { return b ? gcd(b, a % b) : a; }

static void hanoi(int n, int *moves)
{
	if (n == 0)
		return;
	hanoi(n - 1, moves);
	++*moves;
	hanoi(n - 1, moves);
}

static int counter(void)
{
	static int n = 10;
	return ++n;
}

static const char *static_msg(void)
{
	static const char *m = "static local pointer";
	static int calls;
	calls++;
	return calls > 1 ? m + 7 : m;
}

void test_recursion(int k)
{
	int moves = 0, a, b, c;

	print_kv("fib", fib(20 + k));
	print_kv("ack", ack(2, k));
	print_kv("is_even", is_even(100 + k));
	print_ukv("gcd", gcd(1234567890123ULL * k, 9876543210ULL * k));
	hanoi(10 + k, &moves);
	print_kv("hanoi", moves);
	a = counter();
	b = counter();
	c = counter();
	print_kv("counter", a * 10000 + b * 100 + c);
	print_str(static_msg());
	print_nl();
	print_str(static_msg());
	print_nl();
}
