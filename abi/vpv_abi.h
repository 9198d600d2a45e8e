/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * pvkit guest <-> host ABI.
 *
 * This header is included by the guest kernel modules and by the host
 * stub (vpv-host).  It uses only fixed-width types from the UAPI header
 * <linux/types.h>, which exists both in the kernel and in userspace
 * (linux-libc-dev).  Everything is little-endian (x86-64 only).
 *
 * Documentation/abi.rst describes every field; keep the two in sync.
 *
 * Transport: QEMU's ivshmem-doorbell device.  BAR0 holds the ivshmem
 * registers, BAR2 the shared region laid out below.  The host stub is
 * the ivshmem server and the only other peer (peer id in the header).
 * Guest RAM is a shared file the host maps, so arguments may carry guest
 * physical addresses (GPAs) that the host translates and bounds-checks.
 */
#ifndef VPV_ABI_H
#define VPV_ABI_H

#include <linux/const.h>
#include <linux/types.h>

/* ---------------------------------------------------------------- */
/* Versioning                                                        */
/* ---------------------------------------------------------------- */

#define VPV_MAGIC		0x4b565056u	/* "VPVK" little-endian */
#define VPV_ABI_MAJOR		1
#define VPV_ABI_MINOR		5
#define VPV_ABI_VERSION		((VPV_ABI_MAJOR << 16) | VPV_ABI_MINOR)

/* ---------------------------------------------------------------- */
/* ivshmem-doorbell device                                           */
/* ---------------------------------------------------------------- */

#define VPV_PCI_VENDOR		0x1af4	/* Red Hat, Inc. (QEMU ivshmem) */
#define VPV_PCI_DEVICE		0x1110

/* BAR0 register offsets (QEMU docs/specs/ivshmem-spec.rst) */
#define VPV_REG_INTRMASK	0x00
#define VPV_REG_INTRSTATUS	0x04
#define VPV_REG_IVPOSITION	0x08	/* read: own peer id */
#define VPV_REG_DOORBELL	0x0c	/* write: (peer << 16) | vector */

#define VPV_DOORBELL(peer, vec)	((((__u32)(peer) & 0xffff) << 16) | \
				 ((__u32)(vec) & 0xffff))

/*
 * Interrupt vectors.  The guest takes VPV_NR_VECTORS MSI-X vectors (the
 * host rings only those); the host serves VPV_NR_DOORBELLS doorbell
 * vectors (ABI 1.3: one more, VPV_VEC_ECHO, guest->host only; ABI 1.4:
 * VPV_NR_DEV_DOORBELLS device doorbells from VPV_VEC_DEV0 on, see
 * struct vpv_evtchn_dir).  QEMU's ivshmem-doorbell needs vectors=
 * VPV_NR_DOORBELLS to take that many eventfds of the host's peer.
 *
 * ABI 1.5, per-CPU vectors (VPV_F_CPU_VECTORS): the host->guest side of
 * vectors VPV_VEC_CPU0 .. VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS - 1 (the
 * numbers of the device doorbells, which go the other way).  A guest
 * that negotiated it takes those MSI-X vectors too, points vector
 * VPV_VEC_CPU0 + i at its CPU i, and handles an interrupt there exactly
 * as one on VPV_VEC_EVTCHN (the same scan of sel).  The host rings one
 * only for a device whose front-end named it for a queue (blkif's
 * "q<q>-vector" key), after setting the pending and selector bits as
 * for VPV_VEC_EVTCHN: the queue's answers then interrupt the CPU that
 * submitted them, as virtio's per-queue MSI-X vectors do, instead of
 * one CPU for every device (which then has to pass the work on).
 */
#define VPV_NR_VECTORS		2
#define VPV_VEC_DEV0		3	/* the first device doorbell */
#define VPV_NR_DEV_DOORBELLS	8
#define VPV_NR_DOORBELLS	(VPV_VEC_DEV0 + VPV_NR_DEV_DOORBELLS)
#define VPV_VEC_CPU0		3	/* host->guest: CPU 0's vector */
#define VPV_NR_CPU_VECTORS	8	/* CPUs 0 .. 7 */
/* guest->host: a slot is pending; host->guest: a slot completed with
 * VPV_SLOT_WANT_IRQ set (or a raw ping asked for an interrupt)
 */
#define VPV_VEC_HCALL		0
#define VPV_VEC_EVTCHN		1	/* event channel notification */
/* guest->host only (VPV_F_ECHO): the minimal echo, see echo_ping */
#define VPV_VEC_ECHO		2

/* ---------------------------------------------------------------- */
/* Shared region (BAR2) layout                                       */
/* ---------------------------------------------------------------- */

#define VPV_SHM_MIN_SIZE	0x100000u	/* 1 MiB */
#define VPV_PAGE_SIZE		4096u

/* host_status values */
#define VPV_HOST_DOWN		0
#define VPV_HOST_READY		1

/* Host feature bits (host_features); the guest writes the subset it
 * uses to guest_features and confirms with VPV_HC_NEGOTIATE.
 */
