/* The reader's side of lib/seqlock.h. */
#include <sched.h>
#include <string.h>

#include "clock.h"
#include "seqlock.h"

void
seqlock_read(const uint64_t *seq, void *dst, const void *src, size_t n)
{
	uint64_t before, after;
	int64_t deadline = 0;
	unsigned tries;

	for (tries = 0;; tries++) {
		before = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		memcpy(dst, src, n);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		after = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		if (!(before & 1) && before == after)
			return;
		if (tries < 64)
			continue;
		if (deadline == 0)
			deadline = clock_now_ns() + 1000000000;
		else if (clock_now_ns() > deadline)
			return;
		sched_yield();
	}
}
