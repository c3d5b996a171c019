/* daemon/hush.h: what a host library prints to stderr between begin and end
 * is kept out of stderr and logged at debug level; drsnd's own log lines
 * pass; stderr is the same file afterwards; nesting is harmless. After
 * drsn__hush_stdio, stdio's stderr lines are logged at once, named. */
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

/* drsn__hush_stdio: what goes through stdio's stderr comes out as log lines,
 * named; what is written to fd 2 directly is untouched. */
static void test_stdio_lines_are_logged(void **state)
{
	(void)state;
	FILE *real = stderr;
	drsn__log_set_level(DRSN_LOG_DEBUG);
	err_to_file();
	assert_int_equal(drsn__hush_stdio(), 0);
	fprintf(stderr, "Expression 'x( pcm )' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 3665\n");
	/* alsa-lib's default handler: one line in three calls */
	fprintf(stderr, "ALSA lib %s:%i:(%s) ", "pcm.c", 2666, "snd_pcm_open_noupdate");
	fprintf(stderr, "Unknown PCM %s", "cards.pcm.rear");
	putc('\n', stderr);
	fprintf(stderr, "Assertion 'c' failed at pulse/context.c:42. Aborting.\n");
	fprintf(stderr, "drsnd: PortAudio: a line of drsnd's own\n");
	log_info("a log line");
	static const char direct[] = "==1==ERROR: AddressSanitizer: writes to fd 2\n";
	assert_int_equal(write(2, direct, sizeof direct - 1), (ssize_t)(sizeof direct - 1));
	struct drsn__hush h;
	drsn__hush_begin(&h);
	fprintf(stderr, "jack server is not running or cannot be started\n");
	drsn__hush_end(&h, "pa: host library");
	stderr = real;
	char *got = err_restore();
	drsn__log_set_level(DRSN_LOG_WARNING);
	assert_string_equal(got,
		"drsnd: debug: PortAudio: Expression 'x( pcm )' failed in "
		"'src/hostapi/alsa/pa_linux_alsa.c', line: 3665\n"
		"drsnd: debug: alsa-lib: ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM cards.pcm.rear\n"
		"drsnd: warning: host library: Assertion 'c' failed at pulse/context.c:42. Aborting.\n"
		"drsnd: PortAudio: a line of drsnd's own\n"
		"drsnd: info: a log line\n"
		"==1==ERROR: AddressSanitizer: writes to fd 2\n"
		"drsnd: debug: pa: host library: jack server is not running or cannot be started\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_at_warning_level),
		cmocka_unit_test(test_debug_level_shows_each_line),
		cmocka_unit_test(test_nested_and_empty),
		cmocka_unit_test(test_stdio_lines_are_logged),
	};
	return cmocka_run_group_tests_name("daemon-hush", tests, NULL, NULL);
}
