/*
 * Test host for the dynld runtime: loads the module named on the command line
 * against a small export table of its own and reports what it finds.
 *
 *	dynld_harness [-g] [-L] [-W] [-m maxsize] [-i name] [-p name] [-c name] [-s name=sig] [-P] [-T] module
 *
 *	(default)	load with dynloadfd; print sizes, exports and bound imports
 *	-g		load with dynloadgen from memory (checks the err callback too)
 *	-m maxsize	pass maxsize to the loader
 *	-i name		print the int at the module's export name
 *	-p name		print where the pointer stored at export name points (host symbol or module offset)
 *	-c name		call export name as int (*)(void) and print the result
 *	-s name=sig	dynimport(name, sig) and print whether it was found
 *	-P		print the protections of the text and data pages (from /proc/self/maps)
 *	-T		load every proper prefix of the file (each must be refused, file offset restored)
 *	-L		call dynlegacy(1) first (accept Inferno's text layout)
 *	-o offset	the module starts at this offset of the file: seek there before dynloadfd,
 *			and print "offset after N" (where the file offset is after loading)
 *	-W		print every writable and executable mapping of the process, as "wx LO-HI",
 *			the module's mapping as "image LO-HI" (base and size rounded out to pages), and
 *			each mapping inside it as "map LO-HI PERMS COPIED-KB FILE" (from /proc/self/smaps;
 *			COPIED-KB is "Anonymous": pages copied on write or not from a file; FILE "-"
 *			when anonymous)
 *	-D file		write the loaded, relocated image (text and data) to file; print the base and the
 *			host's export addresses
 *
 * Exit status: 0 ok, 1 the module was refused (message on stderr), 2 usage, 3 a check failed.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dynld.h"

int host_int = 1234;
int host_array[4] = {10, 20, 30, 40};
int host_nosig = 5;

int
host_answer(void)
{
	return 7;
}

/* Sorted by name (strcmp). */
Dynsym _exporttab[] = {
	{0x11111111UL, (ulong)&host_answer, "host_answer"},
	{0x22222222UL, (ulong)&host_array, "host_array"},
	{0x33333333UL, (ulong)&host_int, "host_int"},
	{0, (ulong)&host_nosig, "host_nosig"},
	{0, 0, NULL},
};

typedef struct Mem Mem;
struct Mem {
	uchar *p;
	long len;
	long pos;
};

static long
memread(void *f, void *buf, long n)
{
	Mem *m = f;

	if(n > m->len - m->pos)
		n = m->len - m->pos;
	if(n < 0)
		return -1;
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
	if(p < 0)
		return -1;
	m->pos = (long)p;
	return p;
}

static char cberr[1024];
static int ncb;

static void
errcb(char *s)
{
	snprintf(cberr, sizeof cberr, "%s", s);
	ncb++;
}

static uchar *
slurp(const char *file, long *len)
{
	FILE *f;
	uchar *p;
	long n;

	f = fopen(file, "rb");
	if(f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc(n > 0 ? (size_t)n : 1);
	if(p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n){
		fclose(f);
		free(p);
		return NULL;
	}
	fclose(f);
	*len = n;
	return p;
}

static const char *
prot(uintptr_t a, char *buf)
{
	FILE *f;
	char line[512];
	unsigned long lo, hi;
	char perm[8];

	strcpy(buf, "?");
	f = fopen("/proc/self/maps", "r");
	if(f == NULL)
		return buf;
	while(fgets(line, sizeof line, f) != NULL)
		if(sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) == 3 && a >= lo && a < hi){
			snprintf(buf, 8, "%.3s", perm);
			break;
		}
	fclose(f);
	return buf;
}

static void
wxmaps(Dynobj *o)
{
	FILE *f;
	char line[512];
	unsigned long lo, hi, pg = (unsigned long)sysconf(_SC_PAGESIZE), ilo, ihi, dirty;
	char perm[8], p[8], path[256];
	unsigned long a, b;
	int inside;

	lo = hi = 0;
	f = fopen("/proc/self/maps", "r");
	if(f == NULL)
		return;
	while(fgets(line, sizeof line, f) != NULL)
		if(sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) == 3 && perm[1] == 'w' && perm[2] == 'x')
			printf("wx %lx-%lx\n", lo, hi);
	fclose(f);
	ilo = (ulong)o->base & ~(pg - 1);
	ihi = ((ulong)o->base + o->size + pg - 1) & ~(pg - 1);
	printf("image %lx-%lx\n", ilo, ihi);
	f = fopen("/proc/self/smaps", "r");
	if(f == NULL)
		return;
	inside = 0;
	while(fgets(line, sizeof line, f) != NULL){
		if(sscanf(line, "%lx-%lx %7s", &a, &b, p) == 3){	/* a mapping's first line */
			lo = a;
			hi = b;
			memcpy(perm, p, sizeof perm);
			if(sscanf(line, "%*s %*s %*s %*s %*s %255s", path) != 1)
				strcpy(path, "-");
			inside = lo < ihi && hi > ilo;
		}else if(inside && sscanf(line, "Anonymous: %lu kB", &dirty) == 1)
			printf("map %lx-%lx %s %lu %s\n", lo, hi, perm, dirty, path);
	}
	fclose(f);
}

