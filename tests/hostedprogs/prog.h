void sort_ints(int *v, int n);
void arith_report(long long seed);
