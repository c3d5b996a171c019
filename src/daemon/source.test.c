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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pace_is_exact),
		cmocka_unit_test(test_pace_after_weeks),
	};
	return cmocka_run_group_tests_name("daemon-source", tests, NULL, NULL);
}
