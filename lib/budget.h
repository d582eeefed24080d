/*
 * Budget and rate-limit counters, behind a small store interface so that a
 * later store can share them across gateway hosts; the shared-memory store
 * here is the single-host default.
 *
 * A counter is named by a string ("key:...", "team:...", "rpm:key:...") and
 * counts within a window (lib/window.h; a budget without a duration has one
 * window for ever).  Workers admit a request by reserving its largest
 * possible cost against every counter that applies, all or none, under one
 * lock, so concurrent requests cannot together pass a limit; when the
 * request's record is written the reservation is settled to the actual
 * cost.  The master creates the store before it forks (the mapping crosses
 * fork), and fills it from the ledger's records at start.
 *
 * Amounts are integers: picodollars for budgets, requests or tokens for rate
 * limits.
 */
#ifndef TOLLGATE_BUDGET_H
#define TOLLGATE_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "window.h"

#define BUDGET_ID_MAX		120	/* counter names are cut to this, NUL included */
#define BUDGET_HOLD_MAX		16	/* counters one request may touch */
#define BUDGET_NONE		INT64_MAX	/* no limit */

/* One limit to check at admission. */
struct budget_limit {
	char		 id[BUDGET_ID_MAX];
	int64_t		 max;		/* BUDGET_NONE: counted, never refused */
	int		 has_window;	/* 0: one window for ever */
	struct window	 window;
};

/* What admission reserved: handed back to settle. */
struct budget_hold {
	size_t		n;
	uint32_t	slot[BUDGET_HOLD_MAX];
	int64_t		amount[BUDGET_HOLD_MAX];
};

/* Why admission refused: the first limit that would be passed. */
struct budget_refusal {
	size_t		index;		/* into the limits given */
	int64_t		used;		/* spent plus reserved, in the window */
	int64_t		max;
	int64_t		window_end;	/* when it starts again (INT64_MAX: never) */
};

/* A counter as it stands. */
struct budget_reading {
	int64_t		spent;		/* settled */
	int64_t		reserved;	/* held by requests in flight */
	int64_t		window_start, window_end;
};

struct budget_store;

struct budget_store_ops {
	/*
	 * Reserves amount[i] on limits[i] for every i, or nothing: returns 0
	 * and fills hold, or 1 and fills why (the limit that would be passed),
	 * or -1 when the store is full.
	 */
	int	(*admit)(struct budget_store *s, const struct budget_limit *limits,
		    const int64_t *amount, size_t n, int64_t now_ns, struct budget_hold *hold,
		    struct budget_refusal *why);
	/*
	 * Replaces the reservation hold made on each counter i by actual[i],
	 * spent in the window holding now_ns (a reservation outlives the window
	 * it was made in: the request is still in flight).
	 */
	void	(*settle)(struct budget_store *s, const struct budget_hold *hold,
		    const int64_t *actual, int64_t now_ns);
	/* Adds amount spent at at_ns to the counter of limit (the rebuild); 0 or -1. */
	int	(*add)(struct budget_store *s, const struct budget_limit *limit, int64_t amount,
		    int64_t at_ns, int64_t now_ns);
	/* The counter named id now, in the window it last counted in; 0, or 1 when none. */
	int	(*read)(struct budget_store *s, const char *id, int64_t now_ns,
		    struct budget_reading *out);
	void	(*close)(struct budget_store *s);
};

struct budget_store {
	const struct budget_store_ops	*ops;
};

/*
 * The shared-memory store: an anonymous shared mapping of nslots counters
 * (0: the default, 65,536), created by the master before fork and used by
 * every child through the inherited mapping.  Returns 0 and *out, or -1 with
 * err.
 */
int budget_shm_create(size_t nslots, struct budget_store **out, char *err, size_t errlen);

#endif
