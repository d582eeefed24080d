/*
 * The configuration loader (lib/config.c) against
 * shared/reference/litellm-config-compat.md and lib/config.h:
 *
 *   - tests/data/config/litellm.yaml, a LiteLLM config as real deployments
 *     write it (x- anchor holders, merge keys, os.environ/, include: two
 *     levels deep, several deployments per model_name, prices, LiteLLM
 *     settings), loads with every value and every warning checked;
 *   - defaults, YAML 1.1 scalars, {}, CRLF without a final newline,
 *     duplicate keys, prices kept as the text written;
 *   - every error with its exact file:line, from small configs written to a
 *     temporary directory, and the warnings that are not errors;
 *   - router_settings (and litellm_settings' router keys): LiteLLM's
 *     defaults, every key, which section wins, bad values as warnings;
 *   - include cycles, missing includes, the depth limit, paths relative to
 *     the including file;
 *   - etc/tollgate.yaml, the shipped example, loads without errors or
 *     warnings with none of the variables it mentions set.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static char fixtures[1000];	/* tests/data/config */
static char tmpdir[64];		/* for configs written by the tests */
static char created[64][4300];	/* files to remove at the end */
static int ncreated;

static const char *
fixture(const char *name)
{
	static char path[1100];

	snprintf(path, sizeof(path), "%s/%s", fixtures, name);
	return path;
}

/* Writes text to tmpdir/name (making a subdirectory when name has one); returns the path. */
static const char *
write_file(const char *name, const char *text)
{
	static char path[4300];
	const char *slash = strchr(name, '/');
	FILE *f;

	if (slash != NULL) {
		snprintf(path, sizeof(path), "%s/%.*s", tmpdir, (int)(slash - name), name);
		if (mkdir(path, 0700) == 0 && ncreated < 64)
			snprintf(created[ncreated++], sizeof(created[0]), "%s", path);
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL) {
		diag("cannot write '%s': %s", path, strerror(errno));
		return path;
	}
	fputs(text, f);
	fclose(f);
	if (ncreated < 64)
		snprintf(created[ncreated++], sizeof(created[0]), "%s", path);
	return path;
}

