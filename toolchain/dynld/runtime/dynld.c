/*
 * dynld: the generic part of the module loader (see dynld.h and
 * docs/dynld-format.md).  The per-architecture parts are dynld-<arch>.c.
 *
 * Two ways in, one way through:
 *
 * - dynloadfd on a seekable file reads the header and the relocation blob with
 *   pread and, when the module's text ends on a page boundary of the file
 *   (the "file-mapped" layout dynlink -u writes), maps text and data straight
 *   from the file, private and copy-on-write: only the pages that relocations
 *   land in are ever copied.  Other layouts are read into anonymous memory.
 * - dynloadgen (and dynloadfd on a pipe) reads the file in order through the
 *   caller's read function into anonymous memory.
 *
 * Then: imports are bound to the host's table, the relocations decoded and
 * checked into a list, the mapping moved near the imports if mode 2 needs it,
 * the export table checked on the bytes as stored, the relocations applied,
 * and only then is the text made read+execute.  Every size, offset, index and
 * name is checked first: a bad or truncated module is refused with an error
 * text, never half-loaded, and no page is ever writable and executable (except
 * the one page Inferno-laid-out modules need, and only after dynlegacy(1)).
 */
#include <errno.h>
#include <fcntl.h>
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
	Fmtpage = 4096,		/* the format's page: text layouts are judged against it */
	Nstackblob = 16384,	/* relocation blobs up to this size are read onto the stack */
	Nfirstread = 16384,	/* the header's read: a file this small needs no other */
	Nstackrel = 512,	/* relocation lists up to this length live on the stack */
	Ncandidates = 8,	/* free ranges tried per scan of /proc/self/maps */
	Nscans = 4,
};

#define MAXRELOCDATA 0x7fffffffUL

/* The three text layouts (docs/dynld-format.md, "Text layouts"). */
enum {
	Kfilemapped,	/* header + text a multiple of the page, or no text: base = page + header size */
	Kclassic,	/* text a multiple of the page: base on a page */
	Klegacy,	/* anything else (Inferno's linkers): needs dynlegacy(1) */
};

/* Hosts linked without thread-local storage (dynlink has none) build with
 * -DDYNLD_THREAD_LOCAL= and get one error text per process. */
#ifndef DYNLD_THREAD_LOCAL
#define DYNLD_THREAD_LOCAL _Thread_local
#endif
static DYNLD_THREAD_LOCAL char errbuf[Errlen];
static int legacyok;		/* dynlegacy */
static uintptr_t nearcursor;	/* where the last module placed near its imports starts */

ulong
dynmagic(void)
{
	return DYN_MAGIC | _dynld_aoutmagic;
}

int
dynlegacy(int on)
{
	return __atomic_exchange_n(&legacyok, on != 0, __ATOMIC_SEQ_CST);
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
	static size_t pg;
	long p;

	if(pg == 0){
		p = sysconf(_SC_PAGESIZE);
		pg = p > 0 ? (size_t)p : 4096;
	}
	return pg;
}

static size_t
roundpage(size_t n)
{
	size_t pg = pagesize();

	return (n + pg - 1) & ~(pg - 1);
}

/* A Dynobj and its import table, allocated together. */
typedef struct Obj Obj;
struct Obj {
	Dynobj o;
	Dynsym *imp[];
};

/* The mapping a module's image lives in: base minus the lead, rounded to pages. */
static void
unmapimage(uchar *base, ulong size)
{
	uintptr_t start;

	if(base == NULL)
		return;
	start = (uintptr_t)base & ~(uintptr_t)(pagesize() - 1);
	munmap((void *)start, roundpage((size_t)((uintptr_t)base - start) + size));
}

void
dynobjfree(Dynobj *o)
{
	if(o == NULL)
		return;
	unmapimage(o->base, o->size);
	free(o);
}

void
dynfreeimport(Dynobj *o)
{
	if(o == NULL)
		return;
	o->import = NULL;	/* allocated with the Dynobj; released by dynobjfree */
	o->nimport = 0;
}

/* The caller's file, read exactly and in order. */
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

/* pread exactly n bytes at off; -1 on error or end of file. */
static int
preadn(int fd, void *buf, size_t n, off_t off)
{
	uchar *p = buf;
	ssize_t got;

	while(n > 0){
		got = pread(fd, p, n, off);
		if(got < 0 && errno == EINTR)
			continue;
		if(got <= 0)
			return -1;
		p += got;
		n -= (size_t)got;
		off += got;
	}
	return 0;
}

/* ------------------------------------------------------------------ the header */

/* What the header says, checked. */
typedef struct Hdr Hdr;
struct Hdr {
	ulong text, data, bss, entry;
	unsigned long long size, syms;
	int kind;
	size_t lead;	/* bytes of the mapping before base: the header (file-mapped) or 0 */
	size_t maplen;	/* the whole mapping: lead + size, in pages */
};

