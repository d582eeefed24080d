/*
 * Comparison of a secret a client sent with the one tollgate holds (the
 * master key, the listed keys), in time that does not depend on where
 * they differ nor on the length the client sent.  Virtual keys need no
 * such compare: they are looked up by their SHA-256 (keys.h).
 */
#ifndef TOLLGATE_SECRET_H
#define TOLLGATE_SECRET_H

#include <stddef.h>

/*
 * 1 when given[0..glen) is want[0..wlen), else 0 (also for want NULL).
 * Reads at most glen bytes of given and exactly wlen of want.
 */
int secret_equal(const char *given, size_t glen, const char *want, size_t wlen);

#endif
