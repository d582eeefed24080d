/*
 * The mock provider's judge: whether a request body is one the real provider
 * would take, by the rules its API reference states (Anthropic Messages,
 * OpenAI chat completions, OpenAI Responses, Gemini's generateContent).  Written here from those
 * references and nothing of tollgate's: the translators in lib/provider/
 * build these bodies, and a judge that shared their code would agree with
 * their bugs.  It reads a whole body with jansson and says the first thing
 * wrong, by path, as the providers' own errors do.  Runs in the mockprovider
 * process, for requests that ask for it (mockprovider.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mockprovider.h"

struct judge {
	char	*why;
	size_t	 len;
	int	 bad;
};

/* Says what is wrong (the first thing only) and returns -1. */
__attribute__((format(printf, 2, 3))) static int
wrong(struct judge *j, const char *fmt, ...)
{
	va_list ap;

	if (!j->bad) {
		va_start(ap, fmt);
		vsnprintf(j->why, j->len, fmt, ap);
		va_end(ap);
		j->bad = 1;
	}
	return -1;
}

static const char *
str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Whether s is one of the NULL-ended list. */
static int
one_of(const char *s, const char *const *list)
{
	for (; s != NULL && *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* Every key of o must be in allowed: the providers refuse what they do not know. */
static int
known_keys(struct judge *j, json_t *o, const char *const *allowed, const char *path)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
		if (!one_of(k, allowed))
			return wrong(j, "%s%s%s: unknown parameter", path, *path ? "." : "", k);
	return 0;
}

static int
need_string(struct judge *j, json_t *o, const char *key, const char *path)
{
	if (!json_is_string(json_object_get(o, key)))
		return wrong(j, "%s.%s: a string is required", path, key);
	return 0;
}

static int
need_text(struct judge *j, json_t *o, const char *key, const char *path)
{
	const char *s = str(o, key);

	if (s == NULL)
		return wrong(j, "%s.%s: a string is required", path, key);
	if (*s == '\0')
		return wrong(j, "%s.%s: must not be empty", path, key);
	return 0;
}

static int
optional_number(struct judge *j, json_t *o, const char *key, double lo, double hi)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
		return wrong(j, "%s: must be a number from %g to %g", key, lo, hi);
	return 0;
}

static int
model_of(struct judge *j, json_t *req)
{
	const char *m = str(req, "model");

	if (m == NULL || *m == '\0')
		return wrong(j, "model: a model name is required");
	return 0;
}

/* ---- Anthropic Messages ---------------------------------------------------------- */

static const char *const a_top[] = { "model", "messages", "max_tokens", "system", "metadata",
	"stop_sequences", "stream", "temperature", "top_p", "top_k", "tools", "tool_choice",
	"thinking", "service_tier", "container", "mcp_servers", "context_management",
	"output_format", "output_config", "mock", NULL };

static int
a_image(struct judge *j, json_t *b, const char *p)
{
	static const char *const media[] = { "image/jpeg", "image/png", "image/gif", "image/webp",
		NULL };
	json_t *src = json_object_get(b, "source");
	const char *t = str(src, "type");
	char sp[160];

	snprintf(sp, sizeof(sp), "%s.source", p);
	if (t != NULL && strcmp(t, "base64") == 0) {
		if (!one_of(str(src, "media_type"), media))
			return wrong(j, "%s.media_type: must be image/jpeg, png, gif or webp", sp);
		return need_text(j, src, "data", sp);
	}
	if (t != NULL && strcmp(t, "url") == 0)
		return need_text(j, src, "url", sp);
	return wrong(j, "%s.type: must be base64 or url", sp);
}

/* One block of message m at path p; calls collects the tool_use ids of an assistant turn. */
static int
a_block(struct judge *j, json_t *b, const char *role, const char *p, json_t *calls)
{
	static const char *const text_keys[] = { "type", "text", "cache_control", "citations",
		NULL };
	static const char *const use_keys[] = { "type", "id", "name", "input", "cache_control",
		NULL };
	static const char *const result_keys[] = { "type", "tool_use_id", "content", "is_error",
		"cache_control", NULL };
	static const char *const image_keys[] = { "type", "source", "cache_control", NULL };
	const char *t = str(b, "type");
	int user = strcmp(role, "user") == 0;

	if (!json_is_object(b) || t == NULL)
		return wrong(j, "%s.type: a block needs a type", p);
	if (strcmp(t, "text") == 0)
		return known_keys(j, b, text_keys, p) < 0 ? -1 : need_text(j, b, "text", p);
	if (strcmp(t, "image") == 0 && user)
		return known_keys(j, b, image_keys, p) < 0 ? -1 : a_image(j, b, p);
	if (strcmp(t, "tool_use") == 0 && !user) {
		if (known_keys(j, b, use_keys, p) < 0 || need_text(j, b, "id", p) < 0 ||
		    need_text(j, b, "name", p) < 0)
			return -1;
		if (!json_is_object(json_object_get(b, "input")))
			return wrong(j, "%s.input: must be an object", p);
		return json_array_append(calls, json_object_get(b, "id"));
	}
	if (strcmp(t, "tool_result") == 0 && user) {
		json_t *c = json_object_get(b, "content");

		if (known_keys(j, b, result_keys, p) < 0 || need_text(j, b, "tool_use_id", p) < 0)
			return -1;
		if (c != NULL && !json_is_string(c) && !json_is_array(c))
			return wrong(j, "%s.content: must be a string or an array of blocks", p);
		return 0;
	}
	if (strcmp(t, "thinking") == 0 && !user)
		return need_string(j, b, "thinking", p) < 0 ? -1 : need_string(j, b, "signature", p);
	if (strcmp(t, "redacted_thinking") == 0 && !user)
		return need_string(j, b, "data", p);
	if (strcmp(t, "document") == 0 && user)
		return 0;
	return wrong(j, "%s.type: '%s' is not a block a%s %s message may hold", p, t,
	    user ? "" : "n", role);
}