static int
truncsweep(const char *file, ulong maxsize)
{
	uchar *p;
	long len, l;
	Mem m;
	Dynobj *o;
	int bad;

	p = slurp(file, &len);
	if(p == NULL){
		fprintf(stderr, "dynld_harness: %s: cannot read\n", file);
		return 1;
	}
	bad = 0;
	for(l = 0; l < len; l++){
		m.p = p;
		m.len = l;
		m.pos = 0;
		ncb = 0;
		o = dynloadgen(&m, memread, memseek, errcb, _exporttab, dyntabsize(_exporttab), maxsize);
		if(o != NULL){
			printf("UNEXPECTED: prefix of %ld bytes loaded\n", l);
			dynobjfree(o);
			bad = 1;
			continue;
		}
		if(ncb != 1 || strcmp(cberr, dynerror()) != 0 || m.pos != 0){
			printf("UNEXPECTED: prefix %ld: callback %d, offset %ld\n", l, ncb, m.pos);
			bad = 1;
		}
		if(strncmp(dynerror(), "truncated module:", 17) != 0)
			printf("prefix %ld: %s\n", l, dynerror());
	}
	m.p = p;
	m.len = len;
	m.pos = 0;
	o = dynloadgen(&m, memread, memseek, errcb, _exporttab, dyntabsize(_exporttab), maxsize);
	if(o == NULL){
		printf("UNEXPECTED: whole file refused: %s\n", dynerror());
		bad = 1;
	}
	dynobjfree(o);
	printf("refused %ld prefixes\n", len);
	free(p);
	return bad ? 3 : 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: dynld_harness [-g] [-L] [-W] [-o offset] [-m maxsize] [-i name] [-p name] [-c name] [-s name=sig] [-P] [-T] [-D file] module\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int c, gen, protflag, trunc, i, fd, rc, wx;
	long start;
	ulong maxsize;
	const char *ints[16], *ptrs[16], *calls[16], *sigs[16];
	int nints, nptrs, ncalls, nsigs;
	const char *file, *dump;
	Dynobj *o;
	Mem m;
	long len;
	char pbuf[8], dbuf[8];

	gen = protflag = trunc = wx = 0;
	start = -1;
	nints = nptrs = ncalls = nsigs = 0;
	maxsize = 0;
	dump = NULL;
	while((c = getopt(argc, argv, "gm:i:p:c:s:PTD:LWo:")) != -1){
		switch(c){
		case 'g': gen = 1; break;
		case 'm': maxsize = strtoul(optarg, NULL, 0); break;
		case 'i': if(nints < 16) ints[nints++] = optarg; break;
		case 'p': if(nptrs < 16) ptrs[nptrs++] = optarg; break;
		case 'c': if(ncalls < 16) calls[ncalls++] = optarg; break;
		case 's': if(nsigs < 16) sigs[nsigs++] = optarg; break;
		case 'P': protflag = 1; break;
		case 'T': trunc = 1; break;
		case 'D': dump = optarg; break;
		case 'L': dynlegacy(1); break;
		case 'W': wx = 1; break;
		case 'o': start = strtol(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if(optind != argc - 1)
		usage();
	file = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if(trunc)
		return truncsweep(file, maxsize);

	if(gen){
		m.p = slurp(file, &len);
		if(m.p == NULL){
			fprintf(stderr, "dynld_harness: %s: cannot read\n", file);
			return 1;
		}
		m.len = len;
		m.pos = 0;
		ncb = 0;
		printf("loadable=%d\n", dynloadable(&m, memread, memseek));
		if(m.pos != 0){
			printf("UNEXPECTED: dynloadable moved the offset to %ld\n", m.pos);
			return 3;
		}
		o = dynloadgen(&m, memread, memseek, errcb, _exporttab, dyntabsize(_exporttab), maxsize);
		if(o == NULL && (ncb != 1 || strcmp(cberr, dynerror()) != 0)){
			printf("UNEXPECTED: err callback called %d times with '%s'\n", ncb, cberr);
			return 3;
		}
		if(o == NULL)
			free(m.p);
	}else{
		fd = open(file, O_RDONLY);
		if(fd < 0){
			fprintf(stderr, "dynld_harness: %s: cannot open\n", file);
			return 1;
		}
		if(start >= 0 && lseek(fd, start, SEEK_SET) != start){
			fprintf(stderr, "dynld_harness: %s: cannot seek\n", file);
			return 1;
		}
		o = dynloadfd(fd, _exporttab, dyntabsize(_exporttab), maxsize);
		if(start >= 0)
			printf("offset after %ld\n", (long)lseek(fd, 0, SEEK_CUR));
		close(fd);
	}
	if(o == NULL){
		fprintf(stderr, "dynld_harness: %s: %s\n", file, dynerror());
		return 1;
	}
	printf("loaded text=%lu data=%lu bss=%lu size=%lu nexport=%d nimport=%d\n", o->text, o->data, o->bss, o->size,
	       o->nexport, o->nimport);
	for(i = 0; i < o->nexport; i++)
		printf("export %s sig=0x%08lx off=0x%lx\n", o->export[i].name, o->export[i].sig,
		       o->export[i].addr - (ulong)o->base);
	for(i = 0; i < o->nimport; i++)
		printf("import %d %s\n", i, o->import[i]->name);
	rc = 0;
	for(i = 0; i < nints; i++){
		int *ip = dynimport(o, (char *)ints[i], 0);
		if(ip == NULL){
			printf("int %s: %s\n", ints[i], dynerror());
			rc = 3;
		}else
			printf("int %s = %d\n", ints[i], *ip);
	}
	for(i = 0; i < nptrs; i++){
		ulong *pp = dynimport(o, (char *)ptrs[i], 0);
		ulong v;
		Dynsym *t, *best;
		if(pp == NULL){
			printf("ptr %s: %s\n", ptrs[i], dynerror());
			rc = 3;
			continue;
		}
		v = *pp;
		if(v >= (ulong)o->base && v < (ulong)o->base + o->size){
			printf("ptr %s -> module+0x%lx\n", ptrs[i], v - (ulong)o->base);
			continue;
		}
		best = NULL;
		for(t = _exporttab; t->name != NULL; t++)
			if(t->addr <= v && v - t->addr < 64 && (best == NULL || t->addr > best->addr))
				best = t;
		if(best != NULL)
			printf("ptr %s -> host %s+%lu\n", ptrs[i], best->name, v - best->addr);
		else
			printf("ptr %s -> 0x%lx\n", ptrs[i], v);
	}
	for(i = 0; i < ncalls; i++){
		int (*f)(void) = (int (*)(void))dynimport(o, (char *)calls[i], 0);
		if(f == NULL){
			printf("call %s: %s\n", calls[i], dynerror());
			rc = 3;
		}else
			printf("call %s = %d\n", calls[i], f());
	}
	for(i = 0; i < nsigs; i++){
		char name[128], *eq;
		snprintf(name, sizeof name, "%s", sigs[i]);
		eq = strchr(name, '=');
		if(eq == NULL)
			usage();
		*eq++ = 0;
		if(dynimport(o, name, strtoul(eq, NULL, 0)) != NULL)
			printf("dynimport %s %s: found\n", name, eq);
		else
			printf("dynimport %s %s: nil: %s\n", name, eq, dynerror());
	}
	if(dump != NULL){
		FILE *df = fopen(dump, "wb");
		Dynsym *t;
		if(df == NULL || fwrite(o->base, 1, o->text + o->data, df) != o->text + o->data || fclose(df) != 0){
			printf("cannot write %s\n", dump);
			return 3;
		}
		printf("base 0x%lx\n", (ulong)o->base);
		for(t = _exporttab; t->name != NULL; t++)
			printf("host %s 0x%lx\n", t->name, t->addr);
	}
	if(wx)
		wxmaps(o);
	if(protflag)
		printf("prot text=%s data=%s\n", o->text ? prot((uintptr_t)o->base, pbuf) : "-",
		       o->data + o->bss ? prot((uintptr_t)o->base + o->text, dbuf) : "-");
	dynobjfree(o);
	if(gen)
		free(m.p);
	return rc;
}
