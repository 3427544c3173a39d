/* The shared library (built by zig cc -shared -fPIC) that calls back into the host
 * by the names the host dynexports. */
#include <stdio.h>

extern int host_callback(int);
extern int host_value;

int lib_run(int x)
{
	int r = host_callback(x);

	printf("lib: host_callback(%d) = %d, host_value = %d\n", x, r, host_value);
	fflush(stdout);
	return r + host_value;
}

/* What this library sees as the address of the host's callback and of puts. */
void *lib_callback_addr(void) { return (void *)host_callback; }
void *lib_puts_addr(void) { return (void *)puts; }
