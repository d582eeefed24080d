/*
 * Sequence counters for what one process writes into shared memory and
 * others read without a lock (the status file's header, children and
 * deployment slots): the writer makes the counter odd for the length of its
 * change; a reader copies, and copies again when the counter moved or was
 * odd.
 */
#ifndef TOLLGATE_SEQLOCK_H
#define TOLLGATE_SEQLOCK_H

#include <stddef.h>
#include <stdint.h>

static inline void
seqlock_write_begin(uint64_t *seq)
{
	__atomic_add_fetch(seq, 1, __ATOMIC_ACQ_REL);
}

static inline void
seqlock_write_end(uint64_t *seq)
{
	__atomic_add_fetch(seq, 1, __ATOMIC_RELEASE);
}

/*
 * Copies n bytes from what seq guards into dst, retrying a copy that raced
 * a writer.  A writer preempted inside its section is waited for (yielding
 * the CPU to it); only one that never ends it, having died there, is given
 * up on after a second, and the last copy is the best there is.
 */
void seqlock_read(const uint64_t *seq, void *dst, const void *src, size_t n);

#endif