/* Bytes of the header; hdr must hold them. */
static size_t
hdrsize(void)
{
	return Nhdr + (size_t)_dynld_hdrextra;
}

/* The magic, checked before the rest of the header is read (as module.decode does). */
static int
checkmagic(const uchar *hdr)
{
	ulong magic = getbe4(hdr);

	if(magic != dynmagic()){
		seterr("not dynamic object file or wrong platform (magic 0x%08lx, %s wants 0x%08lx)", magic,
		       _dynld_archname, dynmagic());
		return -1;
	}
	return 0;
}

/* The rest of the header (all hdrsize() bytes of it). */
static int
checkheader(const uchar *hdr, ulong maxsize, Hdr *h)
{
	unsigned long long entry64;
	size_t pg = pagesize();

	h->entry = getbe4(hdr + 5 * 4);
	if(_dynld_hdrextra > 0){
		entry64 = (unsigned long long)getbe4(hdr + Nhdr) << 32 | getbe4(hdr + Nhdr + 4);
		if(entry64 != h->entry){
			seterr("amd64 header: 64-bit entry 0x%llx differs from entry 0x%lx", entry64, h->entry);
			return -1;
		}
	}
	h->text = getbe4(hdr + 4);
	h->data = getbe4(hdr + 8);
	h->bss = getbe4(hdr + 12);
	h->size = (unsigned long long)h->text + h->data + h->bss;
	h->syms = (unsigned long long)getbe4(hdr + 16) + getbe4(hdr + 24) + getbe4(hdr + 28);
	if(h->entry >= h->size || h->entry % (ulong)_dynld_entryalign){
		seterr("invalid export table pointer (entry point) 0x%lx: image is 0x%llx bytes, "
		       "entry must be a multiple of %d", h->entry, h->size, _dynld_entryalign);
		return -1;
	}
	if(h->text == 0 || (hdrsize() + h->text) % Fmtpage == 0)
		h->kind = Kfilemapped;
	else if(h->text % Fmtpage == 0)
		h->kind = Kclassic;
	else if(__atomic_load_n(&legacyok, __ATOMIC_RELAXED))
		h->kind = Klegacy;
	else{
		seterr("text size 0x%lx is not a multiple of the page size (%d): Inferno's layout, "
		       "loaded only after dynlegacy(1)", h->text, Fmtpage);
		return -1;
	}
	if(pg != Fmtpage && h->kind != Klegacy){
		/* Another page size: keep text apart from data with a copy of the image on a page. */
		if(h->text % pg != 0){
			seterr("text size 0x%lx is not a multiple of this system's page size (%lu)", h->text, (ulong)pg);
			return -1;
		}
		h->kind = Kclassic;
	}
	if(maxsize != 0 && h->size > maxsize){
		seterr("module too big: %llu bytes (maxsize %lu)", h->size, maxsize);
		return -1;
	}
	if(h->size > (unsigned long long)(SIZE_MAX / 4) || h->size > (unsigned long long)(ulong)-1){
		seterr("module too big for this address space: %llu bytes", h->size);
		return -1;
	}
	h->lead = h->kind == Kfilemapped ? hdrsize() : 0;
	h->maplen = roundpage(h->lead + (size_t)h->size);
	return 0;
}

