/*
 * Google's side of the mock: the OAuth token endpoint a service account's
 * JWT is exchanged at (POST /token), the bearer tokens it issues, and Vertex
 * AI's model paths.  The endpoint checks the form and the JWT's header and
 * claims itself, by its own reading of RFC 7523 and Google's rules; the
 * signature is for the test to verify with the account's public key
 * (GET /mock/token gives the last assertion).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "mockprovider.h"

#define ISSUED_MAX	64
#define GRANT		"urn:ietf:params:oauth:grant-type:jwt-bearer"
#define SCOPE		"https://www.googleapis.com/auth/cloud-platform"

static struct {
	unsigned long	 exchanges;		/* POSTs to /token, refused ones too */
	unsigned long	 issued;		/* tokens given */
	time_t		 expiry[ISSUED_MAX];	/* of token n, at [n % ISSUED_MAX] */
	int		 status;		/* answer this instead (POST /mock/token), or 0 */
	long		 expires_in;		/* the lifetime given */
	struct buf	 assertion;		/* the last one received */
	char		 verdict[256];		/* and what was wrong with it, or "ok" */
} tok = { .expires_in = 3600 };

/* Decodes %XX and '+' of a form value in place; its new length. */
static size_t
form_decode(char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned v;

		if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%2x", &v) == 1) {
			s[o++] = (char)v;
			i += 2;
		} else
			s[o++] = s[i] == '+' ? ' ' : s[i];
	}
	s[o] = '\0';
	return o;
}

/* The value of field name in a form body, decoded, into out; 0, or -1 when absent. */
static int
form_field(const char *body, size_t len, const char *name, struct buf *out)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t n = (size_t)((amp ? amp : end) - p);

		if (n > nl && p[nl] == '=' && memcmp(p, name, nl) == 0) {
			out->len = 0;
			if (buf_append(out, p + nl + 1, n - nl - 1) < 0)
				return -1;
			out->len = form_decode(out->data, out->len);
			return 0;
		}
		p += n + 1;
	}
	return -1;
}

