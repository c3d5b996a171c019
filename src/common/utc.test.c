/* UTC stamps (utc.h) past 2038-01-19 (a 32-bit time_t's end) and 2106-02-07
 * (an unsigned 32-bit one's), at the range's ends, and for a clock set to
 * garbage (negative, past year 9999, not a number): each stamp a fixed
 * 20 characters. Then every ~115 days from year 1 to 9999 against gmtime_r()
 * wherever this build's time_t holds the time (all of it with a 64-bit one). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/utc.h"

static void test_stamps(void **state)
{
	(void)state;
	static const struct {
		double t;
		const char *want;
		int rc;
	} cases[] = {
		{0, "19700101T000000.000Z", 0},
		{0.9994, "19700101T000000.999Z", 0},
		{0.9996, "19700101T000001.000Z", 0},   /* rounded to the nearest ms */
		{1764547200.25, "20251201T000000.250Z", 0},
		{2147483647, "20380119T031407.000Z", 0},           /* INT32_MAX */
		{2147483648.5, "20380119T031408.500Z", 0},         /* 2^31: a 32-bit time_t's end */
		{2208988800, "20400101T000000.000Z", 0},
		{2208988799.999, "20391231T235959.999Z", 0},
		{4294967296, "21060207T062816.000Z", 0},           /* 2^32 */
		{4107542399, "21000228T235959.000Z", 0},           /* 2100: no leap day */
		{4107542400, "21000301T000000.000Z", 0},
		{951782400, "20000229T000000.000Z", 0},            /* 2000: a leap day */
		{-1, "19691231T235959.000Z", 0},
		{-0.25, "19691231T235959.750Z", 0},
		{-0.0004, "19700101T000000.000Z", 0},
		{-2208988800, "19000101T000000.000Z", 0},
		{DRSN__UTC_MIN, "00010101T000000.000Z", 0},
		{DRSN__UTC_MAX, "99991231T235959.999Z", 0},
		/* a clock set to garbage: the nearest bound */
		{DRSN__UTC_MIN - 1, "00010101T000000.000Z", -ERANGE},
		{253402300800, "99991231T235959.999Z", -ERANGE},   /* 10000-01-01 */
		{1e300, "99991231T235959.999Z", -ERANGE},
		{-1e300, "00010101T000000.000Z", -ERANGE},
		{INFINITY, "99991231T235959.999Z", -ERANGE},
		{-INFINITY, "00010101T000000.000Z", -ERANGE},
		{NAN, "19700101T000000.000Z", -ERANGE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[64];
		memset(buf, 'x', sizeof buf);
		int rc = drsn__utc_stamp(cases[i].t, buf, sizeof buf);
		if (rc != cases[i].rc || strcmp(buf, cases[i].want))
			fail_msg("t = %.3f: got \"%s\" (rc %d), want \"%s\" (rc %d)", cases[i].t, buf, rc,
				 cases[i].want, cases[i].rc);
		assert_int_equal(strlen(buf), DRSN__UTC_STAMP_SIZE - 1);
	}
}

static void test_buffer(void **state)
{
	(void)state;
	char buf[DRSN__UTC_STAMP_SIZE];
	assert_int_equal(drsn__utc_stamp(2208988800, buf, sizeof buf), 0);
	assert_string_equal(buf, "20400101T000000.000Z");
	memset(buf, 'x', sizeof buf);
	assert_int_equal(drsn__utc_stamp(2208988800, buf, sizeof buf - 1), -ENOSPC);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(drsn__utc_stamp(2208988800, NULL, 0), -ENOSPC);
}

/* Against the C library's calendar, wherever time_t holds the time. */
static void test_against_gmtime(void **state)
{
	(void)state;
	long compared = 0;
	for (int64_t s = (int64_t)DRSN__UTC_MIN; s <= (int64_t)DRSN__UTC_MAX; s += 9999991) {
		time_t tt = (time_t)s;
		struct tm tm;
		if ((int64_t)tt != s || !gmtime_r(&tt, &tm))
			continue;
		char want[64], got[64];
		snprintf(want, sizeof want, "%04d%02d%02dT%02d%02d%02d.000Z", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		assert_int_equal(drsn__utc_stamp((double)s, got, sizeof got), 0);
		if (strcmp(got, want))
			fail_msg("t = %lld: got %s, gmtime_r gives %s", (long long)s, got, want);
		compared++;
	}
	printf("compared %ld times with gmtime_r (time_t: %zu bytes)\n", compared, sizeof(time_t));
	assert_true(compared > 400);   /* 1901-2038 even with a 32-bit time_t */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamps),
		cmocka_unit_test(test_buffer),
		cmocka_unit_test(test_against_gmtime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
