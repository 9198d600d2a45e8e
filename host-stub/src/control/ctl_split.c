// SPDX-License-Identifier: GPL-2.0
/*
 * Control commands of the split-driver platform (added to ctl_cmds[]):
 *
 *   store ls PATH           -> {"path":P,"children":["a",..]}
 *   store read PATH         -> {"path":P,"value":"..."}
 *   store write PATH VALUE... -> {"path":P,"written":N}: the words
 *                              joined by one space (the request is
 *                              split at blanks, so runs of them become
 *                              one)
 *   store rm PATH           -> {"path":P,"removed":true}
 *   device add GUEST TYPE ID       -> {"device":{..}}
 *   device add GUEST vbd ID --image FILE [--ro] [--cow OVERLAY]
 *              [--direct] [--sector-size 512|4096] [--queues N]
 *                                  -> {"device":{..}}: the files are
 *                                     opened here (absolute paths)
 *   device add GUEST vif ID --tap NAME | --switch NAME
 *              [--mac aa:bb:cc:dd:ee:ff]
 *              [--mtu 68..9000] [--rate BYTES/S (K/M/G; 0: none)]
 *              [--queues 1..8]
 *                                  -> {"device":{..}}: the tap is
 *                                     opened here (vif.c), or the
 *                                     switch's port made (vswitch.c)
 *   device resize GUEST vbd/ID SIZE -> {"device":{..}} (SIZE in bytes,
 *                                     K/M/G suffixes; the back-end
 *                                     answers later: "resize_result")
 *   device remove GUEST TYPE/ID    -> {"guest":..,"type":..,"id":..,
 *                                      "removed":true|false,"state":..}
 *   device restart GUEST TYPE/ID   -> {"device":{..}}
 *   device kill GUEST TYPE/ID      -> {"device":{..},"killed":PID}
 *                                     (SIGKILL to its back-end process:
 *                                     a crash, tests; PID is the process
 *                                     signalled: "device" may already
 *                                     show it reaped, in its backoff)
 *   device list [GUEST]            -> {"devices":[{..},..]}
 *   switch list                    -> {"switches":[..]} (vswitch_json())
 *   switch kill NAME               -> {"switch":NAME,"killed":PID}
 *                                     (SIGKILL to vpv-netswitch, tests)
 *
 * The host may access any store path (absolute; relative ones are
 * below /local/domain/0).  A device object: {"guest","domid","type",
 * "id","backend","frontend","backend_state","frontend_state",
 * "connected","port","requests","protocol_errors"}; states are names
 * ("InitWait", ...).  A vbd adds "blk":{"reads",..,"persistent_grants",
 * "time":{"map_calls","map_us","syncs","sync_us","service_us"}} and
 * "resize_result" (0 or -errno of the last resize; absent before); a
 * vif "tap" (or "switch") and "net":{"tx_packets",..,
 * "rx_backlog_bytes","persistent_grants","time":{..}} (ctl_json_net()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "vpv_host.h"

#define DEV_LIST_MAX	256

static const char *const bus_state_names[] = {
	"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
	"Closing", "Closed",
};

static const char *bus_state_name(int st)
{
	return st >= 0 && st <= VPV_BUS_CLOSED ? bus_state_names[st] :
						 "Unknown";
}

/* The store's error names, and those only devices give (vbd files). */
static const char *err_name(int err)
{
	switch (-err) {
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EROFS: return "EROFS";
	case ESRCH: return "ESRCH";
	case ENODEV: return "ENODEV";
	case EPERM: return "EPERM";
	case EISDIR: return "EISDIR";
	case EPIPE: return "EPIPE";
	}
	return store_errname(err);
}

/* {"error":msg}, whatever out held */
static void split_msg(struct sbuf *out, const char *msg)
{
	out->len = 0;
	if (out->buf)
		out->buf[0] = '\0';
	sb_puts(out, "{\"error\":");
	sb_json_str(out, msg);
	sb_puts(out, "}");
}

