/*
 * Every kernel path this machine has against the scalar reference, on
 * random inputs of many shapes (odd sizes, channel counts that are not
 * multiples of the vector width, stride 1 and 2, k 1/3/5/9, t 1..200, no
 * shortcut, zero thresholds). The scalar conv1d and fc are themselves
 * checked against a double-precision sum.
 *
 * Error measure: max |path - ref| / max(1, max |ref|) over one output
 * tensor (the L-inf norm of the error relative to that of the output),
 * which must be <= 1e-5. Buffers are allocated to their exact size, with
 * sentinels around the output, so a kernel that reads or writes out of
 * bounds fails here (and under ASan).
 *
 * test_special_values: NaN, infinities, denormals and signed zeros, at
 * unaligned addresses; the scalar reference against PyTorch's relu and
 * sign(f) * relu(|f| - tau), every path against scalar.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/tables.h"

#if defined(__arm__)
#include <sys/auxv.h>
#endif

#define TOL 1e-5
#define GUARD 16
#define SENTINEL 12345.0f

static const struct drsn__kernels *paths[8];
static int n_paths;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static float urand(float lo, float hi)
{
	return lo + (hi - lo) * (float)(rnd() & 0xffffff) / (float)0x1000000;
}

static int pick(const int *v, int n)
{
	return v[rnd() % (unsigned)n];
}

static float *rand_buf(size_t n, float lo, float hi)
{
	float *p = malloc(n * sizeof *p + 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = urand(lo, hi);
	return p;
}

/* An output buffer of n floats with GUARD sentinels on each side. */
static float *out_buf(size_t n)
{
	float *p = malloc((n + 2 * GUARD) * sizeof *p);
	assert_non_null(p);
	for (size_t i = 0; i < n + 2 * GUARD; i++)
		p[i] = SENTINEL;
	return p + GUARD;
}

static void out_check_free(float *p, size_t n, const char *what)
{
	for (int i = 0; i < GUARD; i++) {
		if (p[-1 - i] != SENTINEL || p[n + (size_t)i] != SENTINEL)
			fail_msg("%s wrote outside its output", what);
	}
	free(p - GUARD);
}

static double rel_err(const float *a, const float *ref, size_t n)
{
	double num = 0, den = 1;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)ref[i]);
		if (!(d <= num)) /* also catches NaN */
			num = isnan(d) ? INFINITY : d;
		if (fabs(ref[i]) > den)
			den = fabs(ref[i]);
	}
	return num / den;
}

static double worst[8][5]; /* per path, per kernel: the largest error seen */

static void check(int path, int kernel, const float *a, const float *ref, size_t n,
		  const char *what)
{
	double e = rel_err(a, ref, n);
	if (e > worst[path][kernel])
		worst[path][kernel] = e;
	if (!(e <= TOL))
		fail_msg("%s: %s relative error %.3g > %g", paths[path]->name, what, e, TOL);
}

static const int T_VALS[] = {1, 2, 3, 4, 5, 6, 7, 11, 13, 25, 49, 50, 98, 101, 200};
static const int C_VALS[] = {1, 2, 3, 5, 7, 8, 9, 13, 15, 16, 17, 24, 31, 32, 33, 40, 48, 63, 64, 96};
static const int K_VALS[] = {1, 3, 5, 9};
#define NV(a) ((int)(sizeof(a) / sizeof(a)[0]))

