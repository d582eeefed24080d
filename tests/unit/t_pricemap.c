/*
 * The price map: the whole community map loads as is, YAML with the same
 * fields, layering, lookup, errors that name file and line, and a compiled
 * table that works at any address.
 */
#include "pricemap.h"
#include "tap.h"

static const struct price_rate *
rate_of(const struct price_table *t, const struct price_entry *e, int kind, int tier,
    uint32_t above)
{
	const struct price_rate *r = price_entry_rates(t, e);
	uint32_t i;

	for (i = 0; i < e->nrates; i++)
		if (r[i].kind == kind && r[i].tier == tier && r[i].above == above &&
		    !r[i].batch && !r[i].range)
			return &r[i];
	return NULL;
}

static int
load_yaml(struct pricemap_builder *b, const char *name, const char *text, char *err, size_t n)
{
	return pricemap_load_yaml(b, name, text, strlen(text), err, n);
}

static int
load_json(struct pricemap_builder *b, const char *name, const char *text, char *err, size_t n)
{
	return pricemap_load_json(b, name, text, strlen(text), err, n);
}

static void
community_map(void)
{
	const char *data = shared_data();
	char path[4200], err[512];
	struct pricemap_builder *b;
	struct price_table *t, *moved;
	const struct price_entry *e;
	const struct price_rate *r;
	const char *w;

	if (data == NULL) {
		skip(14, "shared data absent");
		return;
	}
	snprintf(path, sizeof(path), "%s/litellm_model_prices.json", data);
	b = pricemap_builder_new();
	ok(pricemap_load_file(b, path, err, sizeof(err)) == 0, "the community map loads: %s", err);
	ok(pricemap_count(b) > 2900, "with all its models (%zu)", pricemap_count(b));
	w = pricemap_warnings(b);
	ok(w != NULL && strstr(w, "'input_cost_per_pixel' (45 models") != NULL &&
	    strstr(strstr(w, "'input_cost_per_pixel'") + 1, "'input_cost_per_pixel'") == NULL,
	    "an unknown field is reported once, with its count");
	ok(w != NULL && strstr(w, "supports_vision") == NULL && strstr(w, "max_tokens") == NULL,
	    "capability and limit fields are not reported");
	t = pricemap_compile(b);
	e = price_lookup(t, "gpt-4o", 6);
	r = e ? rate_of(t, e, PRICE_INPUT, PRICE_TIER_STANDARD, 0) : NULL;
	ok(r && r->atto == 2500000000000LL, "gpt-4o input is 2.5e-6 exactly");
	r = e ? rate_of(t, e, PRICE_CACHE_READ, PRICE_TIER_PRIORITY, 0) : NULL;
	ok(r && r->atto == 2125000000000LL, "gpt-4o priority cache read is 2.125e-6");
	e = price_lookup(t, "claude-sonnet-4-5", 17);
	r = e ? rate_of(t, e, PRICE_CACHE_WRITE_1H, PRICE_TIER_STANDARD, 200000) : NULL;
	ok(r && r->atto == 12000000000000LL, "1h write above 200k parses as its own kind and threshold");
	e = price_lookup(t, "claude-opus-4-6", 15);
	ok(e && e->mult_us == 1100000 && e->mult_fast == 6000000, "provider_specific_entry multipliers");
	e = price_lookup(t, "dashscope/qwen-flash", 20);
	ok(e && e->nranges == 2 && price_entry_ranges(t, e)[1].lo == 256000 &&
	    price_entry_ranges(t, e)[1].hi == 1000000, "tiered_pricing ranges");
	e = price_lookup(t, "gemini-3-pro-preview", 20);
	ok(e && (e->flags & PRICE_SEARCH_PER_QUERY), "web_search_billing_unit: per_query read");
	e = price_lookup(t, "gemini-2.5-flash", 16);
	ok(e && !(e->flags & PRICE_SEARCH_PER_QUERY), "  and absent: grounding per prompt");
	ok(price_lookup(t, "sample_spec", 11) == NULL, "the map's sample_spec is not a model");
	ok(t->magic == PRICE_TABLE_MAGIC && t->version == PRICE_TABLE_VERSION,
	    "the table is self-describing");
	/* pointer-free: a copy at another address answers the same */
	moved = malloc(t->size);
	memcpy(moved, t, t->size);
	memset(t, 0xa5, t->size);
	free(t);
	e = price_lookup(moved, "gpt-4o-mini", 11);
	ok(e && strcmp(price_str(moved, e->name), "gpt-4o-mini") == 0 &&
	    rate_of(moved, e, PRICE_OUTPUT, PRICE_TIER_STANDARD, 0) != NULL,
	    "a copied table works at its new address");
	free(moved);
	pricemap_builder_free(b);
}


