/* drsn features: log-mel features of an audio file (see drsn/features.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/npy.h"
#include "drsn/audio.h"
#include "drsn/features.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: drsn features [-p PARAMS.json] [--channel SEL] FILE [-o OUT.npy]\n"
		"       drsn features [-p PARAMS.json] [--channel SEL] [-j N] FILE|FOLDER... [-o OUT_FOLDER]\n"
		"       drsn features [-p PARAMS.json] --params\n"
		"\n"
		"Computes the streaming log-mel front end over FILE (any format libsndfile\n"
		"reads, resampled to the front end's rate and averaged to mono; '-' is stdin).\n"
		"Several files, or a folder (every audio file under it, in name order): each\n"
		"file as one FILE would be; a file that cannot be read is said on stderr, the\n"
		"others go on, and the exit code is then 1. With -o, OUT_FOLDER (created) gets\n"
		"one .npy for each file, its whole name and '.npy': a file given by itself\n"
		"at OUT_FOLDER/NAME.npy (x.wav: x.wav.npy), a folder's files at their path\n"
		"under that folder (IN/a/x.wav: OUT_FOLDER/a/x.wav.npy, as drsn denoise\n"
		"IN_FOLDER OUT_FOLDER). Two files that would get one .npy, or a .npy that is\n"
		"an input, are refused before anything is written. -o an existing folder\n"
		"with one FILE writes FILE's .npy into it.\n"
		"  -o OUT.npy       write the frames x bands float32 matrix as a NumPy .npy file\n"
		"                   (without -o: print frames, bands and min/mean/max); it is\n"
		"                   replaced only when complete, and may not be FILE itself;\n"
		"                   '-': to stdout (not a terminal), once all frames are known\n"
		"  -o OUT_FOLDER    several files, or a folder: a .npy for each file, as above\n"
		"  -p PARAMS.json   front-end parameters (keys as --params prints; missing keys\n"
		"                   keep their defaults)\n"
		"  --params         print the front-end parameters as JSON and exit\n"
		"  --channel SEL    which channels to average to mono: mix (all but those that\n"
		"                   are digital silence) [mix], N (1 = the first), a list 1,2\n"
		"                   or a range 1-4\n"
		"  -j, --jobs N     several files: N at once, on N threads [1]; 0 or auto: one\n"
		"                   per online CPU; the same .npy files and lines, in the same\n"
		"                   order\n");
}

static int load_params(const char *path, drsn_features_params *p)
{
	int rc = -EIO;
	FILE *f = fopen(path, "rb");
	if (!f) {
		drsn__cli_err("%s: cannot open: %s", path, strerror(errno));
		return -errno;
	}
	char buf[8192];
	size_t n = fread(buf, 1, sizeof buf, f);
	if (ferror(f) || !feof(f)) {
		drsn__cli_err("%s: %s", path, ferror(f) ? "read error" : "larger than 8 KiB, not a params file");
		goto cleanup;
	}
	drsn_error e;
	if ((rc = drsn_features_params_from_json(p, buf, n, &e)) < 0)
		drsn__cli_err("%s: %s", path, e.msg);
cleanup:
	fclose(f);
	return rc;
}

struct run {
	drsn__npy_writer *npy;
	float *mem;           /* -o -: every frame, for the .npy on stdout */
	size_t mem_cap;       /* in frames */
	int to_mem;
	drsn_error err;
	int failed;
	int n_mels;
	double sum, min, max;
	int64_t frames;
	int64_t bad_frame;    /* first frame with a NaN or infinity, or -1 */
};

