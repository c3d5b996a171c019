/*
 * Streaming denoiser: STFT (square-root Hann, 50 % overlap) -> IMCRA noise
 * estimate -> decision-directed a-priori SNR -> per-bin soft threshold with
 * an adaptive threshold -> speech-presence weighted floor -> overlap-add.
 *
 * Noise estimator: IMCRA, I. Cohen, "Noise spectrum estimation in adverse
 * environments: improved minima controlled recursive averaging", IEEE TSAP
 * 11(5), 2003. Two passes of frequency+time smoothing and minimum tracking
 * over U sub-windows of V frames; the second pass excludes bins the first
 * flagged as speech. Its constants are the paper's (given there per 8 ms
 * hop and rescaled here to the actual hop) except the sub-window length and
 * the bias BETA, which were measured (docs/denoise.md).
 */
#include "drsn/denoise.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fft.h"
#include "denoise/denoise_internal.h"

#define OVERLAP 2            /* hop = n / 2 (75 % overlap measured 0.06 dB
				      better SI-SDR at twice the cost) */
#define IMCRA_U 8            /* sub-windows of the minimum search */
#define IMCRA_V_MS 64.0f     /* one sub-window (paper: 15 frames of 8 ms = 120 ms) */
#define REF_HOP_MS 8.0f      /* hop the smoothing constants below are for */
#define ALPHA_S 0.9f         /* time smoothing of the power spectrum */
#define ALPHA_D 0.85f        /* noise recursive averaging */
#define BETA 2.0f            /* noise bias compensation (paper: 1.47; 2 measured better) */
#define B_MIN 1.66f          /* minimum bias */
#define GAMMA0 4.6f
#define GAMMA1 3.0f
#define ZETA0 1.67f
#define POW_FLOOR 1e-15f     /* no power estimate goes below this */
#define SNR_MAX 1e10f
#define IN_CLIP 65536.0f
#define IN_TINY 1e-20f       /* flushed to zero: keeps denormals out */
#define GLITCH_DB 20.0f      /* a frame this far above the recent envelope may be a glitch */
#define GLITCH_MAX_MS 10.0f  /* longest burst the estimator surely forgets */
#define GLITCH_FULL_MS 100.0f  /* ... and the longest one that reaches full scale */
#define FULL_SCALE (32767.0f / 32768.0f)  /* |x| >= this: at (or past) full scale; int16's
					     +32767 reads as this, -32768 as -1 */

/* fminf/fmaxf are libm calls without -ffast-math; no NaN reaches these. */
static inline float minf(float a, float b) { return a < b ? a : b; }
static inline float maxf(float a, float b) { return a > b ? a : b; }

DRSN_API void drsn_denoise_opts_default(drsn_denoise_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof *o);
	o->strength_db = DRSN__DENOISE_DEFAULT_STRENGTH_DB;
	o->frame_ms = 32.0f;
	o->on_frame = NULL;
	o->user = NULL;
}

static void *alloc_floats(size_t n)
{
	return fftwf_malloc(n * sizeof(float));
}

DRSN_API void drsn_denoise_destroy(drsn_denoise *d)
{
	if (!d)
		return;
	drsn__fft_destroy(d->fwd);
	drsn__fft_destroy(d->inv);
	fftwf_free(d->mem);
	fftwf_free(d->spec);
	free(d);
}

/* Time constant a given for a REF_HOP_MS hop, rescaled to this hop. */
static float per_hop(float a, float hop_ms)
{
	return powf(a, hop_ms / REF_HOP_MS);
}

