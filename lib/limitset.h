/*
 * Which counters a request counts against: its key's (always: the key's
 * spend is reported on every response), the configured budgets of its user,
 * team, customer, tags and the whole gateway, and its key's rate limits.
 * One rule for the worker's admission and the master's rebuild from the
 * ledger, so the two always name the same counters.
 *
 * Counter names: "k|KEY", "km|KEY|MODEL", "u|USER", "t|TEAM", "c|CUSTOMER",
 * "g|TAG", "*", "rpm|KEY", "tpm|KEY", where KEY is the record's key id
 * ("key:<16 hex>", "master") and MODEL the model requested; a budget with a
 * window adds it ("|1d", "|1mo", "|900s"), so that two budgets of one
 * scope and name but different windows are two counters, and a changed
 * duration starts a counter of its own.  Every process names counters with
 * the functions below: they cut names the same way.
 */
#ifndef TOLLGATE_LIMITSET_H
#define TOLLGATE_LIMITSET_H

#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "config.h"

enum limit_kind {
	LIMIT_KEY,		/* picodollars */
	LIMIT_KEY_MODEL,	/* picodollars: the key's spend on one model */
	LIMIT_GLOBAL, LIMIT_USER, LIMIT_TEAM, LIMIT_CUSTOMER, LIMIT_TAG,	/* picodollars */
	LIMIT_RPM,		/* requests per minute */
	LIMIT_TPM		/* tokens per minute */
};

/* Who made a request; strings may be "" (none).  tags: comma-separated. */
struct limitset_who {
	const char	*key, *user, *team, *customer, *tags;
	const char	*model;		/* requested; NULL or "": no model budget applies */
};

/* The key's own limits: BUDGET_NONE where it has none. */
struct limitset_key {
	int64_t		max_budget, soft_budget;
	int		has_window;
	struct window	window;
	int64_t		rpm, tpm;
	int64_t		model_budget;	/* for who->model; BUDGET_NONE: none */
	int		model_has_window;
	struct window	model_window;
};

/* One counter that applies, with its soft budget (BUDGET_NONE: none) for alerts. */
struct limitset_entry {
	enum limit_kind		kind;
	int64_t			soft;
	const char		*name;	/* the user, team, ... it limits, for messages */
};

/*
 * Fills out[] and what[] (max entries) with the counters that apply to who:
 * the key's first, then its model budget and rate limits, then the
 * configured budgets; k may be NULL (a key without limits of its own).
 * Returns how many, or max + 1 when more would apply than max (the caller
 * refuses rather than drop one).
 */
size_t limitset_for(const struct config_tollgate *tg, const struct limitset_who *who,
    const struct limitset_key *k, struct budget_limit *out, struct limitset_entry *what, size_t max);

/* The counter of a configured budget, of a key, of a key's model budget, into out. */
void limitset_budget_id(const struct config_budget *b, char *out, size_t n);
void limitset_key_id(const char *key, int has_window, const struct window *w, char *out,
    size_t n);
void limitset_model_id(const char *key, const char *model, int has_window,
    const struct window *w, char *out, size_t n);

/* "key", "user", "team", "customer", "tag", "gateway", "rpm", "tpm". */
const char *limitset_kind_name(enum limit_kind kind);

/*
 * The inverse of the counter names above, for tollctl status: what the
 * counter id (whose window is has_window, w) counts, and for whom (name, cut
 * to n - 1 bytes: a user, team, customer or tag; a key id; "key id|model").
 * 0, or -1 when id is no counter name.
 */
int limitset_describe(const char *id, int has_window, const struct window *w,
    enum limit_kind *kind, char *name, size_t n);

/* A window as a person writes it: "1d", "1mo", "15m", "1h", "30s"; "" without one. */
void limitset_window_text(int has_window, const struct window *w, char *out, size_t n);

/* The 60-second window of rate limits. */
extern const struct window limitset_minute;

#endif
