// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-ctl: query a running vpv-host over its control socket.
 *
 * Every command has --help; exit codes are the EXIT_* below.  With
 * --json the output is the host's JSON answer, or {"error":..} when
 * vpv-ctl gives up before one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vpv_host.h"

#define MAX_RESP	(4u << 20)

/*
 * Exit codes, the same for every command (Documentation/host-stub.rst,
 * "vpv-ctl"): scripts tell a refused request from a wrong command line
 * and from a host that is not there.
 */
enum {
	EXIT_OK = 0,		/* the host did it; its answer printed */
	EXIT_HOST_ERROR = 1,	/* the host answered an error (or garbage) */
	EXIT_USAGE = 2,		/* the command line is wrong */
	EXIT_UNREACHABLE = 3,	/* no answer: socket missing, refused, timeout */
};

/*
 * One entry per command: its argument counts (words after the command
 * name), the subcommands vpv-ctl checks before asking the host (NULL:
 * none), and its help text.  The first line of help is the usage line.
 */
static const struct command {
	const char *name;
	int min_args, max_args;
	const char *const *subs;
	const char *brief;	/* one line for vpv-ctl --help */
	const char *help;
} commands[] = {
	{ "list", 0, 0, NULL,
	  "guests and their state",
	  "usage: vpv-ctl [--json] list\n"
	  "  guests and their state: QEMU pid, peers, memory, vCPUs and\n"
	  "  where their hypercall thread runs\n" },
	{ "stats", 0, 1, NULL,
	  "[GUEST]: counters and memory of one guest or all",
	  "usage: vpv-ctl [--json] stats [GUEST]\n"
	  "  the host's memory budget and policy, then the counters and\n"
	  "  memory of one guest or all\n" },
	{ "balloon", 2, 2, NULL,
	  "GUEST SIZE|auto: the memory GUEST should have",
	  "usage: vpv-ctl [--json] balloon GUEST SIZE|auto\n"
	  "  SIZE: the memory GUEST should have (bytes, or K/M/G: 256M);\n"
	  "  the balloon takes the rest.  auto: hand its target back to\n"
	  "  the host's policy\n" },
	{ "p2m", 1, 2, NULL,
	  "GUEST [START[-END]]: P2M entries",
	  "usage: vpv-ctl [--json] p2m GUEST [START[-END]]\n"
	  "  P2M entries (guest PFN -> machine frame, pins) for PFNs\n"
	  "  START..END, inclusive; default 64 pages from START (0)\n" },
	{ "store", 2, VPV_CTL_MAX_ARGS - 1,
	  (const char *const[]){ "ls", "read", "rm", "write", NULL },
	  "ls|read|rm|write PATH [VALUE...]: the config store",
	  "usage: vpv-ctl [--json] store ls|read|rm PATH\n"
	  "       vpv-ctl [--json] store write PATH VALUE...\n"
	  "  the config store, any path; write joins the VALUE words with\n"
	  "  one space\n" },
	{ "device", 1, DEV_ARGS_MAX,
	  (const char *const[]){ "add", "resize", "remove", "restart", "kill",
				 "list", NULL },
	  "add|resize|remove|restart|kill|list ...: split devices",
	  "usage: vpv-ctl [--json] device add GUEST TYPE ID\n"
	  "  a split device (its back-end in InitWait), or one served by\n"
	  "  its back-end process:\n"
	  "       device add GUEST vbd ID --image FILE [--ro] [--cow OVERLAY]\n"
	  "              [--direct] [--sector-size 512|4096] [--queues N]\n"
	  "       device add GUEST vif ID --tap NAME [--mac aa:bb:cc:dd:ee:ff]\n"
	  "              [--mtu 68..9000]   a NIC on tap NAME (made if absent)\n"
	  "              (or --switch NAME: on the guests' switch NAME)\n"
	  "              [--rate BYTES/S]   its TX limit (K/M/G; 0: none)\n"
	  "       device resize GUEST vbd/ID SIZE   new capacity (bytes, K/M/G)\n"
	  "       device remove|restart|kill GUEST TYPE/ID\n"
	  "       device list [GUEST]   devices and their bus states\n" },
	{ "switch", 1, 2, (const char *const[]){ "list", "kill", NULL },
	  "list|kill [NAME]: the vif switches",
	  "usage: vpv-ctl [--json] switch list\n"
	  "       vpv-ctl [--json] switch kill NAME\n"
	  "  list: the vif switches, their ports and counters;\n"
	  "  kill: SIGKILL switch NAME's vpv-netswitch (tests)\n" },
	{ "guest", 2, 2, (const char *const[]){ "remove", NULL },
	  "remove GUEST: stop a guest, release all it has",
	  "usage: vpv-ctl [--json] guest remove GUEST\n"
	  "  stop GUEST's QEMU and release all it has\n" },
	{ "hc", 3, 3, NULL,
	  "GUEST cpu N|any | poll_us US: its hypercall thread",
	  "usage: vpv-ctl [--json] hc GUEST cpu N|any\n"
	  "       vpv-ctl [--json] hc GUEST poll_us US\n"
	  "  cpu: pin GUEST's hypercall and echo threads (any: unpin);\n"
	  "  poll_us: poll its slots US us before sleeping (0: off)\n" },
	{ "sharing", 0, 10, NULL,	/* --peek GUEST 8 ranges (--wait taken off) */
	  "[--wait] [GUEST [START-END...]]: the page-sharing scan",
	  "usage: vpv-ctl [--json] sharing [--wait|--peek] [GUEST [START-END...]]\n"
	  "  the latest finished pass of the page-sharing scan: per guest\n"
	  "  the pages scanned, zero, duplicated within the guest and across\n"
	  "  guests; what sharing would save; the pass's CPU time and rate.\n"
	  "  Starts a new pass unless one runs.  --wait: wait for that pass\n"
	  "  and print it; --peek: start none.  START-END (PFNs, inclusive,\n"
	  "  up to 8 ranges): also GUEST's counts in those PFNs\n" },
};