#define VPV_F_MULTICALL		_BITULL(0)
#define VPV_F_EVTCHN		_BITULL(1)
#define VPV_F_IRQ_COMPLETION	_BITULL(2)	/* VPV_SLOT_WANT_IRQ */
#define VPV_F_ECHO		_BITULL(3)	/* echo_ping, VPV_VEC_ECHO (1.3) */
#define VPV_F_HC_POLL		_BITULL(4)	/* hc_poll suppression (1.3) */
#define VPV_F_DEV_DOORBELL	_BITULL(5)	/* to_host.doorbell_port (1.4) */
#define VPV_F_CPU_VECTORS	_BITULL(6)	/* VPV_VEC_CPU0.. (1.5) */
#define VPV_F_BALLOON		_BITULL(8)	/* balloon */
#define VPV_F_BALLOON_2M	_BITULL(9)
#define VPV_F_PAGE_REPORTING	_BITULL(10)
#define VPV_F_PVMMU		_BITULL(16)	/* PV MMU */
#define VPV_F_GRANT		_BITULL(24)	/* split drivers */
#define VPV_F_STORE		_BITULL(25)

/*
 * Page 0 of the shared region.  Written by the host before the guest
 * can see the device; read-only for the guest except guest_features and
 * guest_status.  All offsets are from the start of BAR2.
 */
struct vpv_shared_header {
	__u32 magic;		/* VPV_MAGIC */
	__u32 abi_version;	/* VPV_ABI_VERSION the host speaks */
	__u32 host_peer_id;	/* ivshmem peer id of the host stub */
	__u32 host_status;	/* VPV_HOST_* */
	__u64 shm_size;		/* size of BAR2 in bytes */
	__u64 host_features;	/* VPV_F_* offered */
	/* VPV_F_* the guest asked for (guest writes; informational, the
	 * VPV_HC_NEGOTIATE argument is what counts)
	 */
	__u64 guest_features;

	__u32 nr_slots;		/* hypercall slots (>= 1) */
	__u32 slot_offset;	/* offset of struct vpv_hc_slot[nr_slots] */
	__u32 slot_size;	/* sizeof(struct vpv_hc_slot) */
	__u32 multicall_max;	/* max entries per VPV_HC_MULTICALL */

	__u32 evtchn_nr_ports;	/* ports 1 .. nr_ports-1 usable; <= 4096 */
	__u32 evtchn_offset;	/* offset of struct vpv_evtchn_shared */
	__u32 guest_status;	/* guest writes VPV_GUEST_* */
	__u32 reserved0;

	__u64 guest_ram_size;	/* bytes of guest RAM the host maps */

	/*
	 * Raw transport probe (no hypercall dispatch): the guest stores a
	 * new value in raw_ping (bit 31: reply with an interrupt) and rings
	 * VPV_VEC_HCALL; on every such doorbell the host first checks
	 * whether raw_ping & 0x7fffffff differs from raw_pong, and if so
	 * copies it to raw_pong and, if bit 31 was set, rings the guest's
	 * VPV_VEC_HCALL.  Measures the doorbell round trip.
	 */
	__u32 raw_ping;
	__u32 raw_pong;

	/* Split drivers (VPV_F_GRANT, VPV_F_STORE; ABI 1.1) */
	__u32 gnttab_offset;	/* struct vpv_grant_entry[gnttab_nr] */
	__u32 gnttab_nr;	/* grant references 0 .. gnttab_nr - 1 */
	__u32 store_offset;	/* struct vpv_store_ring (one page) */
	__u32 domid;		/* this guest's domain id (1 ..) */
	__u64 reserved1[3];

	/*
	 * Doorbell suppression (VPV_F_HC_POLL, ABI 1.3), offset 128, a
	 * cache line of its own.  The host sets VPV_HC_POLL_ACTIVE while
	 * its hypercall thread polls the slots and clears it before it
	 * sleeps; then it issues a full barrier and scans the slots once
	 * more.  A guest that negotiated VPV_F_HC_POLL publishes PENDING,
	 * issues a full barrier, reads hc_poll and rings VPV_VEC_HCALL
	 * only if the flag is clear.  The host never reads this word.
	 */
	__u32 hc_poll;
	__u32 reserved2;
	__u64 reserved3[7];

	/*
	 * Minimal echo (VPV_F_ECHO, ABI 1.3), offset 192, a cache line of
	 * its own: the guest stores a new value in echo_ping and rings
	 * VPV_VEC_ECHO; a host thread that does nothing else copies it to
	 * echo_pong.  The transport's own round trip, sharing nothing with
	 * the hypercall path but the device.
	 */
	__u32 echo_ping;
	__u32 echo_pong;
	__u64 reserved[33];
};

#define VPV_HC_POLL_ACTIVE	1u	/* hc_poll: no doorbell needed */

#define VPV_GUEST_DOWN		0
#define VPV_GUEST_UP		1

/* ---------------------------------------------------------------- */
/* Hypercall slots                                                   */
/* ---------------------------------------------------------------- */

/*
 * Slot state machine (the state word is accessed atomically):
 *   guest: IDLE -> fill nr/args -> PENDING (release) -> ring doorbell
 *          (VPV_VEC_HCALL to host_peer_id);
 *   guest, after spinning a while: cmpxchg PENDING -> PENDING|WANT_IRQ;
 *   host:  sees PENDING (acquire), copies nr/args once, executes, writes
 *          ret, then xchg(state, DONE); if the old value had WANT_IRQ
 *          it rings VPV_VEC_HCALL of the guest;
 *   guest: sees DONE (acquire), reads ret, stores IDLE.
 * The host ignores slots in any other state.
 */
