/* Function-pointer tables and structs holding pointers to functions and data. */
#include "prog.h"

typedef long long (*binop)(long long, long long);

static long long op_add(long long a, long long b) { return a + b; }
static long long op_sub(long long a, long long b) { return a - b; }
static long long op_mul(long long a, long long b) { return a * b; }
static long long op_and(long long a, long long b) { return a & b; }
static long long op_or(long long a, long long b) { return a | b; }
static long long op_xor(long long a, long long b) { return a ^ b; }
static long long op_shl(long long a, long long b) { return a << (b & 63); }
static long long op_max(long long a, long long b) { return a > b ? a : b; }

binop optab[] = {op_add, op_sub, op_mul, op_and, op_or, op_xor, op_shl, op_max};
const char *const opnames[] = {"add", "sub", "mul", "and", "or", "xor", "shl", "max"};

struct shape {
	const char *name;
	int (*area)(const struct shape *);
	const int *dims;
	int ndims;
};

static const int rect_dims[] = {3, 4};
static const int tri_dims[] = {6, 5};
static const int square_dims[] = {7};

static int rect_area(const struct shape *s) { return s->dims[0] * s->dims[1]; }
static int tri_area(const struct shape *s) { return s->dims[0] * s->dims[1] / 2; }
static int square_area(const struct shape *s) { return s->dims[0] * s->dims[0]; }

const struct shape shapes[] = {
	{"rect", rect_area, rect_dims, 2},
	{"tri", tri_area, tri_dims, 2},
	{"square", square_area, square_dims, 1},
};

struct vtable {
	binop first;
	const struct shape *shape;
	binop *table;
};
struct vtable vt = {op_mul, &shapes[2], &optab[6]};

void test_ops(int k)
{
	unsigned i;
	long long a = 100 + k, b = k;

	for (i = 0; i < sizeof optab / sizeof optab[0]; i++) {
		print_str("op ");
		print_str(opnames[i]);
		print_char(' ');
		print_int(optab[i](a, b));
		print_nl();
	}
	for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		print_str("shape ");
		print_str(shapes[i].name);
		print_kv(" area", shapes[i].area(&shapes[i]));
	}
	print_kv("vt.first", vt.first(a, 2));
	print_kv("vt.shape", vt.shape->area(vt.shape) + vt.shape->ndims);
	print_kv("vt.table", (*vt.table)(1, b));
}
