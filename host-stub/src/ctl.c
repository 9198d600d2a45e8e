// SPDX-License-Identifier: GPL-2.0
/*
 * Control protocol: one request line in, one JSON line out.
 *
 *   list          -> {"guests":[{"name":..,"pid":..,"state":..,...}]}
 *   stats [NAME]  -> {"guests":[{"name":..,"hypercalls":{..},...}]}
 *   anything bad  -> {"error":"..."}
 *
 * Add a command: write a ctl_cmd_fn and add it to ctl_cmds[].
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vpv_host.h"

typedef int (*ctl_cmd_fn)(struct host *h, int argc, char **argv,
			  struct sbuf *out);

struct ctl_cmd {
	const char *name;
	int min_args, max_args;		/* not counting the command */
	const char *usage;
	ctl_cmd_fn fn;
};

static void ctl_error(struct sbuf *out, const char *msg)
{
	out->len = 0;
	if (out->buf)
		out->buf[0] = '\0';
	sb_puts(out, "{\"error\":");
	sb_json_str(out, msg);
	sb_puts(out, "}");
}

static const char *guest_accel(const struct guest *g)
{
	return g->accel ? g->accel : "none";
}

static void json_guest_list(struct sbuf *out, const struct guest *g)
{
	sb_puts(out, "{\"name\":");
	sb_json_str(out, g->name);
	sb_printf(out, ",\"pid\":%d,\"state\":", g->pid > 0 ? g->pid : 0);
	sb_json_str(out, guest_state_str(g));
	if (g->state == GUEST_EXITED)
		sb_printf(out, ",\"exit_status\":%d", g->exit_status);
	sb_printf(out,
		  ",\"host_peer_id\":%d,\"guest_peer_id\":%d,\"connected\":%s,\"accel\":",
		  VPV_HOST_PEER_ID, VPV_GUEST_PEER_ID,
		  g->conn_fd >= 0 ? "true" : "false");
	sb_json_str(out, guest_accel(g));
	sb_printf(out, ",\"mem\":%llu,\"smp\":%u,\"shm_size\":%llu}",
		  (unsigned long long)g->ram_size, g->cfg ? g->cfg->smp :
		  g->nr_slots, (unsigned long long)g->shm_size);
}

static int cmd_list(struct host *h, int argc, char **argv, struct sbuf *out)
{
	size_t i;

	(void)argc;
	(void)argv;
	sb_puts(out, "{\"guests\":[");
	for (i = 0; i < h->nr_guests; i++) {
		if (i)
			sb_puts(out, ",");
		json_guest_list(out, &h->guests[i]);
	}
	sb_puts(out, "]}");
	return 0;
}

#define STAT_FIELD(f)	{ #f, offsetof(struct guest_stats, f) }

static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
	STAT_FIELD(hcall_errors),
	STAT_FIELD(multicalls),
	STAT_FIELD(multicall_entries),
	STAT_FIELD(doorbells),
	STAT_FIELD(raw_pings),
	STAT_FIELD(completion_irqs),
	STAT_FIELD(ev_to_guest),
	STAT_FIELD(ev_to_guest_coalesced),
	STAT_FIELD(ev_from_guest),
	STAT_FIELD(ev_unbound),
	STAT_FIELD(ev_dropped),
	STAT_FIELD(ev_irqs),
};

static void json_guest_stats(struct sbuf *out, struct guest *g)
{
	unsigned int nr;
	size_t i;

	sb_puts(out, "{\"name\":");
	sb_json_str(out, g->name);
	sb_puts(out, ",\"hypercalls\":{");
	for (nr = 0; nr <= VPV_HC_MAX; nr++) {
		const char *n = hc_name(nr);
		char buf[16];

		if (!n) {
			snprintf(buf, sizeof(buf), "hc%u", nr);
			n = buf;
		}
		sb_printf(out, "%s\"%s\":%llu", nr ? "," : "", n,
			  (unsigned long long)STAT_GET(g, hcalls[nr]));
	}
	sb_puts(out, "}");
	for (i = 0; i < ARRAY_SIZE(stat_fields); i++) {
		uint64_t *p = (uint64_t *)((char *)&g->stats +
					   stat_fields[i].off);

		sb_printf(out, ",\"%s\":%llu", stat_fields[i].name,
			  (unsigned long long)__atomic_load_n(p,
							__ATOMIC_RELAXED));
	}
	sb_puts(out, "}");
}

static int cmd_stats(struct host *h, int argc, char **argv, struct sbuf *out)
{
	bool first = true, found = false;
	size_t i;

	sb_puts(out, "{\"guests\":[");
	for (i = 0; i < h->nr_guests; i++) {
		if (argc > 1 && strcmp(argv[1], h->guests[i].name))
			continue;
		if (!first)
			sb_puts(out, ",");
		first = false;
		found = true;
		json_guest_stats(out, &h->guests[i]);
	}
	sb_puts(out, "]}");
	if (argc > 1 && !found) {
		ctl_error(out, "no such guest");
		return -ENOENT;
	}
	return 0;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "list", 0, 0, "list", cmd_list },
	{ "stats", 0, 1, "stats [GUEST]", cmd_stats },
};

/*
 * Handle one request (without the newline).  Always leaves exactly one
 * JSON object (no newline) in out.  Returns 0 or a negative errno.
 */
int ctl_handle_line(struct host *h, const char *line, size_t len,
		    struct sbuf *out)
{
	char buf[VPV_CTL_MAX_REQ + 1], *argv[VPV_CTL_MAX_ARGS + 1], *p;
	int argc = 0, ret;
	size_t i;

	if (len && line[len - 1] == '\r')
		len--;
	if (len > VPV_CTL_MAX_REQ) {
		ctl_error(out, "request too long");
		return -E2BIG;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = line[i];

		if ((c < 0x20 && c != '\t') || c >= 0x7f) {
			ctl_error(out, "invalid character in request");
			return -EINVAL;
		}
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (p = strtok(buf, " \t"); p; p = strtok(NULL, " \t")) {
		if (argc == VPV_CTL_MAX_ARGS) {
			ctl_error(out, "too many arguments");
			return -E2BIG;
		}
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	if (!argc) {
		ctl_error(out, "empty request");
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(ctl_cmds); i++) {
		const struct ctl_cmd *c = &ctl_cmds[i];
		char msg[96];

		if (strcmp(argv[0], c->name))
			continue;
		if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
			snprintf(msg, sizeof(msg), "usage: %s", c->usage);
			ctl_error(out, msg);
			return -EINVAL;
		}
		ret = c->fn(h, argc, argv, out);
		if (out->oom) {
			sb_free(out);
			ctl_error(out, "out of memory");
			return -ENOMEM;
		}
		return ret;
	}
	ctl_error(out, "unknown command");
	return -EOPNOTSUPP;
}

int ctl_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err_close;
	if (chmod(path, 0600) < 0 || listen(fd, 16) < 0)
		goto err_unlink;
	return fd;
err_unlink:
	ret = -errno;
	unlink(path);
	close(fd);
	return ret;
err_close:
	ret = -errno;
	close(fd);
	return ret;
}
