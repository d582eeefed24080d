/*
 * Google service accounts (gauth.h): the key file, the RS256 JWT of the
 * jwt-bearer grant (RFC 7523) as Google's token endpoint takes it, and the
 * endpoint's answer.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "provider/gauth.h"

#define ASSERTION_LIFETIME	3600	/* Google's most */

static char *
dup_field(json_t *o, const char *name)
{
	const char *s = json_string_value(json_object_get(o, name));

	return s != NULL && *s ? strdup(s) : NULL;
}

int
gauth_load(const char *text, struct gauth_account *a, char *err, size_t errlen)
{
	struct buf file = { 0 };
	const char *what = "vertex_credentials (JSON text)";
	json_error_t je;
	json_t *o = NULL;
	const char *type, *pem;
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;

	memset(a, 0, sizeof(*a));
	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	if (*text != '{') {
		what = text;
		if (buf_read_file(&file, text) < 0) {
			snprintf(err, errlen, "%s: cannot read the service-account key: %m", text);
			return -1;
		}
		text = file.data ? file.data : "";
	}
	/* the parser's message gives a place, never the text, which holds the key */
	if ((o = json_loads(text, 0, &je)) == NULL || !json_is_object(o)) {
		snprintf(err, errlen, "%s: not a service-account key (JSON: line %d, column %d)",
		    what, o ? 1 : je.line, o ? 1 : je.column);
		goto fail;
	}
	type = json_string_value(json_object_get(o, "type"));
	if (type == NULL || strcmp(type, "service_account") != 0) {
		snprintf(err, errlen, "%s: \"type\" is %s%s%s, and tollgate takes service-account keys "
		    "(\"service_account\")", what, type ? "\"" : "", type ? type : "missing",
		    type ? "\"" : "");
		goto fail;
	}
	pem = json_string_value(json_object_get(o, "private_key"));
	if ((a->email = dup_field(o, "client_email")) == NULL || pem == NULL) {
		snprintf(err, errlen, "%s: \"%s\" is missing", what, a->email ? "private_key" :
		    "client_email");
		goto fail;
	}
	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL ||
	    EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		snprintf(err, errlen, "%s: \"private_key\" is not an RSA private key in PEM", what);
		goto fail;
	}
	a->key = key;
	key = NULL;
	a->key_id = dup_field(o, "private_key_id");
	a->project_id = dup_field(o, "project_id");
	if ((a->token_uri = dup_field(o, "token_uri")) == NULL)
		a->token_uri = strdup(GAUTH_TOKEN_URI);
	if (a->token_uri == NULL) {
		snprintf(err, errlen, "%s: out of memory", what);
		goto fail;
	}
	BIO_free(bio);
	json_decref(o);
	/* the copy read from the file held the key: wiped, not just freed */
	if (file.data)
		OPENSSL_cleanse(file.data, file.len);
	buf_release(&file);
	return 0;
fail:
	EVP_PKEY_free(key);
	BIO_free(bio);
	json_decref(o);
	if (file.data)
		OPENSSL_cleanse(file.data, file.len);
	buf_release(&file);
	gauth_release(a);
	return -1;
}

void
gauth_release(struct gauth_account *a)
{
	free(a->email);
	free(a->key_id);
	free(a->token_uri);
	free(a->project_id);
	EVP_PKEY_free(a->key);
	memset(a, 0, sizeof(*a));
}

static int
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
gauth_same(const struct gauth_account *a, const struct gauth_account *b)
{
	return same_text(a->email, b->email) && same_text(a->key_id, b->key_id) &&
	    same_text(a->token_uri, b->token_uri);
}

