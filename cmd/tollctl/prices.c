/*
 * tollctl prices: what changes between two price maps (diff), and keeping
 * the community map current (fetch).  fetch downloads LiteLLM's published
 * JSON map with libcurl, loads it with the gateway's own loader, compares
 * it with the installed copy and installs it atomically, refusing a map
 * that would silently unprice or misprice the models the gateway serves.
 * Rates are compared as the compiled table holds them (a base_model's
 * rates included), as exact integers: nothing goes through a double.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "money.h"
#include "pricemap.h"
#include "shm.h"
#include "timeparse.h"
#include "tollctl.h"

/* Where fetch installs the community map: data the gateway reads, not configuration. */
#ifndef TOLLGATE_PRICES_DIR
#define TOLLGATE_PRICES_DIR "/var/lib/tollgate/prices"
#endif
#define PRICES_URL \
	"https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
#define PRICES_NAME		"litellm_model_prices.json"
#define PRICES_MAX_BYTES	(64L << 20)	/* the map is about 2 MB */
#define PRICES_MAX_CONFIGS	16

/* fetch's exit statuses besides 0 (installed) and TOLLCTL_EXIT_ERROR */
#define PRICES_EXIT_UNCHANGED	3	/* the installed map is the published one */
#define PRICES_EXIT_REFUSED	4	/* a suspicious map, left uninstalled */

#define NAMES_SHOWN	5		/* models named in a refusal, then "and N more" */

static const char prices_help[] =
"usage: tollctl prices diff [--json] [--run-dir DIR] OLD NEW\n"
"       tollctl prices show MODEL [--prices FILE]... [--json]\n"
"       tollctl prices fetch [--url URL] [--to DIR] [--force] [--max-drop PCT]\n"
"                            [--max-factor F] [--config FILE] [--in-use FILE]...\n"
"                            [--json]\n"
"\n"
"diff compares two price maps (LiteLLM's JSON format or tollgate's YAML): the\n"
"models added and removed, and for each model in both every rate that changes\n"
"(input, output, cache read and write, reasoning, audio, image, per second,\n"
"per request, per query, each tier, batch and threshold, and the provider\n"
"multipliers), old -> new and the relative change, as exact decimals, and from\n"
"when: a model with effective-dated versions is compared at the start and at\n"
"each version's effective_from in either map, each difference under the date\n"
"it applies from (\"changed: gpt-4o from 2027-01-01T00:00:00Z\").  It prints\n"
"\"no changes\" when there are none.  Exit status: 0; 1 when a map does not\n"
"load (the message names the file, line and column).\n"
"\n"
"OLD or NEW may be \"running\": the price map of the running gateway's current\n"
"generation (the one in --run-dir DIR, default $TOLLGATE_RUN_DIR, else\n"
"/run/tollgate), so that what a reload would change is seen before it is made.\n"
"\n"
"show lists a model's versions, newest first (see tollctl prices show --help).\n"
"\n"
"fetch downloads the community map, loads it as the gateway would, prints its\n"
"diff against the installed copy DIR/" PRICES_NAME " and installs it\n"
"atomically (a temporary file in DIR, fsync, rename, fsync of DIR).  List that\n"
"file in tollgate.price_files before prices.yaml, so that the curated map still\n"
"wins, and reload the gateway.  It refuses a download that fails or does not\n"
"load (truncated, not JSON, no models) whatever the options, and unless --force\n"
"a map that no longer prices more than PCT percent of the models in use, or\n"
"that changes a price of a model in use by more than a factor F either way (a\n"
"price that drops to zero, or a model's plain rate that disappears, is beyond\n"
"any factor).  The models in use are those of the installed map that the\n"
"model_list of the gateway's configuration resolves to (base_model, else\n"
"provider/model); with no readable configuration, every model of the installed\n"
"map.  A refused or failed fetch leaves the installed map untouched.\n"
"\n"
"  --url URL       the map to download, https:// (certificates verified) or\n"
"                  http:// (default: $TOLLGATE_PRICES_URL, else\n"
"                  " PRICES_URL ")\n"
"  --to DIR        where it is installed (default: " TOLLGATE_PRICES_DIR ",\n"
"                  made when missing)\n"
"  --force         install a map that --max-drop or --max-factor refuses\n"
"  --max-drop PCT  the share of the models in use it may stop pricing (default: 5)\n"
"  --max-factor F  how many times higher or lower a price in use may become\n"
"                  (default: 10)\n"
"  --config FILE, --in-use FILE\n"
"                  a gateway configuration whose model_list names the models in\n"
"                  use; repeat for several gateways (default, when it can be read:\n"
"                  " TOLLGATE_CONFIG "; tollctl -c does not apply here)\n"
"  --json          print the diff as one JSON object\n"
"\n"
"Connecting times out after 10 s, the whole download after 120 s.\n"
"Exit status of fetch: 0 installed; 3 the installed map is already the published\n"
"one (nothing written); 4 refused by a check (nothing written); 1 the download\n"
"failed or the map does not load (nothing written), bad arguments, or it could\n"
"not be installed.\n";

/* A rate that differs between two entries; has_old/has_new: present in that map. */
struct rate_change {
	char	 field[PRICE_FIELD_MAX];
	int64_t	 old, new;
	int	 scale;
	int	 plain;
	int	 has_old, has_new;
};

