/* FFTW wisdom (drsn_fft_wisdom_load/save): one file keeps the plans of both
 * precisions, so a saved file gives the next run measured plans for the
 * front end (double) as well as the denoiser (float) without measuring. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fft.h"
#include "drsn/common.h"

#define N 512

static char *tmp_path(void)
{
	const char *dir = getenv("TMPDIR");
	char *path = malloc(4096);
	snprintf(path, 4096, "%s/drsn-wisdom-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	return path;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Whether FFTW has wisdom for an N-point r2c plan of each precision. */
static int have_f64(void)
{
	double *in = fftw_malloc(N * sizeof *in);
	fftw_complex *out = fftw_malloc((N / 2 + 1) * sizeof *out);
	fftw_plan p = fftw_plan_dft_r2c_1d(N, in, out, FFTW_MEASURE | FFTW_WISDOM_ONLY);
	int ok = p != NULL;
	if (p)
		fftw_destroy_plan(p);
	fftw_free(in);
	fftw_free(out);
	return ok;
}

static int have_f32(void)
{
	float *in = fftwf_malloc(N * sizeof *in);
	fftwf_complex *out = fftwf_malloc((N / 2 + 1) * sizeof *out);
	fftwf_plan p = fftwf_plan_dft_r2c_1d(N, in, out, FFTW_MEASURE | FFTW_WISDOM_ONLY);
	int ok = p != NULL;
	if (p)
		fftwf_destroy_plan(p);
	fftwf_free(in);
	fftwf_free(out);
	return ok;
}

static void test_wisdom_keeps_both_precisions(void **state)
{
	(void)state;
	drsn_error e;
	char *path = tmp_path();
	/* An empty wisdom file switches the planner to measured plans. */
	assert_int_equal(drsn_fft_wisdom_save(path, &e), 0);
	assert_int_equal(drsn_fft_wisdom_load(path, &e), 0);
	double *d_in = fftw_malloc(N * sizeof *d_in);
	fftw_complex *d_out = fftw_malloc((N / 2 + 1) * sizeof *d_out);
	float *f_in = fftwf_malloc(N * sizeof *f_in);
	fftwf_complex *f_out = fftwf_malloc((N / 2 + 1) * sizeof *f_out);
	fftw_plan pd = drsn__fft_plan_r2c_f64(N, d_in, d_out);
	fftwf_plan pf = drsn__fft_plan_r2c(N, f_in, f_out);
	assert_non_null(pd);
	assert_non_null(pf);
	assert_true(have_f64() && have_f32());
	assert_int_equal(drsn_fft_wisdom_save(path, &e), 0);
	char *text = slurp(path);
	assert_non_null(strstr(text, " fftwf_wisdom"));
	assert_non_null(strstr(text, " fftw_wisdom"));
	free(text);

	/* The next run: nothing measured yet; loading the file is enough. */
	fftw_forget_wisdom();
	fftwf_forget_wisdom();
	assert_false(have_f64() || have_f32());
	assert_int_equal(drsn_fft_wisdom_load(path, &e), 0);
	assert_true(have_f64());
	assert_true(have_f32());

	/* A file with only the single-precision part (the old format) loads,
	 * and a part of another kind (long double wisdom) is skipped. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fftwf_export_wisdom_to_file(f);
	fputs("(fftw-3.3.10 fftwl_wisdom #x12345678 #x9abcdef0 #x11111111 #x22222222\n)\n", f);
	fclose(f);
	fftw_forget_wisdom();
	fftwf_forget_wisdom();
	assert_int_equal(drsn_fft_wisdom_load(path, &e), 0);
	assert_true(have_f32());

	drsn__fft_destroy_f64(pd);
	drsn__fft_destroy(pf);
	fftw_free(d_in);
	fftw_free(d_out);
	fftwf_free(f_in);
	fftwf_free(f_out);
	unlink(path);
	free(path);
}

static void test_wisdom_errors(void **state)
{
	(void)state;
	drsn_error e;
	char *path = tmp_path();
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("not wisdom\n", f);
	fclose(f);
	assert_int_equal(drsn_fft_wisdom_load(path, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, path));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("(fftw-3.3.10 fftw_wisdom #x1 garbage", f);
	fclose(f);
	assert_int_equal(drsn_fft_wisdom_load(path, &e), -EBADMSG);
	f = fopen(path, "w");   /* nothing this library can use */
	assert_non_null(f);
	fputs("(fftw-3.3.10 fftwl_wisdom #x1 #x2 #x3 #x4\n)\n", f);
	fclose(f);
	assert_int_equal(drsn_fft_wisdom_load(path, &e), -EBADMSG);
	unlink(path);
	assert_int_equal(drsn_fft_wisdom_load(path, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "cannot open FFTW wisdom file: no such file"));
	/* a directory: the reason, as drsn_model_load gives it (was -EIO "cannot read") */
	assert_int_equal(drsn_fft_wisdom_load("/", &e), -EINVAL);
	assert_non_null(strstr(e.msg, "/: not a regular file"));
	assert_int_equal(drsn_fft_wisdom_save("/nonexistent-dir/w", &e), -ENOENT);
	assert_non_null(strstr(e.msg, "cannot write FFTW wisdom file: no such file"));
	assert_int_equal(drsn_fft_wisdom_load(NULL, &e), -EINVAL);
	assert_int_equal(drsn_fft_wisdom_save(NULL, &e), -EINVAL);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wisdom_keeps_both_precisions),
		cmocka_unit_test(test_wisdom_errors),
	};
	return cmocka_run_group_tests_name("fft", tests, NULL, NULL);
}
