/*
 * bench-denoise: drsn's denoiser against SpeexDSP's preprocessor, in one run.
 *
 *   bench-denoise --material DIR --noise FILE [--seed N] [--runs N]
 *                 [--strength DB] [--frame-ms MS] [--rate HZ] [--no-speed]
 *                 [--set NAME=VALUE]...
 *
 * DIR holds clean speech clips (tests/bench/denoise_material.sh writes
 * them); FILE is a recording of real background noise. Every clip is mixed
 * with white, pink, Laplacian and the real noise at 0, 5 and 10 dB SNR
 * (noise drawn from a seeded generator per clip and condition), quantised to
 * 16 bits (SpeexDSP's input type) and processed by
 *   drsn     drsn_denoise at --strength (default: the library default)
 *   spx      SpeexDSP, DENOISE on, its default suppression (-15 dB)
 *   spx-25   SpeexDSP, DENOISE on, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS -25
 * each from a fresh state per clip. Outputs are aligned by each system's
 * known delay (drsn_denoise_latency; SpeexDSP: one frame, checked here by
 * cross-correlation with DENOISE off) before SI-SDR. Printed: SI-SDR
 * improvement (dB, mean over clips) per noise x SNR at --rate (default
 * 16000), the averages, the targets, how well drsn's per-frame speech value
 * separates speech frames from pauses (ROC AUC), and speed (x real time on one core,
 * thread CPU time, median of --runs) at 16 and 48 kHz for every system.
 * --set tunes an internal parameter for experiments (thr, alpha_dd, xi_min_db, beta, bmin, v_frames,
 * glitch_db: the glitch guard's jump, dB; 300 turns the guard off).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <speex/speex_preprocess.h>

#include "drsn/audio.h"
#include "drsn/denoise.h"
#include "denoise/denoise_internal.h"

#define MAX_CLIPS 64
#define N_NOISES 4
#define N_SNRS 3
#define N_SYS 3
#define MAX_SETS 8

static const char *noise_names[N_NOISES] = {"white", "pink", "laplace", "real"};
static const float snrs[N_SNRS] = {0.0f, 5.0f, 10.0f};
static const char *sys_names[N_SYS] = {"drsn", "spx", "spx-25"};

struct clips {
	int n;
	float *x[MAX_CLIPS];
	size_t len[MAX_CLIPS];
};

struct tune { char name[32]; float value; };

static struct {
	float strength, frame_ms;
	int n_sets;
	struct tune sets[MAX_SETS];
} cfg;

/* Per-frame speech values of the last run_drsn, for the VAD figure. */
static struct { float *v; size_t n, cap; } vad;
static uint64_t glitches;   /* events the glitch guard forgot, all drsn runs */

