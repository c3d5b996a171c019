/* drsn_ctx_run allocates nothing: every allocation function is wrapped
 * (-Wl,--wrap=..., see meson.build) and counted around the run calls, on
 * every SIMD path. The same counter must see the allocations of load and
 * ctx_create, which proves the wrapping works. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "common/alloc_count.h"
#include "drsn/model.h"
#include "drsn/simd.h"
#include "engine/fixture.h"

static void test_run_never_allocates(void **state)
{
	(void)state;
	static const struct fx_arch archs[] = {
		{"cw", 40, 98, 32, 3, 1, 6, {{32, 3, 1}, {32, 3, 1}, {64, 3, 2}, {64, 3, 1}, {96, 3, 2}, {96, 3, 1}}, "zero_pad", 12, 0, 0},
		{"cs", 13, 37, 9, 5, 2, 3, {{9, 5, 1}, {20, 3, 2}, {27, 7, 3}}, "projection", 5, 0, 1},   /* pool "attention" */
		{"resnet", 13, 37, 9, 3, 1, 2, {{9, 3, 1}, {20, 3, 2}}, "zero_pad", 5, 1, 0},   /* input "pcen" */
	};
	const char *paths[8];
	int n_paths = drsn_simd_available(paths, 8);
	for (int ai = 0; ai < (int)(sizeof archs / sizeof archs[0]); ai++) {
		struct fx_model *fx = malloc(sizeof *fx);
		fx_init(fx, &archs[ai], 3);
		size_t len;
		unsigned char *buf = fx_serialize(fx, &len);
		drsn_model *m = NULL;
		drsn_ctx *c = NULL;

		drsn__alloc_count_start();
		assert_int_equal(drsn_model_load_memory(&m, buf, len, NULL), 0);
		assert_int_equal(drsn_ctx_create(&c, m, NULL), 0);
		assert_true(drsn__alloc_count_stop() > 0);   /* the wrapping sees the library's allocations */

		float *x = malloc((size_t)archs[ai].frames * archs[ai].bands * sizeof *x), probs[16];
		uint32_t s = 9;
		for (int i = 0; i < archs[ai].frames * archs[ai].bands; i++)
			x[i] = fx_uniform(&s, -5, 1);
		for (int p = 0; p < n_paths && p < 8; p++) {
			assert_int_equal(drsn_simd_select(paths[p]), 0);
			drsn_ctx_run(c, x, probs);   /* first call: lazy init anywhere must happen here, not later */
			drsn__alloc_count_start();
			for (int r = 0; r < 5; r++)
				assert_int_equal(drsn_ctx_run(c, x, r & 1 ? NULL : probs), 0);
			long n_alloc = drsn__alloc_count_stop();
			printf("arch %d, path %s: %ld allocations, %ld frees in 5 runs\n", ai, paths[p], n_alloc,
			       (long)drsn__frees);
			assert_int_equal(n_alloc, 0);
			assert_int_equal(drsn__frees, 0);
		}
		drsn_simd_select(NULL);
		free(x);
		free(buf);
		drsn_ctx_destroy(c);
		drsn_model_free(m);
		fx_free(fx);
		free(fx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_never_allocates),
	};
	return cmocka_run_group_tests_name("engine-alloc", tests, NULL, NULL);
}
