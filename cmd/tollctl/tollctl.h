/*
 * tollctl's command families; each lives in its own file and is listed in
 * the table in tollctl.c.
 */
#ifndef TOLLCTL_H
#define TOLLCTL_H

/* Where the packages put things: the build says (GNUmakefile); these stand in otherwise. */
#ifndef TOLLGATE_LEDGER
#define TOLLGATE_LEDGER "/var/lib/tollgate/ledger"
#endif
#ifndef TOLLGATE_CONFIG
#define TOLLGATE_CONFIG "/etc/tollgate/tollgate.yaml"
#endif
#ifndef TOLLGATE_VERSION
#define TOLLGATE_VERSION "unknown"
#endif

/* Exit codes shared by every command. */
#define TOLLCTL_EXIT_OK		0
#define TOLLCTL_EXIT_ERROR	1	/* bad arguments, unreadable or malformed input */
#define TOLLCTL_EXIT_UNPRICED	2	/* output printed, but the model has no price */
#define TOLLCTL_EXIT_BEYOND	3	/* reconcile: a difference beyond the threshold */

int cost_main(int argc, char **argv);
int rerate_main(int argc, char **argv);

/* tollctl -c FILE: the config whose directories the commands use; -1 after logging why. */
int tollctl_use_config(const char *path);

/* The ledger (what --ledger overrides): -c's ledger_path, else $TOLLGATE_LEDGER, else the
 * installed config's, else /var/lib/tollgate/ledger. */
const char *tollctl_ledger_dir(void);
/* The fleet ledger's DSN: $TOLLGATE_POSTGRES_DSN, else the config's tollgate.postgres.dsn; or NULL. */
const char *tollctl_postgres_dsn(void);
/* spend_fleet.c: q's groups from the fleet ledger in PostgreSQL; 0, or -1 with err. */
struct spendq;
int spend_fleet_run(const char *dsn, struct spendq *q, char *err, size_t errlen);

/* The gateway's run directory, found as the ledger is ($TOLLGATE_RUN_DIR). */
const char *tollctl_run_dir(void);

/*
 * Loads and compiles price files in order (later wins; none given: the
 * gateway's default file); NULL after logging why.
 */
struct price_table;
struct price_table *tollctl_load_prices(const char *const *files, int n, int quiet);
/*
 * The price map a command without --prices uses: the installed one (else the
 * build tree's etc/prices.yaml); a string to free, or NULL with the error
 * logged (neither exists, or out of memory).
 */
char *tollctl_default_prices(void);
struct record;
struct usage;
/* The canonical usage a record keeps (its token counts, tier and duration), for re-pricing. */
void tollctl_record_usage(const struct record *r, struct usage *u);
int logs_main(int argc, char **argv);
int stat_main(int argc, char **argv);
int export_main(int argc, char **argv);
int reconcile_main(int argc, char **argv);
int whatif_main(int argc, char **argv);
struct ledger;
struct buf;
/*
 * reconcile --provider-cost (reconcile_cost.c): the report of the records of
 * [since, until) whose provider reported its cost, into o; *any_mismatch set
 * when one was flagged.  0, or -1 (the ledger unreadable, out of memory).
 */
int reconcile_provider_cost(struct ledger *l, int64_t since, int64_t until, const char *model,
    int json, struct buf *o, int *any_mismatch);
int spend_main(int argc, char **argv);
int aggregate_main(int argc, char **argv);
int keys_main(int argc, char **argv);
int alerts_main(int argc, char **argv);
int status_main(int argc, char **argv);
int prices_main(int argc, char **argv);
int prices_show_main(int argc, char **argv);

/* --prices FILE, repeatable: at most TOLLCTL_PRICE_FILES of them. */
#define TOLLCTL_PRICE_FILES	32
/* Adds path to files[*n]; 0, or -1 said (too many). */
int tollctl_add_price_file(const char **files, int *n, const char *path);

/* One rate of an entry, named as the map's field is. */
#define PRICE_FIELD_MAX	192
struct rate_line {
	char	 field[PRICE_FIELD_MAX];
	int64_t	 value;
	int	 scale;		/* MONEY_PRICE_SCALE; MONEY_MULT_SCALE for a multiplier */
	int	 plain;		/* the kind's own rate: no tier, batch, threshold or range */
};

struct rate_lines {
	struct rate_line	*v;
	size_t			 n, cap;
};

struct price_table;
struct price_entry;
/* Every rate e prices with, and its multipliers, sorted by field name, into l (reset); 0 or -1. */
int tollctl_entry_lines(const struct price_table *t, const struct price_entry *e,
    struct rate_lines *l);

#endif
