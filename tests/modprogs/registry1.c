/* Module registry: entries gathered from two files into section "handlers", walked from
 * __start_handlers to __stop_handlers (absolute addresses in the module, relocated at load).
 * mod_add also checks the image's linker-defined bounds, which must be relocated likewise. */
#include <stdint.h>
extern int print(char *, ...);
extern const char __executable_start[], _etext[], __bss_start[], _end[];

struct handler { const char *name; int (*fn)(int); };
#define HANDLER(n, f) static const struct handler handler_##n __attribute__((used, section("handlers"))) = { #n, f }
extern const struct handler __start_handlers[], __stop_handlers[];

int mod_add(int a, int b);
static int twice(int n) { return 2 * n; }
HANDLER(twice, twice);
char *mod_name = "registry";

static int counter;

/* 1 when this function is in the loaded text, mod_name in data after it, counter in bss */
static int inside_image(void)
{
	uintptr_t code = (uintptr_t)&mod_add, data = (uintptr_t)&mod_name, bss = (uintptr_t)&counter;
	return (uintptr_t)__executable_start <= code && code < (uintptr_t)_etext && (uintptr_t)_etext <= data &&
	       data < (uintptr_t)__bss_start && (uintptr_t)__bss_start <= bss && bss < (uintptr_t)_end;
}

int mod_add(int a, int b)
{
	counter++;
	return inside_image() * 1000 + (int)(__stop_handlers - __start_handlers) * 100 + a + b;
}

int mod_run(int n)
{
	const struct handler *h;
	int sum = 0;
	for (h = __start_handlers; h < __stop_handlers; h++) {
		print("registry: %s(%d) = %d\n", h->name, n, h->fn(n));
		sum += h->fn(n);
	}
	return sum;
}
