// SPDX-License-Identifier: GPL-2.0
/*
 * Growable string buffer; allocation failure is sticky (sb->oom).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"

void sb_init(struct sbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void sb_free(struct sbuf *sb)
{
	free(sb->buf);
	sb_init(sb);
}

static bool sb_reserve(struct sbuf *sb, size_t n)
{
	size_t cap;
	char *b;

	if (sb->oom)
		return false;
	if (sb->len + n + 1 <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + n + 1)
		cap *= 2;
	b = realloc(sb->buf, cap);
	if (!b) {
		sb->oom = true;
		return false;
	}
	sb->buf = b;
	sb->cap = cap;
	return true;
}

void sb_puts(struct sbuf *sb, const char *s)
{
	size_t n = strlen(s);

	if (!sb_reserve(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n + 1);
	sb->len += n;
}

void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sb_reserve(sb, n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, n + 1, fmt, ap);
	va_end(ap);
	sb->len += n;
}

void sb_json_str(struct sbuf *sb, const char *s)
{
	sb_puts(sb, "\"");
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			sb_printf(sb, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			sb_printf(sb, "\\u%04x", c);
		else
			sb_printf(sb, "%c", c);
	}
	sb_puts(sb, "\"");
}