/* ---- seeded noise ------------------------------------------------------ */
static uint64_t rs;
static void seed(uint64_t s) { rs = s * 0x9E3779B97F4A7C15ull + 0x1234567ull; if (!rs) rs = 1; }
static double unif(void)
{
	rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
	return ((double)(rs >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) { return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif()); }

static void make_noise(int type, float *y, size_t n, const float *real, size_t real_n)
{
	double b[7] = {0};
	size_t off = (size_t)(unif() * (double)real_n);
	for (size_t i = 0; i < n; i++) {
		double w;
		switch (type) {
		case 0: y[i] = (float)gauss(); break;
		case 1: /* pink: Paul Kellet's filter on white noise */
			w = gauss();
			b[0] = 0.99886 * b[0] + w * 0.0555179;
			b[1] = 0.99332 * b[1] + w * 0.0750759;
			b[2] = 0.96900 * b[2] + w * 0.1538520;
			b[3] = 0.86650 * b[3] + w * 0.3104856;
			b[4] = 0.55000 * b[4] + w * 0.5329522;
			b[5] = -0.7616 * b[5] - w * 0.0168980;
			y[i] = (float)(b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362);
			b[6] = w * 0.115926;
			break;
		case 2: { /* Laplacian: inverse CDF */
			double u = unif() - 0.5;
			y[i] = (float)(-(u < 0 ? -1 : 1) * log(1 - 2 * fabs(u)));
			break;
		}
		default: y[i] = real[(off + i) % real_n]; break;
		}
	}
}

/* ---- metrics ----------------------------------------------------------- */
static double si_sdr(const float *ref, const float *est, size_t n)
{
	double rr = 0, re = 0;
	for (size_t i = 0; i < n; i++) {
		rr += (double)ref[i] * ref[i];
		re += (double)ref[i] * est[i];
	}
	double a = re / rr, s = 0, e = 0;
	for (size_t i = 0; i < n; i++) {
		double t = a * ref[i], d = est[i] - t;
		s += t * t;
		e += d * d;
	}
	return 10 * log10(s / (e + 1e-30) + 1e-30);
}

/* Frame labels for the VAD figure: frame f (covering input
 * [(f + 1) * hop - n, (f + 1) * hop)) is speech when the clean signal's
 * energy in its middle hop is within 30 dB of the clip's loudest hop. */
struct scored { float score; int speech; };
static struct scored *scored;
static size_t n_scored, cap_scored;

static void label_frames(const float *clean, size_t len, int frame_n, int hop)
{
	double emax = 0;
	for (size_t i = 0; i + (size_t)hop <= len; i += (size_t)hop) {
		double e = 0;
		for (int j = 0; j < hop; j++)
			e += (double)clean[i + (size_t)j] * clean[i + (size_t)j];
		emax = e > emax ? e : emax;
	}
	for (size_t f = 0; f < vad.n && f < vad.cap; f++) {
		long start = (long)((f + 1) * (size_t)hop) - frame_n + (frame_n - hop) / 2;
		if (start < 0 || start + hop > (long)len)
			continue;
		double e = 0;
		for (int j = 0; j < hop; j++)
			e += (double)clean[start + j] * clean[start + j];
		if (n_scored == cap_scored) {
			cap_scored = cap_scored ? 2 * cap_scored : 4096;
			scored = realloc(scored, cap_scored * sizeof *scored);
		}
		scored[n_scored].score = vad.v[f];
		scored[n_scored].speech = e > emax * 1e-3;
		n_scored++;
	}
}

static int cmp_scored(const void *a, const void *b)
{
	float x = ((const struct scored *)a)->score, y = ((const struct scored *)b)->score;
	return x < y ? -1 : x > y;
}

/* Area under the ROC curve of the pooled frames (ties count half), and the
 * balanced accuracy at threshold 0.5; resets the pool. */
static void vad_figures(double *auc, double *bacc)
{
	qsort(scored, n_scored, sizeof *scored, cmp_scored);
	double pos = 0, neg = 0, rank_sum = 0, tp = 0, tn = 0;
	for (size_t i = 0; i < n_scored;) {
		size_t j = i;
		while (j < n_scored && scored[j].score == scored[i].score)
			j++;
		double avg_rank = (double)(i + j + 1) / 2.0;   /* 1-based ranks i+1..j */
		for (size_t k = i; k < j; k++) {
			if (scored[k].speech) {
				pos++;
				rank_sum += avg_rank;
				tp += scored[k].score >= 0.5f;
			} else {
				neg++;
				tn += scored[k].score < 0.5f;
			}
		}
		i = j;
	}
	*auc = pos > 0 && neg > 0 ? (rank_sum - pos * (pos + 1) / 2) / (pos * neg) : NAN;
	*bacc = pos > 0 && neg > 0 ? 0.5 * (tp / pos + tn / neg) : NAN;
	n_scored = 0;
}

static double energy(const float *x, size_t n)
{
	double e = 0;
	for (size_t i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return e;
}

static double thread_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the systems ------------------------------------------------------- */
static drsn_denoise *drsn_new(int rate)
{
	drsn_denoise_opts o;
	drsn_denoise_opts_default(&o);
	if (cfg.strength >= 0)
		o.strength_db = cfg.strength;
	if (cfg.frame_ms > 0)
		o.frame_ms = cfg.frame_ms;
	drsn_denoise *d;
	drsn_error e;
	if (drsn_denoise_create(&d, rate, &o, &e) < 0) {
		fprintf(stderr, "bench-denoise: %s\n", e.msg);
		exit(1);
	}
	float hop_ms = 1e3f * (float)d->hop / (float)rate;
	for (int i = 0; i < cfg.n_sets; i++) {
		const struct tune *t = &cfg.sets[i];
		if (!strcmp(t->name, "thr"))
			d->thr = t->value;
		else if (!strcmp(t->name, "alpha_dd"))
			d->alpha_dd = powf(t->value, hop_ms / 8.0f);
		else if (!strcmp(t->name, "bmin"))
			d->bmin = t->value;
		else if (!strcmp(t->name, "v_frames"))
			d->v_frames = (int)t->value;
		else if (!strcmp(t->name, "beta"))
			d->beta = t->value;
		else if (!strcmp(t->name, "xi_min_db"))
			d->xi_min = powf(10.0f, t->value / 10.0f);
		else if (!strcmp(t->name, "glitch_db"))
			d->glitch_ratio = powf(10.0f, t->value / 10.0f);
		else {
			fprintf(stderr, "bench-denoise: unknown --set %s\n", t->name);
			exit(2);
		}
	}
	return d;
}

static void on_frame(void *user, uint64_t frame, float speech)
{
	(void)user;
	if (frame < vad.cap)
		vad.v[frame] = speech;
	vad.n = frame + 1;
}

/* out gets n samples aligned with in. work holds n + latency floats. */
static void run_drsn(int rate, const float *in, size_t n, float *out, float *work)
{
	drsn_denoise *d = drsn_new(rate);
	d->opts.on_frame = on_frame;
	vad.n = 0;
	size_t lat = (size_t)drsn_denoise_latency(d);
	drsn_denoise_process(d, in, n, work);
	drsn_denoise_flush(d, work + n);
	memcpy(out, work + lat, n * sizeof *out);
	glitches += d->glitches;
	drsn_denoise_destroy(d);
}

static int spx_frame(int rate) { return rate / 50; }  /* 20 ms */

/* suppress: 0 = SpeexDSP default; denoise: 0 = off (for the delay check).
 * work holds n + 2 frames floats; out gets n samples aligned by delay. */
static void run_spx(int rate, int denoise, int suppress, const float *in, size_t n,
		    float *out, int16_t *buf, size_t delay)
{
	int f = spx_frame(rate);
	SpeexPreprocessState *st = speex_preprocess_state_init(f, rate);
	speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DENOISE, &denoise);
	if (suppress)
		speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &suppress);
	size_t padded = ((n + delay) / (size_t)f + 1) * (size_t)f;
	for (size_t i = 0; i < padded; i++)
		buf[i] = i < n ? (int16_t)lrintf(in[i] * 32768.0f) : 0;
	for (size_t i = 0; i < padded; i += (size_t)f)
		speex_preprocess_run(st, buf + i);
	for (size_t i = 0; i < n; i++)
		out[i] = (float)buf[i + delay] / 32768.0f;
	speex_preprocess_state_destroy(st);
}

