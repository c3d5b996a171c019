#include "common/fft.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "common/error.h"

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;
static int wisdom_loaded;

DRSN_API int drsn_fft_wisdom_load(const char *path, drsn_error *err)
{
	int rc = 0;
	pthread_mutex_lock(&planner_lock);
	FILE *f = fopen(path, "r");
	if (!f) {
		rc = drsn__fail(err, -errno, "%s: cannot open FFTW wisdom file", path);
	} else {
		if (!fftwf_import_wisdom_from_file(f))
			rc = drsn__fail(err, -EBADMSG, "%s: not a valid FFTW (single precision) wisdom file", path);
		else
			wisdom_loaded = 1;
		fclose(f);
	}
	pthread_mutex_unlock(&planner_lock);
	return rc;
}

DRSN_API int drsn_fft_wisdom_save(const char *path, drsn_error *err)
{
	int rc = 0;
	pthread_mutex_lock(&planner_lock);
	FILE *f = fopen(path, "w");
	if (!f) {
		rc = drsn__fail(err, -errno, "%s: cannot write FFTW wisdom file", path);
	} else {
		fftwf_export_wisdom_to_file(f);
		if (fclose(f) != 0)
			rc = drsn__fail(err, -EIO, "%s: write failed", path);
	}
	pthread_mutex_unlock(&planner_lock);
	return rc;
}

static unsigned plan_flags(void)
{
	/* With wisdom, MEASURE reuses it (fast); without, ESTIMATE keeps
	 * start-up instant. PRESERVE_INPUT makes c2r legal on const input. */
	return (wisdom_loaded ? FFTW_MEASURE : FFTW_ESTIMATE);
}

fftwf_plan drsn__fft_plan_r2c(int n, float *in, fftwf_complex *out)
{
	pthread_mutex_lock(&planner_lock);
	fftwf_plan p = fftwf_plan_dft_r2c_1d(n, in, out, plan_flags());
	pthread_mutex_unlock(&planner_lock);
	return p;
}

fftwf_plan drsn__fft_plan_c2r(int n, fftwf_complex *in, float *out)
{
	pthread_mutex_lock(&planner_lock);
	fftwf_plan p = fftwf_plan_dft_c2r_1d(n, in, out, plan_flags());
	pthread_mutex_unlock(&planner_lock);
	return p;
}

void drsn__fft_destroy(fftwf_plan p)
{
	if (!p)
		return;
	pthread_mutex_lock(&planner_lock);
	fftwf_destroy_plan(p);
	pthread_mutex_unlock(&planner_lock);
}

fftw_plan drsn__fft_plan_r2c_f64(int n, double *in, fftw_complex *out)
{
	pthread_mutex_lock(&planner_lock);
	fftw_plan p = fftw_plan_dft_r2c_1d(n, in, out, plan_flags());
	pthread_mutex_unlock(&planner_lock);
	return p;
}

void drsn__fft_destroy_f64(fftw_plan p)
{
	if (!p)
		return;
	pthread_mutex_lock(&planner_lock);
	fftw_destroy_plan(p);
	pthread_mutex_unlock(&planner_lock);
}
