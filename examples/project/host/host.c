/*
 * host: load dynld plugin modules and call their exports.
 *
 *	host DIR NAME...	load DIR/NAME.dlm for each NAME, run plugin_run(10)
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dynld.h"
#include "hostapi.h"

int host_calls;
char *host_banner = "dyntools example host";

void
host_print(char *s)
{
	host_calls++;
	printf("  | %s\n", s);
}

void
host_printint(char *label, long v)
{
	host_calls++;
	printf("  | %s = %ld\n", label, v);
}

int
host_add(int a, int b)
{
	host_calls++;
	return a + b;
}

static int
runplugin(char *dir, char *name)
{
	char path[512];
	Dynobj *o;
	int fd, (*run)(int), r;
	char **pname;

	snprintf(path, sizeof path, "%s/%s.dlm", dir, name);
	fd = open(path, O_RDONLY);
	if(fd < 0){
		printf("%s: cannot open\n", name);
		return -1;
	}
	o = dynloadfd(fd, _exporttab, dyntabsize(_exporttab), 0);
	close(fd);
	if(o == NULL){
		printf("%s: cannot load: %s\n", name, dynerror());
		return -1;
	}
	pname = dynimport(o, "plugin_name", 0);
	run = (int (*)(int))dynimport(o, "plugin_run", 0);
	if(pname == NULL || run == NULL){
		printf("%s: not a plugin\n", name);
		dynobjfree(o);
		return -1;
	}
	printf("plugin %s:\n", *pname);
	r = run(10);
	printf("plugin %s: run(10) = %d\n", *pname, r);
	dynobjfree(o);
	return 0;
}

int
main(int argc, char **argv)
{
	int i, bad;

	if(argc < 3){
		printf("usage: host DIR NAME...\n");
		return 2;
	}
	printf("%s: %d exports\n", host_banner, dyntabsize(_exporttab));
	bad = 0;
	for(i = 2; i < argc; i++)
		if(runplugin(argv[1], argv[i]) < 0)
			bad = 1;
	printf("host services called %d times\n", host_calls);
	return bad;
}
