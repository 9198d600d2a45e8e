// SPDX-License-Identifier: GPL-2.0
/*
 * Command line and --config file parsing.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"

#define MEM_MIN		(32ull << 20)
#define MEM_MAX		(1ull << 40)
#define SMP_MAX		255

/* "512M", "1G", "4096K", "1048576": binary suffixes, no overflow. */
int cfg_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		shift = 10;
		end++;
		break;
	case 'm': case 'M':
		shift = 20;
		end++;
		break;
	case 'g': case 'G':
		shift = 30;
		end++;
		break;
	case 't': case 'T':
		shift = 40;
		end++;
		break;
	}
	if (*end == 'i' && shift)	/* accept "MiB"-ish "Mi" */
		end++;
	if (*end == 'B' && shift)
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

bool cfg_valid_name(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (!n || n > VPV_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = name[i];

		if (!isalnum(c) && c != '_' && c != '-' &&
		    !(c == '.' && i > 0))
			return false;
	}
	return true;
}

static int set_str(char **dst, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static struct guest_cfg *cfg_add_guest(struct host_cfg *cfg,
				       const char *name)
{
	struct guest_cfg *gs, *gc;
	size_t i;

	if (!cfg_valid_name(name)) {
		fprintf(stderr,
			"vpv-host: invalid guest name '%s' (1-%d of [A-Za-z0-9_.-])\n",
			name, VPV_NAME_MAX);
		return NULL;
	}
	for (i = 0; i < cfg->nr_guests; i++) {
		if (!strcmp(cfg->guests[i].name, name)) {
			fprintf(stderr, "vpv-host: duplicate guest '%s'\n",
				name);
			return NULL;
		}
	}
	if (cfg->nr_guests >= VPV_MAX_GUESTS) {
		fprintf(stderr, "vpv-host: too many guests\n");
		return NULL;
	}
	gs = realloc(cfg->guests, (cfg->nr_guests + 1) * sizeof(*gs));
	if (!gs)
		return NULL;
	cfg->guests = gs;
	gc = &gs[cfg->nr_guests];
	memset(gc, 0, sizeof(*gc));
	gc->name = strdup(name);
	if (!gc->name)
		return NULL;
	gc->mem = 512ull << 20;
	gc->smp = 1;
	gc->shares = MEM_SHARES_DEFAULT;
	cfg->nr_guests++;
	return gc;
}

static int guest_add_qemu_arg(struct guest_cfg *gc, const char *arg)
{
	char **v = realloc(gc->qemu_args,
			   (gc->nr_qemu_args + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	gc->qemu_args = v;
	v[gc->nr_qemu_args] = strdup(arg);
	if (!v[gc->nr_qemu_args])
		return -ENOMEM;
	gc->nr_qemu_args++;
	return 0;
}

static int parse_mem(const char *val, uint64_t *mem)
{
	uint64_t v;

	if (cfg_parse_size(val, &v) || v < MEM_MIN || v > MEM_MAX ||
	    (v & ((1ull << 20) - 1))) {
		fprintf(stderr,
			"vpv-host: bad memory size '%s' (32M..1T, multiple of 1M)\n",
			val);
		return -EINVAL;
	}
	*mem = v;
	return 0;
}

static int parse_smp(const char *val, unsigned int *smp)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || *end || end == val || v < 1 || v > SMP_MAX) {
		fprintf(stderr, "vpv-host: bad smp '%s' (1..%d)\n", val,
			SMP_MAX);
		return -EINVAL;
	}
	*smp = v;
	return 0;
}

static int parse_shares(const char *val, unsigned int *shares)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || *end || end == val || !isdigit((unsigned char)*val) ||
	    v < 1 || v > MEM_SHARES_MAX) {
		fprintf(stderr, "vpv-host: bad shares '%s' (1..%u)\n", val,
			MEM_SHARES_MAX);
		return -EINVAL;
	}
	*shares = v;
	return 0;
}

