/*
 * The outbox against local receivers: an HTTP receiver (evhttp on a loopback
 * port, in this process) that can be told to answer 503 to its first
 * requests or never to answer, and an SMTP sink written here on
 * bufferevents (in a child process).  Covers
 * the round trip of every stored field, the mail format, delivery once,
 * retries after failures, giving up on a closed port (logged once), mail,
 * items enqueued before the runtime started, a runtime stopped mid-transfer
 * (the item is sent again: at least once), and the pruning of old items.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "buf.h"
#include "ledger.h"
#include "outbox.h"
#include "tap.h"

#define GUARD_SEC	30	/* a hung test ends as a failure, not a hang */
#define MAX_RCPT	4

static char root[256];
static struct event_base *base;

static char *
path_in(const char *name)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", root, name);
	return p;
}

static int
bound_port(evutil_socket_t fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	return ntohs(sin.sin_port);
}

/* ---- the HTTP receiver --------------------------------------------------------- */

struct receiver {
	struct evhttp	*http;
	int		 port;
	int		 fail_first;	/* answer 503 to this many requests */
	int		 hold;		/* never answer */
	int		 requests;
	struct buf	 body;		/* of the last request */
	char		 content_type[128];
	char		 test_header[128];
};

static void
header_copy(struct evhttp_request *req, const char *name, char *dst, size_t size)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);

	snprintf(dst, size, "%s", v ? v : "");
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct receiver *r = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);

	r->requests++;
	r->body.len = 0;
	if (n > 0)
		buf_append(&r->body, evbuffer_pullup(in, -1), n);
	header_copy(req, "Content-Type", r->content_type, sizeof(r->content_type));
	header_copy(req, "X-Tollgate-Test", r->test_header, sizeof(r->test_header));
	if (r->hold)
		return;
	if (r->fail_first > 0) {
		r->fail_first--;
		evhttp_send_reply(req, 503, "Service Unavailable", NULL);
		return;
	}
	evhttp_send_reply(req, 200, "OK", NULL);
}

static int
receiver_start(struct receiver *r)
{
	struct evhttp_bound_socket *bs;

	memset(r, 0, sizeof(*r));
	if ((r->http = evhttp_new(base)) == NULL ||
	    (bs = evhttp_bind_socket_with_handle(r->http, "127.0.0.1", 0)) == NULL)
		return -1;
	evhttp_set_gencb(r->http, on_request, r);
	r->port = bound_port(evhttp_bound_socket_get_fd(bs));
	return r->port > 0 ? 0 : -1;
}

static void
receiver_stop(struct receiver *r)
{
	if (r->http)
		evhttp_free(r->http);
	buf_release(&r->body);
}

/* ---- the SMTP sink --------------------------------------------------------------- */

/*
 * The sink runs in a child process with its own event loop: libcurl waits for
 * the reply to the end of a message inside the transfer (see outbox.h), so a
 * sink on the test's own loop could never answer it.  After each message the
 * child writes what it received to the report file, which the test reads.
 */
struct sink {
	pid_t			 pid;
	int			 port;
	char			 report[512];
	/* the child's */
	struct event_base	*base;
	struct evconnlistener	*lev;
	/* the last message, dot-stuffing undone */
	int			 messages;
	char			 from[256];
	char			 rcpt[MAX_RCPT][256];
	int			 nrcpt;
	struct buf		 data;
};

struct sink_conn {
	struct sink		*sink;
	struct bufferevent	*bev;
	int			 in_data, quitting;
};

static void
sink_reply(struct sink_conn *c, const char *s)
{
	bufferevent_write(c->bev, s, strlen(s));
}

static void
sink_conn_free(struct sink_conn *c)
{
	bufferevent_free(c->bev);
	free(c);
}

/* Writes the report file: messages, from, nrcpt and the rcpts a line each, then the data. */
static void
sink_report(struct sink *s)
{
	struct buf b = { 0 };
	char tmp[600];
	FILE *f;
	int i;

	buf_printf(&b, "%d\n%s\n%d\n", s->messages, s->from, s->nrcpt);
	for (i = 0; i < s->nrcpt; i++)
		buf_printf(&b, "%s\n", s->rcpt[i]);
	if (s->data.len)
		buf_append(&b, s->data.data, s->data.len);
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->report);
	if ((f = fopen(tmp, "w")) != NULL) {
		fwrite(b.data, 1, b.len, f);
		if (fclose(f) == 0)
			rename(tmp, s->report);
	}
	buf_release(&b);
}

