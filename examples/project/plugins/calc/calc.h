/* Internal interface between the calc plugin's files. */
long fib(int n);
long gcd(long a, long b);
int nprimes(int below);
