/*
 * The SSE splitter: events cut at any byte, LF / CRLF / CR line ends,
 * multi-line data, comments, and a last event without its blank line.
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
	return done_testing();
}
