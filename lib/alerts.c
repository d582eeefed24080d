/*
 * Alerts (see alerts.h), run by the accountant.
 *
 * Database "alerts": key the alert id, value 8 bytes big-endian fired time,
 * then the kind and the subject, each NUL-terminated.  The keys that begin
 * with \x01 are not alerts: "\x01pos" holds the journal position
 * alerts_follow() has read up to, "\x01since" (8 bytes big-endian) the time
 * alerts_since() found the gateway began, "\x01mismatch" (8 bytes
 * big-endian) the start of the first window alerts_cost_mismatches() has
 * not looked at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "alerts.h"
#include "buf.h"
#include "bytes.h"
#include "clock.h"
#include "config.h"
#include "costcheck.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "outbox.h"
#include "record.h"
#include "timeparse.h"
#include "usage.h"

#define ALERTS_DB	"alerts"
#define ID_MAX		400

static const MDB_val pos_key = { 4, "\x01pos" };
static const MDB_val since_key = { 6, "\x01since" };
static const MDB_val mismatch_key = { 9, "\x01mismatch" };

/* 1 when id has fired, 0 when not, -1 on error. */
static int
fired(struct ledger *l, const char *id)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(id), (void *)id }, v;
	int rc;

	if (ledger_txn_begin(l, 0, &txn) != 0)
		return -1;
	if ((rc = mdb_dbi_open(txn, ALERTS_DB, 0, &dbi)) == 0)
		rc = mdb_get(txn, dbi, &k, &v);
	mdb_txn_abort(txn);
	return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}

static int
put(struct ledger *l, const MDB_val *k, const void *data, size_t len)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val v = { len, (void *)data };
	int rc;

	do {
		if ((rc = ledger_txn_begin(l, 1, &txn)) != 0)
			return -1;
		if ((rc = mdb_dbi_open(txn, ALERTS_DB, MDB_CREATE, &dbi)) != 0 ||
		    (rc = mdb_put(txn, dbi, (MDB_val *)k, &v, 0)) != 0)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
	} while (rc == MDB_MAP_FULL && ledger_grow(l) == 0);
	return rc == 0 ? 0 : -1;
}

/*
 * text as a Slack string: <, > and & escaped as Slack asks, so that a model
 * name a client chose cannot become a mention (<!channel>) or a link.
 */
static void
slack_text(struct buf *body, const char *text)
{
	struct buf esc = { 0 };
	const char *p;

	for (p = text; *p; p++) {
		if (*p == '<')
			buf_append(&esc, "&lt;", 4);
		else if (*p == '>')
			buf_append(&esc, "&gt;", 4);
		else if (*p == '&')
			buf_append(&esc, "&amp;", 5);
		else
			buf_append(&esc, p, 1);
	}
	buf_append(&esc, "", 1);
	json_write_string(body, esc.data ? esc.data : "");
	buf_release(&esc);
}

/* The outbox item of a for channel c; body is scratch.  0 or -1. */
static int
item_for(const struct config_channel *c, const char *host, const struct alert *a,
    struct buf *body, struct outbox_item *it)
{
	char at[40], to[1024];
	size_t i, n = 0;

	memset(it, 0, sizeof(*it));
	body->len = 0;
	it->url = c->url;
	it->label = a->id;
	if (c->type == CONFIG_CHANNEL_EMAIL) {
		for (i = 0, to[0] = '\0'; i < c->nto && n < sizeof(to); i++)
			n += (size_t)snprintf(to + n, sizeof(to) - n, "%s%s", i ? ", " : "", c->to[i]);
		it->kind = OUTBOX_SMTP;
		it->mail_from = c->from;
		it->mail_rcpt = (const char *const *)c->to;
		it->nrcpt = c->nto;
		if (outbox_mail_format(body, c->from, to, a->subject, a->text) < 0)
			return -1;
	} else {
		it->kind = OUTBOX_HTTP_POST;
		it->content_type = "application/json";
		if (c->type == CONFIG_CHANNEL_SLACK) {
			buf_printf(body, "{\"text\": ");
			slack_text(body, a->subject);
			buf_printf(body, ", \"blocks\": [{\"type\": \"section\", \"text\": "
			    "{\"type\": \"mrkdwn\", \"text\": ");
			slack_text(body, a->text);
			buf_printf(body, "}}]}\n");
		} else {
			time_format(clock_now_ns(), at, sizeof(at));
			buf_printf(body, "{\"object\": \"tollgate.alert\", \"type\": ");
			json_write_string(body, a->kind);
			buf_printf(body, ", \"id\": ");
			json_write_string(body, a->id);
			buf_printf(body, ", \"at\": \"%s\", \"host\": ", at);
			json_write_string(body, host);
			buf_printf(body, ", \"subject\": ");
			json_write_string(body, a->subject);
			buf_printf(body, ", \"message\": ");
			json_write_string(body, a->text);
			if (a->fields != NULL)
				buf_printf(body, ", %s", a->fields);
			buf_printf(body, "}\n");
		}
	}
	if (body->data == NULL)
		return -1;
	it->body = body->data;
	it->body_len = body->len;
	return 0;
}

