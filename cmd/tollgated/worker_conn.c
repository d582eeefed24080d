/*
 * The worker's client connections: HTTP/1.1 on plain libevent events, with
 * lib/http1 parsing in place.  It replaced evhttp on the data path, whose
 * per-request allocations, header formatting and epoll churn cost a third
 * of a request's CPU (see contrib/bench/RESULTS.md).
 *
 * A connection reads into one buffer and answers one request at a time (a
 * pipelined one waits in the buffer).  The read event stays armed for the
 * connection's life, so a request costs no epoll_ctl, and a client that
 * goes away is noticed while its answer is being made.  Replies are written
 * at once; only a write that would block arms the write event.
 *
 * Timeouts, all client_timeout: an idle keep-alive connection; a request,
 * from its first byte to its last (slow senders get 408); a client that
 * stops reading an answer.  None while an answer is being made upstream.
 *
 * With tollgate.tls_cert_file, the listener's connections are TLS: the same
 * code, with SSL_read and SSL_write (lib/tls.h) in place of recv and send,
 * chosen by the connection's tls pointer.  The handshake happens in the
 * first reads; a TLS read that must wait for the socket to be writable, or
 * a write that must wait for it to be readable, is noted on the connection
 * and the other event resumes it.  Connections accepted on
 * tollgate.metrics_listen are plain HTTP and answer only /metrics and
 * /health (worker_http.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>

#include "http1.h"
#include "log.h"
#include "tls.h"
#include "tollgated.h"
#include "worker.h"

#define CONN_MAGIC	0x636f6e6eu	/* "conn" */
#define READ_ROOM	4096		/* free bytes asked of each read */
#define KEEP_BUFFER	(64 * 1024)	/* larger buffers are freed between requests */

enum conn_state { CONN_READING, CONN_HANDLING, CONN_CLOSED };

struct hreq {
	struct conn		*conn;
	struct http1_request	 head;
	const char		*body;
	size_t			 body_len;
	void			(*closecb)(struct hreq *, void *);
	void			*closearg;
	void			(*draincb)(struct hreq *, void *);	/* once out is sent */
	void			*drainarg;
	int			 replied;	/* the whole answer is in out */
	int			 started;	/* a streamed answer has begun */
	int			 chunked;	/* ...framed in chunks (HTTP/1.1) */
};

struct conn {
	uint32_t		 magic;
	int			 fd;
	enum conn_state		 state;
	struct event		 rd, wr, timer;
	int			 writing;	/* wr is armed */
	int			 reading;	/* rd is armed */
	int			 broken;	/* a send failed: closing */
	int			 busy;		/* inside a dispatch: free later */
	int			 close_after;	/* close once out is sent */
	struct buf		 in;		/* received, not yet a whole request */
	struct buf		 raw;		/* the request being answered */
	struct buf		 out;		/* to send, from out_off */
	size_t			 out_off;
	struct buf		 oh;		/* the answer's headers, "Name: value\r\n" */
	size_t			 head_len;	/* of the request in in; 0: not whole yet */
	size_t			 body_have;	/* chunked: body bytes decoded after the head */
	struct http1_chunked	 dechunk;
	int			 continued;	/* 100 Continue sent */
	int			 metrics_only;	/* accepted on tollgate.metrics_listen */
	SSL			*tls;		/* NULL: plain HTTP */
	int			 tls_failed;	/* a fatal TLS error: no close_notify */
	int			 tls_read_wants_write;	/* SSL_read waits for writability */
	int			 tls_write_wants_read;	/* SSL_write waits for readability */
	struct hreq		 req;
	LIST_ENTRY(conn)	 link;
};

static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);
static struct evconnlistener *listener, *metrics_listener;

static void conn_close(struct conn *c);
static void conn_free(struct conn *c);
static void conn_process(struct conn *c);
static void conn_flush(struct conn *c);
static void on_readable(evutil_socket_t fd, short what, void *arg);

