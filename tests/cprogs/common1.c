/* Common symbols (compiled with -fcommon): tentative definitions shared with common2.c. */
#include "prog.h"

int common_counter;
int common_array[100];

void common_bump(int n)
{
	common_counter += n;
	common_array[n % 100] = n;
}
