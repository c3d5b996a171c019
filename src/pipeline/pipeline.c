#include "drsn/pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "pipeline/detector.h"
#include "drsn/features.h"

struct drsn_pipeline {
	const drsn_model *m;
	drsn_ctx *ctx;
	drsn_features *fe;
	drsn_pipeline_opts o;
	int64_t failed;   /* inferences drsn_ctx_run refused (drsn__pipeline_failed) */
	int rate, hop, win;
	int W, B, n_labels;
	int hop_frames;            /* frames per inference */
	double window_s, infer_hop_s, refractory_s;
	float silence;             /* log(log_offset): a digital-silence feature */

	float *frames;             /* 2*W rows of B: each frame written twice */
	float *clean;              /* [hop] the samples being pushed, NaN/Inf as 0 */
	int64_t n_frames;          /* frames since reset */

	int S;                     /* smoothing history length (inferences) */
	float *hist;               /* S x n_labels raw probabilities */
	double *hist_t;            /* window end time of each */
	int h_n, h_pos;
	float *probs, *smoothed;
	float *thr;                /* per label */
	double *last_fire;         /* stream time of the last detection per label */
	char *fires;               /* label may fire (name does not start with '_') */

	double audio_end;          /* while finish pushes its silence: where the audio ended, else -1 */

	/* VAD over blocks of hop samples */
	int64_t samples;           /* since reset */
	double block_sumsq;
	int block_n;
	int64_t last_voice;        /* sample index of the last voiced block end, -1 = none */
	int64_t hangover;          /* samples */
	float vad_power;           /* mean-square threshold */
	int vad_active;

	const drsn_pipeline_events *ev;
	void *user;
	drsn_pipeline_stats st;
};

DRSN_API void drsn_pipeline_opts_default(drsn_pipeline_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof *o);
	o->inference_hop_ms = 100;
	o->smoothing_ms = 300;
	o->threshold = 0.8f;
	o->thresholds = NULL;
	o->refractory_ms = 1000;
	o->vad = 0;
	o->vad_threshold_db = -50.0f;
	o->vad_hangover_ms = 500;
}

static int check_opts(const drsn_pipeline_opts *o, int n_labels, drsn_error *err)
{
	if (o->inference_hop_ms < DRSN_PIPELINE_HOP_MS_MIN || o->inference_hop_ms > DRSN_PIPELINE_HOP_MS_MAX)
		return drsn__fail(err, -EINVAL, "inference_hop_ms: %d is not in [%d, %d]", o->inference_hop_ms,
				  DRSN_PIPELINE_HOP_MS_MIN, DRSN_PIPELINE_HOP_MS_MAX);
	if (o->smoothing_ms < 0 || o->smoothing_ms > DRSN_PIPELINE_SMOOTHING_MS_MAX)
		return drsn__fail(err, -EINVAL, "smoothing_ms: %d is not in [0, %d]", o->smoothing_ms,
				  DRSN_PIPELINE_SMOOTHING_MS_MAX);
	if (!(o->threshold >= 0 && o->threshold <= 1))
		return drsn__fail(err, -EINVAL, "threshold: %g is not in [0, 1]", o->threshold);
	for (int i = 0; o->thresholds && i < n_labels; i++)
		if (!(o->thresholds[i] <= 1) || isnan(o->thresholds[i]))
			return drsn__fail(err, -EINVAL, "thresholds[%d]: %g is not <= 1", i, o->thresholds[i]);
	if (o->refractory_ms < 0 || o->refractory_ms > DRSN_PIPELINE_REFRACTORY_MS_MAX)
		return drsn__fail(err, -EINVAL, "refractory_ms: %d is not in [0, %d]", o->refractory_ms,
				  DRSN_PIPELINE_REFRACTORY_MS_MAX);
	if (!(o->vad_threshold_db <= 0 && o->vad_threshold_db >= DRSN_PIPELINE_VAD_DB_MIN))
		return drsn__fail(err, -EINVAL, "vad_threshold_db: %g is not in [%d, 0]", o->vad_threshold_db,
				  DRSN_PIPELINE_VAD_DB_MIN);
	if (o->vad_hangover_ms < 0 || o->vad_hangover_ms > DRSN_PIPELINE_HANGOVER_MS_MAX)
		return drsn__fail(err, -EINVAL, "vad_hangover_ms: %d is not in [0, %d]", o->vad_hangover_ms,
				  DRSN_PIPELINE_HANGOVER_MS_MAX);
	return 0;
}

