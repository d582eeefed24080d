/*
 * The running gateway's live status, for tollctl status: one file,
 * run_dir/tollgate.status, mapped MAP_SHARED.  The master makes it afresh at
 * every start (after it gave up root, mode 0640: the tollgate group reads it,
 * nobody else), and its children inherit the mapping across fork.
 *
 * Who writes what:
 *   the master   the header, and each child's identity (role, pid,
 *                generation, start) in the slot it gives the child, under the
 *                slot's sequence counter (odd while it writes);
 *   a child      only its own slot's live counters (connections, requests in
 *                flight and served, the accountant's lag).  One writer per
 *                counter: relaxed loads and stores, which are plain moves on
 *                x86-64 and arm64, so the request path gains no locked
 *                instruction and no system call.
 * Readers (tollctl) never lock: they copy a slot and retry while its sequence
 * counter is odd or has moved.  A clean stop unlinks the file; a gateway that
 * died leaves it with its master's pid, which a reader checks.
 */
#ifndef TOLLGATE_STATUS_H
#define TOLLGATE_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "router.h"

#define STATUS_FILE	"tollgate.status"
#define STATUS_MAGIC	0x74677374u	/* "tgst" */
#define STATUS_VERSION	2u	/* 2: the deployments' slots */
#define STATUS_SLOTS	1024		/* the master's children at most */
#define STATUS_TZ_MAX	64

enum status_role { STATUS_FREE, STATUS_WORKER, STATUS_ACCOUNTANT, STATUS_SHIPPER };
enum status_state { STATUS_SERVING, STATUS_DRAINING };

struct status_slot {
	uint64_t	seq;		/* odd while the master rewrites the identity */
	/* identity: the master's */
	uint32_t	role;		/* enum status_role; STATUS_FREE: unused */
	uint32_t	index;		/* the child's number within its role */
	int64_t		pid;		/* 0 until forked */
	uint64_t	generation;	/* config generation it serves */
	int64_t		started_ns;	/* unix ns */
	/* live: the child's (state also the master's when it retires the child) */
	uint32_t	state;		/* enum status_state */
	uint32_t	down;		/* shipper: 1 while PostgreSQL cannot be reached */
	uint64_t	connections;	/* client connections open */
	uint64_t	in_flight;	/* requests being answered */
	uint64_t	requests;	/* answers sent */
	uint64_t	lag;		/* accountant: records not yet in the aggregates;
					   shipper: not yet in PostgreSQL */
	int64_t		lag_ns;		/* when it measured that; 0: not yet */
} __attribute__((aligned(64)));	/* a cache line or two each: no false sharing */

struct status_header {
	uint32_t	magic;
	uint32_t	version;
	uint64_t	size;		/* of the whole file */
	uint32_t	nslots;
	uint32_t	slot_size;
	uint64_t	seq;		/* odd while the master updates the fields below */
	int64_t		master_pid;
	int64_t		started_ns;	/* the master's start, unix ns */
	uint64_t	generation;	/* config generation in force */
	int64_t		generation_ns;	/* since when */
	uint64_t	prices_generation;
	int64_t		prices_ns;	/* when that price table was published */
	uint64_t	prices_load_us;	/* and how long making it took */
	char		timezone[STATUS_TZ_MAX];	/* tollgate.budget_timezone */
};

struct status {
	struct status_header	h;
	struct status_slot	slot[STATUS_SLOTS];
	struct router_slot	dep[ROUTER_SLOTS];	/* the deployments' (lib/router.h) */
};

/*
 * Master: makes run_dir/tollgate.status afresh (a file left by an earlier
 * gateway is unlinked first, so its state is never shown as live; a process
 * still mapping it keeps its own copy).  Returns the mapping, or NULL with err.
 */
struct status *status_create(const char *run_dir, char *err, size_t errlen);
/* Master, at a clean stop: unlinks the file and unmaps it. */
void status_remove(struct status *st, const char *run_dir);

/* Master: header updates, each under the header's sequence counter. */
void status_set_generation(struct status *st, uint64_t generation, const char *timezone);
void status_set_prices(struct status *st, uint64_t generation, int64_t published_ns,
    uint64_t load_us);

/*
 * Master: slot i is a new child's, before it forks (its counters zeroed, pid
 * still 0); status_child_pid() once it has; status_child_gone() when it is
 * reaped.
 */
void status_child_begin(struct status *st, size_t i, enum status_role role, uint32_t index,
    uint64_t generation);
void status_child_pid(struct status *st, size_t i, int64_t pid);
void status_child_gone(struct status *st, size_t i);

/* The child's own counters: one writer, relaxed. */
static inline void
status_store(uint64_t *counter, uint64_t value)
{
	__atomic_store_n(counter, value, __ATOMIC_RELAXED);
}

static inline void
status_count(uint64_t *counter, int64_t delta)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + (uint64_t)delta,
	    __ATOMIC_RELAXED);
}

static inline void
status_set_state(struct status_slot *s, enum status_state state)
{
	__atomic_store_n(&s->state, (uint32_t)state, __ATOMIC_RELAXED);
}

/* The accountant: how far the aggregates are behind the ledger, measured at at_ns. */
static inline void
status_set_lag(struct status_slot *s, uint64_t lag, int64_t at_ns)
{
	__atomic_store_n(&s->lag, lag, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lag_ns, at_ns, __ATOMIC_RELAXED);
}

/* The shipper: whether PostgreSQL is out of reach (for /health/readiness). */
static inline void
status_set_down(struct status_slot *s, int down)
{
	__atomic_store_n(&s->down, (uint32_t)(down != 0), __ATOMIC_RELAXED);
}

/* ---- reading (tollctl) --------------------------------------------------- */

/*
 * Maps run_dir/tollgate.status read-only and checks it is a live gateway's.
 * Returns 0 and *out; -1 with err naming the file and why: missing or not
 * readable, from an incompatible version, or its master is gone (for those
 * two, *why is STATUS_STALE or STATUS_INCOMPATIBLE, else STATUS_UNREADABLE).
 */
enum status_problem { STATUS_UNREADABLE, STATUS_MISSING, STATUS_STALE, STATUS_INCOMPATIBLE };
int status_open(const char *run_dir, const struct status **out, enum status_problem *why,
    char *err, size_t errlen);
void status_close(const struct status *st);

/*
 * Consistent copies: of the header (its timezone terminated, whatever the
 * file holds), and of slot i (0, or 1 when it is free).
 */
void status_read_header(const struct status *st, struct status_header *out);
int status_read_slot(const struct status *st, size_t i, struct status_slot *out);

#endif
