/* What an application embedding libdrsn does from several threads at once
 * (the threading contract in drsn/common.h): each thread loads the same
 * model file into its own handle, builds a front end, a denoiser and a
 * pipeline, and runs audio through them; pipelines on one shared model run
 * beside them. Every thread must get the single-threaded result.
 *
 * The library's calls into non-thread-safe third-party code are wrapped
 * (-Wl,--wrap) to count the threads inside them: FFTW's planner (both
 * precisions) and cJSON's parser (each parse writes cJSON's global error
 * record) must never be entered by two threads at once. The wrappers hold
 * each call for a moment so that unserialised calls would overlap; nothing
 * here is timed. A watchdog turns a deadlock into a clear failure. Run from
 * the source root (meson's workdir). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fftw3.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drsn/drsn.h"

#define MODEL "models/kws20-drsn-cw.safetensors"
#define N_THREADS 4
#define SECONDS 3

/* ---- the wrapped third-party calls ------------------------------------- */

struct gate {
	atomic_int inside, most;
	const char *what;
};
static struct gate fftw_gate = {0, 0, "FFTW's planner"};
static struct gate cjson_gate = {0, 0, "cJSON's parser"};

static void enter(struct gate *g)
{
	int n = atomic_fetch_add(&g->inside, 1) + 1;
	int m = atomic_load(&g->most);
	while (n > m && !atomic_compare_exchange_weak(&g->most, &m, n))
		;
	nanosleep(&(struct timespec){0, 2000000}, NULL);   /* 2 ms: let others arrive */
}

static void leave(struct gate *g)
{
	atomic_fetch_sub(&g->inside, 1);
}

#define WRAP(ret, gate, fn, params, args)                 \
	ret __real_##fn params;                           \
	ret __wrap_##fn params;                           \
	ret __wrap_##fn params                            \
	{                                                 \
		enter(&gate);                             \
		ret r_ = __real_##fn args;                \
		leave(&gate);                             \
		return r_;                                \
	}

WRAP(cJSON *, cjson_gate, cJSON_Parse, (const char *s), (s))
WRAP(cJSON *, cjson_gate, cJSON_ParseWithOpts, (const char *s, const char **e, cJSON_bool z), (s, e, z))
WRAP(cJSON *, cjson_gate, cJSON_ParseWithLength, (const char *s, size_t n), (s, n))
WRAP(cJSON *, cjson_gate, cJSON_ParseWithLengthOpts,
     (const char *s, size_t n, const char **e, cJSON_bool z), (s, n, e, z))
WRAP(fftw_plan, fftw_gate, fftw_plan_dft_r2c_1d, (int n, double *i, fftw_complex *o, unsigned f),
     (n, i, o, f))
WRAP(fftwf_plan, fftw_gate, fftwf_plan_dft_r2c_1d, (int n, float *i, fftwf_complex *o, unsigned f),
     (n, i, o, f))
WRAP(fftwf_plan, fftw_gate, fftwf_plan_dft_c2r_1d, (int n, fftwf_complex *i, float *o, unsigned f),
     (n, i, o, f))

/* ---- the work ----------------------------------------------------------- */

static float audio[SECONDS * 16000];
static drsn_model *shared;

struct result {
	int detections;
	int64_t inferences;
	double denoised;   /* sum of the denoiser's output */
	int rc;
	char msg[DRSN_ERROR_MSG_MAX];
};

static void on_detection(void *user, const drsn_detection *d)
{
	(void)d;
	++*(int *)user;
}

static void on_frame(void *user, const float *mel, int64_t i)
{
	(void)mel;
	(void)i;
	++*(int *)user;
}

