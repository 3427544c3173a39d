/* Weak definitions (one overridden in strong.c) and undefined weak references that must be 0. */
#include "prog.h"

__attribute__((weak)) int hook(int x) { return x + 1; }
__attribute__((weak)) int weak_default(int x) { return x * 2; }
__attribute__((weak)) int weak_data = 5;
__attribute__((weak)) int weak_kept = 6;

extern int missing_func(int) __attribute__((weak));
extern int missing_data __attribute__((weak));

void test_weak(int k)
{
	print_kv("hook", hook(k));
	print_kv("weak_default", weak_default(k));
	print_kv("weak_data", weak_data);
	print_kv("weak_kept", weak_kept);
	print_kv("missing_func_null", missing_func == 0);
	print_kv("missing_data_null", &missing_data == 0);
	if (missing_func)
		print_kv("missing_func", missing_func(k));
}
