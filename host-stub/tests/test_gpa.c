// SPDX-License-Identifier: GPL-2.0
/* GPA translation: q35 layout rule, boundaries, overflow, real file. */
#include "testutil.h"

#define G4	0x100000000ull

static int xlate(uint64_t ram, uint64_t gpa, uint64_t len, uint64_t *off)
{
	return gpa_to_offset(ram, gpa_lowmem(ram), gpa, len, off);
}

static void check(uint64_t ram, uint64_t gpa, uint64_t len, int exp_ok,
		  uint64_t exp_off, const char *what)
{
	uint64_t off = ~0ull;
	int r = xlate(ram, gpa, len, &off);

	if (exp_ok)
		ok(r == 0 && off == exp_off,
		   "ram %#llx: %s (gpa %#llx len %#llx -> off %#llx)",
		   (unsigned long long)ram, what, (unsigned long long)gpa,
		   (unsigned long long)len, (unsigned long long)off);
	else
		ok(r == -VPV_EFAULT, "ram %#llx: %s faults (gpa %#llx len %#llx)",
		   (unsigned long long)ram, what,
		   (unsigned long long)gpa, (unsigned long long)len);
}

static void test_rule(void)
{
	is(gpa_lowmem(256ull << 20), 256ull << 20, "256M all below 4G");
	is(gpa_lowmem(0x80000000ull), 0x80000000ull, "2G all below 4G");
	is(gpa_lowmem(0xaff00000ull), 0xaff00000ull,
	   "0xb0000000-1M all below 4G");
	is(gpa_lowmem(0xb0000000ull), 0x80000000ull,
	   "0xb0000000 splits at 2G");
	is(gpa_lowmem(4 * (1ull << 30)), 0x80000000ull, "4G splits at 2G");
}

static void test_small(void)
{
	uint64_t r = 64ull << 20;

	check(r, 0, 1, 1, 0, "first byte");
	check(r, 0, 0, 1, 0, "len 0 at 0");
	check(r, 0, r, 1, 0, "whole RAM");
	check(r, 0, r + 1, 0, 0, "whole RAM + 1");
	check(r, r - 1, 1, 1, r - 1, "last byte");
	check(r, r - 1, 2, 0, 0, "last byte + 1");
	check(r, r, 1, 0, 0, "first byte past end");
	check(r, r, 0, 0, 0, "len 0 past end");
	check(r, G4, 1, 0, 0, "4G with no high RAM");
	check(r, UINT64_MAX, 1, 0, 0, "gpa ~0");
	check(r, UINT64_MAX, 2, 0, 0, "gpa ~0 len 2 wraps");
	check(r, 1, UINT64_MAX, 0, 0, "len ~0 wraps");
	check(r, 0x1000, UINT64_MAX - 0xfff + 1, 0, 0, "wraps to 0");
}

static void test_split(uint64_t r)
{
	uint64_t high = r - 0x80000000ull;

	check(r, 0x7fffffffull, 1, 1, 0x7fffffffull, "last low byte");
	check(r, 0x7fffffffull, 2, 0, 0, "straddles into the PCI hole");
	check(r, 0x80000000ull, 1, 0, 0, "PCI hole start");
	check(r, 0xb0000000ull, 1, 0, 0, "PCI hole (old lowmem)");
	check(r, G4 - 1, 1, 0, 0, "PCI hole end");
	check(r, G4 - 1, 2, 0, 0, "hole into high RAM");
	check(r, 0x7ffff000ull, G4 - 0x7ffff000ull + 0x1000, 0, 0,
	      "low RAM across hole into high RAM");
	check(r, G4, 1, 1, 0x80000000ull, "first high byte");
	check(r, G4, high, 1, 0x80000000ull, "all high RAM");
	check(r, G4, high + 1, 0, 0, "all high RAM + 1");
	check(r, G4 + high - 1, 1, 1, r - 1, "last high byte");
	check(r, G4 + high - 1, 2, 0, 0, "last high byte + 1");
	check(r, G4 + high, 1, 0, 0, "past high RAM");
	check(r, UINT64_MAX - 7, 8, 0, 0, "top of address space");
	check(r, G4 + 8, UINT64_MAX - 7, 0, 0, "high gpa, len wraps");
}

static void test_real_file(void)
{
	uint64_t ram = 0xb0000000ull, v = 0x1122334455667788ull, rd = 0;
	struct guest g;
	int fd;

	test_guest(&g, ram, 1);
	is(g.lowmem, 0x80000000ull, "guest lowmem for 0xb0000000");
	fd = g.ram_fd;
	ok(gpa_write(&g, G4 + 0x10, &v, 8) == 0, "write at 4G+0x10");
	ok(pread(fd, &rd, 8, 0x80000010) == 8 && rd == v,
	   "4G+0x10 is file offset 0x80000010");
	v = 0xdeadbeefcafef00dull;
	ok(gpa_write(&g, 0x7ffffff8ull, &v, 8) == 0, "write last low qword");
	ok(pread(fd, &rd, 8, 0x7ffffff8) == 8 && rd == v,
	   "low RAM is identity-mapped");
	ok(gpa_read(&g, G4 + 0x10, &rd, 8) == 0 &&
	   rd == 0x1122334455667788ull, "gpa_read high RAM");
	ok(gpa_read(&g, 0x7ffffffcull, &rd, 8) == -VPV_EFAULT,
	   "gpa_read straddling the hole faults");
	ok(gpa_write(&g, G4 + 0x30000000ull - 4, &v, 8) == -VPV_EFAULT,
	   "gpa_write past the end faults");
	ok(!gpa_ptr(&g, 0x80000000ull, 1), "gpa_ptr in hole is NULL");
	ok(gpa_ptr(&g, G4, 0x30000000ull) == g.ram + 0x80000000ull,
	   "gpa_ptr high block");
	ok(gpa_ptr(&g, 0, 0x80000000ull) == g.ram, "gpa_ptr low block");
	guest_destroy(&g);
	ok(access(test_dir, F_OK) == 0, "guest_destroy keeps the dir");
}

int main(void)
{
	test_dir_make();
	test_rule();
	test_small();
	test_split(0xb0000000ull);
	test_split(6ull << 30);
	test_real_file();
	test_dir_remove();
	return tap_done();
}
