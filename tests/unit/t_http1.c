/*
 * HTTP/1.x heads, chunked bodies and query strings: heads whole, cut at every
 * byte and pipelined; each error status; the framing rules that guard against
 * request smuggling; a chunked body fed a byte at a time.
 */
#include "http1.h"
#include "tap.h"

static char buf[HTTP1_MAX_HEAD * 2];

#define WITH_LEN(s)	s, sizeof(s) - 1

/* Copies n bytes of s into buf (the parse writes there) and parses them. */
static int
parse_n(const char *s, size_t n, struct http1_request *r, int *status)
{
	memcpy(buf, s, n);
	buf[n] = '\0';
	*status = 0;
	return http1_parse_head(buf, n, r, status);
}

static int
parse(const char *s, struct http1_request *r, int *status)
{
	return parse_n(s, strlen(s), r, status);
}

/* The status of an error, 0 when the head parses. */
static int
status_of(const char *s, size_t n)
{
	struct http1_request r;
	int status, rc = parse_n(s, n, &r, &status);

	if (rc == 0)
		return -2;	/* wanted more bytes, never expected here */
	return rc > 0 ? 0 : status;
}

static void
test_post(void)
{
	static const char req[] =
	    "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: gw.example\r\n"
	    "Authorization:   Bearer tk-1 \t\r\n"
	    "Content-Type: application/json\r\n"
	    "content-length: 27\r\n"
	    "X-Empty:\r\n"
	    "X-Inner:  a  b \r\n"
	    "\r\n"
	    "{\"model\":\"m\",\"stream\":true}";
	struct http1_request r;
	int status;

	is_int(parse(req, &r, &status), (int)(strlen(req) - 27), "POST: head length without the body");
	is_int(r.method, HTTP1_POST, "POST: method");
	is_str(r.path, "/v1/chat/completions", "POST: path");
	ok(r.query == NULL, "POST: no query");
	is_int(r.minor, 1, "POST: HTTP/1.1");
	is_int((long long)r.nheaders, 6, "POST: six headers");
	is_int(r.content_length, 27, "POST: Content-Length");
	is_int(r.chunked, 0, "POST: not chunked");
	is_int(r.keep_alive, 1, "POST: 1.1 keeps the connection by default");
	is_int(r.expect_continue, 0, "POST: no Expect");
	is_str(r.headers[0].name, "Host", "POST: first name as sent");
	is_str(r.headers[1].value, "Bearer tk-1", "POST: blanks cut on both sides");
	is_str(http1_header(&r, "AUTHORIZATION"), "Bearer tk-1", "lookup ignores case");
	is_str(http1_header(&r, "Content-Length"), "27", "lookup of a lower-case name");
	is_str(http1_header(&r, "x-empty"), "", "an empty value");
	is_str(http1_header(&r, "x-inner"), "a  b", "inner blanks kept");
	ok(http1_header(&r, "Host2") == NULL && http1_header(&r, "Hos") == NULL,
	    "no match on a longer or a shorter name");
	is_str(buf + strlen(req) - 27, "{\"model\":\"m\",\"stream\":true}", "the body is left as it was");
}

static void
test_get_query(void)
{
	struct http1_request r;
	int status;

	ok(parse("GET /v1/models?limit=2&after=x HTTP/1.0\r\n\r\n", &r, &status) > 0, "GET with a query");
	is_int(r.method, HTTP1_GET, "GET: method");
	is_str(r.path, "/v1/models", "GET: path stops at '?'");
	is_str(r.query, "limit=2&after=x", "GET: query");
	is_int(r.minor, 0, "GET: HTTP/1.0");
	is_int(r.content_length, -1, "GET: no Content-Length");
	is_int((long long)r.nheaders, 0, "GET: no headers");
	is_int(r.keep_alive, 0, "GET: 1.0 closes by default");
	ok(parse("GET /a?b?c HTTP/1.1\r\n\r\n", &r, &status) > 0 && strcmp(r.path, "/a") == 0 &&
	    strcmp(r.query, "b?c") == 0, "the first '?' splits");
	ok(parse("GET /? HTTP/1.1\r\n\r\n", &r, &status) > 0 && r.query && *r.query == '\0',
	    "a bare '?' gives an empty query");
}

