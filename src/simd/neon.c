/* NEON kernels (aarch64, where Advanced SIMD is baseline): 4 lanes with
 * fused multiply-add, 8x12 conv tiles (24 of the 32 q registers hold
 * accumulators); channel tails go through a small stack buffer. */
#include <arm_neon.h>
#include <string.h>

typedef float32x4_t V;
#define VW 4
#define MR 8
#define NV 3
#define TABLE drsn__kernels_neon
#define TABLE_NAME "neon"

static inline V load_part(const float *p, int n)
{
	float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
	memcpy(t, p, (size_t)n * sizeof *p);
	return vld1q_f32(t);
}

static inline void store_part(float *p, V v, int n)
{
	float t[4];
	vst1q_f32(t, v);
	memcpy(p, t, (size_t)n * sizeof *p);
}

#define v_zero() vdupq_n_f32(0.0f)
#define v_set1(f) vdupq_n_f32(f)
#define v_load(p) vld1q_f32(p)
#define v_store(p, v) vst1q_f32((p), (v))
#define v_load_n(p, n) load_part((p), (n))
#define v_store_n(p, v, n) store_part((p), (v), (n))
#define v_add vaddq_f32
#define v_sub vsubq_f32
#define v_mul vmulq_f32
#define v_max vmaxq_f32
#define v_fma(a, b, c) vfmaq_f32((c), (a), (b))
#define v_abs vabsq_f32
#define v_copysign(m, s) vbslq_f32(vdupq_n_u32(0x80000000u), (s), (m))

#include "simd/template.h"
