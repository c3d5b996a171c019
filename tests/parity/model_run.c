/* model-run MODEL IN.npy OUT.npy
 *
 * Runs a model on N windows: IN is (N * frames, bands) float32 (windows
 * stacked along time), OUT gets the logits, (N, n_labels). Used by
 * tests/parity/model_parity.py (C against PyTorch, as a subprocess). The SIMD
 * path follows DRSN_SIMD; the one used is printed on stderr. */
#include <stdio.h>
#include <stdlib.h>

#include "common/npy.h"
#include "drsn/drsn.h"
#include "simd/kernels.h"

int main(int argc, char **argv)
{
	drsn_error err = {0};
	drsn_model *m = NULL;
	drsn_ctx *c = NULL;
	float *in = NULL, *out = NULL;
	size_t rows = 0, cols = 0;
	int rc = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: model-run MODEL IN.npy OUT.npy\n");
		return 2;
	}
	if (drsn_model_load(&m, argv[1], &err) || drsn__npy_read_f32(argv[2], &in, &rows, &cols, &err)) {
		fprintf(stderr, "model-run: %s\n", err.msg);
		goto out;
	}
	int frames = drsn_model_frames(m), bands = drsn_model_bands(m), n = drsn_model_n_labels(m);
	if ((int)cols != bands || rows % (size_t)frames) {
		fprintf(stderr, "model-run: %s: shape (%zu, %zu) is not (N * %d, %d)\n", argv[2], rows, cols,
			frames, bands);
		goto out;
	}
	size_t windows = rows / (size_t)frames;
	out = malloc(windows * (size_t)n * sizeof *out);
	if (!out || drsn_ctx_create(&c, m, &err)) {
		fprintf(stderr, "model-run: %s\n", out ? err.msg : "out of memory");
		goto out;
	}
	for (size_t w = 0; w < windows; w++) {
		if (drsn_ctx_run(c, in + w * (size_t)frames * bands, NULL)) {
			fprintf(stderr, "model-run: window %zu: run failed\n", w);
			goto out;
		}
		const float *l = drsn_ctx_logits(c);
		for (int i = 0; i < n; i++)
			out[w * n + i] = l[i];
	}
	if (drsn__npy_write_f32(argv[3], out, windows, (size_t)n, &err)) {
		fprintf(stderr, "model-run: %s\n", err.msg);
		goto out;
	}
	fprintf(stderr, "model-run: %zu windows, simd path %s\n", windows, drsn__kernels_get()->name);
	rc = 0;
out:
	drsn_ctx_destroy(c);
	drsn_model_free(m);
	free(in);
	free(out);
	return rc;
}
