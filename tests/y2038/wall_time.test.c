/* drsnd's wall clock ("time" of events and status, a recorder clip's name)
 * with the clock at 2040-01-01T00:00:00Z: tests/meson.build runs this with
 * libfaketime (FAKETIME="@2040-01-01 00:00:00"), preloaded into the program
 * itself, or into qemu-user for a cross build (QEMU_UNSET_ENV keeps it out
 * of the emulated program). With a 32-bit time_t clock_gettime() fails
 * (EOVERFLOW) there and the "time" was whatever the stack held. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "daemon/proto.h"

#define T2040 2208988800.0   /* 2040-01-01T00:00:00Z */

static void test_wall_time_2040(void **state)
{
	(void)state;
	const char *ft = getenv("FAKETIME");
	if (!ft || strcmp(ft, "@2040-01-01 00:00:00"))
		fail_msg("FAKETIME is \"%s\", not \"@2040-01-01 00:00:00\": run by meson test "
			 "(tests/meson.build preloads libfaketime)", ft ? ft : "(unset)");
	double t = drsn__wall_time();
	/* the faked clock runs on from its start: an hour is ample on any machine */
	if (!(t >= T2040 && t < T2040 + 3600))
		fail_msg("drsn__wall_time() = %.3f with the clock at 2040-01-01 (%.0f)", t, T2040);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wall_time_2040),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
