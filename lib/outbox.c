/*
 * The outbox (see outbox.h for the layout and the delivery contract).  Any
 * process with the ledger open for writing enqueues; the accountant runs the
 * runtime, which drives libcurl's multi interface from its event_base the
 * way curl's hiperfifo example does: a socket callback and a timer callback
 * feed curl_multi_socket_action(), each transfer carries its delivery
 * through CURLOPT_PRIVATE, and check_multi_info() is the one place where a
 * transfer ends and its outcome is written back.
 *
 * The runtime keeps no state of its own that matters: an item's attempts
 * and next attempt are in LMDB, written in one transaction per outcome, so
 * a restarted accountant simply carries on.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <lmdb.h>
#include <msgpack.h>

#include "buf.h"
#include "clock.h"
#include "curlev.h"
#include "ledger.h"
#include "log.h"
#include "outbox.h"

#define OUTBOX_DB		"outbox"
#define ID_LEN			8
#define PRUNE_BATCH		64	/* expired items deleted per look; the rest next time */
#define UNSAVED_MAX		64	/* items whose outcome could not be written, held back */
#define UNSAVED_WAIT_NS		(60 * 1000 * MS)
#define MS			1000000LL	/* nanoseconds */

#define DEFAULT_TIMEOUT_MS	10000L
#define DEFAULT_BACKOFF_MS	1000L
#define DEFAULT_BACKOFF_MAX_MS	(5 * 60 * 1000L)
#define DEFAULT_POLL_MS		1000L
#define DEFAULT_MAX_ATTEMPTS	8
#define DEFAULT_MAX_PARALLEL	4
#define DEFAULT_KEEP_NS		(7 * 86400 * 1000 * MS)

#define OUTBOX_MAGIC		0x0b0c1a55u
#define DELIVERY_MAGIC		0x0d311fe7u

/* ---- the stored form --------------------------------------------------------- */

enum key {
	K_VERSION, K_KIND, K_URL, K_CONTENT_TYPE, K_HEADERS, K_BODY, K_FROM, K_RCPT, K_LABEL,
	K_STATE, K_CREATED, K_ATTEMPTS, K_NEXT, K_LAST, K_ERROR, K_DELIVERED, K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"v", "kind", "url", "ct", "hdr", "body", "from", "rcpt", "label",
	"st", "ca", "n", "na", "la", "err", "da",
};

static int
write_buf(void *data, const char *p, size_t len)
{
	return buf_append(data, p, len);
}

static int
pack_key(msgpack_packer *pk, enum key k)
{
	return msgpack_pack_str_with_body(pk, key_names[k], strlen(key_names[k]));
}

static int
pack_str(msgpack_packer *pk, enum key k, const char *s)
{
	if (s == NULL)
		s = "";
	if (pack_key(pk, k) < 0)
		return -1;
	return msgpack_pack_str_with_body(pk, s, strlen(s));
}

static int
pack_strs(msgpack_packer *pk, enum key k, const char *const *v, size_t n)
{
	size_t i;

	if (pack_key(pk, k) < 0 || msgpack_pack_array(pk, n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (msgpack_pack_str_with_body(pk, v[i], strlen(v[i])) < 0)
			return -1;
	return 0;
}

static int
pack_int(msgpack_packer *pk, enum key k, int64_t v)
{
	return pack_key(pk, k) < 0 ? -1 : msgpack_pack_int64(pk, v);
}

static int
pack_uint(msgpack_packer *pk, enum key k, uint64_t v)
{
	return pack_key(pk, k) < 0 ? -1 : msgpack_pack_uint64(pk, v);
}

static int
pack_bin(msgpack_packer *pk, enum key k, const char *p, size_t n)
{
	if (pack_key(pk, k) < 0 || msgpack_pack_bin(pk, n) < 0)
		return -1;
	return msgpack_pack_bin_body(pk, n ? p : "", n);
}

/* Appends it, every key of the layout, to out; 0 or -1 (out of memory). */
static int
item_encode(const struct outbox_item *it, struct buf *out)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, write_buf);
	if (msgpack_pack_map(&pk, K_COUNT) < 0 ||
	    pack_uint(&pk, K_VERSION, OUTBOX_LAYOUT) < 0 ||
	    pack_uint(&pk, K_KIND, it->kind) < 0 ||
	    pack_str(&pk, K_URL, it->url) < 0 ||
	    pack_str(&pk, K_CONTENT_TYPE, it->content_type) < 0 ||
	    pack_strs(&pk, K_HEADERS, it->headers, it->nheaders) < 0 ||
	    pack_bin(&pk, K_BODY, it->body, it->body_len) < 0 ||
	    pack_str(&pk, K_FROM, it->mail_from) < 0 ||
	    pack_strs(&pk, K_RCPT, it->mail_rcpt, it->nrcpt) < 0 ||
	    pack_str(&pk, K_LABEL, it->label) < 0 ||
	    pack_uint(&pk, K_STATE, it->state) < 0 ||
	    pack_int(&pk, K_CREATED, it->created_ns) < 0 ||
	    pack_uint(&pk, K_ATTEMPTS, it->attempts) < 0 ||
	    pack_int(&pk, K_NEXT, it->next_attempt_ns) < 0 ||
	    pack_int(&pk, K_LAST, it->last_attempt_ns) < 0 ||
	    pack_str(&pk, K_ERROR, it->last_error) < 0 ||
	    pack_int(&pk, K_DELIVERED, it->delivered_ns) < 0)
		return -1;
	return 0;
}

