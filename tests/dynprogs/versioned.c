/* Versioned imports: NAME#VERSION binds to that version of the symbol.  Two versions
 * of libc.so.6 and one of libm.so.6 are needed, so .gnu.version_r has two files and
 * libc's entry two versions; exit stays unversioned.  With -DBAD_VERSION puts asks
 * for a version libc does not have, and the loader must refuse to start. */
#include "util.h"

extern int puts(const char *);
extern void exit(int);
extern void *dlopen(const char *, int);
extern double ldexp(double, int);

#if defined(BAD_VERSION)
#pragma dynimport puts puts#GLIBC_99.0 "libc.so.6"
#elif defined(__x86_64__)
#pragma dynimport puts puts#GLIBC_2.2.5 "libc.so.6"
#elif defined(__i386__)
#pragma dynimport puts puts#GLIBC_2.0 "libc.so.6"
#else
#pragma dynimport puts puts#GLIBC_2.4 "libc.so.6"
#endif

#if defined(__x86_64__)
#pragma dynimport ldexp ldexp#GLIBC_2.2.5 "libm.so.6"
#elif defined(__i386__)
#pragma dynimport ldexp ldexp#GLIBC_2.0 "libm.so.6"
#else
#pragma dynimport ldexp ldexp#GLIBC_2.4 "libm.so.6"
#endif

#pragma dynimport dlopen dlopen#GLIBC_2.34 "libc.so.6"
#pragma dynimport exit exit "libc.so.6"

ENTRY _start(void)
{
	char m[64];
	void *self = dlopen(0, RTLD_NOW);

	puts("versioned puts ok");
	num(cpy(m, "ldexp(3, 4) = "), (long)ldexp(3.0, 4));
	puts(m);
	puts(self ? "dlopen(NULL) ok" : "dlopen(NULL) failed");
	exit(0);
}
