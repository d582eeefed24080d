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
		[RECORD_TOK_SEARCH] = u->search_queries,
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

static uint64_t
be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/*
 * Checks that data holds exactly one well-formed msgpack value whose
 * containers declare no more elements than there are bytes left.  msgpack-c
 * allocates a container's declared size before reading its elements, so a
 * five-byte header claiming four billion entries would ask for 100 GB.
 */
static int
check_msgpack(const unsigned char *p, size_t len)
{
	size_t pos = 0, need = 1, lenlen, skip, count;
	unsigned char b;

	while (need > 0) {
		if (pos >= len)
			return -1;
		b = p[pos++];
		need--;
		lenlen = skip = count = 0;
		if (b <= 0x7f || b >= 0xe0)		/* fixint */
			;
		else if (b <= 0x8f)			/* fixmap */
			count = 2 * (size_t)(b & 0x0f);
		else if (b <= 0x9f)			/* fixarray */
			count = b & 0x0f;
		else if (b <= 0xbf)			/* fixstr */
			skip = b & 0x1f;
		else
			switch (b) {
			case 0xc0: case 0xc2: case 0xc3:	/* nil, false, true */
				break;
			case 0xc4: case 0xc7: case 0xd9:	/* bin, ext, str 8 */
				lenlen = 1;
				break;
			case 0xc5: case 0xc8: case 0xda:	/* 16 */
			case 0xdc: case 0xde:			/* array, map 16 */
				lenlen = 2;
				break;
			case 0xc6: case 0xc9: case 0xdb:	/* 32 */
			case 0xdd: case 0xdf:			/* array, map 32 */
				lenlen = 4;
				break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xca: case 0xce: case 0xd2: skip = 4; break;
			case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;		/* fixext: type and data */
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			default:				/* 0xc1: never used */
				return -1;
			}
		if (lenlen) {
			uint64_t n;

			if (len - pos < lenlen)
				return -1;
			n = be(p + pos, lenlen);
			pos += lenlen;
			if (b >= 0xdc)
				count = b >= 0xde ? 2 * n : n;
			else
				skip = n + (b >= 0xc7 && b <= 0xc9);	/* ext: type byte */
		}
		if (len - pos < skip)
			return -1;
		pos += skip;
		/* every pending element takes at least one byte */
		if (count > len - pos || need + count > len - pos)
			return -1;
		need += count;
	}
	return pos == len ? 0 : -1;
}

static int
get_int(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*out = (int64_t)o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	return -1;
}

static int
get_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
		return -1;
	*out = o->via.u64;
	return 0;
}

/* A string of an attempt, into dst[size]. */
static int
attempt_str(const msgpack_object *o, char *dst, size_t size)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return -1;
	if (o->via.str.size == 0)
		dst[0] = '\0';
	else
		set_field(dst, size, o->via.str.ptr, strnlen(o->via.str.ptr, o->via.str.size));
	return 0;
}

static int
decode_attempts(const msgpack_object *v, struct record *r)
{
	uint64_t st;
	uint32_t i;

	if (v->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	for (i = 0; i < v->via.array.size; i++) {
		const msgpack_object *e = &v->via.array.ptr[i], *a;
		struct record_attempt *at;

		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 7)
			return -1;
		if (i >= RECORD_ATTEMPTS_MAX)
			continue;
		a = e->via.array.ptr;
		at = &r->attempts[i];
		if (attempt_str(&a[0], at->deployment, sizeof(at->deployment)) < 0 ||
		    attempt_str(&a[1], at->provider, sizeof(at->provider)) < 0 ||
		    get_uint(&a[2], UINT16_MAX, &st) < 0 ||
		    attempt_str(&a[3], at->failure, sizeof(at->failure)) < 0 ||
		    get_int(&a[4], &at->input) < 0 || get_int(&a[5], &at->output) < 0 ||
		    get_int(&a[6], &at->total) < 0)
			return -1;
		at->status = (uint16_t)st;
		r->nattempts = i + 1;
	}
	return 0;
}

