/* Every file in tests/data/audio/bad/ (made by tests/data/audio/make_bad.py)
 * and a few bad paths/options must fail with the right code and a message
 * that names the file and the reason. Nothing may crash or leak. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/source_tree.h"
#include "drsn/audio.h"

/* libsndfile 1.2.0 leaks libvorbis's vorbis_info (~17 kB) when it rejects a
 * malformed Ogg file (truncated.ogg); not ours, so LeakSanitizer (used by the
 * ASan build) is told to ignore exactly that allocation site. The hook is
 * exported because the project builds with -fvisibility=hidden. */
__attribute__((visibility("default"), used))
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:vorbis_info_init\n";
}

static char bad_dir[1024];

/* The lowest free descriptor: unchanged across a test = no fd leaked. */
static int lowest_free_fd(void)
{
	int fd = dup(0);
	if (fd >= 0)
		close(fd);
	return fd;
}

static const char *bad_path(const char *name)
{
	static char p[2048];
	snprintf(p, sizeof p, "%s/%s", bad_dir, name);
	return p;
}

/* open must fail with code; the message holds the path and every `why`. */
static void expect_open_fail(const char *path, const drsn_audio_opts *o, int code,
			     const char *why1, const char *why2)
{
	drsn_audio *a = (drsn_audio *)0x1;
	drsn_error e;
	float *all = (float *)0x1;
	size_t n = 99;
	int rc = drsn_audio_open(&a, path, o, &e);
	print_message("  %-40s -> %d %s\n", strrchr(path, '/') ? strrchr(path, '/') + 1 : path, rc, e.msg);
	assert_int_equal(rc, code);
	assert_int_equal(e.code, code);
	assert_null(a);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, why1));
	if (why2)
		assert_non_null(strstr(e.msg, why2));
	/* read_all reports the same and hands back nothing */
	assert_int_equal(drsn_audio_read_all(path, o, &all, &n, &e), code);
	assert_null(all);
	assert_int_equal(n, 0);
	/* and err may be NULL */
	assert_int_equal(drsn_audio_open(&a, path, o, NULL), code);
}

static const struct {
	const char *file;
	int code;
	const char *why1, *why2;
} open_cases[] = {
	{"empty.wav", -ENODATA, "empty file", "zero length"},
	{"truncated_header.wav", -EBADMSG, "corrupt or truncated header", "22 bytes"},
	{"corrupt_header.wav", -EBADMSG, "corrupt or truncated header", "Malformed 'fmt ' chunk"},
	{"zero_frames.wav", -ENODATA, "no audio", "zero frames"},
	{"text.wav", -ENOTSUP, "unsupported format", "not an audio file"},
	{"random.bin", -ENOTSUP, "unsupported format", "not an audio file"},
	{"rate_0.wav", -ERANGE, "absurd sample rate 0 Hz", NULL},
	{"rate_1.wav", -ERANGE, "absurd sample rate 1 Hz", NULL},
	{"rate_10mhz.wav", -ERANGE, "absurd sample rate 10000000 Hz", NULL},
	{"channels_0.wav", -ERANGE, "absurd channel count 0", NULL},
	{"channels_1000.wav", -ERANGE, "absurd channel count 1000", NULL},
	{"truncated.ogg", -EBADMSG, "corrupt or truncated", "malformed"},
};

static void test_corpus_open(void **state)
{
	(void)state;
	int fd0 = lowest_free_fd();
	for (size_t i = 0; i < sizeof open_cases / sizeof open_cases[0]; i++)
		expect_open_fail(bad_path(open_cases[i].file), NULL, open_cases[i].code,
				 open_cases[i].why1, open_cases[i].why2);
	assert_int_equal(lowest_free_fd(), fd0);
}

/* Files whose damage only shows while decoding: open works, a read fails
 * (never a silent short read), and read_all returns nothing. */
static void expect_read_fail(const char *name, const char *why)
{
	const char *path = bad_path(name);
	drsn_audio *a = NULL;
	drsn_error e;
	float buf[1000];
	long n, total = 0;
	float *all = NULL;
	size_t n_all = 7;

	assert_int_equal(drsn_audio_open(&a, path, NULL, &e), 0);
	while ((n = drsn_audio_read(a, buf, 1000, &e)) > 0)
		total += n;
	print_message("  %-40s -> %ld after %ld frames: %s\n", name, n, total, e.msg);
	assert_int_equal(n, -EBADMSG);
	assert_int_equal(e.code, -EBADMSG);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, why));
	/* the error is sticky */
	assert_int_equal(drsn_audio_read(a, buf, 1000, NULL), -EBADMSG);
	drsn_audio_close(a);

	assert_int_equal(drsn_audio_read_all(path, NULL, &all, &n_all, &e), -EBADMSG);
	assert_null(all);
	assert_int_equal(n_all, 0);
}

