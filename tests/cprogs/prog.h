/* The cprogs test program: a freestanding multi-file program on dyntools' rt. */
#ifndef PROG_H
#define PROG_H

#include "rt.h"

extern int check_failures;
void check(int ok, const char *what);
void print_kv(const char *key, long long value);
void print_ukv(const char *key, unsigned long long value);

void test_ops(int k);
void test_switch(int k);
void test_data(int k);
void test_common(int k);
void test_weak(int k);
void test_recursion(int k);
void test_bss(int k);
void test_arith(int k);

/* common1.c (compiled with -fcommon) */
void common_bump(int n);

#endif
