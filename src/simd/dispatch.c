/*
 * Run-time choice of the kernel table. Which tables exist is decided by the
 * build (DRSN_SIMD_HAVE_<ISA> from meson.build); which of those run is
 * decided by the CPU (cpuid through __builtin_cpu_supports on x86, NEON is
 * baseline on aarch64, and on 32-bit ARM the kernel's HWCAP_NEON bit from
 * getauxval(AT_HWCAP): an ARMv7 without NEON, e.g. a Cortex-A9 of some
 * boards, gets scalar). The choice is made once, under pthread_once, and
 * kept in an atomic pointer so drsn_simd_select() may change it later.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drsn/simd.h"
#include "simd/tables.h"

#if defined(__arm__)
#include <sys/auxv.h>
#ifndef HWCAP_ARM_NEON
#define HWCAP_ARM_NEON (1u << 12) /* the Linux ABI's HWCAP_NEON on 32-bit ARM */
#endif

/* drsn__simd_set_hwcap(): what the tests make cpu_has() see; 0 = ask the
 * kernel. Read at every check, which happens at selection only. */
static _Atomic unsigned long hwcap_forced;

void drsn__simd_set_hwcap(unsigned long hwcap)
{
	atomic_store(&hwcap_forced, hwcap);
}

int drsn__simd_arm_has_neon(unsigned long hwcap)
{
	return (hwcap & HWCAP_ARM_NEON) != 0;
}

static int arm_neon(void)
{
	unsigned long hw = atomic_load(&hwcap_forced);
	return drsn__simd_arm_has_neon(hw ? hw : getauxval(AT_HWCAP));
}
#endif

/* Every table this build has, scalar first, best last. */
static const struct drsn__kernels *const built[] = {
	&drsn__kernels_scalar,
#if DRSN_SIMD_HAVE_SSE2
	&drsn__kernels_sse2,
#endif
#if DRSN_SIMD_HAVE_AVX2
	&drsn__kernels_avx2,
#endif
#if DRSN_SIMD_HAVE_NEON
	&drsn__kernels_neon,
#endif
};
#define N_BUILT ((int)(sizeof built / sizeof built[0]))

static int cpu_has(const struct drsn__kernels *k)
{
#if defined(__x86_64__) || defined(__i386__)
	if (!strcmp(k->name, "sse2"))
		return __builtin_cpu_supports("sse2");
	if (!strcmp(k->name, "avx2"))
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(__arm__)
	if (!strcmp(k->name, "neon"))
		return arm_neon();
#endif
	(void)k;
	return 1; /* scalar everywhere; NEON is part of the aarch64 baseline */
}

int drsn__kernels_available(const struct drsn__kernels **out, int max)
{
	int n = 0;
	for (int i = 0; i < N_BUILT && n < max; i++)
		if (cpu_has(built[i]))
			out[n++] = built[i];
	return n;
}

const struct drsn__kernels *drsn__kernels_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < N_BUILT; i++)
		if (!strcmp(built[i]->name, name))
			return cpu_has(built[i]) ? built[i] : NULL;
	return NULL;
}

static const struct drsn__kernels *best(void)
{
	for (int i = N_BUILT - 1; i > 0; i--)
		if (cpu_has(built[i]))
			return built[i];
	return &drsn__kernels_scalar;
}

const struct drsn__kernels *drsn__kernels_choose(const char *env, int warn)
{
	if (!env || !*env || !strcmp(env, "auto"))
		return best();
	const struct drsn__kernels *k = drsn__kernels_by_name(env);
	if (k)
		return k;
	k = best();
	if (warn) {
		char have[64] = "";
		const struct drsn__kernels *av[8];
		int n = drsn__kernels_available(av, 8);
		for (int i = 0; i < n; i++) {
			if (i)
				strncat(have, " ", sizeof have - strlen(have) - 1);
			strncat(have, av[i]->name, sizeof have - strlen(have) - 1);
		}
		fprintf(stderr, "drsn: warning: DRSN_SIMD=%s is not available in this build or CPU "
			"(have: %s); using %s\n", env, have, k->name);
	}
	return k;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic(const struct drsn__kernels *) current;

static void init(void)
{
	atomic_store(&current, drsn__kernels_choose(getenv("DRSN_SIMD"), 1));
}

const struct drsn__kernels *drsn__kernels_get(void)
{
	pthread_once(&once, init);
	return atomic_load_explicit(&current, memory_order_acquire);
}

DRSN_API int drsn_simd_select(const char *name)
{
	pthread_once(&once, init);
	const struct drsn__kernels *k;
	if (!name || !*name || !strcmp(name, "auto"))
		k = drsn__kernels_choose(getenv("DRSN_SIMD"), 1);
	else if (!(k = drsn__kernels_by_name(name)))
		return -ENOTSUP;
	atomic_store_explicit(&current, k, memory_order_release);
	return 0;
}

DRSN_API const char *drsn_simd_name(void)
{
	return drsn__kernels_get()->name;
}

DRSN_API int drsn_simd_available(const char **names, int max)
{
	const struct drsn__kernels *av[8];
	if (!names && max > 0)
		return -EINVAL;
	int n = drsn__kernels_available(av, 8);
	for (int i = 0; i < n && i < max; i++)
		names[i] = av[i]->name;
	return n;
}
