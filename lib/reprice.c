/*
 * What-if re-pricing (see reprice.h).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cost.h"
#include "pricemap.h"
#include "reconcile.h"
#include "reprice.h"
#include "usage.h"

/* A record's token category i is priced by the cost part of the same place. */
_Static_assert((int)RECORD_TOK_INPUT == (int)COST_INPUT &&
    (int)RECORD_TOK_SEARCH == (int)COST_SEARCH && (int)RECORD_TOK_DURATION_MS == (int)COST_DURATION,
    "token categories and cost parts line up");

static const char *const by_names[REPRICE_BY_COUNT] = {
	"model", "key", "team", "user", "customer"
};

void
reprice_usage_of(const struct record *r, struct usage *u)
{
	int tier = PRICE_TIER_STANDARD;

	memset(u, 0, sizeof(*u));
	u->input = r->tokens[RECORD_TOK_INPUT];
	u->cache_read = r->tokens[RECORD_TOK_CACHE_READ];
	u->cache_write_5m = r->tokens[RECORD_TOK_CACHE_WRITE_5M];
	u->cache_write_1h = r->tokens[RECORD_TOK_CACHE_WRITE_1H];
	u->output = r->tokens[RECORD_TOK_OUTPUT];
	u->reasoning = r->tokens[RECORD_TOK_REASONING];
	u->audio_in = r->tokens[RECORD_TOK_AUDIO_IN];
	u->audio_out = r->tokens[RECORD_TOK_AUDIO_OUT];
	u->image_in = r->tokens[RECORD_TOK_IMAGE_IN];
	u->image_out = r->tokens[RECORD_TOK_IMAGE_OUT];
	u->tool_prompt = r->tokens[RECORD_TOK_TOOL_PROMPT];
	u->search_queries = r->tokens[RECORD_TOK_SEARCH];
	/* -1: no duration, which a per-second price must not take for zero seconds */
	u->duration_ms = r->tokens[RECORD_TOK_DURATION_MS] > 0 ?
	    r->tokens[RECORD_TOK_DURATION_MS] : -1;
	u->tier_known = 1;
	price_tier_from_name(r->tier, &tier);
	u->tier = (uint8_t)tier;
}

const char *
reprice_by_name(enum reprice_by by)
{
	return by < REPRICE_BY_COUNT ? by_names[by] : NULL;
}

int
reprice_by_from_name(const char *s, enum reprice_by *by)
{
	int i;

	for (i = 0; i < REPRICE_BY_COUNT; i++)
		if (strcmp(s, by_names[i]) == 0) {
			*by = (enum reprice_by)i;
			return 0;
		}
	return -1;
}

int
reprice_tier_from_name(const char *s, int *tier, int *batch)
{
	*batch = strcmp(s, "batch") == 0;
	if (*batch) {
		*tier = PRICE_TIER_STANDARD;
		return 0;
	}
	return price_tier_from_name(s, tier);
}

/* The name r is grouped under: by model, the price entry it was priced as, else the model asked for. */
static const char *
group_of(enum reprice_by by, const struct record *r)
{
	switch (by) {
	case REPRICE_BY_KEY:
		return r->key;
	case REPRICE_BY_TEAM:
		return r->team;
	case REPRICE_BY_USER:
		return r->user;
	case REPRICE_BY_CUSTOMER:
		return r->customer;
	default:
		return r->priced_as[0] ? r->priced_as : r->model_requested;
	}
}

static struct reprice_group *
find_or_add(struct reprice *w, const char *name)
{
	struct reprice_group *g;
	size_t i;

	for (i = 0; i < w->ngroups; i++)
		if (strcmp(w->groups[i].name, name) == 0)
			return &w->groups[i];
	if (ARRAY_GROW(w->groups, w->ngroups, w->cap) < 0)
		return NULL;
	g = &w->groups[w->ngroups++];
	memset(g, 0, sizeof(*g));
	buf_copy(g->name, sizeof(g->name), name);
	return g;
}

int
reprice_add(struct reprice *w, const struct record *r)
{
	struct reprice_group *g;
	struct cost_options opt;
	struct usage u;
	struct cost c;
	int i;

	if (w->model != NULL && !reconcile_record_matches(r, w->model))
		return 0;
	if ((g = find_or_add(w, group_of(w->by, r))) == NULL)
		return -1;
	g->recorded += r->total;
	/* an adjustment re-rates a request already here: its usage is counted once */
	if (r->flags & RECORD_FLAG_ADJUSTMENT)
		return 0;
	g->requests++;
	reprice_usage_of(r, &u);
	if (w->tier >= 0)
		u.tier = (uint8_t)w->tier;
	cost_options_init(&opt);
	opt.batch = w->batch;
	cost_compute(w->table, w->as, &u, &opt, &c);
	g->as += c.total;
	for (i = 0; i < RECORD_TOK_DURATION_MS; i++)
		if (r->tokens[i] > 0 && c.part[i] == 0)
			g->unpriced[i] += r->tokens[i];
	return 0;
}

void
reprice_release(struct reprice *w)
{
	free(w->groups);
	w->groups = NULL;
	w->ngroups = w->cap = 0;
}
