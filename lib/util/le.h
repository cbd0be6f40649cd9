/* le: explicit little-endian fields, for every format ember reads or writes byte by byte.
 *
 * Contract: le_get() reads and le_put() writes an n-byte (1..8) unsigned
 * little-endian field at p; the caller has checked that n bytes are there.
 * Never a struct memcpy: layouts stay independent of the compiler and host. */
#ifndef EMBER_LE_H
#define EMBER_LE_H

#include <stdint.h>

static inline uint64_t le_get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void le_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
