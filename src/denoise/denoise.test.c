#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc_count.h"
#include "denoise/denoise_internal.h"
#include "drsn/denoise.h"

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static uint32_t rng_u32(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}
static float rng_uniform(void) { return ((float)(rng_u32() & 0xFFFFFF) + 0.5f) / 16777216.0f; }
static float rng_gauss(void)
{
	float u = rng_uniform(), v = rng_uniform();
	return sqrtf(-2.0f * logf(u)) * cosf(2.0f * (float)M_PI * v);
}

static drsn_denoise *make(int rate, float strength)
{
	drsn_denoise_opts o;
	drsn_denoise_opts_default(&o);
	o.strength_db = strength;
	drsn_denoise *d = NULL;
	drsn_error e;
	int rc = drsn_denoise_create(&d, rate, &o, &e);
	if (rc < 0)
		fail_msg("create: %s", e.msg);
	return d;
}

/* Whole stream through d: out gets n + latency samples. */
static void run_whole(drsn_denoise *d, const float *in, size_t n, float *out)
{
	drsn_denoise_process(d, in, n, out);
	drsn_denoise_flush(d, out + n);
}

/* Tone bursts (0.3 s on, 0.5 s off) of 1 kHz at amplitude a, in white
 * noise of standard deviation sigma. clean gets the tone alone. */
static void tone_bursts(float *x, float *clean, size_t n, int rate, float a, float sigma)
{
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / rate;
		double ph = fmod(t, 0.8);
		float s = ph < 0.3 ? a * (float)sin(2 * M_PI * 1000.0 * t) : 0.0f;
		clean[i] = s;
		x[i] = s + sigma * rng_gauss();
	}
}

/* The analysis-synthesis itself: at strength 1e-4 dB every gain is within
 * 1.2e-5 of 1, so what comes out is the input, delayed, to that much.
 * (Strength 0 bypasses the synthesis: test_strength_0_is_exact.) */
static void check_perfect_reconstruction(int rate)
{
	drsn_denoise *d = make(rate, 1e-4f);
	int lat = drsn_denoise_latency(d);
	size_t n = (size_t)rate * 2 + 123;
	float *x = malloc(n * sizeof *x), *y = malloc((n + (size_t)lat) * sizeof *y);
	rng_seed(1);
	for (size_t i = 0; i < n; i++)
		x[i] = 0.5f * rng_gauss() + 0.3f * sinf(0.01f * (float)i);
	run_whole(d, x, n, y);
	for (int i = 0; i < lat; i++)   /* the zeros before the stream */
		assert_true(fabsf(y[i]) < 1e-6f);
	double maxerr = 0;
	for (size_t i = 0; i < n; i++)
		maxerr = fmax(maxerr, fabs((double)y[i + (size_t)lat] - x[i]));
	print_message("perfect reconstruction at %d Hz: latency %d, max |error| %.3g\n", rate, lat, maxerr);
	assert_true(maxerr < 1e-4);
	free(x);
	free(y);
	drsn_denoise_destroy(d);
}

/* Strength 0 passes the input through unchanged, bit for bit, delayed by
 * the latency (the 16-bit output of `drsn denoise --strength 0` equals its
 * input), in any chunking. */
static void test_strength_0_is_exact(void **state)
{
	(void)state;
	drsn_denoise *d = make(16000, 0.0f);
	int lat = drsn_denoise_latency(d);
	size_t n = 16000 * 2 + 77;
	float *x = malloc(n * sizeof *x), *y = malloc((n + (size_t)lat) * sizeof *y);
	rng_seed(3);
	for (size_t i = 0; i < n; i++)
		x[i] = 0.4f * rng_gauss();
	for (size_t i = 0; i < n;) {   /* chunks of 1..700 samples */
		size_t k = 1 + (size_t)(700 * fabs(rng_gauss())) % 700;
		k = k < n - i ? k : n - i;
		drsn_denoise_process(d, x + i, k, y + i);
		i += k;
	}
	drsn_denoise_flush(d, y + n);
	for (int i = 0; i < lat; i++)
		assert_true(y[i] == 0.0f);
	for (size_t i = 0; i < n; i++)
		if (y[i + (size_t)lat] != x[i])
			fail_msg("sample %zu: %.9g in, %.9g out", i, (double)x[i], (double)y[i + (size_t)lat]);
	free(x);
	free(y);
	drsn_denoise_destroy(d);
}

