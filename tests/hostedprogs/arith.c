#include <stdio.h>
#include <stdint.h>
#include "prog.h"
void arith_report(long long seed) {
    volatile long long a = seed * 7919LL, b = seed / 3 + 17;
    volatile unsigned long long ua = (unsigned long long)a * 2654435761ULL, ub = 1000003ULL;
    printf("64-bit: %lld %lld %lld %llu %llu\n", a / b, a % b, a * b, ua / ub, ua % ub);
    volatile double x = (double)a, y = (double)ua;
    volatile long long back = (long long)(x * 1.5);
    volatile unsigned long long uback = (unsigned long long)(y / 3.0);
    printf("int64<->double: %.1f %.1f %lld %llu\n", x, y, back, uback);
    volatile float fx = (float)b; volatile long long fl = (long long)fx;
    printf("float: %lld\n", fl);
}
