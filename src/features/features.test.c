/* Unit tests of the streaming log-mel front end. Linked with
 * -Wl,--wrap=malloc,calloc,realloc so that allocations made by libdrsn and
 * this file are counted (see src/features/meson.build). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc_count.h"
#include "drsn/features.h"

/* ---- helpers ----------------------------------------------------------- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}
static float frand(void) { return (float)rnd() / 4294967296.0f * 2.0f - 1.0f; }

/* Speech-ish test signal: two harmonic voices with a gliding pitch, noise and
 * a little DC, in [-1, 1]. */
static float *make_signal(size_t n)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / 16000.0, f0 = 120.0 + 80.0 * t;
		double v = 0.0;
		for (int h = 1; h <= 12; h++)
			v += 0.3 / h * sin(2 * M_PI * f0 * h * t + h);
		v += 0.05 * frand() + 0.01;
		x[i] = (float)v;
	}
	return x;
}

struct collect {
	float *rows;
	int n_mels;
	int64_t n;
	int64_t cap;
	int bad_index;
};

/* A collector for up to cap frames; rows is malloc'd unless given. */
static struct collect collect_new(int n_mels, int64_t cap, float *rows)
{
	struct collect c = {0};
	c.n_mels = n_mels;
	c.cap = cap;
	c.rows = rows ? rows : malloc((size_t)(cap ? cap : 1) * (size_t)n_mels * sizeof(float));
	return c;
}

static void collect_cb(void *user, const float *mel, int64_t idx)
{
	struct collect *c = user;
	if (idx != c->n || c->n >= c->cap) {
		c->bad_index = 1;
		return;
	}
	memcpy(c->rows + c->n * c->n_mels, mel, (size_t)c->n_mels * sizeof *mel);
	c->n++;
}

/* ---- params ------------------------------------------------------------ */
static void test_defaults_and_frames_for(void **state)
{
	(void)state;
	drsn_features_params p;
	drsn_features_params_default(&p);
	assert_int_equal(p.sample_rate, 16000);
	assert_int_equal(p.win_length, 400);
	assert_int_equal(p.hop_length, 160);
	assert_int_equal(p.n_fft, 512);
	assert_int_equal(p.n_mels, 40);
	assert_int_equal(drsn_features_params_validate(&p, NULL), 0);
	assert_int_equal(drsn_features_frames_for(&p, 16000), 98);
	assert_int_equal(drsn_features_frames_for(&p, 399), 0);
	assert_int_equal(drsn_features_frames_for(&p, 400), 1);
	assert_int_equal(drsn_features_frames_for(&p, 559), 1);
	assert_int_equal(drsn_features_frames_for(&p, 560), 2);
}

static void expect_invalid(drsn_features_params p, const char *field)
{
	drsn_error e = {0};
	assert_int_equal(drsn_features_params_validate(&p, &e), -EINVAL);
	if (!strstr(e.msg, field))
		fail_msg("message \"%s\" does not name %s", e.msg, field);
	drsn_features *f = (drsn_features *)1;
	assert_int_equal(drsn_features_create(&f, &p, NULL), -EINVAL);
	assert_null(f);
}

static void test_validate_names_field(void **state)
{
	(void)state;
	drsn_features_params d, p;
	drsn_features_params_default(&d);
	p = d; p.sample_rate = 10;      expect_invalid(p, "sample_rate");
	p = d; p.win_length = 600;     expect_invalid(p, "win_length");
	p = d; p.hop_length = 0;       expect_invalid(p, "hop_length");
	p = d; p.n_fft = 1;            expect_invalid(p, "n_fft");
	p = d; p.n_mels = 0;           expect_invalid(p, "n_mels");
	p = d; p.n_mels = 200;         expect_invalid(p, "n_mels"); /* empty low bands */
	p = d; p.f_min = -1;           expect_invalid(p, "f_min");
	p = d; p.f_max = 9000;         expect_invalid(p, "f_max");
	p = d; p.f_max = 10;           expect_invalid(p, "f_max");
	p = d; p.log_offset = 0;       expect_invalid(p, "log_offset");
	p = d; p.log_offset = NAN;     expect_invalid(p, "log_offset");
}

