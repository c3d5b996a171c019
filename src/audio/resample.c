/* Streaming resampler: a thin planned-buffer wrapper around libsoxr. */
#include "audio/resample.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <soxr.h>

#include "common/error.h"
#include "common/samples.h"

/* Input frames per soxr call. libsoxr grows a FIFO (realloc) whenever a call
 * holds more than it has room for, so one process call larger than all
 * earlier ones used to allocate (1 realloc for 4000 frames, 3 for 16001 at
 * 48 kHz after 50 calls of 480). Fed in pieces of at most this many frames,
 * its FIFOs stop growing early in a stream whatever the callers' chunk
 * sizes (measured figures in drsn/audio.h; alloc.test.c); its output does not
 * depend on how the input is split (resample.test.c checks bit for bit).
 * The same pieces carry sanitised copies of chunks with NaN, infinities or
 * values beyond +-DRSN_AUDIO_MAX_SAMPLE (drsn__samples_sanitize). */
#define PIECE_FRAMES 480

struct drsn_resampler {
	soxr_t soxr;          /* NULL: pass-through */
	double in_rate, out_rate;
	int channels;
	size_t max_in;        /* frames per process call */
	size_t max_out;       /* frames: enough for one process call, and per flush call */
	int64_t n_in;         /* frames consumed since create / last finished flush */
	int64_t n_out;        /* frames produced since then */
	size_t scratch_frames;
	float scratch[];      /* scratch_frames * channels: sanitised input */
};

static int rate_ok(double r)
{
	return isfinite(r) && r >= DRSN_AUDIO_MIN_RATE && r <= DRSN_AUDIO_MAX_RATE;
}

/* No value drsn__samples_sanitize would change (|x| <= DRSN_AUDIO_MAX_SAMPLE,
 * not NaN). On the bits: |x| is the float without its sign bit, and NaN's
 * are above every finite value's; eight lanes of compare-and-or that
 * vectorise with plain SSE2/NEON (callgrind, 48 kHz in calls of 480:
 * drsn_resampler_process's own cost ~2.4 instructions a sample, ~4% of
 * the call). */
static int samples_ok(const float *x, size_t n)
{
	int32_t lim, bad[8] = {0};
	float f = DRSN_AUDIO_MAX_SAMPLE;
	size_t i = 0;
	memcpy(&lim, &f, sizeof lim);
	for (; i + 8 <= n; i += 8) {
		int32_t v[8];
		memcpy(v, x + i, sizeof v);
		for (int k = 0; k < 8; k++)
			bad[k] |= (v[k] & 0x7fffffff) > lim;
	}
	for (; i < n; i++) {
		int32_t v;
		memcpy(&v, x + i, sizeof v);
		bad[0] |= (v & 0x7fffffff) > lim;
	}
	for (int k = 1; k < 8; k++)
		bad[0] |= bad[k];
	return !bad[0];
}

int drsn__resampler_create(drsn_resampler **out, double in_rate, double out_rate,
			   int channels, size_t max_in_chunk, drsn_error *err)
{
	drsn_resampler *r = NULL;
	int rc = 0;

	DRSN__REQUIRE(err, out);
	*out = NULL;
	if (!rate_ok(in_rate) || !rate_ok(out_rate))
		return drsn__fail(err, -ERANGE, "resampler: rate %g -> %g Hz outside %d..%d Hz",
				  in_rate, out_rate, DRSN_AUDIO_MIN_RATE, DRSN_AUDIO_MAX_RATE);
	if (channels < 1 || channels > DRSN_AUDIO_MAX_CHANNELS)
		return drsn__fail(err, -ERANGE, "resampler: %d channels outside 1..%d",
				  channels, DRSN_AUDIO_MAX_CHANNELS);
	if (max_in_chunk == 0 || max_in_chunk > ((size_t)1 << 28))
		return drsn__fail(err, -EINVAL, "resampler: max_in_chunk %zu outside 1..2^28",
				  max_in_chunk);

	size_t scratch_frames = max_in_chunk < PIECE_FRAMES ? max_in_chunk : PIECE_FRAMES;
	r = calloc(1, sizeof *r + scratch_frames * (size_t)channels * sizeof(float));
	if (!r)
		return drsn__fail(err, -ENOMEM, "resampler: out of memory");
	r->in_rate = in_rate;
	r->out_rate = out_rate;
	r->channels = channels;
	r->max_in = max_in_chunk;
	r->scratch_frames = scratch_frames;
	/* soxr takes min(n_in, ceil(out_cap * in/out)) input frames per call, so
	 * this capacity makes it take all of them; the slack covers rounding. */
	r->max_out = (size_t)ceil((double)max_in_chunk * out_rate / in_rate) + 16;

	if (in_rate != out_rate) {
		soxr_error_t e = NULL;
		soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
		soxr_quality_spec_t q = soxr_quality_spec(DRSN__SOXR_RECIPE, 0);
		soxr_runtime_spec_t rt = soxr_runtime_spec(1);   /* one thread */
		r->soxr = soxr_create(in_rate, out_rate, (unsigned)channels, &e, &io, &q, &rt);
		if (!r->soxr || e) {
			rc = drsn__fail(err, -EINVAL, "resampler: soxr_create(%g -> %g Hz): %s",
					in_rate, out_rate, e ? e : "failed");
			goto cleanup;
		}
	}
	*out = r;
	r = NULL;
cleanup:
	drsn_resampler_destroy(r);
	return rc;
}