/*
 * A connection is held while code up the stack still uses it: a close in
 * between frees it only on the last release.  The last release also takes
 * up requests that were pipelined behind the one just answered, on the next
 * loop turn (so an answer never nests the next request's handler).
 */
static void
hold(struct conn *c)
{
	c->busy++;
}

static void
release(struct conn *c)
{
	if (--c->busy > 0)
		return;
	if (c->state == CONN_CLOSED)
		conn_free(c);
	else if (c->state == CONN_READING && c->in.len > 0)
		event_active(&c->rd, EV_READ, 0);
}

/* ---- timers -------------------------------------------------------------- */

static void
arm_timeout(struct conn *c)
{
	int64_t ms = heritage.config->tollgate.client_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!c->broken)	/* its close is due now */
		evtimer_add(&c->timer, &tv);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd, (void)what;
	if (!c->broken && c->state == CONN_READING && c->in.len > 0 && c->out.len == c->out_off) {
		/* a request that did not arrive whole in time */
		c->req.head.minor = 1;
		c->req.head.method = HTTP1_POST;
		c->close_after = 1;
		c->state = CONN_HANDLING;
		http_send_error(&c->req, 408, "invalid_request_error", "request_timeout",
		    "the request did not arrive within client_timeout");
		return;
	}
	conn_close(c);
}

/* ---- writing --------------------------------------------------------------- */

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)what;
	if (c->tls_read_wants_write) {
		/* a TLS read (the handshake's, say) waited for this */
		c->tls_read_wants_write = 0;
		hold(c);
		on_readable(fd, EV_READ, c);
		if (c->state != CONN_CLOSED)
			conn_flush(c);
		release(c);
		return;
	}
	conn_flush(c);
}

/* Logs why a TLS connection broke, at debug level: clients cause it (plain HTTP to TLS). */
static void
tls_broke(struct conn *c, const char *doing)
{
	char why[256];

	c->tls_failed = 1;
	log_debug("worker %u: TLS %s failed, closing the connection: %s", heritage.index, doing,
	    tls_error(why, sizeof(why)));
}

/*
 * SSL_write of what out holds, as send() would answer: the bytes taken, or
 * -1 and errno (EAGAIN: wait, for writability unless tls_write_wants_read
 * says readability).
 */
static ssize_t
tls_send(struct conn *c)
{
	size_t n;

	switch (tls_write(c->tls, c->out.data + c->out_off, c->out.len - c->out_off, &n)) {
	case TLS_IO_OK:
		return (ssize_t)n;
	case TLS_IO_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case TLS_IO_WANT_READ:
		/* on_readable resumes the write; writability would only spin */
		c->tls_write_wants_read = 1;
		if (c->writing) {
			event_del(&c->wr);
			c->writing = 0;
		}
		if (!c->reading) {
			event_add(&c->rd, NULL);
			c->reading = 1;
		}
		errno = EAGAIN;
		return -1;
	case TLS_IO_EOF:
		c->tls_failed = 1;
		errno = EPIPE;
		return -1;
	case TLS_IO_ERROR:
		break;
	}
	tls_broke(c, "write");
	errno = EPIPE;
	return -1;
}

/* Sends what out holds; what the socket does not take waits for on_writable. */
static void
conn_flush(struct conn *c)
{
	if (c->broken) {
		c->out.len = c->out_off = 0;
		return;
	}
	while (c->out_off < c->out.len) {
		ssize_t n = c->tls != NULL ? tls_send(c) :
		    send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			if (c->writing)
				arm_timeout(c);	/* progress: the client reads */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->writing && !c->tls_write_wants_read) {
				event_add(&c->wr, NULL);
				c->writing = 1;
				arm_timeout(c);
			}
			return;
		}
		/*
		 * The client is gone.  The close waits for the loop: this may run
		 * inside curl's write callback, where the transfer cannot be stopped.
		 */
		c->broken = 1;
		c->out.len = c->out_off = 0;
		{
			struct timeval now = { 0, 0 };

			evtimer_add(&c->timer, &now);
		}
		return;
	}
	c->out.len = c->out_off = 0;
	if (c->writing && !c->tls_read_wants_write) {
		event_del(&c->wr);
		c->writing = 0;
		if (c->state == CONN_HANDLING)
			evtimer_del(&c->timer);
		else
			arm_timeout(c);
	}
	if (c->close_after && c->state == CONN_READING)
		conn_close(c);
	else if (c->req.draincb != NULL) {
		/* last: the callback may write again (a stream resumed), which flushes anew */
		void (*cb)(struct hreq *, void *) = c->req.draincb;

		c->req.draincb = NULL;
		hold(c);
		cb(&c->req, c->req.drainarg);
		release(c);
	}
}

