/* drsn detect [--model M] [options] FILE...: the streaming keyword pipeline
 * (include/drsn/pipeline.h, exactly what drsnd runs) over audio files,
 * offline. One JSON line per detection on stdout:
 *   {"file":"x.wav","label":"yes","score":0.93,"start":0.31,"end":1.30}
 * (seconds of stream time from the start of each file). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/closest.h"
#include "common/utf8.h"
#include "drsn/drsn.h"
#include "drsn_config.h"
#include "pipeline/detector.h"

#define CHUNK 1600

static int online_cpus(void)
{
	int n;
	drsn__cli_jobs_arg("detect", "auto", &n);
	return n;
}

void drsn__detect_usage_options(FILE *f)
{
	fprintf(f,
		"  -m, --model PATH            (default %s)\n"
		"  -t, --threshold P           global threshold [0.8]\n"
		"      --label-threshold L=P   per-label threshold (repeatable)\n"
		"      --inference-hop-ms N    [100]\n"
		"      --smoothing-ms N        [300]\n"
		"      --refractory-ms N       [1000]\n"
		"      --vad                   voice-activity gating\n"
		"      --vad-threshold-db DB   [-50]\n"
		"      --vad-hangover-ms N     [500]\n"
		"      --channel SEL           which channels to average to mono: mix (all but\n"
		"                              those that are digital silence) [mix], N (1 =\n"
		"                              the first), a list 1,2 or a range 1-4\n"
		"  -q, --quiet                 no progress bar (shown on a terminal for long batches)\n"
		"  -j, --jobs N                files on N threads at once [1]; 0 or auto: one per\n"
		"                              online CPU (%d here); the output is the same, in\n"
		"                              the same order\n",
		drsn_default_model_path(), online_cpus());
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: drsn detect [--model M] [OPTIONS] FILE|FOLDER...\n\n"
		"Runs drsnd's streaming detection pipeline over each file (a folder: every\n"
		"audio file under it, in name order; '-': stdin) and prints one JSON line per\n"
		"detection: {\"file\",\"label\",\"score\",\"start\",\"end\"} (seconds); a file\n"
		"that cannot be read gets {\"file\",\"error\"} (and a message on stderr).\n"
		"Each file is a stream of its own, with one window of silence before and after\n"
		"it, so a keyword at its very start or end is found too.\n"
		"The options are drsnd.conf's [detect] keys, with the same defaults:\n");
	drsn__detect_usage_options(f);
}

struct run {
	const char *file;
	int n;
};

static void on_detection(void *user, const drsn_detection *d)
{
	struct run *r = user;
	cJSON *o = cJSON_CreateObject();
	drsn__utf8_add_string(o, "file", r->file);   /* JSON is UTF-8, a file name need not be */
	cJSON_AddStringToObject(o, "label", d->name);
	cJSON_AddNumberToObject(o, "score", round(d->score * 1e4) / 1e4);
	cJSON_AddNumberToObject(o, "start", round(d->start * 1e4) / 1e4);
	cJSON_AddNumberToObject(o, "end", round(d->end * 1e4) / 1e4);
	int redraw = drsn__cli_progress_erase();
	drsn__cli_print_json("detect", o);
	if (redraw)
		drsn__cli_progress_redraw();
	r->n++;
}

static int parse_int(const char *cmd, const char *opt, const char *v, int lo, int hi, int *out)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (end == v || *end || x < lo || x > hi) {
		drsn__cli_err("%s: %s: '%s' is not an integer in [%d, %d]", cmd, opt, v, lo, hi);
		return -1;
	}
	*out = (int)x;
	return 0;
}

int drsn__cli_parse_float(const char *cmd, const char *opt, const char *v, float lo, float hi, float *out)
{
	char *end;
	float x = strtof(v, &end);
	if (end == v || *end || !(x >= lo && x <= hi)) {
		drsn__cli_err("%s: %s: '%s' is not a number in [%g, %g]", cmd, opt, v, lo, hi);
		return -1;
	}
	*out = x;
	return 0;
}

void drsn__detect_init(struct drsn__detect *d, const char *cmd)
{
	memset(d, 0, sizeof *d);
	d->cmd = cmd;
	d->model_path = drsn_default_model_path();
	d->jobs = 1;
	drsn_pipeline_opts_default(&d->o);
}

