/* Front-end parameters: defaults, validation and the JSON form that
 * `drsn features --params` prints and model metadata carries. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cnum.h"
#include "common/error.h"
#include "common/json.h"
#include "drsn/features.h"
#include "features/mel.h"

/* Fixed parts of the definition: written to JSON so a model file says what it
 * was trained with, and checked when read back. */
#define FE_WINDOW "hann_periodic"
#define FE_MEL_SCALE "htk"
#define FE_POWER 2

/* The numeric fields, in JSON order. */
static const struct field {
	const char *key;
	size_t off;
	int is_float;
} fields[] = {
	{"sample_rate", offsetof(drsn_features_params, sample_rate), 0},
	{"win_length", offsetof(drsn_features_params, win_length), 0},
	{"hop_length", offsetof(drsn_features_params, hop_length), 0},
	{"n_fft", offsetof(drsn_features_params, n_fft), 0},
	{"n_mels", offsetof(drsn_features_params, n_mels), 0},
	{"f_min", offsetof(drsn_features_params, f_min), 1},
	{"f_max", offsetof(drsn_features_params, f_max), 1},
	{"log_offset", offsetof(drsn_features_params, log_offset), 1},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

DRSN_API void drsn_features_params_default(drsn_features_params *p)
{
	if (!p)
		return;
	p->sample_rate = 16000;
	p->win_length = 400;
	p->hop_length = 160;
	p->n_fft = 512;
	p->n_mels = 40;
	p->f_min = 20.0f;
	p->f_max = 8000.0f;
	p->log_offset = 1e-6f;
}

DRSN_API int drsn_features_params_validate(const drsn_features_params *p, drsn_error *err)
{
	DRSN__REQUIRE(err, p);
	if (p->sample_rate < 1000 || p->sample_rate > 384000)
		return drsn__fail(err, -EINVAL, "sample_rate: %d Hz is outside 1000..384000", p->sample_rate);
	if (p->n_fft < 2 || p->n_fft > 65536)
		return drsn__fail(err, -EINVAL, "n_fft: %d is outside 2..65536", p->n_fft);
	if (p->win_length < 2 || p->win_length > p->n_fft)
		return drsn__fail(err, -EINVAL, "win_length: %d is outside 2..n_fft (%d)", p->win_length, p->n_fft);
	if (p->hop_length < 1 || p->hop_length > 1000000)
		return drsn__fail(err, -EINVAL, "hop_length: %d is outside 1..1000000", p->hop_length);
	if (p->n_mels < 1 || p->n_mels > p->n_fft / 2 + 1)
		return drsn__fail(err, -EINVAL, "n_mels: %d is outside 1..n_fft/2+1 (%d)", p->n_mels, p->n_fft / 2 + 1);
	if (!isfinite(p->f_min) || p->f_min < 0.0f)
		return drsn__fail(err, -EINVAL, "f_min: %g Hz must be finite and >= 0", (double)p->f_min);
	if (!isfinite(p->f_max) || p->f_max <= p->f_min || p->f_max > (float)(p->sample_rate / 2))
		return drsn__fail(err, -EINVAL, "f_max: %g Hz must be > f_min (%g) and <= sample_rate/2 (%d)",
				  (double)p->f_max, (double)p->f_min, p->sample_rate / 2);
	if (!isfinite(p->log_offset) || !(p->log_offset > 0.0f))
		return drsn__fail(err, -EINVAL, "log_offset: %g must be finite and > 0 (features are log(mel + log_offset))",
				  (double)p->log_offset);
	for (int m = 0; m < p->n_mels; m++) {
		int lo, n;
		drsn__mel_band_range(p, m, &lo, &n);
		if (n == 0)
			return drsn__fail(err, -EINVAL,
					  "n_mels: band %d of %d covers no FFT bin (lower n_mels, widen f_min..f_max or raise n_fft)",
					  m, p->n_mels);
	}
	return 0;
}

DRSN_API int64_t drsn_features_frames_for(const drsn_features_params *p, int64_t n_samples)
{
	if (!p || p->hop_length < 1 || n_samples < p->win_length)
		return 0;
	return 1 + (n_samples - p->win_length) / p->hop_length;
}

/* Shortest decimal that reads back as the same float ("1e-06", not
 * "9.99999997e-07"), added as a raw JSON number: "20.5" also when the
 * program's locale writes "20,5" (cnum.h). */
static cJSON *add_float(cJSON *o, const char *key, float v)
{
	char s[DRSN__FLOAT_CHARS];
	return cJSON_AddRawToObject(o, key, drsn__float_str_c(s, v));
}

DRSN_API char *drsn_features_params_to_json(const drsn_features_params *p)
{
	char *out = NULL;
	/* only what from_json reads back: no "nan", no params it would refuse */
	if (!p || drsn_features_params_validate(p, NULL) < 0)
		return NULL;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	for (size_t i = 0; i < N_FIELDS; i++) {
		const void *v = (const char *)p + fields[i].off;
		if (!(fields[i].is_float ? add_float(o, fields[i].key, *(const float *)v)
					 : cJSON_AddNumberToObject(o, fields[i].key, *(const int *)v)))
			goto cleanup;
	}
	if (!cJSON_AddStringToObject(o, "window", FE_WINDOW) ||
	    !cJSON_AddStringToObject(o, "mel_scale", FE_MEL_SCALE) ||
	    !cJSON_AddNumberToObject(o, "power", FE_POWER))
		goto cleanup;
	out = cJSON_Print(o);
cleanup:
	cJSON_Delete(o);
	return out;
}

static int get_int(const cJSON *it, int *dst, drsn_error *err)
{
	double v = it->valuedouble;
	if (!cJSON_IsNumber(it) || v != floor(v) || v < -2147483648.0 || v > 2147483647.0)
		return drsn__fail(err, -EINVAL, "front-end params: \"%s\" must be an integer", it->string);
	*dst = (int)v;
	return 0;
}

static int get_float(const cJSON *it, float *dst, drsn_error *err)
{
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
		return drsn__fail(err, -EINVAL, "front-end params: \"%s\" must be a finite number", it->string);
	*dst = (float)it->valuedouble;
	return 0;
}

static int check_string(const cJSON *it, const char *want, drsn_error *err)
{
	if (!cJSON_IsString(it) || strcmp(it->valuestring, want) != 0)
		return drsn__fail(err, -EINVAL, "front-end params: \"%s\" must be \"%s\" (the only one supported)",
				  it->string, want);
	return 0;
}

DRSN_API int drsn_features_params_from_json(drsn_features_params *p, const char *json,
					    size_t len, drsn_error *err)
{
	int rc = 0;
	DRSN__REQUIRE(err, p);
	DRSN__REQUIRE(err, json);
	drsn_features_params q = *p;
	const char *end = NULL;
	cJSON *o = drsn__json_parse(json, len, &end, 0);
	if (!o) {
		size_t at = end && end >= json ? (size_t)(end - json) : 0;
		return drsn__fail(err, -EINVAL, "front-end params: invalid JSON near byte %zu", at);
	}
	/* Only white space may follow ("{...}{...}" is not one object). The
	 * length form of cJSON's own check would need a NUL inside len. */
	for (const char *c = end; c < json + len && *c; c++)
		if (!strchr(" \t\r\n", *c)) {
			rc = drsn__fail(err, -EINVAL, "front-end params: trailing bytes after the JSON object (byte %zu)",
					(size_t)(c - json));
			goto cleanup;
		}
	if (!cJSON_IsObject(o)) {
		rc = drsn__fail(err, -EINVAL, "front-end params: expected a JSON object");
		goto cleanup;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, o) {
		const char *k = it->string;
		for (const cJSON *prev = o->child; prev != it; prev = prev->next)
			if (!strcmp(prev->string, k)) {
				rc = drsn__fail(err, -EINVAL, "front-end params: \"%s\" appears twice", k);
				goto cleanup;
			}
		const struct field *fd = NULL;
		for (size_t i = 0; i < N_FIELDS && !fd; i++)
			if (!strcmp(k, fields[i].key))
				fd = &fields[i];
		if (fd) {
			void *v = (char *)&q + fd->off;
			rc = fd->is_float ? get_float(it, v, err) : get_int(it, v, err);
		} else if (!strcmp(k, "window"))
			rc = check_string(it, FE_WINDOW, err);
		else if (!strcmp(k, "mel_scale"))
			rc = check_string(it, FE_MEL_SCALE, err);
		else if (!strcmp(k, "power")) {
			if (!cJSON_IsNumber(it) || it->valuedouble != FE_POWER)
				rc = drsn__fail(err, -EINVAL, "front-end params: \"power\" must be %d (power spectrum)", FE_POWER);
		} else
			rc = drsn__fail(err, -EINVAL, "front-end params: unknown key \"%s\"", k);
		if (rc < 0)
			goto cleanup;
	}
	if ((rc = drsn_features_params_validate(&q, err)) < 0)
		goto cleanup;
	*p = q;
cleanup:
	cJSON_Delete(o);
	return rc;
}