static void run(const drsn_model *own, struct result *r)
{
	drsn_error e = {0};
	drsn_features *f = NULL;
	drsn_denoise *d = NULL;
	drsn_pipeline *p = NULL, *q = NULL;
	float *out = malloc(sizeof audio);
	int frames = 0, det_shared = 0;
	if (!out || drsn_features_create(&f, drsn_model_features_params(own), &e) < 0 ||
	    drsn_denoise_create(&d, 16000, NULL, &e) < 0 ||
	    drsn_pipeline_create(&p, own, NULL, &e) < 0 || drsn_pipeline_create(&q, shared, NULL, &e) < 0) {
		r->rc = e.code ? e.code : -1;
		snprintf(r->msg, sizeof r->msg, "%s", e.msg);
		goto cleanup;
	}
	drsn_pipeline_events ev = {.detection = on_detection};
	drsn_features_push(f, audio, sizeof audio / sizeof audio[0], on_frame, &frames);
	drsn_denoise_process(d, audio, sizeof audio / sizeof audio[0], out);
	drsn_pipeline_push(p, audio, sizeof audio / sizeof audio[0], &ev, &r->detections);
	drsn_pipeline_finish(p, &ev, &r->detections);
	drsn_pipeline_push(q, audio, sizeof audio / sizeof audio[0], &ev, &det_shared);
	drsn_pipeline_finish(q, &ev, &det_shared);
	drsn_pipeline_stats st;
	drsn_pipeline_get_stats(p, &st);
	r->inferences = st.inferences;
	for (size_t i = 0; i < sizeof audio / sizeof audio[0]; i++)
		r->denoised += out[i];
	if (det_shared != r->detections || frames != (int)drsn_features_frames_for(drsn_model_features_params(own),
										     sizeof audio / sizeof audio[0])) {
		r->rc = -1;
		snprintf(r->msg, sizeof r->msg, "shared model: %d detections, own: %d; %d frames",
			 det_shared, r->detections, frames);
	}
cleanup:
	drsn_pipeline_destroy(q);
	drsn_pipeline_destroy(p);
	drsn_denoise_destroy(d);
	drsn_features_destroy(f);
	free(out);
}

static pthread_barrier_t start;

static void *worker(void *arg)
{
	struct result *r = arg;
	drsn_model *m = NULL;
	drsn_error e = {0};
	pthread_barrier_wait(&start);
	if (drsn_model_load(&m, MODEL, &e) < 0) {
		r->rc = e.code;
		snprintf(r->msg, sizeof r->msg, "%s", e.msg);
		return NULL;
	}
	run(m, r);
	drsn_model_free(m);
	return NULL;
}

static void test_threads_each_with_own_handles(void **state)
{
	(void)state;
	drsn_error e = {0};
	if (drsn_model_load(&shared, MODEL, &e) < 0)
		fail_msg("%s", e.msg);
	/* a tone in noise: the denoiser and the network have work to do */
	uint32_t s = 1;
	for (size_t i = 0; i < sizeof audio / sizeof audio[0]; i++) {
		s = s * 1664525u + 1013904223u;
		audio[i] = 0.3f * (float)__builtin_sinf(0.07f * (float)i) + 0.05f * ((float)(s >> 8) / (1 << 24) - 0.5f);
	}
	struct result ref = {0};
	run(shared, &ref);
	if (ref.rc)
		fail_msg("single thread: %s", ref.msg);
	assert_true(ref.inferences > 0);

	atomic_store(&fftw_gate.most, 0);
	atomic_store(&cjson_gate.most, 0);
	pthread_t th[N_THREADS];
	struct result res[N_THREADS];
	memset(res, 0, sizeof res);
	pthread_barrier_init(&start, NULL, N_THREADS);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, &res[i]), 0);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < N_THREADS; i++) {
		if (res[i].rc)
			fail_msg("thread %d: %s", i, res[i].msg);
		assert_int_equal(res[i].detections, ref.detections);
		assert_int_equal(res[i].inferences, ref.inferences);
		assert_true(res[i].denoised == ref.denoised);
	}
	drsn_model_free(shared);
	struct gate *gates[] = {&fftw_gate, &cjson_gate};
	for (int i = 0; i < 2; i++) {
		if (atomic_load(&gates[i]->most) < 1)
			fail_msg("%s was never called: the wrapping does not work", gates[i]->what);
		if (atomic_load(&gates[i]->most) > 1)
			fail_msg("%d threads were inside %s at once: it is not thread-safe, "
				 "libdrsn must serialise its calls", atomic_load(&gates[i]->most), gates[i]->what);
	}
}

#define WATCHDOG_S 120   /* also in the message below */

static void watchdog(int sig)
{
	(void)sig;
	static const char msg[] = "api-threads: no progress in 120 s: a deadlock?\n";
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(1);
	_exit(1);
}

int main(void)
{
	signal(SIGALRM, watchdog);
	alarm(WATCHDOG_S);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_each_with_own_handles),
	};
	return cmocka_run_group_tests_name("api-threads", tests, NULL, NULL);
}
