/*
 * tollctl cost: prices one response body, recorded SSE stream, JSON-lines
 * event stream or bare usage object against the given price files, and
 * prints the breakdown as one JSON object.  The operator's tool for a
 * disputed charge, and the way tests exercise the pricing engine end to end.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cost.h"
#include "json.h"
#include "log.h"
#include "money.h"
#include "pricemap.h"
#include "sse.h"
#include "tollctl.h"
#include "usage.h"

#ifndef TOLLGATE_PRICES
#define TOLLGATE_PRICES "/etc/tollgate/prices.yaml"
#endif


static const char cost_help[] =
"usage: tollctl cost --prices FILE [--prices FILE ...] [--model NAME]\n"
"                    [--shape auto|openai|responses|anthropic|gemini|bedrock|deepseek|xai|cohere]\n"
"                    [--service-tier standard|flex|priority|fast|ultrafast] [--batch]\n"
"                    [--duration-ms N] [--quiet] [FILE|-]\n"
"\n"
"Prices what one request cost.  FILE (default: standard input) holds a provider's\n"
"response body (JSON), a recorded stream (SSE, or one JSON event per line), or a\n"
"bare usage object.  The usage shape is detected unless --shape names it.\n"
"\n"
"  --prices FILE       a price map: LiteLLM's JSON format or YAML with the same\n"
"                      fields; repeat to layer files, a later file's entry for a\n"
"                      model replaces an earlier one (default: " TOLLGATE_PRICES ",\n"
"                      or for a binary run from its build tree, the tree's etc/prices.yaml)\n"
"  --model NAME        the model to price as (default: the model the response names);\n"
"                      looked up exactly, then without provider prefixes\n"
"                      (azure/gpt-4o -> gpt-4o), then through base_model\n"
"  --shape SHAPE       how to read the usage (default: auto)\n"
"  --service-tier T    the tier the request asked for; the tier the response says it\n"
"                      served wins (default: standard); fast bills as priority\n"
"  --batch             a batch request: *_batches prices, else half of every price\n"
"  --duration-ms N     the request's duration, for per-second prices\n"
"  --quiet             do not report price-map fields that are not used for pricing\n"
"\n"
"Prints one JSON object: model, priced_as, cost_usd (exact decimal), cost and\n"
"rates per category (USD, USD per unit), tokens per category, flags.\n"
"Exit status: 0 priced; 1 bad arguments or unreadable, malformed input;\n"
"2 the model has no price (the object is printed with cost 0 and flag unpriced).\n";

struct cost_input {
	const char		*name;
	struct usage_raw	 raw;
	int			 events;	/* stream events with a JSON object */
	char			 err[256];
};

