/*
 * The price map: LiteLLM's model_prices_and_context_window.json format (and
 * YAML files with the same field names) compiled into one flat,
 * pointer-free table.  Everything inside the table is addressed by offsets
 * from its first byte, so the master can copy it into shared memory and every
 * process can read it at whatever address it is mapped.
 *
 * Loading: a builder takes several files in order; a later file's entry for a
 * model replaces an earlier one whole, unless the two are versions in force
 * from different dates (effective_from): a model keeps one version per date,
 * and a request is priced at the one in force when it started
 * (price_lookup_at()).  A file lists several versions of one model as a
 * list of entries under its name.  Prices are decimal text parsed to
 * attodollars, never a double.  Fields tollgate does not price are collected
 * once each (pricemap_unknown_fields) and otherwise ignored.
 */
#ifndef TOLLGATE_PRICEMAP_H
#define TOLLGATE_PRICEMAP_H

#include <stddef.h>
#include <stdint.h>

enum price_kind {
	PRICE_INPUT,		/* input_cost_per_token */
	PRICE_OUTPUT,		/* output_cost_per_token */
	PRICE_CACHE_READ,	/* cache_read_input_token_cost */
	PRICE_CACHE_HIT,	/* input_cost_per_token_cache_hit (older alias) */
	PRICE_CACHE_WRITE,	/* cache_creation_input_token_cost (5 minute) */
	PRICE_CACHE_WRITE_1H,	/* cache_creation_input_token_cost_above_1hr */
	PRICE_REASONING,	/* output_cost_per_reasoning_token */
	PRICE_AUDIO_IN,		/* input_cost_per_audio_token */
	PRICE_AUDIO_OUT,	/* output_cost_per_audio_token */
	PRICE_IMAGE_IN,		/* input_cost_per_image_token */
	PRICE_IMAGE_OUT,	/* output_cost_per_image_token */
	PRICE_INPUT_PER_SECOND,	/* input_cost_per_second */
	PRICE_OUTPUT_PER_SECOND,/* output_cost_per_second */
	PRICE_PER_REQUEST,	/* input_cost_per_request */
	PRICE_SEARCH_LOW,	/* search_context_cost_per_query.search_context_size_low */
	PRICE_SEARCH_MEDIUM,
	PRICE_SEARCH_HIGH,
	PRICE_KIND_COUNT
};

enum price_tier {
	PRICE_TIER_STANDARD,
	PRICE_TIER_FLEX,
	PRICE_TIER_PRIORITY,
	PRICE_TIER_ULTRAFAST,
	PRICE_TIER_COUNT
};

/* One price field of an entry, e.g. input_cost_per_token_above_200k_tokens_priority. */
struct price_rate {
	int64_t		atto;	/* USD 1e-18 per unit */
	uint32_t	above;	/* applies when total input > above; 0 for the base rate */
	uint16_t	range;	/* 0: the entry's own; i: tiered_pricing[i - 1] */
	uint8_t		kind;	/* enum price_kind */
	uint8_t		tier;	/* enum price_tier */
	uint8_t		batch;	/* a *_batches field */
	uint8_t		pad[7];
};

/* A tiered_pricing range: applies when lo < total input <= hi. */
struct price_range {
	uint64_t	lo;
	uint64_t	hi;
};

struct price_entry {
	uint32_t	name;		/* string offsets; 0 is the empty string */
	uint32_t	base_model;
	uint32_t	provider;
	uint32_t	mode;
	uint32_t	source;		/* the file it came from */
	uint32_t	rates;		/* first rate index, and count */
	uint32_t	nrates;
	uint32_t	ranges;		/* first range index, and count */
	uint32_t	nranges;
	uint32_t	max_output;	/* the model's max_output_tokens (else max_tokens); 0: unknown */
	uint32_t	flags;		/* PRICE_NATIVE_JSON */
	uint32_t	max_input;	/* the model's max_input_tokens; 0: unknown */
	int64_t		mult_us;	/* provider_specific_entry multipliers, */
	int64_t		mult_fast;	/* in 1e-6 units; 0 when absent */
	int64_t		effective_s;	/* effective_from, unix seconds (with PRICE_DATED) */
	uint32_t	older;		/* the version in force before this one: index + 1, 0 none */
	uint32_t	pad;
};

#define PRICE_TABLE_MAGIC	0x70726963u	/* "pric" */
#define PRICE_TABLE_VERSION	5u	/* 2: max_output; 3: flags; 4: max_input; 5: versions */

/* price_entry.flags: what the model can do that changes how a request is sent */
#define PRICE_NATIVE_JSON	1u	/* supports_native_structured_output: JSON answers asked as such */
/* and which version of its model's prices it is */
#define PRICE_DATED		2u	/* carries effective_from (else in force from the start) */
#define PRICE_SUPERSEDED	4u	/* an older version: not the model's newest (not in the index) */
/* web_search_billing_unit: per_query: Gemini grounding billed per query, not per grounded prompt */
#define PRICE_SEARCH_PER_QUERY	8u

