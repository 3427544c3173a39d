/*
 * dynld, arm part: the magic and the relocation modes.  Relocation addresses are
 * word indices.  Mode 2 rewrites a B/BL to an import; it fails unless the import
 * is ARM code (word aligned) within the branch's +-32 MiB, so the loader
 * places a module with mode 2 relocations near its imports.
 * Compiles to nothing unless the target is (little-endian) arm.
 */
#if defined(__arm__) && !defined(__ARMEB__)
#include <stdio.h>
#include "dynld-arch.h"

const char _dynld_archname[] = "arm";
const unsigned long _dynld_aoutmagic = DYNLD_PLAN9_MAGIC(0, 20);	/* E_MAGIC */
const int _dynld_hdrextra = 0;
const int _dynld_addrshift = 2;
const int _dynld_entryalign = 4;
const unsigned long long _dynld_nearlimit = 24ULL << 20;	/* inside B/BL's +-32 MiB */
const char _dynld_nearwhat[] = "B/BL (+-32 MiB)";

#define REACH 0x2000000L	/* B/BL reach: signed 24-bit word offset */

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
	case 0:
	case 1:
		return _dynld_reloc32(base, p, mode, imp);
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
