/* A program that embeds libdrsn and calls setlocale(LC_ALL, "") in a locale
 * whose decimal point is ',' (de_DE, fr_FR): the library's JSON still has
 * "20.5", reads back the same floats, and model metadata and drsnd's config
 * (drsnd.conf, --print-config) read "0.55" as 0.55. The locale comes from
 * Debian's `locales` (.ci/deps generates de_DE.UTF-8): missing, the test
 * fails under CI=true and is skipped (exit 77) elsewhere. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cnum.h"
#include "daemon/config.h"
#include "drsn/features.h"
#include "drsn/model.h"
#include "engine/fixture.h"

static const char *const comma_locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE.utf8", "fr_FR.utf8",
					     "de_DE", "fr_FR"};
static const char *comma_locale;

/* printf's %g in the process locale: proof that the locale is in force, so
 * each check below can fail */
static void assert_comma_in_force(void)
{
	char b[16];
	snprintf(b, sizeof b, "%g", 0.5);
	assert_string_equal(b, "0,5");
}

static void test_features_params_json_round_trip(void **state)
{
	(void)state;
	assert_comma_in_force();
	drsn_features_params p, q;
	drsn_features_params_default(&p);
	p.f_min = 20.5f;
	p.f_max = 7600.25f;
	p.log_offset = 0.001f;
	char *j = drsn_features_params_to_json(&p);
	assert_non_null(j);
	print_message("%s: drsn_features_params_to_json: %s\n", comma_locale, j);
	assert_null(strstr(j, "20,5"));
	assert_non_null(strstr(j, "20.5"));
	assert_non_null(strstr(j, "7600.25"));
	assert_non_null(strstr(j, "0.001"));
	/* valid JSON to any reader */
	cJSON *o = cJSON_Parse(j);
	assert_non_null(o);
	assert_true(cJSON_GetObjectItem(o, "f_min")->valuedouble == 20.5);
	assert_true(cJSON_GetObjectItem(o, "f_max")->valuedouble == 7600.25);
	cJSON_Delete(o);
	/* and back through the library: the same floats */
	drsn_features_params_default(&q);
	drsn_error e = {0};
	int rc = drsn_features_params_from_json(&q, j, strlen(j), &e);
	if (rc)
		print_message("%s\n", e.msg);
	assert_int_equal(rc, 0);
	assert_true(q.f_min == p.f_min);
	assert_true(q.f_max == p.f_max);
	assert_true(q.log_offset == p.log_offset);
	free(j);
	assert_comma_in_force();   /* the library left the locale as it found it */
}

/* Model metadata: the safetensors header's frontend JSON with fractions. */
static void test_model_metadata_floats(void **state)
{
	(void)state;
	assert_comma_in_force();
	static const struct fx_arch a = {"cw", 40, 98, 8, 3, 1, 1, {{8, 3, 1}}, "zero_pad", 8, 0, 0};
	struct fx_model *fx = malloc(sizeof *fx);
	assert_non_null(fx);
	fx_init(fx, &a, 7);
	fx_set(&fx->meta_frontend, "{\"sample_rate\":16000,\"win_length\":400,\"hop_length\":160,\"n_fft\":512,"
				   "\"n_mels\":40,\"f_min\":20.5,\"f_max\":7600.25,\"log_offset\":1e-06}");
	drsn_model *m = fx_load(fx);
	fx_free(fx);
	free(fx);
	assert_non_null(m);
	const drsn_features_params *p = drsn_model_features_params(m);
	assert_true(p->f_min == 20.5f);
	assert_true(p->f_max == 7600.25f);
	assert_true(p->log_offset == 1e-6f);
	drsn_model_free(m);
}

