/*
 * The memory functions the compiler may call even in freestanding code.
 * RT_NO_BUILTIN (and -ffreestanding, as build_rt compiles them) keeps the
 * compiler from turning these loops back into calls to themselves.
 */
#include "rt.h"

RT_NO_BUILTIN void *memcpy(void *dst, const void *src, rt_size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

RT_NO_BUILTIN void *memmove(void *dst, const void *src, rt_size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d < s) {
		while (n--)
			*d++ = *s++;
	} else if (d > s) {
		d += n;
		s += n;
		while (n--)
			*--d = *--s;
	}
	return dst;
}

RT_NO_BUILTIN void *memset(void *dst, int c, rt_size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

RT_NO_BUILTIN int memcmp(const void *a, const void *b, rt_size_t n)
{
	const unsigned char *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

RT_NO_BUILTIN rt_size_t strlen(const char *s)
{
	const char *p = s;
	while (*p)
		p++;
	return (rt_size_t)(p - s);
}

RT_NO_BUILTIN int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}
