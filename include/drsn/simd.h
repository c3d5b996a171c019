/*
 * drsn/simd.h - which instruction set the engine's kernels use.
 *
 * libdrsn carries one kernel table per instruction set it was built with:
 * "scalar" (plain C, everywhere), "sse2" and "avx2" (AVX2 + FMA) on x86-64,
 * "neon" on aarch64. At first use it picks the best one this CPU supports;
 * the environment variable DRSN_SIMD=scalar|sse2|avx2|neon overrides that
 * (an unavailable name prints a warning on stderr and falls back to the
 * best path). All paths give the same results to within 1e-5 relative.
 *
 * The choice is process-wide and thread-safe. Changing it while other
 * threads run inference is allowed (each kernel call uses one table), but
 * a benchmark or test is the usual reason to change it at all.
 */
#ifndef DRSN_SIMD_H
#define DRSN_SIMD_H

#include "drsn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Use the named path from now on: 0, or -ENOTSUP if this build or CPU does
 * not have it. NULL or "auto" goes back to the automatic choice (CPU flags,
 * then DRSN_SIMD). */
DRSN_API int drsn_simd_select(const char *name);

/* The name of the path in use ("scalar", "sse2", "avx2" or "neon"). */
DRSN_API const char *drsn_simd_name(void);

/* Fill names[0..max) with the paths usable here, scalar first, best last;
 * returns how many there are (which may exceed max). Static strings. names
 * may be NULL with max 0, to count. */
DRSN_API int drsn_simd_available(const char **names, int max);

#ifdef __cplusplus
}
#endif
#endif
