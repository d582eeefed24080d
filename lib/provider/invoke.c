/*
 * Claude through AWS Bedrock's InvokeModel: Anthropic's Messages format
 * (messages.c translates it) at Bedrock's URLs, signed as Converse is
 * (converse.c).  The body is Anthropic's without the model (it is in the
 * path) and without "stream" (so is that), with Bedrock's
 * anthropic_version; the answer is Anthropic's; a stream comes in AWS's
 * event-stream frames, each carrying one of Anthropic's stream events,
 * base64 in {"bytes": ...}, which the worker unwraps into Anthropic's own
 * SSE (worker_stream.c) so that an Anthropic client gets its stream as is.
 */
#include <string.h>

#include "provider/dialect.h"
#include "provider/xlate.h"
#include "provider/xlate_tree.h"
#include "route.h"

#define BEDROCK_ANTHROPIC_VERSION	"bedrock-2023-05-31"

static int
invoke_url(const struct route_deployment *d, enum endpoint_id ep, int stream, char *out,
    size_t outlen)
{
	if (ep != ENDPOINT_MESSAGES)
		return -1;
	return bedrock_model_url(d, stream ? "invoke-with-response-stream" : "invoke", out, outlen);
}

static int
invoke_body(const struct route_deployment *d, int stream, struct buf *b)
{
	(void)d, (void)stream;
	return anthropic_cloud_body(b, BEDROCK_ANTHROPIC_VERSION, 0);
}

/* Bedrock's {"message": ...} as Anthropic's error; an answer that is not Bedrock's stays. */
static int
invoke_error(long status, struct buf *b)
{
	json_t *o = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
	const char *m = json_string_value(json_object_get(o, "message"));
	struct buf out = { 0 };
	char msg[1024];
	int rc = 0;

	if (json_is_object(o) && m != NULL && json_object_get(o, "type") == NULL) {
		xt_copy_text(msg, sizeof(msg), m);
		if ((rc = xlate_format_of(XLATE_MESSAGES)->error_body((int)status, NULL, msg, NULL,
		    &out)) >= 0) {
			buf_release(b);
			*b = out;
			rc = 0;
		} else
			buf_release(&out);
	}
	json_decref(o);
	return rc;
}

const struct dialect dialect_bedrock_invoke = {
	.name = "bedrock-invoke",
	.api = XLATE_MESSAGES,
	.shape = USAGE_SHAPE_ANTHROPIC,
	.native = 1u << ENDPOINT_MESSAGES,
	.url = invoke_url,
	.headers = dialect_no_headers,
	.sign = bedrock_sign,
	.body = invoke_body,
	.error = invoke_error,
	.eventstream = 1,
	.wrapped = 1,
	.needs_max_tokens = 1,
	.stream_end = anthropic_stream_end,
	.usage_chunk = anthropic_usage_chunk,
};
