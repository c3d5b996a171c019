/*
 * The per-instruction-set kernel tables, each defined by its own static
 * library (scalar.c, sse2.c, avx2.c, neon.c; see meson.build). Only
 * dispatch.c and the tests should need these names: everything else calls
 * drsn__kernels_get().
 */
#ifndef DRSN_SRC_SIMD_TABLES_H
#define DRSN_SRC_SIMD_TABLES_H

#include "simd/kernels.h"

extern const struct drsn__kernels drsn__kernels_scalar;
extern const struct drsn__kernels drsn__kernels_sse2;   /* x86-64, -msse2 */
extern const struct drsn__kernels drsn__kernels_avx2;   /* x86-64, -mavx2 -mfma */
extern const struct drsn__kernels drsn__kernels_neon;   /* aarch64; 32-bit ARM, -mfpu=neon */

/*
 * The choice drsn__kernels_get() makes at first use, as a pure function:
 * env is the value of DRSN_SIMD (NULL or "" or "auto" = the best path the
 * CPU supports). An unknown or unavailable name prints a warning on stderr
 * (if warn) and falls back to the best path.
 */
const struct drsn__kernels *drsn__kernels_choose(const char *env, int warn);

#if defined(__arm__)
/*
 * 32-bit ARM: whether AT_HWCAP bits say NEON (HWCAP_NEON), and, for tests,
 * the bits dispatch should see instead of getauxval(AT_HWCAP) from now on
 * (nonzero; 0: the real ones again). The path in use does not change until the next
 * drsn_simd_select().
 */
int drsn__simd_arm_has_neon(unsigned long hwcap);
void drsn__simd_set_hwcap(unsigned long hwcap);
#endif

#endif