static int
put(struct conn *c, const void *p, size_t n)
{
	return buf_append(&c->out, p, n);
}

static int
put_str(struct conn *c, const char *s)
{
	return buf_append(&c->out, s, strlen(s));
}

/* Decimal digits of v into out (room for 20); returns their count. */
static size_t
put_decimal(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* The Date header's value, formatted once a second. */
static const char *
http_date(void)
{
	static char text[64];
	static time_t shown = -1;
	time_t now = time(NULL);
	struct tm tm;

	if (now != shown && gmtime_r(&now, &tm) != NULL) {
		strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		shown = now;
	}
	return text;
}

/*
 * The status line and headers.  length: the body's, or -1 for a stream
 * (chunked for HTTP/1.1, to the connection's close for HTTP/1.0).
 */
static void
put_head(struct conn *c, int status, int64_t length)
{
	char num[24];
	size_t n;

	if (worker.metrics != NULL)
		metrics_response(worker.metrics,
		    c->req.head.path ? metrics_endpoint(c->req.head.path) : METRICS_ENDPOINTS - 1, status);
	status_count(&worker.status->requests, 1);
	if (worker.draining || !c->req.head.keep_alive)
		c->close_after = 1;
	if (length < 0 && c->req.head.minor == 0)
		c->close_after = 1;
	put_str(c, "HTTP/1.1 ");
	n = put_decimal(num, (uint64_t)(status < 100 || status > 999 ? 500 : status));
	num[n++] = ' ';
	put(c, num, n);
	put_str(c, http1_reason(status));
	put_str(c, "\r\nDate: ");
	put_str(c, http_date());
	put(c, "\r\n", 2);
	put(c, c->oh.data ? c->oh.data : "", c->oh.len);
	if (length >= 0) {
		put_str(c, "Content-Length: ");
		n = put_decimal(num, (uint64_t)length);
		put(c, num, n);
		put(c, "\r\n", 2);
	} else if (c->req.head.minor > 0)
		put_str(c, "Transfer-Encoding: chunked\r\n");
	if (c->close_after)
		put_str(c, "Connection: close\r\n");
	else if (c->req.head.minor == 0)
		put_str(c, "Connection: keep-alive\r\n");
	put(c, "\r\n", 2);
	c->oh.len = 0;
}

/* The answer is whole: the connection reads its next request. */
static void
request_done(struct conn *c)
{
	struct hreq *r = &c->req;

	hreq_detach(r);
	r->replied = r->started = r->chunked = 0;
	c->state = CONN_READING;
	if (c->raw.cap > KEEP_BUFFER)
		buf_release(&c->raw);
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
		if (c->close_after) {
			conn_close(c);
			return;
		}
		arm_timeout(c);
	}
	if (!c->reading) {
		event_add(&c->rd, NULL);
		c->reading = 1;
	}
}

/* ---- the request interface ------------------------------------------------- */

enum http1_method
hreq_method(const struct hreq *r)
{
	return r->head.method;
}

const char *
hreq_path(const struct hreq *r)
{
	return r->head.path;
}

const char *
hreq_query(const struct hreq *r)
{
	return r->head.query;
}

