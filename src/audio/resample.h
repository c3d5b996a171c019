/*
 * Internal side of the streaming resampler (drsn/audio.h): the same object,
 * but for any channel count (interleaved frames). The file reader uses it
 * for keep_channels; the public drsn_resampler_create makes a mono one.
 */
#ifndef DRSN_SRC_AUDIO_RESAMPLE_H
#define DRSN_SRC_AUDIO_RESAMPLE_H

#include "drsn/audio.h"

/* As drsn_resampler_create, for `channels` interleaved channels. All sizes
 * (max_in_chunk, max_out, n_in, n_out, out_cap) then count frames. */
int drsn__resampler_create(drsn_resampler **out, double in_rate, double out_rate,
			   int channels, size_t max_in_chunk, drsn_error *err);

/* Frames a stream of n_in input frames yields in total, process + flush. */
int64_t drsn__resampler_total_out(const drsn_resampler *r, int64_t n_in);

/* The libsoxr quality recipe the product uses (see docs/resampler.md). */
#define DRSN__SOXR_RECIPE SOXR_HQ
#define DRSN__SOXR_RECIPE_NAME "SOXR_HQ"

#endif
