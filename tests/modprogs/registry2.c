/* The registry's second file: an entry that nothing but the section's bounds reaches. */
struct handler { const char *name; int (*fn)(int); };
static int square(int n) { return n * n; }
static const struct handler handler_square __attribute__((used, section("handlers"))) = { "square", square };
