/* drsn tune [detect's options] [--truth CSV] [--max-fa-per-hour F] FILE...:
 * per-label thresholds for one's own room. Runs drsn detect's pipeline once
 * over the files, records every inference's smoothed probabilities, and
 * replays the pipeline's detector stage (src/pipeline/detector.h, the very
 * function drsn_pipeline runs) at other thresholds: the detections at a
 * threshold vector are exactly drsn detect's with those thresholds. With
 * -j N the pipeline runs over N files at once, each worker recording its
 * own files; the replay takes the files in input order, as with -j 1. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/label.h"
#include "drsn/drsn.h"
#include "pipeline/detector.h"

#define TOL 0.3   /* truth matching: as train/evaluate_stream.py */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: drsn tune [--model M] [OPTIONS] [--truth CSV] [--max-fa-per-hour F] FILE|FOLDER...\n\n"
		"Suggests per-label thresholds that keep false alarms down in your own room.\n"
		"Runs drsn detect's streaming pipeline (with the options below, as drsn detect\n"
		"takes them) once over recordings of the room (a folder: every audio file\n"
		"under it), then, for every label, replays the detector at thresholds 0.50 to\n"
		"1.00 (step 0.01; from the global threshold if lower) with the other labels at\n"
		"their current thresholds. The detections at a threshold are exactly drsn\n"
		"detect's at it. Prints per label the false alarms an hour at its current\n"
		"threshold and the lowest threshold from which on it stays at or under F false\n"
		"alarms an hour, then a [thresholds] block for drsnd.conf (the labels that need\n"
		"more than the global threshold; it replaces the one you have) and the same as\n"
		"drsn detect --label-threshold options, with the false alarms drsn detect gives\n"
		"with them on this audio. F is for each label: 20 labels at F make up to 20 F.\n"
		"Without --truth every detection is a false alarm (record the TV, the machines,\n"
		"talk that holds no keyword: the more hours, the surer). With --truth the CSV\n"
		"(a header naming label, start and end, e.g. label,word,start,end,voice; then\n"
		"one word a line, seconds; samples/README.md) lists the words said in a FILE:\n"
		"a detection whose window, widened by 0.3 s on each side, holds the centre of\n"
		"a listed word of its label in its file (each word found once) is a keyword\n"
		"found, any other a false alarm (as train/evaluate_stream.py counts).\n"
		"Several files: either one --truth for each FILE, in the order the files are\n"
		"read (a folder's in name order), or CSVs with a file column naming each row's\n"
		"recording (as on the command line, or from the CSV's folder); then every\n"
		"file needs a row: one with no keyword has its file and the rest empty\n"
		"(file,label,start,end: 'tv.wav,,,').\n"
		"Labels are not independent: at one inference only the most probable of the\n"
		"labels over their thresholds fires, so raising one label's threshold can let\n"
		"another fire where it used to win. The counts for the block come from a\n"
		"replay with all of it applied; a label still over F is raised further (up to\n"
		"5 rounds).\n"
		"  --truth CSV                 the keywords said in a FILE (repeat: one for each\n"
		"                              FILE in order), or in each file its rows name\n"
		"  --max-fa-per-hour F         false alarms an hour of each label to stay at or\n"
		"                              under [1]\n"
		"  --json                      one JSON object instead of the table\n");
	drsn__detect_usage_options(f);
}

struct rec;
struct file_rec {
	const char *name;
	size_t file;       /* its index in the files (struct drsn__detect's) */
	const struct rec *rec;   /* the record of its inferences (its -j worker's) */
	size_t first, n;   /* its inferences there */
	double audio_s;
	int ok;
};

struct truth {
	int label;
	double centre;
	size_t file;       /* the recording it is in (index in the files) */
};

struct rec {
	int nl;
	double window_s, refractory_s;
	const char *fires;
	size_t n, cap;      /* inferences */
	double *t;
	float *sm;          /* n x nl smoothed */
	int16_t *back;      /* n x nl: drsn__pipeline_peak_back */
	struct file_rec *f;
	size_t nf, capf;
	struct truth *truth;
	size_t n_truth, cap_truth;
	const struct drsn__cli_files *files;
	size_t next_file;   /* where on_start looks for its file first */
	int oom;
	const drsn_pipeline *p;
};

