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
#include "export.h"
#include "json.h"
#include "log.h"
#include "money.h"
#include "timeparse.h"

struct day_out {
	int64_t		day;		/* bucket of the rows in csv and jsonl */
	struct buf	csv, jsonl;
};

struct export_ctx {
	const char	*dir;
	struct day_out	 cur;
	int		 days;
	int		 failed;
	char		*err;
	size_t		 errlen;
};

static const char *const dim_names[AGG_DIM_COUNT] = {
	"key", "user", "team", "customer", "tag", "model", "provider",
};

/* Writes path atomically: a temporary name in the same directory, then rename. */
static int
write_file(const char *dir, const char *name, const struct buf *b, char *err, size_t errlen)
{
	char path[4200], tmp[4300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	if ((f = fopen(tmp, "w")) == NULL ||
	    (b->len && fwrite(b->data, 1, b->len, f) != b->len) || fclose(f) != 0 ||
	    rename(tmp, path) < 0) {
		log_into(err, errlen, "cannot write export '%s': %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
flush_day(struct export_ctx *x)
{
	char day[40], name[64];
	int rc;

	if (x->cur.csv.len == 0)
		return 0;
	time_format(x->cur.day, day, sizeof(day));
	day[10] = '\0';
	snprintf(name, sizeof(name), "spend-%s.csv", day);
	rc = write_file(x->dir, name, &x->cur.csv, x->err, x->errlen);
	snprintf(name, sizeof(name), "spend-%s.jsonl", day);
	if (rc == 0)
		rc = write_file(x->dir, name, &x->cur.jsonl, x->err, x->errlen);
	x->cur.csv.len = x->cur.jsonl.len = 0;
	if (rc == 0)
		x->days++;
	return rc;
}

static const char csv_header[] =
	"day,key,user,team,customer,model,provider,requests,errors,input,cache_read,"
	"cache_write_5m,cache_write_1h,output,reasoning,cost_usd\n";

static int
on_row(void *arg, const struct agg_row *row)
{
	struct export_ctx *x = arg;
	const struct agg_value *v = row->v;
	char day[40], cost[MONEY_FORMAT_MAX];
	int i;

	if (!row->all_tags)
		return 0;	/* tags collapsed: each request once */
	if (row->bucket_ns != x->cur.day) {
		if (flush_day(x) < 0) {
			x->failed = 1;
			return 1;
		}
		x->cur.day = row->bucket_ns;
	}
	if (x->cur.csv.len == 0)
		buf_append(&x->cur.csv, csv_header, sizeof(csv_header) - 1);
	time_format(row->bucket_ns, day, sizeof(day));
	day[10] = '\0';
	money_format(v->total, MONEY_COST_SCALE, cost);
	buf_printf(&x->cur.csv, "%s", day);
	buf_printf(&x->cur.jsonl, "{\"day\": \"%s\"", day);
	for (i = 0; i < AGG_DIM_COUNT; i++) {
		if (i == AGG_DIM_TAG)
			continue;
		buf_append(&x->cur.csv, ",", 1);
		buf_csv_field(&x->cur.csv, row->dim[i]);
		buf_printf(&x->cur.jsonl, ", \"%s\": ", dim_names[i]);
		json_write_string(&x->cur.jsonl, row->dim[i]);
	}
	buf_printf(&x->cur.csv, ",%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%s\n",
	    (long long)v->requests, (long long)v->errors,
	    (long long)v->tokens[RECORD_TOK_INPUT], (long long)v->tokens[RECORD_TOK_CACHE_READ],
	    (long long)v->tokens[RECORD_TOK_CACHE_WRITE_5M],
	    (long long)v->tokens[RECORD_TOK_CACHE_WRITE_1H], (long long)v->tokens[RECORD_TOK_OUTPUT],
	    (long long)v->tokens[RECORD_TOK_REASONING], cost);
	buf_printf(&x->cur.jsonl, ", \"requests\": %lld, \"errors\": %lld, \"input\": %lld, "
	    "\"cache_read\": %lld, \"cache_write_5m\": %lld, \"cache_write_1h\": %lld, "
	    "\"output\": %lld, \"reasoning\": %lld, \"cost_usd\": %s}\n",
	    (long long)v->requests, (long long)v->errors,
	    (long long)v->tokens[RECORD_TOK_INPUT], (long long)v->tokens[RECORD_TOK_CACHE_READ],
	    (long long)v->tokens[RECORD_TOK_CACHE_WRITE_5M],
	    (long long)v->tokens[RECORD_TOK_CACHE_WRITE_1H], (long long)v->tokens[RECORD_TOK_OUTPUT],
	    (long long)v->tokens[RECORD_TOK_REASONING], cost);
	return 0;
}

int
export_days(struct ledger *l, const char *dir, int64_t since_ns, int64_t until_ns, char *err,
    size_t errlen)
{
	struct export_ctx x = { .dir = dir, .err = err, .errlen = errlen };
	int rc;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		log_into(err, errlen, "cannot create export directory '%s': %s", dir, strerror(errno));
		return -1;
	}
	x.cur.day = INT64_MIN;
	rc = aggregate_scan(l, AGG_TABLE_DAY, since_ns, until_ns, on_row, &x, err, errlen);
	if (rc == 0 && !x.failed && flush_day(&x) < 0)
		x.failed = 1;
	buf_release(&x.cur.csv);
	buf_release(&x.cur.jsonl);
	if (rc < 0 || x.failed)
		return -1;
	return x.days;
}
