/*
 * A bounded msgpack reader over a buffer: values are read in place and
 * nothing is allocated; every length is checked against the bytes left, so
 * that a container claiming more elements than the buffer can hold fails at
 * once.  record_decode() reads the ledger's records with it: msgpack-c's
 * unpacker built a tree of objects for every record, which with the check it
 * needed first was a third of the accountant's time.  Writing stays with
 * msgpack-c.
 */
#ifndef TOLLGATE_MPREAD_H
#define TOLLGATE_MPREAD_H

#include <stddef.h>
#include <stdint.h>

struct mpread {
	const unsigned char	*p, *end;
};

enum mp_type {
	MP_NIL, MP_BOOL, MP_UINT, MP_NEG, MP_FLOAT, MP_STR, MP_BIN, MP_ARRAY, MP_MAP, MP_EXT
};

/*
 * One value's head.  An integer of any width and signedness that is not
 * negative is MP_UINT (u), a negative one MP_NEG (i); a string, binary or
 * extension has its bytes at s, n of them, already passed; an array or map
 * has n elements (pairs), which follow.
 */
struct mp_value {
	enum mp_type	 type;
	uint64_t	 u;
	int64_t		 i;
	const char	*s;
	size_t		 n;
};

/* Reads the next value's head into v; 0, or -1 when the bytes end first or are not msgpack. */
int mp_read(struct mpread *m, struct mp_value *v);
/* Passes over the next value whole, whatever its nesting; 0 or -1. */
int mp_skip(struct mpread *m);
/* v as a signed 64-bit integer; 0, or -1 when it is not an integer or does not fit. */
int mp_int64(const struct mp_value *v, int64_t *out);

#endif