DRSN_API int drsn_denoise_create(drsn_denoise **out, int sample_rate,
				 const drsn_denoise_opts *opts, drsn_error *err)
{
	drsn_denoise_opts o;
	drsn_denoise *d = NULL;
	int rc = 0;

	drsn__error_clear(err);
	DRSN__REQUIRE(err, out);
	*out = NULL;
	if (opts)
		o = *opts;
	else
		drsn_denoise_opts_default(&o);
	if (sample_rate < 8000 || sample_rate > 192000)
		return drsn__fail(err, -EINVAL, "denoise: sample_rate %d Hz is outside 8000..192000", sample_rate);
	if (!(o.strength_db >= 0.0f && o.strength_db <= 100.0f))
		return drsn__fail(err, -EINVAL, "denoise: strength_db %g is outside 0..100 dB", (double)o.strength_db);
	if (!(o.frame_ms >= 8.0f && o.frame_ms <= 64.0f))
		return drsn__fail(err, -EINVAL, "denoise: frame_ms %g is outside 8..64 ms", (double)o.frame_ms);

	d = calloc(1, sizeof *d);
	if (!d)
		return drsn__fail(err, -ENOMEM, "denoise: out of memory");
	d->opts = o;
	d->sample_rate = sample_rate;
	/* Frame: frame_ms rounded to a multiple of 4 samples. */
	d->n = 4 * (int)lrintf(o.frame_ms * 1e-3f * (float)sample_rate / 4.0f);
	d->hop = d->n / OVERLAP;
	d->nbins = d->n / 2 + 1;
	d->gmin = powf(10.0f, -o.strength_db / 20.0f);

	float hop_ms = 1e3f * (float)d->hop / (float)sample_rate;
	d->alpha_s = per_hop(ALPHA_S, hop_ms);
	d->alpha_d = per_hop(ALPHA_D, hop_ms);
	d->alpha_dd = per_hop(DRSN__DENOISE_ALPHA_DD, hop_ms);
	d->v_frames = (int)lrintf(IMCRA_V_MS / hop_ms);
	if (d->v_frames < 1)
		d->v_frames = 1;
	d->xi_min = powf(10.0f, DRSN__DENOISE_XI_MIN_DB / 10.0f);
	d->thr = DRSN__DENOISE_THRESHOLD;
	d->beta = BETA;
	d->bmin = B_MIN;

	/* Speech band for the per-frame speech value. */
	d->vad_lo = (int)ceilf(300.0f * (float)d->n / (float)sample_rate);
	d->vad_hi = (int)floorf(4000.0f * (float)d->n / (float)sample_rate);
	if (d->vad_hi > d->nbins - 1)
		d->vad_hi = d->nbins - 1;

	/* Glitch guard: an event of up to GLITCH_MAX_MS touches at most
	 * ceil((GLITCH_MAX_MS + frame) / hop) frames. */
	d->glitch_ratio = powf(10.0f, GLITCH_DB / 10.0f);
	d->glitch_max = (int)ceilf((GLITCH_MAX_MS * 1e-3f * (float)sample_rate + (float)d->n)
				   / (float)d->hop);
	d->glitch_max_full = (int)ceilf((GLITCH_FULL_MS * 1e-3f * (float)sample_rate + (float)d->n)
					/ (float)d->hop);

	size_t n = (size_t)d->n, nb = (size_t)d->nbins, hop = (size_t)d->hop;
	d->state_len = nb * (10 + 2 * IMCRA_U);
	size_t total = 5 * n + hop              /* win hist ola frame fft_out | outq */
		+ 3 * nb                        /* ypow prob ind */
		+ 2 * d->state_len;             /* estimator state and its snapshot */
	d->mem = alloc_floats(total);
	d->spec = fftwf_malloc(nb * sizeof(fftwf_complex));
	if (!d->mem || !d->spec) {
		rc = drsn__fail(err, -ENOMEM, "denoise: out of memory (frame %d)", d->n);
		goto cleanup;
	}
	float *p = d->mem;
	d->win = p; p += n;
	d->hist = p; p += n;
	d->ola = p; p += n;
	d->frame = p; p += n;
	d->fft_out = p; p += n;
	d->outq = p; p += hop;
	d->ypow = p; p += nb;
	d->prob = p; p += nb;
	d->ind = p; p += nb;
	d->s = p; p += nb;            /* the state block starts here */
	d->smin = p; p += nb;
	d->ssub = p; p += nb;
	d->st = p; p += nb;
	d->stmin = p; p += nb;
	d->stsub = p; p += nb;
	d->lbar = p; p += nb;
	d->lambda = p; p += nb;
	d->ghat2 = p; p += nb;
	d->gamma_prev = p; p += nb;
	d->sminbuf = p; p += nb * IMCRA_U;
	d->stminbuf = p; p += nb * IMCRA_U;   /* ... and ends here */
	d->snap = p; p += d->state_len;

	/* Plan before filling the buffers: FFTW_MEASURE may scribble on them. */
	d->fwd = drsn__fft_plan_r2c(d->n, d->frame, d->spec);
	d->inv = drsn__fft_plan_c2r(d->n, d->spec, d->fft_out);
	if (!d->fwd || !d->inv) {
		rc = drsn__fail(err, -ENOMEM, "denoise: FFTW could not plan a %d-point transform", d->n);
		goto cleanup;
	}

	/* Square-root periodic Hann: analysis * synthesis = Hann, whose shifts
	 * by n/OVERLAP sum to OVERLAP/2. The synthesis side folds in the
	 * inverse of that and FFTW's 1/n. */
	for (int i = 0; i < d->n; i++)
		d->win[i] = sqrtf(0.5f - 0.5f * cosf(2.0f * (float)M_PI * (float)i / (float)d->n));
	d->out_scale = 2.0f / ((float)OVERLAP * (float)d->n);

	drsn_denoise_reset(d);
	*out = d;
	return 0;

cleanup:
	drsn_denoise_destroy(d);
	return rc;
}