static int
decode_field(const struct field *f, const msgpack_object *v, struct record *r,
    uint64_t *version)
{
	char *p = (char *)r + f->off;
	const msgpack_object *e;
	int64_t i64;
	uint64_t u64;
	uint32_t u32, i;
	uint16_t u16;

	switch (f->type) {
	case F_VERSION:
		return get_uint(v, UINT64_MAX, version);
	case F_ATTEMPTS:
		return decode_attempts(v, r);
	case F_STR:
	case F_OPT_STR:
		if (v->type != MSGPACK_OBJECT_STR)
			return -1;
		if (v->via.str.size == 0)
			p[0] = '\0';
		else
			set_field(p, f->size, v->via.str.ptr,
			    strnlen(v->via.str.ptr, v->via.str.size));
		return 0;
	case F_INT:
	case F_OPT_INT:
		if (get_int(v, &i64) < 0)
			return -1;
		memcpy(p, &i64, sizeof(i64));
		return 0;
	case F_U16:
		if (get_uint(v, UINT16_MAX, &u64) < 0)
			return -1;
		u16 = (uint16_t)u64;
		memcpy(p, &u16, sizeof(u16));
		return 0;
	case F_U32:
	case F_OPT_U32:
		if (get_uint(v, UINT32_MAX, &u64) < 0)
			return -1;
		u32 = (uint32_t)u64;
		memcpy(p, &u32, sizeof(u32));
		return 0;
	case F_U64:
		if (get_uint(v, UINT64_MAX, &u64) < 0)
			return -1;
		memcpy(p, &u64, sizeof(u64));
		return 0;
	case F_INTS:
		if (v->type != MSGPACK_OBJECT_ARRAY)
			return -1;
		/* elements past ours (categories added later) are checked, then ignored */
		for (i = 0; i < v->via.array.size; i++) {
			e = &v->via.array.ptr[i];
			if (get_int(e, &i64) < 0)
				return -1;
			if (i < f->size)
				memcpy(p + i * sizeof(i64), &i64, sizeof(i64));
		}
		return 0;
	}
	return -1;
}

static int
is_key(const struct field *f, const msgpack_object *key)
{
	return strlen(f->key) == key->via.str.size &&
	    memcmp(f->key, key->via.str.ptr, key->via.str.size) == 0;
}

/*
 * The field named key.  Records are written in the table's order, so the
 * one after the last found (*hint) is tried first: the accountant decodes
 * every record, and a search of the table per key was a tenth of its time.
 */
static const struct field *
find_field(const msgpack_object *key, size_t *hint)
{
	size_t i;

	if (*hint < NFIELDS && is_key(&fields[*hint], key))
		return &fields[(*hint)++];
	for (i = 0; i < NFIELDS; i++)
		if (is_key(&fields[i], key)) {
			*hint = i + 1;
			return &fields[i];
		}
	return NULL;
}

/*
 * The objects of one record live in a zone kept from one decode to the
 * next (emptied, not freed): no allocation per record.  tollgate's
 * processes are single-threaded.
 */
static msgpack_zone *
decode_zone(void)
{
	static msgpack_zone zone;
	static int ready;

	if (!ready && msgpack_zone_init(&zone, 16384))
		ready = 1;
	if (!ready)
		return NULL;
	msgpack_zone_clear(&zone);
	return &zone;
}

int
record_decode(const char *data, size_t len, struct record *r)
{
	msgpack_zone *zone;
	msgpack_object root;
	const struct field *f;
	uint64_t version = 0;
	size_t off = 0, hint = 0;
	uint32_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (check_msgpack((const unsigned char *)data, len) < 0 || (zone = decode_zone()) == NULL)
		return -1;
	if (msgpack_unpack(data, len, &off, zone, &root) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || root.type != MSGPACK_OBJECT_MAP)
		goto out;
	for (i = 0; i < root.via.map.size; i++) {
		const msgpack_object_kv *kv = &root.via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR)
			goto out;
		/* keys this version does not know are a later version's additions */
		if ((f = find_field(&kv->key, &hint)) != NULL &&
		    decode_field(f, &kv->val, r, &version) < 0)
			goto out;
	}
	if (version > RECORD_SCHEMA_VERSION)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		memset(r, 0, sizeof(*r));
	return rc;
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