/*
 * Where a decoded item's strings and lists go: one block, the pointer lists
 * first (for their alignment), then the strings.  While base is NULL the
 * decoder only counts what the block needs.
 */
struct carve {
	char		*base;		/* the strings; NULL: count only */
	size_t		 used;		/* string bytes */
	const char	**ptrs;		/* the pointer lists */
	size_t		 nptrs;
};

/* A decoded item; it owns block. */
struct decoded {
	struct outbox_item	 item;
	void			*block;
};

static const char *
carve_copy(struct carve *c, const char *p, size_t n)
{
	char *dst = c->base ? c->base + c->used : NULL;

	if (dst != NULL) {
		if (n)
			memcpy(dst, p, n);
		dst[n] = '\0';
	}
	c->used += n + 1;
	return dst;
}

static int
get_str(const msgpack_object *o, struct carve *c, const char **out)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return -1;
	*out = carve_copy(c, o->via.str.ptr, o->via.str.size);
	return 0;
}

static int
get_strs(const msgpack_object *o, struct carve *c, const char *const **out, size_t *n)
{
	const char **v = c->base ? c->ptrs + c->nptrs : NULL, *s;
	const msgpack_object *e;
	uint32_t i;

	if (o->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	for (i = 0; i < o->via.array.size; i++) {
		e = &o->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_STR)
			return -1;
		s = carve_copy(c, e->via.str.ptr, e->via.str.size);
		if (v != NULL)
			v[i] = s;
	}
	c->nptrs += o->via.array.size;
	*out = v;
	*n = o->via.array.size;
	return 0;
}

static int
get_int(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*out = (int64_t)o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	return -1;
}

static int
get_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
		return -1;
	*out = o->via.u64;
	return 0;
}

static int
find_key(const msgpack_object *k)
{
	int i;

	if (k->type != MSGPACK_OBJECT_STR)
		return -1;
	for (i = 0; i < K_COUNT; i++)
		if (strlen(key_names[i]) == k->via.str.size &&
		    memcmp(key_names[i], k->via.str.ptr, k->via.str.size) == 0)
			return i;
	return -1;
}

static int
decode_value(int k, const msgpack_object *v, struct outbox_item *it, struct carve *c,
    uint64_t *version)
{
	uint64_t u = 0;
	int rc;

	switch (k) {
	case K_VERSION:
		return get_uint(v, UINT64_MAX, version);
	case K_KIND:
		rc = get_uint(v, OUTBOX_SMTP, &u);
		it->kind = (enum outbox_kind)u;
		return rc;
	case K_URL:
		return get_str(v, c, &it->url);
	case K_CONTENT_TYPE:
		return get_str(v, c, &it->content_type);
	case K_HEADERS:
		return get_strs(v, c, &it->headers, &it->nheaders);
	case K_BODY:
		if (v->type != MSGPACK_OBJECT_BIN)
			return -1;
		it->body = carve_copy(c, v->via.bin.ptr, v->via.bin.size);
		it->body_len = v->via.bin.size;
		return 0;
	case K_FROM:
		return get_str(v, c, &it->mail_from);
	case K_RCPT:
		return get_strs(v, c, &it->mail_rcpt, &it->nrcpt);
	case K_LABEL:
		return get_str(v, c, &it->label);
	case K_STATE:
		rc = get_uint(v, OUTBOX_FAILED, &u);
		it->state = (enum outbox_state)u;
		return rc;
	case K_CREATED:
		return get_int(v, &it->created_ns);
	case K_ATTEMPTS:
		rc = get_uint(v, UINT32_MAX, &u);
		it->attempts = (uint32_t)u;
		return rc;
	case K_NEXT:
		return get_int(v, &it->next_attempt_ns);
	case K_LAST:
		return get_int(v, &it->last_attempt_ns);
	case K_ERROR:
		return get_str(v, c, &it->last_error);
	case K_DELIVERED:
		return get_int(v, &it->delivered_ns);
	}
	return 0;	/* a later layout's addition */
}

static int
decode_map(const msgpack_object_map *m, struct outbox_item *it, struct carve *c)
{
	uint64_t version = 0;
	uint32_t i;

	memset(it, 0, sizeof(*it));
	for (i = 0; i < m->size; i++)
		if (decode_value(find_key(&m->ptr[i].key), &m->ptr[i].val, it, c, &version) < 0)
			return -1;
	return version >= 1 && version <= OUTBOX_LAYOUT ? 0 : -1;
}

/* Strings a stored item lacked read as "", never NULL. */
static void
fill_missing(struct outbox_item *it)
{
	const char **s[] = { &it->url, &it->content_type, &it->body, &it->mail_from, &it->label,
		&it->last_error };
	size_t i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (*s[i] == NULL)
			*s[i] = "";
}

/*
 * Decodes a stored value into d (release it with decoded_release()).  With
 * strings 0 only the numbers are filled and nothing is allocated: enough to
 * tell whether an item is due.  0, or -1 (malformed, or a newer layout).
 */
