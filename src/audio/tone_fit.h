/*
 * Tone analysis for the audio tests and the resampler benchmark (not part of
 * the library): least-squares fit of a sinusoid of known frequency, so
 * delays and phase shifts do not count as error.
 */
#ifndef DRSN_SRC_AUDIO_TONE_FIT_H
#define DRSN_SRC_AUDIO_TONE_FIT_H

#include <math.h>
#include <stddef.h>

struct tone_fit {
	double amp;      /* fitted amplitude */
	double signal;   /* energy of the fitted tone */
	double resid;    /* energy of x minus the fit (THD + noise) */
	double snr_db;   /* 10 log10(signal / resid) */
};

/* Fit a*sin + b*cos + c (DC) at freq over x[0..n). */
static inline struct tone_fit tone_fit(const float *x, size_t n, double rate, double freq)
{
	/* normal equations of the 3-parameter fit, solved by Cramer's rule */
	double ss = 0, cc = 0, sc = 0, s1 = 0, c1 = 0, xs = 0, xc = 0, x1 = 0;
	const double w = 2.0 * M_PI * freq / rate;
	for (size_t i = 0; i < n; i++) {
		double s = sin(w * (double)i), c = cos(w * (double)i), v = x[i];
		ss += s * s; cc += c * c; sc += s * c; s1 += s; c1 += c;
		xs += v * s; xc += v * c; x1 += v;
	}
	double N = (double)n;
	double m[3][3] = {{ss, sc, s1}, {sc, cc, c1}, {s1, c1, N}};
	double r[3] = {xs, xc, x1};
#define DET3(A) ((A)[0][0] * ((A)[1][1] * (A)[2][2] - (A)[1][2] * (A)[2][1]) - \
		 (A)[0][1] * ((A)[1][0] * (A)[2][2] - (A)[1][2] * (A)[2][0]) + \
		 (A)[0][2] * ((A)[1][0] * (A)[2][1] - (A)[1][1] * (A)[2][0]))
	double d = DET3(m), p[3];
	for (int k = 0; k < 3; k++) {
		double t[3][3];
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++)
				t[i][j] = j == k ? r[i] : m[i][j];
		p[k] = DET3(t) / d;
	}
#undef DET3
	struct tone_fit f = {0};
	f.amp = hypot(p[0], p[1]);
	for (size_t i = 0; i < n; i++) {
		double y = p[0] * sin(w * (double)i) + p[1] * cos(w * (double)i) + p[2];
		double e = x[i] - y;
		f.signal += (y - p[2]) * (y - p[2]);
		f.resid += e * e;
	}
	f.snr_db = 10.0 * log10(f.signal / (f.resid > 1e-30 ? f.resid : 1e-30));
	return f;
}

/* Frequency from upward zero crossings (linear interpolation), over x[0..n). */
static inline double tone_freq(const float *x, size_t n, double rate)
{
	double first = -1, last = -1;
	long count = 0;
	for (size_t i = 1; i < n; i++) {
		if (x[i - 1] < 0 && x[i] >= 0) {
			double t = (double)(i - 1) + x[i - 1] / (x[i - 1] - x[i]);
			if (first < 0)
				first = t;
			else
				count++;
			last = t;
		}
	}
	return count > 0 ? rate * (double)count / (last - first) : 0.0;
}

/* RMS of x[0..n). */
static inline double tone_rms(const float *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	return n ? sqrt(s / (double)n) : 0.0;
}

#endif