DRSN_API void drsn_denoise_reset(drsn_denoise *d)
{
	if (!d)
		return;
	size_t n = (size_t)d->n;
	memset(d->hist, 0, n * sizeof(float));
	memset(d->ola, 0, n * sizeof(float));
	memset(d->outq, 0, (size_t)d->hop * sizeof(float));
	d->pos = 0;
	d->frames = 0;
	d->speech = 0.0f;
	d->sub_count = 0;
	d->sub_idx = 0;
	d->glitch_n = 0;
	d->env = d->env_prev = d->e_ref = d->e_peak = 0.0f;
	d->glitches = 0;
}

DRSN_API int drsn_denoise_latency(const drsn_denoise *d)
{
	return d ? d->n : 0;
}

DRSN_API int drsn_denoise_hop(const drsn_denoise *d)
{
	return d ? d->hop : 0;
}

DRSN_API float drsn_denoise_speech(const drsn_denoise *d)
{
	return d ? d->speech : 0;
}

DRSN_API uint64_t drsn_denoise_frames(const drsn_denoise *d)
{
	return d ? d->frames : 0;
}

/* 3-tap Hann smoothing across frequency, b = (1/4, 1/2, 1/4), edges mirrored. */
static inline float fsmooth(const float *x, int k, int nb)
{
	float l = x[k > 0 ? k - 1 : 1];
	float r = x[k < nb - 1 ? k + 1 : nb - 2];
	return 0.25f * l + 0.5f * x[k] + 0.25f * r;
}

/* The first frames see the zeros before the stream: every frame until the
 * first one full of input (re)initialises the estimator from itself. */
static void init_state(drsn_denoise *d)
{
	int nb = d->nbins;
	for (int k = 0; k < nb; k++) {
		float sf = maxf(fsmooth(d->ypow, k, nb), POW_FLOOR);
		d->s[k] = d->smin[k] = d->ssub[k] = sf;
		d->st[k] = d->stmin[k] = d->stsub[k] = sf;
		for (int u = 0; u < IMCRA_U; u++) {
			d->sminbuf[u * nb + k] = sf;
			d->stminbuf[u * nb + k] = sf;
		}
		float y = maxf(d->ypow[k], POW_FLOOR);
		d->lbar[k] = y;
		d->lambda[k] = d->beta * y;
		d->ghat2[k] = 1.0f;
		d->gamma_prev[k] = 1.0f;
		d->prob[k] = 0.0f;
	}
	d->sub_count = 0;
	d->sub_idx = 0;
}

