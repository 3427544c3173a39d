int alpha_twice(int x) { return 2 * x; }
int alpha_square(int x) { return x * x; }
