/*
 * Host of bench/bench_dynld.py: loads the same generated code as a dynld module
 * (dynloadfd) and as a shared library (dlopen), checks that both compute the
 * same thing, then times loading each one many times in this one process.
 *
 *	dynld_bench_host MODULE.dlm LIB.so N ROUNDS [both|dynld|dlopen]
 *
 * Output, one line each:
 *	check dynld NAME SUM RUN COUNTER LOGSUM
 *	check dlopen NAME SUM RUN COUNTER LOGSUM
 *	round K dynld WALL CPU SYS	(or dlopen): microseconds per load, by
 *				CLOCK_MONOTONIC, by CLOCK_PROCESS_CPUTIME_ID, and the
 *				system (kernel) part of the CPU time (getrusage)
 *
 * One dynld load is open + dynloadfd (read, map, bind imports against
 * _exporttab, relocate, check exports, mprotect) + close + three dynimport +
 * dynobjfree.  One dlopen load is dlopen(RTLD_NOW|RTLD_LOCAL) + three dlsym +
 * dlclose (dlopen opens the file itself).  The host exports host_add,
 * host_counter and host_log to both (to the .so by being linked -rdynamic).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "dynld.h"

unsigned host_counter;
static unsigned host_logsum;

unsigned
host_add(unsigned a, unsigned b)
{
	return a * 31u + b;
}

void
host_log(char *s)
{
	unsigned h = 5381;

	while(*s)
		h = h * 33u + (unsigned char)*s++;
	host_logsum = host_logsum * 31u + h;
}

typedef unsigned (*Fn)(unsigned);

static const char *names[3] = {"mod_name", "mod_run", "mod_sum"};

static double
now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Microseconds per load of a timed loop: wall clock, this process's CPU time, its system part. */
typedef struct Lap Lap;
struct Lap {
	double wall, cpu, sys;
};

static double
systime(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

static Lap
start(void)
{
	Lap l;

	l.wall = now(CLOCK_MONOTONIC);
	l.cpu = now(CLOCK_PROCESS_CPUTIME_ID);
	l.sys = systime();
	return l;
}

static Lap
stop(Lap l, long n)
{
	l.wall = (now(CLOCK_MONOTONIC) - l.wall) / (double)n;
	l.cpu = (now(CLOCK_PROCESS_CPUTIME_ID) - l.cpu) / (double)n;
	l.sys = (systime() - l.sys) / (double)n;
	return l;
}

/* Call the three exports; print one check line. */
static void
check(const char *kind, void *syms[3], unsigned n)
{
	char *name = *(char **)syms[0];
	unsigned sum, run;

	host_counter = 0;
	host_logsum = 0;
	sum = ((Fn)syms[2])(n);
	run = ((Fn)syms[1])(12345u);
	printf("check %s %s %u %u %u %u\n", kind, name, sum, run, host_counter, host_logsum);
}

static Dynobj *
dynld_open(const char *path)
{
	int fd = open(path, O_RDONLY);
	Dynobj *o;

	if(fd < 0){
		fprintf(stderr, "%s: cannot open\n", path);
		exit(2);
	}
	o = dynloadfd(fd, _exporttab, dyntabsize(_exporttab), 0);
	close(fd);
	if(o == NULL){
		fprintf(stderr, "%s: dynloadfd: %s\n", path, dynerror());
		exit(3);
	}
	return o;
}

static void
dynld_syms(Dynobj *o, void *syms[3])
{
	int k;

	for(k = 0; k < 3; k++){
		syms[k] = dynimport(o, (char *)names[k], 0);
		if(syms[k] == NULL){
			fprintf(stderr, "dynimport %s: %s\n", names[k], dynerror());
			exit(3);
		}
	}
}

static void *
dl_open(const char *path, void *syms[3])
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	int k;

	if(h == NULL){
		fprintf(stderr, "dlopen: %s\n", dlerror());
		exit(4);
	}
	for(k = 0; k < 3; k++){
		syms[k] = dlsym(h, names[k]);
		if(syms[k] == NULL){
			fprintf(stderr, "dlsym %s: %s\n", names[k], dlerror());
			exit(4);
		}
	}
	return h;
}

static Lap
time_dynld(const char *path, long n)
{
	Lap t;
	void *syms[3];
	long i;

	t = start();
	for(i = 0; i < n; i++){
		Dynobj *o = dynld_open(path);
		dynld_syms(o, syms);
		dynobjfree(o);
	}
	return stop(t, n);
}

static Lap
time_dlopen(const char *path, long n)
{
	Lap t;
	void *syms[3];
	long i;

	t = start();
	for(i = 0; i < n; i++)
		dlclose(dl_open(path, syms));
	return stop(t, n);
}

int
main(int argc, char **argv)
{
	void *syms[3];
	Dynobj *o;
	void *h;
	long n, rounds, r;
	Lap t;
	const char *which;
	unsigned nfunc;

	if(argc < 5 || argc > 6){
		fprintf(stderr, "usage: %s MODULE.dlm LIB.so N ROUNDS [both|dynld|dlopen]\n", argv[0]);
		return 2;
	}
	n = atol(argv[3]);
	rounds = atol(argv[4]);
	which = argc > 5 ? argv[5] : "both";
	if(n < 1 || rounds < 0){
		fprintf(stderr, "N must be at least 1 and ROUNDS not negative\n");
		return 2;
	}
	nfunc = 1000;

	/* Check both work (and warm the page cache and the allocators). */
	o = dynld_open(argv[1]);
	dynld_syms(o, syms);
	check("dynld", syms, nfunc);
	dynobjfree(o);
	h = dl_open(argv[2], syms);
	check("dlopen", syms, nfunc);
	dlclose(h);
	fflush(stdout);

	for(r = 0; r < rounds; r++){
		if(strcmp(which, "dlopen") != 0){
			t = time_dynld(argv[1], n);
			printf("round %ld dynld %.3f %.3f %.3f\n", r, t.wall, t.cpu, t.sys);
		}
		if(strcmp(which, "dynld") != 0){
			t = time_dlopen(argv[2], n);
			printf("round %ld dlopen %.3f %.3f %.3f\n", r, t.wall, t.cpu, t.sys);
		}
		fflush(stdout);
	}
	return 0;
}