/* SpeexDSP's delay, found by cross-correlation with DENOISE off. */
static size_t spx_delay(int rate, const float *clip, size_t n, int16_t *buf, float *out)
{
	size_t best = 0;
	double best_c = -1;
	int f = spx_frame(rate);
	run_spx(rate, 0, 0, clip, n - (size_t)(3 * f), out, buf, 0);
	for (size_t lag = 0; lag <= (size_t)(2 * f); lag++) {
		double c = 0;
		for (size_t i = 0; i + lag < n - (size_t)(3 * f); i++)
			c += (double)clip[i] * out[i + lag];
		if (c > best_c) { best_c = c; best = lag; }
	}
	return best;
}

/* ---- material ---------------------------------------------------------- */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void load_clips(struct clips *c, const char *dir, int rate)
{
	DIR *dp = opendir(dir);
	if (!dp) {
		fprintf(stderr, "bench-denoise: %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	char *names[MAX_CLIPS];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dp)) && n < MAX_CLIPS) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".wav"))
			names[n++] = strdup(e->d_name);
	}
	closedir(dp);
	qsort(names, (size_t)n, sizeof names[0], cmp_str);
	drsn_audio_opts o;
	drsn_audio_opts_default(&o);
	o.target_rate = rate;
	c->n = n;
	for (int i = 0; i < n; i++) {
		char path[4096];
		drsn_error err;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (drsn_audio_read_all(path, &o, &c->x[i], &c->len[i], &err) < 0) {
			fprintf(stderr, "bench-denoise: %s\n", err.msg);
			exit(1);
		}
		free(names[i]);
	}
	if (n == 0) {
		fprintf(stderr, "bench-denoise: %s: no .wav clips (run tests/bench/denoise_material.sh)\n", dir);
		exit(1);
	}
}

static void free_clips(struct clips *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->x[i]);
}

