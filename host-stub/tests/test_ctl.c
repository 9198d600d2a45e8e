// SPDX-License-Identifier: GPL-2.0
/* Control protocol, JSON reader, config parsing, QEMU command line. */
#include <stdio.h>

#include "testutil.h"

static struct guest guests[2];
static struct host host = { .guests = guests, .nr_guests = 2 };

static struct json *req(const char *line, int *ret)
{
	struct sbuf out;
	struct json *j;

	sb_init(&out);
	*ret = ctl_handle_line(&host, line, strlen(line), &out);
	j = out.buf ? json_parse(out.buf) : NULL;
	if (!j)
		printf("# unparsable response: %s\n", out.buf);
	sb_free(&out);
	return j;
}

static bool is_error(const char *line, const char *msg)
{
	struct json *j, *e;
	int ret;
	bool good;

	j = req(line, &ret);
	e = json_get(j, "error");
	good = ret < 0 && e && e->type == J_STR && strstr(e->str, msg);
	json_free(j);
	return good;
}

static void test_ctl(void)
{
	struct json *j, *gs, *g0, *hc;
	char big[VPV_CTL_MAX_REQ + 10];
	int ret;

	j = req("list", &ret);
	gs = json_get(j, "guests");
	ok(ret == 0 && gs && gs->type == J_ARR, "list returns guests[]");
	g0 = gs ? gs->child : NULL;
	ok(g0 && !strcmp(json_get(g0, "name")->str, "t0") &&
	   g0->next && !strcmp(json_get(g0->next, "name")->str, "t1"),
	   "list names both guests");
	ok(g0 && json_get(g0, "host_peer_id")->num == 0 &&
	   json_get(g0, "guest_peer_id")->num == 1 &&
	   json_get(g0, "mem")->num == 64 << 20 &&
	   !strcmp(json_get(g0, "state")->str, "created") &&
	   !strcmp(json_get(g0, "accel")->str, "tcg"),
	   "list fields: peers, mem, state, accel");
	json_free(j);

	call(&guests[1], VPV_HC_NOP, 1, 0, 0, 0);
	call(&guests[1], 77, 1, 0, 0, 0);
	j = req("stats t1", &ret);
	gs = json_get(j, "guests");
	g0 = gs ? gs->child : NULL;
	hc = json_get(g0, "hypercalls");
	ok(ret == 0 && g0 && !g0->next && hc &&
	   json_get(hc, "nop")->num == 1 && json_get(hc, "other")->num == 1 &&
	   json_get(g0, "hcall_errors")->num == 1 &&
	   json_get(g0, "ev_dropped") && json_get(g0, "multicalls"),
	   "stats NAME: one guest with counters");
	json_free(j);
	j = req("  stats\t\r", &ret);
	gs = json_get(j, "guests");
	ok(ret == 0 && gs && gs->child && gs->child->next,
	   "stats (whitespace, CR) covers all guests");
	json_free(j);

	/* hc: the hypercall thread's placement and polling */
	j = req("hc t1 poll_us 50", &ret);
	ok(ret == 0 && json_get(j, "hc_poll_us") &&
	   json_get(j, "hc_poll_us")->num == 50 &&
	   guests[1].poll_max_ns == 50000, "hc poll_us 50");
	json_free(j);
	j = req("hc t1 cpu 0", &ret);
	ok(ret == 0 && json_get(j, "hc_cpu") &&
	   json_get(j, "hc_cpu")->type == J_NUM && guests[1].hc_cpu == 0,
	   "hc cpu 0 (no thread yet: recorded)");
	json_free(j);
	j = req("list", &ret);
	gs = json_get(j, "guests");
	g0 = gs && gs->child ? gs->child->next : NULL;
	ok(g0 && json_get(g0, "hc_cpu") && json_get(g0, "hc_cpu")->num == 0 &&
	   json_get(g0, "hc_poll_us")->num == 50 &&
	   json_get(g0, "hc_thread_cpu_ns"), "list shows placement, polling");
	json_free(j);
	j = req("hc t1 cpu any", &ret);
	ok(ret == 0 && guests[1].hc_cpu == -1 && json_get(j, "hc_cpu") &&
	   json_get(j, "hc_cpu")->type == J_NULL, "hc cpu any");
	json_free(j);
	ok(is_error("hc t1 poll_us 1001", "usage"), "hc poll_us above 1000");
	ok(is_error("hc t1 poll_us any", "usage"), "hc poll_us any");
	ok(is_error("hc t1 poll_us -1", "usage"), "hc poll_us negative");
	ok(is_error("hc t1 cpu 99999999999", "cannot pin"), "hc cpu too big");
	ok(is_error("hc t1 speed 1", "usage"), "hc unknown key");
	ok(is_error("hc nosuch cpu 0", "no such guest"), "hc unknown guest");
	hc_set_poll_us(&guests[1], 0);

	ok(is_error("", "empty"), "empty request -> error");
	ok(is_error("   ", "empty"), "blank request -> error");
	ok(is_error("frobnicate", "unknown command"), "unknown command");
	ok(is_error("list extra", "usage"), "list with argument");
	ok(is_error("stats a b", "usage"), "stats with 2 arguments");
	ok(is_error("stats nosuch", "no such guest"), "stats unknown guest");
	ok(is_error("list\x01", "invalid character"), "control character");
	ok(is_error("stats \xff", "invalid character"), "non-ASCII byte");
	{
		char many[2 * VPV_CTL_MAX_ARGS + 2];
		int i;

		for (i = 0; i <= VPV_CTL_MAX_ARGS; i++) {
			many[2 * i] = 'a';
			many[2 * i + 1] = ' ';
		}
		many[2 * VPV_CTL_MAX_ARGS + 1] = '\0';
		ok(is_error(many, "too many"), "too many arguments");
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(is_error(big, "too long"), "over-long request");
	{
		struct sbuf out;

		sb_init(&out);
		ret = ctl_handle_line(&host, "list\0junk", 9, &out);
		ok(ret < 0 && strstr(out.buf, "invalid character"),
		   "embedded NUL rejected");
		sb_free(&out);
	}
}

static struct json *guest0(struct json *j)
{
	struct json *gs = json_get(j, "guests");

	return gs && gs->type == J_ARR ? gs->child : NULL;
}

static double num(const struct json *o, const char *key)
{
	const struct json *v = json_get(o, key);

	return v && v->type == J_NUM ? v->num : -1;
}

static void test_ctl_mem(void)
{
	struct vpv_balloon_stats st = { .balloon_pages = 7,
					.active_ppm = 250000 };
	struct json *j, *g, *h, *e, *ms;
	uint64_t pfn = 0x200;
	int ret;

	/* t1 balloons 2 MiB and reports its stats */
	call(&guests[1], VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES,
	     0, 0);
	gpa_write(&guests[1], 0x1000, &pfn, sizeof(pfn));
	gpa_write(&guests[1], 0x2000, &st, sizeof(st));
	ok(call(&guests[1], VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, 0x1000, 1,
		9) == 1 &&
	   call(&guests[1], VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, 0x2000, 0, 0) ==
	   0, "t1: DECREASE 2 MiB, POLL");

	j = req("stats t1", &ret);
	g = guest0(j);
	h = json_get(j, "host");
	ok(ret == 0 && h && num(h, "host_mem") == 128 << 20 &&
	   num(h, "host_mem_pages") == 32768 &&
	   num(h, "pool_pages") == 32768 &&
	   num(h, "populated_pages") == 32768 - 512 &&
	   !json_get(h, "overcommitted")->b &&
	   num(h, "idle_tax") == 0.75 && !json_get(h, "host_mem_set")->b,
	   "stats: host budget, pool, populated, idle tax");
	ok(g && num(g, "ram_pages") == 16384 && num(g, "target_pages") == 0 &&
	   num(g, "target_mem_bytes") == 64 << 20 &&
	   !strcmp(json_get(g, "target_mode")->str, "auto") &&
	   num(g, "balloon_pages_guest") == 7 &&
	   num(g, "p2m_invalid_pages") == 512 &&
	   num(g, "populated_pages") == 16384 - 512 &&
	   num(g, "pinned_pages") == 0 && num(g, "shares") == 1000 &&
	   num(g, "ram_file_bytes") >= 0 && num(g, "memop_polls") == 1 &&
	   num(g, "memop_decreased_pages") == 512 &&
	   num(g, "memop_2m_extents") == 1 && num(g, "memop_errors") == 0 &&
	   num(g, "memop_unreclaimed_pages") == 0,
	   "stats: per-guest memory fields and counters");
	ms = json_get(g, "mem_stats");
	ok(ms && ms->type == J_OBJ && num(ms, "active_ppm") == 250000 &&
	   num(ms, "balloon_pages") == 7 && num(ms, "age_ms") >= 0,
	   "stats: the guest's last POLL stats");
	e = json_get(g, "activity");
	ok(e && e->type == J_OBJ && num(e, "guest_active_ppm") == 250000 &&
	   num(e, "policy_active_ppm") == 250000 &&
	   json_get(e, "host_active_ppm") &&
	   json_get(e, "host_active_ppm")->type == J_NULL &&
	   !strcmp(json_get(e, "source")->str, "guest (no QEMU to sample)"),
	   "stats: activity, both figures; no QEMU: the guest's is taxed");
	ok(!strcmp(json_get(h, "activity_source")->str, "host") &&
	   num(h, "activity_period_s") == ACT_PERIOD_DEFAULT_S,
	   "stats: host activity source and period");
	ok(json_get(g, "hypercalls") &&
	   num(json_get(g, "hypercalls"), "memory_op") == 2,
	   "stats: memory_op hypercalls counted");
	json_free(j);
	j = req("list", &ret);
	g = guest0(j);
	ok(ret == 0 && g && json_get(g, "ram_path") &&
	   !strcmp(json_get(g, "ram_path")->str, guests[0].ram_path),
	   "list: ram_path names the RAM QEMU opens (%s)",
	   guests[0].ram_path);
	json_free(j);
	j = req("stats t0", &ret);
	g = guest0(j);
	ok(g && json_get(g, "mem_stats") &&
	   json_get(g, "mem_stats")->type == J_NULL,
	   "stats: mem_stats null before the first POLL");
	json_free(j);

	/* balloon */
	j = req("balloon t0 48M", &ret);
	ok(ret == 0 && !strcmp(json_get(j, "target_mode")->str, "manual") &&
	   num(j, "target_pages") == 4096 &&
	   num(j, "target_mem_bytes") == 48 << 20,
	   "balloon t0 48M: balloon target 16 MiB = 4096 pages");
	json_free(j);
	j = req("stats t0", &ret);
	g = guest0(j);
	ok(g && num(g, "target_pages") == 4096 &&
	   !strcmp(json_get(g, "target_mode")->str, "manual"),
	   "stats shows the manual target");
	json_free(j);
	j = req("balloon t0 1G", &ret);
	ok(ret == 0 && num(j, "target_pages") == 0,
	   "balloon above RAM: target 0");
	json_free(j);
	j = req("balloon t0 auto", &ret);
	ok(ret == 0 && !strcmp(json_get(j, "target_mode")->str, "auto") &&
	   num(j, "target_pages") == 0, "balloon t0 auto");
	json_free(j);
	ok(is_error("balloon t0", "usage"), "balloon without size");
	ok(is_error("balloon t0 12Q", "bad size"), "balloon bad size");
	ok(is_error("balloon t0 -5M", "bad size"), "balloon negative size");
	ok(is_error("balloon nosuch 1G", "no such guest"),
	   "balloon unknown guest");

	/* p2m */
	j = req("p2m t1", &ret);
	e = json_get(j, "entries");
	ok(ret == 0 && e && e->type == J_ARR && num(j, "count") == 64 &&
	   num(e->child, "pfn") == 0 && num(e->child, "mfn") >= 0 &&
	   num(e->child, "pins") == 0 && !json_get(j, "truncated")->b,
	   "p2m default: 64 entries from PFN 0");
	json_free(j);
	j = req("p2m t1 0x1ff-0x201", &ret);
	e = json_get(j, "entries");
	ok(ret == 0 && num(j, "count") == 3 && e &&
	   num(e->child, "pfn") == 0x1ff &&
	   json_get(e->child, "mfn")->type == J_NUM &&
	   json_get(e->child->next, "mfn")->type == J_NULL &&
	   json_get(e->child->next->next, "mfn")->type == J_NULL,
	   "p2m 0x1ff-0x201: ballooned pages have mfn null");
	json_free(j);
	j = req("p2m t1 16380", &ret);
	ok(ret == 0 && num(j, "count") == 4 && !json_get(j, "truncated")->b,
	   "p2m START near the end: clamped to RAM");
	json_free(j);
	mem_pin(&guests[1], 5);
	j = req("p2m t1 5-5", &ret);
	e = json_get(j, "entries");
	ok(ret == 0 && num(j, "count") == 1 && e &&
	   num(e->child, "pins") == 1, "p2m shows pin counts");
	json_free(j);
	mem_unpin(&guests[1], 5);
	j = req("p2m t1 0-99999", &ret);
	ok(ret == 0 && num(j, "count") == 4096 &&
	   json_get(j, "truncated")->b && num(j, "next") == 4096,
	   "p2m output capped at 4096 entries");
	json_free(j);
	ok(is_error("p2m t1 abc", "bad PFN range"), "p2m: not a number");
	ok(is_error("p2m t1 5-", "bad PFN range"), "p2m: missing END");
	ok(is_error("p2m t1 -5", "bad PFN range"), "p2m: missing START");
	ok(is_error("p2m t1 9-3", "bad PFN range"), "p2m: END < START");
	ok(is_error("p2m t1 1-2-3", "bad PFN range"), "p2m: two dashes");
	ok(is_error("p2m t1 99999999999999999999", "bad PFN range"),
	   "p2m: overflow");
	ok(is_error("p2m t1 0x100000", "outside guest RAM"),
	   "p2m: range past RAM");
	ok(is_error("p2m nosuch", "no such guest"), "p2m: unknown guest");
	ok(is_error("p2m", "usage"), "p2m without guest");

	pfn = 0x200;
	gpa_write(&guests[1], 0x1000, &pfn, sizeof(pfn));
	ok(call(&guests[1], VPV_HC_MEMORY_OP, VPV_MEMOP_INCREASE, 0x1000, 1,
		9) == 1 && mem_check() == 0, "t1: 2 MiB back");
}

#define JSON_TOO_DEEP "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"

static void test_json(void)
{
	struct json *j;

	j = json_parse("{\"a\":[1,2,{\"b\":\"x\\\"y\\u0041\"}],\"t\":true,\"n\":null}");
	ok(j && json_get(j, "a")->child->next->next->type == J_OBJ &&
	   !strcmp(json_get(json_get(j, "a")->child->next->next, "b")->str,
		   "x\"yA") && json_get(j, "t")->b &&
	   json_get(j, "n")->type == J_NULL, "json: nested document");
	json_free(j);
	ok(!json_parse("{\"a\":1,}"), "json: trailing comma rejected");
	ok(!json_parse("{\"a\" 1}"), "json: missing colon rejected");
	ok(!json_parse("[1,2"), "json: truncated rejected");
	ok(!json_parse("\"abc"), "json: unterminated string rejected");
	ok(!json_parse("{} x"), "json: trailing garbage rejected");
	ok(!json_parse(JSON_TOO_DEEP), "json: depth limit");
	ok(!json_parse(""), "json: empty rejected");
}

static void test_config(void)
{
	struct host_cfg cfg;
	uint64_t v;
	char path[128];
	FILE *f;
	char *argv1[16] = { "vpv-host", "--name", "g0", "--kernel", "K",
			  "--mem", "1G", "--smp", "2", "--qemu-arg", "-s",
			  "--qemu-arg", "-S", "--accel", "tcg", NULL };
	char *argv2[6] = { "vpv-host", "--kernel", "K", "--mem", "1000", NULL };
	char *argv3[7] = { "vpv-host", "--config", path, "--no-qemu",
			  "--shm-size", "2M", NULL };
	char *argv4[6] = { "vpv-host", "--config", path, "--kernel", "K",
			  NULL };
	char *argv5[6] = { "vpv-host", "--kernel", "K", "--shm-size", "3M",
			  NULL };
	char *argv6[10] = { "vpv-host", "--kernel", "K", "--shares", "2000",
			   "--host-mem", "768M", "--idle-tax", "0.5", NULL };
	char *argv7[7] = { "vpv-host", "--config", path, "--idle-tax", "0.25",
			  "--no-qemu", NULL };
	char *argv8[4] = { "vpv-host", "--kernel", "K", NULL };
	char *argv9[8] = { "vpv-host", "--kernel", "K", "--hc-cpu", "1",
			  "--hc-poll-us", "50", NULL };

	ok(cfg_parse_size("512M", &v) == 0 && v == 512ull << 20, "size 512M");
	ok(cfg_parse_size("1G", &v) == 0 && v == 1ull << 30, "size 1G");
	ok(cfg_parse_size("4096", &v) == 0 && v == 4096, "size bytes");
	ok(cfg_parse_size("1x", &v) < 0, "size bad suffix");
	ok(cfg_parse_size("-1M", &v) < 0, "size negative");
	ok(cfg_parse_size("99999999999999999999", &v) < 0, "size overflow");
	ok(cfg_parse_size("17179869184G", &v) < 0, "size shift overflow");
	ok(cfg_valid_name("g0.a-b_c") && !cfg_valid_name("a/b") &&
	   !cfg_valid_name("") && !cfg_valid_name(".x") &&
	   !cfg_valid_name("a,b"), "guest name validation");

	ok(cfg_parse_args(&cfg, 15, argv1) == 0 && cfg.nr_guests == 1 &&
	   cfg.guests[0].mem == 1ull << 30 && cfg.guests[0].smp == 2 &&
	   cfg.guests[0].nr_qemu_args == 2 && cfg.accel == ACCEL_TCG &&
	   !strcmp(cfg.qemu, "qemu-system-x86_64"), "single-guest CLI");
	cfg_free(&cfg);
	ok(cfg_parse_args(&cfg, 5, argv2) < 0, "mem not a multiple of 1M");
	ok(cfg_parse_args(&cfg, 5, argv5) < 0, "shm-size not power of two");

	snprintf(path, sizeof(path), "%s/cfg.ini", test_dir);
	f = fopen(path, "w");
	fprintf(f,
		"# comment\n[guest a]\nkernel = /k\nappend = \"console=ttyS0 x=1\"\nmem=256M\nqemu_arg=-s\nqemu_arg = -S\n\n"
		"[guest b]\n smp = 3\n");
	fclose(f);
	ok(cfg_parse_args(&cfg, 6, argv3) == 0 && cfg.nr_guests == 2 &&
	   !strcmp(cfg.guests[0].append, "console=ttyS0 x=1") &&
	   cfg.guests[0].nr_qemu_args == 2 && cfg.guests[1].smp == 3 &&
	   cfg.guests[1].mem == 512ull << 20 && cfg.no_qemu &&
	   cfg.shm_size == 2 << 20, "config file with two guests");
	cfg_free(&cfg);
	ok(cfg_parse_args(&cfg, 5, argv4) < 0, "--config + --kernel rejected");

	ok(cfg_parse_args(&cfg, 3, argv8) == 0 && cfg.host_mem == 0 &&
	   cfg.idle_tax == 0.75 && cfg.guests[0].shares == 1000 &&
	   cfg.activity == ACT_SOURCE_HOST && cfg.activity_period == 0,
	   "defaults: host_mem 0 (sum of RAM), idle tax 0.75, shares 1000, host activity");
	ok(cfg.nr_guests == 1 && !cfg.guests[0].hc_cpu_set &&
	   !cfg.guests[0].hc_poll_us, "defaults: threads not pinned, no polling");
	cfg_free(&cfg);
	ok(cfg_parse_args(&cfg, 7, argv9) == 0 && cfg.guests[0].hc_cpu_set &&
	   cfg.guests[0].hc_cpu == 1 && cfg.guests[0].hc_poll_us == 50,
	   "--hc-cpu 1 --hc-poll-us 50");
	cfg_free(&cfg);
	argv9[6] = "1001";
	ok(cfg_parse_args(&cfg, 7, argv9) < 0, "--hc-poll-us 1001 rejected");
	cfg_free(&cfg);
	argv9[6] = "50";
	argv9[4] = "-1";
	ok(cfg_parse_args(&cfg, 7, argv9) < 0, "--hc-cpu -1 rejected");
	cfg_free(&cfg);
	ok(cfg_parse_args(&cfg, 9, argv6) == 0 && cfg.host_mem == 768 << 20 &&
	   cfg.idle_tax == 0.5 && cfg.guests[0].shares == 2000,
	   "--shares, --host-mem, --idle-tax");
	cfg_free(&cfg);
	{
		char *a[8] = { "vpv-host", "--kernel", "K", "--activity",
			       "guest", "--activity-period", "30", NULL };

		ok(cfg_parse_args(&cfg, 7, a) == 0 &&
		   cfg.activity == ACT_SOURCE_GUEST &&
		   cfg.activity_period == 30,
		   "--activity guest --activity-period 30");
		cfg_free(&cfg);
		a[4] = "qemu";
		ok(cfg_parse_args(&cfg, 7, a) < 0, "--activity qemu rejected");
		a[4] = "host";
		a[6] = "0";
		ok(cfg_parse_args(&cfg, 7, a) < 0,
		   "--activity-period 0 rejected");
		a[6] = "301";
		ok(cfg_parse_args(&cfg, 7, a) < 0,
		   "--activity-period 301 rejected");
	}
	argv6[8] = "1";
	ok(cfg_parse_args(&cfg, 9, argv6) < 0, "--idle-tax 1 rejected");
	argv6[8] = "-0.1";
	ok(cfg_parse_args(&cfg, 9, argv6) < 0, "--idle-tax -0.1 rejected");
	argv6[8] = "nan";
	ok(cfg_parse_args(&cfg, 9, argv6) < 0, "--idle-tax nan rejected");
	argv6[8] = "0";
	argv6[4] = "0";
	ok(cfg_parse_args(&cfg, 9, argv6) < 0, "--shares 0 rejected");
	argv6[4] = "1000";
	argv6[6] = "12Q";
	ok(cfg_parse_args(&cfg, 9, argv6) < 0, "--host-mem 12Q rejected");

	f = fopen(path, "w");
	fprintf(f,
		"[host]\nhost_mem = 1G\nidle_tax = 0.6\nactivity = guest\nactivity_period = 10\n[guest a]\nshares = 500\n[guest b]\n");
	fclose(f);
	ok(cfg_parse_args(&cfg, 6, argv3) == 0 && cfg.host_mem == 1 << 30 &&
	   cfg.idle_tax == 0.6 && cfg.guests[0].shares == 500 &&
	   cfg.activity == ACT_SOURCE_GUEST && cfg.activity_period == 10 &&
	   cfg.guests[1].shares == 1000, "[host] section and shares key");
	cfg_free(&cfg);
	ok(cfg_parse_args(&cfg, 6, argv7) == 0 && cfg.idle_tax == 0.25 &&
	   cfg.host_mem == 1 << 30, "--idle-tax overrides the [host] section");
	ok(!cfg.ram_dir, "no --ram-dir: RAM in memfds");
	cfg_free(&cfg);
	f = fopen(path, "w");
	fprintf(f, "[host]\nram_dir = /a\n[guest a]\n");
	fclose(f);
	ok(cfg_parse_args(&cfg, 4, argv3) == 0 && cfg.ram_dir &&
	   !strcmp(cfg.ram_dir, "/a"), "[host] ram_dir");
	cfg_free(&cfg);
	{
		char *argv_rd[7] = { "vpv-host", "--config", path, "--no-qemu",
				     "--ram-dir", "/dev/shm", NULL };

		ok(cfg_parse_args(&cfg, 6, argv_rd) == 0 &&
		   !strcmp(cfg.ram_dir, "/dev/shm"),
		   "--ram-dir overrides the [host] section");
		cfg_free(&cfg);
	}
	f = fopen(path, "w");
	fprintf(f, "[host]\nmem = 1G\n[guest a]\n");
	fclose(f);
	ok(cfg_parse_args(&cfg, 4, argv3) < 0, "guest key in [host] rejected");
	f = fopen(path, "w");
	fprintf(f, "[guest a]\nshares = 2000000\n");
	fclose(f);
	ok(cfg_parse_args(&cfg, 4, argv3) < 0, "shares above 1e6 rejected");

	f = fopen(path, "w");
	fprintf(f, "[guest a]\nbogus = 1\n");
	fclose(f);
	ok(cfg_parse_args(&cfg, 4, argv3) < 0, "unknown key rejected");
	f = fopen(path, "w");
	fprintf(f, "kernel = /k\n");
	fclose(f);
	ok(cfg_parse_args(&cfg, 4, argv3) < 0, "key outside section");
	f = fopen(path, "w");
	fprintf(f, "[guest a]\n[guest a]\n");
	fclose(f);
	ok(cfg_parse_args(&cfg, 4, argv3) < 0, "duplicate guest rejected");
	f = fopen(path, "w");
	fprintf(f, "[guest a]\nsmp = 0\n");
	fclose(f);
	ok(cfg_parse_args(&cfg, 4, argv3) < 0, "smp 0 rejected");
	unlink(path);
}

static void test_qemu_argv(void)
{
	struct guest_cfg gc = { .name = "t0", .kernel = "/k", .initrd = "/i",
				.append = "console=ttyS0 it's", .mem = 64 << 20,
				.smp = 2, .serial = "/tmp/c",
				.serial2 = "/tmp/c2" };
	char *qa[1] = { "-s" };
	struct host_cfg hc = { .qemu = "qemu-system-x86_64" };
	struct strv sv = { 0 };
	char *line;
	/* the expected command line, around the RAM (memfd) path */
	static const char * const want[] = {
		"-machine q35,accel=tcg,memory-backend=ram0 -cpu max,la57=off -m 64M -smp 2 -object memory-backend-file,id=ram0,size=64M,mem-path=",
		",share=on -kernel /k -initrd /i -append 'console=ttyS0 it'\\''s' -display none -nodefaults -no-reboot -serial file:/tmp/c -serial file:/tmp/c2 -chardev socket,path=/run/x/t0.sock,id=ivsh0 -device ivshmem-doorbell,chardev=ivsh0,vectors=11 -s",
	};

	gc.qemu_args = qa;
	gc.nr_qemu_args = 1;
	guests[0].cfg = &gc;
	guests[0].sock_path = strdup("/run/x/t0.sock");
	ok(qemu_build_argv(&hc, &guests[0], "tcg", &sv) == 0, "argv built");
	line = qemu_cmdline_str(&sv);
	printf("# %s\n", line);
	ok(line && strstr(line, want[0]) && strstr(line, want[1]) &&
	   strstr(line, guests[0].ram_path) &&
	   !strncmp(guests[0].ram_path, "/proc/", 6),
	   "QEMU command line as specified (RAM: the stub's memfd)");
	free(line);
	strv_free(&sv);
	ok(qemu_build_argv(&hc, &guests[0], "kvm", &sv) == 0 &&
	   !strcmp(sv.v[4], "host"), "kvm uses -cpu host");
	strv_free(&sv);
	gc.smp = 1;
	ok(qemu_build_argv(&hc, &guests[0], "tcg", &sv) == 0 &&
	   !strcmp(sv.v[8], "1,maxcpus=2"),
	   "one TCG vCPU still gets parallel atomics (maxcpus=2)");
	strv_free(&sv);
	ok(qemu_build_argv(&hc, &guests[0], "kvm", &sv) == 0 &&
	   !strcmp(sv.v[8], "1"), "one KVM vCPU: plain -smp 1");
	strv_free(&sv);
	gc.smp = 2;
	free(guests[0].sock_path);
	guests[0].sock_path = strdup("/run/a,b/t0.sock");
	ok(qemu_build_argv(&hc, &guests[0], "tcg", &sv) == -EINVAL,
	   "comma in a path rejected");
	strv_free(&sv);
	free(guests[0].sock_path);
	guests[0].sock_path = NULL;
	guests[0].cfg = NULL;
}

int main(void)
{
	test_dir_make();
	test_guest(&guests[0], 64ull << 20, 1);
	test_guest(&guests[1], 64ull << 20, 1);
	guests[0].accel = "tcg";
	test_ctl();
	test_ctl_mem();
	test_json();
	test_config();
	test_qemu_argv();
	guest_destroy(&guests[0]);
	guest_destroy(&guests[1]);
	test_dir_remove();
	return tap_done();
}
