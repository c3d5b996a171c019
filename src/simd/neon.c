/* NEON kernels (aarch64, where Advanced SIMD is baseline): 4 lanes with
 * fused multiply-add, 8x12 conv tiles (24 of the 32 q registers hold
 * accumulators); channel tails go through a small stack buffer. */
#include <arm_neon.h>

typedef float32x4_t V;
#define VW 4
#define MR 8
#define NV 3
#define TABLE drsn__kernels_neon
#define TABLE_NAME "neon"

#define v_zero() vdupq_n_f32(0.0f)
#define v_set1(f) vdupq_n_f32(f)
#define v_load(p) vld1q_f32(p)
#define v_store(p, v) vst1q_f32((p), (v))
#define v_add vaddq_f32
#define v_sub vsubq_f32
#define v_mul vmulq_f32
#define v_min vminq_f32
#define v_max vmaxq_f32
#define v_fma(a, b, c) vfmaq_f32((c), (a), (b))
#define v_abs vabsq_f32

#include "simd/template.h"
