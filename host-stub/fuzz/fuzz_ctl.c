// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the control socket's line parser and commands
 * (ctl_handle_line) over two guests.  The input is one request line.
 * Invariants: exactly one JSON object comes back, parseable by vpv-ctl's
 * reader, below VPV_CTL_MAX_REPLY; an error reply goes with a negative
 * return; nothing stays mapped.  State a request leaves behind is undone
 * so inputs stay independent: a removed guest is created again, and
 * the store nodes a "store write" created are removed.  "device"
 * requests are not passed on (devices would pile up across inputs).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpv_host.h"

static struct guest fg[2];
static struct host fh = { .guests = fg, .nr_guests = 2 };

/* RAM in a memfd, as vpv-host has it: nothing left behind */
static void guest_up(struct guest *g, const char *name)
{
	if (guest_init(g, name, 32 << 20, 1, VPV_SHM_MIN_SIZE, NULL))
		abort();
}

static void setup(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	hc_init();
	guest_up(&fg[0], "g0");
	guest_up(&fg[1], "g1");
}

/* The first prefix of path (a "store write" target) that is missing. */
static char *first_missing(const char *path)
{
	char *p = strdup(path), *s;
	uint32_t len;
	char *buf;

	if (!p || p[0] != '/')
		goto none;
	for (s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		buf = NULL;
		if (store_read(STORE_DOMID_HOST, 0, p, &buf, &len)) {
			free(buf);
			return p;
		}
		free(buf);
		if (!s)
			break;
		*s = '/';
	}
none:
	free(p);
	return NULL;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	char line[VPV_CTL_MAX_REQ + 64], words[3][VPV_CTL_MAX_REQ + 64] = { "" };
	char *undo = NULL;
	struct sbuf out;
	struct json *j;
	int ret, i;

	setup();
	if (size >= sizeof(line))
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (sscanf(line, "%1087s %1087s %1087s", words[0], words[1],
		   words[2]) < 1)
		words[0][0] = '\0';
	if (!strcmp(words[0], "device"))
		return 0;
	if (!strcmp(words[0], "store") && !strcmp(words[1], "write"))
		undo = first_missing(words[2]);
	sb_init(&out);
	ret = ctl_handle_line(&fh, (const char *)data, size, &out);
	if (!out.buf || out.len >= VPV_CTL_MAX_REPLY || memchr(out.buf, '\n',
							       out.len))
		abort();
	j = json_parse(out.buf);
	if (!j || j->type != J_OBJ || (json_get(j, "error") && ret >= 0))
		abort();
	json_free(j);
	sb_free(&out);
	if (undo)
		store_rm(STORE_DOMID_HOST, 0, undo);
	free(undo);
	for (i = 0; i < 2; i++) {
		if (grant_nr_mapped(&fg[i]))
			abort();
		if (fg[i].state == GUEST_REMOVED)
			guest_up(&fg[i], i ? "g1" : "g0");
	}
	return 0;
}
