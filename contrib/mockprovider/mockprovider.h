/*
 * The mock provider's three parts: mockprovider.c serves HTTP (routing, knobs,
 * delays, faults, the /mock/ endpoints), shapes.c writes what each
 * provider would answer, and judge.c says whether a request is one the
 * provider would take.  All run in the single mockprovider process.
 */
#ifndef TOLLGATE_MOCKPROVIDER_H
#define TOLLGATE_MOCKPROVIDER_H

#include <stddef.h>
#include <time.h>

struct buf;

/* The numeric knobs, in the order of mock_knob_names[]. */
enum mock_knob {
	MOCK_PROMPT_TOKENS,
	MOCK_COMPLETION_TOKENS,
	MOCK_CACHED_TOKENS,
	MOCK_REASONING_TOKENS,
	MOCK_CACHE_WRITE_TOKENS,
	MOCK_CACHE_WRITE_1H_TOKENS,
	MOCK_CHUNKS,
	MOCK_CHUNK_DELAY_MS,
	MOCK_LATENCY_MS,
	MOCK_STATUS,
	MOCK_TOOL_CALLS,	/* answer with this many tool calls instead of text */
	MOCK_STRICT,		/* 1: refuse (400) a request the provider would refuse */
	MOCK_AUDIO_TOKENS,	/* Gemini: of the prompt, AUDIO tokens */
	MOCK_IMAGE_TOKENS,	/* Gemini: of the prompt, IMAGE tokens */
	MOCK_CACHED_AUDIO_TOKENS, /* Gemini: of the cache, AUDIO tokens */
	MOCK_IMAGE_OUT_TOKENS,	/* Gemini: of the candidates, IMAGE tokens */
	MOCK_RETRY_AFTER,	/* an error answer's Retry-After (seconds), 0: none */
	MOCK_RETRY_AFTER_MS,	/* and retry-after-ms */
	MOCK_RETRY_AFTER_DATE,	/* 1: Retry-After as an HTTP date that many seconds ahead */
	MOCK_COST_FORM,		/* OpenAI usage reports a cost: 1 OpenRouter, 2 xAI, 3 DeepInfra */
	MOCK_PROVIDER_COST,	/* that cost, in picodollars */
	MOCK_NKNOBS
};

enum mock_fault {
	MOCK_FAULT_NONE,
	MOCK_FAULT_RESET,
	MOCK_FAULT_RESET_MID_STREAM,
	MOCK_FAULT_SLOW_HEADERS,
	MOCK_FAULT_MALFORMED,
	MOCK_FAULT_NO_USAGE,
	MOCK_FAULT_SILENCE_MID_STREAM,
	MOCK_FAULT_THROTTLED_MID_STREAM,	/* a ConverseStream's throttlingException frame */
	MOCK_FAULT_EXCEPTION_MID_STREAM,	/* its modelStreamErrorException frame */
	MOCK_FAULT_CONTEXT_LENGTH,	/* 400: the prompt is too long, as each provider words it */
	MOCK_FAULT_CONTENT_POLICY,	/* 400: refused by the content filter */
	MOCK_FAULT_ERROR_USAGE,		/* 500 that still carries (bills) the usage */
	MOCK_NFAULTS
};

enum mock_shape {
	MOCK_CHAT,		/* OpenAI /v1/chat/completions */
	MOCK_COMPLETIONS,	/* OpenAI legacy /v1/completions */
	MOCK_EMBEDDINGS,	/* OpenAI /v1/embeddings (never streams) */
	MOCK_RESPONSES,		/* OpenAI /v1/responses */
	MOCK_MESSAGES,		/* Anthropic /v1/messages */
	MOCK_GEMINI,		/* Gemini /v1beta/models/M:generateContent, :streamGenerateContent */
	MOCK_BEDROCK,		/* Bedrock /model/ID/converse (whole answers only, for now) */
};

/* Where a format is served: its provider's own API, or a cloud's (the URL names the model). */
enum mock_host {
	MOCK_HOST_DIRECT,
	MOCK_HOST_VERTEX,	/* Vertex AI: Gemini, or Claude through rawPredict */
	MOCK_HOST_BEDROCK,	/* Bedrock's InvokeModel: Claude */
};

