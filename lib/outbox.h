/*
 * The outbox: outgoing deliveries (spend exports POSTed as JSON, alerts to
 * Slack-compatible and generic JSON webhooks, mail over SMTP) kept in the
 * ledger's LMDB environment and retried until they go through.  Any process
 * holding the ledger open for writing enqueues (outbox_enqueue(), no
 * network); the accountant runs the one delivery runtime (outbox_start())
 * on its event loop, with libcurl's multi interface; tollctl lists the items
 * (outbox_scan()).
 *
 * Nothing blocks the event loop but one step of SMTP: libcurl waits for the
 * server's reply to the end of a message inside the transfer (smtp_done(),
 * even with the multi interface), so a slow mail server holds the loop for
 * up to policy.timeout_ms.  Servers answer in milliseconds as a rule; keep
 * the timeout modest where mail is used.
 *
 * Delivery is at least once.  An item is marked delivered in a transaction
 * after its transfer ended; a process that dies between the two (or an
 * outbox_stop() during a transfer) leaves it pending, and it is sent again.
 * Receivers that must not see a duplicate can use the label or the body.
 *
 * Items are stored as given, secrets included (a Slack webhook's path, an
 * Authorization header, smtp://user:password@host, which curl uses to log
 * in): the ledger directory's permissions guard them, and the runtime's log
 * lines name an item by its label, never by its URL.
 *
 * Database "outbox": key the item id, 8 bytes big endian, ids increasing
 * from 1 (the next is the last + 1); value a msgpack map (layout
 * OUTBOX_LAYOUT; decoders ignore keys they do not know, so fields can be
 * added without a new layout):
 *   v     layout (uint)                  kind  enum outbox_kind (uint)
 *   url   target (str)                   ct    content type, HTTP only (str)
 *   hdr   extra HTTP header lines, "Name: value" (array of str)
 *   body  request body or RFC 5322 message (bin)
 *   from  envelope sender, SMTP (str)    rcpt  envelope recipients, SMTP (array of str)
 *   label for humans (str)               st    enum outbox_state (uint)
 *   ca    created, unix ns (int)         n     attempts made (uint)
 *   na    next attempt, unix ns (int)    la    last attempt ended, unix ns (int, 0: none)
 *   err   the last failure (str)         da    delivered, unix ns (int, 0: not yet)
 */
#ifndef TOLLGATE_OUTBOX_H
#define TOLLGATE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#define OUTBOX_LAYOUT		1
#define OUTBOX_BODY_MAX		(64u << 20)	/* larger bodies are refused at enqueue */
#define OUTBOX_ERROR_MAX	256		/* last_error is cut to this many bytes */

enum outbox_kind {
	OUTBOX_HTTP_POST,	/* url http:// or https://; delivered on a 2xx status */
	OUTBOX_SMTP		/* url smtp:// (STARTTLS when offered) or smtps:// */
};

enum outbox_state { OUTBOX_PENDING, OUTBOX_DELIVERED, OUTBOX_FAILED };

/*
 * One delivery.  Strings are NUL-terminated; NULL is taken as "".  What
 * outbox_scan() hands out points into memory that lives for the callback.
 */
struct outbox_item {
	uint64_t		 id;
	enum outbox_kind	 kind;
	const char		*url;
	const char		*content_type;
	const char *const	*headers;	/* nheaders lines "Name: value" */
	size_t			 nheaders;
	const char		*body;		/* body_len bytes (NUL-terminated when decoded) */
	size_t			 body_len;
	const char		*mail_from;
	const char *const	*mail_rcpt;	/* nrcpt addresses */
	size_t			 nrcpt;
	const char		*label;		/* "export 2026-11-28", "alert budget key team-a 80%" */
	int64_t			 created_ns;
	uint32_t		 attempts;
	int64_t			 next_attempt_ns;
	int64_t			 last_attempt_ns;
	const char		*last_error;	/* "HTTP 503", curl's message; "" */
	enum outbox_state	 state;
	int64_t			 delivered_ns;
};

struct ledger;

/*
 * Adds item in one write transaction of l (opened LEDGER_WRITE by this
 * process), as durable as any ledger commit: it survives the death of any
 * process at once and reaches the disk with the next ledger_sync().  The
 * item is stored pending with no attempts; created_ns 0 means now and
 * next_attempt_ns 0 means at once (a later time defers it).  The caller
 * keeps item.  Returns 0 and *id (id may be NULL), or -1 with err (a URL
 * that does not suit the kind, SMTP without sender or recipients, a body
 * over OUTBOX_BODY_MAX, LMDB's complaint).
 */
int outbox_enqueue(struct ledger *l, const struct outbox_item *item, uint64_t *id,
    char *err, size_t errlen);

/*
 * Visits every item, oldest first, in one read transaction; stops early when
 * fn returns non-zero.  Items this build cannot decode (a newer layout) are
 * skipped.  fn must be quick and must not call into the ledger; the item is
 * valid during the call only.  Returns 0 (also when nothing was ever
 * enqueued), or -1 with err.
 */
typedef int (*outbox_visit_fn)(void *arg, const struct outbox_item *item);
int outbox_scan(struct ledger *l, outbox_visit_fn fn, void *arg, char *err, size_t errlen);

/*
 * Formats a plain-text mail (RFC 5322) for an OUTBOX_SMTP body: Date,
 * From, To (one or several addresses, as the header shows them), Subject
 * (RFC 2047-encoded when not plain ASCII; line breaks become spaces),
 * Message-ID, MIME-Version and Content-Type text/plain; charset=utf-8, then
 * text with CRLF line endings.  Lines of text should stay within RFC 5322's
 * 998 bytes.  Appends to out; returns 0, or -1 (out of memory, or a line
 * break in from or to, a header injection; either NULL) leaving out as it was.
 */
struct buf;
int outbox_mail_format(struct buf *out, const char *from, const char *to,
    const char *subject, const char *text);

/* The runtime's knobs; 0 in any field means its default. */
struct outbox_policy {
	long		timeout_ms;		/* one transfer, connection included; 10 s */
	long		backoff_base_ms;	/* wait after the first failure, doubling; 1 s */
	long		backoff_max_ms;		/* the longest wait; 5 min */
	long		poll_ms;		/* look for due items at least this often; 1 s */
	uint32_t	max_attempts;		/* then the item fails; 8 */
	uint32_t	max_parallel;		/* transfers at once; 4 */
	int64_t		keep_ns;		/* delivered and failed items kept; 7 days */
};

struct event_base;
struct outbox;

/*
 * Starts delivering the due items of l (opened LEDGER_WRITE by this process)
 * on base, under policy (NULL: every default).  Run one runtime per ledger,
 * after fork, in the process that owns base; curl_global_init() must have
 * been called.  The runtime looks for due items every poll_ms, so items
 * enqueued by other processes are picked up too; it deletes delivered and
 * failed items keep_ns after they ended, and logs an item that fails for
 * good with log_error(), once.  Returns 0 and *out, or -1 with err.
 */
int outbox_start(struct event_base *base, struct ledger *l, const struct outbox_policy *policy,
    struct outbox **out, char *err, size_t errlen);

/* Looks for due items on the next turn of the loop, e.g. right after an enqueue; NULL is fine. */
void outbox_kick(struct outbox *ob);

/*
 * Stops starting transfers and abandons those under way: their items stay
 * pending and are sent again by the next runtime.  The loop may keep
 * running.  Idempotent.
 */
void outbox_stop(struct outbox *ob);

/* Stops ob if needed and frees it (NULL is fine); before base is freed. */
void outbox_free(struct outbox *ob);

#endif
