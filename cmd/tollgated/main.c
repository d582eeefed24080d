/*
 * tollgated: the gateway daemon.  The data path (master, workers, accountant)
 * is the next piece of work; this build only answers for its version so that
 * packaging and `make run` have something true to say.
 */
#include <stdio.h>
#include <string.h>

#ifndef TOLLGATE_VERSION
#define TOLLGATE_VERSION "unknown"
#endif

int
main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)) {
		printf("tollgated %s\n", TOLLGATE_VERSION);
		return 0;
	}
	fprintf(stderr, "tollgated %s: the gateway itself is not built yet; this release "
	    "provides the pricing engine and 'tollctl cost' (see README.md)\n", TOLLGATE_VERSION);
	return 69;	/* EX_UNAVAILABLE */
}