static void test_conv1d(void **state)
{
	(void)state;
	for (int it = 0; it < 300; it++) {
		const int t_out = pick(T_VALS, NV(T_VALS)), cin = pick(C_VALS, NV(C_VALS));
		const int cout = pick(C_VALS, NV(C_VALS)), k = pick(K_VALS, NV(K_VALS));
		const int stride = 1 + (int)(rnd() & 1), has_b = (rnd() % 4) != 0;
		const int kk = k * cin;
		const size_t nx = ((size_t)(t_out - 1) * stride + k) * cin, ny = (size_t)t_out * cout;
		const float ws = 1.0f / sqrtf((float)kk);
		float *x = rand_buf(nx, -1, 1), *w = rand_buf((size_t)kk * cout, -ws, ws);
		float *b = has_b ? rand_buf(cout, -1, 1) : NULL;
		float *ref = out_buf(ny), *dref = malloc(ny * sizeof *dref);
		char what[128];
		snprintf(what, sizeof what, "conv1d t_out=%d cin=%d cout=%d k=%d stride=%d bias=%d",
			 t_out, cin, cout, k, stride, has_b);

		drsn__kernels_scalar.conv1d(ref, x, w, b, t_out, cin, cout, k, stride);
		for (int t = 0; t < t_out; t++)
			for (int co = 0; co < cout; co++) {
				double s = b ? b[co] : 0;
				for (int r = 0; r < kk; r++)
					s += (double)x[(size_t)t * stride * cin + r] * w[(size_t)r * cout + co];
				dref[(size_t)t * cout + co] = (float)s;
			}
		check(0, 0, ref, dref, ny, what);
		for (int p = 1; p < n_paths; p++) {
			float *y = out_buf(ny);
			paths[p]->conv1d(y, x, w, b, t_out, cin, cout, k, stride);
			check(p, 0, y, ref, ny, what);
			out_check_free(y, ny, what);
		}
		out_check_free(ref, ny, what);
		free(dref);
		free(x);
		free(w);
		free(b);
	}
}

static void test_fc(void **state)
{
	(void)state;
	static const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 35, 40, 64, 96, 97, 130};
	for (int it = 0; it < 200; it++) {
		const int nin = pick(sizes, NV(sizes)), nout = pick(sizes, NV(sizes));
		const int has_b = (rnd() % 4) != 0;
		const float ws = 1.0f / sqrtf((float)nin);
		float *x = rand_buf(nin, -1, 1), *w = rand_buf((size_t)nin * nout, -ws, ws);
		float *b = has_b ? rand_buf(nout, -1, 1) : NULL;
		float *ref = out_buf(nout), *dref = malloc(nout * sizeof *dref);
		char what[96];
		snprintf(what, sizeof what, "fc nin=%d nout=%d bias=%d", nin, nout, has_b);
		drsn__kernels_scalar.fc(ref, x, w, b, nin, nout);
		for (int o = 0; o < nout; o++) {
			double s = b ? b[o] : 0;
			for (int i = 0; i < nin; i++)
				s += (double)x[i] * w[(size_t)i * nout + o];
			dref[o] = (float)s;
		}
		check(0, 1, ref, dref, nout, what);
		for (int p = 1; p < n_paths; p++) {
			float *y = out_buf(nout);
			paths[p]->fc(y, x, w, b, nin, nout);
			check(p, 1, y, ref, nout, what);
			out_check_free(y, nout, what);
		}
		out_check_free(ref, nout, what);
		free(dref);
		free(x);
		free(w);
		free(b);
	}
}

static void test_affine_relu(void **state)
{
	(void)state;
	for (int it = 0; it < 200; it++) {
		const int t = pick(T_VALS, NV(T_VALS)), c = pick(C_VALS, NV(C_VALS));
		const size_t n = (size_t)t * c;
		float *x = rand_buf(n, -2, 2), *sc = rand_buf(c, -2, 2), *sh = rand_buf(c, -1, 1);
		float *ref = out_buf(n);
		char what[64];
		snprintf(what, sizeof what, "affine_relu t=%d c=%d", t, c);
		drsn__kernels_scalar.affine_relu(ref, x, sc, sh, t, c);
		for (size_t i = 0; i < n; i++) {
			float v = x[i] * sc[i % c] + sh[i % c];
			assert_true(fabsf(ref[i] - (v > 0 ? v : 0)) <= 1e-6f);
		}
		for (int p = 1; p < n_paths; p++) {
			float *y = out_buf(n);
			paths[p]->affine_relu(y, x, sc, sh, t, c);
			check(p, 2, y, ref, n, what);
			out_check_free(y, n, what);
			/* in place (y == x) */
			float *xi = malloc(n * sizeof *xi);
			memcpy(xi, x, n * sizeof *xi);
			paths[p]->affine_relu(xi, xi, sc, sh, t, c);
			check(p, 2, xi, ref, n, what);
			free(xi);
		}
		out_check_free(ref, n, what);
		free(x);
		free(sc);
		free(sh);
	}
}

