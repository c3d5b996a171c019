/* drsn's commands end to end, beyond denoise (tests/denoise/cli.test.c):
 * `features -o` refuses an output that is an input and leaves an earlier
 * output as it was when it fails or is stopped by a signal; `features` of
 * several files and folders writes a .npy for each into -o's folder; out-of-range option values are usage
 * errors (exit 2) that name the flag; `bench` without --model times the
 * default model, the one every command uses; `classify` of a long recording
 * takes its centre second without holding the recording in memory; the
 * progress bar of `detect` on a terminal never shares a line with a
 * detection or an error; `detect -` and `classify -` read stdin; `bench`'s
 * fp32 peak is the core's, from its ISA and clock (not a fixed x86 figure
 * on a Raspberry Pi); `detect` and `classify` warn once of a file below the
 * model's rate (8 kHz); `detect -j N` and `classify -j N` print exactly
 * what -j 1 prints, and so do `features -j N` (the same .npy files too)
 * and `tune -j N`; every command says a failed write to stdout once and
 * exits 1; '--' ends the options of info and bench; `drsn help COMMAND` is
 * COMMAND --help; a default model from $DRSN_MODEL that fails to load is
 * named so. argv[1] is
 * the drsn executable, argv[2] (optional) samples/stream-noisy.wav. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sndfile.h>

#include "drsn/drsn.h"

#include "common/test_files.h"
#include "engine/fixture.h"

static const char *drsn, *sample;
static char dir[64];

static void path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* Run "drsn ARGS": its exit code; stderr in err, stdout in out (either may
 * be NULL). */
static int run(const char *args, char *out, size_t outn, char *err, size_t errn)
{
	return drsn__test_run(drsn, dir, args, out, outn, err, errn);
}

static uint64_t rs = 99;
static float noise(void)
{
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(rs >> 11) / 9007199254740992.0 - 0.5) * 0.4f;
}

static void write_audio(const char *p, int format, int frames)
{
	float *x = malloc((size_t)frames * sizeof *x);
	assert_non_null(x);
	for (int i = 0; i < frames; i++)
		x[i] = noise();
	SF_INFO si = {.samplerate = 16000, .channels = 1, .format = format};
	SNDFILE *f = sf_open(p, SFM_WRITE, &si);
	assert_non_null(f);
	assert_int_equal(sf_writef_float(f, x, frames), frames);
	sf_close(f);
	free(x);
}

/* A FLAC of noise cut short (the first half of its bytes: it fails half
 * way), and a file that is not audio: files that cannot be read. */
static void write_cut_flac(const char *p, int frames)
{
	size_t n;
	write_audio(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, frames);
	char *flac = drsn__test_slurp(p, &n);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(flac, 1, n / 2, f), n / 2);
	fclose(f);
	free(flac);
}

static void write_not_audio(const char *p)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("not audio\n", f);
	fclose(f);
}

/* Seconds FROM to TO of the sample, written to P as 16-bit WAV. */
static void write_excerpt(const char *p, double from, double to)
{
	SF_INFO si = {0};
	SNDFILE *in = sf_open(sample, SFM_READ, &si);
	assert_non_null(in);
	sf_count_t a = (sf_count_t)(from * si.samplerate), n = (sf_count_t)((to - from) * si.samplerate);
	assert_true(a + n <= si.frames);
	float *x = malloc((size_t)(n * si.channels) * sizeof *x);
	assert_non_null(x);
	assert_int_equal(sf_seek(in, a, SEEK_SET), a);
	assert_int_equal(sf_readf_float(in, x, n), n);
	sf_close(in);
	SF_INFO so = {.samplerate = si.samplerate, .channels = si.channels,
		      .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *out = sf_open(p, SFM_WRITE, &so);
	assert_non_null(out);
	assert_int_equal(sf_writef_float(out, x, n), n);
	sf_close(out);
	free(x);
}

/* features FILE -o FILE under any spelling (the same path, with ./, a
 * symbolic link, a hard link), or -o naming the -p params file: refused
 * before anything is opened, exit 2, both named, the input unchanged. */
static void test_features_output_is_input(void **state)
{
	(void)state;
	char d[128], in[160], dot[160], sym[160], hard[160], params[160], args[1024], err[1024];
	path(d, sizeof d, "same");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(in, sizeof in, "%s/in.wav", d);
	snprintf(dot, sizeof dot, "%s/./in.wav", d);
	snprintf(sym, sizeof sym, "%s/sym.wav", d);
	snprintf(hard, sizeof hard, "%s/hard.wav", d);
	snprintf(params, sizeof params, "%s/params.json", d);
	write_audio(in, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000);
	assert_int_equal(symlink("in.wav", sym), 0);
	assert_int_equal(link(in, hard), 0);
	size_t n;
	char *orig = drsn__test_slurp(in, &n);

	const char *spellings[] = {in, dot, sym, hard};
	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
		snprintf(args, sizeof args, "features '%s' -o '%s'", in, spellings[i]);
		assert_int_equal(run(args, NULL, 0, err, sizeof err), 2);
		if (!strstr(err, "is the same file as input") || !strstr(err, spellings[i]))
			fail_msg("drsn %s: %s", args, err);
		drsn__test_assert_file_is(in, orig, n);
	}
	snprintf(args, sizeof args, "features '%s' -o '%s'", sym, in);
	assert_int_equal(run(args, NULL, 0, err, sizeof err), 2);
	drsn__test_assert_file_is(in, orig, n);

	/* the params file is an input too */
	FILE *f = fopen(params, "w");
	assert_non_null(f);
	fputs("{}\n", f);
	fclose(f);
	snprintf(args, sizeof args, "features -p '%s' '%s' -o '%s'", params, in, params);
	assert_int_equal(run(args, NULL, 0, err, sizeof err), 2);
	assert_non_null(strstr(err, "is the same file as input"));
	drsn__test_assert_file_is(params, "{}\n", 3);
	drsn__test_assert_folder_holds(d, "hard.wav in.wav params.json sym.wav");
	free(orig);
}

/* An input that fails half way (a FLAC cut short) leaves an OUT.npy that
 * was there before as it was, and no temporary file; a good one replaces it. */
static void test_features_failed_run_keeps_output(void **state)
{
	(void)state;
	char d[128], full[160], cut[160], out[160], args[1024], err[1024];
	path(d, sizeof d, "keep");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(full, sizeof full, "%s/full.flac", d);
	snprintf(cut, sizeof cut, "%s/cut.flac", d);
	snprintf(out, sizeof out, "%s/out.npy", d);
	write_audio(full, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 3 * 16000);
	size_t n;
	char *flac = drsn__test_slurp(full, &n);
	FILE *f = fopen(cut, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(flac, 1, n * 6 / 10, f), n * 6 / 10);
	fclose(f);
	free(flac);
	static const char before[] = "an earlier result\n";
	f = fopen(out, "wb");
	assert_non_null(f);
	fputs(before, f);
	fclose(f);

	snprintf(args, sizeof args, "features '%s' -o '%s'", cut, out);
	int rc = run(args, NULL, 0, err, sizeof err);
	if (rc != 1 || !strstr(err, "cut.flac"))
		fail_msg("drsn %s: exit %d: %s", args, rc, err);
	drsn__test_assert_file_is(out, before, strlen(before));
	drsn__test_assert_folder_holds(d, "cut.flac full.flac out.npy");

	snprintf(args, sizeof args, "features '%s' -o '%s'", full, out);
	assert_int_equal(run(args, NULL, 0, err, sizeof err), 0);
	char *npy = drsn__test_slurp(out, &n);
	assert_true(n > 128 && !memcmp(npy, "\x93NUMPY", 6));
	free(npy);
	drsn__test_assert_folder_holds(d, "cut.flac full.flac out.npy");
}

/* features FILE|FOLDER... -o OUT_FOLDER: each file's .npy, byte for byte
 * what features FILE -o OUT.npy writes, at its path under the folder given
 * (x.wav and x.flac side by side each get theirs), a file given by itself
 * at its name; a file that cannot be read is named and the others are
 * still done (exit 1); two files to one .npy and a .npy that is an input
 * are refused before anything is written (exit 2). Without -o: a summary
 * of each file. The old drsn features took one file only. */
static void test_features_many_files(void **state)
{
	(void)state;
	char d[128], p[256], q[256], args[2048], out[4096], err[4096];
	path(d, sizeof d, "many");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(p, sizeof p, "%s/in", d);
	assert_int_equal(mkdir(p, 0777), 0);
	snprintf(p, sizeof p, "%s/in/sub", d);
	assert_int_equal(mkdir(p, 0777), 0);
	snprintf(p, sizeof p, "%s/other", d);
	assert_int_equal(mkdir(p, 0777), 0);
	static const char *const wavs[] = {"in/y.wav", "in/sub/x.wav", "z.wav", "other/y.wav"};
	for (size_t i = 0; i < sizeof wavs / sizeof *wavs; i++) {
		snprintf(p, sizeof p, "%s/%s", d, wavs[i]);
		write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, (int)(8000 + 4000 * i));
	}
	snprintf(p, sizeof p, "%s/in/sub/x.flac", d);
	write_audio(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 20000);
	snprintf(p, sizeof p, "%s/in/bad.wav", d);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("not audio\n", f);
	fclose(f);

	snprintf(args, sizeof args, "features '%s/in' '%s/z.wav' -o '%s/out'", d, d, d);
	int rc = run(args, out, sizeof out, err, sizeof err);
	if (rc != 1 || !strstr(err, "bad.wav") || strstr(err, "x.wav:") == NULL)
		fail_msg("drsn %s: exit %d (want 1, bad.wav named, the rest done): %s", args, rc, err);
	snprintf(p, sizeof p, "%s/out", d);
	drsn__test_assert_folder_holds(p, "sub y.wav.npy z.wav.npy");
	snprintf(p, sizeof p, "%s/out/sub", d);
	drsn__test_assert_folder_holds(p, "x.flac.npy x.wav.npy");
	static const char *const pairs[][2] = {{"in/y.wav", "out/y.wav.npy"}, {"in/sub/x.wav", "out/sub/x.wav.npy"},
					       {"in/sub/x.flac", "out/sub/x.flac.npy"}, {"z.wav", "out/z.wav.npy"}};
	for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
		snprintf(q, sizeof q, "%s/one.npy", d);
		snprintf(args, sizeof args, "features '%s/%s' -o '%s'", d, pairs[i][0], q);
		assert_int_equal(run(args, NULL, 0, err, sizeof err), 0);
		size_t n;
		char *want = drsn__test_slurp(q, &n);
		assert_true(n > 128);
		snprintf(p, sizeof p, "%s/%s", d, pairs[i][1]);
		drsn__test_assert_file_is(p, want, n);
		free(want);
		unlink(q);
	}

	/* without -o: each file's summary, in order */
	snprintf(args, sizeof args, "features '%s/z.wav' '%s/in/sub'", d, d);
	rc = run(args, out, sizeof out, err, sizeof err);
	const char *a = strstr(out, "z.wav: "), *b = strstr(out, "sub/x.flac: "), *c = strstr(out, "sub/x.wav: ");
	if (rc != 0 || !a || !b || !c || !(a < b && b < c) || !strstr(a, "frames x 40 bands"))
		fail_msg("drsn %s: exit %d: %s%s", args, rc, out, err);

	/* two files to one .npy: nothing written */
	snprintf(args, sizeof args, "features '%s/in' '%s/other' -o '%s/out2'", d, d, d);
	rc = run(args, NULL, 0, err, sizeof err);
	if (rc != 2 || !strstr(err, "would both be written to") || !strstr(err, "y.wav.npy"))
		fail_msg("drsn %s: exit %d (want 2): %s", args, rc, err);
	snprintf(p, sizeof p, "%s/out2", d);
	assert_int_equal(access(p, F_OK), -1);

	/* a .npy that is an input (audio named w.wav.npy): refused, left as it was */
	snprintf(p, sizeof p, "%s/out3", d);
	assert_int_equal(mkdir(p, 0777), 0);
	snprintf(p, sizeof p, "%s/w.wav", d);
	write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000);
	snprintf(q, sizeof q, "%s/out3/w.wav.npy", d);
	write_audio(q, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000);
	size_t n0;
	char *before = drsn__test_slurp(q, &n0);
	snprintf(args, sizeof args, "features '%s' '%s' -o '%s/out3'", q, p, d);
	rc = run(args, NULL, 0, err, sizeof err);
	if (rc != 2 || !strstr(err, "is the same file as input"))
		fail_msg("drsn %s: exit %d (want 2): %s", args, rc, err);
	drsn__test_assert_file_is(q, before, n0);
	free(before);

	/* usage errors: -o - or -o FILE with several inputs */
	snprintf(args, sizeof args, "features '%s/z.wav' '%s/w.wav' -o -", d, d);
	rc = run(args, NULL, 0, err, sizeof err);
	if (rc != 2 || !strstr(err, "-o -"))
		fail_msg("drsn %s: exit %d (want 2): %s", args, rc, err);
	snprintf(args, sizeof args, "features '%s/in' -o '%s/z.wav'", d, d);
	rc = run(args, NULL, 0, err, sizeof err);
	if (rc != 2 || !strstr(err, "-o names a folder"))
		fail_msg("drsn %s: exit %d (want 2): %s", args, rc, err);
}