/* Minimum tracking over U sub-windows of V frames (both IMCRA passes). */
static void track_minima(drsn_denoise *d)
{
	int nb = d->nbins;
	for (int k = 0; k < nb; k++) {
		d->smin[k] = minf(d->smin[k], d->s[k]);
		d->ssub[k] = minf(d->ssub[k], d->s[k]);
		d->stmin[k] = minf(d->stmin[k], d->st[k]);
		d->stsub[k] = minf(d->stsub[k], d->st[k]);
	}
	if (++d->sub_count < d->v_frames)
		return;
	d->sub_count = 0;
	float *sb = d->sminbuf + (size_t)d->sub_idx * nb;
	float *tb = d->stminbuf + (size_t)d->sub_idx * nb;
	memcpy(sb, d->ssub, (size_t)nb * sizeof(float));
	memcpy(tb, d->stsub, (size_t)nb * sizeof(float));
	d->sub_idx = (d->sub_idx + 1) % IMCRA_U;
	for (int k = 0; k < nb; k++) {
		float m = d->sminbuf[k], mt = d->stminbuf[k];
		for (int u = 1; u < IMCRA_U; u++) {
			m = minf(m, d->sminbuf[u * nb + k]);
			mt = minf(mt, d->stminbuf[u * nb + k]);
		}
		d->smin[k] = m;
		d->stmin[k] = mt;
		d->ssub[k] = d->s[k];
		d->stsub[k] = d->st[k];
	}
}

/* Whether any of the len samples from x is at full scale. */
static int reaches_full_scale(const float *x, int len)
{
	for (int i = 0; i < len; i++) {
		if (x[i] >= FULL_SCALE || x[i] <= -FULL_SCALE)
			return 1;
	}
	return 0;
}

/* Glitch guard, before the frame updates the estimator. env follows the
 * frame energy: it takes any higher frame at once and decays by alpha_s
 * per frame, as the smoothed power s does, so it is the level the
 * estimator already holds from recent sound. A frame whose energy e is
 * more than glitch_ratio above env (ignoring what the last frame alone
 * added: a burst's first frame may hold only its edge) starts an event,
 * and the estimator state is saved. The event was a glitch (a burst, a pop,
 * a click far above what came before) if within glitch_max frames the
 * energy is back within glitch_ratio of that reference, or if after
 * glitch_max frames it has fallen glitch_ratio below the event's peak (a
 * glitch followed by louder sound than before it). Then the saved state
 * comes back, the minimum search's sub-window clock is run over the event's
 * frames as if they had held the power from before it, and the estimator
 * goes on as if the glitch never happened; the frames it touched were
 * denoised with the state it left. An event that reaches full scale (a
 * sample at +-1 or beyond: a pop, garbage, a bad conversion) may last
 * glitch_max_full frames (GLITCH_FULL_MS) instead, and ends only on a frame
 * without full-scale samples, so that no tail of it (which may be within
 * glitch_ratio of a high e_ref) reaches the restored state. An event that
 * stays near its peak longer is sound: the state it built is kept, as
 * without the guard.
 * Speech is near the level of its own recent past, so it nearly never
 * ends an event early and its output does not change (docs/denoise.md,
 * "Bursts"). */
static void glitch_guard(drsn_denoise *d, float e)
{
	const float r = d->glitch_ratio, a = d->alpha_s;
	if (d->glitch_n == 0) {
		float ref = minf(d->env, a * d->env_prev);
		if (e > r * ref) {
			memcpy(d->snap, d->s, d->state_len * sizeof(float));
			d->snap_sub_count = d->sub_count;
			d->snap_sub_idx = d->sub_idx;
			d->glitch_n = 1;
			d->e_ref = ref;
			d->e_peak = e;
			d->glitch_full = reaches_full_scale(d->hist, d->n);
		} else {
			d->env_prev = d->env;
			d->env = maxf(e, a * d->env);
		}
		return;
	}
	/* A frame that still holds full-scale samples holds the burst's tail
	 * (it may be back within glitch_ratio of a high e_ref all the same). */
	const int held = reaches_full_scale(d->hist, d->n);
	d->glitch_full |= held;
	const int max = d->glitch_full ? d->glitch_max_full : d->glitch_max;
	if (!held && (e <= r * d->e_ref || (d->glitch_n >= max && e * r < d->e_peak))) {
		memcpy(d->s, d->snap, d->state_len * sizeof(float));
		d->sub_count = d->snap_sub_count;
		d->sub_idx = d->snap_sub_idx;
		for (int i = 0; i < d->glitch_n; i++)
			track_minima(d);
		d->glitch_n = 0;
		d->glitches++;
		d->env = d->env_prev = maxf(e, a * d->e_ref);
		return;
	}
	d->e_peak = maxf(d->e_peak, e);
	if (++d->glitch_n > max) {   /* sound, not a glitch */
		d->glitch_n = 0;
		d->env = d->env_prev = maxf(e, a * d->e_peak);
	}
}

