/*
 * The spend record: msgpack round trip of every field, a decoder that
 * tolerates what later versions add and refuses what it cannot trust, and
 * the exact JSON form tollctl prints.
 */
#include <msgpack.h>

#include "buf.h"
#include "cost.h"
#include "record.h"
#include "usage.h"
#include "tap.h"

#define FILL(field, text)	snprintf(r->field, sizeof(r->field), "%s", text)

/* A record with every field set, none to its zero value. */
static void
full_record(struct record *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	FILL(id, "req-0123456789abcdef0123456789abcdef012");	/* 39: the longest */
	r->start_ns = 1795462266000000001LL;
	r->first_byte_ns = 1795462266050000000LL;
	r->end_ns = 1795462266123456789LL;
	r->worker = 4000000000u;
	FILL(host, "host-eu-west-1a-0123456789abcdef0123456789abcdef0123456789abcde");	/* 63: the longest */
	r->status = 65535;
	FILL(key, "sk-alias-prod");
	FILL(user, "alice@example.com");
	FILL(team, "search");
	FILL(customer, "acme \"quoted\" corp");
	FILL(tags, "batch,nightly");
	FILL(endpoint, "/v1/chat/completions");
	FILL(upstream, "/v1/messages");
	FILL(model_requested, "gpt-4o");
	FILL(deployment, "gpt-4o-2024-08-06");
	FILL(provider, "azure");
	FILL(priced_as, "azure/gpt-4o-2024-08-06");
	FILL(shape, "openai");
	FILL(tier, "priority");
	r->generation = 18446744073709551615ULL;
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		r->tokens[i] = 1000 * (i + 1) + i;
	for (i = 0; i < COST_PART_COUNT; i++)
		r->cost[i] = (int64_t)1 << (i * 4);
	r->cost[COST_REQUEST] = -7;	/* never produced, but the format carries it */
	r->total = 9223372036854775807LL;
	r->usage_flags = USAGE_FLAG_CACHE_EXCEEDS_PROMPT | USAGE_FLAG_UNPRICED;
	r->flags = RECORD_FLAG_CLIENT_ABORTED | RECORD_FLAG_REPLAYED;
}

static void
test_round_trip(void)
{
	struct record in, out;
	struct buf b = { 0 };
	int i, same_tok = 1, same_cost = 1;

	full_record(&in);
	ok(record_encode(&in, &b) == 0 && b.len > 0, "encodes a full record (%zu bytes)", b.len);
	ok((unsigned char)b.data[0] == 0xde && b.data[1] == 0 && b.data[2] == 27,
	    "a msgpack map of the 27 documented keys");
	is_int(record_decode(b.data, b.len, &out), 0, "decodes it");
	is_str(out.id, in.id, "id");
	is_int(out.start_ns, in.start_ns, "ts");
	is_int(out.first_byte_ns, in.first_byte_ns, "fb");
	is_int(out.end_ns, in.end_ns, "te");
	is_int(out.worker, in.worker, "w");
	is_str(out.host, in.host, "host");
	is_int(out.status, in.status, "st");
	is_str(out.key, in.key, "key");
	is_str(out.user, in.user, "user");
	is_str(out.team, in.team, "team");
	is_str(out.customer, in.customer, "customer");
	is_str(out.tags, in.tags, "tags");
	is_str(out.endpoint, in.endpoint, "ep");
	is_str(out.upstream, in.upstream, "uep");
	is_str(out.model_requested, in.model_requested, "mr");
	is_str(out.deployment, in.deployment, "dep");
	is_str(out.provider, in.provider, "prov");
	is_str(out.priced_as, in.priced_as, "pa");
	is_str(out.shape, in.shape, "shape");
	is_str(out.tier, in.tier, "tier");
	ok(out.generation == in.generation, "gen");
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		same_tok &= out.tokens[i] == in.tokens[i];
	for (i = 0; i < COST_PART_COUNT; i++)
		same_cost &= out.cost[i] == in.cost[i];
	ok(same_tok, "tok, every category");
	ok(same_cost, "cost, every part (a negative one too)");
	is_int(out.total, in.total, "total");
	is_int(out.usage_flags, in.usage_flags, "uf");
	is_int(out.flags, in.flags, "rf");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "the whole struct, byte for byte");

	/* appending keeps what the buffer held */
	b.len = 0;
	buf_append(&b, "xyz", 3);
	record_encode(&in, &b);
	ok(record_decode(b.data + 3, b.len - 3, &out) == 0 && memcmp(&in, &out, sizeof(in)) == 0,
	    "record_encode appends after what the buffer holds");
	buf_release(&b);

	memset(&in, 0, sizeof(in));
	record_encode(&in, &b);
	full_record(&out);
	ok(record_decode(b.data, b.len, &out) == 0 && memcmp(&in, &out, sizeof(in)) == 0,
	    "an empty record round-trips (and decoding clears the struct)");
	buf_release(&b);
}

