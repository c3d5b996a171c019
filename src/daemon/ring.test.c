/* The SPSC ring: wrap-around, all-or-nothing writes, overflow counting, and a
 * two-thread stress test that checks every sample arrives once, in order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "daemon/ring.h"

static void test_rounds_up_and_wraps(void **state)
{
	(void)state;
	struct drsn__ring r;
	assert_int_equal(drsn__ring_init(&r, 100), 0);
	assert_int_equal(r.cap, 128);
	assert_int_equal(drsn__ring_space(&r), 100);   /* what was asked for, not the rounding */
	float in[100], out[128];
	/* Many rounds of 100 in, 100 out: every write after the first wraps. */
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 100; i++)
			in[i] = (float)(round * 1000 + i);
		assert_int_equal(drsn__ring_write(&r, in, 100), 1);
		assert_int_equal(drsn__ring_used(&r), 100);
		memset(out, 0, sizeof out);
		assert_int_equal(drsn__ring_read(&r, out, 128), 100);
		assert_memory_equal(in, out, sizeof in);
		assert_int_equal(drsn__ring_used(&r), 0);
	}
	assert_int_equal(atomic_load(&r.overflows), 0);
	drsn__ring_free(&r);
}

/* A ring of ring_ms holds ring_ms, not the power of two above it: the
 * backlog (and so the latency) a full ring means is what was configured. */
static void test_holds_what_was_asked(void **state)
{
	(void)state;
	struct drsn__ring r;
	assert_int_equal(drsn__ring_init(&r, 1000), 0);
	assert_int_equal(r.cap, 1024);
	float x[1000] = {0}, out[1000];
	assert_int_equal(drsn__ring_write(&r, x, 1000), 1);
	assert_int_equal(drsn__ring_space(&r), 0);
	assert_int_equal(drsn__ring_write(&r, x, 10), 0);   /* the 24 of rounding are not used */
	assert_int_equal(atomic_load(&r.overflow_samples), 10);
	assert_int_equal(drsn__ring_read(&r, out, 1000), 1000);
	/* reset with a smaller limit (a device at a lower rate), never above cap */
	drsn__ring_reset(&r, 500);
	assert_int_equal(drsn__ring_write(&r, x, 501), 0);
	assert_int_equal(drsn__ring_write(&r, x, 500), 1);
	assert_int_equal(drsn__ring_read(&r, out, 1000), 500);
	drsn__ring_reset(&r, 5000);
	assert_int_equal(drsn__ring_space(&r), 1024);
	drsn__ring_free(&r);
}

static void test_full_write_is_refused_and_counted(void **state)
{
	(void)state;
	struct drsn__ring r;
	assert_int_equal(drsn__ring_init(&r, 64), 0);
	float x[40] = {0};
	assert_int_equal(drsn__ring_write(&r, x, 40), 1);
	assert_int_equal(drsn__ring_write(&r, x, 40), 0);   /* 24 free: refused whole */
	assert_int_equal(drsn__ring_used(&r), 40);
	assert_int_equal(atomic_load(&r.overflows), 1);
	assert_int_equal(atomic_load(&r.overflow_samples), 40);
	assert_int_equal(drsn__ring_write(&r, x, 24), 1);   /* exactly fills */
	assert_int_equal(drsn__ring_space(&r), 0);
	float out[10];
	assert_int_equal(drsn__ring_read(&r, out, 10), 10); /* partial read */
	assert_int_equal(drsn__ring_used(&r), 54);
	assert_int_equal(drsn__ring_write(&r, x, 11), 0);
	assert_int_equal(drsn__ring_write(&r, x, 10), 1);
	assert_int_equal(atomic_load(&r.overflows), 2);
	assert_int_equal(drsn__ring_read(&r, NULL, 0), 0);
	assert_int_equal(drsn__ring_write(&r, NULL, 0), 1);
	drsn__ring_free(&r);
	assert_int_equal(drsn__ring_init(&r, 0), -EINVAL);
}

/* Stress: the producer writes a counting sequence in blocks of varying size,
 * retrying when full (as a reader thread does); the consumer reads in other
 * sizes and checks the sequence. Any lost, duplicated or torn sample shows. */
#define STRESS_TOTAL 4000000u

struct stress {
	struct drsn__ring r;
	uint32_t refused;
};

static void *producer(void *arg)
{
	struct stress *s = arg;
	float block[97];
	uint32_t next = 0, seed = 12345;
	while (next < STRESS_TOTAL) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 1 + (seed >> 16) % 97;
		if (n > STRESS_TOTAL - next)
			n = STRESS_TOTAL - next;
		for (size_t i = 0; i < n; i++)
			block[i] = (float)((next + i) & 0xffffff);  /* exact in float */
		while (!drsn__ring_write(&s->r, block, n)) {
			s->refused++;
			sched_yield();
		}
		next += (uint32_t)n;
	}
	return NULL;
}

static void test_two_thread_stress(void **state)
{
	(void)state;
	struct stress s = {0};
	assert_int_equal(drsn__ring_init(&s.r, 256), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, producer, &s), 0);
	float out[61];
	uint32_t expect = 0, seed = 777, bad = 0;
	while (expect < STRESS_TOTAL) {
		seed = seed * 1103515245u + 12345u;
		size_t want = 1 + (seed >> 16) % 61;
		size_t n = drsn__ring_read(&s.r, out, want);
		if (n == 0) {
			sched_yield();
			continue;
		}
		for (size_t i = 0; i < n; i++, expect++)
			if (out[i] != (float)(expect & 0xffffff))
				bad++;
	}
	pthread_join(t, NULL);
	assert_int_equal(bad, 0);
	assert_int_equal(drsn__ring_used(&s.r), 0);
	/* Refused writes were counted as overflows, one each. */
	assert_int_equal(atomic_load(&s.r.overflows), s.refused);
	print_message("stress: %u samples, %u full-ring retries\n", STRESS_TOTAL, s.refused);
	drsn__ring_free(&s.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rounds_up_and_wraps),
		cmocka_unit_test(test_holds_what_was_asked),
		cmocka_unit_test(test_full_write_is_refused_and_counted),
		cmocka_unit_test(test_two_thread_stress),
	};
	return cmocka_run_group_tests_name("daemon-ring", tests, NULL, NULL);
}
