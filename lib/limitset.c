/*
 * The counters a request counts against (see limitset.h).  Run by workers on
 * every request and by the master for each record when it rebuilds the
 * counters: a linear pass over the configured budgets, which are few.
 */
#include <stdio.h>
#include <string.h>

#include "limitset.h"

const struct window limitset_minute = { WINDOW_SECONDS, 60 };

_Static_assert(CONFIG_COUNTER_MAX == BUDGET_ID_MAX, "a configured budget's counter name fits");

static const char *const kind_names[] = {
	[LIMIT_KEY] = "key", [LIMIT_KEY_MODEL] = "model", [LIMIT_GLOBAL] = "gateway", [LIMIT_USER] = "user",
	[LIMIT_TEAM] = "team", [LIMIT_CUSTOMER] = "customer", [LIMIT_TAG] = "tag",
	[LIMIT_RPM] = "rpm", [LIMIT_TPM] = "tpm",
};

const char *
limitset_kind_name(enum limit_kind kind)
{
	return kind_names[kind];
}

/* "|1d", "|1mo", "|900s", or "" without a window. */
static void
window_suffix(int has_window, const struct window *w, char *out, size_t n)
{
	static const char *const unit[] = { [WINDOW_SECONDS] = "s", [WINDOW_DAYS] = "d",
	    [WINDOW_MONTHS] = "mo" };

	if (!has_window)
		out[0] = '\0';
	else
		snprintf(out, n, "|%lld%s", (long long)w->n, unit[w->unit]);
}

/* prefix, name and window suffix, cut to n - 1 bytes the same way everywhere */
static void
name_counter(const char *prefix, const char *name, int has_window, const struct window *w,
    char *out, size_t n)
{
	char suffix[32];

	window_suffix(has_window, w, suffix, sizeof(suffix));
	snprintf(out, n, "%s%.*s%s", prefix, (int)(n - 1 - strlen(prefix) - strlen(suffix)), name,
	    suffix);
}

void
limitset_budget_id(const struct config_budget *b, char *out, size_t n)
{
	static const char *const prefix[] = {
		[CONFIG_BUDGET_GLOBAL] = "*", [CONFIG_BUDGET_USER] = "u|",
		[CONFIG_BUDGET_TEAM] = "t|", [CONFIG_BUDGET_CUSTOMER] = "c|",
		[CONFIG_BUDGET_TAG] = "g|",
	};

	name_counter(prefix[b->scope], b->name ? b->name : "", b->has_window, &b->window, out, n);
}

void
limitset_key_id(const char *key, int has_window, const struct window *w, char *out, size_t n)
{
	name_counter("k|", key, has_window, w, out, n);
}

void
limitset_model_id(const char *key, const char *model, int has_window, const struct window *w,
    char *out, size_t n)
{
	char name[BUDGET_ID_MAX];

	snprintf(name, sizeof(name), "%.40s|%s", key, model);
	name_counter("km|", name, has_window, w, out, n);
}

int
limitset_describe(const char *id, int has_window, const struct window *w, enum limit_kind *kind,
    char *name, size_t n)
{
	static const struct {
		const char	*prefix;
		enum limit_kind	 kind;
	} prefixes[] = {	/* "km|" before "k|" */
		{ "km|", LIMIT_KEY_MODEL }, { "k|", LIMIT_KEY }, { "*", LIMIT_GLOBAL },
		{ "u|", LIMIT_USER }, { "t|", LIMIT_TEAM }, { "c|", LIMIT_CUSTOMER },
		{ "g|", LIMIT_TAG }, { "rpm|", LIMIT_RPM }, { "tpm|", LIMIT_TPM },
	};
	char suffix[32];
	size_t i, plen, len = strlen(id), slen;

	window_suffix(has_window, w, suffix, sizeof(suffix));
	slen = strlen(suffix);
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		plen = strlen(prefixes[i].prefix);
		if (strncmp(id, prefixes[i].prefix, plen) != 0)
			continue;
		/* the rate limits' ids carry no window suffix: theirs is always the minute */
		if (prefixes[i].kind == LIMIT_RPM || prefixes[i].kind == LIMIT_TPM)
			suffix[slen = 0] = '\0';
		if (len < plen + slen || strcmp(id + len - slen, suffix) != 0)
			return -1;
		*kind = prefixes[i].kind;
		snprintf(name, n, "%.*s", (int)(len - plen - slen), id + plen);
		return 0;
	}
	return -1;
}

