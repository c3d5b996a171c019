/* drsn detect [--model M] [options] FILE...: the streaming keyword pipeline
 * (include/drsn/pipeline.h, exactly what drsnd runs) over audio files,
 * offline. One JSON line per detection on stdout:
 *   {"file":"x.wav","label":"yes","score":0.93,"start":0.31,"end":1.30}
 * (seconds of stream time from the start of each file). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/utf8.h"
#include "drsn/drsn.h"
#include "drsn_config.h"

#define CHUNK 1600

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
		"The options are drsnd.conf's [detect] keys, with the same defaults:\n"
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
		"  -q, --quiet                 no progress bar (shown on a terminal for long batches)\n",
		drsn_default_model_path());
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

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (end == v || *end || x < lo || x > hi) {
		drsn__cli_err("detect: %s: '%s' is not an integer in [%d, %d]", opt, v, lo, hi);
		return -1;
	}
	*out = (int)x;
	return 0;
}

static int parse_float(const char *opt, const char *v, float lo, float hi, float *out)
{
	char *end;
	float x = strtof(v, &end);
	if (end == v || *end || !(x >= lo && x <= hi)) {
		drsn__cli_err("detect: %s: '%s' is not a number in [%g, %g]", opt, v, lo, hi);
		return -1;
	}
	*out = x;
	return 0;
}

int drsn__cmd_detect(int argc, char **argv)
{
	enum { O_LT = 256, O_HOP, O_SMOOTH, O_REFR, O_VAD, O_VADDB, O_VADH, O_CHAN };
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'},
		{"threshold", required_argument, NULL, 't'},
		{"label-threshold", required_argument, NULL, O_LT},
		{"inference-hop-ms", required_argument, NULL, O_HOP},
		{"smoothing-ms", required_argument, NULL, O_SMOOTH},
		{"refractory-ms", required_argument, NULL, O_REFR},
		{"vad", no_argument, NULL, O_VAD},
		{"vad-threshold-db", required_argument, NULL, O_VADDB},
		{"vad-hangover-ms", required_argument, NULL, O_VADH},
		{"channel", required_argument, NULL, O_CHAN},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *model_path = drsn_default_model_path();
	const char *lt[64];
	float lt_p[64];
	int n_lt = 0, quiet = 0, c, code = 1;
	uint64_t channels = 0;
	drsn_pipeline_opts o;
	drsn_pipeline_opts_default(&o);
	optind = 1;
	opterr = 0;   /* drsn__cli_bad_option says it, in one line */
	while ((c = getopt_long(argc, argv, ":m:t:qh", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'm': model_path = optarg; break;
		case 't': bad = parse_float("--threshold", optarg, 0, 1, &o.threshold); break;
		case O_LT:
			if (n_lt == 64 || !strchr(optarg, '=')) {
				drsn__cli_err("detect: --label-threshold '%s': expected LABEL=P (at most 64)", optarg);
				bad = 1;
			} else {
				/* P now, a usage error like -t's; LABEL once the model is
				 * loaded. P is after the last '=': a label may hold one. */
				const char *val = strrchr(optarg, '=') + 1;
				bad = parse_float("--label-threshold", val, 0, 1, &lt_p[n_lt]);
				lt[n_lt++] = optarg;
			}
			break;
		case O_HOP: bad = parse_int("--inference-hop-ms", optarg, DRSN_PIPELINE_HOP_MS_MIN, DRSN_PIPELINE_HOP_MS_MAX, &o.inference_hop_ms); break;
		case O_SMOOTH: bad = parse_int("--smoothing-ms", optarg, 0, DRSN_PIPELINE_SMOOTHING_MS_MAX, &o.smoothing_ms); break;
		case O_REFR: bad = parse_int("--refractory-ms", optarg, 0, DRSN_PIPELINE_REFRACTORY_MS_MAX, &o.refractory_ms); break;
		case O_VAD: o.vad = 1; break;
		case O_VADDB: bad = parse_float("--vad-threshold-db", optarg, DRSN_PIPELINE_VAD_DB_MIN, 0, &o.vad_threshold_db); break;
		case O_VADH: bad = parse_int("--vad-hangover-ms", optarg, 0, DRSN_PIPELINE_HANGOVER_MS_MAX, &o.vad_hangover_ms); break;
		case O_CHAN: bad = drsn__cli_channel_arg("detect", optarg, &channels); break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: return drsn__cli_bad_option("detect", c, argv);
		}
		if (bad)
			return 2;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}

	drsn_model *m = NULL;
	drsn_pipeline *p = NULL;
	float *thr = NULL, *buf = NULL;
	drsn_audio *a = NULL;
	struct drsn__cli_files files = {0};
	drsn_error e;
	if (drsn_model_load(&m, model_path, &e) < 0) {
		drsn__cli_err("detect: %s", e.msg);
		goto out;
	}
	int nl = drsn_model_n_labels(m);
	thr = malloc((size_t)nl * sizeof *thr);
	buf = malloc(CHUNK * sizeof *buf);
	if (!thr || !buf) {
		drsn__cli_err("detect: out of memory");
		goto out;
	}
	for (int l = 0; l < nl; l++)
		thr[l] = -1;
	for (int i = 0; i < n_lt; i++) {
		const char *eq = strrchr(lt[i], '=');
		int found = -1;
		for (int l = 0; l < nl; l++)
			if (strlen(drsn_model_label(m, l)) == (size_t)(eq - lt[i]) &&
			    !strncmp(drsn_model_label(m, l), lt[i], (size_t)(eq - lt[i])))
				found = l;
		if (found < 0) {
			fprintf(stderr, "drsn: detect: --label-threshold '%s': no such label '%.*s' in %s (labels: ",
				lt[i], (int)(eq - lt[i]), lt[i], model_path);
			drsn__cli_put_labels(stderr, m, ", ");
			fputs(")\n", stderr);
			goto out;
		}
		thr[found] = lt_p[i];
	}
	o.thresholds = thr;
	if (drsn_pipeline_create(&p, m, &o, &e) < 0) {
		drsn__cli_err("detect: %s", e.msg);
		goto out;
	}
	if (drsn__cli_files_collect(&files, argv + optind, argc - optind) < 0) {
		drsn__cli_err("detect: out of memory");
		goto out;
	}
	int rate = drsn_model_features_params(m)->sample_rate;
	int n_files = (int)files.n;
	int show_bar = !quiet && isatty(2);
	/* total audio, for the progress bar (only when it will be shown) */
	double total = 0, done = 0;
	if (show_bar) {
		for (size_t i = 0; i < files.n; i++) {
			drsn_audio_opts ao;
			drsn_audio_opts_default(&ao);
			ao.target_rate = rate;
			if (!files.file[i].error && strcmp(files.file[i].path, "-") &&
			    drsn_audio_open(&a, files.file[i].path, &ao, NULL) == 0) {
				drsn_audio_info info;
				drsn_audio_get_info(a, &info);
				total += info.out_frames > 0 ? (double)info.out_frames : 0;
				drsn_audio_close(a);
				a = NULL;
			}
		}
		show_bar = total > 30.0 * rate;   /* long batches only */
	}
	code = 0;
	int narrow_said = 0;   /* the narrowband warning: once a run */
	for (size_t i = 0; i < files.n && !drsn__cli_stdout_failed(); i++) {
		struct run r = {files.file[i].path, 0};
		if (files.file[i].error) {
			drsn__cli_progress_erase();
			drsn__cli_file_error("detect", r.file, files.file[i].error);
			code = 1;
			continue;
		}
		drsn_audio_opts ao;
		drsn_audio_opts_default(&ao);
		ao.target_rate = rate;
		if (drsn__cli_audio_open(&a, r.file, &ao, channels, &e) < 0) {
			drsn__cli_progress_erase();
			drsn__cli_file_error("detect", r.file, e.msg);
			code = 1;
			continue;
		}
		/* (drsn__cli_err erases the bar; the next update draws it again) */
		drsn__cli_warn_narrowband("detect", r.file, a, drsn_model_features_params(m), &narrow_said);
		drsn_pipeline_reset(p);
		static const drsn_pipeline_events ev = {on_detection, NULL, NULL};
		long n = 0;
		while (!drsn__cli_stdout_failed() && (n = drsn_audio_read(a, buf, CHUNK, &e)) > 0) {
			drsn_pipeline_push(p, buf, (size_t)n, &ev, &r);
			done += (double)n;
			if (show_bar && ((int64_t)done / n) % 50 == 0)   /* long: 32 bits on armhf */
				drsn__cli_progress(done, total, (int)i + 1, n_files);
		}
		if (n < 0) {
			drsn__cli_progress_erase();
			drsn__cli_file_error("detect", r.file, e.msg);
			code = 1;
		} else if (!drsn__cli_stdout_failed()) {
			drsn_pipeline_finish(p, &ev, &r);   /* score the last second in full */
		}
		if (drsn_audio_bad_samples(a) > 0) {
			drsn__cli_progress_erase();
			drsn__cli_warn_bad_samples("detect", r.file, a);
		}
		drsn_audio_close(a);
		a = NULL;
	}
	if (drsn__cli_stdout_failed()) {   /* said once: stop, exit 1 */
		drsn__cli_progress_erase();
		code = 1;
	} else if (show_bar) {
		drsn__cli_progress(total, total, n_files, n_files);
		fputc('\n', stderr);
	}
out:
	drsn__cli_files_free(&files);
	drsn_pipeline_destroy(p);
	drsn_model_free(m);
	free(thr);
	free(buf);
	return code;
}
