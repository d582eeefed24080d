/*
 * tollctl keys: creates, lists, shows, changes and revokes the virtual keys
 * of a ledger (lib/keys.h).  A running gateway sees a change at its next
 * request with that key: every lookup reads the store afresh.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "clock.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "timeparse.h"
#include "tollctl.h"
#include "window.h"

static const char keys_help[] =
"usage: tollctl keys create [ATTRIBUTES] [--json] [--ledger DIR]\n"
"       tollctl keys list [--all] [--json] [--ledger DIR]\n"
"       tollctl keys info KEY [--json] [--ledger DIR]\n"
"       tollctl keys update KEY ATTRIBUTES [--json] [--ledger DIR]\n"
"       tollctl keys revoke KEY [--ledger DIR]\n"
"\n"
"Virtual keys: the API keys applications use, each with its owner, allowed\n"
"models, budgets and rate limits.  create prints the key's secret once: only\n"
"its SHA-256 (the token) is kept.  KEY is a token (64 hex digits, as list\n"
"shows), an alias, or the secret itself.  list hides revoked keys unless\n"
"--all.  A revoked key stays listed with --all and can never be used again.\n"
"\n"
"Attributes (the LiteLLM /key/generate field in brackets; in update, an\n"
"empty value, or 'none' for numbers and times, removes one):\n"
"  --alias NAME            [key_alias] unique among live keys\n"
"  --user ID               [user_id]\n"
"  --team ID               [team_id]\n"
"  --customer ID           [customer] the end user the key is for\n"
"  --models A,B            [models] the models it may use (default: all)\n"
"  --tags X,Y              [tags] carried into spend reports\n"
"  --max-budget USD        [max_budget] exact decimal (10, 10.50, 0.0001)\n"
"  --soft-budget USD       [soft_budget] at most the max budget\n"
"  --budget-duration D     [budget_duration] the budget starts again every D:\n"
"                          30s, 15m, 1h, 1d, 7d (Monday to Monday), 1mo\n"
"  --rpm N, --tpm N        [rpm_limit, tpm_limit] requests, tokens per minute\n"
"  --expires T             [expires] RFC 3339 (2026-12-31, 2026-12-31T18:00:00Z)\n"
"  --duration D            [duration] expires D from now (30d, 12h, 1mo)\n"
"  --metadata JSON         [metadata] a JSON object kept with the key\n"
"  --model-budget M=USD[/D] [model_max_budget] a budget of the key's spend on\n"
"                          model M, starting again every D; repeat for several\n"
"                          ('none' in update removes them all)\n"
"\n"
"  --json          print LiteLLM /key/generate response objects, one a line\n"
"  --ledger DIR    the ledger directory (default: $TOLLGATE_LEDGER, else\n"
"                  " TOLLGATE_LEDGER ")\n"
"Exit status: 0 done; 1 bad arguments, no such key, or an unusable ledger.\n";

enum sub { SUB_CREATE, SUB_LIST, SUB_INFO, SUB_UPDATE, SUB_REVOKE };

static const char *const sub_names[] = { "create", "list", "info", "update", "revoke" };

/* Options: the attributes first, so that ch < O_JSON says an option is one. */
enum opt {
	O_ALIAS = 256, O_USER, O_TEAM, O_CUSTOMER, O_MODELS, O_TAGS, O_MAX_BUDGET,
	O_SOFT_BUDGET, O_BUDGET_DURATION, O_RPM, O_TPM, O_EXPIRES, O_DURATION, O_METADATA,
	O_MODEL_BUDGET, O_JSON, O_ALL, O_LEDGER, O_HELP,
};

struct keys_cli {
	enum sub		 sub;
	struct keys_attrs	 a;
	char			*lists[2];	/* the split copies of --models and --tags */
	size_t			 capmb;		/* of a.model_budgets: the --model-budget values */
	int			 json, all;
	const char		*dir;
	int64_t			 now_ns;
};