/* One line of the message, or its end. */
static void
sink_data(struct sink_conn *c, const char *line)
{
	struct sink *s = c->sink;

	if (strcmp(line, ".") == 0) {
		c->in_data = 0;
		s->messages++;
		sink_report(s);
		sink_reply(c, "250 2.0.0 queued\r\n");
		return;
	}
	if (line[0] == '.')
		line++;
	buf_append(&s->data, line, strlen(line));
	buf_append(&s->data, "\r\n", 2);
}

static int
verb(const char *line, const char *v)
{
	return strncasecmp(line, v, strlen(v)) == 0;
}

static void
sink_command(struct sink_conn *c, const char *line)
{
	struct sink *s = c->sink;

	if (c->in_data)
		sink_data(c, line);
	else if (verb(line, "EHLO "))
		sink_reply(c, "250-sink\r\n250 8BITMIME\r\n");
	else if (verb(line, "HELO "))
		sink_reply(c, "250 sink\r\n");
	else if (verb(line, "MAIL FROM:")) {
		snprintf(s->from, sizeof(s->from), "%s", line + 10);
		s->nrcpt = 0;
		s->data.len = 0;
		sink_reply(c, "250 2.1.0 ok\r\n");
	} else if (verb(line, "RCPT TO:") && s->nrcpt < MAX_RCPT) {
		snprintf(s->rcpt[s->nrcpt++], sizeof(s->rcpt[0]), "%s", line + 8);
		sink_reply(c, "250 2.1.5 ok\r\n");
	} else if (verb(line, "DATA")) {
		c->in_data = 1;
		sink_reply(c, "354 go ahead\r\n");
	} else if (verb(line, "QUIT")) {
		c->quitting = 1;
		sink_reply(c, "221 bye\r\n");
	} else if (verb(line, "RSET") || verb(line, "NOOP"))
		sink_reply(c, "250 ok\r\n");
	else
		sink_reply(c, "502 5.5.2 what\r\n");
}

static void
on_sink_read(struct bufferevent *bev, void *arg)
{
	struct sink_conn *c = arg;
	char *line;
	size_t n;

	while (!c->quitting &&
	    (line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_CRLF)) != NULL) {
		sink_command(c, line);
		free(line);
	}
}

static void
on_sink_written(struct bufferevent *bev, void *arg)
{
	struct sink_conn *c = arg;

	(void)bev;
	if (c->quitting)
		sink_conn_free(c);
}

static void
on_sink_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		sink_conn_free(arg);
}

static void
on_sink_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int len,
    void *arg)
{
	struct sink *s = arg;
	struct sink_conn *c;

	(void)lev, (void)sa, (void)len;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->sink = s;
	bufferevent_setcb(c->bev, on_sink_read, on_sink_written, on_sink_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	sink_reply(c, "220 sink ESMTP\r\n");
}

/* The child: serves until killed, after telling the parent its port through fd. */
static void
sink_child(struct sink *s, int fd)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	s->port = -1;
	if ((s->base = event_base_new()) != NULL &&
	    (s->lev = evconnlistener_new_bind(s->base, on_sink_accept, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16, (struct sockaddr *)&sin,
	    sizeof(sin))) != NULL)
		s->port = bound_port(evconnlistener_get_fd(s->lev));
	if (write(fd, &s->port, sizeof(s->port)) != sizeof(s->port) || s->port < 0)
		_exit(1);
	close(fd);
	event_base_dispatch(s->base);
	_exit(0);
}

static int
sink_start(struct sink *s, const char *report)
{
	int fds[2];

	memset(s, 0, sizeof(*s));
	snprintf(s->report, sizeof(s->report), "%s", report);
	if (pipe(fds) < 0)
		return -1;
	fflush(NULL);
	if ((s->pid = fork()) < 0)
		return -1;
	if (s->pid == 0) {
		close(fds[0]);
		sink_child(s, fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], &s->port, sizeof(s->port)) != sizeof(s->port))
		s->port = -1;
	close(fds[0]);
	return s->port > 0 ? 0 : -1;
}

static void
sink_stop(struct sink *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	buf_release(&s->data);
}

/* Copies the line at *p into dst and moves past it. */
static void
next_line(char **p, char *dst, size_t size)
{
	char *nl = strchr(*p, '\n');
	size_t n = nl ? (size_t)(nl - *p) : strlen(*p);

	snprintf(dst, size, "%.*s", (int)n, *p);
	*p += nl ? n + 1 : n;
}

