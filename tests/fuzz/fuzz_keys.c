/*
 * libFuzzer target: the bodies of /key/generate and /key/update
 * (lib/keys_json.c), which any client holding the master key sends.
 * Besides no crash and no undefined behaviour: an accepted body gives a key
 * whose JSON form is accepted back and comes out the same the second time
 * (the first pass may round the expiry to the second).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "keys.h"

#define NOW_NS	1767225600000000000LL	/* 2026-01-01T00:00:00Z */

/* The key's JSON after one more trip through the parser; out is emptied first. */
static void
round_trip(const struct buf *in, struct buf *out)
{
	struct keys_key k = { 0 };
	char err[512];

	if (keys_from_json(in->data, in->len, NOW_NS, &k, err, sizeof(err)) < 0)
		abort();
	out->len = 0;
	if (keys_to_json(&k, NULL, out) < 0)
		abort();
	keys_key_release(&k);
}

static void
one(const uint8_t *data, size_t size, int update)
{
	struct keys_key k = { 0 };
	struct buf first = { 0 }, second = { 0 }, third = { 0 };
	char err[512];
	int rc;

	err[0] = '\0';
	rc = update ? keys_update_from_json((const char *)data, size, NOW_NS, &k, err, sizeof(err)) :
	    keys_from_json((const char *)data, size, NOW_NS, &k, err, sizeof(err));
	if (rc < 0) {
		if (err[0] == '\0')
			abort();
		keys_key_release(&k);
		return;
	}
	if (keys_to_json(&k, NULL, &first) < 0)
		abort();
	round_trip(&first, &second);
	round_trip(&second, &third);
	if (second.len != third.len || memcmp(second.data, third.data, second.len) != 0)
		abort();
	keys_key_release(&k);
	buf_release(&first);
	buf_release(&second);
	buf_release(&third);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, 0);
	one(data, size, 1);
	return 0;
}