static void test_perfect_reconstruction_16k(void **state) { (void)state; check_perfect_reconstruction(16000); }
static void test_perfect_reconstruction_48k(void **state) { (void)state; check_perfect_reconstruction(48000); }

static void test_latency_is_one_frame(void **state)
{
	(void)state;
	drsn_denoise *d = make(16000, 20.0f);
	assert_int_equal(drsn_denoise_latency(d), 512);
	assert_int_equal(drsn_denoise_hop(d), 256);
	drsn_denoise_destroy(d);
	d = make(48000, 20.0f);
	assert_int_equal(drsn_denoise_latency(d), 1536);
	assert_int_equal(drsn_denoise_hop(d), 768);
	drsn_denoise_destroy(d);
}

static void test_chunking_invariance(void **state)
{
	(void)state;
	const int rate = 16000;
	size_t n = (size_t)rate * 3 + 77;
	float *x = malloc(n * sizeof *x), *clean = malloc(n * sizeof *clean);
	rng_seed(2);
	tone_bursts(x, clean, n, rate, 0.2f, 0.05f);
	drsn_denoise *ref = make(rate, 20.0f);
	int lat = drsn_denoise_latency(ref);
	size_t total = n + (size_t)lat;
	float *want = malloc(total * sizeof *want), *got = malloc(total * sizeof *got);
	run_whole(ref, x, n, want);

	const size_t sizes[] = {1, 7, 160, 16000, 0 /* random */};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		drsn_denoise *d = make(rate, 20.0f);
		memset(got, 0xff, total * sizeof *got);
		rng_seed(100 + s);
		size_t i = 0;
		while (i < n) {
			size_t m = sizes[s] ? sizes[s] : 1 + rng_u32() % 3000;
			if (m > n - i)
				m = n - i;
			drsn_denoise_process(d, x + i, m, got + i);
			i += m;
		}
		drsn_denoise_flush(d, got + n);
		assert_memory_equal(want, got, total * sizeof *got);
		drsn_denoise_destroy(d);
	}

	/* In place (in == out) gives the same too. */
	drsn_denoise *d = make(rate, 20.0f);
	memcpy(got, x, n * sizeof *got);
	drsn_denoise_process(d, got, n, got);
	drsn_denoise_flush(d, got + n);
	assert_memory_equal(want, got, total * sizeof *got);

	/* reset() gives a fresh denoiser. */
	drsn_denoise_reset(d);
	run_whole(d, x, n, got);
	assert_memory_equal(want, got, total * sizeof *got);
	drsn_denoise_destroy(d);
	drsn_denoise_destroy(ref);
	free(x);
	free(clean);
	free(want);
	free(got);
}

static void test_no_allocation_after_create(void **state)
{
	(void)state;
	drsn_denoise *d = make(48000, 20.0f);
	size_t n = 48000;
	float *x = calloc(n + 2000, sizeof *x);
	rng_seed(3);
	for (size_t i = 0; i < n; i++)
		x[i] = 0.1f * rng_gauss();
	drsn__alloc_count_start();
	drsn_denoise_process(d, x, n, x);
	drsn_denoise_flush(d, x + n);
	drsn_denoise_reset(d);
	drsn_denoise_process(d, x, 999, x);
	assert_int_equal(drsn__alloc_count_stop(), 0);
	assert_int_equal(drsn__frees, 0);
	/* The wrapper is live: the counter does see allocations. */
	drsn__alloc_count_start();
	void *volatile probe = malloc(16);
	free(probe);
	assert_int_equal(drsn__alloc_count_stop(), 1);
	free(x);
	drsn_denoise_destroy(d);
}

static void test_silence_in_silence_out(void **state)
{
	(void)state;
	drsn_denoise *d = make(16000, 30.0f);
	size_t n = 16000 * 5;
	float *x = calloc(n, sizeof *x), *y = malloc((n + 512) * sizeof *y);
	run_whole(d, x, n, y);
	for (size_t i = 0; i < n + 512; i++)
		assert_true(y[i] == 0.0f);
	free(x);
	free(y);
	drsn_denoise_destroy(d);
}