/* Reads the child's report into s; 0, or -1 when there is none yet. */
static int
sink_read(struct sink *s)
{
	struct buf b = { 0 };
	char num[32], *p;
	int i;

	if (buf_read_file(&b, s->report) < 0)
		return -1;
	p = b.data;
	next_line(&p, num, sizeof(num));
	s->messages = atoi(num);
	next_line(&p, s->from, sizeof(s->from));
	next_line(&p, num, sizeof(num));
	s->nrcpt = atoi(num);
	for (i = 0; i < s->nrcpt && i < MAX_RCPT; i++)
		next_line(&p, s->rcpt[i], sizeof(s->rcpt[0]));
	s->data.len = 0;
	buf_append(&s->data, p, strlen(p));
	buf_release(&b);
	return 0;
}

/* ---- running the loop ---------------------------------------------------------------- */

/* What the ledger says of one item. */
struct snap {
	uint64_t		id;
	int			found;
	enum outbox_state	state;
	uint32_t		attempts;
	int64_t			delivered_ns, last_attempt_ns;
	char			last_error[OUTBOX_ERROR_MAX];
};

static int
snap_visit(void *arg, const struct outbox_item *it)
{
	struct snap *s = arg;

	if (it->id != s->id)
		return 0;
	s->found = 1;
	s->state = it->state;
	s->attempts = it->attempts;
	s->delivered_ns = it->delivered_ns;
	s->last_attempt_ns = it->last_attempt_ns;
	snprintf(s->last_error, sizeof(s->last_error), "%s", it->last_error);
	return 1;
}

static void
snapshot(struct ledger *l, uint64_t id, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	outbox_scan(l, snap_visit, s, NULL, 0);
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	*(int *)arg = 1;
}

