// SPDX-License-Identifier: GPL-2.0
/* ivshmem server protocol: exact message sequence, fds, wiring. */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "testutil.h"

struct msg {
	int64_t val;
	int fd;
};

/* Receive one message; returns 1, 0 on EOF, -1 on error. */
static int recv_msg(int sock, struct msg *m)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct iovec iov = { .iov_base = &m->val, .iov_len = 8 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t n;

	m->fd = -1;
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n;
	if (n != 8)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_RIGHTS) {
			if (c->cmsg_len != CMSG_LEN(sizeof(int)))
				return -1;	/* more than one fd */
			memcpy(&m->fd, CMSG_DATA(c), sizeof(int));
		}
	}
	return 1;
}

struct client {
	int shm, host[VPV_NR_DOORBELLS], own[VPV_NR_GUEST_EVS];
};

static void client_close(struct client *c)
{
	int i;

	close(c->shm);
	for (i = 0; i < VPV_NR_DOORBELLS; i++)
		close(c->host[i]);
	for (i = 0; i < VPV_NR_GUEST_EVS; i++)
		close(c->own[i]);
}

/* Receive and check the whole setup sequence. */
static bool check_sequence(int sock, struct client *c, const char *tag)
{
	enum { NR_HOST = VPV_NR_DOORBELLS, NR = 3 + NR_HOST + VPV_NR_GUEST_EVS };
	struct msg m[NR];
	struct stat st;
	bool good = true, host = true, own = true;
	int i;

	for (i = 0; i < NR; i++) {
		if (recv_msg(sock, &m[i]) != 1) {
			ok(0, "%s: message %d received", tag, i);
			return false;
		}
	}
	good &= ok(m[0].val == 0 && m[0].fd < 0, "%s: 1. version 0, no fd",
		   tag);
	good &= ok(m[1].val == 1 && m[1].fd < 0, "%s: 2. peer id 1, no fd",
		   tag);
	good &= ok(m[2].val == -1 && m[2].fd >= 0, "%s: 3. -1 + shm fd",
		   tag);
	/*
	 * the host serves VPV_NR_DOORBELLS doorbells (ABI 1.3: VPV_VEC_ECHO,
	 * 1.4: the device doorbells)
	 */
	for (i = 0; i < NR_HOST; i++) {
		host &= m[3 + i].val == 0 && m[3 + i].fd >= 0;
		c->host[i] = m[3 + i].fd;
	}
	good &= ok(host, "%s: 4. host peer 0 x11 doorbells with fds", tag);
	/* ABI 1.5: up to the last per-CPU vector (VPV_VEC_ECHO's unused) */
	for (i = 0; i < VPV_NR_GUEST_EVS; i++) {
		own &= m[3 + NR_HOST + i].val == 1 &&
		       m[3 + NR_HOST + i].fd >= 0;
		c->own[i] = m[3 + NR_HOST + i].fd;
	}
	good &= ok(own, "%s: 5. own id 1 x11 vectors with fds", tag);
	good &= ok(fstat(m[2].fd, &st) == 0 && st.st_size ==
		   VPV_SHM_MIN_SIZE, "%s: shm fd has the region size", tag);
	c->shm = m[2].fd;
	return good;
}