static void test_json_roundtrip(void **state)
{
	(void)state;
	drsn_features_params p, q;
	drsn_features_params_default(&p);
	p.n_mels = 64;
	p.f_min = 0.1f;
	p.log_offset = 1e-10f;
	char *s = drsn_features_params_to_json(&p);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"n_mels\":\t64"));
	drsn_features_params_default(&q);
	assert_int_equal(drsn_features_params_from_json(&q, s, strlen(s), NULL), 0);
	assert_memory_equal(&p, &q, sizeof p);
	free(s);

	drsn_features_params_default(&p);
	s = drsn_features_params_to_json(&p);
	assert_non_null(strstr(s, "\"log_offset\":\t1e-06"));
	free(s);

	/* Missing keys keep their values. */
	drsn_features_params_default(&q);
	const char *j = "{\"hop_length\": 80}";
	assert_int_equal(drsn_features_params_from_json(&q, j, strlen(j), NULL), 0);
	assert_int_equal(q.hop_length, 80);
	assert_int_equal(q.n_mels, 40);

	/* params validate refuses give NULL, never JSON with "nan" in it */
	static const float bad[] = {NAN, INFINITY, -1.0f};
	for (size_t k = 0; k < 3; k++) {
		drsn_features_params_default(&p);
		p.f_min = bad[k];
		assert_null(drsn_features_params_to_json(&p));
		drsn_features_params_default(&p);
		p.log_offset = bad[k];
		assert_null(drsn_features_params_to_json(&p));
	}
	drsn_features_params_default(&p);
	p.n_fft = 1;
	assert_null(drsn_features_params_to_json(&p));
	assert_null(drsn_features_params_to_json(NULL));
}

static void expect_json_error(const char *j, const char *needle)
{
	drsn_features_params p, before;
	drsn_features_params_default(&p);
	before = p;
	drsn_error e = {0};
	assert_int_equal(drsn_features_params_from_json(&p, j, strlen(j), &e), -EINVAL);
	if (!strstr(e.msg, needle))
		fail_msg("message \"%s\" does not contain %s", e.msg, needle);
	assert_memory_equal(&p, &before, sizeof p); /* untouched on error */
}

static void test_json_errors(void **state)
{
	(void)state;
	expect_json_error("{\"n_mel\": 40}", "\"n_mel\"");
	expect_json_error("{\"n_mels\": \"40\"}", "\"n_mels\"");
	expect_json_error("{\"n_mels\": 40.5}", "\"n_mels\"");
	expect_json_error("{\"n_mels\": 0}", "n_mels");
	expect_json_error("{\"f_max\": 12000}", "f_max");
	expect_json_error("{\"window\": \"hamming\"}", "\"window\"");
	expect_json_error("{\"mel_scale\": \"slaney\"}", "\"mel_scale\"");
	expect_json_error("{\"power\": 1}", "\"power\"");
	expect_json_error("{\"n_mels\": 40", "invalid JSON");
	expect_json_error("[1, 2]", "object");
	/* one object and nothing after it (these used to parse as n_mels 30) */
	expect_json_error("{\"n_mels\": 30} junk", "trailing bytes after the JSON object (byte 15)");
	expect_json_error("{\"n_mels\": 30}{\"n_mels\": 50}", "trailing bytes");
	expect_json_error("{\"n_mels\": 30, \"n_mels\": 50}", "\"n_mels\" appears twice");
	drsn_features_params p;
	drsn_features_params_default(&p);
	const char *ok = "\n {\"n_mels\": 30}\r\n\t ";
	assert_int_equal(drsn_features_params_from_json(&p, ok, strlen(ok), NULL), 0);
	assert_int_equal(p.n_mels, 30);
	/* len ends the text: what follows it is not looked at */
	assert_int_equal(drsn_features_params_from_json(&p, "{\"n_mels\": 20}xyz", 14, NULL), 0);
	assert_int_equal(p.n_mels, 20);
}

/* ---- the front end ----------------------------------------------------- */

/* Whole signal in one push. */
static struct collect run_whole(const drsn_features_params *p, const float *x, size_t n)
{
	drsn_features *f;
	assert_int_equal(drsn_features_create(&f, p, NULL), 0);
	struct collect c = collect_new(p->n_mels, drsn_features_frames_for(p, (int64_t)n), NULL);
	assert_int_equal(drsn_features_push(f, x, n, collect_cb, &c), c.cap);
	assert_int_equal(c.n, c.cap);
	assert_false(c.bad_index);
	drsn_features_destroy(f);
	return c;
}

/* Independent reference: O(N^2) DFT in double, the mel formula written out
 * again here, log. */
