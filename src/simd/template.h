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
 *   TABLE_LINKAGE       optional: `static` for a table another one wraps
 *   v_zero() v_set1(f) v_load(p) v_store(p, v)         unaligned
 *   v_load_n(p, n) v_store_n(p, v, n)   first n < VW lanes (optional: the
 *                       default goes through a small stack buffer)
 *   v_add v_sub v_mul v_min v_max v_fma(a, b, c) = a * b + c   v_abs(a)
 *
 * The results equal the scalar reference's up to summation order and FMA
 * rounding (conv1d, fc), up to summation order (mean_time), and bit for bit
 * in affine_relu and shrink_add (but for the sign of a zero), NaN and
 * infinities included: v_max and v_min take their operands in an order that
 * keeps a NaN on x86 (whose max/min return the second operand when one is
 * NaN) as NEON's do.
 */
#include <stddef.h>
#include <string.h>

#include "simd/kernels.h"

#ifndef v_load_n
static inline V load_part(const float *p, int n)
{
	float t[VW] = {0.0f};
	memcpy(t, p, (size_t)n * sizeof *p);
	return v_load(t);
}

static inline void store_part(float *p, V v, int n)
{
	float t[VW];
	v_store(t, v);
	memcpy(p, t, (size_t)n * sizeof *p);
}
#define v_load_n(p, n) load_part((p), (n))
#define v_store_n(p, v, n) store_part((p), (v), (n))
#endif

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

/* ---- affine_relu: channel strips down the rows, scale and shift loaded once
 * per strip --------------------------------------------------------------- */
FORCE_INLINE void affine_strip(float *y, const float *x, const float *scale, const float *shift,
			       int t, int c, int n, const int part)
{
	const V sc = part ? v_load_n(scale, n) : v_load(scale);
	const V sh = part ? v_load_n(shift, n) : v_load(shift);
	const V zero = v_zero();
#pragma GCC unroll 4
	for (int i = 0; i < t; i++) {
		const size_t o = (size_t)i * c;
		/* zero first: x86's max returns its second operand when one is NaN,
		 * so a NaN stays NaN (as in the scalar reference and on NEON) */
		const V v = v_max(zero, v_add(v_mul(part ? v_load_n(x + o, n) : v_load(x + o), sc), sh));
		if (part)
			v_store_n(y + o, v, n);
		else
			v_store(y + o, v);
	}
}

static void affine_relu(float *y, const float *x, const float *scale, const float *shift,
			int t, int c)
{
	int j = 0;
	for (; j + VW <= c; j += VW)
		affine_strip(y + j, x + j, scale + j, shift + j, t, c, VW, 0);
	if (j < c)
		affine_strip(y + j, x + j, scale + j, shift + j, t, c, c - j, 1);
}

FORCE_INLINE V load_abs(const float *p, int absval)
{
	return absval ? v_abs(v_load(p)) : v_load(p);
}

/* Four channel vectors at a time, even and odd rows summed apart: eight
 * independent add chains, so the loop runs at load speed, not add latency. */
