#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "common/error.h"
#include "drsn/version.h"

static void test_fail_formats_message(void **state)
{
	(void)state;
	drsn_error e;
	int rc = drsn__fail(&e, -EBADMSG, "%s: truncated header (%d bytes)", "x.wav", 12);
	assert_int_equal(rc, -EBADMSG);
	assert_int_equal(e.code, -EBADMSG);
	assert_string_equal(e.msg, "x.wav: truncated header (12 bytes)");
	assert_int_equal(drsn__fail(NULL, -EIO, "ignored"), -EIO);
	drsn__error_clear(&e);
	assert_int_equal(e.code, 0);
	assert_string_equal(e.msg, "");
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(drsn_strerror(-ENOENT), "no such file");
	assert_string_equal(drsn_strerror(-EBADMSG), "corrupt or truncated data");
	assert_non_null(drsn_strerror(-12345));
	/* -INT_MIN overflowed (UBSan: negation of INT_MIN) */
	assert_string_equal(drsn_strerror(INT_MIN), "unknown error");
	assert_string_equal(drsn_strerror(INT_MAX), "unknown error");
	assert_string_equal(drsn_strerror(EINVAL), "unknown error");
	assert_string_equal(drsn_strerror(0), "success");
	assert_true(strlen(drsn_version()) >= 5);
	/* the library is the version its headers say (drsn/version.h) */
	assert_string_equal(drsn_version(), DRSN_VERSION_STRING);
	assert_int_equal(drsn_version_number(), DRSN_VERSION_NUMBER);
	assert_int_equal(DRSN_VERSION_NUMBER, DRSN_VERSION_ENCODE(DRSN_VERSION_MAJOR, DRSN_VERSION_MINOR,
								  DRSN_VERSION_PATCH));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_formats_message),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