/* Splits a,b,c into a->models or a->tags over a copy of s; "" is an empty list. */
static int
split_list(struct keys_cli *c, int tags, const char *opt, const char *s)
{
	const char ***v = tags ? &c->a.tags : &c->a.models;
	size_t *n = tags ? &c->a.ntags : &c->a.nmodels, cap = 0;
	char *copy, *p, *comma;

	free(c->lists[tags]);
	free((void *)*v);
	*v = NULL;
	*n = 0;
	if ((copy = c->lists[tags] = strdup(s)) == NULL) {
		log_error("%s: out of memory", opt);
		return -1;
	}
	if (*s == '\0')
		return 0;
	for (p = copy;; p = comma + 1) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		if (*p == '\0') {
			log_error("%s: an empty name in '%s'", opt, s);
			return -1;
		}
		if (buf_grow_array((void **)v, &cap, *n, sizeof(**v)) < 0) {
			log_error("%s: out of memory", opt);
			return -1;
		}
		(*v)[(*n)++] = p;
		if (comma == NULL)
			return 0;
	}
}

static int
is_none(const char *s)
{
	return *s == '\0' || strcmp(s, "none") == 0;
}

/* One attribute option into c->a; 0, or -1 after saying why. */
static int
attribute(struct keys_cli *c, int ch, const char *name, const char *arg)
{
	char why[256];
	struct window w;

	switch (ch) {
	case O_ALIAS:
		c->a.alias = arg;
		c->a.set |= KEYS_F_ALIAS;
		return 0;
	case O_USER:
		c->a.user_id = arg;
		c->a.set |= KEYS_F_USER;
		return 0;
	case O_TEAM:
		c->a.team_id = arg;
		c->a.set |= KEYS_F_TEAM;
		return 0;
	case O_CUSTOMER:
		c->a.customer = arg;
		c->a.set |= KEYS_F_CUSTOMER;
		return 0;
	case O_MODELS:
	case O_TAGS:
		c->a.set |= ch == O_MODELS ? KEYS_F_MODELS : KEYS_F_TAGS;
		return split_list(c, ch == O_TAGS, name, arg);
	case O_MAX_BUDGET:
	case O_SOFT_BUDGET: {
		int64_t *v = ch == O_MAX_BUDGET ? &c->a.max_budget : &c->a.soft_budget;

		c->a.set |= ch == O_MAX_BUDGET ? KEYS_F_MAX_BUDGET : KEYS_F_SOFT_BUDGET;
		if (is_none(arg))
			*v = KEYS_UNSET;
		else if (keys_parse_money(arg, strlen(arg), v, why, sizeof(why)) < 0)
			goto bad;
		return 0;
	}
	case O_BUDGET_DURATION:
		c->a.set |= KEYS_F_BUDGET_DURATION;
		c->a.budget_duration = strcmp(arg, "none") == 0 ? NULL : arg;
		if (c->a.budget_duration && *arg && window_parse(arg, &w, why, sizeof(why)) < 0)
			goto bad;
		return 0;
	case O_RPM:
	case O_TPM: {
		int64_t *v = ch == O_RPM ? &c->a.rpm_limit : &c->a.tpm_limit;

		c->a.set |= ch == O_RPM ? KEYS_F_RPM : KEYS_F_TPM;
		if (is_none(arg))
			*v = KEYS_UNSET;
		else if (keys_parse_count(arg, strlen(arg), v, why, sizeof(why)) < 0)
			goto bad;
		return 0;
	}
	case O_EXPIRES:
	case O_DURATION:
		if (c->a.set & KEYS_F_EXPIRES) {
			log_error("--expires, --duration: give one of them, once");
			return -1;
		}
		c->a.set |= KEYS_F_EXPIRES;
		if (is_none(arg) || strcmp(arg, "never") == 0)
			c->a.expires_ns = KEYS_UNSET;
		else if (ch == O_DURATION) {
			if (window_parse(arg, &w, why, sizeof(why)) < 0)
				goto bad;
			c->a.expires_ns = window_advance(&w, c->now_ns);
		} else if (strlen(arg) < 10 || arg[4] != '-' ||
		    time_parse(arg, c->now_ns, &c->a.expires_ns, why, sizeof(why)) < 0) {
			/* time_parse()'s relative forms count backwards: dates only */
			snprintf(why, sizeof(why), "'%s' is not an RFC 3339 date or time "
			    "(2026-12-31, 2026-12-31T18:00:00Z; --duration 30d counts from now)", arg);
			goto bad;
		}
		return 0;
	case O_METADATA:
		c->a.metadata = arg;
		c->a.set |= KEYS_F_METADATA;
		return 0;
	case O_MODEL_BUDGET:
		c->a.set |= KEYS_F_MODEL_BUDGETS;
		if (is_none(arg)) {
			c->a.nmodel_budgets = 0;
			return 0;
		}
		if (buf_grow_array((void **)&c->a.model_budgets, &c->capmb, c->a.nmodel_budgets,
		    sizeof(*c->a.model_budgets)) < 0) {
			log_error("%s: out of memory", name);
			return -1;
		}
		c->a.model_budgets[c->a.nmodel_budgets++] = arg;
		return 0;
	}
	return -1;
bad:
	log_error("%s: %s", name, why);
	return -1;
}

