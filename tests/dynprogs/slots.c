/* Seed-style imports: the program defines pointer slots the dynamic loader fills.
 * The callback is dynexported under another name; libcb.so calls it by that name. */
#include "util.h"

#pragma dynimport p_puts puts "libc.so.6"
#pragma dynimport p_dlopen dlopen "libc.so.6"
#pragma dynimport p_dlsym dlsym "libc.so.6"
#pragma dynimport p_dlerror dlerror "libc.so.6"
#pragma dynimport p_exit exit "libc.so.6"
#pragma dynexport my_callback host_callback
#pragma dynexport my_value host_value

int (*p_puts)(const char *);
void *(*p_dlopen)(const char *, int);
void *(*p_dlsym)(void *, const char *);
char *(*p_dlerror)(void);
void (*p_exit)(int);

int my_value = 1000;

int my_callback(int x)
{
	char m[64];

	num(cpy(m, "host: callback got "), x);
	p_puts(m);
	return x + 1;
}

static void *need(void *h, const char *name)
{
	void *p = p_dlsym(h, name);

	if (!p) {
		p_puts(p_dlerror());
		p_exit(3);
	}
	return p;
}

ENTRY _start(void)
{
	char m[80];
	int r;

	p_puts("host: start");
	void *h = p_dlopen("./libcb.so", RTLD_LAZY);
	if (!h) {
		p_puts(p_dlerror());
		p_exit(2);
	}
	int (*run)(int) = (int (*)(int))need(h, "lib_run");
	void *(*cb_addr)(void) = (void *(*)(void))need(h, "lib_callback_addr");
	r = run(41);
	num(cpy(m, "host: lib_run(41) = "), r);
	p_puts(m);
	p_puts(cb_addr() == (void *)my_callback ? "host: same callback address" : "host: callback address differs");
	p_exit(r == 1042 ? 0 : 1);
}