/* The input rate of model's version in force at at_s, in attodollars; -1 when unpriced. */
static int64_t
input_at(const struct price_table *t, const char *model, int64_t at_s)
{
	const struct price_entry *e = price_lookup_at(t, model, strlen(model), at_s);
	const struct price_rate *r = e ? rate_of(t, e, PRICE_INPUT, 0, 0) : NULL;

	return r ? r->atto : -1;
}

#define JAN_2026	1767225600LL	/* 2026-01-01T00:00:00Z */
#define MAR_2026	1772323200LL
#define JUN_2026	1780272000LL
#define JAN_2027	1798761600LL
#define FEB_2027	1801440000LL

/*
 * Effective-dated prices: versions listed under one name or added by later
 * files, each in force from its effective_from; an undated one from the
 * start; the same date again replaces that version only.
 */
static void
versions(void)
{
	struct pricemap_builder *b = pricemap_builder_new();
	const struct price_entry *e, *o;
	struct price_table *t;
	char err[512];
	const char *w;
	int n;

	ok(load_yaml(b, "base.yaml",
	    "gpt-x:\n"
	    "  - {input_cost_per_token: 1e-6, output_cost_per_token: 2e-6}\n"
	    "  - {effective_from: 2026-06-01, input_cost_per_token: 2e-6}\n"
	    "dated-only:\n"
	    "  - {effective_from: \"2026-03-01T00:00:00Z\", input_cost_per_token: 5e-6}\n"
	    "  - {effective_from: 2027-01-01, input_cost_per_token: 4e-6}\n"
	    "alias-x: {base_model: gpt-x}\n"
	    "plain: {input_cost_per_token: 9e-6}\n", err, sizeof(err)) == 0,
	    "versions load as a list under the model's name: %s", err);
	ok(load_json(b, "update.json", "{\"gpt-x\": {\"effective_from\": \"2027-01-01\", "
	    "\"input_cost_per_token\": 3e-6}, \"plain\": [{\"effective_from\": \"2026-01-01\", "
	    "\"input_cost_per_token\": 8e-6}, {\"effective_from\": \"someday\", "
	    "\"input_cost_per_token\": 1}]}", err, sizeof(err)) == 0,
	    "a later file adds a version; JSON lists versions too: %s", err);
	ok(load_yaml(b, "fix.yaml",
	    "gpt-x:\n  input_cost_per_token: 1.5e-6\n"
	    "dated-only:\n  effective_from: 2027-01-01T00:00:00Z\n  input_cost_per_token: 3.5e-6\n",
	    err, sizeof(err)) == 0, "a correction loads: %s", err);
	ok(load_json(b, "odd.json", "{\"odd\": [1, {\"input_cost_per_token\": 1e-6}]}", err,
	    sizeof(err)) == 0, "a list with a version that is not an object still loads: %s", err);
	w = pricemap_warnings(b);
	ok(w != NULL && strstr(w, "update.json:1: model 'plain': effective_from 'someday' is not a "
	    "date") != NULL, "a bad effective_from is a warning naming file and line: %s", w ? w : "");
	ok(w != NULL && strstr(w, "odd.json:1: model 'odd': a version that is not an object") != NULL,
	    "  and a version that is not an object too");
	ok(pricemap_count(b) == 5, "five models (%zu)", pricemap_count(b));
	t = pricemap_compile(b);
	ok(t != NULL && t->nentries == 9, "nine versions in the table (%u)", t ? t->nentries : 0);

	ok(input_at(t, "gpt-x", JAN_2026) == 1500000000000LL,
	    "before any date: the undated version, as the later undated entry replaced it");
	ok(input_at(t, "gpt-x", JUN_2026 - 1) == 1500000000000LL, "still so the second before");
	ok(input_at(t, "gpt-x", JUN_2026) == 2000000000000LL, "from its effective_from on, inclusive");
	ok(input_at(t, "gpt-x", JAN_2027 - 1) == 2000000000000LL, "until the next version");
	ok(input_at(t, "gpt-x", FEB_2027) == 3000000000000LL, "the later file's version from its date");
	e = price_lookup_at(t, "gpt-x", 5, JUN_2026);
	ok(e && (e->flags & PRICE_DATED) && e->effective_s == JUN_2026 &&
	    strcmp(price_str(t, e->source), "base.yaml") == 0,
	    "a version says its date and its file");
	ok(e && rate_of(t, e, PRICE_OUTPUT, 0, 0) == NULL,
	    "a version is whole: no field comes from another version");
	ok(input_at(t, "dated-only", JAN_2026) == 5000000000000LL,
	    "before every date: the oldest version");
	ok(input_at(t, "dated-only", FEB_2027) == 3500000000000LL,
	    "the same date again replaces that version, in a later file");
	ok(input_at(t, "plain", JAN_2026 - 1) == 9000000000000LL &&
	    input_at(t, "plain", JAN_2026) == 8000000000000LL,
	    "a dated version over an undated one; the bad one ignored");
	ok(input_at(t, "alias-x", JAN_2026) == 1500000000000LL &&
	    input_at(t, "alias-x", FEB_2027) == 3000000000000LL,
	    "an alias without prices follows its base model's version at the time");
	ok(input_at(t, "openai/gpt-x-20260101", JUN_2026) == 2000000000000LL,
	    "a prefixed, snapshot-dated name finds the versions too");
	e = price_lookup_at(t, "gpt-x", 5, JAN_2026 - 86400 * 365);
	ok(e && !(e->flags & PRICE_DATED) && (e->flags & PRICE_SUPERSEDED) && price_older(t, e) == NULL,
	    "the undated version is the oldest, superseded, chained last");
	for (n = 0, o = price_lookup_at(t, "gpt-x", 5, FEB_2027); o != NULL; o = price_older(t, o))
		n++;
	ok(n == 3, "gpt-x: three versions chained newest first (%d)", n);
	e = price_lookup_at(t, "gpt-x", 5, FEB_2027);
	ok(e && !(e->flags & PRICE_SUPERSEDED) && price_version_at(t, e, JUN_2026)->effective_s ==
	    JUN_2026, "the newest is not superseded; price_version_at walks from it");
	free(t);
	pricemap_builder_free(b);
}