/* SIGINT, SIGTERM, SIGHUP or SIGPIPE while `features - -o OUT` writes (its
 * stdin stalls halfway): drsn dies of that signal, OUT stays as it was and
 * its temporary file is gone (it was left behind). */
static void test_features_signal_keeps_output(void **state)
{
	(void)state;
	char d[128], src[160], out[160];
	path(d, sizeof d, "signal");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(src, sizeof src, "%s/src.wav", d);
	snprintf(out, sizeof out, "%s/out.npy", d);
	write_audio(src, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 10 * 16000);
	size_t n;
	char *wav = drsn__test_slurp(src, &n);
	assert_int_equal(unlink(src), 0);
	static const char before[] = "an earlier result\n";
	FILE *f = fopen(out, "wb");
	assert_non_null(f);
	fputs(before, f);
	fclose(f);

	const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
	char *argv[] = {(char *)drsn, "features", "-", "-o", out, NULL};
	for (size_t s = 0; s < sizeof sigs / sizeof sigs[0]; s++) {
		/* out.npy and its temporary file */
		int status = drsn__test_signal_while_writing(argv, wav, n / 2, d, 2, sigs[s]);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != sigs[s])
			fail_msg("signal %d: drsn features ended with status 0x%x", sigs[s], status);
		drsn__test_assert_file_is(out, before, strlen(before));
		drsn__test_assert_folder_holds(d, "out.npy");
	}
	free(wav);
}

static int count(const char *s, const char *needle);

/* The entries of folder d that are temporary files of name (NAME.npy.XXXXXX;
 * NULL: of any name). */
static int temporaries_of(const char *d, const char *name)
{
	char cmd[512], line[256], want[128];
	int n = 0;
	snprintf(want, sizeof want, "%s.npy.", name ? name : "");
	snprintf(cmd, sizeof cmd, "ls -a '%s' 2>/dev/null", d);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f))
		n += name ? !strncmp(line, want, strlen(want)) : strstr(line, want) != NULL;
	pclose(f);
	return n;
}

static int temporaries(const char *d)
{
	return temporaries_of(d, NULL);
}

/* features FILE|FOLDER... -j 2, -j3, --jobs=16 (more workers than files)
 * and --jobs 2: stdout, stderr, the exit code and, with -o, every .npy byte
 * for byte those of -j 1, over a folder of files of different lengths (some
 * in a subfolder), a FLAC cut short (it fails half way, its .npy begun), a
 * file that is not audio and a file given by itself; without -o, '-' among
 * them is read once, where it stands. Bad -j values are usage errors that
 * name --jobs, with nothing written. SIGTERM while a worker writes a .npy
 * (its input, a FIFO, stalls) leaves no temporary file. The old features
 * had no -j. */
static void test_features_jobs(void **state)
{
	(void)state;
	char d[128], in[160], z[160], out[160], keep[160], p[256], args[2048];
	static char want[1 << 14], got[1 << 14], want_err[1 << 14], got_err[1 << 14];
	path(d, sizeof d, "fjobs");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(in, sizeof in, "%s/in", d);
	assert_int_equal(mkdir(in, 0777), 0);
	snprintf(p, sizeof p, "%s/in/sub", d);
	assert_int_equal(mkdir(p, 0777), 0);
	static const int frames[] = {24000, 8000, 40000, 4000, 16000, 12000};
	for (int i = 0; i < 6; i++) {
		snprintf(p, sizeof p, "%s/%sn%d.wav", in, i % 3 == 1 ? "sub/" : "", i);
		write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, frames[i]);
	}
	snprintf(p, sizeof p, "%s/c-cut.flac", in);
	write_cut_flac(p, 3 * 16000);
	snprintf(p, sizeof p, "%s/m-not-audio.wav", in);
	write_not_audio(p);
	snprintf(z, sizeof z, "%s/z.wav", d);
	write_audio(z, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 6000);
	snprintf(out, sizeof out, "%s/out", d);
	snprintf(keep, sizeof keep, "%s/out-1", d);

	static const char *const js[] = {"-j 2", "-j3", "--jobs=16", "--jobs 2"};
	for (int with_o = 1; with_o >= 0; with_o--) {
		if (with_o)
			snprintf(args, sizeof args, "features -j 1 '%s' '%s' -o '%s'", in, z, out);
		else   /* the summaries, with stdin among the files */
			snprintf(args, sizeof args, "features -j 1 '%s' - '%s' < '%s'", in, z, z);
		int want_rc = run(args, want, sizeof want, want_err, sizeof want_err);
		if (want_rc != 1 || !strstr(want_err, "m-not-audio.wav") || !strstr(want_err, "c-cut.flac") ||
		    count(with_o ? want_err : want, "frames x 40 bands") != 7 + !with_o)
			fail_msg("drsn %s: exit %d (want 1: two files fail, the rest done)\nstdout:\n%s\n"
				 "stderr:\n%s", args, want_rc, want, want_err);
		if (with_o) {
			assert_int_equal(temporaries(out), 0);
			assert_int_equal(rename(out, keep), 0);
		}
		for (size_t j = 0; j < sizeof js / sizeof js[0]; j++) {
			if (with_o)
				snprintf(args, sizeof args, "features %s '%s' '%s' -o '%s'", js[j], in, z, out);
			else
				snprintf(args, sizeof args, "features %s '%s' - '%s' < '%s'", js[j], in, z, z);
			int rc = run(args, got, sizeof got, got_err, sizeof got_err);
			if (rc != want_rc || strcmp(got, want) || strcmp(got_err, want_err))
				fail_msg("drsn %s: exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\n"
					 "want:\n%s", args, rc, want_rc, got, want, got_err, want_err);
			if (!with_o)
				continue;
			snprintf(args, sizeof args, "diff -r '%s' '%s' && rm -r '%s'", keep, out, out);
			if (system(args) != 0)
				fail_msg("features -j 1 and %s wrote different files", js[j]);
		}
	}
	static const char *const bad[] = {"-j 257", "-j -1", "-j x", "--jobs=", "-j2x", "--jobs 1.5"};
	for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
		snprintf(args, sizeof args, "features %s '%s' -o '%s'", bad[b], in, out);
		int rc = run(args, got, sizeof got, got_err, sizeof got_err);
		if (rc != 2 || !strstr(got_err, "--jobs") || got[0] || access(out, F_OK) == 0)
			fail_msg("drsn %s: exit %d (want 2), stderr: %s", args, rc, got_err);
	}
	snprintf(args, sizeof args, "features '%s' -o '%s' -j", in, out);
	int rc = run(args, NULL, 0, got_err, sizeof got_err);
	if (rc != 2 || !strstr(got_err, "-j needs a value"))
		fail_msg("drsn %s: exit %d (want 2), stderr: %s", args, rc, got_err);

	/* SIGTERM while the second file's .npy is being written: its input is
	 * a FIFO that gets half a WAV and stalls */
	char fifo[160];
	size_t n;
	snprintf(p, sizeof p, "%s/full.wav", d);
	write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 2 * 16000);
	char *wav = drsn__test_slurp(p, &n);
	assert_int_equal(unlink(p), 0);
	snprintf(fifo, sizeof fifo, "%s/fifo.wav", d);
	assert_int_equal(mkfifo(fifo, 0666), 0);
	char *argv[] = {(char *)drsn, "features", "-j", "2", z, fifo, in, "-o", out, NULL};
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		signal(SIGTERM, SIG_DFL);
		execv(argv[0], argv);
		_exit(127);
	}
	void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);   /* if drsn is gone before it reads */
	int fd = -1, status = 0, t;
	for (t = 0; t < 1000 && fd < 0 && waitpid(pid, &status, WNOHANG) == 0; t++) {
		if ((fd = open(fifo, O_WRONLY | O_NONBLOCK)) < 0)   /* ENXIO: no reader yet */
			nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	if (fd >= 0) {
		assert_int_equal(fcntl(fd, F_SETFL, 0), 0);
		assert_int_equal(write(fd, wav, n / 2), (ssize_t)(n / 2));
		/* the other worker may be files ahead, with temporaries of its own */
		for (t = 0; t < 1000 && temporaries_of(out, "fifo.wav") == 0; t++)
			nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	int had = temporaries_of(out, "fifo.wav");
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	if (fd >= 0)
		close(fd);
	signal(SIGPIPE, old_pipe);
	free(wav);
	if (had != 1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM)
		fail_msg("features -j 2 with a FIFO: %d temporary files while it ran (want 1), status 0x%x "
			 "(want SIGTERM)", had, status);
	assert_int_equal(temporaries(out), 0);
	snprintf(p, sizeof p, "%s/fifo.wav.npy", out);
	assert_int_equal(access(p, F_OK), -1);
}

/* Audio holding NaN, infinite or huge samples (a float file gone wrong):
 * each is read as 0 (or clipped to DRSN_AUDIO_MAX_SAMPLE) where the file is
 * read, with one warning naming the file and the count, and every command
 * gives exactly what it gives for the same file with those values. Before,
 * features and classify refused the whole file ("non-finite features"). */
static void write_floats(const char *p, const float *x, int n)
{
	SF_INFO si = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	SNDFILE *f = sf_open(p, SFM_WRITE, &si);
	assert_non_null(f);
	assert_int_equal(sf_writef_float(f, x, n), n);
	sf_close(f);
}

static void command_line(char *args, size_t n, int c, const char *f)
{
	switch (c) {
	case 0: snprintf(args, n, "features '%s'", f); break;
	case 1: snprintf(args, n, "features '%s' -o '%s.npy'", f, f); break;
	case 2: snprintf(args, n, "classify -n 0 '%s'", f); break;
	default: snprintf(args, n, "detect -t 0.01 '%s'", f); break;
	}
}

static void test_non_finite_audio_read_as_zero(void **state)
{
	(void)state;
	enum { N = 32000 };
	static float x[N], y[N];
	char bad[160], good[160], args[1024], err[2048], warn[256];
	static char out_bad[8192], out_good[8192];
	path(bad, sizeof bad, "bad.wav");
	path(good, sizeof good, "zro.wav");
	for (int i = 0; i < N; i++)
		x[i] = y[i] = noise();
	x[8000] = NAN;
	x[8100] = INFINITY;
	x[20000] = -INFINITY;
	x[20001] = 1e30f;
	y[8000] = y[8100] = y[20000] = 0.0f;
	y[20001] = DRSN_AUDIO_MAX_SAMPLE;
	write_floats(bad, x, N);
	write_floats(good, y, N);
	snprintf(warn, sizeof warn, "bad.wav: warning: 4 samples were NaN, infinite or beyond +-65536");
	for (int c = 0; c < 4; c++) {
		command_line(args, sizeof args, c, good);
		assert_int_equal(run(args, out_good, sizeof out_good, NULL, 0), 0);
		command_line(args, sizeof args, c, bad);
		int rc = run(args, out_bad, sizeof out_bad, err, sizeof err);
		if (rc != 0 || !strstr(err, warn))
			fail_msg("drsn %s: exit %d: %s", args, rc, err);
		if (strstr(strstr(err, warn) + 1, warn))
			fail_msg("drsn %s: warned more than once: %s", args, err);
		/* the same output, but for the file's name */
		for (char *q; (q = strstr(out_bad, "bad.wav"));)
			memcpy(q, "zro", 3);
		if (strcmp(out_bad, out_good))
			fail_msg("drsn %s:\n%s\nand on the file with 0 there:\n%s", args, out_bad, out_good);
		if (c == 1) {
			char pb[200], pg[200];
			size_t nb, ng;
			snprintf(pb, sizeof pb, "%s.npy", bad);
			snprintf(pg, sizeof pg, "%s.npy", good);
			char *b = drsn__test_slurp(pb, &nb), *g = drsn__test_slurp(pg, &ng);
			assert_int_equal(nb, ng);
			assert_memory_equal(b, g, nb);
			free(b);
			free(g);
		}
	}
}

/* A value out of its range is a usage error naming the flag, whether the
 * flag is -t or --label-threshold (checked before the model is loaded). */
static void test_detect_range_is_usage_error(void **state)
{
	(void)state;
	char err[1024];
	assert_int_equal(run("detect -t 1.5 x.wav", NULL, 0, err, sizeof err), 2);
	assert_non_null(strstr(err, "--threshold"));
	const char *bad[] = {"yes=2", "yes=-0.1", "yes=x", "yes=", "yes"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char args[256];
		snprintf(args, sizeof args, "detect --label-threshold '%s' x.wav", bad[i]);
		int rc = run(args, NULL, 0, err, sizeof err);
		if (rc != 2 || !strstr(err, "--label-threshold"))
			fail_msg("drsn %s: exit %d: %s", args, rc, err);
	}
}

/* A model of one's own whose labels hold spaces, '=', quotes, capitals and
 * other scripts: `info` prints each label so that one can be told from the
 * next ("hey box" is one label, not two), and `detect --label-threshold
 * LABEL=P` takes the P after the last '=' (a label may hold '='); a label
 * the model lacks is an error naming it and the labels there are. */
/* A tiny DRSN-CW (6 labels, labels_json as its labels metadata, or the
 * fixture's own if NULL) written to p: a model that loads in no time. */
static void write_model(const char *p, const char *labels_json)
{
	static const struct fx_arch a = {"cw", 40, 98, 8, 3, 1, 1, {{8, 3, 1}}, "zero_pad", 6, 0, 0};
	struct fx_model *fx = malloc(sizeof *fx);
	assert_non_null(fx);
	fx_init(fx, &a, 5);
	if (labels_json)
		fx_set(&fx->meta_labels, labels_json);
	size_t len;
	unsigned char *bytes = fx_serialize(fx, &len);
	fx_free(fx);
	free(fx);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, len, f), len);
	fclose(f);
	free(bytes);
}

