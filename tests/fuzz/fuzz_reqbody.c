/*
 * libFuzzer target: a client's request body as a worker reads and rewrites
 * it (lib/reqbody.c).  Besides no crash and no undefined behaviour: the
 * spans lie inside the body, and a body that parses is rewritten into one
 * that parses again with the deployment's model, usage asked for when it
 * was, and every other field it read unchanged -- what the provider gets is
 * what tollgate priced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "reqbody.h"

/* A deployment model with a quote and a backslash, to exercise the escaping. */
static const char dep_model[] = "dep/\"m\\1\"";

static void
check_spans(const struct reqbody *f, const uint8_t *data, size_t size)
{
	const struct reqbody_spans *sp = &f->spans;

	if (sp->model_len && (sp->model_at + sp->model_len > size || sp->model_len < 2 ||
	    data[sp->model_at] != '"' || data[sp->model_at + sp->model_len - 1] != '"'))
		abort();
	if (sp->so_len && sp->so_at + sp->so_len > size)
		abort();
	if (sp->model_len && sp->so_len && sp->model_at < sp->so_at + sp->so_len &&
	    sp->so_at < sp->model_at + sp->model_len)
		abort();
}

static void
check_rewrite(const struct reqbody *f, const uint8_t *data, size_t size, int usage_on)
{
	struct buf out = { 0 };
	struct reqbody g;
	char err[160];

	if (reqbody_rewrite((const char *)data, size, &f->spans, dep_model, usage_on, &out) < 0)
		abort();
	if (reqbody_parse(out.data ? out.data : "", out.len, &g, err, sizeof(err)) < 0)
		abort();
	if (f->spans.model_len && strcmp(g.model, dep_model) != 0)
		abort();
	if (!f->spans.model_len && g.spans.model_len)
		abort();
	if (usage_on ? !g.include_usage || !g.spans.so_len : g.include_usage != f->include_usage)
		abort();
	if (g.stream != f->stream || g.max_tokens != f->max_tokens ||
	    strcmp(g.user, f->user) != 0 || strcmp(g.tags, f->tags) != 0 ||
	    strcmp(g.tier, f->tier) != 0)
		abort();
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reqbody f;
	char err[160];

	if (reqbody_parse((const char *)data, size, &f, err, sizeof(err)) < 0) {
		if (strncmp(err, "line ", 5) != 0)
			abort();
		return 0;
	}
	if (strlen(f.model) >= sizeof(f.model) || strlen(f.tags) >= sizeof(f.tags))
		abort();
	check_spans(&f, data, size);
	check_rewrite(&f, data, size, 0);
	check_rewrite(&f, data, size, 1);
	return 0;
}