void
limitset_window_text(int has_window, const struct window *w, char *out, size_t n)
{
	if (!has_window)
		snprintf(out, n, "%s", "");
	else if (w->unit == WINDOW_DAYS)
		snprintf(out, n, "%lldd", (long long)w->n);
	else if (w->unit == WINDOW_MONTHS)
		snprintf(out, n, "%lldmo", (long long)w->n);
	else if (w->n % 3600 == 0)
		snprintf(out, n, "%lldh", (long long)(w->n / 3600));
	else if (w->n % 60 == 0)
		snprintf(out, n, "%lldm", (long long)(w->n / 60));
	else
		snprintf(out, n, "%llds", (long long)w->n);
}

static struct budget_limit *
add(struct budget_limit *out, struct limitset_entry *what, size_t *n, size_t max,
    enum limit_kind kind, const char *id, const char *name, int64_t limit, int64_t soft)
{
	struct budget_limit *l;

	if (*n == max)
		return NULL;
	l = &out[*n];
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->max = limit;
	what[*n].kind = kind;
	what[*n].soft = soft;
	what[*n].name = name;
	(*n)++;
	return l;
}

/* Whether the comma-separated list holds tag (len bytes). */
static int
has_tag(const char *list, const char *tag, size_t len)
{
	const char *p = list, *q;

	for (; *p; p = *q ? q + 1 : q) {
		q = strchr(p, ',');
		if (q == NULL)
			q = p + strlen(p);
		if ((size_t)(q - p) == len && memcmp(p, tag, len) == 0)
			return 1;
	}
	return 0;
}

/* The configured budget b applies to who. */
static int
applies(const struct config_budget *b, const struct limitset_who *who)
{
	switch (b->scope) {
	case CONFIG_BUDGET_GLOBAL:
		return 1;
	case CONFIG_BUDGET_USER:
		return strcmp(b->name, who->user) == 0;
	case CONFIG_BUDGET_TEAM:
		return strcmp(b->name, who->team) == 0;
	case CONFIG_BUDGET_CUSTOMER:
		return strcmp(b->name, who->customer) == 0;
	case CONFIG_BUDGET_TAG:
		return has_tag(who->tags, b->name, strlen(b->name));
	}
	return 0;
}

size_t
limitset_for(const struct config_tollgate *tg, const struct limitset_who *who,
    const struct limitset_key *k, struct budget_limit *out, struct limitset_entry *what, size_t max)
{
	static const enum limit_kind kind[] = {
		[CONFIG_BUDGET_GLOBAL] = LIMIT_GLOBAL, [CONFIG_BUDGET_USER] = LIMIT_USER,
		[CONFIG_BUDGET_TEAM] = LIMIT_TEAM, [CONFIG_BUDGET_CUSTOMER] = LIMIT_CUSTOMER,
		[CONFIG_BUDGET_TAG] = LIMIT_TAG,
	};
	struct budget_limit *l;
	char id[BUDGET_ID_MAX];
	size_t n = 0, i;

	limitset_key_id(who->key, k && k->has_window, k ? &k->window : NULL, id, sizeof(id));
	if ((l = add(out, what, &n, max, LIMIT_KEY, id, who->key, k ? k->max_budget : BUDGET_NONE,
	    k ? k->soft_budget : BUDGET_NONE)) != NULL && k != NULL && k->has_window) {
		l->has_window = 1;
		l->window = k->window;
	}
	if (k != NULL && k->model_budget != BUDGET_NONE && who->model != NULL && *who->model) {
		limitset_model_id(who->key, who->model, k->model_has_window, &k->model_window, id,
		    sizeof(id));
		if ((l = add(out, what, &n, max, LIMIT_KEY_MODEL, id, who->model, k->model_budget,
		    BUDGET_NONE)) == NULL)
			return max + 1;
		l->has_window = k->model_has_window;
		l->window = k->model_window;
	}
	for (i = 0; k != NULL && i < 2; i++) {
		int64_t per_minute = i == 0 ? k->rpm : k->tpm;

		if (per_minute == BUDGET_NONE)
			continue;
		snprintf(id, sizeof(id), "%s|%s", i == 0 ? "rpm" : "tpm", who->key);
		if ((l = add(out, what, &n, max, i == 0 ? LIMIT_RPM : LIMIT_TPM, id, who->key,
		    per_minute, BUDGET_NONE)) == NULL)
			return max + 1;
		l->has_window = 1;
		l->window = limitset_minute;
	}
	for (i = 0; i < tg->nbudgets; i++) {
		const struct config_budget *b = &tg->budgets[i];

		if (!applies(b, who))
			continue;
		if ((l = add(out, what, &n, max, kind[b->scope], b->counter, b->name ? b->name : "",
		    b->max_budget, b->soft_budget)) == NULL)
			return max + 1;
		l->has_window = b->has_window;
		l->window = b->window;
	}
	return n;
}