static void split_error(struct sbuf *out, const char *what, int err)
{
	/* not a store error: a COW overlay over a changed base (cow.h) */
	static const char stale[] =
		"ESTALE (the COW base changed since the overlay was made)";
	/* vbd_open()'s image locks */
	static const char busy[] =
		"EBUSY (another device holds the image or overlay)";
	char msg[96];

	snprintf(msg, sizeof(msg), "%s: %s", what,
		 err == -ESTALE ? stale : err == -EBUSY ? busy :
		 err_name(err));
	split_msg(out, msg);
}

static void json_bytes(struct sbuf *sb, const char *s, uint32_t len)
{
	uint32_t i;

	sb_puts(sb, "\"");
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			sb_printf(sb, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			sb_printf(sb, "\\u%04x", c);
		else
			sb_printf(sb, "%c", c);
	}
	sb_puts(sb, "\"");
}

/* Write the words, joined by one space, as path's value. */
static int store_write_words(const char *path, int n, char **words,
			     uint32_t *len)
{
	char val[VPV_CTL_MAX_REQ + 1];	/* the words come from a request */
	size_t l = 0, wl;
	int i;

	for (i = 0; i < n; i++) {
		wl = strlen(words[i]);
		if (l + wl + 1 > sizeof(val))
			return -E2BIG;
		if (i)
			val[l++] = ' ';
		memcpy(val + l, words[i], wl);
		l += wl;
	}
	*len = l;
	return store_write(STORE_DOMID_HOST, 0, path, val, l);
}

int ctl_cmd_store(struct host *h, int argc, char **argv, struct sbuf *out)
{
	const char *op = argv[1], *path = argv[2];
	uint32_t len, off;
	char *buf = NULL;
	int ret;

	(void)h;
	if (!strcmp(op, "write") ? argc < 4 : argc != 3) {
		split_error(out,
			    "usage: store ls|read|write|rm PATH [VALUE...]",
			    -EINVAL);
		return -EINVAL;
	}
	split_init();
	if (!strcmp(op, "ls")) {
		ret = store_directory(STORE_DOMID_HOST, 0, path, &buf, &len);
	} else if (!strcmp(op, "read")) {
		ret = store_read(STORE_DOMID_HOST, 0, path, &buf, &len);
	} else if (!strcmp(op, "write")) {
		ret = store_write_words(path, argc - 3, argv + 3, &len);
	} else if (!strcmp(op, "rm")) {
		ret = store_rm(STORE_DOMID_HOST, 0, path);
	} else {
		split_error(out, "store: unknown operation", -EINVAL);
		return -EINVAL;
	}
	if (ret) {
		split_error(out, "store", ret);
		free(buf);
		return ret;
	}
	sb_puts(out, "{\"path\":");
	sb_json_str(out, path);
	if (!strcmp(op, "ls")) {
		sb_puts(out, ",\"children\":[");
		for (off = 0; off < len; off += strlen(buf + off) + 1) {
			if (off)
				sb_puts(out, ",");
			sb_json_str(out, buf + off);
		}
		sb_puts(out, "]}");
	} else if (!strcmp(op, "read")) {
		sb_puts(out, ",\"value\":");
		json_bytes(out, buf, len);
		sb_puts(out, "}");
	} else if (!strcmp(op, "write")) {
		sb_printf(out, ",\"written\":%u}", len);
	} else {
		sb_puts(out, ",\"removed\":true}");
	}
	free(buf);
	return 0;
}

static int parse_id(const char *s, uint32_t *id)
{
	unsigned long v;
	char *end;

	if (!s[0] || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v > 65535)
		return -EINVAL;
	*id = v;
	return 0;
}

/* "TYPE/ID" */
static int parse_type_id(const char *s, char *type, size_t size,
			 uint32_t *id)
{
	const char *slash = strchr(s, '/');

	if (!slash || slash == s || (size_t)(slash - s) >= size)
		return -EINVAL;
	memcpy(type, s, slash - s);
	type[slash - s] = '\0';
	return parse_id(slash + 1, id);
}

/*
 * A process back-end (beproc.c): "process" running/backoff/failed,
 * "pid" (0: none), "crashes", and the last exit: "exit_status" or
 * "exit_signal" (neither before the first exit).
 */
