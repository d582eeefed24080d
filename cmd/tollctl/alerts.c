/*
 * tollctl alerts: the alerts that fired (lib/alerts.h) and the deliveries in
 * the outbox (lib/outbox.h) with their state, attempts and last error, so an
 * operator sees what was sent, what is being retried and what failed.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alerts.h"
#include "ledger.h"
#include "log.h"
#include "outbox.h"
#include "timeparse.h"
#include "tollctl.h"

static const char alerts_help[] =
"usage: tollctl alerts [--ledger DIR]\n"
"\n"
"Lists the alerts the gateway's accountant fired (budget thresholds, soft\n"
"budgets, unpriced models, usage anomalies, daily summaries), each once per\n"
"budget window, and the deliveries of its outbox (alerts to each channel,\n"
"exports to export.url): pending (with the attempts so far and the last\n"
"error), delivered, or failed after the last attempt.\n"
"\n"
"  --ledger DIR   the ledger directory (default: $TOLLGATE_LEDGER, else\n"
"                 /var/lib/tollgate/ledger)\n"
"\n"
"Exit status: 0, or 1 when the ledger cannot be read.\n";

static int
on_alert(void *arg, const char *id, int64_t fired_ns, const char *kind, const char *subject)
{
	char at[40];

	(void)arg;
	printf("%-20s  %-16s  %s\n    %s\n", time_format(fired_ns, at, sizeof(at)), kind, subject, id);
	return 0;
}

/*
 * scheme://host[:port] of url: the rest (a Slack webhook's path, an SMTP
 * URL's user and password) is a secret.
 */
static void
url_origin(const char *url, char *out, size_t n)
{
	const char *host = strstr(url, "://"), *end, *at;

	if (host == NULL) {
		snprintf(out, n, "?");
		return;
	}
	host += 3;
	end = host + strcspn(host, "/?#");
	if ((at = memchr(host, '@', (size_t)(end - host))) != NULL)
		host = at + 1;
	snprintf(out, n, "%.*s%.*s", (int)(strstr(url, "://") + 3 - url), url, (int)(end - host),
	    host);
}

static int
on_item(void *arg, const struct outbox_item *it)
{
	static const char *const states[] = { "pending", "delivered", "failed" };
	size_t *failed = arg;
	char at[40], origin[256];

	*failed += it->state == OUTBOX_FAILED;
	url_origin(it->url, origin, sizeof(origin));
	printf("%6llu  %-9s  %2u attempt%s  %-20s  %s -> %s\n", (unsigned long long)it->id,
	    states[it->state], it->attempts, it->attempts == 1 ? " " : "s",
	    time_format(it->state == OUTBOX_DELIVERED ? it->delivered_ns : it->created_ns, at,
	    sizeof(at)), it->label, origin);
	if (it->last_error != NULL && it->last_error[0] && it->state != OUTBOX_DELIVERED)
		printf("        last error: %s\n", it->last_error);
	return 0;
}

int
alerts_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = tollctl_ledger_dir();
	struct ledger *l;
	char err[1024];
	size_t failed = 0;
	int ch, rc = TOLLCTL_EXIT_OK;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': dir = optarg; break;
		case 'h': fputs(alerts_help, stdout); return TOLLCTL_EXIT_OK;
		default: fputs(alerts_help, stderr); return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try 'tollctl alerts --help')", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}
	if (ledger_open(dir, LEDGER_READ, 0, 0, &l, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return TOLLCTL_EXIT_ERROR;
	}
	printf("alerts fired:\n");
	if (alerts_scan(l, on_alert, NULL, err, sizeof(err)) < 0) {
		log_error("%s", err);
		rc = TOLLCTL_EXIT_ERROR;
	}
	printf("\ndeliveries:\n");
	if (rc == TOLLCTL_EXIT_OK && outbox_scan(l, on_item, &failed, err, sizeof(err)) < 0) {
		log_error("%s", err);
		rc = TOLLCTL_EXIT_ERROR;
	}
	if (failed)
		printf("\n%zu deliver%s failed for good\n", failed, failed == 1 ? "y" : "ies");
	ledger_close(l);
	return rc;
}
