/*
 * HTTP/1.x request heads, chunked bodies and query strings, taken apart in
 * place for the workers' connection code.  Strict wherever a lenient reading
 * would let a proxy in front of us and this parser disagree on where a
 * request ends (request smuggling): one Content-Length, chunked alone, no
 * obsolete line folding, no bare CR, no control bytes, one credential.
 */
#include <string.h>
#include <strings.h>

#include "http1.h"

/* the longest request line a valid request can have: OPTIONS, target, version, CR */
#define REQLINE_MAX	(7 + 1 + HTTP1_MAX_TARGET + 1 + 8 + 1)
#define CHUNK_LINE_MAX	4096		/* a chunk-size or trailer line, LF included */
#define CHUNK_SIZE_MAX	((uint64_t)1 << 62)

#define CONN_CLOSE	1
#define CONN_KEEP	2

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

/* tchar of RFC 9110 5.6.2: the bytes of methods and header names */
static const unsigned char tchar[256] = {
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
	['~'] = 1
};

static const char *const method_names[] = {
	NULL, "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"
};

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Control bytes other than HTAB: never valid in a target or a field value. */
static int
ctl(int c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether s[0..n) equals lit, which is lower case, ignoring ASCII case. */
static int
ieq(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lower((unsigned char)s[i]) != lit[i])
			return 0;
	return lit[n] == '\0';
}

static int
method(const char *p, size_t n)
{
	switch (n) {
	case 3:
		if (memcmp(p, "GET", 3) == 0)
			return HTTP1_GET;
		return memcmp(p, "PUT", 3) == 0 ? HTTP1_PUT : 0;
	case 4:
		if (memcmp(p, "POST", 4) == 0)
			return HTTP1_POST;
		return memcmp(p, "HEAD", 4) == 0 ? HTTP1_HEAD : 0;
	case 5:
		return memcmp(p, "PATCH", 5) == 0 ? HTTP1_PATCH : 0;
	case 6:
		return memcmp(p, "DELETE", 6) == 0 ? HTTP1_DELETE : 0;
	case 7:
		return memcmp(p, "OPTIONS", 7) == 0 ? HTTP1_OPTIONS : 0;
	}
	return 0;
}

/*
 * The version p[0..le): 0 for "HTTP/1.0" or "HTTP/1.1", 505 for any other
 * HTTP/x.y, 400 for anything else.  The helpers below also return 0 or the
 * status to answer with.
 */
static int
version(struct http1_request *r, const char *p, const char *le)
{
	const char *q;

	if (le - p == 8 && memcmp(p, "HTTP/1.", 7) == 0 && (p[7] == '0' || p[7] == '1')) {
		r->minor = p[7] - '0';
		return 0;
	}
	if (le - p < 8 || memcmp(p, "HTTP/", 5) != 0)
		return 400;
	for (q = p + 5; q < le && *q >= '0' && *q <= '9'; q++)
		;
	if (q == p + 5 || q == le || *q != '.' || ++q == le)
		return 400;
	while (q < le && *q >= '0' && *q <= '9')
		q++;
	return q == le ? 505 : 400;
}

/*
 * The target at p, ended by the SP at te: origin form, "*" for OPTIONS, or
 * absolute form, whose authority is skipped.
 */
static int
target(struct http1_request *r, char *p, char *te)
{
	char *rest = p, *a;

	*te = '\0';
	if (*p == '*' && te - p == 1) {
		if (r->method != HTTP1_OPTIONS)
			return 400;
		r->path = p;
		return 0;
	}
	if (*p != '/') {
		if (te - p >= 7 && ieq(p, 7, "http://"))
			a = p + 7;
		else if (te - p >= 8 && ieq(p, 8, "https://"))
			a = p + 8;
		else
			return 400;
		for (rest = a; rest < te && *rest != '/' && *rest != '?'; rest++)
			;
		if (rest == a)
			return 400;
		if (rest == te || *rest == '?') {
			/* no path: the first slash of "//" becomes the path "/" */
			a[-1] = '\0';
			r->path = a - 2;
		} else
			r->path = rest;
	} else
		r->path = p;
	if ((a = memchr(rest, '?', (size_t)(te - rest))) != NULL) {
		*a = '\0';
		r->query = a + 1;
	}
	return 0;
}

