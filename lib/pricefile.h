#ifndef TOLLGATE_PRICEFILE_H
#define TOLLGATE_PRICEFILE_H

#include <stddef.h>

/*
 * The price map used when nothing names one: a LiteLLM config has no
 * tollgate.price_files, and `tollctl cost` may be given no --prices.
 */

/* The installed map when it is readable; else, for a binary run from a build
 * tree, the source tree's etc/prices.yaml beside it; else the installed map,
 * to be reported missing.  malloc'd, or NULL when out of memory. */
char *pricefile_default(void);

/* What to say when no default map is readable: the paths tried and how to
 * name one (how being "tollgate.price_files" or "--prices"). */
void pricefile_missing(char *buf, size_t len, const char *how);

#endif
