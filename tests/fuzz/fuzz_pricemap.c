/*
 * libFuzzer target: price-map loading from arbitrary bytes as JSON and as
 * YAML, then compiling and looking up every name it produced.
 */
#include <stdlib.h>
#include <string.h>

#include "pricemap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pricemap_builder *b = pricemap_builder_new();
	struct price_table *t;
	char err[512];
	uint32_t i;

	if (b == NULL)
		return 0;
	pricemap_load_json(b, "fuzz.json", (const char *)data, size, err, sizeof(err));
	pricemap_load_yaml(b, "fuzz.yaml", (const char *)data, size, err, sizeof(err));
	pricemap_warnings(b);
	t = pricemap_compile(b);
	if (t != NULL) {
		const struct price_entry *entries =
		    (const struct price_entry *)((const char *)t + t->entries_off);

		for (i = 0; i < t->nentries; i++) {
			const char *name = price_str(t, entries[i].name);
			if (price_lookup(t, name, strlen(name)) == NULL)
				abort();	/* every compiled name must be found */
		}
	}
	free(t);
	pricemap_builder_free(b);
	return 0;
}
