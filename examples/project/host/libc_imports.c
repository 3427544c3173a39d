/*
 * What the host (host.c and the dynld runtime) takes from the C library when it is
 * linked by dynlink (DYNHOST=dynlink): the directives bind these names, wherever
 * they are used in the program, to libc.so.6 at load time.
 */
#pragma dynimport printf printf "libc.so.6"
#pragma dynimport puts puts "libc.so.6"	/* the compiler may turn printf("...\n") into puts */
#pragma dynimport putchar putchar "libc.so.6"
#pragma dynimport snprintf snprintf "libc.so.6"
#pragma dynimport vsnprintf vsnprintf "libc.so.6"
#pragma dynimport open open "libc.so.6"
#pragma dynimport close close "libc.so.6"
#pragma dynimport read read "libc.so.6"
#pragma dynimport lseek lseek "libc.so.6"
#pragma dynimport malloc malloc "libc.so.6"
#pragma dynimport calloc calloc "libc.so.6"
#pragma dynimport realloc realloc "libc.so.6"
#pragma dynimport free free "libc.so.6"
#pragma dynimport mmap mmap "libc.so.6"
#pragma dynimport munmap munmap "libc.so.6"
#pragma dynimport mprotect mprotect "libc.so.6"
#pragma dynimport madvise madvise "libc.so.6"
#pragma dynimport sysconf sysconf "libc.so.6"
#pragma dynimport memchr memchr "libc.so.6"
#pragma dynimport memcpy memcpy "libc.so.6"
#pragma dynimport memset memset "libc.so.6"
#pragma dynimport strlen strlen "libc.so.6"
#pragma dynimport pread pread "libc.so.6"
#pragma dynimport strcmp strcmp "libc.so.6"
#pragma dynimport strerror strerror "libc.so.6"
#pragma dynimport __errno_location __errno_location "libc.so.6"
#pragma dynimport exit exit "libc.so.6"