static int
parse_args(struct keys_cli *c, int argc, char **argv, const char **ref)
{
	static const struct option opts[] = {
		{ "alias", required_argument, NULL, O_ALIAS },
		{ "user", required_argument, NULL, O_USER },
		{ "team", required_argument, NULL, O_TEAM },
		{ "customer", required_argument, NULL, O_CUSTOMER },
		{ "models", required_argument, NULL, O_MODELS },
		{ "tags", required_argument, NULL, O_TAGS },
		{ "max-budget", required_argument, NULL, O_MAX_BUDGET },
		{ "soft-budget", required_argument, NULL, O_SOFT_BUDGET },
		{ "budget-duration", required_argument, NULL, O_BUDGET_DURATION },
		{ "rpm", required_argument, NULL, O_RPM },
		{ "tpm", required_argument, NULL, O_TPM },
		{ "expires", required_argument, NULL, O_EXPIRES },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "metadata", required_argument, NULL, O_METADATA },
		{ "model-budget", required_argument, NULL, O_MODEL_BUDGET },
		{ "json", no_argument, NULL, O_JSON },
		{ "all", no_argument, NULL, O_ALL },
		{ "ledger", required_argument, NULL, O_LEDGER },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const int takes_attrs = c->sub == SUB_CREATE || c->sub == SUB_UPDATE;
	const int takes_ref = c->sub == SUB_INFO || c->sub == SUB_UPDATE || c->sub == SUB_REVOKE;
	char name[40];
	int ch, idx;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		if (ch == 'h' || ch == O_HELP) {
			fputs(keys_help, stdout);
			return 1;
		}
		if (ch == '?') {
			fputs(keys_help, stderr);
			return -1;
		}
		snprintf(name, sizeof(name), "--%s", opts[idx].name);
		if ((ch < O_JSON && !takes_attrs) || (ch == O_JSON && c->sub == SUB_REVOKE) ||
		    (ch == O_ALL && c->sub != SUB_LIST)) {
			log_error("%s does not apply to 'tollctl keys %s'", name, sub_names[c->sub]);
			return -1;
		}
		if (ch == O_JSON)
			c->json = 1;
		else if (ch == O_ALL)
			c->all = 1;
		else if (ch == O_LEDGER)
			c->dir = optarg;
		else if (attribute(c, ch, name, optarg) < 0)
			return -1;
	}
	if (takes_ref) {
		if (optind >= argc) {
			log_error("'tollctl keys %s' needs a KEY: a token, an alias or a secret",
			    sub_names[c->sub]);
			return -1;
		}
		*ref = argv[optind++];
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl keys --help')", argv[optind]);
		return -1;
	}
	if (c->sub == SUB_UPDATE && c->a.set == 0) {
		log_error("'tollctl keys update' needs an attribute to change (try 'tollctl keys "
		    "--help')");
		return -1;
	}
	return 0;
}