FORCE_INLINE void mean_time_impl(float *m, const float *x, int t, int c, const int absval)
{
	const V inv = v_set1(t > 0 ? 1.0f / (float)t : 0.0f);
	int j = 0;
	for (; j + 4 * VW <= c; j += 4 * VW) {
		V s[8];
#pragma GCC unroll 8
		for (int l = 0; l < 8; l++)
			s[l] = v_zero();
		int i = 0;
		for (; i + 2 <= t; i += 2) {
			const float *p = x + (size_t)i * c + j;
#pragma GCC unroll 8
			for (int l = 0; l < 8; l++)
				s[l] = v_add(s[l], load_abs(p + (l >= 4 ? c : 0) + (l & 3) * VW, absval));
		}
		if (i < t) {
			const float *p = x + (size_t)i * c + j;
#pragma GCC unroll 4
			for (int l = 0; l < 4; l++)
				s[l] = v_add(s[l], load_abs(p + l * VW, absval));
		}
#pragma GCC unroll 4
		for (int l = 0; l < 4; l++)
			v_store(m + j + l * VW, v_mul(v_add(s[l], s[l + 4]), inv));
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

static void mean_time(float *m, const float *x, int t, int c, int absval)
{
	if (absval)
		mean_time_impl(m, x, t, c, 1);
	else
		mean_time_impl(m, x, t, c, 0);
}

/* ---- shrink_add ------------------------------------------------------------
 * sign(f) * max(|f| - tau, 0) is computed as f - clamp(f, -tau, tau): three
 * operations instead of five, the same value (both subtract tau exactly once;
 * only the sign of a zero result may differ). */

/* One strip of n channels (n = VW, or fewer when part) down all t rows:
 * tau is loaded once per strip, and whether the strip gets the shortcut is
 * decided once (has_x) rather than per element. */
FORCE_INLINE void shrink_strip(float *y, const float *f, const float *tau, const float *x,
			       int t, int c, int x_row, int n, const int has_x, const int part)
{
	const V tv = part ? v_load_n(tau, n) : v_load(tau);
	const V ntv = v_sub(v_zero(), tv);
#pragma GCC unroll 4
	for (int i = 0; i < t; i++) {
		const V fv = part ? v_load_n(f, n) : v_load(f);
		V v = v_sub(fv, v_min(v_max(fv, ntv), tv));
		if (has_x) {
			v = v_add(v, part ? v_load_n(x, n) : v_load(x));
			x += x_row;
		}
		if (part)
			v_store_n(y, v, n);
		else
			v_store(y, v);
		f += c;
		y += c;
	}
}

/* A strip that straddles an edge of the shortcut's channels [lo, hi) (only
 * when the zero padding is not a multiple of VW): its lanes gathered per row. */
static void shrink_strip_edge(float *y, const float *f, const float *tau, const float *x,
			      int t, int c, int x_row, int j, int n, int lo, int hi)
{
	for (int i = 0; i < t; i++) {
		float s[VW] = {0.0f};
		for (int l = 0; l < n; l++)
			if (j + l >= lo && j + l < hi)
				s[l] = x[(size_t)i * x_row + j + l - lo];
		const V fv = v_load_n(f + (size_t)i * c, n), tv = v_load_n(tau, n);
		const V v = v_sub(fv, v_min(v_max(fv, v_sub(v_zero(), tv)), tv));
		v_store_n(y + (size_t)i * c, v_add(v, v_load(s)), n);
	}
}

static void shrink_add(float *y, const float *f, const float *tau, const float *x,
		       int t, int c, int cin, int x_step, int pad)
{
	const int lo = pad, hi = pad + cin, x_row = x_step * cin;
	for (int j = 0; j < c; j += VW) {
		const int n = c - j < VW ? c - j : VW;
		const int outside = !x || j + n <= lo || j >= hi;
		const int inside = !outside && j >= lo && j + n <= hi;
		const float *xs = inside ? x + (j - lo) : NULL;
		if (n == VW && outside)
			shrink_strip(y + j, f + j, tau + j, NULL, t, c, 0, n, 0, 0);
		else if (n == VW && inside)
			shrink_strip(y + j, f + j, tau + j, xs, t, c, x_row, n, 1, 0);
		else if (outside)
			shrink_strip(y + j, f + j, tau + j, NULL, t, c, 0, n, 0, 1);
		else if (inside)
			shrink_strip(y + j, f + j, tau + j, xs, t, c, x_row, n, 1, 1);
		else
			shrink_strip_edge(y + j, f + j, tau + j, x, t, c, x_row, j, n, lo, hi);
	}
}

#ifndef TABLE_LINKAGE
#define TABLE_LINKAGE
#endif
TABLE_LINKAGE const struct drsn__kernels TABLE = {
	.name = TABLE_NAME,
	.conv1d = conv1d,
	.fc = fc,
	.affine_relu = affine_relu,
	.mean_time = mean_time,
	.shrink_add = shrink_add,
};
