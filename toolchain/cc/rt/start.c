/*
 * _start: the kernel leaves argc at the stack pointer, then argv[], a null, envp[].
 * The assembly passes that address to __rt_start with the stack aligned as the
 * C calling convention wants (16 bytes on x86, 8 on arm).
 */
#include "rt.h"

void __rt_start(long *sp) __attribute__((noreturn, used));

void __rt_start(long *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	exit(main(argc, argv));
}

#if defined(__x86_64__)
__asm__(
	".text\n"
	".globl _start\n"
	".type _start,@function\n"
	"_start:\n"
	"	xorl %ebp, %ebp\n"
	"	movq %rsp, %rdi\n"
	"	andq $-16, %rsp\n"
	"	call __rt_start\n"
	"	hlt\n"
	".size _start, .-_start\n");
#elif defined(__i386__)
__asm__(
	".text\n"
	".globl _start\n"
	".type _start,@function\n"
	"_start:\n"
	"	xorl %ebp, %ebp\n"
	"	movl %esp, %eax\n"
	"	andl $-16, %esp\n"
	"	subl $12, %esp\n"
	"	pushl %eax\n"
	"	call __rt_start\n"
	"	hlt\n"
	".size _start, .-_start\n");
#elif defined(__arm__)
__asm__(
	".text\n"
	".arm\n"
	".globl _start\n"
	".type _start,%function\n"
	"_start:\n"
	"	mov fp, #0\n"
	"	mov lr, #0\n"
	"	mov r0, sp\n"
	"	bic sp, sp, #7\n"
	"	bl __rt_start\n"
	"	udf #0\n"
	".size _start, .-_start\n");
#else
#error "dyntools rt: unsupported architecture"
#endif