static void json_proc(struct sbuf *out, const struct bus_dev_info *i)
{
	int st = i->be_last_status;

	sb_printf(out, ",\"process\":\"%s\",\"pid\":%d,\"crashes\":%u",
		  i->be_proc, i->be_pid, i->be_crashes);
	if (st < 0)
		return;
	if (WIFSIGNALED(st))
		sb_printf(out, ",\"exit_signal\":%d", WTERMSIG(st));
	else
		sb_printf(out, ",\"exit_status\":%d", WEXITSTATUS(st));
}

/* A vbd's counters (the back-end's BLK_STATS, summed by the core). */
static void json_blk(struct sbuf *out, const struct bus_dev_info *i)
{
	const struct be_blk_stats *b = &i->blk;

	sb_printf(out,
		  ",\"blk\":{\"reads\":%llu,\"writes\":%llu,\"flushes\":%llu,\"discards\":%llu,\"write_zeroes\":%llu",
		  (unsigned long long)b->reads, (unsigned long long)b->writes,
		  (unsigned long long)b->flushes,
		  (unsigned long long)b->discards,
		  (unsigned long long)b->write_zeroes);
	sb_printf(out,
		  ",\"bytes_read\":%llu,\"bytes_written\":%llu,\"errors\":%llu,\"in_flight\":%llu,\"persistent_grants\":%llu",
		  (unsigned long long)b->bytes_read,
		  (unsigned long long)b->bytes_written,
		  (unsigned long long)b->errors,
		  (unsigned long long)b->in_flight,
		  (unsigned long long)b->persistent_grants);
	sb_printf(out,
		  ",\"time\":{\"map_calls\":%llu,\"map_us\":%llu,\"syncs\":%llu,\"sync_us\":%llu,\"service_us\":%llu}}",
		  (unsigned long long)b->map_calls,
		  (unsigned long long)(b->map_ns / 1000),
		  (unsigned long long)b->syncs,
		  (unsigned long long)(b->sync_ns / 1000),
		  (unsigned long long)(b->service_ns / 1000));
	if (i->resize_result <= 0)
		sb_printf(out, ",\"resize_result\":%d", i->resize_result);
}

/* A vif's counters (the back-end's NET_STATS, summed by the core). */
void ctl_json_net(struct sbuf *out, const struct be_net_stats *n)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
#define NF(x)	{ #x, offsetof(struct be_net_stats, x) }
		NF(tx_packets), NF(tx_bytes), NF(rx_packets), NF(rx_bytes),
		NF(tx_malformed), NF(tx_not_offered), NF(tx_too_many_slots),
		NF(tx_bad_slot), NF(tx_bad_length), NF(tx_bad_offload),
		NF(tx_bad_grant), NF(tx_host_dropped), NF(rx_backlog_full),
		NF(rx_expired), NF(rx_not_accepted), NF(rx_bad_req),
		NF(rx_bad_grant), NF(tx_rate_waits), NF(rx_gso_soft),
		NF(rx_backlog_packets),
		NF(rx_backlog_bytes), NF(persistent_grants),
#undef NF
	};
	size_t k;

	sb_puts(out, "{");
	for (k = 0; k < ARRAY_SIZE(f); k++)
		sb_printf(out, "%s\"%s\":%llu", k ? "," : "", f[k].name,
			  (unsigned long long)*(const uint64_t *)
			  ((const char *)n + f[k].off));
	sb_printf(out,
		  ",\"time\":{\"map_calls\":%llu,\"map_us\":%llu,\"syncs\":%llu,\"sync_us\":%llu}}",
		  (unsigned long long)n->map_calls,
		  (unsigned long long)(n->map_ns / 1000),
		  (unsigned long long)n->syncs,
		  (unsigned long long)(n->sync_ns / 1000));
}

void ctl_json_vifs(struct sbuf *out, const struct guest *g)
{
	static struct bus_dev_info list[DEV_LIST_MAX];	/* main thread */
	size_t n = g->domid ? bus_device_list(g->domid, list, DEV_LIST_MAX) :
			      0, i;
	bool first = true;

	sb_puts(out, ",\"vifs\":{");
	for (i = 0; i < n && i < DEV_LIST_MAX; i++) {
		if (!list[i].has_net)
			continue;
		sb_printf(out, "%s\"%u\":", first ? "" : ",", list[i].id);
		ctl_json_net(out, &list[i].net);
		first = false;
	}
	sb_puts(out, "}");
}