int drsn__detect_option(struct drsn__detect *d, int c, const char *arg, int *bad)
{
	const char *cmd = d->cmd;
	drsn_pipeline_opts *o = &d->o;
	int b = 0;
	switch (c) {
	case 'm': d->model_path = arg; break;
	case 't': b = drsn__cli_parse_float(cmd, "--threshold", arg, 0, 1, &o->threshold); break;
	case DRSN__DETECT_O_LT:
		if (d->n_lt == 64 || !strchr(arg, '=')) {
			drsn__cli_err("%s: --label-threshold '%s': expected LABEL=P (at most 64)", cmd, arg);
			b = 1;
		} else {
			/* P now, a usage error like -t's; LABEL once the model is
			 * loaded. P is after the last '=': a label may hold one. */
			const char *val = strrchr(arg, '=') + 1;
			b = drsn__cli_parse_float(cmd, "--label-threshold", val, 0, 1, &d->lt_p[d->n_lt]);
			d->lt[d->n_lt++] = arg;
		}
		break;
	case DRSN__DETECT_O_HOP: b = parse_int(cmd, "--inference-hop-ms", arg, DRSN_PIPELINE_HOP_MS_MIN, DRSN_PIPELINE_HOP_MS_MAX, &o->inference_hop_ms); break;
	case DRSN__DETECT_O_SMOOTH: b = parse_int(cmd, "--smoothing-ms", arg, 0, DRSN_PIPELINE_SMOOTHING_MS_MAX, &o->smoothing_ms); break;
	case DRSN__DETECT_O_REFR: b = parse_int(cmd, "--refractory-ms", arg, 0, DRSN_PIPELINE_REFRACTORY_MS_MAX, &o->refractory_ms); break;
	case DRSN__DETECT_O_VAD: o->vad = 1; break;
	case DRSN__DETECT_O_VADDB: b = drsn__cli_parse_float(cmd, "--vad-threshold-db", arg, DRSN_PIPELINE_VAD_DB_MIN, 0, &o->vad_threshold_db); break;
	case DRSN__DETECT_O_VADH: b = parse_int(cmd, "--vad-hangover-ms", arg, 0, DRSN_PIPELINE_HANGOVER_MS_MAX, &o->vad_hangover_ms); break;
	case DRSN__DETECT_O_CHAN: b = drsn__cli_channel_arg(cmd, arg, &d->channels); break;
	case 'q': d->quiet = 1; break;
	case 'j': b = drsn__cli_jobs_arg(cmd, arg, &d->jobs); break;
	default: return 0;
	}
	*bad = b != 0;
	return 1;
}

int drsn__detect_open(struct drsn__detect *d, char **args, int n_args)
{
	const char *cmd = d->cmd;
	drsn_error e;
	if (drsn_model_load(&d->m, d->model_path, &e) < 0) {
		drsn__cli_model_error(cmd, d->model_path, drsn__cli_model_from_env(d->model_path), e.msg);
		return -1;
	}
	int nl = drsn_model_n_labels(d->m);
	d->thr = malloc((size_t)nl * sizeof *d->thr);
	if (!d->thr) {
		drsn__cli_err("%s: out of memory", cmd);
		return -1;
	}
	for (int l = 0; l < nl; l++)
		d->thr[l] = -1;
	for (int i = 0; i < d->n_lt; i++) {
		const char *lt = d->lt[i], *eq = strrchr(lt, '=');
		int found = -1;
		for (int l = 0; l < nl; l++)
			if (strlen(drsn_model_label(d->m, l)) == (size_t)(eq - lt) &&
			    !strncmp(drsn_model_label(d->m, l), lt, (size_t)(eq - lt)))
				found = l;
		if (found < 0) {
			struct drsn__closest near;
			drsn__closest_init_n(&near, lt, (size_t)(eq - lt));
			for (int l = 0; l < nl; l++)
				drsn__closest_add(&near, drsn_model_label(d->m, l));
			fprintf(stderr, "drsn: %s: --label-threshold '%s': no such label '%.*s' in %s%s (labels: ",
				cmd, lt, (int)(eq - lt), lt, d->model_path, drsn__closest_hint(&near, ""));
			drsn__cli_put_labels(stderr, d->m, ", ");
			fputs(")\n", stderr);
			return -2;   /* a bad argument, as -t 2 is */
		}
		d->thr[found] = d->lt_p[i];
	}
	d->o.thresholds = d->thr;
	if (drsn_pipeline_create(&d->p, d->m, &d->o, &e) < 0) {
		drsn__cli_err("%s: %s", cmd, e.msg);
		return -1;
	}
	if (drsn__cli_files_collect(&d->files, args, n_args) < 0) {
		drsn__cli_err("%s: out of memory", cmd);
		return -1;
	}
	/* -j N: a pipeline for each other worker (the model is shared); no more
	 * workers than files */
	if (d->jobs > (int)d->files.n)
		d->jobs = d->files.n > 0 ? (int)d->files.n : 1;
	if (d->jobs > 1 && !(d->wp = calloc((size_t)d->jobs - 1, sizeof *d->wp))) {
		drsn__cli_err("%s: out of memory", cmd);
		return -1;
	}
	for (int w = 0; w < d->jobs - 1; w++) {
		if (drsn_pipeline_create(&d->wp[w], d->m, &d->o, &e) < 0) {
			drsn__cli_err("%s: %s", cmd, e.msg);
			return -1;
		}
	}
	return 0;
}

