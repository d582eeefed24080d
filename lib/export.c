/*
 * The accountant's export of day aggregates (see export.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregate.h"
#include "buf.h"
#include "clock.h"
#include "export.h"
#include "json.h"
#include "log.h"
#include "money.h"
#include "timeparse.h"

struct export_ctx {
	struct export_day	*x;
	int			 failed;
};

static const char *const dim_names[AGG_DIM_COUNT] = {
	"key", "user", "team", "customer", "tag", "model", "provider", "deployment", "priced_as",
};

/* Writes path atomically: a temporary name in the same directory, then rename. */
static int
write_file(const char *dir, const char *name, const struct buf *b, char *err, size_t errlen)
{
	char path[4200], tmp[4300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	int bad;

	if ((f = fopen(tmp, "w")) == NULL) {
		log_into(err, errlen, "cannot write export '%s': %s", path, strerror(errno));
		return -1;
	}
	/* on the disk before the name: the day's mark is cleared once this returns */
	bad = (b->len && fwrite(b->data, 1, b->len, f) != b->len) || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0;
	if (fclose(f) != 0 || bad || rename(tmp, path) < 0) {
		log_into(err, errlen, "cannot write export '%s': %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static const char csv_header[] =
	"day,key,user,team,customer,model,provider,deployment,priced_as,requests,errors,input,cache_read,"
	"cache_write_5m,cache_write_1h,output,reasoning,cost_usd\n";

static int
on_row(void *arg, const struct agg_row *row)
{
	struct export_day *x = ((struct export_ctx *)arg)->x;
	const struct agg_value *v = row->v;
	char day[40], cost[MONEY_FORMAT_MAX];
	int i;

	if (!row->all_tags)
		return 0;	/* tags collapsed: each request once */
	time_format(row->bucket_ns, day, sizeof(day));
	day[10] = '\0';
	money_format(v->total, MONEY_COST_SCALE, cost);
	buf_printf(&x->csv, "%s", day);
	buf_printf(&x->jsonl, "{\"day\": \"%s\"", day);
	for (i = 0; i < AGG_DIM_COUNT; i++) {
		if (i == AGG_DIM_TAG)
			continue;
		buf_append(&x->csv, ",", 1);
		buf_csv_field(&x->csv, row->dim[i]);
		buf_printf(&x->jsonl, ", \"%s\": ", dim_names[i]);
		json_write_string(&x->jsonl, row->dim[i]);
	}
	buf_printf(&x->csv, ",%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%s\n",
	    (long long)v->requests, (long long)v->errors,
	    (long long)v->tokens[RECORD_TOK_INPUT], (long long)v->tokens[RECORD_TOK_CACHE_READ],
	    (long long)v->tokens[RECORD_TOK_CACHE_WRITE_5M],
	    (long long)v->tokens[RECORD_TOK_CACHE_WRITE_1H], (long long)v->tokens[RECORD_TOK_OUTPUT],
	    (long long)v->tokens[RECORD_TOK_REASONING], cost);
	buf_printf(&x->jsonl, ", \"requests\": %lld, \"errors\": %lld, \"input\": %lld, "
	    "\"cache_read\": %lld, \"cache_write_5m\": %lld, \"cache_write_1h\": %lld, "
	    "\"output\": %lld, \"reasoning\": %lld, \"cost_usd\": %s}\n",
	    (long long)v->requests, (long long)v->errors,
	    (long long)v->tokens[RECORD_TOK_INPUT], (long long)v->tokens[RECORD_TOK_CACHE_READ],
	    (long long)v->tokens[RECORD_TOK_CACHE_WRITE_5M],
	    (long long)v->tokens[RECORD_TOK_CACHE_WRITE_1H], (long long)v->tokens[RECORD_TOK_OUTPUT],
	    (long long)v->tokens[RECORD_TOK_REASONING], cost);
	x->rows++;
	return 0;
}

int
export_day_build(struct ledger *l, int64_t day_ns, struct export_day *x, char *err, size_t errlen)
{
	struct export_ctx c = { .x = x };

	x->day_ns = time_day_start(day_ns);
	x->rows = 0;
	x->csv.len = x->jsonl.len = 0;
	buf_append(&x->csv, csv_header, sizeof(csv_header) - 1);
	if (aggregate_scan(l, AGG_TABLE_DAY, x->day_ns, x->day_ns + 86400LL * 1000000000, on_row,
	    &c, err, errlen) < 0)
		return -1;
	return 0;
}

int
export_day_write(const struct export_day *x, const char *dir, char *err, size_t errlen)
{
	char day[40], name[64];

	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		log_into(err, errlen, "cannot create export directory '%s': %s", dir, strerror(errno));
		return -1;
	}
	time_format(x->day_ns, day, sizeof(day));
	day[10] = '\0';
	/* JSON Lines first: whoever sees a day's CSV (the file most readers
	 * watch) then finds the JSON Lines of the same moment or later. */
	snprintf(name, sizeof(name), "spend-%s.jsonl", day);
	if (write_file(dir, name, &x->jsonl, err, errlen) < 0)
		return -1;
	snprintf(name, sizeof(name), "spend-%s.csv", day);
	return write_file(dir, name, &x->csv, err, errlen);
}

void
export_day_json(const struct export_day *x, const char *host, struct buf *body)
{
	char day[40], at[40];
	const char *p, *end = x->jsonl.data + x->jsonl.len, *nl;

	time_format(x->day_ns, day, sizeof(day));
	day[10] = '\0';
	time_format(clock_now_ns(), at, sizeof(at));
	body->len = 0;
	buf_printf(body, "{\"object\": \"tollgate.spend.day\", \"day\": \"%s\", \"generated_at\": "
	    "\"%s\", \"host\": ", day, at);
	json_write_string(body, host);
	buf_printf(body, ", \"rows\": [");
	for (p = x->jsonl.data; p != NULL && p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (p != x->jsonl.data)
			buf_append(body, ", ", 2);
		buf_append(body, p, (size_t)(nl - p));
	}
	buf_printf(body, "]}\n");
}

void
export_day_release(struct export_day *x)
{
	buf_release(&x->csv);
	buf_release(&x->jsonl);
}
