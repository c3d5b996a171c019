/* Files modified after 2038-01-19T03:14:07Z: with a 32-bit time_t (armhf
 * Debian 12 without _TIME_BITS=64, meson.build) glibc's stat()/fstat() fail
 * with EOVERFLOW for them, so drsn/drsnd refused a model (the recorder its
 * directory, drsnd a plugin...) written after 2038. The mtime is set
 * through the 64-bit syscall where time_t is 32 bits, so this also runs
 * (and fails) there. WAVs, which libsndfile opens (Debian 12's armhf
 * libsndfile1 has a 32-bit time_t whatever we build with), are tested in
 * sound_files.test.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "drsn/model.h"
#include "set_times.h"

/* A copy of the shipped model, last modified 2040-01-01, loads. */
static void test_model_from_2040(void **state)
{
	(void)state;
	const char *root = getenv("DRSN_SOURCE_ROOT");
	char src[4096], path[4096];
	snprintf(src, sizeof src, "%s/models/kws20-drsn-cw.safetensors", root && *root ? root : ".");
	FILE *in = fopen(src, "rb");
	if (!in)
		fail_msg("%s: %s", src, strerror(errno));
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/drsn-y2038-XXXXXX.safetensors", dir && *dir ? dir : "/tmp");
	int fd = mkstemps(path, 12);
	assert_true(fd >= 0);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(write(fd, buf, n), (ssize_t)n);
	fclose(in);
	if (set_times(fd, T2040) < 0)
		fail_msg("%s: cannot set its mtime to 2040-01-01: %s", path, strerror(errno));
	close(fd);

	drsn_model *m = NULL;
	drsn_error e;
	int rc = drsn_model_load(&m, path, &e);
	unlink(path);
	if (rc < 0)
		fail_msg("a model last modified 2040-01-01 does not load (time_t: %zu bytes): %s",
			 sizeof(time_t), e.msg);
	drsn_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_from_2040),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
