/* LD_PRELOAD into drsnd for test_live.py: a host suspend without suspending
 * the test machine. drsnd (src/daemon/source.c, drsn__source_clocks) takes
 * a suspend from CLOCK_BOOTTIME running on while CLOCK_MONOTONIC stood
 * still; this clock_gettime() adds to CLOCK_BOOTTIME the milliseconds
 * written (as a decimal number) in the file named by DRSN_TEST_SLEPT_FILE,
 * read at every call, so the test "suspends" the host for N ms by writing
 * a bigger N. Every other clock, and CLOCK_BOOTTIME without the file, is
 * the real one. The same way as libfaketime (tests/meson.build, y2038):
 * the program under test is drsnd itself, unchanged.
 *
 * drsnd reads CLOCK_BOOTTIME only in its source's watch timer (every
 * 250 ms, on the loop thread), so the file is read only then. A 32-bit
 * build (armhf) has a 64-bit time_t by meson.build's _TIME_BITS=64, as this
 * file: there glibc's time.h names clock_gettime __clock_gettime64, which
 * is what drsnd calls, what this defines and what it looks up next. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__USE_TIME_BITS64) && __TIMESIZE == 32
#define REAL_CLOCK_GETTIME "__clock_gettime64"
#else
#define REAL_CLOCK_GETTIME "clock_gettime"
#endif

__attribute__((visibility("default"))) int clock_gettime(clockid_t id, struct timespec *ts);

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, REAL_CLOCK_GETTIME);
	if (!real)
		abort();
	int rc = real(id, ts);
	const char *path = getenv("DRSN_TEST_SLEPT_FILE");
	if (rc || id != CLOCK_BOOTTIME || !path)
		return rc;
	FILE *f = fopen(path, "re");
	if (!f)
		return rc;
	long long ms = 0;
	if (fscanf(f, "%lld", &ms) != 1 || ms < 0)
		ms = 0;
	fclose(f);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
	return rc;
}