/* SNR of out (aligned by lat) against clean over [from, n). */
static double snr_db(const float *clean, const float *out, size_t from, size_t n)
{
	double s = 0, e = 0;
	for (size_t i = from; i < n; i++) {
		s += (double)clean[i] * clean[i];
		e += ((double)out[i] - clean[i]) * ((double)out[i] - clean[i]);
	}
	return 10 * log10(s / e);
}

struct vad_log { float *speech; uint64_t n, cap; };
static void on_frame(void *user, uint64_t frame, float speech)
{
	struct vad_log *l = user;
	assert_true(frame == l->n);
	assert_true(speech >= 0.0f && speech <= 1.0f);
	if (l->n < l->cap)
		l->speech[l->n] = speech;
	l->n++;
}

static void check_tone_in_noise(int rate)
{
	size_t n = (size_t)rate * 8;
	float *x = malloc(n * sizeof *x), *clean = malloc(n * sizeof *clean);
	rng_seed(4);
	tone_bursts(x, clean, n, rate, 0.1f, 0.07f);  /* about 0 dB overall */
	struct vad_log log = {calloc(n, sizeof(float)), 0, n};
	drsn_denoise_opts o;
	drsn_denoise_opts_default(&o);
	o.on_frame = on_frame;
	o.user = &log;
	drsn_denoise *d = NULL;
	assert_int_equal(drsn_denoise_create(&d, rate, &o, NULL), 0);
	int lat = drsn_denoise_latency(d), hop = drsn_denoise_hop(d);
	float *y = malloc((n + (size_t)lat) * sizeof *y);
	run_whole(d, x, n, y);
	assert_int_equal(log.n, (n + (size_t)lat) / (size_t)hop);
	/* Skip the first 2 s while the noise estimate settles. */
	size_t from = (size_t)rate * 2;
	double before = snr_db(clean, x, from, n);
	double after = snr_db(clean, y + lat, from, n);
	print_message("tone bursts in white noise at %d Hz: SNR %.2f dB -> %.2f dB\n", rate, before, after);
	assert_true(after > before + 6.0);

	/* The speech value is high inside bursts and low between them. Frame f
	 * covers input [(f + 1) * hop - n, (f + 1) * hop). */
	double on = 0, off = 0;
	int n_on = 0, n_off = 0;
	for (uint64_t f = 0; f < log.n; f++) {
		double mid = ((double)(f + 1) * hop - lat / 2.0) / rate;
		if (mid < 2.0 || mid > 7.9)
			continue;
		double ph = fmod(mid, 0.8);
		if (ph > 0.05 && ph < 0.25) { on += log.speech[f]; n_on++; }
		else if (ph > 0.4 && ph < 0.7) { off += log.speech[f]; n_off++; }
	}
	on /= n_on;
	off /= n_off;
	print_message("speech value: %.3f in bursts, %.3f between\n", on, off);
	assert_true(on > off + 0.1);
	assert_true(drsn_denoise_frames(d) == log.n);
	free(x);
	free(clean);
	free(y);
	free(log.speech);
	drsn_denoise_destroy(d);
}

static void test_tone_in_noise_16k(void **state) { (void)state; check_tone_in_noise(16000); }
static void test_tone_in_noise_48k(void **state) { (void)state; check_tone_in_noise(48000); }

static void expect_finite(int rate, const float *x, size_t n, float bound)
{
	drsn_denoise *d = make(rate, 40.0f);
	size_t total = n + (size_t)drsn_denoise_latency(d);
	float *y = malloc(total * sizeof *y);
	run_whole(d, x, n, y);
	for (size_t i = 0; i < total; i++) {
		if (!isfinite(y[i]) || fabsf(y[i]) > bound)
			fail_msg("output[%zu] = %g", i, (double)y[i]);
	}
	/* Still sane afterwards: ordinary noise in gives finite, small output. */
	float z[4096], w[4096];
	for (int i = 0; i < 4096; i++)
		z[i] = 0.01f * rng_gauss();
	drsn_denoise_reset(d);
	for (int r = 0; r < 20; r++) {
		drsn_denoise_process(d, z, 4096, w);
		for (int i = 0; i < 4096; i++)
			assert_true(isfinite(w[i]) && fabsf(w[i]) < 1.0f);
	}
	free(y);
	drsn_denoise_destroy(d);
}