static int
write_buf(void *data, const char *p, size_t len)
{
	return buf_append(data, p, len);
}

static void
pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
test_tolerance(void)
{
	struct buf b = { 0 };
	struct record r;
	msgpack_packer pk;
	char longtext[600];
	int i;

	/* keys of a later version, nested values, a longer token array */
	msgpack_packer_init(&pk, &b, write_buf);
	msgpack_pack_map(&pk, 6);
	pk_str(&pk, "zz_new");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "a");
	msgpack_pack_nil(&pk);
	pk_str(&pk, "mr");
	pk_str(&pk, "gpt-4o");
	pk_str(&pk, "latency");
	msgpack_pack_double(&pk, 1.5);
	pk_str(&pk, "v");
	msgpack_pack_int(&pk, 1);
	pk_str(&pk, "tok");
	msgpack_pack_array(&pk, RECORD_TOKEN_COUNT + 2);
	for (i = 0; i < RECORD_TOKEN_COUNT + 2; i++)
		msgpack_pack_int(&pk, i + 1);
	pk_str(&pk, "blob");
	msgpack_pack_bin_with_body(&pk, "\0\1\2", 3);
	is_int(record_decode(b.data, b.len, &r), 0, "unknown keys (any type) are ignored");
	is_str(r.model_requested, "gpt-4o", "the known ones read");
	ok(r.tokens[0] == 1 && r.tokens[RECORD_TOKEN_COUNT - 1] == RECORD_TOKEN_COUNT,
	    "token categories past ours are ignored");
	ok(r.id[0] == '\0' && r.end_ns == 0 && r.total == 0 && r.cost[0] == 0,
	    "missing keys are empty or 0");

	/* a short token array: the rest stays 0 */
	b.len = 0;
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "tok");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 5);
	msgpack_pack_int(&pk, -6);
	ok(record_decode(b.data, b.len, &r) == 0 && r.tokens[0] == 5 && r.tokens[1] == -6 &&
	    r.tokens[2] == 0, "a shorter token array fills what it has");

	b.len = 0;
	msgpack_pack_map(&pk, 0);
	ok(record_decode(b.data, b.len, &r) == 0, "an empty map is an empty record (no version: 0)");

	/* strings longer than their field, cut at a character boundary */
	memset(longtext, 'a', sizeof(longtext));
	b.len = 0;
	msgpack_pack_map(&pk, 3);
	pk_str(&pk, "tags");
	msgpack_pack_str_with_body(&pk, longtext, sizeof(longtext));
	pk_str(&pk, "id");
	pk_str(&pk, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	pk_str(&pk, "shape");
	msgpack_pack_str_with_body(&pk, "ab\0cd", 5);
	is_int(record_decode(b.data, b.len, &r), 0, "over-long strings are accepted");
	is_int((long long)strlen(r.tags), sizeof(r.tags) - 1, "and cut to the field");
	is_int((long long)strlen(r.id), 38, "never inside a UTF-8 character (19 of 20 'é')");
	is_str(r.shape, "ab", "a NUL inside a string ends it");

	/* a newer schema */
	b.len = 0;
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "mr");
	pk_str(&pk, "x");
	pk_str(&pk, "v");
	msgpack_pack_int(&pk, RECORD_SCHEMA_VERSION + 1);
	full_record(&r);
	is_int(record_decode(b.data, b.len, &r), -1, "a newer schema version is refused");
	ok(r.model_requested[0] == '\0' && r.end_ns == 0, "and leaves an empty record");
	buf_release(&b);
}

