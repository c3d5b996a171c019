/* The streaming log-mel front end (definition in include/drsn/features.h).
 *
 * Samples collect in a win_length buffer; when it is full one frame is
 * computed from it and the buffer slides by hop_length. Since a frame only
 * ever sees its own win_length samples, chunking cannot change the result.
 * Everything is planned in create: push never allocates.
 *
 * Precision: input and output are float32, the arithmetic in between is
 * double (FFTW double r2c). A float32 FFT's rounding noise is ~1e-7 of the
 * frame's total energy in every bin; in a loud frame (speech with a DC
 * offset, a strong low formant) a band with power near the 1e-6 log floor
 * then carries errors of 1e-3..1e-2 in the log domain, and the C and torch
 * float32 FFTs round differently. In double both sides agree to ~1e-6 (see
 * tests/parity); the double FFT costs about the same as FFTW's float one. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fft.h"
#include "drsn/features.h"
#include "features/mel.h"

struct drsn_features {
	drsn_features_params p;
	int n_bins;           /* n_fft/2 + 1 */
	double *window;       /* [win_length] periodic Hann */
	double *frame;        /* [n_fft] FFT input (fftw_malloc) */
	fftw_complex *spec;   /* [n_bins] FFT output (fftw_malloc) */
	double *power;        /* [n_bins] */
	float *mel;           /* [n_mels] the frame handed to callbacks */
	float *buf;           /* [win_length] samples of the frame being filled */
	int *band_lo;         /* [n_mels] first nonzero bin of each band */
	int *band_n;          /* [n_mels] its number of nonzero bins */
	double *weights;      /* band m's weights at weights + band_off[m] */
	int *band_off;        /* [n_mels] */
	fftw_plan plan;

	int have;             /* samples in buf */
	int skip;             /* samples to drop first (hop_length > win_length) */
	int64_t pos;          /* samples pushed since create/reset */
	int64_t next_index;   /* index of the next frame */
};

DRSN_API void drsn_features_destroy(drsn_features *f)
{
	if (!f)
		return;
	drsn__fft_destroy_f64(f->plan);
	fftw_free(f->frame);
	fftw_free(f->spec);
	free(f->window);
	free(f->power);
	free(f->mel);
	free(f->buf);
	free(f->band_lo);
	free(f->band_n);
	free(f->band_off);
	free(f->weights);
	free(f);
}

static int build_mel(drsn_features *f)
{
	const drsn_features_params *p = &f->p;
	int total = 0;
	f->band_lo = calloc((size_t)p->n_mels, sizeof *f->band_lo);
	f->band_n = calloc((size_t)p->n_mels, sizeof *f->band_n);
	f->band_off = calloc((size_t)p->n_mels, sizeof *f->band_off);
	if (!f->band_lo || !f->band_n || !f->band_off)
		return -ENOMEM;
	for (int m = 0; m < p->n_mels; m++) {
		drsn__mel_band_range(p, m, &f->band_lo[m], &f->band_n[m]);
		f->band_off[m] = total;
		total += f->band_n[m];
	}
	f->weights = calloc((size_t)(total > 0 ? total : 1), sizeof *f->weights);
	if (!f->weights)
		return -ENOMEM;
	for (int m = 0; m < p->n_mels; m++)
		for (int j = 0; j < f->band_n[m]; j++)
			f->weights[f->band_off[m] + j] = drsn__mel_weight(p, f->band_lo[m] + j, m);
	return 0;
}

DRSN_API int drsn_features_create(drsn_features **out, const drsn_features_params *p,
				  drsn_error *err)
{
	int rc;
	drsn_features *f = NULL;
	DRSN__REQUIRE(err, out);
	*out = NULL;
	DRSN__REQUIRE(err, p);
	if ((rc = drsn_features_params_validate(p, err)) < 0)
		return rc;
	f = calloc(1, sizeof *f);
	if (!f)
		return drsn__fail(err, -ENOMEM, "front end: out of memory");
	f->p = *p;
	f->n_bins = p->n_fft / 2 + 1;
	size_t win = (size_t)p->win_length;
	f->window = malloc(win * sizeof *f->window);
	f->buf = calloc(win, sizeof *f->buf);
	f->power = calloc((size_t)f->n_bins, sizeof *f->power);
	f->mel = calloc((size_t)p->n_mels, sizeof *f->mel);
	f->frame = fftw_malloc((size_t)p->n_fft * sizeof *f->frame);
	f->spec = fftw_malloc((size_t)f->n_bins * sizeof *f->spec);
	if (!f->window || !f->buf || !f->power || !f->mel || !f->frame || !f->spec) {
		rc = drsn__fail(err, -ENOMEM, "front end: out of memory");
		goto cleanup;
	}
	/* Plan before filling the arrays: FFTW_MEASURE may overwrite them. */
	f->plan = drsn__fft_plan_r2c_f64(p->n_fft, f->frame, f->spec);
	if (!f->plan) {
		rc = drsn__fail(err, -ENOMEM, "front end: FFTW could not plan a %d-point r2c transform", p->n_fft);
		goto cleanup;
	}
	memset(f->frame, 0, (size_t)p->n_fft * sizeof *f->frame);
	/* torch.hann_window(win_length, periodic=True) */
	for (size_t i = 0; i < win; i++)
		f->window[i] = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)win);
	if (build_mel(f) < 0) {
		rc = drsn__fail(err, -ENOMEM, "front end: out of memory");
		goto cleanup;
	}
	*out = f;
	return 0;
