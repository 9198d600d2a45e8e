/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal header-only TAP producer for the host-stub unit tests.
 *   ok(cond, "fmt", ...)  prints "ok N - desc" / "not ok N - desc"
 *   tap_done()            prints the plan "1..N", returns the exit code
 */
#ifndef VPV_TAP_H
#define VPV_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

static inline int __attribute__((format(printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define is(a, b, desc) ({						\
	long long __a = (long long)(a), __b = (long long)(b);		\
	if (!ok(__a == __b, "%s", desc))				\
		printf("#   got %lld (0x%llx), expected %lld (0x%llx)\n",	\
		       __a, (unsigned long long)__a, __b,		\
		       (unsigned long long)__b);			\
	__a == __b; })

#define BAIL(...) do {							\
	printf("Bail out! ");						\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	exit(1);							\
} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* VPV_TAP_H */
