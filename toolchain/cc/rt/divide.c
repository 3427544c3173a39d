/*
 * Integer division helpers that 32-bit targets call instead of inline code
 * (the names compiler-rt and libgcc use): 64-bit division on 386 and arm, and
 * 32-bit division on arm (arm-linux-none calls __modsi3 and friends, not the
 * __aeabi_* names).  Shift-and-subtract only, so they never call themselves.
 * Nothing here on amd64.
 */
#include "rt.h"

#if defined(__i386__) || defined(__arm__)

typedef unsigned long long u64;
typedef long long s64;
typedef unsigned int u32;
typedef int s32;

u64 __udivmoddi4(u64 a, u64 b, u64 *rem)
{
	u64 q = 0, r = 0;
	int i;
	if (b == 0) {
		/* what the hardware does is undefined; trap like x86 does */
		__builtin_trap();
	}
	for (i = 63; i >= 0; i--) {
		r = (r << 1) | ((a >> i) & 1);
		if (r >= b) {
			r -= b;
			q |= (u64)1 << i;
		}
	}
	if (rem)
		*rem = r;
	return q;
}

u64 __udivdi3(u64 a, u64 b) { return __udivmoddi4(a, b, 0); }

u64 __umoddi3(u64 a, u64 b)
{
	u64 r;
	__udivmoddi4(a, b, &r);
	return r;
}

s64 __divdi3(s64 a, s64 b)
{
	u64 ua = a < 0 ? 0 - (u64)a : (u64)a;
	u64 ub = b < 0 ? 0 - (u64)b : (u64)b;
	u64 q = __udivmoddi4(ua, ub, 0);
	return (s64)(((a < 0) != (b < 0)) ? 0 - q : q);
}

s64 __moddi3(s64 a, s64 b)
{
	u64 ua = a < 0 ? 0 - (u64)a : (u64)a;
	u64 ub = b < 0 ? 0 - (u64)b : (u64)b;
	u64 r;
	__udivmoddi4(ua, ub, &r);
	return (s64)(a < 0 ? 0 - r : r);
}

#endif

#if defined(__arm__)

static u32 udivmod32(u32 a, u32 b, u32 *rem)
{
	u32 q = 0, r = 0;
	int i;
	if (b == 0)
		__builtin_trap();
	for (i = 31; i >= 0; i--) {
		r = (r << 1) | ((a >> i) & 1);
		if (r >= b) {
			r -= b;
			q |= (u32)1 << i;
		}
	}
	*rem = r;
	return q;
}

u32 __udivsi3(u32 a, u32 b)
{
	u32 r;
	return udivmod32(a, b, &r);
}

u32 __umodsi3(u32 a, u32 b)
{
	u32 r;
	udivmod32(a, b, &r);
	return r;
}

s32 __divsi3(s32 a, s32 b)
{
	u32 r;
	u32 q = udivmod32(a < 0 ? 0 - (u32)a : (u32)a, b < 0 ? 0 - (u32)b : (u32)b, &r);
	return (s32)(((a < 0) != (b < 0)) ? 0 - q : q);
}

s32 __modsi3(s32 a, s32 b)
{
	u32 r;
	udivmod32(a < 0 ? 0 - (u32)a : (u32)a, b < 0 ? 0 - (u32)b : (u32)b, &r);
	return (s32)(a < 0 ? 0 - r : r);
}

#endif
