/* drsn classify [--model M] [--top N] FILE...: each file is one window.
 *
 * The clip is read as mono at the model's front-end rate, rounded to 16-bit
 * steps, centre-padded with zeros or cropped around its word to the
 * training window (1 s), turned into log-mels with the model's front end and run once. This
 * is exactly what train/train.py does with a clip (corpusgen/layout.py's
 * fit_window, then int16, then frontend.py), so the accuracy over a test
 * split equals PyTorch's. One JSON line per file on stdout:
 *   {"file":"x.wav","label":"yes","score":0.93,"top":[["yes",0.93],...]}
 * or {"file":"x.wav","error":"..."} for a file that cannot be read (also on
 * stderr; the exit code is then 1, after all files). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/utf8.h"
#include "drsn/drsn.h"
#include "drsn_config.h"

#define CHUNK 4096

static void usage(FILE *f)
{
	fprintf(f,
		"usage: drsn classify [--model M] [--top N] [--channel SEL] [-j N] FILE|FOLDER...\n\n"
		"Classifies each file (a folder: every audio file under it, in name order;\n"
		"'-': stdin) as one window, centre-padded with silence or cropped around its\n"
		"word to the model's 1 s window as in training (over 10 s: its centre),\n"
		"and prints one JSON line per file:\n"
		"  {\"file\",\"label\",\"score\",\"top\":[[label,score],...]}\n"
		"  -m, --model PATH   (default %s)\n"
		"  -n, --top N        labels in \"top\", most probable first [3]; 0 = all\n"
		"  --channel SEL      which channels to average to mono: mix (all but those\n"
		"                     that are digital silence) [mix], N (1 = the first), a\n"
		"                     list 1,2 or a range 1-4\n"
		"  -j, --jobs N       files on N threads at once [1]; 0 or auto: one per online\n"
		"                     CPU; the output is the same, in the same order\n",
		drsn_default_model_path());
}

/* Training window in samples at the front-end rate: 1 s (train.py's
 * frames_for(16000)); if the model's frame count says otherwise, the
 * shortest clip that gives exactly its frames. */
static size_t window_samples(const drsn_features_params *p, int frames)
{
	if (drsn_features_frames_for(p, p->sample_rate) == frames)
		return (size_t)p->sample_rate;
	return (size_t)p->win_length + (size_t)(frames - 1) * (size_t)p->hop_length;
}

/* train.py keeps clips as int16: x rounded to those steps */
static float int16_step(float x)
{
	float q = rintf(x * 32768.0f);
	return (q > 32767.0f ? 32767.0f : q < -32768.0f ? -32768.0f : q) / 32768.0f;
}

/* layout.fit_window for audio of total samples and a window of n: the
 * audio from start, len samples, goes to win + at (centre-crop, or
 * centre-pad with zeros). */
static void window_span(uint64_t total, size_t n, uint64_t *start, size_t *len, size_t *at)
{
	/* total in 64 bits: a recording of more than 2^32 samples (74.5 h at
	 * 16 kHz) must not wrap where size_t is 32-bit (armhf) */
	*start = total > n ? (total - n) / 2 : 0;
	*len = total > n ? n : (size_t)total;
	*at = total > n ? 0 : (n - (size_t)total) / 2;
}

/* layout.fit_word's crop of x[0..nx), nx > n: where the window starts so
 * that it is centred on the word, layout.estimate_span (10 ms frames within
 * 30 dB of the loudest), and stays inside the clip. A recording made by hand
 * has its word anywhere, and a centre crop of a 2.5 s clip cuts off a word
 * said in its first or last second. */
#define SPAN_HOP 160
#define WORD_SEARCH 10   /* layout.WORD_SEARCH: longer, a recording's centre */

/* Whether a clip of total samples is cropped around its word (fit_word):
 * longer than the window n, and at most WORD_SEARCH windows. */
static int finds_word(uint64_t total, size_t n)
{
	return total > n && total <= (uint64_t)WORD_SEARCH * n;
}

static size_t word_start(const float *x, size_t nx, size_t n)
{
	size_t frames = nx / SPAN_HOP, first = 0, last = 0;
	double top = -INFINITY;
	for (int pass = 0; pass < 2; pass++) {
		int seen = 0;
		for (size_t f = 0; f < frames; f++) {
			double sum = 0.0;
			for (size_t i = 0; i < SPAN_HOP; i++)
				sum += (double)x[f * SPAN_HOP + i] * (double)x[f * SPAN_HOP + i];
			double db = 10.0 * log10(sum / SPAN_HOP + 1e-12);
			if (pass == 0) {
				if (db > top)
					top = db;
			} else if (db > top - 30.0) {
				if (!seen)
					first = f;
				last = f;
				seen = 1;
			}
		}
	}
	size_t mid = (first * SPAN_HOP + (last + 1) * SPAN_HOP) / 2;
	size_t a = mid > n / 2 ? mid - n / 2 : 0;
	return a > nx - n ? nx - n : a;
}

