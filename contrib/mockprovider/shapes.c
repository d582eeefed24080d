/*
 * What each provider answers, as the mock provider writes it: OpenAI chat,
 * legacy completions, embeddings and Responses, and Anthropic Messages, whole
 * or as server-sent events, with text or (knob tool_calls) with tool calls.
 * Runs in the mockprovider process.
 *
 * The reply text is fixed and split into word-sized deltas once at start-up,
 * so a request costs a few formatted numbers and memcpy()s.  Token counts come
 * from the request's knobs, never from the text, and follow each shape's
 * convention (see ../../../shared/reference/usage-and-pricing.md): OpenAI
 * prompt_tokens include cached tokens and completion_tokens include reasoning
 * tokens; Anthropic input_tokens exclude cache reads and writes.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "money.h"
#include "mockprovider.h"

/* Appends a string literal, its length counted by the compiler. */
#define PUT(b, lit)	buf_append((b), (lit), sizeof(lit) - 1)

const char *const mock_knob_names[MOCK_NKNOBS] = {
	[MOCK_PROMPT_TOKENS] = "prompt_tokens",
	[MOCK_COMPLETION_TOKENS] = "completion_tokens",
	[MOCK_CACHED_TOKENS] = "cached_tokens",
	[MOCK_REASONING_TOKENS] = "reasoning_tokens",
	[MOCK_CACHE_WRITE_TOKENS] = "cache_write_tokens",
	[MOCK_CACHE_WRITE_1H_TOKENS] = "cache_write_1h_tokens",
	[MOCK_CHUNKS] = "chunks",
	[MOCK_CHUNK_DELAY_MS] = "chunk_delay_ms",
	[MOCK_LATENCY_MS] = "latency_ms",
	[MOCK_STATUS] = "status",
	[MOCK_TOOL_CALLS] = "tool_calls",
	[MOCK_STRICT] = "strict",
	[MOCK_AUDIO_TOKENS] = "audio_tokens",
	[MOCK_IMAGE_TOKENS] = "image_tokens",
	[MOCK_CACHED_AUDIO_TOKENS] = "cached_audio_tokens",
	[MOCK_IMAGE_OUT_TOKENS] = "image_out_tokens",
	[MOCK_RETRY_AFTER] = "retry_after",
	[MOCK_RETRY_AFTER_MS] = "retry_after_ms",
	[MOCK_RETRY_AFTER_DATE] = "retry_after_date",
	[MOCK_COST_FORM] = "cost_form",
	[MOCK_PROVIDER_COST] = "provider_cost",
};

const char *const mock_fault_names[MOCK_NFAULTS] = {
	[MOCK_FAULT_NONE] = "none",
	[MOCK_FAULT_RESET] = "reset",
	[MOCK_FAULT_RESET_MID_STREAM] = "reset_mid_stream",
	[MOCK_FAULT_SLOW_HEADERS] = "slow_headers",
	[MOCK_FAULT_MALFORMED] = "malformed",
	[MOCK_FAULT_NO_USAGE] = "no_usage",
	[MOCK_FAULT_SILENCE_MID_STREAM] = "silence_mid_stream",
	[MOCK_FAULT_THROTTLED_MID_STREAM] = "throttled_mid_stream",
	[MOCK_FAULT_EXCEPTION_MID_STREAM] = "exception_mid_stream",
	[MOCK_FAULT_CONTEXT_LENGTH] = "context_length",
	[MOCK_FAULT_CONTENT_POLICY] = "content_policy",
	[MOCK_FAULT_ERROR_USAGE] = "error_usage",
};

/* About 800 bytes; plain ASCII so that its JSON form is itself. */
static const char reply_text[] =
    "This is a reply from mockprovider, the fake model that tollgate uses in its tests "
    "and benchmarks. It does not think; it repeats this paragraph so that every answer "
    "has the same length, which keeps benchmark figures comparable from one run to the "
    "next. The token counts in the usage object are not derived from this text: they "
    "come from the mock knobs of the request or from the command line, so that a test "
    "can ask for exactly the prompt, cached, reasoning and completion tokens it wants to "
    "price. A gateway that forwards this answer should pass it through unchanged, record "
    "the usage it reports and charge for it to the picodollar. If you are reading this "
    "in a real application, the request went to the mock provider instead of a real one, "
    "so check the list of deployments in the gateway configuration.";

/* The stream deltas: each word of reply_text with the space that follows it. */
static struct word {
	const char	*p;
	size_t		 len;
}		*words;
static size_t	 nwords;

static const char embedding[] =
    "[0.0023064255,-0.009327292,-0.0028842222,0.017165912,"
    "-0.012349357,0.0064310953,-0.0048732576,0.0091054775]";

int
mock_shapes_init(void)
{
	const char *p = reply_text, *end = reply_text + sizeof(reply_text) - 1;
	size_t cap = 0;

	assert(strpbrk(reply_text, "\"\\") == NULL);
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *next = sp ? sp + 1 : end;

		if (ARRAY_GROW(words, nwords, cap) < 0)
			return -1;
		words[nwords].p = p;
		words[nwords].len = (size_t)(next - p);
		nwords++;
		p = next;
	}
	return 0;
}

void
mock_shapes_release(void)
{
	free(words);
	words = NULL;
	nwords = 0;
}

int
mock_json_escape(struct buf *b, const char *s, size_t n)
{
	const char *run = s, *end = s + n;
	int r = 0;

	for (; s < end; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		r |= buf_append(b, run, (size_t)(s - run));
		switch (c) {
		case '"':  r |= PUT(b, "\\\""); break;
		case '\\': r |= PUT(b, "\\\\"); break;
		case '\n': r |= PUT(b, "\\n"); break;
		case '\r': r |= PUT(b, "\\r"); break;
		case '\t': r |= PUT(b, "\\t"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			r |= buf_append(b, esc, 6);
		}
		run = s + 1;
	}
	r |= buf_append(b, run, (size_t)(end - run));
	return r;
}

/* The model as the request spelled it (its escapes were valid JSON there). */
static int
put_model(struct buf *b, const struct mock_call *c)
{
	int r = PUT(b, "\"model\":\"");

	r |= buf_append(b, c->model, c->model_len);
	return r | PUT(b, "\"");
}

static int
put_reply_text(struct buf *b)
{
	return PUT(b, reply_text);
}

/* The text a stream of this call spells out: its deltas, one after another. */
static int
put_stream_text(struct buf *b, const struct mock_call *c)
{
	long i;
	int r = 0;

	for (i = 0; i < c->knob[MOCK_CHUNKS]; i++)
		r |= buf_append(b, words[i % (long)nwords].p, words[i % (long)nwords].len);
	return r;
}

static const struct word *
delta(int i)
{
	return &words[(size_t)i % nwords];
}

static int
no_usage(const struct mock_call *c)
{
	return c->fault == MOCK_FAULT_NO_USAGE;
}

/* ---- OpenAI chat and legacy completions ------------------------------------ */

/* The cost an OpenAI-compatible provider reports in its usage, in the form cost_form names. */
static int
put_provider_cost(struct buf *b, const struct mock_call *c)
{
	char usd[MONEY_FORMAT_MAX];

	money_format(c->knob[MOCK_PROVIDER_COST], MONEY_COST_SCALE, usd);
	switch (c->knob[MOCK_COST_FORM]) {
	case 1:		/* OpenRouter: USD, and its split */
		return buf_printf(b, ",\"cost\":%s,\"cost_details\":{\"upstream_inference_cost\":%s},"
		    "\"is_byok\":false", usd, usd);
	case 2:		/* xAI: ticks of 1e-10 USD */
		return buf_printf(b, ",\"cost_in_usd_ticks\":%ld", c->knob[MOCK_PROVIDER_COST] / 100);
	case 3:		/* DeepInfra: USD */
		return buf_printf(b, ",\"estimated_cost\":%s", usd);
	}
	return 0;
}

static int
put_openai_usage(struct buf *b, const struct mock_call *c)
{
	const long *k = c->knob;

	return buf_printf(b, "{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":%ld},"
	    "\"completion_tokens_details\":{\"reasoning_tokens\":%ld}",
	    k[MOCK_PROMPT_TOKENS], k[MOCK_COMPLETION_TOKENS],
	    k[MOCK_PROMPT_TOKENS] + k[MOCK_COMPLETION_TOKENS],
	    k[MOCK_CACHED_TOKENS], k[MOCK_REASONING_TOKENS]) |
	    put_provider_cost(b, c) | buf_printf(b, "}");
}

