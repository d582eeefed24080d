/*
 * The stage chain's setup and teardown (stage.h).  Run by workers.
 */
#include "provider/stage.h"

int
stage_init(const struct stage_chain *c)
{
	size_t i, j;

	for (i = 0; c->stages[i] != NULL; i++)
		if (c->stages[i]->init != NULL && c->stages[i]->init(c) < 0) {
			for (j = i; j-- > 0;)
				if (c->stages[j]->fini != NULL)
					c->stages[j]->fini(c);
			return -1;
		}
	return 0;
}

void
stage_fini(const struct stage_chain *c)
{
	size_t i;

	for (i = 0; c->stages[i] != NULL; i++)
		if (c->stages[i]->fini != NULL)
			c->stages[i]->fini(c);
}