const char *
hreq_header(const struct hreq *r, const char *name)
{
	return http1_header(&r->head, name);
}

const char *
hreq_body(const struct hreq *r, size_t *len)
{
	*len = r->body_len;
	return r->body;
}

void
hreq_add_header(struct hreq *r, const char *name, const char *value)
{
	struct buf *oh = &r->conn->oh;

	/* a line break would let a value forge headers of its own */
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return;
	buf_append(oh, name, strlen(name));
	buf_append(oh, ": ", 2);
	buf_append(oh, value, strlen(value));
	buf_append(oh, "\r\n", 2);
}

void
hreq_set_closecb(struct hreq *r, void (*cb)(struct hreq *, void *), void *arg)
{
	r->closecb = cb;
	r->closearg = arg;
}

void
hreq_detach(struct hreq *r)
{
	r->closecb = r->draincb = NULL;
	r->closearg = r->drainarg = NULL;
}

size_t
hreq_unsent(const struct hreq *r)
{
	return r->conn->out.len - r->conn->out_off;
}

void
hreq_set_draincb(struct hreq *r, void (*cb)(struct hreq *, void *), void *arg)
{
	r->draincb = cb;
	r->drainarg = arg;
}

void
hreq_reply(struct hreq *r, int status, const void *body, size_t len)
{
	struct conn *c = r->conn;

	if (r->replied || r->started)
		return;
	hold(c);
	put_head(c, status, (int64_t)len);
	if (r->head.method != HTTP1_HEAD)
		put(c, body, len);
	r->replied = 1;
	conn_flush(c);
	if (c->state != CONN_CLOSED)
		request_done(c);
	release(c);
}

void
hreq_reply_start(struct hreq *r, int status)
{
	struct conn *c = r->conn;

	if (r->replied || r->started)
		return;
	hold(c);
	put_head(c, status, -1);
	r->started = 1;
	r->chunked = r->head.minor > 0;
	conn_flush(c);
	release(c);
}

void
hreq_reply_chunk(struct hreq *r, const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	struct conn *c = r->conn;
	char size[24];
	size_t n = 0, i;

	if (!r->started || r->replied || len == 0 || r->head.method == HTTP1_HEAD)
		return;
	if (r->chunked) {
		for (i = 60; i > 0; i -= 4)
			if ((len >> i) != 0)
				break;
		for (;; i -= 4) {
			size[n++] = hex[(len >> i) & 15];
			if (i == 0)
				break;
		}
		size[n++] = '\r';
		size[n++] = '\n';
		put(c, size, n);
	}
	put(c, data, len);
	if (r->chunked)
		put(c, "\r\n", 2);
	hold(c);
	conn_flush(c);
	release(c);
}

void
hreq_reply_end(struct hreq *r)
{
	struct conn *c = r->conn;

	if (!r->started || r->replied)
		return;
	if (r->chunked && r->head.method != HTTP1_HEAD)
		put_str(c, "0\r\n\r\n");
	r->replied = 1;
	hold(c);
	conn_flush(c);
	if (c->state != CONN_CLOSED)
		request_done(c);
	release(c);
}

/* ---- reading ----------------------------------------------------------------- */

/*
 * Grows in by at least room bytes.  The parsed head points into the buffer,
 * so its pointers move with it.
 */
static int
grow_in(struct conn *c, size_t room)
{
	struct http1_request *h = &c->req.head;
	char *old = c->in.data;
	size_t i, off[2 + 2 * HTTP1_MAX_HEADERS];
	const char **ptr[2 + 2 * HTTP1_MAX_HEADERS];
	size_t n = 0;

	if (c->in.cap - c->in.len > room)
		return 0;
	if (c->head_len > 0) {
		ptr[n++] = &h->path;
		ptr[n++] = &h->query;
		for (i = 0; i < h->nheaders; i++) {
			ptr[n++] = &h->headers[i].name;
			ptr[n++] = &h->headers[i].value;
		}
		for (i = 0; i < n; i++)
			off[i] = *ptr[i] ? (size_t)(*ptr[i] - old) : SIZE_MAX;
	}
	if (buf_reserve(&c->in, room) < 0)
		return -1;
	if (c->in.data != old)
		for (i = 0; i < n; i++)
			*ptr[i] = off[i] == SIZE_MAX ? NULL : c->in.data + off[i];
	return 0;
}

