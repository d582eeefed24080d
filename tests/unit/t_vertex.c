/*
 * Vertex AI: the service-account key read, the JWT that asks for a token
 * (its signature checked with the key's public half, its claims decoded
 * here), the token endpoint's answers, and the routes a Vertex deployment
 * gets (URLs per location and publisher, the account shared, the reasons a
 * deployment is left out, none of them quoting the key).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "provider/gauth.h"
#include "route.h"
#include "tap.h"

static EVP_PKEY *key;
static char pem[4096];

/* A service-account key as Google issues it (type, project, key id, PEM, email, token_uri). */
static char *
key_json(const char *type, const char *private_key)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "project_id", "key-project",
	    "private_key_id", "kid-123", "private_key", private_key, "client_email",
	    "tg@key-project.iam.gserviceaccount.com", "token_uri", "https://oauth2.example/token");
	char *s = json_dumps(o, 0);

	json_decref(o);
	return s;
}

static json_t *
b64url_json(const char *s, size_t n)
{
	char in[2048];
	unsigned char out[2048];
	size_t i, m = n;
	int len;

	for (i = 0; i < n && i < sizeof(in) - 4; i++)
		in[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (m % 4)
		in[m++] = '=';
	len = EVP_DecodeBlock(out, (unsigned char *)in, (int)m) - (int)(m - n);
	return json_loadb((char *)out, len > 0 ? (size_t)len : 0, 0, NULL);
}

static size_t
b64url_raw(const char *s, size_t n, unsigned char *out)
{
	char in[2048];
	size_t i, m = n;

	for (i = 0; i < n && i < sizeof(in) - 4; i++)
		in[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (m % 4)
		in[m++] = '=';
	return (size_t)EVP_DecodeBlock(out, (unsigned char *)in, (int)m) - (m - n);
}

static void
check_key_and_assertion(void)
{
	struct gauth_account a;
	struct buf body = { 0 };
	char err[512], *text = key_json("service_account", pem);
	const char *jwt, *d1, *d2;
	unsigned char sig[1024];
	size_t siglen;
	json_t *h, *c;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	time_t now = 1760000000;

	ok(gauth_load(text, &a, err, sizeof(err)) == 0 && strcmp(a.email,
	    "tg@key-project.iam.gserviceaccount.com") == 0 && strcmp(a.key_id, "kid-123") == 0 &&
	    strcmp(a.token_uri, "https://oauth2.example/token") == 0 &&
	    strcmp(a.project_id, "key-project") == 0, "a service-account key, as JSON text: %s", err);
	ok(gauth_exchange_body(&a, now, &body) == 0 && strncmp(body.data,
	    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=", 75) == 0,
	    "the jwt-bearer grant, form-encoded");
	jwt = body.data ? body.data + 75 : "";
	d1 = strchr(jwt, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!ok(d1 && d2 && strchr(d2 + 1, '.') == NULL && strspn(jwt, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_.") == strlen(jwt), "  a JWT: three base64url parts"))
		goto out;
	h = b64url_json(jwt, (size_t)(d1 - jwt));
	c = b64url_json(d1 + 1, (size_t)(d2 - d1 - 1));
	ok(h && strcmp(json_string_value(json_object_get(h, "alg")), "RS256") == 0 &&
	    strcmp(json_string_value(json_object_get(h, "typ")), "JWT") == 0 &&
	    strcmp(json_string_value(json_object_get(h, "kid")), "kid-123") == 0,
	    "  header: RS256, JWT, the key's id");
	ok(c && strcmp(json_string_value(json_object_get(c, "iss")),
	    "tg@key-project.iam.gserviceaccount.com") == 0 &&
	    strcmp(json_string_value(json_object_get(c, "aud")), "https://oauth2.example/token") == 0 &&
	    strcmp(json_string_value(json_object_get(c, "scope")),
	    "https://www.googleapis.com/auth/cloud-platform") == 0 &&
	    json_integer_value(json_object_get(c, "iat")) == now &&
	    json_integer_value(json_object_get(c, "exp")) == now + 3600,
	    "  claims: the account, the token endpoint, cloud-platform, an hour from now");
	json_decref(h);
	json_decref(c);
	siglen = b64url_raw(d2 + 1, strlen(d2 + 1), sig);
	ok(siglen == 256 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1,
	    "  signed RS256 over header.claims: the public key verifies it");
	/* a flipped byte of the claims no longer verifies: the check above is a check */
	body.data[75 + (d1 - jwt) + 3] ^= 1;
	EVP_MD_CTX_reset(md);
	ok(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt, (size_t)(d2 - jwt)) != 1,
	    "  (and a changed claim does not)");
out:
	EVP_MD_CTX_free(md);
	buf_release(&body);
	gauth_release(&a);
	free(text);
}

static void
check_bad_keys(const char *dir)
{
	struct gauth_account a;
	char err[512], path[512], *text;

	snprintf(path, sizeof(path), "%s/missing.json", dir);
	ok(gauth_load(path, &a, err, sizeof(err)) < 0 && strstr(err, path) &&
	    strstr(err, "No such file"), "a missing key file: named, with why: %s", err);
	text = key_json("authorized_user", pem);
	ok(gauth_load(text, &a, err, sizeof(err)) < 0 && strstr(err, "authorized_user") &&
	    strstr(err, "service_account"), "another kind of credential: named: %s", err);
	free(text);
	text = key_json("service_account", "-----BEGIN PRIVATE KEY-----\nnot a key\n"
	    "-----END PRIVATE KEY-----\n");
	ok(gauth_load(text, &a, err, sizeof(err)) < 0 && strstr(err, "private_key") &&
	    strstr(err, "not a key") == NULL, "a key that is not one: the field named, never its text: %s",
	    err);
	free(text);
	ok(gauth_load("{\"type\": \"service_account\", \"private_key\": 1", &a, err, sizeof(err)) < 0 &&
	    strstr(err, "line 1") && strstr(err, "private_key\": 1") == NULL,
	    "JSON cut short: where, not what: %s", err);
}

static void
check_token_answers(void)
{
	char tok[GAUTH_TOKEN_MAX], err[512];
	int64_t life = 0;
	const char *ok200 = "{\"access_token\": \"ya29.abc\", \"expires_in\": 3599, \"token_type\": "
	    "\"Bearer\"}";
	const char *bad = "{\"error\": \"invalid_grant\", \"error_description\": \"Invalid JWT "
	    "Signature.\"}";

	ok(gauth_parse_token(200, ok200, strlen(ok200), tok, sizeof(tok), &life, err, sizeof(err)) ==
	    0 && strcmp(tok, "ya29.abc") == 0 && life == 3599, "a token and its lifetime");
	ok(gauth_parse_token(400, bad, strlen(bad), tok, sizeof(tok), &life, err, sizeof(err)) < 0 &&
	    strcmp(err, "HTTP 400: invalid_grant: Invalid JWT Signature.") == 0,
	    "Google's refusal, in its words: %s", err);
	ok(gauth_parse_token(503, "<html>", 6, tok, sizeof(tok), &life, err, sizeof(err)) < 0 &&
	    strcmp(err, "HTTP 503") == 0, "a refusal that is not JSON: the status: %s", err);
	ok(gauth_parse_token(200, "{}", 2, tok, sizeof(tok), &life, err, sizeof(err)) < 0 &&
	    strstr(err, "access_token"), "200 without a token: %s", err);
	ok(gauth_parse_token(200, "{\"access_token\": \"a\\r\\nX-Evil: 1\"}", 33, tok, sizeof(tok), &life,
	    err, sizeof(err)) < 0, "a token that would break the header line is refused");
	ok(gauth_parse_token(200, "{\"access_token\": \"t\", \"expires_in\": \"60\"}", 41, tok,
	    sizeof(tok), &life, err, sizeof(err)) < 0 && strstr(err, "expires_in"),
	    "expires_in that is not a number: %s", err);
	ok(gauth_parse_token(200, "{\"access_token\": \"t\"}", 21, tok, sizeof(tok), &life, err,
	    sizeof(err)) == 0 && life == 3600, "no expires_in: an hour");
}

static void
check_routes(const char *dir)
{
	char path[512], keyfile[512], url[1024], err[512], *text = key_json("service_account", pem);
	struct config *c = NULL;
	struct routes *r = NULL;
	struct route_model *m;
	FILE *f;

	snprintf(keyfile, sizeof(keyfile), "%s/key.json", dir);
	snprintf(path, sizeof(path), "%s/vertex.yaml", dir);
	f = fopen(keyfile, "w");
	fputs(text, f);
	fclose(f);
	setenv("TG_TEST_VERTEX_JSON", text, 1);
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("VERTEXAI_CREDENTIALS");
	unsetenv("VERTEXAI_PROJECT");
	unsetenv("VERTEXAI_LOCATION");
	f = fopen(path, "w");
	fprintf(f, "model_list:\n"
	    "  - model_name: gem\n    litellm_params: {model: vertex_ai/gemini-2.5-pro, vertex_project: p-1,\n"
	    "      vertex_location: global, vertex_credentials: %s, api_key: ignored}\n"
	    "  - model_name: claude\n    litellm_params: {model: vertex_ai/claude-sonnet-4-5@20250929,\n"
	    "      vertex_location: europe-west4, vertex_credentials: os.environ/TG_TEST_VERTEX_JSON}\n"
	    "  - model_name: nokey\n    litellm_params: {model: vertex_ai/gemini-2.5-flash, vertex_project: p}\n"
	    "  - model_name: where\n    litellm_params: {model: vertex_ai/gemini-2.5-flash,\n"
	    "      vertex_location: 'us central', vertex_credentials: %s}\n"
	    "  - model_name: llama\n    litellm_params: {model: vertex_ai/meta/llama-3.1-405b,\n"
	    "      vertex_credentials: %s}\n", keyfile, keyfile, keyfile);
	fclose(f);
	if (!ok(config_load(path, &c, err, sizeof(err)) == 0 && routes_build(c, &r, err, sizeof(err)) == 0,
	    "a config of Vertex AI deployments loads: %s", err))
		goto out;
	m = routes_find(r, "gem", 3);
	ok(m && m->ndeps == 1 && r->deps[m->deps[0]].dialect == &dialect_vertex_gemini &&
	    route_plan(&r->deps[m->deps[0]], endpoint_get(ENDPOINT_CHAT)) == ROUTE_TRANSLATE,
	    "gemini on Vertex: Gemini's format, every client translated");
	ok(m && m->ndeps == 1 && route_url(&r->deps[m->deps[0]], endpoint_of_api(XLATE_GEMINI), 0, url,
	    sizeof(url)) == 0 && strcmp(url, "https://aiplatform.googleapis.com/v1/projects/p-1/"
	    "locations/global/publishers/google/models/gemini-2.5-pro:generateContent") == 0,
	    "  the global location: aiplatform.googleapis.com: %s", url);
	ok(m && r->deps[m->deps[0]].auth[0] == '\0', "  no api_key header: the token is the bearer");
	m = routes_find(r, "claude", 6);
	ok(m && m->ndeps == 1 && r->deps[m->deps[0]].dialect == &dialect_vertex_anthropic &&
	    route_plan(&r->deps[m->deps[0]], endpoint_get(ENDPOINT_MESSAGES)) == ROUTE_NATIVE &&
	    r->deps[m->deps[0]].shape == USAGE_SHAPE_ANTHROPIC,
	    "claude on Vertex: Anthropic's format, a Messages client relayed, Anthropic's usage");
	ok(m && m->ndeps == 1 && route_url(&r->deps[m->deps[0]], endpoint_get(ENDPOINT_MESSAGES), 1, url,
	    sizeof(url)) == 0 && strcmp(url, "https://europe-west4-aiplatform.googleapis.com/v1/projects/"
	    "key-project/locations/europe-west4/publishers/anthropic/models/"
	    "claude-sonnet-4-5@20250929:streamRawPredict") == 0,
	    "  a regional host, the key's project, streamRawPredict: %s", url);
	ok(r->naccounts == 1 && m && r->deps[m->deps[0]].gcp.account == 0 &&
	    r->deps[routes_find(r, "gem", 3)->deps[0]].gcp.account == 0,
	    "the key as a file and as JSON text: one account, one token");
	m = routes_find(r, "nokey", 5);
	ok(m && m->ndeps == 0 && strstr(m->why, "vertex_credentials") &&
	    strstr(m->why, "GOOGLE_APPLICATION_CREDENTIALS"), "no key: left out, saying what to give: %s",
	    m ? m->why : "");
	m = routes_find(r, "where", 5);
	ok(m && m->ndeps == 0 && strstr(m->why, "vertex_location 'us central'"),
	    "a location that is not one: %s", m ? m->why : "");
	m = routes_find(r, "llama", 5);
	ok(m && m->ndeps == 0 && strstr(m->why, "neither Gemini nor Claude"),
	    "another publisher's model: left out, saying so: %s", m ? m->why : "");
	ok(r->warnings && strstr(r->warnings, "PRIVATE KEY") == NULL && strstr(r->warnings, pem + 40) ==
	    NULL, "no warning quotes the key");
out:
	routes_free(r);
	config_free(c);
	unlink(keyfile);
	unlink(path);
	free(text);
}

static void
check_cloud_body(void)
{
	struct buf b = { 0 };

	buf_append(&b, "{\"model\":\"m\",\"max_tokens\":5,\"stream\":true,\"messages\":[]}", 56);
	ok(anthropic_cloud_body(&b, "vertex-2023-10-16", 1) == 0 && strcmp(b.data,
	    "{\"max_tokens\":5,\"stream\":true,\"messages\":[],\"anthropic_version\":\"vertex-2023-10-16\"}")
	    == 0, "Claude's body on a cloud: no model, the cloud's version: %s", b.data);
	b.len = 0;
	buf_append(&b, "{\"model\":\"m\",\"stream\":true}", 27);
	ok(anthropic_cloud_body(&b, "bedrock-2023-05-31", 0) == 0 && strcmp(b.data,
	    "{\"anthropic_version\":\"bedrock-2023-05-31\"}") == 0, "  and without stream: %s", b.data);
	b.len = 0;
	buf_append(&b, "[1]", 3);
	ok(anthropic_cloud_body(&b, "v", 1) < 0, "  a body that is not an object: refused");
	buf_release(&b);
}

int
main(void)
{
	char dir[] = "/tmp/t_vertex.XXXXXX";
	BIO *bio = BIO_new(BIO_s_mem());
	long n;
	char *p;

	key = EVP_RSA_gen(2048);
	if (key == NULL || bio == NULL || mkdtemp(dir) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &p)) <= 0 || (size_t)n >= sizeof(pem)) {
		printf("Bail out! cannot make a test key\n");
		return 1;
	}
	memcpy(pem, p, (size_t)n);
	BIO_free(bio);
	check_key_and_assertion();
	check_bad_keys(dir);
	check_token_answers();
	check_routes(dir);
	check_cloud_body();
	EVP_PKEY_free(key);
	rmdir(dir);
	return done_testing();
}
