/* 64-bit arithmetic (division calls the rt's helpers on 386 and arm), 32-bit division, doubles. */
#include "prog.h"

void test_arith(int k)
{
	unsigned long long a = 0x0123456789abcdefULL * (unsigned)k;
	unsigned long long b = 1000000007ULL + (unsigned)k;
	long long s = -(long long)a;
	unsigned u = 0xdeadbeefu + (unsigned)k;
	int i = -1000 - k;
	double d = k * 1.25;

	print_ukv("mul", a);
	print_ukv("div", a / b);
	print_ukv("mod", a % b);
	print_kv("sdiv", s / 12345);
	print_kv("smod", s % 12345);
	print_kv("sdiv2", s / -(long long)b);
	print_ukv("shr", a >> (k + 30));
	print_ukv("shl", a << (k + 20));
	print_kv("sar", s >> 17);
	print_ukv("divbig", 0xffffffffffffffffULL / (0x100000000ULL + (unsigned)k));
	print_ukv("mul32", (unsigned long long)0xffffffffu * (0xfffffff0u + (unsigned)k));
	print_ukv("udiv32", u / (unsigned)(k + 7));
	print_ukv("umod32", u % (unsigned)(k + 7));
	print_kv("idiv32", i / k);
	print_kv("imod32", i % k);
	print_kv("double", (int)(d * 1000.0 + 0.5));
	print_kv("double_div", (int)(1000000.0 / k));
}