static void
remove_created(void)
{
	/* files and subdirectories, newest first: a directory after its files */
	while (ncreated > 0) {
		const char *p = created[--ncreated];
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(tmpdir);
}

/* Does warnings hold exactly this line? */
static int
has_line(const char *warnings, const char *line)
{
	size_t n = strlen(line);
	const char *p = warnings;

	while (p != NULL && (p = strstr(p, line)) != NULL) {
		if ((p == warnings || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; s != NULL && *s; s++)
		n += *s == '\n';
	return n;
}

/* Checks that warnings holds "<prefix><line>" as a whole line. */
static void
warned(const struct config *c, const char *prefix, const char *line)
{
	char want[2600];

	snprintf(want, sizeof(want), "%s%s", prefix, line);
	if (!ok(c != NULL && has_line(c->warnings, want), "warning: %s", line))
		diag("warnings were:\n%s", c && c->warnings ? c->warnings : "(none)");
}

static const char *
price(const struct config_deployment *d, const char *key)
{
	size_t i;

	for (i = 0; i < d->nprices; i++)
		if (strcmp(d->prices[i].key, key) == 0)
			return d->prices[i].value;
	return NULL;
}

/* ---- the realistic config ------------------------------------------------------- */

static void
test_litellm(void)
{
	const struct config_deployment *found[4];
	const struct config_deployment *d;
	struct config *c = NULL;
	char err[512] = "", pre[1200], inc[1200];
	int rc;

	setenv("TG_TEST_OPENAI_KEY", "sk-openai", 1);
	setenv("TG_TEST_AZURE_KEY", "azure-key", 1);
	setenv("TG_TEST_ANTHROPIC_KEY", "sk-ant", 1);
	setenv("TG_TEST_MASTER_KEY", "sk-master", 1);
	setenv("TG_TEST_CLIENT_KEY", "sk-client", 1);
	setenv("TG_TEST_ENV_NAME", "prod", 1);
	unsetenv("TG_TEST_UNSET_ANTHROPIC_KEY_2");
	unsetenv("TG_TEST_UNSET_DATABASE_URL");
	unsetenv("TG_TEST_UNSET_REDIS_HOST");

	rc = config_load(fixture("litellm.yaml"), &c, err, sizeof(err));
	if (!is_int(rc, 0, "litellm.yaml loads")) {
		diag("%s", err);
		skip(60, "litellm.yaml did not load");
		return;
	}
	snprintf(pre, sizeof(pre), "%s:", fixture("litellm.yaml"));
	snprintf(inc, sizeof(inc), "%s:", fixture("included/more-models.yaml"));

	is_int((long long)c->nfiles, 3, "files: the config and two nested includes");
	is_str(c->files[1], fixture("included/more-models.yaml"), "include: is relative to the config");
	is_str(c->files[2], fixture("included/deeper.yaml"), "a nested include is relative to its parent");
	is_str(c->master_key, "sk-master", "general_settings.master_key from os.environ/");

	/* tollgate: */
	is_int(c->tollgate.port, 4100, "tollgate.port 4_100");
	is_int(c->tollgate.workers, 3, "tollgate.workers");
	is_int(c->tollgate.ledger_sync_interval_ms, 250, "tollgate.ledger_sync_interval 250ms");
	is_int(c->tollgate.max_body_bytes, 4 << 20, "tollgate.max_body_bytes 4MiB");
	is_int((long long)c->tollgate.nprice_files, 2, "two price files");
	is_str(c->tollgate.price_files[0], fixture("prices.yaml"),
	    "a relative price file is beside the config");
	is_str(c->tollgate.price_files[1], "/etc/tollgate/extra.yaml", "an absolute one is kept");
	is_int((long long)c->tollgate.nkeys, 2, "two client keys");
	is_str(c->tollgate.keys[0], "sk-client", "client key from os.environ/");
	is_str(c->tollgate.keys[1], "sk-local-1", "client key written out");

	/* model_list, includes appended in order */
	if (!is_int((long long)c->ndeployments, 7, "7 deployments (5 + 1 included + 1 nested)")) {
		skip(40, "wrong deployment count");
		config_free(c);
		return;
	}
	d = &c->deployments[0];
	is_str(d->model_name, "gpt-4o", "[0] model_name");
	is_str(d->provider, "openai", "[0] provider");
	is_str(d->model, "gpt-4o", "[0] model");
	is_str(d->api_key, "sk-openai", "[0] api_key merged in from an x- anchor, env resolved");
	is_int(d->timeout_ms, 45000, "[0] own timeout overrides the merged one");
	ok(d->api_base == NULL && d->api_version == NULL, "[0] no api_base, no api_version");
	is_int((long long)d->nprices, 2, "[0] two prices from model_info");
	is_str(price(d, "input_cost_per_token"), "2.5e-6", "[0] input price as written");
	is_str(price(d, "output_cost_per_token"), "0.00001", "[0] output price as written");
	is_str(d->file, fixture("litellm.yaml"), "[0] file");
	is_int(d->line, 26, "[0] line of the entry");

	d = &c->deployments[1];
	is_str(d->provider, "azure", "[1] provider azure");
	is_str(d->model, "gpt-4o-eu", "[1] model");
	is_str(d->api_base, "https://example-eastus.openai.azure.com/",
	    "[1] <<: [*a, *b]: the first mapping wins (api_base)");
	is_str(d->api_version, "2024-10-21", "[1] the first mapping wins (api_version)");
	is_str(d->api_key, "azure-key", "[1] quoted os.environ/ is resolved too");
	is_int(d->timeout_ms, 12500, "[1] timeout 12.5 s");
	is_str(d->base_model, "azure/gpt-4o-2024-08-06", "[1] model_info.base_model");
	if (is_int((long long)d->nheaders, 2, "[1] extra_headers merged in from a third anchor")) {
		is_str(d->headers[0].key, "X-Team", "[1] header name");
		is_str(d->headers[0].value, "ml-platform", "[1] header value");
		is_str(d->headers[1].value, "prod", "[1] header value from os.environ/");
		is_int(d->headers[1].line, 23, "[1] header line: where the anchor wrote it");
	} else
		skip(4, "no headers");
	is_int((long long)d->nprices, 0, "[1] no prices");

	d = &c->deployments[2];
	is_str(d->model_name, "claude", "[2] model_name");
	is_str(d->provider, "anthropic", "[2] provider anthropic");
	is_str(d->base_model, "claude-sonnet-4-5", "[2] base_model from model_info inside litellm_params");
	is_str(price(d, "input_cost_per_token"), "3e-07",
	    "[2] a price in litellm_params wins over model_info's, text kept");
	is_str(price(d, "output_cost_per_token"), "1.5e-05", "[2] a quoted price from nested model_info");

	d = &c->deployments[3];
	ok(strcmp(d->model_name, "*") == 0 && strcmp(d->provider, "openai") == 0 &&
	    strcmp(d->model, "*") == 0, "[3] wildcard kept as written: * -> openai/*");
	d = &c->deployments[4];
	ok(strcmp(d->provider, "openai") == 0 && strcmp(d->model, "llama3") == 0,
	    "[4] a model without a provider is openai's");
	ok(d->api_base == NULL && d->api_key == NULL, "[4] api_base: null is no api_base");
	d = &c->deployments[5];
	is_str(d->file, fixture("included/more-models.yaml"), "[5] from the include");
	is_str(d->api_base, "https://anthropic-proxy.example.com", "[5] api_base");
	ok(d->api_key == NULL, "[5] api_key naming an unset variable is NULL");
	is_str(c->deployments[6].model_name, "embed", "[6] from the nested include, last");

	/* config_find_model */
	is_int((long long)config_find_model(c, "gpt-4o", found, 4), 2, "find gpt-4o: 2 deployments");
	ok(found[0] == &c->deployments[0] && found[1] == &c->deployments[1], "find: in file order");
	is_int((long long)config_find_model(c, "claude", found, 4), 2,
	    "find claude: the parent's and the include's");
	ok(found[1] == &c->deployments[5], "find: the included one second");
	is_int((long long)config_find_model(c, "claude", found, 1), 1, "find: at most max");
	is_int((long long)config_find_model(c, "gpt-4", found, 4), 0, "find: exact names only");
	is_int((long long)config_find_model(c, "anything", found, 4), 0,
	    "find: a wildcard model_name is not expanded here");

	/* warnings: each distinct key once, with its file:line */
	warned(c, pre, "80: unknown top-level key 'environment', ignored");
	warned(c, pre, "66: general_settings.database_url: environment variable "
	    "TG_TEST_UNSET_DATABASE_URL is not set; records are not shipped to PostgreSQL");
	warned(c, pre, "67: general_settings.alerting is not implemented by tollgate, ignored");
	ok(c->drop_params == 1, "litellm_settings.drop_params: True is read");
	warned(c, pre, "71: litellm_settings.set_verbose is not implemented by tollgate, ignored");
	warned(c, pre, "72: litellm_settings.callbacks is not implemented by tollgate, ignored");
	warned(c, pre, "73: litellm_settings.cache is not implemented by tollgate, ignored");
	ok(c->router.strategy == CONFIG_ROUTE_LEAST_BUSY && c->router.num_retries == 2,
	    "router_settings: the include's least-busy replaces the parent's section whole");
	warned(c, pre, "47: litellm_params.stream_timeout is not implemented by tollgate, ignored");
	warned(c, inc, "7: model_list[0].litellm_params.api_key: environment variable "
	    "TG_TEST_UNSET_ANTHROPIC_KEY_2 is not set; 'claude' is called without a key");
	is_int(count_lines(c->warnings), 8,
	    "8 warnings: no x- key, no quiet param, no router_settings key, stream_timeout once");
	ok(strstr(c->warnings, "x-") == NULL && strstr(c->warnings, "num_retries") == NULL &&
	    strstr(c->warnings, "rpm") == NULL, "x- holders, replaced sections and rpm are not mentioned");
	config_free(c);
}

/* ---- defaults and YAML 1.1 --------------------------------------------------------- */

static void
test_defaults(void)
{
	struct config *c = NULL;
	char err[512] = "", want[2600];

	if (!is_int(config_load(fixture("empty-doc.yaml"), &c, err, sizeof(err)), 0,
	    "{} as the whole document loads")) {
		diag("%s", err);
		skip(21, "empty-doc.yaml did not load");
		return;
	}
	is_str(c->tollgate.listen, "127.0.0.1", "default listen");
	is_int(c->tollgate.port, 4000, "default port");
	is_int(c->tollgate.workers, 0, "default workers: auto");
	is_str(c->tollgate.ledger_path, "/var/lib/tollgate/ledger", "default ledger_path");
	is_int(c->tollgate.ledger_map_size, 1LL << 30, "default ledger_map_size 1 GiB");
	is_int(c->tollgate.ledger_sync_interval_ms, 1000, "default ledger_sync_interval");
	is_str(c->tollgate.run_dir, "/run/tollgate", "default run_dir");
	ok(c->tollgate.nprice_files == 1 && strcmp(c->tollgate.price_files[0], TOLLGATE_PRICES) == 0,
	    "default price_files: the installed price map");
	is_int(c->tollgate.max_body_bytes, 10 << 20, "default max_body_bytes 10 MiB");
	is_int(c->tollgate.upstream_connect_timeout_ms, 10000, "default upstream_connect_timeout");
	is_int(c->tollgate.upstream_timeout_ms, 600000, "default upstream_timeout");
	is_int(c->tollgate.client_timeout_ms, 60000, "default client_timeout");
	is_int(c->tollgate.shutdown_timeout_ms, 30000, "default shutdown_timeout");
	is_int(c->tollgate.ledger_retention_ms, 90LL * 86400000, "default ledger.retention 90d");
	ok(c->tollgate.nkeys == 0 && c->tollgate.log_file == NULL && c->master_key == NULL,
	    "no keys, log to stderr, no master key");
	is_int((long long)c->ndeployments, 0, "no deployments");
	snprintf(want, sizeof(want), "%s:1: no models configured\n", fixture("empty-doc.yaml"));
	is_str(c->warnings, want, "the only warning: no models configured");
	is_int((long long)c->nfiles, 1, "one file");
	config_free(c);
}

static void
test_yaml11(void)
{
	struct config *c = NULL;
	char err[512] = "", pre[1200];
	const struct config_deployment *d;

	if (!is_int(config_load(fixture("yaml11.yaml"), &c, err, sizeof(err)), 0, "yaml11.yaml loads")) {
		diag("%s", err);
		skip(16, "yaml11.yaml did not load");
		return;
	}
	snprintf(pre, sizeof(pre), "%s:", fixture("yaml11.yaml"));
	is_int(c->tollgate.port, 20000, "20_000 is 20000");
	is_int(c->tollgate.workers, 0, "workers: auto");
	is_int(c->tollgate.ledger_map_size, 1073741824, "1_073_741_824 bytes");
	is_int(c->tollgate.max_body_bytes, 64000000, "64MB is 64 * 10^6");
	is_int(c->tollgate.client_timeout_ms, 120000, "2m");
	is_int(c->tollgate.upstream_timeout_ms, 1500, "1.5s");
	is_int(c->tollgate.upstream_connect_timeout_ms, 2500, "a bare 2_500 is milliseconds");
	is_int(c->tollgate.shutdown_timeout_ms, 30000, "~ is the default");
	ok(c->tollgate.log_file == NULL, "null is no log file");
	is_str(c->tollgate.run_dir, "/run/tollgate", "an empty value is the default");
	ok(c->drop_params == 1, "drop_params: True");
	warned(c, pre, "15: litellm_settings.set_verbose is not implemented by tollgate, ignored");
	is_int(count_lines(c->warnings), 2, "booleans (True, off, yes) are no trouble: 2 warnings");
	if (is_int((long long)c->ndeployments, 2, "two deployments")) {
		d = &c->deployments[0];
		ok(d->api_base == NULL && d->api_version == NULL && d->api_key == NULL,
		    "~, empty and null are NULL");
		is_int(d->timeout_ms, 1000000, "timeout 1_000 s");
		d = &c->deployments[1];
		ok(strcmp(d->model, "null") == 0 && strcmp(d->api_base, "~") == 0,
		    "quoted \"null\" and \"~\" are text");
	} else
		skip(3, "wrong deployment count");
	config_free(c);
}

static void
test_crlf_and_duplicates(void)
{
	struct config *c = NULL;
	char err[512] = "", pre[1200];

	if (is_int(config_load(fixture("crlf.yaml"), &c, err, sizeof(err)), 0,
	    "a CRLF file without a final newline loads")) {
		snprintf(pre, sizeof(pre), "%s:", fixture("crlf.yaml"));
		is_int(c->tollgate.port, 4321, "CRLF: port");
		is_str(c->tollgate.listen, "::1", "CRLF: no \\r left in values");
		ok(c->ndeployments == 1 &&
		    strcmp(c->deployments[0].api_base, "http://127.0.0.1:4001/v1") == 0,
		    "CRLF: the last value, without a newline, is whole");
		warned(c, pre, "5: unknown key 'tollgate.colour', ignored");
		config_free(c);
	} else {
		diag("%s", err);
		skip(4, "crlf.yaml did not load");
	}

	c = NULL;
	if (is_int(config_load(fixture("dupkeys.yaml"), &c, err, sizeof(err)), 0,
	    "duplicate keys load")) {
		is_int(c->tollgate.port, 4000, "a duplicate tollgate: replaces the first one whole");
		is_str(c->tollgate.listen, "0.0.0.0", "the last tollgate: is the one read");
		if (is_int((long long)c->ndeployments, 1, "the last model_list wins")) {
			is_str(c->deployments[0].model_name, "new", "duplicate model_name: the last");
			ok(strcmp(c->deployments[0].provider, "anthropic") == 0 &&
			    strcmp(c->deployments[0].model, "y") == 0, "duplicate model: the last");
		} else
			skip(2, "wrong deployment count");
		ok(c->warnings == NULL, "duplicates are not warned about");
		config_free(c);
	} else {
		diag("%s", err);
		skip(6, "dupkeys.yaml did not load");
	}
}

static void
test_prices(void)
{
	struct config *c = NULL;
	char err[512] = "", pre[1200];
	const struct config_deployment *d;

	setenv("TG_TEST_PRICE", "7.5e-7", 1);
	if (!is_int(config_load(fixture("price-text.yaml"), &c, err, sizeof(err)), 0,
	    "price-text.yaml loads")) {
		diag("%s", err);
		skip(10, "price-text.yaml did not load");
		return;
	}
	snprintf(pre, sizeof(pre), "%s:", fixture("price-text.yaml"));
	d = &c->deployments[0];
	is_str(price(d, "input_cost_per_token"), "3e-07", "3e-07 stays 3e-07");
	is_str(price(d, "output_cost_per_token"), "1.5E-6", "litellm_params' 1.5E-6 wins, as written");
	is_str(price(d, "cache_read_input_token_cost"), "0.00000030", "trailing zeros kept");
	is_str(price(d, "cache_creation_input_token_cost"), "0", "0 is a price");
	is_str(price(d, "input_cost_per_second"), "1e-4", "per-second price");
	is_str(price(d, "input_cost_per_token_batches"), "7.5e-7", "a price from os.environ/");
	ok(price(d, "search_context_cost_per_query") == NULL && price(d, "tiered_pricing") == NULL &&
	    price(d, "mode") == NULL, "nested price structures are not prices here");
	is_int((long long)d->nprices, 6, "six prices");
	is_int(d->prices[0].line, 8, "a price keeps its line");
	warned(c, pre, "15: model_list[0].model_info.search_context_cost_per_query: only a plain "
	    "price is read from a config, ignored");
	config_free(c);
}

/* ---- errors ------------------------------------------------------------------------- */

struct bad {
	const char	*name;
	const char	*text;
	const char	*want;		/* the error after "<tmpdir>/" */
};

static const struct bad bad_configs[] = {
	{ "dsn.yaml", "tollgate:\n  postgres:\n    dsn: \"host=x nonsense\"\n",
	  "dsn.yaml:3: tollgate.postgres.dsn: not a PostgreSQL connection string (missing \"=\" after "
	  "\"nonsense\" in connection info string)" },
	{ "database-url.yaml", "general_settings:\n  database_url: \"dbname\"\nmodel_list: []\n",
	  "database-url.yaml:2: general_settings.database_url: not a PostgreSQL connection string "
	  "(missing \"=\" after \"dbname\" in connection info string)" },
	{ "redis.yaml", "tollgate:\n  redis: {url: \"redis://:secret@\"}\n",
	  "redis.yaml:2: tollgate.redis.url: not a redis://[[user]:password@]host[:port][/db] URL" },
	{ "rediss.yaml", "tollgate:\n  redis:\n    url: rediss://h:6380\n",
	  "rediss.yaml:3: tollgate.redis.url: 'rediss://h:6380...': rediss:// (TLS) is not supported "
	  "by this build (Debian 12's hiredis 0.14 has no TLS); use redis:// through a tunnel" },
	{ "redis-failure.yaml", "tollgate:\n  redis: {url: \"redis://h\", on_failure: maybe}\n",
	  "redis-failure.yaml:2: tollgate.redis_on_failure: expected closed (refuse, 503) or open "
	  "(each host counts alone), got 'maybe'" },
	{ "provider-cost.yaml", "tollgate:\n  provider_cost: trust\n",
	  "provider-cost.yaml:2: tollgate.provider_cost: expected compare (flag a difference) or prefer "
	  "(bill the provider's figure), got 'trust'" },
	{ "mismatch.yaml", "tollgate:\n  cost_mismatch_threshold: 150%\n",
	  "mismatch.yaml:2: tollgate.cost_mismatch_threshold: expected a share such as 1% or 0.01 "
	  "(0 to 100%), got '150%'" },
	{ "port.yaml", "tollgate:\n  port: abc\n",
	  "port.yaml:2: tollgate.port: expected an integer 0-65535 (0: any free port), got 'abc'" },
	{ "port-range.yaml", "model_list: []\ntollgate:\n  port: 70000\n",
	  "port-range.yaml:3: tollgate.port: expected an integer 0-65535 (0: any free port), got '70000'" },
	{ "port-neg.yaml", "tollgate: {port: -1}\n",
	  "port-neg.yaml:1: tollgate.port: expected an integer 0-65535 (0: any free port), got '-1'" },
	{ "port-float.yaml", "tollgate:\n  port: 4000.0\n",
	  "port-float.yaml:2: tollgate.port: expected an integer 0-65535 (0: any free port), got '4000.0'" },
	{ "port-list.yaml", "tollgate:\n  port:\n    - 1\n",
	  "port-list.yaml:3: tollgate.port: expected an integer 0-65535 (0: any free port), got a list" },
	{ "port-env.yaml", "tollgate:\n  port: os.environ/TG_TEST_UNSET_PORT\n",
	  "port-env.yaml:2: tollgate.port: environment variable TG_TEST_UNSET_PORT is not set" },
	{ "workers.yaml", "tollgate:\n  workers: 0\n",
	  "workers.yaml:2: tollgate.workers: expected 'auto' or an integer 1-1024, got '0'" },
	{ "map-size.yaml", "tollgate:\n  ledger_map_size: 64KiB\n",
	  "map-size.yaml:2: tollgate.ledger_map_size: expected a size in bytes such as 512MiB or "
	  "1GiB of at least 1MiB, got '64KiB'" },
	{ "body.yaml", "tollgate:\n  max_body_bytes: 3 parsecs\n",
	  "body.yaml:2: tollgate.max_body_bytes: expected a size in bytes such as 512MiB or 1GiB, "
	  "got '3 parsecs'" },
	{ "sync.yaml", "tollgate:\n  ledger_sync_interval: fast\n",
	  "sync.yaml:2: tollgate.ledger_sync_interval: expected a duration such as 500ms, 30s or 2m "
	  "(a bare number is milliseconds) up to 24h, got 'fast'" },
	{ "client-timeout.yaml", "tollgate:\n  client_timeout: 0\n",
	  "client-timeout.yaml:2: tollgate.client_timeout: expected a duration such as 500ms, 30s or "
	  "2m (a bare number is milliseconds) from 1ms to 24h, got '0'" },
	{ "negative.yaml", "tollgate:\n  upstream_timeout: -5s\n",
	  "negative.yaml:2: tollgate.upstream_timeout: expected a duration such as 500ms, 30s or 2m "
	  "(a bare number is milliseconds) from 1ms to 24h, got '-5s'" },
	{ "budget-scope.yaml", "tollgate:\n  budgets:\n    - {scope: galaxy, name: x, max_budget: 1}\n",
	  "budget-scope.yaml:3: tollgate.budgets[0].scope: expected global, user, team, customer or "
	  "tag, got 'galaxy'" },
	{ "budget-amount.yaml", "tollgate:\n  budgets:\n    - {scope: team, name: x, max_budget: lots}\n",
	  "budget-amount.yaml:3: tollgate.budgets[0].max_budget: expected an amount of dollars such as "
	  "100 or 12.50, got 'lots'" },
	{ "budget-window.yaml", "tollgate:\n  budgets:\n    - {scope: user, name: x, max_budget: 1, "
	  "budget_duration: 1y}\n",
	  "budget-window.yaml:3: tollgate.budgets[0].budget_duration: expected a duration such as 30s, "
	  "15m, 1h, 1d, 7d or 1mo, got '1y'" },
	{ "budget-name.yaml", "tollgate:\n  budgets:\n    - {scope: tag, max_budget: 1}\n",
	  "budget-name.yaml:3: tollgate.budgets[0]: a tag budget needs a name" },
	{ "budget-max.yaml", "tollgate:\n  budgets:\n    - {scope: global, budget_duration: 1d}\n",
	  "budget-max.yaml:3: tollgate.budgets[0]: missing max_budget (or soft_budget)" },
	{ "budget-dup.yaml", "tollgate:\n  budgets:\n    - {scope: user, name: a, max_budget: 1, "
	  "budget_duration: 1d}\n    - {scope: user, name: a, max_budget: 2, budget_duration: 1d}\n",
	  "budget-dup.yaml:3: tollgate.budgets[1]: the same budget as tollgate.budgets[0] (scope, "
	  "name and budget_duration)" },
	{ "budget-long.yaml", "tollgate:\n  budgets:\n    - {scope: tag, max_budget: 1, name: "
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n",
	  "budget-long.yaml:3: tollgate.budgets[0].name: expected a name of 1 to 64 bytes" },
	{ "budget-tz.yaml", "tollgate:\n  budget_timezone: Mars/Olympus\n",
	  "budget-tz.yaml:2: tollgate.budget_timezone: expected a time zone such as UTC or "
	  "Europe/Berlin, got 'Mars/Olympus'" },
	{ "channel-type.yaml", "tollgate:\n  alerts:\n    channels: [{type: pager, url: http://x}]\n",
	  "channel-type.yaml:3: tollgate.alerts.channels[0].type: expected slack, webhook or email, "
	  "got 'pager'" },
	{ "channel-url.yaml", "tollgate:\n  alerts:\n    channels: [{type: slack}]\n",
	  "channel-url.yaml:3: tollgate.alerts.channels[0]: missing url" },
	{ "channel-mail.yaml", "tollgate:\n  alerts:\n    channels: [{type: email, url: smtp://m, "
	  "to: a@b}]\n",
	  "channel-mail.yaml:3: tollgate.alerts.channels[0]: an email channel needs from and to" },
	{ "channel-scheme.yaml", "tollgate:\n  alerts:\n    channels: [{type: webhook, url: "
	  "smtp://m}]\n",
	  "channel-scheme.yaml:3: tollgate.alerts.channels[0].url: expected http:// or https://, got "
	  "'smtp://m'" },
	{ "thresholds.yaml", "tollgate:\n  alerts:\n    thresholds: [50, 2000]\n",
	  "thresholds.yaml:3: tollgate.alerts_thresholds: expected a list of percentages such as "
	  "[50, 80, 100], got '2000' in it" },
	{ "channels-map.yaml", "tollgate:\n  alerts:\n    channels: {type: slack}\n",
	  "channels-map.yaml:3: tollgate.alerts_channels: expected a list of alert channels, got a "
	  "mapping" },
	{ "retention.yaml", "tollgate:\n  ledger:\n    retention: 12h\n",
	  "retention.yaml:3: tollgate.ledger_retention: expected 0 (keep for ever) or a duration "
	  "from 1d to 36500d, such as 90d, got '12h'" },
	{ "export-url.yaml", "tollgate:\n  export: {url: ftp://example.com/spend}\n",
	  "export-url.yaml:2: tollgate.export_url: expected an http:// or https:// URL, "
	  "got 'ftp://example.com/spend'" },
	{ "export-group.yaml", "tollgate:\n  export: [a]\n",
	  "export-group.yaml:2: tollgate.export: expected a mapping, got a list" },
	{ "price-files.yaml", "tollgate:\n  price_files: {a: b}\n",
	  "price-files.yaml:2: tollgate.price_files: expected a list of file names, got a mapping" },
	{ "empty-key.yaml", "tollgate:\n  keys: [sk-1, \"\"]\n",
	  "empty-key.yaml:2: tollgate.keys: expected a list of client keys, got an empty one" },
	{ "tollgate-list.yaml", "tollgate:\n  - port: 1\n",
	  "tollgate-list.yaml:2: tollgate: expected a mapping, got a list" },
	{ "master-env.yaml", "model_list: []\n\n\ngeneral_settings:\n"
	  "  master_key: os.environ/TOLLGATE_MASTER_KEY\n",
	  "master-env.yaml:5: general_settings.master_key: environment variable "
	  "TOLLGATE_MASTER_KEY is not set" },
	{ "master-empty.yaml", "general_settings:\n  master_key: ''\n",
	  "master-empty.yaml:2: general_settings.master_key: expected a key, got an empty one" },
	{ "cred.yaml", "model_list:\n  - model_name: a\n"
	  "    litellm_params: {model: azure/d, litellm_credential_name: nope}\n",
	  "cred.yaml:3: model 'a': litellm_credential_name 'nope' is not in credential_list" },
	{ "cred-name.yaml", "credential_list:\n  - credential_values: {api_key: k}\n",
	  "cred-name.yaml:2: credential_list[0]: credential_name is required" },
	{ "list-mapping.yaml", "model_list:\n  gpt: 1\n",
	  "list-mapping.yaml:2: model_list: expected a list of deployments, got a mapping" },
	{ "entry-scalar.yaml", "model_list:\n  - gpt-4o\n",
	  "entry-scalar.yaml:2: model_list[0]: expected a mapping with model_name and "
	  "litellm_params, got 'gpt-4o'" },
	{ "no-name.yaml", "model_list:\n  - model_name: a\n    litellm_params: {model: a}\n"
	  "  - litellm_params:\n      model: openai/gpt-4o\n",
	  "no-name.yaml:4: model_list[1]: model_name is required" },
	{ "null-name.yaml", "model_list:\n  - model_name: ~\n    litellm_params: {model: a}\n",
	  "null-name.yaml:2: model_list[0].model_name: expected a model name, got nothing" },
	{ "no-params.yaml", "model_list:\n  - model_name: a\n    model_info: {}\n",
	  "no-params.yaml:2: model_list[0]: litellm_params.model is required" },
	{ "no-model.yaml", "model_list:\n  - model_name: a\n    litellm_params:\n      api_key: k\n",
	  "no-model.yaml:3: model_list[0].litellm_params.model is required" },
	{ "empty-provider.yaml", "model_list:\n  - model_name: a\n    litellm_params:\n"
	  "      model: /gpt-4o\n",
	  "empty-provider.yaml:4: model_list[0].litellm_params.model: expected a model such as "
	  "openai/gpt-4o, got '/gpt-4o'" },
	{ "model-env.yaml", "model_list:\n  - model_name: a\n    litellm_params:\n"
	  "      model: os.environ/TG_TEST_UNSET_MODEL\n",
	  "model-env.yaml:4: model_list[0].litellm_params.model: environment variable "
	  "TG_TEST_UNSET_MODEL is not set" },
	{ "base-env.yaml", "model_list:\n  - model_name: a\n    litellm_params:\n      model: a\n"
	  "      api_base: \"os.environ/TG_TEST_UNSET_BASE\"\n",
	  "base-env.yaml:5: model_list[0].litellm_params.api_base: environment variable "
	  "TG_TEST_UNSET_BASE is not set" },
	{ "timeout.yaml", "model_list:\n  - model_name: a\n    litellm_params:\n      model: a\n"
	  "      timeout: soon\n",
	  "timeout.yaml:5: model_list[0].litellm_params.timeout: expected a number of seconds, "
	  "got 'soon'" },
	{ "price.yaml", "model_list:\n  - model_name: a\n    litellm_params: {model: a}\n"
	  "    model_info:\n      input_cost_per_token: cheap\n",
	  "price.yaml:5: model_list[0].model_info.input_cost_per_token: expected a decimal price "
	  "such as 3e-07, got 'cheap'" },
	{ "price-negative.yaml", "model_list:\n  - model_name: a\n    litellm_params:\n"
	  "      model: a\n      output_cost_per_token: -1e-6\n",
	  "price-negative.yaml:5: model_list[0].litellm_params.output_cost_per_token: expected a "
	  "decimal price such as 3e-07, got '-1e-6'" },
	{ "price-env.yaml", "model_list:\n  - model_name: a\n    litellm_params: {model: a}\n"
	  "    model_info:\n      input_cost_per_token: os.environ/TG_TEST_UNSET_PRICE\n",
	  "price-env.yaml:5: model_list[0].model_info.input_cost_per_token: environment variable "
	  "TG_TEST_UNSET_PRICE is not set" },
	{ "headers.yaml", "model_list:\n  - model_name: a\n    litellm_params:\n      model: a\n"
	  "      extra_headers: [X-A]\n",
	  "headers.yaml:5: model_list[0].litellm_params.extra_headers: expected a mapping, got a list" },
	{ "merge-scalar.yaml", "tollgate:\n  <<: 5\n",
	  "merge-scalar.yaml:2: <<: expected an alias of a mapping (or a list of them) to merge, "
	  "got '5'" },
	{ "merge-loop.yaml", "x-a: &a\n  port: 1\n  <<: *a\ntollgate:\n  <<: *a\n",
	  "merge-loop.yaml:1: merge keys (<<) nested deeper than 8: an alias loop?" },
	{ "key-list.yaml", "tollgate:\n  ? [a, b]\n  : 1\n",
	  "key-list.yaml:2: expected a key name, got a list" },
	{ "syntax.yaml", "model_list:\n  - model_name: a\n   litellm_params: x\n",
	  "syntax.yaml:3:4: did not find expected '-' indicator while parsing a block collection" },
	{ "top-list.yaml", "- model_name: a\n",
	  "top-list.yaml:1: expected a mapping of settings (model_list:, general_settings:, ...) "
	  "at the top level" },
	{ "two-docs.yaml", "model_list: []\n---\nmodel_list: []\n",
	  "two-docs.yaml:2: expected one YAML document, found a second one" },
	{ "include-empty.yaml", "include:\n  - \"\"\n",
	  "include-empty.yaml:2: include: expected a file name, got ''" },
	{ "self.yaml", "model_list: []\ninclude: [self.yaml]\n",
	  "self.yaml:2: include '$/self.yaml': include cycle, the file is already being loaded" },
	{ "tls-half.yaml", "tollgate:\n  port: 443\n  tls_cert_file: cert.pem\n",
	  "tls-half.yaml:3: tollgate.tls_cert_file is set but tollgate.tls_key_file is not: TLS "
	  "needs both" },
	{ "tls-key-only.yaml", "tollgate:\n  tls: {key_file: k.pem}\n",
	  "tls-key-only.yaml:2: tollgate.tls_key_file is set but tollgate.tls_cert_file is not: TLS "
	  "needs both" },
	{ "tls-empty.yaml", "tollgate:\n  tls_cert_file: ''\n",
	  "tls-empty.yaml:2: tollgate.tls_cert_file: expected a file name, got ''" },
	{ "tls-version.yaml", "tollgate:\n  tls_min_version: TLSv1.1\n",
	  "tls-version.yaml:2: tollgate.tls_min_version: expected TLSv1.2 or TLSv1.3, got 'TLSv1.1'" },
	{ "metrics-port.yaml", "tollgate:\n  metrics_listen: 10.0.0.1:0\n",
	  "metrics-port.yaml:2: tollgate.metrics_listen: expected a port, or an address and a port "
	  "such as 10.0.0.5:9464 or [::1]:9464, got '10.0.0.1:0'" },
	{ "metrics-v6.yaml", "tollgate:\n  metrics_listen: ::1:9464\n",
	  "metrics-v6.yaml:2: tollgate.metrics_listen: expected a port, or an address and a port "
	  "such as 10.0.0.5:9464 or [::1]:9464, got '::1:9464'" },
	{ "metrics-nohost.yaml", "tollgate:\n  metrics_listen: ':9464'\n",
	  "metrics-nohost.yaml:2: tollgate.metrics_listen: expected a port, or an address and a port "
	  "such as 10.0.0.5:9464 or [::1]:9464, got ':9464'" },
};

/* Replaces "$" in want with the temporary directory. */
static void
expand(const char *want, char *out, size_t size)
{
	const char *dollar = strchr(want, '$');

	if (dollar == NULL)
		snprintf(out, size, "%s/%s", tmpdir, want);
	else
		snprintf(out, size, "%s/%.*s%s%s", tmpdir, (int)(dollar - want), want, tmpdir,
		    dollar + 1);
}

static void
test_errors(void)
{
	struct config *c;
	char err[1024], want[1024], path[128];
	size_t i;

	for (i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
		const struct bad *b = &bad_configs[i];
		int rc;

		c = (struct config *)1;
		err[0] = '\0';
		rc = config_load(write_file(b->name, b->text), &c, err, sizeof(err));
		expand(b->want, want, sizeof(want));
		ok(rc == -1 && c == NULL, "%s is refused", b->name);
		is_str(err, want, "%s: the error", b->name);
		if (rc == 0)
			config_free(c);
	}

	c = (struct config *)1;
	snprintf(path, sizeof(path), "%s/no-such.yaml", tmpdir);
	ok(config_load(path, &c, err, sizeof(err)) == -1 && c == NULL, "a missing file is refused");
	snprintf(want, sizeof(want), "cannot read config '%s': No such file or directory", path);
	is_str(err, want, "missing file: the error");
}

/* ---- warnings and the environment ------------------------------------------------ */

/* Loads text as tmpdir/name; the config, or NULL with a failed test. */
static struct config *
load_text(const char *name, const char *text, char *pre, size_t presize)
{
	struct config *c = NULL;
	char err[1024] = "";

	snprintf(pre, presize, "%s/%s:", tmpdir, name);
	if (!ok(config_load(write_file(name, text), &c, err, sizeof(err)) == 0, "%s loads", name))
		diag("%s", err);
	return c;
}

/* The fleet's settings: LiteLLM's names for Redis and PostgreSQL become tollgate's. */
static void
test_fleet(void)
{
	struct config *c;
	char pre[256];

	c = load_text("fleet.yaml", "general_settings:\n"
	    "  database_url: postgresql://u:p@db.example:5433/litellm\n"
	    "router_settings:\n  redis_host: cache.example\n  redis_port: 6380\n"
	    "  redis_password: s3cret\nmodel_list: []\n", pre, sizeof(pre));
	if (c != NULL) {
		is_str(c->tollgate.postgres_dsn, "postgresql://u:p@db.example:5433/litellm",
		    "general_settings.database_url: the fleet ledger's");
		is_str(c->tollgate.redis_url, "redis://:s3cret@cache.example:6380",
		    "router_settings' redis_host, redis_port and redis_password: the fleet's Redis");
		ok(c->tollgate.redis_fail_open == 0, "  on_failure closed by default");
		config_free(c);
	}
	c = load_text("fleet-cache.yaml", "litellm_settings:\n  cache: true\n  cache_params:\n"
	    "    type: redis\n    host: cache.example\n    port: 6381\n    password: pw\n"
	    "    namespace: litellm\nmodel_list: []\n", pre, sizeof(pre));
	if (c != NULL) {
		is_str(c->tollgate.redis_url, "redis://:pw@cache.example:6381",
		    "litellm_settings.cache_params (type redis): the fleet's Redis");
		config_free(c);
	}
	c = load_text("fleet-local.yaml", "litellm_settings:\n  cache: true\n  cache_params:\n"
	    "    type: local\n    host: nowhere.example\nmodel_list: []\n", pre, sizeof(pre));
	if (c != NULL) {
		ok(c->tollgate.redis_url == NULL, "  cache_params of type local: no Redis");
		config_free(c);
	}
	c = load_text("fleet-both.yaml", "litellm_settings:\n  cache_params:\n    type: redis\n"
	    "    host: cache.example\nrouter_settings:\n  redis_host: router.example\nmodel_list: []\n",
	    pre, sizeof(pre));
	if (c != NULL) {
		is_str(c->tollgate.redis_url, "redis://router.example:6379",
		    "  router_settings' Redis wins over cache_params'");
		config_free(c);
	}
	c = load_text("fleet2.yaml", "general_settings:\n  database_url: postgresql://a/b\n"
	    "router_settings:\n  redis_host: ignored.example\ntollgate:\n  host_id: h-1\n"
	    "  postgres: {dsn: \"host=db dbname=t\"}\n"
	    "  redis: {url: \"redis://r:1/2\", on_failure: open}\nmodel_list: []\n", pre,
	    sizeof(pre));
	if (c != NULL) {
		ok(strcmp(c->tollgate.postgres_dsn, "host=db dbname=t") == 0 &&
		    strcmp(c->tollgate.redis_url, "redis://r:1/2") == 0 && c->tollgate.redis_fail_open &&
		    strcmp(c->tollgate.host_id, "h-1") == 0,
		    "tollgate's own postgres, redis and host_id win over LiteLLM's");
		config_free(c);
	}
}

static void
test_environment(void)
{
	struct config *c;
	char pre[256];

	setenv("TG_TEST_PORT", "4242", 1);
	setenv("TG_TEST_BASE", "https://proxy.example.com/v1", 1);
	setenv("TG_TEST_BASE_MODEL", "gpt-4o-2024-08-06", 1);
	setenv("TG_TEST_TIMEOUT", "2.5", 1);
	setenv("TG_TEST_PROVIDER_MODEL", "anthropic/claude-haiku-4-5", 1);
	unsetenv("TG_TEST_UNSET_KEY");
	unsetenv("TG_TEST_UNSET_CLIENT");
	c = load_text("env.yaml",
	    "tollgate:\n"
	    "  port: os.environ/TG_TEST_PORT\n"
	    "  keys:\n"
	    "    - os.environ/TG_TEST_UNSET_CLIENT\n"
	    "    - \"os.environ/TG_TEST_PORT\"\n"
	    "model_list:\n"
	    "  - model_name: a\n"
	    "    litellm_params:\n"
	    "      model: os.environ/TG_TEST_PROVIDER_MODEL\n"
	    "      api_base: os.environ/TG_TEST_BASE\n"
	    "      api_key: os.environ/TG_TEST_UNSET_KEY\n"
	    "      timeout: os.environ/TG_TEST_TIMEOUT\n"
	    "    model_info:\n"
	    "      base_model: 'os.environ/TG_TEST_BASE_MODEL'\n", pre, sizeof(pre));
	if (c != NULL) {
		is_int(c->tollgate.port, 4242, "a port from the environment becomes a number");
		ok(c->tollgate.nkeys == 1 && strcmp(c->tollgate.keys[0], "4242") == 0,
		    "a client key naming an unset variable is left out");
		warned(c, pre, "4: tollgate.keys: environment variable TG_TEST_UNSET_CLIENT is not "
		    "set, key left out");
		ok(strcmp(c->deployments[0].provider, "anthropic") == 0 &&
		    strcmp(c->deployments[0].model, "claude-haiku-4-5") == 0,
		    "model from the environment, then split");
		is_str(c->deployments[0].api_base, "https://proxy.example.com/v1", "api_base from env");
		is_str(c->deployments[0].base_model, "gpt-4o-2024-08-06", "quoted base_model from env");
		is_int(c->deployments[0].timeout_ms, 2500, "timeout from env");
		ok(c->deployments[0].api_key == NULL, "an unset api_key variable is no key");
		warned(c, pre, "11: model_list[0].litellm_params.api_key: environment variable "
		    "TG_TEST_UNSET_KEY is not set; 'a' is called without a key");
		is_int(count_lines(c->warnings), 2, "two warnings");
		config_free(c);
	} else
		skip(10, "env.yaml did not load");

	c = load_text("odd-master.yaml",
	    "model_list:\n"
	    "  - model_name: a\n"
	    "    litellm_params: {model: a}\n"
	    "litellm_settings:\n"
	    "  master_key: sk-odd\n"
	    "  num_retries: 3\n", pre, sizeof(pre));
	if (c != NULL) {
		is_str(c->master_key, "sk-odd", "master_key under litellm_settings is used");
		warned(c, pre, "5: litellm_settings.master_key: master_key belongs under "
		    "general_settings; used anyway");
		is_int(c->router.num_retries, 3, "litellm_settings.num_retries is the router's");
		ok(strstr(c->warnings, "num_retries") == NULL, "  and not reported");
		config_free(c);
	} else
		skip(4, "odd-master.yaml did not load");

	c = load_text("two-masters.yaml",
	    "litellm_settings:\n"
	    "  master_key: sk-odd\n"
	    "general_settings:\n"
	    "  master_key: sk-right\n"
	    "model_list:\n", pre, sizeof(pre));
	if (c != NULL) {
		is_str(c->master_key, "sk-right", "general_settings.master_key wins");
		warned(c, pre, "2: litellm_settings.master_key is ignored: general_settings.master_key "
		    "is set");
		warned(c, pre, "5: no models configured");
		config_free(c);
	} else
		skip(3, "two-masters.yaml did not load");

	c = load_text("ignored.yaml",
	    "credential_list:\n"
	    "  - credential_name: azure\n"
	    "    credential_info: {description: unused}\n"
	    "router_settings:\n"
	    "  redis_password: os.environ/TG_TEST_UNSET_REDIS\n"
	    "files_settings: ~\n"
	    "tollgate:\n"
	    "  colour: blue\n"
	    "health_check: true\n"
	    "x-anything: {a: 1}\n"
	    "model_list:\n"
	    "  - model_name: a\n"
	    "    extra: 1\n"
	    "    litellm_params:\n"
	    "      model: a\n"
	    "      rpm: 10\n"
	    "      tpm: 1000\n"
	    "      aws_region_name: eu-west-1\n"
	    "      custom_llm_provider: azure\n"
	    "  - model_name: b\n"
	    "    litellm_params:\n"
	    "      model: b\n"
	    "      custom_llm_provider: azure\n"
	    "litellm_settings:\n"
	    "  drop_params: [openai]\n"
	    "general_settings:\n"
	    "  enforce_fallback_model_access: sometimes\n", pre, sizeof(pre));
	if (c != NULL) {
		ok(c->ncredentials == 1 && strcmp(c->credentials[0].name, "azure") == 0,
		    "credential_list is read, credential_info silently");
		warned(c, pre, "25: litellm_settings.drop_params: expected true or false, got a list; "
		    "ignored");
		ok(c->drop_params == 0, "a drop_params that is not a boolean leaves the default");
		warned(c, pre, "27: general_settings.enforce_fallback_model_access: expected true or "
		    "false, got 'sometimes'; ignored");
		ok(c->router.fallback_access == 0, "  and so does enforce_fallback_model_access");
		warned(c, pre, "5: router_settings.redis_password: environment variable "
		    "TG_TEST_UNSET_REDIS is not set");
		warned(c, pre, "8: unknown key 'tollgate.colour', ignored");
		warned(c, pre, "9: unknown top-level key 'health_check', ignored");
		warned(c, pre, "13: model_list.extra is not implemented by tollgate, ignored");
		warned(c, pre, "19: litellm_params.custom_llm_provider is not implemented by tollgate, "
		    "ignored");
		is_int(count_lines(c->warnings), 7, "7 warnings: each key once, quiet params quiet, "
		    "null sections and x- keys silent");
		config_free(c);
	} else
		skip(7, "ignored.yaml did not load");
}

/* ---- router_settings ---------------------------------------------------------------- */

/* The fallback entry of list for model, or NULL. */
static const struct config_fallback *
fallback(const struct config_fallback *list, size_t n, const char *model)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].model, model) == 0)
			return &list[i];
	return NULL;
}

