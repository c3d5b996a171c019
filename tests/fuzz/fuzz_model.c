/* libFuzzer target: drsn_model_load_memory on arbitrary bytes. Whatever
 * loads is also run once on a zero window, so odd-but-valid architectures
 * exercise the planner and runner too. Built with -Dfuzz=enabled (clang). */
#include <errno.h>
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
	int rc;
	if (drsn_ctx_create(&c, m, NULL) == 0) {
		size_t n = (size_t)drsn_model_frames(m) * (size_t)drsn_model_bands(m);
		float *x = calloc(n, sizeof *x);
		float *p = calloc((size_t)drsn_model_n_labels(m), sizeof *p);
		/* a valid model runs on a valid window, or says that its (finite
		 * but huge) weights overflow float32: -ERANGE, probs unwritten */
		if (x && p && (rc = drsn_ctx_run(c, x, p)) != 0 && rc != -ERANGE)
			abort();
		free(x);
		free(p);
		drsn_ctx_destroy(c);
	}
	drsn_model_free(m);
	return 0;
}
