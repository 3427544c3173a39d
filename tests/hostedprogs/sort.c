#include <stdlib.h>
#include "prog.h"
static int cmp(const void *a, const void *b) { int x = *(const int *)a, y = *(const int *)b; return (x > y) - (x < y); }
void sort_ints(int *v, int n) { qsort(v, n, sizeof *v, cmp); }
