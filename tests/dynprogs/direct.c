/* Direct calls to imported functions: the linker sends them through a lazy PLT.
 * The callback is dynexported under another name; libcb.so calls it by that name. */
#include "util.h"

extern int puts(const char *);
extern void exit(int);
extern void *dlopen(const char *, int);
extern void *dlsym(void *, const char *);
extern char *dlerror(void);

#pragma dynimport puts puts "libc.so.6"
#pragma dynimport exit exit "libc.so.6"
#pragma dynimport dlopen dlopen "libc.so.6"
#pragma dynimport dlsym dlsym "libc.so.6"
#pragma dynimport dlerror dlerror "libc.so.6"
#pragma dynexport my_callback host_callback
#pragma dynexport my_value host_value

int my_value = 1000;

int my_callback(int x)
{
	char m[64];

	num(cpy(m, "host: callback got "), x);
	puts(m);
	return x + 1;
}

static void *need(void *h, const char *name)
{
	void *p = dlsym(h, name);

	if (!p) {
		puts(dlerror());
		exit(3);
	}
	return p;
}

/* volatile: the compiler must really take the address of the imported function */
int (*volatile puts_ptr)(const char *);

ENTRY _start(void)
{
	char m[80];
	int r;

	puts("host: start");
	void *h = dlopen("./libcb.so", RTLD_LAZY);
	if (!h) {
		puts(dlerror());
		exit(2);
	}
	int (*run)(int) = (int (*)(int))need(h, "lib_run");
	void *(*cb_addr)(void) = (void *(*)(void))need(h, "lib_callback_addr");
	void *(*lib_puts)(void) = (void *(*)(void))need(h, "lib_puts_addr");
	r = run(41);
	num(cpy(m, "host: lib_run(41) = "), r);
	puts(m);
	puts(cb_addr() == (void *)my_callback ? "host: same callback address" : "host: callback address differs");
	puts_ptr = puts;
	puts_ptr(lib_puts() == (void *)puts_ptr ? "host: same puts address" : "host: puts address differs");
	exit(r == 1042 ? 0 : 1);
}