static void on_frame(void *user, const float *mel, int64_t idx)
{
	struct run *r = user;
	r->frames++;
	for (int m = 0; r->bad_frame < 0 && m < r->n_mels; m++)
		if (!isfinite(mel[m]))
			r->bad_frame = idx;
	if (r->npy) {
		if (!r->failed && drsn__npy_append(r->npy, mel, 1, &r->err) < 0)
			r->failed = 1;
		return;
	}
	if (r->to_mem) {
		size_t have = (size_t)r->frames - 1;
		if (r->failed)
			return;
		if (have == r->mem_cap) {
			size_t cap = r->mem_cap ? 2 * r->mem_cap : 1024;
			float *m = cap > SIZE_MAX / sizeof *m / (size_t)r->n_mels ? NULL :
				realloc(r->mem, cap * (size_t)r->n_mels * sizeof *m);
			if (!m) {
				snprintf(r->err.msg, sizeof r->err.msg, "stdout: out of memory for "
					 "%zu frames of features", cap);
				r->failed = 1;
				return;
			}
			r->mem = m;
			r->mem_cap = cap;
		}
		memcpy(r->mem + have * (size_t)r->n_mels, mel, (size_t)r->n_mels * sizeof *mel);
		return;
	}
	for (int m = 0; m < r->n_mels; m++) {
		r->sum += mel[m];
		if (mel[m] < r->min)
			r->min = mel[m];
		if (mel[m] > r->max)
			r->max = mel[m];
	}
}

/* A summary on stdout (drsn__cli_print_line: kept with its file on a -j
 * worker): 0, or 1 when it could not be written (said). */
