/*
 * bench-kernels: speed of every kernel path on the default model's layer
 * shapes, one thread.
 *
 * For each conv1d shape of the default keyword spotter (train/drsn/model.py
 * "default": stem 40->32, units 32,32,64/2,64,96/2,96, k 3, 98 frames) and
 * each path this machine has, it prints the median GFLOP/s (2 flops per
 * multiply-add) over RUNS timed batches, the fraction of the nominal
 * 100 GFLOP/s fp32 FMA peak of this core and of the FMA peak measured in
 * the same run (an AVX2 loop of independent FMAs), and the ratio against the
 * scalar reference measured in the same run. Then the same for the
 * element-wise shrinkage kernels (abs-mean over time, soft threshold fused
 * with the shortcut add, BN+ReLU), in GB/s moved and in GFLOP/s (counting
 * abs, sub, max, add as one flop each).
 *
 * Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID) of batches of calls
 * that each last >= ~2 ms, so other processes on a shared machine matter
 * less; medians of RUNS batches.
 *
 *   bench-kernels [RUNS=15]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/bench_util.h"
#include "simd/kernels.h"

#define NOMINAL_PEAK 100.0 /* GFLOP/s fp32 per core: 2 FMA ports x 8 lanes x 2 x ~3.1 GHz */

#define now drsn__bench_cpu
#define median drsn__bench_median

/* ---- the FMA peak of this core, measured -------------------------------- */
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2,fma"))) static float fma_loop(long n)
{
	__m256 a[12];
	const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
	for (int i = 0; i < 12; i++)
		a[i] = _mm256_set1_ps((float)i);
	for (long it = 0; it < n; it++)
#pragma GCC unroll 12
		for (int i = 0; i < 12; i++)
			a[i] = _mm256_fmadd_ps(a[i], m, c);
	__m256 s = a[0];
	for (int i = 1; i < 12; i++)
		s = _mm256_add_ps(s, a[i]);
	float out[8];
	_mm256_storeu_ps(out, s);
	return out[0];
}

static double measured_peak(int runs)
{
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return 0;
	const long n = 200000; /* 38.4 MFLOP per batch */
	double v[64];
	volatile float sink = 0;
	for (int r = 0; r < runs; r++) {
		double t0 = now();
		sink += fma_loop(n);
		v[r] = (double)n * 12 * 8 * 2 / (now() - t0) * 1e-9;
	}
	(void)sink;
	double best = 0; /* a peak is the best batch: noise only ever slows it */
	for (int r = 0; r < runs; r++)
		best = v[r] > best ? v[r] : best;
	return best;
}
#else
static double measured_peak(int runs)
{
	(void)runs;
	return 0;
}
#endif

/* ---- timing one kernel call ------------------------------------------------ */
struct call {
	const struct drsn__kernels *k;
	int kind; /* 0 conv1d, 1 mean_time |x|, 2 shrink_add, 3 affine_relu */
	float *y, *x, *w, *b, *aux;
	int t, cin, cout, ksz, stride;
};

static void run_once(const struct call *c)
{
	switch (c->kind) {
	case 0: c->k->conv1d(c->y, c->x, c->w, c->b, c->t, c->cin, c->cout, c->ksz, c->stride); break;
	case 1: c->k->mean_time(c->y, c->x, c->t, c->cout, 1); break;
	case 2: c->k->shrink_add(c->y, c->x, c->aux, c->w, c->t, c->cout, c->cin, c->stride,
				 (c->cout - c->cin) / 2); break;
	case 3: c->k->affine_relu(c->y, c->x, c->aux, c->b, c->t, c->cout); break;
	}
}

/* Median seconds per call. */
static double time_call(const struct call *c, int runs)
{
	run_once(c); /* warm caches */
	double t0 = now();
	int reps = 0;
	do {
		run_once(c);
		reps++;
	} while (now() - t0 < 2e-3);
	double v[64];
	for (int r = 0; r < runs; r++) {
		t0 = now();
		for (int i = 0; i < reps; i++)
			run_once(c);
		v[r] = (now() - t0) / reps;
	}
	return median(v, runs);
}

