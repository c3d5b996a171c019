/*
 * The SIMD kernels, written once over a small vector vocabulary and
 * instantiated per instruction set (sse2.c, avx2.c, neon.c), each compiled
 * with its own flags. The including file defines:
 *
 *   V, VW               vector type and its number of float lanes
 *   MR, NV              conv tile: MR output rows x NV vectors of channels
 *                       (MR in 4/6/8, NV in 1..3; MR*NV accumulators must
 *                       fit in the register file with room for NV + 1 more)
 *   TABLE, TABLE_NAME   the struct drsn__kernels to define and its name
 *   v_zero() v_set1(f) v_load(p) v_store(p, v)         unaligned
 *   v_load_n(p, n) v_store_n(p, v, n)                   first n < VW lanes
 *   v_add v_sub v_mul v_max v_fma(a, b, c) = a * b + c
 *   v_abs(a)  v_copysign(m, s) = |m| with the sign of s
 *
 * The results equal the scalar reference's up to summation order and FMA
 * rounding (conv1d, fc), and bit for bit elsewhere.
 */
#include <stddef.h>

#include "simd/kernels.h"

#define FORCE_INLINE static inline __attribute__((always_inline))

/* ---- conv1d: register-blocked GEMM over time-major rows ------------------
 * y (t_out x cout, row stride ldy) = X (t_out x kk, row stride rs) * W
 * (kk x cout, row stride ldw). One tile keeps MR x NV accumulators in
 * registers for the whole kk reduction: per step it loads NV vectors of one
 * weight row and broadcasts MR inputs, then issues MR*NV FMAs. Tiles walk
 * down the rows inside one column panel so the panel (kk x NV*VW floats,
 * <= 40 KiB for the default model) stays in L1. Tails: a tile with fewer
 * rows, fewer vectors, and a partial last vector (part = 1, nlast lanes). */
FORCE_INLINE void conv_tile(float *y, int ldy, const float *x, int rs, const float *w,
			    int ldw, const float *b, int kk, int nlast,
			    const int mr, const int nv, const int part)
{
	V acc[MR][NV];
#pragma GCC unroll 8
	for (int j = 0; j < nv; j++) {
		V bj = v_zero();
		if (b)
			bj = (part && j == nv - 1) ? v_load_n(b + j * VW, nlast) : v_load(b + j * VW);
#pragma GCC unroll 8
		for (int i = 0; i < mr; i++)
			acc[i][j] = bj;
	}
	for (int r = 0; r < kk; r++) {
		const float *wr = w + (size_t)r * ldw;
		V wv[NV];
#pragma GCC unroll 8
		for (int j = 0; j < nv; j++)
			wv[j] = (part && j == nv - 1) ? v_load_n(wr + j * VW, nlast) : v_load(wr + j * VW);
#pragma GCC unroll 8
		for (int i = 0; i < mr; i++) {
			const V a = v_set1(x[(size_t)i * rs + r]);
#pragma GCC unroll 8
			for (int j = 0; j < nv; j++)
				acc[i][j] = v_fma(a, wv[j], acc[i][j]);
		}
	}
#pragma GCC unroll 8
	for (int i = 0; i < mr; i++)
#pragma GCC unroll 8
		for (int j = 0; j < nv; j++) {
			float *yp = y + (size_t)i * ldy + j * VW;
			if (part && j == nv - 1)
				v_store_n(yp, acc[i][j], nlast);
			else
				v_store(yp, acc[i][j]);
		}
}

typedef void (*tile_fn)(float *y, int ldy, const float *x, int rs, const float *w, int ldw,
			const float *b, int kk, int nlast);

#define TILE_DEF(mr, nv, part)                                                             \
	static void tile_##mr##_##nv##_##part(float *y, int ldy, const float *x, int rs,  \
					      const float *w, int ldw, const float *b,     \
					      int kk, int nlast)                           \
	{                                                                                  \
		conv_tile(y, ldy, x, rs, w, ldw, b, kk, nlast, mr, nv, part);              \
	}
#define TILE_REF(mr, nv, part) tile_##mr##_##nv##_##part,

#if MR == 4
#define MR_LIST(X, nv, part) X(1, nv, part) X(2, nv, part) X(3, nv, part) X(4, nv, part)
#elif MR == 6
#define MR_LIST(X, nv, part) X(1, nv, part) X(2, nv, part) X(3, nv, part) X(4, nv, part) \
			     X(5, nv, part) X(6, nv, part)