/* Packs {key: <value written by fn>} and decodes it. */
static int
decode_one(const char *key, void (*fn)(msgpack_packer *))
{
	struct buf b = { 0 };
	struct record r;
	msgpack_packer pk;
	int rc;

	msgpack_packer_init(&pk, &b, write_buf);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, key);
	fn(&pk);
	rc = record_decode(b.data, b.len, &r);
	buf_release(&b);
	return rc;
}

static void v_int(msgpack_packer *pk) { msgpack_pack_int(pk, 5); }
static void v_neg(msgpack_packer *pk) { msgpack_pack_int(pk, -5); }
static void v_big(msgpack_packer *pk) { msgpack_pack_uint64(pk, 70000); }
static void v_huge(msgpack_packer *pk) { msgpack_pack_uint64(pk, 9223372036854775808ULL); }
static void v_str(msgpack_packer *pk) { pk_str(pk, "5"); }
static void v_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void v_float(msgpack_packer *pk) { msgpack_pack_double(pk, 5.0); }
static void v_strs(msgpack_packer *pk) { msgpack_pack_array(pk, 1); pk_str(pk, "a"); }

static void
test_wrong_types(void)
{
	struct buf b = { 0 };
	struct record r;
	msgpack_packer pk;

	is_int(decode_one("mr", v_int), -1, "a number where a string belongs");
	is_int(decode_one("te", v_str), -1, "a string where a number belongs");
	is_int(decode_one("te", v_float), -1, "a float where an integer belongs");
	is_int(decode_one("te", v_nil), -1, "nil where an integer belongs");
	is_int(decode_one("te", v_huge), -1, "an integer past int64");
	is_int(decode_one("st", v_big), -1, "a status past 65535");
	is_int(decode_one("w", v_neg), -1, "a negative worker");
	is_int(decode_one("tok", v_int), -1, "a number where the token array belongs");
	is_int(decode_one("cost", v_strs), -1, "a string inside the cost array");
	is_int(decode_one("v", v_str), -1, "a version that is not a number");
	is_int(decode_one("te", v_neg), 0, "(a negative time is a number like any other)");

	msgpack_packer_init(&pk, &b, write_buf);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int(&pk, 1);
	is_int(record_decode(b.data, b.len, &r), -1, "an array instead of a map");
	b.len = 0;
	msgpack_pack_map(&pk, 1);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 1);
	is_int(record_decode(b.data, b.len, &r), -1, "a key that is not a string");
	buf_release(&b);
}

