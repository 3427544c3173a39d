/* A static freestanding program on dyntools' run-time: "hello ARGC ARG1". */
#include "rt.h"

int
main(int argc, char **argv)
{
	print_str("hello ");
	print_int(argc);
	print_str(" ");
	print_str(argc > 1 ? argv[1] : "-");
	print_nl();
	return 0;
}