static void test_mean_time(void **state)
{
	(void)state;
	for (int it = 0; it < 200; it++) {
		const int t = pick(T_VALS, NV(T_VALS)), c = pick(C_VALS, NV(C_VALS));
		const int absval = (int)(rnd() & 1);
		float *x = rand_buf((size_t)t * c, -3, 2), *ref = out_buf(c);
		char what[64];
		snprintf(what, sizeof what, "mean_time t=%d c=%d abs=%d", t, c, absval);
		drsn__kernels_scalar.mean_time(ref, x, t, c, absval);
		for (int j = 0; j < c; j++) {
			double s = 0;
			for (int i = 0; i < t; i++)
				s += absval ? fabs(x[(size_t)i * c + j]) : x[(size_t)i * c + j];
			assert_true(fabs(s / t - ref[j]) <= 1e-5 * fmax(1, fabs(s / t)));
		}
		for (int p = 1; p < n_paths; p++) {
			float *m = out_buf(c);
			paths[p]->mean_time(m, x, t, c, absval);
			check(p, 3, m, ref, c, what);
			out_check_free(m, c, what);
		}
		out_check_free(ref, c, what);
		free(x);
	}
}

static void test_shrink_add(void **state)
{
	(void)state;
	for (int it = 0; it < 300; it++) {
		const int t = pick(T_VALS, NV(T_VALS)), c = pick(C_VALS, NV(C_VALS));
		const int mode = (int)(rnd() % 4); /* 0: no shortcut, else with */
		const int cin = mode ? 1 + (int)(rnd() % (unsigned)c) : c;
		const int pad = mode ? (int)(rnd() % (unsigned)(c - cin + 1)) : 0;
		const int x_step = 1 + (int)(rnd() % 2);
		const int zero_tau = (rnd() % 4) == 0;
		const size_t n = (size_t)t * c;
		float *f = rand_buf(n, -2, 2), *tau = rand_buf(c, 0, 1.5f);
		float *x = mode ? rand_buf(((size_t)(t - 1) * x_step + 1) * cin, -1, 1) : NULL;
		float *ref = out_buf(n);
		char what[128];
		snprintf(what, sizeof what, "shrink_add t=%d c=%d cin=%d pad=%d x_step=%d x=%s tau0=%d",
			 t, c, cin, pad, x_step, x ? "yes" : "NULL", zero_tau);
		if (zero_tau)
			memset(tau, 0, c * sizeof *tau);
		drsn__kernels_scalar.shrink_add(ref, f, tau, x, t, c, cin, x_step, pad);
		for (int i = 0; i < t; i++)
			for (int j = 0; j < c; j++) {
				float v = f[(size_t)i * c + j], a = fabsf(v) - tau[j];
				float e = a > 0 ? (v < 0 ? -a : a) : 0;
				if (x && j >= pad && j < pad + cin)
					e += x[(size_t)i * x_step * cin + j - pad];
				assert_true(fabsf(e - ref[(size_t)i * c + j]) <= 1e-6f);
			}
		for (int p = 1; p < n_paths; p++) {
			float *y = out_buf(n);
			paths[p]->shrink_add(y, f, tau, x, t, c, cin, x_step, pad);
			check(p, 4, y, ref, n, what);
			out_check_free(y, n, what);
		}
		out_check_free(ref, n, what);
		free(f);
		free(tau);
		free(x);
	}
}

/* ---- NaN, infinities, denormals, signed zeros, unaligned pointers ----------
 * Every path gives what the PyTorch reference gives: NaN and infinities
 * propagate (torch.relu(NaN) is NaN; sign(f) * relu(|f| - tau) is NaN for a
 * NaN f or tau and for inf - inf), denormals are not flushed. Inputs sit one
 * float past an aligned address, so no vector load is aligned. */
static const float SPECIAL[] = {NAN, -NAN, INFINITY, -INFINITY, 1e-40f, -1e-40f, 1e-45f,
				0.0f, -0.0f};

/* n floats at an odd address (base[1]): uniform in [lo, hi), about one in
 * six of them replaced by SPECIAL[0 .. n_special). Free base. */
static float *special_buf(float **base, size_t n, float lo, float hi, int n_special)
{
	*base = rand_buf(n + 1, lo, hi);
	float *p = *base + 1;
	for (size_t i = 0; n_special && i < n; i++)
		if (rnd() % 6 == 0)
			p[i] = SPECIAL[rnd() % (unsigned)n_special];
	return p;
}