static void test_labels_of_ones_own(void **state)
{
	(void)state;
	char model[160], wav[160], args[1024], out[8192], err[8192];
	path(model, sizeof model, "own.safetensors");
	path(wav, sizeof wav, "own.wav");
	write_model(model, "[\"_silence_\",\"hey box\",\"a=b\",\"Licht an\","
			   "\"\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\",\"say \\\"hi\\\"\"]");
	write_audio(wav, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000);

	snprintf(args, sizeof args, "info '%s'", model);
	assert_int_equal(run(args, out, sizeof out, err, sizeof err), 0);
	if (!strstr(out, "\nlabels      6: _silence_ \"hey box\" a=b \"Licht an\" "
			 "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf \"say \\\"hi\\\"\"\n"))
		fail_msg("drsn %s:\n%s", args, out);

	snprintf(args, sizeof args, "detect -q -m '%s' --label-threshold 'a=b=0.5' "
		 "--label-threshold 'hey box=0.9' '%s'", model, wav);
	int rc = run(args, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("drsn %s: exit %d: %s", args, rc, err);
	snprintf(args, sizeof args, "detect -q -m '%s' --label-threshold 'Hey Box=0.5' '%s'", model, wav);
	rc = run(args, out, sizeof out, err, sizeof err);
	/* a bad argument, found once the model is loaded: a usage error (it was 1) */
	if (rc != 2 || !strstr(err, "--label-threshold 'Hey Box=0.5': no such label 'Hey Box' in ") ||
	    !strstr(err, "; did you mean 'hey box'? (labels: _silence_, \"hey box\", a=b, \"Licht an\", "))
		fail_msg("drsn %s: exit %d: %s", args, rc, err);
	snprintf(args, sizeof args, "detect -q -m '%s' --label-threshold 'banana=0.5' '%s'", model, wav);
	rc = run(args, out, sizeof out, err, sizeof err);
	if (rc != 2 || !strstr(err, "no such label 'banana' in ") || strstr(err, "did you mean"))
		fail_msg("drsn %s: exit %d: %s", args, rc, err);
	snprintf(args, sizeof args, "tune -q -m '%s' --label-threshold 'banana=0.5' '%s'", model, wav);
	rc = run(args, out, sizeof out, err, sizeof err);   /* tune as detect */
	if (rc != 2 || !strstr(err, "no such label 'banana' in "))
		fail_msg("drsn %s: exit %d: %s", args, rc, err);
}

/* "drsn ARGS >/dev/full": the exit code, stderr in err. */
static int run_full(const char *args, char *err, size_t errn)
{
	char cmd[2048], ep[256];
	snprintf(ep, sizeof ep, "%s/stderr.txt", dir);
	snprintf(cmd, sizeof cmd, "'%s' %s >/dev/full 2>'%s'", drsn, args, ep);
	int rc = system(cmd);
	FILE *f = fopen(ep, "r");
	size_t n = f ? fread(err, 1, errn - 1, f) : 0;
	err[n] = '\0';
	if (f)
		fclose(f);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* "drsn ARGS" (no shell) with stdout a pipe that has no reader and SIGPIPE
 * ignored or not: the wait status, stderr in err. */
static int run_closed_pipe(char *const argv[], int ignore_sigpipe, char *err, size_t errn)
{
	int fds[2], errfd[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(errfd), 0);
	close(fds[0]);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGPIPE, ignore_sigpipe ? SIG_IGN : SIG_DFL);   /* kept across exec */
		dup2(fds[1], 1);
		dup2(errfd[1], 2);
		execv(drsn, argv);
		_exit(127);
	}
	close(fds[1]);
	close(errfd[1]);
	size_t n = 0;
	ssize_t k;
	while (n + 1 < errn && (k = read(errfd[0], err + n, errn - 1 - n)) > 0)
		n += (size_t)k;
	err[n] = 0;
	close(errfd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

/* Every command checks stdout at the end: a write that failed (a full
 * disk) is said once, "drsn: CMD: stdout: write error: REASON", and the
 * exit code is 1 (info, version, help and features said nothing and exited
 * 0). A command that said it itself is not said twice. */
static void test_stdout_write_error(void **state)
{
	(void)state;
	char model[160], wav[160], outwav[160], args[1024], err[4096], want[512];
	path(model, sizeof model, "full.safetensors");
	path(wav, sizeof wav, "full.wav");
	path(outwav, sizeof outwav, "full-out.wav");
	write_model(model, NULL);
	write_audio(wav, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000);
	const char *enospc = strerror(ENOSPC);
	static const struct {
		const char *fmt, *cmd;   /* fmt: %1$s the model, %2$s the wav */
		int reason;              /* the message ends with the reason */
	} said_at_end[] = {
		{"info '%1$s'", "info: ", 1},
		{"info --json '%1$s'", "info: ", 1},
		{"version", "version: ", 1},
		{"--version", "version: ", 1},
		{"help", "", 1},
		{"help info", "info: ", 1},
		{"features --params", "features: ", 1},
		/* said by features' own line printer, with its reason */
		{"features '%2$s'", "features: ", 1},
	};
	for (size_t i = 0; i < sizeof said_at_end / sizeof said_at_end[0]; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(args, sizeof args, said_at_end[i].fmt, model, wav);
#pragma GCC diagnostic pop
		snprintf(want, sizeof want, "drsn: %sstdout: write error%s%s\n", said_at_end[i].cmd,
			 said_at_end[i].reason ? ": " : "", said_at_end[i].reason ? enospc : "");
		int rc = run_full(args, err, sizeof err);
		if (rc != 1 || strcmp(err, want))
			fail_msg("drsn %s >/dev/full: exit %d, stderr:\n%s(want exit 1 and\n%s)", args, rc,
				 err, want);
	}
	/* said by the command: once */
	const char *said_before[][2] = {
		{"features '%2$s' -o -", "drsn: stdout: write failed: "},
		{"classify -m '%1$s' '%2$s'", "drsn: classify: stdout: write error: "},
		{"denoise --vad - '%2$s' '%3$s'", "drsn: -: write failed: "},
		{"tune -q -m '%1$s' '%2$s'", "drsn: tune: stdout: write error: "},   /* with its reason */
	};
	for (size_t i = 0; i < sizeof said_before / sizeof said_before[0]; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(args, sizeof args, said_before[i][0], model, wav, outwav);
#pragma GCC diagnostic pop
		int rc = run_full(args, err, sizeof err);
		const char *nl = strchr(err, '\n');
		if (rc != 1 || strncmp(err, said_before[i][1], strlen(said_before[i][1])) || !nl || nl[1])
			fail_msg("drsn %s >/dev/full: exit %d, stderr:\n%s(want exit 1 and one line %s...)",
				 args, rc, err, said_before[i][1]);
	}
	/* a closed pipe: SIGPIPE ignored, the write error (EPIPE); at its
	 * default, the signal, as other tools */
	char *argv[] = {(char *)drsn, "info", model, NULL};
	int st = run_closed_pipe(argv, 1, err, sizeof err);
	snprintf(want, sizeof want, "drsn: info: stdout: write error: %s\n", strerror(EPIPE));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || strcmp(err, want))
		fail_msg("drsn info | (closed), SIGPIPE ignored: status 0x%x, stderr:\n%s", st, err);
	st = run_closed_pipe(argv, 0, err, sizeof err);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGPIPE || err[0])
		fail_msg("drsn info | (closed): status 0x%x (want SIGPIPE), stderr:\n%s", st, err);
}

