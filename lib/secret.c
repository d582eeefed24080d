/*
 * Constant-time comparison of secrets (see secret.h), for workers.
 */
#include <openssl/crypto.h>

#include "secret.h"

int
secret_equal(const char *given, size_t glen, const char *want, size_t wlen)
{
	const char *g;

	if (want == NULL)
		return 0;
	/*
	 * A given secret of another length is not compared: want is compared
	 * with itself instead, so the time taken is that of wlen bytes whatever
	 * the client sent, and neither its length nor its bytes show.
	 */
	g = glen == wlen ? given : want;
	return (CRYPTO_memcmp(g, want, wlen) == 0) & (glen == wlen);
}