/* Appends n bytes as base64url without padding (RFC 7515's encoding). */
static int
b64url(struct buf *out, const void *p, size_t n)
{
	size_t room = 4 * ((n + 2) / 3) + 1, len, i;
	char *s;

	if (buf_reserve(out, room) < 0)
		return -1;
	s = out->data + out->len;
	len = (size_t)EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	while (len > 0 && s[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++)
		s[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	out->len += len;
	out->data[out->len] = '\0';
	return 0;
}

static int
b64url_json(struct buf *out, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	int rc = s ? b64url(out, s, strlen(s)) : -1;

	free(s);
	json_decref(v);
	return rc;
}

int
gauth_exchange_body(const struct gauth_account *a, time_t now, struct buf *out)
{
	static const char grant[] = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3A"
	    "jwt-bearer&assertion=";
	unsigned char sig[1024];
	size_t siglen = sizeof(sig), signed_from;
	EVP_MD_CTX *md = NULL;
	int rc = -1;

	out->len = 0;
	if (buf_append(out, grant, sizeof(grant) - 1) < 0)
		return -1;
	signed_from = out->len;
	if (b64url_json(out, a->key_id ?
	    json_pack("{s:s,s:s,s:s}", "alg", "RS256", "typ", "JWT", "kid", a->key_id) :
	    json_pack("{s:s,s:s}", "alg", "RS256", "typ", "JWT")) < 0 ||
	    buf_append(out, ".", 1) < 0 ||
	    b64url_json(out, json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", a->email, "scope",
	    GAUTH_SCOPE, "aud", a->token_uri, "iat", (json_int_t)now, "exp",
	    (json_int_t)now + ASSERTION_LIFETIME)) < 0)
		return -1;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, a->key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out->data + signed_from,
	    out->len - signed_from) != 1)
		goto out;
	rc = buf_append(out, ".", 1) < 0 || b64url(out, sig, siglen) < 0 ? -1 : 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

/* Whether s can stand in a header line as it is: visible ASCII only. */
static int
header_safe(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

/* Copies at most n bytes of s, printable ASCII kept, anything else a '?'. */
static void
plain_copy(char *out, size_t outlen, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && s[i] && i + 1 < outlen && i < 200; i++)
		out[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
	if (outlen)
		out[i] = '\0';
}

int
gauth_parse_token(long status, const char *body, size_t len, char *token, size_t toklen,
    int64_t *expires_in, char *err, size_t errlen)
{
	json_t *o = json_loadb(body ? body : "", len, 0, NULL), *v;
	const char *t, *type;
	char e[256], d[256];
	int rc = -1;

	if (status != 200) {
		/* {"error": "invalid_grant", "error_description": "Invalid JWT Signature."} */
		v = json_object_get(o, "error");
		plain_copy(e, sizeof(e), json_is_string(v) ? json_string_value(v) :
		    json_string_value(json_object_get(v, "message")));
		plain_copy(d, sizeof(d), json_string_value(json_object_get(o, "error_description")));
		snprintf(err, errlen, "HTTP %ld%s%s%s%s", status, e[0] ? ": " : "", e,
		    d[0] ? ": " : "", d);
		goto out;
	}
	t = json_string_value(json_object_get(o, "access_token"));
	type = json_string_value(json_object_get(o, "token_type"));
	v = json_object_get(o, "expires_in");
	if (o == NULL || t == NULL || *t == '\0') {
		snprintf(err, errlen, "HTTP 200 without an access_token%s", o ? "" : " (not JSON)");
		goto out;
	}
	if (type != NULL && strcasecmp(type, "bearer") != 0) {
		snprintf(err, errlen, "token_type is not Bearer");
		goto out;
	}
	if (strlen(t) >= toklen || !header_safe(t)) {
		snprintf(err, errlen, "the access_token is longer than %zu bytes or not plain text",
		    toklen - 1);
		goto out;
	}
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) <= 0)) {
		snprintf(err, errlen, "expires_in is not a positive integer");
		goto out;
	}
	memcpy(token, t, strlen(t) + 1);
	*expires_in = v ? (int64_t)json_integer_value(v) : ASSERTION_LIFETIME;
	rc = 0;
out:
	json_decref(o);
	return rc;
}
