/*
 * Audio samples as they enter drsn (internal): the one place where values no
 * audio holds are made harmless before anything computes with them.
 */
#ifndef DRSN_SRC_COMMON_SAMPLES_H
#define DRSN_SRC_COMMON_SAMPLES_H

#include <math.h>
#include <stddef.h>

#include "drsn/audio.h"

/* x[0..n) in place: NaN and infinities become 0, finite values beyond
 * +-DRSN_AUDIO_MAX_SAMPLE are clipped there (so that sums of them, in a
 * downmix, a resampler's filter or a power spectrum, stay finite). Returns
 * how many samples were changed. One compare per sample for ordinary audio;
 * no allocation, safe on any thread. */
static inline size_t drsn__samples_sanitize(float *x, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		float v = x[i];
		if (!(fabsf(v) <= DRSN_AUDIO_MAX_SAMPLE)) {   /* also NaN */
			x[i] = isnan(v) || isinf(v) ? 0.0f : v > 0 ? DRSN_AUDIO_MAX_SAMPLE : -DRSN_AUDIO_MAX_SAMPLE;
			bad++;
		}
	}
	return bad;
}

#endif
