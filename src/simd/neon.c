/* NEON kernels: 4 lanes; channel tails go through a small stack buffer.
 *
 * aarch64: Advanced SIMD is baseline; fused multiply-add; 8x12 conv tiles
 * (24 of the 32 q registers hold accumulators).
 *
 * 32-bit ARM (armhf, ARMv7-A built with -mfpu=neon, see meson.build; used
 * only when the kernel reports HWCAP_NEON, dispatch.c): the intrinsics here
 * are all ARMv7 ones but for vfmaq_f32 (VFPv4, not on a Cortex-A8/A9), so
 * v_fma is vmlaq_f32, a multiply then an add, each rounded (as on SSE2).
 * ARMv7 NEON always flushes denormal inputs and results to zero, which the
 * scalar reference (VFP, no flush) does not. Where that changes more than
 * rounding (kernels.h: affine_relu and shrink_add are bit-exact; a denormal
 * times an infinity is NaN instead of an infinity, times 2^100 is 0 instead
 * of ~1e-10), the table below checks its inputs first and hands the call to
 * the scalar kernel (neon_arm32_guard.h). */
#include <arm_neon.h>

typedef float32x4_t V;
#define VW 4
#define v_zero() vdupq_n_f32(0.0f)
#define v_set1(f) vdupq_n_f32(f)
#define v_load(p) vld1q_f32(p)
#define v_store(p, v) vst1q_f32((p), (v))
#define v_add vaddq_f32
#define v_sub vsubq_f32
#define v_mul vmulq_f32
#define v_min vminq_f32
#define v_max vmaxq_f32
#define v_abs vabsq_f32

#if defined(__aarch64__)
#define MR 8
#define NV 3
#define TABLE drsn__kernels_neon
#define TABLE_NAME "neon"
#define v_fma(a, b, c) vfmaq_f32((c), (a), (b))
#include "simd/template.h"
#else
/* 16 q registers: 4x8 tiles, 8 accumulators + 2 weight vectors + the
 * broadcasts, no spill (gcc 12 -O2; 8x12 spills most of its accumulators
 * to the stack in the inner loop, 6x8 one) */
#define MR 4
#define NV 2
#define TABLE neon_flushing /* wrapped by neon_arm32_guard.h */
#define TABLE_LINKAGE static
#define TABLE_NAME "neon"
#define v_fma(a, b, c) vmlaq_f32((c), (a), (b))
#include "simd/template.h"
#include "simd/neon_arm32_guard.h"
#endif
