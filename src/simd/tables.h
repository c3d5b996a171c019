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
extern const struct drsn__kernels drsn__kernels_neon;   /* aarch64 */

/*
 * The choice drsn__kernels_get() makes at first use, as a pure function:
 * env is the value of DRSN_SIMD (NULL or "" or "auto" = the best path the
 * CPU supports). An unknown or unavailable name prints a warning on stderr
 * (if warn) and falls back to the best path.
 */
const struct drsn__kernels *drsn__kernels_choose(const char *env, int warn);

#endif