static size_t
body_cap(void)
{
	/* bodies over max_body_bytes get the handlers' own 413; this only bounds memory */
	return (size_t)heritage.config->tollgate.max_body_bytes * 2 + 65536;
}

/* An answer from here, before any handler, and the connection closes after it. */
static void
refuse(struct conn *c, int status, const char *code, const char *message)
{
	c->close_after = 1;
	c->state = CONN_HANDLING;
	if (c->req.head.method == 0)
		c->req.head.method = HTTP1_POST;
	c->req.head.keep_alive = 0;
	http_send_error(&c->req, status, "invalid_request_error", code, "%s", message);
}

/*
 * Whether in holds a whole request (then its length), 0 when it needs
 * more bytes, -1 when the connection was answered with an error.
 */
static ssize_t
whole_request(struct conn *c)
{
	struct http1_request *h = &c->req.head;
	int status = 400;
	int rc;

	if (c->head_len == 0) {
		memset(h, 0, sizeof(*h));
		if ((rc = http1_parse_head(c->in.data, c->in.len, h, &status)) < 0) {
			memset(h, 0, sizeof(*h));
			h->minor = 1;
			refuse(c, status, status == 431 ? "headers_too_large" :
			    status == 414 ? "uri_too_long" : "bad_request",
			    status == 505 ? "only HTTP/1.0 and HTTP/1.1 are served here" :
			    status == 501 ? "the method or transfer coding is not supported" :
			    "the request is not valid HTTP/1.1");
			return -1;
		}
		if (rc == 0)
			return 0;
		c->head_len = (size_t)rc;
		c->body_have = 0;
		memset(&c->dechunk, 0, sizeof(c->dechunk));
		if (h->content_length >= 0 && (uint64_t)h->content_length > body_cap()) {
			refuse(c, 413, "request_too_large", "the request body is over the limit");
			return -1;
		}
	}
	if (h->chunked) {
		size_t at = c->head_len + c->body_have, used, produced, rest;

		rc = http1_dechunk(&c->dechunk, c->in.data + at, c->in.len - at, &used, &produced);
		if (rc < 0) {
			refuse(c, 400, "bad_request", "the chunked request body is malformed");
			return -1;
		}
		/* decoded bytes stay where they are; the unread rest follows them */
		rest = c->in.len - at - used;
		memmove(c->in.data + at + produced, c->in.data + at + used, rest);
		c->body_have += produced;
		c->in.len = at + produced + rest;
		c->in.data[c->in.len] = '\0';
		if (c->body_have > body_cap()) {
			refuse(c, 413, "request_too_large", "the request body is over the limit");
			return -1;
		}
		if (rc == 0)
			goto more;
		return (ssize_t)(c->head_len + c->body_have);
	}
	c->body_have = h->content_length > 0 ? (size_t)h->content_length : 0;
	if (c->in.len >= c->head_len + c->body_have)
		return (ssize_t)(c->head_len + c->body_have);
more:
	if (h->expect_continue && !c->continued && h->minor > 0) {
		put_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
		c->continued = 1;
		conn_flush(c);
	}
	return 0;
}

