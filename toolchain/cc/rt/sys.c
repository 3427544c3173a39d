/* Raw Linux system calls: write and exit_group. */
#include "rt.h"

#if defined(__x86_64__)
#define SYS_write 1
#define SYS_exit_group 231
static long rt_syscall3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__i386__)
#define SYS_write 4
#define SYS_exit_group 252
static long rt_syscall3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory");
	return ret;
}
#elif defined(__arm__)
#define SYS_write 4
#define SYS_exit_group 248
static long rt_syscall3(long nr, long a, long b, long c)
{
	register long r7 __asm__("r7") = nr;
	register long r0 __asm__("r0") = a;
	register long r1 __asm__("r1") = b;
	register long r2 __asm__("r2") = c;
	__asm__ volatile("svc 0"
			 : "+r"(r0)
			 : "r"(r7), "r"(r1), "r"(r2)
			 : "memory");
	return r0;
}
#else
#error "dyntools rt: unsupported architecture"
#endif

rt_ssize_t write(int fd, const void *buf, rt_size_t n)
{
	return rt_syscall3(SYS_write, fd, (long)buf, (long)n);
}

void exit(int status)
{
	for (;;)
		rt_syscall3(SYS_exit_group, status, 0, 0);
}
