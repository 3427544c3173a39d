/*
 * dynld: the generic part of the module loader (see dynld.h and
 * docs/dynld-format.md).  The per-architecture parts are dynld-<arch>.c.
 *
 * A module is read in file order, through the caller's read and seek functions:
 * header, text and data (straight into an anonymous read+write mapping whose
 * tail is the zeroed bss), the skipped symbol tables, then the relocation blob.
 * Imports are bound to the host's table by name (and signature), relocations
 * applied, the export table checked, and only then is the text made
 * read+execute.  Every size, offset, index and name is checked first: a bad or
 * truncated module is refused with an error text, never half-loaded.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dynld-arch.h"

enum {
	Nhdr = 8 * 4,		/* Exec: magic text data bss syms entry spsz pcsz */
	Maximports = 8000,
	Errlen = 512,
};

#define MAXRELOCDATA 0x7fffffffUL

/* Hosts linked without thread-local storage (dynlink has none) build with
 * -DDYNLD_THREAD_LOCAL= and get one error text per process. */
#ifndef DYNLD_THREAD_LOCAL
#define DYNLD_THREAD_LOCAL _Thread_local
#endif
static DYNLD_THREAD_LOCAL char errbuf[Errlen];

ulong
dynmagic(void)
{
	return DYN_MAGIC | _dynld_aoutmagic;
}

const char *
_dynld_reloc32(uchar *base, uchar *p, int mode, const Dynsym *imp)
{
	uint32_t v = _dynld_get32(p);

	if(mode == 0)		/* image-relative absolute address */
		v += (uint32_t)(uintptr_t)base;
	else if(mode == 1)	/* import address + offset below 4 MiB */
		v = (v & 0x3fffff) + (uint32_t)imp->addr;
	else
		return "bad relocation mode";
	_dynld_put32(p, v);
	return NULL;
}

const char *
dynerror(void)
{
	return errbuf;
}

static void
seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
}

static ulong
getbe4(const uchar *b)
{
	return (ulong)b[0] << 24 | (ulong)b[1] << 16 | (ulong)b[2] << 8 | (ulong)b[3];
}