struct model_change {
	const char	*name;		/* in the new table */
	int64_t		 from_s;	/* in force from (unix s), when dated */
	int		 dated;		/* else from the start: every request */
	size_t		 first, n;	/* its changes in prices_diff.changes */
};

struct prices_diff {
	const char		*old_name, *new_name;
	const struct price_table *old, *new;
	const char		**added, **removed;
	size_t			 nadded, capadded, nremoved, capremoved;
	struct model_change	*models;
	size_t			 nmodels, capmodels;
	struct rate_change	*changes;
	size_t			 nchanges, capchanges;
	size_t			 changed, unchanged;	/* models */
};

/* ---- rates of an entry ---------------------------------------------------- */

static const struct price_entry *
table_entries(const struct price_table *t)
{
	return (const struct price_entry *)((const char *)t + t->entries_off);
}

/*
 * Appends to *out the rates that differ between oe (of ot) and ne (of nt),
 * in field order.  Returns how many, or -1 on ENOMEM.
 */
static long
entry_changes(const struct price_table *ot, const struct price_entry *oe,
    const struct price_table *nt, const struct price_entry *ne,
    struct rate_change **out, size_t *n, size_t *cap)
{
	struct rate_lines a = { 0 }, b = { 0 };
	size_t i = 0, j = 0;
	long found = -1;

	if (tollctl_entry_lines(ot, oe, &a) < 0 || tollctl_entry_lines(nt, ne, &b) < 0)
		goto out;
	found = 0;
	while (i < a.n || j < b.n) {
		int c = i == a.n ? 1 : j == b.n ? -1 : strcmp(a.v[i].field, b.v[j].field);
		const struct rate_line *x = c <= 0 ? &a.v[i] : &b.v[j];
		struct rate_change *ch;

		if (c == 0 && a.v[i].value == b.v[j].value) {
			i++;
			j++;
			continue;
		}
		if (ARRAY_GROW(*out, *n, *cap) < 0) {
			found = -1;
			goto out;
		}
		ch = &(*out)[(*n)++];
		memset(ch, 0, sizeof(*ch));
		buf_copy(ch->field, sizeof(ch->field), x->field);
		ch->scale = x->scale;
		ch->plain = x->plain;
		if (c <= 0) {
			ch->has_old = 1;
			ch->old = a.v[i++].value;
		}
		if (c >= 0) {
			ch->has_new = 1;
			ch->new = b.v[j++].value;
		}
		found++;
	}
out:
	free(a.v);
	free(b.v);
	return found;
}

/* ---- the diff of two tables ----------------------------------------------- */

static int
entry_name_cmp(const void *a, const void *b, void *arg)
{
	const struct price_table *t = arg;

	return strcmp(price_str(t, (*(const struct price_entry *const *)a)->name),
	    price_str(t, (*(const struct price_entry *const *)b)->name));
}