DRSN_API int drsn_pipeline_create(drsn_pipeline **out, const drsn_model *m,
				  const drsn_pipeline_opts *o, drsn_error *err)
{
	DRSN__REQUIRE(err, out);
	*out = NULL;
	DRSN__REQUIRE(err, m);
	drsn_pipeline_opts def;
	if (!o) {
		drsn_pipeline_opts_default(&def);
		o = &def;
	}
	int n_labels = drsn_model_n_labels(m);
	int rc = check_opts(o, n_labels, err);
	if (rc < 0)
		return rc;
	drsn_pipeline *p = calloc(1, sizeof *p);
	if (!p)
		return drsn__fail(err, -ENOMEM, "out of memory");
	p->m = m;
	p->o = *o;
	p->o.thresholds = NULL;
	const drsn_features_params *fp = drsn_model_features_params(m);
	p->rate = fp->sample_rate;
	p->hop = fp->hop_length;
	p->win = fp->win_length;
	p->W = drsn_model_frames(m);
	p->B = drsn_model_bands(m);
	p->n_labels = n_labels;
	p->silence = logf(fp->log_offset);
	long hf = lround(o->inference_hop_ms / 1000.0 * p->rate / p->hop);
	p->hop_frames = hf < 1 ? 1 : (int)hf;
	p->infer_hop_s = (double)p->hop_frames * p->hop / p->rate;
	p->window_s = ((double)(p->W - 1) * p->hop + p->win) / p->rate;
	p->refractory_s = o->refractory_ms / 1000.0;
	long S = o->smoothing_ms ? lround(o->smoothing_ms / 1000.0 / p->infer_hop_s) : 1;
	p->S = S < 1 ? 1 : (int)S;
	p->hangover = (int64_t)o->vad_hangover_ms * p->rate / 1000;
	p->vad_power = powf(10.0f, o->vad_threshold_db / 10.0f);

	if ((rc = drsn_features_create(&p->fe, fp, err)) < 0)
		goto fail;
	if ((rc = drsn_ctx_create(&p->ctx, m, err)) < 0)
		goto fail;
	size_t nl = (size_t)n_labels;
	p->frames = malloc(2 * (size_t)p->W * (size_t)p->B * sizeof *p->frames);
	p->clean = malloc((size_t)p->hop * sizeof *p->clean);
	p->hist = malloc((size_t)p->S * nl * sizeof *p->hist);
	p->hist_t = malloc((size_t)p->S * sizeof *p->hist_t);
	p->probs = malloc(nl * sizeof *p->probs);
	p->smoothed = malloc(nl * sizeof *p->smoothed);
	p->thr = malloc(nl * sizeof *p->thr);
	p->last_fire = malloc(nl * sizeof *p->last_fire);
	p->fires = malloc(nl);
	if (!p->frames || !p->clean || !p->hist || !p->hist_t || !p->probs || !p->smoothed || !p->thr ||
	    !p->last_fire || !p->fires) {
		rc = drsn__fail(err, -ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n_labels; i++) {
		const char *name = drsn_model_label(m, i);
		p->fires[i] = name && name[0] != '_';
		p->thr[i] = o->thresholds && o->thresholds[i] >= 0 ? o->thresholds[i] : o->threshold;
	}
	drsn_pipeline_reset(p);
	*out = p;
	return 0;
fail:
	drsn_pipeline_destroy(p);
	return rc;
}

DRSN_API void drsn_pipeline_destroy(drsn_pipeline *p)
{
	if (!p)
		return;
	drsn_features_destroy(p->fe);
	drsn_ctx_destroy(p->ctx);
	free(p->frames);
	free(p->clean);
	free(p->hist);
	free(p->hist_t);
	free(p->probs);
	free(p->smoothed);
	free(p->thr);
	free(p->last_fire);
	free(p->fires);
	free(p);
}

DRSN_API int drsn_pipeline_finish(drsn_pipeline *p, const drsn_pipeline_events *ev, void *user)
{
	static const float zeros[1024];
	if (!p)
		return -EINVAL;
	int64_t n = (int64_t)(p->W - 1) * p->hop + p->win;     /* window_s of samples */
	p->audio_end = (double)p->samples / p->rate;
	while (n > 0) {
		size_t k = n < 1024 ? (size_t)n : 1024;
		drsn_pipeline_push(p, zeros, k, ev, user);
		n -= (int64_t)k;
	}
	p->audio_end = -1;
	return 0;
}

DRSN_API void drsn_pipeline_reset(drsn_pipeline *p)
{
	if (!p)
		return;
	drsn_features_reset(p->fe);
	size_t n = 2 * (size_t)p->W * (size_t)p->B;
	for (size_t i = 0; i < n; i++)
		p->frames[i] = p->silence;
	p->n_frames = 0;
	p->h_n = p->h_pos = 0;
	for (int i = 0; i < p->n_labels; i++)
		p->last_fire[i] = -INFINITY;
	p->samples = 0;
	p->audio_end = -1;
	p->block_sumsq = 0;
	p->block_n = 0;
	p->last_voice = -1;
	p->vad_active = 0;
}

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int drsn__detector_pick(const float *smoothed, const float *thr, const char *fires,
			const double *last_fire, double refractory_s, double t, int n_labels)
{
	int best = -1;
	for (int l = 0; l < n_labels; l++) {
		if (!fires[l] || smoothed[l] < thr[l] || t - last_fire[l] < refractory_s)
			continue;
		if (best < 0 || smoothed[l] > smoothed[best])
			best = l;
	}
	return best;
}

/* The history slot of the window that gave label its highest raw probability. */
static int peak_slot(const drsn_pipeline *p, int label)
{
	size_t nl = (size_t)p->n_labels;
	int bh = 0;
	for (int h = 1; h < p->h_n; h++)
		if (p->hist[(size_t)h * nl + (size_t)label] > p->hist[(size_t)bh * nl + (size_t)label])
			bh = h;
	return bh;
}

int drsn__pipeline_peak_back(const drsn_pipeline *p, int label)
{
	int newest = (p->h_pos - 1 + p->S) % p->S;
	return (newest - peak_slot(p, label) + p->S) % p->S;
}

int64_t drsn__pipeline_failed(const drsn_pipeline *p)
{
	return p->failed;
}

double drsn__pipeline_refractory_s(const drsn_pipeline *p)
{
	return p->refractory_s;
}

const char *drsn__pipeline_fires(const drsn_pipeline *p)
{
	return p->fires;
}

static void infer(drsn_pipeline *p)
{
	/* Window end: the newest frame's last sample. */
	double t = ((double)(p->n_frames - 1) * p->hop + p->win) / p->rate;
	if (p->o.vad && !p->vad_active) {
		p->st.vad_skipped++;
		/* Clear the history: the next inference fills slot 0 and is averaged
		 * alone (the mean runs over slots 0..h_n-1). */
		p->h_n = p->h_pos = 0;
		return;
	}
	int first = (int)(p->n_frames % p->W);   /* oldest frame's slot */
	const float *win = p->frames + (size_t)first * (size_t)p->B;
	double c0 = thread_cpu();
	int rc = drsn_ctx_run(p->ctx, win, p->probs);
	p->st.inference_cpu_s += thread_cpu() - c0;
	if (rc < 0) {   /* an output that is not finite: nothing sensible to report */
		p->failed++;
		return;
	}
	p->st.inferences++;

	int nl = p->n_labels;
	memcpy(p->hist + (size_t)p->h_pos * (size_t)nl, p->probs, (size_t)nl * sizeof *p->probs);
	p->hist_t[p->h_pos] = t;
	p->h_pos = (p->h_pos + 1) % p->S;
	if (p->h_n < p->S)
		p->h_n++;
	for (int l = 0; l < nl; l++) {
		float acc = 0;
		for (int h = 0; h < p->h_n; h++)
			acc += p->hist[(size_t)h * (size_t)nl + (size_t)l];
		p->smoothed[l] = acc / (float)p->h_n;
	}
	if (p->ev && p->ev->scores)
		p->ev->scores(p->user, t, p->probs, p->smoothed, nl);

	int best = drsn__detector_pick(p->smoothed, p->thr, p->fires, p->last_fire, p->refractory_s, t, nl);
	if (best < 0)
		return;
	int bh = peak_slot(p, best);
	p->last_fire[best] = t;
	p->st.detections++;
	drsn_detection d = {
		.label = best,
		.name = drsn_model_label(p->m, best),
		.score = p->smoothed[best],
		.end = p->hist_t[bh],
		.time = t,
	};
	d.start = d.end - p->window_s < 0 ? 0 : d.end - p->window_s;
	if (p->audio_end >= 0 && d.end > p->audio_end)     /* the window holds finish's silence */
		d.end = p->audio_end;
	if (p->ev && p->ev->detection)
		p->ev->detection(p->user, &d);
}

static void on_frame(void *user, const float *mel, int64_t idx)
{
	(void)idx;
	drsn_pipeline *p = user;
	size_t row = (size_t)(p->n_frames % p->W);
	size_t B = (size_t)p->B;
	memcpy(p->frames + row * B, mel, B * sizeof *mel);
	memcpy(p->frames + (row + (size_t)p->W) * B, mel, B * sizeof *mel);
	p->n_frames++;
	p->st.frames++;
	if (p->n_frames % p->hop_frames == 0)
		infer(p);
}

static void vad_update(drsn_pipeline *p, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p->block_sumsq += (double)x[i] * x[i];
	p->block_n += (int)n;
	if (p->block_n < p->hop)
		return;
	int64_t end = p->samples + (int64_t)n;
	if (p->block_sumsq / p->block_n > p->vad_power)
		p->last_voice = end;
	p->block_sumsq = 0;
	p->block_n = 0;
	int active = p->last_voice >= 0 && end - p->last_voice <= p->hangover;
	if (active != p->vad_active) {
		p->vad_active = active;
		if (p->ev && p->ev->vad)
			p->ev->vad(p->user, (double)end / p->rate, active);
	}
}

DRSN_API int drsn_pipeline_push(drsn_pipeline *p, const float *x, size_t n,
				const drsn_pipeline_events *ev, void *user)
{
	if (!p || (!x && n))
		return -EINVAL;
	p->ev = ev;
	p->user = user;
	while (n) {
		/* up to the end of the current VAD block, so gating is exact to
		 * one hop */
		size_t k = (size_t)(p->hop - p->block_n);
		if (k > n)
			k = n;
		/* A NaN/Inf sample (a broken capture) would make every window that
		 * holds its frames non-finite, which the network refuses: a second
		 * of audio lost. Take it as 0, as the denoiser does. */
		for (size_t i = 0; i < k; i++)
			p->clean[i] = isfinite(x[i]) ? x[i] : 0.0f;
		if (p->o.vad)
			vad_update(p, p->clean, k);
		int64_t rc = drsn_features_push(p->fe, p->clean, k, on_frame, p);
		if (rc < 0)
			return (int)rc;
		if (!p->o.vad) {
			p->block_n = (p->block_n + (int)k) % p->hop;
		}
		p->samples += (int64_t)k;
		p->st.samples += (int64_t)k;
		x += k;
		n -= k;
	}
	p->ev = NULL;
	p->user = NULL;
	return 0;
}

DRSN_API void drsn_pipeline_get_stats(const drsn_pipeline *p, drsn_pipeline_stats *st)
{
	if (st && p)
		*st = p->st;
	else if (st)
		memset(st, 0, sizeof *st);
}

DRSN_API double drsn_pipeline_time(const drsn_pipeline *p)
{
	return p ? (double)p->samples / p->rate : 0.0;
}

DRSN_API double drsn_pipeline_window_s(const drsn_pipeline *p)
{
	return p ? p->window_s : 0.0;
}

DRSN_API double drsn_pipeline_hop_s(const drsn_pipeline *p)
{
	return p ? p->infer_hop_s : 0.0;
}