/* A decimal number in [0, max], digits only. */
static int parse_uint(const char *what, const char *val, unsigned int max,
		      unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || *end || !isdigit((unsigned char)*val) || v > max) {
		fprintf(stderr, "vpv-host: bad %s '%s' (0..%u)\n", what, val,
			max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* hc_cpu: a CPU number below glibc's CPU_SETSIZE (1024); whether it
 * exists and is online is checked when the threads are pinned
 */
#define HC_CPU_MAX	1023

static int parse_hc_cpu(const char *val, struct guest_cfg *gc)
{
	gc->hc_cpu_set = !parse_uint("hc_cpu", val, HC_CPU_MAX, &gc->hc_cpu);
	return gc->hc_cpu_set ? 0 : -EINVAL;
}

static int parse_host_mem(const char *val, uint64_t *bytes)
{
	uint64_t v;

	if (cfg_parse_size(val, &v) || v < (1ull << 20) || v > MEM_MAX * 64) {
		fprintf(stderr, "vpv-host: bad host memory '%s' (1M..64T)\n",
			val);
		return -EINVAL;
	}
	*bytes = v & ~0xfffull;
	return 0;
}

static int parse_idle_tax(const char *val, double *tax)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(val, &end);
	if (errno || *end || end == val || !(v >= 0.0 && v < 1.0)) {
		fprintf(stderr, "vpv-host: bad idle tax '%s' (0 <= tax < 1)\n",
			val);
		return -EINVAL;
	}
	*tax = v;
	return 0;
}

static int parse_activity(const char *val, enum act_source *src)
{
	if (!strcmp(val, "host")) {
		*src = ACT_SOURCE_HOST;
	} else if (!strcmp(val, "guest")) {
		*src = ACT_SOURCE_GUEST;
	} else {
		fprintf(stderr, "vpv-host: bad activity source '%s' (host|guest)\n",
			val);
		return -EINVAL;
	}
	return 0;
}

static int parse_activity_period(const char *val, unsigned int *period)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || *end || end == val || v < 1 || v > ACT_PERIOD_MAX_S) {
		fprintf(stderr,
			"vpv-host: bad activity period '%s' (1..%u seconds)\n",
			val, ACT_PERIOD_MAX_S);
		return -EINVAL;
	}
	*period = v;
	return 0;
}

