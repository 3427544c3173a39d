/*
 * Capacity host for the dynld runtime: many modules with mode 2 relocations (calls
 * into this host) loaded at once, then many threads loading and freeing them.
 *
 *	dynld_many MODULE HELD THREADS CYCLES
 *
 * First loads MODULE HELD times and keeps every copy loaded, calling its export
 * "callhost" (which jumps to host_answer) in each; then THREADS threads each load,
 * call and free it CYCLES times while the HELD copies stay loaded.
 *
 * Output:
 *	held N distinct D		N copies loaded at D distinct addresses, each call right
 *	cycles C refused R wrong W	C loads by the threads; R refused; W calls gave a wrong value
 *	first refusal: TEXT		(only when a load was refused)
 * Exit status: 0 when every load succeeded and every call returned 7, else 1 (2: usage).
 */
#include <fcntl.h>
#include <pthread.h>
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

/* Sorted by name (strcmp); the same table as dynld_harness.c. */
Dynsym _exporttab[] = {
	{0x11111111UL, (ulong)&host_answer, "host_answer"},
	{0x22222222UL, (ulong)&host_array, "host_array"},
	{0x33333333UL, (ulong)&host_int, "host_int"},
	{0, (ulong)&host_nosig, "host_nosig"},
	{0, 0, "libc_abs"},	/* a function in the C library: far from this PIE host */
	{0, 0, NULL},
};

static const char *module;
static long cycles;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long refused, wrong;
static char firsterr[512];

/* Load the module once; nil (and the error noted) if refused. */
static Dynobj *
load(void)
{
	int fd = open(module, O_RDONLY);
	Dynobj *o;

	if(fd < 0){
		perror(module);
		exit(2);
	}
	o = dynloadfd(fd, _exporttab, dyntabsize(_exporttab), 0);
	close(fd);
	if(o == NULL){
		pthread_mutex_lock(&lock);
		if(refused++ == 0)
			snprintf(firsterr, sizeof firsterr, "%s", dynerror());
		pthread_mutex_unlock(&lock);
	}
	return o;
}

static int
call(Dynobj *o)
{
	int (*f)(void) = (int (*)(void))dynimport(o, "callhost", 0);

	return f != NULL ? f() : -1;
}

static void *
worker(void *arg)
{
	long i, bad = 0;
	Dynobj *o;

	(void)arg;
	for(i = 0; i < cycles; i++){
		o = load();
		if(o == NULL)
			continue;
		if(call(o) != 7)
			bad++;
		dynobjfree(o);
	}
	pthread_mutex_lock(&lock);
	wrong += bad;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int
main(int argc, char **argv)
{
	long held, nthreads, i, j, distinct;
	Dynobj **objs;
	pthread_t *threads;

	if(argc != 5){
		fprintf(stderr, "usage: dynld_many MODULE HELD THREADS CYCLES\n");
		return 2;
	}
	_exporttab[4].addr = (ulong)&abs;
	module = argv[1];
	held = atol(argv[2]);
	nthreads = atol(argv[3]);
	cycles = atol(argv[4]);
	if(held < 0 || nthreads < 0 || cycles < 0){
		fprintf(stderr, "dynld_many: counts must not be negative\n");
		return 2;
	}
	objs = calloc((size_t)held + 1, sizeof *objs);
	threads = calloc((size_t)nthreads + 1, sizeof *threads);
	if(objs == NULL || threads == NULL)
		return 2;
	for(i = 0; i < held; i++){
		objs[i] = load();
		if(objs[i] != NULL && call(objs[i]) != 7)
			wrong++;
	}
	distinct = 0;
	for(i = 0; i < held; i++){
		if(objs[i] == NULL)
			continue;
		for(j = 0; j < i && (objs[j] == NULL || objs[j]->base != objs[i]->base); j++)
			;
		distinct += j == i;
	}
	printf("held %ld distinct %ld\n", held - refused, distinct);
	refused = 0;
	for(i = 0; i < nthreads; i++)
		if(pthread_create(&threads[i], NULL, worker, NULL) != 0){
			fprintf(stderr, "dynld_many: cannot start a thread\n");
			return 2;
		}
	for(i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	for(i = 0; i < held; i++)
		if(objs[i] != NULL && call(objs[i]) != 7)	/* the held copies still work */
			wrong++;
	printf("cycles %ld refused %ld wrong %ld\n", nthreads * cycles, refused, wrong);
	if(firsterr[0] != 0)
		printf("first refusal: %s\n", firsterr);
	for(i = 0; i < held; i++)
		dynobjfree(objs[i]);
	return refused == 0 && wrong == 0 && firsterr[0] == 0 ? 0 : 1;
}