/* Runs the loop until done(arg) or the guard; returns done(arg). */
static int
run_until(int (*done)(void *), void *arg, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *guard;
	int expired = 0;

	guard = evtimer_new(base, on_guard, &expired);
	evtimer_add(guard, &tv);
	while (!done(arg) && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(guard);
	return done(arg);
}

static int
never(void *arg)
{
	(void)arg;
	return 0;
}

/* Lets the loop run for ms: time for anything that should not happen to happen. */
static void
run_for(long ms)
{
	run_until(never, NULL, ms);
}

struct settle {
	struct ledger	*l;
	struct snap	*s;
};

static int
settled(void *arg)
{
	struct settle *st = arg;

	snapshot(st->l, st->s->id, st->s);
	return st->s->found && st->s->state != OUTBOX_PENDING;
}

/* Runs the loop until item id is delivered or failed; s says how it ended. */
static void
wait_settled(struct ledger *l, uint64_t id, struct snap *s)
{
	struct settle st = { l, s };

	s->id = id;
	if (!run_until(settled, &st, GUARD_SEC * 1000L))
		diag("item %llu did not settle: found %d, attempts %u, last error '%s'",
		    (unsigned long long)id, s->found, s->attempts, s->last_error);
}

static uint64_t
enqueue(struct ledger *l, const struct outbox_item *it)
{
	char err[512];
	uint64_t id = 0;

	if (outbox_enqueue(l, it, &id, err, sizeof(err)) < 0)
		diag("enqueue: %s", err);
	return id;
}

/* ---- the tests ---------------------------------------------------------------------- */

struct found {
	int	n;
	int	same;
};

static const char *const rt_headers[] = { "X-Tollgate-Test: yes", "Authorization: Bearer t" };
static const char *const rt_rcpt[] = { "ops@example.com", "<oncall@example.com>" };
static const char rt_body[] = "{\"day\":\"2026-11-28\"}\0binary tail";

static int
same_str(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	diag("got '%s', want '%s'", got, want);
	return 0;
}

/* Checks every field of the round-trip item in the visit: the item lives for the call only. */
static int
roundtrip_visit(void *arg, const struct outbox_item *it)
{
	struct found *f = arg;

	if (f->n++ != 0)
		return 0;
	f->same = it->id == 1 && it->kind == OUTBOX_HTTP_POST &&
	    same_str(it->url, "https://hooks.example.com/T0/B0/xyz") &&
	    same_str(it->content_type, "application/json") &&
	    it->nheaders == 2 && same_str(it->headers[0], rt_headers[0]) &&
	    same_str(it->headers[1], rt_headers[1]) &&
	    it->body_len == sizeof(rt_body) && memcmp(it->body, rt_body, sizeof(rt_body)) == 0 &&
	    it->body[it->body_len] == '\0' &&
	    same_str(it->mail_from, "") && it->nrcpt == 0 &&
	    same_str(it->label, "export 2026-11-28") &&
	    it->created_ns == 1795462266000000000LL &&
	    it->next_attempt_ns == 1795462266000000000LL + 60000000000LL &&
	    it->attempts == 0 && it->last_attempt_ns == 0 && same_str(it->last_error, "") &&
	    it->state == OUTBOX_PENDING && it->delivered_ns == 0;
	return 0;
}

static int
smtp_visit(void *arg, const struct outbox_item *it)
{
	struct found *f = arg;

	if (it->id != 2)
		return 0;
	f->same = it->kind == OUTBOX_SMTP && same_str(it->url, "smtps://mail.example.com:465") &&
	    same_str(it->mail_from, "alerts@example.com") && it->nrcpt == 2 &&
	    same_str(it->mail_rcpt[0], rt_rcpt[0]) && same_str(it->mail_rcpt[1], rt_rcpt[1]) &&
	    it->nheaders == 0 && same_str(it->content_type, "") &&
	    it->created_ns > 1795462266000000000LL && it->next_attempt_ns == it->created_ns &&
	    it->body_len == 7 && same_str(it->body, "Hello\r\n") && same_str(it->label, "");
	return 1;
}

static void
test_roundtrip(void)
{
	struct outbox_item it = {
		.kind = OUTBOX_HTTP_POST, .url = "https://hooks.example.com/T0/B0/xyz",
		.content_type = "application/json", .headers = rt_headers, .nheaders = 2,
		.body = rt_body, .body_len = sizeof(rt_body), .label = "export 2026-11-28",
		.created_ns = 1795462266000000000LL,
		.next_attempt_ns = 1795462266000000000LL + 60000000000LL,
		/* enqueue starts every item afresh, whatever these say */
		.attempts = 5, .last_error = "stale", .state = OUTBOX_FAILED, .delivered_ns = 7,
	};
	struct outbox_item mail = {
		.kind = OUTBOX_SMTP, .url = "smtps://mail.example.com:465", .body = "Hello\r\n",
		.body_len = 7, .mail_from = "alerts@example.com", .mail_rcpt = rt_rcpt, .nrcpt = 2,
	};
	struct outbox_item bad;
	struct found f = { 0 };
	struct ledger *l;
	char err[512];
	uint64_t id = 0;

	if (!ok(ledger_open(path_in("roundtrip"), LEDGER_WRITE, 1 << 20, 1, &l, err,
	    sizeof(err)) == 0, "open a ledger")) {
		diag("%s", err);
		return;
	}
	is_int(outbox_scan(l, roundtrip_visit, &f, err, sizeof(err)), 0,
	    "a ledger without an outbox scans as empty");
	is_int(f.n, 0, "with nothing in it");
	is_int(outbox_enqueue(l, &it, &id, err, sizeof(err)), 0, "enqueue an HTTP item");
	is_int((long long)id, 1, "the first id is 1");
	is_int(outbox_enqueue(l, &mail, &id, err, sizeof(err)), 0, "enqueue a mail");
	is_int((long long)id, 2, "the next id is the last + 1");
	is_int(outbox_scan(l, roundtrip_visit, &f, err, sizeof(err)), 0, "scan");
	is_int(f.n, 2, "both items visited");
	ok(f.same, "every field of the HTTP item read back, fresh state included");
	f.same = 0;
	outbox_scan(l, smtp_visit, &f, err, sizeof(err));
	ok(f.same, "every field of the mail read back, its times defaulted");

	bad = it;
	bad.url = "smtp://mail.example.com";
	is_int(outbox_enqueue(l, &bad, NULL, err, sizeof(err)), -1, "an HTTP item with an smtp url");
	ok(strstr(err, "export 2026-11-28") != NULL, "is refused, naming its label: %s", err);
	bad = mail;
	bad.nrcpt = 0;
	is_int(outbox_enqueue(l, &bad, NULL, err, sizeof(err)), -1, "a mail without recipients");
	bad = it;
	bad.headers = (const char *const[]){ "X-A: 1\r\nX-B: 2" };
	bad.nheaders = 1;
	is_int(outbox_enqueue(l, &bad, NULL, err, sizeof(err)), -1,
	    "a header with a line break in it");
	bad = it;
	bad.body_len = OUTBOX_BODY_MAX + 1;
	is_int(outbox_enqueue(l, &bad, NULL, err, sizeof(err)), -1, "a body over the limit");
	f.n = 0;
	outbox_scan(l, roundtrip_visit, &f, err, sizeof(err));
	is_int(f.n, 2, "refused items left nothing behind");
	ledger_close(l);
}

/* Whether every '\n' of p is the end of a CRLF. */
static int
crlf_only(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) ||
		    (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n')))
			return 0;
	return 1;
}

static void
test_mail_format(void)
{
	struct buf m = { 0 };
	const char *body;

	is_int(outbox_mail_format(&m, "Tollgate <alerts@example.com>", "ops@example.com",
	    "budget key team-a at 80%", "spend is $80.00 of $100.00\n.hidden\r\nlast\rline"), 0,
	    "format a mail");
	ok(strncmp(m.data, "Date: ", 6) == 0, "it starts with the date");
	ok(strstr(m.data, " +0000\r\nFrom: Tollgate <alerts@example.com>\r\n"
	    "To: ops@example.com\r\nSubject: budget key team-a at 80%\r\n") != NULL,
	    "From, To and Subject follow");
	ok(strstr(m.data, "\r\nMessage-ID: <") != NULL && strstr(m.data, "@example.com>\r\n") != NULL,
	    "a Message-ID in the sender's domain");
	ok(strstr(m.data, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n")
	    != NULL, "MIME headers for plain UTF-8 text");
	body = strstr(m.data, "\r\n\r\n");
	is_str(body ? body + 4 : NULL, "spend is $80.00 of $100.00\r\n.hidden\r\nlast\r\nline\r\n",
	    "the text with CRLF line endings, the last line ended");
	ok(crlf_only(m.data, m.len), "no bare CR or LF anywhere");

	m.len = 0;
	is_int(outbox_mail_format(&m, "a@example.com", "b@example.com",
	    "Budget 80% \xe2\x80\x94 \xc3\xa9quipe", "x"), 0, "a subject beyond ASCII");
	ok(strstr(m.data, "\r\nSubject: =?UTF-8?B?QnVkZ2V0IDgwJSDigJQgw6lxdWlwZQ==?=\r\n") != NULL,
	    "is RFC 2047-encoded");
	m.len = 0;
	is_int(outbox_mail_format(&m, "a@example.com", "b@example.com",
	    "two\r\nBcc: everyone@example.com", "x"), 0, "a subject with a line break");
	ok(strstr(m.data, "\r\nSubject: two  Bcc: everyone@example.com\r\n") != NULL,
	    "stays one header line");
	m.len = 0;
	is_int(outbox_mail_format(&m, "a@example.com\r\nBcc: x@example.com", "b@example.com", "s",
	    "x"), -1, "a line break in From is refused");
	is_int((long long)m.len, 0, "leaving the buffer as it was");
	buf_release(&m);
}

/* The policy of the delivery tests: quick back-off, three attempts. */
static const struct outbox_policy quick = {
	.timeout_ms = 5000, .backoff_base_ms = 10, .backoff_max_ms = 40, .poll_ms = 50,
	.max_attempts = 3,
};

static struct outbox *
start(struct ledger *l, const struct outbox_policy *p)
{
	struct outbox *ob = NULL;
	char err[512];

	if (outbox_start(base, l, p, &ob, err, sizeof(err)) < 0)
		diag("outbox_start: %s", err);
	return ob;
}

static void
http_item(struct outbox_item *it, char *url, size_t size, int port, const char *label)
{
	static const char *const hdr[] = { "X-Tollgate-Test: alert" };

	snprintf(url, size, "http://127.0.0.1:%d/hook", port);
	memset(it, 0, sizeof(*it));
	it->kind = OUTBOX_HTTP_POST;
	it->url = url;
	it->content_type = "application/json; charset=utf-8";
	it->headers = hdr;
	it->nheaders = 1;
	it->body = "{\"text\":\"budget key team-a at 80%\"}";
	it->body_len = strlen(it->body);
	it->label = label;
}

static void
test_http_once(struct ledger *l, struct outbox *ob, struct receiver *r)
{
	struct outbox_item it;
	struct snap s;
	char url[128];
	uint64_t id;

	http_item(&it, url, sizeof(url), r->port, "alert budget key team-a 80%");
	id = enqueue(l, &it);
	outbox_kick(ob);
	wait_settled(l, id, &s);
	is_int(s.state, OUTBOX_DELIVERED, "an HTTP item is delivered");
	is_int(s.attempts, 1, "at the first attempt");
	ok(s.delivered_ns > 0 && s.delivered_ns == s.last_attempt_ns, "with its delivery time");
	run_for(150);
	is_int(r->requests, 1, "the receiver saw one request, and no more after");
	is_str(r->body.data, it.body, "with the body");
	is_str(r->content_type, "application/json; charset=utf-8", "and the content type");
	is_str(r->test_header, "alert", "and the extra header");
}

static void
test_http_retry(struct ledger *l, struct outbox *ob, struct receiver *r)
{
	struct outbox_item it;
	struct snap s;
	char url[128];
	uint64_t id;

	r->requests = 0;
	r->fail_first = 2;
	http_item(&it, url, sizeof(url), r->port, "export 2026-11-28");
	id = enqueue(l, &it);
	outbox_kick(ob);
	wait_settled(l, id, &s);
	is_int(s.state, OUTBOX_DELIVERED, "an item against a receiver failing twice is delivered");
	is_int(s.attempts, 3, "at the third attempt");
	is_int(r->requests, 3, "after three requests");
	is_str(s.last_error, "HTTP 503", "the last failure is kept");
}

/* Points fd 2 at path until restore_stderr(); returns the old one. */
static int
capture_stderr(const char *path)
{
	int saved, fd;

	fflush(stderr);
	saved = dup(2);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0) {
		dup2(fd, 2);
		close(fd);
	}
	return saved;
}

static void
restore_stderr(int saved)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
}

