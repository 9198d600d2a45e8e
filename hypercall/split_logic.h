/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure logic of the split-driver platform (grant tables, the config
 * store client, the bus): no device access, so gnttab.c, store.c,
 * bus.c and the KUnit suite (split_kunit.c) use it as is.
 */
#ifndef VPV_SPLIT_LOGIC_H
#define VPV_SPLIT_LOGIC_H

#include <linux/compiler.h>
#include <linux/ctype.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/types.h>
#include <asm/barrier.h>
#include <asm/cmpxchg.h>
#include <pvkit/vhypercall.h>

/* ---- grant reference allocator (a free list over an index array) ---- */

#define VPV_REF_END	0xffffffffu	/* end of the free list */
#define VPV_REF_INUSE	0xfffffffeu	/* handed out */

struct vpv_ref_alloc {
	u32 *next;		/* [nr]: next free ref, or VPV_REF_* */
	u32 nr;			/* refs 0 .. nr - 1 exist */
	u32 first;		/* first allocatable ref */
	u32 head;		/* first free ref or VPV_REF_END */
	u32 nr_free;
};

/* Refs first .. nr - 1 become free; refs below first are never handed out. */
static inline void vpv_ref_init(struct vpv_ref_alloc *a, u32 *next, u32 nr,
				u32 first)
{
	u32 i;

	a->next = next;
	a->nr = nr;
	a->first = first;
	a->head = VPV_REF_END;
	a->nr_free = 0;
	for (i = 0; i < first && i < nr; i++)
		next[i] = VPV_REF_INUSE;
	for (i = nr; i-- > first; ) {
		next[i] = a->head;
		a->head = i;
		a->nr_free++;
	}
}

/* Take the lowest-numbered free ref (LIFO after frees); -ENOSPC if none. */
static inline int vpv_ref_get(struct vpv_ref_alloc *a)
{
	u32 ref = a->head;

	if (ref == VPV_REF_END)
		return -ENOSPC;
	a->head = a->next[ref];
	a->next[ref] = VPV_REF_INUSE;
	a->nr_free--;
	return ref;
}

/* Is @ref one the allocator handed out? */
static inline bool vpv_ref_in_use(const struct vpv_ref_alloc *a, int ref)
{
	return ref >= (int)a->first && ref < (int)a->nr &&
	       a->next[ref] == VPV_REF_INUSE;
}

/* Give @ref back; -EINVAL for a ref out of range or not in use. */
static inline int vpv_ref_put(struct vpv_ref_alloc *a, int ref)
{
	if (!vpv_ref_in_use(a, ref))
		return -EINVAL;
	a->next[ref] = a->head;
	a->head = ref;
	a->nr_free++;
	return 0;
}

/* ---- grant entries, v1 ---- */

/* The 32-bit word holding flags (low half) and domid (high half). */
static inline u32 vpv_gnt_word(u16 flags, u16 domid)
{
	return (u32)flags | ((u32)domid << 16);
}

static inline u16 vpv_gnt_grant_flags(bool readonly)
{
	return VPV_GTF_PERMIT_ACCESS | (readonly ? VPV_GTF_READONLY : 0);
}

/* May an entry whose word is @w be ended now? */
static inline bool vpv_gnt_may_end(u32 w)
{
	return !(w & (VPV_GTF_READING | VPV_GTF_WRITING));
}

/*
 * End access on the entry word @word: compare-and-exchange the flags
 * to 0 (domid kept) as long as the host has neither READING nor
 * WRITING set.  Returns 0 when access is ended (or was not granted),
 * -EBUSY while the host uses the frame.
 */
static inline int vpv_gnt_try_end(u32 *word)
{
	u32 old = READ_ONCE(*word), prev;

	for (;;) {
		if (!vpv_gnt_may_end(old))
			return -EBUSY;
		if (!(old & 0xffff))
			return 0;
		prev = sync_cmpxchg(word, old, old & 0xffff0000u);
		if (prev == old)
			return 0;
		old = prev;
	}
}

/* ---- config store: byte rings ---- */

#define VPV_STORE_MASK(i)	((i) & (VPV_STORE_RING_SIZE - 1))

/* Guest-private copy of the indices the guest owns. */
struct vpv_store_chan {
	struct vpv_store_ring *r;
	u32 req_prod;
	u32 rsp_cons;
};

/* Are a producer and a consumer index a consistent pair? */
static inline bool vpv_store_idx_ok(u32 prod, u32 cons)
{
	return prod - cons <= VPV_STORE_RING_SIZE;
}

/*
 * Copy up to @len bytes of @data into the request ring.  Returns the
 * bytes written (0: the ring is full), or -EIO when the host's req_cons
 * is not consistent with our req_prod.
 */
