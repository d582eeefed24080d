/*
 * libFuzzer target: what a token endpoint may answer, and what a
 * vertex_credentials value may hold (lib/provider/gauth.c).  Besides no
 * crash and no undefined behaviour: a token accepted is plain visible text
 * that fits a header line, its lifetime positive; a refusal always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider/gauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 400, 401, 500 };
	char token[GAUTH_TOKEN_MAX], err[512], *text;
	struct gauth_account a;
	int64_t life = 0;
	size_t i;

	if (size == 0)
		return 0;
	if (gauth_parse_token(statuses[data[0] % 4], (const char *)data + 1, size - 1, token,
	    sizeof(token), &life, err, sizeof(err)) == 0) {
		for (i = 0; token[i]; i++)
			if (token[i] <= ' ' || token[i] > '~')
				abort();
		if (life <= 0 || statuses[data[0] % 4] != 200)
			abort();
	} else if (err[0] == '\0')
		abort();
	/* as credentials: JSON text (a path would read the disk: only text starting with '{') */
	if ((text = malloc(size + 2)) == NULL)
		return 0;
	text[0] = '{';
	memcpy(text + 1, data + 1, size - 1);
	text[size] = '\0';
	if (gauth_load(text, &a, err, sizeof(err)) == 0)
		gauth_release(&a);
	else if (err[0] == '\0')
		abort();
	free(text);
	return 0;
}
