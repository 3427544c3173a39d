/* host MODULE...: load each dynld module, print its name and plugin_run(10). */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "dynld.h"
#include "hostapi.h"

void
host_print(char *s)
{
	printf("  %s\n", s);
}

int
host_twice(int x)
{
	return 2 * x;
}

int
main(int argc, char **argv)
{
	int i, fd, (*run)(int);
	char **name;
	Dynobj *o;

	for(i = 1; i < argc; i++){
		fd = open(argv[i], O_RDONLY);
		o = fd < 0 ? NULL : dynloadfd(fd, _exporttab, dyntabsize(_exporttab), 0);
		if(o == NULL){
			printf("%s: %s\n", argv[i], fd < 0 ? "cannot open" : dynerror());
			return 1;
		}
		close(fd);
		name = dynimport(o, "plugin_name", 0);
		run = (int (*)(int))dynimport(o, "plugin_run", 0);
		printf("%s %d\n", *name, run(10));
		dynobjfree(o);
	}
	return 0;
}