static void print_usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: vpv-ctl [--ctl PATH] [--json] COMMAND [ARGS]\n"
		"       vpv-ctl COMMAND --help\n"
		"  --ctl PATH  the stub's control socket (default $VPV_CTL)\n"
		"  --json      print the host's JSON answer as it is\n"
		"commands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].brief);
	fprintf(f,
		"exit: 0 done, 1 the host answered an error, 2 usage error,\n"
		"      3 the host cannot be reached\n");
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

static bool is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/*
 * "COMMAND ... --help": true if a word of the command asks for help,
 * but not a word of store write's value, which may be anything.
 */
static bool wants_help(int argc, char **argv)
{
	int i, last = argc;

	if (!strcmp(argv[0], "store") && argc > 1 &&
	    !strcmp(argv[1], "write"))
		last = argc < 3 ? argc : 3;
	for (i = 1; i < last; i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

/*
 * Check the command line as far as vpv-ctl can without the host: the
 * command, its subcommand and its number of words.  Return: NULL if
 * fine, else the problem (one line) in @why.
 */
static const char *check_command(int argc, char **argv, char *why,
				 size_t len)
{
	const struct command *c;
	int n = argc - 1;
	size_t i;

	if (argc < 1)
		return "no command (vpv-ctl --help lists them)";
	c = find_command(argv[0]);
	if (!c) {
		snprintf(why, len,
			 "unknown command '%s' (vpv-ctl --help lists them)",
			 argv[0]);
		return why;
	}
	if (c->subs && n >= 1) {
		for (i = 0; c->subs[i]; i++)
			if (!strcmp(argv[1], c->subs[i]))
				break;
		if (!c->subs[i]) {
			snprintf(why, len,
				 "%s: unknown subcommand '%s' (vpv-ctl %s --help)",
				 c->name, argv[1], c->name);
			return why;
		}
	}
	if (n < c->min_args || n > c->max_args) {
		snprintf(why, len,
			 "%s: %s arguments, got %d (vpv-ctl %s --help)",
			 c->name, n < c->min_args ? "too few" : "too many", n,
			 c->name);
		return why;
	}
	return NULL;
}

static int request(const char *path, const char *req, struct sbuf *resp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	char buf[4096];
	ssize_t n;
	int fd, ret = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		ret = -errno;
		goto out;
	}
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		sb_puts(resp, buf);
		if (resp->oom || resp->len > MAX_RESP) {
			ret = -E2BIG;
			goto out;
		}
	}
	if (n < 0)
		ret = -errno;
	else if (!resp->len)
		ret = -ECONNRESET;
out:
	close(fd);
	return ret;
}

/* device add's options naming a file: sent as absolute paths */
static bool is_path_opt(const char *a)
{
	return !strcmp(a, "--image") || !strcmp(a, "--cow");
}

/*
 * The file's absolute path (malloc'ed; NULL and errno on failure): the
 * stub opens it, from its own working directory.  An overlay may not
 * exist yet: then its directory is resolved.
 */
