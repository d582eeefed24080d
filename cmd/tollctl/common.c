/*
 * What several tollctl commands share: where the ledger and the run
 * directory are.  A command's --ledger and --run-dir win; then the config
 * given as `tollctl -c FILE`; then $TOLLGATE_LEDGER and $TOLLGATE_RUN_DIR;
 * then the installed config, when it can be read (it is the gateway's, so
 * it names the directories the gateway uses); then the compiled defaults.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pricefile.h"
#include "pricemap.h"
#include "record.h"
#include "reprice.h"
#include "tollctl.h"
#include "usage.h"

static const char *given;		/* tollctl -c FILE */
static struct config *loaded;		/* given's, or the installed one's; lives until exit */
static int tried;

int
tollctl_use_config(const char *path)
{
	char err[1024];

	given = path;
	tried = 1;
	if (config_load(path, &loaded, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

/* The installed config, read once and only when a directory is asked for. */
static const struct config *
installed(void)
{
	char err[1024];

	if (tried)
		return loaded;
	tried = 1;
	if (access(TOLLGATE_CONFIG, R_OK) < 0)
		return NULL;	/* absent, or the gateway's group only: the defaults hold */
	if (config_load(TOLLGATE_CONFIG, &loaded, err, sizeof(err)) < 0) {
		log_warn("%s; using the default directories", err);
		loaded = NULL;
	}
	return loaded;
}

/* run: the run directory, else the ledger; a loaded config always names both (defaults fill them) */
static const char *
pick(int run, const char *env, const char *def)
{
	const char *e = getenv(env);

	if (given == NULL) {
		if (e != NULL && *e != '\0')
			return e;
		if (installed() == NULL)
			return def;
	}
	return run ? loaded->tollgate.run_dir : loaded->tollgate.ledger_path;
}

const char *
tollctl_postgres_dsn(void)
{
	const char *e = getenv("TOLLGATE_POSTGRES_DSN");

	if (e != NULL && *e != '\0')
		return e;
	if (given == NULL && installed() == NULL)
		return NULL;
	return loaded ? loaded->tollgate.postgres_dsn : NULL;
}

const char *
tollctl_ledger_dir(void)
{
	return pick(0, "TOLLGATE_LEDGER", TOLLGATE_LEDGER);
}

const char *
tollctl_run_dir(void)
{
	return pick(1, "TOLLGATE_RUN_DIR", TOLLGATE_RUN_DIR);
}

/* The canonical usage a record keeps (lib/reprice.h); rerate and whatif call it by this name. */
void
tollctl_record_usage(const struct record *r, struct usage *u)
{
	reprice_usage_of(r, u);
}

int
tollctl_add_price_file(const char **files, int *n, const char *path)
{
	if (*n == TOLLCTL_PRICE_FILES) {
		log_error("at most %d price files", TOLLCTL_PRICE_FILES);
		return -1;
	}
	files[(*n)++] = path;
	return 0;
}

char *
tollctl_default_prices(void)
{
	char *path, err[1024];

	if ((path = pricefile_default()) == NULL) {
		log_error("out of memory");
		return NULL;
	}
	if (access(path, F_OK) < 0) {
		pricefile_missing(err, sizeof(err), "--prices FILE");
		log_error("%s", err);
		free(path);
		return NULL;
	}
	return path;
}