/* Noisy mixture of clip k with noise type t at snr dB, quantised to 16 bits,
 * peak-normalised to -6 dBFS; clean gets the clean part at the same scale. */
static void mix(const float *s, size_t n, int t, float snr, const float *real, size_t real_n,
		uint64_t sd, float *noisy, float *clean)
{
	seed(sd);
	make_noise(t, noisy, n, real, real_n);
	double g = sqrt(energy(s, n) / (energy(noisy, n) * pow(10, snr / 10)));
	float peak = 0;
	for (size_t i = 0; i < n; i++) {
		noisy[i] = s[i] + (float)g * noisy[i];
		peak = fmaxf(peak, fabsf(noisy[i]));
	}
	float sc = 0.5f / peak;
	for (size_t i = 0; i < n; i++) {
		noisy[i] = (float)lrintf(noisy[i] * sc * 32768.0f) / 32768.0f;
		clean[i] = s[i] * sc;
	}
}

static void quality(const char *mat, const float *real, size_t real_n, int rate, uint64_t sd)
{
	struct clips c;
	load_clips(&c, mat, rate);
	size_t maxn = 0;
	double total_s = 0;
	for (int i = 0; i < c.n; i++) {
		maxn = c.len[i] > maxn ? c.len[i] : maxn;
		total_s += (double)c.len[i] / rate;
	}
	size_t cap = maxn + 4 * (size_t)rate;
	float *noisy = malloc(cap * sizeof(float)), *clean = malloc(cap * sizeof(float));
	float *out = malloc(cap * sizeof(float)), *work = malloc(cap * sizeof(float));
	int16_t *buf = malloc(cap * sizeof(int16_t));

	size_t delay = spx_delay(rate, c.x[0], c.len[0], buf, out);
	printf("material: %d clips, %.1f s of speech at %d Hz; SpeexDSP frame %d, delay found %zu samples\n",
	       c.n, total_s, rate, spx_frame(rate), delay);
	if (delay != (size_t)spx_frame(rate))
		printf("warning: SpeexDSP delay %zu is not one frame\n", delay);

	double imp[N_NOISES][N_SNRS][N_SYS] = {{{0}}}, base[N_NOISES][N_SNRS] = {{0}};
	double auc[N_NOISES][N_SNRS], bacc[N_NOISES][N_SNRS];
	uint64_t glitch_cell[N_NOISES][N_SNRS];
	drsn_denoise *probe = drsn_new(rate);
	int frame_n = drsn_denoise_latency(probe), hop = drsn_denoise_hop(probe);
	drsn_denoise_destroy(probe);
	vad.cap = cap / (size_t)hop + 2;
	vad.v = malloc(vad.cap * sizeof *vad.v);
	for (int t = 0; t < N_NOISES; t++)
		for (int s = 0; s < N_SNRS; s++) {
			uint64_t g0 = glitches;
			for (int k = 0; k < c.n; k++) {
				size_t n = c.len[k];
				mix(c.x[k], n, t, snrs[s], real, real_n,
				    sd * 1000003u + (uint64_t)(t * 100 + s * 10 + k), noisy, clean);
				double b = si_sdr(clean, noisy, n);
				base[t][s] += b / c.n;
				for (int y = 0; y < N_SYS; y++) {
					if (y == 0) {
						run_drsn(rate, noisy, n, out, work);
						label_frames(clean, n, frame_n, hop);
					} else {
						run_spx(rate, 1, y == 2 ? -25 : 0, noisy, n, out, buf, delay);
					}
					imp[t][s][y] += (si_sdr(clean, out, n) - b) / c.n;
				}
			}
			vad_figures(&auc[t][s], &bacc[t][s]);
			glitch_cell[t][s] = glitches - g0;
		}
	printf("\nSI-SDR improvement, dB (mean over clips), %d Hz, drsn strength %s\n", rate,
	       cfg.strength >= 0 ? "set" : "default");
	printf("%-8s %5s %8s | %7s %7s %7s | %s\n", "noise", "SNR", "noisy", sys_names[0], sys_names[1], sys_names[2],
	       "drsn - best spx");
	double avg[N_SYS] = {0}, worst = 1e9;
	for (int t = 0; t < N_NOISES; t++)
		for (int s = 0; s < N_SNRS; s++) {
			double best = fmax(imp[t][s][1], imp[t][s][2]);
			double m = imp[t][s][0] - best;
			worst = fmin(worst, m);
			printf("%-8s %5.0f %8.2f | %7.2f %7.2f %7.2f | %+6.2f\n", noise_names[t], snrs[s], base[t][s],
			       imp[t][s][0], imp[t][s][1], imp[t][s][2], m);
			for (int y = 0; y < N_SYS; y++)
				avg[y] += imp[t][s][y] / (N_NOISES * N_SNRS);
		}
	printf("%-8s %5s %8s | %7.2f %7.2f %7.2f | %+6.2f\n", "average", "", "", avg[0], avg[1], avg[2],
	       avg[0] - fmax(avg[1], avg[2]));
	printf("target: average >= best SpeexDSP + 2 dB: %s (%+.2f dB); no cell below SpeexDSP: %s (worst cell %+.2f dB)\n",
	       avg[0] - fmax(avg[1], avg[2]) >= 2 ? "MET" : "NOT MET", avg[0] - fmax(avg[1], avg[2]),
	       worst >= 0 ? "MET" : "NOT MET", worst);

	printf("drsn glitch guard: events forgotten (all clips) per noise at");
	for (int s = 0; s < N_SNRS; s++)
		printf("%s%.0f", s ? "/" : " ", snrs[s]);
	printf(" dB:");
	for (int t = 0; t < N_NOISES; t++) {
		printf(" %s", noise_names[t]);
		for (int s = 0; s < N_SNRS; s++)
			printf("%s%llu", s ? "/" : " ", (unsigned long long)glitch_cell[t][s]);
	}
	printf("\n");

	printf("\ndrsn speech value as a VAD (frames labelled speech within 30 dB of the clip's loudest hop):\n");
	printf("%-8s %5s %6s %16s\n", "noise", "SNR", "AUC", "bal.acc. at 0.5");
	for (int t = 0; t < N_NOISES; t++)
		for (int s = 0; s < N_SNRS; s++)
			printf("%-8s %5.0f %6.3f %16.3f\n", noise_names[t], snrs[s], auc[t][s], bacc[t][s]);
	free(vad.v);
	free(scored);
	scored = NULL;
	cap_scored = n_scored = 0;
	free(noisy); free(clean); free(out); free(work); free(buf);
	free_clips(&c);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void speed(const char *mat, const float *real, size_t real_n, int rate, int runs, uint64_t sd)
{
	struct clips c;
	load_clips(&c, mat, rate);
	size_t n = 0;
	for (int i = 0; i < c.n; i++)
		n += c.len[i];
	float *noisy = malloc(n * sizeof(float)), *clean = malloc(n * sizeof(float));
	float *out = malloc((n + 4 * (size_t)rate) * sizeof(float));
	int16_t *buf = malloc((n + 4 * (size_t)rate) * sizeof(int16_t));
	size_t o = 0;
	for (int i = 0; i < c.n; i++) {   /* one long stream: clips in 5 dB real noise */
		mix(c.x[i], c.len[i], 3, 5.0f, real, real_n, sd + (uint64_t)i, noisy + o, clean + o);
		o += c.len[i];
	}
	double secs = (double)n / rate, xrt[N_SYS];
	for (int y = 0; y < N_SYS; y++) {
		double t[64];
		int r = runs < 64 ? runs : 64;
		for (int k = 0; k < r; k++) {
			double t0;
			if (y == 0) {
				drsn_denoise *d = drsn_new(rate);
				size_t hop = (size_t)drsn_denoise_hop(d);
				t0 = thread_seconds();
				for (size_t i = 0; i < n; i += hop)   /* live-like: one hop at a time */
					drsn_denoise_process(d, noisy + i, i + hop <= n ? hop : n - i, out + i);
				t[k] = thread_seconds() - t0;
				drsn_denoise_destroy(d);
			} else {
				int f = spx_frame(rate), sup = -25, on = 1;
				SpeexPreprocessState *st = speex_preprocess_state_init(f, rate);
				speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DENOISE, &on);
				if (y == 2)
					speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &sup);
				for (size_t i = 0; i < n; i++)
					buf[i] = (int16_t)lrintf(noisy[i] * 32768.0f);
				t0 = thread_seconds();
				for (size_t i = 0; i + (size_t)f <= n; i += (size_t)f)
					speex_preprocess_run(st, buf + i);
				t[k] = thread_seconds() - t0;
				speex_preprocess_state_destroy(st);
			}
		}
		qsort(t, (size_t)r, sizeof t[0], cmp_d);
		xrt[y] = secs / t[r / 2];
	}
	printf("speed at %5d Hz (x real time, one core, median of %d runs over %.1f s): drsn %.0fx, spx %.0fx, spx-25 %.0fx; drsn/spx %.2f\n",
	       rate, runs, secs, xrt[0], xrt[1], xrt[2], xrt[0] / xrt[1]);
	if (rate == 16000)
		printf("target: >= 300x real time at 16 kHz: %s\n", xrt[0] >= 300 ? "MET" : "NOT MET");
	free(noisy); free(clean); free(out); free(buf);
	free_clips(&c);
}