static void test_corpus_read(void **state)
{
	(void)state;
	int fd0 = lowest_free_fd();
	expect_read_fail("truncated.flac", "corrupt data after");
	expect_read_fail("corrupt_data.flac", "corrupt data after");
	/* a WAV or AIFF whose data chunk is longer than the file: read to the
	 * cut, then said (it was refused at open, where sox and ffmpeg read it,
	 * and the same bytes from a pipe were read without a word) */
	expect_read_fail("truncated_data.wav", "truncated data: the audio ends after 1000 of "
			 "the 16000 frames the header declares");
	expect_read_fail("truncated_data.aiff", "truncated data: the audio ends after 1000 of "
			 "the 16000 frames the header declares");
	assert_int_equal(lowest_free_fd(), fd0);
}

/* Opens from several threads at once each get their own file's reason
 * (libsndfile reports open failures through globals). */
struct opener {
	size_t first;
	int failures;
};

static void *open_many(void *arg)
{
	struct opener *o = arg;
	for (int k = 0; k < 200; k++) {
		size_t i = (o->first + (size_t)k) % (sizeof open_cases / sizeof open_cases[0]);
		drsn_audio *a = NULL;
		drsn_error e;
		const char *path;
		char p[2048];
		snprintf(p, sizeof p, "%s/%s", bad_dir, open_cases[i].file);
		path = p;
		int rc = drsn_audio_open(&a, path, NULL, &e);
		if (rc != open_cases[i].code || !strstr(e.msg, path) || !strstr(e.msg, open_cases[i].why1))
			o->failures++;
		drsn_audio_close(a);
	}
	return NULL;
}

