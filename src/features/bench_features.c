/*
 * bench-features: speed of the streaming log-mel front end on one core.
 *
 * Streams a 10 s synthetic signal through drsn_features_push in 160-sample
 * chunks (one hop, as live capture does), RUNS times, and prints the median
 * frames per second (thread CPU time, so other processes on a shared machine
 * matter less), the same as x real time, and its ratio to baselines measured
 * in the same run: the bare FFTW r2c transforms for the same number of frames
 * in double (what the front end runs, see features.c) and in float, i.e. the
 * floor that windowing, power, mel and log add to.
 *
 *   bench-features [RUNS=21] [SECONDS=10]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fft.h"
#include "drsn/features.h"
#include "features/mel.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static volatile float sink;

static void on_frame(void *user, const float *mel, int64_t idx)
{
	(void)user;
	(void)idx;
	sink += mel[0];
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 21;
	double seconds = argc > 2 ? atof(argv[2]) : 10.0;
	if (runs < 1 || !(seconds >= 0.1)) {
		fprintf(stderr, "usage: bench-features [RUNS>=1] [SECONDS>=0.1]\n");
		return 2;
	}
	drsn_features_params p;
	drsn_features_params_default(&p);
	size_t n = (size_t)(seconds * p.sample_rate);
	float *x = malloc(n * sizeof *x);
	double *t_fe = malloc((size_t)runs * sizeof *t_fe), *t_fft = malloc((size_t)runs * sizeof *t_fft);
	float *in = fftwf_malloc((size_t)p.n_fft * sizeof *in);
	fftwf_complex *out = fftwf_malloc((size_t)(p.n_fft / 2 + 1) * sizeof *out);
	double *din = fftw_malloc((size_t)p.n_fft * sizeof *din);
	fftw_complex *dout = fftw_malloc((size_t)(p.n_fft / 2 + 1) * sizeof *dout);
	double *t_dfft = malloc((size_t)runs * sizeof *t_dfft);
	drsn_features *f = NULL;
	drsn_error e;
	int rc = 1;
	if (!x || !t_fe || !t_fft || !t_dfft || !in || !out || !din || !dout)
		goto cleanup;
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.3 * sin(0.05 * (double)i) + 0.1 * sin(0.31 * (double)i) + 1e-3 * (double)(i % 97));
	if (drsn_features_create(&f, &p, &e) < 0) {
		fprintf(stderr, "bench-features: %s\n", e.msg);
		goto cleanup;
	}
	fftwf_plan plan = drsn__fft_plan_r2c(p.n_fft, in, out);
	fftw_plan dplan = drsn__fft_plan_r2c_f64(p.n_fft, din, dout);
	if (!plan || !dplan)
		goto cleanup;
	memset(in, 0, (size_t)p.n_fft * sizeof *in);
	memset(din, 0, (size_t)p.n_fft * sizeof *din);
	int64_t frames = drsn_features_frames_for(&p, (int64_t)n);
	for (int r = -1; r < runs; r++) {  /* run -1 warms caches */
		drsn_features_reset(f);
		double t0 = now();
		for (size_t i = 0; i < n; i += (size_t)p.hop_length) {
			size_t k = n - i < (size_t)p.hop_length ? n - i : (size_t)p.hop_length;
			drsn_features_push(f, x + i, k, on_frame, NULL);
		}
		double t1 = now();
		for (int64_t j = 0; j < frames; j++) {
			memcpy(in, x + j * p.hop_length, (size_t)p.win_length * sizeof *in);
			fftwf_execute(plan);
			sink += out[1][0];
		}
		double t2 = now();
		for (int64_t j = 0; j < frames; j++) {
			for (int i = 0; i < p.win_length; i++)
				din[i] = x[j * p.hop_length + i];
			fftw_execute(dplan);
			sink += (float)dout[1][0];
		}
		double t3 = now();
		if (r >= 0) {
			t_fe[r] = t1 - t0;
			t_fft[r] = t2 - t1;
			t_dfft[r] = t3 - t2;
		}
	}
	drsn__fft_destroy(plan);
	drsn__fft_destroy_f64(dplan);

	/* Work per frame: window, r2c (FFTW's 2.5 N log2 N convention), power
	 * (3 per bin), sparse mel (2 per nonzero weight), log (1 per band). */
	int nnz = 0;
	for (int m = 0; m < p.n_mels; m++) {
		int lo, cnt;
		drsn__mel_band_range(&p, m, &lo, &cnt);
		nnz += cnt;
	}
	double flops = p.win_length + 2.5 * p.n_fft * log2(p.n_fft) + 3.0 * (p.n_fft / 2 + 1) +
		       2.0 * nnz + p.n_mels;
	double med_fe = median(t_fe, runs), med_fft = median(t_fft, runs), med_dfft = median(t_dfft, runs);
	double fps = (double)frames / med_fe;
	double rt = fps * p.hop_length / p.sample_rate;
	printf("front end: %d Hz, win %d, hop %d, n_fft %d, %d mels (%d nonzero mel weights)\n",
	       p.sample_rate, p.win_length, p.hop_length, p.n_fft, p.n_mels, nnz);
	printf("signal: %.1f s = %lld frames, pushed %d samples at a time, %d runs, thread CPU time\n",
	       seconds, (long long)frames, p.hop_length, runs);
	printf("front end   : median %.3f ms/run = %.0f frames/s = %.0fx real time (%.2f us/frame)\n",
	       med_fe * 1e3, fps, rt, 1e6 * med_fe / (double)frames);
	printf("baseline FFT: median %.3f ms/run = %.0f frames/s (bare %d-point fftw r2c, double: the one the front end runs)\n",
	       med_dfft * 1e3, (double)frames / med_dfft, p.n_fft);
	printf("baseline FFT: median %.3f ms/run = %.0f frames/s (bare %d-point fftwf r2c, float)\n",
	       med_fft * 1e3, (double)frames / med_fft, p.n_fft);
	printf("ratio front end / bare double FFT time: %.2f (/ float FFT: %.2f)\n", med_fe / med_dfft,
	       med_fe / med_fft);
	printf("throughput: %.0f flop/frame -> %.2f GFLOP/s = %.1f%% of one core's ~100 GFLOP/s fp32 peak "
	       "(%.1f%% of its ~50 GFLOP/s fp64 peak; the arithmetic is fp64)\n",
	       flops, fps * flops * 1e-9, fps * flops * 1e-9, 2.0 * fps * flops * 1e-9);
	rc = 0;
cleanup:
	drsn_features_destroy(f);
	fftwf_free(in);
	fftwf_free(out);
	fftw_free(din);
	fftw_free(dout);
	free(t_dfft);
	free(t_fe);
	free(t_fft);
	free(x);
	return rc;
}