/* Marks id fired now, with its kind and subject; 0 or -1 with err. */
static int
mark(struct ledger *l, const char *id, const char *kind, const char *subject, char *err,
    size_t errlen)
{
	MDB_val k = { strlen(id), (void *)id };
	struct buf v = { 0 };
	unsigned char at[8];
	int rc;

	bytes_put_be64(at, (uint64_t)clock_now_ns());
	buf_append(&v, at, sizeof(at));
	buf_append(&v, kind, strlen(kind) + 1);
	buf_append(&v, subject, strlen(subject) + 1);
	rc = v.data != NULL ? put(l, &k, v.data, v.len) : -1;
	buf_release(&v);
	if (rc < 0)
		log_into(err, errlen, "cannot mark alert '%s' fired", id);
	return rc;
}

int
alerts_note(struct ledger *l, const char *id, const char *kind, const char *subject,
    char *err, size_t errlen)
{
	int rc;

	if (strlen(id) == 0 || strlen(id) > ID_MAX) {
		log_into(err, errlen, "alert id of %zu bytes", strlen(id));
		return -1;
	}
	if ((rc = fired(l, id)) != 0) {
		if (rc < 0)
			log_into(err, errlen, "cannot read the alerts of '%s'", ledger_dir(l));
		return rc;
	}
	log_info("%s", subject);
	return mark(l, id, kind, subject, err, errlen);
}

int
alerts_fire(struct ledger *l, const struct config_tollgate *tg, const char *host,
    const struct alert *a, char *err, size_t errlen)
{
	struct outbox_item it;
	struct buf body = { 0 };
	size_t i;
	int rc;

	if (strlen(a->id) == 0 || strlen(a->id) > ID_MAX) {
		log_into(err, errlen, "alert id of %zu bytes", strlen(a->id));
		return -1;
	}
	if ((rc = fired(l, a->id)) != 0) {
		if (rc < 0)
			log_into(err, errlen, "cannot read the alerts of '%s'", ledger_dir(l));
		return rc;
	}
	for (i = 0; i < tg->nalerts_channels; i++) {
		if (item_for(&tg->alerts_channels[i], host, a, &body, &it) < 0 ||
		    outbox_enqueue(l, &it, NULL, err, errlen) < 0) {
			buf_release(&body);
			return -1;
		}
	}
	buf_release(&body);
	if (a->info)
		log_info("alert: %s", a->subject);
	else
		log_warn("alert: %s", a->subject);
	return mark(l, a->id, a->kind, a->subject, err, errlen);
}

int
alerts_since(struct ledger *l, int64_t now, int64_t *since, char *err, size_t errlen)
{
	unsigned char sv[8];
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = since_key, v;
	int rc;

	*since = now;
	if ((rc = ledger_txn_begin(l, 0, &txn)) != 0) {
		log_into(err, errlen, "cannot read ledger '%s'", ledger_dir(l));
		return -1;
	}
	if ((rc = mdb_dbi_open(txn, ALERTS_DB, 0, &dbi)) == 0 &&
	    (rc = mdb_get(txn, dbi, &k, &v)) == 0 && v.mv_size == sizeof(sv)) {
		*since = (int64_t)bytes_get_be64(v.mv_data);
		mdb_txn_abort(txn);
		return 0;
	}
	/* first seen now, unless records show the gateway ran before */
	if ((rc = mdb_cursor_open(txn, ledger_records_dbi(l), &cur)) == 0) {
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && k.mv_size >= 8 &&
		    (int64_t)bytes_get_be64(k.mv_data) < now)
			*since = (int64_t)bytes_get_be64(k.mv_data);
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		log_into(err, errlen, "cannot read ledger '%s': %s", ledger_dir(l), mdb_strerror(rc));
		return -1;
	}
	bytes_put_be64(sv, (uint64_t)*since);
	if (put(l, &since_key, sv, sizeof(sv)) < 0) {
		log_into(err, errlen, "cannot store when the gateway of '%s' began", ledger_dir(l));
		return -1;
	}
	return 0;
}