static void
test_malformed(void)
{
	static const struct { const char *data; size_t len; const char *what; } bad[] = {
		{ "", 0, "no bytes" },
		{ "\xc1", 1, "the never-used byte 0xc1" },
		{ "\xdd\xff\xff\xff\xff", 5, "an array header claiming 4 billion elements" },
		{ "\xdf\xff\xff\xff\xff", 5, "a map header claiming 4 billion entries" },
		{ "\x81\xa2mr\xdb\xff\xff\xff\xff", 9, "a string claiming 4 GiB" },
		{ "\x81\xa2mr\xa5gp", 6, "a string cut short" },
		{ "\x80\x80", 2, "bytes after the map" },
		{ "\x81\xa2te", 4, "a key without its value" },
		{ "\x82\xa2te\x01", 5, "a map with fewer entries than it says" },
	};
	struct record in, r;
	struct buf b = { 0 };
	size_t i, cut, fails = 0;
	unsigned seed = 12345;
	int j, sane = 1;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(record_decode(bad[i].data, bad[i].len, &r), -1, "refused: %s", bad[i].what);

	/*
	 * A later schema's key holding nested containers is passed over whole;
	 * an integer in a signed encoding that is not negative reads as any
	 * other (st as int16 200, total as int8 -3, te as uint64).
	 */
	is_int(record_decode("\x85\xa1v\x01\xa2zz\x92\x81\xa1" "a\x92\x01\xc0\xa1x"
	    "\xa2st\xd1\x00\xc8\xa5total\xd0\xfd\xa2te\xcf\x00\x00\x00\x00\x00\x00\x01\x00",
	    42, &r), 0, "an unknown key's nested value passed over");
	ok(r.status == 200 && r.total == -3 && r.end_ns == 256,
	    "integers of every width and sign (%u, %lld, %lld)", r.status, (long long)r.total,
	    (long long)r.end_ns);
	is_int(record_decode("\x81\xa2st\xd1\xff\x38", 6, &r), -1,
	    "a negative value where a count must be unsigned");

	full_record(&in);
	record_encode(&in, &b);
	for (cut = 0; cut < b.len; cut++)
		if (record_decode(b.data, cut, &r) == 0)
			fails++;
	is_int((long long)fails, 0, "every truncation of a record (%zu of them) is refused", b.len);

	/* corrupted bytes: refused or decoded, never a crash, strings always terminated */
	for (j = 0; j < 20000; j++) {
		struct buf m = { 0 };
		int k;

		buf_append(&m, b.data, b.len);
		for (k = 0; k < 1 + j % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			m.data[(seed >> 8) % m.len] = (char)(seed >> 20);
		}
		if (record_decode(m.data, m.len, &r) == 0)
			sane &= memchr(r.id, 0, sizeof(r.id)) && memchr(r.tags, 0, sizeof(r.tags)) &&
			    memchr(r.shape, 0, sizeof(r.shape));
		buf_release(&m);
	}
	ok(sane, "20000 corrupted records: no crash, every decoded string terminated");
	buf_release(&b);
}

