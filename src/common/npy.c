#include "common/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/outfile.h"

/* magic(6) + version(2) + header length(2) + header = NPY_HEADER bytes: a
 * multiple of 64 as NumPy recommends, with room for two 20-digit dims. */
#define NPY_HEADER 128

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c writes '<f4' by copying floats: port it for big-endian hosts"
#endif

struct drsn__npy_writer {
	FILE *f;
	char *path;
	drsn__outfile out;
	size_t cols;
	uint64_t rows;
	int rc;               /* first error, reported again by close */
	drsn_error first_err;
};

static int make_header(char out[NPY_HEADER], uint64_t rows, size_t cols)
{
	char dict[NPY_HEADER];
	int n;
	if (cols)
		n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu, %zu), }",
			     (unsigned long long)rows, cols);
	else
		n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu,), }",
			     (unsigned long long)rows);
	int hlen = NPY_HEADER - 10;
	if (n < 0 || n + 1 > hlen)
		return -EOVERFLOW;
	memcpy(out, "\x93NUMPY\x01\x00", 8);
	out[8] = (char)(hlen & 0xff);
	out[9] = (char)(hlen >> 8);
	memcpy(out + 10, dict, (size_t)n);
	memset(out + 10 + n, ' ', (size_t)(hlen - n - 1));
	out[NPY_HEADER - 1] = '\n';
	return 0;
}

static int write_header(drsn__npy_writer *w, drsn_error *err)
{
	char h[NPY_HEADER];
	if (make_header(h, w->rows, w->cols) < 0)
		return drsn__fail(err, -EOVERFLOW, "%s: .npy shape too large for the header", w->path);
	if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->f) != sizeof h)
		return drsn__fail(err, -EIO, "%s: cannot write .npy header", w->path);
	return 0;
}

int drsn__npy_open(drsn__npy_writer **out, const char *path, size_t cols, drsn_error *err)
{
	int rc;
	drsn__npy_writer *w = calloc(1, sizeof *w);
	*out = NULL;
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return drsn__fail(err, -ENOMEM, "%s: out of memory", path);
	}
	w->cols = cols;
	if ((rc = drsn__outfile_open(&w->out, path, err)) < 0)
		goto cleanup;
	w->f = fdopen(w->out.fd, "wb");
	if (!w->f) {
		rc = drsn__fail(err, -errno, "%s: cannot create: %s", path, strerror(errno));
		close(w->out.fd);
		goto cleanup;
	}
	if ((rc = write_header(w, err)) < 0)
		goto cleanup;
	*out = w;
	return 0;
cleanup:
	if (w->f)
		fclose(w->f);
	drsn__outfile_discard(&w->out);   /* only what open made: never path */
	free(w->path);
	free(w);
	return rc;
}

int drsn__npy_append(drsn__npy_writer *w, const float *data, size_t rows, drsn_error *err)
{
	if (w->rc < 0) {
		if (err)
			*err = w->first_err;
		return w->rc;
	}
	size_t n = rows * (w->cols ? w->cols : 1);
	if (n && fwrite(data, sizeof *data, n, w->f) != n) {
		w->rc = drsn__fail(&w->first_err, -EIO, "%s: write failed: %s", w->path, strerror(errno));
		if (err)
			*err = w->first_err;
		return w->rc;
	}
	w->rows += rows;
	return 0;
}

int drsn__npy_close(drsn__npy_writer *w, drsn_error *err)
{
	if (!w)
		return 0;
	int rc = w->rc;
	if (rc < 0) {
		if (err)
			*err = w->first_err;
	} else {
		rc = write_header(w, err);
	}
	if (fflush(w->f) != 0 && rc == 0)
		rc = drsn__fail(err, -EIO, "%s: write failed: %s", w->path, strerror(errno));
	if (fclose(w->f) != 0 && rc == 0)
		rc = drsn__fail(err, -EIO, "%s: write failed: %s", w->path, strerror(errno));
	if (rc == 0)
		rc = drsn__outfile_commit(&w->out, err);
	else
		drsn__outfile_discard(&w->out);   /* no partial garbage; path as it was */
	free(w->path);
	free(w);
	return rc;
}

void drsn__npy_abort(drsn__npy_writer *w)
{
	if (!w)
		return;
	fclose(w->f);
	drsn__outfile_discard(&w->out);
	free(w->path);
	free(w);
}

int drsn__npy_write_f32(const char *path, const float *data, size_t rows, size_t cols,
			drsn_error *err)
{
	drsn__npy_writer *w;
	int rc = drsn__npy_open(&w, path, cols, err);
	if (rc < 0)
		return rc;
	rc = drsn__npy_append(w, data, rows, err);
	int rc2 = drsn__npy_close(w, rc < 0 ? NULL : err);
	return rc < 0 ? rc : rc2;
}

int drsn__npy_write_f32_stream(FILE *f, const char *name, const float *data, size_t rows,
			       size_t cols, drsn_error *err)
{
	char h[NPY_HEADER];
	size_t n = rows * (cols ? cols : 1);
	if (make_header(h, rows, cols) < 0)
		return drsn__fail(err, -EOVERFLOW, "%s: .npy shape too large for the header", name);
	if (fwrite(h, 1, sizeof h, f) != sizeof h || (n && fwrite(data, sizeof *data, n, f) != n) ||
	    fflush(f) != 0)
		return drsn__fail(err, -EIO, "%s: write failed: %s", name, strerror(errno));
	return 0;
}