#define VPV_SLOT_IDLE		0u
#define VPV_SLOT_PENDING	1u
#define VPV_SLOT_DONE		2u
#define VPV_SLOT_STATE_MASK	0xffu
#define VPV_SLOT_WANT_IRQ	0x80000000u

#define VPV_HC_NR_ARGS		6

struct vpv_hc_slot {
	__u32 state;		/* VPV_SLOT_* */
	__u32 nr;		/* VPV_HC_* */
	__u64 args[VPV_HC_NR_ARGS];
	__s64 ret;		/* >= 0 result, < 0 is -VPV_E* */
	__u64 seq;		/* guest-incremented; host echoes to done_seq */
	__u64 done_seq;
	__u64 reserved[6];
};				/* 128 bytes */

/* ---------------------------------------------------------------- */
/* Hypercall numbers                                                 */
/* ---------------------------------------------------------------- */

/* VPV_HC_NOP(a0): returns a0 & 0x7fffffffffffffff (round-trip probe) */
#define VPV_HC_NOP		0
/* VPV_HC_NEGOTIATE(abi_version, features, flags): returns the accepted
 * feature set (features & host_features, bit 63 clear) or
 * -VPV_EPROTO if the major version differs, -VPV_EINVAL for unknown
 * flags (ABI 1.2; older hosts ignore flags).  Negotiation (re)starts a
 * guest session: the host closes every event channel port the guest
 * had, so a reloaded guest driver starts from a clean state.
 */
#define VPV_HC_NEGOTIATE	1
/*
 * NEGOTIATE flag (ABI 1.2), for a driver instance that has just loaded:
 * before completing the NEGOTIATE, the host completes every other slot
 * still PENDING (a previous instance's calls that timed out) with
 * -VPV_ECANCELED without running it, so none runs in the new session
 * and the new instance gets those slots back.
 */
#define VPV_NEGOTIATE_CANCEL_SLOTS	_BITULL(0)
#define VPV_NEGOTIATE_FLAGS_ALL		VPV_NEGOTIATE_CANCEL_SLOTS
/* VPV_HC_MULTICALL(gpa, count, flags): see struct vpv_multicall_entry */
#define VPV_HC_MULTICALL	2
/* VPV_HC_EVTCHN_OP(cmd, a1, a2, ...): VPV_EVTCHNOP_* below */
#define VPV_HC_EVTCHN_OP	3
/* VPV_HC_MEMCHK(gpa, len): 32-bit FNV-1a of guest bytes [gpa, gpa+len).
 * len == 0: -VPV_EINVAL; len > VPV_MEMCHK_MAX: -VPV_E2BIG; range not in
 * guest RAM: -VPV_EFAULT.  Exercises the host's GPA translation.
 */
#define VPV_HC_MEMCHK		4
#define VPV_HC_MEMORY_OP	5	/* balloon: VPV_MEMOP_* below */
#define VPV_HC_MMU_UPDATE	6	/* PV MMU: see below */
#define VPV_HC_MMUEXT_OP	7	/* PV MMU: see below */
#define VPV_HC_GRANT_TABLE_OP	8	/* grant tables: see below */
#define VPV_HC_STORE_OP		9	/* config store: see below */
#define VPV_HC_MAX		16	/* numbers >= this: -VPV_ENOSYS */

#define VPV_MEMCHK_MAX		0x100000u	/* 1 MiB */

/* ---------------------------------------------------------------- */
/* Error codes: hypercalls return the negative of these.             */
/* Values equal Linux errno values on x86-64.                        */
/* ---------------------------------------------------------------- */

#define VPV_EPERM	1	/* not allowed for this guest / port */
#define VPV_ENOENT	2	/* no such object */
#define VPV_EIO		5	/* the host's I/O failed (block devices) */
#define VPV_E2BIG	7	/* count above the documented maximum */
#define VPV_EAGAIN	11	/* try again later */
#define VPV_ENOMEM	12	/* host out of memory or budget */
#define VPV_EFAULT	14	/* GPA outside guest RAM / not mapped */
#define VPV_EBUSY	16	/* object in use */
#define VPV_EEXIST	17	/* already exists / already bound */
#define VPV_EINVAL	22	/* malformed argument */
#define VPV_ENOSPC	28	/* no free port / slot */
#define VPV_EROFS	30	/* write to a read-only device */
#define VPV_ENOSYS	38	/* unknown hypercall or sub-command */
#define VPV_EPROTO	71	/* ABI version mismatch */
#define VPV_EOPNOTSUPP	95	/* feature not negotiated */
#define VPV_ECANCELED	125	/* not run: a new session cancelled it */

/* ---------------------------------------------------------------- */
/* Multicall                                                         */
/* ---------------------------------------------------------------- */

/*
 * VPV_HC_MULTICALL(gpa, count, flags): gpa points to count contiguous
 * entries in guest RAM (8-byte aligned, must not straddle the end of a
 * RAM block).  count == 0: -VPV_EINVAL; count > multicall_max:
 * -VPV_E2BIG; unknown flags: -VPV_EINVAL.  The host copies all
 * entries once, runs them in order and writes each entry's result field
 * back.  An entry whose op is VPV_HC_MULTICALL gets -VPV_EINVAL.  With
 * VPV_MC_STOP_ON_ERROR the host stops after the first entry with a
 * negative result; entries after it are not executed and their result
 * is set to -VPV_EAGAIN.
 * Return: number of entries executed (the failed one included).
 */
