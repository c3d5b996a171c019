/*
 * 32-bit ARM only, included by neon.c after template.h has defined the
 * static table neon_flushing: drsn__kernels_neon, which hands a call to the
 * scalar reference when ARMv7 NEON's flush of denormals to zero would make
 * its result differ from scalar's by more than rounding.
 *
 * affine_relu, shrink_add (bit-exact with scalar, kernels.h): if every
 * nonzero input has |v| >= 2^-60, no product, difference or sum they compute
 * is denormal (a product is >= 2^-120; a sum or difference of two floats
 * that are multiples of 2^-83 is 0 or >= 2^-83), so nothing is flushed. An
 * input below that goes to scalar.
 *
 * conv1d, fc (within rounding of scalar): a flushed product or partial sum
 * is off by < 2^-126, far below the tolerance; what matters is a denormal
 * input multiplied by an infinity (NaN instead of an infinity) or by a
 * large value (0 instead of, say, 1e-40 * 1e38). Scalar when one operand
 * holds a denormal and the other a |v| >= 2^64 (or an infinity or NaN).
 *
 * mean_time: a flushed denormal changes a mean by < 2^-126; no check.
 *
 * The checks read each input once more (vector compares, no branches per
 * element); bench-kernels measures the cost.
 */
#include <stdint.h>

#include "simd/tables.h"

enum {
	G_TINY = 1,     /* a nonzero |v| < 2^-60 (includes every denormal) */
	G_DENORMAL = 2, /* a denormal */
	G_HUGE = 4,     /* |v| >= 2^64, infinity or NaN */
};
#define G_TINY_BITS 0x21800000u  /* 2^-60 */
#define G_HUGE_BITS 0x5f800000u  /* 2^64 */
#define G_MIN_BITS 0x00800000u   /* FLT_MIN, the smallest normal */

static unsigned scan(const float *p, size_t n)
{
	const uint32x4_t absmask = vdupq_n_u32(0x7fffffffu), one = vdupq_n_u32(1);
	const uint32x4_t tiny = vdupq_n_u32(G_TINY_BITS - 1), den = vdupq_n_u32(G_MIN_BITS - 1);
	const uint32x4_t huge = vdupq_n_u32(G_HUGE_BITS - 1);
	uint32x4_t t = vdupq_n_u32(0), d = t, h = t;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		/* a - 1 < bound - 1 (unsigned): 0 < a < bound */
		const uint32x4_t a = vandq_u32(vreinterpretq_u32_f32(vld1q_f32(p + i)), absmask);
		const uint32x4_t am1 = vsubq_u32(a, one);
		t = vorrq_u32(t, vcltq_u32(am1, tiny));
		d = vorrq_u32(d, vcltq_u32(am1, den));
		h = vorrq_u32(h, vcgtq_u32(a, huge));
	}
	uint32x2_t r = vorr_u32(vget_low_u32(t), vget_high_u32(t));
	unsigned f = (vget_lane_u32(r, 0) | vget_lane_u32(r, 1)) ? G_TINY : 0;
	r = vorr_u32(vget_low_u32(d), vget_high_u32(d));
	f |= (vget_lane_u32(r, 0) | vget_lane_u32(r, 1)) ? G_DENORMAL : 0;
	r = vorr_u32(vget_low_u32(h), vget_high_u32(h));
	f |= (vget_lane_u32(r, 0) | vget_lane_u32(r, 1)) ? G_HUGE : 0;
	for (; i < n; i++) {
		uint32_t a;
		memcpy(&a, p + i, sizeof a);
		a &= 0x7fffffffu;
		f |= (a - 1 < G_TINY_BITS - 1 ? G_TINY : 0) | (a - 1 < G_MIN_BITS - 1 ? G_DENORMAL : 0) |
		     (a >= G_HUGE_BITS ? G_HUGE : 0);
	}
	return f;
}

/* A denormal in one operand of a product and a large value in the other. */
static int product_flush_matters(unsigned fa, unsigned fb)
{
	return ((fa & G_DENORMAL) && (fb & G_HUGE)) || ((fa & G_HUGE) && (fb & G_DENORMAL));
}

static void conv1d_guarded(float *y, const float *x, const float *w, const float *b,
			   int t_out, int cin, int cout, int k, int stride)
{
	if (t_out <= 0 || cout <= 0 || cin <= 0) {
		neon_flushing.conv1d(y, x, w, b, t_out, cin, cout, k, stride);
		return;
	}
	const size_t nx = ((size_t)(t_out - 1) * (size_t)stride + (size_t)k) * (size_t)cin;
	const size_t nw = (size_t)k * (size_t)cin * (size_t)cout;
	if (product_flush_matters(scan(x, nx), scan(w, nw)))
		drsn__kernels_scalar.conv1d(y, x, w, b, t_out, cin, cout, k, stride);
	else
		neon_flushing.conv1d(y, x, w, b, t_out, cin, cout, k, stride);
}

static void fc_guarded(float *y, const float *x, const float *w, const float *b, int nin,
		       int nout)
{
	if (nin > 0 && nout > 0 &&
	    product_flush_matters(scan(x, (size_t)nin), scan(w, (size_t)nin * (size_t)nout)))
		drsn__kernels_scalar.fc(y, x, w, b, nin, nout);
	else
		neon_flushing.fc(y, x, w, b, nin, nout);
}

static void affine_relu_guarded(float *y, const float *x, const float *scale,
				const float *shift, int t, int c)
{
	if (t > 0 && c > 0 &&
	    ((scan(scale, (size_t)c) | scan(shift, (size_t)c) | scan(x, (size_t)t * (size_t)c)) &
	     G_TINY))
		drsn__kernels_scalar.affine_relu(y, x, scale, shift, t, c);
	else
		neon_flushing.affine_relu(y, x, scale, shift, t, c);
}

static void shrink_add_guarded(float *y, const float *f, const float *tau, const float *x,
			       int t, int c, int cin, int x_step, int pad)
{
	unsigned g = 0;
	if (t > 0 && c > 0) {
		g = scan(tau, (size_t)c) | scan(f, (size_t)t * (size_t)c);
		if (x && cin > 0) /* rows x_step * cin apart, the last one cin long */
			g |= scan(x, (size_t)(t - 1) * (size_t)x_step * (size_t)cin + (size_t)cin);
	}
	if (g & G_TINY)
		drsn__kernels_scalar.shrink_add(y, f, tau, x, t, c, cin, x_step, pad);
	else
		neon_flushing.shrink_add(y, f, tau, x, t, c, cin, x_step, pad);
}

const struct drsn__kernels drsn__kernels_neon = {
	.name = "neon",
	.conv1d = conv1d_guarded,
	.fc = fc_guarded,
	.affine_relu = affine_relu_guarded,
	.mean_time = mean_time, /* template.h's: a flush is below its tolerance */
	.shrink_add = shrink_add_guarded,
};
