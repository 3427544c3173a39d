/* Printing to standard output without a libc. */
#include "rt.h"

void print_str(const char *s)
{
	write(1, s, strlen(s));
}

void print_char(int c)
{
	char b = (char)c;
	write(1, &b, 1);
}

void print_nl(void)
{
	print_char('\n');
}

void print_uint(unsigned long long v)
{
	char buf[24];
	int i = sizeof buf;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	write(1, buf + i, sizeof buf - i);
}

void print_int(long long v)
{
	if (v < 0) {
		print_char('-');
		print_uint(0 - (unsigned long long)v);
	} else {
		print_uint((unsigned long long)v);
	}
}

void print_hex(unsigned long long v)
{
	char buf[18];
	int i = sizeof buf;
	do {
		buf[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	write(1, buf + i, sizeof buf - i);
}
