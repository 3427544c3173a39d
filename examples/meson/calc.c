/* calc: plugin_run(n) = fib(n), fib in fib.c. */
#include "calc.h"
#include "plugin.h"

char *plugin_name = "calc";

int
plugin_run(int n)
{
	return fib(n);
}