/* Room for c files: 0, or -1 with r->oom set. */
static int grow_files(struct rec *r, size_t c)
{
	struct file_rec *f = realloc(r->f, c * sizeof *f);
	if (!f) {
		r->oom = 1;
		return -1;
	}
	r->f = f;
	r->capf = c;
	return 0;
}

static void on_start(void *user, const char *file)
{
	struct rec *r = user;
	if (r->oom)
		return;
	if (r->nf == r->capf && grow_files(r, r->capf ? 2 * r->capf : 16) < 0)
		return;
	size_t i = r->next_file;   /* file is files->file[i].path: in order, some skipped */
	while (i < r->files->n && r->files->file[i].path != file)
		i++;
	r->next_file = i + 1;
	r->f[r->nf++] = (struct file_rec){file, i, r, r->n, 0, 0, 0};
}

static void on_end(void *user, const char *file, double audio_s)
{
	(void)file;
	struct rec *r = user;
	if (r->oom || !r->nf)
		return;
	struct file_rec *f = &r->f[r->nf - 1];
	f->n = r->n - f->first;
	f->audio_s = audio_s;
	f->ok = 1;
}

static void on_scores(void *user, double t, const float *probs, const float *smoothed, int nl)
{
	(void)probs;
	struct rec *r = user;
	if (r->oom)
		return;
	if (r->n == r->cap) {
		size_t c = r->cap ? 2 * r->cap : 4096;
		double *tt = realloc(r->t, c * sizeof *tt);
		if (tt)
			r->t = tt;
		float *sm = realloc(r->sm, c * (size_t)nl * sizeof *sm);
		if (sm)
			r->sm = sm;
		int16_t *bk = realloc(r->back, c * (size_t)nl * sizeof *bk);
		if (bk)
			r->back = bk;
		if (!tt || !sm || !bk) {
			r->oom = 1;
			return;
		}
		r->cap = c;
	}
	r->t[r->n] = t;
	memcpy(r->sm + r->n * (size_t)nl, smoothed, (size_t)nl * sizeof *smoothed);
	for (int l = 0; l < nl; l++)
		r->back[r->n * (size_t)nl + (size_t)l] = (int16_t)drsn__pipeline_peak_back(r->p, l);
	r->n++;
}

static int by_file(const void *a, const void *b)
{
	const struct file_rec *x = a, *y = b;
	return x->file < y->file ? -1 : x->file > y->file;
}

/* After a run on n workers (-j N), each with its own record of the files
 * it did and their inferences: the files of all of them in r, in input
 * order, as one worker records them (each pointing at its inferences, which
 * stay in its worker's record: nothing large is copied). 0, or -1 out of
 * memory (r->oom). */
static int merge(struct rec *r, const struct rec *wr, int n)
{
	size_t n_files = 0;
	for (int w = 0; w < n; w++) {
		n_files += wr[w].nf;
		r->oom |= wr[w].oom;
	}
	if (r->oom || (n_files && grow_files(r, n_files) < 0))
		return -1;
	for (int w = 0; w < n; w++) {
		if (wr[w].nf)
			memcpy(r->f + r->nf, wr[w].f, wr[w].nf * sizeof *r->f);
		r->nf += wr[w].nf;
	}
	if (r->nf > 1)
		qsort(r->f, r->nf, sizeof *r->f, by_file);
	return 0;
}

/* The detections drsn detect makes with thresholds thr, counted per label:
 * det (all), fa (matching no truth word), found (matching one). */