/* --- output ------------------------------------------------------------------ */

static void
row(struct buf *o, const char *name, const char *value)
{
	buf_printf(o, "%-16s %s\n", name, value && *value ? value : "-");
}

static void
row_list(struct buf *o, const char *name, const char *const *v, size_t n, const char *empty)
{
	size_t i;

	buf_printf(o, "%-16s ", name);
	for (i = 0; i < n; i++)
		buf_printf(o, "%s%s", i ? ", " : "", v[i]);
	buf_printf(o, "%s\n", n ? "" : empty);
}

static void
row_money(struct buf *o, const char *name, int64_t v)
{
	char m[MONEY_FORMAT_MAX];

	if (v == KEYS_UNSET)
		row(o, name, "none");
	else
		buf_printf(o, "%-16s %s USD\n", name, money_format(v, MONEY_COST_SCALE, m));
}

static void
row_time(struct buf *o, const char *name, int64_t ns, const char *none)
{
	char t[48];

	row(o, name, ns == KEYS_UNSET ? none : time_format(ns, t, sizeof(t)));
}

static void
print_key(struct buf *o, const struct keys_key *k, const char *secret, int64_t now_ns)
{
	const struct keys_attrs *a = &k->a;
	char hex[KEYS_HEX_LEN + 1], n[32];

	keys_hash_hex(k->hash, hex);
	if (secret)
		row(o, "key", secret);
	row(o, "token", hex);
	row(o, "key_name", k->hint);
	row(o, "status", keys_state_name(keys_state(k, now_ns)));
	row(o, "key_alias", a->alias);
	row(o, "user_id", a->user_id);
	row(o, "team_id", a->team_id);
	row(o, "customer", a->customer);
	row_list(o, "models", a->models, a->nmodels, "all");
	row_list(o, "tags", a->tags, a->ntags, "-");
	row_list(o, "model_max_budget", a->model_budgets, a->nmodel_budgets, "-");
	row_money(o, "max_budget", a->max_budget);
	row_money(o, "soft_budget", a->soft_budget);
	row(o, "budget_duration", a->budget_duration ? a->budget_duration : "never resets");
	snprintf(n, sizeof(n), "%lld", (long long)a->rpm_limit);
	row(o, "rpm_limit", a->rpm_limit == KEYS_UNSET ? "none" : n);
	snprintf(n, sizeof(n), "%lld", (long long)a->tpm_limit);
	row(o, "tpm_limit", a->tpm_limit == KEYS_UNSET ? "none" : n);
	row_time(o, "expires", a->expires_ns, "never");
	row(o, "metadata", a->metadata);
	row_time(o, "created_at", k->created_ns, "-");
	row_time(o, "updated_at", k->updated_ns, "-");
	row_time(o, "revoked_at", k->revoked ? k->revoked_ns : KEYS_UNSET, "-");
}

/* Prints k as --json asked; 0, or -1 after saying why. */
static int
show(const struct keys_cli *c, const struct keys_key *k, const char *secret)
{
	struct buf o = { 0 };
	int rc = -1;

	if (c->json && (keys_to_json(k, secret, &o) < 0 || buf_append(&o, "\n", 1) < 0))
		log_error("out of memory");
	else {
		if (!c->json)
			print_key(&o, k, secret, c->now_ns);
		if (o.len && fwrite(o.data, 1, o.len, stdout) != o.len)
			log_error("cannot print the key: %s", strerror(errno));
		else
			rc = 0;
	}
	buf_release(&o);
	return rc;
}

#define LIST_FORMAT	"%-64s  %-15s  %-7s  %-16s  %-12s  %-12s  %s%s%s\n"

