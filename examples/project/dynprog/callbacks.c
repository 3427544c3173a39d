/*
 * A shared library (built by zig cc -shared against glibc) that calls back into
 * the program that loaded it: prog_square, prog_note and prog_scale are the
 * program's #pragma dynexport symbols, bound by the dynamic loader at dlopen.
 */
extern int prog_square(int x);
extern void prog_note(const char *s);
extern int prog_scale;

int
scaled_sum_of_squares(int n)
{
	int i, s;

	s = 0;
	for(i = 1; i <= n; i++)
		s += prog_square(i);
	prog_note(n > 4 ? "a long sum" : "a short sum");
	return s * prog_scale;
}
