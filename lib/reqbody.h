/*
 * A client's request body, read once in a worker: the few fields tollgate
 * needs (model, stream, usage options, user, tags, service tier, the output
 * token limit) and where "model" and "stream_options" stand, so the body
 * sent upstream is the client's own with only those spans replaced.  Pure
 * functions over bytes from outside: tests/fuzz/fuzz_reqbody.c drives them.
 */
#ifndef TOLLGATE_REQBODY_H
#define TOLLGATE_REQBODY_H

#include <stddef.h>
#include <stdint.h>

/* Where the rewritten values stand in the body; a length of 0: absent. */
struct reqbody_spans {
	size_t	model_at, model_len;	/* the "model" string, quotes included */
	size_t	so_at, so_len;		/* the "stream_options" object */
};

struct reqbody {
	char			model[128];	/* "" when absent, escaped badly or too long */
	int			stream;
	int			include_usage;	/* stream_options.include_usage is true */
	char			user[128];
	char			tags[256];	/* metadata.tags joined with ',' */
	char			tier[32];	/* service_tier */
	int64_t			max_tokens;	/* max_tokens, max_completion_tokens or
						   max_output_tokens; 0: none; INT64_MAX:
						   not a whole number */
	struct reqbody_spans	spans;
	/*
	 * LiteLLM's routing fields a client may send (they never go upstream,
	 * see reqbody_cut_routing()): fallbacks, model names one per line
	 * ("" none), and num_retries (-1: none).
	 */
	char			fallbacks[512];
	int			num_retries;
	size_t			routing_at[2], routing_len[2];	/* their members' spans; len 0: absent */
	const char		*bad_field;	/* after a failure: the field refused
						   ("model", "metadata.tags"), or NULL
						   when the body is not JSON */
};

/*
 * Reads body[0..len) (a JSON object) into f.  A field tollgate reads may
 * appear once: a second "model" would reach the provider unrewritten.  A
 * string it reads (model, user, service_tier, metadata.tags) may not hold
 * a NUL, raw or as \u0000: it would be read cut short, "gpt-x\u0000evil"
 * as "gpt-x", while the provider reads the whole; f->bad_field names it.
 * Returns 0, or -1 with "line L, column C: what" in err.
 */
int reqbody_parse(const char *body, size_t len, struct reqbody *f, char *err, size_t errlen);

/*
 * Appends to out (emptied first) the body for upstream: the spans' model
 * replaced by model, and, when usage_on, stream_options replaced (or
 * added first) by {"include_usage": true}.  0, or -1 on ENOMEM.
 */
struct buf;
int reqbody_rewrite(const char *body, size_t len, const struct reqbody_spans *sp,
    const char *model, int usage_on, struct buf *out);

/*
 * Cuts the members f->routing_at/len name (each with one comma beside it)
 * out of body[0..*len), in place, and sets *len; the body must be parsed
 * again for its spans.  Returns whether anything was cut.
 */
int reqbody_cut_routing(char *body, size_t *len, const struct reqbody *f);

#endif