struct listing {
	const struct keys_cli	*c;
	struct buf		 o;
	int			 oom;
};

static int
list_one(void *arg, const struct keys_key *k)
{
	struct listing *ls = arg;
	enum keys_state st = keys_state(k, ls->c->now_ns);
	char hex[KEYS_HEX_LEN + 1], m[MONEY_FORMAT_MAX];

	if (st == KEYS_REVOKED && !ls->c->all)
		return 0;
	if (ls->c->json) {
		if (keys_to_json(k, NULL, &ls->o) < 0 || buf_append(&ls->o, "\n", 1) < 0)
			ls->oom = 1;
		return ls->oom;
	}
	keys_hash_hex(k->hash, hex);
	if (k->a.max_budget == KEYS_UNSET)
		snprintf(m, sizeof(m), "-");
	else
		money_format(k->a.max_budget, MONEY_COST_SCALE, m);
	if (buf_printf(&ls->o, LIST_FORMAT, hex, k->hint, keys_state_name(st),
	    k->a.alias ? k->a.alias : "-", k->a.user_id ? k->a.user_id : "-",
	    k->a.team_id ? k->a.team_id : "-", m,
	    k->a.max_budget != KEYS_UNSET && k->a.budget_duration ? "/" : "",
	    k->a.max_budget != KEYS_UNSET && k->a.budget_duration ? k->a.budget_duration : "") < 0)
		ls->oom = 1;
	return ls->oom;
}

/* --- the subcommands ------------------------------------------------------ */

/*
 * Logs a message of lib/keys, which names attributes as JSON does
 * ("key_alias: ..."), with the option instead ("--alias: ...").
 */
static void
log_keys_error(const char *prefix, const char *err)
{
	static const char *const names[][2] = {
		{ "key_alias", "--alias" }, { "user_id", "--user" }, { "team_id", "--team" },
		{ "customer", "--customer" }, { "models", "--models" }, { "tags", "--tags" },
		{ "max_budget", "--max-budget" }, { "soft_budget", "--soft-budget" },
		{ "budget_duration", "--budget-duration" }, { "rpm_limit", "--rpm" },
		{ "tpm_limit", "--tpm" }, { "metadata", "--metadata" },
	};
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i][0]);
		if (strncmp(err, names[i][0], n) == 0 && err[n] == ':') {
			log_error("%s%s%s", prefix, names[i][1], err + n);
			return;
		}
	}
	log_error("%s%s", prefix, err);
}

/* Whether dir holds a ledger; says why not. */
static int
ledger_exists(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &st) == 0)
		return 1;
	log_error("cannot open ledger '%s': %s", dir, errno == ENOENT ? "no ledger there" :
	    strerror(errno));
	return 0;
}

/* The key ref names, into k; 0, or -1 after saying why. */
static int
find(struct keys *ks, const struct keys_cli *c, const char *ref, struct keys_key *k)
{
	char err[PATH_MAX + 256];
	int rc = keys_get(ks, ref, k, err, sizeof(err));

	if (rc == 1)
		log_error("no key '%s' in ledger '%s' (a token, an alias or a secret)", ref, c->dir);
	else if (rc < 0)
		log_error("%s", err);
	return rc == 0 ? 0 : -1;
}