static void test_concurrent_opens(void **state)
{
	(void)state;
	pthread_t t[4];
	struct opener o[4];
	for (int i = 0; i < 4; i++) {
		o[i].first = (size_t)i * 3;
		o[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, open_many, &o[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(o[i].failures, 0);
	}
}

static void test_bad_paths(void **state)
{
	(void)state;
	char dir[] = "/tmp/drsn-audio-bad-XXXXXX";
	char p[256];
	assert_non_null(mkdtemp(dir));

	snprintf(p, sizeof p, "%s/missing.wav", dir);
	expect_open_fail(p, NULL, -ENOENT, "no such file", NULL);

	/* A directory is "unreadable" as audio whoever we are. */
	expect_open_fail(dir, NULL, -EISDIR, "unreadable", "directory");

	/* A path through a regular file. */
	snprintf(p, sizeof p, "%s/f.wav", dir);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/f.wav/inner.wav", dir);
	expect_open_fail(p, NULL, -ENOTDIR, "cannot open", "Not a directory");
	snprintf(p, sizeof p, "%s/f.wav", dir);
	unlink(p);
	rmdir(dir);
}

/* Permission denied. Tests run as root, where chmod 000 does not stop reads,
 * so a child process drops to nobody (65534) first. */
static void test_unreadable(void **state)
{
	(void)state;
	char dir[] = "/tmp/drsn-audio-perm-XXXXXX";
	char p[256];
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(p, sizeof p, "%s/secret.wav", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0000);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "RIFF", 4), 4);
	close(fd);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		drsn_audio *a = NULL;
		drsn_error e;
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(10);
		int rc = drsn_audio_open(&a, p, NULL, &e);
		printf("  secret.wav (as uid %d) -> %d %s\n", (int)geteuid(), rc, e.msg);
		fflush(stdout);
		_exit(rc == -EACCES && a == NULL && strstr(e.msg, p) &&
		      strstr(e.msg, "permission denied") ? 0 : 11);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(p);
	rmdir(dir);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bad_options(void **state)
{
	(void)state;
	drsn_audio_opts o;
	const char *good = bad_path("zero_frames.wav");   /* options are checked first */

	drsn_audio_opts_default(&o);
	o.target_rate = 10000000;
	expect_open_fail(good, &o, -ERANGE, "target_rate 10000000 Hz", NULL);
	o.target_rate = -5;
	expect_open_fail(good, &o, -ERANGE, "target_rate -5 Hz", NULL);

	drsn_audio_opts_default(&o);
	o.raw_format = "s17le";
	o.raw_rate = 16000;
	o.raw_channels = 1;
	expect_open_fail(good, &o, -EINVAL, "unknown raw_format 's17le'", NULL);
	o.raw_format = "s16le";
	o.raw_rate = 0;
	expect_open_fail(good, &o, -ERANGE, "raw_rate 0 Hz", NULL);
	o.raw_rate = 16000;
	o.raw_channels = 0;
	expect_open_fail(good, &o, -ERANGE, "raw_channels 0", NULL);
	o.raw_channels = 65;
	expect_open_fail(good, &o, -ERANGE, "raw_channels 65", NULL);

	drsn_audio *a = NULL;
	drsn_error e;
	assert_int_equal(drsn_audio_open_fd(&a, -1, NULL, NULL, &e), -EBADF);
	assert_non_null(strstr(e.msg, "fd:-1"));
	assert_null(a);
}

/* Raw data cut mid-frame: the stray bytes must not become a garbage frame. */
static void test_raw_partial_frame(void **state)
{
	(void)state;
	char path[] = "/tmp/drsn-audio-raw-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int16_t pcm[2 * 100 + 1];
	for (int i = 0; i < 201; i++)
		pcm[i] = (int16_t)(i * 100);
	assert_int_equal(write(fd, pcm, sizeof pcm), (ssize_t)sizeof pcm);
	close(fd);
	drsn_audio_opts o;
	drsn_audio_opts_default(&o);
	o.target_rate = 0;
	o.keep_channels = 1;
	o.raw_format = "s16le";
	o.raw_rate = 8000;
	o.raw_channels = 2;
	float *all = NULL;
	size_t n = 0;
	drsn_error e;
	assert_int_equal(drsn_audio_read_all(path, &o, &all, &n, &e), 0);
	assert_int_equal(n, 100);
	assert_float_equal(all[199], 19900.0f / 32768.0f, 1e-7);
	free(all);
	unlink(path);
}

/* Raw PCM has no header: an empty input, or one shorter than a frame, is
 * named as that (it said "the header is valid but declares zero frames"). */
static void test_raw_empty(void **state)
{
	(void)state;
	char path[] = "/tmp/drsn-audio-raw-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	drsn_audio_opts o;
	drsn_audio_opts_default(&o);
	o.raw_format = "s16le";
	o.raw_rate = 16000;
	o.raw_channels = 2;
	expect_open_fail(path, &o, -ENODATA, "empty file (zero length)", NULL);
	assert_int_equal(write(fd, "abc", 3), 3);
	expect_open_fail(path, &o, -ENODATA, "not one whole frame of raw s16le, 2 channel(s)",
			 "(the input is shorter)");
	close(fd);
	unlink(path);
}

/* A WAV in an encoding libsndfile cannot decode (G.726, format tag 0x0045,
 * as ffmpeg writes it) is "unsupported encoding" naming the tag, not
 * "corrupt or truncated header ... Malformed 'fmt ' chunk". */
static void test_unknown_wav_encoding(void **state)
{
	(void)state;
	char path[] = "/tmp/drsn-audio-g726-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static const unsigned char h[] = {
		'R', 'I', 'F', 'F', 38 + 100, 0, 0, 0, 'W', 'A', 'V', 'E',
		'f', 'm', 't', ' ', 18, 0, 0, 0,
		0x45, 0, 1, 0, 0x40, 0x1F, 0, 0, 0xA0, 0x0F, 0, 0, 1, 0, 4, 0, 0, 0,
		'd', 'a', 't', 'a', 100, 0, 0, 0,
	};
	static unsigned char data[100];
	assert_int_equal(write(fd, h, sizeof h), sizeof h);
	assert_int_equal(write(fd, data, sizeof data), sizeof data);
	close(fd);
	expect_open_fail(path, NULL, -ENOTSUP, "unsupported encoding: WAV format tag 0x0045",
			 "libsndfile cannot decode");
	unlink(path);
}

int main(void)
{
	const char *root = getenv("DRSN_SOURCE_ROOT");
	if (!root)
		root = drsn__source_root() ? drsn__source_root() : ".";
	snprintf(bad_dir, sizeof bad_dir, "%s/tests/data/audio/bad", root);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_open),
		cmocka_unit_test(test_corpus_read),
		cmocka_unit_test(test_concurrent_opens),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_raw_partial_frame),
		cmocka_unit_test(test_raw_empty),
		cmocka_unit_test(test_unknown_wav_encoding),
	};
	return cmocka_run_group_tests_name("audio_bad", tests, NULL, NULL);
}