/* --backend-max-crashes 1..1000000, --backend-crash-window 1..3600 s */
static int parse_uint_in(const char *what, const char *val, unsigned long max,
			 unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || *end || end == val || val[0] == '-' || v < 1 ||
	    v > max) {
		fprintf(stderr, "vpv-host: bad %s '%s' (1..%lu)\n", what, val,
			max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

#define BACKEND_MAX_CRASHES_MAX	1000000ul	/* a test's crash loop */
#define BACKEND_WINDOW_MAX_S	3600ul		/* an hour */

/* Apply one key=value of the [host] section. */
static int host_set(struct host_cfg *cfg, const char *key, const char *val)
{
	if (!strcmp(key, "host_mem") || !strcmp(key, "host-mem"))
		return parse_host_mem(val, &cfg->host_mem);
	if (!strcmp(key, "idle_tax") || !strcmp(key, "idle-tax"))
		return parse_idle_tax(val, &cfg->idle_tax);
	if (!strcmp(key, "activity"))
		return parse_activity(val, &cfg->activity);
	if (!strcmp(key, "activity_period") ||
	    !strcmp(key, "activity-period"))
		return parse_activity_period(val, &cfg->activity_period);
	if (!strcmp(key, "ram_dir") || !strcmp(key, "ram-dir"))
		return set_str(&cfg->ram_dir, val);
	if (!strcmp(key, "backend_max_crashes") ||
	    !strcmp(key, "backend-max-crashes"))
		return parse_uint_in("backend-max-crashes", val,
				     BACKEND_MAX_CRASHES_MAX,
				     &cfg->backend_max_crashes);
	if (!strcmp(key, "backend_crash_window") ||
	    !strcmp(key, "backend-crash-window"))
		return parse_uint_in("backend-crash-window", val,
				     BACKEND_WINDOW_MAX_S,
				     &cfg->backend_crash_window);
	fprintf(stderr, "vpv-host: unknown host key '%s'\n", key);
	return -EINVAL;
}

/* Apply one key=value to a guest (config file keys = long options). */
static int guest_set(struct guest_cfg *gc, const char *key, const char *val)
{
	if (!strcmp(key, "kernel"))
		return set_str(&gc->kernel, val);
	if (!strcmp(key, "initrd"))
		return set_str(&gc->initrd, val);
	if (!strcmp(key, "append"))
		return set_str(&gc->append, val);
	if (!strcmp(key, "serial"))
		return set_str(&gc->serial, val);
	if (!strcmp(key, "serial2"))
		return set_str(&gc->serial2, val);
	if (!strcmp(key, "mem"))
		return parse_mem(val, &gc->mem);
	if (!strcmp(key, "smp"))
		return parse_smp(val, &gc->smp);
	if (!strcmp(key, "qemu_arg") || !strcmp(key, "qemu-arg"))
		return guest_add_qemu_arg(gc, val);
	if (!strcmp(key, "shares"))
		return parse_shares(val, &gc->shares);
	if (!strcmp(key, "hc_cpu") || !strcmp(key, "hc-cpu"))
		return parse_hc_cpu(val, gc);
	if (!strcmp(key, "hc_poll_us") || !strcmp(key, "hc-poll-us"))
		return parse_uint("hc_poll_us", val, HC_POLL_US_MAX,
				  &gc->hc_poll_us);
	fprintf(stderr, "vpv-host: unknown guest key '%s'\n", key);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int cfg_load_file(struct host_cfg *cfg, const char *path)
{
	struct guest_cfg *gc = NULL;
	bool in_host = false;
	char *line = NULL;
	size_t cap = 0;
	unsigned int lineno = 0;
	int ret = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "vpv-host: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (getline(&line, &cap, f) >= 0) {
		char *s = trim(line), *eq, *key, *val;
		size_t n;

		lineno++;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			n = strlen(s);
			if (s[n - 1] != ']')
				goto syntax;
			s[n - 1] = '\0';
			if (!strcmp(trim(s + 1), "host")) {
				in_host = true;
				gc = NULL;
				continue;
			}
			if (strncmp(s, "[guest", 6) ||
			    !isspace((unsigned char)s[6]))
				goto syntax;
			in_host = false;
			gc = cfg_add_guest(cfg, trim(s + 6));
			if (!gc) {
				ret = -EINVAL;
				goto out;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq || (!gc && !in_host))
			goto syntax;
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		n = strlen(val);
		if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
			val[n - 1] = '\0';
			val++;
		}
		ret = in_host ? host_set(cfg, key, val) :
				guest_set(gc, key, val);
		if (ret) {
			fprintf(stderr, "vpv-host: %s:%u: bad value for '%s'\n",
				path, lineno, key);
			goto out;
		}
	}
	if (ferror(f))
		ret = -EIO;
	goto out;
syntax:
	fprintf(stderr, "vpv-host: %s:%u: syntax error\n", path, lineno);
	ret = -EINVAL;
out:
	free(line);
	fclose(f);
	return ret;
}

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: vpv-host --name NAME --kernel K [--initrd I] [--append A]\n"
		"                [--mem 512M] [--smp 1] [--serial FILE] [--serial2 FILE]\n"
		"                [--shares 1000] [--qemu-arg ARG]...\n"
		"                [--hc-cpu CPU] [--hc-poll-us 0]\n"
		"       vpv-host --config FILE\n"
		"  common: [--run-dir DIR] [--ctl SOCK] [--accel auto|kvm|tcg]\n"
		"          [--qemu PATH] [--shm-size 1M] [--no-qemu]\n"
		"          [--host-mem SIZE] [--idle-tax 0.75] [--ram-dir DIR]\n"
		"          [--activity host|guest] [--activity-period 5]\n"
		"          [--backend-max-crashes 5] [--backend-crash-window 10]\n"
		"  --host-mem: memory budget for all guests (default: the sum\n"
		"  of their RAM); above it the stub balloons guests by shares,\n"
		"  charging idle memory at --idle-tax (0 <= tax < 1) on the\n"
		"  active fraction the host samples every --activity-period\n"
		"  seconds (--activity guest: the guest's own figure)\n"
		"  --ram-dir: guest RAM files there (default: memfd, tmpfs)\n"
		"  --hc-cpu: pin the guest's hypercall and echo threads\n"
		"  --hc-poll-us: poll the hypercall slots that long before\n"
		"  sleeping, the guest skips its doorbells (0: off, default)\n"
		"  --backend-max-crashes: a device whose back-end process\n"
		"  dies that often within --backend-crash-window seconds is\n"
		"  failed (vpv-ctl device restart brings it back)\n");
}

enum {
	OPT_NAME = 256, OPT_KERNEL, OPT_INITRD, OPT_APPEND, OPT_MEM, OPT_SMP,
	OPT_SERIAL, OPT_SERIAL2, OPT_QEMU_ARG, OPT_SHARES, OPT_HC_CPU,
	OPT_HC_POLL_US, OPT_CONFIG,
	OPT_RUN_DIR, OPT_CTL, OPT_ACCEL, OPT_QEMU, OPT_SHM_SIZE, OPT_NO_QEMU,
	OPT_HOST_MEM, OPT_IDLE_TAX, OPT_ACTIVITY, OPT_ACTIVITY_PERIOD,
	OPT_RAM_DIR, OPT_BE_MAX_CRASHES, OPT_BE_CRASH_WINDOW, OPT_HELP,
};