static int
run(struct keys_cli *c, const char *ref)
{
	char secret[KEYS_SECRET_LEN + 1], err[PATH_MAX + 256], t[48], prefix[64];
	const int write = c->sub == SUB_CREATE || c->sub == SUB_UPDATE || c->sub == SUB_REVOKE;
	struct listing ls = { .c = c };
	struct keys_key k = { 0 };
	struct ledger *l = NULL;
	struct keys *ks = NULL;
	int rc = -1;

	/* a wrong attribute is reported before anything is opened */
	if (c->sub == SUB_CREATE && keys_check_attrs(&c->a, err, sizeof(err)) < 0) {
		log_keys_error("", err);
		return -1;
	}
	if (c->sub != SUB_CREATE && !ledger_exists(c->dir))
		return -1;
	if (ledger_open(c->dir, write ? LEDGER_WRITE : LEDGER_READ, 0, 0, &l, err,
	    sizeof(err)) < 0 || keys_open(l, &ks, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	switch (c->sub) {
	case SUB_CREATE:
		if (keys_create(ks, &c->a, c->now_ns, secret, &k, err, sizeof(err)) < 0) {
			log_keys_error("", err);
			break;
		}
		rc = show(c, &k, secret);
		explicit_bzero(secret, sizeof(secret));
		fflush(stdout);
		log_warn("this is the only time the secret is shown: tollgate keeps its SHA-256, "
		    "never the secret");
		break;
	case SUB_LIST:
		if (!c->json)
			buf_printf(&ls.o, LIST_FORMAT, "TOKEN", "KEY_NAME", "STATUS", "ALIAS", "USER",
			    "TEAM", "MAX_BUDGET", "", "");
		if (keys_list(ks, list_one, &ls, err, sizeof(err)) < 0 || ls.oom) {
			log_error("%s", ls.oom ? "out of memory" : err);
			break;
		}
		if (ls.o.len && fwrite(ls.o.data, 1, ls.o.len, stdout) != ls.o.len) {
			log_error("cannot print the keys: %s", strerror(errno));
			break;
		}
		rc = 0;
		break;
	case SUB_INFO:
		if (find(ks, c, ref, &k) == 0)
			rc = show(c, &k, NULL);
		break;
	case SUB_UPDATE:
		if (find(ks, c, ref, &k) < 0)
			break;
		if (keys_update(ks, k.hash, &c->a, c->now_ns, &k, err, sizeof(err)) != 0) {
			snprintf(prefix, sizeof(prefix), "cannot update key %s: ", k.hint);
			log_keys_error(prefix, err);
			break;
		}
		rc = show(c, &k, NULL);
		break;
	case SUB_REVOKE:
		if (find(ks, c, ref, &k) < 0)
			break;
		if (k.revoked) {
			printf("key %s was already revoked at %s\n", k.hint,
			    time_format(k.revoked_ns, t, sizeof(t)));
			rc = 0;
			break;
		}
		if (keys_revoke(ks, k.hash, c->now_ns, err, sizeof(err)) != 0) {
			log_error("cannot revoke key %s: %s", k.hint, err);
			break;
		}
		printf("revoked key %s\n", k.hint);
		rc = 0;
		break;
	}
out:
	keys_key_release(&k);
	buf_release(&ls.o);
	keys_close(ks);
	ledger_close(l);
	return rc;
}

int
keys_main(int argc, char **argv)
{
	struct keys_cli c = { .dir = tollctl_ledger_dir(), .now_ns = clock_now_ns() };
	const char *ref = NULL;
	size_t i;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(keys_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? TOLLCTL_EXIT_ERROR : TOLLCTL_EXIT_OK;
	}
	for (i = 0; i < sizeof(sub_names) / sizeof(sub_names[0]); i++)
		if (strcmp(argv[1], sub_names[i]) == 0)
			break;
	if (i == sizeof(sub_names) / sizeof(sub_names[0])) {
		log_error("unknown keys command '%s' (create, list, info, update or revoke)",
		    argv[1]);
		return TOLLCTL_EXIT_ERROR;
	}
	c.sub = (enum sub)i;
	keys_attrs_init(&c.a);
	rc = parse_args(&c, argc - 1, argv + 1, &ref);
	if (rc == 0)
		rc = run(&c, ref) < 0 ? -1 : 0;
	free(c.lists[0]);
	free(c.lists[1]);
	free((void *)c.a.models);
	free((void *)c.a.tags);
	free((void *)c.a.model_budgets);
	return rc < 0 ? TOLLCTL_EXIT_ERROR : TOLLCTL_EXIT_OK;
}
