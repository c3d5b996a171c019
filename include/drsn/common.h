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
 *  - Threads: any function may be called from any thread. Different handles
 *    are independent and may be used at the same time; one handle (context,
 *    front end, denoiser, pipeline, audio file, resampler) by one thread at a
 *    time. A drsn_model is read-only after load: share it between any number
 *    of threads, each with its own drsn_ctx or drsn_pipeline (each thread
 *    may also load the same file into its own model). Process-wide state is
 *    set once or locked inside the library: the SIMD choice (drsn/simd.h),
 *    FFTW planning (creating and destroying front ends, denoisers and
 *    pipelines, and the wisdom calls, share one lock), cJSON parsing (model
 *    loads, drsn_features_params_from_json) and libsndfile's file opens.
 *    Errors go to the caller's drsn_error, never to shared state;
 *    drsn_strerror() and drsn_version() return static text.
 *  - Real time: the streaming calls (drsn_features_push, drsn_ctx_run,
 *    drsn_denoise_process, drsn_pipeline_push, drsn_resampler_process after
 *    a stream's first calls: see drsn/audio.h) take no lock and never wait
 *    for another thread; only load/create/destroy and the wisdom calls may
 *    wait (for another thread's FFTW planning or model load).
 *  - Your own FFTW or cJSON use: those locks are libdrsn's own. FFTW's
 *    planner is not thread-safe, so if your program plans or destroys FFTW
 *    plans (or imports wisdom) in one thread while another creates or
 *    destroys a drsn front end, denoiser or pipeline, call
 *    fftw_make_planner_thread_safe() and fftwf_make_planner_thread_safe()
 *    (-lfftw3_threads -lfftw3f_threads) once at start-up, or never let the
 *    two overlap. Every cJSON parse writes cJSON's global error record: a
 *    parse of yours beside a model load is a harmless race that race
 *    detectors (helgrind) report.
 *  - C++: every header compiles as C++11 and later (-Wall -Wextra
 *    -Wpedantic) and declares its functions extern "C"; link libdrsn as
 *    from C. The library is C and is built without -fexceptions: a callback
 *    you pass it (drsn_pipeline_events, drsn_denoise_opts.on_frame,
 *    drsn_features_cb) must not throw. An exception that leaves one unwinds
 *    through the library's frames without its cleanup (the handle is left
 *    half-updated: destroy it, nothing else) or, where C code has no unwind
 *    tables (armhf), ends the process in std::terminate. Catch inside the
 *    callback (mark it noexcept) and stop the stream after the call returns.
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

/* The running library's version as "MAJOR.MINOR.PATCH" (drsn/version.h
 * has the headers' version and a number to compare). */
DRSN_API const char *drsn_version(void);

/* Text for a negative errno returned by a drsn_ function; "success" for 0,
 * "unknown error" for a positive code and for INT_MIN. Never NULL. */
DRSN_API const char *drsn_strerror(int err);

/* FFTW wisdom: load once at start-up (before creating front ends or
 * denoisers) to get measured plans; save to keep them for the next run.
 * One file holds both precisions FFTW plans here: double for the front end,
 * single for the denoiser (a file with only the single part loads too).
 * Errors: -EINVAL (NULL path, or not a regular file: a directory, a FIFO),
 * the errno of opening or reading the file (-ENOENT, -EACCES, ...; the
 * message names it: "x: cannot open FFTW wisdom file: no such file"), -EIO
 * (a file over 64 MiB), -EBADMSG (not FFTW wisdom). */
DRSN_API int drsn_fft_wisdom_load(const char *path, drsn_error *err);
DRSN_API int drsn_fft_wisdom_save(const char *path, drsn_error *err);

#ifdef __cplusplus
}
#endif
#endif