#define VPV_MULTICALL_MAX	512
#define VPV_MC_STOP_ON_ERROR	0x1u
#define VPV_MC_FLAGS_ALL	VPV_MC_STOP_ON_ERROR

struct vpv_multicall_entry {
	__u32 op;		/* VPV_HC_* */
	__u32 flags;		/* must be 0 */
	__u64 args[VPV_HC_NR_ARGS];
	__s64 result;		/* written by the host */
};				/* 64 bytes */

/* ---------------------------------------------------------------- */
/* Event channels (Xen 2-level style)                                */
/* ---------------------------------------------------------------- */

#define VPV_EVTCHN_MAX_PORTS	4096
#define VPV_EVTCHN_WORDS	(VPV_EVTCHN_MAX_PORTS / 64)

/*
 * Port 0 is never valid.  Host->guest: the host sets the port's bit in
 * to_guest.pending; if the port is not set in guest_mask it then sets
 * bit (port / 64) in to_guest.sel and, if the selector was previously
 * zero, rings the guest's VPV_VEC_EVTCHN.  The guest xchg()s sel to 0,
 * and for each set word clears and handles pending & ~guest_mask.
 * Unmasking a port whose pending bit is set re-raises it locally.
 * Guest->host: the guest sets the port's bit in to_host.pending, sets
 * bit (port / 64) of to_host.sel and rings the host's VPV_VEC_EVTCHN.
 * The host handles ports in its own order; host-side masking is private
 * to the host.
 *
 * Device doorbells (VPV_F_DEV_DOORBELL, ABI 1.4): to_host.doorbell_port
 * [i] names a port whose service waits on doorbell vector
 * VPV_VEC_DEV0 + i itself (a back-end process, which then needs no
 * host thread to pass the event on); 0 means none.  The host writes the
 * entries: when such a service binds its port, and back to 0 before the
 * port can be bound or allocated again (the guest's CLOSE clears them
 * before it returns).  For a port found there the guest, after setting
 * the pending and selector bits as above, rings that vector instead of
 * VPV_VEC_EVTCHN.  The host never trusts the entries (it only clears
 * its own), and any vector the guest rings for a port reaches its
 * service: VPV_VEC_EVTCHN always works.  to_guest.doorbell_port is
 * unused (0).
 */
struct vpv_evtchn_dir {
	__u64 sel;
	__u32 doorbell_port[VPV_NR_DEV_DOORBELLS];
	__u64 reserved[3];
	__u64 pending[VPV_EVTCHN_WORDS];
};

struct vpv_evtchn_shared {
	struct vpv_evtchn_dir to_guest;
	struct vpv_evtchn_dir to_host;
	__u64 guest_mask[VPV_EVTCHN_WORDS];	/* guest-owned */
};

/* VPV_HC_EVTCHN_OP(cmd, ...) sub-commands */
/* ALLOC(remote): allocate a port connected to remote, which must be
 * VPV_DOMID_HOST (a service inside the stub) else -VPV_EINVAL.
 * Returns the port (> 0); -VPV_ENOSPC when all ports are in use.
 * Any port outside 1..evtchn_nr_ports-1: -VPV_EINVAL; a port that is
 * not allocated: -VPV_ENOENT.
 */
#define VPV_EVTCHNOP_ALLOC		0
/* CLOSE(port): free the port.  -VPV_ENOENT if not allocated.  A host
 * service bound to it (VPV_EVTCHN_STAT_BACKEND) lets go of it at once:
 * it gets no more events from it, even when ALLOC hands the number out
 * again, until its front-end connects it again.
 */
#define VPV_EVTCHNOP_CLOSE		1
/* SEND(port): same effect as the shared-memory send path. */
#define VPV_EVTCHNOP_SEND		2
/* STATUS(port): VPV_EVTCHN_STAT_* of the port */
#define VPV_EVTCHNOP_STATUS		3
/* BIND_ECHO(port): attach the stub's echo service: each guest->host
 * notification on port is answered with a host->guest notification on
 * the same port.  Used for tests and benchmarks.
 */
#define VPV_EVTCHNOP_BIND_ECHO		4
/* FIRE(port, count): the host raises port count times (1..65536),
 * waiting for the guest to clear pending between raises is NOT done:
 * returns the number of raises that found the bit clear (delivered as
 * a new event).  Used for host->guest direction tests.
 */
#define VPV_EVTCHNOP_FIRE		5

#define VPV_EVTCHN_STAT_CLOSED		0
#define VPV_EVTCHN_STAT_UNBOUND		1	/* allocated, no host service */
#define VPV_EVTCHN_STAT_ECHO		2
#define VPV_EVTCHN_STAT_BACKEND		3	/* bound to a back-end */

#define VPV_DOMID_HOST			0x7ff0u

/* ---------------------------------------------------------------- */
/* Memory: balloon and free page reporting (VPV_F_BALLOON ...)       */
/* ---------------------------------------------------------------- */

