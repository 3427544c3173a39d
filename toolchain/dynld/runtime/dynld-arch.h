/*
 * Private interface between the generic loader (dynld.c) and its per-architecture
 * parts (dynld-386.c, dynld-amd64.c, dynld-arm.c).  Each part compiles to nothing
 * unless the compiler targets its architecture, so a host may compile every .c
 * file of this directory whatever its target.
 */
#ifndef DYNLD_ARCH_H
#define DYNLD_ARCH_H 1

#include <stddef.h>
#include <stdint.h>
#include "dynld.h"

#if defined(__x86_64__)
#define DYNLD_ARCH_AMD64 1
#elif defined(__i386__)
#define DYNLD_ARCH_386 1
#elif defined(__arm__) && !defined(__ARMEB__)
#define DYNLD_ARCH_ARM 1
#else
#error "dynld: unsupported architecture (386, amd64 and little-endian arm are supported)"
#endif

#define DYNLD_PLAN9_MAGIC(f, b) ((f) | ((4 * (b) + 0) * (b) + 7))

/* Facts of the format on this architecture. */
extern const char _dynld_archname[];	/* "386", "amd64", "arm" */
extern const int _dynld_hdrextra;	/* header bytes after the 8 Exec words (amd64: 8) */
extern const int _dynld_addrshift;	/* relocation addresses are byte offsets >> this (arm: 2) */
extern const int _dynld_entryalign;	/* required alignment of the export table */

extern const unsigned long _dynld_aoutmagic;	/* the arch's Plan 9 a.out magic */

/* Modes 0 and 1 on a 32-bit word, as 386 and arm both apply them. */
const char *_dynld_reloc32(uchar *base, uchar *p, int mode, const Dynsym *imp);

/* Bytes a relocation of this mode patches; 0 for an unknown mode. */
int _dynld_relocwidth(int mode);

/* The import index a mode 1 or 2 relocation at p encodes. */
unsigned long _dynld_relocindex(const uchar *p, int mode);

/* Apply one relocation at p (inside the image at base); imp is the import for
 * modes 1 and 2.  Returns nil, or an error text (possibly written to buf). */
const char *_dynld_reloc(uchar *base, uchar *p, int mode, const Dynsym *imp, char *buf, size_t nbuf);

/* Reach of a mode 2 relocation: the loader places a module with mode 2
 * relocations so that its whole mapping lies within _dynld_nearlimit bytes of
 * every import they branch to (0: a mode 2 relocation reaches anywhere). */
extern const unsigned long long _dynld_nearlimit;
extern const char _dynld_nearwhat[];	/* what limits the reach, for error texts */

/* Make freshly written instructions visible to instruction fetch. */
void _dynld_flush(void *p, size_t n);

/* Little-endian word access at any alignment. */
static inline uint32_t
_dynld_get32(const uchar *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void
_dynld_put32(uchar *p, uint32_t v)
{
	p[0] = (uchar)v;
	p[1] = (uchar)(v >> 8);
	p[2] = (uchar)(v >> 16);
	p[3] = (uchar)(v >> 24);
}

static inline uint64_t
_dynld_get64(const uchar *p)
{
	return (uint64_t)_dynld_get32(p) | (uint64_t)_dynld_get32(p + 4) << 32;
}

static inline void
_dynld_put64(uchar *p, uint64_t v)
{
	_dynld_put32(p, (uint32_t)v);
	_dynld_put32(p + 4, (uint32_t)(v >> 32));
}

#endif /* DYNLD_ARCH_H */
