/*
 * The SSE splitter: events cut at any byte, LF / CRLF / CR line ends,
 * multi-line data, comments, and a last event without its blank line; and
 * the offsets a relay passes the stream's own bytes on by (the worker's
 * relay_events()), which must give back the input byte for byte wherever
 * it was cut.
 */
#include "sse.h"
#include "tap.h"

struct seen {
	char	log[1024];
	int	n;
};

static int
record(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct seen *s = arg;
	size_t used = strlen(s->log);

	snprintf(s->log + used, sizeof(s->log) - used, "[%s|%.*s|%zu]", event, (int)len, data, line);
	s->n++;
	return 0;
}

static void
split(const char *text, size_t chunk, struct seen *s)
{
	struct sse p;
	size_t i, n = strlen(text);

	memset(s, 0, sizeof(*s));
	sse_init(&p);
	for (i = 0; i < n; i += chunk)
		sse_feed(&p, text + i, i + chunk > n ? n - i : chunk, record, s);
	sse_finish(&p, record, s);
	sse_release(&p);
}

static int
stop_at_second(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	(void)event, (void)data, (void)len, (void)line;
	return ++*(int *)arg == 2 ? -1 : 0;
}

/*
 * A relay as the worker's: the input in a buffer, each event's bytes
 * [event_at, at) and the bytes between events (up to sse_settled()) put
 * back in order, events bracketed so that a misplaced boundary shows.
 */
struct relay {
	struct sse	 p;
	const char	*in;		/* the whole input, offset 0 */
	size_t		 sent;		/* input put back so far */
	char		 out[2048];
	size_t		 len;
	int		 bad;		/* an offset went backwards or past the input */
};

static void
put(struct relay *r, const char *p, size_t n)
{
	if (r->len + n < sizeof(r->out)) {
		memcpy(r->out + r->len, p, n);
		r->len += n;
	}
}

static void
pass(struct relay *r, size_t to)
{
	if (to < r->sent) {
		r->bad = 1;
		return;
	}
	put(r, r->in + r->sent, to - r->sent);
	r->sent = to;
}

static int
relay_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct relay *r = arg;

	(void)event, (void)data, (void)len, (void)line;
	if (r->p.event_at > r->p.at)
		r->bad = 1;
	pass(r, r->p.event_at);
	put(r, "<", 1);
	pass(r, r->p.at);
	put(r, ">", 1);
	return 0;
}

/* text relayed in pieces cut at a and b (a <= b <= n). */
static const char *
relay(const char *text, size_t a, size_t b, struct relay *r)
{
	size_t n = strlen(text);

	memset(r, 0, sizeof(*r));
	sse_init(&r->p);
	r->in = text;
	sse_feed(&r->p, text, a, relay_event, r);
	pass(r, sse_settled(&r->p));
	sse_feed(&r->p, text + a, b - a, relay_event, r);
	pass(r, sse_settled(&r->p));
	sse_feed(&r->p, text + b, n - b, relay_event, r);
	pass(r, sse_settled(&r->p));
	sse_finish(&r->p, relay_event, r);
	pass(r, n);
	sse_release(&r->p);
	r->out[r->len] = '\0';
	return r->bad ? "(an offset went backwards)" : r->out;
}

/*
 * Whether relayed output got is want, but for the one place a cut may move
 * an event's end: a CRLF cut after its CR ends the event at the CR
 * ("\r>\n" for "\r\n>"), since an LF may never come.
 */
static int
same_relay(const char *got, const char *want)
{
	while (*got && *want) {
		if (strncmp(got, "\r>\n", 3) == 0 && strncmp(want, "\r\n>", 3) == 0)
			got += 3, want += 3;
		else if (*got++ != *want++)
			return 0;
	}
	return *got == *want;
}