static float torch_relu(float v)
{
	return isnan(v) || v > 0.0f ? v : 0.0f;
}

static float torch_shrink(float f, float tau)
{
	const float s = isnan(f) ? f : f > 0.0f ? 1.0f : f < 0.0f ? -1.0f : 0.0f;
	return s * torch_relu(fabsf(f) - tau);
}

/* a against ref element by element: NaN where ref is NaN, the same infinity
 * where it is infinite, else equal (exact) or within TOL of the largest
 * finite |ref| (at least 1). */
static void check_special(const char *path, const char *what, const float *a, const float *ref,
			  size_t n, int exact)
{
	double den = 1;
	for (size_t i = 0; i < n; i++)
		if (isfinite(ref[i]) && fabs(ref[i]) > den)
			den = fabs(ref[i]);
	for (size_t i = 0; i < n; i++) {
		const int ok = isnan(ref[i]) ? isnan(a[i])
			       : isinf(ref[i]) || exact ? a[i] == ref[i]
			       : isfinite(a[i]) && fabs((double)a[i] - ref[i]) <= TOL * den;
		if (!ok)
			fail_msg("%s: %s: element %zu is %g, expected %g", path, what, i, a[i],
				 ref[i]);
	}
}

static void test_special_values(void **state)
{
	(void)state;
	const int all = NV(SPECIAL), tau_special = 4; /* tau: NaN, -NaN, +inf, 0 ... */
	static const float TAU_SPECIAL[] = {NAN, INFINITY, 0.0f, 1e-40f};
	for (int it = 0; it < 200; it++) {
		const int t = pick(T_VALS, NV(T_VALS)), c = pick(C_VALS, NV(C_VALS));
		const int cin = pick(C_VALS, NV(C_VALS)), k = pick(K_VALS, NV(K_VALS));
		const int stride = 1 + (int)(rnd() & 1);
		const size_t n = (size_t)t * c, nx = ((size_t)(t - 1) * stride + k) * cin;
		float *bx, *bw, *bb, *bf, *btau, *bsc, *bsh;
		float *x = special_buf(&bx, nx, -1, 1, all);
		float *w = special_buf(&bw, (size_t)k * cin * c, -0.3f, 0.3f, all);
		float *b = special_buf(&bb, (size_t)c, -1, 1, all);
		float *f = special_buf(&bf, n, -2, 2, all);
		float *tau = special_buf(&btau, (size_t)c, 0, 1.5f, 0);
		float *sc = special_buf(&bsc, (size_t)c, -2, 2, all);
		float *sh = special_buf(&bsh, (size_t)c, -1, 1, all);
		for (int j = 0; j < c; j++)
			if (rnd() % 4 == 0)
				tau[j] = TAU_SPECIAL[rnd() % (unsigned)tau_special];
		const int cs = 1 + (int)(rnd() % (unsigned)c);
		const int pad = (int)(rnd() % (unsigned)(c - cs + 1));
		float *ref = malloc(n * sizeof *ref), *y = malloc((n + 1) * sizeof *y);
		char what[128];

		/* the scalar reference against PyTorch's definitions */
		drsn__kernels_scalar.affine_relu(ref, f, sc, sh, t, c);
		for (size_t i = 0; i < n; i++) {
			const float e = torch_relu(f[i] * sc[i % c] + sh[i % c]);
			if (!(isnan(e) ? isnan(ref[i]) : ref[i] == e))
				fail_msg("scalar affine_relu(%g * %g + %g) = %g, torch.relu gives %g", f[i],
					 sc[i % c], sh[i % c], ref[i], e);
		}
		drsn__kernels_scalar.shrink_add(ref, f, tau, NULL, t, c, c, 1, 0);
		for (size_t i = 0; i < n; i++) {
			const float e = torch_shrink(f[i], tau[i % c]);
			if (!(isnan(e) ? isnan(ref[i]) : ref[i] == e))
				fail_msg("scalar shrink_add(f %g, tau %g) = %g, sign(f) * relu(|f| - tau) = %g",
					 f[i], tau[i % c], ref[i], e);
		}

		/* every path against scalar, outputs at an odd address too */
		for (int p = 1; p < n_paths; p++) {
			const char *pn = paths[p]->name;
			snprintf(what, sizeof what, "conv1d t_out=%d cin=%d cout=%d k=%d stride=%d",
				 t, cin, c, k, stride);
			drsn__kernels_scalar.conv1d(ref, x, w, b, t, cin, c, k, stride);
			paths[p]->conv1d(y + 1, x, w, b, t, cin, c, k, stride);
			check_special(pn, what, y + 1, ref, n, 0);
			snprintf(what, sizeof what, "fc nin=%d nout=%d", cin, c);
			drsn__kernels_scalar.fc(ref, x, w, b, cin, c);
			paths[p]->fc(y + 1, x, w, b, cin, c);
			check_special(pn, what, y + 1, ref, (size_t)c, 0);
			snprintf(what, sizeof what, "affine_relu t=%d c=%d", t, c);
			drsn__kernels_scalar.affine_relu(ref, f, sc, sh, t, c);
			paths[p]->affine_relu(y + 1, f, sc, sh, t, c);
			check_special(pn, what, y + 1, ref, n, 1);
			for (int absval = 0; absval < 2; absval++) {
				snprintf(what, sizeof what, "mean_time t=%d c=%d abs=%d", t, c, absval);
				drsn__kernels_scalar.mean_time(ref, f, t, c, absval);
				paths[p]->mean_time(y + 1, f, t, c, absval);
				check_special(pn, what, y + 1, ref, (size_t)c, 0);
			}
			snprintf(what, sizeof what, "shrink_add t=%d c=%d x=NULL", t, c);
			drsn__kernels_scalar.shrink_add(ref, f, tau, NULL, t, c, c, 1, 0);
			paths[p]->shrink_add(y + 1, f, tau, NULL, t, c, c, 1, 0);
			check_special(pn, what, y + 1, ref, n, 1);
			/* the shortcut: x as cs channels at pad, rows at the conv stride */
			if ((size_t)(t - 1) * stride * cs + (size_t)cs <= nx) {
				snprintf(what, sizeof what, "shrink_add t=%d c=%d cin=%d pad=%d x_step=%d", t, c,
					 cs, pad, stride);
				drsn__kernels_scalar.shrink_add(ref, f, tau, x, t, c, cs, stride, pad);
				paths[p]->shrink_add(y + 1, f, tau, x, t, c, cs, stride, pad);
				check_special(pn, what, y + 1, ref, n, 1);
			}
		}
		free(ref);
		free(y);
		free(bx);
		free(bw);
		free(bb);
		free(bf);
		free(btau);
		free(bsc);
		free(bsh);
	}
}