/*
 * VPV_HC_MEMORY_OP(cmd, a1, a2, a3).  A PFN is a guest frame number,
 * gpa >> 12, whatever the order.  Every call copies its array once,
 * validates all of it and then either applies all of it or nothing: an
 * error leaves the P2M, the budget accounting and the RAM file exactly
 * as they were.  Sub-commands other than those below: -VPV_ENOSYS; any
 * of them without VPV_F_BALLOON negotiated: -VPV_EOPNOTSUPP.
 *
 * POLL(stats_gpa): the guest reports struct vpv_balloon_stats (copied
 * once) and gets back the balloon size the host wants, in 4 KiB pages
 * (0 .. guest RAM pages).  Guests poll about once a second.
 *
 * DECREASE(pfns_gpa, count, order): give extents back to the host.
 * pfns_gpa points to count __u64 PFNs; each extent is 1 << order pages
 * starting at its PFN, which must be aligned to 1 << order.  The host
 * punches the pages out of the guest's RAM file (the memory really
 * returns to the host) and marks them invalid in its P2M table.
 * Returns count.
 *
 * INCREASE(pfns_gpa, count, order): take extents back.  The host marks
 * them populated again (their content reads as zeros).  Returns count.
 *
 * REPORT_FREE(ranges_gpa, count): free page reporting: count
 * struct vpv_mem_range the guest's allocator has free.  The host
 * punches them out of the RAM file; they stay populated (the guest
 * still owns them and may use them again at once: they read as zeros).
 * Needs VPV_F_PAGE_REPORTING.  Returns count.
 *
 * The host works through large calls in bounded steps (other guests'
 * calls interleave) and POLL returns the target its policy computed
 * last (once a second, or on an administrator's command).
 *
 * Errors (the first that applies):
 *   an unknown sub-command: -VPV_ENOSYS; VPV_F_BALLOON (and for
 *   REPORT_FREE VPV_F_PAGE_REPORTING too) not offered: -VPV_EOPNOTSUPP;
 *   count == 0: -VPV_EINVAL; count > VPV_MEMOP_MAX_EXTENTS: -VPV_E2BIG;
 *   order not 0 or 9 (9 only with VPV_F_BALLOON_2M): -VPV_EINVAL;
 *   the array not inside guest RAM or not 8-byte aligned: -VPV_EFAULT;
 *   a PFN or range not inside guest RAM, misaligned, or a range not
 *   page aligned or empty: -VPV_EINVAL;
 *   the same page twice in one call: -VPV_EINVAL;
 *   REPORT_FREE ranges adding up to more than VPV_MEMOP_MAX_EXTENTS
 *   2 MiB extents (2 GiB) in one call: -VPV_E2BIG;
 *   DECREASE/REPORT_FREE of a page not populated: -VPV_ENOENT;
 *   DECREASE/REPORT_FREE of a page another subsystem pins (PV page
 *   tables, grants): -VPV_EBUSY;
 *   INCREASE of a page already populated: -VPV_EEXIST;
 *   INCREASE beyond the host memory budget: -VPV_ENOMEM.
 *
 * The P2M is the host's bookkeeping: guest RAM is a shared file, so the
 * host cannot stop a guest touching a page it gave back.  Doing so is a
 * guest bug; the page reads as zeros and occupies host memory again,
 * which the host sees in the RAM file's occupancy.  NEGOTIATE does not
 * change the P2M: a balloon driver deflates fully before it unloads.
 * The host does not enforce a guest's target on INCREASE, only the
 * budget; the policy takes memory back through later targets.
 */
#define VPV_MEMOP_POLL			0
#define VPV_MEMOP_DECREASE		1
#define VPV_MEMOP_INCREASE		2
#define VPV_MEMOP_REPORT_FREE		3

#define VPV_MEMOP_MAX_EXTENTS		1024
#define VPV_MEMOP_ORDER_4K		0
#define VPV_MEMOP_ORDER_2M		9

/* Guest memory statistics, the set virtio_balloon reports.  Sizes in
 * bytes, events as counts since boot.
 */
struct vpv_balloon_stats {
	__u64 balloon_pages;	/* 4 KiB pages in the balloon now */
	__u64 total;		/* MemTotal */
	__u64 free;		/* MemFree */
	__u64 available;	/* MemAvailable */
	__u64 active_anon;
	__u64 inactive_anon;
	__u64 active_file;
	__u64 inactive_file;
	__u64 swap_in;		/* pages swapped in */
	__u64 swap_out;		/* pages swapped out */
	__u64 major_faults;
	__u64 minor_faults;
	__u64 oom_kills;
	/* the guest's estimate of its active memory fraction f: active
	 * memory over the memory it holds (total minus the balloon), in
	 * parts per million (the idle memory tax uses it)
	 */
	__u64 active_ppm;
	__u64 reserved[18];
};				/* 256 bytes */

struct vpv_mem_range {
	__u64 gpa;		/* page aligned */
	__u64 len;		/* bytes, page aligned, > 0 */
};

/* ---------------------------------------------------------------- */
/* PV MMU: host-validated page-table updates (VPV_F_PVMMU)           */
/* ---------------------------------------------------------------- */

