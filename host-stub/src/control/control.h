/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Control (src/control): the control socket and its commands (ctl.c,
 * ctl_conn.c, runsock.c), the reply buffer (sbuf.c) and the small JSON
 * reader vpv-ctl and the tests use (json.c).
 * Included at the end of vpv_host.h; every
 * function is documented where it is defined.
 */
#ifndef VPV_CONTROL_H
#define VPV_CONTROL_H

struct guest;

/* ---- host + control socket (ctl.c) ---- */

struct host {
	struct host_cfg *cfg;
	struct guest *guests;
	size_t nr_guests;
	/*
	 * "guest remove": stop the guest's QEMU and forget its fds (main
	 * loop); NULL in tests.  ctl then calls guest_destroy().
	 */
	void (*guest_detach)(struct host *h, struct guest *g);
};

struct sbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};

void sb_init(struct sbuf *sb);
void sb_free(struct sbuf *sb);
void sb_puts(struct sbuf *sb, const char *s);
void sb_printf(struct sbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_json_str(struct sbuf *sb, const char *s);

#define VPV_CTL_MAX_REQ		1024
/* words per request: room for a multi-word store value */
#define VPV_CTL_MAX_ARGS	64
/*
 * words after "device": add GUEST vbd ID and every vbd option with its
 * value (--image F --cow F --ro --direct --sector-size N --queues N)
 */
#define DEV_ARGS_MAX		14
/* what vpv-ctl accepts; bounds the stub's buffer per connection */
#define VPV_CTL_MAX_REPLY	(4u << 20)

int ctl_handle_line(struct host *h, const char *line, size_t len,
		    struct sbuf *out);
struct guest *ctl_find_guest(struct host *h, const char *name);
int ctl_listen(const char *path);

/* run dir and listening sockets (runsock.c) */
int run_dir_prepare(const char *path, bool *created);
int unix_listen(const char *path, int backlog);

/* one control connection (ctl_conn.c) */
enum { CTL_CONN_READ, CTL_CONN_WRITE, CTL_CONN_DONE };

struct ctl_conn {
	int fd;
	size_t len;		/* request bytes in buf */
	uint64_t start_ms;
	struct sbuf out;	/* the reply */
	size_t off;		/* ... bytes of it sent */
	char buf[VPV_CTL_MAX_REQ + 2];
};

void ctl_conn_init(struct ctl_conn *c, int fd);
void ctl_conn_release(struct ctl_conn *c);
int ctl_conn_read(struct host *h, struct ctl_conn *c);
int ctl_conn_write(struct ctl_conn *c);

/* ---- small JSON reader (json.c), used by vpv-ctl and tests ---- */

enum json_type { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct json {
	enum json_type type;
	char *str;		/* J_STR value; key for object members */
	char *key;
	double num;
	bool b;
	struct json *child;	/* first element / member */
	struct json *next;
};

struct json *json_parse(const char *s);
void json_free(struct json *j);
struct json *json_get(const struct json *obj, const char *key);

#endif /* VPV_CONTROL_H */