/* ---- results a flush of denormals to zero would change ----------------------
 * ARMv7 NEON flushes denormal inputs and results to zero; the scalar
 * reference does not. Normal inputs whose product or difference is denormal
 * (affine_relu, shrink_add must still equal scalar exactly), and a denormal
 * times a large weight (conv1d, fc: 1e-40 * 1e38 = 1e-2, not 0). Every path
 * against scalar, on 13 channels (vector body and tail). */
static void test_flush_cases(void **state)
{
	(void)state;
	enum { T = 3, C = 13 };
	float x[T * C], sc[C], sh[C], tau[C], w[C * C], ref[T * C], y[T * C];
	for (int j = 0; j < C; j++) {
		sc[j] = j % 2 ? 1e-20f : -3e-20f;  /* x * sc: denormal */
		sh[j] = j % 3 ? 0.0f : -0.0f;
		tau[j] = j % 2 ? 1.4e-38f : 1.2e-38f; /* f - tau: denormal */
		for (int i = 0; i < T; i++)
			x[i * C + j] = (i + 1) * (j % 2 ? 2e-20f : -1.5e-20f);
		for (int i = 0; i < C; i++)
			w[i * C + j] = (i + j) % 4 ? 0.25f : 1e38f;
	}
	float f[T * C];
	for (int i = 0; i < T * C; i++)
		f[i] = (i % 2 ? 1.5e-38f : -2.4e-38f) * (float)(1 + i % 3);
	float xd[T * C]; /* denormals and zeros: ref is sums of 1e-40 * 1e38 */
	for (int i = 0; i < T * C; i++)
		xd[i] = i % 3 ? 1e-40f : 0.0f;
	float f_in[T * C], tau_one[C];
	for (int i = 0; i < T * C; i++)
		f_in[i] = i % 2 ? 0.5f : -0.25f;
	for (int j = 0; j < C; j++)
		tau_one[j] = 1.0f;
	for (int p = 1; p < n_paths; p++) {
		const char *pn = paths[p]->name;
		drsn__kernels_scalar.affine_relu(ref, x, sc, sh, T, C);
		paths[p]->affine_relu(y, x, sc, sh, T, C);
		check_special(pn, "affine_relu, denormal x * scale", y, ref, T * C, 1);
		drsn__kernels_scalar.shrink_add(ref, f, tau, NULL, T, C, C, 1, 0);
		paths[p]->shrink_add(y, f, tau, NULL, T, C, C, 1, 0);
		check_special(pn, "shrink_add, denormal f - tau", y, ref, T * C, 1);
		drsn__kernels_scalar.shrink_add(ref, f, tau, x, T, C, C, 1, 0);
		paths[p]->shrink_add(y, f, tau, x, T, C, C, 1, 0);
		check_special(pn, "shrink_add, denormal f - tau, + shortcut", y, ref, T * C, 1);
		/* f inside the threshold (0 before the add), a denormal shortcut */
		drsn__kernels_scalar.shrink_add(ref, f_in, tau_one, xd, T, C, C, 1, 0);
		paths[p]->shrink_add(y, f_in, tau_one, xd, T, C, C, 1, 0);
		check_special(pn, "shrink_add, denormal shortcut", y, ref, T * C, 1);
		drsn__kernels_scalar.conv1d(ref, xd, w, NULL, T, C, C, 1, 1);
		paths[p]->conv1d(y, xd, w, NULL, T, C, C, 1, 1);
		check_special(pn, "conv1d, denormal x * 1e38", y, ref, T * C, 0);
		drsn__kernels_scalar.fc(ref, xd, w, NULL, C, C);
		paths[p]->fc(y, xd, w, NULL, C, C);
		check_special(pn, "fc, denormal x * 1e38", y, ref, C, 0);
	}
}