int
alerts_scan(struct ledger *l, alerts_visit_fn fn, void *arg, char *err, size_t errlen)
{
	char id[ID_MAX + 1];
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	int rc;

	if (ledger_txn_begin(l, 0, &txn) != 0) {
		log_into(err, errlen, "cannot read ledger '%s'", ledger_dir(l));
		return -1;
	}
	if ((rc = mdb_dbi_open(txn, ALERTS_DB, 0, &dbi)) == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc == 0 && (rc = mdb_cursor_open(txn, dbi, &cur)) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const char *kind = (const char *)v.mv_data + 8, *end;

			if (k.mv_size > ID_MAX || ((const char *)k.mv_data)[0] == '\x01' ||
			    v.mv_size < 10 || ((const char *)v.mv_data)[v.mv_size - 1] != '\0')
				continue;
			end = (const char *)v.mv_data + v.mv_size;
			memcpy(id, k.mv_data, k.mv_size);
			id[k.mv_size] = '\0';
			if (kind + strlen(kind) + 1 >= end)
				continue;
			if (fn(arg, id, (int64_t)bytes_get_be64(v.mv_data), kind, kind + strlen(kind) + 1) != 0)
				break;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		log_into(err, errlen, "cannot read the alerts of '%s': %s", ledger_dir(l),
		    mdb_strerror(rc));
		return -1;
	}
	return 0;
}

/* ---- first sightings in new records -------------------------------------------- */

/* The usage flags that mean a provider's usage object was wrong or missing. */
#define ANOMALIES	(USAGE_FLAG_USAGE_MISSING | USAGE_FLAG_CACHE_EXCEEDS_PROMPT | \
			 USAGE_FLAG_REASONING_OUTSIDE_COMPLETION | USAGE_FLAG_NEGATIVE_COUNT | \
			 USAGE_FLAG_FRACTIONAL_COUNT | USAGE_FLAG_ABSURD_COUNT | \
			 USAGE_FLAG_BAD_COUNT | USAGE_FLAG_DETAILS_EXCEED_TOTAL)

#define SIGHTINGS_MAX	64

struct sighting {
	char		id[ID_MAX];
	unsigned	flag;		/* the usage flag's mask; 0: unpriced */
	char		model[128];
	char		example[40];	/* a request id */
};

struct sightings {
	struct sighting	s[SIGHTINGS_MAX];
	size_t		n;
};

/* The name of a usage flag given as its mask. */
static const char *
flag_name(unsigned mask)
{
	unsigned bit = 0;

	while (mask > 1) {
		mask >>= 1;
		bit++;
	}
	return usage_flag_name(bit);
}

static void
sight(struct sightings *ss, unsigned flag, const struct record *r)
{
	const char *model = r->model_requested[0] ? r->model_requested : r->deployment;
	struct sighting *s;
	char id[ID_MAX];
	size_t i;

	if (flag == 0)
		snprintf(id, sizeof(id), "unpriced|%s", model);
	else
		snprintf(id, sizeof(id), "anomaly|%s|%s", flag_name(flag), model);
	for (i = 0; i < ss->n; i++)
		if (strcmp(ss->s[i].id, id) == 0)
			return;
	if (ss->n == SIGHTINGS_MAX)
		return;		/* read_new() stops before this can happen */
	s = &ss->s[ss->n++];
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->flag = flag;
	snprintf(s->model, sizeof(s->model), "%s", model);
	snprintf(s->example, sizeof(s->example), "%s", r->id);
}

