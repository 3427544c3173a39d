/*
 * A dynamically linked program made by dynlink: it imports printf, dlopen, ...
 * from the C library (#pragma dynimport) and exports callbacks (#pragma dynexport)
 * that the shared library it dlopens calls back into.
 *
 *	dynprog LIBRARY
 */
#pragma dynimport printf printf "libc.so.6"
#pragma dynimport puts puts "libc.so.6"	/* the compiler may turn printf("...\n") into puts */
#pragma dynimport putchar putchar "libc.so.6"
#pragma dynimport dlopen dlopen "libc.so.6"
#pragma dynimport dlsym dlsym "libc.so.6"
#pragma dynimport dlerror dlerror "libc.so.6"
#pragma dynimport exit exit "libc.so.6"

#pragma dynexport prog_square prog_square
#pragma dynexport prog_note prog_note
#pragma dynexport prog_scale prog_scale

#define RTLD_NOW 2

int printf(const char *fmt, ...);
void *dlopen(const char *file, int mode);
void *dlsym(void *handle, const char *name);
char *dlerror(void);
void exit(int status);

int prog_scale = 3;
static int squares;

int
prog_square(int x)
{
	squares++;
	return x * x;
}

void
prog_note(const char *s)
{
	printf("note from the library: %s\n", s);
}

int
main(int argc, char **argv)
{
	void *lib;
	int (*sum)(int);

	if(argc != 2){
		printf("usage: dynprog LIBRARY\n");
		return 2;
	}
	lib = dlopen(argv[1], RTLD_NOW);
	if(lib == 0){
		printf("dlopen: %s\n", dlerror());
		return 1;
	}
	sum = (int (*)(int))dlsym(lib, "scaled_sum_of_squares");
	if(sum == 0){
		printf("dlsym: %s\n", dlerror());
		return 1;
	}
	printf("scaled_sum_of_squares(5) = %d\n", sum(5));
	prog_scale = 10;
	printf("scaled_sum_of_squares(3) = %d\n", sum(3));
	printf("the library called prog_square %d times\n", squares);
	return 0;
}