/*
 * The tool_result blocks of user message m (at index i) answer exactly the
 * tool_use ids of the assistant turn before it (asked), and come first.
 */
static int
a_results(struct judge *j, json_t *m, size_t i, json_t *asked)
{
	json_t *content = json_object_get(m, "content"), *b;
	size_t k, n = 0, a;
	int others = 0, found;

	json_array_foreach(content, k, b) {
		if (json_is_string(content))
			break;
		if (!json_is_object(b) || strcmp(str(b, "type") ? str(b, "type") : "", "tool_result")) {
			others = 1;
			continue;
		}
		if (others)
			return wrong(j, "messages[%zu].content[%zu]: tool_result blocks must come "
			    "first in the content", i, k);
		found = 0;
		for (a = 0; a < json_array_size(asked); a++)
			found |= strcmp(json_string_value(json_array_get(asked, a)),
			    str(b, "tool_use_id")) == 0;
		if (!found)
			return wrong(j, "messages[%zu].content[%zu].tool_use_id: '%s' answers no "
			    "tool_use of the message before", i, k, str(b, "tool_use_id"));
		n++;
	}
	if (n < json_array_size(asked))
		return wrong(j, "messages[%zu]: tool_use ids of messages[%zu] were found without "
		    "tool_result blocks immediately after", i, i - 1);
	return 0;
}

static int
a_messages(struct judge *j, json_t *msgs)
{
	json_t *m, *content, *b, *asked = json_array(), *calls = json_array();
	const char *role, *prev = NULL;
	char p[96];
	size_t i, k;
	int rc = -1;

	if (asked == NULL || calls == NULL)
		goto out;
	if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
		wrong(j, "messages: at least one message is required");
		goto out;
	}
	json_array_foreach(msgs, i, m) {
		static const char *const roles[] = { "user", "assistant", NULL };
		static const char *const keys[] = { "role", "content", NULL };

		role = str(m, "role");
		if (!json_is_object(m) || !one_of(role, roles)) {
			wrong(j, "messages[%zu].role: must be user or assistant", i);
			goto out;
		}
		snprintf(p, sizeof(p), "messages[%zu]", i);
		if (known_keys(j, m, keys, p) < 0)
			goto out;
		if (prev != NULL && strcmp(prev, role) == 0) {
			wrong(j, "messages[%zu].role: roles must alternate between user and assistant",
			    i);
			goto out;
		}
		content = json_object_get(m, "content");
		if (json_is_string(content) && *json_string_value(content) == '\0' &&
		    !(i + 1 == json_array_size(msgs) && strcmp(role, "assistant") == 0)) {
			wrong(j, "%s.content: text content must be non-empty", p);
			goto out;
		}
		if (!json_is_string(content) && (!json_is_array(content) ||
		    json_array_size(content) == 0)) {
			wrong(j, "%s.content: a string or a non-empty array of blocks", p);
			goto out;
		}
		json_array_clear(calls);
		if (json_is_array(content))
			json_array_foreach(content, k, b) {
				char bp[128];

				snprintf(bp, sizeof(bp), "%s.content[%zu]", p, k);
				if (a_block(j, b, role, bp, calls) < 0)
					goto out;
			}
		if (strcmp(role, "user") == 0 && a_results(j, m, i, asked) < 0)
			goto out;
		json_array_clear(asked);
		if (strcmp(role, "assistant") == 0)
			json_array_extend(asked, calls);
		prev = role;
	}
	rc = 0;
out:
	json_decref(asked);
	json_decref(calls);
	return rc;
}

