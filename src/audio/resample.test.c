/* The streaming resampler: exact output counts for any chunking, quality of
 * a resampled tone, rejection of a tone above the new Nyquist, pass-through,
 * flush/reuse, and argument errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <soxr.h>

#include "audio/resample.h"
#include "audio/tone_fit.h"

/* Run n_in samples of x through r in chunks of `chunk` (cycling through a few
 * sizes when chunk == 0), flush, and return everything in *out. */
static size_t run(drsn_resampler *r, const float *x, size_t n_in, size_t chunk, float **out)
{
	static const size_t cycle[] = {1, 7, 160, 480, 33};
	size_t cap = drsn_resampler_max_out(r), n = 0, pos = 0, k = 0, got;
	size_t total_cap = n_in * 6 + 4 * cap;
	float *y = malloc(sizeof(float) * total_cap);
	assert_non_null(y);
	while (pos < n_in) {
		size_t c = chunk ? chunk : cycle[k++ % 5];
		if (c > n_in - pos)
			c = n_in - pos;
		assert_int_equal(drsn_resampler_process(r, x + pos, c, y + n, cap, &got), 0);
		pos += c;
		n += got;
		assert_true(n + cap <= total_cap);
	}
	do {
		assert_int_equal(drsn_resampler_flush(r, y + n, cap, &got), 0);
		n += got;
		assert_true(n + cap <= total_cap);
	} while (got);
	*out = y;
	return n;
}