static int
decode(const MDB_val *v, uint64_t id, struct decoded *d, int strings)
{
	struct carve c = { 0 };
	msgpack_unpacked up;
	size_t off = 0, ptrbytes;
	int rc = -1;

	d->block = NULL;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v->mv_data, v->mv_size, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != v->mv_size || up.data.type != MSGPACK_OBJECT_MAP ||
	    decode_map(&up.data.via.map, &d->item, &c) < 0)
		goto out;
	if (strings) {
		ptrbytes = c.nptrs * sizeof(*c.ptrs);
		if ((d->block = malloc(ptrbytes + c.used)) == NULL)
			goto out;
		c = (struct carve){ (char *)d->block + ptrbytes, 0, d->block, 0 };
		if (decode_map(&up.data.via.map, &d->item, &c) < 0)
			goto out;
		fill_missing(&d->item);
	}
	d->item.id = id;
	rc = 0;
out:
	msgpack_unpacked_destroy(&up);
	if (rc < 0) {
		free(d->block);
		d->block = NULL;
	}
	return rc;
}

static void
decoded_release(struct decoded *d)
{
	free(d->block);
	d->block = NULL;
}

/* ---- the database ------------------------------------------------------------- */

static void
put_id(unsigned char *key, uint64_t id)
{
	int i;

	for (i = 0; i < ID_LEN; i++)
		key[i] = (unsigned char)(id >> (56 - 8 * i));
}

static uint64_t
get_id(const MDB_val *k)
{
	uint64_t id = 0;
	size_t i;

	for (i = 0; i < k->mv_size && i < ID_LEN; i++)
		id = id << 8 | ((const unsigned char *)k->mv_data)[i];
	return id;
}

static const char *
txn_error(int rc)
{
	return rc < 0 ? "not open for writing by this process" : mdb_strerror(rc);
}

/* Stores the encoded item val under the id after the last; an LMDB rc. */
static int
append_item(struct ledger *l, const struct buf *val, uint64_t *id)
{
	unsigned char key[ID_LEN];
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	uint64_t last = 0;
	int rc;

	if ((rc = ledger_txn_begin(l, 1, &txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, OUTBOX_DB, MDB_CREATE, &dbi)) != 0 ||
	    (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		goto abort;
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) == 0)
		last = get_id(&k);
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto abort;
	put_id(key, last + 1);
	k = (MDB_val){ ID_LEN, key };
	v = (MDB_val){ val->len, val->data };
	if ((rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND)) != 0)
		goto abort;
	if ((rc = mdb_txn_commit(txn)) == 0)
		*id = last + 1;
	return rc;
abort:
	mdb_txn_abort(txn);
	return rc;
}