/* Does f go to exactly these groups, in order (NULL-terminated)? */
static int
goes_to(const struct config_fallback *f, ...)
{
	const char *want;
	va_list ap;
	size_t i = 0;
	int same = f != NULL;

	va_start(ap, f);
	while (same && (want = va_arg(ap, const char *)) != NULL)
		same = i < f->nto && strcmp(f->to[i++], want) == 0;
	va_end(ap);
	return same && i == f->nto;
}

#define ROUTER_MODELS	"model_list:\n" \
	"  - {model_name: m, litellm_params: {model: openai/m}}\n" \
	"  - {model_name: n, litellm_params: {model: openai/n}}\n" \
	"  - {model_name: o, litellm_params: {model: openai/o}}\n"

static void
test_router_defaults(void)
{
	const struct config_router *r;
	struct config *c;
	char pre[300];
	int i, all = 1;

	c = load_text("router-none.yaml", ROUTER_MODELS, pre, sizeof(pre));
	if (c == NULL) {
		skip(12, "router-none.yaml did not load");
		return;
	}
	r = &c->router;
	ok(r->strategy == CONFIG_ROUTE_SHUFFLE, "no router_settings: simple-shuffle");
	is_int(r->num_retries, 2, "  num_retries 2");
	for (i = 0; i < CONFIG_FAIL_COUNT; i++)
		all = all && r->retry_policy[i] == -1;
	ok(all, "  retry_policy: every class by num_retries (-1)");
	is_int(r->retry_after_ms, 0, "  retry_after 0");
	is_int(r->allowed_fails, 3, "  allowed_fails 3");
	is_int(r->cooldown_ms, 5000, "  cooldown_time 5 s");
	ok(!r->disable_cooldowns && !r->pre_call_checks, "  cooldowns on, no pre-call checks");
	is_int(r->max_fallbacks, 5, "  max_fallbacks 5");
	ok(!r->fallback_access, "  fallbacks serve any key (no enforce_fallback_model_access)");
	is_int(r->latency_buffer_milli, 0, "  lowest_latency_buffer 0");
	ok(r->nfallbacks == 0 && r->ncontext_fallbacks == 0 && r->npolicy_fallbacks == 0 &&
	    r->ndefault_fallbacks == 0 && r->fallbacks == NULL && r->default_fallbacks == NULL,
	    "  no fallbacks");
	ok(c->deployments[0].weight == 0 && c->deployments[0].order == 0 &&
	    c->deployments[0].model_id == NULL, "  a deployment without weight, order or id");
	ok(c->warnings == NULL, "  no warnings");
	config_free(c);
}

