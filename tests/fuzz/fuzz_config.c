/*
 * libFuzzer target: the gateway config loader on arbitrary bytes (written to
 * a scratch file, since configs are read from files, includes and all).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct config *c = NULL;
	char err[1024];
	FILE *f;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/fuzz_config.%ld.yaml", (long)getpid());
		setenv("FUZZ_SET", "value", 1);
	}
	if ((f = fopen(path, "wb")) == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (config_load(path, &c, err, sizeof(err)) == 0) {
		const struct config_deployment *found[4];

		if (c->ndeployments)
			config_find_model(c, c->deployments[0].model_name, found, 4);
		config_free(c);
	}
	return 0;
}