/* t's models (their newest versions: t->nmodels) sorted by name, malloc'd; NULL on ENOMEM. */
static const struct price_entry **
sorted_entries(const struct price_table *t)
{
	const struct price_entry **v;
	uint32_t i, n = 0;

	if ((v = calloc(t->nmodels + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < t->nentries && n < t->nmodels; i++)
		if (!(table_entries(t)[i].flags & PRICE_SUPERSEDED))
			v[n++] = &table_entries(t)[i];
	qsort_r(v, n, sizeof(*v), entry_name_cmp, (void *)t);
	return v;
}

static int
push_name(const char ***v, size_t *n, size_t *cap, const char *name)
{
	if (ARRAY_GROW(*v, *n, *cap) < 0)
		return -1;
	(*v)[(*n)++] = name;
	return 0;
}

static void
diff_release(struct prices_diff *d)
{
	free(d->added);
	free(d->removed);
	free(d->models);
	free(d->changes);
	memset(d, 0, sizeof(*d));
}

static int
time_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Where a model's prices may change over time in either map: the start,
 * then each version's effective_from, sorted and once each, into at[]
 * (INT64_MIN standing for the start).  Returns how many, at most max.
 */
static size_t
change_points(const struct price_table *old, const struct price_entry *oe,
    const struct price_table *new, const struct price_entry *ne, int64_t *at, size_t max)
{
	const struct price_entry *v;
	size_t n = 0, i, k;

	at[n++] = INT64_MIN;
	for (v = oe; v != NULL && n < max; v = price_older(old, v))
		if (v->flags & PRICE_DATED)
			at[n++] = v->effective_s;
	for (v = ne; v != NULL && n < max; v = price_older(new, v))
		if (v->flags & PRICE_DATED)
			at[n++] = v->effective_s;
	qsort(at, n, sizeof(*at), time_cmp);
	for (i = k = 0; i < n; i++)
		if (k == 0 || at[k - 1] != at[i])
			at[k++] = at[i];
	return k;
}

/*
 * The changes of one model in both maps, at each point where either map's
 * prices for it may change: the versions in force there compared.  The
 * model's count of changed points, or -1 on ENOMEM.
 */
static long
model_changes(struct prices_diff *d, const struct price_entry *oe, const struct price_entry *ne,
    const char *name)
{
	int64_t at[64];
	size_t n = change_points(d->old, oe, d->new, ne, at, sizeof(at) / sizeof(at[0])), p;
	long changed = 0, k;

	for (p = 0; p < n; p++) {
		size_t first = d->nchanges;
		const struct price_entry *o = price_version_at(d->old, oe, at[p]);
		const struct price_entry *v = price_version_at(d->new, ne, at[p]);

		k = entry_changes(d->old, o, d->new, v, &d->changes, &d->nchanges, &d->capchanges);
		if (k < 0 || (k > 0 && ARRAY_GROW(d->models, d->nmodels, d->capmodels) < 0))
			return -1;
		if (k == 0)
			continue;
		d->models[d->nmodels].name = name;
		d->models[d->nmodels].dated = at[p] != INT64_MIN;
		d->models[d->nmodels].from_s = at[p];
		d->models[d->nmodels].first = first;
		d->models[d->nmodels++].n = (size_t)k;
		changed++;
	}
	return changed;
}

/* Fills d with what changes from old to new; 0, or -1 after logging (ENOMEM). */
static int
diff_tables(struct prices_diff *d, const struct price_table *old, const struct price_table *new)
{
	const struct price_entry **a, **b;
	size_t i = 0, j = 0;
	int rc = -1;

	d->old = old;
	d->new = new;
	a = sorted_entries(old);
	b = sorted_entries(new);
	if (a == NULL || b == NULL)
		goto out;
	while (i < old->nmodels || j < new->nmodels) {
		const char *an = i < old->nmodels ? price_str(old, a[i]->name) : NULL;
		const char *bn = j < new->nmodels ? price_str(new, b[j]->name) : NULL;
		int c = an == NULL ? 1 : bn == NULL ? -1 : strcmp(an, bn);
		long n;

		if (c < 0) {
			if (push_name(&d->removed, &d->nremoved, &d->capremoved, an) < 0)
				goto out;
			i++;
			continue;
		}
		if (c > 0) {
			if (push_name(&d->added, &d->nadded, &d->capadded, bn) < 0)
				goto out;
			j++;
			continue;
		}
		if ((n = model_changes(d, a[i], b[j], bn)) < 0)
			goto out;
		if (n == 0)
			d->unchanged++;
		else
			d->changed++;
		i++;
		j++;
	}
	rc = 0;
out:
	if (rc < 0)
		log_error("out of memory comparing the price maps");
	free(a);
	free(b);
	return rc;
}

/*
 * (new - old) / old in percent (with a '+' when plus and it rises), rounded half to even at two decimals,
 * or at the first of up to 12 that shows a change that small; old > 0.
 */
static const char *
percent_text(int64_t old, int64_t new, int plus, char *buf)
{
	char num[MONEY_FORMAT_MAX];
	money_sum delta = (money_sum)new - old, r = 0, pow = 100;
	int scale;

	for (scale = 2; scale <= 12; scale++, pow *= 10)
		if ((r = money_div_round(delta * 100 * pow, old)) != 0)
			break;
	if (scale > 12)
		scale = 12;
	snprintf(buf, MONEY_FORMAT_MAX + 2, "%s%s", plus && r > 0 ? "+" : "", money_format(r, scale, num));
	return buf;
}

static void
put_value(struct buf *o, int has, int64_t v, int scale)
{
	char num[MONEY_FORMAT_MAX];

	if (has)
		buf_printf(o, "%s", money_format(v, scale, num));
	else
		buf_printf(o, "%s", "none");
}

static void
print_text(const struct prices_diff *d, struct buf *o)
{
	char pct[MONEY_FORMAT_MAX + 2];
	size_t i, k;

	for (i = 0; i < d->nadded; i++)
		buf_printf(o, "added: %s\n", d->added[i]);
	for (i = 0; i < d->nremoved; i++)
		buf_printf(o, "removed: %s\n", d->removed[i]);
	for (i = 0; i < d->nmodels; i++) {
		char from[40];

		buf_printf(o, "changed: %s%s%s\n", d->models[i].name, d->models[i].dated ?
		    " from " : "", d->models[i].dated ?
		    time_format(d->models[i].from_s * 1000000000, from, sizeof(from)) : "");
		for (k = 0; k < d->models[i].n; k++) {
			const struct rate_change *c = &d->changes[d->models[i].first + k];

			buf_printf(o, "  %s: ", c->field);
			put_value(o, c->has_old, c->old, c->scale);
			buf_printf(o, " -> ");
			put_value(o, c->has_new, c->new, c->scale);
			if (!c->has_old)
				buf_printf(o, " (added)\n");
			else if (!c->has_new)
				buf_printf(o, " (removed)\n");
			else if (c->old == 0)
				buf_printf(o, " (from zero)\n");
			else
				buf_printf(o, " (%s%%)\n", percent_text(c->old, c->new, 1, pct));
		}
	}
	if (d->nadded + d->nremoved + d->nmodels == 0)
		buf_printf(o, "no changes (%u models)\n", d->new->nmodels);
	else
		buf_printf(o, "%zu model%s added, %zu removed, %zu changed, %zu unchanged\n",
		    d->nadded, d->nadded == 1 ? "" : "s", d->nremoved, d->changed, d->unchanged);
}

static void
put_json_value(struct buf *o, int has, int64_t v, int scale)
{
	char num[MONEY_FORMAT_MAX];

	buf_printf(o, "%s", has ? money_format(v, scale, num) : "null");
}

static void
put_json_names(struct buf *o, const char *key, const char *const *v, size_t n)
{
	size_t i;

	buf_printf(o, ", \"%s\": [", key);
	for (i = 0; i < n; i++) {
		if (i)
			buf_printf(o, ", ");
		json_write_string(o, v[i]);
	}
	buf_printf(o, "]");
}

static void
print_json(const struct prices_diff *d, struct buf *o)
{
	char pct[MONEY_FORMAT_MAX + 2];
	size_t i, k;

	buf_printf(o, "{\"old\": ");
	json_write_string(o, d->old_name);
	buf_printf(o, ", \"new\": ");
	json_write_string(o, d->new_name);
	buf_printf(o, ", \"old_models\": %u, \"new_models\": %u", d->old->nmodels,
	    d->new->nmodels);
	put_json_names(o, "added", d->added, d->nadded);
	put_json_names(o, "removed", d->removed, d->nremoved);
	buf_printf(o, ", \"changed\": [");
	for (i = 0; i < d->nmodels; i++) {
		char from[40];

		buf_printf(o, "%s{\"model\": ", i ? ", " : "");
		json_write_string(o, d->models[i].name);
		if (d->models[i].dated)
			buf_printf(o, ", \"from\": \"%s\"", time_format(d->models[i].from_s * 1000000000,
			    from, sizeof(from)));
		else
			buf_printf(o, ", \"from\": null");
		buf_printf(o, ", \"rates\": [");
		for (k = 0; k < d->models[i].n; k++) {
			const struct rate_change *c = &d->changes[d->models[i].first + k];

			buf_printf(o, "%s{\"field\": ", k ? ", " : "");
			json_write_string(o, c->field);
			buf_printf(o, ", \"old\": ");
			put_json_value(o, c->has_old, c->old, c->scale);
			buf_printf(o, ", \"new\": ");
			put_json_value(o, c->has_new, c->new, c->scale);
			buf_printf(o, ", \"change_percent\": %s}",
			    c->has_old && c->has_new && c->old != 0 ?
			    percent_text(c->old, c->new, 0, pct) : "null");
		}
		buf_printf(o, "]}");
	}
	buf_printf(o, "], \"unchanged\": %zu}\n", d->unchanged);
}

/* Prints d to standard output; 0, or -1 after logging. */
static int
print_diff(const struct prices_diff *d, int json)
{
	struct buf o = { 0 };
	int rc = 0;

	if (json)
		print_json(d, &o);
	else
		print_text(d, &o);
	if (o.data == NULL || fwrite(o.data, 1, o.len, stdout) != o.len || fflush(stdout) != 0) {
		log_error("cannot print the diff: %s", o.data ? strerror(errno) : "out of memory");
		rc = -1;
	}
	buf_release(&o);
	return rc;
}

/*
 * The running gateway's current price table, copied (a malloc'd table like a
 * loaded one); *name says which generation.  NULL after logging why.
 */
static struct price_table *
running_prices(const char *run_dir, char *name, size_t namelen)
{
	struct price_table *t = NULL;
	struct price_view v = { 0 };
	struct shm *s = NULL;
	char err[512];

	if (shm_attach(run_dir, &s, err, sizeof(err)) < 0 ||
	    shm_map_prices(s, &v, err, sizeof(err)) < 0) {
		log_error("no running gateway's prices in '%s': %s", run_dir, err);
		shm_detach(s);
		return NULL;
	}
	if ((t = malloc(v.size)) == NULL)
		log_error("out of memory");
	else
		memcpy(t, v.table, v.size);
	snprintf(name, namelen, "running (generation %llu)", (unsigned long long)v.generation);
	shm_unmap_prices(&v);
	shm_detach(s);
	return t;
}

/* One side of the diff: a price file, or "running"; NULL after logging why. */
static struct price_table *
diff_side(const char **name, const char *run_dir, char *label, size_t labellen)
{
	if (strcmp(*name, "running") != 0)
		return tollctl_load_prices(name, 1, 1);
	*name = label;
	return running_prices(run_dir, label, labellen);
}

static int
prices_diff_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct price_table *old = NULL, *new = NULL;
	struct prices_diff d = { 0 };
	const char *run_dir = tollctl_run_dir();
	char old_label[64], new_label[64];
	int json = 0, ch, rc = TOLLCTL_EXIT_ERROR;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "jr:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'r':
			run_dir = optarg;
			break;
		case 'h':
			fputs(prices_help, stdout);
			return TOLLCTL_EXIT_OK;
		default:
			fputs(prices_help, stderr);
			return TOLLCTL_EXIT_ERROR;
		}
	}
	if (argc - optind != 2) {
		log_error("prices diff takes two price files, OLD and NEW (try 'tollctl prices --help')");
		return TOLLCTL_EXIT_ERROR;
	}
	d.old_name = argv[optind];
	d.new_name = argv[optind + 1];
	if ((old = diff_side(&d.old_name, run_dir, old_label, sizeof(old_label))) == NULL ||
	    (new = diff_side(&d.new_name, run_dir, new_label, sizeof(new_label))) == NULL)
		goto out;
	if (diff_tables(&d, old, new) == 0 && print_diff(&d, json) == 0)
		rc = TOLLCTL_EXIT_OK;
