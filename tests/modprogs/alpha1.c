/* Module alpha: internal calls across files, a function-pointer table, strings,
 * pointers in data, bss, data and function imports. */
extern int print(char *, ...);
extern void host_log(char *);
extern int host_counter;
extern char host_banner[];

int alpha_twice(int);
int alpha_square(int);

char *mod_name = "alpha";
static int (*ops[])(int) = {alpha_twice, alpha_square};
static const char *words[] = {"zero", "one", "two", "three", "four", "five"};
int history[64];
int nhistory;

int mod_add(int a, int b)
{
	history[nhistory++] = a + b;
	return a + b + ops[0](a);
}

int mod_run(int n)
{
	int r = ops[n & 1](n);
	print("alpha: %s -> %d (%s)\n", words[n], r, host_banner);
	host_log(words[n % 6]);
	host_counter += r;
	return r + nhistory;
}