int main(int argc, char **argv)
{
	const char *mat = NULL, *noise = NULL;
	uint64_t sd = 1;
	int runs = 9, rate = 16000, do_speed = 1;
	cfg.strength = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--material") && v) { mat = v; i++; }
		else if (!strcmp(a, "--noise") && v) { noise = v; i++; }
		else if (!strcmp(a, "--seed") && v) { sd = strtoull(v, NULL, 10); i++; }
		else if (!strcmp(a, "--runs") && v) { runs = atoi(v); i++; }
		else if (!strcmp(a, "--rate") && v) { rate = atoi(v); i++; }
		else if (!strcmp(a, "--strength") && v) { cfg.strength = (float)atof(v); i++; }
		else if (!strcmp(a, "--frame-ms") && v) { cfg.frame_ms = (float)atof(v); i++; }
		else if (!strcmp(a, "--no-speed")) { do_speed = 0; }
		else if (!strcmp(a, "--set") && v && cfg.n_sets < MAX_SETS) {
			struct tune *t = &cfg.sets[cfg.n_sets++];
			const char *eq = strchr(v, '=');
			if (!eq || (size_t)(eq - v) >= sizeof t->name) {
				fprintf(stderr, "bench-denoise: --set NAME=VALUE\n");
				return 2;
			}
			memcpy(t->name, v, (size_t)(eq - v));
			t->name[eq - v] = '\0';
			t->value = (float)atof(eq + 1);
			i++;
		} else {
			fprintf(stderr, "usage: bench-denoise --material DIR --noise FILE [--seed N] [--runs N] "
				"[--rate HZ] [--strength DB] [--frame-ms MS] [--no-speed] [--set NAME=VALUE]...\n");
			return 2;
		}
	}
	if (!mat || !noise) {
		fprintf(stderr, "bench-denoise: --material and --noise are required\n");
		return 2;
	}
	if (runs < 1)
		runs = 1;

	int rates[2] = {rate, rate == 16000 ? 48000 : 16000};
	drsn_audio_opts o;
	drsn_audio_opts_default(&o);
	float *real[2];
	size_t real_n[2];
	for (int r = 0; r < 2; r++) {
		drsn_error err;
		o.target_rate = rates[r];
		if (drsn_audio_read_all(noise, &o, &real[r], &real_n[r], &err) < 0) {
			fprintf(stderr, "bench-denoise: %s\n", err.msg);
			return 1;
		}
	}
	printf("bench-denoise: seed %llu, real noise %s (%.1f s, looped from a seeded offset)\n",
	       (unsigned long long)sd, noise, (double)real_n[0] / rates[0]);
	quality(mat, real[0], real_n[0], rates[0], sd);
	if (do_speed) {
		printf("\n");
		speed(mat, rate == 16000 ? real[0] : real[1], rate == 16000 ? real_n[0] : real_n[1], 16000, runs, sd);
		speed(mat, rate == 16000 ? real[1] : real[0], rate == 16000 ? real_n[1] : real_n[0], 48000, runs, sd);
	}
	free(real[0]);
	free(real[1]);
	return 0;
}