/* '--' ends the options of info and bench as of detect (they said
 * "unknown option '--'"): a MODEL after it may start with '-'. */
static void test_end_of_options(void **state)
{
	(void)state;
	char model[160], args[1024], out[8192], err[4096];
	path(model, sizeof model, "eoo.safetensors");
	write_model(model, NULL);
	snprintf(args, sizeof args, "info -- '%s'", model);
	int rc = run(args, out, sizeof out, err, sizeof err);
	if (rc != 0 || !strstr(out, "\nlabels      6:"))
		fail_msg("drsn %s: exit %d: %s", args, rc, err);
	/* after '--', --json is a file's name */
	rc = run("info -- --json", out, sizeof out, err, sizeof err);
	if (rc != 1 || strcmp(err, "drsn: info: --json: cannot open: no such file\n"))
		fail_msg("drsn info -- --json: exit %d: %s", rc, err);
	snprintf(args, sizeof args, "bench --no-torch --runs 1 -m '%s' --", model);
	rc = run(args, out, sizeof out, err, sizeof err);
	if (rc != 0 || !strstr(out, model))
		fail_msg("drsn %s: exit %d: %s", args, rc, err);
	rc = run("bench -- extra", out, sizeof out, err, sizeof err);
	if (rc != 2 || strcmp(err, "drsn: bench: unexpected argument 'extra' (try 'drsn bench --help')\n"))
		fail_msg("drsn bench -- extra: exit %d: %s", rc, err);
	/* denoise and features: FILE, IN and OUT after '--' may start with '-':
	 * relative names, so drsn runs in the test's folder (never in the
	 * source tree, the tests' working folder) */
	char exe[PATH_MAX], den[160];
	if (!realpath(drsn, exe))
		fail_msg("%s: not found", drsn);
	path(den, sizeof den, "-eoo-out.wav");
	write_audio(den, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000);   /* IN, then renamed */
	char in[160];
	path(in, sizeof in, "-eoo.wav");
	assert_int_equal(rename(den, in), 0);
	static const struct { const char *cmd; int rc; const char *want; } cases[] = {
		{"denoise -- -eoo.wav -eoo-out.wav", 0, NULL},
		{"features -- -eoo.wav", 0, "-eoo.wav"},
		{"denoise -eoo.wav x.wav", 2, "unknown option '-eoo.wav'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		static char sh[PATH_MAX + 1024];
		snprintf(sh, sizeof sh, "-c \"cd '%s' && '%s' %s\"", dir, exe, cases[i].cmd);
		rc = drsn__test_run("sh", dir, sh, out, sizeof out, err, sizeof err);
		if (rc != cases[i].rc || (cases[i].want && !strstr(cases[i].rc ? err : out, cases[i].want)))
			fail_msg("drsn %s: exit %d: %s", cases[i].cmd, rc, err);
	}
	assert_int_equal(access(den, R_OK), 0);
}

/* drsn help COMMAND is COMMAND --help (it printed drsn's usage); drsn help
 * drsn's; an unknown COMMAND is a usage error naming it. */
static void test_help_command(void **state)
{
	(void)state;
	static char out[16384], want[16384];
	char err[1024];
	static const char *const cmds[] = {"detect", "version", "tune"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		char args[64];
		snprintf(args, sizeof args, "%s --help", cmds[i]);
		assert_int_equal(run(args, want, sizeof want, NULL, 0), 0);
		snprintf(args, sizeof args, "help %s", cmds[i]);
		int rc = run(args, out, sizeof out, err, sizeof err);
		if (rc != 0 || strcmp(out, want) || err[0])
			fail_msg("drsn %s: exit %d, stdout:\n%.300s\nstderr: %s", args, rc, out, err);
	}
	assert_int_equal(run("--help", want, sizeof want, NULL, 0), 0);
	assert_int_equal(run("help", out, sizeof out, NULL, 0), 0);
	assert_string_equal(out, want);
	assert_non_null(strstr(out, "'drsn help COMMAND'"));
	assert_int_equal(run("help --help", out, sizeof out, NULL, 0), 0);
	assert_string_equal(out, want);
	int rc = run("help detct", out, sizeof out, err, sizeof err);
	if (rc != 2 || out[0] ||
	    strcmp(err, "drsn: help: unknown command 'detct' (try 'drsn --help'); did you mean 'detect'?\n"))
		fail_msg("drsn help detct: exit %d, stderr: %s", rc, err);
	rc = run("help detect info", out, sizeof out, err, sizeof err);
	if (rc != 2 || out[0] || strcmp(err, "drsn: help: one command at most (got 'info' too)\n"))
		fail_msg("drsn help detect info: exit %d, stderr: %s", rc, err);
}

/* A default model from $DRSN_MODEL that cannot be loaded: the error says
 * where the path came from (it named a path the user never typed); one
 * given with -m is said as it is. */
static void test_model_from_env(void **state)
{
	(void)state;
	char model[160], args[1024], out[4096], err[4096], want[512];
	path(model, sizeof model, "env-none.safetensors");
	setenv("DRSN_MODEL", model, 1);
	snprintf(want, sizeof want, "%s (from $DRSN_MODEL): cannot open: no such file\n", model);
	static const char *const cmds[][2] = {
		{"detect x.wav", "detect"}, {"classify x.wav", "classify"}, {"info", "info"},
		{"bench --no-torch", "bench"},
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		int rc = run(cmds[i][0], out, sizeof out, err, sizeof err);
		char w[600];
		snprintf(w, sizeof w, "drsn: %s: %s", cmds[i][1], want);
		if (rc != 1 || strcmp(err, w))
			fail_msg("DRSN_MODEL=%s drsn %s: exit %d, stderr:\n%s(want\n%s)", model, cmds[i][0],
				 rc, err, w);
	}
	snprintf(args, sizeof args, "detect -m '%s' x.wav", model);
	int rc = run(args, out, sizeof out, err, sizeof err);
	unsetenv("DRSN_MODEL");
	snprintf(want, sizeof want, "drsn: detect: %s: cannot open: no such file\n", model);
	if (rc != 1 || strcmp(err, want))
		fail_msg("drsn %s: exit %d, stderr:\n%s", args, rc, err);
}

/* A bad option of detect or classify is one line on stderr that names it
 * and what is wrong with it, as features and denoise say it (it was glibc's
 * "detect: unrecognized option" above 20 lines of usage); with the option or
 * command meant when a known one is close. */
static void test_bad_option_one_line(void **state)
{
	(void)state;
	static const struct {
		const char *args, *want;
	} cases[] = {
		{"detect x.wav --bogus", "drsn: detect: unknown or ambiguous option '--bogus' (try 'drsn detect --help')\n"},
		{"detect -x x.wav", "drsn: detect: unknown option '-x' (try 'drsn detect --help')\n"},
		{"detect x.wav -m", "drsn: detect: option '-m' needs a value (try 'drsn detect --help')\n"},
		{"detect --quiet=yes x.wav", "drsn: detect: option '--quiet' takes no value (try 'drsn detect --help')\n"},
		{"classify --bogus=1 x.wav", "drsn: classify: unknown or ambiguous option '--bogus' (try 'drsn classify --help')\n"},
		{"classify x.wav --top", "drsn: classify: option '--top' needs a value (try 'drsn classify --help')\n"},
		/* a typo: the option meant; a command's name too */
		{"detect --treshold 0.9 x.wav", "drsn: detect: unknown or ambiguous option '--treshold' (try 'drsn detect --help'); did you mean '--threshold'?\n"},
		{"tune --Treshold=0.9 x.wav", "drsn: tune: unknown or ambiguous option '--Treshold' (try 'drsn tune --help'); did you mean '--threshold'?\n"},
		{"classify --modle m x.wav", "drsn: classify: unknown or ambiguous option '--modle' (try 'drsn classify --help'); did you mean '--model'?\n"},
		{"detct x.wav", "drsn: unknown command 'detct' (try 'drsn --help'); did you mean 'detect'?\n"},
		{"xyzzy x.wav", "drsn: unknown command 'xyzzy' (try 'drsn --help')\n"},
	};
	char out[4096], err[4096];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = run(cases[i].args, out, sizeof out, err, sizeof err);
		if (rc != 2 || strcmp(err, cases[i].want) || out[0])
			fail_msg("drsn %s: exit %d, stderr:\n%s(want exit 2 and\n%s)", cases[i].args,
				 rc, err, cases[i].want);
	}
}

/* Every command answers --help with its usage on stdout and exit 0, and
 * version takes no argument (it printed the version for --help). */
static void test_version_help_and_arguments(void **state)
{
	(void)state;
	char out[1024], err[1024];
	assert_int_equal(run("version --help", out, sizeof out, NULL, 0), 0);
	assert_non_null(strstr(out, "usage: drsn version"));
	assert_int_equal(run("version extra", out, sizeof out, err, sizeof err), 2);
	assert_non_null(strstr(err, "unexpected argument 'extra'"));
	assert_int_equal(run("version", out, sizeof out, NULL, 0), 0);
	assert_int_equal(strncmp(out, "drsn ", 5), 0);
}

/* bench without --model: drsn_default_model_path(), the DRSN-CW, not the
 * first models/ *.safetensors in name order (kws20-drsn-cs). */
static void test_bench_default_model(void **state)
{
	(void)state;
	unsetenv("DRSN_MODEL");
	const char *model = drsn_default_model_path();
	if (access(model, R_OK) != 0) {
		print_message("no default model at %s: skipped\n", model);
		skip();
	}
	static char out[65536];
	char err[4096], want[1200];
	int rc = run("bench --json --runs 1 --no-torch", out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("drsn bench: exit %d: %s", rc, err);
	snprintf(want, sizeof want, "\"model\":\t\"%s\"", model);
	if (!strstr(out, want) || !strstr(out, "\"variant\":\t\"cw\""))
		fail_msg("drsn bench timed another model than %s:\n%.400s", model, out);
	rc = run("bench --help", out, sizeof out, NULL, 0);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, model));
	assert_null(strstr(out, "default.safetensors if"));
}

/* The peak `drsn bench --json` measures against, with cpufreq's
 * cpuinfo_max_freq read from the file freq (or an assumed clock if it is
 * missing): flops per cycle of the best path here x the clock. */
static cJSON *bench_peak(const char *freq)
{
	static char out[65536];
	char err[4096];
	setenv("DRSN_CPUFREQ_MAX", freq, 1);
	int rc = run("bench --json --runs 1 --no-torch", out, sizeof out, err, sizeof err);
	unsetenv("DRSN_CPUFREQ_MAX");
	if (rc != 0)
		fail_msg("drsn bench: exit %d: %s", rc, err);
	cJSON *o = cJSON_Parse(out);
	if (!o)
		fail_msg("drsn bench --json: not JSON: %.400s", out);
	return o;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v))
		fail_msg("drsn bench --json: no number \"%s\"", key);
	return v->valuedouble;
}