/* The compiled table; all *_off fields are byte offsets from the header. */
struct price_table {
	uint32_t	magic;
	uint32_t	version;
	uint64_t	size;		/* whole table in bytes */
	uint64_t	generation;	/* set by whoever publishes it */
	uint32_t	nentries;	/* every version of every model */
	uint32_t	nmodels;	/* the models: entries without PRICE_SUPERSEDED */
	uint32_t	nslots;		/* hash slots, a power of two */
	uint32_t	pad;
	uint32_t	entries_off;
	uint32_t	slots_off;	/* uint32_t entry index + 1, 0 = empty */
	uint32_t	rates_off;
	uint32_t	ranges_off;
	uint32_t	strings_off;
	uint32_t	strings_len;
};

struct pricemap_builder;

struct pricemap_builder *pricemap_builder_new(void);
void pricemap_builder_free(struct pricemap_builder *b);

/*
 * Loads one file (JSON when its first non-blank byte is '{', else YAML) into
 * the builder.  Returns 0, or -1 with "file:line:col: what" in err.
 */
int pricemap_load_file(struct pricemap_builder *b, const char *path, char *err,
    size_t errlen);

/* The same for a buffer; name is used in messages. */
int pricemap_load_json(struct pricemap_builder *b, const char *name,
    const char *buf, size_t len, char *err, size_t errlen);
int pricemap_load_yaml(struct pricemap_builder *b, const char *name,
    const char *buf, size_t len, char *err, size_t errlen);

/* One price field given as text, e.g. from a gateway config's model_info. */
struct pricemap_field {
	const char	*key;
	const char	*value;
	int		 line;
};

/*
 * Adds (or replaces) one entry built from fields, as if read from a file
 * named source: how a deployment's own prices and base_model join the map.
 * base_model may be NULL.  Returns 0, or -1 on ENOMEM; bad fields become
 * warnings like a file's.
 */
int pricemap_add_entry(struct pricemap_builder *b, const char *source, const char *name,
    const char *base_model, const struct pricemap_field *fields, size_t n);

/*
 * Non-fatal findings of the loads so far, one per line ("file:line: ...", and
 * one line naming every unknown field once).  NULL when there are none.  The
 * builder owns the string.
 */
const char *pricemap_warnings(struct pricemap_builder *b);
/* Only the findings of particular lines (a bad price, a bad effective_from), or NULL. */
const char *pricemap_line_warnings(struct pricemap_builder *b);

/* Number of entries loaded so far (after replacement). */
size_t pricemap_count(const struct pricemap_builder *b);

/* Compiles the builder into a malloc'd table; the caller frees it.  NULL on ENOMEM. */
struct price_table *pricemap_compile(const struct pricemap_builder *b);

/*
 * Finds the entry for a model name: exact, then without each provider prefix
 * ("azure/gpt-4o" -> "gpt-4o"), then without a trailing snapshot date
 * ("claude-sonnet-4-5-20250929" -> "claude-sonnet-4-5"), then the same for
 * a Bedrock cross-region inference profile without its geo prefix
 * ("bedrock/us-east-1/us.anthropic.claude-..." -> "bedrock/us-east-1/
 * anthropic.claude-...", when the map has no entry for the profile itself:
 * us., eu., apac., global., jp., au., us-gov., ca.); an entry that has no
 * prices of its own stands for its base_model (one with prices of its own
 * inherits, when compiled, every base_model price it does not set itself).
 * NULL when nothing matches.
 */
const struct price_entry *price_lookup(const struct price_table *t,
    const char *name, size_t len);
/*
 * The same at unix second at_s: the model's version in force then (the
 * newest with effective_from at or before it; when every version is dated
 * later, the oldest).  price_lookup() is price_lookup_at() now.
 */
const struct price_entry *price_lookup_at(const struct price_table *t,
    const char *name, size_t len, int64_t at_s);
/* The version of newest's model (newest: its newest version) at at_s, as price_lookup_at() picks. */
const struct price_entry *price_version_at(const struct price_table *t,
    const struct price_entry *e, int64_t at_s);
/* The version in force before e (e's older one), or NULL. */
const struct price_entry *price_older(const struct price_table *t, const struct price_entry *e);

/* Accessors into a table. */
const char *price_str(const struct price_table *t, uint32_t off);
const struct price_rate *price_entry_rates(const struct price_table *t,
    const struct price_entry *e);
const struct price_range *price_entry_ranges(const struct price_table *t,
    const struct price_entry *e);

/* Field name <-> kind, for messages and tests. */
const char *price_kind_name(enum price_kind k);
const char *price_tier_name(enum price_tier t);
/*
 * A tier as requests and records name it: standard, default, flex, priority,
 * fast (billed as priority), ultrafast.  0 and *tier, or -1 for another name.
 */
int price_tier_from_name(const char *name, int *tier);

#endif
