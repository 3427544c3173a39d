/*
 * Fuzzing the dynld runtime's loader (dynloadgen) on arbitrary bytes.
 *
 * dyn_check() loads one module from memory and reports the verdict and the error text;
 * it is used two ways:
 *
 *	-DDYNLD_LIBFUZZER	a libFuzzer target (LLVMFuzzerTestOneInput), built with
 *				ASan+UBSan; it aborts when the loader breaks a promise
 *	(otherwise)		a shared library for fuzz/targets.py's differential target,
 *				which compares the verdict and text with module.decode()
 *
 * The host's export table is made per module: every import name the module's relocation
 * data lists (read leniently, up to the first malformed one) is exported with signature 0
 * (unchecked), so that mutated modules get past import binding to the relocations and the
 * export table, where most of the loader's checks are.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynld.h"

Dynsym _exporttab[] = {{0, 0, 0}};

enum {
	Maxhost = 64,		/* host exports made per module */
	Hostdata = 256,		/* bytes of the host object every export points at */
	Maxsize = 64 << 20	/* maxsize passed to the loader: bounds the memory a mutant can ask for */
};

static uchar hostdata[Hostdata];

typedef struct Mem Mem;
struct Mem {
	const uchar *p;
	long len;
	long pos;
};

static long
memread(void *f, void *buf, long n)
{
	Mem *m = f;

	if(n < 0 || m->pos < 0 || m->pos > m->len)
		return -1;
	if(n > m->len - m->pos)
		n = m->len - m->pos;
	memcpy(buf, m->p + m->pos, (size_t)n);
	m->pos += n;
	return n;
}

static vlong
memseek(void *f, vlong off, int whence)
{
	Mem *m = f;
	vlong p;

	p = whence == 0 ? off : whence == 1 ? m->pos + off : m->len + off;
	if(p < 0 || p > 0x7fffffff)
		return -1;
	m->pos = (long)p;
	return p;
}

static char cberr[512];
static int cbcalls;

static void
errcallback(char *s)
{
	cbcalls++;
	snprintf(cberr, sizeof cberr, "%s", s);
}

