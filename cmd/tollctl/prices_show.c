/*
 * tollctl prices show MODEL: the versions of one model's prices, newest
 * first, each with the date it is in force from, the file it came from and
 * its rates as exact decimals: what a request started at any time is priced
 * at, and what tollctl rerate uses.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "money.h"
#include "pricemap.h"
#include "timeparse.h"
#include "tollctl.h"

static const char show_help[] =
"usage: tollctl prices show MODEL [--prices FILE]... [--json]\n"
"\n"
"Shows the versions of MODEL's prices in the price files (default: the\n"
"gateway's), newest first: the date each is in force from (effective_from;\n"
"an undated version from the start), the file it came from, and every rate\n"
"it prices with, as exact decimals.  The version in force now is marked.\n"
"MODEL is looked up as the gateway looks it up (provider prefixes, snapshot\n"
"dates, base_model).  Exit status: 0; 1 when a file does not load or no\n"
"entry prices MODEL.\n";

/* One version as text: "from ... (file)", then its rates indented. */
static int
show_text(const struct price_table *t, const struct price_entry *v, int current,
    const struct rate_lines *l, struct buf *o)
{
	char from[40], num[MONEY_FORMAT_MAX];
	size_t i;

	if (v->flags & PRICE_DATED)
		time_format(v->effective_s * 1000000000, from, sizeof(from));
	else
		snprintf(from, sizeof(from), "the start");
	buf_printf(o, "from %s%s (%s)\n", from, current ? ", in force now" : "",
	    price_str(t, v->source));
	for (i = 0; i < l->n; i++)
		buf_printf(o, "  %s: %s\n", l->v[i].field, money_format(l->v[i].value, l->v[i].scale,
		    num));
	return l->n == 0 ? buf_printf(o, "  (no rates)\n") : 0;
}

static int
show_json(const struct price_table *t, const struct price_entry *v, int current,
    const struct rate_lines *l, struct buf *o)
{
	char from[40], num[MONEY_FORMAT_MAX];
	size_t i;

	if (v->flags & PRICE_DATED)
		buf_printf(o, "{\"from\": \"%s\"", time_format(v->effective_s * 1000000000, from,
		    sizeof(from)));
	else
		buf_printf(o, "{\"from\": null");
	buf_printf(o, ", \"in_force\": %s, \"source\": ", current ? "true" : "false");
	json_write_string(o, price_str(t, v->source));
	buf_printf(o, ", \"rates\": {");
	for (i = 0; i < l->n; i++) {
		buf_printf(o, "%s", i ? ", " : "");
		json_write_string(o, l->v[i].field);
		buf_printf(o, ": %s", money_format(l->v[i].value, l->v[i].scale, num));
	}
	return buf_printf(o, "}}");
}

/* Every version of newest's model into o; 0, or -1 on ENOMEM. */
static int
show_versions(const struct price_table *t, const struct price_entry *newest, int json,
    struct buf *o)
{
	const struct price_entry *now = price_version_at(t, newest, (int64_t)time(NULL)), *v;
	struct rate_lines l = { 0 };
	int rc = 0, first = 1;

	if (json) {
		buf_printf(o, "{\"model\": ");
		json_write_string(o, price_str(t, newest->name));
		buf_printf(o, ", \"versions\": [");
	} else
		buf_printf(o, "%s\n", price_str(t, newest->name));
	for (v = newest; v != NULL && rc == 0; v = price_older(t, v), first = 0) {
		if ((rc = tollctl_entry_lines(t, v, &l)) < 0)
			break;
		if (json)
			buf_printf(o, "%s", first ? "" : ", ");
		rc = json ? show_json(t, v, v == now, &l, o) : show_text(t, v, v == now, &l, o);
	}
	if (json)
		buf_printf(o, "]}\n");
	free(l.v);
	return rc;
}

int
prices_show_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prices", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prices[TOLLCTL_PRICE_FILES], *model;
	const struct price_entry *e;
	struct price_table *t = NULL;
	struct buf o = { 0 };
	int nprices = 0, json = 0, ch, rc = TOLLCTL_EXIT_ERROR;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (tollctl_add_price_file(prices, &nprices, optarg) < 0)
				return TOLLCTL_EXIT_ERROR;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(show_help, stdout);
			return TOLLCTL_EXIT_OK;
		default:
			fputs(show_help, stderr);
			return TOLLCTL_EXIT_ERROR;
		}
	}
	if (argc - optind != 1) {
		log_error("prices show takes one model name (try 'tollctl prices show --help')");
		return TOLLCTL_EXIT_ERROR;
	}
	model = argv[optind];
	if ((t = tollctl_load_prices(prices, nprices, 1)) == NULL)
		goto out;
	/* the lookup gives the version in force now; its model's newest heads the list */
	if ((e = price_lookup(t, model, strlen(model))) == NULL) {
		log_error("no entry of the price map prices '%s'", model);
		goto out;
	}
	if ((e = price_lookup_at(t, price_str(t, e->name), strlen(price_str(t, e->name)),
	    INT64_MAX)) == NULL || show_versions(t, e, json, &o) < 0 || o.data == NULL) {
		log_error("out of memory");
		goto out;
	}
	if (fwrite(o.data, 1, o.len, stdout) != o.len || fflush(stdout) != 0) {
		log_error("cannot print: %s", strerror(errno));
		goto out;
	}
	rc = TOLLCTL_EXIT_OK;
out:
	buf_release(&o);
	free(t);
	return rc;
}