#elif MR == 8
#define MR_LIST(X, nv, part) X(1, nv, part) X(2, nv, part) X(3, nv, part) X(4, nv, part) \
			     X(5, nv, part) X(6, nv, part) X(7, nv, part) X(8, nv, part)
#else
#error "MR must be 4, 6 or 8"
#endif
#define NV_ROW(nv) {{MR_LIST(TILE_REF, nv, 0)}, {MR_LIST(TILE_REF, nv, 1)}},

MR_LIST(TILE_DEF, 1, 0) MR_LIST(TILE_DEF, 1, 1)
#if NV >= 2
MR_LIST(TILE_DEF, 2, 0) MR_LIST(TILE_DEF, 2, 1)
#endif
#if NV >= 3
MR_LIST(TILE_DEF, 3, 0) MR_LIST(TILE_DEF, 3, 1)
#endif

static const tile_fn tiles[NV][2][MR] = {
	NV_ROW(1)
#if NV >= 2
	NV_ROW(2)
#endif
#if NV >= 3
	NV_ROW(3)
#endif
};

static void conv1d(float *y, const float *x, const float *w, const float *b,
		   int t_out, int cin, int cout, int k, int stride)
{
	const int kk = k * cin, rs = stride * cin;
	for (int n0 = 0; n0 < cout; n0 += NV * VW) {
		const int ncols = cout - n0 < NV * VW ? cout - n0 : NV * VW;
		const int nv = (ncols + VW - 1) / VW;
		const int nlast = ncols - (nv - 1) * VW;
		const int part = nlast < VW;
		const float *bp = b ? b + n0 : NULL;
		for (int m0 = 0; m0 < t_out; m0 += MR) {
			const int mr = t_out - m0 < MR ? t_out - m0 : MR;
			tiles[nv - 1][part][mr - 1](y + (size_t)m0 * cout + n0, cout,
						    x + (size_t)m0 * rs, rs, w + n0, cout, bp,
						    kk, nlast);
		}
	}
}

/* ---- fc: one row, so 4 vectors of outputs at a time for independent FMA
 * chains ------------------------------------------------------------------ */
FORCE_INLINE void fc_cols(float *y, const float *x, const float *w, const float *b,
			  int nin, int nout, int nlast, const int nv, const int part)
{
	V acc[4];
#pragma GCC unroll 4
	for (int j = 0; j < nv; j++) {
		const int pj = part && j == nv - 1;
		acc[j] = !b ? v_zero() : pj ? v_load_n(b + j * VW, nlast) : v_load(b + j * VW);
	}
	for (int i = 0; i < nin; i++) {
		const V a = v_set1(x[i]);
		const float *wr = w + (size_t)i * nout;
#pragma GCC unroll 4
		for (int j = 0; j < nv; j++) {
			const int pj = part && j == nv - 1;
			acc[j] = v_fma(a, pj ? v_load_n(wr + j * VW, nlast) : v_load(wr + j * VW), acc[j]);
		}
	}
#pragma GCC unroll 4
	for (int j = 0; j < nv; j++) {
		if (part && j == nv - 1)
			v_store_n(y + j * VW, acc[j], nlast);
		else
			v_store(y + j * VW, acc[j]);
	}
}

static void fc(float *y, const float *x, const float *w, const float *b, int nin, int nout)
{
	int o = 0;
	for (; o + 4 * VW <= nout; o += 4 * VW)
		fc_cols(y + o, x, w + o, b ? b + o : NULL, nin, nout, VW, 4, 0);
	const int rest = nout - o;
	if (rest > 0) {
		const int nv = (rest + VW - 1) / VW, nlast = rest - (nv - 1) * VW;
		const float *bp = b ? b + o : NULL;
		switch (nv * 2 + (nlast < VW)) {
		case 2: fc_cols(y + o, x, w + o, bp, nin, nout, nlast, 1, 0); break;
		case 3: fc_cols(y + o, x, w + o, bp, nin, nout, nlast, 1, 1); break;
		case 4: fc_cols(y + o, x, w + o, bp, nin, nout, nlast, 2, 0); break;
		case 5: fc_cols(y + o, x, w + o, bp, nin, nout, nlast, 2, 1); break;
		case 6: fc_cols(y + o, x, w + o, bp, nin, nout, nlast, 3, 0); break;
		case 7: fc_cols(y + o, x, w + o, bp, nin, nout, nlast, 3, 1); break;
		case 9: fc_cols(y + o, x, w + o, bp, nin, nout, nlast, 4, 1); break;
		}
	}
}

