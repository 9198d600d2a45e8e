// SPDX-License-Identifier: GPL-2.0
/*
 * vpv_splittest: the split-driver layer's test interface for the guest
 * tests (tests/guest/split.sh, hostile.sh), moved out of the reference
 * front-end.
 *
 *   /sys/kernel/debug/vpv_splittest/store   write a command, read the
 *	answer ("OK ..." or "ERR -errno"): read P, write P V, mkdir P,
 *	rm P, ls P, watch P, unwatch, events, tx P V, txabort P V,
 *	domid, gntcopy, gntbusy, gntbusy_badhdr, and for the bus:
 *	fatal DEV (vpv_bus_dev_fatal() on device DEV, e.g. vloop-0,
 *	under its lock), helpers DEV (the helpers' error paths on DEV)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/sync_bitops.h>
#include <pvkit/vbus.h>

static struct dentry *vlf_root;

static DEFINE_MUTEX(vlf_st_lock);
static char vlf_st_answer[VPV_STORE_PAYLOAD_MAX + 64];
static struct vpv_store_watch vlf_st_watch;
static bool vlf_st_watching;
static atomic_t vlf_st_events = ATOMIC_INIT(0);
static char vlf_st_last[VPV_STORE_PATH_MAX + 1];

static void vlf_st_watch_cb(struct vpv_store_watch *w, const char *path)
{
	strscpy(vlf_st_last, path, sizeof(vlf_st_last));
	atomic_inc(&vlf_st_events);
}

#define vlf_answer(fmt, ...) \
	snprintf(vlf_st_answer, sizeof(vlf_st_answer), fmt, ##__VA_ARGS__)

static int vlf_tx(const char *path, const char *val, bool commit)
{
	char buf[64];
	u32 tx;
	int ret;

	ret = vpv_store_tx_start(&tx);
	if (ret)
		return ret;
	ret = vpv_store_tx_write(tx, path, val);
	if (!ret) {
		ret = vpv_store_tx_read(tx, path, buf, sizeof(buf));
		if (ret >= 0)
			ret = strcmp(buf, val) ? -EIO : 0;
	}
	if (ret) {
		vpv_store_tx_end(tx, false);
		return ret;
	}
	return vpv_store_tx_end(tx, commit);
}

/* Self-grants and VPV_GNTTABOP_COPY: RW, RO read, RO write refused. */
static void vlf_gntcopy(void)
{
	struct vpv_gnttab_copy *op = kzalloc(sizeof(*op), GFP_KERNEL);
	u8 *src = kmalloc(64, GFP_KERNEL);
	struct page *pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	u16 self = vpv_domid();
	long r_rw = -1, r_ro_read = -1, r_ro_write = -1;
	s64 s_rw = 1, s_ro_read = 1, s_ro_write = 1;
	int ref_rw = -1, ref_ro = -1;
	bool data_ok = false;

	if (!op || !src || !pg) {
		vlf_answer("ERR %d\n", -ENOMEM);
		goto out;
	}
	memset(src, 0xa5, 64);
	ref_rw = vpv_gnttab_grant(self, page_to_pfn(pg), false);
	ref_ro = vpv_gnttab_grant(self, page_to_pfn(pg), true);
	if (ref_rw < 0 || ref_ro < 0) {
		vlf_answer("ERR grant %d %d\n", ref_rw, ref_ro);
		goto out;
	}
	/* own memory -> RW grant */
	op->source.gpa_or_ref = virt_to_phys(src);
	op->dest.gpa_or_ref = ref_rw;
	op->dest.domid = self;
	op->dest.offset = 100;
	op->len = 64;
	op->flags = VPV_GNTCOPY_DEST_GREF;
	r_rw = vpv_gnttab_copy(op, 1);
	s_rw = op->status;
	data_ok = !memcmp(page_address(pg) + 100, src, 64);
	/* own memory -> RO grant: refused */
	op->dest.gpa_or_ref = ref_ro;
	op->status = 0;
	r_ro_write = vpv_gnttab_copy(op, 1);
	s_ro_write = op->status;
	/* RO grant -> own memory */
	memset(src, 0, 64);
	memset(op, 0, sizeof(*op));
	op->source.gpa_or_ref = ref_ro;
	op->source.domid = self;
	op->source.offset = 100;
	op->dest.gpa_or_ref = virt_to_phys(src);
	op->len = 64;
	op->flags = VPV_GNTCOPY_SOURCE_GREF;
	r_ro_read = vpv_gnttab_copy(op, 1);
	s_ro_read = op->status;
	data_ok = data_ok && src[0] == 0xa5 && src[63] == 0xa5;
	vlf_answer("OK rw %ld/%lld ro_write %ld/%lld ro_read %ld/%lld data %d\n",
		   r_rw, s_rw, r_ro_write, s_ro_write, r_ro_read, s_ro_read,
		   data_ok);
out:
	if (ref_rw >= 0)
		vpv_gnttab_end(ref_rw);
	if (ref_ro >= 0)
		vpv_gnttab_end(ref_ro);
	if (pg)
		__free_page(pg);
	kfree(src);
	kfree(op);
}

