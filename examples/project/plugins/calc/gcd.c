/* Greatest common divisors and a small sieve (module data and bss). */
#include "calc.h"

static char composite[1024];
static int lastbelow = -1;
static int lastcount;

long
gcd(long a, long b)
{
	long t;

	while(b != 0){
		t = a % b;
		a = b;
		b = t;
	}
	return a;
}

int
nprimes(int below)
{
	int i, j, n;

	if(below > (int)sizeof composite)
		below = sizeof composite;
	if(below == lastbelow)
		return lastcount;
	n = 0;
	for(i = 2; i < below; i++){
		if(composite[i])
			continue;
		n++;
		for(j = i * i; j < below; j += i)
			composite[j] = 1;
	}
	lastbelow = below;
	lastcount = n;
	return n;
}
