/*
 * Finding a price map when none is named.  The compiled default is where
 * `make install` and the packages put the curated map; a binary that has only
 * been built (build/tollgated, the first thing a LiteLLM user runs) falls back
 * to the source tree's etc/prices.yaml, found from its own path so that it
 * holds whichever directory the tree was cloned to.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pricefile.h"

#ifndef TOLLGATE_PRICES
#define TOLLGATE_PRICES		"/etc/tollgate/prices.yaml"
#endif

/*
 * <the binary's directory>/../etc/prices.yaml, the "build/.." resolved when
 * that directory exists (it reads better in a message); "" when /proc does
 * not say where the binary is.
 */
static void
beside_binary(char *buf, size_t len)
{
	char exe[PATH_MAX], *slash, *etc;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	buf[0] = '\0';
	if (n <= 0)
		return;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return;
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/../etc", exe) >= len) {
		buf[0] = '\0';
		return;
	}
	if ((etc = realpath(buf, NULL)) != NULL) {
		snprintf(buf, len, "%s", etc);
		free(etc);
	}
	if (strlen(buf) + sizeof("/prices.yaml") > len)
		buf[0] = '\0';
	else
		strcat(buf, "/prices.yaml");
}

char *
pricefile_default(void)
{
	char tree[PATH_MAX + 32];

	if (access(TOLLGATE_PRICES, R_OK) == 0)
		return strdup(TOLLGATE_PRICES);
	beside_binary(tree, sizeof(tree));
	if (tree[0] != '\0' && access(tree, R_OK) == 0)
		return strdup(tree);
	return strdup(TOLLGATE_PRICES);
}

void
pricefile_missing(char *buf, size_t len, const char *how)
{
	char tree[PATH_MAX + 32];

	beside_binary(tree, sizeof(tree));
	if (tree[0] != '\0')
		snprintf(buf, len, "no price map is named, and neither %s nor %s is readable; "
		    "name one with %s (LiteLLM's JSON price map or tollgate's YAML)",
		    TOLLGATE_PRICES, tree, how);
	else
		snprintf(buf, len, "no price map is named, and %s is not readable; "
		    "name one with %s (LiteLLM's JSON price map or tollgate's YAML)",
		    TOLLGATE_PRICES, how);
}