/* Value of 'key': in a header dict, or NULL. */
static const char *dict_value(const char *dict, const char *key)
{
	char pat[40];
	snprintf(pat, sizeof pat, "'%s':", key);
	const char *s = strstr(dict, pat);
	if (!s)
		return NULL;
	s += strlen(pat);
	while (*s == ' ')
		s++;
	return s;
}

/* "(r,)" -> 1, "(r, c)" -> 2, else -1. */
static int parse_shape(const char *s, unsigned long long *r, unsigned long long *c)
{
	unsigned long long v[3];
	int n = 0;
	char *end;
	if (!s || *s++ != '(')
		return -1;
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == ')')
			break;
		if (*s < '0' || *s > '9' || n == 3)
			return -1;
		v[n++] = strtoull(s, &end, 10);
		s = end;
		while (*s == ' ')
			s++;
		if (*s == ',')
			s++;
		else if (*s != ')')
			return -1;
	}
	if (n < 1 || n > 2)
		return -1;
	*r = v[0];
	*c = n == 2 ? v[1] : 0;
	return n;
}

int drsn__npy_read_f32(const char *path, float **data, size_t *rows, size_t *cols,
		       drsn_error *err)
{
	int rc = 0;
	unsigned char pre[10];
	char *dict = NULL;
	float *buf = NULL;
	*data = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return drsn__fail(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fread(pre, 1, sizeof pre, f) != sizeof pre || memcmp(pre, "\x93NUMPY", 6) != 0) {
		rc = drsn__fail(err, -EBADMSG, "%s: not a .npy file (bad magic or truncated)", path);
		goto cleanup;
	}
	if (pre[6] != 1) {
		rc = drsn__fail(err, -ENOTSUP, "%s: .npy format version %d.%d (only 1.0 is read)", path, pre[6], pre[7]);
		goto cleanup;
	}
	size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
	dict = malloc(hlen + 1);
	if (!dict) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	if (fread(dict, 1, hlen, f) != hlen) {
		rc = drsn__fail(err, -EBADMSG, "%s: truncated .npy header", path);
		goto cleanup;
	}
	dict[hlen] = '\0';
	const char *descr = dict_value(dict, "descr"), *fo = dict_value(dict, "fortran_order"),
		   *shape = dict_value(dict, "shape");
	if (!descr || strncmp(descr, "'<f4'", 5) != 0) {
		rc = drsn__fail(err, -ENOTSUP, "%s: .npy dtype is not '<f4' (float32)", path);
		goto cleanup;
	}
	if (!fo || strncmp(fo, "False", 5) != 0) {
		rc = drsn__fail(err, -ENOTSUP, "%s: .npy is Fortran-ordered (only C order is read)", path);
		goto cleanup;
	}
	unsigned long long r = 0, c = 0;
	int ndim = parse_shape(shape, &r, &c);
	if (ndim < 1) {
		rc = drsn__fail(err, -ENOTSUP, "%s: .npy shape must have 1 or 2 dimensions", path);
		goto cleanup;
	}
	/* Counted in 64 bits: a 32-bit size_t (armhf) must not wrap the shape
	 * (4294967297,) to 1 float and accept it. */
	unsigned long long n64 = r * (ndim == 2 ? c : 1);
	if (ndim == 2 && c && n64 / c != r) {
		rc = drsn__fail(err, -EOVERFLOW, "%s: .npy shape too large", path);
		goto cleanup;
	}
	off_t here = ftello(f);
	if (here < 0 || fseeko(f, 0, SEEK_END) != 0) {
		rc = drsn__fail(err, -EIO, "%s: cannot seek", path);
		goto cleanup;
	}
	off_t size = ftello(f);
	if (size < here || (unsigned long long)(size - here) / sizeof(float) < n64 ||
	    fseeko(f, here, SEEK_SET) != 0) {
		rc = drsn__fail(err, -EBADMSG, "%s: .npy data truncated (expected %llu floats)", path, n64);
		goto cleanup;
	}
	if (n64 > SIZE_MAX / sizeof *buf) {
		rc = drsn__fail(err, -ENOMEM, "%s: %llu floats do not fit in memory", path, n64);
		goto cleanup;
	}
	size_t n = (size_t)n64;
	buf = malloc((n ? n : 1) * sizeof *buf);
	if (!buf) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory for %zu floats", path, n);
		goto cleanup;
	}
	if (fread(buf, sizeof *buf, n, f) != n) {
		rc = drsn__fail(err, -EBADMSG, "%s: .npy data truncated (expected %zu floats)", path, n);
		goto cleanup;
	}
	*data = buf;
	buf = NULL;
	*rows = (size_t)r;
	*cols = ndim == 2 ? (size_t)c : 0;
cleanup:
	free(buf);
	free(dict);
	fclose(f);
	return rc;
}
