/* Sound files with a time past 2038-01-19T03:14:07Z. Debian 12's armhf
 * libsndfile1 is built with a 32-bit time_t: its sf_open_fd() fstat()s the
 * file and fails with EOVERFLOW ("Value too large for defined data type")
 * for any file whose mtime, atime or ctime is past 2038, which after that
 * date is every file written. drsn and drsnd therefore give libsndfile
 * their own I/O (src/audio/sndfile_io.c). Here: a WAV last modified and
 * read in 2040 is read (drsn_audio_open, drsn_audio_open_fd), and a WAV is
 * written into a file whose times are 2040 (as drsn denoise and the
 * recorder write theirs). Times are set through the 64-bit syscall where
 * time_t is 32 bits; on a 64-bit host this passes either way, the armhf
 * cross build under qemu-arm (.ci/test) is where it can fail. */
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

#include <sndfile.h>

#include "audio/sndfile_io.h"
#include "drsn/audio.h"
#include "set_times.h"

#define FRAMES 1600

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, unsigned long v) { put16(p, (unsigned)(v & 0xFFFF)); put16(p + 2, (unsigned)(v >> 16)); }

static int16_t sample(int i) { return (int16_t)((i % 200) * 100 - 10000); }

/* A temporary file name in TMPDIR (unlink it) and its descriptor. */
static int temp_wav(char *path, size_t n)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, n, "%s/drsn-y2038-XXXXXX.wav", dir && *dir ? dir : "/tmp");
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	return fd;
}

/* path: a 16 kHz mono 16-bit WAV of FRAMES frames, written by hand (not
 * by libsndfile), last modified and accessed 2040-01-01. */
static void wav_from_2040(char *path, size_t n)
{
	unsigned char h[44 + 2 * FRAMES];
	memcpy(h, "RIFF", 4);
	put32(h + 4, sizeof h - 8);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	put16(h + 20, 1);
	put16(h + 22, 1);
	put32(h + 24, 16000);
	put32(h + 28, 32000);
	put16(h + 32, 2);
	put16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put32(h + 40, 2 * FRAMES);
	for (int i = 0; i < FRAMES; i++)
		put16(h + 44 + 2 * i, (unsigned)(uint16_t)sample(i));
	int fd = temp_wav(path, n);
	assert_int_equal(write(fd, h, sizeof h), (ssize_t)sizeof h);
	if (set_times(fd, T2040) < 0)
		fail_msg("%s: cannot set its times to 2040-01-01: %s", path, strerror(errno));
	close(fd);
}

/* x holds the FRAMES samples of sample() */
static void assert_samples(const float *x, size_t n)
{
	assert_int_equal(n, FRAMES);
	for (int i = 0; i < FRAMES; i++)
		if (x[i] != sample(i) / 32768.0f)
			fail_msg("sample %d: %g, not %g", i, x[i], sample(i) / 32768.0);
}

/* A WAV last modified 2040-01-01 is read, by name and from a descriptor. */
static void test_read_wav_from_2040(void **state)
{
	(void)state;
	char path[4096];
	wav_from_2040(path, sizeof path);

	float *x = NULL;
	size_t n = 0;
	drsn_error e;
	int rc = drsn_audio_read_all(path, NULL, &x, &n, &e);
	if (rc < 0) {
		unlink(path);
		fail_msg("a WAV last modified 2040-01-01 cannot be read (time_t: %zu bytes): %s",
			 sizeof(time_t), e.msg);
	}
	assert_samples(x, n);
	free(x);

	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	drsn_audio *a = NULL;
	rc = drsn_audio_open_fd(&a, fd, path, NULL, &e);
	if (rc < 0) {
		close(fd);
		unlink(path);
		fail_msg("drsn_audio_open_fd: a WAV last modified 2040-01-01 cannot be read: %s", e.msg);
	}
	float y[FRAMES + 1];
	long got = drsn_audio_read(a, y, FRAMES + 1, &e);
	assert_true(got >= 0);
	assert_samples(y, (size_t)got);
	drsn_audio_close(a);
	close(fd);
	unlink(path);
}

/* A WAV written (as drsn denoise and the recorder write theirs: a
 * descriptor given to libsndfile) into a file whose times are 2040. */
static void test_write_wav_into_2040_file(void **state)
{
	(void)state;
	char path[4096];
	int fd = temp_wav(path, sizeof path);
	if (set_times(fd, T2040) < 0)
		fail_msg("%s: cannot set its times to 2040-01-01: %s", path, strerror(errno));
	close(fd);
	fd = open(path, O_WRONLY | O_TRUNC);   /* truncating keeps the 2040 atime */
	assert_true(fd >= 0);

	SF_INFO si = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	drsn__sfio io;
	SNDFILE *f = drsn__sf_open_fd(&io, fd, SFM_WRITE, &si);
	if (!f) {
		close(fd);
		unlink(path);
		fail_msg("a file with times in 2040 cannot be written as WAV (time_t: %zu bytes): %s",
			 sizeof(time_t), sf_strerror(NULL));
	}
	int16_t s[FRAMES];
	for (int i = 0; i < FRAMES; i++)
		s[i] = sample(i);
	assert_int_equal(sf_write_short(f, s, FRAMES), FRAMES);
	assert_int_equal(sf_close(f), 0);
	assert_int_equal(close(fd), 0);

	float *x = NULL;
	size_t n = 0;
	drsn_error e;
	int rc = drsn_audio_read_all(path, NULL, &x, &n, &e);
	unlink(path);
	if (rc < 0)
		fail_msg("the WAV written cannot be read back: %s", e.msg);
	assert_samples(x, n);
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_wav_from_2040),
		cmocka_unit_test(test_write_wav_into_2040_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
