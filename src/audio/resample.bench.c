/*
 * bench-resample: libsoxr (HQ, VHQ) against libsamplerate (SINC_BEST,
 * SINC_MEDIUM, SINC_FASTEST) for the rate changes drsn meets in practice
 * (44100, 48000 and 8000 Hz -> 16000 Hz). Prints, per resampler and pair:
 *
 *   SNR      THD+N of a 1 kHz tone (amp 0.5) against the fitted analytic tone
 *   edge     gain at 0.875 x the lower Nyquist (7 kHz, or 3.5 kHz from 8 kHz)
 *   alias    what is left of a tone the new rate cannot hold (10 kHz from
 *            44.1k, 12 kHz from 48k), or, upsampling 8k->16k, of the 5 kHz
 *            image of a 3 kHz tone; dB relative to the tone
 *   x RT     speed: seconds of audio per second of one core's CPU time
 *            (thread CPU clock), median of N runs over S seconds of noise in
 *            4096-sample chunks, create..flush included; and that speed as a
 *            ratio to soxr HQ measured in the same run
 *
 * Then the whole reader (drsn_audio_read_all: libsndfile decode, downmix,
 * soxr) on SECONDS of stereo noise in a few containers, x real time.
 *
 * usage: bench-resample [RUNS (default 7)] [SECONDS (default 10)] [ONLY]
 *
 * ONLY (e.g. "soxr HQ") runs one resampler: with valgrind it gives repeatable
 * instruction counts of just the timed runs, whatever the machine's load:
 *   valgrind --tool=callgrind --toggle-collect=timed_run \
 *       build/src/bench-resample 1 1 "soxr HQ"
 */
#include <math.h>
#include <samplerate.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sndfile.h>
#include <unistd.h>

#include "audio/tone_fit.h"
#include "drsn/audio.h"

#define CHUNK 4096

enum kind { SOXR, SRC };

static const struct method {
	const char *name;
	enum kind kind;
	int q;   /* soxr recipe or libsamplerate converter */
} methods[] = {
	{"soxr HQ", SOXR, SOXR_HQ},
	{"soxr VHQ", SOXR, SOXR_VHQ},
	{"src SINC_BEST", SRC, SRC_SINC_BEST_QUALITY},
	{"src SINC_MEDIUM", SRC, SRC_SINC_MEDIUM_QUALITY},
	{"src SINC_FASTEST", SRC, SRC_SINC_FASTEST},
};
#define N_METHODS (sizeof methods / sizeof methods[0])

/* Resample x[0..n) at in->out in CHUNK pieces, flush; returns the count. */
static size_t resample(const struct method *m, double in, double out, const float *x,
		       size_t n, float *y, size_t cap)
{
	size_t produced = 0;
	if (m->kind == SOXR) {
		soxr_error_t e = NULL;
		soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
		soxr_quality_spec_t q = soxr_quality_spec((unsigned long)m->q, 0);
		soxr_runtime_spec_t rt = soxr_runtime_spec(1);
		soxr_t s = soxr_create(in, out, 1, &e, &io, &q, &rt);
		if (!s || e) {
			fprintf(stderr, "soxr_create: %s\n", e);
			exit(1);
		}
		for (size_t pos = 0; pos < n;) {
			size_t k = n - pos < CHUNK ? n - pos : CHUNK, idone = 0, odone = 0;
			soxr_process(s, x + pos, k, &idone, y + produced, cap - produced, &odone);
			pos += idone;
			produced += odone;
		}
		for (;;) {
			size_t odone = 0;
			soxr_process(s, NULL, 0, NULL, y + produced, cap - produced, &odone);
			if (!odone)
				break;
			produced += odone;
		}
		soxr_delete(s);
	} else {
		int err = 0;
		SRC_STATE *s = src_new(m->q, 1, &err);
		if (!s) {
			fprintf(stderr, "src_new: %s\n", src_strerror(err));
			exit(1);
		}
		SRC_DATA d = {0};
		d.src_ratio = out / in;
		for (size_t pos = 0;;) {
			size_t k = n - pos < CHUNK ? n - pos : CHUNK;
			d.data_in = x + pos;
			d.input_frames = (long)k;
			d.data_out = y + produced;
			d.output_frames = (long)(cap - produced);
			d.end_of_input = k == 0;
			if ((err = src_process(s, &d)) != 0) {
				fprintf(stderr, "src_process: %s\n", src_strerror(err));
				exit(1);
			}
			pos += (size_t)d.input_frames_used;
			produced += (size_t)d.output_frames_gen;
			if (k == 0 && d.output_frames_gen == 0)
				break;
		}
		src_delete(s);
	}
	return produced;
}

/* The speed runs, kept out of line so callgrind can count only them. */
__attribute__((noinline)) size_t timed_run(const struct method *m, double in, double out,
					   const float *x, size_t n, float *y, size_t cap);
__attribute__((noinline)) size_t timed_run(const struct method *m, double in, double out,
					   const float *x, size_t n, float *y, size_t cap)
{
	return resample(m, in, out, x, n, y, cap);
}

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static float *tone(size_t n, double rate, double f)
{
	float *x = malloc(sizeof(float) * n);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.5 * sin(2 * M_PI * f * (double)i / rate));
	return x;
}

struct result {
	double snr_db, edge_db, alias_db, xrt;
};

static struct result measure(const struct method *m, double in, double out, int runs, double secs)
{
	struct result r;
	size_t n = (size_t)in;   /* one second of tone */
	size_t cap = (size_t)(secs * out) + (size_t)out + 65536;
	float *y = malloc(sizeof(float) * cap);
	double lower_nyq = fmin(in, out) / 2;

