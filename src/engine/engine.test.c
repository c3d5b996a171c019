/* The engine against an independent by-the-book reference (fixture.c: torch
 * layouts, no BN folding, double precision) on every SIMD path this machine
 * has, plus getters and softmax. (Threads: engine_threads.test.c.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drsn/model.h"
#include "drsn/simd.h"
#include "engine/fixture.h"

static const struct fx_arch archs[] = {
	/* the shipped default size (train/drsn/model.py "default") */
	{"cw", 40, 98, 32, 3, 1, 6, {{32, 3, 1}, {32, 3, 1}, {64, 3, 2}, {64, 3, 1}, {96, 3, 2}, {96, 3, 1}}, "zero_pad", 12, 0, 0},
	{"cs", 40, 98, 32, 3, 1, 6, {{32, 3, 1}, {32, 3, 1}, {64, 3, 2}, {64, 3, 1}, {96, 3, 2}, {96, 3, 1}}, "zero_pad", 12, 0, 0},
	{"resnet", 40, 98, 32, 3, 1, 6, {{32, 3, 1}, {32, 3, 1}, {64, 3, 2}, {64, 3, 1}, {96, 3, 2}, {96, 3, 1}}, "zero_pad", 12, 0, 0},
	/* odd channel growth, k=5, odd frame counts, strided stem */
	{"cw", 13, 37, 9, 5, 2, 3, {{9, 5, 1}, {20, 3, 2}, {27, 7, 3}}, "zero_pad", 5, 0, 0},
	{"cs", 13, 37, 9, 1, 1, 3, {{9, 5, 1}, {20, 3, 2}, {27, 7, 3}}, "zero_pad", 5, 0, 0},
	{"cw", 13, 37, 9, 5, 1, 3, {{9, 5, 1}, {20, 3, 2}, {27, 1, 1}}, "projection", 5, 0, 0},
	{"resnet", 7, 5, 3, 3, 1, 2, {{3, 3, 2}, {4, 3, 2}}, "projection", 2, 0, 0},
	/* no units at all; one frame */
	{"cw", 8, 1, 6, 3, 1, 0, {{0}}, "zero_pad", 3, 0, 0},
	/* input "pcen": the default size, and a strided stem with odd shapes */
	{"cw", 40, 98, 32, 3, 1, 6, {{32, 3, 1}, {32, 3, 1}, {64, 3, 2}, {64, 3, 1}, {96, 3, 2}, {96, 3, 1}}, "zero_pad", 12, 1, 0},
	{"cs", 13, 37, 9, 5, 2, 3, {{9, 5, 1}, {20, 3, 2}, {27, 7, 3}}, "zero_pad", 5, 1, 0},
	/* pool "attention": the default size, odd shapes with PCEN and projection, one frame */
	{"cw", 40, 98, 32, 3, 1, 6, {{32, 3, 1}, {32, 3, 1}, {64, 3, 2}, {64, 3, 1}, {96, 3, 2}, {96, 3, 1}}, "zero_pad", 12, 0, 1},
	{"resnet", 13, 37, 9, 5, 2, 3, {{9, 5, 1}, {20, 3, 2}, {27, 7, 3}}, "projection", 5, 1, 1},
	{"cs", 8, 1, 6, 3, 1, 0, {{0}}, "zero_pad", 3, 0, 1},
};
#define N_ARCHS (int)(sizeof archs / sizeof archs[0])

static drsn_model *load_fixture(const struct fx_model *fx)
{
	drsn_model *m = fx_load(fx);
	assert_non_null(m);
	return m;
}

static float *random_input(const struct fx_arch *a, uint32_t seed)
{
	float *x = malloc((size_t)a->frames * a->bands * sizeof *x);
	float off = fx_uniform(&seed, -8, 2), sc = fx_uniform(&seed, 0.5f, 3);
	for (int i = 0; i < a->frames * a->bands; i++)
		x[i] = off + sc * fx_uniform(&seed, -1.7f, 1.7f);
	return x;
}

