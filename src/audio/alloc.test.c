/* Once a stream runs, reading allocates nothing: malloc & co. are interposed
 * here and counted. libsoxr sets up its filter and grows its FIFOs inside its
 * first few process calls (measured: up to ~10 calls) and again at flush, so
 * counting starts after a warm-up and stops before the end of the file.
 * Skipped under AddressSanitizer, which owns malloc. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sndfile.h>

#include "drsn/audio.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_COUNTER 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_COUNTER 0
#endif
#endif
#ifndef HAVE_COUNTER
#define HAVE_COUNTER 1
#endif

static volatile int counting;
static volatile long n_alloc;

#if HAVE_COUNTER
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define EXPORT __attribute__((visibility("default")))
EXPORT void *malloc(size_t n);
EXPORT void *calloc(size_t a, size_t b);
EXPORT void *realloc(void *p, size_t n);
EXPORT int posix_memalign(void **p, size_t al, size_t n);
EXPORT void *aligned_alloc(size_t al, size_t n);

void *malloc(size_t n)
{
	if (counting)
		n_alloc++;
	return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
	if (counting)
		n_alloc++;
	return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
	if (counting)
		n_alloc++;
	return __libc_realloc(p, n);
}
int posix_memalign(void **p, size_t al, size_t n)
{
	if (counting)
		n_alloc++;
	*p = __libc_memalign(al, n);
	return *p ? 0 : 12;
}
void *aligned_alloc(size_t al, size_t n)
{
	if (counting)
		n_alloc++;
	return __libc_memalign(al, n);
}
#endif

static char dir[] = "/tmp/drsn-audio-alloc-XXXXXX";

#if HAVE_COUNTER
static void write_file(const char *path, int format, int rate, int ch)
{
	SF_INFO si = {.samplerate = rate, .channels = ch, .format = format};
	SNDFILE *f = sf_open(path, SFM_WRITE, &si);
	assert_non_null(f);
	float buf[2 * 1000];
	for (int k = 0; k < 5 * rate / 1000; k++) {   /* 5 s */
		for (int i = 0; i < 1000; i++)
			for (int c = 0; c < ch; c++)
				buf[i * ch + c] = (float)(0.3 * sin(0.05 * (k * 1000 + i) + c));
		assert_int_equal(sf_writef_float(f, buf, 1000), 1000);
	}
	sf_close(f);
}

static size_t want(size_t chunk, long total, long limit)
{
	return (size_t)(limit - total) < chunk ? (size_t)(limit - total) : chunk;
}

/* Allocations while reading output seconds 1.5 .. 4 of a 5 s file. */
static long allocs_while_reading(const char *path, size_t chunk)
{
	drsn_audio *a = NULL;
	drsn_error e;
	static float buf[8192];
	long r, total = 0;
	if (drsn_audio_open(&a, path, NULL, &e) < 0)
		fail_msg("%s", e.msg);
	while (total < 24000 && (r = drsn_audio_read(a, buf, want(chunk, total, 24000), &e)) > 0)
		total += r;
	n_alloc = 0;
	counting = 1;
	while (total < 64000 && (r = drsn_audio_read(a, buf, want(chunk, total, 64000), &e)) > 0)
		total += r;
	counting = 0;
	assert_int_equal(total, 64000);
	drsn_audio_close(a);
	return n_alloc;
}
#endif

static void test_no_alloc_while_reading(void **state)
{
	(void)state;
#if !HAVE_COUNTER
	skip();
#else
	static const struct { const char *name; int format; int rate; } files[] = {
		{"a.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100},
		{"b.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000},
		{"c.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000},
		{"d.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050},
	};
	char p[128];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i].name);
		write_file(p, files[i].format, files[i].rate, 2);
		long n160 = allocs_while_reading(p, 160), n4096 = allocs_while_reading(p, 4096);
		print_message("  %s: %ld / %ld allocations while reading in 160 / 4096 frames\n",
			      files[i].name, n160, n4096);
		assert_int_equal(n160, 0);
		assert_int_equal(n4096, 0);
		unlink(p);
	}
#endif
}

static void test_no_alloc_resampler(void **state)
{
	(void)state;
#if !HAVE_COUNTER
	skip();
#else
	drsn_resampler *r;
	static float in[480], out[4096];
	size_t n;
	assert_int_equal(drsn_resampler_create(&r, 48000, 16000, 480, NULL), 0);
	for (int i = 0; i < 480; i++)
		in[i] = (float)sin(0.1 * i);
	for (int k = 0; k < 20; k++)   /* warm-up: soxr's lazy setup */
		assert_int_equal(drsn_resampler_process(r, in, 480, out, 4096, &n), 0);
	n_alloc = 0;
	counting = 1;
	for (int k = 0; k < 1000; k++)
		assert_int_equal(drsn_resampler_process(r, in, (size_t)(k % 480) + 1, out, 4096, &n), 0);
	counting = 0;
	print_message("  48k -> 16k: %ld allocations in 1000 process calls\n", n_alloc);
	assert_int_equal(n_alloc, 0);
	drsn_resampler_destroy(r);
#endif
}

/* A call larger than every earlier one used to grow libsoxr's FIFOs: at
 * 48 kHz, after 50 calls of 480, process(4000) made 1 realloc and
 * process(16001) 3. libsoxr still sets itself up in a stream's first
 * seconds (uncounted here: 2 s, see audio.h); after that no call allocates,
 * whatever its size up to max_in_chunk. */
static void test_no_alloc_resampler_any_size(void **state)
{
	(void)state;
#if !HAVE_COUNTER
	skip();
#else
	static const double rates[][2] = {{48000, 16000}, {44100, 16000}, {22050, 16000},
					  {8000, 16000}, {16000, 44100}};
	static float in[16001], out[48000];
	for (int i = 0; i < 16001; i++)
		in[i] = (float)(0.5 * sin(0.1 * i) + 0.1 * sin(0.37 * i * i));
	srand(7);
	for (size_t p = 0; p < sizeof rates / sizeof rates[0]; p++) {
		drsn_resampler *r;
		size_t n;
		long big = 0, any = 0;
		assert_int_equal(drsn_resampler_create(&r, rates[p][0], rates[p][1], 16001, NULL), 0);
		assert_true(drsn_resampler_max_out(r) <= 48000);
		for (int k = 0; k < 2 * (int)rates[p][0] / 480; k++)   /* the first 2 s */
			assert_int_equal(drsn_resampler_process(r, in, 480, out, 48000, &n), 0);
		n_alloc = 0;
		counting = 1;
		assert_int_equal(drsn_resampler_process(r, in, 4000, out, 48000, &n), 0);
		assert_int_equal(drsn_resampler_process(r, in, 16001, out, 48000, &n), 0);
		big = n_alloc;
		for (double t = 0; t < 10 * rates[p][0];) {   /* 10 s in any sizes */
			size_t c = (size_t)rand() % 16001 + 1;
			assert_int_equal(drsn_resampler_process(r, in, c, out, 48000, &n), 0);
			t += (double)c;
		}
		counting = 0;
		any = n_alloc - big;
		print_message("  %g -> %g: %ld allocations in process(4000), process(16001); "
			      "%ld in 10 s of any sizes\n", rates[p][0], rates[p][1], big, any);
		assert_int_equal(big, 0);
		assert_int_equal(any, 0);
		drsn_resampler_destroy(r);
	}
#endif
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_alloc_while_reading),
		cmocka_unit_test(test_no_alloc_resampler),
		cmocka_unit_test(test_no_alloc_resampler_any_size),
	};
	int rc = cmocka_run_group_tests_name("audio_alloc", tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