	float *x = tone(n, in, 1000);
	size_t m_out = resample(m, in, out, x, n, y, cap), skip = m_out / 10;
	r.snr_db = tone_fit(y + skip, m_out - 2 * skip, out, 1000).snr_db;
	free(x);

	double fe = 0.875 * lower_nyq;
	x = tone(n, in, fe);
	m_out = resample(m, in, out, x, n, y, cap);
	skip = m_out / 10;
	r.edge_db = 20 * log10(tone_fit(y + skip, m_out - 2 * skip, out, fe).amp / 0.5);
	free(x);

	double left;
	if (in > out) {
		double fa = in == 44100 ? 10000 : 12000;
		x = tone(n, in, fa);
		m_out = resample(m, in, out, x, n, y, cap);
		skip = m_out / 10;
		left = tone_rms(y + skip, m_out - 2 * skip) * sqrt(2.0);
	} else {
		x = tone(n, in, 3000);
		m_out = resample(m, in, out, x, n, y, cap);
		skip = m_out / 10;
		left = tone_fit(y + skip, m_out - 2 * skip, out, in - 3000).amp;
	}
	r.alias_db = 20 * log10(left / 0.5 + 1e-30);
	free(x);

	/* speed on noise (a tone would let nothing special happen either way) */
	size_t ns = (size_t)(secs * in);
	x = malloc(sizeof(float) * ns);
	unsigned s = 12345;
	for (size_t i = 0; i < ns; i++) {
		s = s * 1103515245u + 12345u;
		x[i] = (float)((double)(s >> 8) / (double)(1u << 24) - 0.5);
	}
	double *t = malloc(sizeof(double) * (size_t)runs);
	for (int k = 0; k < runs; k++) {
		double t0 = cpu_now();
		timed_run(m, in, out, x, ns, y, cap);
		t[k] = cpu_now() - t0;
	}
	qsort(t, (size_t)runs, sizeof *t, cmp_double);
	r.xrt = secs / t[runs / 2];
	free(t);
	free(x);
	free(y);
	return r;
}

/* drsn_audio_read_all of a SECONDS-long stereo file at rate, x real time. */
static void bench_reader(const char *ext, int format, int rate, int runs, double secs)
{
	char path[] = "/tmp/drsn-bench-reader-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return;
	close(fd);
	SF_INFO si = {.samplerate = rate, .channels = 2, .format = format};
	SNDFILE *f = sf_open(path, SFM_WRITE, &si);
	if (!f) {
		unlink(path);
		return;
	}
	float buf[2 * 1000];
	unsigned s = 777;
	for (long k = 0; k < (long)(secs * rate) / 1000; k++) {
		for (int i = 0; i < 2000; i++) {
			s = s * 1103515245u + 12345u;
			buf[i] = (float)((double)(s >> 8) / (double)(1u << 24) - 0.5) * 0.5f;
		}
		sf_writef_float(f, buf, 1000);
	}
	sf_close(f);
	double *t = malloc(sizeof(double) * (size_t)runs);
	for (int k = 0; k < runs; k++) {
		float *x = NULL;
		size_t n = 0;
		drsn_error e;
		double t0 = cpu_now();
		if (drsn_audio_read_all(path, NULL, &x, &n, &e) < 0) {
			fprintf(stderr, "%s\n", e.msg);
			exit(1);
		}
		t[k] = cpu_now() - t0;
		free(x);
	}
	qsort(t, (size_t)runs, sizeof *t, cmp_double);
	printf("| %s stereo %d Hz -> 16000 mono | %.0f |\n", ext, rate, secs / t[runs / 2]);
	free(t);
	unlink(path);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 7;
	double secs = argc > 2 ? atof(argv[2]) : 10.0;
	const char *only = argc > 3 ? argv[3] : NULL;
	static const double pairs[][2] = {{44100, 16000}, {48000, 16000}, {8000, 16000}};

	if (runs < 1 || secs <= 0) {
		fprintf(stderr, "usage: bench-resample [RUNS] [SECONDS]\n");
		return 2;
	}
	printf("bench-resample: %d runs x %.0f s of audio per figure, one thread, %s, "
	       "libsamplerate %s\n", runs, secs, soxr_version(), src_get_version());
	printf("| rate | resampler | SNR 1 kHz (dB) | gain at edge (dB) | alias/image (dB) "
	       "| x real time | speed vs soxr HQ |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (size_t p = 0; p < 3; p++) {
		double base = 0;
		for (size_t i = 0; i < N_METHODS; i++) {
			if (only && strcmp(only, methods[i].name))
				continue;
			struct result r = measure(&methods[i], pairs[p][0], pairs[p][1], runs, secs);
			if (i == 0 || base == 0)
				base = r.xrt;
			printf("| %.0f->%.0f | %s | %.1f | %.3f | %.1f | %.0f | %.3f |\n",
			       pairs[p][0], pairs[p][1], methods[i].name, r.snr_db, r.edge_db,
			       r.alias_db, r.xrt, r.xrt / base);
			fflush(stdout);
		}
	}
	if (only)
		return 0;
	printf("\ndrsn_audio_read_all (decode + downmix + soxr HQ), CPU time of one thread:\n");
	printf("| file | x real time |\n|---|---|\n");
	bench_reader("WAV pcm_16", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, runs, secs);
	bench_reader("WAV pcm_16", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, runs, secs);
	bench_reader("FLAC pcm_16", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, runs, secs);
	bench_reader("OGG vorbis", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, runs, secs);
	return 0;
}
