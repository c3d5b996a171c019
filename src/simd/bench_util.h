/*
 * Timing helpers shared by the benchmark programs of this module
 * (bench-kernels, `drsn bench`): clocks and the median.
 */
#ifndef DRSN_SRC_SIMD_BENCH_UTIL_H
#define DRSN_SRC_SIMD_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* Thread CPU time, seconds: what one thread spent, whatever else runs. */
static inline double drsn__bench_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Wall-clock (monotonic) time, seconds. */
static inline double drsn__bench_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int drsn__bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double drsn__bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, drsn__bench_cmp);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
