/*
 * dynld, 386 part: the magic and the three relocation modes.
 * Compiles to nothing unless the target is 386.
 */
#if defined(__i386__)
#include <stdio.h>
#include "dynld-arch.h"

const char _dynld_archname[] = "386";
const unsigned long _dynld_aoutmagic = DYNLD_PLAN9_MAGIC(0, 11);	/* I_MAGIC */
const int _dynld_hdrextra = 0;
const int _dynld_addrshift = 0;
const int _dynld_entryalign = 4;
const unsigned long long _dynld_nearlimit = 0;	/* rel32 reaches all of a 32-bit space */
const char _dynld_nearwhat[] = "rel32 (all of the address space)";

int
_dynld_relocwidth(int mode)
{
	return mode >= 0 && mode <= 2 ? 4 : 0;
}

unsigned long
_dynld_relocindex(const uchar *p, int mode)
{
	(void)mode;
	return _dynld_get32(p) >> 22;
}

const char *
_dynld_reloc(uchar *base, uchar *p, int mode, const Dynsym *imp, char *buf, size_t nbuf)
{
	uint32_t v;

	(void)buf;
	(void)nbuf;
	v = _dynld_get32(p);
	switch(mode){
	case 0:
	case 1:
		return _dynld_reloc32(base, p, mode, imp);
	case 2:		/* rel32 operand of a call/jmp to an import: always reaches in 32 bits */
		v = (uint32_t)imp->addr - (uint32_t)(uintptr_t)p - 4;
		break;
	default:
		return "bad relocation mode";
	}
	_dynld_put32(p, v);
	return NULL;
}

void
_dynld_flush(void *p, size_t n)
{
	(void)p;
	(void)n;	/* x86 keeps instruction fetch coherent with stores */
}

#else
typedef int dynld_386_unused;	/* not this architecture: nothing to compile */
#endif
