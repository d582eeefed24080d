/*
 * What several tollctl commands share.
 */
#include <stdlib.h>

#include "config.h"
#include "tollctl.h"

#ifndef TOLLGATE_LEDGER
#define TOLLGATE_LEDGER "/var/lib/tollgate/ledger"
#endif

const char *
tollctl_ledger_dir(void)
{
	const char *dir = getenv("TOLLGATE_LEDGER");

	return dir != NULL && *dir ? dir : TOLLGATE_LEDGER;
}

const char *
tollctl_run_dir(void)
{
	const char *dir = getenv("TOLLGATE_RUN_DIR");

	return dir != NULL && *dir ? dir : TOLLGATE_RUN_DIR;
}