static void json_dev(struct sbuf *out, const struct bus_dev_info *i)
{
	sb_puts(out, "{\"guest\":");
	sb_json_str(out, i->guest);
	sb_printf(out, ",\"domid\":%u,\"type\":", i->domid);
	sb_json_str(out, i->type);
	sb_printf(out, ",\"id\":%u", i->id);
	sb_printf(out,
		  ",\"backend\":\"/local/domain/0/backend/%s/%u/%u\",\"frontend\":\"/local/domain/%u/device/%s/%u\"",
		  i->type, i->domid, i->id, i->domid, i->type, i->id);
	sb_printf(out,
		  ",\"backend_state\":\"%s\",\"frontend_state\":\"%s\",\"connected\":%s,\"port\":%u",
		  bus_state_name(i->be_state), bus_state_name(i->fe_state),
		  i->connected ? "true" : "false", i->port);
	sb_printf(out, ",\"requests\":%llu,\"protocol_errors\":%llu",
		  (unsigned long long)i->requests,
		  (unsigned long long)i->protocol_errors);
	if (i->be_proc[0])
		json_proc(out, i);
	if (i->has_blk)
		json_blk(out, i);
	if (i->has_net) {
		sb_puts(out, i->on_switch ? ",\"switch\":" : ",\"tap\":");
		sb_json_str(out, i->tap);
		sb_puts(out, ",\"net\":");
		ctl_json_net(out, &i->net);
	}
	sb_puts(out, "}");
}

static int dev_info(struct guest *g, const char *type, uint32_t id,
		    struct bus_dev_info *info)
{
	static struct bus_dev_info all[DEV_LIST_MAX];
	size_t n, i;

	n = bus_device_list(g->domid, all, DEV_LIST_MAX);
	for (i = 0; i < n && i < DEV_LIST_MAX; i++) {
		if (all[i].id == id && !strcmp(all[i].type, type)) {
			*info = all[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* "512" / "4096" / "N" as a small decimal */
static int parse_small(const char *s, uint32_t max, uint32_t *out)
{
	uint32_t v;

	if (parse_id(s, &v) || !v || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The vbd options of device add (argv: the words after the ID). */
static int parse_vbd_opts(int argc, char **argv, struct vbd_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--ro")) {
			o->ro = true;
		} else if (!strcmp(a, "--direct")) {
			o->direct = true;
		} else if (v && !strcmp(a, "--image")) {
			o->image = v;
			i++;
		} else if (v && !strcmp(a, "--cow")) {
			o->cow = v;
			i++;
		} else if (v && !strcmp(a, "--sector-size")) {
			if (parse_small(v, 4096, &o->sector_size) ||
			    (o->sector_size != 512 && o->sector_size != 4096))
				return -EINVAL;
			i++;
		} else if (v && !strcmp(a, "--queues")) {
			if (parse_small(v, VPV_BLKIF_MAX_QUEUES, &o->queues))
				return -EINVAL;
			i++;
		} else {
			return -EINVAL;
		}
	}
	/* paths are the host's own: absolute, so the stub's cwd is moot */
	if (!o->image || o->image[0] != '/' || (o->cow && o->cow[0] != '/'))
		return -EINVAL;
	return 0;
}

/*
 * The vif options of device add (argv: the words after the ID); NULL,
 * or what is wrong with them.
 */
static const char *parse_vif_opts(int argc, char **argv, struct vif_opts *o)
{
	static const char usage[] =
		"usage: device add GUEST vif ID --tap|--switch NAME [--mac --mtu --rate --queues]";
	uint8_t mac[6];
	uint32_t mtu;
	int i;

	memset(o, 0, sizeof(*o));
	/* every option takes a value */
	for (i = 0; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v && !strcmp(a, "--tap")) {
			o->tap = v;
		} else if (v && !strcmp(a, "--switch")) {
			if (!vswitch_name_ok(v))
				return "vif: bad --switch (1..15 of A-Za-z0-9_-)";
			o->sw = v;
		} else if (v && !strcmp(a, "--mac")) {
			if (vif_parse_mac(v, mac))
				return "vif: bad --mac (aa:bb:cc:dd:ee:ff, unicast, not 0)";
			o->mac = v;
		} else if (v && !strcmp(a, "--mtu")) {
			if (parse_id(v, &mtu) || mtu < VPV_NETIF_MIN_MTU ||
			    mtu > VPV_NETIF_MAX_MTU)
				return "vif: bad --mtu (68..9000)";
			o->mtu = mtu;
		} else if (v && !strcmp(a, "--rate")) {
			if (vif_parse_rate(v, &o->rate))
				return "vif: bad --rate (bytes/s, K/M/G suffixes: 0 or 1K..64G)";
		} else if (v && !strcmp(a, "--queues")) {
			if (parse_small(v, VPV_NETIF_MAX_QUEUES, &o->queues))
				return "vif: bad --queues (1..8)";
		} else {
			return usage;
		}
	}
	if (!o->tap == !o->sw)
		return "vif: --tap NAME is required (or --switch NAME, not both)";
	return NULL;
}

/* A vif's add failed: the tap's name and why. */
static void vif_error(struct sbuf *out, const struct vif_opts *o, int err)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "vif: %s %.16s: %s%s",
		 o->sw ? "switch" : "tap", o->sw ? o->sw : o->tap,
		 strerror(-err), err == -ENOSPC ? " (the switch is full)" :
		 err == -EBUSY ?
		 " (attached to another device or program)" : "");
	split_msg(out, msg);
}

/* device add GUEST vif ID --tap NAME ...; 1: a usage error */
static int dev_add_vif(struct guest *g, int argc, char **argv, uint32_t id,
		       struct sbuf *out)
{
	struct vif_opts o;
	struct be_params p;
	const char *why;
	int ret;