static void
test_router_keys(void)
{
	const struct config_deployment *d;
	const struct config_router *r;
	const struct config_fallback *f;
	struct config *c;
	char pre[300];

	c = load_text("router.yaml",
	    "model_list:\n"						/* 1 */
	    "  - model_name: gpt-4o\n"
	    "    litellm_params: {model: openai/gpt-4o, weight: 3, order: 1}\n"
	    "    model_info: {id: dep-a}\n"
	    "  - model_name: gpt-4o\n"					/* 5 */
	    "    litellm_params:\n"
	    "      model: azure/gpt-4o\n"
	    "      api_base: https://x.openai.azure.com\n"
	    "      weight: 0\n"
	    "      order: 2\n"						/* 10 */
	    "      model_info: {id: 42}\n"
	    "  - {model_name: claude-sonnet, litellm_params: {model: anthropic/claude-sonnet-4-5, "
	    "weight: 1_000}}\n"
	    "  - {model_name: gpt-4o-mini, litellm_params: {model: openai/gpt-4o-mini, order: ~}}\n"
	    "router_settings:\n"
	    "  routing_strategy: latency-based-routing\n"		/* 15 */
	    "  routing_strategy_args: {lowest_latency_buffer: 0.5, ttl: 10}\n"
	    "  num_retries: 4\n"
	    "  retry_policy:\n"
	    "    TimeoutErrorRetries: 1\n"
	    "    RateLimitErrorRetries: 5\n"				/* 20 */
	    "    InternalServerErrorRetries: 2\n"
	    "    ContentPolicyViolationErrorRetries: 0\n"
	    "    AuthenticationErrorRetries: 0\n"
	    "    BadRequestErrorRetries: ~\n"
	    "  retry_after: 1.5\n"					/* 25 */
	    "  allowed_fails: 1\n"
	    "  cooldown_time: 30\n"
	    "  disable_cooldowns: true\n"
	    "  enable_pre_call_checks: yes\n"
	    "  max_fallbacks: 2\n"					/* 30 */
	    "  fallbacks: [{\"gpt-4o\": [\"claude-sonnet\", \"gpt-4o-mini\"]}, {claude-sonnet: gpt-4o}]\n"
	    "  context_window_fallbacks:\n"
	    "    - gpt-4o-mini: [gpt-4o]\n"
	    "      gpt-4o: claude-sonnet\n"
	    "  content_policy_fallbacks: [{\"*\": [claude-sonnet]}]\n"	/* 35 */
	    "  default_fallbacks: [gpt-4o-mini, claude-sonnet]\n"
	    "  redis_host: r.example\n"
	    "  timeout: 30\n"
	    "  model_group_alias: {gpt4: gpt-4o}\n"
	    "general_settings: {enforce_fallback_model_access: true}\n", pre, sizeof(pre));	/* 40 */
	if (c == NULL) {
		skip(32, "router.yaml did not load");
		return;
	}
	r = &c->router;
	ok(r->strategy == CONFIG_ROUTE_LATENCY, "routing_strategy latency-based-routing");
	is_int(r->latency_buffer_milli, 500, "routing_strategy_args.lowest_latency_buffer 0.5: 500");
	is_int(r->num_retries, 4, "num_retries");
	ok(r->retry_policy[CONFIG_FAIL_TIMEOUT] == 1 && r->retry_policy[CONFIG_FAIL_RATE_LIMIT] == 5 &&
	    r->retry_policy[CONFIG_FAIL_SERVER] == 2 && r->retry_policy[CONFIG_FAIL_CONTENT_POLICY] == 0 &&
	    r->retry_policy[CONFIG_FAIL_AUTH] == 0, "retry_policy: each LiteLLM key to its class");
	ok(r->retry_policy[CONFIG_FAIL_BAD_REQUEST] == -1 &&
	    r->retry_policy[CONFIG_FAIL_CONTEXT_WINDOW] == -1 &&
	    r->retry_policy[CONFIG_FAIL_NOT_FOUND] == -1, "retry_policy: null and unnamed stay -1");
	is_int(r->retry_after_ms, 1500, "retry_after 1.5 s");
	is_int(r->allowed_fails, 1, "allowed_fails");
	is_int(r->cooldown_ms, 30000, "cooldown_time 30 s");
	ok(r->disable_cooldowns == 1 && r->pre_call_checks == 1,
	    "disable_cooldowns true, enable_pre_call_checks yes");
	is_int(r->max_fallbacks, 2, "max_fallbacks");
	is_int((long long)r->nfallbacks, 2, "fallbacks: two entries");
	ok(goes_to(fallback(r->fallbacks, r->nfallbacks, "gpt-4o"), "claude-sonnet", "gpt-4o-mini",
	    (char *)NULL), "fallbacks: gpt-4o to claude-sonnet, then gpt-4o-mini");
	ok(goes_to(fallback(r->fallbacks, r->nfallbacks, "claude-sonnet"), "gpt-4o", (char *)NULL),
	    "fallbacks: one name is a list of one");
	f = fallback(r->fallbacks, r->nfallbacks, "gpt-4o");
	ok(f != NULL && f->line == 31 && strstr(f->file, "router.yaml") != NULL,
	    "a fallback entry keeps its file and line");
	is_int((long long)r->ncontext_fallbacks, 2, "context_window_fallbacks: a map of two keys is two");
	ok(goes_to(fallback(r->context_fallbacks, r->ncontext_fallbacks, "gpt-4o-mini"), "gpt-4o",
	    (char *)NULL) && goes_to(fallback(r->context_fallbacks, r->ncontext_fallbacks, "gpt-4o"),
	    "claude-sonnet", (char *)NULL), "context_window_fallbacks: both entries");
	ok(r->npolicy_fallbacks == 1 && goes_to(fallback(r->policy_fallbacks, r->npolicy_fallbacks,
	    "*"), "claude-sonnet", (char *)NULL), "content_policy_fallbacks: * for every group");
	ok(r->ndefault_fallbacks == 2 && strcmp(r->default_fallbacks[0], "gpt-4o-mini") == 0 &&
	    strcmp(r->default_fallbacks[1], "claude-sonnet") == 0, "default_fallbacks: a list");
	is_str(c->tollgate.redis_url, "redis://r.example:6379", "redis_host still names the Redis");
	ok(r->fallback_access == 1, "general_settings.enforce_fallback_model_access: true");

	if (is_int((long long)c->ndeployments, 4, "four deployments")) {
		d = &c->deployments[0];
		ok(d->weight == 3 && d->order == 1, "litellm_params.weight 3, order 1");
		is_str(d->model_id, "dep-a", "model_info.id");
		d = &c->deployments[1];
		ok(d->weight == 0 && d->order == 2, "weight 0 (none), order 2");
		is_str(d->model_id, "42", "model_info.id inside litellm_params, a number as text");
		is_int(c->deployments[2].weight, 1000, "weight 1_000");
		ok(c->deployments[3].order == 0 && c->deployments[3].model_id == NULL,
		    "order: ~ is none");
	} else
		skip(6, "wrong deployment count");

	warned(c, pre, "16: router_settings.routing_strategy_args.ttl is not implemented by "
	    "tollgate, ignored");
	warned(c, pre, "38: router_settings.timeout is not implemented by tollgate, ignored");
	warned(c, pre, "39: router_settings.model_group_alias is not implemented by tollgate, "
	    "ignored");
	is_int(count_lines(c->warnings), 3, "3 warnings: none of weight, order, id or a router key");
	ok(strstr(c->warnings, "weight") == NULL && strstr(c->warnings, "order") == NULL &&
	    strstr(c->warnings, "names no model") == NULL, "  weight, order and known fallbacks quiet");
	config_free(c);

	c = load_text("router-one.yaml", ROUTER_MODELS "router_settings:\n"
	    "  default_fallbacks: n\n  routing_strategy: usage-based-routing\n"
	    "  content_policy_fallbacks: [{m: o}]\n", pre, sizeof(pre));
	if (c == NULL) {
		skip(4, "router-one.yaml did not load");
		return;
	}
	ok(c->router.ndefault_fallbacks == 1 && strcmp(c->router.default_fallbacks[0], "n") == 0,
	    "default_fallbacks: one name");
	ok(goes_to(fallback(c->router.policy_fallbacks, c->router.npolicy_fallbacks, "m"), "o",
	    (char *)NULL), "content_policy_fallbacks: a name for a list");
	ok(c->router.strategy == CONFIG_ROUTE_USAGE, "usage-based-routing is the usage strategy");
	ok(c->warnings == NULL, "no warnings");
	config_free(c);
}

