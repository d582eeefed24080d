/*
 * Runs a fuzz target's LLVMFuzzerTestOneInput() once on each file named on
 * the command line, without libFuzzer: `make check` builds every target
 * this way with ASan and UBSan and replays the seeds and the regression
 * inputs (tests/fuzz/replay.t), so a crash once found stays fixed.
 * Exits 0 when every input ran; a finding aborts the process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs the target on a copy of exactly n bytes, so ASan sees a read past the end. */
static int
run_one(const char *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);

	if (copy == NULL)
		return -1;
	memcpy(copy, p, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	return 0;
}

int
main(int argc, char **argv)
{
	struct buf b = { 0 };
	int i;

	for (i = 1; i < argc; i++) {
		b.len = 0;
		if (buf_read_file(&b, argv[i]) < 0) {
			fprintf(stderr, "replay: cannot read '%s'\n", argv[i]);
			return 1;
		}
		if (run_one(b.data ? b.data : "", b.len) < 0)
			return 1;
	}
	buf_release(&b);
	printf("replay: %d inputs\n", argc - 1);
	return 0;
}