static int
a_tools(struct judge *j, json_t *req)
{
	static const char *const keys[] = { "name", "description", "input_schema", "cache_control",
		"type", "strict", NULL };
	json_t *tools = json_object_get(req, "tools"), *t, *choice = json_object_get(req,
	    "tool_choice");
	static const char *const choices[] = { "auto", "any", "tool", "none", NULL };
	size_t i;
	char p[48];

	if (tools != NULL && !json_is_array(tools))
		return wrong(j, "tools: must be an array");
	json_array_foreach(tools, i, t) {
		const char *type = str(t, "type");

		snprintf(p, sizeof(p), "tools[%zu]", i);
		if (type != NULL && strcmp(type, "custom") != 0)
			continue;	/* a server tool: web_search_20250305 and the like */
		if (known_keys(j, t, keys, p) < 0 || need_text(j, t, "name", p) < 0)
			return -1;
		if (!json_is_object(json_object_get(t, "input_schema")) ||
		    !json_is_string(json_object_get(json_object_get(t, "input_schema"), "type")))
			return wrong(j, "%s.input_schema: an object with a type is required", p);
	}
	if (choice == NULL)
		return 0;
	if (!json_is_object(choice) || !one_of(str(choice, "type"), choices))
		return wrong(j, "tool_choice.type: must be auto, any, tool or none");
	if (strcmp(str(choice, "type"), "tool") == 0 && need_text(j, choice, "name", "tool_choice") < 0)
		return -1;
	if (tools == NULL && strcmp(str(choice, "type"), "none") != 0)
		return wrong(j, "tool_choice: may only be given with tools");
	return 0;
}

static int
a_request(struct judge *j, json_t *req)
{
	json_t *max = json_object_get(req, "max_tokens"), *sys = json_object_get(req, "system");
	json_t *th = json_object_get(req, "thinking"), *stop = json_object_get(req, "stop_sequences");
	json_t *v;
	size_t i;

	if (known_keys(j, req, a_top, "") < 0 || model_of(j, req) < 0)
		return -1;
	if (!json_is_integer(max) || json_integer_value(max) < 1)
		return wrong(j, "max_tokens: a positive integer is required");
	if (sys != NULL && !json_is_string(sys)) {
		if (!json_is_array(sys))
			return wrong(j, "system: a string or an array of text blocks");
		json_array_foreach(sys, i, v)
			if (!json_is_object(v) || strcmp(str(v, "type") ? str(v, "type") : "", "text") ||
			    !json_is_string(json_object_get(v, "text")))
				return wrong(j, "system[%zu]: must be a text block", i);
	}
	if (stop != NULL) {
		if (!json_is_array(stop))
			return wrong(j, "stop_sequences: must be an array of strings");
		json_array_foreach(stop, i, v)
			if (!json_is_string(v))
				return wrong(j, "stop_sequences[%zu]: must be a string", i);
	}
	if (th != NULL) {
		const char *t = str(th, "type");
		json_t *budget = json_object_get(th, "budget_tokens");

		if (t != NULL && strcmp(t, "enabled") == 0) {
			if (!json_is_integer(budget) || json_integer_value(budget) < 1024)
				return wrong(j, "thinking.budget_tokens: must be at least 1024");
			if (json_integer_value(budget) >= json_integer_value(max))
				return wrong(j, "max_tokens: must be greater than thinking.budget_tokens");
		} else if (t == NULL || (strcmp(t, "disabled") != 0 && strcmp(t, "adaptive") != 0))
			return wrong(j, "thinking.type: must be enabled, disabled or adaptive");
	}
	if (optional_number(j, req, "temperature", 0, 1) < 0 ||
	    optional_number(j, req, "top_p", 0, 1) < 0 || a_tools(j, req) < 0)
		return -1;
	return a_messages(j, json_object_get(req, "messages"));
}

/* ---- OpenAI chat completions ------------------------------------------------------- */

static const char *const c_top[] = { "model", "messages", "audio", "frequency_penalty",
	"function_call", "functions", "logit_bias", "logprobs", "max_completion_tokens",
	"max_tokens", "metadata", "modalities", "n", "parallel_tool_calls", "prediction",
	"presence_penalty", "prompt_cache_key", "reasoning_effort", "response_format",
	"safety_identifier", "seed", "service_tier", "stop", "store", "stream", "stream_options",
	"temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
	"web_search_options", "mock", NULL };

/* A content that is a string or an array of parts of the given types. */
static int
c_content(struct judge *j, json_t *c, const char *const *types, const char *p, int may_be_null)
{
	json_t *part;
	size_t i;

	if (json_is_string(c) || (c == NULL && may_be_null) || (json_is_null(c) && may_be_null))
		return 0;
	if (!json_is_array(c))
		return wrong(j, "%s.content: must be a string or an array of parts", p);
	json_array_foreach(c, i, part) {
		const char *t = str(part, "type");

		if (!one_of(t, types))
			return wrong(j, "%s.content[%zu].type: '%s' is not allowed here", p, i,
			    t ? t : "(none)");
		if (strcmp(t, "text") == 0 && !json_is_string(json_object_get(part, "text")))
			return wrong(j, "%s.content[%zu].text: a string is required", p, i);
		if (strcmp(t, "image_url") == 0 &&
		    !json_is_string(json_object_get(json_object_get(part, "image_url"), "url")))
			return wrong(j, "%s.content[%zu].image_url.url: a string is required", p, i);
	}
	return 0;
}

