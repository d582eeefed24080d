/*
 * What every translator (messages.c, responses.c) needs for reading trees
 * from outside and building new ones: paths that name a field in an error,
 * typed reads that never trust a type, the "no equivalent" rule of
 * drop_params, and the field-table walk of a request's top level.  Each
 * translator's request state begins with a struct xt_req, which the
 * table's functions receive.  Run by workers.
 */
#ifndef TOLLGATE_PROVIDER_XLATE_TREE_H
#define TOLLGATE_PROVIDER_XLATE_TREE_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "provider/xlate.h"

#define XT_PATHLEN	128	/* "messages[12].content[3].content[0].type" and the like */
#define XT_TOKENS_MAX	((json_int_t)1 << 48)	/* counts are clamped so that sums never overflow */

/* One request translation: its options, its error, the format it goes to, the tree built. */
struct xt_req {
	const struct xlate_opts	*o;
	struct xlate_error	*e;
	const char		*side;	/* "OpenAI chat", for messages naming where a field went */
	json_t			*out;
};

/* A top-level field and its translation (fn NULL: dropped); the value is never JSON null. */
struct xt_field {
	const char	*name;
	int		(*fn)(struct xt_req *x, const char *key, json_t *v);
};

/* e set to a 500 (out of memory); -1. */
int xt_oom(struct xlate_error *e);

/* A 400 naming path; for "return xt_bad(...)" in the int helpers. */
#define xt_bad(e, path, ...)	((void)xlate_fail((e), 400, (path), __VA_ARGS__), -1)

/*
 * A field with no equivalent in x->side: 0 to drop it under drop_params,
 * else -1 with a 400 naming it.  what: what it is, said after the name in
 * parentheses ("a server tool"), or NULL.
 */
int xt_no_equivalent(struct xt_req *x, const char *path, const char *what);

/* Each member of req through its field in table (not there: no equivalent); 0 or -1. */
int xt_fields(struct xt_req *x, json_t *req, const struct xt_field *table);

/*
 * A "tools" array, each tool translated by one into tools (which may leave
 * it out); none left: no "tools" in x->out.  0 or -1.
 */
typedef int (*xt_tool_fn)(struct xt_req *x, json_t *tool, json_t *tools, size_t i);
int xt_map_tools(struct xt_req *x, const char *key, json_t *v, xt_tool_fn one);

/*
 * Tool i of a chat request's tools: its function's name (checked), and its
 * parameters and description (NULL when absent).  0; 1 when it is not a
 * function tool and drop_params drops it; -1 with the error set.
 */
int xt_chat_function(struct xt_req *x, json_t *tool, size_t i, json_t **name, json_t **params,
    json_t **desc);

/* Same name, same meaning, checked for its type: copied to x->out. */
int xt_pass_number(struct xt_req *x, const char *key, json_t *v);
int xt_pass_string(struct xt_req *x, const char *key, json_t *v);
int xt_pass_bool(struct xt_req *x, const char *key, json_t *v);
int xt_pass_object(struct xt_req *x, const char *key, json_t *v);

/* A field's path into p (XT_PATHLEN bytes), cut when too long: it only names the field. */
void xt_at(char *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets key of o to v, v's reference taken (NULL: an allocation that failed); 0 or -1. */
static inline int
xt_put(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v);
}

/* The string value of key in o, or NULL when absent or not a string. */
static inline const char *
xt_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Whether key of o is the string s. */
int xt_str_is(json_t *o, const char *key, const char *s);

/* The string member key of o at path, or NULL with a 400 naming path.key. */
json_t *xt_need_string(json_t *o, const char *key, const char *path, struct xlate_error *e);

/* A token count: a non-negative integer, clamped; 0 when absent or not a count. */
json_int_t xt_tok(json_t *o, const char *key);

/* A string value made of b's bytes (empty when b never grew). */
json_t *xt_buf_string(const struct buf *b);

/* Appends the string s (NULs and all) to b, after sep when b is not empty; 0 or -1. */
int xt_join(struct buf *b, json_t *s, const char *sep);

/*
 * The items (key: "content", "parts") of the last message of msgs when its
 * role is role, else of a new message of that role: for formats whose turns
 * alternate, where consecutive messages of one role become one.  NULL on ENOMEM.
 */
json_t *xt_turn(json_t *msgs, const char *role, const char *key);

/* Keeps v in *slot when it is a string and *slot holds none (a stream's id, model). */
void xt_keep_string(json_t **slot, json_t *v);

/*
 * A string value of s, which may not be UTF-8 (a message cut to a buffer,
 * a provider's bytes): s itself when it is, else s with every byte past
 * ASCII made '?', so that an error always has a body.  NULL on ENOMEM.
 */
json_t *xt_any_string(const char *s);

/* Copies s into dst (len bytes), cut short of a UTF-8 sequence it would split. */
void xt_copy_text(char *dst, size_t len, const char *s);

/*
 * A decoder's chat chunk: id and model (strings, or NULL for ""), created,
 * choices[0] with delta (its reference taken) and finish (NULL: null),
 * handed to emit.  0, or -1 when out of memory or emit said stop.
 */
int xt_emit_chunk(json_t *id, json_t *model, json_int_t created, json_t *delta,
    const char *finish, xlate_chunk_fn emit, void *arg);

/* Appends an SSE event (its name, or none when NULL; v's compact text as data) to b. */
int xt_sse(struct buf *b, const char *name, json_t *v);

#endif
