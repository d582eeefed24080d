/*
 * The bounded msgpack reader (mpread.h), after the format's specification.
 */
#include <string.h>

#include "mpread.h"

static size_t
left(const struct mpread *m)
{
	return (size_t)(m->end - m->p);
}

/* n bytes big-endian at m, passed; 0 or -1. */
static int
take(struct mpread *m, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (left(m) < n)
		return -1;
	while (n-- > 0)
		v = v << 8 | *m->p++;
	*out = v;
	return 0;
}

/* A signed integer of n bytes, as its kind says. */
static int
signed_of(struct mpread *m, size_t n, struct mp_value *v)
{
	uint64_t raw;
	int64_t x;

	if (take(m, n, &raw) < 0)
		return -1;
	if (n < 8 && (raw & (1ULL << (8 * n - 1))))
		raw |= ~0ULL << (8 * n);	/* sign-extended */
	memcpy(&x, &raw, sizeof(x));
	if (x >= 0) {
		v->type = MP_UINT;
		v->u = (uint64_t)x;
	} else {
		v->type = MP_NEG;
		v->i = x;
	}
	return 0;
}

/* Bytes of length n follow: v->s at them, passed. */
static int
bytes_of(struct mpread *m, size_t n, enum mp_type type, struct mp_value *v)
{
	if (left(m) < n)
		return -1;
	v->type = type;
	v->s = (const char *)m->p;
	v->n = n;
	m->p += n;
	return 0;
}

/* A container of n elements, each at least a byte: more than are left is malformed. */
static int
container(struct mpread *m, uint64_t n, enum mp_type type, struct mp_value *v)
{
	if (n > left(m) || (type == MP_MAP && n > left(m) / 2))
		return -1;
	v->type = type;
	v->n = (size_t)n;
	return 0;
}

int
mp_read(struct mpread *m, struct mp_value *v)
{
	static const unsigned char ext_fixed[] = { 1, 2, 4, 8, 16 };	/* 0xd4 to 0xd8 */
	uint64_t n;
	unsigned char b;

	memset(v, 0, sizeof(*v));
	if (left(m) < 1)
		return -1;
	b = *m->p++;
	if (b <= 0x7f) {
		v->type = MP_UINT;
		v->u = b;
		return 0;
	}
	if (b >= 0xe0) {
		v->type = MP_NEG;
		v->i = (int8_t)b;
		return 0;
	}
	if (b <= 0x8f)
		return container(m, b & 0x0f, MP_MAP, v);
	if (b <= 0x9f)
		return container(m, b & 0x0f, MP_ARRAY, v);
	if (b <= 0xbf)
		return bytes_of(m, b & 0x1f, MP_STR, v);
	switch (b) {
	case 0xc0:
		v->type = MP_NIL;
		return 0;
	case 0xc2:
	case 0xc3:
		v->type = MP_BOOL;
		v->u = b == 0xc3;
		return 0;
	case 0xc4: case 0xc5: case 0xc6:	/* bin 8, 16, 32 */
		return take(m, (size_t)1 << (b - 0xc4), &n) < 0 ? -1 : bytes_of(m, n, MP_BIN, v);
	case 0xc7: case 0xc8: case 0xc9:	/* ext 8, 16, 32: a type byte, then the data */
		return take(m, (size_t)1 << (b - 0xc7), &n) < 0 || n == SIZE_MAX ? -1 :
		    bytes_of(m, (size_t)n + 1, MP_EXT, v);
	case 0xca:
	case 0xcb:
		v->type = MP_FLOAT;
		return take(m, b == 0xca ? 4 : 8, &v->u);
	case 0xcc: case 0xcd: case 0xce: case 0xcf:	/* uint 8 to 64 */
		v->type = MP_UINT;
		return take(m, (size_t)1 << (b - 0xcc), &v->u);
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:	/* int 8 to 64 */
		return signed_of(m, (size_t)1 << (b - 0xd0), v);
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
		return bytes_of(m, (size_t)ext_fixed[b - 0xd4] + 1, MP_EXT, v);
	case 0xd9: case 0xda: case 0xdb:	/* str 8, 16, 32 */
		return take(m, (size_t)1 << (b - 0xd9), &n) < 0 ? -1 : bytes_of(m, n, MP_STR, v);
	case 0xdc:
	case 0xdd:
		return take(m, b == 0xdc ? 2 : 4, &n) < 0 ? -1 : container(m, n, MP_ARRAY, v);
	case 0xde:
	case 0xdf:
		return take(m, b == 0xde ? 2 : 4, &n) < 0 ? -1 : container(m, n, MP_MAP, v);
	default:	/* 0xc1: never used */
		return -1;
	}
}

int
mp_skip(struct mpread *m)
{
	struct mp_value v;
	size_t need = 1;

	/* the values still to pass, nested or not: each takes a byte, so need stays below left */
	while (need > 0) {
		if (mp_read(m, &v) < 0)
			return -1;
		need--;
		if (v.type == MP_ARRAY || v.type == MP_MAP) {
			size_t more = v.type == MP_MAP ? 2 * v.n : v.n;

			if (more > left(m) || need > left(m) - more)
				return -1;
			need += more;
		}
	}
	return 0;
}

int
mp_int64(const struct mp_value *v, int64_t *out)
{
	if (v->type == MP_UINT && v->u <= INT64_MAX) {
		*out = (int64_t)v->u;
		return 0;
	}
	if (v->type == MP_NEG) {
		*out = v->i;
		return 0;
	}
	return -1;
}