static void reference_frame(const drsn_features_params *p, const float *x, double *out)
{
	int nb = p->n_fft / 2 + 1;
	double *pw = malloc((size_t)nb * sizeof *pw);
	for (int k = 0; k < nb; k++) {
		double re = 0, im = 0;
		for (int i = 0; i < p->win_length; i++) {
			double w = 0.5 - 0.5 * cos(2 * M_PI * i / p->win_length);
			double a = -2 * M_PI * (double)k * i / p->n_fft;
			re += w * x[i] * cos(a);
			im += w * x[i] * sin(a);
		}
		pw[k] = re * re + im * im;
	}
	double mmin = 2595 * log10(1 + p->f_min / 700.0), mmax = 2595 * log10(1 + p->f_max / 700.0);
	for (int m = 0; m < p->n_mels; m++) {
		double e[3];
		for (int j = 0; j < 3; j++)
			e[j] = 700 * (pow(10, (mmin + (mmax - mmin) * (m + j) / (p->n_mels + 1)) / 2595) - 1);
		double acc = 0;
		for (int k = 0; k < nb; k++) {
			double fk = (double)k * (p->sample_rate / 2) / (nb - 1);
			double w = fmin((fk - e[0]) / (e[1] - e[0]), (e[2] - fk) / (e[2] - e[1]));
			if (w > 0)
				acc += w * pw[k];
		}
		out[m] = log(acc + p->log_offset);
	}
	free(pw);
}

static void test_matches_naive_dft(void **state)
{
	(void)state;
	drsn_features_params p;
	drsn_features_params_default(&p);
	size_t n = 4000;
	float *x = make_signal(n);
	struct collect c = run_whole(&p, x, n);
	double ref[40], worst = 0;
	for (int64_t t = 0; t < c.n; t += 3) {
		reference_frame(&p, x + t * p.hop_length, ref);
		for (int m = 0; m < p.n_mels; m++) {
			double d = fabs(ref[m] - c.rows[t * p.n_mels + m]);
			if (d > worst)
				worst = d;
		}
	}
	print_message("max |C - naive double DFT| = %.3g (log domain)\n", worst);
	assert_true(worst < 1e-4);
	free(c.rows);
	free(x);
}

static void test_silence_and_tone(void **state)
{
	(void)state;
	drsn_features_params p;
	drsn_features_params_default(&p);
	size_t n = 1600;
	float *x = calloc(n, sizeof *x);
	struct collect c = run_whole(&p, x, n);
	for (int64_t i = 0; i < c.n * p.n_mels; i++)
		assert_float_equal(c.rows[i], logf(1e-6f), 1e-6);
	free(c.rows);
	/* A 1 kHz tone peaks in the band whose centre is closest to 1 kHz. */
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * i / 16000.0));
	c = run_whole(&p, x, n);
	int best = 0, want = 0;
	for (int m = 0; m < p.n_mels; m++) {
		if (c.rows[m] > c.rows[best])
			best = m;
		double mmin = 2595 * log10(1 + 20 / 700.0), mmax = 2595 * log10(1 + 8000 / 700.0);
		double centre = 700 * (pow(10, (mmin + (mmax - mmin) * (m + 1) / 41) / 2595) - 1);
		double wc = 700 * (pow(10, (mmin + (mmax - mmin) * (want + 1) / 41) / 2595) - 1);
		if (fabs(centre - 1000) < fabs(wc - 1000))
			want = m;
	}
	assert_int_equal(best, want);
	free(c.rows);
	free(x);
}

static void check_chunking(const drsn_features_params *p, const float *x, size_t n,
			   const struct collect *whole, size_t chunk /* 0 = random */)
{
	drsn_features *f;
	assert_int_equal(drsn_features_create(&f, p, NULL), 0);
	struct collect c = collect_new(p->n_mels, whole->n, NULL);
	drsn__alloc_count_start();
	for (size_t i = 0; i < n;) {
		size_t k = chunk ? chunk : 1 + rnd() % 700;
		if (k > n - i)
			k = n - i;
		int64_t pending = drsn_features_frames_pending(f, k);
		int64_t got = drsn_features_push(f, x + i, k, collect_cb, &c);
		assert_int_equal(got, pending);
		i += k;
	}
	assert_int_equal(drsn__alloc_count_stop(), 0);
	assert_false(c.bad_index);
	assert_int_equal(c.n, whole->n);
	if (memcmp(c.rows, whole->rows, (size_t)c.n * (size_t)p->n_mels * sizeof(float)) != 0)
		fail_msg("chunk %zu: frames differ from the whole-signal run", chunk);
	free(c.rows);
	drsn_features_destroy(f);
}

static void test_streaming_identity(void **state)
{
	(void)state;
	drsn_features_params p;
	drsn_features_params_default(&p);
	size_t n = 16000 + 1234;
	float *x = make_signal(n);
	struct collect whole = run_whole(&p, x, n);
	assert_int_equal(whole.n, drsn_features_frames_for(&p, (int64_t)n));
	const size_t chunks[] = {1, 7, 160, 16000, 0, 0, 0};
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
		check_chunking(&p, x, n, &whole, chunks[i]);
	free(whole.rows);

	/* hop > win (samples between frames are skipped) and hop == win. */
	p.win_length = 256; p.n_fft = 256; p.n_mels = 20;
	for (int hop = 256; hop <= 300; hop += 44) {
		p.hop_length = hop;
		whole = run_whole(&p, x, n);
		assert_int_equal(whole.n, drsn_features_frames_for(&p, (int64_t)n));
		for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
			check_chunking(&p, x, n, &whole, chunks[i]);
		free(whole.rows);
	}
	free(x);
}