/*
 * The guest hands leaf page-table pages (x86-64 PTE pages, 512 entries,
 * each mapping 4 KiB) to the host with MMUEXT PIN_L1_TABLE; from then
 * on the host is their only writer until UNPIN.  The guest reads its
 * PTEs directly and flushes its own TLB after updates the host applied
 * (the host cannot reach the guest's TLB).  PTE values are x86-64 PTEs
 * with guest-physical frame numbers, as the guest's MMU expects them.
 *
 * VPV_HC_MMU_UPDATE(reqs_gpa, count, done_gpa): count (1..
 * VPV_MMU_UPDATE_MAX) struct vpv_mmu_update, applied in order; the
 * first failing one stops the batch: nothing after it is applied.
 * Returns 0 if all were applied, else the first failure's error.  If
 * done_gpa is not 0 the host stores there (a __u64) how many requests
 * it applied, in every case.
 *
 * VPV_HC_MMUEXT_OP(ops_gpa, count, done_gpa): count (1..
 * VPV_MMU_UPDATE_MAX) struct vpv_mmuext_op, same conventions.
 *
 * Errors, whole call, the first that applies (nothing applied; done is
 * written as 0 where done_gpa itself is usable): count 0: -VPV_EINVAL;
 * count > VPV_MMU_UPDATE_MAX: -VPV_E2BIG; the array or done_gpa not in
 * guest RAM or not 8-byte aligned: -VPV_EFAULT; VPV_F_PVMMU not
 * offered: -VPV_EOPNOTSUPP.
 *
 * Errors, per request (the first that applies):
 *   MMU_UPDATE: ptr not 8-byte aligned: -VPV_EINVAL; ptr's page is not
 *   a table pinned by this guest: -VPV_EPERM; val present (bit 0) with
 *   the USER bit (2): -VPV_EPERM; with a bit outside
 *   VPV_PTE_ALLOWED: -VPV_EINVAL; mapping a frame outside guest RAM:
 *   -VPV_EINVAL; a frame not populated (ballooned out): -VPV_ENOENT; a
 *   pinned table page mapped writable (RW, bit 1): -VPV_EPERM.  A
 *   non-present val must be 0 (-VPV_EINVAL otherwise).
 *   MMUEXT PIN_L1_TABLE(pfn): pfn outside RAM: -VPV_EINVAL; not
 *   populated: -VPV_ENOENT; already pinned as a table: -VPV_EEXIST;
 *   mapped writable by a present PTE in one of this guest's pinned
 *   tables: -VPV_EPERM; an entry of the page itself failing the
 *   MMU_UPDATE rules: that rule's error.  UNPIN_TABLE(pfn): not a
 *   pinned table: -VPV_ENOENT.  Before all of these: pad not 0:
 *   -VPV_EINVAL, then an unknown cmd: -VPV_ENOSYS.  PIN beyond the
 *   host's limit (4096 tables per guest) or a frame's pin count:
 *   -VPV_ENOSPC.  A table mapping itself writable counts as mapping a
 *   pinned table RW.  The host pins a frame once however many PTEs
 *   map it (vpv-ctl p2m shows 1).
 *
 * Reference counts: every frame a present PTE in a pinned table maps,
 * and every pinned table page, is pinned in the host's P2M: the balloon
 * cannot take it (VPV_MEMOP_DECREASE gets -VPV_EBUSY) until the PTE is
 * cleared or the table unpinned.  Pinning a table takes a reference on
 * every frame its present entries map; unpinning drops them (the
 * entries stay as they are).
 *
 * The host keeps its own copy of each pinned table.  A guest write to a
 * pinned table that did not go through MMU_UPDATE is found when the
 * host next audits that table (at every MMU hypercall naming it and
 * once a second) and counted and logged (vpv-ctl stats: pt_tampered);
 * the host then restores its copy into the table.  The audit ignores
 * the Accessed and Dirty bits of present entries: the guest's MMU sets
 * those itself.
 */
#define VPV_MMU_UPDATE_MAX		512

struct vpv_mmu_update {
	__u64 ptr;		/* GPA of the PTE (in a pinned table page) */
	__u64 val;		/* new PTE value */
};

#define VPV_PTE_PRESENT		_BITULL(0)
#define VPV_PTE_RW		_BITULL(1)
#define VPV_PTE_USER		_BITULL(2)
#define VPV_PTE_PWT		_BITULL(3)
#define VPV_PTE_PCD		_BITULL(4)
#define VPV_PTE_ACCESSED	_BITULL(5)
#define VPV_PTE_DIRTY		_BITULL(6)
#define VPV_PTE_GLOBAL		_BITULL(8)
#define VPV_PTE_SOFT		(_BITULL(9) | _BITULL(10) | _BITULL(11))
#define VPV_PTE_NX		_BITULL(63)
#define VPV_PTE_PFN_MASK	0x000ffffffffff000ull	/* bits 12..51 */
#define VPV_PTE_ALLOWED		(VPV_PTE_PRESENT | VPV_PTE_RW | \
				 VPV_PTE_PWT | VPV_PTE_PCD | \
				 VPV_PTE_ACCESSED | VPV_PTE_DIRTY | \
				 VPV_PTE_GLOBAL | VPV_PTE_SOFT | \
				 VPV_PTE_NX | VPV_PTE_PFN_MASK)

#define VPV_MMUEXT_PIN_L1_TABLE		0
#define VPV_MMUEXT_UNPIN_TABLE		1

struct vpv_mmuext_op {
	__u32 cmd;		/* VPV_MMUEXT_* */
	__u32 pad;		/* must be 0 (-VPV_EINVAL) */
	__u64 pfn;		/* the table page's guest frame */
};

/* ---------------------------------------------------------------- */
/* Grant tables, v1 (VPV_F_GRANT)                                    */
/* ---------------------------------------------------------------- */

