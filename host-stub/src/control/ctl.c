// SPDX-License-Identifier: GPL-2.0
/*
 * Control protocol: one request line in, one JSON line out.
 *
 *   list          -> {"guests":[{"name":..,"pid":..,"state":..,...}]}
 *   stats [NAME]  -> {"host":{..},"guests":[{"name":..,"hypercalls":{..},
 *                     ..memory..}]}
 *   balloon NAME SIZE|auto -> {"name":..,"target_mode":..,...}
 *   p2m NAME [START[-END]] -> {"name":..,"entries":[{"pfn":..,..}],..}
 *   guest remove NAME -> {"removed":NAME}
 *   sharing [--peek] [NAME [START-END...]] -> {"pass":..,"guests":[..]}
 *   anything bad  -> {"error":"..."}
 *
 * Add a command: write a ctl_cmd_fn and add it to ctl_cmds[].
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

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
	sb_printf(out, ",\"mem\":%llu,\"smp\":%u,\"shm_size\":%llu",
		  (unsigned long long)g->ram_size, g->cfg ? g->cfg->smp :
		  g->nr_slots, (unsigned long long)g->shm_size);
	sb_puts(out, ",\"ram_path\":");
	sb_json_str(out, g->ram_path ? g->ram_path : "");
	hc_json(out, g);
	sb_puts(out, "}");
}

static int cmd_list(struct host *h, int argc, char **argv, struct sbuf *out)
{
	size_t i, n;

	(void)argc;
	(void)argv;
	sb_puts(out, "{\"guests\":[");
	for (i = 0, n = 0; i < h->nr_guests; i++) {
		if (h->guests[i].state == GUEST_REMOVED)
			continue;
		if (n++)
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
	STAT_FIELD(echoes),
	STAT_FIELD(hc_polls),
	STAT_FIELD(hc_poll_hits),
	STAT_FIELD(hc_poll_ns),
	STAT_FIELD(completion_irqs),
	STAT_FIELD(hcall_stale),
	STAT_FIELD(hcall_cancelled),
	STAT_FIELD(ev_to_guest),
	STAT_FIELD(ev_to_guest_coalesced),
	STAT_FIELD(ev_from_guest),
	STAT_FIELD(ev_unbound),
	STAT_FIELD(ev_dropped),
	STAT_FIELD(ev_irqs),
	STAT_FIELD(memop_polls),
	STAT_FIELD(memop_decreased_pages),
	STAT_FIELD(memop_increased_pages),
	STAT_FIELD(memop_2m_extents),
	STAT_FIELD(memop_reported_ranges),
	STAT_FIELD(memop_reported_bytes),
	STAT_FIELD(memop_errors),
	STAT_FIELD(memop_punch_fallbacks),
	STAT_FIELD(memop_unreclaimed_pages),
	STAT_FIELD(mmu_updates),
	STAT_FIELD(mmu_update_calls),
	STAT_FIELD(mmuext_ops),
	STAT_FIELD(pt_tampered),
	STAT_FIELD(mmu_errors),
	STAT_FIELD(store_requests),
	STAT_FIELD(store_errors),
	STAT_FIELD(store_watch_events),
	STAT_FIELD(store_watch_dropped),
	STAT_FIELD(store_protocol_errors),
	STAT_FIELD(grants_mapped),
	STAT_FIELD(grant_errors),
	STAT_FIELD(gnttab_copies),
	STAT_FIELD(bus_devices),
	STAT_FIELD(bus_protocol_errors),
	STAT_FIELD(vloop_requests),
	STAT_FIELD(vloop_refused),
	STAT_FIELD(backend_spawns),
	STAT_FIELD(backend_crashes),
	STAT_FIELD(backend_kills),
	STAT_FIELD(backend_failed),
	STAT_FIELD(backend_bad_msgs),
	STAT_FIELD(ram_faults),
};

#define BSTAT_FIELD(f)	{ #f, offsetof(struct vpv_balloon_stats, f) }

static const struct {
	const char *name;
	size_t off;
} balloon_stat_fields[] = {
	BSTAT_FIELD(balloon_pages),
	BSTAT_FIELD(total),
	BSTAT_FIELD(free),
	BSTAT_FIELD(available),
	BSTAT_FIELD(active_anon),
	BSTAT_FIELD(inactive_anon),
	BSTAT_FIELD(active_file),
	BSTAT_FIELD(inactive_file),
	BSTAT_FIELD(swap_in),
	BSTAT_FIELD(swap_out),
	BSTAT_FIELD(major_faults),
	BSTAT_FIELD(minor_faults),
	BSTAT_FIELD(oom_kills),
	BSTAT_FIELD(active_ppm),
};

/* A guest by name, not removed; NULL if none. */
struct guest *ctl_find_guest(struct host *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nr_guests; i++)
		if (h->guests[i].state != GUEST_REMOVED &&
		    !strcmp(h->guests[i].name, name))
			return &h->guests[i];
	return NULL;
}