static void test_bench_peak_is_this_cores(void **state)
{
	(void)state;
	if (access(drsn_default_model_path(), R_OK) != 0)
		skip();
	/* two FMA pipes x lanes x 2 flops: NEON on a Cortex-A72/A76, AVX2 on Zen;
	 * 32-bit ARM's NEON (no FMA): one 4-lane multiply-accumulate per cycle */
	static const struct {
		const char *path;
		double flops;
	} per_cycle[] = {
#if defined(__arm__)
		{"neon", 8},
#else
		{"neon", 16},
#endif
		{"avx2", 32}, {"sse2", 16}, {"scalar", 4}};
	const char *names[8];
	const int n = drsn_simd_available(names, 8);
	double flops = 0;
	for (size_t i = 0; i < sizeof per_cycle / sizeof per_cycle[0]; i++)
		if (!strcmp(names[n - 1], per_cycle[i].path))
			flops = per_cycle[i].flops;
	assert_true(flops > 0);

	/* a Raspberry Pi 5 (2.4 GHz): NEON's peak is 38.4 GFLOP/s, not 100 */
	char freq[160];
	path(freq, sizeof freq, "cpuinfo_max_freq");
	FILE *f = fopen(freq, "w");
	assert_non_null(f);
	fputs("2400000\n", f);
	assert_int_equal(fclose(f), 0);
	cJSON *o = bench_peak(freq);
	if (fabs(num(o, "peak_gflops") - flops * 2.4) > 1e-6)
		fail_msg("%s at 2.4 GHz: peak %g GFLOP/s, expected %g", names[n - 1],
			 num(o, "peak_gflops"), flops * 2.4);
	const cJSON *clock = cJSON_GetObjectItemCaseSensitive(o, "peak_clock");
	if (!cJSON_IsString(clock) || strcmp(clock->valuestring, "cpufreq"))
		fail_msg("drsn bench did not read the clock from %s", freq);
	assert_true(fabs(num(o, "peak_ghz") - 2.4) < 1e-9);
	assert_true(fabs(num(o, "peak_flops_per_cycle") - flops) < 1e-9);
	assert_true(fabs(num(o, "fraction_of_peak") * num(o, "peak_gflops") - num(o, "gflops")) <=
		    1e-9 * num(o, "gflops"));
	cJSON_Delete(o);

	/* no cpufreq (a VM, qemu-user): an assumed clock, said so */
	path(freq, sizeof freq, "no-such-cpufreq");
	o = bench_peak(freq);
	clock = cJSON_GetObjectItemCaseSensitive(o, "peak_clock");
	assert_true(cJSON_IsString(clock) && !strcmp(clock->valuestring, "assumed"));
	assert_true(fabs(num(o, "peak_gflops") - flops * num(o, "peak_ghz")) < 1e-6);
	cJSON_Delete(o);
}

/* Runs "drsn classify file" with stdout into out: its peak resident set in kB. */
static long classify_maxrss(const char *file, char *out, size_t outn)
{
	char o[160];
	path(o, sizeof o, "classify.out");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		execl(drsn, drsn, "classify", file, (char *)NULL);
		_exit(127);
	}
	int status;
	struct rusage ru;
	assert_int_equal(wait4(pid, &status, 0, &ru), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("drsn classify %s: status 0x%x", file, status);
	size_t n;
	char *s = drsn__test_slurp(o, &n);
	snprintf(out, outn, "%.*s", (int)n, s);
	free(s);
	return ru.ru_maxrss;
}

/* classify takes a recording's centre second (train.py's fit_window): a
 * 1 s clip with 10 minutes of silence before and after it gives the
 * clip's own label and scores, and drsn's memory does not grow with the
 * 20 minutes (it held the whole recording: 77 MB more). */
static void test_classify_long_recording(void **state)
{
	(void)state;
	const char *model = drsn_default_model_path();
	if (access(model, R_OK) != 0) {
		print_message("no default model at %s: skipped\n", model);
		skip();
	}
	char clip[160], rec[160], a[4096], b[4096];
	path(clip, sizeof clip, "clip.flac");
	path(rec, sizeof rec, "recording.flac");
	enum { RATE = 16000, PAD = 600 * RATE, CHUNK = 4 * RATE };
	static float x[RATE], zero[CHUNK];
	for (int i = 0; i < RATE; i++)
		x[i] = noise() * (float)sin(3.14159265 * i / RATE);
	SF_INFO si = {.samplerate = RATE, .channels = 1, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(clip, SFM_WRITE, &si);
	assert_non_null(f);
	assert_int_equal(sf_writef_float(f, x, RATE), RATE);
	sf_close(f);
	f = sf_open(rec, SFM_WRITE, &si);
	assert_non_null(f);
	for (int i = 0; i < PAD; i += CHUNK)
		assert_int_equal(sf_writef_float(f, zero, CHUNK), CHUNK);
	assert_int_equal(sf_writef_float(f, x, RATE), RATE);
	for (int i = 0; i < PAD; i += CHUNK)
		assert_int_equal(sf_writef_float(f, zero, CHUNK), CHUNK);
	sf_close(f);

	long rss_clip = classify_maxrss(clip, a, sizeof a);
	long rss_rec = classify_maxrss(rec, b, sizeof b);
	/* the same line but for the file name */
	const char *la = strstr(a, "\"label\""), *lb = strstr(b, "\"label\"");
	if (!la || !lb || strcmp(la, lb))
		fail_msg("the clip and the recording with it in the middle differ:\n%s%s", a, b);
	if (rss_rec > rss_clip + 20 * 1024)
		fail_msg("drsn classify: %ld kB for 20 minutes, %ld kB for 1 s", rss_rec, rss_clip);
}

/* Line by line, what a terminal shows of out[0..n): '\r' back to the left
 * margin, ESC [ K erases to the end of the line, other bytes overwrite.
 * Calls check(shown line) for each line. */
static void render_lines(const char *out, size_t n, void (*check)(const char *))
{
	char line[4096];
	size_t len = 0, cur = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || out[i] == '\n') {
			line[len] = 0;
			check(line);
			len = cur = 0;
		} else if (out[i] == '\r') {
			cur = 0;
		} else if (out[i] == '\033' && i + 2 < n && out[i + 1] == '[' && out[i + 2] == 'K') {
			len = cur;
			i += 2;
		} else if (cur < sizeof line - 1) {
			line[cur++] = out[i];
			if (cur > len)
				len = cur;
		}
	}
}

static int shown_json, shown_errors;

static void check_shown_line(const char *line)
{
	const char *json = strstr(line, "{\"file\""), *err = strstr(line, "drsn: ");
	if ((json && json != line) || (err && err != line))
		fail_msg("a line on the terminal: '%s'", line);
	shown_json += json != NULL;
	shown_errors += err != NULL;
}

/* drsn detect with stdout and stderr on one terminal, a batch long enough
 * for the progress bar: each detection and each error is a line of its own
 * (they were printed after the bar, on its line: "[###  ] 12%  file 1/3{...}"). */
static void test_detect_progress_bar_own_line(void **state)
{
	(void)state;
	if (!sample || access(drsn_default_model_path(), R_OK) != 0) {
		print_message("no sample or no default model: skipped\n");
		skip();
	}
	char bad[160];
	path(bad, sizeof bad, "not-audio.wav");
	FILE *f = fopen(bad, "w");
	assert_non_null(f);
	fputs("not audio\n", f);
	fclose(f);
	int master;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(drsn, drsn, "detect", sample, bad, sample, (char *)NULL);
		_exit(127);
	}
	static char out[1 << 20];
	size_t n = 0;
	for (;;) {
		ssize_t k = read(master, out + n, sizeof out - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;   /* EIO: the child closed the terminal */
		n += (size_t)k;
		assert_true(n < sizeof out);
	}
	close(master);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);   /* the bad file */
	out[n] = 0;
	if (!strstr(out, "%  file 1/3"))
		fail_msg("no progress bar on the terminal:\n%.2000s", out);
	shown_json = shown_errors = 0;
	render_lines(out, n, check_shown_line);
	assert_true(shown_json >= 10);
	assert_int_equal(shown_errors, 1);
}

/* Each line of out with "file":"NAME" in place of "file":"-". */
static void name_stdin(char *dst, size_t n, const char *out, const char *name)
{
	size_t k = 0;
	for (const char *p = out; *p && k + 1 < n;) {
		if (!strncmp(p, "{\"file\":\"-\"", 11)) {
			k += (size_t)snprintf(dst + k, n - k, "{\"file\":\"%s\"", name);
			p += 11;
		} else {
			dst[k++] = *p++;
		}
	}
	dst[k < n ? k : n - 1] = 0;
}

/* detect and classify read stdin for '-', as features and denoise do, from
 * a pipe or a file: the same lines as for the file, with "file":"-" (it was
 * "drsn: detect: -: no such file"). */
static void test_detect_classify_stdin(void **state)
{
	(void)state;
	if (!sample || access(drsn_default_model_path(), R_OK) != 0) {
		print_message("no sample or no default model: skipped\n");
		skip();
	}
	static char want[65536], got[65536], named[65536];
	char args[1024], err[1024];
	const char *cmds[] = {"detect", "classify"};
	for (int c = 0; c < 2; c++) {
		snprintf(args, sizeof args, "%s '%s'", cmds[c], sample);
		assert_int_equal(run(args, want, sizeof want, err, sizeof err), 0);
		assert_non_null(strstr(want, "\"label\""));
		for (int pipe = 0; pipe < 2; pipe++) {
			int rc;
			if (pipe) {
				snprintf(args, sizeof args, "'%s' | '%s' %s -", sample, drsn,
					 cmds[c]);
				rc = drsn__test_run("cat", dir, args, got, sizeof got, err,
						    sizeof err);
			} else {
				snprintf(args, sizeof args, "%s - < '%s'", cmds[c], sample);
				rc = run(args, got, sizeof got, err, sizeof err);
			}
			if (rc != 0)
				fail_msg("drsn %s - (%s): exit %d: %s", cmds[c],
					 pipe ? "a pipe" : "a file", rc, err);
			name_stdin(named, sizeof named, got, sample);
			if (strcmp(named, want))
				fail_msg("drsn %s -:\n%s\ndrsn %s FILE:\n%s", cmds[c], got,
					 cmds[c], want);
		}
		/* a second '-' is named as such, not "unsupported format" (stdin
		 * at its end), and the first is still read */
		snprintf(args, sizeof args, "'%s' | '%s' %s - -", sample, drsn, cmds[c]);
		int rc = drsn__test_run("cat", dir, args, got, sizeof got, err, sizeof err);
		static const char twice[] = "{\"file\":\"-\",\"error\":\"stdin ('-') given more "
					    "than once: it is read only once\"}\n";
		size_t k = strlen(got), t = strlen(twice);
		if (rc != 1 || k < t || strcmp(got + k - t, twice) || !strstr(got, "\"label\"") ||
		    !strstr(err, "given more than once"))
			fail_msg("cat %s: exit %d (want 1), stdout:\n%sstderr:\n%s", args, rc, got,
				 err);
	}
}

/* From a pipe, a stream libsndfile would read nothing from, saying nothing
 * (a WAV whose header declares zero frames, as a writer that cannot seek
 * back leaves it) is an error that says so, not an empty result
 * ("_silence_", 0 frames, an empty denoised WAV with exit 0); WAV, and CAF
 * and FLAC (held in memory first, test_stdin_formats_as_the_file), work. */