/*
 * The grant table lives in the shared region (header gnttab_offset,
 * gnttab_nr entries).  The guest owns it: to grant frame F to domain D
 * it writes frame and domid, then (release) flags = PERMIT_ACCESS
 * [| READONLY].  Only the host writes READING/WRITING, with a locked
 * compare-and-exchange on the 32-bit word holding flags and domid,
 * while it (or a back-end in it) accesses the frame; the guest ends
 * access by compare-and-exchanging flags from a value without
 * READING/WRITING to 0, and must not reuse the reference or the frame
 * while either bit is set (end access is refused: the frame is in use).
 *
 * The host accesses guest memory for a back-end only through a grant:
 * ref < gnttab_nr, PERMIT_ACCESS set, domid naming the accessor
 * (VPV_DOMID_HOST for the stub's back-ends, another guest's domid for
 * grant copy), READONLY clear for a write, frame inside guest RAM and
 * populated.  A frame is pinned in the host's P2M while it is accessed
 * (the balloon gets -VPV_EBUSY).  References 0..7 are reserved (never
 * granted; -VPV_EPERM).  A granted frame outside guest RAM:
 * -VPV_EINVAL for a back-end's access, -VPV_ENOENT for grant copy.
 *
 * VPV_HC_GRANT_TABLE_OP(VPV_GNTTABOP_COPY, copies_gpa, count): count
 * (1..VPV_GNTTAB_COPY_MAX) struct vpv_gnttab_copy, each copying len
 * bytes between two grants or a grant and the caller's own memory (a
 * GPA); the caller is the accessing domain of a foreign grant.  Each
 * copy's status is written back (0 or -VPV_E*); the call returns the
 * number of copies that succeeded.  Whole call: count 0 -VPV_EINVAL,
 * too many -VPV_E2BIG, array not in RAM -VPV_EFAULT, feature not
 * offered -VPV_EOPNOTSUPP.  Per copy: ref out of range, reserved, or
 * not granted to the caller: -VPV_EPERM; write to a READONLY grant:
 * -VPV_EPERM; offset + len beyond the 4 KiB frame, or len 0:
 * -VPV_EINVAL; domid not a running guest: -VPV_ENOENT; frame not
 * populated: -VPV_ENOENT; own GPA range not in RAM: -VPV_EFAULT.
 */
#define VPV_GNTTAB_RESERVED		8
#define VPV_GNTTAB_COPY_MAX		64

#define VPV_GTF_PERMIT_ACCESS		0x0001u
#define VPV_GTF_READONLY		0x0004u
#define VPV_GTF_READING			0x0008u
#define VPV_GTF_WRITING			0x0010u

struct vpv_grant_entry {
	__u16 flags;		/* VPV_GTF_* */
	__u16 domid;		/* who may access */
	__u32 frame;		/* guest frame number (gpa >> 12) */
};

#define VPV_GNTTABOP_COPY		0

#define VPV_GNTCOPY_SOURCE_GREF		0x1u	/* source is (domid, ref) */
#define VPV_GNTCOPY_DEST_GREF		0x2u	/* dest is (domid, ref) */

struct vpv_gnttab_copy_ptr {
	__u64 gpa_or_ref;	/* the caller's GPA, or a grant reference */
	__u16 domid;		/* the granting guest (with *_GREF) */
	__u16 offset;		/* within the granted frame */
	__u32 pad;
};

struct vpv_gnttab_copy {
	struct vpv_gnttab_copy_ptr source;
	struct vpv_gnttab_copy_ptr dest;
	__u32 len;
	__u32 flags;		/* VPV_GNTCOPY_* */
	__s64 status;		/* written by the host */
};

/* ---------------------------------------------------------------- */
/* Config store (VPV_F_STORE)                                        */
/* ---------------------------------------------------------------- */

/*
 * A hierarchical key/value store owned by the host, reached through a
 * byte ring in the shared region (header store_offset) and an event
 * channel, as XenStore is.  The guest allocates a port
 * (VPV_EVTCHNOP_ALLOC) and calls VPV_HC_STORE_OP(VPV_STOREOP_CONNECT,
 * port); from then on either side notifies that port after producing
 * and after consuming (so a message larger than the ring can move on).
 * CONNECT zeroes the four ring indices: produce nothing before it
 * returns.  CONNECT errors: an unknown sub-command -VPV_ENOSYS; a port
 * outside 1..nr_ports-1 -VPV_EINVAL, not allocated -VPV_ENOENT, bound to
 * something else -VPV_EEXIST.  VPV_STOREOP_CONNECT again moves the ring
 * to a new port; a new session (NEGOTIATE) disconnects it and drops the
 * guest's watches and transactions.
 *
 * Messages: struct vpv_store_msg, then len payload bytes, streamed
 * through the rings (a message may wrap and may be larger than the
 * ring).  Indices are free-running; prod - cons <= VPV_STORE_RING_SIZE,
 * anything else is a protocol error that disconnects the ring.  Paths
 * are absolute ("/local/domain/3/device/vloop/0/state") or relative to
 * the guest's home /local/domain/<domid>.  A guest reads and writes its
 * home subtree and reads what the host made readable to it (its
 * devices' back-end directories).  Strings in payloads are
 * NUL-terminated; values are bytes.
 *
 * Requests (guest -> host, answered with the same type and req_id, or
 * VPV_STORE_ERROR with an errno name such as "ENOENT"):
 *   DIRECTORY path          -> child names, each NUL-terminated
 *   READ path               -> the value
 *   WRITE path NUL value    -> "OK"   (creates missing parents)
 *   MKDIR path              -> "OK"
 *   RM path                 -> "OK"   (the whole subtree)
 *   WATCH path NUL token NUL -> "OK"; then a WATCH_EVENT (path NUL
 *                              token NUL) now and whenever path or a
 *                              node below it changes; the event's path
 *                              is relative if the watch's was; the same
 *                              path and token twice: "EEXIST"
 *   UNWATCH path NUL token NUL -> "OK"
 *   TRANSACTION_START ""    -> the transaction id, decimal
 *   TRANSACTION_END "T"|"F" -> "OK" (commit or abort); "EAGAIN" if a
 *                              node it read changed meanwhile: retry
 * tx_id 0 is outside a transaction; an unknown tx_id: "EINVAL".
 * Limits, per guest: path <=
 * VPV_STORE_PATH_MAX, payload <= VPV_STORE_PAYLOAD_MAX (else "E2BIG"),
 * VPV_STORE_NODES_MAX nodes and VPV_STORE_WATCHES_MAX watches
 * ("ENOSPC"), VPV_STORE_TX_MAX open transactions ("EBUSY"); a
 * malformed message: "EINVAL"; outside what the guest may access:
 * "EACCES"; a node that does not exist: "ENOENT".
 */
