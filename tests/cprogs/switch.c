/* A switch dense enough for a jump table, and one that becomes a table of string pointers. */
#include "prog.h"

long long compute(int op, long long a, long long b)
{
	switch (op) {
	case 0: return a + b;
	case 1: return a - b;
	case 2: return a * b;
	case 3: return a ^ (b << 3);
	case 4: return (a << 2) + b;
	case 5: return a - 7 * b;
	case 6: return (a | b) + 6;
	case 7: return (a & b) - 7;
	case 8: return a * a + b;
	case 9: return b * b - a;
	case 10: return -a;
	case 11: return ~b;
	case 12: return a + 1000;
	case 13: return b - 1000;
	case 14: return (a >> 1) + (b >> 2);
	case 15: return a * 3 + b * 5;
	default: return -1;
	}
}

const char *dayname(int d)
{
	switch (d) {
	case 0: return "sunday";
	case 1: return "monday";
	case 2: return "tuesday";
	case 3: return "wednesday";
	case 4: return "thursday";
	case 5: return "friday";
	case 6: return "saturday";
	default: return "never";
	}
}

void test_switch(int k)
{
	int op;

	for (op = 0; op <= 16; op++) {
		print_str("sw ");
		print_int(op);
		print_char(' ');
		print_int(compute(op, 1000 + k, k));
		print_nl();
	}
	for (op = k; op < k + 8; op++) {
		print_str("day ");
		print_str(dayname(op % 8));
		print_nl();
	}
}
