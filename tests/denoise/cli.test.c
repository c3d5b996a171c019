/* drsn denoise end to end: rate, channels, length and alignment of OUT,
 * per-channel processing, pass-through at --strength 0, the --vad CSV,
 * integer outputs rounded (not truncated), OUT '-' on a pipe, --vad -,
 * a WAVEX input's speaker layout, .mp3 and .opus outputs, RF64 where a
 * WAV could not hold OUT, ADPCM IN (16-bit OUT, of IN's length),
 * errors that name the file, IN_FOLDER OUT_FOLDER (-j N: as -j 1), outputs that are the
 * input (refused), outputs left as they were by a failed run and by Ctrl-C,
 * the progress bar on a terminal, OUT '-' on a terminal (refused) and on
 * a regular file (a WAV), a failed write naming its cause, a folder run
 * where an output would be an input (refused), folder extensions (.BWF).
 * argv[1] is the drsn executable, argv[2] drsn built with a 1 MB WAV limit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include "common/test_files.h"

static const char *drsn;
static char dir[64];

static void path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static void write_wav(const char *p, int rate, int ch, int format, const float *x, sf_count_t frames)
{
	SF_INFO si = {.samplerate = rate, .channels = ch, .format = format};
	SNDFILE *f = sf_open(p, SFM_WRITE, &si);
	assert_non_null(f);
	assert_int_equal(sf_writef_float(f, x, frames), frames);
	sf_close(f);
}

static float *read_wav(const char *p, SF_INFO *si)
{
	memset(si, 0, sizeof *si);
	SNDFILE *f = sf_open(p, SFM_READ, si);
	if (!f)
		fail_msg("%s: %s", p, sf_strerror(NULL));
	float *x = malloc((size_t)si->frames * (size_t)si->channels * sizeof *x);
	assert_int_equal(sf_readf_float(f, x, si->frames), si->frames);
	sf_close(f);
	return x;
}

static int run(const char *args, char *err, size_t errn)
{
	char a[2048];
	snprintf(a, sizeof a, "denoise %s", args);
	return drsn__test_run(drsn, dir, a, NULL, 0, err, errn);
}

/* Run drsn denoise ARGS, which must succeed and write out with the input's
 * rate, channels, length and format; returns out's samples (free them). */
static float *denoise_file(const char *args, const char *out, int rate, int ch, int frames, int format)
{
	char err[1024];
	int rc = run(args, err, sizeof err);
	if (rc != 0)
		fail_msg("drsn denoise %s: exit %d: %s", args, rc, err);
	SF_INFO si;
	float *y = read_wav(out, &si);
	assert_int_equal(si.samplerate, rate);
	assert_int_equal(si.channels, ch);
	assert_int_equal(si.frames, frames);
	assert_int_equal(si.format, format);
	return y;
}