static int print_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int print_fmt(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = n < 0 ? NULL : malloc((size_t)n + 1);
	if (!s) {
		drsn__cli_err("features: out of memory");
		return 1;
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = drsn__cli_print_line("features", s, (size_t)n) < 0;
	free(s);
	return rc;
}

/* The features of in: to out (a .npy; "-": stdout), or a summary on stdout
 * without out. 0, or 1 after an error on stderr (it names the file). */
static int features_file(const char *in, const char *out, const drsn_features_params *p,
			 uint64_t channels)
{
	int rc = 1;
	drsn_features *fe = NULL;
	drsn_audio *a = NULL;
	drsn_error e;
	struct run r = {.min = DBL_MAX, .max = -DBL_MAX};
	drsn_audio_opts o;
	drsn_audio_opts_default(&o);
	o.target_rate = p->sample_rate;
	if (drsn__cli_audio_open(&a, in, &o, channels, &e) < 0) {
		drsn__cli_err("%s", e.msg);
		goto cleanup;
	}
	if (drsn_features_create(&fe, p, &e) < 0) {
		drsn__cli_err("%s", e.msg);
		goto cleanup;
	}
	if (!strcmp(in, "-"))
		in = "stdin";
	r.n_mels = p->n_mels;
	r.bad_frame = -1;
	r.to_mem = out && !strcmp(out, "-");
	if (out && !r.to_mem && drsn__npy_open(&r.npy, out, (size_t)p->n_mels, &e) < 0) {
		drsn__cli_err("%s", e.msg);
		goto cleanup;
	}
	float buf[4096];
	long n;
	int64_t samples = 0;
	while ((n = drsn_audio_read(a, buf, sizeof buf / sizeof buf[0], &e)) > 0) {
		drsn_features_push(fe, buf, (size_t)n, on_frame, &r);
		samples += n;
		if (r.failed)
			break;
	}
	if (n < 0) {
		drsn__cli_err("%s", e.msg);
		goto cleanup;
	}
	if (r.to_mem && r.failed) {
		drsn__cli_err("%s", r.err.msg);
		goto cleanup;
	}
	drsn__cli_warn_bad_samples("features", in, a);
	if (r.bad_frame >= 0) {   /* as drsn classify: no numbers made of NaN */
		drsn__cli_err("%s: non-finite features from frame %lld on (NaN or infinite samples: corrupt "
			      "audio?)%s", in, (long long)r.bad_frame, out ? "; nothing written" : "");
		goto cleanup;
	}
	if (r.npy) {
		drsn__npy_writer *w = r.npy;
		r.npy = NULL;
		if (drsn__npy_close(w, &e) < 0) {
			drsn__cli_err("%s", e.msg);
			goto cleanup;
		}
		drsn__cli_note("%s: %lld frames x %d bands -> %s", in, (long long)r.frames, p->n_mels, out);
	} else if (r.to_mem) {
		if (drsn__npy_write_f32_stream(stdout, "stdout", r.mem, (size_t)r.frames,
					       (size_t)p->n_mels, &e) < 0) {
			drsn__cli_err("%s", e.msg);
			goto cleanup;
		}
		fprintf(stderr, "%s: %lld frames x %d bands -> stdout\n", in, (long long)r.frames,
			p->n_mels);
	} else if (r.frames == 0) {
		rc = print_fmt("%s: 0 frames (%lld samples at %d Hz; a frame needs %d)", in,
			       (long long)samples, p->sample_rate, p->win_length);
		goto cleanup;
	} else {
		/* flushed as each file is done: to a log, and before a Ctrl-C */
		rc = print_fmt("%s: %lld frames x %d bands (%.2f s at %d Hz, hop %d)\n"
			       "log-mel min %.3f mean %.3f max %.3f",
			       in, (long long)r.frames, p->n_mels, (double)samples / p->sample_rate,
			       p->sample_rate, p->hop_length, r.min, r.sum / ((double)r.frames * p->n_mels),
			       r.max);
		goto cleanup;
	}
	rc = 0;
cleanup:
	drsn__npy_abort(r.npy);  /* on error: no partial .npy, and OUT as it was */
	free(r.mem);
	drsn_features_destroy(fe);
	drsn_audio_close(a);
	return rc;
}

static int is_folder(const char *path)
{
	struct stat st;
	return strcmp(path, "-") && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The .npy of file f (of fl, collected from args) under out_dir: a folder's
 * file at its path relative to that folder, a file at its name, with ".npy"
 * after its whole name (x.wav and x.flac side by side do not meet). NULL if
 * it has no name (stdin) or out of memory (*oom then 1). */
static char *npy_path(const char *out_dir, const struct drsn__cli_file *f, char **args, int *oom)
{
	const char *arg = args[f->arg], *rel;
	if (!strcmp(f->path, "-"))
		return NULL;
	if (is_folder(arg)) {
		rel = f->path + strlen(arg);
		while (*rel == '/')
			rel++;
	} else {
		rel = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
	}
	size_t olen = strlen(out_dir);
	while (olen > 1 && out_dir[olen - 1] == '/')
		olen--;   /* "out/" and "out" name the same files */
	char *o = malloc(olen + 1 + strlen(rel) + sizeof ".npy");
	if (!o) {
		*oom = 1;
		return NULL;
	}
	sprintf(o, "%.*s/%s.npy", (int)olen, out_dir, rel);
	return o;
}

struct named {
	const char *out;
	size_t file;
};

static int by_out(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->out, ((const struct named *)b)->out);
}

struct inode {
	dev_t dev;
	ino_t ino;
	size_t file;
};

static int by_inode(const void *a, const void *b)
{
	const struct inode *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

struct features_job {
	const struct drsn__cli_files *fl;
	char **outs;          /* each file's .npy, or NULL: without -o */
	const char *out_dir;
	const drsn_features_params *p;
	uint64_t channels;
};

/* File i of several (on -j worker w): 0, or 1 when it failed. */
static int features_one(void *user, int w, size_t i)
{
	const struct features_job *j = user;
	const struct drsn__cli_file *f = &j->fl->file[i];
	char *out = j->outs ? j->outs[i] : NULL;
	int mrc;
	(void)w;   /* a front end is made for each file: nothing of a worker's own */
	if (f->error) {
		drsn__cli_err("features: %s", f->error);
		return 1;
	}
	if (drsn__cli_stdout_failed())   /* said once already: do no more files */
		return 1;
	if (j->out_dir && !out) {
		drsn__cli_err("features: stdin ('-') has no name for a .npy in %s: give it alone, "
			      "with -o OUT.npy", j->out_dir);
		return 1;
	}
	if (out && (mrc = drsn__cli_make_parents(out)) < 0) {
		drsn__cli_err("features: %s: cannot create its folder: %s", out, strerror(-mrc));
		return 1;
	}
	return features_file(f->path, out, j->p, j->channels);
}

/* Several inputs, or a folder: each file's features to its own .npy under
 * out_dir (npy_path), or each one's summary without it. A file that fails
 * is said and the rest go on: 1 at the end, 2 for a usage error found
 * before any file is read (two files to one .npy, a .npy that is an input).
 * jobs files at once (drsn__cli_jobs_run: the output as one at a time). */
static int features_files(char **args, int n_args, const char *out_dir, const drsn_features_params *p,
			  uint64_t channels, int jobs)
{
	struct drsn__cli_files fl;
	char **outs = NULL;
	struct named *order = NULL;
	struct inode *ino = NULL;
	int rc = 1, oom = 0, failed = 0;
	if (drsn__cli_files_collect(&fl, args, n_args) < 0) {
		drsn__cli_err("features: out of memory");
		return 1;
	}
	if (out_dir) {
		outs = calloc(fl.n + 1, sizeof *outs);
		order = malloc((fl.n + 1) * sizeof *order);
		ino = malloc((fl.n + 1) * sizeof *ino);
		size_t n_ino = 0, n_out = 0;
		for (size_t i = 0; outs && order && ino && i < fl.n && !oom; i++) {
			struct stat st;
			if (fl.file[i].error)
				continue;
			if (!(outs[i] = npy_path(out_dir, &fl.file[i], args, &oom)))
				continue;
			order[n_out++] = (struct named){outs[i], i};
			if (stat(fl.file[i].path, &st) == 0 && S_ISREG(st.st_mode))
				ino[n_ino++] = (struct inode){st.st_dev, st.st_ino, i};
		}
		if (!outs || !order || !ino || oom) {
			drsn__cli_err("features: out of memory");
			goto out;
		}
		/* two files to one .npy: the second would replace the first */
		qsort(order, n_out, sizeof *order, by_out);
		for (size_t k = 1; k < n_out; k++) {
			if (!strcmp(order[k - 1].out, order[k].out)) {
				drsn__cli_err("features: %s and %s would both be written to %s: give them "
					      "separately, or rename one", fl.file[order[k - 1].file].path,
					      fl.file[order[k].file].path, order[k].out);
				rc = 2;
				goto out;
			}
		}
		/* a .npy that is an input (one named .npy, or a link to one) */
		qsort(ino, n_ino, sizeof *ino, by_inode);
		for (size_t k = 0; k < n_out; k++) {
			struct stat st;
			if (stat(order[k].out, &st) < 0)
				continue;
			struct inode key = {st.st_dev, st.st_ino, 0}, *hit;
			hit = bsearch(&key, ino, n_ino, sizeof *ino, by_inode);
			if (hit) {
				drsn__cli_err("features: output %s is the same file as input %s: refusing to "
					      "overwrite the input (choose another output folder)",
					      order[k].out, fl.file[hit->file].path);
				rc = 2;
				goto out;
			}
		}
		if (mkdir(out_dir, 0777) < 0 && errno != EEXIST) {
			drsn__cli_err("features: %s: cannot create the folder: %s", out_dir, strerror(errno));
			goto out;
		}
	}
	if (jobs > (int)fl.n)   /* no more workers than files */
		jobs = fl.n > 0 ? (int)fl.n : 1;
	struct features_job j = {.fl = &fl, .outs = outs, .out_dir = out_dir, .p = p, .channels = channels};
	struct drsn__cli_jobs run = {.cmd = "features", .jobs = jobs, .n = fl.n, .run = features_one,
				     .user = &j};
	failed = drsn__cli_jobs_run(&run) || drsn__cli_stdout_failed();
	rc = failed;
out:
	for (size_t i = 0; outs && i < fl.n; i++)
		free(outs[i]);
	free(outs);
	free(order);
	free(ino);
	drsn__cli_files_free(&fl);
	return rc;
}

int drsn__cmd_features(int argc, char **argv)
{
	const char *out = NULL, *params_path = NULL;
	int print_params = 0, n_in = 0, jobs = 1, jo;
	uint64_t channels = 0;
	drsn_features_params p;
	char **ins = malloc((size_t)argc * sizeof *ins);
	if (!ins) {
		drsn__cli_err("features: out of memory");
		return 1;
	}
	int rc = 2, opts = 1;   /* opts: 0 after "--" */
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (opts && !strcmp(s, "--")) {
			opts = 0;
		} else if (!opts || s[0] != '-' || !s[1]) {   /* a FILE ('-': stdin) */
			ins[n_in++] = argv[i];
		} else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			usage(stdout);
			rc = 0;
			goto out;
		} else if ((jo = drsn__cli_jobs_option("features", argc, argv, &i, &jobs)) != 0) {
			if (jo < 0)
				goto out;
		} else if (!strcmp(s, "--params")) {
			print_params = 1;
		} else if (!strcmp(s, "--channel")) {
			if (i + 1 >= argc) {
				drsn__cli_err("features: %s needs an argument", s);
				goto out;
			}
			if (drsn__cli_channel_arg("features", argv[++i], &channels) < 0)
				goto out;
		} else if (!strcmp(s, "-o") || !strcmp(s, "-p")) {
			if (i + 1 >= argc) {
				drsn__cli_err("features: %s needs an argument", s);
				goto out;
			}
			*(s[1] == 'o' ? &out : &params_path) = argv[++i];
		} else {
			drsn__cli_err("features: unknown option '%s' (try 'drsn features --help')", s);
			goto out;
		}
	}
	/* several inputs, or a folder: -o names a folder (as drsn denoise IN_FOLDER OUT_FOLDER) */
	int many = n_in > 1 || (n_in == 1 && is_folder(ins[0]));
	if (!print_params && out && (many || is_folder(out))) {
		struct stat st;
		if (!strcmp(out, "-")) {
			drsn__cli_err("features: -o -: one input file only (%s); -o FOLDER writes a .npy "
				      "for each file", n_in > 1 ? "several given" : "a folder given");
			goto out;
		}
		if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) {
			drsn__cli_err("features: with %s, -o names a folder (a .npy for each file in it): "
				      "'%s' is a file", n_in > 1 ? "several inputs" : "a folder", out);
			goto out;
		}
	} else if (out && !strcmp(out, "-") && isatty(STDOUT_FILENO)) {
		drsn__cli_err("features: -o -: not writing a binary .npy to a terminal (redirect "
			      "or pipe stdout)");
		goto out;
	}
	const char *inputs[] = {n_in ? ins[0] : NULL, params_path};
	if (!print_params && !many && drsn__cli_refuse_clash("features", out, inputs, 2))
		goto out;
	drsn_features_params_default(&p);
	if (params_path && load_params(params_path, &p) < 0) {
		rc = 1;
		goto out;
	}
	if (print_params) {
		char *j = drsn_features_params_to_json(&p);
		rc = 0;
		if (!j) {
			drsn__cli_err("features: out of memory");
			rc = 1;
			goto out;
		}
		printf("%s\n", j);
		free(j);
		goto out;
	}
	if (!n_in) {
		usage(stderr);
		goto out;
	}
	if (many || (out && is_folder(out)))
		rc = features_files(ins, n_in, out, &p, channels, jobs);
	else
		rc = features_file(ins[0], out, &p, channels);
out:
	free(ins);
	return rc;
}