static void replay(const struct rec *r, const float *thr, int *det, int *fa, int *found,
		   double *last_fire, char *used)
{
	int nl = r->nl;
	memset(det, 0, (size_t)nl * sizeof *det);
	memset(fa, 0, (size_t)nl * sizeof *fa);
	memset(found, 0, (size_t)nl * sizeof *found);
	memset(used, 0, r->n_truth ? r->n_truth : 1);
	for (size_t fi = 0; fi < r->nf; fi++) {
		const struct file_rec *f = &r->f[fi];
		if (!f->ok)
			continue;
		for (int l = 0; l < nl; l++)
			last_fire[l] = -INFINITY;
		const struct rec *in = f->rec;   /* where its inferences are */
		for (size_t i = f->first; i < f->first + f->n; i++) {
			const float *sm = in->sm + i * (size_t)nl;
			int b = drsn__detector_pick(sm, thr, r->fires, last_fire, r->refractory_s, in->t[i], nl);
			if (b < 0)
				continue;
			last_fire[b] = in->t[i];
			det[b]++;
			/* start and end as pipeline.c's infer() makes them and drsn
			 * detect prints them (to 1e-4 s) */
			double end = in->t[i - (size_t)in->back[i * (size_t)nl + (size_t)b]];
			double start = end - r->window_s < 0 ? 0 : end - r->window_s;
			if (end > f->audio_s)
				end = f->audio_s;
			start = round(start * 1e4) / 1e4 - TOL;
			end = round(end * 1e4) / 1e4 + TOL;
			int hit = 0;
			for (size_t k = 0; k < r->n_truth && !hit; k++)
				if (!used[k] && r->truth[k].label == b && r->truth[k].file == f->file &&
				    start <= r->truth[k].centre &&
				    r->truth[k].centre <= end)
					used[k] = hit = 1;
			if (hit)
				found[b]++;
			else
				fa[b]++;
		}
	}
}

/* The input file a --truth row names (its file column): the path as given
 * (any spelling of one of the files: the same file; "-" for stdin), else
 * from the CSV's folder; -1 if none. */
static long truth_file(const struct drsn__cli_files *fl, const char *csv, const char *name)
{
	char rel[4096 + 256];
	const char *slash = strrchr(csv, '/');
	int has_rel = name[0] != '/' && slash &&
		      snprintf(rel, sizeof rel, "%.*s/%s", (int)(slash - csv), csv, name) < (int)sizeof rel;
	for (size_t i = 0; i < fl->n; i++)
		if (!strcmp(fl->file[i].path, name))
			return (long)i;
	for (size_t i = 0; i < fl->n; i++)
		if (drsn__cli_same_file(fl->file[i].path, name))
			return (long)i;
	for (size_t i = 0; has_rel && i < fl->n; i++)
		if (drsn__cli_same_file(fl->file[i].path, rel))
			return (long)i;
	return -1;
}

/* --truth CSV: a header with label, start and end columns (and file, to name
 * each row's recording); one word a line. Rows without a file column are for
 * file dflt. has[i] = 1 for each file a row is for; *has_file_col = 1 if
 * the CSV has a file column. 0, or -1 after an error on stderr
 * (*has_file_col is 2 then if it is a usage error: a file not among the
 * inputs). */