static int
chat_body(struct buf *b, const struct mock_call *c)
{
	int r;

	r = buf_printf(b, "{\"id\":\"chatcmpl-mock%lu\",\"object\":\"chat.completion\",\"created\":%ld,",
	    c->seq, (long)c->created);
	r |= put_model(b, c);
	r |= PUT(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"");
	r |= put_reply_text(b);
	r |= PUT(b, "\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
	    "\"finish_reason\":\"stop\"}]");
	if (!no_usage(c)) {
		r |= PUT(b, ",\"usage\":");
		r |= put_openai_usage(b, c);
	}
	return r | PUT(b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}");
}

static int
completions_body(struct buf *b, const struct mock_call *c)
{
	int r;

	r = buf_printf(b, "{\"id\":\"cmpl-mock%lu\",\"object\":\"text_completion\",\"created\":%ld,",
	    c->seq, (long)c->created);
	r |= put_model(b, c);
	r |= PUT(b, ",\"choices\":[{\"text\":\"");
	r |= put_reply_text(b);
	r |= PUT(b, "\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]");
	if (!no_usage(c)) {
		r |= PUT(b, ",\"usage\":");
		r |= put_openai_usage(b, c);
	}
	return r | PUT(b, "}");
}

/*
 * One "data:" event of a chat or completions stream.  Every chunk says
 * "usage": null, as OpenAI's do when usage was asked for; the usage itself
 * comes on an extra chunk with no choices, and only when the request set
 * stream_options.include_usage.
 */
static int
openai_chunk_start(struct buf *b, const struct mock_call *c)
{
	int r;

	if (c->shape == MOCK_CHAT)
		r = buf_printf(b, "data: {\"id\":\"chatcmpl-mock%lu\",\"object\":\"chat.completion.chunk\","
		    "\"created\":%ld,", c->seq, (long)c->created);
	else
		r = buf_printf(b, "data: {\"id\":\"cmpl-mock%lu\",\"object\":\"text_completion\","
		    "\"created\":%ld,", c->seq, (long)c->created);
	r |= put_model(b, c);
	if (c->shape == MOCK_CHAT)
		r |= PUT(b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"");
	return r;
}

static int
openai_frames(const struct mock_call *c)
{
	int usage = c->include_usage && !no_usage(c);

	return (int)c->knob[MOCK_CHUNKS] + 1 + usage + 1;
}

static int
openai_frame(struct buf *b, const struct mock_call *c, int i)
{
	int n = (int)c->knob[MOCK_CHUNKS];
	int r;

	if (i == openai_frames(c) - 1)
		return PUT(b, "data: [DONE]\n\n");
	r = openai_chunk_start(b, c);
	if (i < n) {
		const struct word *w = delta(i);

		if (c->shape == MOCK_CHAT)
			r |= buf_printf(b, ",\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\"%.*s\"},"
			    "\"logprobs\":null,\"finish_reason\":null}]",
			    i == 0 ? "\"role\":\"assistant\"," : "", (int)w->len, w->p);
		else
			r |= buf_printf(b, ",\"choices\":[{\"text\":\"%.*s\",\"index\":0,"
			    "\"logprobs\":null,\"finish_reason\":null}]", (int)w->len, w->p);
		r |= PUT(b, ",\"usage\":null}\n\n");
	} else if (i == n) {
		if (c->shape == MOCK_CHAT)
			r |= PUT(b, ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
			    "\"finish_reason\":\"stop\"}]");
		else
			r |= PUT(b, ",\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,"
			    "\"finish_reason\":\"stop\"}]");
		r |= PUT(b, ",\"usage\":null}\n\n");
	} else {
		r |= PUT(b, ",\"choices\":[],\"usage\":");
		r |= put_openai_usage(b, c);
		r |= PUT(b, "}\n\n");
	}
	return r;
}

/* ---- OpenAI embeddings ------------------------------------------------------- */

static int
embeddings_body(struct buf *b, const struct mock_call *c)
{
	int r;

	r = buf_printf(b, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
	    "\"embedding\":%s}],", embedding);
	r |= put_model(b, c);
	if (!no_usage(c))
		r |= buf_printf(b, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}",
		    c->knob[MOCK_PROMPT_TOKENS], c->knob[MOCK_PROMPT_TOKENS]);
	return r | PUT(b, "}");
}

/* ---- OpenAI Responses ---------------------------------------------------------- */

static int
put_responses_usage(struct buf *b, const struct mock_call *c)
{
	const long *k = c->knob;

	if (no_usage(c))
		return PUT(b, "null");
	return buf_printf(b, "{\"input_tokens\":%ld,\"input_tokens_details\":{\"cached_tokens\":%ld},"
	    "\"output_tokens\":%ld,\"output_tokens_details\":{\"reasoning_tokens\":%ld},"
	    "\"total_tokens\":%ld}",
	    k[MOCK_PROMPT_TOKENS], k[MOCK_CACHED_TOKENS], k[MOCK_COMPLETION_TOKENS],
	    k[MOCK_REASONING_TOKENS], k[MOCK_PROMPT_TOKENS] + k[MOCK_COMPLETION_TOKENS]);
}

/* The output message item; its text is reply_text, or the streamed deltas. */
static int
put_responses_item(struct buf *b, const struct mock_call *c, const char *status, int streamed)
{
	int r;

	r = buf_printf(b, "{\"type\":\"message\",\"id\":\"msg_mock%lu\",\"status\":\"%s\","
	    "\"role\":\"assistant\",\"content\":[", c->seq, status);
	if (strcmp(status, "completed") == 0) {
		r |= PUT(b, "{\"type\":\"output_text\",\"text\":\"");
		r |= streamed ? put_stream_text(b, c) : put_reply_text(b);
		r |= PUT(b, "\",\"annotations\":[]}");
	}
	return r | PUT(b, "]}");
}

/* The response object; a stream announces it in_progress, then completed. */
static int
put_response(struct buf *b, const struct mock_call *c, int completed, int streamed)
{
	int r;

	r = buf_printf(b, "{\"id\":\"resp_mock%lu\",\"object\":\"response\",\"created_at\":%ld,"
	    "\"status\":\"%s\",", c->seq, (long)c->created, completed ? "completed" : "in_progress");
	r |= put_model(b, c);
	r |= PUT(b, ",\"output\":[");
	if (completed)
		r |= put_responses_item(b, c, "completed", streamed);
	r |= PUT(b, "],\"usage\":");
	if (completed)
		r |= put_responses_usage(b, c);
	else
		r |= PUT(b, "null");
	return r | PUT(b, ",\"service_tier\":\"default\"}");
}

static int
responses_body(struct buf *b, const struct mock_call *c)
{
	return put_response(b, c, 1, 0);
}

