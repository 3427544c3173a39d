/*
 * dynld, amd64 part (our extension; Inferno has none): the magic and the
 * relocation modes.  Modes 0 and 1 patch 64-bit words; mode 2 patches the rel32
 * operand of a call/jmp and fails unless the import is within +-2 GiB, so the
 * loader places a module with mode 2 relocations near its imports.
 * Compiles to nothing unless the target is amd64.
 */
#if defined(__x86_64__)
#include <stdio.h>
#include "dynld-arch.h"

const char _dynld_archname[] = "amd64";
const unsigned long _dynld_aoutmagic = DYNLD_PLAN9_MAGIC(0x8000, 26);	/* S_MAGIC (HDR_MAGIC) */
const int _dynld_hdrextra = 8;
const int _dynld_addrshift = 0;
const int _dynld_entryalign = 8;
const unsigned long long _dynld_nearlimit = 1536ULL << 20;	/* well inside rel32's +-2 GiB */
const char _dynld_nearwhat[] = "rel32 (+-2 GiB)";

#define REACH 0x7fffffffLL

int
_dynld_relocwidth(int mode)
{
	switch(mode){
	case 0:
	case 1:
		return 8;
	case 2:
		return 4;
	}
	return 0;
}

unsigned long
_dynld_relocindex(const uchar *p, int mode)
{
	if(mode == 1)
		return (unsigned long)(_dynld_get64(p) >> 48);
	return _dynld_get32(p) >> 22;
}

const char *
_dynld_reloc(uchar *base, uchar *p, int mode, const Dynsym *imp, char *buf, size_t nbuf)
{
	uint64_t v;
	int64_t d;

	switch(mode){
	case 0:		/* image-relative 64-bit address */
		_dynld_put64(p, _dynld_get64(p) + (uint64_t)(uintptr_t)base);
		return NULL;
	case 1:		/* import address + 48-bit offset */
		v = _dynld_get64(p);
		_dynld_put64(p, (v & 0xffffffffffffULL) + (uint64_t)imp->addr);
		return NULL;
	case 2:		/* rel32 of a call/jmp to an import */
		d = (int64_t)imp->addr - (int64_t)(uintptr_t)(p + 4);
		if(d < -REACH - 1 || d > REACH){
			snprintf(buf, nbuf, "import %.200s out of rel32 reach (displacement %lld)", imp->name, (long long)d);
			return buf;
		}
		_dynld_put32(p, (uint32_t)(int32_t)d);
		return NULL;
	}
	return "bad relocation mode";
}

void
_dynld_flush(void *p, size_t n)
{
	(void)p;
	(void)n;	/* x86 keeps instruction fetch coherent with stores */
}

#else
typedef int dynld_amd64_unused;	/* not this architecture: nothing to compile */
#endif