static int
c_calls(struct judge *j, json_t *calls, const char *p, json_t *open)
{
	json_t *tc, *fn;
	size_t i;
	char cp[96];

	if (!json_is_array(calls) || json_array_size(calls) == 0)
		return wrong(j, "%s.tool_calls: must be a non-empty array", p);
	json_array_foreach(calls, i, tc) {
		snprintf(cp, sizeof(cp), "%s.tool_calls[%zu]", p, i);
		fn = json_object_get(tc, "function");
		if (need_text(j, tc, "id", cp) < 0)
			return -1;
		if (strcmp(str(tc, "type") ? str(tc, "type") : "", "function") != 0)
			return wrong(j, "%s.type: must be function", cp);
		strncat(cp, ".function", sizeof(cp) - strlen(cp) - 1);
		if (need_text(j, fn, "name", cp) < 0 || need_string(j, fn, "arguments", cp) < 0)
			return -1;
		json_array_append(open, json_object_get(tc, "id"));
	}
	return 0;
}

/* Takes id out of open; 0 when it was there. */
static int
answered(json_t *open, const char *id)
{
	size_t i;

	for (i = 0; id != NULL && i < json_array_size(open); i++)
		if (strcmp(json_string_value(json_array_get(open, i)), id) == 0)
			return json_array_remove(open, i);
	return -1;
}

static int
c_messages(struct judge *j, json_t *msgs)
{
	static const char *const roles[] = { "system", "developer", "user", "assistant", "tool",
		"function", NULL };
	static const char *const text[] = { "text", NULL };
	static const char *const user[] = { "text", "image_url", "input_audio", "file", NULL };
	static const char *const assistant[] = { "text", "refusal", NULL };
	json_t *m, *open = json_array();
	const char *role;
	char p[48];
	size_t i;
	int rc = -1;

	if (open == NULL)
		return wrong(j, "out of memory");
	if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
		wrong(j, "messages: a non-empty array is required");
		goto out;
	}
	json_array_foreach(msgs, i, m) {
		snprintf(p, sizeof(p), "messages[%zu]", i);
		role = str(m, "role");
		if (!one_of(role, roles)) {
			wrong(j, "%s.role: '%s' is not a role", p, role ? role : "(none)");
			goto out;
		}
		if (strcmp(role, "tool") != 0 && json_array_size(open) > 0) {
			wrong(j, "%s: an assistant message with 'tool_calls' must be followed by tool "
			    "messages responding to each 'tool_call_id'", p);
			goto out;
		}
		if (strcmp(role, "tool") == 0) {
			if (need_text(j, m, "tool_call_id", p) < 0)
				goto out;
			if (answered(open, str(m, "tool_call_id")) < 0) {
				wrong(j, "%s.tool_call_id: '%s' answers no tool call of the assistant "
				    "message before", p, str(m, "tool_call_id"));
				goto out;
			}
			if (c_content(j, json_object_get(m, "content"), text, p, 0) < 0)
				goto out;
		} else if (strcmp(role, "assistant") == 0) {
			json_t *calls = json_object_get(m, "tool_calls");

			if (calls != NULL && c_calls(j, calls, p, open) < 0)
				goto out;
			if (c_content(j, json_object_get(m, "content"), assistant, p, calls != NULL) < 0)
				goto out;
		} else if (c_content(j, json_object_get(m, "content"),
		    strcmp(role, "user") == 0 ? user : text, p, 0) < 0)
			goto out;
	}
	if (json_array_size(open) > 0) {
		wrong(j, "messages: tool calls of the last assistant message have no tool message");
		goto out;
	}
	rc = 0;
out:
	json_decref(open);
	return rc;
}

static int
c_tools(struct judge *j, json_t *req)
{
	static const char *const modes[] = { "none", "auto", "required", NULL };
	json_t *tools = json_object_get(req, "tools"), *t, *choice = json_object_get(req,
	    "tool_choice");
	size_t i;
	char p[64];

	if (tools != NULL && !json_is_array(tools))
		return wrong(j, "tools: must be an array");
	json_array_foreach(tools, i, t) {
		snprintf(p, sizeof(p), "tools[%zu].function", i);
		if (strcmp(str(t, "type") ? str(t, "type") : "", "function") != 0)
			return wrong(j, "tools[%zu].type: must be function", i);
		if (need_text(j, json_object_get(t, "function"), "name", p) < 0)
			return -1;
	}
	if (choice == NULL || one_of(json_string_value(choice), modes))
		return 0;
	if (!json_is_object(choice) || strcmp(str(choice, "type") ? str(choice, "type") : "",
	    "function") != 0)
		return wrong(j, "tool_choice: must be none, auto, required or a function");
	return need_text(j, json_object_get(choice, "function"), "name", "tool_choice.function");
}

static int
c_request(struct judge *j, json_t *req)
{
	if (known_keys(j, req, c_top, "") < 0 || model_of(j, req) < 0)
		return -1;
	if (json_object_get(req, "stream_options") != NULL &&
	    !json_is_true(json_object_get(req, "stream")))
		return wrong(j, "stream_options: only allowed when stream is true");
	if (json_object_get(req, "max_tokens") != NULL &&
	    json_object_get(req, "max_completion_tokens") != NULL)
		return wrong(j, "max_tokens: not with max_completion_tokens (use one)");
	if (optional_number(j, req, "temperature", 0, 2) < 0 ||
	    optional_number(j, req, "top_p", 0, 1) < 0 || c_tools(j, req) < 0)
		return -1;
	return c_messages(j, json_object_get(req, "messages"));
}

