/* daemon/hush.h: what a host library prints to stderr between begin and end
 * is kept out of stderr and logged at debug level; drsnd's own log lines
 * pass; stderr is the same file afterwards; nesting is harmless. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/hush.h"
#include "daemon/log.h"

/* stderr goes to a temporary file for the test; returns what it got. */
static FILE *real_err;
static int saved_err = -1;

static void err_to_file(void)
{
	fflush(stderr);
	real_err = tmpfile();
	assert_non_null(real_err);
	saved_err = dup(2);
	assert_true(saved_err >= 0);
	assert_true(dup2(fileno(real_err), 2) >= 0);
}

static char *err_restore(void)
{
	static char got[8192];
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	rewind(real_err);
	size_t n = fread(got, 1, sizeof got - 1, real_err);
	got[n] = 0;
	fclose(real_err);
	return got;
}

static void host_library_prints(void)
{
	fprintf(stderr, "ALSA lib confmisc.c:855:(parse_card) cannot find card '0'\n");
	static const char raw[] = "jack server is not running or cannot be started\n\nno newline at end";
	assert_int_equal(write(2, raw, sizeof raw - 1), (ssize_t)(sizeof raw - 1));
}

static void test_quiet_at_warning_level(void **state)
{
	(void)state;
	drsn__log_set_level(DRSN_LOG_WARNING);
	err_to_file();
	fprintf(stderr, "before\n");
	struct drsn__hush h;
	drsn__hush_begin(&h);
	log_warn("pa: a warning of drsnd's own");
	host_library_prints();
	int lines = drsn__hush_end(&h, "pa: host library");
	fprintf(stderr, "after\n");
	char *got = err_restore();
	assert_int_equal(lines, 4);
	assert_string_equal(got, "before\ndrsnd: warning: pa: a warning of drsnd's own\nafter\n");
}

static void test_debug_level_shows_each_line(void **state)
{
	(void)state;
	drsn__log_set_level(DRSN_LOG_DEBUG);
	err_to_file();
	struct drsn__hush h;
	drsn__hush_begin(&h);
	host_library_prints();
	drsn__hush_end(&h, "pa: host library");
	char *got = err_restore();
	drsn__log_set_level(DRSN_LOG_WARNING);
	assert_non_null(strstr(got, "drsnd: debug: pa: host library: ALSA lib confmisc.c:855:(parse_card) cannot find card '0'\n"));
	assert_non_null(strstr(got, "drsnd: debug: pa: host library: jack server is not running or cannot be started\n"));
	assert_non_null(strstr(got, "drsnd: debug: pa: host library: no newline at end\n"));
}

static void test_nested_and_empty(void **state)
{
	(void)state;
	drsn__log_set_level(DRSN_LOG_WARNING);
	err_to_file();
	struct drsn__hush outer, inner;
	drsn__hush_begin(&outer);
	drsn__hush_begin(&inner);
	host_library_prints();
	int in_lines = drsn__hush_end(&inner, "inner");
	int out_lines = drsn__hush_end(&outer, "outer");
	struct drsn__hush none;
	drsn__hush_begin(&none);
	int none_lines = drsn__hush_end(&none, "none");
	fprintf(stderr, "still stderr\n");
	assert_string_equal(err_restore(), "still stderr\n");
	assert_int_equal(in_lines, 3);
	assert_int_equal(out_lines, 0);
	assert_int_equal(none_lines, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_at_warning_level),
		cmocka_unit_test(test_debug_level_shows_each_line),
		cmocka_unit_test(test_nested_and_empty),
	};
	return cmocka_run_group_tests_name("daemon-hush", tests, NULL, NULL);
}
