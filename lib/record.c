/*
 * The spend record: msgpack encoding for the ledger (and the spill file), a
 * tolerant decoder, and the JSON form tollctl prints.  Workers encode one
 * record per finished request; the accountant and tollctl decode them.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "buf.h"
#include "json.h"
#include "money.h"
#include "mpread.h"
#include "record.h"

/* JSON names of the token categories, as `tollctl cost` names them. */
static const char *const token_names[RECORD_TOKEN_COUNT] = {
	"input", "cache_read", "cache_write_5m", "cache_write_1h", "output",
	"reasoning", "audio_input", "audio_output", "image_input", "image_output",
	"tool_use_prompt", "search_queries", "duration_ms",
};

static const char *const flag_names[RECORD_FLAG_COUNT] = {
	"client_aborted", "upstream_error", "upstream_failed", "stream_incomplete",
	"replayed", "adjustment", "provider_cost", "cost_mismatch", "provider_billed",
};

const char *
record_token_name(unsigned i)
{
	return i < RECORD_TOKEN_COUNT ? token_names[i] : NULL;
}

const char *
record_flag_name(unsigned bit)
{
	return bit < RECORD_FLAG_COUNT ? flag_names[bit] : NULL;
}

/*
 * Copies len bytes of src (callers stop at a NUL) into a field of size bytes,
 * NUL-terminated; what does not fit is cut at a UTF-8 character boundary.
 */