static int load_truth(struct rec *r, const char *path, const drsn_model *m, int *has_file_col,
		      long dflt, char *has)
{
	const struct drsn__cli_files *fl = r->files;
	FILE *f = fopen(path, "r");
	if (!f) {
		drsn__cli_err("tune: --truth %s: %s", path, strerror(errno));
		return -1;
	}
	char line[4096], last_name[4096] = "";
	long last_file = -1;
	int ln = 0, col_l = -1, col_s = -1, col_e = -1, col_f = -1, n_cols = 0, rc = -1;
	while (fgets(line, sizeof line, f)) {
		ln++;
		size_t len = strlen(line);
		if (len == sizeof line - 1 && line[len - 1] != '\n') {
			drsn__cli_err("tune: --truth %s:%d: line longer than %zu bytes", path, ln, sizeof line - 2);
			goto out;
		}
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		char *field[64];
		int nf = 0;
		for (char *s = line; nf < 64;) {
			field[nf++] = s;
			char *c = strchr(s, ',');
			if (!c)
				break;
			*c = 0;
			s = c + 1;
		}
		if (!n_cols) {   /* the header */
			for (int i = 0; i < nf; i++) {
				if (!strcmp(field[i], "label"))
					col_l = i;
				else if (!strcmp(field[i], "start"))
					col_s = i;
				else if (!strcmp(field[i], "end"))
					col_e = i;
				else if (!strcmp(field[i], "file"))
					col_f = i;
			}
			if (col_l < 0 || col_s < 0 || col_e < 0) {
				drsn__cli_err("tune: --truth %s:%d: the header must name the columns label, start and end "
					      "(as samples/stream-noisy.truth.csv: label,word,start,end,voice; "
					      "and file, for several recordings)", path, ln);
				goto out;
			}
			n_cols = nf;
			*has_file_col = col_f >= 0;
			continue;
		}
		if (nf != n_cols) {
			drsn__cli_err("tune: --truth %s:%d: %d fields, the header has %d", path, ln, nf, n_cols);
			goto out;
		}
		long file = dflt;
		if (col_f >= 0) {
			if (!field[col_f][0]) {
				drsn__cli_err("tune: --truth %s:%d: no file named (the file column names the "
					      "recording of each row)", path, ln);
				goto out;
			}
			if (strcmp(field[col_f], last_name)) {   /* rows of one file come together */
				last_file = truth_file(fl, path, field[col_f]);
				snprintf(last_name, sizeof last_name, "%s", field[col_f]);
			}
			if ((file = last_file) < 0) {
				drsn__cli_err("tune: --truth %s:%d: '%s' is not one of the input files (a path as "
					      "given on the command line, or from the CSV's folder)", path, ln,
					      field[col_f]);
				*has_file_col = 2;   /* a usage error */
				goto out;
			}
		}
		has[file] = 1;
		/* file,,, (no label, start, end): a recording with no keyword in it */
		if (col_f >= 0 && !field[col_l][0] && !field[col_s][0] && !field[col_e][0])
			continue;
		char *e1, *e2;
		double a = strtod(field[col_s], &e1), b = strtod(field[col_e], &e2);
		if (e1 == field[col_s] || *e1 || e2 == field[col_e] || *e2 || !isfinite(a) || !isfinite(b) ||
		    a < 0 || b < a) {
			drsn__cli_err("tune: --truth %s:%d: start '%s' and end '%s' must be seconds, 0 <= start <= end",
				      path, ln, field[col_s], field[col_e]);
			goto out;
		}
		int lab = -1;
		for (int l = 0; l < drsn_model_n_labels(m); l++)
			if (!strcmp(drsn_model_label(m, l), field[col_l]))
				lab = l;
		if (lab < 0) {
			fprintf(stderr, "drsn: tune: --truth %s:%d: no such label '%s' in the model (labels: ",
				path, ln, field[col_l]);
			drsn__cli_put_labels(stderr, m, ", ");
			fputs(")\n", stderr);
			goto out;
		}
		if (r->n_truth == r->cap_truth) {
			size_t c = r->cap_truth ? 2 * r->cap_truth : 64;
			struct truth *t = realloc(r->truth, c * sizeof *t);
			if (!t) {
				drsn__cli_err("tune: out of memory");
				goto out;
			}
			r->truth = t;
			r->cap_truth = c;
		}
		r->truth[r->n_truth++] = (struct truth){lab, (a + b) / 2, (size_t)file};
	}
	if (ferror(f)) {
		drsn__cli_err("tune: --truth %s: read error", path);
		goto out;
	}
	if (!n_cols) {
		drsn__cli_err("tune: --truth %s: empty (expected a header label,word,start,end,...)", path);
		goto out;
	}
	if (col_f < 0)
		has[dflt] = 1;   /* a header alone: no keyword in that recording */
	rc = 0;
out:
	fclose(f);
	return rc;
}

/* Every --truth CSV: either each with a file column, or each without, one
 * for each file in order. 0, or the exit code after an error on stderr. */
static int load_truths(struct rec *r, const char *const *paths, int n_paths, const drsn_model *m)
{
	const struct drsn__cli_files *fl = r->files;
	char *has = calloc(fl->n ? fl->n : 1, 1);
	int code = 1, with = 0, without = 0;
	if (!has) {
		drsn__cli_err("tune: out of memory");
		return 1;
	}
	for (int i = 0; i < n_paths; i++) {
		int col = 0;
		/* without a file column the i-th CSV is the i-th file's; checked below */
		long dflt = (size_t)i < fl->n ? i : (long)fl->n - 1;
		if (load_truth(r, paths[i], m, &col, dflt, has) < 0) {
			code = col == 2 ? 2 : 1;
			goto out;
		}
		if (col)
			with++;
		else
			without++;
		if (with && without) {
			drsn__cli_err("tune: --truth %s has %s file column and %s %s: give either CSVs with a file "
				      "column (each row naming its recording), or one CSV without it for each FILE, "
				      "in order", paths[i], col ? "a" : "no", paths[i - 1], col ? "has not" : "has");
			code = 2;
			goto out;
		}
	}
	if (without && (size_t)without != fl->n) {
		drsn__cli_err("tune: --truth without a file column describes one FILE: %d given for %zu file%s "
			      "(give one --truth for each FILE, in order, or one CSV with a file column naming "
			      "each row's recording)", without, fl->n, fl->n == 1 ? "" : "s");
		code = 2;
		goto out;
	}
	for (size_t i = 0; i < fl->n; i++) {
		if (!has[i] && !fl->file[i].error) {
			drsn__cli_err("tune: --truth: no row for %s, and the others have theirs (a recording "
				      "with no keyword in it: a row with its file and the other fields "
				      "empty, e.g. '%s,,,' for a header file,label,start,end)",
				      fl->file[i].path, fl->file[i].path);
			code = 2;
			goto out;
		}
	}
	code = 0;
out:
	free(has);
	return code;
}