out:
	diff_release(&d);
	free(old);
	free(new);
	return rc;
}

/* ---- fetch: download -------------------------------------------------------- */

struct download {
	struct buf	 body;
	int		 too_big, oom;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct download *dl = arg;
	size_t len = size * n;

	if (dl->body.len + len > (size_t)PRICES_MAX_BYTES) {
		dl->too_big = 1;
		return 0;
	}
	if (buf_append(&dl->body, p, len) < 0) {
		dl->oom = 1;
		return 0;
	}
	return len;
}

/* Downloads url into dl->body; 0, or -1 with why in err. */
static int
download(const char *url, struct download *dl, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	const char *redirs = strncmp(url, "https://", 8) == 0 ? "https" : "http,https";
	CURLcode cc;
	CURL *h;
	long code = 0;
	int rc = -1;

	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "'%s' is not an https:// or http:// URL", url);
		return -1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot start libcurl");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, redirs);
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, strcmp(redirs, "https") == 0 ?
	    (long)CURLPROTO_HTTPS : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tollctl/" TOLLGATE_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, dl);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (dl->too_big)
		snprintf(err, errlen, "'%s' is larger than %ld MiB: not a price map", url,
		    PRICES_MAX_BYTES >> 20);
	else if (dl->oom)
		snprintf(err, errlen, "out of memory downloading '%s'", url);
	else if (cc != CURLE_OK)
		snprintf(err, errlen, "cannot download '%s': %s", url,
		    cerr[0] ? cerr : curl_easy_strerror(cc));
	else if (code < 200 || code > 299)
		snprintf(err, errlen, "cannot download '%s': the server answered HTTP %ld", url, code);
	else
		rc = 0;
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return rc;
}

