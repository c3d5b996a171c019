/*
 * The scalar reference kernels: plain C, compiled without auto-vectorisation
 * (see meson.build) so that this table is both the portable fallback and the
 * baseline every SIMD path is measured and tested against.
 */
#include <math.h>

#include "simd/kernels.h"

static void conv1d(float *y, const float *x, const float *w, const float *b,
		   int t_out, int cin, int cout, int k, int stride)
{
	const int kk = k * cin;
	for (int t = 0; t < t_out; t++) {
		const float *xr = x + (size_t)t * stride * cin;
		float *yr = y + (size_t)t * cout;
		for (int co = 0; co < cout; co++)
			yr[co] = b ? b[co] : 0.0f;
		for (int r = 0; r < kk; r++) {
			const float xv = xr[r];
			const float *wr = w + (size_t)r * cout;
			for (int co = 0; co < cout; co++)
				yr[co] += xv * wr[co];
		}
	}
}

static void fc(float *y, const float *x, const float *w, const float *b, int nin, int nout)
{
	for (int o = 0; o < nout; o++)
		y[o] = b ? b[o] : 0.0f;
	for (int i = 0; i < nin; i++) {
		const float xv = x[i];
		const float *wr = w + (size_t)i * nout;
		for (int o = 0; o < nout; o++)
			y[o] += xv * wr[o];
	}
}

static void affine_relu(float *y, const float *x, const float *scale, const float *shift,
			int t, int c)
{
	for (int i = 0; i < t; i++) {
		const float *xr = x + (size_t)i * c;
		float *yr = y + (size_t)i * c;
		for (int j = 0; j < c; j++) {
			const float v = xr[j] * scale[j] + shift[j];
			yr[j] = v > 0.0f || isnan(v) ? v : 0.0f;   /* NaN stays NaN, as in torch.relu */
		}
	}
}

static void mean_time(float *m, const float *x, int t, int c, int absval)
{
	for (int j = 0; j < c; j++)
		m[j] = 0.0f;
	for (int i = 0; i < t; i++) {
		const float *xr = x + (size_t)i * c;
		if (absval)
			for (int j = 0; j < c; j++)
				m[j] += fabsf(xr[j]);
		else
			for (int j = 0; j < c; j++)
				m[j] += xr[j];
	}
	const float inv = t > 0 ? 1.0f / (float)t : 0.0f;
	for (int j = 0; j < c; j++)
		m[j] *= inv;
}

static void shrink_add(float *y, const float *f, const float *tau, const float *x,
		       int t, int c, int cin, int x_step, int pad)
{
	for (int i = 0; i < t; i++) {
		const float *fr = f + (size_t)i * c;
		const float *xr = x ? x + (size_t)i * x_step * cin : NULL;
		float *yr = y + (size_t)i * c;
		for (int j = 0; j < c; j++) {
			const float a = fabsf(fr[j]) - tau[j];
			/* a NaN f or tau (or inf - inf) gives NaN, as sign(f) * relu(a) does */
			float v = isnan(a) ? a : copysignf(a > 0.0f ? a : 0.0f, fr[j]);
			if (xr && j >= pad && j < pad + cin)
				v += xr[j - pad];
			yr[j] = v;
		}
	}
}

const struct drsn__kernels drsn__kernels_scalar = {
	.name = "scalar",
	.conv1d = conv1d,
	.fc = fc,
	.affine_relu = affine_relu,
	.mean_time = mean_time,
	.shrink_add = shrink_add,
};