/* The request line at p, ending before le (its CR or LF). */
static int
request_line(struct http1_request *r, char *p, char *le)
{
	char *q;
	int rc;

	for (q = p; q < le && tchar[(unsigned char)*q]; q++)
		;
	if (q == p || q == le || *q != ' ')
		return 400;
	if ((r->method = method(p, (size_t)(q - p))) == 0)
		return 501;
	for (p = ++q; q < le && *q != ' '; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return 400;
	if (q == le || q == p)
		return 400;
	if (q - p > HTTP1_MAX_TARGET)
		return 414;
	if ((rc = version(r, q + 1, le)) != 0)
		return rc;
	return target(r, p, q);
}

/* The headers tollgate itself acts on; the value is v[0..n), NUL-terminated. */
static int
known_header(struct http1_request *r, const char *name, size_t nlen, const char *v, size_t n,
    int *conn)
{
	const char *t, *te, *end = v + n;
	int64_t cl = 0;
	size_t i;

	if (nlen == 14 && ieq(name, 14, "content-length")) {
		if (n == 0)
			return 400;
		for (i = 0; i < n; i++) {
			if (v[i] < '0' || v[i] > '9' || cl > (INT64_MAX - (v[i] - '0')) / 10)
				return 400;
			cl = cl * 10 + (v[i] - '0');
		}
		if (r->content_length >= 0 && r->content_length != cl)
			return 400;
		r->content_length = cl;
	} else if (nlen == 17 && ieq(name, 17, "transfer-encoding")) {
		/* chunked twice is malformed (RFC 9112 6.1); anything else unsupported */
		if (r->chunked)
			return 400;
		if (!ieq(v, n, "chunked"))
			return 501;
		r->chunked = 1;
	} else if (nlen == 10 && ieq(name, 10, "connection")) {
		for (; v < end; v = te + 1) {
			for (te = v; te < end && *te != ','; te++)
				;
			for (t = te; t > v && (t[-1] == ' ' || t[-1] == '\t'); t--)
				;
			while (v < t && (*v == ' ' || *v == '\t'))
				v++;
			if (ieq(v, (size_t)(t - v), "close"))
				*conn |= CONN_CLOSE;
			else if (ieq(v, (size_t)(t - v), "keep-alive"))
				*conn |= CONN_KEEP;
		}
	} else if (nlen == 6 && ieq(name, 6, "expect") && ieq(v, n, "100-continue"))
		r->expect_continue = 1;
	else if ((nlen == 13 && ieq(name, 13, "authorization")) ||
	    (nlen == 9 && ieq(name, 9, "x-api-key"))) {
		/* a credential twice: a proxy in front may have checked the other one */
		for (i = 0; i + 1 < r->nheaders; i++)
			if (strncasecmp(r->headers[i].name, name, nlen + 1) == 0)
				return 400;
	}
	return 0;
}

/*
 * The header lines from p up to the blank line that ends the head, which the
 * caller has already found: every line here ends in LF, so the scans below
 * stop at it without a bound.
 */
static int
headers(struct http1_request *r, char *p)
{
	char *q, *v, *e, *ve;
	int conn = 0, rc;

	while (*p != '\n' && !(*p == '\r' && p[1] == '\n')) {
		for (q = p; tchar[(unsigned char)*q]; q++)
			;
		/* also a line starting with a blank: obsolete folding */
		if (q == p || *q != ':')
			return 400;
		if (r->nheaders == HTTP1_MAX_HEADERS)
			return 431;
		for (v = q + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (e = v; *e != '\n'; e++)
			if (ctl((unsigned char)*e) && !(*e == '\r' && e[1] == '\n'))
				return 400;
		for (ve = e; ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		*q = *ve = '\0';
		r->headers[r->nheaders].name = p;
		r->headers[r->nheaders++].value = v;
		if ((rc = known_header(r, p, (size_t)(q - p), v, (size_t)(ve - v), &conn)) != 0)
			return rc;
		p = e + 1;
	}
	if (r->chunked && (r->content_length >= 0 || r->minor == 0))
		return 400;	/* RFC 9112 6.1: framing a proxy may read differently */
	if (r->minor == 1)
		r->keep_alive = !(conn & CONN_CLOSE);
	else
		r->keep_alive = conn == CONN_KEEP;
	return 0;
}

int
http1_parse_head(char *buf, size_t len, struct http1_request *r, int *status)
{
	char *lim = buf + (len < HTTP1_MAX_HEAD ? len : HTTP1_MAX_HEAD);
	char *p = buf, *start, *eol, *nl;

	/*
	 * Find the blank line first, with memchr: the parse writes into buf,
	 * so it runs once, on a complete head, and the calls made while a slow
	 * head trickles in stay cheap.
	 */
	while (p < lim && (*p == '\n' || (*p == '\r' && p + 1 < lim && p[1] == '\n')))
		p += *p == '\r' ? 2 : 1;
	start = p;
	if ((eol = memchr(start, '\n', (size_t)(lim - start))) == NULL) {
		if (lim - start > REQLINE_MAX) {
			*status = 414;
			return -1;
		}
		goto more;
	}
	for (p = eol + 1;; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(lim - p))) == NULL)
			goto more;
		if (nl == p || (nl == p + 1 && *p == '\r'))
			break;
	}

	r->path = r->query = NULL;
	r->nheaders = 0;
	r->content_length = -1;
	r->chunked = r->keep_alive = r->expect_continue = 0;
	if (eol > start && eol[-1] == '\r')
		eol--;
	if ((*status = request_line(r, start, eol)) != 0 ||
	    (*status = headers(r, eol + (*eol == '\r' ? 2 : 1))) != 0)
		return -1;
	return (int)(nl + 1 - buf);
more:
	if (len >= HTTP1_MAX_HEAD) {
		*status = 431;
		return -1;
	}
	return 0;
}

