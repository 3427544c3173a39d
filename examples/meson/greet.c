/* greet: prints through the host; plugin_run(n) = host_twice(n) + 1. */
#include "hostapi.h"
#include "plugin.h"

char *plugin_name = "greet";

int
plugin_run(int n)
{
	host_print("hello from greet");
	return host_twice(n) + 1;
}