static inline int vpv_store_put(struct vpv_store_chan *c, const void *data,
				u32 len)
{
	struct vpv_store_ring *r = c->r;
	u32 cons = READ_ONCE(r->req_cons);
	u32 prod = c->req_prod;
	u32 n, off, chunk;

	if (!vpv_store_idx_ok(prod, cons))
		return -EIO;
	/* read req_cons before overwriting the bytes it released */
	virt_mb();
	n = min(len, VPV_STORE_RING_SIZE - (prod - cons));
	off = VPV_STORE_MASK(prod);
	chunk = min(n, VPV_STORE_RING_SIZE - off);
	memcpy(r->req + off, data, chunk);
	memcpy(r->req, (const u8 *)data + chunk, n - chunk);
	/* bytes before the index */
	virt_wmb();
	c->req_prod = prod + n;
	WRITE_ONCE(r->req_prod, c->req_prod);
	return n;
}

/*
 * Copy up to @len bytes out of the response ring.  Returns the bytes
 * read (0: empty), or -EIO when rsp_prod is inconsistent.
 */
static inline int vpv_store_get(struct vpv_store_chan *c, void *data,
				u32 len)
{
	struct vpv_store_ring *r = c->r;
	u32 prod = READ_ONCE(r->rsp_prod);
	u32 cons = c->rsp_cons;
	u32 n, off, chunk;

	if (!vpv_store_idx_ok(prod, cons))
		return -EIO;
	/* index before the bytes */
	virt_rmb();
	n = min(len, prod - cons);
	off = VPV_STORE_MASK(cons);
	chunk = min(n, VPV_STORE_RING_SIZE - off);
	memcpy(data, r->rsp + off, chunk);
	memcpy((u8 *)data + chunk, r->rsp, n - chunk);
	/* bytes read before the host may overwrite them */
	virt_mb();
	c->rsp_cons = cons + n;
	WRITE_ONCE(r->rsp_cons, c->rsp_cons);
	return n;
}

/* ---- config store: incremental message parser ---- */

struct vpv_store_rx {
	struct vpv_store_msg hdr;
	u32 hdr_got;
	u32 body_got;
	bool oversize;		/* hdr.len > VPV_STORE_PAYLOAD_MAX: skipped */
	char *body;		/* VPV_STORE_PAYLOAD_MAX + 1 bytes */
};

static inline bool vpv_store_type_valid(u32 type)
{
	return type >= VPV_STORE_DIRECTORY && type <= VPV_STORE_ERROR;
}

static inline void vpv_store_rx_reset(struct vpv_store_rx *rx)
{
	rx->hdr_got = 0;
	rx->body_got = 0;
	rx->oversize = false;
}

/*
 * Feed the parser from the response ring.  Returns 1 when a whole
 * message is in rx (hdr, body[0 .. hdr.len) and a NUL after it; call
 * vpv_store_rx_reset() after using it), 0 when more bytes are needed,
 * -EIO on a protocol error (bad indices or type).  A message longer
 * than VPV_STORE_PAYLOAD_MAX (an older host's) is read and thrown
 * away, keeping the framing: 1 with rx->oversize set and an empty body.
 */
static inline int vpv_store_rx_feed(struct vpv_store_rx *rx,
				    struct vpv_store_chan *c)
{
	u32 want;
	int n;

	while (rx->hdr_got < sizeof(rx->hdr)) {
		n = vpv_store_get(c, (u8 *)&rx->hdr + rx->hdr_got,
				  sizeof(rx->hdr) - rx->hdr_got);
		if (n <= 0)
			return n;
		rx->hdr_got += n;
		if (rx->hdr_got < sizeof(rx->hdr))
			continue;
		if (!vpv_store_type_valid(rx->hdr.type))
			return -EIO;
		rx->oversize = rx->hdr.len > VPV_STORE_PAYLOAD_MAX;
	}
	while (rx->body_got < rx->hdr.len) {
		want = rx->hdr.len - rx->body_got;
		if (rx->oversize)	/* into the buffer's start, discarded */
			want = min_t(u32, want, VPV_STORE_PAYLOAD_MAX);
		n = vpv_store_get(c, rx->body + (rx->oversize ? 0 :
						 rx->body_got), want);
		if (n <= 0)
			return n;
		rx->body_got += n;
	}
	rx->body[rx->oversize ? 0 : rx->hdr.len] = '\0';
	return 1;
}

/* Map an error reply ("ENOENT", ...) to -errno; -EIO if unknown. */
static inline int vpv_store_errno(const char *body, u32 len)
{
	static const struct {
		const char *name;
		int err;
	} map[] = {
		{ "ENOENT", ENOENT }, { "EACCES", EACCES },
		{ "EINVAL", EINVAL }, { "E2BIG", E2BIG },
		{ "ENOSPC", ENOSPC }, { "EBUSY", EBUSY },
		{ "EAGAIN", EAGAIN }, { "EEXIST", EEXIST },
		{ "EPERM", EPERM }, { "EIO", EIO },
	};
	unsigned int i;

	/* the name, NUL-terminated or not */
	if (len && body[len - 1] == '\0')
		len--;
	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (strlen(map[i].name) == len &&
		    !memcmp(map[i].name, body, len))
			return -map[i].err;
	return -EIO;
}