	why = parse_vif_opts(argc - 5, argv + 5, &o);
	if (why) {
		split_msg(out, why);
		return -EINVAL;
	}
	ret = vif_open(&o, &p);
	if (ret) {
		vif_error(out, &o, ret);
		return ret;
	}
	ret = bus_device_add_params(g, "vif", id, &p);
	be_params_close(&p);	/* the device holds its own copy */
	if (ret && ret != -EEXIST && ret != -ENOENT)
		vif_error(out, &o, ret);
	return ret;
}

/* device add GUEST TYPE ID [options]; 1: a usage error */
static int dev_add(struct guest *g, int argc, char **argv, char *type,
		   size_t size, uint32_t *id, struct sbuf *out)
{
	struct vbd_opts o;
	struct be_params p;
	int ret;

	if (argc < 5 || strlen(argv[3]) >= size || parse_id(argv[4], id))
		return 1;
	snprintf(type, size, "%s", argv[3]);
	if (!strcmp(type, "vif"))
		return dev_add_vif(g, argc, argv, *id, out);
	if (strcmp(type, "vbd"))
		return argc == 5 ? bus_device_add(g, type, *id) : 1;
	if (parse_vbd_opts(argc - 5, argv + 5, &o))
		return 1;
	ret = vbd_open(&o, &p);
	if (ret)
		return ret;
	ret = bus_device_add_params(g, type, *id, &p);
	be_params_close(&p);	/* the device holds its own copies */
	return ret;
}

/* device resize GUEST TYPE/ID SIZE; 1: a usage error */
static int dev_resize(struct guest *g, int argc, char **argv, char *type,
		      size_t size, uint32_t *id)
{
	uint64_t bytes;

	if (argc != 5 || parse_type_id(argv[3], type, size, id) ||
	    cfg_parse_size(argv[4], &bytes))
		return 1;
	return bus_device_resize(g, type, *id, bytes);
}

static int dev_list(struct host *h, int argc, char **argv, struct sbuf *out)
{
	static struct bus_dev_info list[DEV_LIST_MAX];
	struct guest *g = NULL;
	size_t n, i;

	if (argc > 3)
		return 1;
	if (argc == 3) {
		g = ctl_find_guest(h, argv[2]);
		if (!g) {
			split_error(out, "no such guest", -ENOENT);
			return -ENOENT;
		}
	}
	n = bus_device_list(g ? g->domid : 0, list, DEV_LIST_MAX);
	sb_puts(out, "{\"devices\":[");
	for (i = 0; i < n && i < DEV_LIST_MAX; i++) {
		if (i)
			sb_puts(out, ",");
		json_dev(out, &list[i]);
	}
	sb_puts(out, "]}");
	return 0;
}

/* dev_op(): a remove that waits for the front-end (not a usage error) */
#define DEV_REMOVE_WAITS	2

/*
 * remove|restart|kill GUEST TYPE/ID; 1: a usage error, DEV_REMOVE_WAITS:
 * removing, the front-end still has to close (bus_device_remove()'s 1)
 */
static int dev_op(struct guest *g, int argc, char **argv, char *type,
		  size_t size, uint32_t *id, pid_t *killed)
{
	const char *op = argv[1];
	int ret;

	if (argc != 4 || parse_type_id(argv[3], type, size, id))
		return 1;
	if (!strcmp(op, "kill"))
		return beproc_kill(type, g->domid, *id, killed);
	if (!strcmp(op, "remove")) {
		ret = bus_device_remove(g, type, *id);
		return ret == 1 ? DEV_REMOVE_WAITS : ret;
	}
	if (!strcmp(op, "restart"))
		return bus_device_restart(g, type, *id);
	return 1;
}

static void dev_removed(struct sbuf *out, struct guest *g, const char *type,
			uint32_t id, int ret)
{
	sb_puts(out, "{\"guest\":");
	sb_json_str(out, g->name);
	sb_puts(out, ",\"type\":");
	sb_json_str(out, type);
	sb_printf(out, ",\"id\":%u,\"removed\":%s,\"state\":\"%s\"}",
		  id, ret ? "false" : "true", ret ? "Closing" : "Closed");
}

int ctl_cmd_device(struct host *h, int argc, char **argv, struct sbuf *out)
{
	const char *op = argv[1];
	struct bus_dev_info info;
	struct guest *g = NULL;
	pid_t killed = 0;
	char type[16];
	uint32_t id;
	int ret;

	split_init();
	if (!strcmp(op, "list")) {
		ret = dev_list(h, argc, argv, out);
		if (ret == 1)
			goto usage;
		return ret;
	}
	if (argc < 4)
		goto usage;
	g = ctl_find_guest(h, argv[2]);
	if (!g) {
		split_error(out, "no such guest", -ENOENT);
		return -ENOENT;
	}
	if (!strcmp(op, "add"))
		ret = dev_add(g, argc, argv, type, sizeof(type), &id, out);
	else if (!strcmp(op, "resize"))
		ret = dev_resize(g, argc, argv, type, sizeof(type), &id);
	else
		ret = dev_op(g, argc, argv, type, sizeof(type), &id, &killed);
	if (ret == 1)
		goto usage;
	if (ret < 0) {
		if (!out->len)	/* else dev_add() said what is wrong */
			split_error(out, "device", ret);
		return ret;
	}
	if (!strcmp(op, "remove")) {
		dev_removed(out, g, type, id, ret);
		return 0;
	}
	if (dev_info(g, type, id, &info)) {
		split_error(out, "device", -ENOENT);
		return -ENOENT;
	}
	sb_puts(out, "{\"device\":");
	json_dev(out, &info);
	if (killed > 0)
		sb_printf(out, ",\"killed\":%d", (int)killed);
	sb_puts(out, "}");
	return 0;
usage:
	split_error(out,
		    "usage: device add GUEST TYPE ID [--image FILE --ro --cow FILE --direct --sector-size N --queues N | --tap NAME|--switch NAME --mac M --mtu N --rate BYTES/S --queues N] | resize GUEST vbd/ID SIZE | remove|restart|kill GUEST TYPE/ID | list [GUEST]",
		    -EINVAL);
	return -EINVAL;
}

/* switch list | switch kill NAME */
int ctl_cmd_switch(struct host *h, int argc, char **argv, struct sbuf *out)
{
	int ret;

	(void)h;
	split_init();
	if (argc == 2 && !strcmp(argv[1], "list")) {
		vswitch_json(out);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "kill")) {
		split_error(out, "usage: switch list | switch kill NAME",
			    -EINVAL);
		return -EINVAL;
	}
	ret = vswitch_kill(argv[2]);
	if (ret < 0) {
		split_error(out, "switch", ret);
		return ret;
	}
	sb_puts(out, "{\"switch\":");
	sb_json_str(out, argv[2]);
	sb_printf(out, ",\"killed\":%d}", ret);
	return 0;
}