static void test_stdin_formats_a_pipe_cannot_carry(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int format;
		const char *want;   /* in the error, or NULL: read fine */
	} cases[] = {
		{"p.caf", SF_FORMAT_CAF | SF_FORMAT_PCM_16, NULL},
		{"p0.wav", 0, "the header declares zero frames"},
		{"p.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, NULL},
		{"p.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, NULL},
		/* no header: drsn cannot know its rate, and says what to pipe */
		{"p.raw", SF_FORMAT_RAW | SF_FORMAT_PCM_16, "pipe WAV instead (e.g. 'sox IN -t wav -'"},
	};
	char f[160], args[1024], out[4096], err[4096];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		path(f, sizeof f, cases[i].name);
		if (cases[i].format) {
			write_audio(f, cases[i].format, 16000);
		} else {   /* a WAV header with data size 0, then a second of audio */
			write_audio(f, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000);
			FILE *w = fopen(f, "r+b");
			assert_non_null(w);
			assert_int_equal(fseek(w, 40, SEEK_SET), 0);
			assert_int_equal(fwrite("\0\0\0\0", 1, 4, w), 4);
			fclose(w);
		}
		const char *cmds[] = {"classify -", "features -", "denoise - -"};
		for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
			snprintf(args, sizeof args, "'%s' | '%s' %s", f, drsn, cmds[c]);
			int rc = drsn__test_run("cat", dir, args, out, sizeof out, err, sizeof err);
			if (!cases[i].want) {
				if (rc != 0)
					fail_msg("cat %s: exit %d: %s", args, rc, err);
				continue;
			}
			if (rc != 1 || !strstr(err, cases[i].want) || !strstr(err, "stdin") ||
			    strstr(err, "0 bytes"))
				fail_msg("cat %s: exit %d (want 1), stderr:\n%s(want \"%s\")", args, rc,
					 err, cases[i].want);
		}
	}
}

/* `sox IN -t flac - | drsn features -` and the like: every format gives
 * from a pipe what it gives from the file: features -o - byte for byte,
 * denoise's samples (its header may differ: a pipe's length is unknown). FLAC, CAF, VOC, WVE, SDS and HTK, which libsndfile
 * must seek in, are held in memory first (they used to fail, SDS with
 * garbage samples); RF64 is read as it comes (its first 8 bytes of audio
 * used to be lost, and 24-bit samples misaligned into noise). */
/* The samples of an audio file, as bytes (*n of them). */
static char *samples_of(const char *p, size_t *n)
{
	SF_INFO si = {0};
	SNDFILE *f = sf_open(p, SFM_READ, &si);
	if (!f)
		fail_msg("%s: %s", p, sf_strerror(NULL));
	float *x = malloc(sizeof *x * (size_t)(si.frames * si.channels) + 1);
	assert_non_null(x);
	*n = sizeof *x * (size_t)sf_readf_float(f, x, si.frames) * (size_t)si.channels;
	sf_close(f);
	return (char *)x;
}

static void test_stdin_formats_as_the_file(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int format;
	} cases[] = {
		{"s.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
		{"s.caf", SF_FORMAT_CAF | SF_FORMAT_PCM_16},
		{"s.voc", SF_FORMAT_VOC | SF_FORMAT_PCM_16},
		{"s.wve", SF_FORMAT_WVE | SF_FORMAT_ALAW},
		{"s.sds", SF_FORMAT_SDS | SF_FORMAT_PCM_16},
		{"s.htk", SF_FORMAT_HTK | SF_FORMAT_PCM_16},
		{"s16.rf64", SF_FORMAT_RF64 | SF_FORMAT_PCM_16},
		{"s24.rf64", SF_FORMAT_RF64 | SF_FORMAT_PCM_24},
		{"s.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16},
	};
	char f[160], so[160], out[160], args[1024], err[2048];
	path(so, sizeof so, "stdout.txt");
	path(out, sizeof out, "denoised.wav");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		path(f, sizeof f, cases[i].name);
		write_audio(f, cases[i].format, 16000);
		for (int c = 0; c < 2; c++) {
			size_t n, m;
			if (c == 0)
				snprintf(args, sizeof args, "features '%s' -o -", f);
			else
				snprintf(args, sizeof args, "denoise -q '%s' '%s'", f, out);
			if (run(args, NULL, 0, err, sizeof err) != 0)
				fail_msg("drsn %s: %s", args, err);
			char *want = c ? samples_of(out, &n) : drsn__test_slurp(so, &n);
			if (c == 0)
				snprintf(args, sizeof args, "'%s' | '%s' features - -o -", f, drsn);
			else
				snprintf(args, sizeof args, "'%s' | '%s' denoise -q - '%s'", f, drsn, out);
			int rc = drsn__test_run("cat", dir, args, NULL, 0, err, sizeof err);
			if (rc != 0)
				fail_msg("cat %s: exit %d: %s", args, rc, err);
			char *got = c ? samples_of(out, &m) : drsn__test_slurp(so, &m);
			if (m != n || memcmp(got, want, n))
				fail_msg("cat %s: %zu bytes, not the %zu from the file%s", args, m, n,
					 m == n ? " (same length, other bytes)" : "");
			free(got);
			free(want);
		}
	}
	/* FLAC as sox writes it to a pipe: its header cannot say how long it is
	 * (it said "truncated data: the audio ends after 16000 of the
	 * 9223372036854775807 frames the header declares"); lossless, it gives
	 * what the WAV gives */
	size_t n, m;
	path(f, sizeof f, "s.wav");
	snprintf(args, sizeof args, "features '%s' -o -", f);
	if (run(args, NULL, 0, err, sizeof err) != 0)
		fail_msg("drsn %s: %s", args, err);
	char *want = drsn__test_slurp(so, &n);
	snprintf(args, sizeof args, "'%s' -t flac - | '%s' features - -o -", f, drsn);
	int rc = drsn__test_run("sox", dir, args, NULL, 0, err, sizeof err);
	if (rc != 0)
		fail_msg("sox %s: exit %d: %s", args, rc, err);
	char *got = drsn__test_slurp(so, &m);
	if (m != n || memcmp(got, want, n))
		fail_msg("sox %s: %zu bytes, not the %zu from the WAV", args, m, n);
	free(got);
	free(want);
}

/* features -o -: the .npy goes to stdout, byte for byte what -o FILE
 * writes, from a file or from stdin (it used to create a file named "-"). */
static void test_features_npy_to_stdout(void **state)
{
	(void)state;
	char d[128], in[160], npy[160], so[160], args[1024], err[1024];
	path(d, sizeof d, "npyout");
	assert_int_equal(mkdir(d, 0777), 0);
	snprintf(in, sizeof in, "%s/in.wav", d);
	snprintf(npy, sizeof npy, "%s/in.npy", d);
	snprintf(so, sizeof so, "%s/stdout.txt", dir);
	write_audio(in, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000);
	snprintf(args, sizeof args, "features '%s' -o '%s'", in, npy);
	assert_int_equal(run(args, NULL, 0, err, sizeof err), 0);
	size_t n;
	char *want = drsn__test_slurp(npy, &n);
	assert_true(n > 128);
	char *exe = realpath(drsn, NULL);   /* run from d */
	assert_non_null(exe);
	for (int pipe = 0; pipe < 2; pipe++) {
		if (pipe)
			snprintf(args, sizeof args, "'%s' && cat in.wav | '%s' features - -o -", d, exe);
		else
			snprintf(args, sizeof args, "'%s' && '%s' features in.wav -o -", d, exe);
		int rc = drsn__test_run("cd", dir, args, NULL, 0, err, sizeof err);
		if (rc != 0)
			fail_msg("cd %s: exit %d: %s", args, rc, err);
		drsn__test_assert_file_is(so, want, n);
		drsn__test_assert_folder_holds(d, "in.npy in.wav");   /* no file "-" */
	}
	free(exe);
	free(want);
}

/* stdout a pipe whose reader is gone while SIGPIPE is ignored (a parent
 * that ignores it: some CI runners, Python's subprocess before 3.x, `trap ''
 * PIPE`): detect and classify say so once and exit 1 at the first failed
 * write, instead of running to the end of their input (a live stream never
 * ends) and exiting 0. */
static void test_closed_stdout_stops(void **state)
{
	(void)state;
	if (!sample || access(drsn_default_model_path(), R_OK) != 0) {
		print_message("no sample or no default model: skipped\n");
		skip();
	}
	const char *cmds[] = {"detect", "classify"};
	for (int c = 0; c < 2; c++) {
		/* a few files: the old code wrote into the void for every one */
		char *argv[] = {(char *)drsn, (char *)cmds[c], (char *)sample, (char *)sample,
				(char *)sample, (char *)sample, NULL};
		char err[8192];
		int st = run_closed_pipe(argv, 1, err, sizeof err);
		char want[128];
		snprintf(want, sizeof want, "drsn: %s: stdout: write error: %s\n", cmds[c],
			 strerror(EPIPE));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || strcmp(err, want))
			fail_msg("drsn %s, stdout a pipe with no reader: status 0x%x, stderr:\n%s"
				 "(want exit 1 and %s)", cmds[c], st, err, want);
	}
}

/* A folder walk names what it does not search (a folder nested too deep, a
 * path too long) instead of skipping it in silence: an error line for it,
 * exit 1, and the files it did reach are still classified. */