static void test_extreme_input(void **state)
{
	(void)state;
	const int rate = 16000;
	size_t n = (size_t)rate * 4;
	float *x = malloc(n * sizeof *x);
	rng_seed(5);

	for (size_t i = 0; i < n; i++)   /* full-scale 100 Hz square wave */
		x[i] = (i / 80) % 2 ? 1.0f : -1.0f;
	expect_finite(rate, x, n, 2.0f);

	for (size_t i = 0; i < n; i++)   /* denormals */
		x[i] = (rng_u32() & 1 ? 1.0f : -1.0f) * 1e-40f * rng_uniform();
	expect_finite(rate, x, n, 1e-30f);

	size_t long_n = (size_t)rate * 60;  /* a minute of digital silence, then noise, then silence */
	float *s = calloc(long_n, sizeof *s);
	for (size_t i = long_n / 2; i < long_n / 2 + (size_t)rate; i++)
		s[i] = 0.3f * rng_gauss();
	expect_finite(rate, s, long_n, 3.0f);
	free(s);

	for (size_t i = 0; i < n; i++) { /* huge, infinite and NaN samples */
		switch (rng_u32() % 6) {
		case 0: x[i] = FLT_MAX; break;
		case 1: x[i] = -1e30f; break;
		case 2: x[i] = INFINITY; break;
		case 3: x[i] = NAN; break;
		case 4: x[i] = -INFINITY; break;
		default: x[i] = 1e6f * rng_gauss(); break;
		}
	}
	expect_finite(rate, x, n, 4 * 65536.0f);

	for (size_t i = 0; i < n; i++)   /* white noise at full scale, clipped */
		x[i] = fminf(fmaxf(rng_gauss(), -1.0f), 1.0f);
	expect_finite(48000, x, n, 3.0f);
	free(x);
}

/* Tone bursts in white noise with one glitch of ms milliseconds at 2.05 s
 * (in a pause): random signs at +-amp, or NaN (read as 0). Returns the
 * lowest SNR, dB, of the output against the output without the glitch over
 * the 100 ms segments from `after` seconds past the glitch's end to the end. */
static double glitch_recovery_db(int rate, float amp, double ms, double after)
{
	size_t n = (size_t)rate * 6;
	float *x = malloc(n * sizeof *x), *clean = malloc(n * sizeof *clean);
	rng_seed(11);
	tone_bursts(x, clean, n, rate, 0.1f, 0.005f);
	drsn_denoise *d = make(rate, 20.0f);
	size_t lat = (size_t)drsn_denoise_latency(d);
	float *want = malloc((n + lat) * sizeof *want), *got = malloc((n + lat) * sizeof *got);
	run_whole(d, x, n, want);
	size_t b0 = (size_t)(2.05 * rate), b1 = b0 + (size_t)(ms * 1e-3 * rate);
	for (size_t i = b0; i < b1; i++)
		x[i] = isnan(amp) ? amp : (rng_u32() & 1 ? amp : -amp);
	drsn_denoise_reset(d);
	run_whole(d, x, n, got);
	for (size_t i = 0; i < n + lat; i++)
		assert_true(isfinite(got[i]));
	size_t seg = (size_t)rate / 10;
	double worst = 1e9;
	for (size_t s0 = b1 + (size_t)(after * rate); s0 + seg <= n; s0 += seg) {
		double e = 0, w = 0;
		for (size_t i = s0 + lat; i < s0 + lat + seg; i++) {
			double dv = (double)got[i] - want[i];
			e += dv * dv;
			w += (double)want[i] * want[i];
		}
		worst = fmin(worst, e > 0 ? 10 * log10(w / e) : 300.0);
	}
	free(x);
	free(clean);
	free(want);
	free(got);
	drsn_denoise_destroy(d);
	return worst;
}

