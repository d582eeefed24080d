/*
 * The stages of a streamed answer, from the provider's bytes to the
 * client's, in the shape of Varnish's delivery processors: each stage is a
 * small struct of functions (init, push, fini) that takes what the stage
 * before it pushed and pushes what it makes to the next, so that libcurl's
 * push callback drives the whole chain.  A chain is a NULL-ended array of
 * stages, constant data; what a stage keeps between pushes lives in the
 * object the chain runs for (arg: a worker's exchange).  The framing stage
 * comes first (SSE today; a dialect with other framing, AWS event-stream,
 * brings its own), the client's last.
 */
#ifndef TOLLGATE_PROVIDER_STAGE_H
#define TOLLGATE_PROVIDER_STAGE_H

#include <stddef.h>

enum stage_what {
	STAGE_BYTES,	/* bytes: into framing, the provider's; after it, those between events */
	STAGE_EVENT,	/* one event: its name, its data, and its bytes as they came */
	STAGE_FLUSH,	/* the end of what the provider delivered this time */
	STAGE_END,	/* the provider's stream ended whole */
	STAGE_CUT,	/* it stopped short: what was taken goes on, nothing is closed */
};

struct stage_item {
	enum stage_what	 what;
	const char	*name;		/* EVENT: its name, "" when it had none */
	const char	*data;		/* EVENT: its data; BYTES: the bytes */
	size_t		 len;
	const char	*raw;		/* EVENT: its bytes as the provider sent them */
	size_t		 rawlen;
	int		 usage;		/* EVENT, after the usage tap: usage may be in it */
};

struct stage_ops;

struct stage_chain {
	const struct stage_ops *const	*stages;	/* NULL-ended */
	void				*arg;
};

#define STAGE_TAKES(w)	(1u << (w))

struct stage_ops {
	const char	*name;
	unsigned	 takes;		/* STAGE_TAKES() of what it acts on; the rest passes it by */
	int	(*init)(const struct stage_chain *c);			/* 0 or -1; may be NULL */
	/*
	 * Takes it from the stage before and pushes to stage at + 1 with
	 * stage_push(); it may note what it learnt on the item as it passes
	 * (the usage tap sets it->usage), so nothing is copied.  0 or -1.
	 */
	int	(*push)(const struct stage_chain *c, size_t at, struct stage_item *it);
	void	(*fini)(const struct stage_chain *c);			/* may be NULL */
};

/*
 * Hands it to the first stage from at on that takes it (past the last:
 * taken, nothing done); 0 or -1.  A stage is not called for what it would
 * only pass on: a same-format stream's flush goes from the framing straight
 * to the client.
 */
static inline int
stage_push(const struct stage_chain *c, size_t at, struct stage_item *it)
{
	const struct stage_ops *s;

	while ((s = c->stages[at]) != NULL && !(s->takes & STAGE_TAKES(it->what)))
		at++;
	return s != NULL ? s->push(c, at, it) : 0;
}

/* Each stage's init in order; on a failure the ones done are undone: 0 or -1. */
int stage_init(const struct stage_chain *c);
void stage_fini(const struct stage_chain *c);

#endif
