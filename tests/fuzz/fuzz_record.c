/*
 * libFuzzer target: ledger records decoded from arbitrary msgpack
 * (lib/record.c), as tollctl and the accountant read a ledger someone may
 * have damaged.  Besides no crash and no undefined behaviour: a record that
 * decodes encodes to bytes that decode to the same record, and its JSON form
 * is one well-formed JSON object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "record.h"

static void
check_json(const struct buf *b)
{
	struct json_scan s;

	json_init(&s, b->data, b->len);
	if (json_peek(&s) != JSON_OBJECT || json_skip(&s) < 0 || json_at_end(&s) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record r, again;
	struct buf once = { 0 }, twice = { 0 }, js = { 0 };

	if (record_decode((const char *)data, size, &r) < 0)
		return 0;
	if (record_encode(&r, &once) < 0 || record_decode(once.data, once.len, &again) < 0 ||
	    record_encode(&again, &twice) < 0)
		abort();
	if (once.len != twice.len || memcmp(once.data, twice.data, once.len) != 0)
		abort();
	if (record_to_json(&r, &js) < 0)
		abort();
	check_json(&js);
	buf_release(&once);
	buf_release(&twice);
	buf_release(&js);
	return 0;
}
