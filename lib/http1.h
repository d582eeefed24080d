/*
 * HTTP/1.x requests as a server reads them: the request line and headers
 * parsed in place from the bytes received so far, chunked bodies decoded in
 * place, and query strings taken apart.  No I/O and no allocation here: the
 * worker's connection code (cmd/tollgated/worker_conn.c) owns the buffers.
 */
#ifndef TOLLGATE_HTTP1_H
#define TOLLGATE_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#define HTTP1_MAX_HEADERS	100	/* more: 431 */
#define HTTP1_MAX_HEAD		(64 * 1024)	/* request line and headers, bytes; more: 431 */
#define HTTP1_MAX_TARGET	8192	/* bytes of the request target; more: 414 */

enum http1_method {
	HTTP1_GET = 1, HTTP1_HEAD, HTTP1_POST, HTTP1_PUT, HTTP1_DELETE, HTTP1_OPTIONS,
	HTTP1_PATCH
};

struct http1_header {
	const char	*name;		/* NUL-terminated in the parsed buffer */
	const char	*value;		/* NUL-terminated, leading and trailing blanks cut */
};

struct http1_request {
	enum http1_method	 method;
	const char		*path;		/* the target up to '?', NUL-terminated in place */
	const char		*query;		/* after '?' (NUL-terminated), or NULL */
	int			 minor;		/* HTTP/1.minor: 0 or 1 */
	struct http1_header	 headers[HTTP1_MAX_HEADERS];
	size_t			 nheaders;
	int64_t			 content_length;	/* -1: none given */
	int			 chunked;	/* Transfer-Encoding: chunked */
	int			 keep_alive;	/* by version and Connection */
	int			 expect_continue;	/* Expect: 100-continue */
};

/*
 * Parses the head at buf (len bytes received so far; buf[len] must be
 * writable, the parse NUL-terminates names and values in place).  Returns the
 * head's length including the blank line when complete, 0 when more bytes are
 * needed, or -1 with *status set to the answer: 400 (malformed, or both or
 * conflicting Content-Length / Transfer-Encoding, or chunked in HTTP/1.0), 414
 * (target over HTTP1_MAX_TARGET), 431 (head over HTTP1_MAX_HEAD or too many
 * headers), 501 (an unknown method or transfer coding), 505 (not HTTP/1.0 or
 * 1.1).  A bare LF ends lines as well as CRLF.  An absolute-form target
 * ("http://host/p?q") gives the path and query of its URL.  r is filled only
 * when the head is complete; on 0, buf is left as it was.
 */
int http1_parse_head(char *buf, size_t len, struct http1_request *r, int *status);

/* The value of header name (case-insensitive), or NULL. */
const char *http1_header(const struct http1_request *r, const char *name);

/* The method's name ("POST"). */
const char *http1_method_name(enum http1_method m);

/*
 * A chunked body decoder that works in place: http1_dechunk() decodes the
 * bytes at buf[0..len) and moves the body bytes found to the front of buf.
 * Returns 1 when the last chunk and trailers have been read, 0 when it needs
 * more bytes, -1 on a malformed body.  *used: bytes of buf consumed;
 * *produced: body bytes now at the front of buf (produced <= used).  Bytes
 * not consumed, buf[used..len) (a partial chunk-size or trailer line, a CR
 * whose LF is still to come; after 1, what follows the body), must be given
 * again at the start of the next call's input, followed by more.  The struct
 * is zeroed before the first call.
 */
struct http1_chunked {
	int		state;
	uint64_t	left;		/* bytes left in the current chunk */
};
int http1_dechunk(struct http1_chunked *d, char *buf, size_t len, size_t *used, size_t *produced);

/*
 * The value of parameter name in a query string ("a=1&b=x%20y"), percent- and
 * '+'-decoded into out (cut to outlen - 1 bytes).  1 when found, 0 when not.
 */
int http1_query_param(const char *query, const char *name, char *out, size_t outlen);

/*
 * The same for a caller that must not guess which value was meant: 1 found,
 * 0 not, HTTP1_QUERY_REPEATED when name is there more than once, and
 * HTTP1_QUERY_BAD_VALUE when its value is longer than outlen - 1 bytes or
 * decodes to a NUL byte (a cut "1000" is "100", "2026-01-01%00x" a date).
 */
#define HTTP1_QUERY_REPEATED	(-1)
#define HTTP1_QUERY_BAD_VALUE	(-2)
int http1_query_param_one(const char *query, const char *name, char *out, size_t outlen);

/* The reason phrase of a status ("Not Found"), "Unknown" for others. */
const char *http1_reason(int status);

#endif
