/*
 * libFuzzer target: a provider's usage export as `tollctl reconcile` reads
 * it (lib/reconcile.c), on arbitrary bytes.  Besides no crash and no
 * undefined behaviour: a refused file gets a message naming it, and an
 * accepted one compared with itself differs nowhere, and its report in
 * JSON is one well-formed JSON object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "reconcile.h"

static void
check_report(const struct reconcile_set *set, enum reconcile_format fmt)
{
	struct reconcile_report rep = { 0 };
	struct buf table = { 0 }, js = { 0 };
	struct json_scan s;
	size_t i, c;

	if (reconcile_compare(set, set, 10, &rep) < 0)
		abort();
	for (i = 0; i < rep.n; i++) {
		if (rep.rows[i].side != RECONCILE_BOTH)
			abort();
		for (c = 0; c < RECONCILE_CAT_COUNT; c++)
			if (rep.rows[i].delta[c] != 0)
				abort();
	}
	if (rep.any_beyond)
		abort();
	if (reconcile_write_table(&rep, 10, &table) < 0 ||
	    reconcile_write_json(&rep, 0, 86400000000000LL, fmt, 10, &js) < 0)
		abort();
	json_init(&s, js.data, js.len);
	if (json_peek(&s) != JSON_OBJECT || json_skip(&s) < 0 || json_at_end(&s) < 0)
		abort();
	buf_release(&table);
	buf_release(&js);
	reconcile_report_release(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reconcile_set set = { 0 };
	enum reconcile_format fmt;
	char err[512];
	size_t i;

	err[0] = '\0';
	if (reconcile_parse_csv("export.csv", (const char *)data, size, INT64_MIN, INT64_MAX,
	    &set, &fmt, err, sizeof(err)) < 0) {
		if (strncmp(err, "export.csv", 10) != 0)
			abort();
		reconcile_set_release(&set);
		return 0;
	}
	for (i = 0; i < set.n; i++)
		if (memchr(set.m[i].model, '\0', sizeof(set.m[i].model)) == NULL)
			abort();
	check_report(&set, fmt);
	reconcile_set_release(&set);
	return 0;
}