static const struct option long_opts[] = {
	{ "name", required_argument, NULL, OPT_NAME },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "smp", required_argument, NULL, OPT_SMP },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "serial2", required_argument, NULL, OPT_SERIAL2 },
	{ "qemu-arg", required_argument, NULL, OPT_QEMU_ARG },
	{ "shares", required_argument, NULL, OPT_SHARES },
	{ "hc-cpu", required_argument, NULL, OPT_HC_CPU },
	{ "hc-poll-us", required_argument, NULL, OPT_HC_POLL_US },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "ctl", required_argument, NULL, OPT_CTL },
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "qemu", required_argument, NULL, OPT_QEMU },
	{ "shm-size", required_argument, NULL, OPT_SHM_SIZE },
	{ "no-qemu", no_argument, NULL, OPT_NO_QEMU },
	{ "host-mem", required_argument, NULL, OPT_HOST_MEM },
	{ "idle-tax", required_argument, NULL, OPT_IDLE_TAX },
	{ "activity", required_argument, NULL, OPT_ACTIVITY },
	{ "activity-period", required_argument, NULL, OPT_ACTIVITY_PERIOD },
	{ "ram-dir", required_argument, NULL, OPT_RAM_DIR },
	{ "backend-max-crashes", required_argument, NULL, OPT_BE_MAX_CRASHES },
	{ "backend-crash-window", required_argument, NULL,
	  OPT_BE_CRASH_WINDOW },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char *const guest_keys[] = {
	[OPT_KERNEL - OPT_KERNEL] = "kernel",
	[OPT_INITRD - OPT_KERNEL] = "initrd",
	[OPT_APPEND - OPT_KERNEL] = "append",
	[OPT_MEM - OPT_KERNEL] = "mem",
	[OPT_SMP - OPT_KERNEL] = "smp",
	[OPT_SERIAL - OPT_KERNEL] = "serial",
	[OPT_SERIAL2 - OPT_KERNEL] = "serial2",
	[OPT_QEMU_ARG - OPT_KERNEL] = "qemu_arg",
	[OPT_SHARES - OPT_KERNEL] = "shares",
	[OPT_HC_CPU - OPT_KERNEL] = "hc_cpu",
	[OPT_HC_POLL_US - OPT_KERNEL] = "hc_poll_us",
};

/*
 * Returns 0 on success, 1 if --help was printed, negative on error.
 * Per-guest options build one guest (--name, default "g0"); they may
 * not be combined with --config.
 */
