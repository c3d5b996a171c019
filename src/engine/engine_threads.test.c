/* One model shared read-only by several threads, each with its own context:
 * every thread must get bit-identical logits to a single-threaded run.
 *
 * A watchdog turns a hang into a clear failure. (Under qemu-user, threads
 * need the multiarch libc: qemu-aarch64 7.2 with -L /usr/aarch64-linux-gnu
 * never returns from pthread_create; .ci/cross/aarch64.txt uses -L /.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drsn/model.h"
#include "engine/fixture.h"

static const struct fx_arch arch = {
	"cw", 40, 98, 32, 3, 1, 6, {{32, 3, 1}, {32, 3, 1}, {64, 3, 2}, {64, 3, 1}, {96, 3, 2}, {96, 3, 1}},
	"zero_pad", 12, 0, 0};

#define WATCHDOG_S 90   /* also in the message below */

static void watchdog(int sig)
{
	(void)sig;
	static const char msg[] = "engine-threads: no progress in 90 s: pthread_create or a thread hangs\n";
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(1);
	_exit(1);
}

static float *random_input(uint32_t seed)
{
	float *x = malloc(98 * 40 * sizeof *x);
	float off = fx_uniform(&seed, -8, 2), sc = fx_uniform(&seed, 0.5f, 3);
	for (int i = 0; i < 98 * 40; i++)
		x[i] = off + sc * fx_uniform(&seed, -1.7f, 1.7f);
	return x;
}

enum { WINDOWS = 4, REPS = 3 };   /* small: this also runs under qemu-user */

struct job {
	const drsn_model *m;
	const float *x;   /* WINDOWS windows */
	float logits[WINDOWS][12];
	int rc;
};

static void *worker(void *p)
{
	struct job *j = p;
	drsn_ctx *c = NULL;
	j->rc = drsn_ctx_create(&c, j->m, NULL);
	for (int rep = 0; rep < REPS && !j->rc; rep++)
		for (int w = 0; w < WINDOWS && !j->rc; w++) {
			j->rc = drsn_ctx_run(c, j->x + (size_t)w * 98 * 40, NULL);
			memcpy(j->logits[w], drsn_ctx_logits(c), sizeof j->logits[w]);
		}
	drsn_ctx_destroy(c);
	return NULL;
}

static void test_threads_share_one_model(void **state)
{
	(void)state;
	struct fx_model *fx = malloc(sizeof *fx);
	fx_init(fx, &arch, 2);
	drsn_model *m = fx_load(fx);
	assert_non_null(m);
	float *x = malloc(WINDOWS * 98 * 40 * sizeof *x);
	for (int w = 0; w < WINDOWS; w++) {
		float *xi = random_input(900 + w);
		memcpy(x + w * 98 * 40, xi, 98 * 40 * sizeof *x);
		free(xi);
	}
	struct job single = {m, x, {{0}}, 0};
	worker(&single);
	assert_int_equal(single.rc, 0);
	enum { N = 4 };
	struct job jobs[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		jobs[i] = (struct job){m, x, {{0}}, 0};
		assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].rc, 0);
		assert_memory_equal(jobs[i].logits, single.logits, sizeof single.logits);
	}
	free(x);
	drsn_model_free(m);
	fx_free(fx);
	free(fx);
}

int main(void)
{
	signal(SIGALRM, watchdog);
	alarm(WATCHDOG_S);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_share_one_model),
	};
	return cmocka_run_group_tests_name("engine-threads", tests, NULL, NULL);
}