static void
offset_to_position(const char *buf, size_t at, int *line, int *col)
{
	size_t i, start = 0;

	*line = 1;
	for (i = 0; i < at; i++)
		if (buf[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*col = (int)(at - start) + 1;
}

static int
on_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct cost_input *in = arg;
	char msg[160];
	size_t at = 0, i;
	int l, c;

	(void)event;
	for (i = 0; i < len && strchr(" \t\r\n", data[i]); i++)
		;
	if (i == len || (len - i == 6 && memcmp(data + i, "[DONE]", 6) == 0))
		return 0;
	if (data[i] != '{') {
		snprintf(in->err, sizeof(in->err), "%s:%zu: event data is not a JSON object",
		    in->name, line);
		return -1;
	}
	if (usage_collect(&in->raw, data, len, msg, sizeof(msg), &at) < 0) {
		offset_to_position(data, at, &l, &c);
		snprintf(in->err, sizeof(in->err), "%s:%zu:%d: malformed JSON in event data: %s",
		    in->name, line + (size_t)l - 1, c, msg);
		return -1;
	}
	in->events++;
	return 0;
}

/* JSON lines: one event object per line (a decoded Bedrock event stream). */
static int
read_json_lines(struct cost_input *in, const char *buf, size_t len)
{
	size_t start = 0, line = 1;

	while (start < len) {
		const char *nl = memchr(buf + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - buf) : len;

		if (on_event(in, "", buf + start, end - start, line) < 0)
			return -1;
		start = end + 1;
		line++;
	}
	return 0;
}

static int
read_input(struct cost_input *in, const char *buf, size_t len)
{
	char msg[160];
	size_t i, at = 0;
	int line, col;

	for (i = 0; i < len && strchr(" \t\r\n", buf[i]); i++)
		;
	if (i == len) {
		snprintf(in->err, sizeof(in->err), "%s: empty input: expected a response body, "
		    "a stream or a usage object", in->name);
		return -1;
	}
	if (buf[i] == '{') {
		if (usage_collect(&in->raw, buf, len, msg, sizeof(msg), &at) == 0)
			return 0;
		/* a second object after the first: JSON lines, one event per line */
		if (strcmp(msg, "trailing characters after JSON value") == 0) {
			usage_raw_init(&in->raw);
			return read_json_lines(in, buf, len);
		}
		offset_to_position(buf, at, &line, &col);
		snprintf(in->err, sizeof(in->err), "%s:%d:%d: malformed JSON: %s", in->name,
		    line, col, msg);
		return -1;
	}
	if (strncmp(buf + i, "data:", 5) == 0 || strncmp(buf + i, "event:", 6) == 0 ||
	    buf[i] == ':' || strncmp(buf + i, "id:", 3) == 0) {
		struct sse sse;
		int rc;

		sse_init(&sse);
		rc = sse_feed(&sse, buf, len, on_event, in);
		if (rc == 0)
			rc = sse_finish(&sse, on_event, in);
		sse_release(&sse);
		if (rc < 0 && in->err[0] == '\0')
			snprintf(in->err, sizeof(in->err), "%s: out of memory", in->name);
		if (rc == 0 && in->events == 0) {
			snprintf(in->err, sizeof(in->err), "%s: the stream has no JSON events",
			    in->name);
			rc = -1;
		}
		return rc;
	}
	offset_to_position(buf, i, &line, &col);
	snprintf(in->err, sizeof(in->err), "%s:%d:%d: not JSON and not an SSE stream",
	    in->name, line, col);
	return -1;
}

static void
put_amount(struct buf *o, const char *key, money_sum v, int scale, int comma)
{
	char num[MONEY_FORMAT_MAX];

	buf_printf(o, "%s\"%s\": %s", comma ? ", " : "", key, money_format(v, scale, num));
}

static void
print_result(const struct usage *u, const char *model, const struct price_table *t,
    const struct price_entry *e, const struct cost *c)
{
	const int64_t tokens[] = {
		u->input, u->cache_read, u->cache_write_5m, u->cache_write_1h, u->output,
		u->reasoning, u->audio_in, u->audio_out, u->image_in, u->image_out,
		u->tool_prompt, u->search_queries,
	};
	const char *const token_names[] = {
		"input", "cache_read", "cache_write_5m", "cache_write_1h", "output",
		"reasoning", "audio_input", "audio_output", "image_input", "image_output",
		"tool_use_prompt", "search_queries",
	};
	struct buf o = { 0 };
	unsigned bit;
	int i, n;

	buf_printf(&o, "{\"model\": ");
	json_write_string(&o, model);
	buf_printf(&o, ", \"priced_as\": ");
	if (e) {
		json_write_string(&o, price_str(t, e->name));
		buf_printf(&o, ", \"price_file\": ");
		json_write_string(&o, price_str(t, e->source));
	} else
		buf_printf(&o, "null");
	buf_printf(&o, ", \"shape\": \"%s\", \"service_tier\": \"%s\", \"batch\": %s",
	    usage_shape_name(u->shape), price_tier_name(c->tier),
	    c->batch ? "true" : "false");
	put_amount(&o, "cost_usd", c->total, MONEY_COST_SCALE, 1);
	buf_printf(&o, ", \"cost\": {");
	for (i = 0; i < COST_PART_COUNT; i++)
		put_amount(&o, cost_part_name(i), c->part[i], MONEY_COST_SCALE, i > 0);
	buf_printf(&o, "}, \"rates\": {");
	for (i = 0, n = 0; i < COST_PART_COUNT; i++)
		if (c->part[i] || c->rate[i])
			put_amount(&o, cost_part_name(i), c->rate[i], MONEY_PRICE_SCALE, n++ > 0);
	buf_printf(&o, "}, \"tokens\": {");
	for (i = 0; i < (int)(sizeof(tokens) / sizeof(tokens[0])); i++)
		buf_printf(&o, "%s\"%s\": %lld", i ? ", " : "", token_names[i],
		    (long long)tokens[i]);
	buf_printf(&o, ", \"total_input\": %lld", (long long)usage_total_input(u));
	if (u->duration_ms >= 0)
		buf_printf(&o, ", \"duration_ms\": %lld", (long long)u->duration_ms);
	buf_printf(&o, "}, \"flags\": [");
	for (bit = 0, n = 0; usage_flag_name(bit); bit++)
		if (c->flags & (1u << bit))
			buf_printf(&o, "%s\"%s\"", n++ ? ", " : "", usage_flag_name(bit));
	buf_printf(&o, "]");
	if (u->has_provider_cost)
		put_amount(&o, "provider_cost_usd", u->provider_cost, MONEY_COST_SCALE, 1);
	buf_printf(&o, "}\n");
	fwrite(o.data, 1, o.len, stdout);
	buf_release(&o);
}

int
cost_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prices", required_argument, NULL, 'p' },
		{ "model", required_argument, NULL, 'm' },
		{ "shape", required_argument, NULL, 's' },
		{ "service-tier", required_argument, NULL, 't' },
		{ "batch", no_argument, NULL, 'b' },
		{ "duration-ms", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prices[TOLLCTL_PRICE_FILES], *model = NULL, *path = "-";
	struct cost_options copt;
	struct cost_input in;
	struct price_table *t = NULL;
	const struct price_entry *e;
	enum usage_shape shape = USAGE_SHAPE_AUTO;
	struct buf data = { 0 };
	struct usage u;
	struct cost c;
	int nprices = 0, quiet = 0, ch, rc = TOLLCTL_EXIT_ERROR;

	cost_options_init(&copt);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:m:s:t:bd:qh", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (tollctl_add_price_file(prices, &nprices, optarg) < 0)
				return TOLLCTL_EXIT_ERROR;
			break;
		case 'm':
			model = optarg;
			break;
		case 's':
			if (usage_shape_from_name(optarg, &shape) < 0) {
				log_error("unknown shape '%s' (auto, openai, responses, anthropic, "
				    "gemini, bedrock, deepseek, xai, cohere)", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 't':
			if (price_tier_from_name(optarg, &copt.tier) < 0) {
				log_error("unknown service tier '%s' (standard, flex, priority, "
				    "fast, ultrafast)", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			break;
		case 'b':
			copt.batch = 1;
			break;
		case 'd': {
			char *end;
			long long v;

			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0) {
				log_error("--duration-ms: '%s' is not a number of milliseconds", optarg);
				return TOLLCTL_EXIT_ERROR;
			}
			copt.duration_ms = v;
			break;
		}
		case 'q':
			quiet = 1;
			break;
		case 'h':
			fputs(cost_help, stdout);
			return TOLLCTL_EXIT_OK;
		default:
			fputs(cost_help, stderr);
			return TOLLCTL_EXIT_ERROR;
		}
	}
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		log_error("one input file at most ('%s' is extra)", argv[optind]);
		return TOLLCTL_EXIT_ERROR;
	}

	memset(&in, 0, sizeof(in));
	in.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	usage_raw_init(&in.raw);
	if (buf_read_file(&data, path) < 0) {
		log_error("cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (read_input(&in, data.data ? data.data : "", data.len) < 0) {
		log_error("%s", in.err);
		goto out;
	}
	usage_normalise(&in.raw, shape, &u);
	if (model == NULL)
		model = u.model[0] ? u.model : NULL;
	if (model == NULL) {
		log_error("%s: the response names no model: give --model", in.name);
		goto out;
	}

	if ((t = tollctl_load_prices(prices, nprices, quiet)) == NULL)
		goto out;
	e = price_lookup(t, model, strlen(model));
	cost_compute(t, e, &u, &copt, &c);
	print_result(&u, model, t, e, &c);
	if (e == NULL) {
		log_error("model '%s' has no price in the price map%s given", model,
		    nprices > 1 ? "s" : "");
		rc = TOLLCTL_EXIT_UNPRICED;
	} else
		rc = TOLLCTL_EXIT_OK;
out:
	free(t);
	buf_release(&data);
	return rc;
}

struct price_table *
tollctl_load_prices(const char *const *files, int n, int quiet)
{
	struct pricemap_builder *b;
	struct price_table *t = NULL;
	const char *warnings, *one[1];
	char err[1024], *fallback = NULL;
	int i;

	if (n == 0) {	/* none given: the gateway's */
		if ((fallback = tollctl_default_prices()) == NULL)
			return NULL;
		one[0] = fallback;
		files = one;
		n = 1;
	}
	if ((b = pricemap_builder_new()) == NULL) {
		log_error("out of memory");
		free(fallback);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (pricemap_load_file(b, files[i], err, sizeof(err)) < 0) {
			log_error("%s", err);
			goto out;
		}
	/* quiet leaves out the fields not priced, never a line whose price or date is ignored */
	if ((warnings = quiet ? pricemap_line_warnings(b) : pricemap_warnings(b)) != NULL)
		fprintf(stderr, "tollctl: warning: %s", warnings);
	if ((t = pricemap_compile(b)) == NULL)
		log_error("out of memory compiling the price map");
out:
	pricemap_builder_free(b);
	free(fallback);
	return t;
}
