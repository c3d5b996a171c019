/*
 * NumPy .npy files of float32 (format 1.0, '<f4', C order), for feature dumps
 * and test data. Shape is (rows, cols), or (rows,) when cols == 0.
 *
 * The writer streams: open, append rows as they come, close. The header is
 * written with room for any shape and filled in with the final row count on
 * close, so the total need not be known in advance.
 */
#ifndef DRSN_SRC_COMMON_NPY_H
#define DRSN_SRC_COMMON_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "drsn/common.h"

typedef struct drsn__npy_writer drsn__npy_writer;

/* Write rows of `cols` floats (cols == 0: a 1-D array) to path, which is
 * replaced only by a successful close (common/outfile.h). */
int drsn__npy_open(drsn__npy_writer **out, const char *path, size_t cols, drsn_error *err);

/* Append `rows` rows (rows * max(cols, 1) floats). */
int drsn__npy_append(drsn__npy_writer *w, const float *data, size_t rows, drsn_error *err);

/* Write the final shape, close, and put the file in place. Always frees w;
 * returns the first error of the whole write (so a failed append is reported
 * again here), after which path is as it was before open. */
int drsn__npy_close(drsn__npy_writer *w, drsn_error *err);

/* Give up: close w and remove its temporary file; path is left as it was
 * (w NULL is fine). */
void drsn__npy_abort(drsn__npy_writer *w);

/* One-shot: write rows x cols floats. */
int drsn__npy_write_f32(const char *path, const float *data, size_t rows, size_t cols,
			drsn_error *err);

/* One-shot to a stream that need not seek (stdout, a pipe): header, then
 * the rows x cols floats, flushed; name is for messages. */
int drsn__npy_write_f32_stream(FILE *f, const char *name, const float *data, size_t rows,
			       size_t cols, drsn_error *err);

/* Read a '<f4' C-order .npy of 1 or 2 dimensions into a malloc'd array (free
 * it); *cols = 0 for a 1-D array. Errors name the file and what is wrong. */
int drsn__npy_read_f32(const char *path, float **data, size_t *rows, size_t *cols,
		       drsn_error *err);

#endif
