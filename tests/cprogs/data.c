/* Pointers inside initialised data: string tables, a linked list, pointers with addends. */
#include "prog.h"

const char *const numbers[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
const char *words[] = {"alpha", "beta", "gamma", 0};
char message[] = "initialised char array";
char *msg_tail = message + 12;

struct node {
	int value;
	struct node *next;
	const char *label;
};

struct node nodes[4] = {
	{1, &nodes[1], "first"},
	{2, &nodes[2], "second"},
	{3, &nodes[3], "third"},
	{4, 0, "fourth"},
};
struct node *head = &nodes[0];

int table[8] = {1, 1, 2, 3, 5, 8, 13, 21};
int *table_end = &table[8];
int **table_end_p = &table_end;
static const unsigned char blob[] = {0xde, 0xad, 0xbe, 0xef};
const void *anything[] = {blob, &table[3], numbers, 0};
long long big_init = 0x123456789abcdefLL;

struct big {
	int v[40];
	const char *name;
};
static const struct big big_template = {{1, 2, 3, 4, 5}, "template"};

static struct big copy_big(int k)
{
	struct big b = big_template; /* a struct copy: the compiler calls memcpy */
	b.v[39] = k;
	return b;
}

void test_data(int k)
{
	struct node *n;
	int sum = 0, *p;
	const char **w;
	struct big b;
	char zeros[100] = {0};
	unsigned i;

	for (n = head; n; n = n->next) {
		print_str("node ");
		print_str(n->label);
		print_nl();
		sum += n->value;
	}
	print_kv("node_sum", sum);
	print_str("number ");
	print_str(numbers[k]);
	print_nl();
	for (w = words; *w; w++) {
		print_str("word ");
		print_str(*w);
		print_nl();
	}
	print_str("tail ");
	print_str(msg_tail);
	print_nl();
	sum = 0;
	for (p = table; p < *table_end_p; p++)
		sum += *p;
	print_kv("table_sum", sum);
	print_kv("anything1", *(const int *)anything[1]);
	print_kv("blob0", ((const unsigned char *)anything[0])[0]);
	print_str("anything2 ");
	print_str(((const char *const *)anything[2])[9]);
	print_nl();
	print_str("big_init ");
	print_hex((unsigned long long)big_init);
	print_nl();
	b = copy_big(k);
	print_kv("big.v4", b.v[4]);
	print_kv("big.v39", b.v[39]);
	print_str("big.name ");
	print_str(b.name);
	print_nl();
	zeros[k] = 1;
	sum = 0;
	for (i = 0; i < sizeof zeros; i++)
		sum += zeros[i];
	check(sum == 1, "local array zeroed");
	check(memcmp(message, "initialised", 11) == 0, "memcmp");
}
