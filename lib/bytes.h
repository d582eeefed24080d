/*
 * Big-endian 64-bit integers in LMDB keys and values: stored so, keys sort
 * in numeric order.
 */
#ifndef TOLLGATE_BYTES_H
#define TOLLGATE_BYTES_H

#include <stdint.h>

static inline uint64_t
bytes_get_be64(const void *p)
{
	const unsigned char *b = p;
	uint64_t x = 0;
	int i;

	for (i = 0; i < 8; i++)
		x = x << 8 | b[i];
	return x;
}

static inline void
bytes_put_be64(void *p, uint64_t x)
{
	unsigned char *b = p;
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(x >> (56 - 8 * i));
}

#endif
