/* UTF-8 checks and repair: well-formedness per Unicode (overlongs,
 * surrogates, > U+10FFFF, cut sequences), one U+FFFD per maximal subpart
 * (what Python's errors="replace" gives), cuts at character boundaries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

#define R "\xef\xbf\xbd"   /* U+FFFD */

static void test_check(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t bad;     /* offset of the first bad byte; (size_t)-1 = valid */
	} cases[] = {
		{"", (size_t)-1},
		{"plain ascii", (size_t)-1},
		{"caf\xc3\xa9", (size_t)-1},                  /* é */
		{"\xe2\x82\xac", (size_t)-1},                 /* € */
		{"\xf0\x9f\x8e\xa4", (size_t)-1},             /* U+1F3A4 */
		{"\xf4\x8f\xbf\xbf", (size_t)-1},             /* U+10FFFF */
		{"\xed\x9f\xbf", (size_t)-1},                 /* U+D7FF */
		{"bad\xff.wav", 3},
		{"\x80", 0},                                  /* lone continuation */
		{"a\xc0\xaf", 1},                             /* overlong '/' */
		{"\xc1\xbf", 0},
		{"\xe0\x80\xaf", 0},                          /* overlong */
		{"\xed\xa0\x80", 0},                          /* U+D800 */
		{"\xf4\x90\x80\x80", 0},                      /* U+110000 */
		{"\xf5\x80\x80\x80", 0},
		{"ok\xe2\x82", 2},                            /* cut short at the end */
		{"\xe2\x82x", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = strlen(cases[i].s);
		size_t want = cases[i].bad == (size_t)-1 ? n : cases[i].bad;
		size_t got = drsn__utf8_check(cases[i].s, n);
		if (got != want)
			fail_msg("case %zu: first bad byte %zu, want %zu", i, got, want);
	}
	/* a NUL is valid UTF-8 (U+0000): the length decides */
	assert_int_equal(drsn__utf8_check("a\0\xff", 3), 2);
}

static void test_fix(void **state)
{
	(void)state;
	/* expected = bytes.decode("utf-8", "replace").encode() in Python */
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"", ""},
		{"n/bad\xff.wav", "n/bad" R ".wav"},
		{"caf\xc3\xa9", "caf\xc3\xa9"},
		{"\xe2\x82", R},                              /* one maximal subpart */
		{"\xe2\x82x", R "x"},
		{"\xf0\x9f\x8e", R},
		{"\xf0\x9f\x8ex\xf0\x9f\x8e\xa4", R "x\xf0\x9f\x8e\xa4"},
		{"\xc0\xaf", R R},                            /* C0 starts nothing */
		{"\xed\xa0\x80", R R R},                      /* A0 is no valid 2nd byte after ED */
		{"\xf4\x90\x80\x80", R R R R},
		{"\x80\x80", R R},
		{"\xff\xfe", R R},
		{"a\xe0\x80z", "a" R R "z"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = 0;
		char *s = drsn__utf8_fix(cases[i].in, strlen(cases[i].in), &len);
		assert_non_null(s);
		if (strcmp(s, cases[i].out) || len != strlen(cases[i].out))
			fail_msg("case %zu: got '%s' (%zu bytes), want '%s'", i, s, len,
				 cases[i].out);
		assert_int_equal(drsn__utf8_check(s, len), len);
		free(s);
	}
}

static void test_prefix(void **state)
{
	(void)state;
	assert_int_equal(drsn__utf8_prefix("abc", 64), 3);
	assert_int_equal(drsn__utf8_prefix("abc", 3), 3);
	assert_int_equal(drsn__utf8_prefix("abcd", 3), 3);
	/* "aé€": a(1) é(2) €(3) */
	const char *s = "a\xc3\xa9\xe2\x82\xac";
	assert_int_equal(drsn__utf8_prefix(s, 1), 1);
	assert_int_equal(drsn__utf8_prefix(s, 2), 1);   /* not half of é */
	assert_int_equal(drsn__utf8_prefix(s, 3), 3);
	assert_int_equal(drsn__utf8_prefix(s, 4), 3);
	assert_int_equal(drsn__utf8_prefix(s, 5), 3);
	assert_int_equal(drsn__utf8_prefix(s, 6), 6);
	assert_int_equal(drsn__utf8_prefix(s, 0), 0);
}

static void test_add_string(void **state)
{
	(void)state;
	cJSON *o = cJSON_CreateObject();
	assert_non_null(drsn__utf8_add_string(o, "file", "n/bad\xff.wav"));
	assert_non_null(drsn__utf8_add_string(o, "ok", "caf\xc3\xa9"));
	char *s = cJSON_PrintUnformatted(o);
	assert_string_equal(s, "{\"file\":\"n/bad" R ".wav\",\"ok\":\"caf\xc3\xa9\"}");
	free(s);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_fix),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_add_string),
	};
	return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