/* ---- OpenAI Responses ----------------------------------------------------------------- */

static const char *const r_top[] = { "model", "input", "instructions", "max_output_tokens",
	"temperature", "top_p", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning",
	"stream", "stream_options", "store", "metadata", "user", "previous_response_id", "include",
	"truncation", "service_tier", "prompt_cache_key", "safety_identifier", "background",
	"max_tool_calls", "top_logprobs", "conversation", "prompt", "mock", NULL };

static int
r_parts(struct judge *j, json_t *c, const char *role, const char *p)
{
	static const char *const in[] = { "input_text", "input_image", "input_file", NULL };
	static const char *const out[] = { "output_text", "refusal", NULL };
	json_t *part;
	size_t i;

	if (json_is_string(c))
		return 0;
	if (!json_is_array(c))
		return wrong(j, "%s.content: must be a string or an array of parts", p);
	json_array_foreach(c, i, part) {
		const char *t = str(part, "type");

		if (!one_of(t, strcmp(role, "assistant") == 0 ? out : in))
			return wrong(j, "%s.content[%zu].type: '%s' is not allowed for role %s", p, i,
			    t ? t : "(none)", role);
		if ((strcmp(t, "input_text") == 0 || strcmp(t, "output_text") == 0) &&
		    !json_is_string(json_object_get(part, "text")))
			return wrong(j, "%s.content[%zu].text: a string is required", p, i);
		if (strcmp(t, "input_image") == 0 && !json_is_string(json_object_get(part,
		    "image_url")) && !json_is_string(json_object_get(part, "file_id")))
			return wrong(j, "%s.content[%zu]: an image_url or a file_id is required", p, i);
	}
	return 0;
}

