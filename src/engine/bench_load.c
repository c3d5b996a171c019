/* bench-engine [MODEL.safetensors] [--runs N]
 *
 * Prints the median (and min) of N runs of: drsn_model_load from a file
 * (mmap + full validation + BN folding + re-layout; wall and thread CPU
 * time), drsn_model_load_memory,
 * drsn_ctx_create, and drsn_ctx_run on every SIMD path with the GFLOP/s it
 * reaches (2 x MACs / latency) as a fraction of 100 GFLOP/s (one core's fp32
 * FMA peak here). Without MODEL it writes the default-size DRSN-CW
 * (train/drsn/model.py "default": 222k parameters) to a temporary file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drsn/model.h"
#include "drsn/simd.h"
#include "engine/fixture.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* This thread's CPU time: what a load costs without the other processes
 * sharing the two cores (wall medians are several times higher under load). */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, cmp_d);
	printf("%-34s median %8.3f ms   min %8.3f ms   (%d runs)\n", what, t[n / 2] * 1e3, t[0] * 1e3, n);
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int runs = 200;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (argv[i][0] != '-')
			path = argv[i];
		else {
			fprintf(stderr, "usage: bench-engine [MODEL.safetensors] [--runs N]\n");
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;
	char tmp[] = "/tmp/bench-engine-XXXXXX";
	unsigned char *buf = NULL;
	size_t len = 0;
	if (!path) {
		static const struct fx_arch def = {"cw", 40, 98, 32, 3, 1, 6,
			{{32, 3, 1}, {32, 3, 1}, {64, 3, 2}, {64, 3, 1}, {96, 3, 2}, {96, 3, 1}}, "zero_pad", 12, 0, 0};
		struct fx_model *fx = malloc(sizeof *fx);
		fx_init(fx, &def, 1);
		buf = fx_serialize(fx, &len);
		fx_free(fx);
		free(fx);
		int fd = mkstemp(tmp);
		if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
			perror(tmp);
			return 1;
		}
		close(fd);
		path = tmp;
	}
	drsn_model *m = NULL;
	drsn_error err = {0};
	if (drsn_model_load(&m, path, &err)) {
		fprintf(stderr, "bench-engine: %s\n", err.msg);
		return 1;
	}
	printf("model: %s (%s, %lld parameters, %lld MACs/window, %d x %d input)\n",
	       path == tmp ? "default-size DRSN-CW, generated" : path, drsn_model_variant(m),
	       (long long)drsn_model_n_params(m), (long long)drsn_model_macs(m),
	       drsn_model_frames(m), drsn_model_bands(m));
	if (!buf) {
		FILE *f = fopen(path, "rb");
		fseek(f, 0, SEEK_END);
		len = (size_t)ftell(f);
		rewind(f);
		buf = malloc(len);
		if (fread(buf, 1, len, f) != len)
			return 1;
		fclose(f);
	}
	printf("file: %zu bytes\n", len);

	double *t = malloc((size_t)runs * sizeof *t);
	for (int i = 0; i < runs; i++) {
		drsn_model *x = NULL;
		double t0 = now();
		drsn_model_load(&x, path, NULL);
		t[i] = now() - t0;
		drsn_model_free(x);
	}
	report("drsn_model_load (file, mmap)", t, runs);
	for (int i = 0; i < runs; i++) {
		drsn_model *x = NULL;
		double t0 = cpu_now();
		drsn_model_load(&x, path, NULL);
		t[i] = cpu_now() - t0;
		drsn_model_free(x);
	}
	report("drsn_model_load, thread CPU time", t, runs);
	for (int i = 0; i < runs; i++) {
		drsn_model *x = NULL;
		double t0 = now();
		drsn_model_load_memory(&x, buf, len, NULL);
		t[i] = now() - t0;
		drsn_model_free(x);
	}
	report("drsn_model_load_memory", t, runs);
	for (int i = 0; i < runs; i++) {
		drsn_ctx *c = NULL;
		double t0 = now();
		drsn_ctx_create(&c, m, NULL);
		t[i] = now() - t0;
		drsn_ctx_destroy(c);
	}
	report("drsn_ctx_create", t, runs);

	drsn_ctx *c = NULL;
	drsn_ctx_create(&c, m, NULL);
	size_t n_in = (size_t)drsn_model_frames(m) * drsn_model_bands(m);
	float *x = malloc(n_in * sizeof *x);
	for (size_t i = 0; i < n_in; i++)
		x[i] = (float)(sin(0.37 * i) * 2 - 4);
	const char *paths[8];
	int np = drsn_simd_available(paths, 8);
	for (int p = 0; p < np && p < 8; p++) {
		drsn_simd_select(paths[p]);
		for (int i = 0; i < 20; i++)
			drsn_ctx_run(c, x, NULL);
		int rr = runs * 5;
		double *tr = malloc((size_t)rr * sizeof *tr);
		for (int i = 0; i < rr; i++) {
			double t0 = now();
			drsn_ctx_run(c, x, NULL);
			tr[i] = now() - t0;
		}
		char what[64];
		snprintf(what, sizeof what, "drsn_ctx_run [%s]", paths[p]);
		report(what, tr, rr);
		double gf = 2.0 * drsn_model_macs(m) / tr[rr / 2] / 1e9;
		printf("%-34s %.2f GFLOP/s = %.1f%% of 100 GFLOP/s peak\n", "", gf, gf);
		free(tr);
	}
	drsn_simd_select(NULL);
	drsn_ctx_destroy(c);
	drsn_model_free(m);
	free(x);
	free(t);
	free(buf);
	if (path == tmp)
		unlink(tmp);
	return 0;
}