static void test_walk_names_what_it_skips(void **state)
{
	(void)state;
	static char p[8192], out[32768], err[16384];   /* lines that carry 4 kB paths twice */
	path(p, sizeof p, "deep");
	assert_int_equal(mkdir(p, 0777), 0);
	write_audio(strcat(strcpy(out, p), "/a.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000);
	for (int i = 0; i < 34; i++) {   /* deep/d/d/...: the 33rd level is past the limit */
		strcat(p, "/d");
		assert_int_equal(mkdir(p, 0777), 0);
	}
	write_audio(strcat(p, "/z.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000);
	char args[256], want[256];
	snprintf(args, sizeof args, "classify '%s/deep'", dir);
	snprintf(want, sizeof want, "\"file\":\"%s/deep/a.wav\",\"label\"", dir);
	int rc = run(args, out, sizeof out, err, sizeof err);
	if (rc != 1 || !strstr(out, want) ||
	    !strstr(out, "a folder nested deeper than 32 levels, not searched"))
		fail_msg("drsn classify deep: exit %d\n%s%s", rc, out, err);
	/* a name that makes the path longer than PATH_MAX */
	path(p, sizeof p, "long");
	assert_int_equal(mkdir(p, 0777), 0);
	write_audio(strcat(strcpy(out, p), "/a.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000);
	/* 17 folders of 250 bytes: past 4096, made one inside the other (mkdir
	 * refuses such a path whole) */
	char name[251];
	memset(name, 'x', 250);
	name[250] = 0;
	int fd = open(p, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 17; i++) {
		assert_true(fd >= 0);
		assert_int_equal(mkdirat(fd, name, 0777), 0);
		int sub = openat(fd, name, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = sub;
	}
	close(fd);
	snprintf(args, sizeof args, "classify '%s/long'", dir);
	snprintf(want, sizeof want, "\"file\":\"%s/long/a.wav\",\"label\"", dir);
	rc = run(args, out, sizeof out, err, sizeof err);
	if (rc != 1 || !strstr(out, want) ||
	    !strstr(out, "a path longer than 4095 bytes, not searched"))
		fail_msg("drsn classify long: exit %d\n%s%s", rc, out, err);
}

/* A folder's files of an audio or video extension libsndfile cannot read
 * (.m4a, .mp4, ...) are skipped with one note each on stderr naming the file
 * and how to convert it, not in silence; stdout and the exit status are the
 * same as without them, and other files (.txt) stay silent. */
static void test_walk_notes_unreadable_media(void **state)
{
	(void)state;
	static char p[512], out[16384], err[16384], out0[16384], err0[16384];
	path(p, sizeof p, "media");
	assert_int_equal(mkdir(p, 0777), 0);
	write_audio(strcat(strcpy(out, p), "/a.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000);
	static const char *const cmds[] = {"classify", "detect"};
	for (int c = 0; c < 2; c++) {
		char args[256];
		snprintf(args, sizeof args, "%s '%s/media'", cmds[c], dir);
		int rc0 = run(args, out0, sizeof out0, err0, sizeof err0);
		assert_int_equal(rc0, 0);
		static const char *const names[] = {"b.m4a", "c.MP4", "d's.webm", "notes.txt", "e.xyz"};
		for (int i = 0; i < 5; i++) {
			char f[600];
			snprintf(f, sizeof f, "%s/%s", p, names[i]);
			FILE *fp = fopen(f, "w");
			assert_non_null(fp);
			fputs("not audio libsndfile reads\n", fp);
			fclose(fp);
		}
		int rc = run(args, out, sizeof out, err, sizeof err);
		char want[700];
		int bad = rc != rc0 || strcmp(out, out0);
		for (int i = 0; i < 3; i++) {
			snprintf(want, sizeof want, "%s/media/%s: skipped:", dir, names[i]);
			char *at = strstr(err, want);
			bad |= !at || strstr(at + 1, want);   /* one note each */
		}
		snprintf(want, sizeof want, "ffmpeg -i '%s/media/d'\\''s.webm' -ac 1 -ar 16000 "
			 "'%s/media/d'\\''s.webm.wav'", dir, dir);
		bad |= !strstr(err, want) || strstr(err, "notes.txt") || strstr(err, "e.xyz");
		if (bad)
			fail_msg("drsn %s: exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", args, rc,
				 rc0, out, out0, err);
		for (int i = 0; i < 5; i++) {
			char f[600];
			snprintf(f, sizeof f, "%s/%s", p, names[i]);
			unlink(f);
		}
	}
}


/* The shipped stream at gain g as float WAV(s): mono, and 2 channels with
 * the second one other (0: a dead channel, else noise standing for the
 * box's own playback). */
static void write_stream(const char *mono, const char *stereo, float g, int other)
{
	SF_INFO si = {0};
	SNDFILE *f = sf_open(sample, SFM_READ, &si);
	assert_non_null(f);
	assert_int_equal(si.channels, 1);
	float *x = malloc(sizeof(float) * (size_t)si.frames * 2);
	assert_non_null(x);
	assert_int_equal(sf_readf_float(f, x, si.frames), si.frames);
	sf_close(f);
	for (sf_count_t i = 0; i < si.frames; i++)
		x[i] *= g;
	SF_INFO so = {.samplerate = si.samplerate, .channels = 1,
		      .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	if (mono) {
		assert_non_null(f = sf_open(mono, SFM_WRITE, &so));
		assert_int_equal(sf_writef_float(f, x, si.frames), si.frames);
		sf_close(f);
	}
	for (sf_count_t i = si.frames - 1; i >= 0; i--) {
		x[2 * i] = x[i];
		x[2 * i + 1] = other ? noise() : 0.0f;
	}
	so.channels = 2;
	assert_non_null(f = sf_open(stereo, SFM_WRITE, &so));
	assert_int_equal(sf_writef_float(f, x, si.frames), si.frames);
	sf_close(f);
	free(x);
}

/* stdout of "drsn ARGS FILE" with FILE's name taken out of it */
static void run_named(const char *args, const char *file, char *out, size_t n)
{
	char cmd[1024], err[1024], *p;
	snprintf(cmd, sizeof cmd, "%s '%s'", args, file);
	int rc = run(cmd, out, n, err, sizeof err);
	if (rc != 0)
		fail_msg("drsn %s: exit %d: %s", cmd, rc, err);
	while ((p = strstr(out, file)) != NULL)
		memmove(p, p + strlen(file), strlen(p + strlen(file)) + 1);
}

/* A USB microphone that reports two channels and records on one: a quiet
 * speaker (-34 dB: the shipped stream at 0.02) is found as in mono, not
 * 6 dB down (measured before: 9 of 10 keywords mono, 2 of 10 so); a mic
 * array's playback channel is left out with --channel; a channel the file
 * does not have names both numbers. */
static void test_channel_selection(void **state)
{
	(void)state;
	static char a[1 << 16], b[1 << 16];
	char mono[256], dead[256], loop[256], err[1024], args[1024];
	path(mono, sizeof mono, "quiet-mono.wav");
	path(dead, sizeof dead, "quiet-dead-right.wav");
	path(loop, sizeof loop, "loopback-right.wav");
	write_stream(mono, dead, 0.02f, 0);
	write_stream(NULL, loop, 0.02f, 1);

	run_named("detect -q", mono, a, sizeof a);
	run_named("detect -q", dead, b, sizeof b);
	assert_string_equal(a, b);
	int found = 0;
	for (char *p = a; (p = strstr(p, "\"label\"")) != NULL; p++)
		found++;
	assert_true(found >= 8);   /* 9 of 10 keywords; one fewer on another SIMD path is fine */
	run_named("detect -q --channel 1", loop, b, sizeof b);
	assert_string_equal(a, b);
	run_named("classify --channel 1", loop, b, sizeof b);
	run_named("classify", mono, a, sizeof a);
	assert_string_equal(a, b);
	run_named("features --channel 1-1", loop, b, sizeof b);
	run_named("features", mono, a, sizeof a);
	assert_string_equal(a, b);

	/* a channel the file does not have: that file fails (exit 1), naming both */
	snprintf(args, sizeof args, "detect -q --channel 1,3 '%s'", dead);
	assert_int_equal(run(args, a, sizeof a, err, sizeof err), 1);
	assert_non_null(strstr(a, "\"error\""));
	assert_non_null(strstr(err, "channel 3 asked for, but it has 2 channels"));
	snprintf(args, sizeof args, "denoise --channel 3 '%s' '%s/o.wav'", dead, dir);
	assert_int_equal(run(args, NULL, 0, err, sizeof err), 1);
	assert_non_null(strstr(err, "channel 3 asked for, but it has 2 channels"));
	/* denoise --channel: mono out */
	snprintf(args, sizeof args, "denoise --channel 1 '%s' '%s/o.wav'", loop, dir);
	assert_int_equal(run(args, NULL, 0, err, sizeof err), 0);
	SF_INFO si = {0};
	snprintf(args, sizeof args, "%s/o.wav", dir);
	SNDFILE *f = sf_open(args, SFM_READ, &si);
	assert_non_null(f);
	assert_int_equal(si.channels, 1);
	sf_close(f);

	/* a bad selection: a usage error naming the option, for every command */
	static const char *const cmds[] = {"detect", "classify", "features", "denoise"};
	static const char *const bad[] = {"0", "65", "x", "1,", "2-1", ""};
	for (size_t c = 0; c < 4; c++)
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			snprintf(args, sizeof args, "%s --channel '%s' '%s'%s", cmds[c], bad[i], dead,
				 c == 3 ? " o.wav" : "");
			int rc = run(args, NULL, 0, err, sizeof err);
			if (rc != 2 || !strstr(err, "--channel '"))
				fail_msg("drsn %s: exit %d: %s", args, rc, err);
		}
}

static void write_noise_at(const char *p, int rate)
{
	enum { MAXN = 48000 };
	static float x[MAXN];
	for (int i = 0; i < rate; i++)
		x[i] = noise();
	SF_INFO si = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *f = sf_open(p, SFM_WRITE, &si);
	assert_non_null(f);
	assert_int_equal(sf_writef_float(f, x, rate), rate);
	sf_close(f);
}

static int count(const char *s, const char *needle)
{
	int n = 0;
	for (const char *q = s; (q = strstr(q, needle)) != NULL; q++)
		n++;
	return n;
}

/* A file below the model's 16 kHz (8 kHz: a telephone recording, a
 * Bluetooth hands-free microphone) is warned of, once a run, naming the
 * first such file; 16 and 48 kHz files are not. The files are still
 * classified (exit 0, a result each). */
static void test_narrowband_warned_once(void **state)
{
	(void)state;
	char t1[160], t2[160], w16[160], w48[160], args[1024];
	static char out[1 << 14], err[1 << 14];
	path(t1, sizeof t1, "tel1-8k.wav");
	path(t2, sizeof t2, "tel2-8k.wav");
	path(w16, sizeof w16, "wide-16k.wav");
	path(w48, sizeof w48, "wide-48k.wav");
	write_noise_at(t1, 8000);
	write_noise_at(t2, 8000);
	write_noise_at(w16, 16000);
	write_noise_at(w48, 48000);
	static const char *const cmds[] = {"classify", "detect -q -t 0.01"};
	for (int c = 0; c < 2; c++) {
		snprintf(args, sizeof args, "%s '%s' '%s' '%s' '%s'", cmds[c], w16, t1, w48, t2);
		int rc = run(args, out, sizeof out, err, sizeof err);
		if (rc != 0)
			fail_msg("drsn %s: exit %d: %s", args, rc, err);
		char want[512];
		snprintf(want, sizeof want, "%s: warning: source 8000 Hz is below the model's 16000 Hz: "
			 "the model hears no sound above 4000 Hz", t1);
		if (!strstr(err, want) || count(err, "is below the model's") != 1)
			fail_msg("drsn %s: want one warning \"%s\", stderr:\n%s", args, want, err);
		if (c == 0)
			assert_int_equal(count(out, "\"label\""), 4);
		snprintf(args, sizeof args, "%s '%s' '%s'", cmds[c], w16, w48);
		rc = run(args, out, sizeof out, err, sizeof err);
		if (rc != 0 || strstr(err, "below the model"))
			fail_msg("drsn %s: exit %d, stderr: %s", args, rc, err);
	}
}

/* A folder for -j: the sample twice, noise of several lengths (a file that
 * gets no detection at -t 0.8 and one that gets many at -t 0.01), two 8 kHz
 * files (the warning once, for the first), a FLAC cut short (it fails half
 * way), a file that is not audio and a broken link (both cannot be read). */
static void make_jobs_folder(const char *d)
{
	char p[256];
	assert_int_equal(mkdir(d, 0777), 0);
	/* two keywords each (samples/stream-noisy.truth.csv): short, as every
	 * run reads the folder, and this test runs under ASan and qemu too */
	snprintf(p, sizeof p, "%s/a-sample.wav", d);
	write_excerpt(p, 0.5, 3.8);
	snprintf(p, sizeof p, "%s/m-sample.wav", d);
	write_excerpt(p, 4.3, 9.0);
	static const int secs[] = {1, 3, 2, 1};
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/n%d-noise.wav", d, i);
		write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, secs[i] * 16000 + 123 * i);
	}
	snprintf(p, sizeof p, "%s/b-tel-8k.wav", d);
	write_noise_at(p, 8000);
	snprintf(p, sizeof p, "%s/x-tel-8k.wav", d);
	write_noise_at(p, 8000);
	snprintf(p, sizeof p, "%s/c-cut.flac", d);
	write_cut_flac(p, 6 * 16000);
	snprintf(p, sizeof p, "%s/k-not-audio.wav", d);
	write_not_audio(p);
	snprintf(p, sizeof p, "%s/z-broken.wav", d);
	assert_int_equal(symlink("no-such-file.wav", p), 0);
}

/* detect and classify -j 2, -j 3 and --jobs=16 (more workers than files):
 * stdout, stderr and the exit code exactly those of -j 1 (and of no -j),
 * over a folder of files of different lengths, some that cannot be read;
 * '-' among the inputs is read once, where it stands. Bad -j values are
 * usage errors that name --jobs. */
static void test_jobs_same_output(void **state)
{
	(void)state;
	if (!sample || access(drsn_default_model_path(), R_OK) != 0) {
		print_message("no sample or no default model: skipped\n");
		skip();
	}
	char d[128], args[1024];
	static char want[1 << 18], got[1 << 18], want_err[1 << 14], got_err[1 << 14];
	path(d, sizeof d, "jobs");
	make_jobs_folder(d);
	char ex[128]; /* given after the folder, by name and as stdin */
	path(ex, sizeof ex, "jobs-excerpt.wav");
	write_excerpt(ex, 9.8, 13.0);
	/* Each run reads the folder: under qemu-user (a cross build's exe
	 * wrapper: minutes) only detect with stdin at -j 2, and natively every
	 * spelling of -j for detect, two worker counts for the others. */
	const char *wrapper = getenv("MESON_EXE_WRAPPER");
	const int emulated = wrapper && *wrapper;
	static const char *const cmds[] = {"detect -q", "detect -q -t 0.01", "classify -n 0"};
	static const char *const js[] = {"-j 2", "--jobs=16", "", "-j3", "--jobs 2"};
	for (int c = 0; c < (emulated ? 1 : 3); c++) {
		const size_t n_js = emulated ? 1 : c ? 2 : sizeof js / sizeof js[0];
		for (int stdin_too = c || emulated; stdin_too < 2; stdin_too++) {
			const char *in = stdin_too ? " - " : " ";
			snprintf(args, sizeof args, "%s -j 1 '%s'%s'%s' < '%s'", cmds[c], d, in, ex, ex);
			int want_rc = run(args, want, sizeof want, want_err, sizeof want_err);
			if (want_rc != 1 || count(want, "\"error\"") != 3 ||
			    count(want_err, "is below the model's") != 1)
				fail_msg("drsn %s: exit %d (want 1: three files fail), stdout:\n%s\nstderr:\n%s",
					 args, want_rc, want, want_err);
			if (count(want, "\"label\"") < 6)
				fail_msg("drsn %s: fewer than 6 labels:\n%s", args, want);
			for (size_t j = 0; j < n_js; j++) {
				snprintf(args, sizeof args, "%s %s '%s'%s'%s' < '%s'", cmds[c], js[j], d, in,
					 ex, ex);
				int rc = run(args, got, sizeof got, got_err, sizeof got_err);
				if (rc != want_rc || strcmp(got, want) || strcmp(got_err, want_err))
					fail_msg("drsn %s: exit %d, want %d\nstdout:\n%s\nwant:\n%s\n"
						 "stderr:\n%s\nwant:\n%s", args, rc, want_rc, got, want,
						 got_err, want_err);
			}
		}
	}
	static const char *const bad[] = {"-j 257", "-j -1", "-j x", "-j ''", "--jobs=2x",
					  "--jobs 1.5", "-j 99999999999999999999"};
	for (int c = 0; c < 3; c += 2) {
		for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
			snprintf(args, sizeof args, "%s %s '%s'", cmds[c], bad[b], d);
			int rc = run(args, got, sizeof got, got_err, sizeof got_err);
			if (rc != 2 || !strstr(got_err, "--jobs") || got[0])
				fail_msg("drsn %s: exit %d (want 2), stderr: %s", args, rc, got_err);
		}
		snprintf(args, sizeof args, "%s '%s' -j", cmds[c], d);
		int rc = run(args, NULL, 0, got_err, sizeof got_err);
		if (rc != 2 || !strstr(got_err, "'-j' needs a value"))
			fail_msg("drsn %s: exit %d (want 2), stderr: %s", args, rc, got_err);
	}
	/* tune: the detection pass over the files on N threads, the same
	 * table and JSON, also with --truth (where the detections' windows
	 * count; the old tune had no -j). The keywords of the excerpts, each
	 * file's row (samples/stream-noisy.truth.csv, from each excerpt's start) */
	char truth[160];
	path(truth, sizeof truth, "jobs-truth.csv");
	FILE *tf = fopen(truth, "w");
	assert_non_null(tf);
	fprintf(tf, "file,label,start,end\n%s/a-sample.wav,off,0.5,0.84\n%s/a-sample.wav,yes,2.385,2.745\n"
		"%s/m-sample.wav,three,0.418,0.748\n%s/m-sample.wav,eight,4.099,4.349\n%s,nine,0.345,0.695\n"
		"%s,up,2.072,2.752\n", d, d, d, d, ex, ex);
	static const char *const others[] = {"n0-noise.wav", "n1-noise.wav", "n2-noise.wav", "n3-noise.wav",
					      "b-tel-8k.wav", "x-tel-8k.wav", "c-cut.flac", "k-not-audio.wav",
					      "z-broken.wav"};
	for (size_t i = 0; i < sizeof others / sizeof *others; i++)
		fprintf(tf, "%s/%s,,,\n", d, others[i]);
	fclose(tf);
	for (int v = 0; v < (emulated ? 1 : 3); v++) {
		char as[256];
		snprintf(as, sizeof as, "%s%s%s", v ? " --json" : "", v == 2 ? " --truth " : "", v == 2 ? truth : "");
		snprintf(args, sizeof args, "tune -q%s -j 1 '%s' '%s'", as, d, ex);
		int want_rc = run(args, want, sizeof want, want_err, sizeof want_err);
		if (want_rc != 1 || count(want, "\"error\"") != 3 ||
		    !strstr(want, v == 0 ? "[thresholds]" : v == 1 ? "\"suggested\"" : "\"keywords\":6"))
			fail_msg("drsn %s: exit %d (want 1: three files fail)\nstdout:\n%s\nstderr:\n%s", args,
				 want_rc, want, want_err);
		snprintf(args, sizeof args, "tune -q%s %s '%s' '%s'", as, v == 1 ? "-j3" : "-j 2", d, ex);
		int rc = run(args, got, sizeof got, got_err, sizeof got_err);
		if (rc != want_rc || strcmp(got, want) || strcmp(got_err, want_err))
			fail_msg("drsn %s: exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s",
				 args, rc, want_rc, got, want, got_err, want_err);
	}
	snprintf(args, sizeof args, "tune -j 257 '%s'", d);
	int trc = run(args, got, sizeof got, got_err, sizeof got_err);
	if (trc != 2 || !strstr(got_err, "tune: --jobs"))
		fail_msg("drsn %s: exit %d (want 2), stderr: %s", args, trc, got_err);
	/* 0 and auto: one per online CPU, the same output */
	snprintf(args, sizeof args, "classify -j auto '%s'", d);
	assert_int_equal(run(args, got, sizeof got, NULL, 0), 1);
	snprintf(args, sizeof args, "classify -j 0 '%s'", d);
	assert_int_equal(run(args, want, sizeof want, NULL, 0), 1);
	assert_string_equal(got, want);
}

/* detect -j 2 with a long first file: its detections are printed as they
 * are made, as at -j 1, not held until the file is done (an explorer saw
 * no line after 2.5 s at -j 2 on 12-minute files, 116 at -j 1). The first
 * file is a FIFO fed 3 s of a 3.3 s excerpt (its header says 3.3 s) and
 * then held open: the file cannot end, and its "off" must come out. */
static void test_jobs_head_file_streams(void **state)
{
	(void)state;
	if (!sample || access(drsn_default_model_path(), R_OK) != 0) {
		print_message("no sample or no default model: skipped\n");
		skip();
	}
	char ex[160], fifo[160], other[160];
	path(ex, sizeof ex, "head-excerpt.wav");
	write_excerpt(ex, 0.5, 3.8);   /* "off" at 0.5 s into it, "yes" at 2.4 s */
	path(other, sizeof other, "head-other.wav");
	write_excerpt(other, 9.8, 13.0);
	path(fifo, sizeof fifo, "head-fifo.wav");
	assert_int_equal(mkfifo(fifo, 0666), 0);
	size_t n;
	char *wav = drsn__test_slurp(ex, &n);
	int out[2];
	assert_int_equal(pipe(out), 0);
	char *argv[] = {(char *)drsn, "detect", "-q", "-j", "2", fifo, other, NULL};
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	int fd = open(fifo, O_WRONLY);   /* waits for drsn to open it */
	assert_true(fd >= 0);
	size_t part = 44 + 3 * 16000 * 2;   /* the header and 3 s */
	assert_int_equal(write(fd, wav, part), (ssize_t)part);
	char got[4096] = "";
	size_t len = 0;
	for (int t = 0; t < 600 && !strstr(got, "\"label\""); t++) {   /* 60 s at most (qemu) */
		struct pollfd pf = {.fd = out[0], .events = POLLIN};
		if (poll(&pf, 1, 100) > 0) {
			ssize_t k = read(out[0], got + len, sizeof got - 1 - len);
			if (k <= 0)
				break;
			len += (size_t)k;
			got[len] = 0;
		}
	}
	int streamed = strstr(got, "\"label\":\"off\"") != NULL;
	assert_int_equal(write(fd, wav + part, n - part), (ssize_t)(n - part));
	close(fd);
	int status;
	waitpid(pid, &status, 0);
	close(out[0]);
	free(wav);
	if (!streamed)
		fail_msg("detect -j 2: no detection of the first file while it was still open, "
			 "stdout so far: '%s'", got);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH/TO/drsn\n", argv[0]);
		return 2;
	}
	drsn = argv[1];
	sample = argc > 2 ? argv[2] : NULL;
	snprintf(dir, sizeof dir, "/tmp/drsn-cli-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	drsn = drsn__test_exe(drsn, dir);   /* under qemu in a cross build */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features_output_is_input),
		cmocka_unit_test(test_features_failed_run_keeps_output),
		cmocka_unit_test(test_features_many_files),
		cmocka_unit_test(test_features_signal_keeps_output),
		cmocka_unit_test(test_features_jobs),
		cmocka_unit_test(test_non_finite_audio_read_as_zero),
		cmocka_unit_test(test_detect_range_is_usage_error),
		cmocka_unit_test(test_labels_of_ones_own),
		cmocka_unit_test(test_version_help_and_arguments),
		cmocka_unit_test(test_stdout_write_error),
		cmocka_unit_test(test_end_of_options),
		cmocka_unit_test(test_help_command),
		cmocka_unit_test(test_model_from_env),
		cmocka_unit_test(test_bad_option_one_line),
		cmocka_unit_test(test_bench_default_model),
		cmocka_unit_test(test_bench_peak_is_this_cores),
		cmocka_unit_test(test_classify_long_recording),
		cmocka_unit_test(test_detect_progress_bar_own_line),
		cmocka_unit_test(test_detect_classify_stdin),
		cmocka_unit_test(test_walk_names_what_it_skips),
		cmocka_unit_test(test_walk_notes_unreadable_media),
		cmocka_unit_test(test_stdin_formats_a_pipe_cannot_carry),
		cmocka_unit_test(test_stdin_formats_as_the_file),
		cmocka_unit_test(test_features_npy_to_stdout),
		cmocka_unit_test(test_closed_stdout_stops),
		cmocka_unit_test(test_channel_selection),
		cmocka_unit_test(test_narrowband_warned_once),
		cmocka_unit_test(test_jobs_same_output),
		cmocka_unit_test(test_jobs_head_file_streams),
	};
	int rc = cmocka_run_group_tests_name("drsn-cli", tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
