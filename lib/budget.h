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
 * The shared-memory store: a shared mapping of nslots counters (0: the
 * default, 65,536), created by the master before fork and used by every child
 * through the inherited mapping.  path names the file to map (made afresh, mode
 * 0640: a file left by an earlier gateway is unlinked first, so its counters
 * are never taken for live ones), so that tollctl status can read the
 * counters; NULL maps anonymous memory.  The creator's close unlinks the file.
 * Returns 0 and *out, or -1 with err.
 */
#define BUDGET_FILE	"tollgate.budgets"	/* within run_dir */
int budget_shm_create(size_t nslots, const char *path, struct budget_store **out, char *err,
    size_t errlen);

/* ---- reading the store's file (tollctl) ------------------------------------- */

/* A counter as it stands in the file. */
struct budget_counter {
	char		id[BUDGET_ID_MAX];
	int		has_window;
	struct window	window;
	int64_t		max;		/* the limit last checked against; BUDGET_NONE: none */
	int64_t		spent;		/* settled, in [window_start, window_end) */
	int64_t		reserved;	/* held by requests in flight */
	int64_t		window_start, window_end;
};

struct budget_file;

/*
 * Maps the store's file read-only: 0 and *out, or -1 with err (missing, not
 * a budget store, another layout version).  *owner: the pid that made it.
 * Readers never take the workers' lock (a status display must not slow
 * admission): a counter is copied until two copies agree, so each value is
 * whole, but one read while a worker is inside a settle may show it half done
 * (the reservation released, the spend not yet added) for that instant.
 */
int budget_file_open(const char *path, struct budget_file **out, int64_t *owner, char *err,
    size_t errlen);
/* Calls cb for every counter in use, in table order, until it returns nonzero (returned). */
int budget_file_each(const struct budget_file *f,
    int (*cb)(void *arg, const struct budget_counter *c), void *arg);
void budget_file_close(struct budget_file *f);

#endif
