/* Common symbols (compiled with -fcommon): the same tentative definitions as common1.c. */
#include "prog.h"

int common_counter;
int common_array[100];
long long common_only_here;

void test_common(int k)
{
	common_bump(5);
	common_bump(37 + k);
	print_kv("common_counter", common_counter);
	print_kv("common_array", common_array[37 + k]);
	print_kv("common_only_here", common_only_here);
	common_only_here = -k;
	print_kv("common_only_here", common_only_here);
}
