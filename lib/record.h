/*
 * The spend record: one per finished request (success, upstream error, client
 * abort), written by workers to the LMDB ledger as a msgpack map.
 *
 * Schema (version RECORD_SCHEMA_VERSION), msgpack map with these keys:
 *   v      schema version (uint)              id     request id (str)
 *   ts     start, unix ns (int)               fb     first byte to client, unix ns (int, 0: none)
 *   te     end, unix ns (int)                 w      worker number (uint)
 *   host   host_id of the gateway that served it (str; absent before it was added)
 *   key    key id: "master", an alias or the first 16 hex of its SHA-256 (str, never the secret)
 *   user, team, customer (str)                tags   comma-separated tags (str)
 *   ep     endpoint, e.g. "/v1/chat/completions" (str)
 *   mr     model requested (str)              dep    deployment: upstream model (str)
 *   prov   provider (str)                     pa     priced-as price-map entry (str, "" unpriced)
 *   gen    price-map generation (uint)        st     HTTP status sent to the client (uint)
 *   shape  usage shape name (str)             tier   price tier name (str)
 *   tok    token counts: array of RECORD_TOKEN_COUNT ints in enum record_token order
 *   cost   cost per category, picodollars: array of COST_PART_COUNT ints (lib/cost.h order)
 *   total  total cost, picodollars (int)
 *   uf     usage flags (uint, enum usage_flag)  rf  record flags (uint, enum record_flag)
 * Written only when they say something (absent: none, or mr):
 *   mg     the model group that answered, when a fallback did (str)
 *   nre    retries within model groups (uint)   nfb  fallbacks to other groups (uint)
 *   att    the attempts that failed before the answer, in order: arrays of
 *          [deployment (str), provider (str), status (uint, 0: no answer),
 *          failure (str, LiteLLM's class name), input tokens, output tokens,
 *          cost (int, picodollars: what the provider billed for it, usually 0)];
 *          tok is the answer's, cost and total include the attempts'
 *   pc     the cost the provider reported for the answer, picodollars (int;
 *          present, even 0, when rf has provider_cost)
 *   pv     the effective_from of the price version that priced it, unix seconds
 *          (int; absent: an undated version, or unpriced)
 * Decoders ignore keys they do not know, so fields can be added without a
 * version change; removing or changing the meaning of one bumps the version.
 */
#ifndef TOLLGATE_RECORD_H
#define TOLLGATE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"

#define RECORD_SCHEMA_VERSION	1

enum record_token {
	RECORD_TOK_INPUT, RECORD_TOK_CACHE_READ, RECORD_TOK_CACHE_WRITE_5M,
	RECORD_TOK_CACHE_WRITE_1H, RECORD_TOK_OUTPUT, RECORD_TOK_REASONING,
	RECORD_TOK_AUDIO_IN, RECORD_TOK_AUDIO_OUT, RECORD_TOK_IMAGE_IN, RECORD_TOK_IMAGE_OUT,
	RECORD_TOK_TOOL_PROMPT, RECORD_TOK_SEARCH, RECORD_TOK_DURATION_MS,
	RECORD_TOKEN_COUNT
};

/* What happened to the request, beside the usage flags. */
enum record_flag {
	RECORD_FLAG_CLIENT_ABORTED	= 1u << 0,	/* the client went away mid-response */
	RECORD_FLAG_UPSTREAM_ERROR	= 1u << 1,	/* the provider answered 4xx/5xx */
	RECORD_FLAG_UPSTREAM_FAILED	= 1u << 2,	/* no answer: refused, reset, timeout */
	RECORD_FLAG_STREAM_INCOMPLETE	= 1u << 3,	/* the stream ended before its end marker */
	RECORD_FLAG_REPLAYED		= 1u << 4,	/* written late, from the spill file */
	RECORD_FLAG_ADJUSTMENT		= 1u << 5,	/* a re-rating: cost only, id "adj_<original>" */
	RECORD_FLAG_PROVIDER_COST	= 1u << 6,	/* the provider reported its cost: pc */
	RECORD_FLAG_COST_MISMATCH	= 1u << 7,	/* pc and the computed cost differ past the threshold */
	RECORD_FLAG_PROVIDER_BILLED	= 1u << 8,	/* total is pc (provider_cost: prefer), not the sum of cost */
	RECORD_FLAG_COUNT		= 9
};

#define RECORD_ATTEMPTS_MAX	8	/* failed attempts kept; more are counted in total only */

struct record_attempt {
	char		deployment[96];
	char		provider[32];
	char		failure[32];
	uint16_t	status;
	int64_t		input, output;
	int64_t		total;
};

struct record {
	char		id[40];
	int64_t		start_ns, first_byte_ns, end_ns;
	uint32_t	worker;
	char		host[64];
	uint16_t	status;
	char		key[72];
	char		user[128];
	char		team[128];
	char		customer[128];
	char		tags[256];
	char		endpoint[48];	/* the client's */
	char		upstream[48];	/* the provider's: another one when translated */
	char		model_requested[128];
	char		deployment[128];
	char		provider[32];
	char		priced_as[128];
	char		shape[16];
	char		tier[16];
	uint64_t	generation;
	int64_t		tokens[RECORD_TOKEN_COUNT];
	int64_t		cost[COST_PART_COUNT];
	int64_t		total;
	uint32_t	usage_flags;
	uint32_t	flags;
	char		group[128];	/* mg: the group that answered, "": model_requested */
	uint32_t	retries, fallbacks;
	uint32_t	nattempts;
	struct record_attempt attempts[RECORD_ATTEMPTS_MAX];
	int64_t		provider_cost;	/* pc: with RECORD_FLAG_PROVIDER_COST */
	int64_t		price_from;	/* pv: its price version's effective_from, unix s; 0 undated */
};

/* Fills the usage, cost, shape and tier fields from a priced usage. */
void record_set_usage(struct record *r, const struct usage *u, const struct cost *c);

struct buf;
/* Appends r as msgpack to out; 0 or -1 on ENOMEM. */
int record_encode(const struct record *r, struct buf *out);
/* Decodes one record; unknown keys are ignored.  0, or -1 (malformed, or a newer schema). */
int record_decode(const char *data, size_t len, struct record *r);
/* Appends r as one JSON object (no newline) to out: every field, costs as exact decimals. */
int record_to_json(const struct record *r, struct buf *out);
/* Record flag names ("client_aborted"), NULL past the last. */
const char *record_flag_name(unsigned bit);
/* The JSON name of token category i ("cache_read"), NULL past the last. */
const char *record_token_name(unsigned i);

#endif
