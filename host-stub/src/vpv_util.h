/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by vpv-host and the back-end processes
 * (backend/), which do not link the stub's library.
 */
#ifndef VPV_UTIL_H
#define VPV_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 32 of buf: the vloop answer's checksum (abi/vpv_vloop.h). */
static inline uint32_t fnv1a32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t h = 2166136261u;

	while (len--) {
		h ^= *p++;
		h *= 16777619u;
	}
	return h;
}

/*
 * A store value as a feature or key number: decimal digits only, one
 * optional trailing newline (as the guest's kstrtouint() takes), at
 * most UINT32_MAX.  v need not be NUL-terminated.  Returns 0 and the
 * number in *out, or -1 (empty, not such a number, too large).
 */
static inline int vpv_parse_u32(const char *v, size_t len, uint32_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (len && v[len - 1] == '\n')
		len--;
	if (!len)
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint32_t)(v[i] - '0');
		if (x > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

#endif /* VPV_UTIL_H */
