/* drsn's commands end to end, beyond denoise (tests/denoise/cli.test.c):
 * `features -o` refuses an output that is an input and leaves an earlier
 * output as it was when it fails; out-of-range option values are usage
 * errors (exit 2) that name the flag; `bench` without --model times the
 * default model, the one every command uses. argv[1] is the drsn executable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "drsn/drsn.h"

#include "common/test_files.h"

static const char *drsn;
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

/* Audio holding a NaN gives features made of NaN: an error naming the file
 * and the frame, as drsn classify does, and no .npy (OUT stays as it was). */
static void test_features_non_finite_audio(void **state)
{
	(void)state;
	char wav[160], out[160], args[1024], err[1024];
	path(wav, sizeof wav, "nan.wav");
	path(out, sizeof out, "nan.npy");
	float x[16000];
	for (int i = 0; i < 16000; i++)
		x[i] = noise();
	x[8000] = NAN;
	SF_INFO si = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
	SNDFILE *f = sf_open(wav, SFM_WRITE, &si);
	assert_non_null(f);
	assert_int_equal(sf_writef_float(f, x, 16000), 16000);
	sf_close(f);
	for (int with_out = 0; with_out < 2; with_out++) {
		snprintf(args, sizeof args, "features '%s'%s%s%s", wav, with_out ? " -o '" : "",
			 with_out ? out : "", with_out ? "'" : "");
		int rc = run(args, NULL, 0, err, sizeof err);
		if (rc != 1 || !strstr(err, "nan.wav: non-finite features from frame 48 on"))
			fail_msg("drsn %s: exit %d: %s", args, rc, err);
	}
	assert_int_equal(access(out, F_OK), -1);
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

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH/TO/drsn\n", argv[0]);
		return 2;
	}
	drsn = argv[1];
	snprintf(dir, sizeof dir, "/tmp/drsn-cli-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features_output_is_input),
		cmocka_unit_test(test_features_failed_run_keeps_output),
		cmocka_unit_test(test_features_non_finite_audio),
		cmocka_unit_test(test_detect_range_is_usage_error),
		cmocka_unit_test(test_bench_default_model),
	};
	int rc = cmocka_run_group_tests_name("drsn-cli", tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
