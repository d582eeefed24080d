/*
 * libFuzzer target: request heads, the chunked body after them and the query
 * string, on arbitrary bytes.  Besides no crash and no undefined behaviour: a
 * parsed head's pointers stay inside it, an incomplete head is left as it was,
 * and a chunked body decodes the same whole or cut in two.
 */
#include <stdlib.h>
#include <string.h>

#include "http1.h"

/* Whether s is a NUL-terminated string inside [lo, hi). */
static int
inside(const char *s, const char *lo, const char *hi)
{
	return s != NULL && s >= lo && s < hi && memchr(s, '\0', (size_t)(hi - s)) != NULL;
}

static void
check_head(const struct http1_request *r, const char *buf, int n, size_t size)
{
	const char *end = buf + n;
	size_t i;

	if ((size_t)n > size || n > HTTP1_MAX_HEAD)
		abort();
	if (!inside(r->path, buf, end) || (r->query && !inside(r->query, buf, end)))
		abort();
	if (r->nheaders > HTTP1_MAX_HEADERS || r->method < HTTP1_GET || r->method > HTTP1_PATCH)
		abort();
	if ((r->minor != 0 && r->minor != 1) || r->content_length < -1 ||
	    (r->chunked && r->content_length >= 0) || (unsigned)r->keep_alive > 1)
		abort();
	for (i = 0; i < r->nheaders; i++) {
		if (!inside(r->headers[i].name, buf, end) || !inside(r->headers[i].value, buf, end) ||
		    r->headers[i].name[0] == '\0' || http1_header(r, r->headers[i].name) == NULL)
			abort();
	}
}

/*
 * Decodes body[0..n) as a connection would, in calls of cut then n - cut
 * bytes.  Returns the last result; the body goes to out, the bytes taken
 * to *taken.
 */
static int
dechunk(const uint8_t *body, size_t n, size_t cut, char *out, size_t *outlen, size_t *taken)
{
	struct http1_chunked d;
	char *b = malloc(n ? n : 1);
	size_t used, produced, keep;
	int rc;

	memset(&d, 0, sizeof(d));
	memcpy(b, body, cut);
	rc = http1_dechunk(&d, b, cut, &used, &produced);
	if (produced > used || used > cut)
		abort();
	memcpy(out, b, produced);
	*outlen = produced;
	*taken = used;
	if (rc == 0) {
		keep = cut - used;
		memmove(b, b + used, keep);
		memcpy(b + keep, body + cut, n - cut);
		rc = http1_dechunk(&d, b, keep + n - cut, &used, &produced);
		if (produced > used || used > keep + n - cut)
			abort();
		memcpy(out + *outlen, b, produced);
		*outlen += produced;
		*taken += used;
	}
	free(b);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_request r;
	char *buf, *whole, *parts, val[8];
	size_t at, n, cut, wlen, plen, wtaken, ptaken;
	int rc, status = 0, wrc, prc;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	rc = http1_parse_head(buf, size, &r, &status);
	if (rc > 0) {
		check_head(&r, buf, rc, size);
		if (r.query && http1_query_param(r.query, r.nheaders ? r.headers[0].name : "a", val,
		    sizeof(val)) == 1 && strlen(val) >= sizeof(val))
			abort();
	} else if (rc == 0) {
		if (size >= HTTP1_MAX_HEAD || memcmp(buf, data, size) != 0)
			abort();
	} else if (status != 400 && status != 414 && status != 431 && status != 501 && status != 505)
		abort();
	free(buf);

	/* the bytes after a head, or all of them, as a chunked body */
	at = rc > 0 ? (size_t)rc : 0;
	n = size - at;
	cut = n ? (data[size - 1] * 131u + size) % (n + 1) : 0;
	whole = malloc(n + 1);
	parts = malloc(n + 1);
	wrc = dechunk(data + at, n, n, whole, &wlen, &wtaken);
	prc = dechunk(data + at, n, cut, parts, &plen, &ptaken);
	if (wrc != prc || (wrc >= 0 && (wlen != plen || wtaken != ptaken ||
	    memcmp(whole, parts, wlen) != 0)) || wlen > n)
		abort();
	free(whole);
	free(parts);
	return 0;
}