cleanup:
	drsn_features_destroy(f);
	return rc;
}

/* One frame from f->buf (win_length samples) into f->mel. */
/* The loops have run-time trip counts, which GCC -O2's very cheap vectoriser
 * model declines; allow it here: 17% fewer instructions per push (callgrind).
 * Element-wise loops only change speed; the mel sums stay in order (no
 * reassociation without -ffast-math), so results are unchanged. */
#if defined(__GNUC__) && !defined(__clang__)
#define VECTORISE __attribute__((optimize("vect-cost-model=dynamic")))
#else
#define VECTORISE
#endif
VECTORISE static void compute_frame(drsn_features *f)
{
	const int win = f->p.win_length, n_fft = f->p.n_fft, n_bins = f->n_bins;
	double *restrict fr = f->frame;
	const float *restrict b = f->buf;
	const double *restrict w = f->window;
	for (int i = 0; i < win; i++)
		fr[i] = b[i] * w[i];
	for (int i = win; i < n_fft; i++)  /* r2c may not keep its input: re-zero */
		fr[i] = 0.0;
	fftw_execute(f->plan);
	double *restrict pw = f->power;
	const fftw_complex *restrict s = f->spec;
	for (int k = 0; k < n_bins; k++)
		pw[k] = s[k][0] * s[k][0] + s[k][1] * s[k][1];
	const double off = f->p.log_offset;
	for (int m = 0; m < f->p.n_mels; m++) {
		const double *restrict wt = f->weights + f->band_off[m];
		const double *restrict pm = pw + f->band_lo[m];
		double acc = 0.0;
		for (int j = 0; j < f->band_n[m]; j++)
			acc += wt[j] * pm[j];
		f->mel[m] = (float)log(acc + off);
	}
}

DRSN_API int64_t drsn_features_push(drsn_features *f, const float *x, size_t n,
				    drsn_features_cb cb, void *user)
{
	if (!f || !cb || (!x && n > 0))
		return -EINVAL;
	const int win = f->p.win_length, hop = f->p.hop_length;
	int64_t frames = 0;
	size_t i = 0;
	f->pos += (int64_t)n;
	while (i < n) {
		if (f->skip > 0) {
			size_t k = n - i < (size_t)f->skip ? n - i : (size_t)f->skip;
			f->skip -= (int)k;
			i += k;
			continue;
		}
		size_t k = n - i < (size_t)(win - f->have) ? n - i : (size_t)(win - f->have);
		memcpy(f->buf + f->have, x + i, k * sizeof *x);
		f->have += (int)k;
		i += k;
		if (f->have < win)
			break;
		compute_frame(f);
		cb(user, f->mel, f->next_index++);
		frames++;
		if (hop < win) {
			memmove(f->buf, f->buf + hop, (size_t)(win - hop) * sizeof *f->buf);
			f->have = win - hop;
		} else {
			f->have = 0;
			f->skip = hop - win;
		}
	}
	return frames;
}

DRSN_API int64_t drsn_features_frames_pending(const drsn_features *f, size_t n)
{
	if (!f)
		return 0;
	/* Frame j is complete once j*hop + win samples have arrived. */
	int64_t avail = f->pos + (int64_t)n;
	int64_t done = drsn_features_frames_for(&f->p, avail);
	return done > f->next_index ? done - f->next_index : 0;
}

struct into_ctx {
	float *out;
	int n_mels;
};

static void copy_row(void *user, const float *mel, int64_t frame_index)
{
	(void)frame_index;
	struct into_ctx *c = user;
	memcpy(c->out, mel, (size_t)c->n_mels * sizeof *mel);
	c->out += c->n_mels;
}

DRSN_API int64_t drsn_features_push_into(drsn_features *f, const float *x, size_t n,
					 float *out, size_t max_frames)
{
	if (!f || (!x && n > 0))
		return -EINVAL;
	int64_t need = drsn_features_frames_pending(f, n);
	if ((uint64_t)need > max_frames)
		return -ENOSPC;
	if (need > 0 && !out)
		return -EINVAL;
	struct into_ctx c = {out, f->p.n_mels};
	return drsn_features_push(f, x, n, copy_row, &c);
}

DRSN_API void drsn_features_reset(drsn_features *f)
{
	if (!f)
		return;
	f->have = 0;
	f->skip = 0;
	f->pos = 0;
	f->next_index = 0;
}

DRSN_API const drsn_features_params *drsn_features_get_params(const drsn_features *f)
{
	return f ? &f->p : NULL;
}

DRSN_API int drsn_features_n_mels(const drsn_features *f)
{
	return f ? f->p.n_mels : 0;
}
