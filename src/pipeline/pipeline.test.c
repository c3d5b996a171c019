/* The streaming detection pipeline on a random model (engine test fixture):
 * chunking does not change anything, push never allocates, inference timing,
 * thresholds + refractory, labels starting with '_' never fire, VAD gating,
 * finish at the end of a stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc_count.h"
#include "drsn/pipeline.h"
#include "engine/fixture.h"

#define N_LABELS 6
static const char *labels_json = "[\"_silence_\",\"_unknown_\",\"yes\",\"no\",\"up\",\"down\"]";

static drsn_model *make_model(uint32_t seed)
{
	struct fx_arch a = {
		.variant = "cw", .bands = 40, .frames = 98,
		.c0 = 8, .k0 = 3, .s0 = 1,
		.n_units = 2, .units = {{8, 3, 1}, {12, 3, 2}},
		.shortcut = "zero_pad", .classes = N_LABELS,
	};
	struct fx_model *fx = calloc(1, sizeof *fx);
	fx_init(fx, &a, seed);
	fx_set(&fx->meta_labels, labels_json);
	size_t len;
	unsigned char *buf = fx_serialize(fx, &len);
	drsn_model *m = NULL;
	drsn_error e;
	int rc = drsn_model_load_memory(&m, buf, len, &e);
	if (rc < 0)
		print_message("load: %s\n", e.msg);
	assert_int_equal(rc, 0);
	free(buf);
	fx_free(fx);
	free(fx);
	return m;
}

/* A test signal: noise bursts of varying loudness over silence. */
static float *make_audio(size_t n, uint32_t seed)
{
	float *x = malloc(n * sizeof *x);
	uint32_t s = seed;
	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		float white = ((float)(s >> 8) / 16777216.0f) * 2 - 1;
		double t = (double)i / 16000;
		float env = (fmod(t, 1.3) < 0.5) ? 0.3f * (float)(1 + sin(t * 7)) : 0.0f;
		x[i] = env * (white + 0.5f * (float)sin(2 * M_PI * 440 * t));
	}
	return x;
}

#define MAX_REC 4096
struct rec {
	int n_scores;
	double t[MAX_REC];
	float probs[MAX_REC][N_LABELS];
	int n_det;
	drsn_detection det[MAX_REC];
	int n_vad;
	double vad_t[64];
	int vad_on[64];
};

static void on_scores(void *u, double t, const float *probs, const float *sm, int n)
{
	(void)sm;
	struct rec *r = u;
	assert_int_equal(n, N_LABELS);
	if (r->n_scores < MAX_REC) {
		r->t[r->n_scores] = t;
		memcpy(r->probs[r->n_scores], probs, sizeof r->probs[0]);
		r->n_scores++;
	}
}

static void on_det(void *u, const drsn_detection *d)
{
	struct rec *r = u;
	if (r->n_det < MAX_REC)
		r->det[r->n_det++] = *d;
}

static void on_vad(void *u, double t, int on)
{
	struct rec *r = u;
	if (r->n_vad < 64) {
		r->vad_t[r->n_vad] = t;
		r->vad_on[r->n_vad++] = on;
	}
}

static const drsn_pipeline_events events = {on_det, on_scores, on_vad};

static void run(drsn_pipeline *p, const float *x, size_t n, size_t chunk, struct rec *r, uint32_t seed)
{
	size_t i = 0;
	while (i < n) {
		size_t k = chunk;
		if (chunk == 0) {   /* random sizes */
			seed = seed * 1664525u + 1013904223u;
			k = 1 + (seed >> 16) % 3000;
		}
		if (k > n - i)
			k = n - i;
		assert_int_equal(drsn_pipeline_push(p, x + i, k, &events, r), 0);
		i += k;
	}
}

/* r scored the same windows as ref, with the same probabilities. */
static void assert_same_scores(const struct rec *r, const struct rec *ref)
{
	assert_int_equal(r->n_scores, ref->n_scores);
	for (int i = 0; i < r->n_scores; i++) {
		assert_true(r->t[i] == ref->t[i]);
		for (int l = 0; l < N_LABELS; l++)
			assert_true(fabsf(r->probs[i][l] - ref->probs[i][l]) <= 1e-6f);
	}
}