/* One run of drsn__detect_run: what its workers share, and each one's own. */
struct detect_worker {
	drsn_pipeline *p;
	float *buf;          /* CHUNK samples */
	int narrow_said;     /* the narrowband warning: once a run (a worker's) */
	void *user;
};
struct detect_job {
	struct drsn__detect *d;
	const drsn_pipeline_events *ev;
	void (*file_start)(void *user, const char *file);
	void (*file_end)(void *user, const char *file, double audio_s);
	struct detect_worker *w;
	int rate, show_bar, n_files;
	double total;
	_Atomic long long done;   /* samples read, all files */
};

/* File i on worker w: 0, or 1 when it failed. */
static int detect_file(void *user, int w, size_t i)
{
	struct detect_job *j = user;
	struct drsn__detect *d = j->d;
	struct detect_worker *wk = &j->w[w];
	const char *cmd = d->cmd;
	const char *file = d->files.file[i].path;
	drsn_audio *a = NULL;
	drsn_error e;
	int code = 0;
	if (d->files.file[i].error) {
		drsn__cli_progress_erase();
		drsn__cli_file_error(cmd, file, d->files.file[i].error);
		return 1;
	}
	drsn_audio_opts ao;
	drsn_audio_opts_default(&ao);
	ao.target_rate = j->rate;
	if (drsn__cli_audio_open(&a, file, &ao, d->channels, &e) < 0) {
		drsn__cli_progress_erase();
		drsn__cli_file_error(cmd, file, e.msg);
		return 1;
	}
	/* (drsn__cli_err erases the bar; the next update draws it again) */
	drsn__cli_warn_narrowband(cmd, file, a, drsn_model_features_params(d->m), &wk->narrow_said);
	drsn_pipeline_reset(wk->p);
	const int64_t failed_before = drsn__pipeline_failed(wk->p);
	if (j->file_start)
		j->file_start(wk->user, file);
	long n = 0;
	while (!drsn__cli_stdout_failed() && (n = drsn_audio_read(a, wk->buf, CHUNK, &e)) > 0) {
		drsn_pipeline_push(wk->p, wk->buf, (size_t)n, j->ev, wk->user);
		long long done = atomic_fetch_add(&j->done, (long long)n) + n;
		if (j->show_bar && (done / n) % 50 == 0)   /* long long: 32-bit long on armhf */
			drsn__cli_progress((double)done, j->total, (int)i + 1, j->n_files);
	}
	double audio_s = drsn_pipeline_time(wk->p);
	if (n < 0) {
		drsn__cli_progress_erase();
		drsn__cli_file_error(cmd, file, e.msg);
		code = 1;
	} else if (!drsn__cli_stdout_failed()) {
		drsn_pipeline_finish(wk->p, j->ev, wk->user);   /* score the last second in full */
		if (j->file_end)
			j->file_end(wk->user, file, audio_s);
	}
	/* the network's output was not finite (weights that overflow float32):
	 * those windows were never scored, so nothing said is not "no keyword" */
	int64_t failed = drsn__pipeline_failed(wk->p) - failed_before;
	if (failed > 0) {
		drsn__cli_progress_erase();
		drsn__cli_err("%s: %s: %lld of the network's runs gave a non-finite output and were "
			      "skipped (a damaged or wrongly exported model?)", cmd, file, (long long)failed);
		code = 1;
	}
	if (drsn_audio_bad_samples(a) > 0) {
		drsn__cli_progress_erase();
		drsn__cli_warn_bad_samples(cmd, file, a);
	}
	drsn_audio_close(a);
	return code;
}

/* -j N: the bar of all the audio read, at the first file not yet printed. */
static void detect_tick(void *user, size_t next, const void *workers, int n_workers)
{
	struct detect_job *j = user;
	(void)workers;
	(void)n_workers;
	if (j->show_bar && next < (size_t)j->n_files)
		drsn__cli_progress((double)atomic_load(&j->done), j->total, (int)next + 1, j->n_files);
}

