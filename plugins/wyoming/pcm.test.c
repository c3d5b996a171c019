/* Client PCM -> mono float at the model rate (pcm.h): sample widths,
 * channel averaging, frames split across feeds, resampling, bad formats. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pcm.h"

struct sink {
	float *x;
	size_t n, cap;
};

static int collect(void *u, const float *x, size_t n)
{
	struct sink *s = u;
	assert_true(s->n + n <= s->cap);
	memcpy(s->x + s->n, x, n * sizeof *x);
	s->n += n;
	return 0;
}

static void put_le(uint8_t *p, uint32_t v, int width)
{
	for (int i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Feed buf in pieces of 1, 2, 3, ... bytes (frames split everywhere). */
static void feed_split(wy_pcm *c, const uint8_t *buf, size_t n, struct sink *s)
{
	size_t i = 0, k = 1;
	while (i < n) {
		size_t take = n - i < k ? n - i : k;
		assert_int_equal(wy_pcm_feed(c, buf + i, take, collect, s), 0);
		i += take;
		k = k % 13 + 1;
	}
}

static void test_widths_and_channels(void **state)
{
	(void)state;
	enum { N = 300 };
	char err[200];
	for (int width = 2; width <= 4; width++) {
		for (int float4 = 0; float4 <= (width == 4); float4++) {
			for (int ch = 1; ch <= 3; ch++) {
				wy_pcm *c = NULL;
				assert_int_equal(wy_pcm_create(&c, 16000, float4), 0);
				assert_int_equal(wy_pcm_start(c, 16000, width, ch, err, sizeof err), 0);
				assert_true(wy_pcm_same_format(c, 16000, width, ch));
				assert_false(wy_pcm_same_format(c, 16000, width, ch + 1));
				uint8_t *buf = calloc(N * (size_t)ch, (size_t)width);
				float want[N];
				for (int i = 0; i < N; i++) {
					double acc = 0;
					for (int j = 0; j < ch; j++) {
						/* a value exact in every width: k / 128 */
						int k = ((i * 7 + j * 31) % 255) - 127;
						double v = k / 128.0;
						uint8_t *p = buf + ((size_t)i * (size_t)ch + (size_t)j) * (size_t)width;
						if (width == 4 && float4) {
							float f = (float)v;
							uint32_t u;
							memcpy(&u, &f, 4);
							put_le(p, u, 4);
						} else {
							int64_t full = (int64_t)k * ((int64_t)1 << (8 * width - 8));   /* k/128 of full scale */
							put_le(p, (uint32_t)full, width);
						}
						acc += v;
					}
					want[i] = (float)(acc / ch);
				}
				float out[N];
				struct sink s = {out, 0, N};
				feed_split(c, buf, N * (size_t)ch * (size_t)width, &s);
				assert_int_equal(s.n, N);
				assert_int_equal(wy_pcm_frames_in(c), N);
				for (int i = 0; i < N; i++)
					assert_float_equal(out[i], want[i], 1e-6);
				/* a trailing partial frame is dropped at finish */
				assert_int_equal(wy_pcm_feed(c, buf, (size_t)width * (size_t)ch - 1, collect, &s), 0);
				assert_int_equal(wy_pcm_finish(c, collect, &s), 0);
				assert_int_equal(s.n, N);
				/* no stream now */
				assert_int_equal(wy_pcm_feed(c, buf, 4, collect, &s), -EINVAL);
				free(buf);
				wy_pcm_destroy(c);
			}
		}
	}
}

/* 48 kHz stereo s16 -> 16 kHz mono: a 440 Hz tone keeps its frequency,
 * level and timing (libsoxr compensates its delay; finish flushes the tail). */