static void test_reference_every_path(void **state)
{
	(void)state;
	const char *paths[8];
	int n_paths = drsn_simd_available(paths, 8);
	assert_true(n_paths >= 1);
	double worst = 0;
	for (int ai = 0; ai < N_ARCHS; ai++) {
		struct fx_model *fx = malloc(sizeof *fx);
		fx_init(fx, &archs[ai], 100 + ai);
		drsn_model *m = load_fixture(fx);
		drsn_ctx *c = NULL;
		assert_int_equal(drsn_ctx_create(&c, m, NULL), 0);
		double ref[64];
		for (int w = 0; w < 2; w++) {
			float *x = random_input(&archs[ai], 7 * ai + w);
			fx_forward(fx, x, ref);
			for (int p = 0; p < n_paths && p < 8; p++) {
				assert_int_equal(drsn_simd_select(paths[p]), 0);
				assert_int_equal(drsn_ctx_run(c, x, NULL), 0);
				const float *l = drsn_ctx_logits(c);
				for (int k = 0; k < archs[ai].classes; k++) {
					double e = fabs(l[k] - ref[k]) / fmax(1.0, fabs(ref[k]));
					worst = fmax(worst, e);
					if (e > 1e-4)
						fail_msg("arch %d (%s) window %d path %s: logit %d = %.7g, reference %.7g",
							 ai, archs[ai].variant, w, paths[p], k, l[k], ref[k]);
				}
			}
			free(x);
		}
		drsn_simd_select(NULL);
		drsn_ctx_destroy(c);
		drsn_model_free(m);
		fx_free(fx);
		free(fx);
	}
	printf("engine vs reference: %d archs x %d SIMD paths (", N_ARCHS, n_paths);
	for (int p = 0; p < n_paths && p < 8; p++)
		printf("%s%s", p ? " " : "", paths[p]);
	printf("), worst relative logit error %.3g\n", worst);
}

static void test_getters_and_softmax(void **state)
{
	(void)state;
	struct fx_model *fx = malloc(sizeof *fx);
	fx_init(fx, &archs[0], 1);
	drsn_model *m = load_fixture(fx);
	/* the same figures train/drsn/model.py prints for default/cw */
	assert_int_equal(drsn_model_n_params(m), 222188);
	assert_int_equal(drsn_model_macs(m), 6280832);
	assert_int_equal(drsn_model_n_labels(m), 12);
	assert_int_equal(drsn_model_frames(m), 98);
	assert_int_equal(drsn_model_bands(m), 40);
	assert_string_equal(drsn_model_variant(m), "cw");
	assert_string_equal(drsn_model_label(m, 3), "word3");
	assert_null(drsn_model_label(m, 12));
	assert_null(drsn_model_label(m, -1));
	assert_int_equal(drsn_model_features_params(m)->n_mels, 40);
	assert_int_equal(drsn_model_features_params(m)->sample_rate, 16000);
	assert_string_equal(drsn_model_metadata(m, "format_version"), "1");
	assert_non_null(strstr(drsn_model_metadata(m, "provenance"), "test fixture"));
	assert_null(drsn_model_metadata(m, "nope"));

	drsn_ctx *c = NULL;
	assert_int_equal(drsn_ctx_create(&c, m, NULL), 0);
	/* pool "attention" adds a score per channel and a bias, and t_last x c_last MACs */
	struct fx_model *fa = malloc(sizeof *fa);
	fx_init(fa, &archs[N_ARCHS - 3], 1);
	drsn_model *ma = load_fixture(fa);
	assert_int_equal(drsn_model_n_params(ma), 222188 + 96 + 1);
	assert_int_equal(drsn_model_macs(ma), 6280832 + 25 * 96);
	drsn_model_free(ma);
	fx_free(fa);
	free(fa);

	float *x = random_input(&archs[0], 5), probs[12];
	assert_int_equal(drsn_ctx_run(c, x, probs), 0);
	const float *l = drsn_ctx_logits(c);
	double s = 0;
	int am = 0, pm = 0;
	for (int i = 0; i < 12; i++) {
		s += probs[i];
		am = l[i] > l[am] ? i : am;
		pm = probs[i] > probs[pm] ? i : pm;
		if (i)
			assert_float_equal(probs[i] / probs[0], exp(l[i] - l[0]), 1e-4 * exp(l[i] - l[0]));
	}
	assert_float_equal(s, 1.0, 1e-5);
	assert_int_equal(am, pm);
	/* bad input */
	x[17] = NAN;
	assert_int_equal(drsn_ctx_run(c, x, probs), -EINVAL);
	assert_int_equal(drsn_ctx_run(c, NULL, probs), -EINVAL);
	assert_int_equal(drsn_ctx_run(NULL, x, probs), -EINVAL);
	/* finite features that overflow float32 in the network: an error, not
	 * NaN probabilities with 0 (it returned 0 and NaNs) */
	for (int i = 0; i < 98 * 40; i++)
		x[i] = i % 2 ? FLT_MAX : -FLT_MAX;
	for (int i = 0; i < 12; i++)
		probs[i] = -1.0f;
	assert_int_equal(drsn_ctx_run(c, x, probs), -ERANGE);
	for (int i = 0; i < 12; i++)
		assert_true(probs[i] == -1.0f);
	free(x);
	drsn_ctx_destroy(c);
	drsn_model_free(m);
	fx_free(fx);
	free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_every_path),
		cmocka_unit_test(test_getters_and_softmax),
	};
	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
