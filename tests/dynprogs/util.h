/* Helpers for the dynamic-linking test programs: no C library headers, no start files. */
#ifndef DYNPROGS_UTIL_H
#define DYNPROGS_UTIL_H

/* _start is entered with the stack as the kernel left it: realign it on x86. */
#if defined(__i386__) || defined(__x86_64__)
#define ENTRY __attribute__((force_align_arg_pointer, used)) void
#else
#define ENTRY __attribute__((used)) void
#endif

#define RTLD_LAZY 1
#define RTLD_NOW 2

/* Copy s to p; return the end (a NUL is written there). */
static inline char *cpy(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	*p = 0;
	return p;
}

/* Write v in decimal at p; return the end. */
static inline char *num(char *p, long v)
{
	char t[24];
	int n = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	if (v < 0)
		*p++ = '-';
	do {
		t[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n)
		*p++ = t[--n];
	*p = 0;
	return p;
}

#endif