/*
 * End of a grant the host is using: the host's READING bit is set by
 * hand here (the guest owns the table's memory), end is refused, the
 * deferred end waits, and completes (freeing ref and page) once the
 * bit is gone.
 */
/* what a hostile host could put there after probe: far outside the BAR */
#define VLF_BAD_GNTTAB_OFFSET	0xfffff000u

static void vlf_gntbusy(bool badhdr)
{
	struct vpv_shared_header *hdr = vpv_shared_base(NULL);
	struct page *pg = alloc_page(GFP_KERNEL);
	u32 off = 0;
	unsigned int free0 = vpv_gnttab_free_count(), i;
	struct vpv_grant_entry *e;
	int ref, busy, again;

	if (!pg) {
		vlf_answer("ERR %d\n", -ENOMEM);
		return;
	}
	ref = vpv_gnttab_grant(VPV_DOMID_HOST, page_to_pfn(pg), true);
	if (ref < 0) {
		__free_page(pg);
		vlf_answer("ERR %d\n", ref);
		return;
	}
	/*
	 * The validated table, not the header's gnttab_offset again; with
	 * badhdr the header says something else meanwhile (put back after).
	 */
	if (badhdr && hdr) {
		off = READ_ONCE(hdr->gnttab_offset);
		WRITE_ONCE(hdr->gnttab_offset, VLF_BAD_GNTTAB_OFFSET);
	}
	e = vpv_gnttab_entry(ref);
	if (badhdr && hdr)
		WRITE_ONCE(hdr->gnttab_offset, off);
	if (!e) {
		vpv_gnttab_end(ref);
		__free_page(pg);
		vlf_answer("ERR %d\n", -EIO);
		return;
	}
	sync_set_bit(3, (unsigned long *)&e->flags);	/* READING */
	busy = vpv_gnttab_end(ref);
	vpv_gnttab_end_deferred(ref, pg);
	msleep(300);
	again = vpv_gnttab_free_count() == free0;
	sync_clear_bit(3, (unsigned long *)&e->flags);
	for (i = 0; i < 30 && vpv_gnttab_free_count() != free0; i++)
		msleep(100);
	vlf_answer("OK end %d held_while_busy %d freed_after %d\n", busy,
		   !again, vpv_gnttab_free_count() == free0);
}

/* The bus device named @name (e.g. "vloop-0"), referenced; or NULL. */
static struct vpv_bus_device *vlf_find_dev(const char *name)
{
	struct device *d = bus_find_device_by_name(&vpv_bus_type, NULL, name);

	return d ? to_vpv_bus_device(d) : NULL;
}

/* vpv_bus_dev_fatal() on a bound device, as its driver would call it. */
static void vlf_fatal(const char *name)
{
	struct vpv_bus_device *dev = vlf_find_dev(name);

	if (!dev) {
		vlf_answer("ERR %d\n", -ENODEV);
		return;
	}
	device_lock(&dev->dev);
	vpv_bus_dev_fatal(dev, -EIO, "test: fatal error injected");
	vlf_answer("OK %d\n", dev->state);
	device_unlock(&dev->dev);
	put_device(&dev->dev);
}

/*
 * The helpers' error paths on a real device: each must fail with its
 * documented errno and leave nothing behind (the grant count).
 */
static void vlf_helpers(const char *name)
{
	struct vpv_bus_device *dev = vlf_find_dev(name);
	unsigned int free0 = vpv_gnttab_free_count(), val;
	char big[VPV_STORE_PATH_MAX + 8];
	int refs[VPV_BUS_RING_PAGES_MAX + 1];
	int ring0, ring17, key, abs, scan, feat, err, ok, n;
	void *ring = NULL;
	char buf[8], buf2[80];

	if (!dev) {
		vlf_answer("ERR %d\n", -ENODEV);
		return;
	}
	device_lock(&dev->dev);
	ring0 = vpv_bus_alloc_ring(dev, 0, &ring, refs);
	ring17 = vpv_bus_alloc_ring(dev, VPV_BUS_RING_PAGES_MAX + 1, &ring,
				    refs);
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	key = vpv_bus_write(dev, 0, big, "x");
	abs = vpv_bus_write(dev, 0, "/local/x", "x");
	/* a key that is not a number */
	err = vpv_bus_write(dev, 0, "test-key", "abc");
	scan = err ? err : vpv_bus_scanf(dev, 0, false, "test-key", "%u",
					  &val);
	feat = vpv_bus_read_feature(dev, "feature-absent", 7);
	/* a real ring of 2 pages, freed again */
	ok = vpv_bus_alloc_ring(dev, 2, &ring, refs);
	if (!ok)
		vpv_bus_free_ring(dev, ring, 2, refs);
	n = vpv_bus_read(dev, 0, false, "test-key", buf, 2);
	device_unlock(&dev->dev);
	put_device(&dev->dev);
	for (val = 0; val < 30 && vpv_gnttab_free_count() != free0; val++)
		msleep(100);
	vlf_answer("OK ring0 %d ring17 %d longkey %d abskey %d scan %d ",
		   ring0, ring17, key, abs, scan);
	n = snprintf(buf2, sizeof(buf2),
		     "feature %d ring2 %d small %d grants_back %d\n", feat, ok,
		     n, vpv_gnttab_free_count() == free0);
	strlcat(vlf_st_answer, buf2, sizeof(vlf_st_answer));
}