/* Answers the whole requests in; stops at a partial one or a pending answer. */
static void
conn_process(struct conn *c)
{
	struct buf swap;
	ssize_t len;

	hold(c);
	while (c->state == CONN_READING && c->in.len > 0) {
		if ((len = whole_request(c)) <= 0)
			break;
		/* the request moves to raw; the bytes after it (pipelined) stay in in */
		swap = c->raw;
		c->raw = c->in;
		c->in = swap;
		c->in.len = 0;
		if (c->raw.len > (size_t)len && buf_append(&c->in, c->raw.data + len,
		    c->raw.len - (size_t)len) < 0) {
			conn_close(c);
			break;
		}
		c->raw.len = (size_t)len;
		c->raw.data[len] = '\0';
		c->req.body = c->raw.data + c->head_len;
		c->req.body_len = (size_t)len - c->head_len;
		c->head_len = c->body_have = 0;
		c->continued = 0;
		c->state = CONN_HANDLING;
		evtimer_del(&c->timer);
		worker.requests++;
		http_on_request(&c->req);
	}
	c->busy--;	/* not release(): what is left in in is a partial request */
	if (c->busy == 0 && c->state == CONN_CLOSED)
		conn_free(c);
}

/*
 * SSL_read into in: the bytes read, 0 when there are none now (the wait is
 * arranged), or -1 when the connection is over.
 */
