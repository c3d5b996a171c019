/* Internal state of drsn_denoise (the benchmark tunes a few fields). */
#ifndef DRSN_SRC_DENOISE_DENOISE_INTERNAL_H
#define DRSN_SRC_DENOISE_DENOISE_INTERNAL_H

#include <fftw3.h>
#include <stdint.h>

#include "drsn/denoise.h"

/* Defaults chosen by measurement (docs/denoise.md). */
#define DRSN__DENOISE_DEFAULT_STRENGTH_DB 20.0f
#define DRSN__DENOISE_ALPHA_DD 0.92f      /* decision-directed weight per 8 ms hop */
#define DRSN__DENOISE_XI_MIN_DB (-25.0f)  /* a-priori SNR floor */
#define DRSN__DENOISE_THRESHOLD 2.0f      /* soft-threshold scale */

struct drsn_denoise {
	drsn_denoise_opts opts;
	int sample_rate;
	int n, hop, nbins;        /* frame (= latency), hop = n / 2, n / 2 + 1 bins */
	float gmin;               /* attenuation floor, linear */
	float alpha_s, alpha_d, alpha_dd;   /* per-hop smoothing constants */
	float xi_min, thr, beta, bmin;
	int v_frames;             /* frames per minimum-search sub-window */
	int vad_lo, vad_hi;       /* bins averaged into the speech value */
	float out_scale;

	fftwf_plan fwd, inv;
	float *mem;               /* one block holding every float array below */
	fftwf_complex *spec;
	float *win, *hist, *ola, *frame, *fft_out, *outq;
	float *ypow, *prob, *ind;
	/* The estimator's state, contiguous from s to the end of stminbuf
	 * (state_len floats), so that one copy saves or restores it. */
	float *s, *smin, *ssub, *st, *stmin, *stsub;
	float *lbar, *lambda, *ghat2, *gamma_prev;
	float *sminbuf, *stminbuf;   /* IMCRA_U sub-window minima per bin */
	float *snap;              /* the state from before a suspected glitch */
	size_t state_len;

	int pos;                  /* samples of the current hop received */
	int sub_count, sub_idx;
	uint64_t frames;
	float speech;

	/* Glitch guard (glitch_guard() in denoise.c, docs/denoise.md "Bursts"):
	 * a frame whose energy jumps glitch_ratio above the recent envelope
	 * saves the state to snap; if the event is over within glitch_max
	 * frames, the state comes back and the event is forgotten. */
	float glitch_ratio;
	int glitch_max;           /* frames a forgettable event may touch */
	int glitch_max_full;      /* ... if it reached full scale */
	int glitch_full;          /* the current event reached full scale */
	int glitch_n;             /* frames of the event so far, 0 = none */
	int snap_sub_count, snap_sub_idx;
	float env, env_prev;      /* frame energy envelope, and its value a frame before */
	float e_ref;              /* the envelope the event rose from */
	float e_peak;             /* the event's highest frame energy */
	uint64_t glitches;        /* events forgotten since reset */
};

#endif