/* drsnd.conf's floats, and --print-config reading back the same. */
static void test_daemon_config_floats(void **state)
{
	(void)state;
	assert_comma_in_force();
	struct drsn__config c, c2;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors errs = {0};
	int rc = drsn__config_load_string(&c, "[detect]\nthreshold = 0.55\nvad_threshold_db = -42.5\n"
					      "[denoise]\nstrength = 12.25\n[thresholds]\nyes = 0.35\n",
					  "locale.conf", &errs);
	for (int i = 0; i < errs.n; i++)
		print_message("%s\n", errs.msg[i]);
	assert_int_equal(rc, 0);
	assert_true(c.threshold == 0.55f);
	assert_true(c.vad_threshold_db == -42.5f);
	assert_true(c.denoise_strength_db == 12.25f);
	assert_true(drsn__config_threshold(&c, "yes") == 0.35f);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	drsn__config_print(&c, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, "0.55"));
	assert_null(strstr(text, "0,55"));
	drsn__config_defaults(&c2);
	errs.n = 0;
	rc = drsn__config_load_string(&c2, text, "--print-config", &errs);
	for (int i = 0; i < errs.n; i++)
		print_message("%s\n", errs.msg[i]);
	assert_int_equal(rc, 0);
	assert_true(c2.threshold == c.threshold);
	assert_true(c2.vad_threshold_db == c.vad_threshold_db);
	assert_true(c2.denoise_strength_db == c.denoise_strength_db);
	assert_true(drsn__config_threshold(&c2, "yes") == 0.35f);
	free(text);
}

static void check_helpers(void)
{
	char b[DRSN__FLOAT_CHARS];
	drsn__snprintf_c(b, sizeof b, "%.2f", 0.93);
	assert_string_equal(b, "0.93");
	assert_string_equal(drsn__float_str_c(b, 0.025f), "0.025");
	assert_string_equal(drsn__float_str_c(b, 1e-6f), "1e-06");
	char *end;
	assert_true(drsn__strtof_c("0.025", &end) == 0.025f && *end == '\0');
	assert_true(drsn__strtod_c("-42.5x", &end) == -42.5 && *end == 'x');
	/* a ',' is not a decimal point to them */
	assert_true(drsn__strtof_c("0,5", &end) == 0.0f && *end == ',');
}

static void test_helpers(void **state)
{
	(void)state;
	assert_comma_in_force();
	check_helpers();
	assert_comma_in_force();
}

/* A thread of a program that uses the process ("C") locale but switched
 * itself to the comma locale with uselocale: the same. */
static void *thread_main(void *arg)
{
	int *ok = arg;
	locale_t l = newlocale(LC_ALL_MASK, comma_locale, (locale_t)0);
	if (!l)
		return NULL;
	locale_t old = uselocale(l);
	char b[16], c[DRSN__FLOAT_CHARS];
	snprintf(b, sizeof b, "%g", 0.5);
	drsn__float_str_c(c, 20.5f);
	*ok = !strcmp(b, "0,5") && !strcmp(c, "20.5") && drsn__strtof_c("0.25", NULL) == 0.25f;
	snprintf(b, sizeof b, "%g", 0.5);
	*ok = *ok && !strcmp(b, "0,5");   /* the thread's own locale back */
	uselocale(old);
	freelocale(l);
	return NULL;
}

static void test_thread_locale(void **state)
{
	(void)state;
	assert_non_null(setlocale(LC_ALL, "C"));
	int ok = 0;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, thread_main, &ok), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(ok);
	assert_non_null(setlocale(LC_ALL, comma_locale));
}

int main(void)
{
	for (size_t i = 0; i < sizeof comma_locales / sizeof comma_locales[0] && !comma_locale; i++)
		if (setlocale(LC_ALL, comma_locales[i]) && !strcmp(localeconv()->decimal_point, ","))
			comma_locale = comma_locales[i];
	if (!comma_locale) {
		const char *ci = getenv("CI");
		int in_ci = ci && !strcmp(ci, "true");
		fprintf(stderr, "locale: no locale with a decimal comma (de_DE.UTF-8, fr_FR.UTF-8) on this machine: "
			"install Debian's locales and generate one (.ci/deps does; or `localedef -i de_DE -f UTF-8 "
			"de_DE.UTF-8`)%s\n", in_ci ? "; CI=true: a failure" : ": skipped");
		return in_ci ? 1 : 77;
	}
	printf("locale: LC_ALL=%s (decimal point ',')\n", comma_locale);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features_params_json_round_trip),
		cmocka_unit_test(test_model_metadata_floats),
		cmocka_unit_test(test_daemon_config_floats),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_thread_locale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