/* LABEL=P as one shell word (quoted when the label needs it). */
static void put_shell_arg(FILE *f, const char *label, float p)
{
	char arg[256 + 16], q[4 * sizeof arg + 3];   /* a model's labels are < 256 bytes */
	snprintf(arg, sizeof arg, "%s=%.2f", label, p);
	fputs(strspn(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+") == strlen(label)
		      ? arg : drsn__cli_shell_quote(arg, q, sizeof q), f);
}

#define N_GRID 101

int drsn__cmd_tune(int argc, char **argv)
{
	enum { O_TRUTH = DRSN__DETECT_O_NEXT, O_MAXFA, O_JSON };
	static const struct option opts[] = {
		DRSN__DETECT_LONGOPTS,
		{"truth", required_argument, NULL, O_TRUTH},
		{"max-fa-per-hour", required_argument, NULL, O_MAXFA},
		{"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct drsn__detect d;
	const char *truth_paths[64], *truth_path = NULL;   /* truth_path: the first */
	int n_truth_paths = 0;
	float max_fa = 1;
	int c, bad = 0, json = 0;
	drsn__detect_init(&d, "tune");
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" DRSN__DETECT_SHORTOPTS "h", opts, NULL)) != -1) {
		if (drsn__detect_option(&d, c, optarg, &bad)) {
			if (bad)
				return 2;
		} else if (c == O_TRUTH) {
			if (n_truth_paths == (int)(sizeof truth_paths / sizeof *truth_paths)) {
				drsn__cli_err("tune: --truth: at most %zu (for more recordings: one CSV with a "
					      "file column)", sizeof truth_paths / sizeof *truth_paths);
				return 2;
			}
			truth_paths[n_truth_paths++] = optarg;
			truth_path = truth_paths[0];
		} else if (c == O_MAXFA) {
			if (drsn__cli_parse_float("tune", "--max-fa-per-hour", optarg, 0, 1e6f, &max_fa) < 0)
				return 2;
		} else if (c == O_JSON) {
			json = 1;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			return drsn__cli_bad_option("tune", c, argv, opts);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	struct rec r = {0}, *wr = NULL;   /* wr: each -j worker's record */
	int code = 1, nl = 0, n_wr = 0;
	float *cur = NULL, *v = NULL, *blk = NULL, grid[N_GRID];
	int *det = NULL, *fa = NULL, *found = NULL, *fa_now = NULL, *found_now = NULL, *kw = NULL;
	int *sug_i = NULL;
	double *last_fire = NULL;
	char *used = NULL;
	int orc = drsn__detect_open(&d, argv + optind, argc - optind);
	if (orc < 0) {
		code = orc == -2 ? 2 : 1;   /* -2: a usage error (a label the model lacks) */
		goto out;
	}
	r.files = &d.files;
	if (n_truth_paths && (code = load_truths(&r, truth_paths, n_truth_paths, d.m)) != 0)
		goto out;
	code = 1;
	nl = drsn_model_n_labels(d.m);
	r.nl = nl;
	r.p = d.p;
	r.window_s = drsn_pipeline_window_s(d.p);
	r.refractory_s = drsn__pipeline_refractory_s(d.p);
	r.fires = drsn__pipeline_fires(d.p);
	static const drsn_pipeline_events ev = {NULL, on_scores, NULL};
	/* -j N: each worker records its files (its own pipeline: peak_back);
	 * then r lists them all, in input order */
	wr = calloc((size_t)d.jobs, sizeof *wr);
	if (!wr) {
		drsn__cli_err("tune: out of memory");
		goto out;
	}
	n_wr = d.jobs;
	for (int w = 0; w < d.jobs; w++) {
		wr[w].nl = nl;
		wr[w].files = &d.files;
		wr[w].p = w == 0 ? d.p : d.wp[w - 1];
	}
	code = drsn__detect_run(&d, &ev, on_start, on_end, wr, sizeof *wr);
	merge(&r, wr, n_wr);
	if (r.oom) {
		drsn__cli_err("tune: out of memory (recording the scores)");
		code = 1;
		goto out;
	}
	double seconds = 0;
	int n_ok = 0;
	for (size_t i = 0; i < r.nf; i++)
		if (r.f[i].ok) {
			seconds += r.f[i].audio_s;
			n_ok++;
		}
	if (!n_ok || seconds <= 0) {
		drsn__cli_err("tune: no audio to tune on");
		code = 1;
		goto out;
	}
	double hours = seconds / 3600, limit = max_fa * hours;
	cur = malloc((size_t)nl * sizeof *cur);
	v = malloc((size_t)nl * sizeof *v);
	blk = malloc((size_t)nl * sizeof *blk);
	det = calloc((size_t)nl, sizeof *det);
	fa = calloc((size_t)nl, sizeof *fa);
	found = calloc((size_t)nl, sizeof *found);
	fa_now = calloc((size_t)nl, sizeof *fa_now);
	found_now = calloc((size_t)nl, sizeof *found_now);
	kw = calloc((size_t)nl, sizeof *kw);
	sug_i = calloc((size_t)nl, sizeof *sug_i);
	last_fire = malloc((size_t)nl * sizeof *last_fire);
	used = malloc(r.n_truth ? r.n_truth : 1);
	int *sfa = calloc((size_t)nl * N_GRID, sizeof *sfa), *sfound = calloc((size_t)nl * N_GRID, sizeof *sfound);
	if (!cur || !v || !blk || !det || !fa || !found || !fa_now || !found_now || !kw || !sug_i ||
	    !last_fire || !used || !sfa || !sfound) {
		free(sfa);
		free(sfound);
		drsn__cli_err("tune: out of memory");
		code = 1;
		goto out;
	}
	for (size_t k = 0; k < r.n_truth; k++) {
		int read = 0;   /* a file that could not be read has no keyword to find */
		for (size_t i = 0; i < r.nf && !read; i++)
			read = r.f[i].ok && r.f[i].file == r.truth[k].file;
		if (read && r.fires[r.truth[k].label])
			kw[r.truth[k].label]++;
	}
	/* thresholds exactly as drsn detect parses them ("0.83": strtof) */
	float g0 = floorf(d.o.threshold * 100) / 100;
	if (g0 > 0.5f)
		g0 = 0.5f;
	int ng = 0;
	for (int i = 0; i < N_GRID; i++) {
		char txt[16];
		snprintf(txt, sizeof txt, "%.2f", g0 + (1.0 - g0) * i / (N_GRID - 1) + 1e-9);
		float p = strtof(txt, NULL);
		if (!ng || p > grid[ng - 1])
			grid[ng++] = p;
	}
	for (int l = 0; l < nl; l++)
		cur[l] = d.thr[l] >= 0 ? d.thr[l] : d.o.threshold;
	replay(&r, cur, det, fa_now, found_now, last_fire, used);
	/* per label: the lowest grid threshold from which on its false alarms stay <= limit */
	for (int l = 0; l < nl; l++) {
		if (!r.fires[l])
			continue;
		memcpy(v, cur, (size_t)nl * sizeof *v);
		for (int g = 0; g < ng; g++) {
			v[l] = grid[g];
			replay(&r, v, det, fa, found, last_fire, used);
			sfa[l * N_GRID + g] = fa[l];
			sfound[l * N_GRID + g] = found[l];
		}
		int s = ng - 1;
		while (s > 0 && sfa[l * N_GRID + s - 1] <= limit)
			s--;
		sug_i[l] = s;
	}
	/* the block: labels whose suggestion is above the global threshold */
	for (int l = 0; l < nl; l++)
		blk[l] = r.fires[l] && grid[sug_i[l]] > d.o.threshold ? grid[sug_i[l]] : -1;
	for (int round_ = 0; round_ < 5; round_++) {
		for (int l = 0; l < nl; l++)
			v[l] = blk[l] >= 0 ? blk[l] : d.o.threshold;
		replay(&r, v, det, fa, found, last_fire, used);
		int raised = 0;
		for (int l = 0; l < nl; l++) {
			if (!r.fires[l] || fa[l] <= limit || v[l] >= grid[ng - 1])
				continue;
			float keep = v[l];
			for (int g = 0; g < ng; g++) {   /* the lowest above keep that is <= limit */
				if (grid[g] <= keep)
					continue;
				v[l] = grid[g];
				replay(&r, v, det, fa, found, last_fire, used);
				if (fa[l] <= limit || g == ng - 1) {
					blk[l] = grid[g];
					raised = 1;
					break;
				}
			}
			break;   /* one label a step: the others' counts moved */
		}
		if (!raised)
			break;
	}
	for (int l = 0; l < nl; l++)
		v[l] = blk[l] >= 0 ? blk[l] : d.o.threshold;
	replay(&r, v, det, fa, found, last_fire, used);   /* the block as drsn detect runs it */
	int fa_tot = 0, fo_tot = 0, fa_tot_now = 0, fo_tot_now = 0, kw_tot = 0, over = 0;
	for (int l = 0; l < nl; l++) {
		fa_tot += fa[l];
		fo_tot += found[l];
		fa_tot_now += fa_now[l];
		fo_tot_now += found_now[l];
		kw_tot += kw[l];
		over += r.fires[l] && fa[l] > limit;
	}

	if (json) {
		cJSON *o = cJSON_CreateObject(), *labs = cJSON_AddArrayToObject(o, "labels"),
		      *th = cJSON_AddObjectToObject(o, "thresholds");
		cJSON_AddNumberToObject(o, "seconds", round(seconds * 1e3) / 1e3);
		cJSON_AddNumberToObject(o, "files", n_ok);
		cJSON_AddNumberToObject(o, "threshold", round(d.o.threshold * 1e4) / 1e4);
		cJSON_AddNumberToObject(o, "max_fa_per_hour", max_fa);
		if (truth_path)
			cJSON_AddNumberToObject(o, "keywords", kw_tot);
		for (int l = 0; l < nl; l++) {
			if (!r.fires[l])
				continue;
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "label", drsn_model_label(d.m, l));
			cJSON_AddNumberToObject(e, "threshold", round(cur[l] * 1e4) / 1e4);
			cJSON_AddNumberToObject(e, "false_alarms", fa_now[l]);
			cJSON_AddNumberToObject(e, "lowest", round(grid[sug_i[l]] * 1e4) / 1e4);
			cJSON_AddNumberToObject(e, "lowest_false_alarms", sfa[l * N_GRID + sug_i[l]]);
			if (truth_path) {
				cJSON_AddNumberToObject(e, "keywords", kw[l]);
				cJSON_AddNumberToObject(e, "found", found_now[l]);
				cJSON_AddNumberToObject(e, "lowest_found", sfound[l * N_GRID + sug_i[l]]);
			}
			cJSON_AddNumberToObject(e, "suggested", round(v[l] * 1e4) / 1e4);
			cJSON_AddNumberToObject(e, "suggested_false_alarms", fa[l]);
			if (truth_path)
				cJSON_AddNumberToObject(e, "suggested_found", found[l]);
			cJSON_AddItemToArray(labs, e);
			if (blk[l] >= 0)
				cJSON_AddNumberToObject(th, drsn_model_label(d.m, l), round(blk[l] * 1e4) / 1e4);
		}
		cJSON_AddNumberToObject(o, "false_alarms", fa_tot_now);
		cJSON_AddNumberToObject(o, "suggested_false_alarms", fa_tot);
		if (truth_path) {
			cJSON_AddNumberToObject(o, "found", fo_tot_now);
			cJSON_AddNumberToObject(o, "suggested_found", fo_tot);
		}
		if (drsn__cli_print_json("tune", o) < 0)
			code = 1;
		free(sfa);
		free(sfound);
		goto out;
	}
	printf("%d file%s, %.1f min of audio; global threshold %.2f; aim: at most %g false alarm%s an hour\n",
	       n_ok, n_ok == 1 ? "" : "s", seconds / 60, d.o.threshold, max_fa, max_fa == 1 ? "" : "s");
	if (truth_path) {
		printf("truth: %d keywords (", kw_tot);
		for (int i = 0; i < n_truth_paths; i++)
			printf("%s%s", i ? ", " : "", truth_paths[i]);
		printf(")\n");
	}
	printf("\n%-12s %9s %9s %s %9s %9s%s\n", "label", "threshold", "FA/hour", truth_path ? "  found" : "",
	       "lowest", "FA/hour", truth_path ? "  found" : "");
	for (int l = 0; l < nl; l++) {
		if (!r.fires[l])
			continue;
		int s = sug_i[l];
		printf("%-12s %9.2f %9.1f ", drsn_model_label(d.m, l), cur[l], fa_now[l] / hours);
		if (truth_path)
			printf("%3d/%-3d ", found_now[l], kw[l]);
		printf("%s%8.2f %9.1f", s == 0 ? "<=" : "  ", grid[s], sfa[l * N_GRID + s] / hours);
		if (truth_path)
			printf("  %3d/%d", sfound[l * N_GRID + s], kw[l]);
		if (sfa[l * N_GRID + s] > limit)
			printf("  (over %g/hour even at %.2f)", max_fa, grid[s]);
		putchar('\n');
	}
	printf("\n(threshold: the label's now; lowest: the lowest threshold from which on the label\n"
	       "stays at or under %g false alarm%s an hour on this audio, the other labels as now)\n",
	       max_fa, max_fa == 1 ? "" : "s");
	printf("\nNow: %d false alarms (%.1f an hour)", fa_tot_now, fa_tot_now / hours);
	if (truth_path)
		printf(", %d of %d keywords found", fo_tot_now, kw_tot);
	printf(".\nWith the thresholds below (drsn detect with them on this audio): %d false alarms (%.1f an hour)",
	       fa_tot, fa_tot / hours);
	if (truth_path)
		printf(", %d of %d keywords found", fo_tot, kw_tot);
	printf(".\n");
	if (over)
		printf("%d label%s stay over %g an hour even at 1.00.\n", over, over == 1 ? "" : "s", max_fa);
	printf("\n# drsnd.conf (global threshold %.2f, [detect] threshold)\n[thresholds]\n", d.o.threshold);
	int n_blk = 0;
	for (int l = 0; l < nl; l++)
		if (blk[l] >= 0) {
			drsn__label_put_conf_key(stdout, drsn_model_label(d.m, l));
			printf(" = %.2f\n", blk[l]);
			n_blk++;
		}
	if (!n_blk)
		printf("; none: every label stays at or under %g an hour at the global threshold\n", max_fa);
	printf("\n# drsn detect\n");
	const char *sep = "";
	drsn_pipeline_opts def;
	drsn_pipeline_opts_default(&def);
	if (d.o.threshold != def.threshold) {
		printf("--threshold %.2f", d.o.threshold);
		sep = " ";
	}
	for (int l = 0; l < nl; l++)
		if (blk[l] >= 0) {
			printf("%s--label-threshold ", sep);
			put_shell_arg(stdout, drsn_model_label(d.m, l), blk[l]);
			sep = " ";
		}
	printf("%s\n", *sep ? "" : "(no option needed)");
	free(sfa);
	free(sfound);
	errno = 0;
	if (fflush(stdout) || ferror(stdout)) {   /* once, with its reason if known */
		if (!drsn__cli_stdout_failed())
			drsn__cli_err("tune: stdout: write error%s%s", errno ? ": " : "",
				      errno ? strerror(errno) : "");
		code = 1;
	}
out:
	drsn__detect_close(&d);
	for (int w = 0; w < n_wr; w++) {
		free(wr[w].t);
		free(wr[w].sm);
		free(wr[w].back);
		free(wr[w].f);
	}
	free(wr);
	free(r.f);
	free(r.truth);
	free(cur);
	free(v);
	free(blk);
	free(det);
	free(fa);
	free(found);
	free(fa_now);
	free(found_now);
	free(kw);
	free(sug_i);
	free(last_fire);
	free(used);
	return code;
}
