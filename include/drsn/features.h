/*
 * drsn/features.h - the streaming log-mel front end (FFTW3f).
 *
 * The front-end parameters travel with every model (its safetensors
 * metadata) so that inference always matches training.
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
 * metadata holds). Returns a malloc'd string, free() it; NULL on ENOMEM. */
DRSN_API char *drsn_features_params_to_json(const drsn_features_params *p);

/* Parse a JSON object of the form above; missing keys keep p's values.
 * Unknown keys, wrong types and unsupported values are errors naming the key. */
DRSN_API int drsn_features_params_from_json(drsn_features_params *p, const char *json,
					    size_t len, drsn_error *err);

#ifdef __cplusplus
}
#endif
#endif