static void
set_field(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size) {
		len = size - 1;
		/* never leave half of a multi-byte sequence at the end */
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void
record_set_usage(struct record *r, const struct usage *u, const struct cost *c)
{
	const int64_t tokens[RECORD_TOKEN_COUNT] = {
		[RECORD_TOK_INPUT] = u->input,
		[RECORD_TOK_CACHE_READ] = u->cache_read,
		[RECORD_TOK_CACHE_WRITE_5M] = u->cache_write_5m,
		[RECORD_TOK_CACHE_WRITE_1H] = u->cache_write_1h,
		[RECORD_TOK_OUTPUT] = u->output,
		[RECORD_TOK_REASONING] = u->reasoning,
		[RECORD_TOK_AUDIO_IN] = u->audio_in,
		[RECORD_TOK_AUDIO_OUT] = u->audio_out,
		[RECORD_TOK_IMAGE_IN] = u->image_in,
		[RECORD_TOK_IMAGE_OUT] = u->image_out,
		[RECORD_TOK_TOOL_PROMPT] = u->tool_prompt,
		[RECORD_TOK_SEARCH] = c->searches,	/* as billed: a grounded prompt is one */
		/* -1 (the response did not say) is stored as 0: the flag tells */
		[RECORD_TOK_DURATION_MS] = u->duration_ms > 0 ? u->duration_ms : 0,
	};
	const char *shape = usage_shape_name(u->shape);
	const char *tier = price_tier_name(c->tier);

	memcpy(r->tokens, tokens, sizeof(r->tokens));
	memcpy(r->cost, c->part, sizeof(r->cost));
	r->total = c->total;
	r->usage_flags = c->flags;
	set_field(r->shape, sizeof(r->shape), shape, strlen(shape));
	set_field(r->tier, sizeof(r->tier), tier, strlen(tier));
}

/* ---- msgpack ------------------------------------------------------------------- */

/*
 * The schema as a table, in the order record_encode() writes the keys: one
 * declaration drives the encoder and the decoder.
 */
enum field_type {
	F_VERSION, F_STR, F_INT, F_U16, F_U32, F_U64, F_INTS,
	F_OPT_STR, F_OPT_U32, F_OPT_INT,	/* written only when not empty, not 0 */
	F_ATTEMPTS		/* written only when there are some */
};

struct field {
	const char	*key;
	enum field_type	 type;
	size_t		 off;
	size_t		 size;	/* F_STR: the buffer; F_INTS: the element count */
};

#define FSTR(k, m)	{ k, F_STR, offsetof(struct record, m), sizeof(((struct record *)0)->m) }
#define FNUM(k, t, m)	{ k, t, offsetof(struct record, m), 0 }

static const struct field fields[] = {
	{ "v", F_VERSION, 0, 0 },
	FSTR("id", id),
	FNUM("ts", F_INT, start_ns),
	FNUM("fb", F_INT, first_byte_ns),
	FNUM("te", F_INT, end_ns),
	FNUM("w", F_U32, worker),
	FSTR("host", host),
	FSTR("key", key),
	FSTR("user", user),
	FSTR("team", team),
	FSTR("customer", customer),
	FSTR("tags", tags),
	FSTR("ep", endpoint),
	FSTR("uep", upstream),
	FSTR("mr", model_requested),
	FSTR("dep", deployment),
	FSTR("prov", provider),
	FSTR("pa", priced_as),
	FNUM("gen", F_U64, generation),
	FNUM("st", F_U16, status),
	FSTR("shape", shape),
	FSTR("tier", tier),
	{ "tok", F_INTS, offsetof(struct record, tokens), RECORD_TOKEN_COUNT },
	{ "cost", F_INTS, offsetof(struct record, cost), COST_PART_COUNT },
	FNUM("total", F_INT, total),
	FNUM("uf", F_U32, usage_flags),
	FNUM("rf", F_U32, flags),
	{ "mg", F_OPT_STR, offsetof(struct record, group), sizeof(((struct record *)0)->group) },
	FNUM("nre", F_OPT_U32, retries),
	FNUM("nfb", F_OPT_U32, fallbacks),
	{ "att", F_ATTEMPTS, offsetof(struct record, attempts), RECORD_ATTEMPTS_MAX },
	FNUM("pc", F_OPT_INT, provider_cost),
	FNUM("pv", F_OPT_INT, price_from),
};

#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

static int
write_buf(void *data, const char *p, size_t len)
{
	struct buf *b = data;
	size_t i;

	/* msgpack hands a record over in about 90 pieces of a few bytes: copy those inline */
	if (len <= 16 && b->cap - b->len > len) {
		for (i = 0; i < len; i++)
			b->data[b->len + i] = p[i];
		b->len += len;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_append(b, p, len);
}

/* Whether an optional field has nothing to say in r. */
static int
omitted(const struct field *f, const struct record *r)
{
	const char *p = (const char *)r + f->off;
	uint32_t u32;
	int64_t i64;

	switch (f->type) {
	case F_OPT_STR:
		return p[0] == '\0';
	case F_OPT_U32:
		memcpy(&u32, p, sizeof(u32));
		return u32 == 0;
	case F_OPT_INT:
		memcpy(&i64, p, sizeof(i64));
		return i64 == 0;
	case F_ATTEMPTS:
		return r->nattempts == 0;
	default:
		return 0;
	}
}

static int
pack_attempts(msgpack_packer *pk, const struct record *r)
{
	uint32_t n = r->nattempts < RECORD_ATTEMPTS_MAX ? r->nattempts : RECORD_ATTEMPTS_MAX, i;

	if (msgpack_pack_array(pk, n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const struct record_attempt *a = &r->attempts[i];

		if (msgpack_pack_array(pk, 7) < 0 ||
		    msgpack_pack_str_with_body(pk, a->deployment, strnlen(a->deployment,
		    sizeof(a->deployment))) < 0 ||
		    msgpack_pack_str_with_body(pk, a->provider, strnlen(a->provider,
		    sizeof(a->provider))) < 0 ||
		    msgpack_pack_uint64(pk, a->status) < 0 ||
		    msgpack_pack_str_with_body(pk, a->failure, strnlen(a->failure,
		    sizeof(a->failure))) < 0 ||
		    msgpack_pack_int64(pk, a->input) < 0 || msgpack_pack_int64(pk, a->output) < 0 ||
		    msgpack_pack_int64(pk, a->total) < 0)
			return -1;
	}
	return 0;
}

static int
pack_field(msgpack_packer *pk, const struct field *f, const struct record *r)
{
	const char *p = (const char *)r + f->off;
	int64_t i64;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	size_t i;

	if (msgpack_pack_str_with_body(pk, f->key, strlen(f->key)) < 0)
		return -1;
	switch (f->type) {
	case F_VERSION:
		return msgpack_pack_uint64(pk, RECORD_SCHEMA_VERSION);
	case F_STR:
	case F_OPT_STR:
		return msgpack_pack_str_with_body(pk, p, strnlen(p, f->size));
	case F_ATTEMPTS:
		return pack_attempts(pk, r);
	case F_INT:
	case F_OPT_INT:
		memcpy(&i64, p, sizeof(i64));
		return msgpack_pack_int64(pk, i64);
	case F_U16:
		memcpy(&u16, p, sizeof(u16));
		return msgpack_pack_uint64(pk, u16);
	case F_U32:
	case F_OPT_U32:
		memcpy(&u32, p, sizeof(u32));
		return msgpack_pack_uint64(pk, u32);
	case F_U64:
		memcpy(&u64, p, sizeof(u64));
		return msgpack_pack_uint64(pk, u64);
	case F_INTS:
		if (msgpack_pack_array(pk, f->size) < 0)
			return -1;
		for (i = 0; i < f->size; i++) {
			memcpy(&i64, p + i * sizeof(i64), sizeof(i64));
			if (msgpack_pack_int64(pk, i64) < 0)
				return -1;
		}
		return 0;
	}
	return -1;
}

int
record_encode(const struct record *r, struct buf *out)
{
	msgpack_packer pk;
	size_t mark = out->len, i, n = 0;

	if (buf_reserve(out, 1024) < 0)	/* a record's usual size, at once */
		return -1;
	msgpack_packer_init(&pk, out, write_buf);
	for (i = 0; i < NFIELDS; i++)
		n += !omitted(&fields[i], r);
	if (msgpack_pack_map(&pk, n) < 0)
		goto fail;
	for (i = 0; i < NFIELDS; i++)
		if (!omitted(&fields[i], r) && pack_field(&pk, &fields[i], r) < 0)
			goto fail;
	return 0;
fail:
	if (out->data) {
		/* no half record left behind */
		out->len = mark;
		out->data[mark] = '\0';
	}
	return -1;
}

/* ---- reading ---------------------------------------------------------------------- */

/* A string value into dst[size], cut at a NUL inside or to fit (set_field()). */
static int
read_str(struct mpread *m, char *dst, size_t size)
{
	struct mp_value v;

	if (mp_read(m, &v) < 0 || v.type != MP_STR)
		return -1;
	if (v.n == 0)
		dst[0] = '\0';
	else
		set_field(dst, size, v.s, strnlen(v.s, v.n));
	return 0;
}

static int
read_int(struct mpread *m, int64_t *out)
{
	struct mp_value v;

	return mp_read(m, &v) < 0 ? -1 : mp_int64(&v, out);
}

static int
read_uint(struct mpread *m, uint64_t max, uint64_t *out)
{
	struct mp_value v;

	if (mp_read(m, &v) < 0 || v.type != MP_UINT || v.u > max)
		return -1;
	*out = v.u;
	return 0;
}

/* att: arrays of at least 7 values; the first RECORD_ATTEMPTS_MAX kept, extra values passed. */
static int
read_attempts(struct mpread *m, struct record *r)
{
	struct mp_value list, e;
	uint64_t st;
	size_t i, k;

	if (mp_read(m, &list) < 0 || list.type != MP_ARRAY)
		return -1;
	for (i = 0; i < list.n; i++) {
		struct record_attempt *at = &r->attempts[i < RECORD_ATTEMPTS_MAX ? i : 0];

		if (mp_read(m, &e) < 0 || e.type != MP_ARRAY || e.n < 7)
			return -1;
		if (i >= RECORD_ATTEMPTS_MAX) {
			for (k = 0; k < e.n; k++)
				if (mp_skip(m) < 0)
					return -1;
			continue;
		}
		if (read_str(m, at->deployment, sizeof(at->deployment)) < 0 ||
		    read_str(m, at->provider, sizeof(at->provider)) < 0 ||
		    read_uint(m, UINT16_MAX, &st) < 0 ||
		    read_str(m, at->failure, sizeof(at->failure)) < 0 ||
		    read_int(m, &at->input) < 0 || read_int(m, &at->output) < 0 ||
		    read_int(m, &at->total) < 0)
			return -1;
		for (k = 7; k < e.n; k++)
			if (mp_skip(m) < 0)
				return -1;
		at->status = (uint16_t)st;
		r->nattempts = (uint32_t)i + 1;
	}
	return 0;
}

static int
read_field(const struct field *f, struct mpread *m, struct record *r, uint64_t *version)
{
	char *p = (char *)r + f->off;
	struct mp_value v;
	int64_t i64;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	size_t i;

	switch (f->type) {
	case F_VERSION:
		return read_uint(m, UINT64_MAX, version);
	case F_ATTEMPTS:
		return read_attempts(m, r);
	case F_STR:
	case F_OPT_STR:
		return read_str(m, p, f->size);
	case F_INT:
	case F_OPT_INT:
		if (read_int(m, &i64) < 0)
			return -1;
		memcpy(p, &i64, sizeof(i64));
		return 0;
	case F_U16:
		if (read_uint(m, UINT16_MAX, &u64) < 0)
			return -1;
		u16 = (uint16_t)u64;
		memcpy(p, &u16, sizeof(u16));
		return 0;
	case F_U32:
	case F_OPT_U32:
		if (read_uint(m, UINT32_MAX, &u64) < 0)
			return -1;
		u32 = (uint32_t)u64;
		memcpy(p, &u32, sizeof(u32));
		return 0;
	case F_U64:
		if (read_uint(m, UINT64_MAX, &u64) < 0)
			return -1;
		memcpy(p, &u64, sizeof(u64));
		return 0;
	case F_INTS:
		if (mp_read(m, &v) < 0 || v.type != MP_ARRAY)
			return -1;
		/* elements past ours (categories added later) are checked, then ignored */
		for (i = 0; i < v.n; i++) {
			if (read_int(m, &i64) < 0)
				return -1;
			if (i < f->size)
				memcpy(p + i * sizeof(i64), &i64, sizeof(i64));
		}
		return 0;
	}
	return -1;
}

/* Whether the field name f is key[0..len): a few bytes, compared here rather than by call. */
static int
same_key(const char *f, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (f[i] == '\0' || f[i] != key[i])
			return 0;
	return f[len] == '\0';
}

/*
 * The field named key[0..len).  Records are written in the table's order,
 * the empty optional fields left out, so the search starts after the last
 * found (*hint) and goes round: the accountant decodes every record, and a
 * search of the table from its start for each key was a tenth of its time.
 */
static const struct field *
find_field(const char *key, size_t len, size_t *hint)
{
	size_t k, i;

	if (len == 0)
		return NULL;
	for (k = 0; k < NFIELDS; k++) {
		i = (*hint + k) % NFIELDS;
		if (same_key(fields[i].key, key, len)) {
			*hint = i + 1;
			return &fields[i];
		}
	}
	return NULL;
}

int
record_decode(const char *data, size_t len, struct record *r)
{
	struct mpread m = { (const unsigned char *)data, (const unsigned char *)data + len };
	struct mp_value map, key;
	const struct field *f;
	uint64_t version = 0;
	size_t hint = 0, i;

	memset(r, 0, sizeof(*r));
	if (mp_read(&m, &map) < 0 || map.type != MP_MAP)
		goto bad;
	for (i = 0; i < map.n; i++) {
		if (mp_read(&m, &key) < 0 || key.type != MP_STR)
			goto bad;
		/* keys this version does not know are a later version's additions */
		if ((f = find_field(key.s, key.n, &hint)) == NULL ? mp_skip(&m) < 0 :
		    read_field(f, &m, r, &version) < 0)
			goto bad;
	}
	/* exactly one record, of a schema this build reads */
	if (m.p == m.end && version <= RECORD_SCHEMA_VERSION)
		return 0;
bad:
	memset(r, 0, sizeof(*r));
	return -1;
}

/* ---- JSON ------------------------------------------------------------------------ */

/* RFC 3339 UTC with nanoseconds: "2026-11-23T19:31:06.123456789Z". */
static int
put_time(struct buf *out, const char *key, int64_t ns)
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	time_t t;
	struct tm tm;
	char date[64];

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return buf_printf(out, ", \"%s\": null", key);
	return buf_printf(out, ", \"%s\": \"%s.%09lldZ\"", key, date, (long long)frac);
}

static int
put_str(struct buf *out, const char *sep, const char *key, const char *s, size_t size)
{
	char tmp[512];

	/* fields are at most 256 bytes; a full one may lack its NUL */
	set_field(tmp, sizeof(tmp), s, strnlen(s, size));
	if (buf_printf(out, "%s\"%s\": ", sep, key) < 0)
		return -1;
	return json_write_string(out, tmp);
}

static int
put_flags(struct buf *out, const char *key, uint32_t flags, const char *(*name)(unsigned))
{
	unsigned bit;
	int n = 0;

	if (buf_printf(out, ", \"%s\": [", key) < 0)
		return -1;
	for (bit = 0; name(bit); bit++)
		if ((flags & (1u << bit)) &&
		    buf_printf(out, "%s\"%s\"", n++ ? ", " : "", name(bit)) < 0)
			return -1;
	return buf_append(out, "]", 1);
}

int
record_to_json(const struct record *r, struct buf *out)
{
	char num[MONEY_FORMAT_MAX];
	size_t mark = out->len;
	int i, rc = -1;

#define STR(key, field)	put_str(out, ", ", key, r->field, sizeof(r->field))
	if (put_str(out, "{", "id", r->id, sizeof(r->id)) < 0)
		goto out;
	if (put_time(out, "start", r->start_ns) < 0)
		goto out;
	if (r->first_byte_ns == 0) {
		if (buf_printf(out, ", \"first_byte\": null") < 0)
			goto out;
	} else if (put_time(out, "first_byte", r->first_byte_ns) < 0)
		goto out;
	if (put_time(out, "end", r->end_ns) < 0 ||
	    buf_printf(out, ", \"worker\": %u", r->worker) < 0 || STR("host", host) < 0 ||
	    STR("key", key) < 0 || STR("user", user) < 0 || STR("team", team) < 0 ||
	    STR("customer", customer) < 0 || STR("tags", tags) < 0 ||
	    STR("endpoint", endpoint) < 0 || STR("upstream_endpoint", upstream) < 0 ||
	    STR("model_requested", model_requested) < 0 ||
	    STR("deployment", deployment) < 0 || STR("provider", provider) < 0)
		goto out;
	if (r->priced_as[0] == '\0') {
		if (buf_printf(out, ", \"priced_as\": null") < 0)
			goto out;
	} else if (STR("priced_as", priced_as) < 0)
		goto out;
	if (r->price_from == 0) {
		if (buf_printf(out, ", \"price_version\": null") < 0)
			goto out;
	} else if (put_time(out, "price_version", r->price_from * 1000000000) < 0)
		goto out;
	if (buf_printf(out, ", \"generation\": %llu, \"status\": %u",
	    (unsigned long long)r->generation, r->status) < 0 ||
	    STR("shape", shape) < 0 || STR("tier", tier) < 0 ||
	    buf_printf(out, ", \"tokens\": {") < 0)
		goto out;
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		if (buf_printf(out, "%s\"%s\": %lld", i ? ", " : "", token_names[i],
		    (long long)r->tokens[i]) < 0)
			goto out;
	if (buf_printf(out, "}, \"cost_usd\": %s, \"cost\": {",
	    money_format(r->total, MONEY_COST_SCALE, num)) < 0)
		goto out;
	for (i = 0; i < COST_PART_COUNT; i++)
		if (buf_printf(out, "%s\"%s\": %s", i ? ", " : "", cost_part_name(i),
		    money_format(r->cost[i], MONEY_COST_SCALE, num)) < 0)
			goto out;
	if (buf_append(out, "}", 1) < 0)
		goto out;
	if (!(r->flags & RECORD_FLAG_PROVIDER_COST)) {
		if (buf_printf(out, ", \"provider_cost_usd\": null") < 0)
			goto out;
	} else if (buf_printf(out, ", \"provider_cost_usd\": %s",
	    money_format(r->provider_cost, MONEY_COST_SCALE, num)) < 0)
		goto out;
	if (put_flags(out, "usage_flags", r->usage_flags, usage_flag_name) < 0 ||
	    put_flags(out, "flags", r->flags, record_flag_name) < 0 ||
	    put_str(out, ", ", "model_group", r->group[0] ? r->group : r->model_requested,
	    sizeof(r->group)) < 0 ||
	    buf_printf(out, ", \"retries\": %u, \"fallbacks\": %u, \"attempts\": [", r->retries,
	    r->fallbacks) < 0)
		goto out;
	for (i = 0; i < (int)r->nattempts && i < RECORD_ATTEMPTS_MAX; i++) {
		const struct record_attempt *a = &r->attempts[i];

		if (put_str(out, i ? ", {" : "{", "deployment", a->deployment,
		    sizeof(a->deployment)) < 0 ||
		    put_str(out, ", ", "provider", a->provider, sizeof(a->provider)) < 0 ||
		    buf_printf(out, ", \"status\": %u", a->status) < 0 ||
		    put_str(out, ", ", "failure", a->failure, sizeof(a->failure)) < 0 ||
		    buf_printf(out, ", \"input_tokens\": %lld, \"output_tokens\": %lld, "
		    "\"cost_usd\": %s}", (long long)a->input, (long long)a->output,
		    money_format(a->total, MONEY_COST_SCALE, num)) < 0)
			goto out;
	}
	if (buf_append(out, "]}", 2) < 0)
		goto out;
#undef STR
	rc = 0;
out:
	if (rc < 0 && out->data) {
		out->len = mark;
		out->data[mark] = '\0';
	}
	return rc;
}
