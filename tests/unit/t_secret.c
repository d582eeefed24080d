/*
 * secret_equal(): the answer for equal and unequal secrets of every
 * length relation, and no read past what the client sent (the sanitizer
 * build runs each case on a heap copy of exactly its length).
 */
#include "secret.h"
#include "tap.h"

/* secret_equal() on a heap copy of given without its NUL, so ASan sees any overread. */
static int
equal(const char *given, const char *want)
{
	size_t n = strlen(given);
	char *g = malloc(n ? n : 1);
	int r;

	memcpy(g, given, n);
	r = secret_equal(g, n, want, want ? strlen(want) : 0);
	free(g);
	return r;
}

int
main(void)
{
	static const char master[] = "sk-master-0123456789abcdef";

	is_int(equal("sk-master-0123456789abcdef", master), 1, "the same secret");
	is_int(equal("tk-master-0123456789abcdef", master), 0, "differs in the first byte");
	is_int(equal("sk-master-0123456789abcdeF", master), 0, "differs in the last byte (case)");
	is_int(equal("SK-MASTER-0123456789ABCDEF", master), 0, "the secret in upper case");
	is_int(equal("sk-master-0123456789abcde", master), 0, "a prefix of it");
	is_int(equal("sk-master-0123456789abcdef0", master), 0, "it and one byte more");
	is_int(equal("sk-master-0123456789abcdef" "sk-master-0123456789abcdef", master), 0,
	    "it twice");
	is_int(equal("", master), 0, "nothing given");
	is_int(equal("x", ""), 0, "against an empty secret");
	is_int(equal("", ""), 1, "empty against empty");
	is_int(equal("sk-master-0123456789abcdef", NULL), 0, "against no secret at all");
	is_int(secret_equal("sk-master\0xyz", 13, "sk-master", 9), 0,
	    "a NUL inside what was given does not end the comparison");
	return done_testing();
}