static void
look_at(struct sightings *ss, const struct record *r)
{
	unsigned bit;

	if (r->flags & RECORD_FLAG_ADJUSTMENT)
		return;
	if (r->usage_flags & USAGE_FLAG_UNPRICED && r->status < 400)
		sight(ss, 0, r);
	for (bit = 1; bit & ANOMALIES; bit <<= 1)
		if (r->usage_flags & bit & ANOMALIES && (bit != USAGE_FLAG_USAGE_MISSING ||
		    (r->status < 400 && !(r->flags & RECORD_FLAG_CLIENT_ABORTED))))
			sight(ss, bit, r);
}

/*
 * Reads up to max journal entries after the stored position (none stored: the
 * journal's end), noting sightings; *pos gets the new position.  An LMDB rc.
 */
static int
read_new(struct ledger *l, size_t max, struct sightings *ss, uint64_t *pos, size_t *done,
    int *fresh)
{
	unsigned char next[8];
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v, rv;
	struct record r;
	int rc;

	*pos = 0;
	*fresh = 0;
	if ((rc = ledger_txn_begin(l, 0, &txn)) != 0)
		return rc < 0 ? MDB_BAD_TXN : rc;
	k = pos_key;
	if ((rc = mdb_dbi_open(txn, ALERTS_DB, 0, &dbi)) == 0 && (rc = mdb_get(txn, dbi, &k, &v)) == 0 &&
	    v.mv_size == 8)
		*pos = bytes_get_be64(v.mv_data);
	else
		*fresh = 1;
	if ((rc = mdb_cursor_open(txn, ledger_journal_dbi(l), &cur)) != 0)
		goto out;
	if (*fresh) {
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) == 0)
			*pos = bytes_get_be64(k.mv_data);
	} else {
		bytes_put_be64(next, *pos + 1);
		k.mv_size = 8;
		k.mv_data = next;
		/* room for every flag of one more record, or stop: the rest are read next time */
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		    rc == 0 && *done < max && ss->n + USAGE_FLAG_FLAG_COUNT + 1 <= SIGHTINGS_MAX;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			*pos = bytes_get_be64(k.mv_data);
			(*done)++;
			if (mdb_get(txn, ledger_records_dbi(l), &v, &rv) == 0 &&
			    record_decode(rv.mv_data, rv.mv_size, &r) == 0)
				look_at(ss, &r);
		}
	}
	mdb_cursor_close(cur);
out:
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static void
describe(const struct sighting *s, struct buf *subject, struct buf *text, struct buf *fields)
{
	if (s->flag == 0) {
		buf_printf(subject, "tollgate: model '%s' is unpriced", s->model);
		buf_printf(text, "Requests for model '%s' are recorded at cost 0: no price-map entry "
		    "matches it (request %s). Add its prices and run 'tollctl rerate --apply'.",
		    s->model, s->example);
	} else {
		buf_printf(subject, "tollgate: usage anomaly '%s' from model '%s'",
		    flag_name(s->flag), s->model);
		buf_printf(text, "A response for model '%s' carried a usage object flagged '%s' "
		    "(request %s); its cost follows the normalisation rules. See 'tollctl logs "
		    "--flag %s'.", s->model, flag_name(s->flag), s->example, flag_name(s->flag));
	}
	buf_printf(fields, "\"model\": ");
	json_write_string(fields, s->model);
	buf_printf(fields, ", \"request_id\": ");
	json_write_string(fields, s->example);
	if (s->flag != 0)
		buf_printf(fields, ", \"flag\": \"%s\"", flag_name(s->flag));
}