Dynsym *
dynfindsym(char *name, Dynsym *tab, int ntab)
{
	int lo, hi, mid, d;

	if(name == NULL || tab == NULL)
		return NULL;
	lo = 0;
	hi = ntab;
	while(lo < hi){
		mid = lo + (hi - lo) / 2;
		d = strcmp(name, tab[mid].name);
		if(d == 0)
			return &tab[mid];
		if(d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void *
dynimport(Dynobj *o, char *name, ulong sig)
{
	Dynsym *t;

	if(o == NULL || name == NULL){
		seterr("dynimport: no module or no name");
		return NULL;
	}
	t = dynfindsym(name, o->export, o->nexport);
	if(t == NULL){
		seterr("dynimport: %.200s: not exported by the module", name);
		return NULL;
	}
	if(sig != 0 && t->sig != 0 && t->sig != sig){
		seterr("dynimport: %.200s: signature mismatch (caller 0x%08lx, module 0x%08lx)", name, sig, t->sig);
		return NULL;
	}
	return (void *)t->addr;
}

int
dyntabsize(Dynsym *t)
{
	int n;

	n = 0;
	if(t != NULL)
		while(t[n].name != NULL)
			n++;
	return n;
}

static size_t
pagesize(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

static size_t
maplen(ulong size)
{
	size_t pg = pagesize();

	return ((size_t)size + pg - 1) & ~(pg - 1);
}

void
dynobjfree(Dynobj *o)
{
	if(o == NULL)
		return;
	if(o->base != NULL)
		munmap(o->base, maplen(o->size));
	free(o->import);
	free(o);
}

void
dynfreeimport(Dynobj *o)
{
	if(o == NULL)
		return;
	free(o->import);
	o->import = NULL;
	o->nimport = 0;
}

/* The caller's file, read exactly. */
typedef struct Src Src;
struct Src {
	void *file;
	long (*rd)(void *, void *, long);
	vlong (*sk)(void *, vlong, int);
};

static int
readn(Src *s, void *buf, unsigned long long n)
{
	uchar *p = buf;
	long want, got;

	while(n > 0){
		want = n > (1UL << 30) ? (long)(1UL << 30) : (long)n;
		got = s->rd(s->file, p, want);
		if(got <= 0 || got > want)
			return -1;
		p += got;
		n -= (unsigned long long)got;
	}
	return 0;
}

static int
skipn(Src *s, unsigned long long n)
{
	uchar buf[4096];
	unsigned long long k;

	while(n > 0){
		k = n > sizeof buf ? sizeof buf : n;
		if(readn(s, buf, k) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

static int
within(uintptr_t a, uintptr_t b, unsigned long long limit)
{
	return (a > b ? a - b : b - a) <= limit;
}

/* The k-th mmap hint near the host's table, or nil when there is none (more) to try. */
static void *
maphint(const void *tab, int k)
{
	uintptr_t t = (uintptr_t)tab & ~(uintptr_t)0xffff;
	long long off;

	if(tab == NULL || k >= _dynld_nhintoffsets)
		return NULL;
	off = _dynld_hintoffsets[k];
	if(off < 0 && t < (uintptr_t)-off + 0x10000)
		return NULL;
	return (void *)(t + (uintptr_t)off);
}

static void *
mapimage(size_t len, Dynsym *tab)
{
	void *p, *hint;
	uintptr_t t = (uintptr_t)tab;
	int k;

	for(k = 0; _dynld_nearlimit != 0 && (hint = maphint(tab, k)) != NULL; k++){
		p = mmap(hint, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if(p == MAP_FAILED)
			continue;
		if(within((uintptr_t)p, t, _dynld_nearlimit) && within((uintptr_t)p + len, t, _dynld_nearlimit))
			return p;
		munmap(p, len);
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Bind the imports listed in the relocation blob; returns the position after them or nil. */
static uchar *
bindimports(Dynobj *l, uchar *rp, uchar *ep, Dynsym *tab, int ntab)
{
	ulong ni, i, sig;
	uchar *s;
	Dynsym *t;

	ni = getbe4(rp);
	rp += 4;
	if(ni > Maximports){
		seterr("too many imports: %lu (limit %d)", ni, Maximports);
		return NULL;
	}
	l->import = malloc((ni > 0 ? ni : 1) * sizeof(Dynsym *));
	if(l->import == NULL){
		seterr("out of memory: import table");
		return NULL;
	}
	for(i = 0; i < ni; i++){
		if(ep - rp < 5){
			seterr("relocation data: import %lu runs past the end", i);
			return NULL;
		}
		sig = getbe4(rp);
		rp += 4;
		s = memchr(rp, 0, (size_t)(ep - rp));
		if(s == NULL){
			seterr("relocation data: import %lu name not NUL-terminated", i);
			return NULL;
		}
		if(s == rp){
			seterr("relocation data: import %lu has an empty name", i);
			return NULL;
		}
		t = dynfindsym((char *)rp, tab, ntab);
		if(t == NULL){
			seterr("undefined symbol: %.200s (not exported by the host)", (char *)rp);
			return NULL;
		}
		if(sig != 0 && t->sig != 0 && t->sig != sig){
			seterr("signature mismatch: %.200s (module 0x%08lx, host 0x%08lx)", (char *)rp, sig, t->sig);
			return NULL;
		}
		l->import[i] = t;
		l->nimport = (int)(i + 1);
		rp = s + 1;
	}
	return rp;
}

static int
relocate(Dynobj *l, uchar *rp, uchar *ep)
{
	ulong nr, i;
	unsigned long long a, off, limit, prevend;
	unsigned long idx;
	int m, n, mode, w;
	const char *e;
	char buf[300];

	if(ep - rp < 4){
		seterr("relocation data: missing relocation count");
		return -1;
	}
	nr = getbe4(rp);
	rp += 4;
	limit = (unsigned long long)l->text + l->data;
	a = 0;
	prevend = 0;
	for(i = 0; i < nr; i++){
		if(rp >= ep){
			seterr("relocation data: relocation %lu runs past the end", i);
			return -1;
		}
		m = *rp++;
		n = m >> 6;
		if(n == 3){
			seterr("relocation %lu: bad delta width in 0x%02x", i, m);
			return -1;
		}
		if(m & 0x30){
			seterr("relocation %lu: reserved bits set in 0x%02x", i, m);
			return -1;
		}
		if(ep - rp < (1 << n)){
			seterr("relocation data: relocation %lu runs past the end", i);
			return -1;
		}
		switch(n){
		case 0:
			a += rp[0];
			break;
		case 1:
			a += (unsigned)rp[0] << 8 | rp[1];
			break;
		default:
			a += getbe4(rp);
			break;
		}
		rp += 1 << n;
		off = a << _dynld_addrshift;
		mode = m & 0xf;
		w = _dynld_relocwidth(mode);
		if(w == 0){
			seterr("relocation %lu at 0x%llx: bad relocation mode %d", i, off, mode);
			return -1;
		}
		if(off + (unsigned)w > limit){
			seterr("relocation %lu at 0x%llx: outside text and data (0x%llx bytes)", i, off, limit);
			return -1;
		}
		if(off < prevend){
			seterr("relocation %lu at 0x%llx: duplicate or overlapping address", i, off);
			return -1;
		}
		prevend = off + (unsigned)w;
		idx = 0;
		if(mode != 0){
			idx = _dynld_relocindex(l->base + off, mode);
			if(idx >= (unsigned long)l->nimport){
				seterr("relocation %lu at 0x%llx: bad relocation index %lu (%d imports)", i, off, idx, l->nimport);
				return -1;
			}
		}
		e = _dynld_reloc(l->base, l->base + off, mode, mode != 0 ? l->import[idx] : NULL, buf, sizeof buf);
		if(e != NULL){
			seterr("relocation %lu at 0x%llx: %s", i, off, e);
			return -1;
		}
	}
	if(rp != ep){
		seterr("relocation data: %lu unused bytes at the end", (ulong)(ep - rp));
		return -1;
	}
	return 0;
}

/* Check the (relocated) export table at base+entry and count it. */
static int
checkexports(Dynobj *l, ulong entry)
{
	uintptr_t lo, hi, np, ap;
	Dynsym *t;
	char *name, *prev;
	int k;

	lo = (uintptr_t)l->base;
	hi = lo + l->size;
	t = (Dynsym *)(l->base + entry);
	prev = NULL;
	for(k = 0;; k++){
		if((uintptr_t)(t + k + 1) > hi){
			if(k == 0)
				seterr("export table: entry 0 outside the image");
			else
				seterr("export table: not terminated within the image");
			return -1;
		}
		name = t[k].name;
		if(name == NULL)
			break;
		np = (uintptr_t)name;
		if(np < lo || np >= hi){
			seterr("export table: entry %d: name outside the module image", k);
			return -1;
		}
		if(memchr(name, 0, hi - np) == NULL){
			seterr("export table: entry %d: name not NUL-terminated", k);
			return -1;
		}
		if(name[0] == 0){
			seterr("export table: entry %d: empty name", k);
			return -1;
		}
		ap = (uintptr_t)t[k].addr;
		if(ap < lo || ap >= hi){
			seterr("export table: entry %d (%.200s): address outside the module image", k, name);
			return -1;
		}
		if(prev != NULL && strcmp(prev, name) >= 0){
			seterr("export table: not sorted: '%.100s' before '%.100s'", prev, name);
			return -1;
		}
		prev = name;
	}
	l->export = t;
	l->nexport = k;
	return 0;
}

static Dynobj *
load(Src *s, Dynsym *tab, int ntab, ulong maxsize)
{
	uchar hdr[Nhdr + 8], *blob, *rp, *ep;
	ulong magic, entry, relsize;
	unsigned long long syms, size, entry64;
	size_t pg;
	Dynobj *l;

	blob = NULL;
	l = calloc(1, sizeof *l);
	if(l == NULL){
		seterr("out of memory: Dynobj");
		return NULL;
	}
	if(readn(s, hdr, Nhdr) < 0){
		seterr("truncated module: cannot read header");
		goto Error;
	}
	magic = getbe4(hdr);
	if(magic != dynmagic()){
		seterr("not dynamic object file or wrong platform (magic 0x%08lx, %s wants 0x%08lx)", magic,
		       _dynld_archname, dynmagic());
		goto Error;
	}
	entry = getbe4(hdr + 5 * 4);
	if(_dynld_hdrextra > 0){
		if(readn(s, hdr + Nhdr, (unsigned long long)_dynld_hdrextra) < 0){
			seterr("truncated module: cannot read header");
			goto Error;
		}
		entry64 = (unsigned long long)getbe4(hdr + Nhdr) << 32 | getbe4(hdr + Nhdr + 4);
		if(entry64 != entry){
			seterr("amd64 header: 64-bit entry 0x%llx differs from entry 0x%lx", entry64, entry);
			goto Error;
		}
	}
	size = (unsigned long long)getbe4(hdr + 4) + getbe4(hdr + 8) + getbe4(hdr + 12);
	syms = (unsigned long long)getbe4(hdr + 16) + getbe4(hdr + 24) + getbe4(hdr + 28);
	if(entry >= size || entry % (ulong)_dynld_entryalign){
		seterr("invalid export table pointer (entry point) 0x%lx: image is 0x%llx bytes, "
		       "entry must be a multiple of %d", entry, size, _dynld_entryalign);
		goto Error;
	}
	pg = pagesize();
	if(getbe4(hdr + 4) % pg){
		seterr("text size 0x%lx is not a multiple of the page size (%lu)", getbe4(hdr + 4), (ulong)pg);
		goto Error;
	}
	if(maxsize != 0 && size > maxsize){
		seterr("module too big: %llu bytes (maxsize %lu)", size, maxsize);
		goto Error;
	}
	if(size > (unsigned long long)(SIZE_MAX / 2) || size > (unsigned long long)(ulong)-1){
		seterr("module too big for this address space: %llu bytes", size);
		goto Error;
	}
	l->text = getbe4(hdr + 4);
	l->data = getbe4(hdr + 8);
	l->bss = getbe4(hdr + 12);
	l->size = (ulong)size;
	l->base = mapimage(maplen(l->size), tab);
	if(l->base == NULL){
		seterr("out of memory: cannot map %lu bytes", l->size);
		goto Error;
	}
	if(readn(s, l->base, (unsigned long long)l->text + l->data) < 0){
		seterr("truncated module: cannot read text and data");
		goto Error;
	}
	if(skipn(s, syms) < 0){
		seterr("truncated module: cannot read symbol tables");
		goto Error;
	}
	if(readn(s, hdr, 4) < 0){
		seterr("truncated module: cannot read relocation data size");
		goto Error;
	}
	relsize = getbe4(hdr);
	if(relsize < 4){
		seterr("relocation data size %lu too small", relsize);
		goto Error;
	}
	if(relsize > MAXRELOCDATA){
		seterr("relocation data size %lu too large", relsize);
		goto Error;
	}
	blob = malloc(relsize);
	if(blob == NULL){
		seterr("out of memory: relocation data");
		goto Error;
	}
	if(readn(s, blob, relsize) < 0){
		seterr("truncated module: cannot read relocation data");
		goto Error;
	}
	ep = blob + relsize;
	rp = bindimports(l, blob, ep, tab, ntab);
	if(rp == NULL)
		goto Error;
	if(relocate(l, rp, ep) < 0)
		goto Error;
	free(blob);
	blob = NULL;
	if(checkexports(l, entry) < 0)
		goto Error;
	if(l->text > 0){
		_dynld_flush(l->base, l->text);
		if(mprotect(l->base, l->text, PROT_READ | PROT_EXEC) < 0){
			seterr("cannot make text executable: %s", strerror(errno));
			goto Error;
		}
	}
	return l;

Error:
	free(blob);
	dynobjfree(l);
	return NULL;
}

Dynobj *
dynloadgen(void *file, long (*rd)(void *, void *, long), vlong (*sk)(void *, vlong, int), void (*werr)(char *),
	   Dynsym *tab, int ntab, ulong maxsize)
{
	Src s;
	vlong off;
	Dynobj *l;

	errbuf[0] = 0;
	if(rd == NULL || sk == NULL){
		seterr("dynloadgen: no read or seek function");
		if(werr != NULL)
			werr(errbuf);
		return NULL;
	}
	s.file = file;
	s.rd = rd;
	s.sk = sk;
	if(ntab < 0 || (ntab > 0 && tab == NULL))
		ntab = 0;
	off = sk(file, 0, 1);
	l = load(&s, tab, ntab, maxsize);
	if(l == NULL){
		if(off >= 0)
			sk(file, off, 0);	/* restore the original file offset */
		if(werr != NULL)
			werr(errbuf);
	}
	return l;
}

static long
fdread(void *f, void *buf, long n)
{
	ssize_t r;

	do
		r = read(*(int *)f, buf, (size_t)n);
	while(r < 0 && errno == EINTR);
	return (long)r;
}

static vlong
fdseek(void *f, vlong off, int whence)
{
	return (vlong)lseek(*(int *)f, (off_t)off, whence);
}

Dynobj *
dynloadfd(int fd, Dynsym *tab, int ntab, ulong maxsize)
{
	return dynloadgen(&fd, fdread, fdseek, NULL, tab, ntab, maxsize);
}

int
dynloadable(void *file, long (*rd)(void *, void *, long), vlong (*sk)(void *, vlong, int))
{
	uchar b[4];
	long n;

	n = rd(file, b, sizeof b);
	if(n > 0)
		sk(file, -(vlong)n, 1);
	return n == (long)sizeof b && getbe4(b) == dynmagic();
}