static int
count_in_file(const char *path, const char *needle)
{
	struct buf b = { 0 };
	const char *p;
	int n = 0;

	if (buf_read_file(&b, path) == 0)
		for (p = b.data; p && (p = strstr(p, needle)) != NULL; p++)
			n++;
	buf_release(&b);
	return n;
}

/* A loopback port nobody listens on. */
static int
closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		port = -1;
	else
		port = bound_port(fd);
	if (fd >= 0)
		close(fd);
	return port;
}

static void
test_http_gives_up(struct ledger *l, struct outbox *ob)
{
	struct outbox_item it;
	struct snap s;
	char url[128], *log = path_in("stderr.log");
	uint64_t id;
	int saved;

	http_item(&it, url, sizeof(url), closed_port(), "alert closed port");
	saved = capture_stderr(log);
	id = enqueue(l, &it);
	outbox_kick(ob);
	wait_settled(l, id, &s);
	run_for(150);
	restore_stderr(saved);
	is_int(s.state, OUTBOX_FAILED, "an item against a closed port fails");
	is_int(s.attempts, quick.max_attempts, "after max_attempts");
	ok(s.last_error[0] != '\0', "with the last error: %s", s.last_error);
	is_int(count_in_file(log, "gave up on 'alert closed port'"), 1, "logged once");
}