int
alerts_follow(struct ledger *l, const struct config_tollgate *tg, const char *host, size_t max,
    size_t *done, char *err, size_t errlen)
{
	struct sightings *ss = calloc(1, sizeof(*ss));
	struct buf subject = { 0 }, text = { 0 }, fields = { 0 };
	unsigned char pv[8];
	uint64_t pos;
	size_t i;
	int rc = -1, fresh;

	*done = 0;
	if (ss == NULL) {
		log_into(err, errlen, "out of memory");
		return -1;
	}
	if ((rc = read_new(l, max, ss, &pos, done, &fresh)) != 0) {
		log_into(err, errlen, "cannot read the journal of '%s': %s", ledger_dir(l),
		    mdb_strerror(rc));
		rc = -1;
		goto out;
	}
	for (i = 0; i < ss->n; i++) {
		struct alert a = { ss->s[i].id, ss->s[i].flag ? "usage_anomaly" : "unpriced_model",
		    NULL, NULL, NULL, 0 };

		subject.len = text.len = fields.len = 0;
		describe(&ss->s[i], &subject, &text, &fields);
		a.subject = subject.data;
		a.text = text.data;
		a.fields = fields.data;
		if (a.subject == NULL || a.text == NULL || alerts_fire(l, tg, host, &a, err, errlen) < 0) {
			rc = -1;
			goto out;
		}
	}
	rc = 0;
	if (fresh || *done > 0) {
		bytes_put_be64(pv, pos);
		if (put(l, &pos_key, pv, sizeof(pv)) < 0) {
			log_into(err, errlen, "cannot store the alerts' journal position");
			rc = -1;
		}
	}
out:
	buf_release(&subject);
	buf_release(&text);
	buf_release(&fields);
	free(ss);
	return rc;
}

/* ---- cost mismatches, per model and window --------------------------------------- */

/* How long after a window's end its last records may still be committed. */
#define MISMATCH_GRACE_NS	(5LL * 1000000000)
/* Windows looked at in one call at most: a long stop is caught up over a few calls. */
#define MISMATCH_WINDOWS_MAX	24

struct mismatch_row {
	int64_t			window;		/* its start, unix ns */
	char			model[128];
	struct costcheck_sum	sum;		/* the flagged records only */
};

struct mismatch_rows {
	struct mismatch_row	*v;
	size_t			 n, cap;
	int64_t			 window_ns;
	int			 oom;
};

static int
mismatch_visit(void *arg, const struct record *r)
{
	struct mismatch_rows *rows = arg;
	const char *model = r->priced_as[0] ? r->priced_as : r->deployment;
	int64_t window = r->end_ns - r->end_ns % rows->window_ns;
	struct mismatch_row *row = NULL;
	size_t i;

	if (!(r->flags & RECORD_FLAG_COST_MISMATCH) || (r->flags & RECORD_FLAG_ADJUSTMENT))
		return 0;
	/* records come in time order: a model's row of this window is among the last */
	for (i = rows->n; i > 0 && rows->v[i - 1].window == window && row == NULL; i--)
		if (strcmp(rows->v[i - 1].model, model) == 0)
			row = &rows->v[i - 1];
	if (row == NULL) {
		if (ARRAY_GROW(rows->v, rows->n, rows->cap) < 0) {
			rows->oom = 1;
			return 1;
		}
		row = &rows->v[rows->n++];
		memset(row, 0, sizeof(*row));
		row->window = window;
		buf_copy(row->model, sizeof(row->model), model);
	}
	costcheck_add(&row->sum, r, 1);
	return 0;
}

static void
mismatch_describe(const struct mismatch_row *row, int64_t window_ns, struct buf *id,
    struct buf *subject, struct buf *text, struct buf *fields)
{
	char from[40], to[40], a[MONEY_FORMAT_MAX], b[MONEY_FORMAT_MAX], d[MONEY_FORMAT_MAX];
	unsigned long long n = (unsigned long long)row->sum.mismatches;

	time_format(row->window, from, sizeof(from));
	time_format(row->window + window_ns, to, sizeof(to));
	money_format(row->sum.computed, MONEY_COST_SCALE, a);
	money_format(row->sum.provider, MONEY_COST_SCALE, b);
	money_format(row->sum.provider - row->sum.computed, MONEY_COST_SCALE, d);
	buf_printf(id, "mismatch|%s|%lld", row->model, (long long)row->window);
	buf_printf(subject, "tollgate: %llu cost mismatch%s for model '%s' from %s to %s", n,
	    n == 1 ? "" : "es", row->model, from, to);
	buf_printf(text, "%llu record%s of model '%s' that ended from %s to %s carried a cost "
	    "reported by the provider that differs from tollgate's by more than "
	    "cost_mismatch_threshold: tollgate computed $%s, the provider reported $%s "
	    "(difference $%s). Check the price-map entry of '%s'; 'tollctl reconcile "
	    "--provider-cost --since %s --until %s --model %s' shows them per day.", n,
	    n == 1 ? "" : "s", row->model, from, to, a, b, d, row->model, from, to, row->model);
	buf_printf(fields, "\"model\": ");
	json_write_string(fields, row->model);
	buf_printf(fields, ", \"window_start\": \"%s\", \"window_end\": \"%s\", "
	    "\"mismatches\": %llu, \"tollgate_cost_usd\": %s, \"provider_cost_usd\": %s, "
	    "\"delta_usd\": %s", from, to, n, a, b, d);
}

