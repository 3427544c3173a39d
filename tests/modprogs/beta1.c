/* Module beta: a switch (jump table), recursion, a struct with function pointers. */
extern int print(char *, ...);
extern int host_counter;

struct op { const char *name; int (*fn)(int); };
static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static int negate(int n) { return -n; }
static struct op table[] = {{"fib", fib}, {"negate", negate}};
char *mod_name = "beta";

int mod_add(int a, int b)
{
	switch (a) {
	case 0: return b;
	case 1: return b + 10;
	case 2: return b + 200;
	case 3: return b + 3000;
	case 4: return b + 40000;
	case 5: return b + 500000;
	default: return -1;
	}
}

int mod_run(int n)
{
	struct op *o = &table[n & 1];
	int r = o->fn(n + 6);
	print("beta: %s(%d) = %d\n", o->name, n + 6, r);
	host_counter -= 1;
	return r;
}
