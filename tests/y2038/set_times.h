/* Times past 2038 on a file, for tests/y2038: set through the 64-bit syscall
 * where time_t is 32 bits, so a test also runs (and can fail) in a build
 * without _TIME_BITS=64. Needs <errno.h>, <sys/stat.h>, <sys/syscall.h>,
 * <time.h> and <unistd.h>. */
#ifndef DRSN_TESTS_Y2038_SET_TIMES_H
#define DRSN_TESTS_Y2038_SET_TIMES_H

#define T2040 2208988800LL   /* 2040-01-01T00:00:00Z */

/* mtime and atime of fd = t, whatever the size of time_t */
static inline int set_times(int fd, long long t)
{
	if (sizeof(time_t) >= 8) {
		struct timespec ts[2] = {{(time_t)t, 0}, {(time_t)t, 0}};
		return futimens(fd, ts);
	}
#ifdef SYS_utimensat_time64
	struct {
		long long sec, nsec;   /* the kernel's struct __kernel_timespec */
	} ts64[2] = {{t, 0}, {t, 0}};
	return (int)syscall(SYS_utimensat_time64, fd, NULL, ts64, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

#endif