/*
 * created, in_progress, output_item.added, content_part.added, the deltas,
 * output_text.done, content_part.done, output_item.done, completed.
 */
#define RESPONSES_HEAD	4
#define RESPONSES_TAIL	4

static int
responses_frames(const struct mock_call *c)
{
	return RESPONSES_HEAD + (int)c->knob[MOCK_CHUNKS] + RESPONSES_TAIL;
}

static int
responses_event(struct buf *b, const char *type, int seq)
{
	return buf_printf(b, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%d,", type, type, seq);
}

static int
responses_frame(struct buf *b, const struct mock_call *c, int i)
{
	int n = (int)c->knob[MOCK_CHUNKS], tail = i - RESPONSES_HEAD - n;
	int r = 0;

	if (i == 0 || i == 1) {
		r |= responses_event(b, i == 0 ? "response.created" : "response.in_progress", i);
		r |= PUT(b, "\"response\":");
		r |= put_response(b, c, 0, 1);
	} else if (i == 2 || tail == 2) {
		r |= responses_event(b, i == 2 ? "response.output_item.added" :
		    "response.output_item.done", i);
		r |= PUT(b, "\"output_index\":0,\"item\":");
		r |= put_responses_item(b, c, i == 2 ? "in_progress" : "completed", 1);
	} else if (i == 3 || tail == 1) {
		r |= responses_event(b, i == 3 ? "response.content_part.added" :
		    "response.content_part.done", i);
		r |= buf_printf(b, "\"item_id\":\"msg_mock%lu\",\"output_index\":0,\"content_index\":0,"
		    "\"part\":{\"type\":\"output_text\",\"text\":\"", c->seq);
		if (i != 3)
			r |= put_stream_text(b, c);
		r |= PUT(b, "\",\"annotations\":[]}");
	} else if (tail < 0) {
		const struct word *w = delta(i - RESPONSES_HEAD);

		r |= responses_event(b, "response.output_text.delta", i);
		r |= buf_printf(b, "\"item_id\":\"msg_mock%lu\",\"output_index\":0,\"content_index\":0,"
		    "\"delta\":\"%.*s\"", c->seq, (int)w->len, w->p);
	} else if (tail == 0) {
		r |= responses_event(b, "response.output_text.done", i);
		r |= buf_printf(b, "\"item_id\":\"msg_mock%lu\",\"output_index\":0,\"content_index\":0,"
		    "\"text\":\"", c->seq);
		r |= put_stream_text(b, c);
		r |= PUT(b, "\"");
	} else {
		r |= responses_event(b, "response.completed", i);
		r |= PUT(b, "\"response\":");
		r |= put_response(b, c, 1, 1);
	}
	return r | PUT(b, "}\n\n");
}

/* ---- Anthropic Messages ----------------------------------------------------------- */

/* input_tokens leave out cache reads and writes: prompt_tokens is their sum. */
static int
put_anthropic_usage(struct buf *b, const struct mock_call *c, long output_tokens)
{
	const long *k = c->knob;
	long write = k[MOCK_CACHE_WRITE_TOKENS] + k[MOCK_CACHE_WRITE_1H_TOKENS];
	long input = k[MOCK_PROMPT_TOKENS] - k[MOCK_CACHED_TOKENS] - write;

	return buf_printf(b, "{\"input_tokens\":%ld,\"cache_creation_input_tokens\":%ld,"
	    "\"cache_read_input_tokens\":%ld,\"cache_creation\":{\"ephemeral_5m_input_tokens\":%ld,"
	    "\"ephemeral_1h_input_tokens\":%ld},\"output_tokens\":%ld,\"service_tier\":\"standard\"}",
	    input > 0 ? input : 0, write, k[MOCK_CACHED_TOKENS], k[MOCK_CACHE_WRITE_TOKENS],
	    k[MOCK_CACHE_WRITE_1H_TOKENS], output_tokens);
}

static int
put_message_head(struct buf *b, const struct mock_call *c)
{
	int r;

	r = buf_printf(b, "{\"id\":\"msg_mock%lu\",\"type\":\"message\",\"role\":\"assistant\",", c->seq);
	return r | put_model(b, c);
}

static int
messages_body(struct buf *b, const struct mock_call *c)
{
	int r;

	r = put_message_head(b, c);
	r |= PUT(b, ",\"content\":[{\"type\":\"text\",\"text\":\"");
	r |= put_reply_text(b);
	r |= PUT(b, "\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null");
	if (!no_usage(c)) {
		r |= PUT(b, ",\"usage\":");
		r |= put_anthropic_usage(b, c, c->knob[MOCK_COMPLETION_TOKENS]);
	}
	return r | PUT(b, "}");
}

/*
 * message_start, content_block_start, the deltas, content_block_stop,
 * message_delta, message_stop.  message_start carries the input side and a
 * placeholder output_tokens of 1; message_delta the final, cumulative output.
 */
#define MESSAGES_HEAD	2
#define MESSAGES_TAIL	3

static int
messages_frames(const struct mock_call *c)
{
	return MESSAGES_HEAD + (int)c->knob[MOCK_CHUNKS] + MESSAGES_TAIL;
}

static int
messages_frame(struct buf *b, const struct mock_call *c, int i)
{
	int n = (int)c->knob[MOCK_CHUNKS], tail = i - MESSAGES_HEAD - n;
	int r = 0;

	if (i == 0) {
		r |= PUT(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":");
		r |= put_message_head(b, c);
		r |= PUT(b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null");
		if (!no_usage(c)) {
			r |= PUT(b, ",\"usage\":");
			r |= put_anthropic_usage(b, c, 1);
		}
		r |= PUT(b, "}}\n\n");
	} else if (i == 1) {
		r |= buf_printf(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\","
		    "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
	} else if (tail < 0) {
		const struct word *w = delta(i - MESSAGES_HEAD);

		r |= buf_printf(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		    "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"%.*s\"}}\n\n",
		    (int)w->len, w->p);
	} else if (tail == 0) {
		r |= buf_printf(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
		    "\"index\":0}\n\n");
	} else if (tail == 1) {
		r |= buf_printf(b, "event: message_delta\ndata: {\"type\":\"message_delta\","
		    "\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}");
		if (!no_usage(c))
			r |= buf_printf(b, ",\"usage\":{\"output_tokens\":%ld}",
			    c->knob[MOCK_COMPLETION_TOKENS]);
		r |= PUT(b, "}\n\n");
	} else
		r |= buf_printf(b, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
	return r;
}

/* ---- tool calls (knob tool_calls: N calls instead of the text) ------------------------ */

/*
 * Call k asks get_weather (or the tool the request forces) for Paris; its
 * arguments stream in two pieces, whose JSON-string forms are these (and,
 * joined, the whole arguments).
 */
#define ARGS_A		"{\\\"city\\\":\\\"Paris\\\","
#define ARGS_B		"\\\"n\\\":%d}"

/* A request that forces a tool gets a call of it, as a model forced so would answer. */
static int
ncalls(const struct mock_call *c)
{
	return c->knob[MOCK_TOOL_CALLS] == 0 && c->forced_len ? 1 : (int)c->knob[MOCK_TOOL_CALLS];
}

static int
put_tool_name(struct buf *b, const struct mock_call *c)
{
	if (c->forced_len)
		return buf_append(b, c->forced, c->forced_len);
	return PUT(b, "get_weather");
}

static int
put_args(struct buf *b, int k)
{
	return PUT(b, ARGS_A) | buf_printf(b, ARGS_B, k);
}

/* The call ids: OpenAI's call_, Anthropic's toolu_, each unique to the request and the call. */
static int
put_call_id(struct buf *b, const char *prefix, const struct mock_call *c, int k)
{
	return buf_printf(b, "\"%smock%lu_%d\"", prefix, c->seq, k);
}

/* Call k as an object with its id, name and input (Anthropic's tool_use, Bedrock's toolUse). */
static int
put_call_object(struct buf *b, const struct mock_call *c, int k, const char *open,
    const char *id_prefix, const char *close)
{
	int r = buf_append(b, open, strlen(open));

	r |= put_call_id(b, id_prefix, c, k);
	r |= PUT(b, ",\"name\":\"");
	r |= put_tool_name(b, c);
	r |= buf_printf(b, "\",\"input\":{\"city\":\"Paris\",\"n\":%d}", k);
	return r | buf_append(b, close, strlen(close));
}

static int
chat_tools_body(struct buf *b, const struct mock_call *c)
{
	int k, r;

	r = buf_printf(b, "{\"id\":\"chatcmpl-mock%lu\",\"object\":\"chat.completion\",\"created\":%ld,",
	    c->seq, (long)c->created);
	r |= put_model(b, c);
	r |= PUT(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
	    "\"tool_calls\":[");
	for (k = 0; k < ncalls(c); k++) {
		r |= k ? PUT(b, ",") : 0;
		r |= PUT(b, "{\"id\":");
		r |= put_call_id(b, "call_", c, k);
		r |= PUT(b, ",\"type\":\"function\",\"function\":{\"name\":\"");
		r |= put_tool_name(b, c);
		r |= PUT(b, "\",\"arguments\":\"");
		r |= put_args(b, k);
		r |= PUT(b, "\"}}");
	}
	r |= PUT(b, "],\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]");
	if (!no_usage(c)) {
		r |= PUT(b, ",\"usage\":");
		r |= put_openai_usage(b, c);
	}
	return r | PUT(b, "}");
}

/* Per call: its start (id, name), then the two pieces of its arguments. */
static int
chat_tools_frames(const struct mock_call *c)
{
	return 3 * ncalls(c) + 1 + (c->include_usage && !no_usage(c)) + 1;
}

static int
chat_tools_frame(struct buf *b, const struct mock_call *c, int i)
{
	int n = 3 * ncalls(c), k = i / 3, r;

	if (i == chat_tools_frames(c) - 1)
		return PUT(b, "data: [DONE]\n\n");
	r = openai_chunk_start(b, c);
	if (i < n && i % 3 == 0) {
		r |= buf_printf(b, ",\"choices\":[{\"index\":0,\"delta\":{%s\"tool_calls\":[{\"index\":%d,"
		    "\"id\":", k == 0 ? "\"role\":\"assistant\",\"content\":null," : "", k);
		r |= put_call_id(b, "call_", c, k);
		r |= PUT(b, ",\"type\":\"function\",\"function\":{\"name\":\"");
		r |= put_tool_name(b, c);
		r |= PUT(b, "\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}],"
		    "\"usage\":null}\n\n");
	} else if (i < n) {
		r |= buf_printf(b, ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,"
		    "\"function\":{\"arguments\":\"", k);
		r |= i % 3 == 1 ? PUT(b, ARGS_A) : buf_printf(b, ARGS_B, k);
		r |= PUT(b, "\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
	} else if (i == n)
		r |= PUT(b, ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
		    "\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n");
	else {
		r |= PUT(b, ",\"choices\":[],\"usage\":");
		r |= put_openai_usage(b, c);
		r |= PUT(b, "}\n\n");
	}
	return r;
}

static int
messages_tools_body(struct buf *b, const struct mock_call *c)
{
	int k, r;

	r = put_message_head(b, c);
	r |= PUT(b, ",\"content\":[");
	for (k = 0; k < ncalls(c); k++) {
		r |= k ? PUT(b, ",") : 0;
		r |= put_call_object(b, c, k, "{\"type\":\"tool_use\",\"id\":", "toolu_", "}");
	}
	r |= PUT(b, "],\"stop_reason\":\"tool_use\",\"stop_sequence\":null");
	if (!no_usage(c)) {
		r |= PUT(b, ",\"usage\":");
		r |= put_anthropic_usage(b, c, c->knob[MOCK_COMPLETION_TOKENS]);
	}
	return r | PUT(b, "}");
}

/* message_start; per call its block's start, two input deltas, stop; message_delta, stop. */
static int
messages_tools_frames(const struct mock_call *c)
{
	return 1 + 4 * ncalls(c) + 2;
}

static int
messages_tools_frame(struct buf *b, const struct mock_call *c, int i)
{
	int n = 4 * ncalls(c), k = (i - 1) / 4, r = 0;

	if (i == 0)
		return messages_frame(b, c, 0);
	if (i == n + 1) {
		r |= PUT(b, "event: message_delta\ndata: {\"type\":\"message_delta\","
		    "\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null}");
		if (!no_usage(c))
			r |= buf_printf(b, ",\"usage\":{\"output_tokens\":%ld}",
			    c->knob[MOCK_COMPLETION_TOKENS]);
		return r | PUT(b, "}\n\n");
	}
	if (i > n)
		return PUT(b, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
	switch ((i - 1) % 4) {
	case 0:
		r |= buf_printf(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\","
		    "\"index\":%d,\"content_block\":{\"type\":\"tool_use\",\"id\":", k);
		r |= put_call_id(b, "toolu_", c, k);
		r |= PUT(b, ",\"name\":\"");
		r |= put_tool_name(b, c);
		r |= PUT(b, "\",\"input\":{}}}\n\n");
		break;
	case 1:
	case 2:
		r |= buf_printf(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		    "\"index\":%d,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"", k);
		r |= (i - 1) % 4 == 1 ? PUT(b, ARGS_A) : buf_printf(b, ARGS_B, k);
		r |= PUT(b, "\"}}\n\n");
		break;
	default:
		r |= buf_printf(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
		    "\"index\":%d}\n\n", k);
	}
	return r;
}

static int
put_function_call(struct buf *b, const struct mock_call *c, int k, int done)
{
	int r = buf_printf(b, "{\"type\":\"function_call\",\"id\":\"fc_mock%lu_%d\",\"call_id\":",
	    c->seq, k);

	r |= put_call_id(b, "call_", c, k);
	r |= PUT(b, ",\"name\":\"");
	r |= put_tool_name(b, c);
	r |= PUT(b, "\",\"arguments\":\"");
	if (done)
		r |= put_args(b, k);
	return r | buf_printf(b, "\",\"status\":\"%s\"}", done ? "completed" : "in_progress");
}

static int
put_tools_response(struct buf *b, const struct mock_call *c, int completed)
{
	int k, r;

	r = buf_printf(b, "{\"id\":\"resp_mock%lu\",\"object\":\"response\",\"created_at\":%ld,"
	    "\"status\":\"%s\",", c->seq, (long)c->created, completed ? "completed" : "in_progress");
	r |= put_model(b, c);
	r |= PUT(b, ",\"output\":[");
	for (k = 0; completed && k < ncalls(c); k++) {
		r |= k ? PUT(b, ",") : 0;
		r |= put_function_call(b, c, k, 1);
	}
	r |= PUT(b, "],\"usage\":");
	r |= completed ? put_responses_usage(b, c) : PUT(b, "null");
	return r | PUT(b, ",\"service_tier\":\"default\"}");
}

/* created, in_progress; per call: item added, two argument deltas, arguments done, item done; completed. */
static int
responses_tools_frames(const struct mock_call *c)
{
	return 2 + 5 * ncalls(c) + 1;
}

static int
responses_tools_frame(struct buf *b, const struct mock_call *c, int i)
{
	int n = 5 * ncalls(c), k = (i - 2) / 5, r = 0;

	if (i < 2 || i >= 2 + n) {
		r |= responses_event(b, i == 0 ? "response.created" : i == 1 ? "response.in_progress" :
		    "response.completed", i);
		r |= PUT(b, "\"response\":");
		r |= put_tools_response(b, c, i >= 2 + n);
		return r | PUT(b, "}\n\n");
	}
	switch ((i - 2) % 5) {
	case 0:
	case 4:
		r |= responses_event(b, (i - 2) % 5 == 0 ? "response.output_item.added" :
		    "response.output_item.done", i);
		r |= buf_printf(b, "\"output_index\":%d,\"item\":", k);
		r |= put_function_call(b, c, k, (i - 2) % 5 == 4);
		break;
	case 1:
	case 2:
		r |= responses_event(b, "response.function_call_arguments.delta", i);
		r |= buf_printf(b, "\"item_id\":\"fc_mock%lu_%d\",\"output_index\":%d,\"delta\":\"",
		    c->seq, k, k);
		r |= (i - 2) % 5 == 1 ? PUT(b, ARGS_A) : buf_printf(b, ARGS_B, k);
		r |= PUT(b, "\"");
		break;
	default:
		r |= responses_event(b, "response.function_call_arguments.done", i);
		r |= buf_printf(b, "\"item_id\":\"fc_mock%lu_%d\",\"output_index\":%d,\"arguments\":\"",
		    c->seq, k, k);
		r |= put_args(b, k);
		r |= PUT(b, "\"");
	}
	return r | PUT(b, "}\n\n");
}

/* ---- Gemini generateContent ------------------------------------------------------------- */

/*
 * A modality list [{modality, tokenCount}]: TEXT the rest of total, then
 * AUDIO and IMAGE when not 0.
 */
static int
put_modalities(struct buf *b, const char *name, long total, long audio, long image)
{
	long text = total - audio - image;
	int r = buf_printf(b, ",\"%s\":[{\"modality\":\"TEXT\",\"tokenCount\":%ld}", name,
	    text > 0 ? text : 0);

	r |= audio ? buf_printf(b, ",{\"modality\":\"AUDIO\",\"tokenCount\":%ld}", audio) : 0;
	r |= image ? buf_printf(b, ",{\"modality\":\"IMAGE\",\"tokenCount\":%ld}", image) : 0;
	return r | PUT(b, "]");
}

/*
 * usageMetadata: promptTokenCount includes the cached content, the
 * candidates leave out the thoughts (both are output).  A stream says it on
 * every event, the totals on its last.  By modality (knobs audio_tokens,
 * image_tokens, cached_audio_tokens, image_out_tokens): promptTokensDetails
 * always, cacheTokensDetails with a cache, candidatesTokensDetails with
 * image output.
 */
static int
put_gemini_usage(struct buf *b, const struct mock_call *c, int final)
{
	const long *k = c->knob;
	long thoughts = final ? k[MOCK_REASONING_TOKENS] : 0;
	long cand = final ? k[MOCK_COMPLETION_TOKENS] - k[MOCK_REASONING_TOKENS] : 0;
	int r;

	if (cand < 0)
		cand = 0;
	r = buf_printf(b, ",\"usageMetadata\":{\"promptTokenCount\":%ld,\"candidatesTokenCount\":%ld,"
	    "\"totalTokenCount\":%ld,\"cachedContentTokenCount\":%ld,\"thoughtsTokenCount\":%ld",
	    k[MOCK_PROMPT_TOKENS], cand, k[MOCK_PROMPT_TOKENS] + cand + thoughts,
	    k[MOCK_CACHED_TOKENS], thoughts);
	r |= put_modalities(b, "promptTokensDetails", k[MOCK_PROMPT_TOKENS], k[MOCK_AUDIO_TOKENS],
	    k[MOCK_IMAGE_TOKENS]);
	if (k[MOCK_CACHED_TOKENS])
		r |= put_modalities(b, "cacheTokensDetails", k[MOCK_CACHED_TOKENS],
		    k[MOCK_CACHED_AUDIO_TOKENS], 0);
	if (final && k[MOCK_IMAGE_OUT_TOKENS])
		r |= put_modalities(b, "candidatesTokensDetails", cand, 0, k[MOCK_IMAGE_OUT_TOKENS]);
	return r | PUT(b, "}");
}

static int
put_gemini_tail(struct buf *b, const struct mock_call *c, int final)
{
	int r = 0;

	if (!no_usage(c))
		r |= put_gemini_usage(b, c, final);
	r |= PUT(b, ",\"modelVersion\":\"");
	r |= buf_append(b, c->model, c->model_len);
	return r | buf_printf(b, "\",\"responseId\":\"gmock%lu\"}", c->seq);
}

/* Call k as a functionCall part. */
static int
put_gemini_call(struct buf *b, const struct mock_call *c, int k)
{
	int r = PUT(b, "{\"functionCall\":{\"name\":\"");

	r |= put_tool_name(b, c);
	return r | buf_printf(b, "\",\"args\":{\"city\":\"Paris\",\"n\":%d}}}", k);
}

static int
gemini_body(struct buf *b, const struct mock_call *c)
{
	int k, r = PUT(b, "{\"candidates\":[{\"content\":{\"parts\":[");

	if (ncalls(c) == 0) {
		r |= PUT(b, "{\"text\":\"");
		r |= put_reply_text(b);
		r |= PUT(b, "\"}");
	}
	for (k = 0; k < ncalls(c); k++) {
		r |= k ? PUT(b, ",") : 0;
		r |= put_gemini_call(b, c, k);
	}
	r |= PUT(b, "],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}]");
	return r | put_gemini_tail(b, c, 1);
}

/* One event a word (or a call), the last with finishReason and the totals; no end marker. */
static int
gemini_frames(const struct mock_call *c)
{
	return (ncalls(c) ? ncalls(c) : (int)c->knob[MOCK_CHUNKS]) + 1;
}

static int
gemini_frame(struct buf *b, const struct mock_call *c, int i)
{
	int last = i == gemini_frames(c) - 1, r;

	r = PUT(b, "data: {\"candidates\":[{\"content\":{\"parts\":[");
	if (!last && ncalls(c))
		r |= put_gemini_call(b, c, i);
	else if (!last)
		r |= buf_printf(b, "{\"text\":\"%.*s\"}", (int)delta(i)->len, delta(i)->p);
	r |= PUT(b, "],\"role\":\"model\"},");
	r |= last ? PUT(b, "\"finishReason\":\"STOP\",") : 0;
	r |= PUT(b, "\"index\":0}]");
	r |= put_gemini_tail(b, c, last);
	return r | PUT(b, "\n\n");
}

/* ---- Bedrock Converse ---------------------------------------------------------------- */

/*
 * With reasoning_tokens (and no tool calls), a Claude thinking first: a
 * reasoningContent block (text and signature) before the text.  Its
 * tokens are in outputTokens: Converse does not count them apart.
 */
#define THOUGHT		"The user says hello; a short greeting will do."
#define SIGNATURE	"bW9ja3NpZ25hdHVyZQ=="

static int
bedrock_thinks(const struct mock_call *c)
{
	return c->knob[MOCK_REASONING_TOKENS] > 0 && ncalls(c) == 0;
}

/* inputTokens leave out cache reads and writes, as Anthropic's do. */
static int
put_bedrock_usage(struct buf *b, const struct mock_call *c)
{
	const long *k = c->knob;
	long write = k[MOCK_CACHE_WRITE_TOKENS] + k[MOCK_CACHE_WRITE_1H_TOKENS];
	long input = k[MOCK_PROMPT_TOKENS] - k[MOCK_CACHED_TOKENS] - write;

	if (input < 0)
		input = 0;
	return buf_printf(b, "{\"inputTokens\":%ld,\"outputTokens\":%ld,\"totalTokens\":%ld,"
	    "\"cacheReadInputTokens\":%ld,\"cacheWriteInputTokens\":%ld}",
	    input, k[MOCK_COMPLETION_TOKENS], input + k[MOCK_COMPLETION_TOKENS] +
	    k[MOCK_CACHED_TOKENS] + write, k[MOCK_CACHED_TOKENS], write);
}

static int
bedrock_body(struct buf *b, const struct mock_call *c)
{
	int r, n;

	r = PUT(b, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[");
	if (bedrock_thinks(c))
		r |= PUT(b, "{\"reasoningContent\":{\"reasoningText\":{\"text\":\"" THOUGHT "\","
		    "\"signature\":\"" SIGNATURE "\"}}},");
	for (n = 0; n < ncalls(c); n++) {	/* tool_calls: toolUse blocks instead of text */
		r |= n ? PUT(b, ",") : 0;
		r |= put_call_object(b, c, n, "{\"toolUse\":{\"toolUseId\":", "tooluse_", "}}");
	}
	if (ncalls(c) == 0) {
		r |= PUT(b, "{\"text\":\"");
		r |= put_reply_text(b);
		r |= PUT(b, "\"}");
	}
	r |= buf_printf(b, "]}},\"stopReason\":\"%s\"", ncalls(c) ? "tool_use" : "end_turn");
	if (!no_usage(c)) {
		r |= PUT(b, ",\"usage\":");
		r |= put_bedrock_usage(b, c);
	}
	return r | PUT(b, ",\"metrics\":{\"latencyMs\":1}}");
}

/*
 * ConverseStream's frames, AWS's event-stream framing, written here on their
 * own (tollgate's decoder is not used): the prelude (total and headers
 * lengths, big-endian, and their CRC-32), string headers, the JSON payload,
 * the CRC-32 of all before it.
 */
static unsigned long
crc32_of(const unsigned char *p, size_t n)
{
	unsigned long c = 0xffffffffUL;
	size_t i;
	int k;

	for (i = 0; i < n; i++)
		for (c ^= p[i], k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320UL ^ (c >> 1) : c >> 1;
	return c ^ 0xffffffffUL;
}

static void
put_be32(unsigned char *p, unsigned long v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static int
header(struct buf *h, const char *name, const char *value)
{
	unsigned char pre[4] = { (unsigned char)strlen(name), 0, 0, 0 };
	size_t vl = strlen(value);

	pre[1] = 7, pre[2] = (unsigned char)(vl >> 8), pre[3] = (unsigned char)vl;
	return buf_append(h, pre, 1) | buf_append(h, name, strlen(name)) |
	    buf_append(h, pre + 1, 3) | buf_append(h, value, vl);
}

/* One frame of type event (or exception) to b, its payload what payload holds; corrupt: a bad CRC. */
static int
put_frame(struct buf *b, const char *type, int exception, const struct buf *payload, int corrupt)
{
	struct buf h = { 0 };
	unsigned char pre[12], crc[4];
	size_t start = b->len, total;
	int r;

	r = exception ? header(&h, ":exception-type", type) | header(&h, ":message-type", "exception") :
	    header(&h, ":event-type", type) | header(&h, ":content-type", "application/json") |
	    header(&h, ":message-type", "event");
	total = 12 + h.len + payload->len + 4;
	put_be32(pre, total);
	put_be32(pre + 4, h.len);
	put_be32(pre + 8, crc32_of(pre, 8));
	r |= buf_append(b, pre, 12) | buf_append(b, h.data, h.len) |
	    buf_append(b, payload->data, payload->len);
	put_be32(crc, crc32_of((const unsigned char *)b->data + start, b->len - start) ^ (corrupt ? 1 : 0));
	r |= buf_append(b, crc, 4);
	buf_release(&h);
	return r;
}

/* Whether the stream breaks off with an exception frame (faults *_mid_stream of Bedrock's). */
static int
bedrock_exception(const struct mock_call *c)
{
	return c->fault == MOCK_FAULT_THROTTLED_MID_STREAM || c->fault == MOCK_FAULT_EXCEPTION_MID_STREAM;
}

/* The exception frame that breaks a stream off (faults *_mid_stream), ConverseStream's or InvokeModel's. */
static int
exception_frame(struct buf *b, const struct mock_call *c)
{
	int throttled = c->fault == MOCK_FAULT_THROTTLED_MID_STREAM, r;
	struct buf p = { 0 };

	r = buf_printf(&p, "{\"message\":\"%s\"}", throttled ? "Too many tokens, please wait "
	    "before trying again." : "The model's stream failed (mockprovider, fault "
	    "exception_mid_stream).");
	r |= put_frame(b, throttled ? "throttlingException" : "modelStreamErrorException", 1, &p, 0);
	buf_release(&p);
	return r;
}

/*
 * messageStart; per word a text delta (or per tool call its start, two
 * input pieces and its stop); contentBlockStop; messageStop; metadata with
 * the usage.  Fault malformed: the second frame's CRC is wrong.  Faults
 * throttled_mid_stream and exception_mid_stream: after half the content,
 * an exception frame, and nothing more (no usage: AWS sends it last).
 */
static int
bedrock_frames(const struct mock_call *c)
{
	int body = ncalls(c) ? 4 * ncalls(c) : (int)c->knob[MOCK_CHUNKS] + 1 + 3 * bedrock_thinks(c);

	if (bedrock_exception(c))
		return 1 + body / 2 + 1;
	return 1 + body + 1 + !no_usage(c);
}

static int
bedrock_frame(struct buf *b, const struct mock_call *c, int i)
{
	const long *k = c->knob;
	long write = k[MOCK_CACHE_WRITE_TOKENS] + k[MOCK_CACHE_WRITE_1H_TOKENS];
	long input = k[MOCK_PROMPT_TOKENS] - k[MOCK_CACHED_TOKENS] - write;
	int th = 3 * bedrock_thinks(c), body = ncalls(c) ? 4 * ncalls(c) : (int)c->knob[MOCK_CHUNKS] + 1 + th;
	int r, q = (i - 1) % 4, bad = c->fault == MOCK_FAULT_MALFORMED && i == 1;
	struct buf p = { 0 };
	const char *type;

	if (bedrock_exception(c) && i == bedrock_frames(c) - 1)
		return exception_frame(b, c);
	if (i == 0) {
		type = "messageStart";
		r = PUT(&p, "{\"role\":\"assistant\"}");
	} else if (i <= th) {
		/* the thinking block: its text, its signature, its stop */
		type = i == th ? "contentBlockStop" : "contentBlockDelta";
		r = i == 1 ? PUT(&p, "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{"
		    "\"text\":\"" THOUGHT "\"}}}") : i == 2 ? PUT(&p, "{\"contentBlockIndex\":0,"
		    "\"delta\":{\"reasoningContent\":{\"signature\":\"" SIGNATURE "\"}}}") :
		    PUT(&p, "{\"contentBlockIndex\":0}");
	} else if (i <= body && ncalls(c) == 0) {
		type = i == body ? "contentBlockStop" : "contentBlockDelta";
		r = i == body ? buf_printf(&p, "{\"contentBlockIndex\":%d}", th / 3) : buf_printf(&p,
		    "{\"contentBlockIndex\":%d,\"delta\":{\"text\":\"%.*s\"}}", th / 3,
		    (int)delta(i - 1 - th)->len, delta(i - 1 - th)->p);
	} else if (i <= body) {
		int call = (i - 1) / 4;

		type = q == 0 ? "contentBlockStart" : q == 3 ? "contentBlockStop" : "contentBlockDelta";
		r = buf_printf(&p, "{\"contentBlockIndex\":%d", call);
		if (q == 0) {
			r |= PUT(&p, ",\"start\":{\"toolUse\":{\"toolUseId\":");
			r |= put_call_id(&p, "tooluse_", c, call);
			r |= PUT(&p, ",\"name\":\"");
			r |= put_tool_name(&p, c);
			r |= PUT(&p, "\"}}");
		} else if (q != 3) {
			r |= PUT(&p, ",\"delta\":{\"toolUse\":{\"input\":\"");
			r |= q == 1 ? PUT(&p, ARGS_A) : buf_printf(&p, ARGS_B, call);
			r |= PUT(&p, "\"}}");
		}
		r |= PUT(&p, "}");
	} else if (i == body + 1) {
		type = "messageStop";
		r = buf_printf(&p, "{\"stopReason\":\"%s\"}", ncalls(c) ? "tool_use" : "end_turn");
	} else {
		type = "metadata";
		r = buf_printf(&p, "{\"usage\":{\"inputTokens\":%ld,\"outputTokens\":%ld,"
		    "\"totalTokens\":%ld,\"cacheReadInputTokens\":%ld,\"cacheWriteInputTokens\":%ld},"
		    "\"metrics\":{\"latencyMs\":1}}", input > 0 ? input : 0, k[MOCK_COMPLETION_TOKENS],
		    (input > 0 ? input : 0) + k[MOCK_COMPLETION_TOKENS] + k[MOCK_CACHED_TOKENS] + write,
		    k[MOCK_CACHED_TOKENS], write);
	}
	r |= put_frame(b, type, 0, &p, bad);
	buf_release(&p);
	return r;
}

/* ---- Bedrock's InvokeModel: Anthropic's events in frames ---------------------------------- */

/*
 * Event i of Anthropic's stream as InvokeModel sends it: one "chunk" frame
 * whose payload is {"bytes": base64(the event's JSON)}; the last event
 * (message_stop) with Bedrock's invocation metrics added, as Bedrock does.
 * Fault malformed: the second frame's CRC is wrong; faults *_mid_stream:
 * half the events, then an exception frame.
 */
static int
invoke_frame(struct buf *b, const struct mock_call *c, int i)
{
	struct mock_call plain = *c;
	struct buf sse = { 0 }, json = { 0 }, p = { 0 };
	const char *data, *end;
	int r, last = i == mock_stream_frames(c) - 1;

	if (bedrock_exception(c) && last)
		return exception_frame(b, c);
	plain.host = MOCK_HOST_DIRECT;
	r = mock_stream_frame(&sse, &plain, i);
	data = sse.data ? strstr(sse.data, "data: ") : NULL;
	if (r < 0 || data == NULL) {
		buf_release(&sse);
		return -1;
	}
	data += 6;
	end = strchr(data, '\n');
	r = buf_append(&json, data, end ? (size_t)(end - data) : strlen(data));
	if (last && json.len > 0 && json.data[json.len - 1] == '}') {
		json.len--;
		r |= buf_printf(&json, ",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":%ld,"
		    "\"outputTokenCount\":%ld,\"invocationLatency\":1,\"firstByteLatency\":1}}",
		    c->knob[MOCK_PROMPT_TOKENS], c->knob[MOCK_COMPLETION_TOKENS]);
	}
	r |= PUT(&p, "{\"bytes\":\"");
	if (r == 0 && buf_reserve(&p, 4 * (json.len + 2) / 3 + 4) == 0) {
		p.len += (size_t)EVP_EncodeBlock((unsigned char *)p.data + p.len,
		    (const unsigned char *)json.data, (int)json.len);
		p.data[p.len] = '\0';
	} else
		r = -1;
	r |= PUT(&p, "\"}");
	r |= put_frame(b, "chunk", 0, &p, c->fault == MOCK_FAULT_MALFORMED && i == 1);
	buf_release(&sse);
	buf_release(&json);
	buf_release(&p);
	return r;
}

/* ---- dispatch by shape --------------------------------------------------------------- */

int
mock_body(struct buf *b, const struct mock_call *c)
{
	if (ncalls(c) > 0 && c->shape == MOCK_CHAT)
		return chat_tools_body(b, c);
	if (ncalls(c) > 0 && c->shape == MOCK_MESSAGES)
		return messages_tools_body(b, c);
	if (ncalls(c) > 0 && c->shape == MOCK_RESPONSES)
		return put_tools_response(b, c, 1);
	switch (c->shape) {
	case MOCK_CHAT:		return chat_body(b, c);
	case MOCK_COMPLETIONS:	return completions_body(b, c);
	case MOCK_EMBEDDINGS:	return embeddings_body(b, c);
	case MOCK_RESPONSES:	return responses_body(b, c);
	case MOCK_MESSAGES:	return messages_body(b, c);
	case MOCK_GEMINI:	return gemini_body(b, c);
	case MOCK_BEDROCK:	return bedrock_body(b, c);
	}
	return -1;
}

/* Streams of a malformed answer are one event whose data is cut short. */
int
mock_malformed_body(struct buf *b, const struct mock_call *c)
{
	int r = 0;

	if (c->stream && c->shape == MOCK_MESSAGES)
		r |= PUT(b, "event: message_start\ndata: ");
	else if (c->stream && c->shape == MOCK_RESPONSES)
		r |= PUT(b, "event: response.created\ndata: ");
	else if (c->stream)
		r |= PUT(b, "data: ");
	r |= buf_printf(b, "{\"id\":\"mock%lu\",\"object\":\"mock\",\"choices\":[{\"index\":0,"
	    "\"message\":{\"role\":\"assistant\",\"content\":\"this body stops he", c->seq);
	if (c->stream)
		r |= PUT(b, "\n\n");
	return r;
}

int
mock_stream_frames(const struct mock_call *c)
{
	if (c->host == MOCK_HOST_BEDROCK && bedrock_exception(c)) {
		struct mock_call plain = *c;

		plain.host = MOCK_HOST_DIRECT;	/* InvokeModel's: half of Anthropic's events, then it */
		return mock_stream_frames(&plain) / 2 + 1;
	}
	if (ncalls(c) > 0 && c->shape == MOCK_CHAT)
		return chat_tools_frames(c);
	if (ncalls(c) > 0 && c->shape == MOCK_MESSAGES)
		return messages_tools_frames(c);
	if (ncalls(c) > 0 && c->shape == MOCK_RESPONSES)
		return responses_tools_frames(c);
	switch (c->shape) {
	case MOCK_CHAT:
	case MOCK_COMPLETIONS:	return openai_frames(c);
	case MOCK_RESPONSES:	return responses_frames(c);
	case MOCK_MESSAGES:	return messages_frames(c);
	case MOCK_GEMINI:	return gemini_frames(c);
	case MOCK_BEDROCK:	return bedrock_frames(c);
	case MOCK_EMBEDDINGS:	break;
	}
	return 0;
}

int
mock_stream_frame(struct buf *b, const struct mock_call *c, int i)
{
	if (c->host == MOCK_HOST_BEDROCK)
		return invoke_frame(b, c, i);
	if (ncalls(c) > 0 && c->shape == MOCK_CHAT)
		return chat_tools_frame(b, c, i);
	if (ncalls(c) > 0 && c->shape == MOCK_MESSAGES)
		return messages_tools_frame(b, c, i);
	if (ncalls(c) > 0 && c->shape == MOCK_RESPONSES)
		return responses_tools_frame(b, c, i);
	switch (c->shape) {
	case MOCK_CHAT:
	case MOCK_COMPLETIONS:	return openai_frame(b, c, i);
	case MOCK_RESPONSES:	return responses_frame(b, c, i);
	case MOCK_MESSAGES:	return messages_frame(b, c, i);
	case MOCK_GEMINI:	return gemini_frame(b, c, i);
	case MOCK_BEDROCK:	return bedrock_frame(b, c, i);
	case MOCK_EMBEDDINGS:	break;
	}
	return -1;
}

/* ---- the rest ------------------------------------------------------------------------- */

int
mock_error_body(struct buf *b, int status, const char *msg)
{
	const char *type = "invalid_request_error", *code = "invalid_request";
	int r;

	switch (status) {
	case 401: code = "invalid_api_key"; break;
	case 403: type = "permission_error"; code = "permission_denied"; break;
	case 404: code = "not_found"; break;
	case 405: code = "method_not_allowed"; break;
	case 408: type = "timeout_error"; code = "timeout"; break;
	case 429: type = "rate_limit_error"; code = "rate_limit_exceeded"; break;
	case 503: type = "server_error"; code = "service_unavailable"; break;
	default:
		if (status >= 500) {
			type = "server_error";
			code = "server_error";
		}
	}
	r = PUT(b, "{\"error\":{\"message\":\"");
	r |= mock_json_escape(b, msg, strlen(msg));
	return r | buf_printf(b, "\",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}", type, code);
}

const char *
mock_bedrock_error_type(int status)
{
	switch (status) {
	case 400: return "ValidationException";
	case 403: return "AccessDeniedException";
	case 404: return "ResourceNotFoundException";
	case 408: return "ModelTimeoutException";
	case 424: return "ModelErrorException";
	case 429: return "ThrottlingException";
	case 503: return "ServiceUnavailableException";
	default:  return status >= 500 ? "InternalServerException" : "ValidationException";
	}
}

int
mock_bedrock_error_body(struct buf *b, const char *msg)
{
	int r = PUT(b, "{\"message\":\"");

	r |= mock_json_escape(b, msg, strlen(msg));
	return r | PUT(b, "\"}");
}

int
mock_anthropic_error_body(struct buf *b, const char *msg)
{
	int r = PUT(b, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
	    "\"message\":\"");

	r |= mock_json_escape(b, msg, strlen(msg));
	return r | PUT(b, "\"}}");
}

int
mock_fault_status(enum mock_fault fault)
{
	switch (fault) {
	case MOCK_FAULT_CONTEXT_LENGTH:
	case MOCK_FAULT_CONTENT_POLICY:
		return 400;
	case MOCK_FAULT_ERROR_USAGE:
		return 500;
	default:
		return 0;
	}
}

/*
 * What each provider says, word for word, when the prompt does not fit the
 * context window (context_length), when a filter blocks it (content_policy),
 * and when it fails (error_usage, which adds the usage in the endpoint's own
 * shape, as a provider that billed the failed attempt would).
 */
int
mock_fault_body(struct buf *b, const struct mock_call *c)
{
	enum { OPENAI, ANTHROPIC, GEMINI, BEDROCK } fmt = OPENAI;
	int ctx = c->fault == MOCK_FAULT_CONTEXT_LENGTH, r;

	if (c->shape == MOCK_BEDROCK || c->host == MOCK_HOST_BEDROCK)
		fmt = BEDROCK;
	else if (c->shape == MOCK_MESSAGES)
		fmt = ANTHROPIC;
	else if (c->shape == MOCK_GEMINI)
		fmt = GEMINI;

	if (c->fault != MOCK_FAULT_ERROR_USAGE) {
		switch (fmt) {
		case OPENAI:
			return ctx ? PUT(b, "{\"error\":{\"message\":\"This model's maximum context "
			    "length is 128000 tokens. However, your messages resulted in 200000 "
			    "tokens. Please reduce the length of the messages.\",\"type\":"
			    "\"invalid_request_error\",\"param\":\"messages\",\"code\":"
			    "\"context_length_exceeded\"}}") :
			    PUT(b, "{\"error\":{\"message\":\"Your request was rejected as a result "
			    "of our safety system.\",\"type\":\"invalid_request_error\",\"param\":"
			    "null,\"code\":\"content_policy_violation\"}}");
		case ANTHROPIC:
			return mock_anthropic_error_body(b, ctx ?
			    "prompt is too long: 200000 tokens > 199999 maximum" :
			    "Output blocked by content filtering policy");
		case GEMINI:
			return ctx ? PUT(b, "{\"error\":{\"code\":400,\"message\":\"The input token "
			    "count (200000) exceeds the maximum number of tokens allowed (1048576).\","
			    "\"status\":\"INVALID_ARGUMENT\"}}") :
			    PUT(b, "{\"error\":{\"code\":400,\"message\":\"The request was blocked "
			    "due to safety settings.\",\"status\":\"INVALID_ARGUMENT\"}}");
		case BEDROCK:
			return mock_bedrock_error_body(b, ctx ? "Input is too long for requested model." :
			    "The request was blocked by content filters.");
		}
		return -1;
	}

	switch (fmt) {
	case OPENAI:
		r = PUT(b, "{\"error\":{\"message\":\"The server had an error while processing "
		    "your request. Sorry about that!\",\"type\":\"server_error\",\"param\":null,"
		    "\"code\":\"server_error\"},\"usage\":");
		if (c->shape == MOCK_RESPONSES)
			r |= put_responses_usage(b, c);
		else if (c->shape == MOCK_EMBEDDINGS)
			r |= buf_printf(b, "{\"prompt_tokens\":%ld,\"total_tokens\":%ld}",
			    c->knob[MOCK_PROMPT_TOKENS], c->knob[MOCK_PROMPT_TOKENS]);
		else
			r |= put_openai_usage(b, c);
		return r | PUT(b, "}");
	case ANTHROPIC:
		r = PUT(b, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
		    "\"Internal server error\"},\"usage\":");
		r |= put_anthropic_usage(b, c, c->knob[MOCK_COMPLETION_TOKENS]);
		return r | PUT(b, "}");
	case GEMINI:
		r = PUT(b, "{\"error\":{\"code\":500,\"message\":\"An internal error has occurred. "
		    "Please retry or report in https://developers.generativeai.google/guide/"
		    "troubleshooting\",\"status\":\"INTERNAL\"}");
		r |= put_gemini_usage(b, c, 1);
		return r | PUT(b, "}");
	case BEDROCK:
		/* Converse's usage, or InvokeModel's, whose body is Anthropic's */
		r = PUT(b, "{\"message\":\"The system encountered an unexpected error during "
		    "processing. Try your request again.\",\"usage\":");
		r |= c->shape == MOCK_BEDROCK ? put_bedrock_usage(b, c) :
		    put_anthropic_usage(b, c, c->knob[MOCK_COMPLETION_TOKENS]);
		return r | PUT(b, "}");
	}
	return -1;
}

int
mock_models_body(struct buf *b, time_t created)
{
	static const char *const ids[] = {
		"gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "claude-sonnet-4-5", "mock-model",
	};
	size_t i;
	int r;

	r = PUT(b, "{\"object\":\"list\",\"data\":[");
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		r |= buf_printf(b, "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":%ld,"
		    "\"owned_by\":\"mockprovider\"}", i ? "," : "", ids[i], (long)created);
	return r | PUT(b, "]}");
}
