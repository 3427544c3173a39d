/* A multi-file C program (with sort.c and arith.c): start files, constructors and
 * destructors, atexit, stdout buffering, errno, setjmp, qsort with a callback, strtod,
 * libm, 64-bit arithmetic and int64<->double conversions (compiler-rt on 386 and arm). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prog.h"

static int constructed;
__attribute__((constructor)) static void setup(void) { constructed = 42; printf("constructor runs before main\n"); }
__attribute__((destructor)) static void teardown(void) { printf("destructor runs after atexit handlers\n"); }

static void goodbye(void) { printf("atexit handler ran (buffered, flushed by exit)\n"); }

static jmp_buf env;
static void jump(int v) { longjmp(env, v); }

int main(int argc, char **argv) {
    atexit(goodbye);
    printf("constructor: %d\n", constructed);
    int vals[] = {5, -3, 12, 0, 7, 7, -20};
    sort_ints(vals, 7);
    for (int i = 0; i < 7; i++) printf("%d%c", vals[i], i == 6 ? '\n' : ' ');
    errno = 0;
    if (strtol("99999999999999999999999", NULL, 10) == LONG_MAX && errno == ERANGE) printf("errno: ERANGE\n");
    FILE *f = fopen("/nonexistent/file", "r");
    printf("fopen: %s (%s)\n", f ? "opened" : "failed", strerror(errno));
    int r = setjmp(env);
    if (r == 0) jump(7);
    printf("setjmp returned %d\n", r);
    double d = strtod("3.25e2", NULL);
    printf("strtod: %.3f sqrt: %.6f\n", d, sqrt(d));
    arith_report(argc + 1000000007LL);
    fputs("buffered to stdout, ", stdout);
    fprintf(stderr, "[stderr]\n");
    printf("%s\n", argc > 1 ? argv[1] : "no args");
    return 3;
}