static int
has_line_break(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

static int
scheme_is(const char *url, const char *scheme)
{
	return url != NULL && strncasecmp(url, scheme, strlen(scheme)) == 0;
}

/* Refuses what could never be delivered; 0 or -1 with err. */
static int
check_item(const struct outbox_item *it, char *err, size_t errlen)
{
	const char *label = it->label ? it->label : "";
	size_t i;

	if (it->kind == OUTBOX_HTTP_POST &&
	    !scheme_is(it->url, "http://") && !scheme_is(it->url, "https://"))
		log_into(err, errlen, "outbox item '%s': an HTTP POST needs an http:// or "
		    "https:// url", label);
	else if (it->kind == OUTBOX_SMTP &&
	    !scheme_is(it->url, "smtp://") && !scheme_is(it->url, "smtps://"))
		log_into(err, errlen, "outbox item '%s': mail needs an smtp:// or smtps:// url", label);
	else if (it->kind != OUTBOX_HTTP_POST && it->kind != OUTBOX_SMTP)
		log_into(err, errlen, "outbox item '%s': unknown kind %d", label, (int)it->kind);
	else if (it->kind == OUTBOX_SMTP && (it->mail_from == NULL || it->nrcpt == 0))
		log_into(err, errlen, "outbox item '%s': mail needs a sender and recipients", label);
	else if (it->body_len > OUTBOX_BODY_MAX || (it->body_len && it->body == NULL))
		log_into(err, errlen, "outbox item '%s': body of %zu bytes is larger than %u", label,
		    it->body_len, OUTBOX_BODY_MAX);
	else {
		/* what curl would put on the wire verbatim must not smuggle in a line */
		for (i = 0; i < it->nheaders; i++)
			if (has_line_break(it->headers[i]))
				goto injection;
		for (i = 0; i < it->nrcpt; i++)
			if (has_line_break(it->mail_rcpt[i]))
				goto injection;
		if (has_line_break(it->url) || has_line_break(it->content_type) ||
		    has_line_break(it->mail_from))
			goto injection;
		return 0;
	}
	return -1;
injection:
	log_into(err, errlen, "outbox item '%s': a line break in a header or an address", label);
	return -1;
}

int
outbox_enqueue(struct ledger *l, const struct outbox_item *item, uint64_t *id, char *err,
    size_t errlen)
{
	struct outbox_item it = *item;
	struct buf val = { 0 };
	uint64_t newid = 0;
	int rc;

	if (check_item(item, err, errlen) < 0)
		return -1;
	it.created_ns = item->created_ns ? item->created_ns : clock_now_ns();
	it.next_attempt_ns = item->next_attempt_ns ? item->next_attempt_ns : it.created_ns;
	it.attempts = 0;
	it.last_attempt_ns = it.delivered_ns = 0;
	it.last_error = "";
	it.state = OUTBOX_PENDING;
	if (item_encode(&it, &val) < 0) {
		buf_release(&val);
		log_into(err, errlen, "cannot enqueue '%s': out of memory", it.label ? it.label : "");
		return -1;
	}
	while ((rc = append_item(l, &val, &newid)) == MDB_MAP_FULL)
		if (ledger_grow(l) < 0)
			break;
	buf_release(&val);
	if (rc != 0) {
		log_into(err, errlen, "cannot enqueue '%s' in ledger '%s': %s",
		    it.label ? it.label : "", ledger_dir(l), txn_error(rc));
		return -1;
	}
	if (id != NULL)
		*id = newid;
	return 0;
}

int
outbox_scan(struct ledger *l, outbox_visit_fn fn, void *arg, char *err, size_t errlen)
{
	struct decoded d;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	int rc, stop = 0;

	if ((rc = ledger_txn_begin(l, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, OUTBOX_DB, 0, &dbi)) == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 0;	/* nothing was ever enqueued */
	}
	if (rc != 0 || (rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !stop;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (decode(&v, get_id(&k), &d, 1) < 0)
			continue;	/* a newer layout's */
		stop = fn(arg, &d.item);
		decoded_release(&d);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (stop || rc == MDB_NOTFOUND)
		return 0;
fail:
	log_into(err, errlen, "cannot read the outbox of ledger '%s': %s", ledger_dir(l),
	    txn_error(rc));
	return -1;
}

/* ---- mail --------------------------------------------------------------------- */

static int
put_date(struct buf *out)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = time(NULL);
	struct tm tm;

	/* by hand: strftime's %a and %b follow the locale, RFC 5322 wants English */
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	return buf_printf(out, "Date: %s, %d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The domain of the last address in from (for the Message-ID), or "tollgate". */
static void
mail_domain(const char *from, char *dom, size_t size)
{
	const char *at = strrchr(from, '@');
	size_t n = at ? strspn(at + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-") : 0;

	if (n == 0)
		snprintf(dom, size, "tollgate");
	else
		snprintf(dom, size, "%.*s", (int)n, at + 1);
}

static int
put_message_id(struct buf *out, const char *from)
{
	static unsigned seq;
	char dom[256];

	mail_domain(from, dom, sizeof(dom));
	return buf_printf(out, "Message-ID: <%lld.%ld.%u@%s>\r\n", (long long)clock_now_ns(),
	    (long)getpid(), seq++, dom);
}

static int
put_base64(struct buf *out, const unsigned char *p, size_t n)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	uint32_t v;
	size_t i;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);
		q[0] = digits[v >> 18];
		q[1] = digits[(v >> 12) & 63];
		q[2] = i + 1 < n ? digits[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? digits[v & 63] : '=';
		if (buf_append(out, q, 4) < 0)
			return -1;
	}
	return 0;
}

/*
 * The Subject header.  Plain ASCII goes as it is; anything else as RFC 2047
 * encoded words of at most 45 bytes (75 characters encoded), cut between
 * UTF-8 characters and folded onto lines of their own.
 */
static int
put_subject(struct buf *out, const char *subject)
{
	struct buf s = { 0 };
	size_t i, n;
	int rc = -1, plain = 1;

	if (buf_append(&s, subject, strlen(subject)) < 0)
		return -1;
	for (i = 0; i < s.len; i++) {
		if (s.data[i] == '\r' || s.data[i] == '\n')
			s.data[i] = ' ';	/* a header line may not break */
		if ((unsigned char)s.data[i] < 0x20 || (unsigned char)s.data[i] > 0x7e)
			plain = 0;
	}
	if (plain) {
		rc = buf_printf(out, "Subject: %s\r\n", s.data);
		goto out;
	}
	if (buf_append(out, "Subject:", 8) < 0)
		goto out;
	for (i = 0; i < s.len; i += n) {
		n = s.len - i < 45 ? s.len - i : 45;
		while (n > 1 && i + n < s.len && ((unsigned char)s.data[i + n] & 0xc0) == 0x80)
			n--;
		if (buf_append(out, i ? "\r\n =?UTF-8?B?" : " =?UTF-8?B?", i ? 13 : 11) < 0 ||
		    put_base64(out, (const unsigned char *)s.data + i, n) < 0 ||
		    buf_append(out, "?=", 2) < 0)
			goto out;
	}
	rc = buf_append(out, "\r\n", 2);
out:
	buf_release(&s);
	return rc;
}

/* text with every line ending (LF, CR or CRLF) made CRLF, the last line ended too. */
static int
put_text(struct buf *out, const char *text)
{
	const char *p = text, *eol;
	size_t n;

	while (*p) {
		n = strcspn(p, "\r\n");
		eol = p + n;
		if (buf_append(out, p, n) < 0 || buf_append(out, "\r\n", 2) < 0)
			return -1;
		if (*eol == '\r' && eol[1] == '\n')
			eol++;
		p = *eol ? eol + 1 : eol;
	}
	return 0;
}

int
outbox_mail_format(struct buf *out, const char *from, const char *to, const char *subject,
    const char *text)
{
	size_t mark = out->len;

	if (from == NULL || to == NULL || has_line_break(from) || has_line_break(to))
		return -1;
	if (put_date(out) < 0 ||
	    buf_printf(out, "From: %s\r\nTo: %s\r\n", from, to) < 0 ||
	    put_subject(out, subject ? subject : "") < 0 ||
	    put_message_id(out, from) < 0 ||
	    buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n") < 0 ||
	    put_text(out, text ? text : "") < 0) {
		if (out->data) {
			out->len = mark;
			out->data[mark] = '\0';
		}
		return -1;
	}
	return 0;
}

/* ---- the runtime ------------------------------------------------------------------ */

/* One transfer under way: the item it delivers, and curl's handle for it. */
struct delivery {
	unsigned		 magic;
	struct outbox		*ob;
	struct decoded		 d;
	CURL			*easy;
	struct curl_slist	*headers, *rcpt;
	size_t			 sent;		/* SMTP: body bytes handed to curl */
	char			 error[CURL_ERROR_SIZE];
	LIST_ENTRY(delivery)	 link;
};

LIST_HEAD(delivery_list, delivery);

struct outbox {
	unsigned		 magic;
	struct event_base	*base;
	struct ledger		*ledger;
	struct outbox_policy	 policy;
	struct curlev		 curl;		/* libcurl multi on base */
	struct event		*tick;		/* the next look for due items */
	struct {
		uint64_t	id;
		int64_t		until;
	}			 unsaved[UNSAVED_MAX];	/* outcomes LMDB refused: held back */
	size_t			 nunsaved;
	struct delivery_list	 busy;
	uint32_t		 nbusy;
	int			 stopped;
	int			 failing;	/* the last look failed: said once */
};


/* What one attempt came to. */
struct outcome {
	int	delivered;
	int64_t	at_ns;
	char	error[OUTBOX_ERROR_MAX];
};

static void check_multi_info(struct outbox *ob);

static void
curl_ran(void *arg)
{
	check_multi_info(arg);
}

/*
 * The wait after the attempts-th failure: doubling from the base up to the
 * cap, plus up to 7/64 of it by id, so that items failing together spread.
 */
static int64_t
backoff_ns(const struct outbox_policy *p, uint32_t attempts, uint64_t id)
{
	int64_t wait = p->backoff_base_ms * MS, cap = p->backoff_max_ms * MS;
	uint32_t i;

	for (i = 1; i < attempts && wait < cap; i++)
		wait *= 2;
	if (wait > cap)
		wait = cap;
	return wait + wait / 64 * (int64_t)(id % 8);
}

/*
 * Applies o to the stored item under id, as ob's policy says.  *attempts is
 * set to the attempts now made and *gave_up when this one was the last.  An
 * LMDB rc; an item deleted meanwhile or no longer pending (an operator's
 * doing) is left alone.
 */
static int
store_outcome(struct outbox *ob, uint64_t id, const struct outcome *o, uint32_t *attempts,
    int *gave_up)
{
	unsigned char key[ID_LEN];
	struct decoded d = { 0 };
	struct outbox_item *it = &d.item;
	struct buf val = { 0 };
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { ID_LEN, key }, v;
	int rc;

	put_id(key, id);
	if ((rc = ledger_txn_begin(ob->ledger, 1, &txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, OUTBOX_DB, MDB_CREATE, &dbi)) != 0 ||
	    (rc = mdb_get(txn, dbi, &k, &v)) != 0 ||
	    decode(&v, id, &d, 1) < 0 || it->state != OUTBOX_PENDING)
		goto abort;
	it->attempts++;
	it->last_attempt_ns = o->at_ns;
	if (o->delivered) {
		it->state = OUTBOX_DELIVERED;
		it->delivered_ns = o->at_ns;
	} else {
		it->last_error = o->error;
		if (it->attempts >= ob->policy.max_attempts)
			it->state = OUTBOX_FAILED;
		else
			it->next_attempt_ns = o->at_ns + backoff_ns(&ob->policy, it->attempts, id);
	}
	if (item_encode(it, &val) < 0) {
		rc = ENOMEM;
		goto abort;
	}
	v = (MDB_val){ val.len, val.data };
	if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
		goto abort;
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto out;
	*attempts = it->attempts;
	*gave_up = it->state == OUTBOX_FAILED;
	goto out;
abort:
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	buf_release(&val);
	decoded_release(&d);
	return rc;
}

/*
 * An item whose outcome LMDB would not store (a full disk) is still pending
 * there: without this it would be sent again at once, and again.  It waits
 * UNSAVED_WAIT_NS in memory instead (a restart forgets, and sends it again).
 */
static void
hold_back(struct outbox *ob, uint64_t id, int64_t until)
{
	size_t i, slot = 0;

	for (i = 0; i < ob->nunsaved && ob->unsaved[i].id != id; i++)
		if (ob->unsaved[i].until < ob->unsaved[slot].until)
			slot = i;	/* the soonest free again: replaced when all are taken */
	if (i < ob->nunsaved)
		slot = i;
	else if (ob->nunsaved < UNSAVED_MAX)
		slot = ob->nunsaved++;
	ob->unsaved[slot].id = id;
	ob->unsaved[slot].until = until;
}

static int64_t
held_until(const struct outbox *ob, uint64_t id)
{
	size_t i;

	for (i = 0; i < ob->nunsaved; i++)
		if (ob->unsaved[i].id == id)
			return ob->unsaved[i].until;
	return 0;
}

/* Writes what an attempt at dv's item came to, and says so in the log. */
static void
record_outcome(struct outbox *ob, const struct delivery *dv, const struct outcome *o)
{
	const struct outbox_item *it = &dv->d.item;
	uint32_t attempts = 0;
	int rc, gave_up = 0;

	while ((rc = store_outcome(ob, it->id, o, &attempts, &gave_up)) == MDB_MAP_FULL)
		if (ledger_grow(ob->ledger) < 0)
			break;
	if (rc != 0) {
		log_error("outbox: cannot record an attempt at '%s' (item %llu): %s", it->label,
		    (unsigned long long)it->id, txn_error(rc));
		hold_back(ob, it->id, o->at_ns + UNSAVED_WAIT_NS);
	}
	else if (gave_up)
		log_error("outbox: gave up on '%s' (item %llu) after %u attempts: %s", it->label,
		    (unsigned long long)it->id, attempts, o->error);
	else if (!o->delivered)
		log_debug("outbox: attempt %u at '%s' (item %llu) failed: %s", attempts, it->label,
		    (unsigned long long)it->id, o->error);
}

static void
delivery_free(struct delivery *dv)
{
	if (dv->easy != NULL) {
		curl_multi_remove_handle(dv->ob->curl.multi, dv->easy);
		curl_easy_cleanup(dv->easy);
	}
	curl_slist_free_all(dv->headers);
	curl_slist_free_all(dv->rcpt);
	decoded_release(&dv->d);
	dv->magic = 0;
	free(dv);
}

/* The runtime no longer tracks dv. */
static void
delivery_forget(struct delivery *dv)
{
	LIST_REMOVE(dv, link);
	dv->ob->nbusy--;
}

static void
transfer_done(struct delivery *dv, CURLcode rc)
{
	struct outcome o = { 0, clock_now_ns(), "" };
	long status = 0;

	if (rc != CURLE_OK)
		snprintf(o.error, sizeof(o.error), "%s",
		    dv->error[0] ? dv->error : curl_easy_strerror(rc));
	else if (dv->d.item.kind == OUTBOX_HTTP_POST) {
		curl_easy_getinfo(dv->easy, CURLINFO_RESPONSE_CODE, &status);
		o.delivered = status >= 200 && status < 300;
		if (!o.delivered)
			snprintf(o.error, sizeof(o.error), "HTTP %ld", status);
	} else
		o.delivered = 1;	/* curl checked every reply of the SMTP server */
	delivery_forget(dv);
	record_outcome(dv->ob, dv, &o);
	outbox_kick(dv->ob);
	delivery_free(dv);
}

static void
check_multi_info(struct outbox *ob)
{
	struct delivery *dv;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(ob->curl.multi, &left)) != NULL) {
		dv = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&dv);
		if (dv == NULL || dv->magic != DELIVERY_MAGIC)
			continue;
		transfer_done(dv, msg->data.result);
	}
}