/* ---- config store: paths ---- */

/* The host's charset exactly: ASCII only (isalnum() takes Latin-1). */
static inline bool vpv_store_path_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '/' || ch == '-' ||
	       ch == '_' || ch == '@' || ch == '.' || ch == ':';
}

/*
 * Absolute ("/a/b") or relative ("a/b") path: 1 .. VPV_STORE_PATH_MAX
 * bytes (-E2BIG beyond), no empty component, no trailing '/', only
 * [A-Za-z0-9/_@.:-] (-EINVAL otherwise).  "/" alone is the root.
 */
static inline int vpv_store_path_check(const char *path)
{
	size_t len, i;

	if (!path)
		return -EINVAL;
	len = strnlen(path, VPV_STORE_PATH_MAX + 1);
	if (len > VPV_STORE_PATH_MAX)
		return -E2BIG;
	if (!len)
		return -EINVAL;
	if (len == 1 && path[0] == '/')
		return 0;
	if (path[len - 1] == '/')
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (!vpv_store_path_char_ok(path[i]))
			return -EINVAL;
		if (path[i] == '/' && i + 1 < len && path[i + 1] == '/')
			return -EINVAL;
	}
	return 0;
}

/* Join @dir and @node into @buf; -E2BIG if it does not fit. */
static inline int vpv_store_join(char *buf, size_t size, const char *dir,
				 const char *node)
{
	int n;

	if (!*dir)
		n = snprintf(buf, size, "%s", node);
	else if (!*node)
		n = snprintf(buf, size, "%s", dir);
	else
		n = snprintf(buf, size, "%s%s%s", dir,
			     dir[strlen(dir) - 1] == '/' ? "" : "/", node);
	if (n < 0 || (size_t)n >= size)
		return -E2BIG;
	return n;
}

/*
 * A watch event's path relative to the guest's home: strip a leading
 * "/local/domain/<domid>/" if present.  Returns a pointer into @path.
 */
static inline const char *vpv_store_rel(const char *path, u32 domid)
{
	char home[32];
	int n = snprintf(home, sizeof(home), "/local/domain/%u/", domid);

	if (!strncmp(path, home, n))
		return path + n;
	return path;
}

/*
 * Split a device path relative to the home, "device/TYPE/ID[/...]",
 * into TYPE and ID.  Returns the number of components found (0: not
 * under "device", 1: "device" itself, 2: TYPE only, 3: TYPE and ID).
 */
static inline int vpv_bus_parse(const char *rel, char *type, size_t tsize,
				char *id, size_t isize)
{
	const char *p, *e;
	size_t n;

	if (strncmp(rel, "device", 6) || (rel[6] && rel[6] != '/'))
		return 0;
	if (!rel[6] || !rel[7])
		return 1;
	p = rel + 7;
	e = strchrnul(p, '/');
	n = e - p;
	if (!n || n >= tsize)
		return 0;
	memcpy(type, p, n);
	type[n] = '\0';
	if (!*e || !e[1])
		return 2;
	p = e + 1;
	e = strchrnul(p, '/');
	n = e - p;
	if (!n || n >= isize)
		return 0;
	memcpy(id, p, n);
	id[n] = '\0';
	return 3;
}

/* ---- bus: error nodes ---- */

/*
 * The node a device's errors go to, relative to the guest's home:
 * "error/device/TYPE/ID" (xenbus_dev_error()'s "error/<nodename>").
 * Returns 0, -EINVAL for an empty or unsafe name, -ENAMETOOLONG.
 */
static inline int vpv_bus_error_node(char *buf, size_t size,
				     const char *type, const char *id)
{
	int n;

	if (!*type || !*id || strchr(type, '/') || strchr(id, '/'))
		return -EINVAL;
	n = snprintf(buf, size, "error/device/%s/%s", type, id);
	if (n < 0 || n >= size)
		return -ENAMETOOLONG;
	return vpv_store_path_check(buf);
}

/* Parse a decimal state value; anything else reads as Unknown. */
static inline int vpv_bus_state_parse(const char *s)
{
	unsigned int v = 0;

	if (!*s)
		return VPV_BUS_UNKNOWN;
	for (; *s; s++) {
		if (!isdigit(*s) || v > VPV_BUS_CLOSED)
			return VPV_BUS_UNKNOWN;
		v = v * 10 + (*s - '0');
	}
	return v <= VPV_BUS_CLOSED ? v : VPV_BUS_UNKNOWN;
}

#endif /* VPV_SPLIT_LOGIC_H */
