/* drsn features: log-mel features of an audio file (see drsn/features.h). */
#include <errno.h>
#include <math.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/npy.h"
#include "drsn/audio.h"
#include "drsn/features.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: drsn features [-p PARAMS.json] [--channel SEL] FILE [-o OUT.npy]\n"
		"       drsn features [-p PARAMS.json] --params\n"
		"\n"
		"Computes the streaming log-mel front end over FILE (any format libsndfile\n"
		"reads, resampled to the front end's rate and averaged to mono; '-' is stdin).\n"
		"  -o OUT.npy       write the frames x bands float32 matrix as a NumPy .npy file\n"
		"                   (without -o: print frames, bands and min/mean/max); it is\n"
		"                   replaced only when complete, and may not be FILE itself;\n"
		"                   '-': to stdout (not a terminal), once all frames are known\n"
		"  -p PARAMS.json   front-end parameters (keys as --params prints; missing keys\n"
		"                   keep their defaults)\n"
		"  --params         print the front-end parameters as JSON and exit\n"
		"  --channel SEL    which channels to average to mono: mix (all but those that\n"
		"                   are digital silence) [mix], N (1 = the first), a list 1,2\n"
		"                   or a range 1-4\n");
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

int drsn__cmd_features(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *params_path = NULL;
	int print_params = 0, rc = 1;
	uint64_t channels = 0;
	drsn_features_params p;
	drsn_features *fe = NULL;
	drsn_audio *a = NULL;
	drsn_error e;
	struct run r = {.min = DBL_MAX, .max = -DBL_MAX};

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(s, "--params")) {
			print_params = 1;
		} else if (!strcmp(s, "--channel")) {
			if (i + 1 >= argc) {
				drsn__cli_err("features: %s needs an argument", s);
				return 2;
			}
			if (drsn__cli_channel_arg("features", argv[++i], &channels) < 0)
				return 2;
		} else if (!strcmp(s, "-o") || !strcmp(s, "-p")) {
			if (i + 1 >= argc) {
				drsn__cli_err("features: %s needs an argument", s);
				return 2;
			}
			*(s[1] == 'o' ? &out : &params_path) = argv[++i];
		} else if (s[0] == '-' && s[1] != '\0') {
			drsn__cli_err("features: unknown option '%s' (try 'drsn features --help')", s);
			return 2;
		} else if (!in) {
			in = s;
		} else {
			drsn__cli_err("features: one input file only ('%s' and '%s')", in, s);
			return 2;
		}
	}
	if (out && !strcmp(out, "-") && isatty(STDOUT_FILENO)) {
		drsn__cli_err("features: -o -: not writing a binary .npy to a terminal (redirect "
			      "or pipe stdout)");
		return 2;
	}
	const char *inputs[] = {in, params_path};
	if (!print_params && drsn__cli_refuse_clash("features", out, inputs, 2))
		return 2;
	drsn_features_params_default(&p);
	if (params_path && load_params(params_path, &p) < 0)
		return 1;
	if (print_params) {
		char *j = drsn_features_params_to_json(&p);
		if (!j) {
			drsn__cli_err("features: out of memory");
			return 1;
		}
		printf("%s\n", j);
		free(j);
		return 0;
	}
	if (!in) {
		usage(stderr);
		return 2;
	}

	drsn_audio_opts o;
	drsn_audio_opts_default(&o);
	o.target_rate = p.sample_rate;
	if (drsn__cli_audio_open(&a, in, &o, channels, &e) < 0) {
		drsn__cli_err("%s", e.msg);
		goto cleanup;
	}
	if (drsn_features_create(&fe, &p, &e) < 0) {
		drsn__cli_err("%s", e.msg);
		goto cleanup;
	}
	if (!strcmp(in, "-"))
		in = "stdin";
	r.n_mels = p.n_mels;
	r.bad_frame = -1;
	r.to_mem = out && !strcmp(out, "-");
	if (out && !r.to_mem && drsn__npy_open(&r.npy, out, (size_t)p.n_mels, &e) < 0) {
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
		fprintf(stderr, "%s: %lld frames x %d bands -> %s\n", in, (long long)r.frames, p.n_mels, out);
	} else if (r.to_mem) {
		if (drsn__npy_write_f32_stream(stdout, "stdout", r.mem, (size_t)r.frames,
					       (size_t)p.n_mels, &e) < 0) {
			drsn__cli_err("%s", e.msg);
			goto cleanup;
		}
		fprintf(stderr, "%s: %lld frames x %d bands -> stdout\n", in, (long long)r.frames,
			p.n_mels);
	} else if (r.frames == 0) {
		printf("%s: 0 frames (%lld samples at %d Hz; a frame needs %d)\n", in, (long long)samples,
		       p.sample_rate, p.win_length);
	} else {
		printf("%s: %lld frames x %d bands (%.2f s at %d Hz, hop %d)\n"
		       "log-mel min %.3f mean %.3f max %.3f\n",
		       in, (long long)r.frames, p.n_mels, (double)samples / p.sample_rate, p.sample_rate,
		       p.hop_length, r.min, r.sum / ((double)r.frames * p.n_mels), r.max);
	}
	rc = 0;
cleanup:
	drsn__npy_abort(r.npy);  /* on error: no partial .npy, and OUT as it was */
	free(r.mem);
	drsn_features_destroy(fe);
	drsn_audio_close(a);
	return rc;
}
