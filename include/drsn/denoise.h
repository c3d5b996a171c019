/*
 * drsn/denoise.h - streaming speech denoiser (adaptive spectral shrinkage).
 *
 * The DRSN idea applied to the short-time spectrum: every STFT bin's
 * magnitude is soft-thresholded, |S| = max(|Y| - tau, floor * |Y|), with a
 * threshold tau that adapts to that bin's own noise in that frame:
 * tau = 2 sqrt(noise power / (1 + xi)), the noise power from an IMCRA
 * estimator (improved minima-controlled recursive averaging) and xi the
 * decision-directed a-priori SNR. Where the estimator's speech-presence
 * probability is low the gain moves to the floor (10^(-strength/20)).
 * docs/denoise.md has the details and the measurements.
 *
 * Use:
 *     drsn_denoise *d;
 *     drsn_denoise_opts o;
 *     drsn_denoise_opts_default(&o);
 *     o.strength_db = 20;
 *     if (drsn_denoise_create(&d, 16000, &o, &err) < 0) ...
 *     while (more) drsn_denoise_process(d, in, n, out);   // n in, n out
 *     drsn_denoise_flush(d, tail);                         // latency samples
 *     drsn_denoise_destroy(d);
 *
 * Timing: output sample i of the stream is input sample i - L, with
 * L = drsn_denoise_latency(d) samples (one analysis frame); the first L
 * output samples are (near) zero. flush() returns the last L samples. Pushing the
 * input in chunks of any sizes gives bit-identical output to pushing it
 * whole. Nothing allocates after create(). One handle per channel; a handle
 * is not thread-safe, different handles are independent.
 *
 * Input is float audio (nominally [-1, 1]). NaN/Inf samples are treated as
 * 0 and samples beyond +-65536 are clipped there, so no input can make the
 * output non-finite.
 *
 * Glitches: a short burst far above the recent level (a sample run of
 * +-65536 from a bad int-to-float conversion, a full-scale USB pop, a
 * click) is forgotten by the noise estimator. A frame whose energy jumps
 * more than 20 dB above the level the estimator holds from the recent past
 * saves its state; if within 3 frames (a burst of up to about 10 ms at the
 * default 32 ms frame, 20 ms when it falls well) the energy is back near
 * where it came from, the state comes back and the stream goes on as if the
 * burst had not been there. The frames that hold the burst are denoised as
 * any loud sound (the burst is neither muted nor limited: this is not a
 * declicker; an integer output clips it); within about 0.3 s after it the
 * output is what it would have been without it. A loud event that lasts
 * longer is sound, and the estimator keeps it as before (a +-65536 burst
 * of 30 ms or more still lingers for 2-3 s). Normal audio is unchanged:
 * the guard forgot nothing in the benchmark's speech in white, pink,
 * Laplacian and recorded market noise, nor in the shipped samples (output
 * bit-identical to the denoiser without it). A run of NaN is a run of
 * zeros, a dropout, which the estimator does not keep.
 * docs/denoise.md, "Bursts", has the measurements.
 */
#ifndef DRSN_DENOISE_H
#define DRSN_DENOISE_H

#include "drsn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drsn_denoise drsn_denoise;

/* Called once per analysed frame (every hop samples), from inside process()
 * or flush(): frame counts from 0; speech is the frame's speech-presence
 * probability in [0, 1]: the estimator's per-bin probability averaged
 * over the 300-4000 Hz bins, weighted by their power. Must not call back into d,
 * nor throw a C++ exception (drsn/common.h, "C++"). */
typedef void (*drsn_denoise_frame_fn)(void *user, uint64_t frame, float speech);

typedef struct drsn_denoise_opts {
	/* Most attenuation applied to any bin, dB >= 0 (default 20). 0 passes
	 * the input through unchanged (delayed); larger values remove more noise
	 * and risk more speech damage. */
	float strength_db;
	/* Analysis frame, ms (default 32; 8..64). The hop is half of it
	 * (50 % overlap, square-root Hann analysis and synthesis windows). */
	float frame_ms;
	drsn_denoise_frame_fn on_frame;   /* optional, may be NULL */
	void *user;                       /* passed to on_frame */
} drsn_denoise_opts;

/* Fill o with the defaults. */
DRSN_API void drsn_denoise_opts_default(drsn_denoise_opts *o);

/* New denoiser for mono audio at sample_rate Hz (8000..192000). opts may be
 * NULL (defaults). Plans FFTW transforms (through the process-wide planner
 * lock) and allocates every buffer. -EINVAL names the bad value in err;
 * -ENOMEM on allocation failure. */
DRSN_API int drsn_denoise_create(drsn_denoise **d, int sample_rate,
				 const drsn_denoise_opts *opts, drsn_error *err);

/* NULL is a no-op. */
DRSN_API void drsn_denoise_destroy(drsn_denoise *d);

/* Back to the state right after create() (noise estimate, buffers, frame
 * counter). */
DRSN_API void drsn_denoise_reset(drsn_denoise *d);

/* Push n input samples and receive n output samples (delayed by the
 * latency). in and out may be the same array; a NULL in or out does nothing.
 * Never fails, never allocates. */
DRSN_API void drsn_denoise_process(drsn_denoise *d, const float *in, size_t n, float *out);

/* End of stream: writes the last drsn_denoise_latency(d) output samples to
 * out (the input is padded with zeros). Call reset() before reusing d. */
DRSN_API void drsn_denoise_flush(drsn_denoise *d, float *out);

/* Delay between input and output, samples (= the analysis frame length). */
DRSN_API int drsn_denoise_latency(const drsn_denoise *d);

/* Samples per frame step (the hop): on_frame fires once per hop. */
DRSN_API int drsn_denoise_hop(const drsn_denoise *d);

/* Speech-presence probability of the last analysed frame (0 before the
 * first), and the number of frames analysed so far. */
DRSN_API float drsn_denoise_speech(const drsn_denoise *d);
DRSN_API uint64_t drsn_denoise_frames(const drsn_denoise *d);

#ifdef __cplusplus
}
#endif
#endif