static void test_resample(void **state)
{
	(void)state;
	enum { IN = 48000, SECS = 1, N = IN * SECS };
	char err[200];
	wy_pcm *c = NULL;
	assert_int_equal(wy_pcm_create(&c, 16000, 0), 0);
	for (int round = 0; round < 2; round++) {   /* the second reuses the resampler */
		assert_int_equal(wy_pcm_start(c, IN, 2, 2, err, sizeof err), 0);
		uint8_t *buf = malloc((size_t)N * 4);
		for (int i = 0; i < N; i++) {
			double v = 0.5 * sin(2 * M_PI * 440.0 * i / IN);
			int16_t l = (int16_t)lrint(v * 32767), r = (int16_t)lrint(v * 0.5 * 32767);
			put_le(buf + 4 * i, (uint16_t)l, 2);
			put_le(buf + 4 * i + 2, (uint16_t)r, 2);
		}
		struct sink s = {malloc(20000 * sizeof(float)), 0, 20000};
		/* chunks of 1024 frames like a Wyoming client, plus odd splits */
		for (size_t i = 0; i < (size_t)N * 4; i += 4096 + 3) {
			size_t take = (size_t)N * 4 - i < 4099 ? (size_t)N * 4 - i : 4099;
			assert_int_equal(wy_pcm_feed(c, buf + i, take, collect, &s), 0);
		}
		assert_int_equal(wy_pcm_finish(c, collect, &s), 0);
		assert_int_equal(s.n, 16000 * SECS);
		double err2 = 0, ref2 = 0;
		for (int i = 800; i < 15200; i++) {   /* away from the edges */
			double want = 0.75 * 0.5 * sin(2 * M_PI * 440.0 * i / 16000.0);
			err2 += (s.x[i] - want) * (s.x[i] - want);
			ref2 += want * want;
		}
		double snr = 10 * log10(ref2 / err2);
		print_message("  48k stereo -> 16k mono, 440 Hz: SNR %.1f dB\n", snr);
		assert_true(snr > 60);
		free(s.x);
		free(buf);
	}
	wy_pcm_destroy(c);
}

/* float32 samples no audio has: NaN and infinities are 0, finite huge ones
 * clipped to DRSN_AUDIO_MAX_SAMPLE, so that the channel sum and libsoxr's
 * filter stay finite (FLT_MAX in both channels made the downmix infinite,
 * and the resampler spread it as NaN). The output is all finite, and
 * samples away from the bad ones are as without them. */
static void test_float_specials(void **state)
{
	(void)state;
	enum { IN = 48000, N = IN / 2 };
	char err[200];
	const float bad[] = {3.4e38f, -3.4e38f, NAN, INFINITY, -INFINITY, 1e30f};
	float *ref = NULL;
	for (int with_bad = 0; with_bad < 2; with_bad++) {
		wy_pcm *c = NULL;
		assert_int_equal(wy_pcm_create(&c, 16000, 1), 0);
		assert_int_equal(wy_pcm_start(c, IN, 4, 2, err, sizeof err), 0);
		uint8_t *buf = malloc((size_t)N * 8);
		for (int i = 0; i < N; i++)
			for (int ch = 0; ch < 2; ch++) {
				float v = (float)(0.3 * sin(2 * M_PI * 440.0 * i / IN));
				if (with_bad && i >= 12000 && i < 12000 + 6)
					v = bad[i - 12000];
				uint32_t u;
				memcpy(&u, &v, sizeof u);
				put_le(buf + 8 * i + 4 * ch, u, 4);
			}
		struct sink s = {malloc(20000 * sizeof(float)), 0, 20000};
		assert_int_equal(wy_pcm_feed(c, buf, (size_t)N * 8, collect, &s), 0);
		assert_int_equal(wy_pcm_finish(c, collect, &s), 0);
		assert_int_equal(s.n, N / 3);
		for (size_t i = 0; i < s.n; i++)
			if (!isfinite(s.x[i]))
				fail_msg("output sample %zu is %g", i, (double)s.x[i]);
		if (!with_bad) {
			ref = s.x;
		} else {
			for (size_t i = 0; i < s.n; i++)   /* libsoxr's filter rings on for ~60 ms */
				if ((i < 3000 || i > 5000) && fabsf(s.x[i] - ref[i]) > 1e-6f)
					fail_msg("output sample %zu: %g, %g without the bad samples", i,
						 (double)s.x[i], (double)ref[i]);
			free(s.x);
		}
		free(buf);
		wy_pcm_destroy(c);
	}
	free(ref);
}

static void test_bad_formats(void **state)
{
	(void)state;
	char err[200];
	wy_pcm *c = NULL;
	assert_int_equal(wy_pcm_create(&c, 16000, 0), 0);
	const int bad[][3] = {{1000, 2, 1}, {400000, 2, 1}, {16000, 1, 1}, {16000, 5, 1},
			      {16000, 2, 0}, {16000, 2, 9}};
	const char *word[] = {"rate", "rate", "width", "width", "channels", "channels"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = 0;
		assert_int_equal(wy_pcm_start(c, bad[i][0], bad[i][1], bad[i][2], err, sizeof err), -EINVAL);
		print_message("  %s\n", err);
		assert_non_null(strstr(err, word[i]));
		assert_false(wy_pcm_same_format(c, bad[i][0], bad[i][1], bad[i][2]));
	}
	wy_pcm_destroy(c);
	assert_int_equal(wy_pcm_create(&c, 100, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_widths_and_channels),
		cmocka_unit_test(test_resample),
		cmocka_unit_test(test_float_specials),
		cmocka_unit_test(test_bad_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
