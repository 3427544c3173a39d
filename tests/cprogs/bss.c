/* A large zero-initialised (bss) array, local and global. */
#include "prog.h"

static unsigned char big_buffer[1 << 20];
unsigned int big_table[65536];

void test_bss(int k)
{
	unsigned long long sum = 0;
	unsigned i;
	int zero = 1;

	for (i = 0; i < sizeof big_buffer; i++)
		zero &= big_buffer[i] == 0;
	for (i = 0; i < 65536; i++)
		zero &= big_table[i] == 0;
	print_kv("bss_zero", zero);
	for (i = 0; i < sizeof big_buffer; i++)
		big_buffer[i] = (unsigned char)(i * k);
	for (i = 0; i < sizeof big_buffer; i++)
		sum += big_buffer[i];
	print_ukv("bss_sum", sum);
	for (i = 0; i < 65536; i++)
		big_table[i] = i ^ (unsigned)k;
	sum = 0;
	for (i = 0; i < 65536; i++)
		sum += big_table[i] * (unsigned long long)i;
	print_ukv("table_sum", sum);
	print_kv("last", big_buffer[sizeof big_buffer - 1]);
}
