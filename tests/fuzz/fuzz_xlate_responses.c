/*
 * libFuzzer target: the OpenAI Responses side of the translation hub
 * (lib/provider/responses.c) alone, each of its functions called directly.
 * The first byte picks the path (its low three bits) and the options (the
 * high bits); the rest is the input: a request, an answer, an upstream SSE
 * stream (cut into events by lib/sse.c, its chunks also encoded back), chat
 * chunks one a line for the encoder, or an error body.  Besides no crash,
 * leak or undefined behaviour: a request that translates is an object
 * naming the deployment's model, and translates on again; an answer that
 * translates is an object; every chunk the decoder makes is an object and
 * every event the encoder writes is "event: NAME" and JSON object data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "provider/xlate.h"
#include "sse.h"

#define F	(&xlate_responses)

static const char dep_model[] = "dep-model";

static void
must_name_model(json_t *v)
{
	if (!json_is_object(v) || !json_is_string(json_object_get(v, "model")) ||
	    strcmp(json_string_value(json_object_get(v, "model")), dep_model) != 0)
		abort();
}

static void
requests(json_t *in, const struct xlate_opts *o, int from_chat)
{
	struct xlate_error e = { 0 };
	json_t *out, *back;

	out = from_chat ? F->request_from_chat(in, o, &e) : F->request_to_chat(in, o, &e);
	if (out == NULL) {
		if (e.status < 400)
			abort();
		return;
	}
	must_name_model(out);
	if (!from_chat && !json_is_array(json_object_get(out, "messages")))
		abort();
	/* what became chat goes on to Responses again, as Responses -> chat -> Responses does */
	memset(&e, 0, sizeof(e));
	back = from_chat ? F->request_to_chat(out, o, &e) : F->request_from_chat(out, o, &e);
	if (back != NULL)
		must_name_model(back);
	else if (e.status < 400)
		abort();
	json_decref(back);
	json_decref(out);
}

static void
answers(json_t *in, int from_chat)
{
	struct xlate_error e = { 0 };
	json_t *out, *back;

	out = from_chat ? F->response_from_chat(in, "client-model", &e) : F->response_to_chat(in, &e);
	if (out == NULL) {
		if (e.status < 400)
			abort();
		return;
	}
	if (!json_is_object(out))
		abort();
	back = from_chat ? F->response_to_chat(out, &e) : F->response_from_chat(out, NULL, &e);
	if (back != NULL && !json_is_object(back))
		abort();
	json_decref(back);
	json_decref(out);
}

/* Every event of the encoder's output has a name and an object for data. */
static int
check_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	json_t *v = json_loadb(data, len, 0, NULL);

	(void)arg;
	(void)line;
	if (event[0] == '\0' || !json_is_object(v))
		abort();
	json_decref(v);
	return 0;
}

static void
check_sse(const struct buf *b)
{
	struct sse p;

	sse_init(&p);
	sse_feed(&p, b->data ? b->data : "", b->len, check_event, NULL);
	sse_finish(&p, check_event, NULL);
	sse_release(&p);
}

struct feed {
	void		*dec, *enc;
	struct xlate_out out;
	int		 rc;
};

static int
on_chunk(void *arg, json_t *chunk)
{
	struct feed *f = arg;

	if (!json_is_object(chunk))
		abort();
	return F->encoder_chunk(f->enc, chunk, &f->out);
}

static int
on_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct feed *f = arg;

	(void)line;
	if (f->rc != 0)
		return -1;
	if ((f->rc = F->decoder_event(f->dec, event, data, len, on_chunk, f)) == 1 &&
	    F->encoder_end(f->enc, &f->out) < 0)
		abort();
	return 0;
}

static void
stream(const char *p, size_t n, int usage)
{
	struct buf out = { 0 }, tail = { 0 };
	struct feed f = { F->decoder_new(), F->encoder_new("client-model", usage), { &out, &tail }, 0 };
	struct sse s;

	if (f.dec == NULL || f.enc == NULL)
		abort();
	sse_init(&s);
	sse_feed(&s, p, n, on_event, &f);
	sse_finish(&s, on_event, &f);
	sse_release(&s);
	check_sse(&out);
	check_sse(&tail);
	F->decoder_free(f.dec);
	F->encoder_free(f.enc);
	buf_release(&out);
	buf_release(&tail);
}

/* Chat chunks, one a line, through the encoder; lines that do not parse are skipped. */
static void
encode(const char *p, size_t n, int end)
{
	struct buf out = { 0 }, tail = { 0 };
	struct xlate_out xo = { &out, &tail };
	void *st = F->encoder_new(NULL, 1);
	const char *nl;
	json_t *c;

	if (st == NULL)
		abort();
	while (n > 0) {
		nl = memchr(p, '\n', n);
		if ((c = json_loadb(p, nl ? (size_t)(nl - p) : n, JSON_DECODE_ANY, NULL)) != NULL &&
		    F->encoder_chunk(st, c, &xo) < 0)
			abort();
		json_decref(c);
		n -= nl ? (size_t)(nl - p) + 1 : n;
		p = nl ? nl + 1 : p;
	}
	if (end && F->encoder_end(st, &xo) < 0)
		abort();
	F->encoder_free(st);
	check_sse(&out);
	check_sse(&tail);
	buf_release(&out);
	buf_release(&tail);
}

static void
errors(json_t *in, const char *p, size_t n)
{
	char msg[32], type[16];
	struct buf b = { 0 };
	json_t *v;

	F->error_parse(in, msg, sizeof(msg), type, sizeof(type));
	if (memchr(msg, '\0', sizeof(msg)) == NULL || memchr(type, '\0', sizeof(type)) == NULL)
		abort();
	if (F->error_body(400 + (int)(n % 200), type, msg, n ? p : NULL, &b) < 0)
		abort();
	if ((v = json_loadb(b.data, b.len, 0, NULL)) == NULL)
		abort();
	json_decref(v);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xlate_opts o = { .model = dep_model, .max_tokens = 1024 };
	const char *p = (const char *)data + 1;
	char name[8];
	size_t n;
	json_t *in;

	if (size < 1)
		return 0;
	n = size - 1;
	o.drop_params = (data[0] >> 3) & 1;
	o.reasoning_model = (data[0] >> 4) & 1;
	switch (data[0] & 7) {
	case 4:
		stream(p, n, o.drop_params);
		return 0;
	case 5:
		encode(p, n, !o.drop_params);
		return 0;
	default:
		break;
	}
	in = json_loadb(p, n, JSON_DECODE_ANY, NULL);
	switch (data[0] & 7) {
	case 0: case 1:
		requests(in, &o, data[0] & 1);
		break;
	case 2: case 3:
		answers(in, data[0] & 1);
		break;
	default:
		/* a NUL-terminated param for error_body, cut from the input */
		memcpy(name, p, n < sizeof(name) - 1 ? n : sizeof(name) - 1);
		name[n < sizeof(name) - 1 ? n : sizeof(name) - 1] = '\0';
		errors(in, name, strlen(name));
		break;
	}
	json_decref(in);
	return 0;
}