static size_t
discard_body(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p, (void)arg;
	return size * nmemb;
}

/*
 * SMTP: hands curl the message, which it dot-stuffs and ends with CRLF.CRLF.
 * curl then waits for the server's verdict without returning to the loop
 * (outbox.h): CURLOPT_TIMEOUT_MS bounds that wait too.
 */
static size_t
read_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct delivery *dv = arg;
	size_t n = size * nmemb, left = dv->d.item.body_len - dv->sent;

	if (n > left)
		n = left;
	memcpy(p, dv->d.item.body + dv->sent, n);
	dv->sent += n;
	return n;
}

static struct curl_slist *
slist_add(struct curl_slist **l, const char *fmt, const char *s)
{
	char line[4096];
	struct curl_slist *n;

	snprintf(line, sizeof(line), fmt, s);
	if ((n = curl_slist_append(*l, line)) != NULL)
		*l = n;
	return n;
}

static int
setup_http(struct delivery *dv)
{
	const struct outbox_item *it = &dv->d.item;
	size_t i;

	if (slist_add(&dv->headers, "Content-Type: %s",
	    it->content_type[0] ? it->content_type : "application/json") == NULL ||
	    slist_add(&dv->headers, "%s", "Expect:") == NULL)	/* no 100-continue round trip */
		return -1;
	for (i = 0; i < it->nheaders; i++)
		if (slist_add(&dv->headers, "%s", it->headers[i]) == NULL)
			return -1;
	curl_easy_setopt(dv->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(dv->easy, CURLOPT_POSTFIELDS, it->body);
	curl_easy_setopt(dv->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->body_len);
	curl_easy_setopt(dv->easy, CURLOPT_HTTPHEADER, dv->headers);
	curl_easy_setopt(dv->easy, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(dv->easy, CURLOPT_USERAGENT, "tollgate/" TOLLGATE_VERSION);
	return 0;
}

static int
setup_smtp(struct delivery *dv)
{
	const struct outbox_item *it = &dv->d.item;
	size_t i;

	for (i = 0; i < it->nrcpt; i++)
		if (slist_add(&dv->rcpt, "%s", it->mail_rcpt[i]) == NULL)
			return -1;
	curl_easy_setopt(dv->easy, CURLOPT_MAIL_FROM, it->mail_from);
	curl_easy_setopt(dv->easy, CURLOPT_MAIL_RCPT, dv->rcpt);
	curl_easy_setopt(dv->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(dv->easy, CURLOPT_READFUNCTION, read_body);
	curl_easy_setopt(dv->easy, CURLOPT_READDATA, dv);
	curl_easy_setopt(dv->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)it->body_len);
	/* STARTTLS when offered; with a password in the URL, TLS or no mail */
	curl_easy_setopt(dv->easy, CURLOPT_USE_SSL, (long)(strchr(it->url, '@') != NULL ?
	    CURLUSESSL_ALL : CURLUSESSL_TRY));
	return 0;
}

/* Hands dv's transfer to the multi handle; 0, or -1 with dv->error. */
static int
delivery_start(struct delivery *dv)
{
	const struct outbox_policy *p = &dv->ob->policy;

	if ((dv->easy = curl_easy_init()) == NULL ||
	    (dv->d.item.kind == OUTBOX_SMTP ? setup_smtp(dv) : setup_http(dv)) < 0) {
		snprintf(dv->error, sizeof(dv->error), "cannot set up the transfer: out of memory");
		return -1;
	}
	curl_easy_setopt(dv->easy, CURLOPT_URL, dv->d.item.url);
	curl_easy_setopt(dv->easy, CURLOPT_PRIVATE, dv);
	curl_easy_setopt(dv->easy, CURLOPT_ERRORBUFFER, dv->error);
	curl_easy_setopt(dv->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(dv->easy, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(dv->easy, CURLOPT_TIMEOUT_MS, p->timeout_ms);
	curl_easy_setopt(dv->easy, CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
	dv->error[0] = '\0';
	if (curl_multi_add_handle(dv->ob->curl.multi, dv->easy) != CURLM_OK) {
		curl_easy_cleanup(dv->easy);
		dv->easy = NULL;
		snprintf(dv->error, sizeof(dv->error), "cannot start the transfer");
		return -1;
	}
	return 0;
}

static int
is_busy(const struct outbox *ob, uint64_t id)
{
	const struct delivery *dv;

	LIST_FOREACH(dv, &ob->busy, link)
		if (dv->d.item.id == id)
			return 1;
	return 0;
}

/* What one look through the outbox found. */
struct sweep {
	int64_t			 now;
	int64_t			 wake;		/* the earliest due time of a pending item left */
	struct delivery_list	 due;		/* to start, within max_parallel */
	uint32_t		 ndue;
	uint64_t		 expired[PRUNE_BATCH];
	size_t			 nexpired;
};

/* Sorts the stored item under id into s; 0 or -1 (out of memory). */
static int
sweep_item(struct outbox *ob, struct sweep *s, const MDB_val *v, uint64_t id)
{
	struct delivery *dv;
	struct decoded d;
	int64_t ended;

	if (decode(v, id, &d, 0) < 0)
		return 0;	/* a newer layout's: not ours to send or delete */
	if (d.item.state != OUTBOX_PENDING) {
		ended = d.item.state == OUTBOX_DELIVERED ? d.item.delivered_ns : d.item.last_attempt_ns;
		if (ended <= s->now - ob->policy.keep_ns && s->nexpired < PRUNE_BATCH)
			s->expired[s->nexpired++] = id;
		return 0;
	}
	if (is_busy(ob, id))
		return 0;
	if (held_until(ob, id) > d.item.next_attempt_ns)
		d.item.next_attempt_ns = held_until(ob, id);
	if (d.item.next_attempt_ns > s->now) {
		if (d.item.next_attempt_ns < s->wake)
			s->wake = d.item.next_attempt_ns;
		return 0;
	}
	if (ob->nbusy + s->ndue >= ob->policy.max_parallel)
		return 0;	/* a transfer that ends looks again */
	if ((dv = calloc(1, sizeof(*dv))) == NULL || decode(v, id, &dv->d, 1) < 0) {
		free(dv);
		return -1;
	}
	dv->magic = DELIVERY_MAGIC;
	dv->ob = ob;
	LIST_INSERT_HEAD(&s->due, dv, link);
	s->ndue++;
	return 0;
}

/* Reads the whole outbox into s in one read transaction; an LMDB rc. */
static int
sweep_read(struct outbox *ob, struct sweep *s)
{
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	int rc;

	if ((rc = ledger_txn_begin(ob->ledger, 0, &txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, OUTBOX_DB, 0, &dbi)) != 0 ||
	    (rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (sweep_item(ob, s, &v, get_id(&k)) < 0) {
			rc = ENOMEM;
			break;
		}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Deletes the expired items s found; an LMDB rc. */
static int
prune(struct outbox *ob, const struct sweep *s)
{
	unsigned char key[ID_LEN];
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { ID_LEN, key };
	size_t i;
	int rc;

	if (s->nexpired == 0)
		return 0;
	if ((rc = ledger_txn_begin(ob->ledger, 1, &txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, OUTBOX_DB, MDB_CREATE, &dbi)) == 0)
		for (i = 0; i < s->nexpired && rc == 0; i++) {
			put_id(key, s->expired[i]);
			if ((rc = mdb_del(txn, dbi, &k, NULL)) == MDB_NOTFOUND)
				rc = 0;
		}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/* Starts the transfers s found; one that cannot start counts as a failed attempt. */
static void
start_due(struct outbox *ob, struct sweep *s)
{
	struct delivery *dv;
	struct outcome o = { 0 };

	while ((dv = LIST_FIRST(&s->due)) != NULL) {
		LIST_REMOVE(dv, link);
		if (delivery_start(dv) == 0) {
			LIST_INSERT_HEAD(&ob->busy, dv, link);
			ob->nbusy++;
			continue;
		}
		o.at_ns = clock_now_ns();
		snprintf(o.error, sizeof(o.error), "%s", dv->error);
		record_outcome(ob, dv, &o);
		delivery_free(dv);
	}
}

static void
schedule(struct outbox *ob, int64_t after_ns)
{
	struct timeval tv;

	if (after_ns < 0)
		after_ns = 0;
	tv.tv_sec = (time_t)(after_ns / 1000000000);
	tv.tv_usec = (suseconds_t)(after_ns % 1000000000 / 1000);
	evtimer_add(ob->tick, &tv);
}

/*
 * One look: starts what is due, deletes what has been kept long enough, and
 * comes back when the next pending item falls due or after poll_ms, to see
 * items other processes enqueued.
 */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;
	struct sweep s = { 0 };
	int rc;

	(void)fd, (void)what;
	s.now = clock_now_ns();
	s.wake = s.now + ob->policy.poll_ms * MS;
	LIST_INIT(&s.due);
	if ((rc = sweep_read(ob, &s)) == 0)
		rc = prune(ob, &s);
	start_due(ob, &s);
	if (rc != 0 && rc != MDB_NOTFOUND && !ob->failing) {
		log_error("outbox: cannot look for due items in ledger '%s': %s",
		    ledger_dir(ob->ledger), txn_error(rc));
		ob->failing = 1;
	} else if (rc == 0 && ob->failing) {
		log_info("outbox: reading ledger '%s' again", ledger_dir(ob->ledger));
		ob->failing = 0;
	}
	schedule(ob, s.wake - clock_now_ns());
}

static void
apply_defaults(struct outbox_policy *p, const struct outbox_policy *given)
{
	if (given != NULL)
		*p = *given;
	else
		memset(p, 0, sizeof(*p));
	if (p->timeout_ms <= 0)
		p->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (p->backoff_base_ms <= 0)
		p->backoff_base_ms = DEFAULT_BACKOFF_MS;
	if (p->backoff_max_ms <= 0)
		p->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
	if (p->poll_ms <= 0)
		p->poll_ms = DEFAULT_POLL_MS;
	if (p->max_attempts == 0)
		p->max_attempts = DEFAULT_MAX_ATTEMPTS;
	if (p->max_parallel == 0)
		p->max_parallel = DEFAULT_MAX_PARALLEL;
	if (p->keep_ns <= 0)
		p->keep_ns = DEFAULT_KEEP_NS;
}

/* Creates the database, proving on the way that this process may write; an LMDB rc. */
static int
create_db(struct ledger *l)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	if ((rc = ledger_txn_begin(l, 1, &txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, OUTBOX_DB, MDB_CREATE, &dbi)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static int
init_multi(struct outbox *ob)
{
	if (curlev_init(&ob->curl, ob->base, curl_ran, ob) < 0 ||
	    (ob->tick = evtimer_new(ob->base, on_tick, ob)) == NULL)
		return -1;
	return 0;
}

int
outbox_start(struct event_base *base, struct ledger *l, const struct outbox_policy *policy,
    struct outbox **out, char *err, size_t errlen)
{
	struct outbox *ob;
	int rc;

	while ((rc = create_db(l)) == MDB_MAP_FULL)
		if (ledger_grow(l) < 0)
			break;
	if (rc != 0) {
		log_into(err, errlen, "cannot start the outbox of ledger '%s': %s", ledger_dir(l),
		    txn_error(rc));
		return -1;
	}
	if ((ob = calloc(1, sizeof(*ob))) == NULL) {
		log_into(err, errlen, "cannot start the outbox: out of memory");
		return -1;
	}
	ob->magic = OUTBOX_MAGIC;
	ob->base = base;
	ob->ledger = l;
	apply_defaults(&ob->policy, policy);
	LIST_INIT(&ob->busy);
	if (init_multi(ob) < 0) {
		outbox_free(ob);
		log_into(err, errlen, "cannot start the outbox: out of memory");
		return -1;
	}
	outbox_kick(ob);
	*out = ob;
	return 0;
}

void
outbox_kick(struct outbox *ob)
{
	if (ob == NULL)
		return;
	assert(ob->magic == OUTBOX_MAGIC);
	if (ob->stopped)
		return;
	schedule(ob, 0);
}

void
outbox_stop(struct outbox *ob)
{
	struct delivery *dv;

	if (ob->stopped)
		return;
	ob->stopped = 1;
	while ((dv = LIST_FIRST(&ob->busy)) != NULL) {
		delivery_forget(dv);
		delivery_free(dv);
	}
	curlev_release(&ob->curl);
	if (ob->tick != NULL)
		event_free(ob->tick);
	ob->tick = NULL;
}

void
outbox_free(struct outbox *ob)
{
	if (ob == NULL)
		return;
	outbox_stop(ob);
	ob->magic = 0;
	free(ob);
}