/* ---- fetch: models in use --------------------------------------------------- */

/*
 * A model of the installed map that the gateway prices with, and the name it
 * looks it up by; exact: only an entry of that very name stands for it in
 * the new map (every model of the map is in use: no deployment says how it
 * is named, so another entry found by dropping a prefix or a date is no
 * stand-in).
 */
struct in_use {
	const struct price_entry *old;
	char			  lookup[320];
	int			  exact;
};

struct in_uses {
	struct in_use	*v;
	size_t		 n, cap;
};

static int
add_in_use(struct in_uses *u, const struct price_entry *e, const char *lookup, int exact)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		if (u->v[i].old == e)
			return 0;
	if (ARRAY_GROW(u->v, u->n, u->cap) < 0)
		return -1;
	u->v[u->n].old = e;
	u->v[u->n].exact = exact;
	buf_copy(u->v[u->n++].lookup, sizeof(u->v[0].lookup), lookup);
	return 0;
}

/* The entry of new that prices x, or NULL when new no longer prices it. */
static const struct price_entry *
in_use_now(const struct price_table *new, const struct in_use *x)
{
	const struct price_entry *e = price_lookup(new, x->lookup, strlen(x->lookup));

	if (e != NULL && x->exact && strcmp(price_str(new, e->name), x->lookup) != 0)
		return NULL;
	return e;
}

/*
 * The entries c's deployments are priced by in t, as the gateway looks them
 * up: base_model, else provider/model.  A deployment with prices of its own
 * and no base_model does not use the map.
 */
static int
config_in_use(const struct config *c, const struct price_table *t, struct in_uses *u)
{
	const struct price_entry *e;
	char name[320];
	size_t i;

	for (i = 0; i < c->ndeployments; i++) {
		const struct config_deployment *d = &c->deployments[i];

		if (d->base_model != NULL) {
			buf_copy(name, sizeof(name), d->base_model);
		} else if (d->nprices == 0 && d->model != NULL) {
			snprintf(name, sizeof(name), "%s/%s", d->provider, d->model);
		} else
			continue;
		if ((e = price_lookup(t, name, strlen(name))) != NULL && add_in_use(u, e, name, 0) < 0)
			return -1;
	}
	return 0;
}

/* Whether the config reads path among its price_files. */
static int
config_reads(const struct config *c, const char *path)
{
	char *want = realpath(path, NULL), *got;
	size_t i;
	int found = 0;

	for (i = 0; i < c->tollgate.nprice_files && !found; i++) {
		got = realpath(c->tollgate.price_files[i], NULL);
		found = strcmp(got ? got : c->tollgate.price_files[i], want ? want : path) == 0;
		free(got);
	}
	free(want);
	return found;
}

/* ---- fetch: checks ---------------------------------------------------------- */

struct fetch {
	const char	*url, *dir;
	char		 path[PATH_MAX];
	const char	*configs[PRICES_MAX_CONFIGS];
	int		 nconfigs, force, json;
	int64_t		 max_drop;	/* percent, MONEY_MULT_SCALE */
	int64_t		 max_factor;	/* times, MONEY_MULT_SCALE */
	struct config	*loaded[PRICES_MAX_CONFIGS];
	int		 nloaded;
};

/* "a, b, c and 4 more" of the first names into buf. */
static void
name_list(struct buf *o, const char *name, size_t i, size_t total)
{
	if (i < NAMES_SHOWN)
		buf_printf(o, "%s%s", i ? ", " : "", name);
	else if (i == NAMES_SHOWN)
		buf_printf(o, " and %zu more", total - NAMES_SHOWN);
}