#define VPV_STOREOP_CONNECT		0

#define VPV_STORE_RING_SIZE		1024
#define VPV_STORE_PAYLOAD_MAX		4096
#define VPV_STORE_PATH_MAX		256
#define VPV_STORE_NODES_MAX		1024
#define VPV_STORE_WATCHES_MAX		128
#define VPV_STORE_TX_MAX		16

struct vpv_store_ring {
	char req[VPV_STORE_RING_SIZE];	/* guest -> host */
	char rsp[VPV_STORE_RING_SIZE];	/* host -> guest */
	__u32 req_cons, req_prod;
	__u32 rsp_cons, rsp_prod;
};

enum vpv_store_type {
	VPV_STORE_DIRECTORY = 1,
	VPV_STORE_READ = 2,
	VPV_STORE_WRITE = 3,
	VPV_STORE_MKDIR = 4,
	VPV_STORE_RM = 5,
	VPV_STORE_WATCH = 6,
	VPV_STORE_UNWATCH = 7,
	VPV_STORE_TRANSACTION_START = 8,
	VPV_STORE_TRANSACTION_END = 9,
	VPV_STORE_WATCH_EVENT = 10,
	VPV_STORE_ERROR = 11,
};

struct vpv_store_msg {
	__u32 type;		/* enum vpv_store_type */
	__u32 req_id;		/* echoed in the answer */
	__u32 tx_id;		/* 0: no transaction */
	__u32 len;		/* payload bytes that follow */
};

/* ---------------------------------------------------------------- */
/* Bus: front/back devices in the store (Xen-style states)           */
/* ---------------------------------------------------------------- */

/*
 * A device of TYPE number ID for guest D has a front-end directory
 * /local/domain/D/device/TYPE/ID (the guest's) with keys "backend"
 * (the back-end directory's path), "backend-id" ("0": the host) and
 * "state", and a back-end directory /local/domain/0/backend/TYPE/D/ID
 * (the host's, readable by D) with "frontend", "frontend-id" and
 * "state".  States are decimal VPV_BUS_*.  The handshake: back-end
 * InitWait; front-end writes its ring/grant/port keys and Initialised;
 * back-end Connected; front-end Connected.  Either side going to
 * Closing/Closed tears the connection down; a back-end that comes back
 * (InitWait again) makes the front-end reconnect.
 */
#define VPV_BUS_UNKNOWN			0
#define VPV_BUS_INITIALISING		1
#define VPV_BUS_INITWAIT		2
#define VPV_BUS_INITIALISED		3
#define VPV_BUS_CONNECTED		4
#define VPV_BUS_CLOSING			5
#define VPV_BUS_CLOSED			6

/* Layout checks: both sides are compiled with these. */
#ifdef __KERNEL__
#include <linux/build_bug.h>
#else
#include <assert.h>
#endif
static_assert(sizeof(struct vpv_shared_header) <= VPV_PAGE_SIZE,
	      "vpv_shared_header must fit page 0");
static_assert(sizeof(struct vpv_hc_slot) == 128, "vpv_hc_slot size");
static_assert(sizeof(struct vpv_shared_header) == 464,
	      "vpv_shared_header size (ABI 1.0)");
static_assert(__builtin_offsetof(struct vpv_shared_header, hc_poll) == 128,
	      "hc_poll offset");
static_assert(__builtin_offsetof(struct vpv_shared_header, echo_ping) == 192,
	      "echo_ping offset");
static_assert(sizeof(struct vpv_multicall_entry) == 64,
	      "vpv_multicall_entry size");
static_assert(sizeof(struct vpv_balloon_stats) == 256,
	      "vpv_balloon_stats size");
static_assert(sizeof(struct vpv_grant_entry) == 8, "vpv_grant_entry size");
static_assert(VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS <= VPV_NR_DOORBELLS,
	      "per-CPU vectors within QEMU's vectors= (ABI 1.5)");
static_assert(__builtin_offsetof(struct vpv_evtchn_dir, pending) == 64,
	      "vpv_evtchn_dir layout (ABI 1.0)");
static_assert(sizeof(struct vpv_gnttab_copy) == 48,
	      "vpv_gnttab_copy size");
static_assert(sizeof(struct vpv_store_ring) <= VPV_PAGE_SIZE,
	      "vpv_store_ring size");

#endif /* VPV_ABI_H */