static void
test_json(void)
{
	struct record r;
	struct buf b = { 0 };
	int i;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "req-1");
	r.start_ns = 1795462265900000000LL;
	r.first_byte_ns = 0;
	r.end_ns = 1795462266123456789LL;
	r.worker = 3;
	r.status = 200;
	snprintf(r.key, sizeof(r.key), "master");
	snprintf(r.user, sizeof(r.user), "bob \"b\"\n");
	snprintf(r.endpoint, sizeof(r.endpoint), "/v1/chat/completions");
	snprintf(r.upstream, sizeof(r.upstream), "/v1/messages");
	snprintf(r.model_requested, sizeof(r.model_requested), "custom-4o");
	snprintf(r.deployment, sizeof(r.deployment), "gpt-4o");
	snprintf(r.provider, sizeof(r.provider), "openai");
	snprintf(r.priced_as, sizeof(r.priced_as), "custom-4o");
	r.generation = 7;
	snprintf(r.shape, sizeof(r.shape), "openai");
	snprintf(r.tier, sizeof(r.tier), "standard");
	r.tokens[RECORD_TOK_INPUT] = 2618;
	r.tokens[RECORD_TOK_CACHE_READ] = 3456;
	r.tokens[RECORD_TOK_OUTPUT] = 285;
	r.cost[COST_INPUT] = 6545000000LL;
	r.cost[COST_CACHE_READ] = 864000000LL;
	r.cost[COST_OUTPUT] = 4275000000LL;
	r.total = 11684000000LL;
	r.usage_flags = USAGE_FLAG_TIER_FALLBACK;
	r.flags = RECORD_FLAG_STREAM_INCOMPLETE | RECORD_FLAG_REPLAYED | (1u << 30);

	buf_append(&b, "[", 1);
	is_int(record_to_json(&r, &b), 0, "record_to_json");
	is_str(b.data,
	    "[{\"id\": \"req-1\", \"start\": \"2026-11-23T19:31:05.900000000Z\", "
	    "\"first_byte\": null, \"end\": \"2026-11-23T19:31:06.123456789Z\", \"worker\": 3, "
	    "\"host\": \"\", \"key\": \"master\", \"user\": \"bob \\\"b\\\"\\u000a\", \"team\": \"\", "
	    "\"customer\": \"\", \"tags\": \"\", \"endpoint\": \"/v1/chat/completions\", "
	    "\"upstream_endpoint\": \"/v1/messages\", "
	    "\"model_requested\": \"custom-4o\", \"deployment\": \"gpt-4o\", "
	    "\"provider\": \"openai\", \"priced_as\": \"custom-4o\", \"price_version\": null, \"generation\": 7, "
	    "\"status\": 200, \"shape\": \"openai\", \"tier\": \"standard\", "
	    "\"tokens\": {\"input\": 2618, \"cache_read\": 3456, \"cache_write_5m\": 0, "
	    "\"cache_write_1h\": 0, \"output\": 285, \"reasoning\": 0, \"audio_input\": 0, "
	    "\"audio_output\": 0, \"image_input\": 0, \"image_output\": 0, "
	    "\"tool_use_prompt\": 0, \"search_queries\": 0, \"duration_ms\": 0}, "
	    "\"cost_usd\": 0.011684, \"cost\": {\"input\": 0.006545, \"cache_read\": 0.000864, "
	    "\"cache_write_5m\": 0, \"cache_write_1h\": 0, \"output\": 0.004275, "
	    "\"reasoning\": 0, \"audio_input\": 0, \"audio_output\": 0, \"image_input\": 0, "
	    "\"image_output\": 0, \"tool_use_prompt\": 0, \"search\": 0, \"duration\": 0, "
	    "\"request\": 0}, \"provider_cost_usd\": null, \"usage_flags\": [\"tier_fallback\"], "
	    "\"flags\": [\"stream_incomplete\", \"replayed\"], \"model_group\": \"custom-4o\", "
	    "\"retries\": 0, \"fallbacks\": 0, \"attempts\": []}",
	    "the JSON form, exactly (appended; unnamed flag bits left out)");

	r.first_byte_ns = 1795462266000000123LL;
	r.priced_as[0] = '\0';
	r.usage_flags = 0;
	r.flags = 0;
	r.total = 1;
	b.len = 0;
	record_to_json(&r, &b);
	ok(strstr(b.data, "\"first_byte\": \"2026-11-23T19:31:06.000000123Z\"") != NULL,
	    "a first byte time, nanoseconds zero-padded");
	ok(strstr(b.data, "\"priced_as\": null") != NULL, "unpriced: priced_as null");
	ok(strstr(b.data, "\"cost_usd\": 0.000000000001,") != NULL, "one picodollar, exactly");
	ok(strstr(b.data, "\"usage_flags\": [], \"flags\": [], ") != NULL, "no flags: empty arrays");

	/* the price version that priced it: its effective_from, kept and printed as a time */
	{
		struct record back;
		struct buf enc = { 0 };

		r.price_from = 1798761600;	/* 2027-01-01 */
		ok(record_encode(&r, &enc) == 0 && record_decode(enc.data, enc.len, &back) == 0 &&
		    back.price_from == 1798761600, "pv: the price version survives the round trip");
		b.len = 0;
		record_to_json(&back, &b);
		ok(strstr(b.data, "\"price_version\": \"2027-01-01T00:00:00.000000000Z\"") != NULL,
		    "and prints as the time it is in force from");
		buf_release(&enc);
		r.price_from = 0;
	}

	/* the provider's own cost: kept, even when it is 0 (written or not, the flag says it was said) */
	{
		struct record back;
		struct buf m = { 0 };
		int64_t costs[2] = { 0, 2198550000LL };
		const char *want[2] = { "\"provider_cost_usd\": 0,", "\"provider_cost_usd\": 0.00219855," };

		for (i = 0; i < 2; i++) {
			r.flags = RECORD_FLAG_PROVIDER_COST | (i ? RECORD_FLAG_COST_MISMATCH : 0);
			r.provider_cost = costs[i];
			m.len = 0;
			memset(&back, 0, sizeof(back));
			ok(record_encode(&r, &m) == 0 && record_decode(m.data, m.len, &back) == 0 &&
			    back.provider_cost == costs[i] && back.flags == r.flags,
			    "provider cost %lld: encoded and decoded", (long long)costs[i]);
			b.len = 0;
			record_to_json(&back, &b);
			ok(strstr(b.data, want[i]) != NULL && strstr(b.data, i ?
			    "\"flags\": [\"provider_cost\", \"cost_mismatch\"]" :
			    "\"flags\": [\"provider_cost\"]") != NULL, "  its JSON: %s", want[i]);
		}
		buf_release(&m);
		r.flags = 0;
		r.provider_cost = 0;
	}

	r.start_ns = -1;
	b.len = 0;
	record_to_json(&r, &b);
	ok(strstr(b.data, "\"start\": \"1969-12-31T23:59:59.999999999Z\"") != NULL,
	    "a time before 1970 is formatted, not garbled");
	buf_release(&b);
}