static const char *target_mode(const struct mem_guest_info *mi)
{
	return mi->manual ? "manual" : "auto";
}

/* Bytes the guest's RAM file really occupies on the host. */
static uint64_t ram_file_bytes(const struct guest *g)
{
	struct stat st;

	if (g->ram_fd < 0 || fstat(g->ram_fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

/*
 * The two activity figures side by side: the guest's own (POLL) and
 * the host's sampled one, and which of them the idle tax uses.  Main
 * thread only (reads the sampler's state).
 */
static void json_guest_activity(struct sbuf *out, struct guest *g,
				const struct mem_guest_info *mi)
{
	const struct guest_activity *a = &g->act;
	uint32_t ppm;

	sb_puts(out, ",\"activity\":{\"source\":");
	sb_json_str(out, activity_figure_source(g, mi->have_stats));
	if (activity_policy_figure(g, mi->have_stats, mi->stats.active_ppm,
				   &ppm))
		sb_printf(out, ",\"policy_active_ppm\":%u", ppm);
	else
		sb_puts(out, ",\"policy_active_ppm\":null");
	if (mi->have_stats)
		sb_printf(out, ",\"guest_active_ppm\":%llu",
			  (unsigned long long)mi->stats.active_ppm);
	else
		sb_puts(out, ",\"guest_active_ppm\":null");
	if (activity_host_ppm(g, &ppm))
		sb_printf(out,
			  ",\"host_active_ppm\":%u,\"host_last_ppm\":%u,\"host_fast_ppm\":%u,\"host_slow_ppm\":%u",
			  ppm, act_frac_ppm(a->est.last),
			  act_frac_ppm(a->est.fast), act_frac_ppm(a->est.slow));
	else
		sb_puts(out, ",\"host_active_ppm\":null");
	sb_printf(out,
		  ",\"host_samples\":%llu,\"period_ms\":%llu,\"referenced_bytes\":%llu,\"rss_bytes\":%llu",
		  (unsigned long long)a->est.samples,
		  (unsigned long long)a->window_ms,
		  (unsigned long long)a->last.referenced,
		  (unsigned long long)a->last.rss);
	sb_printf(out,
		  ",\"sample_us\":%llu,\"sample_cpu_us\":%llu,\"sample_errors\":%llu,\"samples_dropped\":%llu,\"sample_in_flight\":%s",
		  (unsigned long long)a->sample_us,
		  (unsigned long long)a->sample_cpu_us,
		  (unsigned long long)a->errors,
		  (unsigned long long)a->dropped, a->job ? "true" : "false");
	if (a->err) {
		sb_puts(out, ",\"sample_error\":");
		sb_json_str(out, strerror(-a->err));
	}
	sb_puts(out, "}");
}

static void json_guest_mem(struct sbuf *out, struct guest *g)
{
	struct mem_guest_info mi;
	size_t i;

	mem_guest_info(g, &mi);
	sb_printf(out, ",\"ram_pages\":%llu,\"target_mode\":\"%s\"",
		  (unsigned long long)mi.ram_pages, target_mode(&mi));
	sb_printf(out, ",\"target_pages\":%llu,\"target_mem_bytes\":%llu",
		  (unsigned long long)mi.target_pages,
		  (unsigned long long)(mi.ram_pages - mi.target_pages) << 12);
	sb_printf(out, ",\"balloon_pages_guest\":%llu",
		  (unsigned long long)(mi.have_stats ?
				       mi.stats.balloon_pages : 0));
	sb_printf(out, ",\"p2m_invalid_pages\":%llu,\"populated_pages\":%llu",
		  (unsigned long long)mi.invalid_pages,
		  (unsigned long long)mi.populated_pages);
	sb_printf(out, ",\"pinned_pages\":%llu,\"ram_file_bytes\":%llu",
		  (unsigned long long)mi.pinned_pages,
		  (unsigned long long)ram_file_bytes(g));
	json_guest_activity(out, g, &mi);
	sb_printf(out, ",\"shares\":%u,\"mem_stats\":", mi.shares);
	if (!mi.have_stats) {
		sb_puts(out, "null");
		return;
	}
	sb_printf(out, "{\"age_ms\":%llu",
		  (unsigned long long)mi.stats_age_ms);
	for (i = 0; i < ARRAY_SIZE(balloon_stat_fields); i++) {
		const uint64_t *p = (const uint64_t *)((const char *)&mi.stats +
					balloon_stat_fields[i].off);

		sb_printf(out, ",\"%s\":%llu", balloon_stat_fields[i].name,
			  (unsigned long long)*p);
	}
	sb_puts(out, "}");
}

/* The stub's open fds (not counting the directory read), -1 on error. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

static void json_host_mem(struct sbuf *out)
{
	struct mem_host_info hi;

	mem_host_info(&hi);
	sb_printf(out,
		  "\"host\":{\"host_mem\":%llu,\"host_mem_pages\":%llu,\"host_mem_set\":%s",
		  (unsigned long long)hi.budget_pages << 12,
		  (unsigned long long)hi.budget_pages,
		  hi.budget_set ? "true" : "false");
	sb_printf(out,
		  ",\"pool_pages\":%llu,\"populated_pages\":%llu,\"overcommitted\":%s,\"idle_tax\":%.6g",
		  (unsigned long long)hi.pool_pages,
		  (unsigned long long)hi.populated_pages,
		  hi.overcommitted ? "true" : "false", hi.idle_tax);
	sb_printf(out, ",\"activity_source\":\"%s\",\"activity_period_s\":%u",
		  activity_source() == ACT_SOURCE_HOST ? "host" : "guest",
		  activity_period_s());
	/* activity_fds: the samples in flight hold a /proc/PID fd each */
	sb_printf(out, ",\"fds\":%d,\"activity_fds\":%u}", count_fds(),
		  act_jobs_fds());
}

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
	subsys_stats(out, g);
	ctl_json_vifs(out, g);
	sb_printf(out, ",\"fds\":%u", guest_nr_fds(g));
	hc_json(out, g);
	json_guest_mem(out, g);
	sb_puts(out, "}");
}

static int cmd_stats(struct host *h, int argc, char **argv, struct sbuf *out)
{
	bool first = true, found = false;
	size_t i;

	sb_puts(out, "{");
	json_host_mem(out);
	sb_puts(out, ",\"guests\":[");
	for (i = 0; i < h->nr_guests; i++) {
		if (h->guests[i].state == GUEST_REMOVED ||
		    (argc > 1 && strcmp(argv[1], h->guests[i].name)))
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

static void json_balloon(struct sbuf *out, struct guest *g)
{
	struct mem_guest_info mi;

	mem_guest_info(g, &mi);
	sb_puts(out, "{\"name\":");
	sb_json_str(out, g->name);
	sb_printf(out,
		  ",\"target_mode\":\"%s\",\"target_pages\":%llu,\"target_mem_bytes\":%llu,\"ram_pages\":%llu}",
		  target_mode(&mi), (unsigned long long)mi.target_pages,
		  (unsigned long long)(mi.ram_pages - mi.target_pages) << 12,
		  (unsigned long long)mi.ram_pages);
}

/* balloon GUEST SIZE|auto */
static int cmd_balloon(struct host *h, int argc, char **argv,
		       struct sbuf *out)
{
	struct guest *g = ctl_find_guest(h, argv[1]);
	uint64_t size = 0;
	bool manual;
	int ret;

	(void)argc;
	if (!g) {
		ctl_error(out, "no such guest");
		return -ENOENT;
	}
	manual = strcmp(argv[2], "auto") != 0;
	if (manual && cfg_parse_size(argv[2], &size)) {
		ctl_error(out, "bad size (e.g. 256M, or auto)");
		return -EINVAL;
	}
	ret = mem_set_manual(g, manual, size);
	if (ret) {
		ctl_error(out, "guest has no memory manager state");
		return ret;
	}
	json_balloon(out, g);
	return 0;
}

#define P2M_DEFAULT_PAGES	64
#define P2M_MAX_ENTRIES		4096

/* A PFN: decimal or 0x hex, digits only (no sign, no blanks). */
static int parse_pfn(const char *s, const char *end, uint64_t *out)
{
	unsigned long long v;
	char buf[32], *e;
	size_t n = end - s;

	if (!n || n >= sizeof(buf) || !isdigit((unsigned char)*s))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &e, 0);
	if (errno || *e || v > (UINT64_MAX >> 12))
		return -EINVAL;
	*out = v;
	return 0;
}

/* "START", "START-END" (END inclusive) */
static int parse_pfn_range(const char *s, uint64_t *start, uint64_t *end)
{
	const char *dash = strchr(s, '-');

	if (!dash) {
		if (parse_pfn(s, s + strlen(s), start))
			return -EINVAL;
		*end = *start + P2M_DEFAULT_PAGES - 1;
		return 0;
	}
	if (parse_pfn(s, dash, start) ||
	    parse_pfn(dash + 1, dash + 1 + strlen(dash + 1), end) ||
	    *end < *start)
		return -EINVAL;
	return 0;
}

/* p2m GUEST [START[-END]] */
static int cmd_p2m(struct host *h, int argc, char **argv, struct sbuf *out)
{
	struct guest *g = ctl_find_guest(h, argv[1]);
	uint64_t start = 0, end = P2M_DEFAULT_PAGES - 1, pfn, low, high;
	unsigned int n = 0, pins;
	bool truncated = false;
	uint32_t mfn;

	if (!g) {
		ctl_error(out, "no such guest");
		return -ENOENT;
	}
	if (argc > 2 && parse_pfn_range(argv[2], &start, &end)) {
		ctl_error(out, "bad PFN range (START or START-END)");
		return -EINVAL;
	}
	low = g->lowmem >> 12;		/* PFNs [0, low) and [4G, high) */
	high = (0x100000000ull >> 12) + ((g->ram_size - g->lowmem) >> 12);
	sb_puts(out, "{\"name\":");
	sb_json_str(out, g->name);
	sb_printf(out, ",\"start\":%llu,\"end\":%llu,\"entries\":[",
		  (unsigned long long)start, (unsigned long long)end);
	for (pfn = start; pfn <= end; pfn++) {
		if (pfn >= low && pfn < (0x100000000ull >> 12))
			pfn = 0x100000000ull >> 12;	/* skip the hole */
		if (pfn > end || pfn >= high ||
		    mem_p2m_lookup(g, pfn, &mfn, &pins))
			break;
		if (n == P2M_MAX_ENTRIES) {
			truncated = true;
			break;
		}
		sb_printf(out, "%s{\"pfn\":%llu,\"mfn\":", n ? "," : "",
			  (unsigned long long)pfn);
		if (mfn == MEM_MFN_INVALID)
			sb_puts(out, "null");
		else
			sb_printf(out, "%u", mfn);
		sb_printf(out, ",\"pins\":%u}", pins);
		n++;
	}
	if (!n) {
		ctl_error(out, "PFN range outside guest RAM");
		return -ERANGE;
	}
	sb_printf(out, "],\"count\":%u,\"truncated\":%s", n,
		  truncated ? "true" : "false");
	if (truncated)
		sb_printf(out, ",\"next\":%llu", (unsigned long long)pfn);
	sb_puts(out, "}");
	return 0;
}

#define SHARING_MAX_RANGES	8

static void json_sharing_counts(struct sbuf *out, uint64_t pages,
				const struct sharing_counts *c)
{
	sb_printf(out,
		  "\"pages\":%llu,\"scanned_pages\":%llu,\"zero_pages\":%llu,\"dup_pages\":%llu,\"cross_pages\":%llu,\"unique_pages\":%llu",
		  (unsigned long long)pages, (unsigned long long)c->scanned,
		  (unsigned long long)c->zero, (unsigned long long)c->dup,
		  (unsigned long long)c->cross, (unsigned long long)c->unique);
}

static void json_sharing_guest(struct sbuf *out,
			       const struct sharing_guest *sg, int nr_ranges,
			       const uint64_t (*ranges)[2])
{
	struct sharing_counts c = {
		.scanned = sg->scanned_pages, .zero = sg->zero_pages,
		.dup = sg->dup_pages, .cross = sg->cross_pages,
		.unique = sg->unique_pages,
	};
	uint64_t n;
	int i;

	sb_puts(out, "{\"name\":");
	sb_json_str(out, sg->name);
	sb_puts(out, ",");
	json_sharing_counts(out, sg->nr_pages, &c);
	sb_printf(out, ",\"hole_pages\":%llu",
		  (unsigned long long)(sg->nr_pages - sg->scanned_pages));
	if (sg->err) {
		sb_puts(out, ",\"error\":");
		sb_json_str(out, strerror(-sg->err));
	}
	if (nr_ranges) {
		sb_puts(out, ",\"ranges\":[");
		for (i = 0; i < nr_ranges; i++) {
			n = sharing_range(sg, ranges[i][0], ranges[i][1], &c);
			sb_printf(out, "%s{\"start\":%llu,\"end\":%llu,",
				  i ? "," : "",
				  (unsigned long long)ranges[i][0],
				  (unsigned long long)ranges[i][1]);
			json_sharing_counts(out, n, &c);
			sb_puts(out, "}");
		}
		sb_puts(out, "]");
	}
	sb_puts(out, "}");
}

/* A finished pass's totals, its cost and its rate, as JSON members. */
static void json_sharing_pass(struct sbuf *out, const struct sharing_pass *p)
{
	double s = (p->wall_us ?: 1) / 1e6;	/* 0 us: as 1 */

	sb_printf(out,
		  ",\"scanned_pages\":%llu,\"zero_pages\":%llu,\"distinct_pages\":%llu,\"saved_pages\":%llu,\"saved_bytes\":%llu,\"saved_nonzero_pages\":%llu",
		  (unsigned long long)p->scanned_pages,
		  (unsigned long long)p->zero_pages,
		  (unsigned long long)p->distinct_pages,
		  (unsigned long long)p->saved_pages,
		  (unsigned long long)p->saved_pages << 12,
		  (unsigned long long)p->saved_nonzero_pages);
	sb_printf(out,
		  ",\"hash_matches\":%llu,\"collisions\":%llu,\"cpu_us\":%llu,\"wall_us\":%llu,\"pages_per_s\":%.0f,\"table_bytes\":%llu",
		  (unsigned long long)p->hash_matches,
		  (unsigned long long)p->collisions,
		  (unsigned long long)p->cpu_us,
		  (unsigned long long)p->wall_us, p->scanned_pages / s,
		  (unsigned long long)p->table_bytes);
}

/*
 * sharing [--peek] [GUEST [START-END...]]: the latest finished pass of
 * the page-sharing scan (sharing.c); starts a new pass unless one runs
 * or --peek.  With GUEST only its figures, with ranges also the counts
 * of its pages in PFNs START..END (inclusive).
 */
static int cmd_sharing(struct host *h, int argc, char **argv,
		       struct sbuf *out)
{
	uint64_t ranges[SHARING_MAX_RANGES][2], run_seq;
	const struct sharing_pass *p;
	const char *name = NULL;
	int i, a = 1, nr = 0, err;
	bool peek = false, running;
	int64_t started = 0;
	uint32_t gi;

	if (a < argc && !strcmp(argv[a], "--peek")) {
		peek = true;
		a++;
	}
	if (a < argc) {
		name = argv[a++];
		if (!ctl_find_guest(h, name)) {
			ctl_error(out, "no such guest");
			return -ENOENT;
		}
	}
	for (; a < argc; a++) {
		if (nr == SHARING_MAX_RANGES || !strchr(argv[a], '-') ||
		    parse_pfn_range(argv[a], &ranges[nr][0], &ranges[nr][1]))
			goto usage;
		nr++;
	}
	if (!peek) {
		sharing_latest(&running, &run_seq, &err);
		started = sharing_start(h);
		if (started < 0) {
			ctl_error(out, "cannot start a scan");
			return (int)started;
		}
		started = !running;	/* this request started it */
	}
	p = sharing_latest(&running, &run_seq, &err);
	sb_printf(out,
		  "{\"pass\":%llu,\"running\":%s,\"running_pass\":%llu,\"started\":%s",
		  (unsigned long long)(p ? p->seq : 0),
		  running ? "true" : "false", (unsigned long long)run_seq,
		  started ? "true" : "false");
	if (err) {
		sb_puts(out, ",\"pass_error\":");
		sb_json_str(out, strerror(-err));
	}
	if (!p) {
		sb_puts(out, ",\"guests\":[]}");
		return 0;
	}
	json_sharing_pass(out, p);
	sb_puts(out, ",\"guests\":[");
	for (gi = 0, i = 0; gi < p->nr_guests; gi++) {
		if (name && strcmp(name, p->guests[gi].name))
			continue;
		if (i++)
			sb_puts(out, ",");
		json_sharing_guest(out, &p->guests[gi], nr, ranges);
	}
	sb_puts(out, "]}");
	return 0;
usage:
	ctl_error(out, "usage: sharing [--peek] [GUEST [START-END...]] (up to 8 ranges)");
	return -EINVAL;
}

/*
 * guest remove NAME: stop its QEMU (main loop's guest_detach), then
 * release everything it has.  Other guests keep running; their grant
 * copies naming it get -VPV_ENOENT from then on.
 */
static int cmd_guest(struct host *h, int argc, char **argv, struct sbuf *out)
{
	struct guest *g;

	(void)argc;
	if (strcmp(argv[1], "remove")) {
		ctl_error(out, "usage: guest remove GUEST");
		return -EINVAL;
	}
	g = ctl_find_guest(h, argv[2]);
	if (!g) {
		ctl_error(out, "no such guest");
		return -ENOENT;
	}
	if (h->guest_detach)
		h->guest_detach(h, g);
	guest_destroy(g);
	g->state = GUEST_REMOVED;
	sb_puts(out, "{\"removed\":");
	sb_json_str(out, g->name);
	sb_puts(out, "}");
	return 0;
}

/* hc GUEST cpu N|any, hc GUEST poll_us N: the hypercall thread */
static int cmd_hc(struct host *h, int argc, char **argv, struct sbuf *out)
{
	struct guest *g = ctl_find_guest(h, argv[1]);
	unsigned long v = 0;
	char *end = NULL;
	int ret = 0;

	(void)argc;
	if (!g) {
		ctl_error(out, "no such guest");
		return -ENOENT;
	}
	if (strcmp(argv[3], "any")) {
		errno = 0;
		v = strtoul(argv[3], &end, 10);
		if (errno || *end || !isdigit((unsigned char)argv[3][0]))
			goto usage;
	}
	if (!strcmp(argv[2], "cpu")) {
		ret = hc_set_cpu(g, end ? (v < INT_MAX ? (int)v : INT_MAX) : -1);
		if (ret) {
			ctl_error(out, "cannot pin to that CPU");
			return ret;
		}
	} else if (!strcmp(argv[2], "poll_us") && end && v <= HC_POLL_US_MAX) {
		hc_set_poll_us(g, (unsigned int)v);
	} else {
		goto usage;
	}
	sb_puts(out, "{\"name\":");
	sb_json_str(out, g->name);
	hc_json(out, g);
	sb_puts(out, "}");
	return 0;
usage:
	ctl_error(out, "usage: hc GUEST cpu N|any | hc GUEST poll_us 0..1000");
	return -EINVAL;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "list", 0, 0, "list", cmd_list },
	{ "stats", 0, 1, "stats [GUEST]", cmd_stats },
	{ "balloon", 2, 2, "balloon GUEST SIZE|auto", cmd_balloon },
	{ "p2m", 1, 2, "p2m GUEST [START[-END]]", cmd_p2m },
	{ "store", 2, VPV_CTL_MAX_ARGS - 1,
	  "store ls|read|write|rm PATH [VALUE...]",
	  ctl_cmd_store },
	{ "device", 1, DEV_ARGS_MAX,
	  "device add GUEST TYPE ID [vbd or vif options] | resize GUEST vbd/ID SIZE | remove|restart|kill GUEST TYPE/ID | list [GUEST]",
	  ctl_cmd_device },
	{ "switch", 1, 2, "switch list | switch kill NAME", ctl_cmd_switch },
	{ "guest", 2, 2, "guest remove GUEST", cmd_guest },
	{ "hc", 3, 3, "hc GUEST cpu N|any | hc GUEST poll_us US", cmd_hc },
	{ "sharing", 0, 2 + SHARING_MAX_RANGES,
	  "sharing [--peek] [GUEST [START-END...]]", cmd_sharing },
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
		if (out->len >= VPV_CTL_MAX_REPLY) {	/* + newline */
			sb_free(out);
			ctl_error(out, "reply too large");
			return -E2BIG;
		}
		return ret;
	}
	ctl_error(out, "unknown command");
	return -EOPNOTSUPP;
}

int ctl_listen(const char *path)
{
	return unix_listen(path, 16);
}