/* The models in use that new no longer prices: 1 beyond --max-drop, 0 within, -1 ENOMEM. */
static int
check_drop(const struct fetch *f, const struct in_uses *u, const struct price_table *old,
    const struct price_table *new, struct buf *msg)
{
	char pct[MONEY_FORMAT_MAX], lim[MONEY_FORMAT_MAX];
	struct buf names = { 0 };
	size_t i, dropped = 0, shown = 0;
	unsigned char *gone;
	int beyond;

	if (u->n == 0)
		return 0;
	if ((gone = calloc(u->n, 1)) == NULL)
		return -1;
	for (i = 0; i < u->n; i++)
		if (in_use_now(new, &u->v[i]) == NULL) {
			gone[i] = 1;
			dropped++;
		}
	for (i = 0; i < u->n; i++)
		if (gone[i])
			name_list(&names, price_str(old, u->v[i].old->name), shown++, dropped);
	free(gone);
	if (dropped == 0)
		return 0;
	beyond = (money_sum)dropped * 100 * 1000000 > (money_sum)f->max_drop * (money_sum)u->n;
	buf_printf(msg, "it no longer prices %zu of the %zu models in use (%s%%, %s --max-drop "
	    "%s%%): %s", dropped, u->n,
	    money_format(money_div_round((money_sum)dropped * 10000, (money_sum)u->n), 2, pct),
	    beyond ? "more than" : "within",
	    money_format(f->max_drop, MONEY_MULT_SCALE, lim), names.data ? names.data : "");
	buf_release(&names);
	return msg->data == NULL ? -1 : beyond;
}

/* Whether new/old is beyond factor (MONEY_MULT_SCALE) either way; zero is beyond any. */
static int
beyond_factor(int64_t old, int64_t new, int64_t factor)
{
	money_sum o = old, n = new, scale = 1000000;

	if (old == 0 || new == 0)
		return old != new;
	return n * scale > o * factor || o * scale > n * factor;
}

/* The prices in use that change by more than --max-factor: how many, or -1 on ENOMEM. */
static long
check_factor(const struct fetch *f, const struct in_uses *u, const struct price_table *old,
    const struct price_table *new, struct buf *msg)
{
	struct rate_change *ch = NULL;
	size_t nch = 0, cap = 0, i, k, shown = 0;
	long beyond = 0;
	char a[MONEY_FORMAT_MAX], b[MONEY_FORMAT_MAX], x[MONEY_FORMAT_MAX];

	for (i = 0; i < u->n; i++) {
		const struct price_entry *ne = in_use_now(new, &u->v[i]);

		nch = 0;
		if (ne == NULL)
			continue;	/* dropped: check_drop's */
		if (entry_changes(old, u->v[i].old, new, ne, &ch, &nch, &cap) < 0) {
			free(ch);
			return -1;
		}
		for (k = 0; k < nch; k++) {
			const struct rate_change *c = &ch[k];
			int64_t to = c->has_new ? c->new : 0;

			if (!c->has_old || (!c->has_new && !c->plain) ||
			    !beyond_factor(c->old, to, f->max_factor))
				continue;
			if (shown++ < NAMES_SHOWN) {
				buf_printf(msg, "%s%s %s %s -> %s", beyond ? "; " : "",
				    price_str(old, u->v[i].old->name), c->field,
				    money_format(c->old, c->scale, a),
				    c->has_new ? money_format(to, c->scale, b) : "none");
				if (c->old != 0 && to != 0)
					buf_printf(msg, " (x%s)", money_format(money_div_round(
					    (money_sum)to * 100, c->old), 2, x));
			}
			beyond++;
		}
	}
	free(ch);
	if (beyond > NAMES_SHOWN)
		buf_printf(msg, " and %ld more", beyond - NAMES_SHOWN);
	return msg->data == NULL && beyond ? -1 : beyond;
}

/* ---- fetch: install ---------------------------------------------------------- */

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Replaces f->path with data atomically: a temporary file beside it, written
 * and fsync'd, renamed over it, then the directory fsync'd so that the rename
 * itself survives a crash.  0, or -1 with err; the old file is untouched then.
 */
static int
install_map(const struct fetch *f, const char *data, size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int fd, dfd, saved;

	if (mkdir(f->dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make directory '%s': %s", f->dir, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", f->dir, PRICES_NAME) >= sizeof(tmp)) {
		snprintf(err, errlen, "'%s': the directory's name is too long", f->dir);
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(err, errlen, "cannot create a file in '%s': %s", f->dir, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0644) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp, f->path) < 0) {
		saved = errno;
		goto fail;
	}
	if ((dfd = open(f->dir, O_RDONLY | O_DIRECTORY)) < 0 || fsync(dfd) < 0) {
		snprintf(err, errlen, "'%s' is installed, but the directory '%s' cannot be "
		    "synced: %s", f->path, f->dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
fail:
	snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(saved));
	unlink(tmp);
	return -1;
}

/* ---- fetch ------------------------------------------------------------------- */

