/* The calc module's own helper (named by calc.yaml only). */
int fib(int n);