/* litellm_settings' router keys count where router_settings is silent, whatever comes first. */
static void
test_router_litellm(void)
{
	static const char litellm[] = "litellm_settings:\n  num_retries: 7\n"
	    "  fallbacks: [{m: [n]}]\n  context_window_fallbacks: [{m: n}]\n"
	    "  content_policy_fallbacks: [{m: [o]}]\n  default_fallbacks: n\n";
	static const char router[] = "router_settings:\n  num_retries: 1\n"
	    "  fallbacks: [{m: [o, n]}]\n  default_fallbacks: ~\n";
	const struct config_router *r;
	struct config *c;
	char pre[300], text[1024];
	int pass;

	c = load_text("litellm-router.yaml", ROUTER_MODELS "router_settings:\n"
	    "  routing_strategy: least-busy\n"
	    "litellm_settings:\n  num_retries: 7\n  fallbacks: [{m: [n, zzz]}]\n"
	    "  context_window_fallbacks: [{m: n}]\n  content_policy_fallbacks: [{m: [o]}]\n"
	    "  default_fallbacks: n\n", pre, sizeof(pre));
	if (c != NULL) {
		r = &c->router;
		ok(r->strategy == CONFIG_ROUTE_LEAST_BUSY, "router_settings' routing_strategy");
		is_int(r->num_retries, 7, "litellm_settings.num_retries where router_settings is silent");
		ok(goes_to(fallback(r->fallbacks, r->nfallbacks, "m"), "n", "zzz", (char *)NULL) &&
		    goes_to(fallback(r->context_fallbacks, r->ncontext_fallbacks, "m"), "n",
		    (char *)NULL) && goes_to(fallback(r->policy_fallbacks, r->npolicy_fallbacks, "m"),
		    "o", (char *)NULL), "litellm_settings' three fallback lists");
		ok(r->ndefault_fallbacks == 1 && strcmp(r->default_fallbacks[0], "n") == 0,
		    "litellm_settings.default_fallbacks");
		warned(c, pre, "9: litellm_settings.fallbacks: 'zzz' names no model in model_list");
		is_int(count_lines(c->warnings), 1, "  the one warning: none of the keys is reported");
		config_free(c);
	} else
		skip(6, "litellm-router.yaml did not load");

	for (pass = 0; pass < 2; pass++) {
		snprintf(text, sizeof(text), "%s%s%s", ROUTER_MODELS, pass == 0 ? litellm : router,
		    pass == 0 ? router : litellm);
		c = load_text(pass == 0 ? "both-litellm-first.yaml" : "both-router-first.yaml", text,
		    pre, sizeof(pre));
		if (c == NULL) {
			skip(5, "did not load");
			continue;
		}
		r = &c->router;
		is_int(r->num_retries, 1, "%s first: router_settings.num_retries wins",
		    pass == 0 ? "litellm_settings" : "router_settings");
		ok(r->nfallbacks == 1 && goes_to(fallback(r->fallbacks, r->nfallbacks, "m"), "o", "n",
		    (char *)NULL), "  router_settings.fallbacks wins");
		ok(goes_to(fallback(r->context_fallbacks, r->ncontext_fallbacks, "m"), "n",
		    (char *)NULL), "  litellm_settings' context_window_fallbacks where router's are silent");
		ok(r->ndefault_fallbacks == 1 && strcmp(r->default_fallbacks[0], "n") == 0,
		    "  a null router_settings.default_fallbacks says nothing: litellm_settings'");
		ok(c->warnings == NULL, "  no warnings");
		config_free(c);
	}
}

