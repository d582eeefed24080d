/*
 * The counters a request counts against (see limitset.h).  Run by workers on
 * every request and by the master for each record when it rebuilds the
 * counters: a linear pass over the configured budgets, which are few.
 */
#include <stdio.h>
#include <string.h>

#include "limitset.h"

const struct window limitset_minute = { WINDOW_SECONDS, 60 };

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

static struct budget_limit *
add(struct budget_limit *out, struct limitset_entry *what, size_t *n, size_t max,
    enum limit_kind kind, const char *prefix, const char *name, int64_t limit, int64_t soft)
{
	struct budget_limit *l;

	if (*n == max)
		return NULL;
	l = &out[*n];
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "%s%s", prefix, name);
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
	static const char *const prefix[] = {
		[CONFIG_BUDGET_GLOBAL] = "*", [CONFIG_BUDGET_USER] = "u|",
		[CONFIG_BUDGET_TEAM] = "t|", [CONFIG_BUDGET_CUSTOMER] = "c|",
		[CONFIG_BUDGET_TAG] = "g|",
	};
	static const enum limit_kind kind[] = {
		[CONFIG_BUDGET_GLOBAL] = LIMIT_GLOBAL, [CONFIG_BUDGET_USER] = LIMIT_USER,
		[CONFIG_BUDGET_TEAM] = LIMIT_TEAM, [CONFIG_BUDGET_CUSTOMER] = LIMIT_CUSTOMER,
		[CONFIG_BUDGET_TAG] = LIMIT_TAG,
	};
	struct budget_limit *l;
	size_t n = 0, i;

	l = add(out, what, &n, max, LIMIT_KEY, "k|", who->key,
	    k ? k->max_budget : BUDGET_NONE, k ? k->soft_budget : BUDGET_NONE);
	if (l != NULL && k != NULL && k->has_window) {
		l->has_window = 1;
		l->window = k->window;
	}
	if (k != NULL && k->model_budget != BUDGET_NONE && who->model != NULL && *who->model &&
	    n < max) {
		l = &out[n];
		memset(l, 0, sizeof(*l));
		snprintf(l->id, sizeof(l->id), "km|%s|%s", who->key, who->model);
		l->max = k->model_budget;
		l->has_window = k->model_has_window;
		l->window = k->model_window;
		what[n].kind = LIMIT_KEY_MODEL;
		what[n].soft = BUDGET_NONE;
		what[n].name = who->model;
		n++;
	}
	for (i = 0; i < tg->nbudgets; i++) {
		const struct config_budget *b = &tg->budgets[i];

		if (!applies(b, who))
			continue;
		l = add(out, what, &n, max, kind[b->scope], prefix[b->scope],
		    b->name ? b->name : "", b->max_budget, b->soft_budget);
		if (l == NULL)
			break;
		l->has_window = b->has_window;
		l->window = b->window;
	}
	if (k != NULL && k->rpm != BUDGET_NONE &&
	    (l = add(out, what, &n, max, LIMIT_RPM, "rpm|", who->key, k->rpm, BUDGET_NONE)) != NULL) {
		l->has_window = 1;
		l->window = limitset_minute;
	}
	if (k != NULL && k->tpm != BUDGET_NONE &&
	    (l = add(out, what, &n, max, LIMIT_TPM, "tpm|", who->key, k->tpm, BUDGET_NONE)) != NULL) {
		l->has_window = 1;
		l->window = limitset_minute;
	}
	return n;
}
