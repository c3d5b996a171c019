/* SSE2 kernels (the x86-64 baseline, built with -msse2): 4 lanes, no FMA
 * (multiply then add), 6x8 conv tiles (12 xmm accumulators); channel tails
 * go through a small stack buffer. */
#include <emmintrin.h>

typedef __m128 V;
#define VW 4
#define MR 6
#define NV 2
#define TABLE drsn__kernels_sse2
#define TABLE_NAME "sse2"

#define v_zero() _mm_setzero_ps()
#define v_set1(f) _mm_set1_ps(f)
#define v_load(p) _mm_loadu_ps(p)
#define v_store(p, v) _mm_storeu_ps((p), (v))
#define v_add _mm_add_ps
#define v_sub _mm_sub_ps
#define v_mul _mm_mul_ps
#define v_min _mm_min_ps
#define v_max _mm_max_ps
#define v_fma(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c))
#define v_abs(a) _mm_andnot_ps(_mm_set1_ps(-0.0f), (a))

#include "simd/template.h"