static void analyse_frame(drsn_denoise *d)
{
	const int n = d->n, nb = d->nbins;
	fftwf_complex *Y = d->spec;

	for (int i = 0; i < n; i++)
		d->frame[i] = d->hist[i] * d->win[i];
	fftwf_execute_dft_r2c(d->fwd, d->frame, Y);
	float energy = 0.0f;
	for (int k = 0; k < nb; k++) {
		d->ypow[k] = Y[k][0] * Y[k][0] + Y[k][1] * Y[k][1];
		energy += d->ypow[k];
	}

	if (d->frames < (uint64_t)(n / d->hop)) {
		init_state(d);
		d->env = d->env_prev = energy;
	} else {
		glitch_guard(d, energy);
	}

	const float gmin = d->gmin, a_s = d->alpha_s, a_dd = d->alpha_dd;
	const float lg_min = logf(gmin > 1e-30f ? gmin : 1e-30f);

	/* Pass 1: smoothed power, rough speech indicator from its minimum. */
	for (int k = 0; k < nb; k++) {
		float sf = fsmooth(d->ypow, k, nb);
		d->s[k] = maxf(a_s * d->s[k] + (1.0f - a_s) * sf, POW_FLOOR);
		float m = d->bmin * d->smin[k];   /* gamma_min < GAMMA0, zeta < ZETA0 */
		d->ind[k] = (d->ypow[k] < GAMMA0 * m && d->s[k] < ZETA0 * m) ? 1.0f : 0.0f;
	}
	/* Pass 2: smoothing over the bins pass 1 judged noise only. */
	for (int k = 0; k < nb; k++) {
		int kl = k > 0 ? k - 1 : 1, kr = k < nb - 1 ? k + 1 : nb - 2;
		float w = 0.25f * d->ind[kl] + 0.5f * d->ind[k] + 0.25f * d->ind[kr];
		float sf;
		if (w > 0.0f)
			sf = (0.25f * d->ind[kl] * d->ypow[kl] + 0.5f * d->ind[k] * d->ypow[k]
			      + 0.25f * d->ind[kr] * d->ypow[kr]) / w;
		else
			sf = d->st[k];
		d->st[k] = maxf(a_s * d->st[k] + (1.0f - a_s) * sf, POW_FLOOR);
	}
	track_minima(d);

	float speech_sum = 0.0f, band_pow = 0.0f;
	for (int k = 0; k < nb; k++) {
		const float y2 = d->ypow[k];
		const float lam = d->lambda[k];
		float gamma = minf(y2 / lam, SNR_MAX);
		/* Decision-directed a-priori SNR (Ephraim & Malah): the previous
		 * frame's clean estimate blended with the current ML estimate. */
		float xi = a_dd * d->ghat2[k] * d->gamma_prev[k]
			+ (1.0f - a_dd) * maxf(gamma - 1.0f, 0.0f);
		xi = minf(maxf(xi, d->xi_min), SNR_MAX);

		/* Soft threshold on the magnitude, tau = thr * sqrt(lambda / (1 + xi)):
		 * the bin's own noise level scaled down as its a-priori SNR rises
		 * (thr = 1 matches the Wiener gain where |Y|^2 = lambda (1 + xi)).
		 * G = 1 - tau / |Y|. */
		float g1 = 1.0f - d->thr / sqrtf(maxf(gamma, 1e-30f) * (1.0f + xi));
		g1 = maxf(g1, gmin);

		/* Speech-presence probability (IMCRA a-priori absence q). */
		float mt = d->bmin * d->stmin[k];
		float q;
		if (d->s[k] >= ZETA0 * mt || y2 >= GAMMA1 * mt)
			q = 0.0f;
		else if (y2 <= mt)
			q = 1.0f;
		else
			q = (GAMMA1 - y2 / mt) / (GAMMA1 - 1.0f);
		float pr;
		if (q >= 1.0f) {
			pr = 0.0f;
		} else {
			float v = minf(gamma * xi / (1.0f + xi), 80.0f);
			pr = 1.0f / (1.0f + q / (1.0f - q) * (1.0f + xi) * expf(-v));
		}
		d->prob[k] = pr;
		if (k >= d->vad_lo && k <= d->vad_hi) {
			speech_sum += pr * y2;
			band_pow += y2;
		}

		/* Where speech is absent the gain goes to the floor. */
		float g = pr > 0.999f ? g1 : pr < 0.001f ? gmin
			: expf(pr * (logf(g1) - lg_min) + lg_min);
		Y[k][0] *= g;
		Y[k][1] *= g;

		d->ghat2[k] = g1 * g1;
		d->gamma_prev[k] = gamma;

		/* Noise: recursive average, slowed where speech is present. */
		float ad = d->alpha_d + (1.0f - d->alpha_d) * pr;
		d->lbar[k] = maxf(ad * d->lbar[k] + (1.0f - ad) * y2, POW_FLOOR);
		d->lambda[k] = d->beta * d->lbar[k];
	}
	d->speech = band_pow > 0.0f ? minf(speech_sum / band_pow, 1.0f) : 0.0f;

	fftwf_execute_dft_c2r(d->inv, Y, d->fft_out);
	const float sc = d->out_scale;
	for (int i = 0; i < n; i++)
		d->ola[i] += d->fft_out[i] * d->win[i] * sc;
	const int hop = d->hop;
	memcpy(d->outq, d->ola, (size_t)hop * sizeof(float));
	/* Strength 0 promises the input unchanged: the overlap-add above gives
	 * it back only to float rounding (1 LSB on ~12% of 16-bit samples), so
	 * pass the frame's oldest hop itself (the analysis still runs, for the
	 * speech value). */
	if (gmin == 1.0f)
		memcpy(d->outq, d->hist, (size_t)hop * sizeof(float));
	memmove(d->ola, d->ola + hop, (size_t)(n - hop) * sizeof(float));
	memset(d->ola + n - hop, 0, (size_t)hop * sizeof(float));
	memmove(d->hist, d->hist + hop, (size_t)(n - hop) * sizeof(float));

	if (d->opts.on_frame)
		d->opts.on_frame(d->opts.user, d->frames, d->speech);
	d->frames++;
}