static void
test_offsets(void)
{
	static const char stream[] =
	    ": hello\n"
	    "event: a\ndata: 1\n\n"
	    "\r\n"
	    "data: 2\r\nid: 9\r\n\r\n"
	    "data: 3\r\r"
	    ": between\r"
	    "event: empty\r\r"
	    "data: 4\r: inside\r\r"
	    "data: 5";
	static const char want[] =
	    ": hello\n"
	    "<event: a\ndata: 1\n\n>"
	    "\r\n"
	    "<data: 2\r\nid: 9\r\n\r\n>"
	    "<data: 3\r\r>"
	    ": between\r"
	    "event: empty\r\r"
	    "<data: 4\r: inside\r\r>"
	    "<data: 5>";
	struct relay r;
	size_t a, b, n = strlen(stream);
	int all = 1;

	is_str(relay(stream, n, n, &r), want, "each event's bytes, and those between, in one piece");
	for (a = 0; a <= n; a++)
		for (b = a; b <= n; b++)
			if (!same_relay(relay(stream, a, b, &r), want) && all) {
				all = 0;
				diag("cut at %zu and %zu: %s", a, b, r.out);
			}
	ok(all, "the same bytes and events for every two cuts (%zu ways, LF, CRLF and CR-only)",
	    (n + 1) * (n + 2) / 2);

	is_str(relay("data: a\r\rdata: b\r\r", 8, 8, &r), "<data: a\r\r><data: b\r\r>",
	    "CR-only: cut between the two CRs of a blank line");
	is_str(relay("data: a\r\n\r\n", 8, 10, &r), "<data: a\r\n\r>\n",
	    "a CRLF cut after its CR: the event ends at the CR, its LF follows it");
	is_str(relay("data: a\r\r\ndata: b\n\n", 0, 0, &r), "<data: a\r\r\n><data: b\n\n>",
	    "CR then CRLF: the LF completes the blank line, inside the event");
	is_str(relay("data: a\r\r\ndata: b\n\n", 9, 9, &r), "<data: a\r\r>\n<data: b\n\n>",
	    "cut before that LF, it still only completes the line end, after the event");
}

static void
test_settled(void)
{
	struct sse p;
	struct seen s;

	memset(&s, 0, sizeof(s));
	sse_init(&p);
	sse_feed(&p, ": c\n", 4, record, &s);
	is_int(sse_settled(&p), 4, "a comment is settled at once");
	sse_feed(&p, "data: x\n", 8, record, &s);
	is_int(sse_settled(&p), 4, "an event begun is not");
	sse_feed(&p, "\ndata: y", 8, record, &s);
	ok(s.n == 1 && sse_settled(&p) == 13, "its blank line settles it; a line begun is not (%zu)",
	    sse_settled(&p));
	sse_reset(&p);
	ok(sse_settled(&p) == 0 && p.line.len == 0 && p.data.len == 0,
	    "after sse_reset offsets start again, nothing left of the last stream");
	sse_feed(&p, "data: z\r\r", 9, record, &s);
	ok(s.n == 2 && strstr(s.log, "[|z|1]") != NULL && p.event_at == 0 && p.at == 9,
	    "and the next stream splits on its own: %s", s.log);
	sse_release(&p);
}

int
main(void)
{
	static const char stream[] =
	    ": keep-alive\n"
	    "event: message_start\n"
	    "data: {\"a\":1}\n"
	    "\n"
	    "data: line one\n"
	    "data: line two\n"
	    "id: 7\n"
	    "\n"
	    "\n"
	    "data:no space\r\n\r\n"
	    "data: cr only\r\r"
	    "data: [DONE]";
	static const char want[] =
	    "[message_start|{\"a\":1}|2][|line one\nline two|5][|no space|10][|cr only|12]"
	    "[|[DONE]|14]";
	struct seen s;
	struct sse p;
	size_t chunk;
	int calls = 0, all = 1;

	split(stream, sizeof(stream), &s);
	is_str(s.log, want, "whole stream at once");
	for (chunk = 1; chunk < 40; chunk++) {
		split(stream, chunk, &s);
		if (strcmp(s.log, want) != 0) {
			all = 0;
			diag("chunk %zu: %s", chunk, s.log);
		}
	}
	ok(all, "the same events for every chunk size from 1 to 39 bytes");
	split("data: a\r", 100, &s);
	is_str(s.log, "[|a|1]", "a final CR ends the line");

	sse_init(&p);
	ok(sse_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, stop_at_second, &calls) < 0 &&
	    calls == 2, "a callback can stop the stream");
	sse_release(&p);
	split("", 1, &s);
	ok(s.n == 0, "no input, no events");
	test_offsets();
	test_settled();
	return done_testing();
}