#define MOCK_MODEL_MAX	256

/*
 * Everything one answer depends on.  Self-contained (the model is copied in)
 * so that a delayed or streamed answer can outlive the request body.
 */
struct mock_call {
	enum mock_shape	 shape;
	enum mock_host	 host;
	long		 knob[MOCK_NKNOBS];
	enum mock_fault	 fault;
	int		 stream;
	int		 include_usage;	/* stream_options.include_usage */
	unsigned long	 seq;		/* request number, makes ids unique */
	time_t		 created;
	size_t		 model_len;
	char		 model[MOCK_MODEL_MAX];	/* JSON string contents, escapes kept */
	size_t		 forced_len;		/* the tool that tool_choice forces, or 0 */
	char		 forced[MOCK_MODEL_MAX];
};

extern const char *const mock_knob_names[MOCK_NKNOBS];
extern const char *const mock_fault_names[MOCK_NFAULTS];

/* Splits the canned reply into stream deltas; 0, or -1 on ENOMEM. */
int mock_shapes_init(void);
void mock_shapes_release(void);

/*
 * Each writer appends to b and returns 0, or -1 on ENOMEM (b then holds a
 * prefix that must not be sent).
 */
int mock_body(struct buf *b, const struct mock_call *c);
/* A 200 body that is not JSON: an object cut short. */
int mock_malformed_body(struct buf *b, const struct mock_call *c);
/* How many events a stream has, and event i of them (0 <= i < frames). */
int mock_stream_frames(const struct mock_call *c);
int mock_stream_frame(struct buf *b, const struct mock_call *c, int i);
/* OpenAI's error object; msg is plain text (it is escaped here). */
int mock_error_body(struct buf *b, int status, const char *msg);
/*
 * Bedrock's: {"message"}, its type (the x-amzn-ErrorType header) the one
 * AWS gives that status, e.g. ThrottlingException for 429.
 */
int mock_bedrock_error_body(struct buf *b, const char *msg);
const char *mock_bedrock_error_type(int status);
/* Anthropic's, for a request it refuses (invalid_request_error). */
int mock_anthropic_error_body(struct buf *b, const char *msg);
/*
 * The faults that are errors (context_length, content_policy, error_usage):
 * mock_fault_status() is the status a fault answers with, 0 for the others;
 * mock_fault_body() writes its body in the format of c's provider (Bedrock's
 * for Converse and InvokeModel, whose x-amzn-ErrorType is the caller's).
 */
int mock_fault_status(enum mock_fault fault);
int mock_fault_body(struct buf *b, const struct mock_call *c);
int mock_models_body(struct buf *b, time_t created);

/*
 * Whether body is a request the provider of shape would take (1), or not
 * (0, with the first thing wrong, by path, in why).  Completions and
 * embeddings are not judged (1).
 */
int mock_judge(enum mock_shape shape, enum mock_host host, const char *body, size_t len,
    char *why, size_t whylen);

/*
 * google.c: Google's token endpoint and Vertex AI's paths.
 * mock_token_exchange() answers POST /token into b: the status, or -1 (ENOMEM);
 * mock_token_valid() says whether an Authorization header holds a token it
 * issued that has not expired; mock_token_stats() writes GET /mock/token;
 * mock_token_configure() takes POST /mock/token ({"status", "expires_in",
 * "reset"}): 0, or -1 with why; mock_vertex_path() reads a Vertex model path
 * into c (shape, host, model, stream): 0, or -1 when it is not one.
 */
int mock_token_exchange(const char *body, size_t len, struct buf *b);
int mock_token_valid(const char *authorization);
int mock_token_stats(struct buf *b);
int mock_token_configure(const char *body, size_t len, char *err, size_t errlen);
int mock_vertex_path(const char *uri, struct mock_call *c);

/* Appends n bytes as the contents of a JSON string (no quotes). */
int mock_json_escape(struct buf *b, const char *s, size_t n);

#endif