static unsigned long
be4(const uchar *p)
{
	return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

static int
bystrcmp(const void *a, const void *b)
{
	return strcmp(((const Dynsym *)a)->name, ((const Dynsym *)b)->name);
}

/* The import names of the module in p[0..n), as a sorted host export table; its length. */
static int
hostexports(const uchar *p, long n, Dynsym *tab, char *names, long namesize)
{
	uint64_t off, t, end;
	unsigned long ni, i;
	int nt, k, out;
	long used;
	int wide;

	if(n < 32)
		return 0;
	wide = be4(p) == 0x80008a97UL;	/* amd64 (magic 0x80008a97): an extra 8-byte entry word */
	off = (uint64_t)(wide ? 40 : 32) + be4(p + 4) + be4(p + 8) + be4(p + 16) + be4(p + 24) + be4(p + 28);
	if(off + 4 > (uint64_t)n)
		return 0;
	t = be4(p + off);
	off += 4;
	end = off + t;
	if(end > (uint64_t)n)
		end = (uint64_t)n;
	if(off + 4 > end)
		return 0;
	ni = be4(p + off);
	off += 4;
	nt = 0;
	used = 0;
	for(i = 0; i < ni && nt < Maxhost; i++){
		const uchar *s, *z;
		long len;

		if(off + 5 > end)
			break;
		off += 4;
		s = p + off;
		z = memchr(s, 0, (size_t)(end - off));
		if(z == NULL || z == s)
			break;
		len = (long)(z - s) + 1;
		if(used + len > namesize)
			break;
		memcpy(names + used, s, (size_t)len);
		tab[nt].sig = 0;
		tab[nt].addr = (ulong)hostdata;
		tab[nt].name = names + used;
		nt++;
		used += len;
		off += (uint64_t)len;
	}
	qsort(tab, (size_t)nt, sizeof tab[0], bystrcmp);
	out = 0;
	for(k = 0; k < nt; k++)
		if(out == 0 || strcmp(tab[out - 1].name, tab[k].name) != 0)
			tab[out++] = tab[k];
	tab[out].sig = 0;
	tab[out].addr = 0;
	tab[out].name = NULL;
	return out;
}

/*
 * Load p[0..n) as a module. Returns 1 if it was accepted, 0 if refused (the error text in
 * err), or -1 with a description in err if the loader broke a promise: no error text, a
 * callback text other than dynerror()'s, the file
 * offset not restored, or an export table that does not hold what it was checked to hold.
 * (The text holds the module's bytes as they are, as decode()'s does: the program that
 * prints it escapes them, as run_main does for the tools.)
 */
int
dyn_check(const uchar *p, long n, char *err, long errsize)
{
	static Dynsym tab[Maxhost + 1];
	static char names[Maxhost * 256];
	Mem m;
	Dynobj *o;
	const char *e;
	int nt, k;

	nt = hostexports(p, n, tab, names, sizeof names);
	m.p = p;
	m.len = n;
	m.pos = 0;
	cberr[0] = 0;
	cbcalls = 0;
	o = dynloadgen(&m, memread, memseek, errcallback, tab, nt, Maxsize);
	if(o == NULL){
		e = dynerror();
		snprintf(err, (size_t)errsize, "%s", e);
		if(e[0] == 0){
			snprintf(err, (size_t)errsize, "refused with no error text");
			return -1;
		}
		if(cbcalls != 1 || strcmp(cberr, e) != 0){
			snprintf(err, (size_t)errsize, "err callback called %d times, text differs from dynerror()", cbcalls);
			return -1;
		}
		if(m.pos != 0){
			snprintf(err, (size_t)errsize, "file offset %ld not restored after a refusal", m.pos);
			return -1;
		}
		return 0;
	}
	err[0] = 0;
	if(cbcalls != 0){
		snprintf(err, (size_t)errsize, "err callback called on success");
		dynobjfree(o);
		return -1;
	}
	for(k = 0; k < o->nexport; k++){
		Dynsym *s = &o->export[k];
		if(s->addr < (ulong)o->base || s->addr >= (ulong)o->base + o->size || s->name == NULL || s->name[0] == 0){
			snprintf(err, (size_t)errsize, "export %d not inside the image after the checks", k);
			dynobjfree(o);
			return -1;
		}
		if(dynimport(o, s->name, 0) == NULL){
			snprintf(err, (size_t)errsize, "dynimport cannot find export %d", k);
			dynobjfree(o);
			return -1;
		}
	}
	dynobjfree(o);
	return 1;
}

#ifdef DYNLD_LIBFUZZER
/*
 * Whether the relocation data size t in the header asks for at most 64 KiB more than the
 * file holds. The runtime allocates t bytes (up to 2 GiB) before reading them; under ASan
 * every such allocation costs a quarter of a second (its shadow is poisoned and unpoisoned),
 * so mutants asking for more are skipped: they would only run the "cannot read relocation
 * data" path, which the smaller ones run as well.
 */
static int
relocsizeplausible(const uchar *p, long n)
{
	uint64_t off;

	if(n < 32)
		return 1;
	off = (uint64_t)(be4(p) == 0x80008a97UL ? 40 : 32) + be4(p + 4) + be4(p + 8) + be4(p + 16) + be4(p + 24) +
	      be4(p + 28);
	if(off + 4 > (uint64_t)n)
		return 1;
	return be4(p + off) <= (uint64_t)n - off - 4 + 65536;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[600];

	if(size > (1 << 24) || !relocsizeplausible(data, (long)size))
		return 0;
	if(dyn_check(data, (long)size, err, sizeof err) < 0){
		fprintf(stderr, "dynld_fuzz: broken promise: %s\n", err);
		abort();
	}
	return 0;
}
#endif