static char *abs_path(const char *p)
{
	char *dir, *r, *slash, *out;
	const char *base;

	r = realpath(p, NULL);
	if (r || errno != ENOENT)
		return r;
	dir = strdup(p);
	if (!dir)
		return NULL;
	slash = strrchr(dir, '/');
	base = slash ? p + (slash - dir) + 1 : p;
	if (slash)
		*slash = '\0';
	r = realpath(slash ? (dir[0] ? dir : "/") : ".", NULL);
	free(dir);
	if (!r)
		return NULL;
	if (asprintf(&out, "%s/%s", strcmp(r, "/") ? r : "", base) < 0)
		out = NULL;
	free(r);
	return out;
}

static void print_val(const struct json *v)
{
	switch (v->type) {
	case J_NUM:
		printf("%.0f", v->num);
		break;
	case J_STR:
		printf("%s", v->str);
		break;
	case J_BOOL:
		printf("%s", v->b ? "yes" : "no");
		break;
	default:
		printf("-");
	}
}

static const char *jstr(const struct json *o, const char *k)
{
	const struct json *v = json_get(o, k);

	return v && v->type == J_STR ? v->str : "-";
}

static double jnum(const struct json *o, const char *k)
{
	const struct json *v = json_get(o, k);

	return v && v->type == J_NUM ? v->num : 0;
}

static void print_list(const struct json *guests)
{
	const struct json *g;

	printf("%-16s %8s %-9s %-5s %-9s %-5s %10s %4s %-8s %7s\n", "NAME",
	       "PID", "STATE", "PEERS", "CONNECTED", "ACCEL", "MEM(MiB)", "SMP",
	       "HC-CPU", "POLL-US");
	for (g = guests->child; g; g = g->next) {
		const struct json *c = json_get(g, "connected");
		const struct json *cpu = json_get(g, "hc_cpu");
		char where[16] = "any";

		/* the pinned CPU, and where the thread last woke */
		if (cpu && cpu->type == J_NUM)
			snprintf(where, sizeof(where), "%.0f",
				 cpu->num);
		snprintf(where + strlen(where), sizeof(where) - strlen(where),
			 "@%.0f", jnum(g, "hc_last_cpu"));
		printf("%-16s %8.0f %-9s %2.0f/%-2.0f %-9s %-5s %10.0f %4.0f %-8s %7.0f\n",
		       jstr(g, "name"), jnum(g, "pid"), jstr(g, "state"),
		       jnum(g, "host_peer_id"), jnum(g, "guest_peer_id"),
		       c && c->type == J_BOOL && c->b ? "yes" : "no",
		       jstr(g, "accel"), jnum(g, "mem") / (1 << 20),
		       jnum(g, "smp"), where, jnum(g, "hc_poll_us"));
	}
}

static void print_mib(double bytes)
{
	printf("%.0f (%.1f MiB)", bytes, bytes / (1 << 20));
}

static bool is_bytes_key(const char *key)
{
	size_t n = strlen(key);

	return n > 6 && !strcmp(key + n - 6, "_bytes");
}

static void print_stats_host(const struct json *host)
{
	const struct json *t = json_get(host, "overcommitted");

	if (!host || host->type != J_OBJ)
		return;
	printf("host memory: budget ");
	print_mib(jnum(host, "host_mem"));
	printf("%s, frames %.0f, populated %.0f, idle tax %g%s\n",
	       json_get(host, "host_mem_set") &&
	       json_get(host, "host_mem_set")->b ? "" : " (default)",
	       jnum(host, "pool_pages"), jnum(host, "populated_pages"),
	       jnum(host, "idle_tax"),
	       t && t->type == J_BOOL && t->b ? ", overcommitted" : "");
	printf("activity: measured by the host every %.0f s; the idle tax uses the %s's figure\n",
	       jnum(host, "activity_period_s"), jstr(host, "activity_source"));
}

/* "12.5%" for a ppm figure, "-" if there is none */
static void print_ppm(const struct json *o, const char *k)
{
	const struct json *v = json_get(o, k);

	if (v && v->type == J_NUM)
		printf("%.1f%%", v->num / 1e4);
	else
		printf("-");
}

/* One line: both activity figures and the one the idle tax uses. */
static void print_activity(const struct json *a)
{
	printf("  %-24s host ", "active fraction");
	print_ppm(a, "host_active_ppm");
	printf(" (last period ");
	print_ppm(a, "host_last_ppm");
	printf("), guest says ");
	print_ppm(a, "guest_active_ppm");
	printf("; taxed: ");
	print_ppm(a, "policy_active_ppm");
	printf(" from %s\n", jstr(a, "source"));
}