/* Bad values are warnings naming file:line and the key; the defaults stay. */
static void
test_router_bad(void)
{
	static const char *const want[] = {
		"5: model_list[0].litellm_params.weight: expected a whole number from 0, got '1.5'; "
		"ignored",
		"6: model_list[0].litellm_params.order: expected a whole number from 1, got '0'; ignored",
		"7: model_list[0].model_info.id: expected a string, got a list; ignored",
		"9: model_list[1].litellm_params.weight: expected a whole number from 0, got '-1'; "
		"ignored",
		"9: model_list[1].litellm_params.order: expected a whole number from 1, got 'first'; "
		"ignored",
		"11: router_settings.routing_strategy: expected simple-shuffle, least-busy, "
		"latency-based-routing, usage-based-routing, usage-based-routing-v2 or "
		"cost-based-routing, got 'fastest'; simple-shuffle is used",
		"12: router_settings.num_retries: expected a whole number from 0, got '-1'; ignored",
		"13: router_settings.retry_policy.TimeoutErrorRetries: expected a whole number from 0, "
		"got 'many'; ignored",
		"13: unknown key 'router_settings.retry_policy.NotARetries', ignored",
		"14: router_settings.retry_after: expected a number of seconds such as 5 or 0.5, up to "
		"a day, got 'soon'; ignored",
		"15: router_settings.allowed_fails: expected a whole number from 0, got '2.5'; ignored",
		"16: router_settings.cooldown_time: expected a number of seconds such as 5 or 0.5, up "
		"to a day, got '-5'; ignored",
		"17: router_settings.disable_cooldowns: expected true or false, got 'maybe'; ignored",
		"18: router_settings.enable_pre_call_checks: expected true or false, got a list; ignored",
		"19: router_settings.max_fallbacks: environment variable TG_TEST_UNSET_MAX is not set; "
		"ignored",
		"20: router_settings.routing_strategy_args.lowest_latency_buffer: expected a fraction "
		"such as 0.5, got 'half'; ignored",
		"22: router_settings.fallbacks[0]: expected a map of model to list of models, got 'm'; "
		"ignored",
		"23: router_settings.fallbacks[1].m: expected a model name or a list of them, got a "
		"mapping; ignored",
		"24: router_settings.fallbacks[2].m[1]: expected a model name, got a list; ignored",
		"24: router_settings.fallbacks[2].m[2]: expected a model name, got nothing; ignored",
		"25: router_settings.fallbacks: 'ghost' names no model in model_list",
		"26: router_settings.fallbacks: 'ghost2' names no model in model_list",
		"27: router_settings.context_window_fallbacks: expected a list of {model: [models]}, "
		"got a mapping; ignored",
		"28: router_settings.default_fallbacks: expected a model name or a list of them, got a "
		"mapping; ignored",
	};
	const struct config_router *r;
	struct config *c;
	char pre[300];
	size_t i;
	int all = 1;

	unsetenv("TG_TEST_UNSET_MAX");
	c = load_text("router-bad.yaml",
	    "model_list:\n"						/* 1 */
	    "  - model_name: m\n"
	    "    litellm_params:\n"
	    "      model: openai/m\n"
	    "      weight: 1.5\n"						/* 5 */
	    "      order: 0\n"
	    "    model_info: {id: [x]}\n"
	    "  - model_name: n\n"
	    "    litellm_params: {model: openai/n, weight: -1, order: first}\n"
	    "router_settings:\n"					/* 10 */
	    "  routing_strategy: fastest\n"
	    "  num_retries: -1\n"
	    "  retry_policy: {TimeoutErrorRetries: many, NotARetries: 1}\n"
	    "  retry_after: soon\n"
	    "  allowed_fails: 2.5\n"					/* 15 */
	    "  cooldown_time: -5\n"
	    "  disable_cooldowns: maybe\n"
	    "  enable_pre_call_checks: [1]\n"
	    "  max_fallbacks: os.environ/TG_TEST_UNSET_MAX\n"
	    "  routing_strategy_args: {lowest_latency_buffer: half}\n"	/* 20 */
	    "  fallbacks:\n"
	    "    - m\n"
	    "    - {m: {n: 1}}\n"
	    "    - {m: [n, [x], ~]}\n"
	    "    - {m: [ghost]}\n"					/* 25 */
	    "    - {ghost2: n}\n"
	    "  context_window_fallbacks: {m: n}\n"
	    "  default_fallbacks: {a: b}\n"
	    "general_settings: {}\n", pre, sizeof(pre));
	if (c == NULL) {
		skip(29, "router-bad.yaml did not load");
		return;
	}
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		warned(c, pre, want[i]);
	is_int(count_lines(c->warnings), (long long)(sizeof(want) / sizeof(want[0])),
	    "each bad value once, nothing else");
	r = &c->router;
	for (i = 0; i < CONFIG_FAIL_COUNT; i++)
		all = all && r->retry_policy[i] == -1;
	ok(r->strategy == CONFIG_ROUTE_SHUFFLE && r->num_retries == 2 && all &&
	    r->retry_after_ms == 0 && r->allowed_fails == 3 && r->cooldown_ms == 5000 &&
	    !r->disable_cooldowns && !r->pre_call_checks && r->max_fallbacks == 5 &&
	    r->latency_buffer_milli == 0, "the defaults stay");
	ok(r->nfallbacks == 3 && goes_to(&r->fallbacks[0], "n", (char *)NULL) &&
	    goes_to(&r->fallbacks[1], "ghost", (char *)NULL) &&
	    goes_to(&r->fallbacks[2], "n", (char *)NULL) &&
	    strcmp(r->fallbacks[2].model, "ghost2") == 0,
	    "the good entries and names are kept, unknown groups too");
	ok(r->ncontext_fallbacks == 0 && r->ndefault_fallbacks == 0, "bad lists are none");
	ok(c->deployments[0].weight == 0 && c->deployments[0].order == 0 &&
	    c->deployments[0].model_id == NULL && c->deployments[1].weight == 0 &&
	    c->deployments[1].order == 0, "bad weight, order and id are none");
	config_free(c);

	c = load_text("router-maps.yaml", ROUTER_MODELS "router_settings:\n  retry_policy: 3\n"
	    "  routing_strategy_args: [a]\n", pre, sizeof(pre));
	if (c != NULL) {
		warned(c, pre, "6: router_settings.retry_policy: expected a mapping such as "
		    "{RateLimitErrorRetries: 3}, got '3'; ignored");
		warned(c, pre, "7: router_settings.routing_strategy_args: expected a mapping such as "
		    "{lowest_latency_buffer: 0.5}, got a list; ignored");
		config_free(c);
	} else
		skip(2, "router-maps.yaml did not load");
}