static void test_push_into_reset_and_no_alloc(void **state)
{
	(void)state;
	drsn_features_params p;
	drsn_features_params_default(&p);
	size_t n = 16000;
	float *x = make_signal(n);
	struct collect whole = run_whole(&p, x, n);
	drsn_features *f;
	drsn__alloc_count_start();
	assert_int_equal(drsn_features_create(&f, &p, NULL), 0);
	/* The counter sees libdrsn's allocations (so 0 below means something). */
	assert_true(drsn__alloc_count_stop() >= 5);
	assert_int_equal(drsn_features_n_mels(f), 40);
	assert_int_equal(drsn_features_get_params(f)->hop_length, 160);
	float *out = malloc(98 * 40 * sizeof *out);

	drsn__alloc_count_start();
	/* Too small an output: nothing consumed. */
	assert_int_equal(drsn_features_frames_pending(f, n), 98);
	assert_int_equal(drsn_features_push_into(f, x, n, out, 97), -ENOSPC);
	assert_int_equal(drsn_features_frames_pending(f, n), 98);
	int64_t total = 0;
	for (size_t i = 0; i < n; i += 1000) {
		int64_t got = drsn_features_push_into(f, x + i, 1000, out + total * 40, (size_t)(98 - total));
		assert_true(got >= 0);
		total += got;
	}
	assert_int_equal(total, 98);
	assert_memory_equal(out, whole.rows, 98 * 40 * sizeof *out);
	/* reset: a new stream, numbered from 0 again, same frames. */
	drsn_features_reset(f);
	struct collect c = collect_new(40, 98, out);
	assert_int_equal(drsn_features_push(f, x, 300, collect_cb, &c), 0);
	assert_int_equal(drsn_features_push(f, x + 300, n - 300, collect_cb, &c), 98);
	assert_false(c.bad_index);
	assert_memory_equal(out, whole.rows, 98 * 40 * sizeof *out);
	assert_int_equal(drsn__alloc_count_stop(), 0);

	assert_int_equal(drsn_features_push(f, NULL, 5, collect_cb, &c), -EINVAL);
	assert_int_equal(drsn_features_push(f, x, 5, NULL, &c), -EINVAL);
	assert_int_equal(drsn_features_push(NULL, x, 5, collect_cb, &c), -EINVAL);
	assert_int_equal(drsn_features_push(f, NULL, 0, collect_cb, &c), 0);
	drsn_features_destroy(f);
	drsn_features_destroy(NULL);
	free(out);
	free(whole.rows);
	free(x);
}

/* features.h: a NaN or infinite sample spoils only the frames that hold it;
 * the frames after it are exactly those of the same signal without it (the
 * front end keeps no state across frames that could carry it on). */
static void test_nonfinite_sample_spoils_only_its_frames(void **state)
{
	(void)state;
	drsn_features_params p;
	drsn_features_params_default(&p);
	const size_t n = 16000, at = 4000;
	float *x = make_signal(n);
	struct collect clean = run_whole(&p, x, n);
	const float bad[] = {NAN, INFINITY, -INFINITY};
	for (size_t b = 0; b < 3; b++) {
		float keep = x[at];
		x[at] = bad[b];
		struct collect c = run_whole(&p, x, n);
		x[at] = keep;
		for (int64_t i = 0; i < c.n; i++) {
			/* frame i covers [i * hop, i * hop + win) */
			int holds = (int64_t)at >= i * p.hop_length && (int64_t)at < i * p.hop_length + p.win_length;
			for (int m = 0; m < p.n_mels; m++) {
				float v = c.rows[i * p.n_mels + m], w = clean.rows[i * p.n_mels + m];
				if (!holds && memcmp(&v, &w, sizeof v))
					fail_msg("%g at %zu: frame %lld band %d is %g, %g without it",
						 (double)bad[b], at, (long long)i, m, (double)v, (double)w);
			}
		}
		free(c.rows);
	}
	free(clean.rows);
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_frames_for),
		cmocka_unit_test(test_validate_names_field),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_matches_naive_dft),
		cmocka_unit_test(test_silence_and_tone),
		cmocka_unit_test(test_streaming_identity),
		cmocka_unit_test(test_push_into_reset_and_no_alloc),
		cmocka_unit_test(test_nonfinite_sample_spoils_only_its_frames),
	};
	return cmocka_run_group_tests_name("features", tests, NULL, NULL);
}
