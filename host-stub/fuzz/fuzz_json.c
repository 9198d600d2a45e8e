// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: vpv-ctl's JSON reader (json_parse).  The input is one
 * document.  Invariants: a tree has at most one node per input byte,
 * and its memory stays within a constant factor of the input (json.c
 * sizes each string by itself), checked with -malloc_limit_mb.
 */
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"

#define FUZZ_JSON_MAX	65536	/* vpv-ctl reads up to 4 MiB; enough */

static size_t count_nodes(const struct json *j, int depth)
{
	size_t n = 0;

	if (depth > 64)		/* JSON_MAX_DEPTH is 32 */
		abort();
	for (; j; j = j->next) {
		n++;
		if (j->type == J_STR && !j->str)
			abort();
		n += count_nodes(j->child, depth + 1);
	}
	return n;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct json *j;
	char *s;

	if (size > FUZZ_JSON_MAX)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	j = json_parse(s);
	if (j) {
		if (count_nodes(j, 0) > size)
			abort();
		json_get(j, "error");
		json_get(j, "guests");
	}
	json_free(j);
	free(s);
	return 0;
}