static void test_chunking_invariance_and_no_alloc(void **state)
{
	(void)state;
	drsn_model *m = make_model(1);
	drsn_pipeline_opts o;
	drsn_pipeline_opts_default(&o);
	o.threshold = 0.3f;
	o.refractory_ms = 500;
	size_t n = 16000 * 4;
	float *x = make_audio(n, 7);
	struct rec *ref = calloc(1, sizeof *ref), *r = calloc(1, sizeof *r);
	drsn_pipeline *p;
	assert_int_equal(drsn_pipeline_create(&p, m, &o, NULL), 0);

	drsn__alloc_count_start();
	run(p, x, n, n, ref, 0);
	assert_int_equal(drsn__alloc_count_stop(), 0);   /* push never allocates */
	assert_int_equal(drsn__frees, 0);
	assert_true(ref->n_det > 0);   /* ... detections included */

	/* 4 s: frames = 1 + (64000-400)/160 = 398; inference every 10 frames */
	drsn_pipeline_stats st;
	drsn_pipeline_get_stats(p, &st);
	assert_int_equal(st.frames, 398);
	assert_int_equal(st.inferences, 39);
	assert_int_equal(ref->n_scores, 39);
	assert_true(fabs(ref->t[0] - (9 * 160 + 400) / 16000.0) < 1e-9);
	for (int i = 1; i < ref->n_scores; i++)
		assert_true(fabs(ref->t[i] - ref->t[i - 1] - 0.1) < 1e-9);
	assert_true(fabs(drsn_pipeline_time(p) - 4.0) < 1e-9);
	assert_true(fabs(drsn_pipeline_hop_s(p) - 0.1) < 1e-9);
	assert_true(fabs(drsn_pipeline_window_s(p) - (97 * 160 + 400) / 16000.0) < 1e-9);

	size_t chunks[] = {1, 7, 160, 1600, 0};
	for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
		drsn_pipeline_reset(p);
		memset(r, 0, sizeof *r);
		run(p, x, n, chunks[c], r, 99);
		assert_same_scores(r, ref);
		assert_int_equal(r->n_det, ref->n_det);
		for (int i = 0; i < r->n_det; i++) {
			assert_int_equal(r->det[i].label, ref->det[i].label);
			assert_true(r->det[i].end == ref->det[i].end);
		}
	}
	drsn_pipeline_destroy(p);

	/* Nor with VAD gating switching on and off, nor finish (its silence). */
	o.vad = 1;
	assert_int_equal(drsn_pipeline_create(&p, m, &o, NULL), 0);
	memset(r, 0, sizeof *r);
	drsn__alloc_count_start();
	run(p, x, n, 160, r, 0);
	assert_int_equal(drsn_pipeline_finish(p, &events, r), 0);
	assert_int_equal(drsn__alloc_count_stop(), 0);
	assert_int_equal(drsn__frees, 0);
	assert_true(r->n_vad >= 2 && r->n_scores > 0);
	drsn_pipeline_destroy(p);
	drsn_model_free(m);
	free(x);
	free(ref);
	free(r);
}

static void test_threshold_refractory_and_underscore_labels(void **state)
{
	(void)state;
	drsn_model *m = make_model(2);
	/* Only "up" (index 4) can fire: threshold 0; all others 1 (a softmax of
	 * a random model never reaches exactly 1). _silence_ gets 0 too, but
	 * labels starting with '_' never fire. */
	float thr[N_LABELS] = {0, 0, 1, 1, 0, 1};
	drsn_pipeline_opts o;
	drsn_pipeline_opts_default(&o);
	o.thresholds = thr;
	o.refractory_ms = 1000;
	o.smoothing_ms = 300;
	size_t n = 16000 * 5;
	float *x = make_audio(n, 3);
	struct rec *r = calloc(1, sizeof *r);
	drsn_pipeline *p;
	assert_int_equal(drsn_pipeline_create(&p, m, &o, NULL), 0);
	run(p, x, n, 1600, r, 0);
	/* inferences at t0 = 0.1025 s + k*0.1 s; "up" fires at the first one,
	 * then every 1.0 s (10 hops): t0, t0+1, ... up to 4.9 s -> 5 events */
	assert_int_equal(r->n_det, 5);
	for (int i = 0; i < r->n_det; i++) {
		assert_int_equal(r->det[i].label, 4);
		assert_string_equal(r->det[i].name, "up");
		assert_true(fabs(r->det[i].time - (r->t[0] + i * 1.0)) < 1e-6);
		/* the window end is one of the last 3 inferences (smoothing span) */
		assert_true(r->det[i].end <= r->det[i].time + 1e-9);
		assert_true(r->det[i].end >= r->det[i].time - 0.2 - 1e-9);
		assert_true(r->det[i].start == fmax(0, r->det[i].end - drsn_pipeline_window_s(p)));
		assert_true(r->det[i].score >= 0 && r->det[i].score <= 1);
	}
	drsn_pipeline_stats st;
	drsn_pipeline_get_stats(p, &st);
	assert_int_equal(st.detections, 5);
	drsn_pipeline_destroy(p);

	/* Refractory 0: fires at every inference. */
	o.refractory_ms = 0;
	assert_int_equal(drsn_pipeline_create(&p, m, &o, NULL), 0);
	memset(r, 0, sizeof *r);
	run(p, x, n, 1600, r, 0);
	assert_int_equal(r->n_det, r->n_scores);
	drsn_pipeline_destroy(p);

	drsn_model_free(m);
	free(x);
	free(r);
}