/* ---- includes ------------------------------------------------------------------------- */

/* TLS files are beside the config and keep their line; metrics_listen's forms. */
static void
test_listeners(void)
{
	static const struct {
		const char	*text;
		const char	*host;	/* NULL: listen's */
		int		 port;
	} addrs[] = {
		{ "9464", NULL, 9464 },
		{ "10.0.0.5:9100", "10.0.0.5", 9100 },
		{ "'[::1]:9464'", "::1", 9464 },
		{ "metrics.internal:80", "metrics.internal", 80 },
	};
	struct config *c;
	char pre[300], text[512], want[300];
	size_t i;

	c = load_text("tls.yaml", "model_list: [{model_name: m, litellm_params: {model: openai/m}}]\n"
	    "tollgate:\n  tls:\n    cert_file: certs/cert.pem\n    key_file: /etc/ssl/key.pem\n"
	    "    min_version: TLSv1.3\n", pre, sizeof(pre));
	if (c == NULL) {
		skip(7, "tls.yaml did not load");
		return;
	}
	snprintf(want, sizeof(want), "%s/certs/cert.pem", tmpdir);
	is_str(c->tollgate.tls_cert_file, want, "tls.cert_file: relative to the config's directory");
	is_str(c->tollgate.tls_key_file, "/etc/ssl/key.pem", "tls.key_file: absolute, as written");
	snprintf(want, sizeof(want), "%s/tls.yaml", tmpdir);
	ok(c->tollgate.tls_cert_at.file && strcmp(c->tollgate.tls_cert_at.file, want) == 0 &&
	    c->tollgate.tls_cert_at.line == 4, "the certificate's key keeps its file and line");
	is_int(c->tollgate.tls_key_at.line, 5, "and the key's");
	is_int(c->tollgate.tls_min_version, 3, "tls.min_version TLSv1.3");
	is_int(c->tollgate.metrics_port, 0, "no metrics_listen by default");
	ok(c->warnings == NULL, "no warnings");
	config_free(c);

	c = load_text("plain.yaml", "model_list: [{model_name: m, litellm_params: {model: openai/m}}]\n",
	    pre, sizeof(pre));
	if (c != NULL) {
		ok(c->tollgate.tls_cert_file == NULL && c->tollgate.tls_key_file == NULL &&
		    c->tollgate.tls_min_version == 2, "by default: no TLS, and TLSv1.2 when there is");
		config_free(c);
	}
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		snprintf(text, sizeof(text), "model_list: [{model_name: m, litellm_params: "
		    "{model: openai/m}}]\ntollgate:\n  metrics:\n    listen: %s\n    auth: true\n",
		    addrs[i].text);
		if ((c = load_text("metrics.yaml", text, pre, sizeof(pre))) == NULL)
			continue;
		ok(addrs[i].host ? c->tollgate.metrics_listen &&
		    strcmp(c->tollgate.metrics_listen, addrs[i].host) == 0 :
		    c->tollgate.metrics_listen == NULL, "metrics.listen %s: the address", addrs[i].text);
		ok(c->tollgate.metrics_port == addrs[i].port && c->tollgate.metrics_auth,
		    "metrics.listen %s: port %d, and metrics.auth", addrs[i].text, addrs[i].port);
		config_free(c);
	}
}

/* export: and ledger: groups are the same keys as export_* and ledger_*. */
static void
test_groups(void)
{
	struct config *c;
	char pre[300];

	c = load_text("groups.yaml", "model_list: [{model_name: m, litellm_params: {model: openai/m}}]\n"
	    "tollgate:\n  export:\n    dir: /tmp/exports\n    interval: 5m\n"
	    "    url: https://spend.example.com/in\n  ledger:\n    retention: 30d\n"
	    "    path: /srv/ledger\n", pre, sizeof(pre));
	if (c == NULL) {
		skip(6, "groups.yaml did not load");
		return;
	}
	is_str(c->tollgate.export_dir, "/tmp/exports", "export.dir");
	is_int(c->tollgate.export_interval_ms, 300000, "export.interval 5m");
	is_str(c->tollgate.export_url, "https://spend.example.com/in", "export.url");
	is_int(c->tollgate.ledger_retention_ms, 30LL * 86400000, "ledger.retention 30d");
	is_str(c->tollgate.ledger_path, "/srv/ledger", "ledger.path");
	ok(c->warnings == NULL, "no warnings");
	config_free(c);

	c = load_text("budgets.yaml", "model_list: [{model_name: m, litellm_params: {model: openai/m}}]\n"
	    "tollgate:\n  budget_timezone: Europe/Berlin\n  default_max_tokens: 1024\n"
	    "  budgets:\n    - {scope: team, name: research, max_budget: 100.25, "
	    "budget_duration: 1mo, soft_budget: 80}\n    - scope: global\n      max_budget: 1_000\n",
	    pre, sizeof(pre));
	if (c == NULL) {
		skip(8, "budgets.yaml did not load");
		return;
	}
	is_int((long long)c->tollgate.nbudgets, 2, "two budgets");
	ok(c->tollgate.budgets[0].scope == CONFIG_BUDGET_TEAM &&
	    strcmp(c->tollgate.budgets[0].name, "research") == 0, "a team budget named research");
	is_int(c->tollgate.budgets[0].max_budget, 100250000000000LL, "max_budget 100.25 exactly, in pico");
	is_int(c->tollgate.budgets[0].soft_budget, 80000000000000LL, "soft_budget 80");
	ok(c->tollgate.budgets[0].has_window && c->tollgate.budgets[0].window.unit == WINDOW_MONTHS &&
	    c->tollgate.budgets[0].window.n == 1, "budget_duration 1mo");
	ok(c->tollgate.budgets[1].scope == CONFIG_BUDGET_GLOBAL && c->tollgate.budgets[1].name == NULL &&
	    !c->tollgate.budgets[1].has_window && c->tollgate.budgets[1].max_budget == 1000000000000000LL,
	    "a global budget of 1_000 dollars for ever");
	is_str(c->tollgate.budget_timezone, "Europe/Berlin", "budget_timezone");
	ok(c->tollgate.nalerts_thresholds == 3 && c->tollgate.alerts_thresholds[0] == 50 &&
	    c->tollgate.alerts_thresholds[2] == 100 && c->tollgate.alerts_daily_summary &&
	    c->tollgate.nalerts_channels == 0, "alerts default to 50, 80, 100, a daily summary, "
	    "no channels");
	is_int(c->tollgate.default_max_tokens, 1024, "default_max_tokens");
	ok(c->tollgate.provider_cost_prefer == 0 && c->tollgate.cost_mismatch_ppm == 10000,
	    "provider_cost compare, cost_mismatch_threshold 1%% (10000 millionths) by default");
	config_free(c);
	c = load_text("provider-cost.yaml", "model_list: []\ntollgate:\n  provider_cost: prefer\n"
	    "  cost_mismatch_threshold: 0.125%\n", pre, sizeof(pre));
	ok(c != NULL && c->tollgate.provider_cost_prefer == 1 && c->tollgate.cost_mismatch_ppm == 1250,
	    "provider_cost prefer, cost_mismatch_threshold 0.125%% exactly (1250 millionths)");
	config_free(c);
	c = load_text("provider-cost-2.yaml", "model_list: []\ntollgate:\n  cost_mismatch_threshold: 0.05\n",
	    pre, sizeof(pre));
	ok(c != NULL && c->tollgate.cost_mismatch_ppm == 50000, "cost_mismatch_threshold 0.05: 5%%");
	config_free(c);

	c = load_text("alerts.yaml", "model_list: [{model_name: m, litellm_params: {model: openai/m}}]\n"
	    "tollgate:\n  alerts:\n    thresholds: [90, 25]\n    daily_summary: off\n"
	    "    channels:\n      - {type: slack, url: 'https://hooks.example.com/T/B/x'}\n"
	    "      - {type: email, url: 'smtps://mail:465', from: t@example.com, to: ops@example.com}\n",
	    pre, sizeof(pre));
	if (c == NULL) {
		skip(4, "alerts.yaml did not load");
		return;
	}
	ok(c->tollgate.nalerts_thresholds == 2 && c->tollgate.alerts_thresholds[0] == 25 &&
	    c->tollgate.alerts_thresholds[1] == 90, "thresholds sorted: 25, 90");
	ok(!c->tollgate.alerts_daily_summary, "daily_summary: off");
	ok(c->tollgate.nalerts_channels == 2 && c->tollgate.alerts_channels[0].type ==
	    CONFIG_CHANNEL_SLACK, "two channels, the first Slack");
	ok(c->tollgate.alerts_channels[1].type == CONFIG_CHANNEL_EMAIL &&
	    c->tollgate.alerts_channels[1].nto == 1 &&
	    strcmp(c->tollgate.alerts_channels[1].to[0], "ops@example.com") == 0 &&
	    strcmp(c->tollgate.alerts_channels[1].from, "t@example.com") == 0,
	    "an email channel with one recipient");
	config_free(c);

	c = load_text("flat.yaml", "model_list: [{model_name: m, litellm_params: {model: openai/m}}]\n"
	    "tollgate:\n  ledger_retention: 0\n  export_dir: /tmp/x\n", pre, sizeof(pre));
	if (c == NULL) {
		skip(3, "flat.yaml did not load");
		return;
	}
	is_int(c->tollgate.ledger_retention_ms, 0, "ledger_retention 0: for ever");
	is_str(c->tollgate.export_dir, "/tmp/x", "flat export_dir");
	ok(c->tollgate.export_url == NULL, "no export url by default");
	config_free(c);
}