DRSN_API int drsn_resampler_create(drsn_resampler **out, double in_rate, double out_rate,
				   size_t max_in_chunk, drsn_error *err)
{
	return drsn__resampler_create(out, in_rate, out_rate, 1, max_in_chunk, err);
}

DRSN_API size_t drsn_resampler_max_out(const drsn_resampler *r)
{
	return r ? r->max_out : 0;
}

DRSN_API int drsn_resampler_process(drsn_resampler *r, const float *in, size_t n_in,
				    float *out, size_t out_cap, size_t *n_out)
{
	if (n_out)
		*n_out = 0;
	if (!r || !n_out || (n_in && (!in || !out)) || n_in > r->max_in)
		return -EINVAL;
	if (n_in == 0)
		return 0;
	if (out_cap < r->max_out)
		return -ENOSPC;
	size_t n = n_in * (size_t)r->channels;
	if (!r->soxr) {
		memcpy(out, in, n * sizeof *out);
		drsn__samples_sanitize(out, n);
		*n_out = n_in;
	} else {
		/* A NULL idone makes soxr take each whole piece, whatever room is
		 * left in out (the rest of its output waits for the next call). */
		size_t ch = (size_t)r->channels, odone = 0;
		for (size_t pos = 0; pos < n_in; pos += r->scratch_frames) {
			size_t c = n_in - pos < r->scratch_frames ? n_in - pos : r->scratch_frames;
			size_t got = 0;
			const float *piece = in + pos * ch;
			if (!samples_ok(piece, c * ch)) {
				memcpy(r->scratch, piece, c * ch * sizeof *in);
				drsn__samples_sanitize(r->scratch, c * ch);
				piece = r->scratch;
			}
			if (soxr_process(r->soxr, piece, c, NULL, out + odone * ch, out_cap - odone, &got))
				return -EIO;
			odone += got;
		}
		*n_out = odone;
	}
	r->n_in += (int64_t)n_in;
	r->n_out += (int64_t)*n_out;
	return 0;
}

DRSN_API int drsn_resampler_flush(drsn_resampler *r, float *out, size_t out_cap, size_t *n_out)
{
	if (n_out)
		*n_out = 0;
	if (!r || !n_out || !out)
		return -EINVAL;
	if (out_cap < r->max_out)
		return -ENOSPC;
	if (r->soxr) {
		size_t odone = 0;
		soxr_error_t e = soxr_process(r->soxr, NULL, 0, NULL, out, out_cap, &odone);
		if (e)
			return -EIO;
		*n_out = odone;
		r->n_out += (int64_t)odone;
		if (odone)
			return 0;
	}
	return drsn_resampler_reset(r);
}

DRSN_API int drsn_resampler_reset(drsn_resampler *r)
{
	if (!r)
		return -EINVAL;
	if (r->soxr && soxr_clear(r->soxr))
		return -EIO;
	r->n_in = 0;
	r->n_out = 0;
	return 0;
}

DRSN_API double drsn_resampler_latency(const drsn_resampler *r)
{
	if (!r || !r->soxr)
		return 0.0;
	return soxr_delay(r->soxr);
}

int64_t drsn__resampler_total_out(const drsn_resampler *r, int64_t n_in)
{
	if (!r->soxr)
		return n_in;
	/* soxr delivers round(n_in * out/in) frames in all (measured in resample.test.c) */
	return (int64_t)llround((double)n_in * r->out_rate / r->in_rate);
}

DRSN_API void drsn_resampler_destroy(drsn_resampler *r)
{
	if (!r)
		return;
	if (r->soxr)
		soxr_delete(r->soxr);
	free(r);
}