/* The stored start of the first window not looked at: 1 and *next, 0 (none), -1. */
static int
mismatch_position(struct ledger *l, int64_t *next)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = mismatch_key, v;
	int rc;

	if (ledger_txn_begin(l, 0, &txn) != 0)
		return -1;
	if ((rc = mdb_dbi_open(txn, ALERTS_DB, 0, &dbi)) == 0 &&
	    (rc = mdb_get(txn, dbi, &k, &v)) == 0 && v.mv_size == 8)
		*next = (int64_t)bytes_get_be64(v.mv_data);
	mdb_txn_abort(txn);
	if (rc == 0 && v.mv_size == 8)
		return 1;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

static int
mismatch_store(struct ledger *l, int64_t next, char *err, size_t errlen)
{
	unsigned char nv[8];

	bytes_put_be64(nv, (uint64_t)next);
	if (put(l, &mismatch_key, nv, sizeof(nv)) < 0) {
		log_into(err, errlen, "cannot store the cost mismatch alerts' position");
		return -1;
	}
	return 0;
}

int
alerts_cost_mismatches(struct ledger *l, const struct config_tollgate *tg, const char *host,
    int64_t now, char *err, size_t errlen)
{
	int64_t w = tg->alerts_cost_mismatch_window_ms * 1000000, next = 0, end;
	struct buf id = { 0 }, subject = { 0 }, text = { 0 }, fields = { 0 };
	struct mismatch_rows rows = { 0 };
	size_t i;
	int rc;

	if (w <= 0 || now <= 0)
		return 0;
	if ((rc = mismatch_position(l, &next)) < 0) {
		log_into(err, errlen, "cannot read the alerts of '%s'", ledger_dir(l));
		return -1;
	}
	if (rc == 0) {
		char from[40];

		if (mismatch_store(l, now - now % w, err, errlen) < 0)
			return -1;
		/* the first look: what ended before is history, which raises nothing */
		log_info("alerts: cost mismatches are looked at from %s on",
		    time_format(now - now % w, from, sizeof(from)));
		return 0;
	}
	if (next % w != 0)
		next += w - next % w;	/* the window changed on a reload: the next whole one */
	end = (now - MISMATCH_GRACE_NS) - (now - MISMATCH_GRACE_NS) % w;
	if (end > next + MISMATCH_WINDOWS_MAX * w)
		end = next + MISMATCH_WINDOWS_MAX * w;
	if (end <= next)
		return 0;
	rows.window_ns = w;
	if (ledger_range(l, next, end, mismatch_visit, &rows) < 0 || rows.oom) {
		log_into(err, errlen, "cannot read the records of '%s'%s", ledger_dir(l),
		    rows.oom ? ": out of memory" : "");
		free(rows.v);
		return -1;
	}
	for (i = 0, rc = 0; i < rows.n && rc == 0; i++) {
		struct alert a = { NULL, "cost_mismatch", NULL, NULL, NULL, 0 };

		id.len = subject.len = text.len = fields.len = 0;
		mismatch_describe(&rows.v[i], w, &id, &subject, &text, &fields);
		a.id = id.data;
		a.subject = subject.data;
		a.text = text.data;
		a.fields = fields.data;
		if (a.id == NULL || a.subject == NULL || a.text == NULL || a.fields == NULL) {
			log_into(err, errlen, "out of memory");
			rc = -1;
		} else if (alerts_fire(l, tg, host, &a, err, errlen) < 0)
			rc = -1;
	}
	if (rc == 0)
		rc = mismatch_store(l, end, err, errlen);
	buf_release(&id);
	buf_release(&subject);
	buf_release(&text);
	buf_release(&fields);
	free(rows.v);
	return rc;
}