static void test_vad_gating(void **state)
{
	(void)state;
	drsn_model *m = make_model(3);
	drsn_pipeline_opts o;
	drsn_pipeline_opts_default(&o);
	o.vad = 1;
	o.vad_threshold_db = -40;
	o.vad_hangover_ms = 300;
	/* 2 s silence, 1 s of loud noise, 2 s silence */
	size_t n = 16000 * 5;
	float *x = calloc(n, sizeof *x);
	uint32_t s = 5;
	for (size_t i = 32000; i < 48000; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = 0.1f * (((float)(s >> 8) / 16777216.0f) * 2 - 1);   /* about -25 dBFS */
	}
	struct rec *r = calloc(1, sizeof *r);
	drsn_pipeline *p;
	assert_int_equal(drsn_pipeline_create(&p, m, &o, NULL), 0);
	run(p, x, n, 777, r, 0);
	assert_int_equal(r->n_vad, 2);
	assert_int_equal(r->vad_on[0], 1);
	assert_true(fabs(r->vad_t[0] - 2.01) < 1e-6);      /* first voiced 10 ms block ends */
	assert_int_equal(r->vad_on[1], 0);
	assert_true(fabs(r->vad_t[1] - 3.31) < 1e-6);      /* + 300 ms hangover */
	drsn_pipeline_stats st;
	drsn_pipeline_get_stats(p, &st);
	/* inferences only while active: window ends in (2.01, 3.31] */
	assert_true(st.inferences >= 12 && st.inferences <= 14);
	assert_int_equal(st.inferences + st.vad_skipped, 49);
	for (int i = 0; i < r->n_scores; i++)
		assert_true(r->t[i] > 2.0 && r->t[i] < 3.4);
	drsn_pipeline_destroy(p);
	drsn_model_free(m);
	free(x);
	free(r);
}

/* finish = one window of zeros pushed by hand: the same scores and
 * detections, inferences until the audio has left the window, no allocation;
 * the stream goes on after it. */
static void test_finish_flushes_one_window(void **state)
{
	(void)state;
	drsn_model *m = make_model(5);
	drsn_pipeline_opts o;
	drsn_pipeline_opts_default(&o);
	o.threshold = 0.3f;
	size_t n = 16000 * 2 + 1234;
	size_t pad = 97 * 160 + 400;   /* window_s of samples */
	float *x = make_audio(n + pad, 11);
	memset(x + n, 0, pad * sizeof *x);
	struct rec *ref = calloc(1, sizeof *ref), *r = calloc(1, sizeof *r);
	drsn_pipeline *p;
	assert_int_equal(drsn_pipeline_create(&p, m, &o, NULL), 0);
	run(p, x, n + pad, 0, ref, 5);
	double t_audio = (double)n / 16000;
	assert_true(ref->t[ref->n_scores - 1] >= t_audio + drsn_pipeline_window_s(p) - 0.1 - 1e-9);

	drsn_pipeline_reset(p);
	run(p, x, n, 0, r, 6);
	int before = r->n_scores;
	assert_true(r->t[before - 1] <= t_audio);   /* without it the last windows are never scored */
	drsn__alloc_count_start();
	assert_int_equal(drsn_pipeline_finish(p, &events, r), 0);
	assert_int_equal(drsn__alloc_count_stop(), 0);
	assert_true(r->n_scores > before + 8);
	assert_same_scores(r, ref);
	/* the same detections, their ends capped at the end of the audio */
	assert_true(ref->n_det > 0 && ref->det[ref->n_det - 1].end > t_audio);
	assert_int_equal(r->n_det, ref->n_det);
	for (int i = 0; i < r->n_det; i++) {
		assert_int_equal(r->det[i].label, ref->det[i].label);
		assert_true(r->det[i].end == (ref->det[i].end > t_audio ? t_audio : ref->det[i].end));
	}
	assert_true(fabs(drsn_pipeline_time(p) - (double)(n + pad) / 16000) < 1e-9);
	run(p, x, 1600, 0, r, 7);   /* the stream goes on */
	assert_true(fabs(drsn_pipeline_time(p) - (double)(n + pad + 1600) / 16000) < 1e-9);
	assert_int_equal(drsn_pipeline_finish(NULL, &events, r), -EINVAL);
	drsn_pipeline_destroy(p);
	drsn_model_free(m);
	free(x);
	free(ref);
	free(r);
}