/* A glitch costs the frames it touches and a short recovery: from 0.5 s
 * after a 10 ms burst at +-65536 (a bad int-to-float conversion) or at full
 * scale (a USB pop), every 100 ms of output is within 17 dB SNR of the
 * output without it (measured: 21-35 dB). Before the glitch guard the noise
 * estimate kept the burst for seconds (6-13 dB in the pauses for 2-3 s;
 * docs/denoise.md, "Bursts"). A run of NaN is read as zeros, a dropout,
 * which the estimator never kept. */
static void test_glitch_is_forgotten(void **state)
{
	(void)state;
	const int rates[] = {16000, 48000};
	for (int r = 0; r < 2; r++) {
		double big = glitch_recovery_db(rates[r], 65536.0f, 10.0, 0.5);
		double full = glitch_recovery_db(rates[r], 1.0f, 10.0, 0.5);
		double nan = glitch_recovery_db(rates[r], NAN, 10.0, 0.5);
		print_message("%d Hz, lowest 100 ms SNR vs the glitch-free output from 0.5 s after a 10 ms "
			      "glitch: +-65536 %.1f dB, +-1 %.1f dB, NaN %.1f dB\n", rates[r], big, full, nan);
		assert_true(big >= 17.0);
		assert_true(full >= 17.0);
		assert_true(nan >= 17.0);
	}
}

/* A full-scale burst of 30 to 100 ms (a USB pop, a dropout filled with
 * garbage) is forgotten as the 10 ms one is: from 0.5 s after it every
 * 100 ms is within 17 dB SNR of the output without it. The guard used to
 * forget only events of up to 3 frames (10-20 ms bursts); these were kept
 * for 2-3 s (docs/denoise.md, "Bursts"). */
static void test_long_glitch_is_forgotten(void **state)
{
	(void)state;
	const int rates[] = {16000, 48000};
	const double lens[] = {30.0, 50.0, 100.0};
	for (int r = 0; r < 2; r++) {
		for (int l = 0; l < 3; l++) {
			double big = glitch_recovery_db(rates[r], 65536.0f, lens[l], 0.5);
			double full = glitch_recovery_db(rates[r], 1.0f, lens[l], 0.5);
			print_message("%d Hz, lowest 100 ms SNR vs the glitch-free output from 0.5 s after a %g ms "
				      "glitch: +-65536 %.1f dB, +-1 %.1f dB\n", rates[r], lens[l], big, full);
			assert_true(big >= 17.0);
			assert_true(full >= 17.0);
		}
	}
}

/* x through the denoiser with the guard on and off: bit-identical output,
 * no event forgotten. event_at > 0: an event is running after that many
 * samples. */
static void expect_guard_changes_nothing(int rate, const float *x, size_t n, size_t event_at)
{
	drsn_denoise *on = make(rate, 20.0f), *off = make(rate, 20.0f);
	off->glitch_ratio = INFINITY;   /* never starts an event */
	size_t lat = (size_t)drsn_denoise_latency(on);
	float *a = malloc((n + lat) * sizeof *a), *b = malloc((n + lat) * sizeof *b);
	drsn_denoise_process(on, x, event_at, a);
	if (event_at > 0)
		assert_true(on->glitch_n > 0);
	drsn_denoise_process(on, x + event_at, n - event_at, a + event_at);
	drsn_denoise_flush(on, a + n);
	run_whole(off, x, n, b);
	assert_true(on->glitches == 0);
	assert_memory_equal(a, b, (n + lat) * sizeof *a);
	free(a);
	free(b);
	drsn_denoise_destroy(on);
	drsn_denoise_destroy(off);
}

/* White noise of standard deviation sigma0 that steps to sigma1 at 2.05 s
 * and stays (clipped to +-1: a loud source at full scale) is adapted to
 * exactly as without the guard: the jump starts an event, which does not
 * come back and so is kept. Also a 150 ms full-scale noise burst (len_s),
 * longer than any forgettable event. */
static void check_level_change(int rate, float sigma0, float sigma1, double len_s)
{
	size_t n = (size_t)rate * 5, at = (size_t)(2.05 * rate);
	size_t end = len_s > 0 ? at + (size_t)(len_s * rate) : n;
	float *x = malloc(n * sizeof *x);
	rng_seed(13);
	for (size_t i = 0; i < n; i++) {
		float v = (i >= at && i < end ? sigma1 : sigma0) * rng_gauss();
		x[i] = fminf(fmaxf(v, -1.0f), 1.0f);
	}
	print_message("%d Hz, noise %g -> %g for %g s (0: to the end)\n", rate, (double)sigma0,
		      (double)sigma1, len_s);
	/* two hops past the step, an event is running */
	expect_guard_changes_nothing(rate, x, n, at + 2 * (size_t)(rate * 16 / 1000));
	free(x);
}