static void vlf_st_cmd(char *cmd)
{
	char *op = strsep(&cmd, " "), *path = strsep(&cmd, " ");
	char *val = cmd, *buf, *p;
	int ret, n;
	size_t l;

	buf = kmalloc(VPV_STORE_PAYLOAD_MAX + 1, GFP_KERNEL);
	if (!buf) {
		vlf_answer("ERR %d\n", -ENOMEM);
		return;
	}
	if (!strcmp(op, "gntcopy")) {
		vlf_gntcopy();
		goto out;
	}
	if (!strcmp(op, "gntbusy") || !strcmp(op, "gntbusy_badhdr")) {
		vlf_gntbusy(!strcmp(op, "gntbusy_badhdr"));
		goto out;
	}
	if (!strcmp(op, "fatal") && path) {
		vlf_fatal(path);
		goto out;
	}
	if (!strcmp(op, "helpers") && path) {
		vlf_helpers(path);
		goto out;
	}
	if (!strcmp(op, "domid")) {
		vlf_answer("OK %u\n", vpv_domid());
		goto out;
	}
	if (!strcmp(op, "events")) {
		vlf_answer("OK %d %s\n", atomic_read(&vlf_st_events),
			   vlf_st_last);
		goto out;
	}
	if (!strcmp(op, "unwatch")) {
		if (vlf_st_watching)
			vpv_store_unwatch(&vlf_st_watch);
		vlf_st_watching = false;
		vlf_answer("OK\n");
		goto out;
	}
	if (!path) {
		vlf_answer("ERR %d\n", -EINVAL);
		goto out;
	}
	if (!strcmp(op, "read")) {
		ret = vpv_store_read(path, buf, VPV_STORE_PAYLOAD_MAX + 1);
		if (ret >= 0)
			vlf_answer("OK %s\n", buf);
	} else if (!strcmp(op, "write") && val) {
		ret = vpv_store_write(path, val);
	} else if (!strcmp(op, "mkdir")) {
		ret = vpv_store_mkdir(path);
	} else if (!strcmp(op, "rm")) {
		ret = vpv_store_rm(path);
	} else if (!strcmp(op, "ls")) {
		ret = vpv_store_directory(path, buf, VPV_STORE_PAYLOAD_MAX);
		if (ret >= 0) {
			/* NUL-separated names: each NUL becomes a space */
			for (p = buf, n = ret; p < buf + n; p += l + 1) {
				l = strlen(p);
				p[l] = ' ';
			}
			buf[n ? n - 1 : 0] = '\0';
			vlf_answer("OK %s\n", buf);
		}
	} else if (!strcmp(op, "watch")) {
		if (vlf_st_watching)
			vpv_store_unwatch(&vlf_st_watch);
		atomic_set(&vlf_st_events, 0);
		ret = vpv_store_watch(&vlf_st_watch, path, vlf_st_watch_cb);
		vlf_st_watching = !ret;
	} else if ((!strcmp(op, "tx") || !strcmp(op, "txabort")) && val) {
		ret = vlf_tx(path, val, !strcmp(op, "tx"));
	} else {
		ret = -EINVAL;
	}
	if (ret < 0)
		vlf_answer("ERR %d\n", ret);
	else if (strcmp(op, "read") && strcmp(op, "ls"))
		vlf_answer("OK\n");
out:
	kfree(buf);
}

static ssize_t vlf_st_write(struct file *f, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	char *cmd;

	if (len > VPV_STORE_PAYLOAD_MAX)
		return -E2BIG;
	cmd = memdup_user_nul(ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	strim(cmd);
	mutex_lock(&vlf_st_lock);
	vlf_st_cmd(cmd);
	mutex_unlock(&vlf_st_lock);
	kfree(cmd);
	return len;
}

static ssize_t vlf_st_read(struct file *f, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&vlf_st_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, vlf_st_answer,
				      strlen(vlf_st_answer));
	mutex_unlock(&vlf_st_lock);
	return ret;
}

static const struct file_operations vlf_st_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = vlf_st_read,
	.write = vlf_st_write,
	.llseek = default_llseek,
};

static int __init vlf_init(void)
{
	vlf_root = debugfs_create_dir("vpv_splittest", NULL);
	debugfs_create_file("store", 0600, vlf_root, NULL, &vlf_st_fops);
	return 0;
}

static void __exit vlf_exit(void)
{
	mutex_lock(&vlf_st_lock);
	if (vlf_st_watching)
		vpv_store_unwatch(&vlf_st_watch);
	vlf_st_watching = false;
	mutex_unlock(&vlf_st_lock);
	debugfs_remove_recursive(vlf_root);
}

module_init(vlf_init);
module_exit(vlf_exit);

MODULE_DESCRIPTION("pvkit split-driver layer test interface (store, grants, bus helpers)");
MODULE_LICENSE("GPL");