int
main(void)
{
	struct pricemap_builder *b;
	struct price_table *t;
	const struct price_entry *e;
	const struct price_rate *r;
	char err[512];
	const char *w;

	community_map();
	versions();

	/* Layering: a later file's entry replaces the earlier one whole. */
	b = pricemap_builder_new();
	ok(load_json(b, "base.json", "{\"m\": {\"input_cost_per_token\": 1e-6, "
	    "\"cache_read_input_token_cost\": 1e-7}, \"keep\": {\"input_cost_per_token\": \"2e-6\"}}",
	    err, sizeof(err)) == 0, "JSON map loads");
	ok(load_yaml(b, "over.yaml",
	    "defaults: &d\n  output_cost_per_token: 4e-6\n"
	    "m:\n  <<: *d\n  input_cost_per_token: 3e-6\n"
	    "alias-of-keep:\n  base_model: keep\n"
	    "override:\n  base_model: openai/m\n  input_cost_per_token: 7e-6\n", err, sizeof(err)) == 0,
	    "YAML map loads: %s", err);
	t = pricemap_compile(b);
	e = price_lookup(t, "m", 1);
	ok(e && rate_of(t, e, PRICE_INPUT, 0, 0)->atto == 3000000000000LL, "later file wins");
	ok(e && rate_of(t, e, PRICE_CACHE_READ, 0, 0) == NULL, "fields are not merged across files");
	ok(e && strcmp(price_str(t, e->source), "over.yaml") == 0, "the entry knows its file");
	e = price_lookup(t, "alias-of-keep", 13);
	ok(e && strcmp(price_str(t, e->name), "keep") == 0, "base_model is followed");
	e = price_lookup(t, "vertex_ai/keep", 14);
	ok(e && strcmp(price_str(t, e->name), "keep") == 0, "provider prefix is stripped");
	e = price_lookup(t, "keep-20250929", 13);
	ok(e && strcmp(price_str(t, e->name), "keep") == 0, "a snapshot date is stripped");
	e = price_lookup(t, "keep-2025-09-29", 15);
	ok(e && strcmp(price_str(t, e->name), "keep") == 0, "a dashed snapshot date is stripped");
	e = price_lookup(t, "vertex_ai/keep@20250929", 23);
	ok(e && strcmp(price_str(t, e->name), "keep") == 0,
	    "Vertex AI's @-dated snapshot, under a prefix, is stripped");
	ok(price_lookup(t, "keep-2025", 9) == NULL, "other suffixes are not");
	e = price_lookup(t, "override", 8);
	ok(e && e->nrates == 2 && rate_of(t, e, PRICE_INPUT, 0, 0)->atto == 7000000000000LL &&
	    rate_of(t, e, PRICE_OUTPUT, 0, 0)->atto == 4000000000000LL,
	    "own prices override the base_model's field by field, the rest is inherited");
	ok(price_lookup(t, "keep\0junk", 9) == NULL, "a name with a NUL inside matches nothing");
	free(t);
	pricemap_builder_free(b);

	/* Bedrock's cross-region inference profiles and regional entries. */
	b = pricemap_builder_new();
	ok(load_yaml(b, "bedrock.yaml",
	    "anthropic.claude-x-v1:0: {input_cost_per_token: 3e-6}\n"
	    "us.anthropic.claude-x-v1:0: {input_cost_per_token: 3.3e-6}\n"
	    "bedrock/us-gov-east-1/anthropic.claude-x-v1:0: {input_cost_per_token: 3.6e-6}\n"
	    "model-y: {input_cost_per_token: 1e-6}\n", err, sizeof(err)) == 0, "profiles load: %s", err);
	t = pricemap_compile(b);
#define NAMED(n) ((e = price_lookup(t, n, strlen(n))) ? price_str(t, e->name) : "")
	is_str(NAMED("bedrock/us-east-1/us.anthropic.claude-x-v1:0"), "us.anthropic.claude-x-v1:0",
	    "a profile the map prices is its own entry");
	is_str(NAMED("bedrock/us-east-1/eu.anthropic.claude-x-v1:0"), "anthropic.claude-x-v1:0",
	    "a profile it does not price is its model");
	is_str(NAMED("apac.anthropic.claude-x-v1:0"), "anthropic.claude-x-v1:0", "  with no prefix before it too");
	is_str(NAMED("bedrock/us-gov-east-1/us-gov.anthropic.claude-x-v1:0"),
	    "bedrock/us-gov-east-1/anthropic.claude-x-v1:0", "  and in a region with prices of its own, the region's");
	is_str(NAMED("eu.model-y"), "", "a geo-like prefix before a name that is not vendor.model stays");
#undef NAMED
	free(t);
	pricemap_builder_free(b);

	/* The output limit a translation to Anthropic needs (max_output_tokens, else max_tokens). */
	b = pricemap_builder_new();
	ok(load_json(b, "limits.json", "{\"a\": {\"max_output_tokens\": 64000, \"max_tokens\": 8192, "
	    "\"input_cost_per_token\": 1e-6}, \"b\": {\"max_tokens\": 4096}, \"c\": {\"max_output_tokens\": "
	    "\"lots\"}, \"d\": {\"base_model\": \"a\", \"input_cost_per_token\": 2e-6}}", err, sizeof(err)) == 0,
	    "limits load: %s", err);
	t = pricemap_compile(b);
	e = price_lookup(t, "a", 1);
	ok(e && e->max_output == 64000, "max_output_tokens");
	e = price_lookup(t, "b", 1);
	ok(e && e->max_output == 4096, "else max_tokens");
	e = price_lookup(t, "c", 1);
	ok(e && e->max_output == 0, "a limit that is not a number is unknown");
	e = price_lookup(t, "d", 1);
	ok(e && e->max_output == 64000, "inherited from the base_model");
	free(t);
	pricemap_builder_free(b);

	/* supports_native_structured_output: a JSON answer asked as such, not by a forced tool */
	b = pricemap_builder_new();
	ok(load_json(b, "json.json", "{\"n\": {\"supports_native_structured_output\": true}, "
	    "\"f\": {\"supports_native_structured_output\": false}, \"u\": {\"mode\": \"chat\"}, "
	    "\"nb\": {\"base_model\": \"n\", \"input_cost_per_token\": 1e-6}, "
	    "\"fb\": {\"base_model\": \"n\", \"input_cost_per_token\": 1e-6, "
	    "\"supports_native_structured_output\": false}}", err,
	    sizeof(err)) == 0 && pricemap_warnings(b) == NULL, "native JSON flags load, no warning: %s",
	    err);
	t = pricemap_compile(b);
	ok((e = price_lookup(t, "n", 1)) && (e->flags & PRICE_NATIVE_JSON), "true: native JSON");
	ok((e = price_lookup(t, "f", 1)) && !(e->flags & PRICE_NATIVE_JSON), "false: a forced tool");
	ok((e = price_lookup(t, "u", 1)) && !(e->flags & PRICE_NATIVE_JSON), "unsaid: a forced tool");
	ok((e = price_lookup(t, "nb", 2)) && (e->flags & PRICE_NATIVE_JSON), "inherited from the base_model");
	ok((e = price_lookup(t, "fb", 2)) && !(e->flags & PRICE_NATIVE_JSON), "unless the entry says false");
	free(t);
	pricemap_builder_free(b);

	/* Errors name the file, line and column. */
	b = pricemap_builder_new();
	ok(load_json(b, "bad.json", "{\"m\": {\n\"input_cost_per_token\": 1e-6,,}}",
	    err, sizeof(err)) < 0 && strncmp(err, "bad.json:2:", 11) == 0, "malformed JSON: %s", err);
	ok(load_json(b, "arr.json", "[1]", err, sizeof(err)) < 0 &&
	    strncmp(err, "arr.json:1:1:", 13) == 0, "a JSON array is not a price map: %s", err);
	ok(load_yaml(b, "bad.yaml", "m:\n  input_cost_per_token: [1\n", err, sizeof(err)) < 0 &&
	    strncmp(err, "bad.yaml:", 9) == 0, "malformed YAML: %s", err);
	ok(load_yaml(b, "list.yaml", "- a\n- b\n", err, sizeof(err)) < 0 &&
	    strstr(err, "list.yaml:1:") == err, "a YAML list is not a price map: %s", err);
	ok(load_yaml(b, "scalar.yaml", "m: 3\n", err, sizeof(err)) < 0 &&
	    strstr(err, "scalar.yaml:1: model 'm'") == err, "a model must be a mapping: %s", err);
	ok(load_yaml(b, "text.yaml", "m:\n  input_cost_per_token: cheap\n  output_cost_per_token: -1\n",
	    err, sizeof(err)) == 0, "a bad price is not fatal");
	w = pricemap_warnings(b);
	ok(w && strstr(w, "text.yaml:2: model 'm': field 'input_cost_per_token': not a price: 'cheap'"),
	    "but reported with its line");
	ok(w && strstr(w, "text.yaml:3:"), "negative prices are refused too");
	ok(pricemap_load_file(b, "/nonexistent/prices.yaml", err, sizeof(err)) < 0 &&
	    strstr(err, "'/nonexistent/prices.yaml'") && strstr(err, "No such file"),
	    "a missing file: %s", err);
	ok(load_yaml(b, "empty.yaml", "", err, sizeof(err)) == 0, "an empty file adds nothing");
	pricemap_builder_free(b);

	/* Thresholds, tiers and batches parse from the field name. */
	b = pricemap_builder_new();
	load_yaml(b, "names.yaml", "m:\n"
	    "  input_cost_per_token_above_272k_tokens_priority: 5e-6\n"
	    "  output_cost_per_token_batches: 0\n"
	    "  cache_read_input_token_cost_flex: 1e-8\n"
	    "  input_cost_per_token_above_k_tokens: 1\n", err, sizeof(err));
	t = pricemap_compile(b);
	e = price_lookup(t, "m", 1);
	r = e ? rate_of(t, e, PRICE_INPUT, PRICE_TIER_PRIORITY, 272000) : NULL;
	ok(r && r->atto == 5000000000000LL, "threshold and tier together");
	r = e ? price_entry_rates(t, e) : NULL;
	ok(e && e->nrates == 3 && r[1].batch && r[1].atto == 0, "explicit 0 batch price kept");
	w = pricemap_warnings(b);
	ok(w && strstr(w, "'input_cost_per_token_above_k_tokens'"), "a malformed threshold is unknown");
	free(t);
	pricemap_builder_free(b);
	return done_testing();
}
