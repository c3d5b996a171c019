/* libFuzzer target: drsn_model_load_memory on arbitrary bytes. Whatever
 * loads is also run once on a zero window, so odd-but-valid architectures
 * exercise the planner and runner too. Built with -Dfuzz=enabled (clang). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "drsn/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	drsn_model *m = NULL;
	drsn_error err;
	if (drsn_model_load_memory(&m, data, size, &err))
		return 0;
	drsn_ctx *c = NULL;
	if (drsn_ctx_create(&c, m, NULL) == 0) {
		size_t n = (size_t)drsn_model_frames(m) * (size_t)drsn_model_bands(m);
		float *x = calloc(n, sizeof *x);
		float *p = calloc((size_t)drsn_model_n_labels(m), sizeof *p);
		if (x && p && drsn_ctx_run(c, x, p))
			abort();   /* a valid model must run on a valid window */
		free(x);
		free(p);
		drsn_ctx_destroy(c);
	}
	drsn_model_free(m);
	return 0;
}
