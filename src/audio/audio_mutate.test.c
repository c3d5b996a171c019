/* Robustness: valid WAV/FLAC/OGG/AIFF/CAF files, truncated at many lengths
 * and with random bytes overwritten (fixed seed), must never crash or trip a
 * sanitizer; every open either fails with a message naming the file or
 * yields a stream that ends in an error naming the file or delivers exactly
 * the out_frames it announced. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sndfile.h>

#include "drsn/audio.h"

/* libsndfile 1.2.0 leaks inside libvorbis/libvorbisenc on some malformed
 * Ogg input and when writing Ogg; not ours (exported: -fvisibility=hidden). */
__attribute__((visibility("default"), used))
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:vorbis_info_init\nleak:vorbis_encode_setup_init\n";
}

static char dir[] = "/tmp/drsn-audio-mutate-XXXXXX";

static unsigned char *make_file(const char *path, int format, int rate, int ch, size_t *len)
{
	SF_INFO si = {.samplerate = rate, .channels = ch, .format = format};
	SNDFILE *f = sf_open(path, SFM_WRITE, &si);
	assert_non_null(f);
	float buf[2 * 800];
	for (int i = 0; i < 800; i++)
		for (int c = 0; c < ch; c++)
			buf[i * ch + c] = (float)(0.4 * sin(0.07 * i + c));
	assert_int_equal(sf_writef_float(f, buf, 800), 800);
	sf_close(f);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	*len = (size_t)ftell(fp);
	rewind(fp);
	unsigned char *b = malloc(*len);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, *len, fp), *len);
	fclose(fp);
	return b;
}

static long n_ok, n_open_err, n_read_err;

/* The lowest free descriptor: unchanged across a test = no fd leaked. */
static int lowest_free_fd(void)
{
	int fd = dup(0);
	if (fd >= 0)
		close(fd);
	return fd;
}


static void try_bytes(const char *path, const unsigned char *b, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	if (len)
		assert_int_equal(fwrite(b, 1, len, fp), len);
	fclose(fp);

	drsn_audio *a = NULL;
	drsn_error e;
	int rc = drsn_audio_open(&a, path, NULL, &e);
	if (rc < 0) {
		assert_null(a);
		assert_int_equal(e.code, rc);
		if (!strstr(e.msg, path))
			fail_msg("message does not name the file: %s", e.msg);
		n_open_err++;
		return;
	}
	drsn_audio_info info;
	drsn_audio_get_info(a, &info);
	float buf[1024];
	long r, total = 0;
	while ((r = drsn_audio_read(a, buf, 1024, &e)) > 0) {
		for (long i = 0; i < r; i++)
			assert_true(isfinite(buf[i]));
		total += r;
	}
	if (r < 0) {
		if (!strstr(e.msg, path))
			fail_msg("message does not name the file: %s", e.msg);
		n_read_err++;
	} else {
		if (total != info.out_frames)
			fail_msg("%s (%zu bytes): read %ld frames, announced %lld", path, len, total,
				 (long long)info.out_frames);
		n_ok++;
	}
	drsn_audio_close(a);
}

static void test_mutations(void **state)
{
	(void)state;
	static const struct { const char *ext; int format; int rate; int ch; } kinds[] = {
		{"wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 2},
		{"flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1},
		{"ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 8000, 1},
		{"aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 48000, 2},
		{"caf", SF_FORMAT_CAF | SF_FORMAT_FLOAT, 44100, 1},
		{"wav", SF_FORMAT_WAV | SF_FORMAT_IMA_ADPCM, 16000, 1},
	};
	unsigned seed = 20261128;
	int fd0 = lowest_free_fd();
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		char src[256], path[256];
		size_t len;
		snprintf(src, sizeof src, "%s/orig%zu.%s", dir, k, kinds[k].ext);
		snprintf(path, sizeof path, "%s/mut%zu.%s", dir, k, kinds[k].ext);
		unsigned char *orig = make_file(src, kinds[k].format, kinds[k].rate, kinds[k].ch, &len);
		unsigned char *b = malloc(len);
		assert_non_null(b);
		/* every truncation inside the first 128 bytes, then a spread */
		for (size_t cut = 0; cut < len; cut += cut < 128 ? 1 : len / 40 + 1)
			try_bytes(path, orig, cut);
		/* random overwrites: 1..8 bytes in the header region, or anywhere */
		for (int m = 0; m < 150; m++) {
			memcpy(b, orig, len);
			int nb = 1 + (int)(rand_r(&seed) % 8);
			size_t span = m % 2 ? len : (len < 128 ? len : 128);
			for (int j = 0; j < nb; j++)
				b[rand_r(&seed) % span] = (unsigned char)rand_r(&seed);
			try_bytes(path, b, len);
		}
		unlink(src);
		unlink(path);
		free(orig);
		free(b);
	}
	print_message("  %ld opened and read to the announced end, %ld refused at open, "
		      "%ld failed while reading\n", n_ok, n_open_err, n_read_err);
	assert_true(n_ok > 0 && n_open_err > 0 && n_read_err > 0);
	assert_int_equal(lowest_free_fd(), fd0);   /* no descriptor leaked */
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutations),
	};
	int rc = cmocka_run_group_tests_name("audio_mutate", tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