const char *
http1_header(const struct http1_request *r, const char *name)
{
	const char *a, *b;
	size_t i;

	for (i = 0; i < r->nheaders; i++) {
		for (a = r->headers[i].name, b = name;
		    *a != '\0' && lower((unsigned char)*a) == lower((unsigned char)*b); a++, b++)
			;
		if (lower((unsigned char)*a) == lower((unsigned char)*b))
			return r->headers[i].value;
	}
	return NULL;
}

const char *
http1_method_name(enum http1_method m)
{
	if (m < HTTP1_GET || m > HTTP1_PATCH)
		return "UNKNOWN";
	return method_names[m];
}

/* A chunk-size line p[0..le), extensions and all. */
static int
size_line(struct http1_chunked *d, const char *p, const char *le)
{
	const char *q;
	uint64_t v = 0;
	int x;

	for (q = p; q < le && (x = hexval((unsigned char)*q)) >= 0; q++) {
		if (q - p == 16)
			return -1;
		v = v << 4 | (uint64_t)x;
	}
	if (q == p || v > CHUNK_SIZE_MAX)
		return -1;
	while (q < le && (*q == ' ' || *q == '\t'))
		q++;
	if (q < le && *q != ';')
		return -1;
	for (; q < le; q++)
		if (ctl((unsigned char)*q))
			return -1;	/* a bare CR among the extensions, which are ignored */
	d->left = v;
	d->state = v ? CH_DATA : CH_TRAILER;
	return 0;
}

/*
 * The caller's side of the contract, d zeroed before the first call:
 *
 *	rc = http1_dechunk(d, buf, len, &used, &produced);
 *	buf[0..produced)	body bytes, to be taken now (produced <= used)
 *	buf[produced..used)	spent, may be overwritten
 *	buf[used..len)		not consumed: the start of the next call's input,
 *				with the bytes received since after them
 *
 * Unconsumed bytes on 0 are a partial chunk-size or trailer line, or the CR
 * ending a chunk's data whose LF has not come; never more than
 * CHUNK_LINE_MAX bytes, so the caller's carry-over stays small.  On 1 they
 * are whatever followed the body (a pipelined request); later calls return 1
 * and consume nothing.  On -1 the body is malformed and the connection should
 * be closed after a 400.
 */
