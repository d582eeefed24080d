/*
 * A growable byte buffer, and a growable array macro.  Out of memory is
 * reported by return value, never by aborting.
 */
#ifndef TOLLGATE_BUF_H
#define TOLLGATE_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

/* Appends n bytes and keeps data NUL-terminated; 0 or -1 on ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for n more bytes; 0 or -1. */
int buf_reserve(struct buf *b, size_t n);
void buf_release(struct buf *b);

/* Appends s as one CSV field: quoted, quotes doubled, when it holds a comma, quote or line break. */
int buf_csv_field(struct buf *b, const char *s);

/*
 * Copies the string src into dst of size n, cut to fit, always NUL-terminated
 * (n > 0); returns the length copied.  The hot path's snprintf(dst, n, "%s")
 * without the format machinery.
 */
size_t buf_copy(char *dst, size_t n, const char *src);
/* Writes n bytes as 2n lower-case hex digits and a NUL at out; returns out + 2n. */
char *buf_hex(char *out, const unsigned char *p, size_t n);

/* Reads a whole file (or stdin for "-"); 0, or -1 with errno set. */
int buf_read_file(struct buf *b, const char *path);

/*
 * Grows a (T *ptr, size_t n, size_t cap) array to hold one more element.
 * Evaluates to 0, or -1 on ENOMEM.
 */
int buf_grow_array(void **ptr, size_t *cap, size_t n, size_t elem);
#define ARRAY_GROW(ptr, n, cap) \
	buf_grow_array((void **)&(ptr), &(cap), (n), sizeof(*(ptr)))

#endif