/* An object's members on one line: "key value ...", objects inside. */
static void print_inline(const struct json *o)
{
	const struct json *e;

	for (e = o->child; e; e = e->next) {
		if (e->type == J_OBJ) {
			print_inline(e);
			continue;
		}
		printf(" %s ", e->key);
		print_val(e);
	}
}

static void print_stats(const struct json *guests)
{
	const struct json *g, *m, *h;

	for (g = guests->child; g; g = g->next) {
		printf("guest %s\n", jstr(g, "name"));
		for (m = g->child; m; m = m->next) {
			if (!strcmp(m->key, "name"))
				continue;
			if (m->type == J_OBJ && !strcmp(m->key, "activity"))
				print_activity(m);
			if (m->type == J_OBJ && !m->child)
				continue;	/* "vifs":{} of a guest without */
			if (m->type == J_OBJ) {
				printf("  %s:\n", m->key);
				for (h = m->child; h; h = h->next) {
					printf("    %-22s ", h->key);
					if (h->type == J_OBJ)	/* a vif's */
						print_inline(h);
					else
						print_val(h);
					printf("\n");
				}
				continue;
			}
			printf("  %-24s ", m->key);
			if (m->type == J_NUM && is_bytes_key(m->key))
				print_mib(m->num);
			else
				print_val(m);
			printf("\n");
		}
	}
}

static void print_balloon(const struct json *j)
{
	printf("guest %s: target %s, memory ", jstr(j, "name"),
	       jstr(j, "target_mode"));
	print_mib(jnum(j, "target_mem_bytes"));
	printf(", balloon %.0f pages\n", jnum(j, "target_pages"));
}

static void print_sharing(const struct json *j)
{
	const struct json *g, *r, *gs = json_get(j, "guests");

	printf("pass %.0f%s: %.0f pages scanned, %.0f zero, %.0f distinct; ",
	       jnum(j, "pass"), jnum(j, "running_pass") ? " (next running)" : "",
	       jnum(j, "scanned_pages"), jnum(j, "zero_pages"),
	       jnum(j, "distinct_pages"));
	printf("sharing would save %.0f pages, bytes ",
	       jnum(j, "saved_pages"));
	print_mib(jnum(j, "saved_bytes"));
	printf("\n%.0f us CPU, %.0f us wall, %.0f pages/s, %.0f collisions\n",
	       jnum(j, "cpu_us"), jnum(j, "wall_us"), jnum(j, "pages_per_s"),
	       jnum(j, "collisions"));
	printf("%-16s %10s %10s %10s %10s %10s %10s\n", "NAME", "PAGES",
	       "SCANNED", "ZERO", "DUP", "CROSS", "UNIQUE");
	for (g = gs ? gs->child : NULL; g; g = g->next) {
		printf("%-16s %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f\n",
		       jstr(g, "name"), jnum(g, "pages"),
		       jnum(g, "scanned_pages"), jnum(g, "zero_pages"),
		       jnum(g, "dup_pages"), jnum(g, "cross_pages"),
		       jnum(g, "unique_pages"));
		r = json_get(g, "ranges");
		for (r = r ? r->child : NULL; r; r = r->next)
			printf("  %#-8llx-%#-8llx %6.0f %10.0f %10.0f %10.0f %10.0f %10.0f\n",
			       (unsigned long long)jnum(r, "start"),
			       (unsigned long long)jnum(r, "end"),
			       jnum(r, "pages"), jnum(r, "scanned_pages"),
			       jnum(r, "zero_pages"), jnum(r, "dup_pages"),
			       jnum(r, "cross_pages"), jnum(r, "unique_pages"));
	}
}

/*
 * sharing --wait: a pass that started after the request.  If the
 * request started one, that one; if it found one running (it may have
 * started before the caller's pages were there), the next: ask with
 * --peek until the running pass is done, then start the next (a plain
 * request) and wait for it the same way.  Replaces *j and resp.  0, or
 * an exit code (said why).
 */
static int __attribute__((format(printf, 3, 4)))
fail(bool json, int code, const char *fmt, ...);

#define SHARING_WAIT_MS		120000	/* a 16 GiB guest at 50k pages/s */
#define SHARING_POLL_MS		50