static void
test_includes(void)
{
	struct config *c = NULL;
	char err[1024], want[2600], name[32], text[128], pre[256], including[1100];
	int i;

	c = (struct config *)1;
	ok(config_load(fixture("cycle-a.yaml"), &c, err, sizeof(err)) == -1 && c == NULL,
	    "an include cycle is refused");
	snprintf(including, sizeof(including), "%s", fixture("cycle-b.yaml"));
	snprintf(want, sizeof(want), "%s:3: include '%s': include cycle, the file is already being "
	    "loaded", including, fixture("cycle-a.yaml"));
	is_str(err, want, "include cycle: the error names the include: line");

	ok(config_load(fixture("missing-include.yaml"), &c, err, sizeof(err)) == -1,
	    "a missing include is refused");
	snprintf(including, sizeof(including), "%s", fixture("missing-include.yaml"));
	snprintf(want, sizeof(want), "%s:6: cannot read include '%s': No such file or directory",
	    including, fixture("no-such-file.yaml"));
	is_str(err, want, "missing include: the error names the include: line");

	write_file("sub/dir.yaml", "model_list: []\n");
	ok(config_load(write_file("include-dir.yaml", "include: sub\n"), &c, err, sizeof(err)) == -1,
	    "including a directory is refused");
	snprintf(want, sizeof(want), "%s/include-dir.yaml:1: cannot read include '%s/sub': "
	    "Is a directory", tmpdir, tmpdir);
	is_str(err, want, "include of a directory: the error");

	/* d0 includes d1 ... includes d8: eight levels load, a ninth does not */
	for (i = 0; i <= 8; i++) {
		snprintf(name, sizeof(name), "d%d.yaml", i);
		if (i < 8)
			snprintf(text, sizeof(text), "include: [d%d.yaml]\nmodel_list:\n"
			    "  - {model_name: m%d, litellm_params: {model: m}}\n", i + 1, i);
		else
			snprintf(text, sizeof(text), "model_list:\n  - {model_name: m8, "
			    "litellm_params: {model: m}}\n");
		write_file(name, text);
	}
	c = NULL;
	snprintf(want, sizeof(want), "%s/d0.yaml", tmpdir);
	if (is_int(config_load(want, &c, err, sizeof(err)), 0, "includes 8 levels deep load")) {
		ok(c->ndeployments == 9 && strcmp(c->deployments[8].model_name, "m8") == 0,
		    "each level's models, outermost first");
		config_free(c);
	} else {
		diag("%s", err);
		skip(1, "deep includes did not load");
	}
	write_file("d8.yaml", "include: [d9.yaml]\n");
	write_file("d9.yaml", "model_list: []\n");
	c = (struct config *)1;
	ok(config_load(want, &c, err, sizeof(err)) == -1 && c == NULL, "a ninth level is refused");
	snprintf(want, sizeof(want), "%s/d8.yaml:1: include '%s/d9.yaml': includes nested deeper "
	    "than 8", tmpdir, tmpdir);
	is_str(err, want, "include depth: the error");

	/* an include in a subdirectory: its paths are relative to it; its sections replace */
	write_file("sub/inc.yaml",
	    "general_settings:\n"
	    "  master_key: sk-from-include\n"
	    "tollgate:\n"
	    "  price_files: [p.yaml, ../q.yaml]\n"
	    "model_list:\n"
	    "  - model_name: included\n"
	    "    litellm_params: {model: openai/b}\n");
	c = load_text("parent.yaml",
	    "include: sub/inc.yaml\n"
	    "general_settings:\n"
	    "  master_key: sk-from-parent\n"
	    "  database_url: postgres://x\n"
	    "tollgate:\n"
	    "  port: 5000\n"
	    "model_list:\n"
	    "  - model_name: parent\n"
	    "    litellm_params: {model: openai/a}\n", pre, sizeof(pre));
	if (c != NULL) {
		is_str(c->master_key, "sk-from-include", "an included general_settings replaces the parent's");
		is_int(c->tollgate.port, 4000, "an included tollgate: replaces the parent's whole");
		snprintf(want, sizeof(want), "%s/sub/p.yaml", tmpdir);
		ok(c->tollgate.nprice_files == 2 && strcmp(c->tollgate.price_files[0], want) == 0,
		    "price_files relative to the file that names them");
		ok(c->ndeployments == 2 && strcmp(c->deployments[0].model_name, "parent") == 0 &&
		    strcmp(c->deployments[1].model_name, "included") == 0,
		    "the parent's models first, though include: comes first in the file");
		ok(c->warnings == NULL, "the replaced general_settings.database_url is not reported");
		config_free(c);
	} else
		skip(5, "parent.yaml did not load");
}

/* ---- the shipped example ---------------------------------------------------------------- */

static void
test_example(void)
{
	const char *root = getenv("TOLLGATE_SRC");
	const struct config_deployment *d;
	struct config *c = NULL;
	char path[4200], err[1024] = "";

	unsetenv("TOLLGATE_MASTER_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("AZURE_API_KEY");
	snprintf(path, sizeof(path), "%s/etc/tollgate.yaml", root ? root : ".");
	ok(config_load(path, &c, err, sizeof(err)) < 0 &&
	    strstr(err, "general_settings.master_key: environment variable TOLLGATE_MASTER_KEY is not set"),
	    "etc/tollgate.yaml refuses to load without TOLLGATE_MASTER_KEY: %s", err);
	setenv("TOLLGATE_MASTER_KEY", "sk-example", 1);
	if (!is_int(config_load(path, &c, err, sizeof(err)), 0,
	    "etc/tollgate.yaml loads with only the master key set")) {
		diag("%s", err);
		skip(9, "etc/tollgate.yaml did not load");
		unsetenv("TOLLGATE_MASTER_KEY");
		return;
	}
	ok(c->warnings != NULL && strstr(c->warnings, "OPENAI_API_KEY") &&
	    strstr(c->warnings, "ANTHROPIC_API_KEY"),
	    "etc/tollgate.yaml: unset provider keys are warnings");
	is_int((long long)c->ndeployments, 3, "etc/tollgate.yaml: the demo, gpt-4o and claude-sonnet-4-5");
	d = &c->deployments[0];
	ok(strcmp(d->model_name, "demo") == 0 && strcmp(d->provider, "openai") == 0 &&
	    strcmp(d->model, "gpt-4o-mini") == 0 && d->api_base != NULL &&
	    strcmp(d->api_base, "http://127.0.0.1:4001/v1") == 0 && d->api_key != NULL &&
	    strcmp(d->api_key, "mock") == 0, "the demo model is served by the mock provider");
	ok(c->ndeployments == 3 && strcmp(c->deployments[1].provider, "openai") == 0 &&
	    c->deployments[1].api_key == NULL && strcmp(c->deployments[2].provider, "anthropic") == 0,
	    "the real providers' deployments, without keys");
	ok(c->tollgate.port == 4000 && c->tollgate.workers == 0 &&
	    c->tollgate.ledger_map_size == 1LL << 30 && c->tollgate.ledger_sync_interval_ms == 1000 &&
	    c->tollgate.max_body_bytes == 10LL << 20 && c->tollgate.upstream_connect_timeout_ms == 10000 &&
	    c->tollgate.upstream_timeout_ms == 600000 && c->tollgate.client_timeout_ms == 60000 &&
	    c->tollgate.shutdown_timeout_ms == 30000 && c->tollgate.nkeys == 0 &&
	    c->tollgate.log_file == NULL && strcmp(c->tollgate.listen, "127.0.0.1") == 0 &&
	    strcmp(c->tollgate.ledger_path, "/var/lib/tollgate/ledger") == 0 &&
	    strcmp(c->tollgate.run_dir, "/run/tollgate") == 0,
	    "etc/tollgate.yaml writes out the defaults");
	ok(c->router.strategy == CONFIG_ROUTE_SHUFFLE && c->router.num_retries == 2 &&
	    c->router.retry_after_ms == 0 && c->router.allowed_fails == 3 &&
	    c->router.cooldown_ms == 5000 && !c->router.disable_cooldowns &&
	    !c->router.pre_call_checks && c->router.max_fallbacks == 5 && c->router.nfallbacks == 0,
	    "etc/tollgate.yaml writes out the router's defaults");
	ok(strstr(c->warnings, "router_settings") == NULL, "  and none of them is warned about");
	snprintf(path, sizeof(path), "%s/etc/prices.yaml", root ? root : ".");
	ok(c->tollgate.nprice_files == 1 && strcmp(c->tollgate.price_files[0], path) == 0,
	    "etc/tollgate.yaml: the price map beside it");
	ok(c->master_key != NULL && strcmp(c->master_key, "sk-example") == 0,
	    "etc/tollgate.yaml: the master key from the environment");
	config_free(c);
	unsetenv("TOLLGATE_MASTER_KEY");
}

int
main(void)
{
	const char *root = getenv("TOLLGATE_SRC");

	snprintf(fixtures, sizeof(fixtures), "%s/tests/data/config", root ? root : ".");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/t_config.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! cannot make a temporary directory: %s\n", strerror(errno));
		return 1;
	}
	test_litellm();
	test_defaults();
	test_yaml11();
	test_crlf_and_duplicates();
	test_prices();
	test_errors();
	test_environment();
	test_fleet();
	test_router_defaults();
	test_router_keys();
	test_router_litellm();
	test_router_bad();
	test_groups();
	test_listeners();
	test_includes();
	test_example();
	remove_created();
	return done_testing();
}
