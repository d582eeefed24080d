/*
 * What the processes of tollgated share: the heritage the master hands to
 * each child at fork (everything else is opened after fork), and the entry
 * point of each role.
 */
#ifndef TOLLGATED_H
#define TOLLGATED_H

#include <stdint.h>
#include <sys/types.h>

#include "budget.h"
#include "config.h"
#include "route.h"
#include "tls.h"

/* Handed from the master to its children across fork; read-only there. */
struct heritage {
	int		 listen_fd;
	SSL_CTX		*tls;		/* the listener's TLS context, NULL: plain HTTP */
	int		 metrics_fd;	/* tollgate.metrics_listen's listener, or -1 */
	const char	*config_path;
	struct config	*config;
	struct routes	*routes;
	char		 run_dir[1024];
	char		 ledger_dir[1024];
	uint32_t	 index;		/* this child's number within its role */
	uint64_t	 config_generation;
	pid_t		 master_pid;
	struct budget_store *budgets;	/* shared counters, mapped before fork */
	struct metrics	*metrics;	/* live counters for /metrics, mapped before fork */
	struct status	*status;	/* run_dir/tollgate.status, mapped before fork */
	uint32_t	 slot;		/* this child's slot in it */
};

extern struct heritage heritage;

struct options {
	const char	*config_path;
	const char	*ledger_dir;	/* overrides tollgate.ledger_path */
	const char	*run_dir;	/* overrides tollgate.run_dir */
	const char	*ui_dir;	/* overrides tollgate.ui_dir */
	int		 foreground;
	int		 check_only;
	int		 strict;	/* config warnings are errors */
};

int master_main(const struct options *o);
int worker_main(void);
int accountant_main(void);
int shipper_main(void);
/* The shipper's name as a follower of the ledger's journal: its position there. */
#define SHIPPER_FOLLOWER	"postgres"
/* The accountant's exit status when it fell behind at SCHED_IDLE: start a new one now. */
#define ACCOUNTANT_EXIT_BEHIND	75

/*
 * Loads config, routes, prices and the TLS certificate (*tls NULL when there
 * is none) the way the master does (also for -t).
 */
struct pricemap_builder;
int master_load(const struct options *o, struct config **c, struct routes **r,
    struct price_table **t, SSL_CTX **tls, char *err, size_t errlen);

/*
 * master_counters.c: fills heritage.budgets from the ledger (only_new: only
 * counters that have never counted, for a reload).  0, or -1 with err.
 */
int counters_rebuild(const struct config *c, int only_new, char *err, size_t errlen);

/* accountant_alerts.c */
struct ledger;
struct keys;
void alerts_check_budgets(struct ledger *l, struct keys *ks, const char *host);
void alerts_daily_summary(struct ledger *l, const char *host);

#endif