/* A decimal option with an optional unit suffix ('%', 'x'), as MONEY_MULT_SCALE. */
static int
parse_amount(const char *opt, const char *s, const char *suffix, int64_t lo, int64_t hi,
    int64_t *out)
{
	size_t n = strlen(s);

	if (n > 0 && strchr(suffix, s[n - 1]) != NULL)
		n--;
	if (n == 0 || money_parse_decimal(s, n, MONEY_MULT_SCALE, 0, out) < 0 ||
	    *out < lo || *out > hi) {
		char a[MONEY_FORMAT_MAX], b[MONEY_FORMAT_MAX];

		log_error("%s: '%s' is not a number from %s to %s", opt, s,
		    money_format(lo, MONEY_MULT_SCALE, a), money_format(hi, MONEY_MULT_SCALE, b));
		return -1;
	}
	return 0;
}

/*
 * The configurations that name the models in use: those given, each an
 * error when it does not load; else the installed one when it can be read.
 * 0, or -1 after logging.
 */
static int
load_configs(struct fetch *f)
{
	char err[1024];
	int i;

	if (f->nconfigs == 0) {
		if (access(TOLLGATE_CONFIG, R_OK) < 0)
			return 0;
		if (config_load(TOLLGATE_CONFIG, &f->loaded[0], err, sizeof(err)) < 0) {
			log_warn("%s; every model of the installed map counts as in use", err);
			f->loaded[0] = NULL;
			return 0;
		}
		f->nloaded = 1;
		return 0;
	}
	for (i = 0; i < f->nconfigs; i++) {
		if (config_load(f->configs[i], &f->loaded[i], err, sizeof(err)) < 0) {
			log_error("%s", err);
			return -1;
		}
		f->nloaded = i + 1;
	}
	return 0;
}

/* new checked against the installed map: 0 to install, PRICES_EXIT_REFUSED, or -1. */
static int
fetch_checks(struct fetch *f, const struct price_table *old, const struct price_table *new)
{
	const struct price_entry **all = NULL;
	struct in_uses u = { 0 };
	struct buf why = { 0 };
	uint32_t i;
	int k, rc = -1, drop;
	long factor;

	for (k = 0; k < f->nloaded; k++)
		if (config_in_use(f->loaded[k], old, &u) < 0)
			goto nomem;
	if (f->nloaded == 0) {
		/* by name, so that a refusal lists them in order */
		if ((all = sorted_entries(old)) == NULL)
			goto nomem;
		for (i = 0; i < old->nmodels; i++)
			if (add_in_use(&u, all[i], price_str(old, all[i]->name), 1) < 0)
				goto nomem;
	}
	if ((drop = check_drop(f, &u, old, new, &why)) < 0)
		goto nomem;
	if (drop == 0 && why.len > 0)
		log_warn("'%s': %s", f->url, why.data);
	if (drop > 0) {
		if (f->force)
			log_warn("--force: installing '%s' although %s", f->url, why.data);
		else
			log_error("refusing '%s': %s; --force installs it anyway", f->url, why.data);
	}
	why.len = 0;
	if ((factor = check_factor(f, &u, old, new, &why)) < 0)
		goto nomem;
	if (factor > 0) {
		char lim[MONEY_FORMAT_MAX];

		money_format(f->max_factor, MONEY_MULT_SCALE, lim);
		if (f->force)
			log_warn("--force: installing '%s' although it changes %ld price%s in use "
			    "by more than --max-factor %s: %s", f->url, factor,
			    factor == 1 ? "" : "s", lim, why.data);
		else
			log_error("refusing '%s': it changes %ld price%s in use by more than "
			    "--max-factor %s: %s; --force installs it anyway", f->url, factor,
			    factor == 1 ? "" : "s", lim, why.data);
	}
	rc = !f->force && (drop > 0 || factor > 0) ? PRICES_EXIT_REFUSED : 0;
	goto out;
nomem:
	log_error("out of memory checking '%s'", f->url);
out:
	free(all);
	free(u.v);
	buf_release(&why);
	return rc;
}