static void
test_smtp(struct ledger *l, struct outbox *ob, struct sink *k)
{
	static const char *const rcpt[] = { "ops@example.com", "oncall@example.com" };
	struct outbox_item it = { 0 };
	struct buf msg = { 0 };
	struct snap s;
	char url[128];
	uint64_t id;

	outbox_mail_format(&msg, "Tollgate <alerts@example.com>", "ops@example.com",
	    "budget key team-a at 80%", "spend is $80.00\n.a line that needs stuffing\n");
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", k->port);
	it.kind = OUTBOX_SMTP;
	it.url = url;
	it.body = msg.data;
	it.body_len = msg.len;
	it.mail_from = "alerts@example.com";
	it.mail_rcpt = rcpt;
	it.nrcpt = 2;
	it.label = "alert budget key team-a 80% (mail)";
	id = enqueue(l, &it);
	outbox_kick(ob);
	wait_settled(l, id, &s);
	is_int(s.state, OUTBOX_DELIVERED, "a mail is delivered");
	ok(sink_read(k) == 0, "the sink reported");
	is_int(k->messages, 1, "the sink received one message");
	is_str(k->from, "<alerts@example.com>", "from the sender");
	is_int(k->nrcpt, 2, "for two recipients");
	is_str(k->rcpt[0], "<ops@example.com>", "the first");
	is_str(k->rcpt[1], "<oncall@example.com>", "and the second");
	is_str(k->data.data, msg.data, "the message arrived whole, dot-stuffing undone");
	buf_release(&msg);
}

