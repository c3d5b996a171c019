#include "common/fft.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;
static int wisdom_loaded;

/* A wisdom file holds one s-expression per precision: "(fftw-3.3.10
 * fftwf_wisdom ...)" for the denoiser's float plans, "(fftw-3.3.10
 * fftw_wisdom ...)" for the front end's double ones. FFTW's file importers
 * read ahead, so the file is read whole and each part imported from its
 * string. A file with only the float part (as saved before the front end
 * went double) still loads. */
#define WISDOM_MAX (64 << 20)

/* The whole of a regular file of `size` bytes, 0-terminated; NULL with a
 * negative errno in *rc if it cannot be read. */
static char *read_text(FILE *f, size_t size, size_t *len, int *rc)
{
	char *buf = malloc(size + 1);
	if (!buf) {
		*rc = -ENOMEM;
		return NULL;
	}
	errno = 0;
	size_t n = fread(buf, 1, size, f);
	if (ferror(f)) {
		*rc = errno ? -errno : -EIO;
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The next "(fftw-VERSION KIND_wisdom" at or after s, NULL if none. */
static char *next_part(char *s)
{
	for (char *p = s; (p = strstr(p, "(fftw-")); p++)
		if (p == s || p[-1] == '\n' || p[-1] == ' ' || p[-1] == ')')
			return p;
	return NULL;
}

/* Import the float and double parts of buf (another kind, e.g. long double
 * wisdom a tool saved beside them, is skipped): 0, or -EBADMSG if none is
 * there or one fails (the parts before it stay imported, which only
 * means faster plans). */
static int import_parts(char *buf)
{
	char *p = next_part(buf);
	int imported = 0;
	while (p) {
		char *next = next_part(p + 1);
		char save = 0;
		if (next) {
			save = *next;
			*next = '\0';
		}
		const char *kind = strchr(p, ' ');
		int ok;
		if (kind && !strncmp(kind + 1, "fftwf_wisdom", 12))
			ok = fftwf_import_wisdom_from_string(p);
		else if (kind && !strncmp(kind + 1, "fftw_wisdom", 11))
			ok = fftw_import_wisdom_from_string(p);
		else
			ok = -1;   /* not ours */
		if (next)
			*next = save;
		if (!ok)
			return -EBADMSG;
		imported += ok > 0;
		p = next;
	}
	return imported ? 0 : -EBADMSG;
}

DRSN_API int drsn_fft_wisdom_load(const char *path, drsn_error *err)
{
	int rc = 0;
	size_t len = 0;
	char *text = NULL;
	if (!path)
		return drsn__fail(err, -EINVAL, "FFTW wisdom: path is NULL");
	pthread_mutex_lock(&planner_lock);
	FILE *f = NULL;
	struct stat st;
	/* O_NONBLOCK: opening a FIFO would wait for a writer (as in model.c) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		rc = drsn__fail(err, rc, "%s: cannot open FFTW wisdom file: %s", path, drsn_strerror(rc));
		goto cleanup;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		rc = drsn__fail(err, rc, "%s: cannot stat FFTW wisdom file: %s", path, drsn_strerror(rc));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = drsn__fail(err, -EINVAL, "%s: not a regular file (FFTW wisdom)", path);
		goto cleanup;
	}
	if (st.st_size > WISDOM_MAX) {
		rc = drsn__fail(err, -EIO, "%s: FFTW wisdom file is larger than %d MiB", path,
				WISDOM_MAX >> 20);
		goto cleanup;
	}
	if (!(f = fdopen(fd, "r"))) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	fd = -1;
	if (!(text = read_text(f, (size_t)st.st_size, &len, &rc))) {
		rc = drsn__fail(err, rc, "%s: cannot read FFTW wisdom file: %s", path, drsn_strerror(rc));
		goto cleanup;
	}
	if (import_parts(text) < 0) {
		rc = drsn__fail(err, -EBADMSG, "%s: not a valid FFTW wisdom file", path);
		goto cleanup;
	}
	wisdom_loaded = 1;
cleanup:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	free(text);
	pthread_mutex_unlock(&planner_lock);
	return rc;
}

DRSN_API int drsn_fft_wisdom_save(const char *path, drsn_error *err)
{
	int rc = 0;
	if (!path)
		return drsn__fail(err, -EINVAL, "FFTW wisdom: path is NULL");
	pthread_mutex_lock(&planner_lock);
	FILE *f = fopen(path, "w");
	if (!f) {
		rc = -errno;
		rc = drsn__fail(err, rc, "%s: cannot write FFTW wisdom file: %s", path, drsn_strerror(rc));
	} else {
		/* both precisions: the denoiser plans float, the front end double */
		fftwf_export_wisdom_to_file(f);
		fftw_export_wisdom_to_file(f);
		if (ferror(f) | (fclose(f) != 0))
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