/* ---- vpv-ctl human output ---- */

/* " process running pid 123 crashes 0 [signal 9]" */
static void print_proc(const struct json *d)
{
	const struct json *p = json_get(d, "process");
	const struct json *pid = json_get(d, "pid");
	const struct json *cr = json_get(d, "crashes");
	const struct json *sig = json_get(d, "exit_signal");
	const struct json *ex = json_get(d, "exit_status");

	if (!p || !p->str || !pid || !cr)
		return;
	printf(" process %s pid %.0f crashes %.0f", p->str, pid->num,
	       cr->num);
	if (sig)
		printf(" last: signal %.0f", sig->num);
	else if (ex)
		printf(" last: exit %.0f", ex->num);
}

/*
 * "\n  blk reads N writes N ..." : every counter of a vbd (what, "blk"),
 * or of a vif ("net")
 */
static void print_blk(const struct json *b, const char *what)
{
	const struct json *e;

	if (!b || b->type != J_OBJ)
		return;
	printf("\n  %s", what);
	for (e = b->child; e; e = e->next)
		if (e->type == J_NUM)
			printf(" %s %.0f", e->key, e->num);
}

static void print_dev(const struct json *d)
{
	const struct json *c = json_get(d, "connected");
	const struct json *f[] = {
		json_get(d, "guest"), json_get(d, "type"), json_get(d, "id"),
		json_get(d, "backend_state"), json_get(d, "frontend_state"),
		json_get(d, "port"), json_get(d, "requests"),
		json_get(d, "protocol_errors"),
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(f); i++)
		if (!f[i])
			return;
	printf("%-12s %s/%-4.0f back %-12s front %-12s %s port %-4.0f requests %.0f errors %.0f",
	       f[0]->str, f[1]->str, f[2]->num, f[3]->str, f[4]->str,
	       c && c->b ? "connected   " : "disconnected", f[5]->num,
	       f[6]->num, f[7]->num);
	print_proc(d);
	if (json_get(d, "tap") && json_get(d, "tap")->str)
		printf(" tap %s", json_get(d, "tap")->str);
	if (json_get(d, "switch") && json_get(d, "switch")->str)
		printf(" switch %s", json_get(d, "switch")->str);
	print_blk(json_get(d, "blk"), "blk");
	print_blk(json_get(d, "net"), "net");
	printf("\n");
}