static inline float sanitize(float x)
{
	if (!isfinite(x))
		return 0.0f;
	if (fabsf(x) < IN_TINY)
		return 0.0f;
	return minf(maxf(x, -IN_CLIP), IN_CLIP);
}

/* in == NULL pushes zeros (flush). */
static void push(drsn_denoise *d, const float *in, size_t n, float *out)
{
	const int base = d->n - d->hop;
	size_t i = 0;
	while (i < n) {
		size_t m = (size_t)(d->hop - d->pos);
		if (m > n - i)
			m = n - i;
		float *h = d->hist + base + d->pos;
		const float *q = d->outq + d->pos;
		/* in may alias out: read each sample before writing its slot. */
		for (size_t j = 0; j < m; j++) {
			float x = sanitize(in ? in[i + j] : 0.0f);
			out[i + j] = q[j];
			h[j] = x;
		}
		d->pos += (int)m;
		i += m;
		if (d->pos == d->hop) {
			analyse_frame(d);
			d->pos = 0;
		}
	}
}

DRSN_API void drsn_denoise_process(drsn_denoise *d, const float *in, size_t n, float *out)
{
	if (d && in && out)
		push(d, in, n, out);
}

DRSN_API void drsn_denoise_flush(drsn_denoise *d, float *out)
{
	if (d && out)
		push(d, NULL, (size_t)d->n, out);
}
