/*
 * Google's Vertex AI: Gemini's format (gemini.c translates it) and Claude's
 * (messages.c) at Vertex's URLs, per project and location.  The bearer is a
 * service account's access token, which the worker keeps (worker_token.c);
 * nothing here differs from the two formats' own but the URL, Claude's
 * anthropic_version in the body, and which headers go along.
 */
#include <string.h>

#include "buf.h"
#include "provider/dialect.h"
#include "route.h"

#define VERTEX_ANTHROPIC_VERSION	"vertex-2023-10-16"

/* {base}/v1/projects/P/locations/L/publishers/{publisher}/models/{model}:{method} */
static int
vertex_url(const struct route_deployment *d, const char *publisher, const char *method,
    char *out, size_t outlen)
{
	size_t n = strlen(d->base);
	int w;

	w = snprintf(out, outlen, "%s%s/projects/%s/locations/%s/publishers/%s/models/%s:%s",
	    d->base, n >= 3 && strcmp(d->base + n - 3, "/v1") == 0 ? "" : "/v1", d->gcp.project,
	    d->gcp.location, publisher, d->model, method);
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

static int
gemini_url(const struct route_deployment *d, enum endpoint_id ep, int stream, char *out,
    size_t outlen)
{
	if (ep != ENDPOINT_GEMINI)
		return -1;
	return vertex_url(d, "google", stream ? "streamGenerateContent?alt=sse" : "generateContent",
	    out, outlen);
}

static int
claude_url(const struct route_deployment *d, enum endpoint_id ep, int stream, char *out,
    size_t outlen)
{
	if (ep != ENDPOINT_MESSAGES)
		return -1;
	return vertex_url(d, "anthropic", stream ? "streamRawPredict" : "rawPredict", out, outlen);
}

/* The version goes in the body; a same-format client's betas go along as on Anthropic's API. */
static struct curl_slist *
claude_headers(struct curl_slist *l, dialect_header_fn client, void *arg)
{
	const char *v = client ? client(arg, "anthropic-beta") : NULL;
	char line[1024];

	if (l == NULL || v == NULL)
		return l;
	snprintf(line, sizeof(line), "anthropic-beta: %s", v);
	return curl_slist_append(l, line) ? l : NULL;
}

static int
claude_body(const struct route_deployment *d, int stream, struct buf *b)
{
	(void)d, (void)stream;
	return anthropic_cloud_body(b, VERTEX_ANTHROPIC_VERSION, 1);
}

const struct dialect dialect_vertex_gemini = {
	.name = "vertex_ai",
	.api = XLATE_GEMINI,
	.shape = USAGE_SHAPE_GEMINI,
	.native = 0,
	.url = gemini_url,
	.headers = dialect_no_headers,
	.stream_end = dialect_no_stream_end,
	.usage_chunk = dialect_no_usage_chunk,	/* every event may carry usageMetadata */
};

const struct dialect dialect_vertex_anthropic = {
	.name = "vertex_ai-anthropic",
	.api = XLATE_MESSAGES,
	.shape = USAGE_SHAPE_ANTHROPIC,
	.native = 1u << ENDPOINT_MESSAGES,
	.url = claude_url,
	.headers = claude_headers,
	.client_headers = 1,
	.body = claude_body,
	.needs_max_tokens = 1,
	.stream_end = anthropic_stream_end,
	.usage_chunk = anthropic_usage_chunk,
};