static float *make_tone(size_t n, double rate, double freq, double amp)
{
	float *x = malloc(sizeof(float) * n);
	assert_non_null(x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(amp * sin(2 * M_PI * freq * (double)i / rate));
	return x;
}

static void test_counts_any_chunking(void **state)
{
	(void)state;
	static const double pairs[][2] = {{44100, 16000}, {48000, 16000}, {8000, 16000},
					  {22050, 16000}, {96000, 16000}, {16000, 44100}};
	static const size_t lens[] = {1, 7, 100, 12345, 48000};
	static const size_t chunks[] = {0, 1, 480};
	float *x = make_tone(48000, 48000, 440, 0.5);
	for (size_t p = 0; p < 6; p++)
		for (size_t l = 0; l < 5; l++)
			for (size_t c = 0; c < 3; c++) {
				drsn_resampler *r;
				drsn_error e;
				float *y;
				assert_int_equal(drsn_resampler_create(&r, pairs[p][0], pairs[p][1], 480, &e), 0);
				size_t n = run(r, x, lens[l], chunks[c], &y);
				long long want = llround((double)lens[l] * pairs[p][1] / pairs[p][0]);
				if ((long long)n != want || drsn__resampler_total_out(r, (int64_t)lens[l]) != want)
					fail_msg("%g -> %g, %zu in (chunk %zu): %zu out, want %lld",
						 pairs[p][0], pairs[p][1], lens[l], chunks[c], n, want);
				free(y);
				drsn_resampler_destroy(r);
			}
	free(x);
}

static void test_chunking_does_not_change_output(void **state)
{
	(void)state;
	float *x = make_tone(44100, 44100, 1000, 0.5), *a, *b;
	drsn_resampler *r;
	assert_int_equal(drsn_resampler_create(&r, 44100, 16000, 4096, NULL), 0);
	size_t na = run(r, x, 44100, 4096, &a);
	size_t nb = run(r, x, 44100, 0, &b);   /* same object: flush made it new */
	assert_int_equal(na, nb);
	double worst = 0;
	for (size_t i = 0; i < na; i++)
		worst = fmax(worst, fabs((double)a[i] - b[i]));
	print_message("  max |chunked - whole| = %.3g\n", worst);
	assert_true(worst < 1e-6);
	free(a);
	free(b);
	free(x);
	drsn_resampler_destroy(r);
}

static void test_tone_quality_and_aliasing(void **state)
{
	(void)state;
	static const struct { double in, out, f, image; } c[] = {
		{44100, 16000, 1000, 10000}, {48000, 16000, 1000, 12000}, {8000, 16000, 1000, 3000},
	};
	for (size_t k = 0; k < 3; k++) {
		size_t n = (size_t)c[k].in;   /* one second */
		float *x = make_tone(n, c[k].in, c[k].f, 0.5), *y;
		drsn_resampler *r;
		assert_int_equal(drsn_resampler_create(&r, c[k].in, c[k].out, 1024, NULL), 0);
		size_t m = run(r, x, n, 1024, &y);
		size_t skip = m / 10;
		struct tone_fit f = tone_fit(y + skip, m - 2 * skip, c[k].out, c[k].f);
		print_message("  %g -> %g: %g Hz tone amp %.6f SNR %.1f dB\n", c[k].in, c[k].out,
			      c[k].f, f.amp, f.snr_db);
		assert_true(fabs(f.amp - 0.5) < 0.5 * 1e-3);
		assert_true(f.snr_db > 90);
		free(x);
		free(y);
		/* above the output Nyquist (downsampling) it must vanish; upsampling
		 * must not create the image at in_rate - f */
		x = make_tone(n, c[k].in, c[k].image, 0.5);
		m = run(r, x, n, 1024, &y);
		skip = m / 10;
		double left;
		if (c[k].in > c[k].out)
			left = tone_rms(y + skip, m - 2 * skip) * sqrt(2.0);
		else
			left = tone_fit(y + skip, m - 2 * skip, c[k].out, c[k].in - c[k].image).amp;
		double db = 20 * log10(left / 0.5 + 1e-20);
		print_message("  %g -> %g: %g Hz tone leaves %.1f dB\n", c[k].in, c[k].out, c[k].image, db);
		assert_true(db < -90);
		free(x);
		free(y);
		drsn_resampler_destroy(r);
	}
}

static void test_pass_through(void **state)
{
	(void)state;
	float x[100], y[200];
	size_t n;
	for (int i = 0; i < 100; i++)
		x[i] = (float)i * 0.01f;
	drsn_resampler *r;
	assert_int_equal(drsn_resampler_create(&r, 16000, 16000, 100, NULL), 0);
	assert_true(drsn_resampler_max_out(r) <= 200);
	assert_int_equal(drsn_resampler_process(r, x, 100, y, 200, &n), 0);
	assert_int_equal(n, 100);
	assert_memory_equal(x, y, sizeof x);
	assert_true(drsn_resampler_latency(r) == 0.0);
	assert_int_equal(drsn_resampler_flush(r, y, 200, &n), 0);
	assert_int_equal(n, 0);
	drsn_resampler_destroy(r);
}

static void test_latency_is_what_flush_returns(void **state)
{
	(void)state;
	float *x = make_tone(4800, 48000, 440, 0.5), *y = malloc(sizeof(float) * 4000);
	drsn_resampler *r;
	size_t n, got = 0;
	assert_non_null(y);
	assert_int_equal(drsn_resampler_create(&r, 48000, 16000, 4800, NULL), 0);
	assert_int_equal(drsn_resampler_process(r, x, 4800, y, drsn_resampler_max_out(r), &n), 0);
	double lat = drsn_resampler_latency(r);
	print_message("  48k -> 16k after 4800 in: %zu out, latency %.1f\n", n, lat);
	assert_true(lat > 0);
	float *tail = y + n;
	do {
		assert_int_equal(drsn_resampler_flush(r, tail + got, drsn_resampler_max_out(r), &n), 0);
		got += n;
	} while (n > 0);
	assert_true(fabs((double)got - lat) <= 1.0);
	free(x);
	free(y);
	drsn_resampler_destroy(r);
}

/* reset drops the tail: the next stream's output is what a new object gives */
static void test_reset_starts_a_new_stream(void **state)
{
	(void)state;
	float *x = make_tone(4800, 48000, 440, 0.5), *y, *z;
	float junk[2000];
	size_t n;
	drsn_resampler *r;
	assert_int_equal(drsn_resampler_create(&r, 48000, 16000, 1000, NULL), 0);
	assert_int_equal(drsn_resampler_process(r, x + 100, 1000, junk, 2000, &n), 0);
	assert_true(drsn_resampler_latency(r) > 0);
	assert_int_equal(drsn_resampler_reset(r), 0);
	size_t m = run(r, x, 4800, 1000, &y);
	drsn_resampler_destroy(r);
	assert_int_equal(drsn_resampler_create(&r, 48000, 16000, 1000, NULL), 0);
	assert_int_equal(run(r, x, 4800, 1000, &z), m);
	assert_int_equal(m, 1600);
	assert_memory_equal(y, z, m * sizeof(float));
	assert_int_equal(drsn_resampler_reset(NULL), -EINVAL);
	drsn_resampler_destroy(r);
	free(x);
	free(y);
	free(z);
}

/* process feeds libsoxr in pieces (so that large calls do not grow its
 * buffers: alloc.test.c); the output is bit for bit what one soxr_process
 * call per chunk gave before, samples and counts, call by call. */
static void test_pieces_change_no_output(void **state)
{
	(void)state;
	static const double pairs[][2] = {{48000, 16000}, {44100, 16000}, {8000, 16000}, {16000, 44100}};
	static const size_t chunks[] = {16001, 4000, 1, 999, 7000, 481};
	for (size_t p = 0; p < 4; p++) {
		size_t n = (size_t)pairs[p][0] * 2;
		float *x = make_tone(n, pairs[p][0], 440, 0.5);
		for (size_t i = 0; i < n; i++)   /* and something broadband */
			x[i] += 0.1f * (float)sin(0.37 * (double)i * (double)i);
		drsn_resampler *r;
		assert_int_equal(drsn_resampler_create(&r, pairs[p][0], pairs[p][1], 16001, NULL), 0);
		size_t cap = drsn_resampler_max_out(r), got, want, idone, k = 0;
		soxr_error_t e = NULL;
		soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
		soxr_quality_spec_t q = soxr_quality_spec(DRSN__SOXR_RECIPE, 0);
		soxr_runtime_spec_t rt = soxr_runtime_spec(1);
		soxr_t s = soxr_create(pairs[p][0], pairs[p][1], 1, &e, &io, &q, &rt);
		assert_null(e);
		float *a = malloc(cap * sizeof(float)), *b = malloc(cap * sizeof(float));
		assert_non_null(a);
		assert_non_null(b);
		for (size_t pos = 0; pos < n; pos += chunks[k++ % 6]) {
			size_t c = n - pos < chunks[k % 6] ? n - pos : chunks[k % 6];
			assert_int_equal(drsn_resampler_process(r, x + pos, c, a, cap, &got), 0);
			assert_null(soxr_process(s, x + pos, c, &idone, b, cap, &want));
			assert_int_equal(idone, c);
			assert_int_equal(got, want);
			assert_memory_equal(a, b, got * sizeof(float));
		}
		soxr_delete(s);
		drsn_resampler_destroy(r);
		free(a);
		free(b);
		free(x);
	}
}

/* NaN, infinities and huge values are made what drsn_audio_read makes them
 * (0, or clipped at +-DRSN_AUDIO_MAX_SAMPLE) before the filter: they used to
 * spread over ~490 output samples. The output is bit for bit what the
 * sanitised input gives. */
static void test_bad_samples_are_sanitised(void **state)
{
	(void)state;
	static const float bad[] = {NAN, INFINITY, -INFINITY, 1e30f, -70000.0f};
	static const float clean[] = {0, 0, 0, DRSN_AUDIO_MAX_SAMPLE, -DRSN_AUDIO_MAX_SAMPLE};
	static const double rates[][2] = {{48000, 16000}, {16000, 16000}, {8000, 16000}};
	float *x = make_tone(4800, 48000, 440, 0.5), *y = make_tone(4800, 48000, 440, 0.5);
	for (size_t p = 0; p < 3; p++)
		for (size_t k = 0; k < 5; k++) {
			drsn_resampler *r;
			float *a, *b;
			x[1000] = bad[k];
			x[1001] = bad[k];
			y[1000] = clean[k];
			y[1001] = clean[k];
			assert_int_equal(drsn_resampler_create(&r, rates[p][0], rates[p][1], 480, NULL), 0);
			size_t na = run(r, x, 4800, 480, &a);
			size_t nb = run(r, y, 4800, 480, &b);
			assert_int_equal(na, nb);
			for (size_t i = 0; i < na; i++)
				if (!isfinite(a[i]) || fabsf(a[i]) > 2 * DRSN_AUDIO_MAX_SAMPLE)
					fail_msg("%g -> %g, %g in: output %zu is %g", rates[p][0], rates[p][1],
						 (double)bad[k], i, (double)a[i]);
			assert_memory_equal(a, b, na * sizeof(float));
			free(a);
			free(b);
			drsn_resampler_destroy(r);
		}
	free(x);
	free(y);
}

static void test_errors(void **state)
{
	(void)state;
	drsn_resampler *r = (drsn_resampler *)0x1;
	drsn_error e;
	float x[10] = {0}, y[64];
	size_t n;
	assert_int_equal(drsn_resampler_create(&r, 0, 16000, 10, &e), -ERANGE);
	assert_null(r);
	assert_non_null(strstr(e.msg, "0 -> 16000 Hz"));
	assert_int_equal(drsn_resampler_create(&r, 48000, 1e7, 10, &e), -ERANGE);
	assert_int_equal(drsn_resampler_create(&r, NAN, 16000, 10, &e), -ERANGE);
	assert_int_equal(drsn_resampler_create(&r, 48000, 16000, 0, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "max_in_chunk"));
	assert_int_equal(drsn__resampler_create(&r, 48000, 16000, 0 + 65, 10, &e), -ERANGE);
	assert_int_equal(drsn_resampler_create(&r, 48000, 16000, 10, &e), 0);
	assert_int_equal(drsn_resampler_process(r, x, 11, y, 64, &n), -EINVAL);
	assert_int_equal(drsn_resampler_process(r, x, 10, y, drsn_resampler_max_out(r) - 1, &n), -ENOSPC);
	assert_int_equal(drsn_resampler_process(r, NULL, 10, y, 64, &n), -EINVAL);
	assert_int_equal(drsn_resampler_process(r, x, 0, y, 64, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(drsn_resampler_flush(r, y, 1, &n), -ENOSPC);
	drsn_resampler_destroy(r);
	drsn_resampler_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_any_chunking),
		cmocka_unit_test(test_chunking_does_not_change_output),
		cmocka_unit_test(test_tone_quality_and_aliasing),
		cmocka_unit_test(test_pass_through),
		cmocka_unit_test(test_latency_is_what_flush_returns),
		cmocka_unit_test(test_reset_starts_a_new_stream),
		cmocka_unit_test(test_pieces_change_no_output),
		cmocka_unit_test(test_bad_samples_are_sanitised),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests_name("resample", tests, NULL, NULL);
}
