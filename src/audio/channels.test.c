/* Which channels make the mono output: a channel that has been digital
 * silence since the start is left out of the average (a USB microphone that
 * records on one of its two channels is not 6 dB down), and
 * drsn_audio_select_channels / drsn_audio_parse_channels choose channels
 * (drsn --channel, drsnd.conf [audio] channel). */
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

#define RATE 16000
#define N 8000    /* frames: two of audio.c's 4096-frame chunks */

static char dir[64];

/* Channel c of frame i: a tone of its own, or 0 where silent(c, i). */
static float sample(int c, long i)
{
	return (float)((0.1 + 0.1 * c) * sin(2 * M_PI * (300.0 + 100.0 * c) * (double)i / RATE));
}

/* A float WAV of ch channels; dead: bit c = channel c+1 is 0 before frame from[c]. */
static const char *write_file(const char *name, int ch, uint64_t dead, const long *from)
{
	static char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	SF_INFO si = {.samplerate = RATE, .channels = ch, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	SNDFILE *f = sf_open(p, SFM_WRITE, &si);
	assert_non_null(f);
	float *buf = malloc(sizeof(float) * N * (size_t)ch);
	assert_non_null(buf);
	for (long i = 0; i < N; i++)
		for (int c = 0; c < ch; c++)
			buf[i * ch + c] = (dead >> c & 1) && i < (from ? from[c] : N) ? 0.0f : sample(c, i);
	assert_int_equal(sf_writef_float(f, buf, N), N);
	sf_close(f);
	free(buf);
	return p;
}

static float *read_mono(const char *path, uint64_t select, size_t *n)
{
	drsn_audio_opts o;
	drsn_audio_opts_default(&o);
	o.target_rate = 0;   /* no resampling: the mix is compared bit for bit */
	drsn_audio *a;
	drsn_error e;
	if (drsn_audio_open(&a, path, &o, &e) < 0)
		fail_msg("%s", e.msg);
	if (select && drsn_audio_select_channels(a, select, &e) < 0)
		fail_msg("%s", e.msg);
	float *x = malloc(sizeof(float) * (N + 1));
	assert_non_null(x);
	long k;
	*n = 0;
	while ((k = drsn_audio_read(a, x + *n, N + 1 - *n, &e)) > 0)
		*n += (size_t)k;
	assert_int_equal(k, 0);
	assert_int_equal(*n, N);
	drsn_audio_close(a);
	return x;
}

/* The mean of the channels in use at frame i, as audio.c computes it. */
static float mean(const int *use, int k, long i)
{
	float s = 0;
	for (int j = 0; j < k; j++)
		s += sample(use[j], i);
	return s * (1.0f / (float)k);
}

static void test_dead_channel_is_left_out(void **state)
{
	(void)state;
	size_t n;
	/* stereo, right channel zero throughout: the left channel as it is */
	float *x = read_mono(write_file("dead_right.wav", 2, 2, NULL), 0, &n);
	for (size_t i = 0; i < n; i++)
		if (x[i] != sample(0, (long)i))
			fail_msg("frame %zu: %g, the live channel has %g (a dead channel halved it?)", i,
				 (double)x[i], (double)sample(0, (long)i));
	free(x);

	/* 6 channels, 2 and 5 dead: the mean of 1, 3, 4, 6 */
	x = read_mono(write_file("dead_2_5.wav", 6, 0x12, NULL), 0, &n);
	const int use[] = {0, 2, 3, 5};
	for (size_t i = 0; i < n; i++)
		assert_float_equal(x[i], mean(use, 4, (long)i), 1e-7);
	free(x);

	/* all channels silent: silence */
	x = read_mono(write_file("all_dead.wav", 2, 3, NULL), 0, &n);
	for (size_t i = 0; i < n; i++)
		assert_true(x[i] == 0.0f);
	free(x);
}

/* A channel counts from its first non-zero sample on, for good (a quiet
 * moment later does not change the level). */
static void test_channel_joins_at_first_signal(void **state)
{
	(void)state;
	const long from[] = {0, 5000};   /* right starts in the second chunk */
	size_t n;
	float *x = read_mono(write_file("late_right.wav", 2, 2, from), 0, &n);
	const int one[] = {0}, both[] = {0, 1};
	long first = 5001;   /* sample(1, 5000) may be 0: the first non-zero one */
	while (sample(1, first - 1) != 0.0f && first > 5000)
		first--;
	for (long i = 0; i < (long)n; i++) {
		float want = i < first ? mean(one, 1, i) : mean(both, 2, i);
		if (fabsf(x[i] - want) > 1e-7f)
			fail_msg("frame %ld: %g, want %g", i, (double)x[i], (double)want);
	}
	free(x);
}

static void test_select_channels(void **state)
{
	(void)state;
	const char *p = write_file("six.wav", 6, 0, NULL);
	size_t n;
	float *x = read_mono(p, (uint64_t)1 << 2, &n);   /* channel 3 as it is */
	for (size_t i = 0; i < n; i++)
		assert_true(x[i] == sample(2, (long)i));
	free(x);
	x = read_mono(p, 0x3, &n);   /* 1,2: their mean */
	const int use[] = {0, 1};
	for (size_t i = 0; i < n; i++)
		assert_float_equal(x[i], mean(use, 2, (long)i), 1e-7);
	free(x);

	/* beyond the count: both numbers named */
	drsn_audio *a;
	drsn_error e;
	assert_int_equal(drsn_audio_open(&a, p, NULL, &e), 0);
	assert_int_equal(drsn_audio_select_channels(a, (uint64_t)1 << 6 | 1, &e), -ERANGE);
	assert_non_null(strstr(e.msg, "six.wav: channel 7 asked for, but it has 6 channels"));
	/* after a read: too late */
	float buf[16];
	assert_true(drsn_audio_read(a, buf, 16, &e) > 0);
	assert_int_equal(drsn_audio_select_channels(a, 1, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "before the first read"));
	drsn_audio_close(a);

	/* a mono file: channel 1 is fine, 2 is not */
	p = write_file("mono.wav", 1, 0, NULL);
	assert_int_equal(drsn_audio_open(&a, p, NULL, &e), 0);
	assert_int_equal(drsn_audio_select_channels(a, 1, &e), 0);
	assert_int_equal(drsn_audio_select_channels(a, 2, &e), -ERANGE);
	assert_non_null(strstr(e.msg, "channel 2 asked for, but it has 1 channel"));
	drsn_audio_close(a);

	/* not with keep_channels */
	drsn_audio_opts o;
	drsn_audio_opts_default(&o);
	o.keep_channels = 1;
	assert_int_equal(drsn_audio_open(&a, p, &o, &e), 0);
	assert_int_equal(drsn_audio_select_channels(a, 1, &e), -EINVAL);
	drsn_audio_close(a);
}

static void test_parse_channels(void **state)
{
	(void)state;
	static const struct { const char *text; uint64_t mask; } good[] = {
		{"mix", 0}, {"1", 1}, {"2", 2}, {"1,2", 3}, {"1-4", 0xf}, {"1-4,6", 0x2f},
		{"64", (uint64_t)1 << 63}, {"1-64", UINT64_MAX}, {"3,3", 4},
	};
	static const char *const bad[] = {"", "0", "65", "-1", "a", "1,", ",1", "3-1", "1-",
					  "1 2", " 1", "Mix", "1-65", "2.5"};
	uint64_t m;
	drsn_error e;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (drsn_audio_parse_channels(good[i].text, &m, "--channel", &e) < 0)
			fail_msg("'%s': %s", good[i].text, e.msg);
		assert_true(m == good[i].mask);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (drsn_audio_parse_channels(bad[i], &m, "--channel", &e) != -EINVAL)
			fail_msg("'%s' was taken", bad[i]);
		char want[64];
		snprintf(want, sizeof want, "--channel '%s': ", bad[i]);
		assert_non_null(strstr(e.msg, want));
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/drsn-channels-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dead_channel_is_left_out),
		cmocka_unit_test(test_channel_joins_at_first_signal),
		cmocka_unit_test(test_select_channels),
		cmocka_unit_test(test_parse_channels),
	};
	return cmocka_run_group_tests_name("audio_channels", tests, setup, teardown);
}
