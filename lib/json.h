/*
 * A zero-copy pull scanner for JSON.  It walks a buffer in place, hands out
 * keys and scalars as (pointer, length) into the buffer, and skips whole
 * subtrees it is not asked about, so a response body is read once and never
 * built into a tree.  Numbers stay text, for exact decimal parsing.
 *
 * Every call returns -1 on malformed input and leaves a message and the byte
 * offset in the scanner; json_error_position() turns it into line:column.
 */
#ifndef TOLLGATE_JSON_H
#define TOLLGATE_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH	128

enum json_type {
	JSON_NONE,	/* end of input */
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
	JSON_BAD,	/* not the start of any value */
};

struct json_scan {
	const char	*start;
	const char	*p;
	const char	*end;
	int		 depth;
	uint64_t	 fresh[JSON_MAX_DEPTH / 64];	/* bit d: container at depth d has no member yet */
	const char	*error;		/* static message, NULL when fine */
	size_t		 error_at;	/* byte offset of the error */
};

/* A scalar or key: for strings the raw bytes between the quotes (escapes kept). */
struct json_text {
	const char	*ptr;
	size_t		 len;
	int		 escaped;	/* the string holds a backslash */
};

void json_init(struct json_scan *s, const char *buf, size_t len);

/* The type of the next value, after whitespace; consumes nothing. */
enum json_type json_peek(struct json_scan *s);

/* Consumes '{'; then json_next_key() until it returns 0 (the '}' consumed). */
int json_object_begin(struct json_scan *s);
/* 1 with *key set and the ':' consumed, 0 at the end of the object, -1 on error. */
int json_next_key(struct json_scan *s, struct json_text *key);

/* Consumes '['; then json_next_item() until 0: 1 means a value follows. */
int json_array_begin(struct json_scan *s);
int json_next_item(struct json_scan *s);

/* Reads one scalar (string, number, true, false, null); -1 for a container. */
int json_scalar(struct json_scan *s, enum json_type *type, struct json_text *out);

/* Skips one whole value of any type, validating it. */
int json_skip(struct json_scan *s);

/*
 * Skips one object or array checking only strings and bracket balance: the
 * way to pass over parts of a response nobody reads (choices, content) at
 * memory speed.  Scalars are skipped as json_skip() does.
 */
int json_skip_fast(struct json_scan *s);

/* After the last value: 0 when only whitespace remains. */
int json_at_end(struct json_scan *s);

/* Key comparison against a C string (keys with escapes never match). */
int json_text_is(const struct json_text *t, const char *lit);

/* Sets an error at the current position (for callers' semantic errors). */
int json_fail(struct json_scan *s, const char *msg);

/* 1-based line and column of the error (or of the current position). */
void json_position(const struct json_scan *s, int *line, int *col);

/*
 * Decodes a string's escapes into dst (at most dstlen-1 bytes, NUL-terminated).
 * Returns the decoded length, or -1 when it does not fit or is malformed.
 */
int json_unescape(const struct json_text *t, char *dst, size_t dstlen);


/* Appends s as a quoted, escaped JSON string; 0 or -1 on ENOMEM. */
struct buf;
int json_write_string(struct buf *out, const char *s);
#endif