static int
requests_seen(void *arg)
{
	return ((struct receiver *)arg)->requests > 0;
}

/*
 * A runtime stopped mid-transfer leaves the item pending, and one started
 * later (a restart) sends it again; an item enqueued while no runtime ran
 * is sent too.
 */
static void
test_restart(struct ledger *l, struct receiver *r)
{
	struct outbox_item it, early;
	struct outbox *ob;
	struct snap s;
	char url[128], url2[128];
	uint64_t id, id2;

	r->requests = 0;
	r->hold = 1;
	ob = start(l, &quick);
	http_item(&it, url, sizeof(url), r->port, "export 2026-11-29");
	id = enqueue(l, &it);
	outbox_kick(ob);
	ok(run_until(requests_seen, r, GUARD_SEC * 1000L), "a transfer reaches a receiver that "
	    "never answers");
	run_for(4 * quick.poll_ms);
	is_int(r->requests, 1, "while it waits, later looks do not start the item again");
	outbox_free(ob);
	snapshot(l, id, &s);
	ok(s.state == OUTBOX_PENDING && s.attempts == 0, "stopped mid-transfer, it is still pending");

	http_item(&early, url2, sizeof(url2), r->port, "alert enqueued before start");
	id2 = enqueue(l, &early);
	r->hold = 0;
	r->requests = 0;
	ob = start(l, &quick);
	wait_settled(l, id, &s);
	is_int(s.state, OUTBOX_DELIVERED, "after a restart the interrupted item is delivered");
	is_int(s.attempts, 1, "counting one attempt: the interrupted one never ended");
	wait_settled(l, id2, &s);
	is_int(s.state, OUTBOX_DELIVERED, "an item enqueued before the runtime started is delivered");
	is_int(r->requests, 2, "one request each");
	outbox_free(ob);
}

struct ended {
	struct ledger	*l;
	int		 n;
};

static int
count_ended(void *arg, const struct outbox_item *it)
{
	((struct ended *)arg)->n += it->state != OUTBOX_PENDING;
	return 0;
}

static int
none_ended(void *arg)
{
	struct ended *e = arg;

	e->n = 0;
	outbox_scan(e->l, count_ended, e, NULL, 0);
	return e->n == 0;
}

static void
test_prune(struct ledger *l)
{
	struct outbox_policy keep_little = quick;
	struct ended e = { l, 0 };
	struct outbox *ob;

	outbox_scan(l, count_ended, &e, NULL, 0);
	ok(e.n >= 5, "delivered and failed items are kept (%d)", e.n);
	keep_little.keep_ns = 1;
	ob = start(l, &keep_little);
	ok(run_until(none_ended, &e, GUARD_SEC * 1000L), "a runtime keeping them 1 ns deletes them");
	outbox_free(ob);
}

static void
test_delivery(void)
{
	struct receiver r = { 0 };
	struct sink k;
	struct ledger *l = NULL;
	struct outbox *ob = NULL;
	char err[512] = "";

	/* the sink's child first: it inherits no ledger, loop or curl handle */
	if (!ok(sink_start(&k, path_in("smtp.report")) == 0, "start the SMTP sink") ||
	    !ok(ledger_open(path_in("deliver"), LEDGER_WRITE, 1 << 20, 1, &l, err,
	    sizeof(err)) == 0, "open a ledger") ||
	    !ok(receiver_start(&r) == 0, "start the HTTP receiver") ||
	    !ok((ob = start(l, &quick)) != NULL, "start the outbox")) {
		diag("%s", err);
		goto out;
	}
	test_http_once(l, ob, &r);
	test_http_retry(l, ob, &r);
	test_http_gives_up(l, ob);
	test_smtp(l, ob, &k);
	outbox_free(ob);
	test_restart(l, &r);
	test_prune(l);
out:
	receiver_stop(&r);
	sink_stop(&k);
	ledger_close(l);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int
main(void)
{
	umask(022);
	snprintf(root, sizeof(root), "/tmp/t_outbox.XXXXXX");
	if (mkdtemp(root) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	/* the receivers may write to a socket curl has closed */
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	base = event_base_new();
	test_roundtrip();
	test_mail_format();
	test_delivery();
	event_base_free(base);
	curl_global_cleanup();
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
