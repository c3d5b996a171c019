/*
 * drsn/features.h - the streaming log-mel front end (FFTW3f).
 *
 * The front-end parameters travel with every model (its safetensors
 * metadata) so that inference always matches training. The Python reference
 * that training uses is train/drsn/frontend.py; tests/parity checks that both
 * agree to 1e-3 in the log domain.
 *
 * Definition (defaults in brackets). Frame i covers input samples
 *     [i*hop_length, i*hop_length + win_length)        (no centring, no padding)
 * so n samples give frames_for(n) = n < win ? 0 : 1 + (n - win_length) / hop_length
 * frames: a 1 s clip at 16 kHz (16000 samples) gives 1 + (16000-400)/160 = 98
 * frames. For each frame:
 *   1. multiply by a periodic Hann window of win_length [400 = 25 ms]:
 *      w[n] = 0.5 - 0.5 cos(2 pi n / win_length)  (torch.hann_window(periodic=True));
 *   2. zero-pad at the end to n_fft [512] and take the real FFT: n_fft/2+1 [257] bins;
 *   3. power spectrum |X[k]|^2 (not magnitude, no normalisation);
 *   4. n_mels [40] triangular filters on the HTK mel scale
 *      mel(f) = 2595 log10(1 + f/700), edges equally spaced in mel from f_min
 *      [20 Hz] to f_max [8000 Hz], unnormalised (peak 1) triangles: exactly
 *      torchaudio.functional.melscale_fbanks(n_fft/2+1, f_min, f_max, n_mels,
 *      sample_rate, norm=None, mel_scale="htk");
 *   5. natural log with an additive floor: log(mel_power + log_offset) with
 *      log_offset [1e-6]. Input is float audio in [-1, 1]; digital silence
 *      gives log(1e-6) = -13.8155 in every band.
 * Input and output are float32; steps 1-5 run in double precision (a float32
 * FFT's rounding noise reaches 1e-3..1e-2 in quiet bands of loud frames at
 * this floor). The Python reference does the same, and on the parity WAVs the
 * two give identical float32 frames.
 */
#ifndef DRSN_FEATURES_H
#define DRSN_FEATURES_H

#include "drsn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drsn_features_params {
	int sample_rate;   /* Hz (default 16000) */
	int win_length;    /* analysis window, samples (default 400 = 25 ms), periodic Hann */
	int hop_length;    /* samples between frames (default 160 = 10 ms) */
	int n_fft;         /* FFT size, >= win_length (default 512) */
	int n_mels;        /* mel bands (default 40), HTK mel scale, unnormalised triangles */
	float f_min;       /* lowest mel edge, Hz */
	float f_max;       /* highest mel edge, Hz (<= sample_rate / 2) */
	float log_offset;  /* features are log(mel_power + log_offset) */
} drsn_features_params;

/* Fill p with the defaults the shipped models are trained with. */
DRSN_API void drsn_features_params_default(drsn_features_params *p);

/* 0 if this front end supports p; else -EINVAL and err names the field. */
DRSN_API int drsn_features_params_validate(const drsn_features_params *p, drsn_error *err);

/* p as a JSON object (what `drsn features --params` prints and what model
 * metadata holds), numbers with '.' whatever the program's locale. Returns a
 * malloc'd string, free() it; NULL on ENOMEM, for a NULL p, and for params
 * drsn_features_params_validate refuses (a NaN or infinite field included),
 * so the output always reads back with drsn_features_params_from_json. */
DRSN_API char *drsn_features_params_to_json(const drsn_features_params *p);

/* Parse a JSON object of the form above; missing keys keep p's values.
 * Unknown keys, wrong types and unsupported values are errors naming the key. */
DRSN_API int drsn_features_params_from_json(drsn_features_params *p, const char *json,
					    size_t len, drsn_error *err);

/* Number of frames n_samples give under p (see above); 0 if n < win_length. */
DRSN_API int64_t drsn_features_frames_for(const drsn_features_params *p, int64_t n_samples);

/* ---------------------------------------------------------------------------
 * Streaming front end. Push audio in chunks of any size; every frame that the
 * pushed samples complete comes out, in order, identical (bit for bit) to
 * what a single push of the whole signal gives. All memory (FFTW plan and
 * buffers, window, sparse mel matrix) is set up by create: push, reset and the
 * accessors never allocate, lock or block, so they are safe on an audio
 * thread. One handle is not thread-safe; use one per stream.
 *
 *     drsn_features *f;
 *     drsn_features_params p;
 *     drsn_features_params_default(&p);
 *     if (drsn_features_create(&f, &p, &err) < 0) ...;
 *     while ((n = read_audio(buf, 160)) > 0)
 *         drsn_features_push(f, buf, n, on_frame, ctx);   // on_frame(ctx, mel, i)
 *     drsn_features_destroy(f);
 * ------------------------------------------------------------------------- */
typedef struct drsn_features drsn_features;

/* Called once per completed frame: mel[0..n_mels) are the log-mel values of
 * frame number frame_index (0 for the first frame since create/reset). mel
 * is only valid during the call. It must not throw a C++ exception
 * (drsn/common.h, "C++"). */
typedef void (*drsn_features_cb)(void *user, const float *mel, int64_t frame_index);

/* Validate p (err names the field at fault) and build a front end for it. */
DRSN_API int drsn_features_create(drsn_features **out, const drsn_features_params *p,
				  drsn_error *err);
DRSN_API void drsn_features_destroy(drsn_features *f);

/* Feed n samples (mono float at p->sample_rate); cb runs for each frame they
 * complete. Returns the number of frames delivered (>= 0), or -EINVAL for a
 * NULL f, NULL x with n > 0, or NULL cb. Samples are used as they are: a
 * NaN/Inf sample makes the frames that hold it non-finite (drsn_ctx_run
 * refuses those; drsn_pipeline_push takes such samples as 0, and
 * drsn_audio_read never delivers any), and only those: the frames after it
 * are as without it. */
DRSN_API int64_t drsn_features_push(drsn_features *f, const float *x, size_t n,
				    drsn_features_cb cb, void *user);

/* Pull style: like push, but frames are written row after row to out
 * (max_frames rows of n_mels floats). If the frames these samples complete
 * would not fit, nothing is consumed and -ENOSPC is returned; size out with
 * drsn_features_frames_pending(f, n). Returns the number of rows written. */
DRSN_API int64_t drsn_features_push_into(drsn_features *f, const float *x, size_t n,
					 float *out, size_t max_frames);

/* How many frames pushing n more samples would complete now. */
DRSN_API int64_t drsn_features_frames_pending(const drsn_features *f, size_t n);

/* Forget buffered samples and restart frame numbering at 0 (a new stream). */
DRSN_API void drsn_features_reset(drsn_features *f);

/* The parameters f was created with, and its frame width (n_mels). */
DRSN_API const drsn_features_params *drsn_features_get_params(const drsn_features *f);
DRSN_API int drsn_features_n_mels(const drsn_features *f);

#ifdef __cplusplus
}
#endif
#endif
