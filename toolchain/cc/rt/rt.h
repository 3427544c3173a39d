/*
 * dyntools' tiny freestanding run-time: start-up, raw system calls, the memory
 * and string functions the compiler may call, and printing helpers.
 * For 386 (int $0x80), amd64 (syscall) and arm EABI (svc 0, number in r7).
 * The program supplies main(argc, argv); _start calls exit(main(argc, argv)).
 */
#ifndef DYNTOOLS_RT_H
#define DYNTOOLS_RT_H

/* the compiler's own size types, so that a hosted compile agrees with its builtins */
typedef __SIZE_TYPE__ rt_size_t;
typedef __PTRDIFF_TYPE__ rt_ssize_t;

/* on the memory and string functions: never turn their loops into calls to themselves,
   even when the rt is compiled hosted (without -ffreestanding) */
#define RT_NO_BUILTIN __attribute__((no_builtin))

int main(int argc, char **argv);

/* system calls */
rt_ssize_t write(int fd, const void *buf, rt_size_t n);
void exit(int status) __attribute__((noreturn));

/* memory and strings */
void *memcpy(void *dst, const void *src, rt_size_t n);
void *memmove(void *dst, const void *src, rt_size_t n);
void *memset(void *dst, int c, rt_size_t n);
int memcmp(const void *a, const void *b, rt_size_t n);
rt_size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* printing to standard output (fd 1) */
void print_str(const char *s);
void print_char(int c);
void print_int(long long v);
void print_uint(unsigned long long v);
void print_hex(unsigned long long v);
void print_nl(void);

#endif