int cfg_parse_args(struct host_cfg *cfg, int argc, char **argv)
{
	struct guest_cfg single = { .mem = 512ull << 20, .smp = 1,
				    .shares = MEM_SHARES_DEFAULT };
	const char *name = NULL, *config = NULL, *ram_dir = NULL;
	uint64_t host_mem = 0;
	double idle_tax = -1.0;
	struct host_cfg cl = { 0 };	/* activity options of the command line */
	bool cl_activity = false;
	bool have_single = false;
	struct guest_cfg *gc;
	uint64_t v;
	size_t i;
	int opt, ret = -EINVAL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->shm_size = VPV_SHM_MIN_SIZE;
	cfg->idle_tax = POLICY_IDLE_TAX_DEFAULT;
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_KERNEL ... OPT_HC_POLL_US:
			have_single = true;
			if (guest_set(&single, guest_keys[opt - OPT_KERNEL],
				      optarg))
				goto out;
			break;
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_RUN_DIR:
			if (set_str(&cfg->run_dir, optarg))
				goto out;
			break;
		case OPT_RAM_DIR:
			ram_dir = optarg;
			break;
		case OPT_CTL:
			if (set_str(&cfg->ctl_path, optarg))
				goto out;
			break;
		case OPT_ACCEL:
			if (!strcmp(optarg, "auto")) {
				cfg->accel = ACCEL_AUTO;
			} else if (!strcmp(optarg, "kvm")) {
				cfg->accel = ACCEL_KVM;
			} else if (!strcmp(optarg, "tcg")) {
				cfg->accel = ACCEL_TCG;
			} else {
				fprintf(stderr, "vpv-host: bad --accel\n");
				goto out;
			}
			break;
		case OPT_QEMU:
			if (set_str(&cfg->qemu, optarg))
				goto out;
			break;
		case OPT_SHM_SIZE:
			if (cfg_parse_size(optarg, &v) || v < VPV_SHM_MIN_SIZE ||
			    v > VPV_SHM_MAX_SIZE || (v & (v - 1))) {
				fprintf(stderr,
					"vpv-host: bad --shm-size (power of two, 1M..1G)\n");
				goto out;
			}
			cfg->shm_size = v;
			break;
		case OPT_NO_QEMU:
			cfg->no_qemu = true;
			break;
		case OPT_HOST_MEM:
			if (parse_host_mem(optarg, &host_mem))
				goto out;
			break;
		case OPT_IDLE_TAX:
			if (parse_idle_tax(optarg, &idle_tax))
				goto out;
			break;
		case OPT_ACTIVITY:
		case OPT_ACTIVITY_PERIOD:
			cl_activity |= opt == OPT_ACTIVITY;
			if (host_set(&cl, opt == OPT_ACTIVITY ? "activity" :
				     "activity_period", optarg))
				goto out;
			break;
		case OPT_BE_MAX_CRASHES:
		case OPT_BE_CRASH_WINDOW:
			if (host_set(&cl, opt == OPT_BE_MAX_CRASHES ?
				     "backend_max_crashes" :
				     "backend_crash_window", optarg))
				goto out;
			break;
		case 'h':
		case OPT_HELP:
			print_usage(stdout);
			ret = 1;
			goto out;
		default:
			print_usage(stderr);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vpv-host: unexpected argument '%s'\n",
			argv[optind]);
		goto out;
	}
	if (config && (have_single || name)) {
		fprintf(stderr,
			"vpv-host: per-guest options and --config are exclusive\n");
		goto out;
	}
	if (config) {
		if (cfg_load_file(cfg, config))
			goto out;
	} else {
		gc = cfg_add_guest(cfg, name ? name : "g0");
		if (!gc)
			goto out;
		single.name = gc->name;
		*gc = single;
		memset(&single, 0, sizeof(single));
	}
	if (!cfg->nr_guests) {
		fprintf(stderr, "vpv-host: no guests configured\n");
		goto out;
	}
	/* the command line wins over the [host] section */
	if (host_mem)
		cfg->host_mem = host_mem;
	if (idle_tax >= 0.0)
		cfg->idle_tax = idle_tax;
	if (cl_activity)
		cfg->activity = cl.activity;
	if (cl.activity_period)
		cfg->activity_period = cl.activity_period;
	if (cl.backend_max_crashes)
		cfg->backend_max_crashes = cl.backend_max_crashes;
	if (cl.backend_crash_window)
		cfg->backend_crash_window = cl.backend_crash_window;
	if (ram_dir && set_str(&cfg->ram_dir, ram_dir))
		goto out;
	for (i = 0; i < cfg->nr_guests; i++) {
		if (!cfg->guests[i].kernel && !cfg->no_qemu) {
			fprintf(stderr, "vpv-host: guest %s: no kernel\n",
				cfg->guests[i].name);
			goto out;
		}
	}
	if (!cfg->qemu && set_str(&cfg->qemu, "qemu-system-x86_64"))
		goto out;
	ret = 0;
out:
	free(single.kernel);
	free(single.initrd);
	free(single.append);
	free(single.serial);
	free(single.serial2);
	for (i = 0; i < single.nr_qemu_args; i++)
		free(single.qemu_args[i]);
	free(single.qemu_args);
	if (ret)
		cfg_free(cfg);
	return ret;
}

void cfg_free(struct host_cfg *cfg)
{
	size_t i, j;

	for (i = 0; i < cfg->nr_guests; i++) {
		struct guest_cfg *gc = &cfg->guests[i];

		free(gc->name);
		free(gc->kernel);
		free(gc->initrd);
		free(gc->append);
		free(gc->serial);
		free(gc->serial2);
		for (j = 0; j < gc->nr_qemu_args; j++)
			free(gc->qemu_args[j]);
		free(gc->qemu_args);
	}
	free(cfg->guests);
	free(cfg->run_dir);
	free(cfg->ram_dir);
	free(cfg->ctl_path);
	free(cfg->qemu);
	memset(cfg, 0, sizeof(*cfg));
}