/* Smoothing over a VAD gap: every skipped inference clears the history, so
 * the smoothed value is the mean of the raw probabilities since the last
 * skip (at most the smoothing span). The history used to keep its write
 * position across a clear and averaged a slot from before the silence. */
struct smooth_rec {
	drsn_pipeline *p;
	int64_t skipped;          /* vad_skipped at the previous scores event */
	int n_since;              /* inferences since the history was cleared */
	float last[3][N_LABELS];  /* the raw probabilities of those, newest last */
	int n_checked, n_after_gap;
};

static void on_scores_smooth(void *u, double t, const float *probs, const float *sm, int n)
{
	(void)t;
	struct smooth_rec *r = u;
	drsn_pipeline_stats st;
	drsn_pipeline_get_stats(r->p, &st);
	if (st.vad_skipped != r->skipped) {
		r->skipped = st.vad_skipped;
		r->n_since = 0;
		r->n_after_gap++;
	}
	assert_int_equal(n, N_LABELS);
	memmove(r->last[0], r->last[1], 2 * sizeof r->last[0]);
	memcpy(r->last[2], probs, sizeof r->last[2]);
	if (r->n_since < 3)
		r->n_since++;
	for (int l = 0; l < N_LABELS; l++) {
		float acc = 0;
		for (int h = 3 - r->n_since; h < 3; h++)
			acc += r->last[h][l];
		assert_true(fabsf(sm[l] - acc / (float)r->n_since) <= 1e-6f);
	}
	r->n_checked++;
}

static void test_vad_gap_clears_smoothing(void **state)
{
	(void)state;
	drsn_model *m = make_model(6);
	drsn_pipeline_opts o;
	drsn_pipeline_opts_default(&o);
	o.vad = 1;
	o.vad_threshold_db = -40;
	o.vad_hangover_ms = 0;
	o.smoothing_ms = 300;     /* 3 inferences */
	/* noise bursts of 1.05 s, 0.75 s and 0.55 s, 0.5 s of silence before each:
	 * whatever the write position at a gap, one of them leaves it non-zero */
	size_t n = 16000 * 4;
	float *x = calloc(n, sizeof *x);
	const double on[][2] = {{0.5, 1.55}, {2.05, 2.8}, {3.3, 3.85}};
	uint32_t s = 9;
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / 16000;
		s = s * 1664525u + 1013904223u;
		for (int b = 0; b < 3; b++)
			if (t >= on[b][0] && t < on[b][1])
				x[i] = 0.1f * (((float)(s >> 8) / 16777216.0f) * 2 - 1);
	}
	struct smooth_rec *r = calloc(1, sizeof *r);
	drsn_pipeline_events ev = {NULL, on_scores_smooth, NULL};
	assert_int_equal(drsn_pipeline_create(&r->p, m, &o, NULL), 0);
	for (size_t i = 0; i < n; i += 333)
		assert_int_equal(drsn_pipeline_push(r->p, x + i, n - i < 333 ? n - i : 333, &ev, r), 0);
	assert_int_equal(r->n_after_gap, 3);
	assert_true(r->n_checked > 15);
	drsn_pipeline_destroy(r->p);
	drsn_model_free(m);
	free(x);
	free(r);
}

/* A NaN or Inf sample is taken as 0 (pipeline.h): the same scores as with
 * a 0 there. It used to make every window holding its frames non-finite,
 * which the network refuses, and about a second of inferences was lost. */
static void test_nonfinite_samples_are_zero(void **state)
{
	(void)state;
	drsn_model *m = make_model(7);
	drsn_pipeline_opts o;
	drsn_pipeline_opts_default(&o);
	o.vad = 1;
	o.vad_threshold_db = -60;
	size_t n = 16000 * 3;
	float *x = make_audio(n, 13);
	float *y = malloc(n * sizeof *y);
	const size_t at[] = {100, 8000, 8001, 20000, 30000};
	const float bad[] = {NAN, INFINITY, -INFINITY, -NAN, INFINITY};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
		x[at[i]] = 0.0f;
	memcpy(y, x, n * sizeof *y);
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
		y[at[i]] = bad[i];
	struct rec *ref = calloc(1, sizeof *ref), *r = calloc(1, sizeof *r);
	drsn_pipeline *p;
	assert_int_equal(drsn_pipeline_create(&p, m, &o, NULL), 0);
	run(p, x, n, 0, ref, 3);
	drsn_pipeline_stats st0, st1;
	drsn_pipeline_get_stats(p, &st0);
	drsn_pipeline_reset(p);
	run(p, y, n, 0, r, 4);
	drsn_pipeline_get_stats(p, &st1);
	assert_int_equal(st1.inferences - st0.inferences, st0.inferences);
	assert_true(ref->n_scores > 20);
	assert_same_scores(r, ref);
	assert_int_equal(r->n_vad, ref->n_vad);
	drsn_pipeline_destroy(p);
	drsn_model_free(m);
	free(x);
	free(y);
	free(ref);
	free(r);
}