/* fit_word of x[0..nx) into win[0..n), each sample rounded to int16 steps. */
static void fit_window(const float *x, size_t nx, float *win, size_t n)
{
	uint64_t start;
	size_t len, at;
	window_span(nx, n, &start, &len, &at);
	if (finds_word(nx, n))
		start = word_start(x, nx, n);
	memset(win, 0, n * sizeof *win);
	for (size_t i = 0; i < len; i++)
		win[at + i] = int16_step(x[start + i]);
}

/* fit_window of file's audio into win, streamed through chunk (CHUNK
 * samples) when the audio's length is known and at most the window, or more
 * than WORD_SEARCH windows (a long recording: its centre, memory does not
 * grow with it). Else (a clip whose word must be found first, or a pipe), or
 * if the length was wrong, the whole audio in memory. 0, or negative with e naming the file. */
static int read_window(const char *file, const drsn_audio_opts *ao, uint64_t channels,
		       float *win, size_t n, float *chunk, const drsn_features_params *fp,
		       int *narrow_said, drsn_error *e)
{
	drsn_audio *a = NULL;
	float *x = NULL;
	size_t nx = 0, cap = 0;
	long k;
	int rc = drsn__cli_audio_open(&a, file, ao, channels, e);
	if (rc < 0)
		return rc;
	drsn__cli_warn_narrowband("classify", file, a, fp, narrow_said);
	drsn_audio_info info;
	drsn_audio_get_info(a, &info);
	if (info.out_frames >= 0 && !finds_word((uint64_t)info.out_frames, n)) {
		uint64_t total = (uint64_t)info.out_frames, pos = 0, start;
		size_t len, at;
		window_span(total, n, &start, &len, &at);
		float *dst = win + at;
		memset(win, 0, n * sizeof *win);
		while ((k = drsn_audio_read(a, chunk, CHUNK, e)) > 0) {
			for (long i = 0; i < k; i++, pos++)
				if (pos >= start && pos - start < len)
					dst[pos - start] = int16_step(chunk[i]);
		}
		drsn__cli_warn_bad_samples("classify", file, a);
		drsn_audio_close(a);
		if (k < 0 || pos == total || !strcmp(file, "-"))   /* stdin cannot be read again */
			return k < 0 ? (int)k : 0;
		/* a length that was not exact: the centre is elsewhere */
		if ((rc = drsn__cli_audio_open(&a, file, ao, channels, e)) < 0)
			return rc;
	}
	for (;;) {
		if (nx + CHUNK > cap) {
			cap = 2 * (nx + CHUNK);
			float *nb = realloc(x, cap * sizeof *x);
			if (!nb) {
				k = drsn__fail(e, -ENOMEM, "%s: out of memory", file);
				break;
			}
			x = nb;
		}
		if ((k = drsn_audio_read(a, x + nx, CHUNK, e)) <= 0)
			break;
		nx += (size_t)k;
	}
	drsn__cli_warn_bad_samples("classify", file, a);
	drsn_audio_close(a);
	if (k == 0)
		fit_window(x, nx, win, n);
	free(x);
	return (int)k;
}

static double round6(float x)
{
	return round((double)x * 1e6) / 1e6;
}

/* A worker's own context, front end and buffers, made once. */
struct classify_worker {
	drsn_ctx *ctx;
	drsn_features *fe;
	float *win, *chunk, *feats, *probs;
	int *order;
	int narrow_said;   /* the narrowband warning: once a run (a worker's) */
};
struct classify_job {
	drsn_model *m;
	const drsn_features_params *fp;
	const struct drsn__cli_files *files;
	drsn_audio_opts ao;
	uint64_t channels;
	size_t n;
	int nl, frames, top;
	struct classify_worker *w;
};

static int worker_open(struct classify_worker *w, const struct classify_job *j,
		       const char *model_path, drsn_error *e)
{
	if (drsn_ctx_create(&w->ctx, j->m, e) < 0) {
		drsn__cli_err("classify: %s", e->msg);
		return -1;
	}
	if (drsn_features_create(&w->fe, j->fp, e) < 0) {
		drsn__cli_err("classify: %s: %s", model_path, e->msg);
		return -1;
	}
	w->win = malloc(j->n * sizeof *w->win);
	w->chunk = malloc(CHUNK * sizeof *w->chunk);
	w->feats = malloc((size_t)j->frames * (size_t)drsn_model_bands(j->m) * sizeof *w->feats);
	w->probs = malloc((size_t)j->nl * sizeof *w->probs);
	w->order = malloc((size_t)j->nl * sizeof *w->order);
	if (!w->win || !w->chunk || !w->feats || !w->probs || !w->order) {
		drsn__cli_err("classify: out of memory");
		return -1;
	}
	return 0;
}

static void worker_close(struct classify_worker *w)
{
	free(w->order);
	free(w->probs);
	free(w->feats);
	free(w->win);
	free(w->chunk);
	drsn_features_destroy(w->fe);
	drsn_ctx_destroy(w->ctx);
}