static void
test_incremental(void)
{
	static const char req[] =
	    "\r\n\nPUT /x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\n";
	struct http1_request r;
	size_t n, len = strlen(req);
	int status, zero = 1, untouched = 1, rc;

	for (n = 0; n < len; n++) {
		memcpy(buf, req, len);
		status = 0;
		if ((rc = http1_parse_head(buf, n, &r, &status)) != 0) {
			diag("prefix %zu: %d (status %d)", n, rc, status);
			zero = 0;
		}
		if (memcmp(buf, req, len) != 0)
			untouched = 0;
	}
	ok(zero, "every prefix of a valid head asks for more");
	ok(untouched, "and leaves the buffer as it was");
	is_int(parse(req, &r, &status), (int)len, "the whole head, leading blank lines counted");
	is_int(r.method, HTTP1_PUT, "after leading blank lines: method");
	is_str(r.query, "y=1", "after leading blank lines: query");
	is_int(r.keep_alive, 0, "Connection: close");
}

static void
test_pipelined_and_lf(void)
{
	static const char two[] =
	    "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
	    "DELETE /two HTTP/1.1\nHost: b\nX-Tab:\tv\t\n\n";
	struct http1_request r;
	int status, n, m;

	n = parse(two, &r, &status);
	is_int(n, 30, "pipelined: the first head only");
	is_str(r.path, "/one", "pipelined: first path");
	is_str(http1_header(&r, "host"), "a", "pipelined: first Host");
	m = http1_parse_head(buf + n, strlen(two) - (size_t)n, &r, &status);
	is_int(m, (int)strlen(two) - n, "pipelined: the second head, LF-only lines");
	is_int(r.method, HTTP1_DELETE, "LF-only: method");
	is_str(r.path, "/two", "LF-only: path");
	is_str(http1_header(&r, "x-tab"), "v", "LF-only: tabs cut");
	is_int((long long)r.nheaders, 2, "LF-only: two headers");
	ok(parse("GET / HTTP/1.1\r\nA: 1\n\r\n", &r, &status) > 0 && strcmp(r.headers[0].value, "1") == 0,
	    "CRLF and LF mixed");
}

struct bad {
	const char	*head;
	int		 status;
	const char	*why;
};