/* Decodes one base64url part of a JWT into a JSON object, or NULL. */
static json_t *
jwt_part(const char *s, size_t n)
{
	char in[4096];
	unsigned char raw[3072];
	size_t i, m = n;
	int len;

	if (n == 0 || n + 4 >= sizeof(in))
		return NULL;
	for (i = 0; i < n; i++)
		in[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (m % 4)
		in[m++] = '=';
	if ((len = EVP_DecodeBlock(raw, (unsigned char *)in, (int)m)) < 0)
		return NULL;
	len -= (int)(m - n);	/* EVP_DecodeBlock counts the padding as zero bytes */
	return json_loadb((char *)raw, (size_t)len, 0, NULL);
}

static const char *
claim(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* What is wrong with assertion a (NULL: nothing), by Google's rules for a service account's. */
static const char *
judge_assertion(const char *a)
{
	const char *dot1 = strchr(a, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	json_t *h, *c;
	const char *why = NULL;
	json_int_t iat, exp;
	time_t now = time(NULL);

	if (dot2 == NULL || strchr(dot2 + 1, '.') || dot2[1] == '\0')
		return "the assertion is not a signed JWT (three dot-separated parts)";
	h = jwt_part(a, (size_t)(dot1 - a));
	c = jwt_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	iat = json_integer_value(json_object_get(c, "iat"));
	exp = json_integer_value(json_object_get(c, "exp"));
	if (h == NULL || c == NULL)
		why = "the JWT's header or claims are not base64url JSON";
	else if (claim(h, "alg") == NULL || strcmp(claim(h, "alg"), "RS256") != 0)
		why = "the JWT's alg must be RS256";
	else if (claim(h, "typ") != NULL && strcmp(claim(h, "typ"), "JWT") != 0)
		why = "the JWT's typ must be JWT";
	else if (claim(c, "iss") == NULL || strchr(claim(c, "iss"), '@') == NULL)
		why = "iss must be the service account's email";
	else if (claim(c, "scope") == NULL || strstr(claim(c, "scope"), SCOPE) == NULL)
		why = "scope must include " SCOPE;
	else if (claim(c, "aud") == NULL || strstr(claim(c, "aud"), "/token") == NULL)
		why = "aud must be the token endpoint";
	else if (!json_is_integer(json_object_get(c, "iat")) ||
	    !json_is_integer(json_object_get(c, "exp")))
		why = "iat and exp must be integers";
	else if (exp <= iat || exp - iat > 3600)
		why = "exp must be after iat, by an hour at most";
	else if (iat > now + 300 || exp < now)
		why = "the JWT is not valid now (iat in the future, or expired)";
	json_decref(h);
	json_decref(c);
	return why;
}

int
mock_token_exchange(const char *body, size_t len, struct buf *b)
{
	struct buf grant = { 0 };
	const char *why = NULL;
	unsigned long n;
	int status = 200;

	tok.exchanges++;
	tok.assertion.len = 0;
	if (form_field(body ? body : "", len, "grant_type", &grant) < 0 ||
	    strcmp(grant.data, GRANT) != 0)
		why = "grant_type must be " GRANT;
	else if (form_field(body, len, "assertion", &tok.assertion) < 0)
		why = "no assertion";
	else
		why = judge_assertion(tok.assertion.data);
	buf_release(&grant);
	snprintf(tok.verdict, sizeof(tok.verdict), "%s", why ? why : "ok");
	if (why != NULL)
		return buf_printf(b, "{\"error\":\"invalid_grant\",\"error_description\":\"%s\"}",
		    why) < 0 ? -1 : 400;
	if (tok.status)
		return buf_printf(b, "{\"error\":\"%s\",\"error_description\":\"mockprovider was "
		    "asked for this status (POST /mock/token)\"}", tok.status == 401 ?
		    "invalid_client" : "temporarily_unavailable") < 0 ? -1 : tok.status;
	n = ++tok.issued;
	tok.expiry[n % ISSUED_MAX] = time(NULL) + tok.expires_in;
	return buf_printf(b, "{\"access_token\":\"ya29.mock-%lu\",\"expires_in\":%ld,"
	    "\"token_type\":\"Bearer\"}", n, tok.expires_in) < 0 ? -1 : status;
}

int
mock_token_valid(const char *authorization)
{
	unsigned long n;
	char end;

	if (authorization == NULL ||
	    sscanf(authorization, "Bearer ya29.mock-%lu%c", &n, &end) != 1)
		return 0;
	return n > 0 && n <= tok.issued && tok.issued - n < ISSUED_MAX &&
	    time(NULL) < tok.expiry[n % ISSUED_MAX];
}

int
mock_token_stats(struct buf *b)
{
	int r = buf_printf(b, "{\"exchanges\":%lu,\"issued\":%lu,\"verdict\":\"%s\",\"assertion\":\"",
	    tok.exchanges, tok.issued, tok.verdict);

	r |= mock_json_escape(b, tok.assertion.data ? tok.assertion.data : "", tok.assertion.len);
	return r | buf_append(b, "\"}", 2);
}

int
mock_token_configure(const char *body, size_t len, char *err, size_t errlen)
{
	json_t *o = json_loadb(body ? body : "", len, 0, NULL);
	json_t *s = json_object_get(o, "status"), *e = json_object_get(o, "expires_in");
	int rc = -1;

	if (!json_is_object(o))
		snprintf(err, errlen, "POST /mock/token takes {\"status\": N, \"expires_in\": S}");
	else if ((s && (!json_is_integer(s) || (json_integer_value(s) != 0 &&
	    (json_integer_value(s) < 400 || json_integer_value(s) > 599)))) ||
	    (e && (!json_is_integer(e) || json_integer_value(e) < 1)))
		snprintf(err, errlen, "status: 0 or 400..599; expires_in: seconds, at least 1");
	else {
		if (s)
			tok.status = (int)json_integer_value(s);
		if (e)
			tok.expires_in = (long)json_integer_value(e);
		if (json_is_true(json_object_get(o, "reset")))
			tok.exchanges = 0;
		rc = 0;
	}
	json_decref(o);
	return rc;
}

int
mock_vertex_path(const char *uri, struct mock_call *c)
{
	static const struct {
		const char	*publisher, *method;
		enum mock_shape	 shape;
		int		 stream;
	} methods[] = {
		{ "google", "generateContent", MOCK_GEMINI, 0 },
		{ "google", "streamGenerateContent", MOCK_GEMINI, 1 },
		{ "anthropic", "rawPredict", MOCK_MESSAGES, 0 },
		{ "anthropic", "streamRawPredict", MOCK_MESSAGES, 1 },
	};
	char project[128], location[64], publisher[32], model[MOCK_MODEL_MAX], method[32];
	size_t i;
	int n = 0;

	/* /v1/projects/P/locations/L/publishers/X/models/M:method[?query] */
	if (sscanf(uri, "/v1/projects/%127[^/]/locations/%63[^/]/publishers/%31[^/]/models/"
	    "%255[^:/\"\\]:%31[A-Za-z]%n", project, location, publisher, model, method, &n) != 5 ||
	    (uri[n] != '\0' && uri[n] != '?'))
		return -1;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(publisher, methods[i].publisher) == 0 &&
		    strcmp(method, methods[i].method) == 0) {
			c->shape = methods[i].shape;
			c->stream = methods[i].stream;
			c->host = MOCK_HOST_VERTEX;
			c->model_len = strlen(model);
			memcpy(c->model, model, c->model_len);
			return 0;
		}
	return -1;
}