static void test_glitch_guard_keeps_level_change(void **state)
{
	(void)state;
	const int rates[] = {16000, 48000};
	for (int r = 0; r < 2; r++) {
		check_level_change(rates[r], 0.001f, 0.03f, 0.0);   /* +30 dB */
		check_level_change(rates[r], 0.005f, 0.5f, 0.0);    /* +40 dB, to full scale */
		check_level_change(rates[r], 0.005f, 0.5f, 0.15);   /* full scale for 150 ms */
	}
}

/* Normal audio: the guard changes nothing. Tone bursts with sudden onsets
 * (events that last) and 60 ms blips 26 dB above the noise in the pauses
 * (a short syllable; each starts an event, which lasts too long to be a
 * glitch) give bit-identical output with the guard on and off. */
static void test_glitch_guard_keeps_sound(void **state)
{
	(void)state;
	const int rate = 16000;
	size_t n = (size_t)rate * 5;
	float *x = malloc(n * sizeof *x), *clean = malloc(n * sizeof *clean);
	rng_seed(12);
	tone_bursts(x, clean, n, rate, 0.1f, 0.01f);
	for (size_t k = 0; k < 5; k++) {   /* blips at 0.6 + 0.8 k s, in the pauses */
		size_t at = (size_t)((0.6 + 0.8 * (double)k) * rate);
		for (size_t i = 0; i < (size_t)rate * 60 / 1000; i++)
			x[at + i] += 0.3f * sinf(2.0f * (float)M_PI * 700.0f * (float)i / (float)rate);
	}
	expect_guard_changes_nothing(rate, x, n, 0);
	free(x);
	free(clean);
}

static void test_create_errors(void **state)
{
	(void)state;
	drsn_denoise *d = (drsn_denoise *)&d;
	drsn_error e;
	assert_int_equal(drsn_denoise_create(&d, 4000, NULL, &e), -EINVAL);
	assert_null(d);
	assert_non_null(strstr(e.msg, "4000"));
	drsn_denoise_opts o;
	drsn_denoise_opts_default(&o);
	o.strength_db = -3.0f;
	assert_int_equal(drsn_denoise_create(&d, 16000, &o, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "strength_db -3"));
	o.strength_db = NAN;
	assert_int_equal(drsn_denoise_create(&d, 16000, &o, &e), -EINVAL);
	drsn_denoise_opts_default(&o);
	o.frame_ms = 100.0f;
	assert_int_equal(drsn_denoise_create(&d, 16000, &o, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "frame_ms 100"));
	assert_int_equal(drsn_denoise_create(NULL, 16000, NULL, NULL), -EINVAL);
	assert_int_equal(drsn_denoise_create(&d, 16000, NULL, NULL), 0);
	assert_int_equal(drsn_denoise_latency(d), 512);
	drsn_denoise_destroy(d);
	drsn_denoise_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perfect_reconstruction_16k),
		cmocka_unit_test(test_perfect_reconstruction_48k),
		cmocka_unit_test(test_strength_0_is_exact),
		cmocka_unit_test(test_latency_is_one_frame),
		cmocka_unit_test(test_chunking_invariance),
		cmocka_unit_test(test_no_allocation_after_create),
		cmocka_unit_test(test_silence_in_silence_out),
		cmocka_unit_test(test_tone_in_noise_16k),
		cmocka_unit_test(test_tone_in_noise_48k),
		cmocka_unit_test(test_extreme_input),
		cmocka_unit_test(test_glitch_is_forgotten),
		cmocka_unit_test(test_long_glitch_is_forgotten),
		cmocka_unit_test(test_glitch_guard_keeps_sound),
		cmocka_unit_test(test_glitch_guard_keeps_level_change),
		cmocka_unit_test(test_create_errors),
	};
	return cmocka_run_group_tests_name("denoise", tests, NULL, NULL);
}