static uint64_t rs = 12345;
static float gauss(void)
{
	double u, v;
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	u = ((double)(rs >> 11) + 0.5) / 9007199254740992.0;
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	v = ((double)(rs >> 11) + 0.5) / 9007199254740992.0;
	return (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

/* seconds of 16 kHz mono Gaussian noise (sigma 0.2) to p, as format */
static void write_noise(const char *p, int seconds, int format)
{
	const sf_count_t n = (sf_count_t)seconds * 16000;
	float *x = malloc((size_t)n * sizeof *x);
	assert_non_null(x);
	for (sf_count_t i = 0; i < n; i++)
		x[i] = 0.2f * gauss();
	write_wav(p, 16000, 1, format, x, n);
	free(x);
}

static void test_stereo_each_channel(void **state)
{
	(void)state;
	const int rate = 16000, n = rate * 6;
	float *x = malloc(2 * (size_t)n * sizeof *x), *clean = malloc((size_t)n * sizeof *clean);
	for (int i = 0; i < n; i++) {
		double t = (double)i / rate;
		clean[i] = fmod(t, 0.8) < 0.3 ? 0.2f * (float)sin(2 * M_PI * 700 * t) : 0.0f;
		x[2 * i] = clean[i] + 0.1f * gauss();
		x[2 * i + 1] = 0.0f;   /* a silent second channel stays silent */
	}
	char in[128], out[128], args[512];
	path(in, sizeof in, "stereo.wav");
	path(out, sizeof out, "stereo_out.wav");
	write_wav(in, rate, 2, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, n);
	snprintf(args, sizeof args, "'%s' '%s'", in, out);
	float *y = denoise_file(args, out, rate, 2, n, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	double s = 0, e_in = 0, e_out = 0;
	for (int i = rate * 2; i < n; i++) {   /* after the noise estimate settles */
		s += (double)clean[i] * clean[i];
		e_in += pow(x[2 * i] - clean[i], 2);
		e_out += pow(y[2 * i] - clean[i], 2);
		assert_true(y[2 * i + 1] == 0.0f);
	}
	double before = 10 * log10(s / e_in), after = 10 * log10(s / e_out);
	print_message("drsn denoise, tone bursts in noise: SNR %.2f -> %.2f dB (aligned with IN)\n", before, after);
	assert_true(after > before + 6);
	free(x);
	free(clean);
	free(y);
}

static void test_strength_zero_passes_through_48k_float(void **state)
{
	(void)state;
	const int rate = 48000, n = rate * 2 + 17;
	float *x = malloc((size_t)n * sizeof *x);
	for (int i = 0; i < n; i++)
		x[i] = 0.3f * gauss();
	char in[128], out[128], vad[128], args[512];
	path(in, sizeof in, "mono48.wav");
	path(out, sizeof out, "mono48_out.wav");
	path(vad, sizeof vad, "vad.csv");
	write_wav(in, rate, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT, x, n);
	snprintf(args, sizeof args, "--strength 0 --vad '%s' '%s' '%s'", vad, in, out);
	float *y = denoise_file(args, out, rate, 1, n, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
	for (int i = 0; i < n; i++)
		assert_true(fabsf(y[i] - x[i]) < 1e-5f);

	FILE *f = fopen(vad, "r");
	assert_non_null(f);
	char line[128];
	assert_non_null(fgets(line, sizeof line, f));
	assert_string_equal(line, "time_s,speech\n");
	int rows = 0;
	double t, p, last = -1;
	while (fscanf(f, "%lf,%lf", &t, &p) == 2) {
		assert_true(p >= 0 && p <= 1 && t > last);
		last = t;
		rows++;
	}
	fclose(f);
	assert_true(rows > 2.0 / 0.016 - 5);   /* one row per 16 ms hop */
	free(x);
	free(y);
}

/* Integer outputs are the float output rounded to nearest: libsndfile's
 * clipping float-to-int conversion truncates (-0.5 LSB of DC, errors up to
 * 1 LSB), so drsn converts itself. The same samples in as 16-bit and as
 * float WAV; the 16/24-bit and 8-bit outputs against the float one. */
static void test_integer_output_rounds(void **state)
{
	(void)state;
	const int rate = 16000, n = rate * 2;
	float *x = malloc((size_t)n * sizeof *x);
	for (int i = 0; i < n; i++)
		x[i] = (float)lrint(3000 * gauss()) / 32768.0f;   /* exact in every format below */
	static const struct { const char *name; int sub, bits; } fmt[] = {
		{"q16", SF_FORMAT_PCM_16, 16},
		{"q24", SF_FORMAT_PCM_24, 24},
		{"qu8", SF_FORMAT_PCM_U8, 8},
	};
	char in[128], out[128], args[512];
	path(in, sizeof in, "qf.wav");
	path(out, sizeof out, "qf_out.wav");
	write_wav(in, rate, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT, x, n);
	snprintf(args, sizeof args, "'%s' '%s'", in, out);
	float *ref = denoise_file(args, out, rate, 1, n, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
	for (size_t f = 0; f < sizeof fmt / sizeof fmt[0]; f++) {
		char name[32];
		snprintf(name, sizeof name, "%s.wav", fmt[f].name);
		path(in, sizeof in, name);
		snprintf(name, sizeof name, "%s_out.wav", fmt[f].name);
		path(out, sizeof out, name);
		if (fmt[f].bits == 8)   /* the 8-bit input must hold the samples exactly too */
			for (int i = 0; i < n; i++)
				x[i] = (float)lrint(x[i] * 128) / 128.0f;
		write_wav(in, rate, 1, SF_FORMAT_WAV | fmt[f].sub, x, n);
		snprintf(args, sizeof args, "'%s' '%s'", in, out);
		float *y = denoise_file(args, out, rate, 1, n, SF_FORMAT_WAV | fmt[f].sub);
		float *want = ref;
		float *ref8 = NULL;
		if (fmt[f].bits == 8) {   /* another input: its own float reference */
			path(in, sizeof in, "qf8.wav");
			path(out, sizeof out, "qf8_out.wav");
			write_wav(in, rate, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT, x, n);
			snprintf(args, sizeof args, "'%s' '%s'", in, out);
			want = ref8 = denoise_file(args, out, rate, 1, n, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
		}
		double lsb = ldexp(1.0, 1 - fmt[f].bits), sum = 0, worst = 0;
		for (int i = 0; i < n; i++) {
			double e = ((double)y[i] - want[i]) / lsb;
			sum += e;
			worst = fabs(e) > worst ? fabs(e) : worst;
		}
		print_message("%d-bit output against float: mean error %+.3f LSB, worst %.3f LSB\n",
			      fmt[f].bits, sum / n, worst);
		assert_true(worst <= 0.5 + 1e-3);
		assert_true(fabs(sum / n) < 0.05);
		free(y);
		free(ref8);
	}
	free(ref);
	free(x);
}

/* OUT '-' on a pipe: libsndfile cannot write WAV (or FLAC) there, so drsn
 * writes a WAV header of unknown length and the samples after it; the
 * result holds what the same run writes to a file. */
static void test_stdout_pipe(void **state)
{
	(void)state;
	const int rate = 22050, n = rate + 333;
	float *x = malloc(2 * (size_t)n * sizeof *x);
	for (int i = 0; i < 2 * n; i++)
		x[i] = 0.2f * gauss();
	static const int fmts[] = {SF_FORMAT_WAV | SF_FORMAT_PCM_24, SF_FORMAT_FLAC | SF_FORMAT_PCM_16,
				   SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
		char in[128], out[128], piped[128], args[512], err[1024];
		int flac = (fmts[f] & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC;
		path(in, sizeof in, flac ? "pin.flac" : "pin.wav");
		path(out, sizeof out, "pout.wav");
		path(piped, sizeof piped, "piped.wav");
		write_wav(in, rate, 2, fmts[f], x, n);
		snprintf(args, sizeof args, "'%s' '%s'", in, out);
		assert_int_equal(run(args, err, sizeof err), 0);
		/* drsn's stdout into cat; run()'s redirections go to the true */
		snprintf(args, sizeof args, "'%s' - 2>'%s/pipe-err.txt' | cat >'%s'; true", in, dir, piped);
		assert_int_equal(run(args, err, sizeof err), 0);
		SF_INFO a, b;
		float *y = read_wav(out, &a), *z = read_wav(piped, &b);
		assert_int_equal(b.samplerate, rate);
		assert_int_equal(b.channels, 2);
		assert_int_equal(b.frames, n);
		assert_int_equal(b.format & SF_FORMAT_SUBMASK, a.format & SF_FORMAT_SUBMASK);
		assert_memory_equal(y, z, 2 * (size_t)n * sizeof *y);
		free(z);
		/* stdout a regular file: a WAV too (a FLAC IN gave a FLAC) */
		snprintf(args, sizeof args, "'%s' - 2>'%s/pipe-err.txt' >'%s'; true", in, dir, piped);
		assert_int_equal(run(args, err, sizeof err), 0);
		z = read_wav(piped, &b);
		if ((b.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAV)
			fail_msg("%s - > FILE: format 0x%x, not a WAV", flac ? "FLAC" : "WAV", b.format);
		assert_int_equal(b.frames, n);
		assert_int_equal(b.format & SF_FORMAT_SUBMASK, a.format & SF_FORMAT_SUBMASK);
		assert_memory_equal(y, z, 2 * (size_t)n * sizeof *y);
		free(y);
		free(z);
	}
	free(x);
}

/* --vad - is stdout (as IN and OUT '-' are stdin and stdout): the same CSV
 * as --vad FILE, and no file named '-'; with OUT '-' too it is refused. */
static void test_vad_stdout(void **state)
{
	(void)state;
	const int rate = 16000, n = rate / 2;
	float *x = malloc((size_t)n * sizeof *x);
	for (int i = 0; i < n; i++)
		x[i] = 0.1f * gauss();
	char in[128], out[128], vad[128], dash[128], args[512], err[1024];
	path(in, sizeof in, "vin.wav");
	path(out, sizeof out, "vout.wav");
	path(vad, sizeof vad, "v.csv");
	path(dash, sizeof dash, "-");
	write_wav(in, rate, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, n);
	snprintf(args, sizeof args, "--vad '%s' '%s' '%s'", vad, in, out);
	assert_int_equal(run(args, err, sizeof err), 0);
	char want[8192], got[8192];
	FILE *f = fopen(vad, "r");
	assert_non_null(f);
	want[fread(want, 1, sizeof want - 1, f)] = '\0';
	fclose(f);
	assert_true(strlen(want) > 30 * 14);   /* a header and ~31 rows */
	/* run in dir, where the old code's file '-' would appear */
	snprintf(args, sizeof args, "--vad - '%s' '%s'", in, out);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "cd '%s' && '%s' denoise %s", dir, drsn, args);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	got[fread(got, 1, sizeof got - 1, p)] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_string_equal(got, want);
	struct stat st;
	assert_int_equal(stat(dash, &st), -1);
	snprintf(args, sizeof args, "--vad - '%s' -", in);
	assert_int_equal(run(args, err, sizeof err), 2);
	assert_non_null(strstr(err, "--vad - and the output - would both go to stdout"));
	free(x);
}

/* A WAVE_FORMAT_EXTENSIBLE input keeps its speaker layout in a .wav OUT
 * (plain WAV has no channel mask: players would guess). 2.1 is not
 * libsndfile's default for 3 channels, so it must come from IN. */
static void test_wavex_channel_map(void **state)
{
	(void)state;
	const int rate = 16000, n = rate / 2, ch = 3;
	float *x = malloc((size_t)n * ch * sizeof *x);
	for (int i = 0; i < n * ch; i++)
		x[i] = 0.1f * gauss();
	char in[128], out[128], args[512], err[1024];
	path(in, sizeof in, "surround.wav");
	path(out, sizeof out, "surround_out.wav");
	int map[3] = {SF_CHANNEL_MAP_LEFT, SF_CHANNEL_MAP_RIGHT, SF_CHANNEL_MAP_LFE}, got[3] = {0};
	SF_INFO si = {.samplerate = rate, .channels = ch, .format = SF_FORMAT_WAVEX | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(in, SFM_WRITE, &si);
	assert_non_null(f);
	assert_int_equal(sf_command(f, SFC_SET_CHANNEL_MAP_INFO, map, sizeof map), SF_TRUE);
	assert_int_equal(sf_writef_float(f, x, n), n);
	sf_close(f);
	snprintf(args, sizeof args, "'%s' '%s'", in, out);
	assert_int_equal(run(args, err, sizeof err), 0);
	memset(&si, 0, sizeof si);
	f = sf_open(out, SFM_READ, &si);
	assert_non_null(f);
	assert_int_equal(si.format, SF_FORMAT_WAVEX | SF_FORMAT_PCM_16);
	assert_int_equal(si.channels, ch);
	assert_int_equal(sf_command(f, SFC_GET_CHANNEL_MAP_INFO, got, sizeof got), SF_TRUE);
	assert_memory_equal(got, map, sizeof map);
	sf_close(f);
	free(x);
}

static void test_errors_name_the_file(void **state)
{
	(void)state;
	char args[512], err[1024], out[128];
	path(out, sizeof out, "never.wav");
	snprintf(args, sizeof args, "'%s/missing.wav' '%s'", dir, out);
	assert_int_not_equal(run(args, err, sizeof err), 0);
	assert_non_null(strstr(err, "missing.wav"));
	assert_int_equal(access(out, F_OK), -1);
	/* out-of-range options are usage errors that name the flag, like unknown ones */
	assert_int_equal(run("--strength -5 a.wav b.wav", err, sizeof err), 2);
	assert_non_null(strstr(err, "--strength"));
	assert_int_equal(run("--strength -1 a.wav b.wav", err, sizeof err), 2);
	assert_non_null(strstr(err, "--strength"));
	assert_int_equal(run("--strength 101 a.wav b.wav", err, sizeof err), 2);
	assert_int_equal(run("--frame-ms 100 a.wav b.wav", err, sizeof err), 2);
	assert_non_null(strstr(err, "--frame-ms"));
	assert_int_equal(run("--frame-ms nan a.wav b.wav", err, sizeof err), 2);
	assert_int_equal(run("--strength loud a.wav b.wav", err, sizeof err), 2);
	assert_non_null(strstr(err, "loud"));
	assert_int_not_equal(run("only-one.wav", err, sizeof err), 0);
	assert_non_null(strstr(err, "no output after the input 'only-one.wav'"));
	/* a known option without its value is not an "unknown option" */
	assert_int_equal(run("a.wav b.wav --strength", err, sizeof err), 2);
	assert_non_null(strstr(err, "--strength needs a value"));
	assert_int_equal(run("a.wav b.wav --vad", err, sizeof err), 2);
	assert_non_null(strstr(err, "--vad needs a value"));
	/* a failed write says why */
	if (access("/dev/full", W_OK) == 0) {
		char in[128];
		path(in, sizeof in, "full-in.wav");
		float x[4000] = {0};
		write_wav(in, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, 4000);
		snprintf(args, sizeof args, "--vad /dev/full '%s' '%s'", in, out);
		assert_int_equal(run(args, err, sizeof err), 1);
		assert_non_null(strstr(err, "/dev/full: write failed: No space left on device"));
		assert_int_equal(access(out, F_OK), -1);
	}
	assert_int_equal(run("--help", err, sizeof err), 0);
}

/* IN_FOLDER OUT_FOLDER: the audio files under IN, at the same relative
 * paths under OUT, each like its own file run; other files are left out;
 * OUT inside IN and --vad with a folder are refused. */
static void test_folder(void **state)
{
	(void)state;
	char in[128], sub[128], a[160], b[160], txt[160], out[128], args[512], err[1024];
	path(in, sizeof in, "in");
	path(sub, sizeof sub, "in/sub");
	path(out, sizeof out, "out");
	assert_int_equal(mkdir(in, 0777), 0);
	assert_int_equal(mkdir(sub, 0777), 0);
	snprintf(a, sizeof a, "%s/a.wav", in);
	snprintf(b, sizeof b, "%s/b.flac", sub);
	snprintf(txt, sizeof txt, "%s/notes.txt", in);
	enum { N = 7000 };
	static float x[2 * N];
	for (int i = 0; i < 2 * N; i++)
		x[i] = 0.1f * gauss();
	write_wav(a, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, N);
	write_wav(b, 48000, 2, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, x, N);
	FILE *f = fopen(txt, "w");
	assert_non_null(f);
	fputs("not audio\n", f);
	fclose(f);

	snprintf(args, sizeof args, "--strength 0 '%s' '%s' >/dev/null", in, out);
	char oa[160], ob[160], ot[160];
	snprintf(oa, sizeof oa, "%s/a.wav", out);
	snprintf(ob, sizeof ob, "%s/sub/b.flac", out);
	snprintf(ot, sizeof ot, "%s/notes.txt", out);
	float *ya = denoise_file(args, oa, 16000, 1, N, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	SF_INFO si;
	float *xa = read_wav(a, &si);
	for (int i = 0; i < N; i++)
		assert_float_equal(ya[i], xa[i], 1.5 / 32768);   /* pass-through, to the last 16-bit step */
	free(ya);
	free(xa);
	float *yb = read_wav(ob, &si);
	assert_int_equal(si.samplerate, 48000);
	assert_int_equal(si.channels, 2);
	assert_int_equal(si.frames, N);
	assert_int_equal(si.format, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
	free(yb);
	assert_int_equal(access(ot, F_OK), -1);

	char inside[160];
	snprintf(inside, sizeof inside, "%s/clean", in);
	snprintf(args, sizeof args, "'%s' '%s'", in, inside);
	assert_int_equal(run(args, err, sizeof err), 2);
	assert_non_null(strstr(err, "is inside the input folder"));
	assert_int_equal(access(inside, F_OK), -1);
	snprintf(args, sizeof args, "--vad v.csv '%s' '%s'", in, out);
	assert_int_equal(run(args, err, sizeof err), 2);
	assert_non_null(strstr(err, "--vad takes one input file"));
	snprintf(args, sizeof args, "'%s' '%s'", in, a);
	assert_int_equal(run(args, err, sizeof err), 2);
	assert_non_null(strstr(err, "the output must be one too"));
}

/* IN_FOLDER OUT_FOLDER with -j 2, -j 3 and --jobs=16 (more workers than
 * files): the same 'IN -> OUT' lines in the same order, the same errors,
 * the same exit code and byte for byte the same files as -j 1, over files
 * of different lengths and rates in a folder and a subfolder, one that is
 * not audio and one cut short (both fail). Bad -j values are usage errors
 * naming --jobs, with nothing written. */
static void test_folder_jobs(void **state)
{
	(void)state;
	char in[128], sub[160], p[256], out[128], keep[128], args[1024];
	static char want[1 << 14], got[1 << 14], want_err[1 << 14], got_err[1 << 14];
	path(in, sizeof in, "jobs-in");
	path(out, sizeof out, "jobs-out");
	path(keep, sizeof keep, "jobs-out-1");
	snprintf(sub, sizeof sub, "%s/sub", in);
	assert_int_equal(mkdir(in, 0777), 0);
	assert_int_equal(mkdir(sub, 0777), 0);
	static const int secs[] = {3, 1, 5, 2, 1};
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof p, "%s/n%d.%s", i % 2 ? sub : in, i, i == 2 ? "flac" : "wav");
		write_noise(p, secs[i], i == 2 ? SF_FORMAT_FLAC | SF_FORMAT_PCM_16
					       : SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	}
	snprintf(p, sizeof p, "%s/m-not-audio.wav", in);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("not audio\n", f);
	fclose(f);
	char full[256];
	snprintf(full, sizeof full, "%s/n2.flac", in);
	size_t n;
	char *flac = drsn__test_slurp(full, &n);
	snprintf(p, sizeof p, "%s/c-cut.flac", sub);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(flac, 1, n / 2, f), n / 2);
	fclose(f);
	free(flac);

	snprintf(args, sizeof args, "denoise -j 1 '%s' '%s'", in, out);
	int want_rc = drsn__test_run(drsn, dir, args, want, sizeof want, want_err, sizeof want_err);
	if (want_rc != 1 || !strstr(want_err, "m-not-audio.wav") || !strstr(want_err, "c-cut.flac"))
		fail_msg("drsn %s: exit %d (want 1), stderr:\n%s", args, want_rc, want_err);
	assert_non_null(strstr(want, "n4.wav ->"));
	assert_int_equal(rename(out, keep), 0);
	static const char *const js[] = {"-j 2", "-j3", "--jobs=16", "--jobs 3"};
	for (size_t j = 0; j < sizeof js / sizeof js[0]; j++) {
		snprintf(args, sizeof args, "denoise %s '%s' '%s'", js[j], in, out);
		int rc = drsn__test_run(drsn, dir, args, got, sizeof got, got_err, sizeof got_err);
		if (rc != want_rc || strcmp(got, want) || strcmp(got_err, want_err))
			fail_msg("drsn %s: exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s",
				 args, rc, want_rc, got, want, got_err, want_err);
		snprintf(args, sizeof args, "diff -r '%s' '%s' && rm -r '%s'", keep, out, out);
		if (system(args) != 0)
			fail_msg("-j 1 and %s wrote different files", js[j]);
	}
	static const char *const bad[] = {"-j 257", "-j -1", "-j x", "--jobs=", "-j2x", "--jobs 1.5"};
	for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
		snprintf(args, sizeof args, "denoise %s '%s' '%s'", bad[b], in, out);
		int rc = drsn__test_run(drsn, dir, args, got, sizeof got, got_err, sizeof got_err);
		if (rc != 2 || !strstr(got_err, "--jobs") || got[0] || access(out, F_OK) == 0)
			fail_msg("drsn %s: exit %d (want 2), stderr: %s", args, rc, got_err);
	}
	snprintf(args, sizeof args, "denoise '%s' '%s' -j", in, out);
	int rc = drsn__test_run(drsn, dir, args, NULL, 0, got_err, sizeof got_err);
	if (rc != 2 || !strstr(got_err, "-j needs a value"))
		fail_msg("drsn %s: exit %d (want 2), stderr: %s", args, rc, got_err);
	/* its 'IN -> OUT' lines cannot be written (a full disk): exit 1 */
	for (int j = 1; j <= 2; j++) {
		snprintf(args, sizeof args, "'%s' denoise -j %d '%s' '%s' >/dev/full 2>/dev/null; echo $? >'%s/rc'; "
			 "rm -rf '%s'", drsn, j, in, out, dir, out);
		assert_int_equal(system(args), 0);
		snprintf(args, sizeof args, "%s/rc", dir);
		FILE *rcf = fopen(args, "r");
		assert_non_null(rcf);
		int code = -1;
		assert_int_equal(fscanf(rcf, "%d", &code), 1);
		fclose(rcf);
		if (code != 1)
			fail_msg("drsn denoise -j %d FOLDER with stdout on /dev/full: exit %d (want 1)", j, code);
	}
}

/* OUT, or the --vad CSV, naming the input under any spelling (the same path,
 * with ./, a symbolic link, a hard link) is refused before anything is
 * opened: exit 2, a message naming both, the input byte for byte as it was
 * and nothing written. */
static void test_output_is_input(void **state)
{
	(void)state;
	char d[128], in[160], dot[160], sym[160], hard[160], out[160], args[1024], err[1024];
	path(d, sizeof d, "same");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(in, sizeof in, "%s/in.wav", d);
	snprintf(dot, sizeof dot, "%s/./in.wav", d);
	snprintf(sym, sizeof sym, "%s/sym.wav", d);
	snprintf(hard, sizeof hard, "%s/hard.wav", d);
	snprintf(out, sizeof out, "%s/out.wav", d);
	enum { N = 16000 };
	static float x[N];
	for (int i = 0; i < N; i++)
		x[i] = 0.1f * gauss();
	write_wav(in, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, N);
	assert_int_equal(symlink("in.wav", sym), 0);
	assert_int_equal(link(in, hard), 0);
	size_t n;
	char *orig = drsn__test_slurp(in, &n);

	const char *spellings[] = {in, dot, sym, hard};
	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
		const char *s = spellings[i];
		snprintf(args, sizeof args, "'%s' '%s'", in, s);
		assert_int_equal(run(args, err, sizeof err), 2);
		if (!strstr(err, "is the same file as input") || !strstr(err, s))
			fail_msg("drsn denoise %s: %s", args, err);
		drsn__test_assert_file_is(in, orig, n);

		snprintf(args, sizeof args, "--vad '%s' '%s' '%s'", s, in, out);
		assert_int_equal(run(args, err, sizeof err), 2);
		if (!strstr(err, "is the same file as input") || !strstr(err, s))
			fail_msg("drsn denoise %s: %s", args, err);
		drsn__test_assert_file_is(in, orig, n);
		assert_int_equal(access(out, F_OK), -1);
	}
	/* the input through the link, the output the file itself */
	snprintf(args, sizeof args, "'%s' '%s'", sym, in);
	assert_int_equal(run(args, err, sizeof err), 2);
	drsn__test_assert_file_is(in, orig, n);
	/* OUT and the CSV in one file */
	snprintf(args, sizeof args, "--vad '%s' '%s' '%s'", out, in, out);
	assert_int_equal(run(args, err, sizeof err), 2);
	assert_int_equal(access(out, F_OK), -1);
	drsn__test_assert_folder_holds(d, "hard.wav in.wav sym.wav");
	free(orig);
}

/* A run that fails half way (a FLAC cut short: the decoder loses sync after
 * OUT and the CSV are open) leaves an OUT and a CSV that were there before
 * as they were, and no temporary files; a run that succeeds replaces them,
 * keeping OUT's permissions, and writes through a symbolic link to OUT. */
static void test_failed_run_keeps_outputs(void **state)
{
	(void)state;
	char d[128], full[160], cut[160], out[160], csv[160], sym[160], args[1024], err[1024];
	path(d, sizeof d, "keep");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(full, sizeof full, "%s/full.flac", d);
	snprintf(cut, sizeof cut, "%s/cut.flac", d);
	snprintf(out, sizeof out, "%s/out.wav", d);
	snprintf(csv, sizeof csv, "%s/out.csv", d);
	snprintf(sym, sizeof sym, "%s/sym.wav", d);
	enum { N = 3 * 16000 };
	write_noise(full, N / 16000, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
	size_t n;
	char *flac = drsn__test_slurp(full, &n);
	FILE *f = fopen(cut, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(flac, 1, n * 6 / 10, f), n * 6 / 10);
	fclose(f);
	free(flac);

	static const char before_out[] = "an earlier result\n";
	static const char before_csv[] = "time_s,speech\n0,1\n";
	f = fopen(out, "wb");
	assert_non_null(f);
	fputs(before_out, f);
	fclose(f);
	assert_int_equal(chmod(out, 0640), 0);
	f = fopen(csv, "wb");
	assert_non_null(f);
	fputs(before_csv, f);
	fclose(f);

	snprintf(args, sizeof args, "--vad '%s' '%s' '%s'", csv, cut, out);
	int rc = run(args, err, sizeof err);
	if (rc != 1 || !strstr(err, "cut.flac"))
		fail_msg("drsn denoise %s: exit %d: %s", args, rc, err);
	drsn__test_assert_file_is(out, before_out, strlen(before_out));
	drsn__test_assert_file_is(csv, before_csv, strlen(before_csv));
	drsn__test_assert_folder_holds(d, "cut.flac full.flac out.csv out.wav");

	/* the same outputs from a good input: replaced, OUT still 0640 */
	snprintf(args, sizeof args, "--strength 0 --vad '%s' '%s' '%s'", csv, full, out);
	SF_INFO si;
	free(denoise_file(args, out, 16000, 1, N, SF_FORMAT_WAV | SF_FORMAT_PCM_16));
	struct stat st;
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	char *v = drsn__test_slurp(csv, &n);
	assert_true(n > 100 && !memcmp(v, "time_s,speech\n", 14));
	free(v);
	drsn__test_assert_folder_holds(d, "cut.flac full.flac out.csv out.wav");

	/* OUT a symbolic link to another file: that file is written, the link stays */
	assert_int_equal(symlink("out.wav", sym), 0);
	f = fopen(out, "wb");
	assert_non_null(f);
	fputs(before_out, f);
	fclose(f);
	snprintf(args, sizeof args, "--strength 0 '%s' '%s'", full, sym);
	free(denoise_file(args, out, 16000, 1, N, SF_FORMAT_WAV | SF_FORMAT_PCM_16));
	assert_int_equal(lstat(sym, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	free(read_wav(sym, &si));
	drsn__test_assert_folder_holds(d, "cut.flac full.flac out.csv out.wav sym.wav");
}

/* Ctrl-C (SIGINT) or SIGTERM while OUT and the CSV are being written, here
 * with drsn blocked reading a stdin whose writer stalls: drsn dies of the
 * signal at once, OUT and the CSV that were there before stay as they were,
 * and their temporary files are gone (they were left behind). The same for
 * SIGPIPE, OUT - into a pipe closed early. */
static void test_signal_keeps_outputs(void **state)
{
	(void)state;
	char d[128], src[160], out[160], csv[160];
	path(d, sizeof d, "signal");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(src, sizeof src, "%s/src.wav", d);
	snprintf(out, sizeof out, "%s/out.wav", d);
	snprintf(csv, sizeof csv, "%s/out.csv", d);
	write_noise(src, 10, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	size_t n;
	char *wav = drsn__test_slurp(src, &n);
	assert_int_equal(unlink(src), 0);
	static const char before[] = "an earlier result\n";
	const char *keep[] = {out, csv};
	for (int k = 0; k < 2; k++) {
		FILE *f = fopen(keep[k], "wb");
		assert_non_null(f);
		fputs(before, f);
		fclose(f);
	}

	const int sigs[] = {SIGINT, SIGTERM};
	char *argv[] = {(char *)drsn, "denoise", "--vad", csv, "-", out, NULL};
	for (size_t s = 0; s < sizeof sigs / sizeof sigs[0]; s++) {
		/* half the audio, then the writer stalls; until both temporary
		 * files are there (out.csv out.wav + 2) */
		int status = drsn__test_signal_while_writing(argv, wav, n / 2, d, 4, sigs[s]);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != sigs[s])
			fail_msg("signal %d: drsn denoise ended with status 0x%x", sigs[s], status);
		drsn__test_assert_file_is(out, before, strlen(before));
		drsn__test_assert_file_is(csv, before, strlen(before));
		drsn__test_assert_folder_holds(d, "out.csv out.wav");
	}
	free(wav);

	/* SIGPIPE: OUT - into a pipe whose reader is gone (head), with a CSV */
	char in[160], args[1024], err[1024];
	path(in, sizeof in, "pipe-in.wav");   /* outside d */
	write_noise(in, 30, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	snprintf(args, sizeof args, "--vad '%s' '%s' - | head -c 100", csv, in);
	run(args, err, sizeof err);
	drsn__test_assert_file_is(csv, before, strlen(before));
	drsn__test_assert_folder_holds(d, "out.csv out.wav");
}

/* drsn denoise IN OUT must succeed and OUT be of this rate, channels and
 * format: its frames. */
static sf_count_t denoised_as(const char *in, const char *out, int rate, int ch, int format)
{
	char args[1024], err[1024];
	snprintf(args, sizeof args, "'%s' '%s'", in, out);
	int rc = run(args, err, sizeof err);
	if (rc != 0)
		fail_msg("drsn denoise %s: exit %d: %s", args, rc, err);
	SF_INFO si;
	free(read_wav(out, &si));
	if (si.format != format)
		fail_msg("%s: format 0x%x, not 0x%x", out, si.format, format);
	assert_int_equal(si.samplerate, rate);
	assert_int_equal(si.channels, ch);
	return si.frames;
}

/* OUT named .mp3 or .opus is an MP3 or an Opus file (it was a WAV under that
 * name), at IN's rate and channels; audio such a container cannot hold (6
 * channels in an MP3) is an error naming OUT, and nothing is written. */
static void test_mp3_opus_output(void **state)
{
	(void)state;
	static const struct { const char *name; int format, ch; } outs[] = {
		{"out.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 1},
		{"out.MP3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 2},
		{"out.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 2},
	};
	char d[128], in[160], out[160], args[1024], err[1024];
	path(d, sizeof d, "lossy");
	assert_int_equal(mkdir(d, 0777), 0);
	enum { N = 16000 };
	static float x[6 * N];
	for (int i = 0; i < 6 * N; i++)
		x[i] = 0.1f * gauss();
	for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
		SF_INFO check = {.samplerate = 16000, .channels = outs[k].ch,
				 .format = outs[k].format};
		if (!sf_format_check(&check)) {
			print_message("libsndfile cannot write %s: skipped\n", outs[k].name);
			continue;
		}
		snprintf(in, sizeof in, "%s/in%zu.wav", d, k);
		snprintf(out, sizeof out, "%s/%s", d, outs[k].name);
		write_wav(in, 16000, outs[k].ch, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, N);
		denoised_as(in, out, 16000, outs[k].ch, outs[k].format);
	}
	snprintf(in, sizeof in, "%s/six.wav", d);
	snprintf(out, sizeof out, "%s/six.mp3", d);
	write_wav(in, 16000, 6, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, N);
	snprintf(args, sizeof args, "'%s' '%s'", in, out);
	int rc = run(args, err, sizeof err);
	if (rc != 1 || !strstr(err, "six.mp3: a .mp3 file cannot hold 6 channels at 16000 Hz"))
		fail_msg("drsn denoise %s: exit %d: %s", args, rc, err);
	assert_int_equal(access(out, F_OK), -1);
}

/* An MP3 or MP2 IN to a .wav, .aiff, .flac or .mp3 OUT: 16-bit PCM in a
 * lossless container, MP3 in a .mp3. libsndfile's sf_format_check() passes
 * MPEG Layer III in a WAV and Layer I/II in an MPEG file, which it cannot
 * write: OUT kept IN's encoding and could not be opened. The MP2 comes from
 * ffmpeg (.ci/deps); without it, a skip here and a failure under CI=true. */
static void test_lossy_input_to_other_containers(void **state)
{
	(void)state;
	static const struct { const char *ext; int format; } outs[] = {
		{"wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16}, {"aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16},
		{"flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
		{"mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III},
	};
	char d[128], wav[160], in[160], out[192], args[1024], err[1024];
	path(d, sizeof d, "from-lossy");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(wav, sizeof wav, "%s/in.wav", d);
	write_noise(wav, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	static const char *const ins[] = {"mp3", "mp2"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(in, sizeof in, "%s/in.%s", d, ins[i]);
		if (i == 0) {
			snprintf(args, sizeof args, "'%s' '%s'", wav, in);
			if (run(args, err, sizeof err) != 0)
				fail_msg("drsn denoise %s: %s", args, err);
		} else {
			snprintf(args, sizeof args, "ffmpeg -nostdin -loglevel error -i '%s' -c:a mp2 '%s'", wav, in);
			if (system(args) != 0) {
				const char *ci = getenv("CI");
				if (ci && !strcmp(ci, "true"))
					fail_msg("no MP2 from ffmpeg (.ci/deps installs it)");
				print_message("no ffmpeg: MP2 input not tested\n");
				break;
			}
		}
		for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
			snprintf(out, sizeof out, "%s/out-%s.%s", d, ins[i], outs[k].ext);
			sf_count_t n = denoised_as(in, out, 16000, 1, outs[k].format);
			if (n < 14000 || n > 20000)
				fail_msg("%s: %lld frames from 1 s of audio", out, (long long)n);
		}
	}
}

/* A WAV holds 4 GiB at most (32-bit sizes; libsndfile writes a bigger one
 * with its sizes wrapped, and readers see a short file): an RF64 IN stays
 * RF64 in a .wav OUT, and an OUT that would not fit a WAV, or whose length
 * is unknown (IN a pipe), is written as RF64, which goes back to a WAV at
 * close if it stayed small. drsn_small_wav is drsn built with a 1 MB limit. */
static const char *drsn_small_wav;

static void test_rf64_when_wav_too_small(void **state)
{
	(void)state;
	enum { N = 10 * 16000 };   /* stereo float: 1.28 MB */
	static float x[2 * N];
	for (int i = 0; i < 2 * N; i++)
		x[i] = 0.1f * gauss();
	char in[128], out[128], args[1024], err[1024];
	const int wav_f = SF_FORMAT_WAV | SF_FORMAT_FLOAT, rf64_f = SF_FORMAT_RF64 | SF_FORMAT_FLOAT;
	struct { int in_format; sf_count_t n; const char *exe; int fifo, out_format; } c[] = {
		{rf64_f, N / 10, drsn, 0, rf64_f},             /* RF64 stays RF64 */
		{wav_f, N / 10, drsn_small_wav, 0, wav_f},     /* fits: a WAV */
		{wav_f, N, drsn_small_wav, 0, rf64_f},         /* does not fit */
		{wav_f, N / 10, drsn, 1, SF_FORMAT_WAVEX | SF_FORMAT_FLOAT},  /* unknown, small */
	};
	for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
		path(in, sizeof in, "big-in.wav");
		path(out, sizeof out, "big-out.wav");
		write_wav(in, 16000, 2, c[k].in_format, x, c[k].n);
		char inarg[256], fifo[128], cmd[512];
		snprintf(inarg, sizeof inarg, "'%s'", in);
		if (c[k].fifo) {   /* IN '-' a FIFO: its length is unknown */
			path(fifo, sizeof fifo, "big-in.fifo");
			assert_int_equal(mkfifo(fifo, 0600), 0);
			snprintf(cmd, sizeof cmd, "cat '%s' > '%s' &", in, fifo);
			assert_int_equal(system(cmd), 0);
			snprintf(inarg, sizeof inarg, "- < '%s'", fifo);
		}
		snprintf(args, sizeof args, "denoise --strength 0 %s '%s'", inarg, out);
		int rc = drsn__test_run(c[k].exe, dir, args, NULL, 0, err, sizeof err);
		if (rc != 0)
			fail_msg("case %zu: drsn %s: exit %d: %s", k, args, rc, err);
		SF_INFO si;
		float *y = read_wav(out, &si);
		if (si.format != c[k].out_format || si.frames != c[k].n)
			fail_msg("case %zu: %s: format 0x%x, %lld frames, not 0x%x, %lld", k, out,
				 si.format, (long long)si.frames, c[k].out_format,
				 (long long)c[k].n);
		assert_memory_equal(y, x, (size_t)c[k].n * 2 * sizeof *x);
		free(y);
		if (c[k].fifo)
			unlink(fifo);
	}
}

/* ADPCM comes in whole blocks of a size the writer picks; libsndfile reads
 * the last one whole and writes blocks of its own size. An MS ADPCM IN of
 * 16000 frames in 32 blocks of 500 (as sox writes it at 16 kHz) gave an OUT
 * of 16192 (16 of libsndfile's 1012-frame blocks): OUT is 16-bit PCM of
 * IN's length instead. The IN is libsndfile's 8 kHz layout, relabelled
 * 16 kHz. */
static void test_adpcm_keeps_length(void **state)
{
	(void)state;
	enum { N = 16000 };
	static float x[N];
	for (int i = 0; i < N; i++)
		x[i] = 0.1f * gauss();
	char in[128], out[128], args[512];
	path(in, sizeof in, "msadpcm.wav");
	path(out, sizeof out, "msadpcm_out.wav");
	write_wav(in, 8000, 1, SF_FORMAT_WAV | SF_FORMAT_MS_ADPCM, x, N);
	FILE *f = fopen(in, "r+b");
	assert_non_null(f);
	unsigned char h[36];
	assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
	assert_memory_equal(h + 12, "fmt ", 4);
	assert_int_equal(h[32] | h[33] << 8, 256);   /* block align: 500 frames a block */
	const uint32_t rate = 16000, bytes_per_s = 256 * 16000 / 500;
	for (int i = 0; i < 4; i++) {
		h[24 + i] = (unsigned char)(rate >> (8 * i));
		h[28 + i] = (unsigned char)(bytes_per_s >> (8 * i));
	}
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	assert_int_equal(fwrite(h, 1, sizeof h, f), sizeof h);
	assert_int_equal(fclose(f), 0);
	SF_INFO si;
	free(read_wav(in, &si));
	assert_int_equal(si.samplerate, 16000);
	assert_int_equal(si.frames, N);
	snprintf(args, sizeof args, "'%s' '%s'", in, out);
	free(denoise_file(args, out, 16000, 1, N, SF_FORMAT_WAV | SF_FORMAT_PCM_16));
}

/* IN_FOLDER OUT_FOLDER into a file or a pipe: each "IN -> OUT" line is
 * there as soon as that file is done, not when drsn exits (it was lost on a
 * Ctrl-C): while the second, long, file is being denoised the first one's
 * line can be read, and it is kept when drsn is then stopped. */
static void test_folder_lines_as_done(void **state)
{
	(void)state;
	char in[128], out[128], a[160], b[160], log[160];
	path(in, sizeof in, "progress-in");
	path(out, sizeof out, "progress-out");
	path(log, sizeof log, "progress.log");
	assert_int_equal(mkdir(in, 0777), 0);
	assert_int_equal(mkdir(out, 0777), 0);
	snprintf(a, sizeof a, "%s/a.wav", in);
	snprintf(b, sizeof b, "%s/b.wav", in);
	enum { N = 8000, LONG = 600 * 16000, CHUNK = 16000 };
	static float x[CHUNK];
	for (int i = 0; i < CHUNK; i++)
		x[i] = 0.1f * gauss();
	write_wav(a, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, N);
	SF_INFO si = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(b, SFM_WRITE, &si);
	assert_non_null(f);
	for (int i = 0; i < LONG; i += CHUNK)
		assert_int_equal(sf_writef_float(f, x, CHUNK), CHUNK);
	sf_close(f);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *o = freopen(log, "w", stdout);
		if (!o)
			_exit(126);
		execl(drsn, drsn, "denoise", in, out, (char *)NULL);
		_exit(127);
	}
	/* a.wav done and b.wav's temporary output there: a.wav's line is out */
	for (int t = 0; t < 1000 && drsn__test_count_entries(out) < 2; t++)
		nanosleep(&(struct timespec){0, 5000000}, NULL);
	size_t n;
	char *text = drsn__test_slurp(log, &n);
	char ob[160], want[512];
	snprintf(ob, sizeof ob, "%s/b.wav", out);
	int b_done = access(ob, F_OK) == 0;   /* after the read: then it was not done either */
	kill(pid, SIGTERM);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (b_done)
		print_message("b.wav was done before it was seen: the check is weaker\n");
	snprintf(want, sizeof want, "%s -> %s/a.wav\n", a, out);
	if (n < strlen(want) || memcmp(text, want, strlen(want)) || (!b_done && n != strlen(want)))
		fail_msg("while b.wav was denoised stdout held '%.*s', not '%s'", (int)n, text,
			 want);
	free(text);
	text = drsn__test_slurp(log, &n);
	if (n < strlen(want) || memcmp(text, want, strlen(want)))
		fail_msg("after SIGTERM stdout held '%.*s'", (int)n, text);
	free(text);
}

/* Runs drsn denoise ARGS... with stderr on a new terminal (a pty) and stdout
 * on /dev/null (on the terminal too if tty_stdout); returns what the
 * terminal got (malloc'd) and sets *status. */
static char *run_on_terminal(char *const argv[], int *status, int tty_stdout)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	const char *sname = ptsname(m);
	assert_non_null(sname);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int s = open(sname, O_RDWR | O_NOCTTY), null = open("/dev/null", O_RDWR);
		if (s < 0 || null < 0 || dup2(null, 0) < 0 || dup2(tty_stdout ? s : null, 1) < 0 ||
		    dup2(s, 2) < 0)
			_exit(127);
		close(m);
		execv(argv[0], argv);
		_exit(127);
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	for (;;) {   /* EIO once the last holder of the terminal is gone */
		if (n == cap) {
			buf = realloc(buf, (cap *= 2) + 1);
			assert_non_null(buf);
		}
		ssize_t k = read(m, buf + n, cap - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = 0;
	assert_int_equal(waitpid(pid, status, 0), pid);
	close(m);
	return buf;
}

/* A long file (10 min and more) on a terminal gets a progress bar on stderr
 * that ends at 100% and is erased; -q, a short file, or stderr not a
 * terminal get none (the other tests), and OUT is the same either way. */
static void test_progress_on_terminal(void **state)
{
	(void)state;
	char in[160], out[160], out_q[160], shrt[160];
	path(in, sizeof in, "long.wav");
	path(out, sizeof out, "long-out.wav");
	path(out_q, sizeof out_q, "long-out-q.wav");
	path(shrt, sizeof shrt, "short.wav");
	/* 10 min of 8 kHz silence with a tone in the middle (9.6 MB) */
	const int rate = 8000;
	const sf_count_t frames = 600 * (sf_count_t)rate;
	float *x = calloc((size_t)frames, sizeof *x);
	assert_non_null(x);
	for (sf_count_t i = 0; i < rate; i++)
		x[frames / 2 + i] = 0.3f * sinf(2.0f * (float)M_PI * 440.0f * (float)i / (float)rate);
	write_wav(in, rate, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, frames);
	write_wav(shrt, rate, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x + frames / 2, 60 * rate);
	free(x);

	int status;
	char *argv[] = {(char *)drsn, "denoise", in, out, NULL};
	char *tty = run_on_terminal(argv, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!strstr(tty, "\r[") || !strstr(tty, "] 100%  file 1/1\r\033[K"))
		fail_msg("no progress bar that ends at 100%% and is erased on the terminal: '%.300s'", tty);
	free(tty);

	char *argv_q[] = {(char *)drsn, "denoise", "--quiet", in, out_q, NULL};
	tty = run_on_terminal(argv_q, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (tty[0])
		fail_msg("--quiet: the terminal got '%.300s'", tty);
	free(tty);
	size_t n1, n2;
	char *a = drsn__test_slurp(out, &n1), *b = drsn__test_slurp(out_q, &n2);
	assert_true(n1 == n2 && n1 > 0 && !memcmp(a, b, n1));
	free(a);
	free(b);

	char *argv_s[] = {(char *)drsn, "denoise", shrt, out_q, NULL};
	tty = run_on_terminal(argv_s, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (tty[0])
		fail_msg("a 1 min file: the terminal got '%.300s'", tty);
	free(tty);
	unlink(in);
	unlink(out);
	unlink(out_q);
	unlink(shrt);
}

/* OUT '-' with stdout a terminal is refused before anything is written
 * (it printed a RIFF header there, then "Illegal seek", exit 1). */
static void test_stdout_terminal(void **state)
{
	(void)state;
	char in[160];
	path(in, sizeof in, "tty-in.wav");
	write_noise(in, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	int status;
	char *argv[] = {(char *)drsn, "denoise", "-q", in, "-", NULL};
	char *tty = run_on_terminal(argv, &status, 1);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 2 || strstr(tty, "RIFF") ||
	    !strstr(tty, "denoise: -: not writing a binary WAV to a terminal"))
		fail_msg("drsn denoise IN - on a terminal: status 0x%x, the terminal got '%.300s'",
			 status, tty);
	free(tty);
	unlink(in);
}

/* A write that fails (a file size limit, ulimit -f: EFBIG; a full disk:
 * ENOSPC goes the same way) names the cause, not libsndfile's "No Error.",
 * exits 1 and leaves no temporary file (drsn died of SIGXFSZ, leaving it). */
static void test_write_error_named(void **state)
{
	(void)state;
	char d[128], in[160], out[160], errp[160], cmd[1024];
	path(d, sizeof d, "fsize");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(in, sizeof in, "%s/in.wav", d);
	snprintf(out, sizeof out, "%s/out.wav", d);
	snprintf(errp, sizeof errp, "%s/err.txt", dir);
	write_noise(in, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16);   /* 32 kB; the limit 8 blocks */
	snprintf(cmd, sizeof cmd, "ulimit -f 8 && '%s' denoise --strength 0 '%s' '%s' 2>'%s'", drsn,
		 in, out, errp);
	int rc = system(cmd);
	size_t n;
	char *err = drsn__test_slurp(errp, &n), want[256];
	snprintf(want, sizeof want, "out.wav: write failed: %s", strerror(EFBIG));
	if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 1 || !strstr(err, want))
		fail_msg("drsn denoise under ulimit -f: status 0x%x: %s", rc, err);
	free(err);
	drsn__test_assert_folder_holds(d, "in.wav");
}

/* IN_FOLDER OUT_FOLDER where an output would be an input: OUT_FOLDER the
 * parent of IN_FOLDER, which holds b/x.wav and x.wav, wrote b/x.wav's
 * result over x.wav before reading it. Refused before anything is written,
 * exit 2, naming both; so are two inputs to one output (a symbolic link to
 * a folder under OUT_FOLDER). OUT_FOLDER above IN_FOLDER with no output an
 * input ('drsn denoise recordings .') still works. */
static void test_folder_output_is_input(void **state)
{
	(void)state;
	char t[128], in[160], sub[160], x[192], bx[192], args[1024], err[2048];
	path(t, sizeof t, "above");
	snprintf(in, sizeof in, "%s/b", t);
	snprintf(sub, sizeof sub, "%s/b/b", t);
	snprintf(x, sizeof x, "%s/x.wav", in);
	snprintf(bx, sizeof bx, "%s/x.wav", sub);
	assert_int_equal(mkdir(t, 0777), 0);
	assert_int_equal(mkdir(in, 0777), 0);
	assert_int_equal(mkdir(sub, 0777), 0);
	enum { N = 4000 };
	static float a[N];
	for (int i = 0; i < N; i++)
		a[i] = 0.1f * gauss();
	write_wav(x, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, a, N);
	write_wav(bx, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, a, N / 2);
	size_t nx, nbx;
	char *orig_x = drsn__test_slurp(x, &nx), *orig_bx = drsn__test_slurp(bx, &nbx);
	for (int jobs = 1; jobs <= 2; jobs++) {
		snprintf(args, sizeof args, "-j %d --strength 0 '%s' '%s'", jobs, in, t);
		int rc = run(args, err, sizeof err);
		if (rc != 2 || !strstr(err, bx) || !strstr(err, x) || !strstr(err, "is the input"))
			fail_msg("drsn denoise %s: exit %d: %s", args, rc, err);
		drsn__test_assert_file_is(x, orig_x, nx);
		drsn__test_assert_file_is(bx, orig_bx, nbx);
		drsn__test_assert_folder_holds(t, "b");   /* no x.wav written beside b */
	}
	free(orig_x);
	free(orig_bx);

	/* the same layout without b/b: harmless, b/x.wav -> x.wav */
	snprintf(args, sizeof args, "rm -r '%s'", sub);
	assert_int_equal(system(args), 0);
	snprintf(args, sizeof args, "--strength 0 '%s' '%s' >/dev/null", in, t);
	char tx[160];
	snprintf(tx, sizeof tx, "%s/x.wav", t);
	free(denoise_file(args, tx, 16000, 1, N, SF_FORMAT_WAV | SF_FORMAT_PCM_16));

	/* OUT/alias a link to OUT/real; IN has alias/y.wav and real/y.wav */
	char o[160], i2[160], p[224];
	snprintf(o, sizeof o, "%s/o", t);
	snprintf(i2, sizeof i2, "%s/i2", t);
	assert_int_equal(mkdir(o, 0777), 0);
	assert_int_equal(mkdir(i2, 0777), 0);
	snprintf(p, sizeof p, "%s/real", o);
	assert_int_equal(mkdir(p, 0777), 0);
	snprintf(p, sizeof p, "%s/alias", o);
	assert_int_equal(symlink("real", p), 0);
	for (int k = 0; k < 2; k++) {
		snprintf(p, sizeof p, "%s/%s", i2, k ? "real" : "alias");
		assert_int_equal(mkdir(p, 0777), 0);
		snprintf(p, sizeof p, "%s/%s/y.wav", i2, k ? "real" : "alias");
		write_wav(p, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, a, N / (k + 1));
	}
	snprintf(args, sizeof args, "--strength 0 '%s' '%s'", i2, o);
	int rc = run(args, err, sizeof err);
	if (rc != 2 || !strstr(err, "alias/y.wav and") || !strstr(err, "would both be written to"))
		fail_msg("drsn denoise %s: exit %d: %s", args, rc, err);
	snprintf(p, sizeof p, "%s/real", o);
	drsn__test_assert_folder_holds(p, "");
}

/* A folder's audio files by extension in any case, beyond libsndfile's own
 * list: Broadcast WAV from a field recorder (ZOOM0001.BWF), .wave, Sun .snd,
 * NIST .sph, Amiga .8svx (they were skipped: "no audio files in this
 * folder"). */
static void test_folder_extensions(void **state)
{
	(void)state;
	static const struct { const char *name; int format; } files[] = {
		{"ZOOM0001.BWF", SF_FORMAT_WAV | SF_FORMAT_PCM_16},
		{"a.wave", SF_FORMAT_WAV | SF_FORMAT_PCM_16},
		{"b.snd", SF_FORMAT_AU | SF_FORMAT_PCM_16},
		{"c.sph", SF_FORMAT_NIST | SF_FORMAT_PCM_16},
		{"d.8svx", SF_FORMAT_SVX | SF_FORMAT_PCM_16},
	};
	enum { N = 1600, K = sizeof files / sizeof files[0] };
	static float x[N];
	for (int i = 0; i < N; i++)
		x[i] = 0.1f * gauss();
	char in[128], out[128], p[192], args[512], lines[4096], err[1024];
	path(in, sizeof in, "ext-in");
	path(out, sizeof out, "ext-out");
	assert_int_equal(mkdir(in, 0777), 0);
	for (int k = 0; k < K; k++) {
		snprintf(p, sizeof p, "%s/%s", in, files[k].name);
		write_wav(p, 16000, 1, files[k].format, x, N);
	}
	snprintf(args, sizeof args, "denoise --strength 0 '%s' '%s'", in, out);
	int rc = drsn__test_run(drsn, dir, args, lines, sizeof lines, err, sizeof err);
	if (rc != 0)
		fail_msg("drsn %s: exit %d: %s", args, rc, err);
	for (int k = 0; k < K; k++) {
		snprintf(p, sizeof p, "%s/%s", out, files[k].name);
		if (!strstr(lines, p))
			fail_msg("%s not denoised; stdout: %s", files[k].name, lines);
		SF_INFO si;
		free(read_wav(p, &si));
		assert_int_equal(si.frames, N);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s PATH/TO/drsn PATH/TO/drsn-small-wav\n", argv[0]);
		return 2;
	}
	/* absolute: test_vad_stdout runs it from the temporary folder */
	static char drsn_abs[PATH_MAX];
	drsn = realpath(argv[1], drsn_abs) ? drsn_abs : argv[1];
	snprintf(dir, sizeof dir, "/tmp/drsn-denoise-cli-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* under qemu in a cross build (each in a folder of its own: the wrapper
	 * script has one name) */
	static char small_abs[PATH_MAX], sub[96];
	snprintf(sub, sizeof sub, "%s/small-wav", dir);
	if (!realpath(argv[2], small_abs) || mkdir(sub, 0777) != 0) {
		perror(argv[2]);
		return 1;
	}
	drsn_small_wav = strdup(drsn__test_exe(small_abs, sub));
	drsn = drsn__test_exe(drsn, dir);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stereo_each_channel),
		cmocka_unit_test(test_strength_zero_passes_through_48k_float),
		cmocka_unit_test(test_integer_output_rounds),
		cmocka_unit_test(test_stdout_pipe),
		cmocka_unit_test(test_vad_stdout),
		cmocka_unit_test(test_wavex_channel_map),
		cmocka_unit_test(test_errors_name_the_file),
		cmocka_unit_test(test_folder),
		cmocka_unit_test(test_folder_jobs),
		cmocka_unit_test(test_output_is_input),
		cmocka_unit_test(test_failed_run_keeps_outputs),
		cmocka_unit_test(test_signal_keeps_outputs),
		cmocka_unit_test(test_mp3_opus_output),
		cmocka_unit_test(test_lossy_input_to_other_containers),
		cmocka_unit_test(test_rf64_when_wav_too_small),
		cmocka_unit_test(test_adpcm_keeps_length),
		cmocka_unit_test(test_folder_lines_as_done),
		cmocka_unit_test(test_progress_on_terminal),
		cmocka_unit_test(test_stdout_terminal),
		cmocka_unit_test(test_write_error_named),
		cmocka_unit_test(test_folder_output_is_input),
		cmocka_unit_test(test_folder_extensions),
	};
	int rc = cmocka_run_group_tests_name("denoise-cli", tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
