/* SSE2 kernels (the x86-64 baseline, built with -msse2): 4 lanes, no FMA
 * (multiply then add), 6x8 conv tiles (12 xmm accumulators); channel tails
 * go through a small stack buffer. */
#include <emmintrin.h>
#include <string.h>

typedef __m128 V;
#define VW 4
#define MR 6
#define NV 2
#define TABLE drsn__kernels_sse2
#define TABLE_NAME "sse2"

static inline V load_part(const float *p, int n)
{
	float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
	memcpy(t, p, (size_t)n * sizeof *p);
	return _mm_loadu_ps(t);
}

static inline void store_part(float *p, V v, int n)
{
	float t[4];
	_mm_storeu_ps(t, v);
	memcpy(p, t, (size_t)n * sizeof *p);
}

#define v_zero() _mm_setzero_ps()
#define v_set1(f) _mm_set1_ps(f)
#define v_load(p) _mm_loadu_ps(p)
#define v_store(p, v) _mm_storeu_ps((p), (v))
#define v_load_n(p, n) load_part((p), (n))
#define v_store_n(p, v, n) store_part((p), (v), (n))
#define v_add _mm_add_ps
#define v_sub _mm_sub_ps
#define v_mul _mm_mul_ps
#define v_max _mm_max_ps
#define v_fma(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c))
#define v_abs(a) _mm_andnot_ps(_mm_set1_ps(-0.0f), (a))
#define v_copysign(m, s) _mm_or_ps(_mm_andnot_ps(_mm_set1_ps(-0.0f), (m)), \
				   _mm_and_ps(_mm_set1_ps(-0.0f), (s)))

#include "simd/template.h"
