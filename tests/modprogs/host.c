/* A dynld host: exports what host.yaml lists, loads each module named on the
 * command line, binds it against _exporttab and calls its exports. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include "dynld.h"

int host_counter = 1000;
char host_banner[] = "from the host";

int print(char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

void host_log(char *s)
{
	printf("log: %s\n", s);
}

int main(int argc, char **argv)
{
	int i, failed = 0;
	for (i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);
		Dynobj *o;
		char **name;
		int (*add)(int, int);
		int (*run)(int);
		if (fd < 0) {
			printf("%s: cannot open\n", argv[i]);
			return 2;
		}
		o = dynloadfd(fd, _exporttab, dyntabsize(_exporttab), 0);
		close(fd);
		if (o == NULL) {
			printf("load failed: %s\n", dynerror());
			failed = 1;
			continue;
		}
		name = dynimport(o, "mod_name", 0);
		add = (int (*)(int, int))dynimport(o, "mod_add", 0);
		run = (int (*)(int))dynimport(o, "mod_run", 0);
		if (name == NULL || add == NULL || run == NULL) {
			printf("missing export: %s\n", dynerror());
			return 3;
		}
		printf("module %s: %d exports\n", *name, o->nexport);
		printf("add(2, 3) = %d\n", add(2, 3));
		printf("run(4) = %d\n", run(4));
		printf("run(5) = %d\n", run(5));
		printf("host_counter = %d\n", host_counter);
		dynobjfree(o);
	}
	return failed;
}