int drsn__detect_run(struct drsn__detect *d, const drsn_pipeline_events *ev,
		     void (*file_start)(void *user, const char *file),
		     void (*file_end)(void *user, const char *file, double audio_s), void *user,
		     size_t user_size)
{
	const char *cmd = d->cmd;
	drsn_audio *a = NULL;
	int jobs = d->jobs > 1 ? d->jobs : 1, code = 1;
	struct detect_job j = {.d = d, .ev = ev, .file_start = file_start, .file_end = file_end};
	atomic_init(&j.done, 0LL);
	j.w = calloc((size_t)jobs, sizeof *j.w);
	if (!j.w)
		goto nomem;
	for (int w = 0; w < jobs; w++) {   /* each worker's pipeline and buffer, made once */
		j.w[w].p = w == 0 ? d->p : d->wp[w - 1];
		j.w[w].user = (char *)user + (size_t)w * user_size;
		if (!(j.w[w].buf = malloc(CHUNK * sizeof *j.w[w].buf)))
			goto nomem;
	}
	j.rate = drsn_model_features_params(d->m)->sample_rate;
	j.n_files = (int)d->files.n;
	j.show_bar = !d->quiet && isatty(2);
	/* total audio, for the progress bar (only when it will be shown) */
	if (j.show_bar) {
		for (size_t i = 0; i < d->files.n; i++) {
			drsn_audio_opts ao;
			drsn_audio_opts_default(&ao);
			ao.target_rate = j.rate;
			if (!d->files.file[i].error && strcmp(d->files.file[i].path, "-") &&
			    drsn_audio_open(&a, d->files.file[i].path, &ao, NULL) == 0) {
				drsn_audio_info info;
				drsn_audio_get_info(a, &info);
				j.total += info.out_frames > 0 ? (double)info.out_frames : 0;
				drsn_audio_close(a);
				a = NULL;
			}
		}
		j.show_bar = j.total > 30.0 * j.rate;   /* long batches only */
	}
	struct drsn__cli_jobs run = {.cmd = cmd, .jobs = jobs, .n = d->files.n, .run = detect_file,
				     .tick = detect_tick, .user = &j};
	code = drsn__cli_jobs_run(&run);
	if (drsn__cli_stdout_failed()) {   /* said once: stop, exit 1 */
		drsn__cli_progress_erase();
		code = 1;
	} else if (j.show_bar) {
		drsn__cli_progress(j.total, j.total, j.n_files, j.n_files);
		fputc('\n', stderr);
	}
	goto cleanup;
nomem:
	drsn__cli_err("%s: out of memory", cmd);
cleanup:
	for (int w = 0; j.w && w < jobs; w++)
		free(j.w[w].buf);
	free(j.w);
	return code;
}

void drsn__detect_close(struct drsn__detect *d)
{
	drsn__cli_files_free(&d->files);
	for (int w = 0; d->wp && w < d->jobs - 1; w++)
		drsn_pipeline_destroy(d->wp[w]);
	free(d->wp);
	d->wp = NULL;
	drsn_pipeline_destroy(d->p);
	drsn_model_free(d->m);
	free(d->thr);
	d->p = NULL;
	d->m = NULL;
	d->thr = NULL;
}

static void file_start(void *user, const char *file)
{
	struct run *r = user;
	r->file = file;
}

int drsn__cmd_detect(int argc, char **argv)
{
	static const struct option opts[] = {
		DRSN__DETECT_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct drsn__detect d;
	int c, bad = 0;
	drsn__detect_init(&d, "detect");
	optind = 1;
	opterr = 0;   /* drsn__cli_bad_option says it, in one line */
	while ((c = getopt_long(argc, argv, ":" DRSN__DETECT_SHORTOPTS "h", opts, NULL)) != -1) {
		if (drsn__detect_option(&d, c, optarg, &bad)) {
			if (bad)
				return 2;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			return drsn__cli_bad_option("detect", c, argv, opts);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	int code = 1, orc = drsn__detect_open(&d, argv + optind, argc - optind);
	if (orc == -2)
		code = 2;
	if (orc == 0) {
		static const drsn_pipeline_events ev = {on_detection, NULL, NULL};
		struct run *r = calloc((size_t)d.jobs, sizeof *r);   /* one per worker */
		if (r)
			code = drsn__detect_run(&d, &ev, file_start, NULL, r, sizeof *r);
		else
			drsn__cli_err("detect: out of memory");
		free(r);
	}
	drsn__detect_close(&d);
	return code;
}