static int sharing_wait(const char *path, bool json, char **argv, int argc,
			struct json **j, struct sbuf *resp)
{
	const struct json *st = json_get(*j, "started");
	double target = jnum(*j, "running_pass");
	const struct json *run;
	bool peek = true;
	struct sbuf req;
	int i, waited, ret;

	if (!st || st->type != J_BOOL || !st->b)
		target++;
	for (waited = 0; waited < SHARING_WAIT_MS; waited += SHARING_POLL_MS) {
		if (jnum(*j, "pass") >= target)
			return 0;
		run = json_get(*j, "running");
		/* none running, ours not done: start it */
		peek = run && run->type == J_BOOL && run->b;
		if (peek)
			usleep(SHARING_POLL_MS * 1000);
		sb_init(&req);
		sb_puts(&req, peek ? "sharing --peek" : "sharing");
		for (i = 1; i < argc; i++)
			sb_printf(&req, " %s", argv[i]);
		sb_puts(&req, "\n");
		resp->len = 0;
		ret = req.oom ? -ENOMEM : request(path, req.buf, resp);
		sb_free(&req);
		if (ret)
			return fail(json, EXIT_UNREACHABLE, "%s: %s", path,
				    strerror(-ret));
		json_free(*j);
		*j = json_parse(resp->buf);
		if (!*j || json_get(*j, "error"))
			return fail(json, EXIT_HOST_ERROR,
				    "sharing: bad answer while waiting");
	}
	return fail(json, EXIT_HOST_ERROR, "sharing: pass %.0f not done in %d s",
		    target, SHARING_WAIT_MS / 1000);
}

static void print_p2m(const struct json *j)
{
	const struct json *e, *t = json_get(j, "truncated");
	const struct json *ents = json_get(j, "entries");

	printf("guest %s\n%-12s %-12s %s\n", jstr(j, "name"), "PFN", "MFN",
	       "PINS");
	for (e = ents ? ents->child : NULL; e; e = e->next) {
		const struct json *mfn = json_get(e, "mfn");

		printf("%#-12llx ", (unsigned long long)jnum(e, "pfn"));
		if (mfn && mfn->type == J_NUM)
			printf("%#-12llx ", (unsigned long long)mfn->num);
		else
			printf("%-12s ", "invalid");
		printf("%.0f\n", jnum(e, "pins"));
	}
	if (t && t->type == J_BOOL && t->b)
		printf("(truncated; continue at PFN %#llx)\n",
		       (unsigned long long)jnum(j, "next"));
}

/*
 * Say why vpv-ctl gives up (one line on stderr); with --json also as
 * {"error":..,"exit":..} on stdout, so that every run's output parses.
 * Return: @code, the exit code.
 */