/* "switch list": a line per switch, one per port with its counters */
static void print_switches(const struct json *v)
{
	const struct json *s, *p, *e, *f[4];

	for (s = v->child; s; s = s->next) {
		f[0] = json_get(s, "name");
		f[1] = json_get(s, "state");
		f[2] = json_get(s, "pid");
		f[3] = json_get(s, "crashes");
		if (!f[0] || !f[1] || !f[2] || !f[3])
			continue;
		printf("switch %s %s pid %.0f crashes %.0f\n", f[0]->str,
		       f[1]->str, f[2]->num, f[3]->num);
		p = json_get(s, "ports");
		for (p = p ? p->child : NULL; p; p = p->next) {
			printf(" ");
			for (e = p->child; e; e = e->next)
				if (e->type == J_NUM)
					printf(" %s %.0f", e->key, e->num);
				else if (e->type == J_STR)
					printf(" %s %s", e->key, e->str);
			printf("\n");
		}
	}
}

void ctl_split_print(const struct json *j)
{
	const struct json *v, *e;

	v = json_get(j, "switches");
	if (v) {
		print_switches(v);
		return;
	}
	v = json_get(j, "children");
	if (v) {
		for (e = v->child; e; e = e->next)
			printf("%s\n", e->str ? e->str : "");
		return;
	}
	v = json_get(j, "value");
	if (v) {
		printf("%s\n", v->str ? v->str : "");
		return;
	}
	v = json_get(j, "devices");
	if (v) {
		for (e = v->child; e; e = e->next)
			print_dev(e);
		return;
	}
	v = json_get(j, "device");
	if (v) {
		print_dev(v);
		return;
	}
	v = json_get(j, "removed");
	if (v) {
		printf("%s\n", v->b ? "removed" :
		       "closing (removed when the front-end closes, or in 5 s)");
		return;
	}
	printf("ok\n");
}