/* The downloaded map as the gateway would load it; NULL with why in err. */
static struct price_table *
load_download(const struct fetch *f, const struct buf *body, char *err, size_t errlen)
{
	struct pricemap_builder *b;
	struct price_table *t = NULL;
	char why[1024];
	size_t i, end;

	for (i = 0; i < body->len && strchr(" \t\r\n", body->data[i]); i++)
		;
	for (end = body->len; end > i && strchr(" \t\r\n", body->data[end - 1]); end--)
		;
	if (i == body->len) {
		snprintf(err, errlen, "'%s' is empty", f->url);
		return NULL;
	}
	if (body->data[i] != '{') {
		snprintf(err, errlen, "'%s' is not a JSON price map (it starts with '%.20s')",
		    f->url, body->data + i);
		return NULL;
	}
	if ((b = pricemap_builder_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pricemap_load_json(b, f->url, body->data, body->len, why, sizeof(why)) < 0)
		snprintf(err, errlen, "the download does not load: %s%s", why,
		    body->data[end - 1] != '}' ? " (it does not end with '}': it looks "
		    "truncated)" : "");
	else if (pricemap_count(b) == 0)
		snprintf(err, errlen, "'%s' holds no models", f->url);
	else if ((t = pricemap_compile(b)) == NULL)
		snprintf(err, errlen, "out of memory compiling '%s'", f->url);
	pricemap_builder_free(b);
	return t;
}

static int
prices_fetch_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "to", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "max-drop", required_argument, NULL, 'd' },
		{ "max-factor", required_argument, NULL, 'x' },
		{ "config", required_argument, NULL, 'c' },
		{ "in-use", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fetch f = { .dir = TOLLGATE_PRICES_DIR, .max_drop = 5 * 1000000LL,
		.max_factor = 10 * 1000000LL };
	struct download dl = { .too_big = 0 };
	struct buf installed = { 0 };
	struct price_table *old = NULL, *new = NULL;
	struct prices_diff d = { 0 };
	const char *env = getenv("TOLLGATE_PRICES_URL");
	char err[3 * PATH_MAX];
	int ch, k, rc = TOLLCTL_EXIT_ERROR;

	f.url = env != NULL && *env != '\0' ? env : PRICES_URL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "u:t:fd:x:c:i:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			f.url = optarg;
			break;
		case 't':
			f.dir = optarg;
			break;
		case 'f':
			f.force = 1;
			break;
		case 'd':
			if (parse_amount("--max-drop", optarg, "%", 0, 100 * 1000000LL,
			    &f.max_drop) < 0)
				return TOLLCTL_EXIT_ERROR;
			break;
		case 'x':
			if (parse_amount("--max-factor", optarg, "x", 1000000LL,
			    1000000 * 1000000LL, &f.max_factor) < 0)
				return TOLLCTL_EXIT_ERROR;
			break;
		case 'c':
		case 'i':
			if (f.nconfigs == PRICES_MAX_CONFIGS) {
				log_error("at most %d configurations", PRICES_MAX_CONFIGS);
				return TOLLCTL_EXIT_ERROR;
			}
			f.configs[f.nconfigs++] = optarg;
			break;
		case 'j':
			f.json = 1;
			break;
		case 'h':
			fputs(prices_help, stdout);
			return TOLLCTL_EXIT_OK;
		default:
			fputs(prices_help, stderr);
			return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		log_error("prices fetch takes no operand ('%s' is extra)", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}
	if (*f.dir == '\0' || (size_t)snprintf(f.path, sizeof(f.path), "%s/%s", f.dir,
	    PRICES_NAME) >= sizeof(f.path)) {
		log_error("--to: '%s' is not a usable directory name", f.dir);
		return TOLLCTL_EXIT_ERROR;
	}
	if (load_configs(&f) < 0)
		goto out;

	if (download(f.url, &dl, err, sizeof(err)) < 0) {
		log_error("%s; the installed map '%s' is left as it is", err, f.path);
		goto out;
	}
	if ((new = load_download(&f, &dl.body, err, sizeof(err))) == NULL) {
		log_error("%s; the installed map '%s' is left as it is", err, f.path);
		goto out;
	}
	if (buf_read_file(&installed, f.path) < 0 && errno != ENOENT) {
		log_error("cannot read the installed map '%s': %s", f.path, strerror(errno));
		goto out;
	}
	if (installed.data != NULL && installed.len == dl.body.len &&
	    memcmp(installed.data, dl.body.data, dl.body.len) == 0) {
		log_info("'%s' is already current (%u models): nothing to install", f.path,
		    new->nmodels);
		rc = PRICES_EXIT_UNCHANGED;
		goto out;
	}
	if (installed.data != NULL) {
		const char *name = f.path;

		if ((old = tollctl_load_prices(&name, 1, 1)) == NULL)
			log_warn("the installed map '%s' does not load: it is replaced without "
			    "checks", f.path);
	}
	if (installed.data == NULL)
		log_info("no map is installed at '%s' yet: nothing to compare with", f.path);
	if (old != NULL) {
		d.old_name = f.path;
		d.new_name = f.url;
		if (diff_tables(&d, old, new) < 0 || print_diff(&d, f.json) < 0)
			goto out;
		if ((k = fetch_checks(&f, old, new)) != 0) {
			if (k > 0) {
				log_error("the installed map '%s' is left as it is", f.path);
				rc = k;
			}
			goto out;
		}
	}
	if (install_map(&f, dl.body.data, dl.body.len, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	log_info("installed '%s' as '%s' (%u models)", f.url, f.path, new->nmodels);
	for (k = 0; k < f.nloaded; k++)
		if (!config_reads(f.loaded[k], f.path))
			log_warn("%s does not list '%s' in tollgate.price_files: the gateway "
			    "does not read it", f.loaded[k]->nfiles ? f.loaded[k]->files[0] :
			    "the configuration", f.path);
	rc = TOLLCTL_EXIT_OK;
out:
	for (k = 0; k < f.nloaded; k++)
		config_free(f.loaded[k]);
	diff_release(&d);
	buf_release(&dl.body);
	buf_release(&installed);
	free(old);
	free(new);
	return rc;
}

int
prices_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(prices_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? TOLLCTL_EXIT_ERROR : TOLLCTL_EXIT_OK;
	}
	if (strcmp(argv[1], "diff") == 0)
		return prices_diff_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "fetch") == 0)
		return prices_fetch_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return prices_show_main(argc - 1, argv + 1);
	log_error("unknown prices command '%s' (diff, fetch or show)", argv[1]);
	return TOLLCTL_EXIT_ERROR;
}