static int
checkblobsize(ulong relsize)
{
	if(relsize < 4){
		seterr("relocation data size %lu too small", relsize);
		return -1;
	}
	if(relsize > MAXRELOCDATA){
		seterr("relocation data size %lu too large", relsize);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------- placement */

static void *
mapanon(void *at, size_t len, int fixed)
{
	void *p;

	p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (fixed ? MAP_FIXED : 0), -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Map len bytes at hint (or anywhere); accept only a start in [lo, hi - len]. */
static uchar *
tryat(uintptr_t hint, size_t len, uintptr_t lo, uintptr_t hi)
{
	uchar *p;

	p = mapanon((void *)hint, len, 0);
	if(p == NULL)
		return NULL;
	if((uintptr_t)p >= lo && (uintptr_t)p <= hi - len)
		return p;
	munmap(p, len);
	return NULL;
}

typedef struct Cand Cand;
struct Cand {
	uintptr_t at, dist;
};

/* Keep the Ncandidates starts nearest the centre, sorted by distance. */
static void
addcand(Cand *c, int *n, uintptr_t at, uintptr_t centre)
{
	uintptr_t d = at > centre ? at - centre : centre - at;
	int i;

	if(*n == Ncandidates && d >= c[Ncandidates - 1].dist)
		return;
	i = *n < Ncandidates ? (*n)++ : Ncandidates - 1;
	while(i > 0 && c[i - 1].dist > d){
		c[i] = c[i - 1];
		i--;
	}
	c[i].at = at;
	c[i].dist = d;
}

/* The free range [gaplo, gaphi) offers the top len bytes inside [lo, hi). */
static void
gap(Cand *c, int *n, uintptr_t gaplo, uintptr_t gaphi, size_t len, uintptr_t lo, uintptr_t hi, uintptr_t centre)
{
	uintptr_t top = gaphi < hi ? gaphi : hi, at;

	if(top < len)
		return;
	at = (top - len) & ~(uintptr_t)(pagesize() - 1);
	if(at >= gaplo && at >= lo)
		addcand(c, n, at, centre);
}

/* Parse a hexadecimal number at s into *v; returns where it ends. */
static const char *
hexnum(const char *s, uintptr_t *v)
{
	int d;

	*v = 0;
	for(;; s++){
		if(*s >= '0' && *s <= '9')
			d = *s - '0';
		else if(*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			return s;
		*v = *v << 4 | (uintptr_t)d;
	}
}

/* Free ranges from /proc/self/maps, as start candidates; -1 if it cannot be read. */
static int
scanmaps(Cand *c, int *n, size_t len, uintptr_t lo, uintptr_t hi, uintptr_t centre)
{
	char buf[4096];
	size_t have, i, start;
	ssize_t got;
	uintptr_t prevend, a, b = 0;
	int fd, field;
	const char *e;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if(fd < 0)
		return -1;
	*n = 0;
	prevend = 0x10000;	/* below this Linux refuses mappings (mmap_min_addr) */
	have = 0;
	for(;;){
		got = read(fd, buf + have, sizeof buf - 1 - have);
		if(got < 0 && errno == EINTR)
			continue;
		if(got <= 0)
			break;
		have += (size_t)got;
		buf[have] = 0;
		start = 0;
		for(i = 0; i < have; i++){
			if(buf[i] != '\n')
				continue;
			/* "lo-hi perms ...": two hex numbers */
			e = hexnum(buf + start, &a);
			field = *e == '-';
			if(field)
				hexnum(e + 1, &b);
			if(field && b > a){
				if(a > prevend)
					gap(c, n, prevend, a, len, lo, hi, centre);
				if(b > prevend)
					prevend = b;
			}
			start = i + 1;
		}
		for(i = start; i < have; i++)
			buf[i - start] = buf[i];
		have -= start;
		if(have == sizeof buf - 1)
			have = 0;	/* a line longer than the buffer: not a mapping line we need */
	}
	close(fd);
	gap(c, n, prevend, (uintptr_t)-1 & ~(uintptr_t)(pagesize() - 1), len, lo, hi, centre);
	return 0;
}

/* Anonymous read+write memory of len bytes starting in [lo, hi - len], or nil. */
static uchar *
mapnear(size_t len, uintptr_t lo, uintptr_t hi)
{
	Cand c[Ncandidates];
	uintptr_t cur, centre;
	uchar *p;
	int n, k, scan;

	cur = __atomic_load_n(&nearcursor, __ATOMIC_RELAXED);
	if(cur > len && cur - len >= lo && cur <= hi){
		p = tryat(cur - len, len, lo, hi);
		if(p != NULL)
			goto Found;
	}
	centre = lo + (hi - lo) / 2;
	for(scan = 0; scan < Nscans; scan++){
		if(scanmaps(c, &n, len, lo, hi, centre) < 0)
			break;
		for(k = 0; k < n; k++){
			p = tryat(c[k].at, len, lo, hi);
			if(p != NULL)
				goto Found;
		}
		if(n == 0)
			return NULL;
	}
	/* No /proc: a few hints downward from the top of the range. */
	for(k = 1; k <= 16 && hi > lo + (uintptr_t)k * len; k++){
		p = tryat((hi - (uintptr_t)k * len) & ~(uintptr_t)(pagesize() - 1), len, lo, hi);
		if(p != NULL)
			goto Found;
	}
	return NULL;
Found:
	__atomic_store_n(&nearcursor, (uintptr_t)p, __ATOMIC_RELAXED);
	return p;
}

/* ------------------------------------------------------------- imports, relocations */

/* Bind the imports listed in the relocation blob; returns the position after them or nil. */
static uchar *
bindimports(Obj **op, uchar *rp, uchar *ep, Dynsym *tab, int ntab)
{
	ulong ni, i, sig;
	uchar *s;
	Dynsym *t;
	Obj *o;

	ni = getbe4(rp);
	rp += 4;
	if(ni > Maximports){
		seterr("too many imports: %lu (limit %d)", ni, Maximports);
		return NULL;
	}
	o = malloc(sizeof *o + ni * sizeof(Dynsym *));
	if(o == NULL){
		seterr("out of memory: import table");
		return NULL;
	}
	memset(&o->o, 0, sizeof o->o);
	o->o.import = o->imp;
	*op = o;
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
		o->imp[i] = t;
		o->o.nimport = (int)(i + 1);
		rp = s + 1;
	}
	return rp;
}

/* Where an image is and how it got there. */
typedef struct Map Map;
struct Map {
	uchar *start;	/* the mapping: start, start + maplen */
	int filebacked;	/* text and data mapped from the file (pages shared until written) */
	int fd;		/* and their file and offset, to map them again elsewhere */
	off_t off;
};

/* A decoded relocation. */
typedef struct Rel Rel;
struct Rel {
	size_t off;	/* image offset */
	int mode;
};

/* The relocations, decoded and checked; the list the export check and the patching use. */
typedef struct Rels Rels;
struct Rels {
	Rel *r;
	size_t n;
	int width[16];
	Rel stack[Nstackrel];
};

/*
 * The file-mapped pages relocations land in are copied as the list is decoded,
 * each by a single write fault (x86: a locked no-op write) rather than by a read
 * fault (checking an import index) and then a copy-on-write fault.
 */
#if defined(__x86_64__) || defined(__i386__)
#define TOUCH(p) __asm__ volatile("lock orb $0, %0" : "+m"(*(volatile uchar *)(p)))
#endif

/*
 * Decode and check the relocations at rp against the image at l->base (the
 * import index each mode 1 or 2 word holds, too), in the order and with the
 * texts of module.decode; widen [*lo, *hi] to the addresses mode 2 branches to.
 */
static int
decoderels(Rels *rs, uchar *rp, uchar *ep, Dynobj *l, const Hdr *h, Map *m, uintptr_t *lo, uintptr_t *hi)
{
	ulong nr, i;
	size_t a, off, prevend, delta, cap, limit, at, last, next, pg;
	int b, n, mode, w, shift, touch;
	unsigned long idx;
	uintptr_t t;

	rs->n = 0;
	rs->r = rs->stack;
	for(b = 0; b < 16; b++)
		rs->width[b] = _dynld_relocwidth(b);
	if(ep - rp < 4){
		seterr("relocation data: missing relocation count");
		return -1;
	}
	nr = getbe4(rp);
	rp += 4;
	cap = (size_t)(ep - rp) / 2;	/* each relocation takes at least two bytes of the blob */
	if(nr < cap)
		cap = nr;
	if(cap > Nstackrel){
		rs->r = malloc(cap * sizeof(Rel));
		if(rs->r == NULL){
			rs->r = rs->stack;
			seterr("out of memory: relocation list");
			return -1;
		}
	}
	limit = (size_t)h->text + h->data;
	shift = _dynld_addrshift;
	pg = pagesize();
#ifdef TOUCH
	touch = m->filebacked;
#else
	touch = 0;
	(void)m;
#endif
	next = 0;	/* mapping offsets below this are copied already */
	a = 0;
	prevend = 0;
	for(i = 0; i < nr; i++){
		if(rp >= ep){
			seterr("relocation data: relocation %lu runs past the end", i);
			return -1;
		}
		b = *rp++;
		n = b >> 6;
		if(n == 3){
			seterr("relocation %lu: bad delta width in 0x%02x", i, b);
			return -1;
		}
		if(b & 0x30){
			seterr("relocation %lu: reserved bits set in 0x%02x", i, b);
			return -1;
		}
		if(ep - rp < (1 << n)){
			seterr("relocation data: relocation %lu runs past the end", i);
			return -1;
		}
		if(n == 0)
			delta = rp[0];
		else if(n == 1)
			delta = (size_t)rp[0] << 8 | rp[1];
		else
			delta = (size_t)getbe4(rp);
		rp += 1 << n;
		mode = b & 0xf;
		w = rs->width[mode];
		if(w == 0){
			seterr("relocation %lu at 0x%llx: bad relocation mode %d", i, ((unsigned long long)a + delta) << shift, mode);
			return -1;
		}
		if(delta > (limit >> shift) - a){	/* past the image (a + delta may not even fit) */
			seterr("relocation %lu at 0x%llx: outside text and data (0x%llx bytes)", i,
			       ((unsigned long long)a + delta) << shift, (unsigned long long)limit);
			return -1;
		}
		a += delta;
		off = a << shift;
		if(off + (size_t)w > limit){
			seterr("relocation %lu at 0x%llx: outside text and data (0x%llx bytes)", i, (unsigned long long)off,
			       (unsigned long long)limit);
			return -1;
		}
		if(off < prevend){
			seterr("relocation %lu at 0x%llx: duplicate or overlapping address", i, (unsigned long long)off);
			return -1;
		}
		prevend = off + (size_t)w;
		if(touch){
			at = h->lead + off;
			last = at + (size_t)w - 1;
			if(last >= next){
				at &= ~(pg - 1);
				if(at < next)
					at = next;
				for(; at <= last; at += pg){
#ifdef TOUCH
					TOUCH(m->start + at);
#endif
				}
				next = at;
			}
		}
		if(mode != 0){
			idx = _dynld_relocindex(l->base + off, mode);
			if(idx >= (unsigned long)l->nimport){
				seterr("relocation %lu at 0x%llx: bad relocation index %lu (%d imports)", i,
				       (unsigned long long)off, idx, l->nimport);
				return -1;
			}
			if(mode == 2 && _dynld_nearlimit != 0){
				t = (uintptr_t)l->import[idx]->addr;
				if(t < *lo)
					*lo = t;
				if(t > *hi)
					*hi = t;
			}
		}
		rs->r[rs->n].off = off;
		rs->r[rs->n].mode = mode;
		rs->n++;
	}
	if(rp != ep){
		seterr("relocation data: %lu unused bytes at the end", (ulong)(ep - rp));
		return -1;
	}
	return 0;
}

static void
freerels(Rels *rs)
{
	if(rs->r != rs->stack)
		free(rs->r);
	rs->r = rs->stack;
}

/* The first relocation whose patched bytes end after off (relocations are sorted, disjoint). */
static size_t
relafter(Rels *rs, size_t off)
{
	size_t lo = 0, hi = rs->n, mid;

	while(lo < hi){
		mid = lo + (hi - lo) / 2;
		if(rs->r[mid].off + (size_t)rs->width[rs->r[mid].mode] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether some relocation patches a byte of [a, b); *at gets where it starts. */
static int
relin(Rels *rs, size_t a, size_t b, size_t *at)
{
	size_t k = relafter(rs, a);

	if(k < rs->n && rs->r[k].off < b){
		*at = rs->r[k].off;
		return 1;
	}
	return 0;
}

/* The mode of the relocation starting exactly at off, or -1. */
static int
relmodeat(Rels *rs, size_t off)
{
	size_t k = relafter(rs, off);

	return k < rs->n && rs->r[k].off == off ? rs->r[k].mode : -1;
}

static int
applyrels(Dynobj *l, Rels *rs)
{
	size_t i;
	int wide = sizeof(uintptr_t) == 8 && rs->width[0] == 8;
	uchar *base = l->base, *p;
	const char *e;
	char buf[300];
	uintptr_t b = (uintptr_t)base;
	Rel *r = rs->r;

	for(i = 0; i < rs->n; i++){
		p = base + r[i].off;
		if(r[i].mode == 0){
			if(wide)
				_dynld_put64(p, _dynld_get64(p) + (uint64_t)b);
			else
				_dynld_put32(p, _dynld_get32(p) + (uint32_t)b);
			continue;
		}
		e = _dynld_reloc(base, p, r[i].mode, l->import[_dynld_relocindex(p, r[i].mode)], buf, sizeof buf);
		if(e != NULL){
			seterr("relocation %lu at 0x%llx: %s", (ulong)i, (unsigned long long)r[i].off, e);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ the exports */

static size_t
getword(const uchar *p)
{
	if(sizeof(size_t) == 8 && _dynld_entryalign == 8)
		return (size_t)_dynld_get64(p);
	return (size_t)_dynld_get32(p);
}

/*
 * Check the export table at entry on the bytes as stored (before relocation),
 * with the rules and texts of module.decode.  Returns the number of entries or -1.
 */
static int
checkexports(Dynobj *l, Rels *rs, ulong entry)
{
	size_t w = (size_t)_dynld_entryalign, esz = 3 * w, size = l->size, pos, nameoff, addr, at;
	const uchar *img = l->base;
	const char *name, *prev;
	int k;

	prev = NULL;
	for(k = 0;; k++){
		pos = (size_t)entry + (size_t)k * esz;
		if(pos + esz > size){
			if(k == 0)
				seterr("export table: entry 0 outside the image");
			else
				seterr("export table: not terminated within the image");
			return -1;
		}
		nameoff = getword(img + pos + 2 * w);
		if(nameoff == 0 && relmodeat(rs, pos + 2 * w) < 0 && !relin(rs, pos + 2 * w, pos + 3 * w, &at))
			return k;
		if(relmodeat(rs, pos + 2 * w) != 0 || nameoff >= size){
			seterr("export table: entry %d: name outside the module image", k);
			return -1;
		}
		name = (const char *)img + nameoff;
		if(memchr(name, 0, size - nameoff) == NULL){
			seterr("export table: entry %d: name not NUL-terminated", k);
			return -1;
		}
		if(name[0] == 0){
			seterr("export table: entry %d: empty name", k);
			return -1;
		}
		if(relin(rs, nameoff, nameoff + strlen(name) + 1, &at)){
			seterr("export table: entry %d: name overlaps the relocation at 0x%llx", k, (unsigned long long)at);
			return -1;
		}
		addr = getword(img + pos + w);
		if(relmodeat(rs, pos + w) != 0 || addr >= size){
			seterr("export table: entry %d (%.200s): address outside the module image", k, name);
			return -1;
		}
		if(relin(rs, pos, pos + w, &at)){
			seterr("export table: entry %d (%.200s): signature is relocated (at 0x%llx)", k, name,
			       (unsigned long long)at);
			return -1;
		}
		if(prev != NULL && strcmp(prev, name) >= 0){
			seterr("export table: not sorted: '%.100s' before '%.100s'", prev, name);
			return -1;
		}
		prev = name;
	}
}

/* ---------------------------------------------------------------------- loading */


/* Zero the bss bytes that share the last file page with data. */
static void
zerobsstail(const Hdr *h, Map *m)
{
	size_t end = h->lead + h->text + h->data, pageend = roundpage(end), stop = h->lead + (size_t)h->size;

	if(stop > pageend)
		stop = pageend;
	if(stop > end)
		memset(m->start + end, 0, stop - end);
}

/* Move the image so mode 2 relocations reach [lo, hi] (their targets); 0 if it already does. */
static int
placenear(Dynobj *l, const Hdr *h, Map *m, uintptr_t lo, uintptr_t hi)
{
	uintptr_t reach = (uintptr_t)_dynld_nearlimit, wlo, whi;
	uchar *p, *q;
	size_t filelen;

	/* every target within reach of every byte of the mapping */
	wlo = hi > reach ? hi - reach : 0;
	whi = lo < (uintptr_t)-1 - reach ? lo + reach : (uintptr_t)-1;
	if((uintptr_t)m->start >= wlo && (uintptr_t)m->start + h->maplen <= whi)
		return 0;
	if(whi <= wlo || whi - wlo < h->maplen){
		seterr("cannot place the module: the imports it branches to (0x%lx..0x%lx) are too far apart for %s",
		       (ulong)lo, (ulong)hi, _dynld_nearwhat);
		return -1;
	}
	p = mapnear(h->maplen, wlo, whi);
	if(p == NULL){
		seterr("cannot place the module within %s of the imports it branches to (0x%lx..0x%lx): "
		       "no free 0x%lx bytes in 0x%lx..0x%lx",
		       _dynld_nearwhat, (ulong)lo, (ulong)hi, (ulong)h->maplen, (ulong)wlo, (ulong)whi);
		return -1;
	}
	if(m->filebacked){
		filelen = roundpage(h->lead + h->text + h->data);
		q = mmap(p, filelen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, m->fd, m->off);
		if(q == MAP_FAILED){
			munmap(p, h->maplen);
			seterr("cannot map the module again near its imports: %s", strerror(errno));
			return -1;
		}
		/* the bss pages beyond the file are fresh zeros already */
	}else
		memcpy(p, m->start, h->maplen);
	munmap(m->start, h->maplen);
	m->start = p;
	l->base = p + h->lead;
	if(m->filebacked)
		zerobsstail(h, m);
	return 0;
}

/* Text read+execute (Inferno's layout: its last page, shared with data, also writable). */
static int
protect(Dynobj *l, const Hdr *h, Map *m)
{
	size_t pg = pagesize(), textend = h->lead + h->text, full = textend & ~(pg - 1);

	if(h->text == 0)
		return 0;
	_dynld_flush(l->base, l->text);
	if(full > 0 && mprotect(m->start, full, PROT_READ | PROT_EXEC) < 0){
		seterr("cannot make text executable: %s", strerror(errno));
		return -1;
	}
	if(full != textend && mprotect(m->start + full, pg, PROT_READ | PROT_WRITE | PROT_EXEC) < 0){
		seterr("cannot make the page text shares with data executable: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Where the pages cannot be touched in passing (not x86), copy the file-mapped
 * pages relocations land in with one call per run of pages, before patching.
 */
static void
prefault(const Hdr *h, Map *m, Rels *rs)
{
#if !defined(TOUCH) && defined(MADV_POPULATE_WRITE)
	size_t pg = pagesize(), i, at, first, last, next, runlo;

	if(!m->filebacked || rs->n == 0)
		return;
	next = 0;	/* mapping offsets below this are done */
	runlo = 0;
	for(i = 0; i < rs->n; i++){
		at = h->lead + rs->r[i].off;
		last = at + (size_t)rs->width[rs->r[i].mode] - 1;
		if(last < next)
			continue;
		first = at & ~(pg - 1);
		if(first >= next){
			if(next != 0)
				madvise(m->start + runlo, next - runlo, MADV_POPULATE_WRITE);
			runlo = first;
		}
		next = (last & ~(pg - 1)) + pg;
	}
	madvise(m->start + runlo, next - runlo, MADV_POPULATE_WRITE);
#else
	(void)h;
	(void)m;
	(void)rs;
#endif
}

/* Everything after the image is in place (unrelocated) and the blob read. */
static Dynobj *
finish(Obj **op, const Hdr *h, Map *m, uchar *blob, ulong relsize, Dynsym *tab, int ntab)
{
	Dynobj *l;
	uchar *rp, *ep = blob + relsize;
	Rels rs;
	uintptr_t lo = (uintptr_t)-1, hi = 0;
	int nexp;

	rp = bindimports(op, blob + 0, ep, tab, ntab);
	if(rp == NULL)
		return NULL;
	l = &(*op)->o;
	l->text = h->text;
	l->data = h->data;
	l->bss = h->bss;
	l->size = (ulong)h->size;
	l->base = m->start + h->lead;
	if(decoderels(&rs, rp, ep, l, h, m, &lo, &hi) < 0)
		goto Error;
	if(lo <= hi && placenear(l, h, m, lo, hi) < 0)
		goto Error;
	prefault(h, m, &rs);
	nexp = checkexports(l, &rs, h->entry);
	if(nexp < 0)
		goto Error;
	if(applyrels(l, &rs) < 0)
		goto Error;
	freerels(&rs);
	l->export = (Dynsym *)(l->base + h->entry);
	l->nexport = nexp;
	if(protect(l, h, m) < 0)
		return NULL;
	return l;
Error:
	freerels(&rs);
	return NULL;
}

/* Map the image from fd at off (file-mapped layout), the bss beyond the file anonymous. */
static int
mapfile(const Hdr *h, Map *m, int fd, off_t off)
{
	size_t filelen = roundpage(h->lead + h->text + h->data);
	void *p;

	p = mmap(NULL, h->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, off);
	if(p == MAP_FAILED)
		return -1;
	m->start = p;
	m->filebacked = 1;
	m->fd = fd;
	m->off = off;
	if(h->maplen > filelen && mapanon(m->start + filelen, h->maplen - filelen, 1) == NULL){
		munmap(p, h->maplen);
		m->start = NULL;
		return -1;
	}
	zerobsstail(h, m);
	return 0;
}

/*
 * The relocation blob, in a buffer that grows as its bytes arrive: a size word
 * larger than the file is reported as a truncated file, not as too much memory.
 */
static uchar *
readblob(Src *s, ulong relsize)
{
	uchar *blob, *nb;
	size_t have, cap;

	blob = NULL;
	have = 0;
	cap = relsize < 65536 ? relsize : 65536;
	for(;;){
		nb = realloc(blob, cap);
		if(nb == NULL){
			free(blob);
			seterr("out of memory: relocation data");
			return NULL;
		}
		blob = nb;
		if(readn(s, blob + have, cap - have) < 0){
			free(blob);
			seterr("truncated module: cannot read relocation data");
			return NULL;
		}
		have = cap;
		if(have == relsize)
			return blob;
		cap = relsize - have > have ? 2 * have : relsize;
	}
}

/* The in-order reader: dynloadgen, and dynloadfd on files it cannot seek. */
static Dynobj *
loadstream(Src *s, Dynsym *tab, int ntab, ulong maxsize)
{
	uchar hdr[Nhdr + 8], *blob;
	ulong relsize;
	Hdr h;
	Map m;
	Obj *o;
	Dynobj *l;

	blob = NULL;
	o = NULL;
	memset(&m, 0, sizeof m);
	if(readn(s, hdr, Nhdr) < 0){
		seterr("truncated module: cannot read header");
		return NULL;
	}
	if(checkmagic(hdr) < 0)
		return NULL;
	if(readn(s, hdr + Nhdr, hdrsize() - Nhdr) < 0){
		seterr("truncated module: cannot read header");
		return NULL;
	}
	if(checkheader(hdr, maxsize, &h) < 0)
		return NULL;
	m.start = mapanon(NULL, h.maplen, 0);
	if(m.start == NULL){
		seterr("out of memory: cannot map %lu bytes", (ulong)h.maplen);
		return NULL;
	}
	if(h.lead > 0)
		memcpy(m.start, hdr, h.lead);
	if(readn(s, m.start + h.lead, (unsigned long long)h.text + h.data) < 0){
		seterr("truncated module: cannot read text and data");
		goto Error;
	}
	if(skipn(s, h.syms) < 0){
		seterr("truncated module: cannot read symbol tables");
		goto Error;
	}
	if(readn(s, hdr, 4) < 0){
		seterr("truncated module: cannot read relocation data size");
		goto Error;
	}
	relsize = getbe4(hdr);
	if(checkblobsize(relsize) < 0)
		goto Error;
	blob = readblob(s, relsize);
	if(blob == NULL)
		goto Error;
	l = finish(&o, &h, &m, blob, relsize, tab, ntab);
	if(l == NULL)
		goto Error;
	free(blob);
	return l;
Error:
	free(blob);
	if(m.start != NULL)
		munmap(m.start, h.maplen);
	free(o);
	return NULL;
}

static int
onstack(const uchar *blob, const uchar *stackblob)
{
	return blob >= stackblob && blob < stackblob + Nstackblob;
}

/* 1: loaded or refused (l says which); 0: read the file in order instead (short reads). */
static int
loadfd(int fd, Dynsym *tab, int ntab, ulong maxsize, Dynobj **lp)
{
	uchar hdr[Nhdr + 8], stackblob[Nstackblob], *blob, *have;
	unsigned long long end, offmax;
	off_t off0, blobat;
	ulong relsize;
	ssize_t got;
	Hdr h;
	Map m;
	Obj *o;

	*lp = NULL;
	blob = NULL;
	o = NULL;
	memset(&m, 0, sizeof m);
	off0 = lseek(fd, 0, SEEK_CUR);
	if(off0 < 0)
		return 0;
	/* One read for the header and, in a small file, the relocation data as well. */
	do
		got = pread(fd, stackblob, Nfirstread, off0);
	while(got < 0 && errno == EINTR);
	if(got < (ssize_t)hdrsize())
		return 0;
	memcpy(hdr, stackblob, hdrsize());
	if(checkmagic(hdr) < 0 || checkheader(hdr, maxsize, &h) < 0)
		return 1;
	offmax = (1ULL << (8 * sizeof(off_t) - 1)) - 1;
	end = (unsigned long long)off0 + hdrsize() + h.text + h.data + h.syms;
	if(end > offmax - 4 - Nstackblob)
		return 0;	/* past what pread can reach: the in-order reader says where it ends */
	blobat = (off_t)end;
	if(blobat - off0 <= got - 4){
		have = stackblob + (blobat - off0);
		got -= (ssize_t)(blobat - off0);
	}else{
		have = stackblob;
		do
			got = pread(fd, stackblob, sizeof stackblob, blobat);
		while(got < 0 && errno == EINTR);
	}
	if(got < 4)
		return 0;
	relsize = getbe4(have);
	if(checkblobsize(relsize) < 0)
		return 1;
	if(end + 4 + relsize > offmax)
		return 0;
	if((size_t)got - 4 >= relsize)
		blob = have + 4;
	else{
		/* the blob's last byte first: a file shorter than its size word is reported by the in-order reader */
		if(pread(fd, hdr, 1, blobat + 4 + (off_t)relsize - 1) != 1)
			return 0;
		blob = malloc(relsize);
		if(blob == NULL)
			return 0;
		memcpy(blob, have + 4, (size_t)got - 4);
		if(preadn(fd, blob + got - 4, relsize - ((size_t)got - 4), blobat + got) < 0){
			free(blob);
			return 0;
		}
	}
	if(h.kind != Kfilemapped || off0 % Fmtpage != 0 || pagesize() != Fmtpage || mapfile(&h, &m, fd, off0) < 0){
		m.start = mapanon(NULL, h.maplen, 0);
		if(m.start == NULL){
			seterr("out of memory: cannot map %lu bytes", (ulong)h.maplen);
			goto Error;
		}
		if(h.lead > 0)
			memcpy(m.start, hdr, h.lead);
		if(preadn(fd, m.start + h.lead, (size_t)h.text + h.data, off0 + (off_t)hdrsize()) < 0){
			munmap(m.start, h.maplen);
			if(!onstack(blob, stackblob))
				free(blob);
			return 0;
		}
	}
	*lp = finish(&o, &h, &m, blob, relsize, tab, ntab);
	if(*lp == NULL)
		goto Error;
	if(!onstack(blob, stackblob))
		free(blob);
	return 1;
Error:
	if(!onstack(blob, stackblob))
		free(blob);
	if(m.start != NULL)
		munmap(m.start, h.maplen);
	free(o);
	return 1;
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
	l = loadstream(&s, tab, ntab, maxsize);
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
	Dynobj *l;

	errbuf[0] = 0;
	if(ntab < 0 || (ntab > 0 && tab == NULL))
		ntab = 0;
	if(loadfd(fd, tab, ntab, maxsize, &l))
		return l;
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
