/*
 * dynld, arm part: the magic and the relocation modes.  Relocation addresses are
 * word indices.  Mode 2 rewrites a B/BL to an import; it fails unless the import
 * is ARM code (word aligned) within the branch's +-32 MiB, so the loader first
 * tries to map the module near the host.
 * Compiles to nothing unless the target is (little-endian) arm.
 */
#if defined(__arm__) && !defined(__ARMEB__)
#include <stdio.h>
#include "dynld-arch.h"

const char _dynld_archname[] = "arm";
const int _dynld_hdrextra = 0;
const int _dynld_addrshift = 2;
const int _dynld_entryalign = 4;

#define REACH 0x2000000L	/* B/BL reach: signed 24-bit word offset */
#define NEAR (24L << 20)	/* keep the whole image this close to the host's table */

ulong
dynmagic(void)
{
	return DYN_MAGIC | DYNLD_PLAN9_MAGIC(0, 20);	/* E_MAGIC */
}

int
_dynld_relocwidth(int mode)
{
	return mode >= 0 && mode <= 2 ? 4 : 0;
}

unsigned long
_dynld_relocindex(const uchar *p, int mode)
{
	uint32_t v = _dynld_get32(p);

	return mode == 2 ? (v & 0x3ff) : (v >> 22);
}

const char *
_dynld_reloc(uchar *base, uchar *p, int mode, const Dynsym *imp, char *buf, size_t nbuf)
{
	uint32_t v;
	long d;

	v = _dynld_get32(p);
	switch(mode){
	case 0:		/* image-relative absolute address */
		v += (uint32_t)(uintptr_t)base;
		break;
	case 1:		/* import address + offset below 4 MiB */
		v = (v & 0x3fffff) + (uint32_t)imp->addr;
		break;
	case 2:		/* B/BL to an import; the import index sits in the low 10 bits */
		if(imp->addr & 3){
			snprintf(buf, nbuf, "import %.200s is not word-aligned ARM code (Thumb?)", imp->name);
			return buf;
		}
		d = (long)((uint32_t)imp->addr - (uint32_t)(uintptr_t)p - 8);
		if(d < -REACH || d >= REACH){
			snprintf(buf, nbuf, "import %.200s out of branch reach (displacement %ld)", imp->name, d);
			return buf;
		}
		v = (v & ~(uint32_t)0x3ff) | (((uint32_t)d >> 2) & 0xffffff);
		break;
	default:
		return "bad relocation mode";
	}
	_dynld_put32(p, v);
	return NULL;
}

static int
within(uintptr_t a, uintptr_t b, unsigned long limit)
{
	return (a > b ? a - b : b - a) <= limit;
}

int
_dynld_near(const void *tab, const void *p, size_t n)
{
	uintptr_t t = (uintptr_t)tab, a = (uintptr_t)p;

	return within(a, t, NEAR) && within(a + n, t, NEAR);
}

void *
_dynld_maphint(const void *tab, size_t size, int k)
{
	static const long off[] = {4L << 20, 8L << 20, 12L << 20, -(8L << 20), -(16L << 20)};
	uintptr_t t = (uintptr_t)tab & ~(uintptr_t)0xffff;

	(void)size;
	if(tab == NULL || k < 0 || k >= (int)(sizeof off / sizeof off[0]))
		return NULL;
	if(off[k] < 0 && t < (uintptr_t)-off[k] + 0x10000)
		return NULL;
	return (void *)(t + (uintptr_t)off[k]);
}

/*
 * Make relocated code visible to instruction fetch: the Linux ARM cacheflush system
 * call, made directly (no __clear_cache from compiler-rt or libgcc, no libc syscall()).
 */
void
_dynld_flush(void *p, size_t n)
{
	register unsigned long r0 __asm__("r0") = (unsigned long)p;
	register unsigned long r1 __asm__("r1") = (unsigned long)p + n;
	register unsigned long r2 __asm__("r2") = 0;
	register unsigned long r7 __asm__("r7") = 0x0f0002;	/* __ARM_NR_cacheflush */

	__asm__ volatile("svc 0" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r7) : "memory");
}

#else
typedef int dynld_arm_unused;	/* not this architecture: nothing to compile */
#endif