static ssize_t
tls_recv(struct conn *c)
{
	size_t n;

	switch (tls_read(c->tls, c->in.data + c->in.len, c->in.cap - c->in.len - 1, &n)) {
	case TLS_IO_OK:
		/* what the SSL decrypted and holds, the socket will not announce */
		if (SSL_pending(c->tls) > 0)
			event_active(&c->rd, EV_READ, 0);
		return (ssize_t)n;
	case TLS_IO_WANT_READ:
		return 0;
	case TLS_IO_WANT_WRITE:
		c->tls_read_wants_write = 1;
		if (!c->writing) {
			event_add(&c->wr, NULL);
			c->writing = 1;
		}
		return 0;
	case TLS_IO_EOF:
		return -1;
	case TLS_IO_ERROR:
		break;
	}
	tls_broke(c, SSL_is_init_finished(c->tls) ? "read" : "handshake");
	return -1;
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	size_t before = c->in.len;
	ssize_t n;

	(void)what;
	if (c->tls_write_wants_read) {
		int closed;

		c->tls_write_wants_read = 0;
		hold(c);
		conn_flush(c);
		closed = c->state == CONN_CLOSED;
		release(c);
		if (closed)
			return;
	}
	if (c->state == CONN_HANDLING && c->in.len >= HTTP1_MAX_HEAD) {
		/* enough pipelined for now: wait for the answer in hand (unless it waits for this) */
		if (!c->tls_write_wants_read) {
			event_del(&c->rd);
			c->reading = 0;
		}
		return;
	}
	if (grow_in(c, READ_ROOM) < 0) {
		conn_close(c);
		return;
	}
	if (c->tls != NULL) {
		if ((n = tls_recv(c)) < 0) {
			conn_close(c);
			return;
		}
	} else {
		n = recv(fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			n = 0;	/* woken by release(): pipelined bytes wait */
		else if (n <= 0) {
			conn_close(c);	/* closed, or reset: a request in hand is aborted */
			return;
		}
	}
	c->in.len += (size_t)n;
	c->in.data[c->in.len] = '\0';
	if (c->state != CONN_READING || c->in.len == 0)
		return;
	if (before == 0)
		arm_timeout(c);	/* a request's bytes have begun: its deadline starts */
	conn_process(c);
}

/* ---- connections ------------------------------------------------------------- */

static void
conn_free(struct conn *c)
{
	LIST_REMOVE(c, link);
	status_count(&worker.status->connections, -1);
	buf_release(&c->in);
	buf_release(&c->raw);
	buf_release(&c->out);
	buf_release(&c->oh);
	c->magic = 0;
	free(c);
}

/*
 * Closes the socket; an answer still being made learns that its client is
 * gone.  The memory goes now, or when the dispatch in progress returns.
 */
static void
conn_close(struct conn *c)
{
	struct hreq *r = &c->req;

	if (c->state != CONN_CLOSED) {
		int handling = c->state == CONN_HANDLING && !r->replied;

		c->state = CONN_CLOSED;
		event_del(&c->rd);
		event_del(&c->wr);
		evtimer_del(&c->timer);
		if (c->tls != NULL) {
			tls_close(c->tls, c->broken || c->tls_failed);
			c->tls = NULL;
		}
		close(c->fd);
		c->fd = -1;
		if (handling && r->closecb != NULL) {
			void (*cb)(struct hreq *, void *) = r->closecb;

			r->closecb = NULL;
			c->busy++;
			cb(r, r->closearg);
			c->busy--;
		}
		c->reading = 0;
	}
	if (c->busy == 0)
		conn_free(c);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct event_base *base = evconnlistener_get_base(l);
	struct conn *c;
	int one = 1;

	(void)sa, (void)salen;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->metrics_only = arg != NULL;
	if (heritage.tls != NULL && !c->metrics_only &&
	    (c->tls = tls_accept(heritage.tls, fd)) == NULL) {
		free(c);
		close(fd);
		return;
	}
	/* answers go out whole; a stream's events must not wait for an ACK */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->magic = CONN_MAGIC;
	c->fd = fd;
	c->state = CONN_READING;
	c->req.conn = c;
	event_assign(&c->rd, base, fd, EV_READ | EV_PERSIST, on_readable, c);
	event_assign(&c->wr, base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
	evtimer_assign(&c->timer, base, on_timeout, c);
	LIST_INSERT_HEAD(&conns, c, link);
	status_count(&worker.status->connections, 1);
	event_add(&c->rd, NULL);
	c->reading = 1;
	arm_timeout(c);
}

#define ACCEPT_PAUSE_MS	250	/* out of descriptors: how long the listeners rest */

static struct event *accept_pause;

/* The pause is over: accept again (what waits in the backlog is taken now). */
static void
on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (listener != NULL)
		evconnlistener_enable(listener);
	if (metrics_listener != NULL)
		evconnlistener_enable(metrics_listener);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	int err = errno;

	(void)l, (void)arg;
	log_warn("worker %u: cannot accept a connection: %s", heritage.index, strerror(err));
	/*
	 * EMFILE and the like: the connection stays in the backlog, so the
	 * listener stays readable and would fail again at once, for ever (a busy
	 * loop, and a log line each turn).  The listeners rest until a
	 * descriptor may be free again.
	 */
	if (accept_pause == NULL &&
	    (accept_pause = evtimer_new(evconnlistener_get_base(l), on_accept_resume, NULL)) == NULL)
		return;
	if (evtimer_pending(accept_pause, NULL))
		return;
	if (listener != NULL)
		evconnlistener_disable(listener);
	if (metrics_listener != NULL)
		evconnlistener_disable(metrics_listener);
	evtimer_add(accept_pause, &tv);
}

/* Accepts on fd; on_accept's argument is non-NULL for the metrics listener. */
static struct evconnlistener *
listen_on(struct event_base *base, int fd, void *arg)
{
	struct evconnlistener *l;

	evutil_make_socket_nonblocking(fd);
	l = evconnlistener_new(base, on_accept, arg, LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l != NULL)
		evconnlistener_set_error_cb(l, on_accept_error);
	return l;
}

int
conn_listen(struct event_base *base, int fd, int metrics_fd)
{
	static int metrics_mark;

	if ((listener = listen_on(base, fd, NULL)) == NULL)
		return -1;
	if (metrics_fd >= 0 && (metrics_listener = listen_on(base, metrics_fd, &metrics_mark)) == NULL)
		return -1;
	return 0;
}

void
conn_unlisten(void)
{
	if (accept_pause != NULL) {
		event_free(accept_pause);
		accept_pause = NULL;
	}
	if (listener != NULL) {
		evconnlistener_free(listener);
		listener = NULL;
	}
	if (metrics_listener != NULL) {
		evconnlistener_free(metrics_listener);
		metrics_listener = NULL;
	}
}

int
hreq_metrics_only(const struct hreq *r)
{
	return r->conn->metrics_only;
}