static int
r_input(struct judge *j, json_t *in)
{
	static const char *const roles[] = { "user", "assistant", "system", "developer", NULL };
	json_t *it, *calls = json_array();
	const char *t;
	char p[48];
	size_t i;
	int rc = -1;

	if (calls == NULL)
		return wrong(j, "out of memory");
	if (json_is_string(in)) {
		rc = 0;
		goto out;
	}
	if (!json_is_array(in) || json_array_size(in) == 0) {
		wrong(j, "input: a string or a non-empty array of items is required");
		goto out;
	}
	json_array_foreach(in, i, it) {
		snprintf(p, sizeof(p), "input[%zu]", i);
		t = str(it, "type");
		if (!json_is_object(it)) {
			wrong(j, "%s: must be an object", p);
			goto out;
		}
		if (t == NULL || strcmp(t, "message") == 0) {
			if (!one_of(str(it, "role"), roles)) {
				wrong(j, "%s.role: must be user, assistant, system or developer", p);
				goto out;
			}
			if (r_parts(j, json_object_get(it, "content"), str(it, "role"), p) < 0)
				goto out;
		} else if (strcmp(t, "function_call") == 0) {
			if (need_text(j, it, "call_id", p) < 0 || need_text(j, it, "name", p) < 0 ||
			    need_string(j, it, "arguments", p) < 0)
				goto out;
			json_array_append(calls, json_object_get(it, "call_id"));
		} else if (strcmp(t, "function_call_output") == 0) {
			size_t k;
			int found = 0;

			if (need_text(j, it, "call_id", p) < 0)
				goto out;
			for (k = 0; k < json_array_size(calls); k++)
				found |= strcmp(json_string_value(json_array_get(calls, k)),
				    str(it, "call_id")) == 0;
			if (!found) {
				wrong(j, "%s.call_id: no function call found with call_id '%s'", p,
				    str(it, "call_id"));
				goto out;
			}
			if (!json_is_string(json_object_get(it, "output")) &&
			    !json_is_array(json_object_get(it, "output"))) {
				wrong(j, "%s.output: a string is required", p);
				goto out;
			}
		} else if (strcmp(t, "reasoning") != 0 && strcmp(t, "item_reference") != 0) {
			wrong(j, "%s.type: '%s' is not an input item", p, t);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(calls);
	return rc;
}

static int
r_request(struct judge *j, json_t *req)
{
	static const char *const modes[] = { "none", "auto", "required", NULL };
	static const char *const formats[] = { "text", "json_object", "json_schema", NULL };
	json_t *tools = json_object_get(req, "tools"), *t, *choice = json_object_get(req,
	    "tool_choice"), *max = json_object_get(req, "max_output_tokens");
	json_t *fmt = json_object_get(json_object_get(req, "text"), "format");
	size_t i;
	char p[48];

	if (known_keys(j, req, r_top, "") < 0 || model_of(j, req) < 0)
		return -1;
	if (max != NULL && (!json_is_integer(max) || json_integer_value(max) < 16))
		return wrong(j, "max_output_tokens: an integer of at least 16");
	if (json_object_get(req, "instructions") != NULL && !json_is_string(json_object_get(req,
	    "instructions")))
		return wrong(j, "instructions: must be a string");
	if (tools != NULL && !json_is_array(tools))
		return wrong(j, "tools: must be an array");
	json_array_foreach(tools, i, t) {
		snprintf(p, sizeof(p), "tools[%zu]", i);
		if (strcmp(str(t, "type") ? str(t, "type") : "", "function") != 0)
			continue;	/* a built-in tool */
		if (json_object_get(t, "function") != NULL)
			return wrong(j, "%s.function: unknown parameter (a Responses tool has its "
			    "name at the top)", p);
		if (need_text(j, t, "name", p) < 0)
			return -1;
	}
	if (choice != NULL && !one_of(json_string_value(choice), modes) &&
	    (!json_is_object(choice) || strcmp(str(choice, "type") ? str(choice, "type") : "",
	    "function") != 0 || need_text(j, choice, "name", "tool_choice") < 0))
		return wrong(j, "tool_choice: must be none, auto, required or a function by name");
	if (fmt != NULL) {
		if (!one_of(str(fmt, "type"), formats))
			return wrong(j, "text.format.type: must be text, json_object or json_schema");
		if (strcmp(str(fmt, "type"), "json_schema") == 0 && (need_text(j, fmt, "name",
		    "text.format") < 0 || !json_is_object(json_object_get(fmt, "schema"))))
			return wrong(j, "text.format: json_schema needs a name and a schema");
	}
	if (optional_number(j, req, "temperature", 0, 2) < 0 ||
	    optional_number(j, req, "top_p", 0, 1) < 0)
		return -1;
	return r_input(j, json_object_get(req, "input"));
}

/* ---- Gemini generateContent ---------------------------------------------------------- */

static const char *const g_top[] = { "contents", "systemInstruction", "generationConfig", "tools",
	"toolConfig", "safetySettings", "cachedContent", "labels", "mock", NULL };
static const char *const g_config[] = { "maxOutputTokens", "temperature", "topP", "topK",
	"stopSequences", "candidateCount", "responseMimeType", "responseSchema",
	"responseJsonSchema", "thinkingConfig", "seed", "presencePenalty", "frequencyPenalty",
	"responseLogprobs", "logprobs", "responseModalities", "mediaResolution", NULL };

/* One part: exactly one kind of data. */
static int
g_part(struct judge *j, json_t *part, const char *p, const char *role, json_t *called)
{
	static const char *const kinds[] = { "text", "inlineData", "fileData", "functionCall",
		"functionResponse", "executableCode", "codeExecutionResult", NULL };
	static const char *const extra[] = { "thought", "thoughtSignature", NULL };
	const char *k, *which = NULL;
	json_t *v, *fc;
	size_t n = 0;

	json_object_foreach(part, k, v) {
		if (one_of(k, kinds)) {
			which = k;
			n++;
		} else if (!one_of(k, extra))
			return wrong(j, "%s.%s: unknown field", p, k);
	}
	if (n != 1)
		return wrong(j, "%s: a part holds exactly one of text, inlineData, fileData, "
		    "functionCall, functionResponse", p);
	if (strcmp(which, "text") == 0 && !json_is_string(json_object_get(part, "text")))
		return wrong(j, "%s.text: a string is required", p);
	if (strcmp(which, "inlineData") == 0 && (need_text(j, json_object_get(part, which),
	    "mimeType", p) < 0 || need_text(j, json_object_get(part, which), "data", p) < 0))
		return -1;
	if (strcmp(which, "functionCall") == 0) {
		fc = json_object_get(part, which);
		if (strcmp(role, "model") != 0)
			return wrong(j, "%s.functionCall: only a model turn calls functions", p);
		if (need_text(j, fc, "name", p) < 0)
			return -1;
		if (json_object_get(fc, "args") && !json_is_object(json_object_get(fc, "args")))
			return wrong(j, "%s.functionCall.args: must be an object", p);
		return json_array_append(called, json_object_get(fc, "name"));
	}
	if (strcmp(which, "functionResponse") == 0) {
		size_t i;
		int found = 0;

		fc = json_object_get(part, which);
		if (strcmp(role, "user") != 0)
			return wrong(j, "%s.functionResponse: only a user turn answers calls", p);
		if (need_text(j, fc, "name", p) < 0)
			return -1;
		for (i = 0; i < json_array_size(called); i++)
			found |= strcmp(json_string_value(json_array_get(called, i)), str(fc, "name")) == 0;
		if (!found)
			return wrong(j, "%s.functionResponse.name: '%s' answers no functionCall before it",
			    p, str(fc, "name"));
		if (!json_is_object(json_object_get(fc, "response")))
			return wrong(j, "%s.functionResponse.response: must be an object", p);
	}
	return 0;
}

static int
g_request(struct judge *j, json_t *req)
{
	static const char *const roles[] = { "user", "model", NULL };
	static const char *const modes[] = { "AUTO", "ANY", "NONE", "VALIDATED", NULL };
	json_t *contents = json_object_get(req, "contents"), *c, *part, *called = json_array();
	json_t *cfg = json_object_get(req, "generationConfig"), *tools = json_object_get(req, "tools");
	json_t *t, *d, *mode;
	const char *prev = NULL;
	char p[96];
	size_t i, k;
	int rc = -1;

	if (called == NULL)
		return wrong(j, "out of memory");
	if (known_keys(j, req, g_top, "") < 0)
		goto out;
	if (!json_is_array(contents) || json_array_size(contents) == 0) {
		wrong(j, "contents: a non-empty array is required");
		goto out;
	}
	json_array_foreach(contents, i, c) {
		const char *role = str(c, "role");
		json_t *parts = json_object_get(c, "parts");

		if (!one_of(role, roles)) {
			wrong(j, "contents[%zu].role: must be user or model", i);
			goto out;
		}
		if (prev != NULL && strcmp(prev, role) == 0) {
			wrong(j, "contents[%zu].role: turns must alternate between user and model", i);
			goto out;
		}
		prev = role;
		if (!json_is_array(parts) || json_array_size(parts) == 0) {
			wrong(j, "contents[%zu].parts: a non-empty array is required", i);
			goto out;
		}
		json_array_foreach(parts, k, part) {
			snprintf(p, sizeof(p), "contents[%zu].parts[%zu]", i, k);
			if (g_part(j, part, p, role, called) < 0)
				goto out;
		}
	}
	if (json_object_get(req, "systemInstruction") != NULL) {
		json_t *parts = json_object_get(json_object_get(req, "systemInstruction"), "parts");

		if (!json_is_array(parts) || json_array_size(parts) == 0) {
			wrong(j, "systemInstruction.parts: a non-empty array is required");
			goto out;
		}
		json_array_foreach(parts, k, part)
			if (!json_is_string(json_object_get(part, "text"))) {
				wrong(j, "systemInstruction.parts[%zu].text: a string is required", k);
				goto out;
			}
	}
	if (cfg != NULL && known_keys(j, cfg, g_config, "generationConfig") < 0)
		goto out;
	if (json_object_get(cfg, "maxOutputTokens") && (!json_is_integer(json_object_get(cfg,
	    "maxOutputTokens")) || json_integer_value(json_object_get(cfg, "maxOutputTokens")) < 1)) {
		wrong(j, "generationConfig.maxOutputTokens: a positive integer");
		goto out;
	}
	if (json_object_get(cfg, "responseJsonSchema") && !json_object_get(cfg, "responseMimeType")) {
		wrong(j, "generationConfig.responseJsonSchema: needs responseMimeType application/json");
		goto out;
	}
	json_array_foreach(tools, i, t)
		json_array_foreach(json_object_get(t, "functionDeclarations"), k, d) {
			snprintf(p, sizeof(p), "tools[%zu].functionDeclarations[%zu]", i, k);
			if (need_text(j, d, "name", p) < 0)
				goto out;
		}
	mode = json_object_get(json_object_get(json_object_get(req, "toolConfig"),
	    "functionCallingConfig"), "mode");
	if (mode != NULL && !one_of(json_string_value(mode), modes)) {
		wrong(j, "toolConfig.functionCallingConfig.mode: must be AUTO, ANY, NONE or VALIDATED");
		goto out;
	}
	rc = 0;
out:
	json_decref(called);
	return rc;
}

/* ---- Bedrock Converse ------------------------------------------------------------------ */

static const char *const b_top[] = { "messages", "system", "inferenceConfig", "toolConfig",
	"additionalModelRequestFields", "guardrailConfig", "promptVariables",
	"additionalModelResponseFieldPaths", "requestMetadata", "performanceConfig", "mock", NULL };
static const char *const b_config[] = { "maxTokens", "temperature", "topP", "stopSequences", NULL };

static int
b_request(struct judge *j, json_t *req)
{
	static const char *const kinds[] = { "text", "image", "document", "toolUse", "toolResult",
		"reasoningContent", "cachePoint", "guardContent", "video", NULL };
	json_t *msgs = json_object_get(req, "messages"), *m, *b, *asked = json_array(), *uses = json_array();
	json_t *tools = json_object_get(json_object_get(req, "toolConfig"), "tools"), *t;
	const char *prev = NULL, *k;
	char p[96];
	size_t i, n, x, found;
	int rc = -1, any_use = 0;
	json_t *v;

	if (asked == NULL || uses == NULL)
		goto out;
	if (known_keys(j, req, b_top, "") < 0 ||
	    (json_object_get(req, "inferenceConfig") && known_keys(j, json_object_get(req,
	    "inferenceConfig"), b_config, "inferenceConfig") < 0))
		goto out;
	if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
		wrong(j, "messages: a non-empty list is required");
		goto out;
	}
	json_array_foreach(msgs, i, m) {
		const char *role = str(m, "role");

		if (role == NULL || (strcmp(role, "user") && strcmp(role, "assistant"))) {
			wrong(j, "messages.%zu.role: must be user or assistant", i);
			goto out;
		}
		if ((prev == NULL && strcmp(role, "user")) || (prev && strcmp(prev, role) == 0)) {
			wrong(j, "messages.%zu.role: a conversation must start with a user message and "
			    "alternate", i);
			goto out;
		}
		prev = role;
		if (!json_is_array(json_object_get(m, "content")) ||
		    json_array_size(json_object_get(m, "content")) == 0) {
			wrong(j, "messages.%zu.content: a non-empty list is required", i);
			goto out;
		}
		json_array_clear(uses);
		json_array_foreach(json_object_get(m, "content"), n, b) {
			snprintf(p, sizeof(p), "messages.%zu.content.%zu", i, n);
			x = 0;
			json_object_foreach(b, k, v)
				if (one_of(k, kinds))
					x++;
			if (!json_is_object(b) || x != 1 || json_object_size(b) != 1) {
				wrong(j, "%s: a block holds exactly one member", p);
				goto out;
			}
			if (json_is_object(v = json_object_get(b, "toolUse"))) {
				any_use = 1;
				if (strcmp(role, "assistant") || need_text(j, v, "toolUseId", p) < 0 ||
				    need_text(j, v, "name", p) < 0 || !json_is_object(json_object_get(v,
				    "input"))) {
					wrong(j, "%s.toolUse: an assistant's, with toolUseId, name and an "
					    "input object", p);
					goto out;
				}
				json_array_append(uses, json_object_get(v, "toolUseId"));
			} else if (json_is_object(v = json_object_get(b, "toolResult"))) {
				for (found = 0, x = 0; x < json_array_size(asked); x++)
					found |= str(v, "toolUseId") && strcmp(json_string_value(json_array_get(
					    asked, x)), str(v, "toolUseId")) == 0;
				if (strcmp(role, "user") || !found) {
					wrong(j, "%s.toolResult.toolUseId: answers no toolUse of the turn before",
					    p);
					goto out;
				}
			} else if (json_object_get(b, "text") && !json_is_string(json_object_get(b, "text"))) {
				wrong(j, "%s.text: must be a string", p);
				goto out;
			}
		}
		json_array_clear(asked);
		json_array_extend(asked, uses);
	}
	if (any_use && !json_is_array(tools)) {
		wrong(j, "toolConfig: must be given when messages hold toolUse blocks");
		goto out;
	}
	json_array_foreach(tools, i, t) {
		snprintf(p, sizeof(p), "toolConfig.tools.%zu.toolSpec", i);
		if (need_text(j, json_object_get(t, "toolSpec"), "name", p) < 0)
			goto out;
		if (!json_is_object(json_object_get(json_object_get(json_object_get(t, "toolSpec"),
		    "inputSchema"), "json"))) {
			wrong(j, "%s.inputSchema.json: an object is required", p);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(asked);
	json_decref(uses);
	return rc;
}

/* ---- the verdict ----------------------------------------------------------------------- */

/*
 * Claude on a cloud: Anthropic's body with the cloud's anthropic_version
 * and without the model, which is in the URL (Bedrock's InvokeModel also
 * takes no "stream": its path says it).
 */
static int
a_cloud_request(struct judge *j, json_t *req, enum mock_host host)
{
	const char *want = host == MOCK_HOST_VERTEX ? "vertex-2023-10-16" : "bedrock-2023-05-31";
	const char *v = str(req, "anthropic_version");
	json_t *copy;
	int rc;

	if (v == NULL || strcmp(v, want) != 0)
		return wrong(j, "anthropic_version: must be \"%s\"", want);
	if (json_object_get(req, "model") != NULL)
		return wrong(j, "model: not in the body here (the URL names the model)");
	if (host == MOCK_HOST_BEDROCK && json_object_get(req, "stream") != NULL)
		return wrong(j, "stream: not taken by InvokeModel (the path says it)");
	/* the rest is Anthropic's own request */
	if ((copy = json_deep_copy(req)) == NULL)
		return wrong(j, "out of memory");
	json_object_del(copy, "anthropic_version");
	json_object_set_new(copy, "model", json_string("named-by-the-url"));
	rc = a_request(j, copy);
	json_decref(copy);
	return rc;
}

int
mock_judge(enum mock_shape shape, enum mock_host host, const char *body, size_t len, char *why,
    size_t whylen)
{
	struct judge j = { why, whylen, 0 };
	json_error_t err;
	json_t *req;

	if (whylen > 0)
		why[0] = '\0';
	if (shape != MOCK_MESSAGES && shape != MOCK_CHAT && shape != MOCK_RESPONSES &&
	    shape != MOCK_GEMINI && shape != MOCK_BEDROCK)
		return 1;	/* completions and embeddings: not judged */
	req = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(req))
		wrong(&j, "the body is not a JSON object (%s)", req ? "another value" : err.text);
	else if (shape == MOCK_MESSAGES && host != MOCK_HOST_DIRECT)
		a_cloud_request(&j, req, host);
	else if (shape == MOCK_MESSAGES)
		a_request(&j, req);
	else if (shape == MOCK_CHAT)
		c_request(&j, req);
	else if (shape == MOCK_GEMINI)
		g_request(&j, req);
	else if (shape == MOCK_BEDROCK)
		b_request(&j, req);
	else
		r_request(&j, req);
	json_decref(req);
	return !j.bad;
}
