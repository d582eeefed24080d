/*
 * libFuzzer target: the translation glue (lib/provider/xlate.c) across every
 * pair of formats, on request bodies, whole answers (with a success and an
 * error status) and streams cut into SSE events (lib/sse.c), as a worker
 * runs them.  The first byte picks the pair and the path; the rest is the
 * input.  Besides no crash, leak or undefined behaviour: a request that
 * translates is a JSON object naming the deployment's model, and so is an
 * answer that translates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "provider/xlate.h"
#include "sse.h"

struct feed {
	struct xlate_stream	*xs;
	struct xlate_out	 out;
	int			 ended;
};

static int
on_event(void *arg, const char *name, const char *data, size_t len, size_t line)
{
	struct feed *f = arg;
	int rc;

	(void)line;
	if (f->ended)
		return 0;
	rc = xlate_stream_event(f->xs, name, data, len, &f->out);
	if (rc != 0)
		f->ended = 1;
	return 0;
}

static void
must_be_object(const struct buf *b, const char *model)
{
	json_t *j = json_loadb(b->data ? b->data : "", b->len, 0, NULL);

	if (!json_is_object(j))
		abort();
	if (model != NULL && json_object_get(j, "model") != NULL &&
	    strcmp(json_string_value(json_object_get(j, "model")) ?: "", model) != 0)
		abort();
	json_decref(j);
}

static void
stream(enum xlate_api from, enum xlate_api to, const char *data, size_t size)
{
	struct buf out = { 0 }, tail = { 0 };
	struct feed f = { 0 };
	struct sse s;

	/* include_usage from the stream's first byte: an empty stream reads none */
	if ((f.xs = xlate_stream_new(from, to, "client-model", size > 0 && (data[0] & 1))) == NULL)
		return;
	f.out.out = &out;
	f.out.tail = &tail;
	sse_init(&s);
	sse_feed(&s, data, size, on_event, &f);
	sse_finish(&s, on_event, &f);
	if (!f.ended)
		xlate_stream_finish(f.xs, &f.out);	/* the body ended: Gemini's stream ends so */
	sse_release(&s);
	xlate_stream_free(f.xs);
	buf_release(&out);
	buf_release(&tail);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xlate_opts o = { .model = "dep-model", .max_tokens = 1024 };
	struct xlate_error e;
	struct buf out = { 0 };
	enum xlate_api from, to;
	const char *p = (const char *)data + 1;
	size_t n;

	if (size < 1)
		return 0;
	from = (enum xlate_api)(data[0] % XLATE_API_COUNT);	/* the seeds are named by these */
	to = (enum xlate_api)(data[0] / XLATE_API_COUNT % XLATE_API_COUNT);
	o.drop_params = (data[0] >> 5) & 1;
	n = size - 1;
	switch ((data[0] >> 6) & 3) {
	case 0:
		if (xlate_request(from, to, p, n, &o, &out, &e) == 0)
			must_be_object(&out, "dep-model");
		break;
	case 1:
		if (xlate_response(from, to, 200, p, n, "client-model", &out, &e) == 0)
			must_be_object(&out, NULL);
		break;
	case 2:
		if (xlate_response(from, to, 400 + (data[0] & 0x1f), p, n, "m", &out, &e) == 0)
			must_be_object(&out, NULL);
		break;
	default:
		stream(from, to, p, n);
		break;
	}
	buf_release(&out);
	return 0;
}