static void
test_errors(void)
{
	static const struct bad bad[] = {
		{ "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "a space before the colon" },
		{ "GET / HTTP/1.1\r\nMy Header: h\r\n\r\n", 400, "a space in a name" },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "a header line without a colon" },
		{ "GET / HTTP/1.1\r\n: v\r\n\r\n", 400, "an empty name" },
		{ "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400, "obsolete folding (SP)" },
		{ "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n", 400, "obsolete folding (HTAB)" },
		{ "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400, "a blank before the first header" },
		{ "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400, "a bare CR in a value" },
		{ "GET / HTTP/1.1\r\nA: b\r\r\n\r\n", 400, "CR CR LF" },
		{ "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400, "a control byte in a value" },
		{ "GET / HTTP/1.1\r\nAuthorization: Bearer a\r\nauthorization: Bearer b\r\n\r\n", 400,
		  "Authorization twice" },
		{ "GET / HTTP/1.1\r\nX-Api-Key: a\r\nA: b\r\nx-api-key: a\r\n\r\n", 400,
		  "x-api-key twice, even the same" },
		{ "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", 400, "DEL in a value" },
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", 400, "a control byte in the target" },
		{ "GET /a\tb HTTP/1.1\r\n\r\n", 400, "a tab in the target" },
		{ "GET /a\rb HTTP/1.1\r\n\r\n", 400, "a CR in the target" },
		{ "GET  / HTTP/1.1\r\n\r\n", 400, "two spaces after the method" },
		{ "GET / HTTP/1.1 \r\n\r\n", 400, "a space after the version" },
		{ "GET /\r\n\r\n", 400, "no version (HTTP/0.9)" },
		{ "GET\r\n\r\n", 400, "a method alone" },
		{ " GET / HTTP/1.1\r\n\r\n", 400, "a space before the method" },
		{ "GET / HTTX/1.1\r\n\r\n", 400, "not HTTP" },
		{ "GET / http/1.1\r\n\r\n", 400, "lower-case http" },
		{ "GET / HTTP/1.1x\r\n\r\n", 400, "a version with a tail" },
		{ "GET / HTTP/1.\r\n\r\n", 400, "a version without a minor" },
		{ "GET / HTTP/1\r\n\r\n", 400, "a version without a dot" },
		{ "GET foo HTTP/1.1\r\n\r\n", 400, "a relative target" },
		{ "GET * HTTP/1.1\r\n\r\n", 400, "'*' for GET" },
		{ "OPTIONS *x HTTP/1.1\r\n\r\n", 400, "'*' with a tail" },
		{ "GET http:///x HTTP/1.1\r\n\r\n", 400, "an absolute target without a host" },
		{ "GET ftp://h/x HTTP/1.1\r\n\r\n", 400, "another scheme" },
		{ "GET http:/x HTTP/1.1\r\n\r\n", 400, "one slash after the scheme" },
		{ "FOO / HTTP/1.1\r\n\r\n", 501, "an unknown method" },
		{ "get / HTTP/1.1\r\n\r\n", 501, "methods are case-sensitive" },
		{ "GETS / HTTP/1.1\r\n\r\n", 501, "a method with a tail" },
		{ "CONNECT h:443 HTTP/1.1\r\n\r\n", 501, "CONNECT" },
		{ "GET / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0" },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 501, "the HTTP/2 preface" },
		{ "GET / HTTP/1.2\r\n\r\n", 505, "HTTP/1.2" },
		{ "GET / HTTP/0.9\r\n\r\n", 505, "HTTP/0.9 spelled out" },
		{ "GET / HTTP/10.10\r\n\r\n", 505, "a two-digit version" },
		{ "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400, "Content-Length not a number" },
		{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "a negative Content-Length" },
		{ "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400, "a signed Content-Length" },
		{ "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400, "an empty Content-Length" },
		{ "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400, "two numbers" },
		{ "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400, "a list" },
		{ "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400, "hex" },
		{ "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 400,
		    "Content-Length over INT64_MAX" },
		{ "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400,
		    "Content-Length far over" },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 400,
		    "two different Content-Lengths" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "gzip" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "gzip, chunked" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501, "chunked, gzip" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 501, "chunked with a parameter" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 501, "an empty Transfer-Encoding" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		    400, "chunked twice" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
		    "Transfer-Encoding then Content-Length" },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
		    "Content-Length then Transfer-Encoding" },
		{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "chunked in HTTP/1.0" },
	};
	static const struct {
		const char	*head;
		size_t		 len;
		const char	*why;
	} nul[] = {
		{ WITH_LEN("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n"), "NUL in a value" },
		{ WITH_LEN("GET / HTTP/1.1\r\nA\0: b\r\n\r\n"), "NUL in a name" },
		{ WITH_LEN("GET /\0 HTTP/1.1\r\n\r\n"), "NUL in the target" },
		{ WITH_LEN("G\0T / HTTP/1.1\r\n\r\n"), "NUL in the method" },
		{ WITH_LEN("GET / HTTP/1.1\0\r\n\r\n"), "NUL after the version" },
		{ WITH_LEN("\0GET / HTTP/1.1\r\n\r\n"), "NUL before the request line" },
		{ WITH_LEN("GET / HTTP/1.1\r\n\0\r\n\r\n"), "NUL as a line" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(status_of(bad[i].head, strlen(bad[i].head)), bad[i].status, "%d: %s",
		    bad[i].status, bad[i].why);
	for (i = 0; i < sizeof(nul) / sizeof(nul[0]); i++)
		is_int(status_of(nul[i].head, nul[i].len), 400, "400: %s", nul[i].why);
}

static void
test_limits(void)
{
	struct http1_request r;
	static char big[HTTP1_MAX_HEAD + 4096];
	size_t n, i;
	int status;

	/* a target of exactly HTTP1_MAX_TARGET bytes, then one more */
	n = (size_t)sprintf(big, "GET /");
	memset(big + n, 'a', HTTP1_MAX_TARGET - 1);
	n += HTTP1_MAX_TARGET - 1;
	n += (size_t)sprintf(big + n, " HTTP/1.1\r\n\r\n");
	ok(parse_n(big, n, &r, &status) > 0 && strlen(r.path) == HTTP1_MAX_TARGET,
	    "a target of HTTP1_MAX_TARGET bytes");
	memmove(big + 6, big + 5, n - 5);
	is_int(status_of(big, n + 1), 414, "414: a target one byte longer");
	/* the longest valid request line, then a line that cannot be one */
	n = (size_t)sprintf(big, "OPTIONS /");
	memset(big + n, 'a', HTTP1_MAX_TARGET - 1);
	n += HTTP1_MAX_TARGET - 1;
	n += (size_t)sprintf(big + n, " HTTP/1.1\r\n\r\n");
	is_int(parse_n(big, n - 3, &r, &status), 0, "the longest request line before its LF: more");
	is_int(parse_n(big, n, &r, &status), (int)n, "the longest request line");
	big[n - 4] = big[n - 3] = 'a';
	ok(parse_n(big, n - 2, &r, &status) < 0 && status == 414,
	    "414: a request line past any valid one, before its end");

	/* a head of HTTP1_MAX_HEAD bytes, then one more */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'v', HTTP1_MAX_HEAD - n - 4);
	memcpy(big + HTTP1_MAX_HEAD - 4, "\r\n\r\n", 4);
	is_int(parse_n(big, HTTP1_MAX_HEAD, &r, &status), HTTP1_MAX_HEAD, "a head of HTTP1_MAX_HEAD bytes");
	is_int(parse_n(big, HTTP1_MAX_HEAD - 1, &r, &status), 0, "one byte short of it");
	memmove(big + n + 1, big + n, HTTP1_MAX_HEAD - n);
	big[n] = 'v';
	ok(parse_n(big, HTTP1_MAX_HEAD + 1, &r, &status) < 0 && status == 431,
	    "431: a complete head one byte over");
	ok(parse_n(big, HTTP1_MAX_HEAD, &r, &status) < 0 && status == 431,
	    "431: HTTP1_MAX_HEAD bytes and no end yet");
	memset(big, '\n', HTTP1_MAX_HEAD);
	ok(parse_n(big, HTTP1_MAX_HEAD, &r, &status) < 0 && status == 431,
	    "431: blank lines without end");

	/* HTTP1_MAX_HEADERS headers, then one more */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
	for (i = 0; i < HTTP1_MAX_HEADERS; i++)
		n += (size_t)sprintf(big + n, "H%zu: %zu\r\n", i, i);
	memcpy(big + n, "\r\n", 2);
	ok(parse_n(big, n + 2, &r, &status) > 0 && r.nheaders == HTTP1_MAX_HEADERS &&
	    strcmp(http1_header(&r, "h99"), "99") == 0, "HTTP1_MAX_HEADERS headers");
	memcpy(big + n, "X: y\r\n\r\n", 8);
	is_int(status_of(big, n + 8), 431, "431: one header more");
}

static void
test_framing(void)
{
	struct http1_request r;
	int status;

	ok(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &r, &status) > 0 &&
	    r.content_length == 5, "the same Content-Length twice");
	ok(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r, &status) > 0 && r.content_length == 0,
	    "Content-Length: 0");
	ok(parse("POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n", &r, &status) > 0 && r.content_length == 7,
	    "leading zeros");
	ok(parse("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n", &r, &status) > 0 &&
	    r.content_length == INT64_MAX, "Content-Length INT64_MAX");
	ok(parse("POST / HTTP/1.1\r\nTRANSFER-encoding:  \tChunked \r\n\r\n", &r, &status) > 0 &&
	    r.chunked == 1 && r.content_length == -1, "chunked: any case, blanks around");
}

static void
test_connection(void)
{
	static const struct {
		const char	*version;
		const char	*headers;
		int		 keep;
	} t[] = {
		{ "1.1", "", 1 },
		{ "1.1", "Connection: close\r\n", 0 },
		{ "1.1", "Connection: Close\r\n", 0 },
		{ "1.1", "Connection: upgrade, close\r\n", 0 },
		{ "1.1", "Connection: close ,upgrade\r\n", 0 },
		{ "1.1", "Connection: keep-alive\r\n", 1 },
		{ "1.1", "Connection: closed\r\n", 1 },
		{ "1.1", "Connection: upgrade\r\nConnection: close\r\n", 0 },
		{ "1.1", "Connection: keep-alive, close\r\n", 0 },
		{ "1.0", "", 0 },
		{ "1.0", "Connection: Keep-Alive\r\n", 1 },
		{ "1.0", "Connection: foo,\tkeep-alive\t\r\n", 1 },
		{ "1.0", "Connection: keep-alive, close\r\n", 0 },
		{ "1.0", "Connection: keep-alives\r\n", 0 },
		{ "1.0", "X-Connection: keep-alive\r\n", 0 },
	};
	struct http1_request r;
	char head[256];
	size_t i;
	int status;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(head, sizeof(head), "GET / HTTP/%s\r\n%s\r\n", t[i].version, t[i].headers);
		ok(parse(head, &r, &status) > 0 && r.keep_alive == t[i].keep, "HTTP/%s %.*s: keep_alive %d",
		    t[i].version, (int)strcspn(t[i].headers, "\r"), t[i].headers, t[i].keep);
	}
}

static void
test_expect_and_targets(void)
{
	struct http1_request r;
	int status;

	ok(parse("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", &r, &status) > 0 &&
	    r.expect_continue == 1, "Expect: 100-continue, any case");
	ok(parse("POST / HTTP/1.1\r\nExpect: 100-continue-x\r\n\r\n", &r, &status) > 0 &&
	    r.expect_continue == 0, "another expectation");
	ok(parse("POST / HTTP/1.1\r\nX-Expect: 100-continue\r\n\r\n", &r, &status) > 0 &&
	    r.expect_continue == 0, "another header");

	ok(parse("GET http://api.example:8080/v1/models?a=b HTTP/1.1\r\n\r\n", &r, &status) > 0 &&
	    strcmp(r.path, "/v1/models") == 0 && r.query && strcmp(r.query, "a=b") == 0,
	    "absolute form: path and query");
	ok(parse("GET HTTPS://api.example HTTP/1.1\r\n\r\n", &r, &status) > 0 &&
	    strcmp(r.path, "/") == 0 && r.query == NULL, "absolute form without a path: '/'");
	ok(parse("GET http://h?x=1 HTTP/1.1\r\n\r\n", &r, &status) > 0 &&
	    strcmp(r.path, "/") == 0 && r.query && strcmp(r.query, "x=1") == 0,
	    "absolute form: a query and no path");
	ok(parse("OPTIONS * HTTP/1.1\r\n\r\n", &r, &status) > 0 && r.method == HTTP1_OPTIONS &&
	    strcmp(r.path, "*") == 0 && r.query == NULL, "OPTIONS *");
	ok(parse("PATCH /p HTTP/1.1\r\n\r\n", &r, &status) > 0 && r.method == HTTP1_PATCH, "PATCH");
	ok(parse("HEAD /p HTTP/1.1\r\n\r\n", &r, &status) > 0 && r.method == HTTP1_HEAD, "HEAD");
	ok(parse("GET /caf\xc3\xa9 HTTP/1.1\r\nX: \xff\r\n\r\n", &r, &status) > 0 &&
	    strcmp(r.headers[0].value, "\xff") == 0, "bytes over 0x7f in the target and values");
}

static void
test_names(void)
{
	static const char *const names[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH" };
	static const struct {
		int		 status;
		const char	*reason;
	} reasons[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 204, "No Content" }, { 400, "Bad Request" },
		{ 404, "Not Found" }, { 413, "Content Too Large" }, { 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" }, { 502, "Bad Gateway" },
		{ 505, "HTTP Version Not Supported" }, { 299, "Unknown" }, { 0, "Unknown" },
	};
	char head[64];
	struct http1_request r;
	size_t i;
	int status, same = 1;

	for (i = 0; i < 7; i++) {
		snprintf(head, sizeof(head), "%s / HTTP/1.1\r\n\r\n", names[i]);
		if (parse(head, &r, &status) <= 0 || strcmp(http1_method_name(r.method), names[i]) != 0)
			same = 0;
	}
	ok(same, "each method parses and names itself back");
	is_str(http1_method_name(0), "UNKNOWN", "no method");
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		is_str(http1_reason(reasons[i].status), reasons[i].reason, "reason %d", reasons[i].status);
}

/*
 * Feeds body as a connection would, first bytes then step bytes at a time:
 * pending input is kept from *used on, decoded bytes taken from the front.
 * Returns the last result; out gets the body, *rest counts the bytes left
 * after the end of the body.
 */
static int
feed(const char *body, size_t len, size_t first, size_t step, char *out, size_t *outlen, size_t *rest)
{
	struct http1_chunked d;
	char pend[8192];
	size_t off = 0, plen = 0, used, produced, n = first;
	int rc = 0;

	memset(&d, 0, sizeof(d));
	*outlen = 0;
	do {
		if (n > len - off)
			n = len - off;
		memcpy(pend + plen, body + off, n);
		plen += n;
		off += n;
		if ((rc = http1_dechunk(&d, pend, plen, &used, &produced)) < 0)
			return rc;
		if (produced > used || used > plen)
			return -2;
		memcpy(out + *outlen, pend, produced);
		*outlen += produced;
		memmove(pend, pend + used, plen - used);
		plen -= used;
		if (rc == 1)
			break;
		n = step;
	} while (off < len);
	*rest = plen + (len - off);
	return rc;
}

static int
dechunk_all(const char *body, char *out, size_t *outlen)
{
	size_t rest;

	return feed(body, strlen(body), strlen(body), strlen(body), out, outlen, &rest);
}

static void
test_dechunk(void)
{
	static const char body[] =
	    "5\r\nhello\r\n"
	    "1;name=value;x\r\n,\r\n"
	    "A \t;ext\r\n world 012\r\n"
	    "00f\nfifteen bytes..\n"
	    "0\r\n"
	    "Trailer: x\r\n"
	    "Other: y\r\n"
	    "\r\n"
	    "POST /next";
	static const char want[] = "hello, world 012fifteen bytes..";
	struct http1_chunked d;
	char in[256], out[256];
	size_t len = strlen(body), step, cut, outlen, rest, used, produced;
	int all = 1, rc;

	rc = feed(body, len, len, len, out, &outlen, &rest);
	is_int(rc, 1, "dechunk: complete in one call");
	ok(outlen == strlen(want) && memcmp(out, want, outlen) == 0, "dechunk: the body, extensions ignored");
	is_int((long long)rest, 10, "dechunk: stops after the trailers' blank line");

	for (step = 1; step <= len; step++) {
		rc = feed(body, len, step, step, out, &outlen, &rest);
		if (rc != 1 || outlen != strlen(want) || memcmp(out, want, outlen) != 0 || rest != 10) {
			diag("step %zu: rc %d, %zu bytes, rest %zu", step, rc, outlen, rest);
			all = 0;
		}
	}
	ok(all, "dechunk: the same body fed 1 to %zu bytes at a time", len);

	all = 1;
	for (cut = 0; cut <= len; cut++) {
		rc = feed(body, len, cut, len, out, &outlen, &rest);
		if (rc != 1 || outlen != strlen(want) || memcmp(out, want, outlen) != 0 || rest != 10) {
			diag("cut at %zu: rc %d, %zu bytes, rest %zu", cut, rc, outlen, rest);
			all = 0;
		}
	}
	ok(all, "dechunk: two calls cut at every byte");

	memset(&d, 0, sizeof(d));
	rc = http1_dechunk(&d, in, 0, &used, &produced);
	ok(rc == 0 && used == 0 && produced == 0, "dechunk: nothing in, nothing out");
	memcpy(in, "3\r\nab", 5);
	rc = http1_dechunk(&d, in, 5, &used, &produced);
	ok(rc == 0 && used == 5 && produced == 2 && memcmp(in, "ab", 2) == 0,
	    "dechunk: part of a chunk is given at once");
	memcpy(in, "c\r", 2);
	rc = http1_dechunk(&d, in, 2, &used, &produced);
	ok(rc == 0 && used == 1 && produced == 1 && in[0] == 'c', "dechunk: a CR whose LF is to come waits");
	memcpy(in, "\r\n0\r", 4);
	rc = http1_dechunk(&d, in, 4, &used, &produced);
	ok(rc == 0 && used == 2 && produced == 0, "dechunk: a partial size line waits");
	memcpy(in, "0\r\n\r\n", 5);
	rc = http1_dechunk(&d, in, 5, &used, &produced);
	ok(rc == 1 && used == 5 && produced == 0, "dechunk: the last chunk, no trailers");
	rc = http1_dechunk(&d, in, 5, &used, &produced);
	ok(rc == 1 && used == 0 && produced == 0, "dechunk: done stays done and takes nothing");

	ok(dechunk_all("0\n\n", out, &outlen) == 1 && outlen == 0, "dechunk: an empty body, LF only");
	ok(dechunk_all("", out, &outlen) == 0 && outlen == 0, "dechunk: no bytes yet");
	ok(dechunk_all("0000000000000003\r\nabc\r\n0\r\n\r\n", out, &outlen) == 1 && outlen == 3,
	    "dechunk: 16 hex digits");
	ok(dechunk_all("4000000000000000\r\nabc", out, &outlen) == 0 && outlen == 3,
	    "dechunk: a chunk of 2^62 bytes may start");
}

static void
test_dechunk_errors(void)
{
	static const struct {
		const char	*body;
		const char	*why;
	} bad[] = {
		{ "x\r\n", "not hex" },
		{ "\r\n", "no size" },
		{ ";ext\r\n", "an extension without a size" },
		{ "5x\r\nhello\r\n", "a size with a tail" },
		{ "-1\r\n", "a negative size" },
		{ "0x5\r\nhello\r\n", "a 0x prefix" },
		{ "5 5\r\nhello\r\n", "two sizes" },
		{ "00000000000000005\r\nhello\r\n", "17 hex digits" },
		{ "4000000000000001\r\n", "over 2^62" },
		{ "FFFFFFFFFFFFFFFF\r\n", "16 digits over 2^62" },
		{ "10000000000000000\r\n", "2^64" },
		{ "5;a\rb\r\nhello\r\n", "a bare CR among the extensions" },
		{ "5\r\r\nhello\r\n", "CR CR LF" },
		{ "5\r\nhelloX\r\n0\r\n\r\n", "data longer than its size" },
		{ "5\r\nhello\rX0\r\n\r\n", "CR and no LF after data" },
		{ "5\r\nhello0\r\n\r\n", "no line end after data" },
		{ "5\r\nhel\r\n0\r\n\r\n", "data shorter than its size" },
	};
	static char big[HTTP1_MAX_HEAD + 8192];
	struct http1_chunked d;
	char out[64];
	size_t i, n, used, produced, outlen;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(dechunk_all(bad[i].body, out, &outlen), -1, "dechunk -1: %s", bad[i].why);

	memset(&d, 0, sizeof(d));
	memset(big, 'e', 8192);
	memcpy(big, "1;", 2);
	is_int(http1_dechunk(&d, big, 4000, &used, &produced), 0, "dechunk: a long extension may still end");
	is_int(http1_dechunk(&d, big, 8192, &used, &produced), -1, "dechunk -1: a size line without end");

	memset(&d, 0, sizeof(d));
	n = (size_t)sprintf(big, "0\r\n");
	while (n < sizeof(big) - 16)
		n += (size_t)sprintf(big + n, "X: y\r\n");
	rc = http1_dechunk(&d, big, n, &used, &produced);
	ok(rc == -1, "dechunk -1: trailers without end");
}

static void
test_query(void)
{
	static const char q[] = "a=1&b=x%20y&c&d=&e=%41%6a%4A&f=a+b%2B&g=%zz%4&h=%&a=2&x%20y=k&i=50%";
	static const struct {
		const char	*name;
		int		 found;
		const char	*value;
	} t[] = {
		{ "a", 1, "1" },
		{ "b", 1, "x y" },
		{ "c", 1, "" },
		{ "d", 1, "" },
		{ "e", 1, "AjJ" },
		{ "f", 1, "a b+" },
		{ "g", 1, "%zz%4" },
		{ "h", 1, "%" },
		{ "i", 1, "50%" },
		{ "x%20y", 1, "k" },
		{ "x y", 0, "" },
		{ "z", 0, "" },
		{ "", 0, "" },
		{ "a=1", 0, "" },
	};
	char out[16];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		strcpy(out, "unset");
		is_int(http1_query_param(q, t[i].name, out, sizeof(out)), t[i].found, "query '%s': found %d",
		    t[i].name, t[i].found);
		if (t[i].found)
			is_str(out, t[i].value, "query '%s': '%s'", t[i].name, t[i].value);
	}
	ok(http1_query_param("ab=1&b=2", "b", out, sizeof(out)) == 1 && strcmp(out, "2") == 0,
	    "a name is not matched by its suffix");
	ok(http1_query_param("b=hello", "b", out, 3) == 1 && strcmp(out, "he") == 0, "cut to outlen - 1");
	ok(http1_query_param("b=%41%42%43", "b", out, 3) == 1 && strcmp(out, "AB") == 0,
	    "cut counts decoded bytes");
	ok(http1_query_param("b=x", "b", out, 1) == 1 && out[0] == '\0', "outlen 1: empty");
	ok(http1_query_param(NULL, "b", out, sizeof(out)) == 0, "no query");
	ok(http1_query_param("", "b", out, sizeof(out)) == 0, "an empty query");
	ok(http1_query_param("&&b=1&", "b", out, sizeof(out)) == 1 && strcmp(out, "1") == 0,
	    "empty parameters skipped");

	/* the strict reading: one value, whole, without NUL */
	ok(http1_query_param_one("a=1&b=2", "b", out, sizeof(out)) == 1 && strcmp(out, "2") == 0,
	    "one: found");
	is_int(http1_query_param_one("a=1", "b", out, sizeof(out)), 0, "one: absent");
	is_int(http1_query_param_one(NULL, "b", out, sizeof(out)), 0, "one: no query");
	is_int(http1_query_param_one("b=1&a=2&b=1000", "b", out, sizeof(out)), HTTP1_QUERY_REPEATED,
	    "one: a repeated name is refused, not its first value taken");
	is_int(http1_query_param_one("b=1&b", "b", out, sizeof(out)), HTTP1_QUERY_REPEATED,
	    "one: repeated without '='");
	is_int(http1_query_param_one("b=1000", "b", out, 4), HTTP1_QUERY_BAD_VALUE,
	    "one: a value that does not fit is refused, not cut");
	ok(http1_query_param_one("b=100", "b", out, 4) == 1 && strcmp(out, "100") == 0,
	    "one: a value that just fits");
	ok(http1_query_param_one("b=%31%30%30", "b", out, 4) == 1 && strcmp(out, "100") == 0,
	    "one: fitting counts decoded bytes");
	is_int(http1_query_param_one("b=2026-01-01%00x", "b", out, sizeof(out)), HTTP1_QUERY_BAD_VALUE,
	    "one: an encoded NUL is refused");
	is_int(http1_query_param_one("b=x%00", "b", out, sizeof(out)), HTTP1_QUERY_BAD_VALUE,
	    "one: an encoded NUL at the end too");
	ok(http1_query_param_one("bb=1&b=%2e%2E", "b", out, sizeof(out)) == 1 && strcmp(out, "..") == 0,
	    "one: a longer name is another parameter");
}

int
main(void)
{
	test_post();
	test_get_query();
	test_incremental();
	test_pipelined_and_lf();
	test_errors();
	test_limits();
	test_framing();
	test_connection();
	test_expect_and_targets();
	test_names();
	test_dechunk();
	test_dechunk_errors();
	test_query();
	return done_testing();
}