static void
test_set_usage(void)
{
	struct usage u;
	struct cost c;
	struct record r;
	int i, same = 1;

	memset(&u, 0, sizeof(u));
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	u.input = 1; u.cache_read = 2; u.cache_write_5m = 3; u.cache_write_1h = 4;
	u.output = 5; u.reasoning = 6; u.audio_in = 7; u.audio_out = 8; u.image_in = 9;
	u.image_out = 10; u.tool_prompt = 11; u.search_queries = 12; u.duration_ms = 13;
	c.searches = 12;	/* the searches as billed: what the record keeps */
	u.shape = USAGE_SHAPE_ANTHROPIC;
	for (i = 0; i < COST_PART_COUNT; i++)
		c.part[i] = 100 + i;
	c.total = 4242;
	c.flags = USAGE_FLAG_NO_CACHE_PRICE;
	c.tier = PRICE_TIER_FLEX;
	snprintf(r.id, sizeof(r.id), "keep");
	record_set_usage(&r, &u, &c);
	for (i = 0; i < RECORD_TOKEN_COUNT; i++)
		same &= r.tokens[i] == i + 1;
	ok(same, "tokens in enum record_token order");
	for (i = 0, same = 1; i < COST_PART_COUNT; i++)
		same &= r.cost[i] == 100 + i;
	ok(same && r.total == 4242, "costs and total");
	is_str(r.shape, "anthropic", "shape name");
	is_str(r.tier, "flex", "tier name");
	is_int(r.usage_flags, USAGE_FLAG_NO_CACHE_PRICE, "usage flags from the cost");
	is_str(r.id, "keep", "other fields untouched");
	u.duration_ms = -1;
	record_set_usage(&r, &u, &c);
	is_int(r.tokens[RECORD_TOK_DURATION_MS], 0, "an unknown duration is stored as 0");
}

static void
test_flag_names(void)
{
	is_str(record_flag_name(0), "client_aborted", "flag 0");
	is_str(record_flag_name(4), "replayed", "flag 4");
	ok(RECORD_FLAG_REPLAYED == 1u << 4, "bit 4 is replayed");
	ok(record_flag_name(RECORD_FLAG_COUNT) == NULL, "NULL past the last");
}

int
main(void)
{
	test_round_trip();
	test_tolerance();
	test_wrong_types();
	test_malformed();
	test_json();
	test_set_usage();
	test_flag_names();
	return done_testing();
}
