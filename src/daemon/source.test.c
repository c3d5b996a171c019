/* Audio sources: long-running arithmetic. A file: source paced at real time
 * must keep its pace for as long as drsnd runs (months). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/source_impl.h"

#define NS 1000000000ull
#define DAY (86400ull * NS)

static void test_pace_is_exact(void **state)
{
	(void)state;
	assert_int_equal(drsn__source_due(0, 16000), 0);
	assert_int_equal(drsn__source_due(NS / 16000 - 1, 16000), 0);
	assert_int_equal(drsn__source_due(NS / 16000, 16000), 1);
	assert_int_equal(drsn__source_due(NS + NS / 2, 16000), 24000);
	assert_int_equal(drsn__source_due(NS - 1, 44100), 44099);
}

/* elapsed_ns * rate passes 2^64 after 13.3 days at 16 kHz (4.4 at 48 kHz):
 * the samples due must still grow, one second's worth per second. */
static void test_pace_after_weeks(void **state)
{
	(void)state;
	const int rates[] = {8000, 16000, 48000, 192000};
	const uint64_t days[] = {13, 14, 30, 365, 3650};
	for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++)
		for (size_t d = 0; d < sizeof days / sizeof days[0]; d++) {
			uint64_t t = days[d] * DAY + 123456789;
			uint64_t want = days[d] * 86400ull * (uint64_t)rates[r] +
					123456789ull * (uint64_t)rates[r] / NS;
			assert_int_equal(drsn__source_due(t, rates[r]), want);
			assert_int_equal(drsn__source_due(t + NS, rates[r]) - drsn__source_due(t, rates[r]),
					 (uint64_t)rates[r]);
		}
}

/* A stall (drsnd stopped for a minute, a paused VM): the file does
 * not race through the minute, it pauses; at most max_lag stays due. */
static void test_pace_after_a_stall(void **state)
{
	(void)state;
	const uint64_t lag = 32000;   /* 2 s at 16 kHz */
	uint64_t t0 = 5 * NS;
	/* on time: nothing moves */
	assert_int_equal(drsn__source_pace(&t0, 15 * NS, 159000, 16000, lag), 1000);
	assert_int_equal(t0, 5 * NS);
	/* 2 s behind is still caught up */
	assert_int_equal(drsn__source_pace(&t0, 15 * NS, 128000, 16000, lag), lag);
	assert_int_equal(t0, 5 * NS);
	/* a minute's stall after 10 s delivered: max_lag due, the start 58 s later */
	assert_int_equal(drsn__source_pace(&t0, 75 * NS, 160000, 16000, lag), lag);
	assert_int_equal(t0, 63 * NS);
	/* then real time again from there */
	assert_int_equal(drsn__source_pace(&t0, 76 * NS, 160000 + lag, 16000, lag), 16000);
	assert_int_equal(t0, 63 * NS);
	/* a rate that does not divide a second: never more than max_lag, and
	 * the start does not move past a due sample */
	t0 = 0;
	uint64_t n = drsn__source_pace(&t0, 100 * NS + 12345, 44107, 44100, 88200);
	assert_int_equal(n, 88200);
	assert_true(t0 > 96 * NS && t0 < 97 * NS);
	assert_int_equal(drsn__source_due(100 * NS + 12345 - t0, 44100), 44107 + 88200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pace_is_exact),
		cmocka_unit_test(test_pace_after_weeks),
		cmocka_unit_test(test_pace_after_a_stall),
	};
	return cmocka_run_group_tests_name("daemon-source", tests, NULL, NULL);
}
