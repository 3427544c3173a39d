/* Entry point of the cprogs test program; exit status 42 when every check passed. */
#include "prog.h"

int check_failures;
static const char banner[] = "cprogs: hello from dyntools";

void check(int ok, const char *what)
{
	if (!ok) {
		check_failures++;
		print_str("FAIL ");
		print_str(what);
		print_nl();
	}
}

void print_kv(const char *key, long long value)
{
	print_str(key);
	print_char('=');
	print_int(value);
	print_nl();
}

void print_ukv(const char *key, unsigned long long value)
{
	print_str(key);
	print_char('=');
	print_uint(value);
	print_nl();
}

int main(int argc, char **argv)
{
	int i, k = argc;

	print_str(banner);
	print_nl();
	print_kv("argc", argc);
	for (i = 1; i < argc; i++) {
		print_str("arg ");
		print_str(argv[i]);
		print_nl();
	}
	check(argv[argc] == 0, "argv[argc] is null");
	test_ops(k);
	test_switch(k);
	test_data(k);
	test_common(k);
	test_weak(k);
	test_recursion(k);
	test_bss(k);
	test_arith(k);
	print_kv("failures", check_failures);
	return check_failures ? 1 : 42;
}
