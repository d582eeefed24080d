/*
 * libFuzzer target: the Anthropic Messages side of the translation hub
 * (lib/provider/messages.c).  The bytes, as a JSON body, go through each
 * request and answer translation (drop_params on and off) and their round
 * trips; as an SSE stream, event by event through the decoder, whose chunks
 * go through the encoder; as a JSON array, element by element through the
 * encoder as chat chunks.  Besides no crash, no leak and no undefined
 * behaviour: a translation either refuses with a status of 400 or more or
 * gives an object, and every event the encoder writes carries JSON data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "provider/xlate.h"
#include "sse.h"

#define F	(&xlate_messages)

/* A translation's result: an object, or NULL with a status; freed here. */
static void
check_tree(json_t *out, const struct xlate_error *e)
{
	char *text;

	if (out == NULL) {
		if (e->status < 400 || memchr(e->param, '\0', sizeof(e->param)) == NULL ||
		    memchr(e->message, '\0', sizeof(e->message)) == NULL)
			abort();
		return;
	}
	if (!json_is_object(out) || (text = json_dumps(out, JSON_COMPACT)) == NULL)
		abort();
	free(text);
	json_decref(out);
}

static void
requests(json_t *body, int drop, int reasoning)
{
	struct xlate_opts o = { "fuzz-model", drop, reasoning ? 0 : 333, reasoning, drop };
	struct xlate_error e = { 0 };
	json_t *chat, *back;

	if ((chat = F->request_to_chat(body, &o, &e)) != NULL) {
		memset(&e, 0, sizeof(e));
		/* a chat request of ours, taken back: never a crash, whatever it became */
		back = F->request_from_chat(chat, &o, &e);
		check_tree(back, &e);
	}
	check_tree(chat, &e);
	memset(&e, 0, sizeof(e));
	check_tree(F->request_from_chat(body, &o, &e), &e);
}

static void
answers(json_t *body)
{
	struct xlate_error e = { 0 };
	json_t *chat, *back;
	char msg[32], type[16];

	if ((chat = F->response_to_chat(body, &e)) != NULL) {
		memset(&e, 0, sizeof(e));
		back = F->response_from_chat(chat, NULL, &e);
		check_tree(back, &e);
	}
	check_tree(chat, &e);
	memset(&e, 0, sizeof(e));
	check_tree(F->response_from_chat(body, "m", &e), &e);
	F->error_parse(body, msg, sizeof(msg), type, sizeof(type));
	if (memchr(msg, '\0', sizeof(msg)) == NULL || memchr(type, '\0', sizeof(type)) == NULL)
		abort();
}

/* Every event in b: "event: NAME\ndata: JSON\n\n", the data an object. */
static int
check_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	json_t *v = json_loadb(data, len, 0, NULL);

	(void)arg, (void)line;
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
	if (p.line.len != 0 || p.data.len != 0)
		abort();	/* every event the encoder wrote is whole */
	sse_release(&p);
}

struct stream {
	void		*dec, *enc;
	struct buf	 out, tail;
	int		 rc;	/* the decoder's last */
};

static int
to_encoder(void *arg, json_t *chunk)
{
	struct stream *s = arg;
	struct xlate_out xo = { &s->out, &s->tail };

	if (F->encoder_chunk(s->enc, chunk, &xo) < 0)
		abort();	/* only ENOMEM may fail it */
	return 0;
}

static int
on_event(void *arg, const char *event, const char *data, size_t len, size_t line)
{
	struct stream *s = arg;

	(void)line;
	if (s->rc != 0)
		return -1;
	s->rc = F->decoder_event(s->dec, event, data, len, to_encoder, s);
	if (s->rc < -1 || s->rc > 1)
		abort();
	return 0;
}

static void
stream(const uint8_t *data, size_t size)
{
	struct stream s = { F->decoder_new(), F->encoder_new("fuzz", (int)(size & 1)), { 0 }, { 0 }, 0 };
	struct xlate_out xo = { &s.out, &s.tail };
	struct sse p;

	if (s.dec == NULL || s.enc == NULL)
		abort();
	sse_init(&p);
	sse_feed(&p, (const char *)data, size, on_event, &s);
	sse_finish(&p, on_event, &s);
	sse_release(&p);
	if (s.rc == 1 && F->encoder_end(s.enc, &xo) < 0)
		abort();
	check_sse(&s.out);
	check_sse(&s.tail);
	F->decoder_free(s.dec);
	F->encoder_free(s.enc);
	buf_release(&s.out);
	buf_release(&s.tail);
}

/* A JSON array as chat chunks, straight into the encoder. */
static void
chunks(json_t *list)
{
	struct buf out = { 0 }, tail = { 0 };
	struct xlate_out xo = { &out, &tail };
	void *enc = F->encoder_new(NULL, 0);
	json_t *c;
	size_t i;

	if (enc == NULL)
		abort();
	json_array_foreach(list, i, c)
		if (F->encoder_chunk(enc, c, &xo) < 0)
			abort();
	if (F->encoder_end(enc, &xo) < 0)
		abort();
	check_sse(&out);
	check_sse(&tail);
	F->encoder_free(enc);
	buf_release(&out);
	buf_release(&tail);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);

	if (body != NULL) {
		requests(body, 0, 0);
		requests(body, 1, 1);
		answers(body);
		if (json_is_array(body))
			chunks(body);
		json_decref(body);
	}
	stream(data, size);
	return 0;
}
