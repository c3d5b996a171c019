/*
 * drsn/common.h - conventions shared by the whole drsn API.
 *
 *  - Every public symbol starts with drsn_ and is marked DRSN_API.
 *  - Functions return 0 on success or a negative errno value (-EINVAL, -ENOENT,
 *    -EIO, -ENOMEM, ...). drsn_strerror() turns one into text.
 *  - Objects are opaque handles with a create/destroy (or open/close) pair.
 *  - Functions that can fail for a reason a user must read take an optional
 *    drsn_error *: on failure it holds the code and a message that names the
 *    file, field or value at fault ("x.wav: truncated header"). Pass NULL if
 *    you only want the code.
 *  - NULL handles and NULL pointer arguments never crash the library:
 *      . destroy/close/free functions accept NULL and do nothing (like free);
 *      . functions returning an int (or a count) return -EINVAL for a NULL
 *        handle or a NULL required pointer, and fill the drsn_error, if one
 *        is passed, with "FUNCTION: ARGUMENT is NULL"; an out handle that is
 *        not NULL itself is set to NULL first;
 *      . getters return 0 (numbers) or NULL (pointers and strings) for a
 *        NULL handle; drsn_*_get_info/get_stats zero the struct they fill;
 *      . functions returning void with nothing to report (reset, *_default,
 *        drsn_denoise_process/flush) do nothing.
 *    A pointer documented as optional ("may be NULL") has its documented
 *    meaning instead. tests/api/null_args.test.c holds every function to this.
 *  - Ownership: a returned const pointer (label, name, params, logits) belongs
 *    to the object it came from and lives as long as that object; a returned
 *    non-const char * or a buffer filled through float ** is malloc'd and the
 *    caller free()s it. Option structs, and the strings and arrays they point
 *    to, are read during the call only (what is kept is copied).
 */
#ifndef DRSN_COMMON_H
#define DRSN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DRSN_API __attribute__((visibility("default")))
#else
#define DRSN_API
#endif

#define DRSN_ERROR_MSG_MAX 512

typedef struct drsn_error {
	int code;                       /* negative errno, 0 if no error */
	char msg[DRSN_ERROR_MSG_MAX];   /* human-readable, names what is wrong */
} drsn_error;

/* Library version as "MAJOR.MINOR.PATCH". */
DRSN_API const char *drsn_version(void);

/* Text for a negative errno returned by a drsn_ function. */
DRSN_API const char *drsn_strerror(int err);

/* FFTW wisdom: load once at start-up (before creating front ends or
 * denoisers) to get measured plans; save to keep them for the next run.
 * One file holds both precisions FFTW plans here: double for the front end,
 * single for the denoiser (a file with only the single part loads too).
 * Errors: -EINVAL (NULL path), the errno of opening the file, -EIO, -EBADMSG
 * (not FFTW wisdom). */
DRSN_API int drsn_fft_wisdom_load(const char *path, drsn_error *err);
DRSN_API int drsn_fft_wisdom_save(const char *path, drsn_error *err);

#ifdef __cplusplus
}
#endif
#endif