static int __attribute__((format(printf, 3, 4)))
fail(bool json, int code, const char *fmt, ...)
{
	char msg[512];
	struct sbuf o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vpv-ctl: %s\n", msg);
	if (json) {
		sb_init(&o);
		sb_puts(&o, "{\"error\":");
		sb_json_str(&o, msg);
		sb_printf(&o, ",\"exit\":%d}\n", code);
		if (!o.oom)
			fputs(o.buf, stdout);
		sb_free(&o);
	}
	return code;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ctl", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("VPV_CTL");
	struct json *j = NULL, *guests, *err;
	const struct command *cmd;
	struct sbuf req, resp;
	bool json = false, help = false, wait = false;
	char why[256];
	const char *bad;
	int opt, i, ret;

	/*
	 * "+": options end at the command, whose own options ("device add
	 * ... --image FILE") go to the stub with its words.  ":" and
	 * opterr = 0: vpv-ctl words its own one-line messages.
	 */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:c:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			help = true;
			break;
		case ':':
			return fail(json, EXIT_USAGE,
				    "option '%s' needs an argument (vpv-ctl --help)",
				    argv[optind - 1]);
		default:
			return fail(json, EXIT_USAGE,
				    "unknown option '%s' (vpv-ctl --help)",
				    argv[optind - 1]);
		}
	}
	cmd = optind < argc ? find_command(argv[optind]) : NULL;
	/* "vpv-ctl --help", "vpv-ctl --help CMD", "vpv-ctl CMD ... --help" */
	if (help || (cmd && wants_help(argc - optind, argv + optind))) {
		if (cmd)
			fputs(cmd->help, stdout);
		else
			print_usage(stdout);
		return EXIT_OK;
	}
	/* sharing --wait: vpv-ctl's own, not sent */
	if (cmd && !strcmp(cmd->name, "sharing") && optind + 1 < argc &&
	    !strcmp(argv[optind + 1], "--wait")) {
		wait = true;
		for (i = optind + 1; i < argc; i++)
			argv[i] = argv[i + 1];
		argc--;
	}
	bad = check_command(argc - optind, argv + optind, why, sizeof(why));
	if (bad)
		return fail(json, EXIT_USAGE, "%s", bad);
	if (!path || !*path)
		return fail(json, EXIT_USAGE,
			    "no control socket (--ctl PATH or VPV_CTL)");
	ret = EXIT_USAGE;
	sb_init(&req);
	sb_init(&resp);
	for (i = optind; i < argc; i++) {
		/* a store value's words may hold spaces: sent as words */
		bool value = i >= optind + 3 &&
			     !strcmp(argv[optind], "store") &&
			     !strcmp(argv[optind + 1], "write");
		char *abs = NULL;

		if (i > optind && is_path_opt(argv[i - 1]) &&
		    !strcmp(argv[optind], "device")) {
			abs = abs_path(argv[i]);
			if (!abs) {
				ret = fail(json, EXIT_USAGE, "%s: %s", argv[i],
					   strerror(errno));
				goto out;
			}
		}
		if (strpbrk(abs ?: argv[i], value ? "\t\n\r" : " \t\n\r")) {
			ret = fail(json, EXIT_USAGE,
				   "argument %d holds a space, tab or newline",
				   i - optind + 1);
			free(abs);
			goto out;
		}
		sb_printf(&req, "%s%s", i > optind ? " " : "", abs ?: argv[i]);
		free(abs);
	}
	sb_puts(&req, "\n");
	if (req.oom) {
		ret = fail(json, EXIT_USAGE, "out of memory");
		goto out;
	}
	ret = request(path, req.buf, &resp);
	if (ret) {
		ret = fail(json, EXIT_UNREACHABLE, "%s: %s", path,
			   strerror(-ret));
		goto out;
	}
	ret = EXIT_HOST_ERROR;
	j = json_parse(resp.buf);
	if (!j) {
		ret = fail(json, EXIT_HOST_ERROR, "malformed response");
		goto out;
	}
	err = json_get(j, "error");
	if (err) {
		if (json)
			fputs(resp.buf, stdout);
		fprintf(stderr, "vpv-ctl: error: %s\n",
			err->type == J_STR ? err->str : "?");
		goto out;
	}
	if (wait) {
		ret = sharing_wait(path, json, argv + optind, argc - optind, &j,
				   &resp);
		if (ret)
			goto out;
		ret = EXIT_HOST_ERROR;
	}
	if (json) {
		fputs(resp.buf, stdout);
		ret = EXIT_OK;
		goto out;
	}
	if (!strcmp(argv[optind], "sharing")) {
		print_sharing(j);
		ret = EXIT_OK;
		goto out;
	}
	if (!strcmp(argv[optind], "balloon")) {
		print_balloon(j);
		ret = EXIT_OK;
		goto out;
	}
	if (!strcmp(argv[optind], "store") || !strcmp(argv[optind], "device") ||
	    !strcmp(argv[optind], "switch")) {
		ctl_split_print(j);
		ret = EXIT_OK;
		goto out;
	}
	if (!strcmp(argv[optind], "hc")) {
		const struct json *cpu = json_get(j, "hc_cpu");

		printf("guest %s: hypercall and echo threads ", jstr(j, "name"));
		if (cpu && cpu->type == J_NUM)
			printf("pinned to CPU %.0f", cpu->num);
		else
			printf("on any CPU");
		printf(", polling %.0f us\n", jnum(j, "hc_poll_us"));
		ret = EXIT_OK;
		goto out;
	}
	if (!strcmp(argv[optind], "guest")) {
		const struct json *r = json_get(j, "removed");

		printf("removed %s\n", r && r->type == J_STR ? r->str : "?");
		ret = EXIT_OK;
		goto out;
	}
	if (!strcmp(argv[optind], "p2m")) {
		print_p2m(j);
		ret = EXIT_OK;
		goto out;
	}
	guests = json_get(j, "guests");
	if (!guests || guests->type != J_ARR) {
		ret = fail(false, EXIT_HOST_ERROR, "unexpected response");
		goto out;
	}
	if (!strcmp(argv[optind], "list")) {
		print_list(guests);
	} else {
		print_stats_host(json_get(j, "host"));
		print_stats(guests);
	}
	ret = EXIT_OK;
out:
	json_free(j);
	sb_free(&req);
	sb_free(&resp);
	return ret;
}