static void test_bad_options(void **state)
{
	(void)state;
	drsn_model *m = make_model(4);
	drsn_pipeline_opts o;
	drsn_pipeline *p = (drsn_pipeline *)&o;
	drsn_error e;
	drsn_pipeline_opts_default(&o);
	o.threshold = 1.5f;
	assert_int_equal(drsn_pipeline_create(&p, m, &o, &e), -EINVAL);
	assert_null(p);
	assert_non_null(strstr(e.msg, "threshold: 1.5"));
	drsn_pipeline_opts_default(&o);
	o.inference_hop_ms = 0;
	assert_int_equal(drsn_pipeline_create(&p, m, &o, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "inference_hop_ms"));
	assert_int_equal(drsn_pipeline_create(&p, NULL, &o, &e), -EINVAL);
	assert_int_equal(drsn_pipeline_create(&p, m, NULL, &e), 0);   /* defaults */
	assert_int_equal(drsn_pipeline_push(p, NULL, 5, NULL, NULL), -EINVAL);
	assert_int_equal(drsn_pipeline_push(p, NULL, 0, NULL, NULL), 0);
	drsn_pipeline_destroy(p);
	drsn_model_free(m);
}

/* Each option's bounds (drsn/pipeline.h's DRSN_PIPELINE_* ranges, which
 * drsnd.conf and drsn detect check too) are accepted, one past them not. */
static void test_option_ranges(void **state)
{
	(void)state;
	drsn_model *m = make_model(5);
	struct { int *field; int lo, hi; } ints[4];
	drsn_pipeline_opts o;
	drsn_pipeline_opts_default(&o);
	ints[0].field = &o.inference_hop_ms;
	ints[0].lo = DRSN_PIPELINE_HOP_MS_MIN, ints[0].hi = DRSN_PIPELINE_HOP_MS_MAX;
	ints[1].field = &o.smoothing_ms;
	ints[1].lo = 0, ints[1].hi = DRSN_PIPELINE_SMOOTHING_MS_MAX;
	ints[2].field = &o.refractory_ms;
	ints[2].lo = 0, ints[2].hi = DRSN_PIPELINE_REFRACTORY_MS_MAX;
	ints[3].field = &o.vad_hangover_ms;
	ints[3].lo = 0, ints[3].hi = DRSN_PIPELINE_HANGOVER_MS_MAX;
	for (int i = 0; i < 4; i++) {
		int keep = *ints[i].field;
		const int vals[4] = {ints[i].lo, ints[i].hi, ints[i].lo - 1, ints[i].hi + 1};
		for (int k = 0; k < 4; k++) {
			drsn_pipeline *p = NULL;
			*ints[i].field = vals[k];
			assert_int_equal(drsn_pipeline_create(&p, m, &o, NULL), k < 2 ? 0 : -EINVAL);
			drsn_pipeline_destroy(p);
		}
		*ints[i].field = keep;
	}
	const float dbs[4] = {DRSN_PIPELINE_VAD_DB_MIN, 0, DRSN_PIPELINE_VAD_DB_MIN - 0.5f, 0.5f};
	for (int k = 0; k < 4; k++) {
		drsn_pipeline *p = NULL;
		o.vad_threshold_db = dbs[k];
		assert_int_equal(drsn_pipeline_create(&p, m, &o, NULL), k < 2 ? 0 : -EINVAL);
		drsn_pipeline_destroy(p);
	}
	drsn_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_option_ranges),
		cmocka_unit_test(test_chunking_invariance_and_no_alloc),
		cmocka_unit_test(test_threshold_refractory_and_underscore_labels),
		cmocka_unit_test(test_vad_gating),
		cmocka_unit_test(test_finish_flushes_one_window),
		cmocka_unit_test(test_vad_gap_clears_smoothing),
		cmocka_unit_test(test_nonfinite_samples_are_zero),
		cmocka_unit_test(test_bad_options),
	};
	return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