static float *rand_buf(size_t n)
{
	float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
	if (!p) {
		fprintf(stderr, "bench-kernels: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
	return p;
}

struct conv_shape {
	const char *layer;
	int t_out, cin, cout, k, stride, count; /* count: convs of this shape per window */
};

static const struct conv_shape convs[] = {
	{"stem", 98, 40, 32, 3, 1, 1},
	{"u1-2", 98, 32, 32, 3, 1, 4},
	{"u3a", 49, 32, 64, 3, 2, 1},
	{"u3b-4", 49, 64, 64, 3, 1, 3},
	{"u5a", 25, 64, 96, 3, 2, 1},
	{"u5b-6", 25, 96, 96, 3, 1, 3},
};
#define N_CONVS ((int)(sizeof convs / sizeof convs[0]))

struct elem_shape {
	int t, c, cin, step; /* shrink_add shortcut: cin channels, every step-th row */
};

static const struct elem_shape elems[] = {{98, 32, 32, 1}, {49, 64, 32, 2}, {25, 96, 64, 2}};
#define N_ELEMS ((int)(sizeof elems / sizeof elems[0]))

int main(int argc, char **argv)
{
	const int runs = argc > 1 ? atoi(argv[1]) : 15;
	if (runs < 1 || runs > 64) {
		fprintf(stderr, "usage: bench-kernels [RUNS in 1..64]\n");
		return 2;
	}
	const struct drsn__kernels *paths[8];
	const int np = drsn__kernels_available(paths, 8);
	const double peak = measured_peak(runs);

	printf("bench-kernels: %d path(s), median of %d batches, thread CPU time\n", np, runs);
	printf("FMA peak of this core: nominal %.0f GFLOP/s", NOMINAL_PEAK);
	if (peak > 0)
		printf(", measured now %.1f GFLOP/s (best batch of 12 independent AVX2 FMA chains)", peak);
	printf("\n\nconv1d (GFLOP/s = 2*MACs/time; %%peak of nominal / measured; x scalar)\n");
	printf("%-6s %4s %4s %4s %2s %2s", "layer", "t", "cin", "cout", "k", "s");
	for (int p = 0; p < np; p++)
		printf(" | %-6s %6s %11s %7s", paths[p]->name, "GF/s", "%peak", "x scal");
	printf("\n");

	double total_t[8] = {0}, total_flop = 0;
	for (int s = 0; s < N_CONVS; s++) {
		const struct conv_shape *cs = &convs[s];
		const int kk = cs->k * cs->cin;
		float *x = rand_buf((size_t)((cs->t_out - 1) * cs->stride + cs->k) * cs->cin);
		float *w = rand_buf((size_t)kk * cs->cout), *b = rand_buf(cs->cout);
		float *y = rand_buf((size_t)cs->t_out * cs->cout);
		const double flop = 2.0 * cs->t_out * cs->cout * kk;
		total_flop += flop * cs->count;
		printf("%-6s %4d %4d %4d %2d %2d", cs->layer, cs->t_out, cs->cin, cs->cout, cs->k,
		       cs->stride);
		double base = 0;
		for (int p = 0; p < np; p++) {
			struct call c = {paths[p], 0, y, x, w, b, NULL, cs->t_out, cs->cin, cs->cout,
					 cs->k, cs->stride};
			const double sec = time_call(&c, runs), gf = flop / sec * 1e-9;
			total_t[p] += sec * cs->count;
			if (p == 0)
				base = sec;
			printf(" | %-6s %6.2f %4.1f%%/%4.1f%% %6.1fx", "", gf, 100 * gf / NOMINAL_PEAK,
			       peak > 0 ? 100 * gf / peak : 0.0, base / sec);
		}
		printf("\n");
		free(x);
		free(w);
		free(b);
		free(y);
	}
	printf("%-24s", "all convs of one window");
	for (int p = 0; p < np; p++) {
		const double gf = total_flop / total_t[p] * 1e-9;
		printf(" | %-6s %6.2f %4.1f%%/%4.1f%% %6.1fx", paths[p]->name, gf,
		       100 * gf / NOMINAL_PEAK, peak > 0 ? 100 * gf / peak : 0.0,
		       total_t[0] / total_t[p]);
	}
	printf("\n(%.2f MFLOP of convolution per window: %.1f us on the fastest path)\n",
	       total_flop * 1e-6, 1e6 * total_t[np - 1]);

	static const char *kn[] = {"", "mean|x|", "shrink_add", "affine_relu"};
	/* bytes moved and flops per element (see the header comment) */
	static const double bytes_el[] = {0, 4, 12, 8}, flop_el[] = {0, 2, 4, 3};
	printf("\nshrinkage kernels (GB/s moved; GFLOP/s with abs/sub/max/add = 1 flop; %%nominal peak; x scalar)\n");
	printf("%-11s %4s %4s", "kernel", "t", "c");
	for (int p = 0; p < np; p++)
		printf(" | %-6s %6s %6s %6s %7s", paths[p]->name, "ns", "GB/s", "GF/s", "x scal");
	printf("\n");
	for (int kind = 1; kind <= 3; kind++)
		for (int s = 0; s < N_ELEMS; s++) {
			const struct elem_shape *es = &elems[s];
			const size_t n = (size_t)es->t * es->c;
			float *f = rand_buf(n), *y = rand_buf(n), *tau = rand_buf(es->c);
			float *sc = rand_buf((size_t)es->t * es->step * es->cin), *sh = rand_buf(es->c);
			printf("%-11s %4d %4d", kn[kind], es->t, es->c);
			double base = 0;
			for (int p = 0; p < np; p++) {
				struct call c = {paths[p], kind, y, f, sc, sh, tau, es->t, es->cin,
						 es->c, 0, es->step};
				const double sec = time_call(&c, runs);
				if (p == 0)
					base = sec;
				printf(" | %-6s %6.0f %6.1f %6.2f %6.1fx", "", sec * 1e9,
				       bytes_el[kind] * n / sec * 1e-9, flop_el[kind] * n / sec * 1e-9,
				       base / sec);
			}
			printf("\n");
			free(f);
			free(y);
			free(tau);
			free(sc);
			free(sh);
		}
	return 0;
}