static int report(void **state)
{
	(void)state;
	static const char *kn[5] = {"conv1d", "fc", "affine_relu", "mean_time", "shrink_add"};
	for (int p = 0; p < n_paths; p++) {
		printf("%-6s vs %s:", paths[p]->name, p ? "scalar" : "double sum");
		for (int k = 0; k < 5; k++)
			if (p || k < 2)
				printf(" %s %.2g", kn[k], worst[p][k]);
		printf("  (max relative error, tolerance %g)\n", TOL);
	}
	return 0;
}

int main(void)
{
	const char *seed = getenv("DRSN_TEST_SEED");
	if (seed)
		rng_state = strtoull(seed, NULL, 0) | 1;
	n_paths = drsn__kernels_available(paths, 8);
	printf("comparing %d path(s) against scalar:", n_paths - 1);
	for (int p = 1; p < n_paths; p++)
		printf(" %s", paths[p]->name);
	printf("\n");
#if defined(__arm__) && DRSN_TEST_ARM_NEON
	/* 32-bit ARM, where NEON is optional: the neon path tested exactly when
	 * AT_HWCAP says the CPU has NEON (HWCAP_NEON), scalar alone otherwise */
	const int hw_neon = (getauxval(AT_HWCAP) & (1ul << 12)) != 0;
	printf("32-bit ARM: AT_HWCAP says %s\n", hw_neon ? "NEON" : "no NEON");
	if (hw_neon != (n_paths == 2 && !strcmp(paths[1]->name, "neon"))) {
		fprintf(stderr, "simd-kernels: AT_HWCAP %s HWCAP_NEON but the paths are not "
			"scalar%s\n", hw_neon ? "has" : "lacks", hw_neon ? " and neon" : " alone");
		return 1;
	}
#elif DRSN_TEST_SIMD
	if (n_paths < 2) {
		fprintf(stderr, "simd-kernels: this build has SIMD kernels but none is usable here\n");
		return 1;
	}
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv1d),
		cmocka_unit_test(test_fc),
		cmocka_unit_test(test_affine_relu),
		cmocka_unit_test(test_mean_time),
		cmocka_unit_test(test_shrink_add),
		cmocka_unit_test(test_special_values),
		cmocka_unit_test(test_flush_cases),
	};
	return cmocka_run_group_tests_name("simd-kernels", tests, NULL, report);
}
