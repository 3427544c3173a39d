/* Importing data through dynimport slots: each slot receives the address of the
 * library's variable (stdout and environ from libc). */
#include "util.h"

#pragma dynimport p_stdout stdout "libc.so.6"
#pragma dynimport p_environ environ "libc.so.6"
#pragma dynimport p_fputs fputs "libc.so.6"
#pragma dynimport p_fflush fflush "libc.so.6"
#pragma dynimport p_exit exit "libc.so.6"

void **p_stdout;       /* &stdout: a FILE * */
char ***p_environ;     /* &environ */
int (*p_fputs)(const char *, void *);
int (*p_fflush)(void *);
void (*p_exit)(int);

static int starts(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

ENTRY _start(void)
{
	char **e;
	int n = 0;

	p_fputs("stdout through a data slot\n", *p_stdout);
	for (e = *p_environ; *e; e++) {
		n++;
		if (starts(*e, "DYNTEST_MARK=")) {
			p_fputs("found ", *p_stdout);
			p_fputs(*e, *p_stdout);
			p_fputs("\n", *p_stdout);
		}
	}
	p_fputs(n > 0 ? "environ has entries\n" : "environ is empty\n", *p_stdout);
	p_fflush(*p_stdout);
	p_exit(0);
}