/* ---- element-wise kernels: full vectors, then one partial vector --------- */
static void affine_relu(float *y, const float *x, const float *scale, const float *shift,
			int t, int c)
{
	const V zero = v_zero();
	for (int i = 0; i < t; i++) {
		const float *xr = x + (size_t)i * c;
		float *yr = y + (size_t)i * c;
		int j = 0;
		for (; j + VW <= c; j += VW)
			v_store(yr + j, v_max(v_add(v_mul(v_load(xr + j), v_load(scale + j)),
						    v_load(shift + j)), zero));
		if (j < c) {
			const int n = c - j;
			v_store_n(yr + j, v_max(v_add(v_mul(v_load_n(xr + j, n), v_load_n(scale + j, n)),
						      v_load_n(shift + j, n)), zero), n);
		}
	}
}

FORCE_INLINE V load_abs(const float *p, int absval)
{
	return absval ? v_abs(v_load(p)) : v_load(p);
}

/* Sums over t in the scalar reference's order (so the result is identical);
 * four channel vectors at a time give four independent add chains. */
static void mean_time(float *m, const float *x, int t, int c, int absval)
{
	const V inv = v_set1(t > 0 ? 1.0f / (float)t : 0.0f);
	int j = 0;
	for (; j + 4 * VW <= c; j += 4 * VW) {
		V s0 = v_zero(), s1 = v_zero(), s2 = v_zero(), s3 = v_zero();
		for (int i = 0; i < t; i++) {
			const float *p = x + (size_t)i * c + j;
			s0 = v_add(s0, load_abs(p, absval));
			s1 = v_add(s1, load_abs(p + VW, absval));
			s2 = v_add(s2, load_abs(p + 2 * VW, absval));
			s3 = v_add(s3, load_abs(p + 3 * VW, absval));
		}
		v_store(m + j, v_mul(s0, inv));
		v_store(m + j + VW, v_mul(s1, inv));
		v_store(m + j + 2 * VW, v_mul(s2, inv));
		v_store(m + j + 3 * VW, v_mul(s3, inv));
	}
	for (; j + VW <= c; j += VW) {
		V s = v_zero();
		for (int i = 0; i < t; i++)
			s = v_add(s, load_abs(x + (size_t)i * c + j, absval));
		v_store(m + j, v_mul(s, inv));
	}
	if (j < c) {
		const int n = c - j;
		V s = v_zero();
		for (int i = 0; i < t; i++) {
			const V v = v_load_n(x + (size_t)i * c + j, n);
			s = v_add(s, absval ? v_abs(v) : v);
		}
		v_store_n(m + j, v_mul(s, inv), n);
	}
}

/* The shortcut's lanes for channels [j, j + n): x_row[c - pad] where
 * pad <= c < pad + cin, else 0. */
FORCE_INLINE V shortcut_at(const float *xr, int j, int n, int cin, int pad)
{
	if (!xr || j + n <= pad || j >= pad + cin)
		return v_zero();
	if (j >= pad && j + n <= pad + cin)
		return n == VW ? v_load(xr + j - pad) : v_load_n(xr + j - pad, n);
	float tmp[VW];
	for (int l = 0; l < VW; l++)
		tmp[l] = (l < n && j + l >= pad && j + l < pad + cin) ? xr[j + l - pad] : 0.0f;
	return v_load(tmp);
}

FORCE_INLINE V shrink(V f, V tau)
{
	return v_copysign(v_max(v_sub(v_abs(f), tau), v_zero()), f);
}

static void shrink_add(float *y, const float *f, const float *tau, const float *x,
		       int t, int c, int cin, int x_step, int pad)
{
	for (int i = 0; i < t; i++) {
		const float *fr = f + (size_t)i * c;
		const float *xr = x ? x + (size_t)i * x_step * cin : NULL;
		float *yr = y + (size_t)i * c;
		int j = 0;
		for (; j + VW <= c; j += VW)
			v_store(yr + j, v_add(shrink(v_load(fr + j), v_load(tau + j)),
					      shortcut_at(xr, j, VW, cin, pad)));
		if (j < c) {
			const int n = c - j;
			v_store_n(yr + j, v_add(shrink(v_load_n(fr + j, n), v_load_n(tau + j, n)),
						shortcut_at(xr, j, n, cin, pad)), n);
		}
	}
}

const struct drsn__kernels TABLE = {
	.name = TABLE_NAME,
	.conv1d = conv1d,
	.fc = fc,
	.affine_relu = affine_relu,
	.mean_time = mean_time,
	.shrink_add = shrink_add,
};
