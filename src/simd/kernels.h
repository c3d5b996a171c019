/*
 * Internal SIMD kernel table (PipeWire style).
 *
 * One static library per instruction set (scalar, sse2, avx2 [+fma], neon),
 * each compiled with its own c_args, fills one `struct drsn__kernels`.
 * drsn__kernels_get() picks the best one the CPU supports at run time; the
 * environment variable DRSN_SIMD=scalar|sse2|avx2|neon (or
 * drsn_simd_select()) overrides it. The scalar table is the reference every
 * other path is tested against (relative error <= 1e-5). NaN and infinities
 * come out as in the PyTorch reference on every path: relu(NaN) is NaN, the
 * soft threshold of a NaN f or tau is NaN; denormals are not flushed (32-bit
 * ARM's NEON flushes them: its table hands the calls where that would show
 * to scalar, neon_arm32_guard.h).
 *
 * Layout conventions (all float32, row-major):
 *   activations are time-major, channels contiguous: x[t][c], row stride = C.
 *   conv weights are [k][cin][cout]  (a (k*cin) x cout matrix).
 *   fc weights are [nin][nout].
 * No kernel allocates, locks or keeps state.
 */
#ifndef DRSN_SRC_SIMD_KERNELS_H
#define DRSN_SRC_SIMD_KERNELS_H

#include <stddef.h>

struct drsn__kernels {
	const char *name;   /* "scalar", "sse2", "avx2", "neon" */

	/*
	 * 1-D convolution as a GEMM over time-major rows.
	 *   y[t][co] = b[co] + sum_{j<k} sum_{ci<cin} x[(t*stride + j)*cin + ci] * w[(j*cin + ci)*cout + co]
	 * for t < t_out. x points at the first row of the (already zero-padded)
	 * input window, so the k*cin inputs for output t are contiguous.
	 * b may be NULL (no bias). y must not alias x.
	 */
	void (*conv1d)(float *y, const float *x, const float *w, const float *b,
		       int t_out, int cin, int cout, int k, int stride);

	/* Fully connected: y[o] = b[o] + sum_i x[i] * w[i*nout + o]. b may be NULL. */
	void (*fc)(float *y, const float *x, const float *w, const float *b,
		   int nin, int nout);

	/* Per-channel affine then ReLU (a folded BatchNorm followed by ReLU):
	 *   y[t][c] = max(0, x[t][c] * scale[c] + shift[c]).  y may equal x. */
	void (*affine_relu)(float *y, const float *x, const float *scale,
			    const float *shift, int t, int c);

	/* Per-channel mean over time: m[c] = (1/t) sum_t x[t][c], or of |x| when absval. */
	void (*mean_time)(float *m, const float *x, int t, int c, int absval);

	/*
	 * The residual shrinkage output, fused with the identity shortcut:
	 *   y[t][c] = sign(f[t][c]) * max(|f[t][c]| - tau[c], 0) + s(t, c)
	 * where s(t, c) = x[(t*x_step)*cin + (c - pad)] if pad <= c < pad + cin,
	 * else 0 (zero-padded channels; x_step > 1 when the unit downsamples).
	 * x may be NULL (no shortcut). tau[c] = 0 gives a plain residual add
	 * (the ResNet baseline). y must not alias f or x.
	 */
	void (*shrink_add)(float *y, const float *f, const float *tau,
			   const float *x, int t, int c, int cin, int x_step, int pad);
};

/* The table to use now: chosen once (CPU flags, then DRSN_SIMD), thread-safe. */
const struct drsn__kernels *drsn__kernels_get(void);

/* A table by name, or NULL if this build or CPU does not have it. */
const struct drsn__kernels *drsn__kernels_by_name(const char *name);

/* All tables usable on this machine, scalar first; returns the count (<= max). */
int drsn__kernels_available(const struct drsn__kernels **out, int max);

#endif
