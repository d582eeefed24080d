/*
 * AWS Signature Version 4 (sigv4.h), from AWS's description of it: the
 * canonical request, the string to sign, the key derived by HMAC-SHA256
 * from the date, region and service.  Run by workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "buf.h"
#include "provider/sigv4.h"

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(p, n, md);
	hex(md, sizeof(md), out);
}

static int
hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int n = 32;

	return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out,
	    &n) != NULL ? 0 : -1;
}

int
sigv4_encode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outlen)
				return -1;
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
		}
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return 0;
}

/* host (with a port that is not the scheme's), path and query of url, into its own buffers. */
struct parts {
	char	host[256];
	char	path[2048];
	char	query[2048];
};

static int
split_url(const char *url, struct parts *p)
{
	const char *h, *slash, *q, *colon;
	int https = strncmp(url, "https://", 8) == 0;
	size_t hl;

	if (!https && strncmp(url, "http://", 7) != 0)
		return -1;
	h = url + (https ? 8 : 7);
	slash = h + strcspn(h, "/?");
	hl = (size_t)(slash - h);
	if (hl == 0 || hl >= sizeof(p->host))
		return -1;
	memcpy(p->host, h, hl);
	p->host[hl] = '\0';
	/* curl's Host leaves out the scheme's own port */
	colon = strrchr(p->host, ':');
	if (colon != NULL && strcmp(colon + 1, https ? "443" : "80") == 0)
		p->host[colon - p->host] = '\0';
	if (strlen(slash) >= sizeof(p->path))
		return -1;
	q = strchr(slash, '?');
	if (*slash == '/')
		snprintf(p->path, sizeof(p->path), "%.*s", (int)(q ? (size_t)(q - slash) :
		    strlen(slash)), slash);
	else
		snprintf(p->path, sizeof(p->path), "/");
	snprintf(p->query, sizeof(p->query), "%s", q ? q + 1 : "");
	return 0;
}

/* The path as AWS signs it: each segment of the path as sent, encoded once more. */
static int
canonical_path(const char *path, struct buf *b)
{
	char enc[6144];
	const char *seg = path, *end;

	while (*seg == '/') {
		end = strchr(seg + 1, '/');
		if (end == NULL)
			end = seg + strlen(seg);
		if (sigv4_encode(seg + 1, (size_t)(end - seg - 1), enc, sizeof(enc)) < 0 ||
		    buf_printf(b, "/%s", enc) < 0)
			return -1;
		seg = end;
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The query's pairs sorted (they are sent encoded already). */
static int
canonical_query(const char *query, struct buf *b)
{
	char copy[2048], *pairs[64], *save = NULL, *t;
	size_t n = 0, i;

	snprintf(copy, sizeof(copy), "%s", query);
	for (t = strtok_r(copy, "&", &save); t != NULL && n < 64; t = strtok_r(NULL, "&", &save))
		pairs[n++] = t;
	qsort(pairs, n, sizeof(pairs[0]), cmp_str);
	for (i = 0; i < n; i++)
		if (buf_printf(b, "%s%s%s", i ? "&" : "", pairs[i], strchr(pairs[i], '=') ? "" : "=") < 0)
			return -1;
	return 0;
}

/*
 * The signature's pieces: the date, the signed headers' names, and the
 * Authorization value; 0 or -1.
 */
static int
sign(const struct sigv4_key *k, const char *method, const char *url, const char *content_type,
    const void *body, size_t len, time_t now, char amzdate[17], char *auth, size_t authlen)
{
	struct parts p;
	struct buf creq = { 0 };
	char date[9], payload[65], creq_hash[65], scope[192], sts[512], sig[65], *secret;
	const char *names;
	unsigned char kdate[32], kregion[32], kservice[32], ksigning[32], out[32];
	struct tm tm;
	size_t sl;
	int rc = -1;

	if (split_url(url, &p) < 0 || gmtime_r(&now, &tm) == NULL)
		return -1;
	strftime(amzdate, 17, "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, amzdate, 8);
	date[8] = '\0';
	sha256_hex(body ? body : "", len, payload);
	/* the signed headers, sorted by name */
	names = content_type ? (k->session_token ? "content-type;host;x-amz-date;x-amz-security-token" :
	    "content-type;host;x-amz-date") : (k->session_token ? "host;x-amz-date;x-amz-security-token" :
	    "host;x-amz-date");
	if (buf_printf(&creq, "%s\n", method) < 0 || canonical_path(p.path, &creq) < 0 ||
	    buf_append(&creq, "\n", 1) < 0 || canonical_query(p.query, &creq) < 0 ||
	    buf_append(&creq, "\n", 1) < 0 ||
	    (content_type && buf_printf(&creq, "content-type:%s\n", content_type) < 0) ||
	    buf_printf(&creq, "host:%s\nx-amz-date:%s\n", p.host, amzdate) < 0 ||
	    (k->session_token && buf_printf(&creq, "x-amz-security-token:%s\n", k->session_token) < 0) ||
	    buf_printf(&creq, "\n%s\n%s", names, payload) < 0)
		goto out;
	sha256_hex(creq.data, creq.len, creq_hash);
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, k->region, k->service);
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate, scope, creq_hash);
	sl = strlen(k->secret) + 5;
	if ((secret = malloc(sl)) == NULL)
		goto out;
	snprintf(secret, sl, "AWS4%s", k->secret);
	rc = hmac(secret, sl - 1, date, kdate) | hmac(kdate, 32, k->region, kregion) |
	    hmac(kregion, 32, k->service, kservice) | hmac(kservice, 32, "aws4_request", ksigning) |
	    hmac(ksigning, 32, sts, out);
	OPENSSL_cleanse(secret, sl);
	free(secret);
	OPENSSL_cleanse(ksigning, sizeof(ksigning));
	if (rc < 0)
		goto out;
	hex(out, 32, sig);
	if ((size_t)snprintf(auth, authlen, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
	    "Signature=%s", k->access_key, scope, names, sig) >= authlen)
		rc = -1;
out:
	buf_release(&creq);
	return rc;
}

int
sigv4_authorization(const struct sigv4_key *k, const char *method, const char *url,
    const char *content_type, const void *body, size_t len, time_t now, char *out, size_t outlen)
{
	char amzdate[17];

	return sign(k, method, url, content_type, body, len, now, amzdate, out, outlen);
}

static struct curl_slist *
add(struct curl_slist *l, const char *name, const char *value)
{
	char line[2600];
	struct curl_slist *n;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	if ((n = curl_slist_append(l, line)) == NULL)
		curl_slist_free_all(l);
	return n;
}

struct curl_slist *
sigv4_sign(struct curl_slist *l, const struct sigv4_key *k, const char *method, const char *url,
    const char *content_type, const void *body, size_t len, time_t now)
{
	char amzdate[17], auth[2048];

	if (sign(k, method, url, content_type, body, len, now, amzdate, auth, sizeof(auth)) < 0) {
		curl_slist_free_all(l);
		return NULL;
	}
	if ((l = add(l, "X-Amz-Date", amzdate)) == NULL ||
	    (k->session_token && (l = add(l, "X-Amz-Security-Token", k->session_token)) == NULL))
		return NULL;
	return add(l, "Authorization", auth);
}
