/*
 * Dispatch: the DRSN_SIMD override (read once, at first use), fallback on an
 * unknown or unavailable name, drsn_simd_select() and the list of paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drsn/simd.h"
#include "simd/tables.h"

#if defined(__arm__)
#include <sys/auxv.h>
#define NEON_BIT (1ul << 12) /* HWCAP_NEON in the Linux 32-bit ARM ABI */
#define VFP_BIT (1ul << 6)   /* HWCAP_VFP */
#endif

static const struct drsn__kernels *avail[8];
static int n_avail;

/* Set before the first drsn__kernels_get() in main(): the env override. */
static void test_env_override_read_once(void **state)
{
	(void)state;
	assert_string_equal(drsn__kernels_get()->name, "scalar");
	assert_string_equal(drsn_simd_name(), "scalar");
	setenv("DRSN_SIMD", "auto", 1); /* read once: changing it later has no effect */
	assert_string_equal(drsn__kernels_get()->name, "scalar");
}

static void test_available_list(void **state)
{
	(void)state;
	assert_true(n_avail >= 1);
	assert_ptr_equal(avail[0], &drsn__kernels_scalar);
	const char *names[8];
	assert_int_equal(drsn_simd_available(names, 8), n_avail);
	printf("paths available here:");
	for (int i = 0; i < n_avail; i++) {
		assert_string_equal(names[i], avail[i]->name);
		assert_ptr_equal(drsn__kernels_by_name(names[i]), avail[i]);
		assert_non_null(avail[i]->conv1d);
		assert_non_null(avail[i]->fc);
		assert_non_null(avail[i]->affine_relu);
		assert_non_null(avail[i]->mean_time);
		assert_non_null(avail[i]->shrink_add);
		printf(" %s", names[i]);
	}
	printf("\n");
	/* Asking for fewer still reports the full count. */
	assert_int_equal(drsn_simd_available(names, 1), n_avail);
#if defined(__x86_64__)
	assert_non_null(drsn__kernels_by_name("scalar"));
	assert_null(drsn__kernels_by_name("neon"));
#if DRSN_TEST_SIMD
	assert_non_null(drsn__kernels_by_name("sse2")); /* baseline on x86-64 */
#endif
#elif defined(__aarch64__)
	assert_null(drsn__kernels_by_name("avx2"));
#if DRSN_TEST_SIMD
	assert_non_null(drsn__kernels_by_name("neon")); /* baseline on aarch64 */
#endif
#elif defined(__arm__) && DRSN_TEST_ARM_NEON
	/* 32-bit ARM: NEON exactly when the kernel says the CPU has it */
	const int neon = (getauxval(AT_HWCAP) & NEON_BIT) != 0;
	printf("32-bit ARM: AT_HWCAP says %s\n", neon ? "NEON" : "no NEON");
	if (neon) {
		assert_non_null(drsn__kernels_by_name("neon"));
		assert_string_equal(avail[n_avail - 1]->name, "neon");
	} else {
		assert_null(drsn__kernels_by_name("neon"));
		assert_int_equal(n_avail, 1);
	}
#endif
}

#if defined(__arm__)
static void test_arm_hwcap_bit(void **state)
{
	(void)state;
	assert_true(drsn__simd_arm_has_neon(NEON_BIT));
	assert_true(drsn__simd_arm_has_neon(NEON_BIT | VFP_BIT));
	assert_false(drsn__simd_arm_has_neon(VFP_BIT));
	assert_false(drsn__simd_arm_has_neon(0));
}

/* An ARMv7 without NEON (HWCAP_NEON clear): scalar only, whatever is asked;
 * then the real bits again. Runs last: it changes the path in use. */
static void test_arm_without_neon(void **state)
{
	(void)state;
	const struct drsn__kernels *av[8];
	drsn__simd_set_hwcap(VFP_BIT);
	assert_int_equal(drsn__kernels_available(av, 8), 1);
	assert_ptr_equal(av[0], &drsn__kernels_scalar);
	assert_null(drsn__kernels_by_name("neon"));
	assert_ptr_equal(drsn__kernels_choose(NULL, 0), &drsn__kernels_scalar);
	assert_ptr_equal(drsn__kernels_choose("neon", 1), &drsn__kernels_scalar);
	assert_int_equal(drsn_simd_select("neon"), -ENOTSUP);
	setenv("DRSN_SIMD", "auto", 1);
	assert_int_equal(drsn_simd_select(NULL), 0);
	assert_string_equal(drsn_simd_name(), "scalar");
#if DRSN_TEST_ARM_NEON
	/* the same process with the NEON bit: the neon path */
	drsn__simd_set_hwcap(VFP_BIT | NEON_BIT);
	assert_int_equal(drsn__kernels_available(av, 8), 2);
	assert_ptr_equal(drsn__kernels_choose(NULL, 0), drsn__kernels_by_name("neon"));
	assert_int_equal(drsn_simd_select(NULL), 0);
	assert_string_equal(drsn_simd_name(), "neon");
#endif
	drsn__simd_set_hwcap(0);
	assert_int_equal(drsn__kernels_available(av, 8), n_avail);
}
#endif

static void test_choose(void **state)
{
	(void)state;
	const struct drsn__kernels *best = avail[n_avail - 1];
	assert_ptr_equal(drsn__kernels_choose(NULL, 0), best);
	assert_ptr_equal(drsn__kernels_choose("", 0), best);
	assert_ptr_equal(drsn__kernels_choose("auto", 0), best);
	assert_ptr_equal(drsn__kernels_choose("bogus", 0), best);
	assert_ptr_equal(drsn__kernels_choose("AVX2", 0), best); /* names are exact */
	for (int i = 0; i < n_avail; i++)
		assert_ptr_equal(drsn__kernels_choose(avail[i]->name, 0), avail[i]);
	/* A name another architecture has: warning on stderr, best path. */
#if defined(__aarch64__)
	assert_ptr_equal(drsn__kernels_choose("avx2", 1), best);
#else
	assert_ptr_equal(drsn__kernels_choose("neon", 1), best);
#endif
}

static void test_select(void **state)
{
	(void)state;
	assert_int_equal(drsn_simd_select("bogus"), -ENOTSUP);
	assert_int_equal(drsn_simd_select("scalar "), -ENOTSUP);
	for (int i = n_avail - 1; i >= 0; i--) {
		assert_int_equal(drsn_simd_select(avail[i]->name), 0);
		assert_ptr_equal(drsn__kernels_get(), avail[i]);
		assert_string_equal(drsn_simd_name(), avail[i]->name);
	}
	/* auto: CPU flags then DRSN_SIMD, which is now "auto" -> the best path. */
	assert_int_equal(drsn_simd_select(NULL), 0);
	assert_ptr_equal(drsn__kernels_get(), avail[n_avail - 1]);
	setenv("DRSN_SIMD", "scalar", 1);
	assert_int_equal(drsn_simd_select("auto"), 0);
	assert_string_equal(drsn_simd_name(), "scalar");
}

int main(void)
{
	/* Must happen before anything calls drsn__kernels_get(). */
	setenv("DRSN_SIMD", "scalar", 1);
	n_avail = drsn__kernels_available(avail, 8);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_override_read_once),
		cmocka_unit_test(test_available_list),
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_select),
#if defined(__arm__)
		cmocka_unit_test(test_arm_hwcap_bit),
		cmocka_unit_test(test_arm_without_neon),
#endif
	};
	return cmocka_run_group_tests_name("simd-dispatch", tests, NULL, NULL);
}
