/* AVX2 + FMA kernels (x86-64, built with -mavx2 -mfma): 8 lanes, 6x16 conv
 * tiles (12 ymm accumulators), masked loads/stores for channel tails. */
#include <immintrin.h>
#include <stdint.h>

typedef __m256 V;
#define VW 8
#define MR 6
#define NV 2
#define TABLE drsn__kernels_avx2
#define TABLE_NAME "avx2"

static const int32_t mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i lane_mask(int n)
{
	return _mm256_loadu_si256((const __m256i *)(mask_src + 8 - n));
}

#define v_zero() _mm256_setzero_ps()
#define v_set1(f) _mm256_set1_ps(f)
#define v_load(p) _mm256_loadu_ps(p)
#define v_store(p, v) _mm256_storeu_ps((p), (v))
#define v_load_n(p, n) _mm256_maskload_ps((p), lane_mask(n))
#define v_store_n(p, v, n) _mm256_maskstore_ps((p), lane_mask(n), (v))
#define v_add _mm256_add_ps
#define v_sub _mm256_sub_ps
#define v_mul _mm256_mul_ps
#define v_min _mm256_min_ps
#define v_max _mm256_max_ps
#define v_fma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define v_abs(a) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), (a))

#include "simd/template.h"
