/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvkit_ktap.h: the KTAP results of a pvkit integration-test module.
 * Each module includes it (no symbols are exported, every module has a
 * copy of its own): a results buffer, the check helpers, a runner that
 * runs a table of tests on load and the debugfs file DIR/results that
 * the guest scripts read (tests/guest/lib.sh, forward_tap).
 *
 * Define before the #include, if the defaults do not fit:
 *   KT_BUF_SIZE  size of the results buffer (64 KiB); what does not
 *                fit is cut off
 *   KT_MAX_DIAG  failed checks of a test printed as "# name: why"
 *                lines (16); the first is also the "not ok" reason
 *
 * A test returns 0, or kt_skip(why) (KT_SKIP): a test with a failed
 * check is "not ok" whatever it returns.  kt_name and kt_fails are the
 * running test's name and its failed checks so far.
 */
#ifndef PVKIT_KTAP_H
#define PVKIT_KTAP_H

#include <linux/compiler.h>
#include <linux/debugfs.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/vmalloc.h>

#ifndef KT_BUF_SIZE
#define KT_BUF_SIZE	(64 * 1024)
#endif
#ifndef KT_MAX_DIAG
#define KT_MAX_DIAG	16
#endif
#define KT_SKIP		1

struct kt_test {
	const char *name;
	int (*fn)(void);
};

static char *kt_buf;
static size_t kt_len;
static struct dentry *kt_dir;	/* debugfs DIR, once kt_run() is done */

static const char *kt_name;
static unsigned int kt_fails;
static char kt_reason[160];

static inline __printf(1, 2) void kt_out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_len += vscnprintf(kt_buf + kt_len, KT_BUF_SIZE - kt_len, fmt, ap);
	va_end(ap);
}

/* Record a failed check; the first one becomes the "not ok" reason. */
static inline __printf(2, 3) bool kt_check(bool ok, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (ok)
		return true;
	va_start(ap, fmt);
	vscnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!kt_fails)
		strscpy(kt_reason, msg, sizeof(kt_reason));
	if (kt_fails++ < KT_MAX_DIAG)
		kt_out("# %s: %s\n", kt_name, msg);
	return false;
}

static inline bool kt_eq(long got, long want, const char *what)
{
	return kt_check(got == want, "%s: got %ld, want %ld", what, got, want);
}

/* return kt_skip("why"): "ok N - name # SKIP why" */
static inline int kt_skip(const char *why)
{
	strscpy(kt_reason, why, sizeof(kt_reason));
	return KT_SKIP;
}

/*
 * Is test @name chosen by @list ("all" or a comma-separated list of
 * names, a module parameter tests=) and @bench (bench=)?  "all" means
 * every test but the benchmark, the test named "bench", which runs
 * when @list names it or when @bench is set.
 */
static inline bool kt_selected(const char *list, bool bench,
			       const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	if (!strcmp(name, "bench") && bench)
		return true;
	if (!strcmp(list, "all"))
		return strcmp(name, "bench");
	while ((p = strstr(p, name))) {
		if ((p == list || p[-1] == ',') &&
		    (p[len] == ',' || p[len] == '\0'))
			return true;
		p += len;
	}
	return false;
}

static inline ssize_t kt_results_read(struct file *f, char __user *ubuf,
				      size_t count, loff_t *ppos)
{
	return simple_read_from_buffer(ubuf, count, ppos, kt_buf, kt_len);
}

static const struct file_operations kt_results_fops = {
	.owner = THIS_MODULE,
	.read = kt_results_read,
	.llseek = default_llseek,
};

/*
 * Run the tests of @tests[0 .. @ntests) that @selected chooses (all of
 * them if it is NULL), in order, write "KTAP version 1", the plan and a
 * result line for each, log how many passed and create debugfs
 * @dir/results (@dir is kt_dir then).  @setup, if not NULL, runs after
 * the plan line and may print "# " lines; it returns NULL, or a reason
 * that every test then fails with, none of them run.  Returns the
 * number of tests in the plan, or -ENOMEM (no buffer, nothing run).
 * kt_cleanup() undoes it.
 */
static inline int kt_run(const struct kt_test *tests, unsigned int ntests,
			 bool (*selected)(const char *name),
			 const char *(*setup)(void), const char *dir)
{
	unsigned int i, n = 0, nr = 0, passed = 0;
	const char *why = NULL;
	int ret;

	kt_buf = vzalloc(KT_BUF_SIZE);
	if (!kt_buf)
		return -ENOMEM;
	for (i = 0; i < ntests; i++)
		if (!selected || selected(tests[i].name))
			nr++;
	kt_out("KTAP version 1\n1..%u\n", nr);
	if (setup)
		why = setup();
	for (i = 0; i < ntests; i++) {
		if (selected && !selected(tests[i].name))
			continue;
		n++;
		if (why) {
			kt_out("not ok %u - %s # %s\n", n, tests[i].name, why);
			continue;
		}
		kt_name = tests[i].name;
		kt_fails = 0;
		kt_reason[0] = '\0';
		ret = tests[i].fn();
		if (kt_fails) {
			kt_out("not ok %u - %s # %s\n", n, kt_name, kt_reason);
		} else if (ret == KT_SKIP) {
			kt_out("ok %u - %s # SKIP %s\n", n, kt_name, kt_reason);
			passed++;
		} else {
			kt_out("ok %u - %s\n", n, kt_name);
			passed++;
		}
	}
	pr_info("%u of %u tests passed; results in debugfs %s/results\n",
		passed, nr, dir);

	kt_dir = debugfs_create_dir(dir, NULL);
	debugfs_create_file("results", 0444, kt_dir, NULL, &kt_results_fops);
	return nr;
}

/* Remove the debugfs directory (and whatever else is in it), free. */
static inline void kt_cleanup(void)
{
	debugfs_remove_recursive(kt_dir);
	kt_dir = NULL;
	vfree(kt_buf);
	kt_buf = NULL;
	kt_len = 0;
}

#endif /* PVKIT_KTAP_H */
