/* "did you mean" (closest.h): distances, the cut-off, ties, case, lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "common/closest.h"

static int dist(const char *a, const char *b)
{
	return drsn__closest_distance(a, strlen(a), b, strlen(b));
}

static void test_distance(void **state)
{
	(void)state;
	assert_int_equal(dist("threshold", "threshold"), 0);
	assert_int_equal(dist("threshhold", "threshold"), 1);   /* insertion */
	assert_int_equal(dist("sorce", "source"), 1);           /* deletion */
	assert_int_equal(dist("detcet", "detect"), 1);          /* transposition */
	assert_int_equal(dist("hots", "host"), 1);
	assert_int_equal(dist("sevan", "seven"), 1);            /* substitution */
	assert_int_equal(dist("Threshold", "threshold"), 0);    /* case ignored */
	assert_int_equal(dist("", "abc"), 3);
	assert_int_equal(dist("abc", ""), 3);
	assert_int_equal(dist("ca", "abc"), 3);                 /* OSA, not unrestricted */
	assert_int_equal(dist("kitten", "sitting"), 3);
	char big[DRSN__CLOSEST_LEN + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_int_equal(dist(big, "a"), INT_MAX);              /* too long: no hint */
	big[DRSN__CLOSEST_LEN] = 0;
	assert_int_equal(dist(big, big), 0);                    /* the longest that counts */
}

static const char *hint(const char *name, const char *const *cands, const char *prefix)
{
	static struct drsn__closest c;
	drsn__closest_init(&c, name);
	for (; *cands; cands++)
		drsn__closest_add(&c, *cands);
	return drsn__closest_hint(&c, prefix);
}

static void test_hint(void **state)
{
	(void)state;
	const char *detect[] = {"threshold", "smoothing_ms", "refractory_ms", "inference_hop_ms", "vad", NULL};
	assert_string_equal(hint("threshhold", detect, ""), "; did you mean 'threshold'?");
	assert_string_equal(hint("THRESHOLD", detect, ""), "; did you mean 'threshold'?");
	assert_string_equal(hint("treshold", detect, "--"), "; did you mean '--threshold'?");
	/* nothing close: nothing said */
	assert_string_equal(hint("zzzzqqq", detect, ""), "");
	assert_string_equal(hint("colour", detect, ""), "");
	/* the cut-off: 1 edit below 6 characters, 2 from 6, never 3 */
	const char *labels[] = {"yes", "no", "up", "down", "off", "on", "seven", "go", NULL};
	assert_string_equal(hint("sevn", labels, ""), "; did you mean 'seven'?");
	assert_string_equal(hint("svn", labels, ""), "");              /* 2 edits of 3 letters */
	assert_string_equal(hint("smothng_ms", detect, ""), "; did you mean 'smoothing_ms'?");   /* 2 of 10 */
	assert_string_equal(hint("smthng_ms", detect, ""), "");        /* 3 edits */
	assert_string_equal(hint("vd", detect, ""), "; did you mean 'vad'?");
	/* equally close: all of them, in the order given */
	assert_string_equal(hint("of", labels, ""), "; did you mean 'off' or 'on'?");
	assert_string_equal(hint("xo", labels, ""), "; did you mean 'no' or 'go'?");
	const char *three[] = {"cat", "bat", "hat", "mat", "rat", "cart", NULL};
	assert_string_equal(hint("at", three, ""), "; did you mean 'cat', 'bat', 'hat' or 'mat'?");   /* the first 4 */
	const char *two[] = {"host", "port", "host", NULL};   /* listed twice: named once */
	assert_string_equal(hint("hots", two, ""), "; did you mean 'host'?");
	/* a closer name replaces the ties found before it */
	const char *closer[] = {"abcdexx", "abcdefx", "abcdxfy", NULL};
	assert_string_equal(hint("abcdefg", closer, ""), "; did you mean 'abcdefx'?");
}

static void test_list(void **state)
{
	(void)state;
	struct drsn__closest c;
	drsn__closest_init(&c, "pre_rol_ms");
	drsn__closest_add_list(&c, "dir, pre_roll_ms, post_roll_ms,denoised,\tmax_mb");
	assert_string_equal(drsn__closest_hint(&c, ""), "; did you mean 'pre_roll_ms'?");
	drsn__closest_init(&c, "max_m");
	drsn__closest_add_list(&c, ", dir, pre_roll_ms, max_mb, ");
	assert_string_equal(drsn__closest_hint(&c, ""), "; did you mean 'max_mb'?");
	drsn__closest_init(&c, "nothing");
	drsn__closest_add_list(&c, "");
	assert_string_equal(drsn__closest_hint(&c, ""), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
