/* Looks up every symbol the generated many_exports.c dynexports (ef_N: functions
 * returning N*7+1 for even N, ed_N: ints holding N*3+2 for odd N) with
 * dlsym(dlopen(NULL, RTLD_NOW), name), checks what it finds, and prints the counts. */
#include "util.h"

#ifndef NEXPORTS
#define NEXPORTS 5000
#endif

#pragma dynimport p_puts puts "libc.so.6"
#pragma dynimport p_dlopen dlopen "libc.so.6"
#pragma dynimport p_dlsym dlsym "libc.so.6"
#pragma dynimport p_exit exit "libc.so.6"

int (*p_puts)(const char *);
void *(*p_dlopen)(const char *, int);
void *(*p_dlsym)(void *, const char *);
void (*p_exit)(int);

ENTRY _start(void)
{
	void *self = p_dlopen(0, RTLD_NOW);
	long found = 0, good = 0;
	char name[32], m[80], *q;

	if (!self) {
		p_puts("dlopen(NULL) failed");
		p_exit(2);
	}
	for (long i = 0; i < NEXPORTS; i++) {
		num(cpy(name, i % 2 ? "ed_" : "ef_"), i);
		void *p = p_dlsym(self, name);
		if (!p)
			continue;
		found++;
		if (i % 2 ? *(int *)p == (int)(i * 3 + 2) : ((int (*)(void))p)() == (int)(i * 7 + 1))
			good++;
	}
	q = num(cpy(m, "found "), found);
	q = num(cpy(q, " good "), good);
	num(cpy(q, " of "), NEXPORTS);
	p_puts(m);
	p_exit(found == NEXPORTS && good == NEXPORTS ? 0 : 1);
}
