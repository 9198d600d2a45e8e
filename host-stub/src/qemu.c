// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU command line, accelerator detection and process launch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#include "vpv_host.h"

int strv_push(struct strv *sv, const char *s)
{
	char *d;

	if (sv->n + 2 > sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 32;
		char **v = realloc(sv->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sv->v = v;
		sv->cap = cap;
	}
	d = strdup(s);
	if (!d)
		return -ENOMEM;
	sv->v[sv->n++] = d;
	sv->v[sv->n] = NULL;
	return 0;
}

int strv_pushf(struct strv *sv, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	ret = strv_push(sv, s);
	free(s);
	return ret;
}

void strv_free(struct strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

static bool kvm_usable(void)
{
	int fd, vm;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm >= 0)
		close(vm);
	close(fd);
	return vm >= 0;
}

#define ACCEL_PROBE_CACHE "/run/pvkit-accel"

static enum vpv_accel accel_probe_cache(void)
{
	char buf[8] = "";
	FILE *f = fopen(ACCEL_PROBE_CACHE, "re");

	if (!f)
		return ACCEL_AUTO;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	if (!strncmp(buf, "kvm", 3))
		return ACCEL_KVM;
	if (!strncmp(buf, "tcg", 3))
		return ACCEL_TCG;
	return ACCEL_AUTO;
}

const char *qemu_detect_accel(enum vpv_accel want)
{
	switch (want) {
	case ACCEL_KVM:
		return "kvm";
	case ACCEL_TCG:
		return "tcg";
	default:
		break;
	}
	/*
	 * Opening /dev/kvm and creating a VM is not proof that a guest
	 * runs: on nested hosts KVM_RUN can make no progress.  The test
	 * harness boots a real guest under KVM once per host boot and
	 * records the verdict here; trust it when it exists.
	 */
	switch (accel_probe_cache()) {
	case ACCEL_KVM:
		return "kvm";
	case ACCEL_TCG:
		return "tcg";
	default:
		return kvm_usable() ? "kvm" : "tcg";
	}
}

/* QEMU option values are comma-separated: reject commas in paths. */
static bool opt_safe(const char *s)
{
	return !strchr(s, ',');
}

int qemu_build_argv(const struct host_cfg *hc, const struct guest *g,
		    const char *accel, struct strv *out)
{
	const struct guest_cfg *gc = g->cfg;
	unsigned long long mib = g->ram_size >> 20;
	bool kvm = !strcmp(accel, "kvm");
	int r = 0;
	size_t i;

	if (!opt_safe(g->ram_path) || !opt_safe(g->sock_path))
		return -EINVAL;

	r |= strv_push(out, hc->qemu);
	r |= strv_push(out, "-machine");
	r |= strv_pushf(out, "q35,accel=%s,memory-backend=ram0", accel);
	r |= strv_push(out, "-cpu");
	/*
	 * No 5-level paging under TCG: with la57 the 6.1 KASAN test kernel
	 * reports a wild access in its first interrupt, and every guest
	 * page walk costs one more level.
	 */
	r |= strv_push(out, kvm ? "host" : "max,la57=off");
	r |= strv_push(out, "-m");
	r |= strv_pushf(out, "%lluM", mib);
	/*
	 * TCG makes guest atomics atomic against other threads (here: the
	 * stub sharing the region) only when it may run several vCPUs in
	 * parallel, so a TCG guest always gets maxcpus >= 2.
	 */
	r |= strv_push(out, "-smp");
	if (kvm || gc->smp > 1)
		r |= strv_pushf(out, "%u", gc->smp);
	else
		r |= strv_pushf(out, "%u,maxcpus=2", gc->smp);
	r |= strv_push(out, "-object");
	r |= strv_pushf(out,
			"memory-backend-file,id=ram0,size=%lluM,mem-path=%s,share=on",
			mib, g->ram_path);
	if (gc->kernel) {
		r |= strv_push(out, "-kernel");
		r |= strv_push(out, gc->kernel);
	}
	if (gc->initrd) {
		r |= strv_push(out, "-initrd");
		r |= strv_push(out, gc->initrd);
	}
	if (gc->append) {
		r |= strv_push(out, "-append");
		r |= strv_push(out, gc->append);
	}
	r |= strv_push(out, "-display");
	r |= strv_push(out, "none");
	r |= strv_push(out, "-nodefaults");
	r |= strv_push(out, "-no-reboot");
	r |= strv_push(out, "-serial");
	r |= strv_pushf(out, "file:%s",
			gc->serial ? gc->serial : g->console_path);
	if (gc->serial2) {
		r |= strv_push(out, "-serial");
		r |= strv_pushf(out, "file:%s", gc->serial2);
	}
	r |= strv_push(out, "-chardev");
	r |= strv_pushf(out, "socket,path=%s,id=ivsh0", g->sock_path);
	r |= strv_push(out, "-device");
	r |= strv_pushf(out, "ivshmem-doorbell,chardev=ivsh0,vectors=%d",
			VPV_NR_DOORBELLS);
	for (i = 0; i < gc->nr_qemu_args; i++)
		r |= strv_push(out, gc->qemu_args[i]);
	return r ? -ENOMEM : 0;
}

/* Characters that never need shell quoting. */
#define SHELL_SAFE_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,/=:+@%"

/* Shell-quoted command line for --no-qemu and logs. */
char *qemu_cmdline_str(const struct strv *argv)
{
	struct sbuf sb;
	size_t i;
	const char *p;

	sb_init(&sb);
	for (i = 0; i < argv->n; i++) {
		if (i)
			sb_puts(&sb, " ");
		if (argv->v[i][strspn(argv->v[i], SHELL_SAFE_CHARS)] ||
		    !argv->v[i][0]) {
			sb_puts(&sb, "'");
			for (p = argv->v[i]; *p; p++) {
				if (*p == '\'')
					sb_puts(&sb, "'\\''");
				else
					sb_printf(&sb, "%c", *p);
			}
			sb_puts(&sb, "'");
		} else {
			sb_puts(&sb, argv->v[i]);
		}
	}
	if (sb.oom) {
		sb_free(&sb);
		return NULL;
	}
	return sb.buf;
}

/*
 * fork + exec.  The child stays in our process group (a harness may
 * kill the group), dies with us (PR_SET_PDEATHSIG) and gets a clean
 * signal mask (the parent blocks the signals it reads via signalfd).
 */
pid_t qemu_spawn(const struct strv *argv)
{
	pid_t parent = getpid(), pid;
	sigset_t none;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid)
		return pid;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	execvp(argv->v[0], argv->v);
	fprintf(stderr, "vpv-host: exec %s: %s\n", argv->v[0],
		strerror(errno));
	_exit(127);
}
