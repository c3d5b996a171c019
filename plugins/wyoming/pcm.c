/* Client PCM -> mono float at the model rate (see pcm.h). */
#include "pcm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <soxr.h>

#include "drsn/audio.h"

/* Input frames converted per step: bounds the scratch buffers. */
#define STEP 2048

struct wy_pcm {
	int out_rate;
	int float4;
	int started;
	int rate, width, channels;
	size_t frame_bytes;
	uint8_t carry[4 * WY_PCM_MAX_CHANNELS];   /* a partial frame */
	size_t n_carry;
	soxr_t soxr;          /* NULL when rate == out_rate */
	int soxr_rate;        /* input rate soxr was made for */
	float *mono;          /* STEP */
	float *out;           /* out_cap */
	size_t out_cap;
	int64_t frames_in;
};

int wy_pcm_create(wy_pcm **out, int out_rate, int float4)
{
	if (!out || out_rate < WY_PCM_MIN_RATE || out_rate > WY_PCM_MAX_RATE)
		return -EINVAL;
	*out = NULL;
	wy_pcm *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->out_rate = out_rate;
	c->float4 = float4;
	/* the most output one step can give: from the lowest input rate */
	c->out_cap = (size_t)ceil((double)STEP * out_rate / WY_PCM_MIN_RATE) + 64;
	c->mono = malloc(STEP * sizeof *c->mono);
	c->out = malloc(c->out_cap * sizeof *c->out);
	if (!c->mono || !c->out) {
		wy_pcm_destroy(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void wy_pcm_destroy(wy_pcm *c)
{
	if (!c)
		return;
	if (c->soxr)
		soxr_delete(c->soxr);
	free(c->mono);
	free(c->out);
	free(c);
}

int wy_pcm_start(wy_pcm *c, int rate, int width, int channels, char *err, size_t err_size)
{
	c->started = 0;
	c->n_carry = 0;
	c->frames_in = 0;
	if (rate < WY_PCM_MIN_RATE || rate > WY_PCM_MAX_RATE) {
		snprintf(err, err_size, "rate %d Hz is outside %d..%d", rate, WY_PCM_MIN_RATE,
			 WY_PCM_MAX_RATE);
		return -EINVAL;
	}
	if (width < 2 || width > 4) {
		snprintf(err, err_size, "width %d is not supported (2: s16, 3: s24, 4: %s)", width,
			 c->float4 ? "f32" : "s32");
		return -EINVAL;
	}
	if (channels < 1 || channels > WY_PCM_MAX_CHANNELS) {
		snprintf(err, err_size, "channels %d is outside 1..%d", channels, WY_PCM_MAX_CHANNELS);
		return -EINVAL;
	}
	if (rate == c->out_rate) {
		if (c->soxr)
			soxr_delete(c->soxr);
		c->soxr = NULL;
	} else if (c->soxr && c->soxr_rate == rate) {
		soxr_clear(c->soxr);
	} else {
		if (c->soxr)
			soxr_delete(c->soxr);
		soxr_error_t e = NULL;
		soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
		soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
		soxr_runtime_spec_t rt = soxr_runtime_spec(1);
		c->soxr = soxr_create(rate, c->out_rate, 1, &e, &io, &q, &rt);
		if (!c->soxr || e) {
			if (c->soxr)
				soxr_delete(c->soxr);
			c->soxr = NULL;
			snprintf(err, err_size, "resampler %d -> %d Hz: %s", rate, c->out_rate,
				 e ? e : "failed");
			return -EINVAL;
		}
		c->soxr_rate = rate;
	}
	c->rate = rate;
	c->width = width;
	c->channels = channels;
	c->frame_bytes = (size_t)width * (size_t)channels;
	c->started = 1;
	return 0;
}

int wy_pcm_same_format(const wy_pcm *c, int rate, int width, int channels)
{
	return c->started && c->rate == rate && c->width == width && c->channels == channels;
}

int64_t wy_pcm_frames_in(const wy_pcm *c)
{
	return c->frames_in;
}

static float sample(const wy_pcm *c, const uint8_t *s)
{
	switch (c->width) {
	case 2:
		return (float)(int16_t)(uint16_t)(s[0] | (unsigned)s[1] << 8) * (1.0f / 32768.0f);
	case 3: {
		uint32_t u = (uint32_t)s[0] << 8 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 24;
		return (float)((double)(int32_t)u * (1.0 / 2147483648.0));
	}
	default: {
		uint32_t u = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
			     (uint32_t)s[3] << 24;
		if (c->float4) {
			float f;
			memcpy(&f, &u, sizeof f);
			/* as drsn_audio_read does (drsn/audio.h): NaN/Inf as 0, and
			 * no value whose channel sum or filtered sum overflows */
			return isfinite(f) ? fminf(fmaxf(f, -DRSN_AUDIO_MAX_SAMPLE), DRSN_AUDIO_MAX_SAMPLE) : 0.0f;
		}
		return (float)((double)(int32_t)u * (1.0 / 2147483648.0));
	}
	}
}

/* n whole frames -> mono -> (resampled) -> sink */
static int frames(wy_pcm *c, const uint8_t *p, size_t n, wy_pcm_sink sink, void *user)
{
	const float scale = 1.0f / (float)c->channels;
	for (size_t i = 0; i < n; i++) {
		float acc = 0.0f;
		for (int ch = 0; ch < c->channels; ch++)
			acc += sample(c, p + i * c->frame_bytes + (size_t)ch * (size_t)c->width);
		c->mono[i] = acc * scale;
	}
	c->frames_in += (int64_t)n;
	if (!c->soxr)
		return sink(user, c->mono, n);
	size_t idone = 0, odone = 0;
	soxr_error_t e = soxr_process(c->soxr, c->mono, n, &idone, c->out, c->out_cap, &odone);
	if (e || idone != n)
		return -EIO;
	return odone ? sink(user, c->out, odone) : 0;
}

int wy_pcm_feed(wy_pcm *c, const uint8_t *p, size_t n, wy_pcm_sink sink, void *user)
{
	int rc = 0;
	if (!c->started)
		return -EINVAL;
	if (c->n_carry) {
		size_t take = c->frame_bytes - c->n_carry;
		if (take > n)
			take = n;
		memcpy(c->carry + c->n_carry, p, take);
		c->n_carry += take;
		p += take;
		n -= take;
		if (c->n_carry < c->frame_bytes)
			return 0;
		c->n_carry = 0;
		rc = frames(c, c->carry, 1, sink, user);
	}
	while (!rc && n >= c->frame_bytes) {
		size_t k = n / c->frame_bytes;
		if (k > STEP)
			k = STEP;
		rc = frames(c, p, k, sink, user);
		p += k * c->frame_bytes;
		n -= k * c->frame_bytes;
	}
	if (!rc && n) {
		memcpy(c->carry, p, n);
		c->n_carry = n;
	}
	return rc;
}

int wy_pcm_finish(wy_pcm *c, wy_pcm_sink sink, void *user)
{
	int rc = 0;
	if (!c->started)
		return 0;
	c->started = 0;
	c->n_carry = 0;
	if (!c->soxr)
		return 0;
	for (;;) {
		size_t odone = 0;
		soxr_error_t e = soxr_process(c->soxr, NULL, 0, NULL, c->out, c->out_cap, &odone);
		if (e)
			return -EIO;
		if (!odone)
			break;
		rc = sink(user, c->out, odone);
		if (rc)
			break;
	}
	soxr_clear(c->soxr);
	return rc;
}