static void test_socketpair(void)
{
	struct guest g;
	struct client c;
	struct vpv_shared_header *h;
	struct vpv_hc_slot *s;
	uint64_t one = 1;
	int sv[2], p;
	struct msg extra;

	test_guest(&g, 64ull << 20, 2);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		BAIL("socketpair");
	is(ivshmem_send_setup(&g, sv[0]), 0, "send_setup succeeds");
	close(sv[0]);
	check_sequence(sv[1], &c, "pair");
	is(recv_msg(sv[1], &extra), 0, "nothing after the sequence");
	close(sv[1]);

	h = mmap(NULL, VPV_SHM_MIN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 c.shm, 0);
	ok(h != MAP_FAILED && h->magic == VPV_MAGIC,
	   "client's shm mapping shows the header");
	if (h == MAP_FAILED)
		BAIL("mmap");

	/* echo port for the evtchn wiring test (before the thread runs) */
	p = call(&g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST,
		 0, 0);
	call(&g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_BIND_ECHO, p, 0, 0);
	ok(hc_thread_start(&g) == 0, "hypercall thread started");

	/* hypercall through the client's view */
	s = (struct vpv_hc_slot *)((char *)h + h->slot_offset) + 1;
	s->nr = VPV_HC_NOP;
	s->args[0] = 1234;
	s->seq = 1;
	__atomic_store_n(&s->state, VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ,
			 __ATOMIC_RELEASE);
	ok(write(c.host[VPV_VEC_HCALL], &one, 8) == 8,
	   "client rings host vector 0 via its eventfd");
	ok(wait_readable(c.own[VPV_VEC_HCALL], 5000),
	   "host loop interrupts client vector 0");
	ok(__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == VPV_SLOT_DONE &&
	   s->ret == 1234, "slot completed through the wired fds");

	/* event channel through vector 1 */
	{
		struct vpv_evtchn_shared *ev = (void *)((char *)h +
							h->evtchn_offset);

		__atomic_fetch_or(&ev->to_host.pending[0], 1ull << p,
				  __ATOMIC_SEQ_CST);
		__atomic_fetch_or(&ev->to_host.sel, 1, __ATOMIC_SEQ_CST);
		ok(write(c.host[VPV_VEC_EVTCHN], &one, 8) == 8,
		   "client rings host vector 1");
		ok(wait_readable(c.own[VPV_VEC_EVTCHN], 5000),
		   "echo interrupts client vector 1");
		ok(ev->to_guest.pending[0] & (1ull << p),
		   "echo set to_guest pending");
	}

	/* a per-CPU vector (ABI 1.5): the host's ring is the client's */
	is(guest_ring(&g, VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS - 1), 0,
	   "host rings the last per-CPU vector");
	ok(wait_readable(c.own[VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS - 1], 5000),
	   "... it interrupts client vector 10");
	is(ev_count(c.own[VPV_VEC_CPU0]), 0, "... and not vector 3");
	ok(guest_ring(&g, VPV_NR_GUEST_EVS) < 0, "no vector past them");
	hc_thread_stop(&g);
	munmap(h, VPV_SHM_MIN_SIZE);
	client_close(&c);
	guest_destroy(&g);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		BAIL("connect %s: %s", path, strerror(errno));
	return fd;
}

static void test_unix_socket(void)
{
	char path[128];
	struct guest g;
	struct client c;
	struct msg m;
	int c1, c2;

	test_guest(&g, 64ull << 20, 1);
	snprintf(path, sizeof(path), "%s/t.sock", test_dir);
	is(ivshmem_listen(&g, path), 0, "listen on a unix socket");
	ok(ivshmem_listen(&(struct guest){ .listen_fd = -1 }, path) < 0,
	   "second listener on the same path fails");
	is(ivshmem_accept(&g), 0, "accept with no client -> 0");
	c1 = connect_to(path);
	is(ivshmem_accept(&g), 1, "accept first client");
	check_sequence(c1, &c, "unix");
	client_close(&c);
	c2 = connect_to(path);
	is(ivshmem_accept(&g), 0, "second concurrent client rejected");
	is(recv_msg(c2, &m), 0, "rejected client gets EOF, no fds");
	close(c2);
	ok(g.conn_fd >= 0, "first client still connected");
	close(c1);
	ivshmem_conn_event(&g);
	ok(g.conn_fd < 0, "disconnect detected");
	c1 = connect_to(path);
	is(ivshmem_accept(&g), 1, "a new client after disconnect is served");
	check_sequence(c1, &c, "again");
	client_close(&c);
	close(c1);
	guest_destroy(&g);
	ok(access(path, F_OK) < 0, "socket removed by guest_destroy");
}

int main(void)
{
	test_dir_make();
	test_socketpair();
	test_unix_socket();
	test_dir_remove();
	return tap_done();
}