int
http1_dechunk(struct http1_chunked *d, char *buf, size_t len, size_t *used, size_t *produced)
{
	char *p = buf, *end = buf + len, *nl, *le;
	size_t n, o = 0;
	int rc;

	while (p < end && d->state != CH_DONE) {
		if (d->state == CH_DATA) {
			n = (uint64_t)(end - p) < d->left ? (size_t)(end - p) : (size_t)d->left;
			memmove(buf + o, p, n);
			o += n;
			p += n;
			if ((d->left -= n) == 0)
				d->state = CH_DATA_END;
			continue;
		}
		if (d->state == CH_DATA_END) {
			if (*p == '\r' && p + 1 == end)
				break;	/* its LF is still to come */
			if (*p == '\r' && p[1] == '\n')
				p++;
			else if (*p != '\n')
				goto bad;
			p++;
			d->state = CH_SIZE;
			continue;
		}
		/* size and trailer lines are read whole: a partial one waits */
		n = (size_t)(end - p) < CHUNK_LINE_MAX ? (size_t)(end - p) : CHUNK_LINE_MAX;
		if ((nl = memchr(p, '\n', n)) == NULL) {
			if (n == CHUNK_LINE_MAX)
				goto bad;
			break;
		}
		le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		if (d->state == CH_SIZE) {
			if (size_line(d, p, le) < 0)
				goto bad;
		} else if (le == p)
			d->state = CH_DONE;
		else if ((d->left += (uint64_t)(nl + 1 - p)) > HTTP1_MAX_HEAD)
			goto bad;	/* trailers are ignored, but not without end */
		p = nl + 1;
	}
	rc = d->state == CH_DONE;
done:
	*used = (size_t)(p - buf);
	*produced = o;
	return rc;
bad:
	rc = -1;
	goto done;
}

/* Decodes [v, end) into out: 0, or -1 when it did not fit or held a NUL byte. */
static int
unescape(const char *v, const char *end, char *out, size_t outlen)
{
	size_t o = 0;
	int hi, lo, rc = 0;

	if (outlen == 0)
		return -1;
	while (v < end && o + 1 < outlen) {
		if (*v == '+') {
			out[o++] = ' ';
			v++;
		} else if (*v == '%' && end - v >= 3 && (hi = hexval((unsigned char)v[1])) >= 0 &&
		    (lo = hexval((unsigned char)v[2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			if (out[o - 1] == '\0')
				rc = -1;
			v += 3;
		} else
			out[o++] = *v++;
	}
	out[o] = '\0';
	return v < end ? -1 : rc;
}

/*
 * Finds the next parameter called name from *p on and moves *p past it: 1,
 * its value decoded into out (*bad set when unescape() refused it), or 0.
 */
static int
query_find(const char **p, const char *name, char *out, size_t outlen, int *bad)
{
	size_t nlen = strlen(name);
	const char *end, *eq;

	while (*p != NULL) {
		const char *at = *p;

		for (end = at; *end != '\0' && *end != '&'; end++)
			;
		*p = *end ? end + 1 : NULL;
		eq = memchr(at, '=', (size_t)(end - at));
		if ((size_t)((eq ? eq : end) - at) == nlen && memcmp(at, name, nlen) == 0) {
			*bad = unescape(eq ? eq + 1 : end, end, out, outlen) < 0;
			return 1;
		}
	}
	return 0;
}

int
http1_query_param(const char *query, const char *name, char *out, size_t outlen)
{
	int bad;

	return query_find(&query, name, out, outlen, &bad);
}

int
http1_query_param_one(const char *query, const char *name, char *out, size_t outlen)
{
	char other[1];
	int bad, ignored;

	if (!query_find(&query, name, out, outlen, &bad))
		return 0;
	if (query_find(&query, name, other, sizeof(other), &ignored))
		return HTTP1_QUERY_REPEATED;
	return bad ? HTTP1_QUERY_BAD_VALUE : 1;
}

const char *
http1_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}