/* File f on worker wi: 0, or 1 when it failed. */
static int classify_file(void *user, int wi, size_t f)
{
	struct classify_job *j = user;
	struct classify_worker *w = &j->w[wi];
	const char *file = j->files->file[f].path;
	int nl = j->nl, frames = j->frames;
	drsn_error e;
	if (j->files->file[f].error) {
		drsn__cli_file_error("classify", file, j->files->file[f].error);
		return 1;
	}
	if (read_window(file, &j->ao, j->channels, w->win, j->n, w->chunk, j->fp, &w->narrow_said,
			&e) < 0) {
		drsn__cli_file_error("classify", file, e.msg);
		return 1;
	}
	drsn_features_reset(w->fe);
	int64_t got = drsn_features_push_into(w->fe, w->win, j->n, w->feats, (size_t)frames);
	int rc = got == frames ? drsn_ctx_run(w->ctx, w->feats, w->probs) : -EINVAL;
	if (rc < 0) {
		char msg[DRSN_ERROR_MSG_MAX + 64];
		snprintf(msg, sizeof msg, "%s: %s", file,
			 got != frames ? "front end gave too few frames"
				       : "non-finite features (corrupt audio?)");
		drsn__cli_file_error("classify", file, msg);
		return 1;
	}
	/* top labels, most probable first (ties: lower index first) */
	const float *probs = w->probs;
	int *order = w->order;
	for (int i = 0; i < nl; i++)
		order[i] = i;
	for (int i = 1; i < nl; i++) {
		int k = order[i], x = i;
		for (; x > 0 && probs[order[x - 1]] < probs[k]; x--)
			order[x] = order[x - 1];
		order[x] = k;
	}
	cJSON *o = cJSON_CreateObject();
	drsn__utf8_add_string(o, "file", file);
	cJSON_AddStringToObject(o, "label", drsn_model_label(j->m, order[0]));
	cJSON_AddNumberToObject(o, "score", round6(probs[order[0]]));
	cJSON *t = cJSON_AddArrayToObject(o, "top");
	for (int i = 0; i < j->top; i++) {
		cJSON *pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, cJSON_CreateString(drsn_model_label(j->m, order[i])));
		cJSON_AddItemToArray(pair, cJSON_CreateNumber(round6(probs[order[i]])));
		cJSON_AddItemToArray(t, pair);
	}
	drsn__cli_print_json("classify", o);
	return 0;
}

int drsn__cmd_classify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'},
		{"top", required_argument, NULL, 'n'},
		{"channel", required_argument, NULL, 'c'},
		{"jobs", required_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *model_path = drsn_default_model_path();
	int top = 3, c, jobs = 1;
	uint64_t channels = 0;
	optind = 1;
	opterr = 0;   /* drsn__cli_bad_option says it, in one line */
	while ((c = getopt_long(argc, argv, ":m:n:hj:", opts, NULL)) != -1) {
		char *end;
		long v;
		switch (c) {
		case 'm': model_path = optarg; break;
		case 'n':
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 0 || v > 100000) {
				drsn__cli_err("classify: --top: '%s' is not an integer >= 0", optarg);
				return 2;
			}
			top = (int)v;
			break;
		case 'c':
			if (drsn__cli_channel_arg("classify", optarg, &channels) < 0)
				return 2;
			break;
		case 'j':
			if (drsn__cli_jobs_arg("classify", optarg, &jobs) < 0)
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default: return drsn__cli_bad_option("classify", c, argv, opts);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}

	int code = 1;
	struct classify_job j = {.channels = channels};
	struct drsn__cli_files files = {0};
	drsn_error e;
	if (drsn_model_load(&j.m, model_path, &e) < 0) {
		drsn__cli_model_error("classify", model_path, drsn__cli_model_from_env(model_path), e.msg);
		goto out;
	}
	j.fp = drsn_model_features_params(j.m);
	j.nl = drsn_model_n_labels(j.m);
	j.frames = drsn_model_frames(j.m);
	j.n = window_samples(j.fp, j.frames);
	j.top = top == 0 || top > j.nl ? j.nl : top;
	if (drsn__cli_files_collect(&files, argv + optind, argc - optind) < 0) {
		drsn__cli_err("classify: out of memory");
		goto out;
	}
	if (jobs > (int)files.n)   /* no more workers than files */
		jobs = files.n > 0 ? (int)files.n : 1;
	if (!(j.w = calloc((size_t)jobs, sizeof *j.w))) {
		drsn__cli_err("classify: out of memory");
		goto out;
	}
	for (int w = 0; w < jobs; w++)
		if (worker_open(&j.w[w], &j, model_path, &e) < 0)
			goto out;
	j.files = &files;
	drsn_audio_opts_default(&j.ao);
	j.ao.target_rate = j.fp->sample_rate;
	struct drsn__cli_jobs run = {.cmd = "classify", .jobs = jobs, .n = files.n,
				     .run = classify_file, .user = &j};
	code = drsn__cli_jobs_run(&run) || drsn__cli_stdout_failed();
out:
	drsn__cli_files_free(&files);
	for (int w = 0; j.w && w < jobs; w++)
		worker_close(&j.w[w]);
	free(j.w);
	drsn_model_free(j.m);
	return code;
}
