/* Every public function of the headers in include/drsn/ called with NULL handles and
 * NULL required pointers (the contract in drsn/common.h): destroy/close
 * accept NULL, int-returning functions give -EINVAL and an error naming the
 * argument, getters give 0 / NULL. The last test reads the headers and fails
 * for a public function that has no case here, so a new one cannot be
 * added without one. Run from the source root (meson's workdir). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drsn/drsn.h"

#define MODEL "models/kws20-drsn-cw.safetensors"

/* rc is -EINVAL, and e (filled by the call) says so and names arg. */
#define assert_einval(rc, e, arg)                                                      \
	do {                                                                           \
		assert_int_equal((rc), -EINVAL);                                       \
		assert_int_equal((e).code, -EINVAL);                                   \
		if (!strstr((e).msg, arg " is NULL"))                                  \
			fail_msg("message \"%s\" does not name %s", (e).msg, arg);    \
	} while (0)

static drsn_error fresh(void)
{
	drsn_error e = {.code = 12345};
	strcpy(e.msg, "untouched");
	return e;
}

static void *junk = (void *)0x1;   /* what *out holds before a failed create */

/* fn(NULL, &v) zeroes all of v (filled with junk before); fn(NULL, NULL) is fine. */
#define ASSERT_FILLS_ZEROS(fn, type)                                                   \
	do {                                                                           \
		type v_;                                                               \
		memset(&v_, 0x5a, sizeof v_);                                          \
		fn(NULL, &v_);                                                         \
		for (size_t i_ = 0; i_ < sizeof v_; i_++)                              \
			if (((const unsigned char *)&v_)[i_])                          \
				fail_msg(#fn "(NULL, ...): byte %zu is not 0", i_);    \
		fn(NULL, NULL);                                                        \
	} while (0)

/* A getter that gives 0 (or NULL) for a NULL handle: its whole case. */
#define RETURNS_ZERO(fn) \
	static void null_##fn(void **s) { (void)s; assert_true(fn(NULL) == 0); }
#define RETURNS_NULL(fn) \
	static void null_##fn(void **s) { (void)s; assert_null(fn(NULL)); }

/* ---- common.h, simd.h ------------------------------------------------- */

static void null_drsn_version(void **s) { (void)s; assert_non_null(drsn_version()); }
static void null_drsn_version_number(void **s) { (void)s; assert_true(drsn_version_number() > 0); }
static void null_drsn_strerror(void **s) { (void)s; assert_non_null(drsn_strerror(-EINVAL)); }

static void null_drsn_fft_wisdom_load(void **s)
{
	(void)s;
	drsn_error e = fresh();
	assert_einval(drsn_fft_wisdom_load(NULL, &e), e, "path");
	assert_int_equal(drsn_fft_wisdom_load(NULL, NULL), -EINVAL);
}

static void null_drsn_fft_wisdom_save(void **s)
{
	(void)s;
	drsn_error e = fresh();
	assert_einval(drsn_fft_wisdom_save(NULL, &e), e, "path");
	assert_int_equal(drsn_fft_wisdom_save(NULL, NULL), -EINVAL);
}

static void null_drsn_simd_select(void **s)
{
	(void)s;
	assert_int_equal(drsn_simd_select(NULL), 0);   /* documented: NULL = "auto" */
}

static void null_drsn_simd_name(void **s) { (void)s; assert_non_null(drsn_simd_name()); }

static void null_drsn_simd_available(void **s)
{
	(void)s;
	int n = drsn_simd_available(NULL, 0);          /* count only */
	assert_true(n >= 1);
	assert_int_equal(drsn_simd_available(NULL, 4), -EINVAL);
}

/* ---- audio.h ---------------------------------------------------------- */

static void null_drsn_audio_opts_default(void **s) { (void)s; drsn_audio_opts_default(NULL); }

static void null_drsn_audio_open(void **s)
{
	(void)s;
	drsn_error e = fresh();
	drsn_audio *a = junk;
	assert_einval(drsn_audio_open(NULL, "x.wav", NULL, &e), e, "out");
	e = fresh();
	assert_einval(drsn_audio_open(&a, NULL, NULL, &e), e, "path");
	assert_null(a);
	assert_int_equal(drsn_audio_open(NULL, NULL, NULL, NULL), -EINVAL);
}

static void null_drsn_audio_open_fd(void **s)
{
	(void)s;
	drsn_error e = fresh();
	assert_einval(drsn_audio_open_fd(NULL, 0, "stdin", NULL, &e), e, "out");
	assert_int_equal(drsn_audio_open_fd(NULL, 0, NULL, NULL, NULL), -EINVAL);
}

static void null_drsn_audio_get_info(void **s)
{
	(void)s;
	ASSERT_FILLS_ZEROS(drsn_audio_get_info, drsn_audio_info);
}

static void null_drsn_audio_read(void **s)
{
	(void)s;
	drsn_error e = fresh();
	float buf[16];
	assert_einval(drsn_audio_read(NULL, buf, 16, &e), e, "a");
	assert_int_equal(drsn_audio_read(NULL, NULL, 16, NULL), -EINVAL);
}

RETURNS_ZERO(drsn_audio_bad_samples)

static void null_drsn_audio_parse_channels(void **s)
{
	(void)s;
	drsn_error e = fresh();
	uint64_t m = 5;
	assert_einval(drsn_audio_parse_channels("1", NULL, NULL, &e), e, "mask");
	e = fresh();
	assert_einval(drsn_audio_parse_channels(NULL, &m, NULL, &e), e, "text");
	assert_true(m == 0);
	assert_int_equal(drsn_audio_parse_channels(NULL, NULL, NULL, NULL), -EINVAL);
}

static void null_drsn_audio_select_channels(void **s)
{
	(void)s;
	drsn_error e = fresh();
	assert_einval(drsn_audio_select_channels(NULL, 1, &e), e, "a");
	assert_int_equal(drsn_audio_select_channels(NULL, 0, NULL), -EINVAL);
}
static void null_drsn_audio_close(void **s) { (void)s; drsn_audio_close(NULL); }

static void null_drsn_audio_read_all(void **s)
{
	(void)s;
	drsn_error e = fresh();
	float *x = junk;
	size_t n = 7;
	assert_einval(drsn_audio_read_all(NULL, NULL, &x, &n, &e), e, "path");
	assert_null(x);
	assert_int_equal(n, 0);
	e = fresh();
	assert_einval(drsn_audio_read_all("x.wav", NULL, NULL, &n, &e), e, "out");
	e = fresh();
	assert_einval(drsn_audio_read_all("x.wav", NULL, &x, NULL, &e), e, "n_frames");
	assert_int_equal(drsn_audio_read_all(NULL, NULL, NULL, NULL, NULL), -EINVAL);
}

static void null_drsn_resampler_create(void **s)
{
	(void)s;
	drsn_error e = fresh();
	assert_einval(drsn_resampler_create(NULL, 48000, 16000, 480, &e), e, "out");
	assert_int_equal(drsn_resampler_create(NULL, 48000, 16000, 480, NULL), -EINVAL);
}

RETURNS_ZERO(drsn_resampler_max_out)

static void null_drsn_resampler_process(void **s)
{
	(void)s;
	float in[4] = {0}, out[64];
	size_t n = 9;
	assert_int_equal(drsn_resampler_process(NULL, in, 4, out, 64, &n), -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(drsn_resampler_process(NULL, NULL, 0, NULL, 0, NULL), -EINVAL);
	drsn_resampler *r;
	assert_int_equal(drsn_resampler_create(&r, 48000, 16000, 4, NULL), 0);
	assert_int_equal(drsn_resampler_process(r, in, 4, out, 64, NULL), -EINVAL);
	assert_int_equal(drsn_resampler_process(r, NULL, 4, out, 64, &n), -EINVAL);
	assert_int_equal(drsn_resampler_process(r, in, 4, NULL, 64, &n), -EINVAL);
	drsn_resampler_destroy(r);
}

static void null_drsn_resampler_flush(void **s)
{
	(void)s;
	float out[64];
	size_t n = 9;
	assert_int_equal(drsn_resampler_flush(NULL, out, 64, &n), -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(drsn_resampler_flush(NULL, NULL, 0, NULL), -EINVAL);
}

static void null_drsn_resampler_reset(void **s)
{
	(void)s;
	assert_int_equal(drsn_resampler_reset(NULL), -EINVAL);
}
RETURNS_ZERO(drsn_resampler_latency)
static void null_drsn_resampler_destroy(void **s) { (void)s; drsn_resampler_destroy(NULL); }

/* ---- features.h ------------------------------------------------------- */

static void null_drsn_features_params_default(void **s)
{
	(void)s;
	drsn_features_params_default(NULL);
}

static void null_drsn_features_params_validate(void **s)
{
	(void)s;
	drsn_error e = fresh();
	assert_einval(drsn_features_params_validate(NULL, &e), e, "p");
	assert_int_equal(drsn_features_params_validate(NULL, NULL), -EINVAL);
}

RETURNS_NULL(drsn_features_params_to_json)

static void null_drsn_features_params_from_json(void **s)
{
	(void)s;
	drsn_error e = fresh();
	drsn_features_params p;
	drsn_features_params_default(&p);
	assert_einval(drsn_features_params_from_json(NULL, "{}", 2, &e), e, "p");
	e = fresh();
	assert_einval(drsn_features_params_from_json(&p, NULL, 2, &e), e, "json");
	assert_int_equal(drsn_features_params_from_json(NULL, NULL, 0, NULL), -EINVAL);
}

static void null_drsn_features_frames_for(void **s)
{
	(void)s;
	assert_int_equal(drsn_features_frames_for(NULL, 16000), 0);
}

static void null_drsn_features_create(void **s)
{
	(void)s;
	drsn_error e = fresh();
	drsn_features_params p;
	drsn_features *f = junk;
	drsn_features_params_default(&p);
	assert_einval(drsn_features_create(NULL, &p, &e), e, "out");
	e = fresh();
	assert_einval(drsn_features_create(&f, NULL, &e), e, "p");
	assert_null(f);
	assert_int_equal(drsn_features_create(NULL, NULL, NULL), -EINVAL);
}

static void null_drsn_features_destroy(void **s) { (void)s; drsn_features_destroy(NULL); }

static void on_mel(void *u, const float *mel, int64_t i) { (void)u, (void)mel, (void)i; }

static void null_drsn_features_push(void **s)
{
	(void)s;
	float x[4] = {0};
	assert_int_equal(drsn_features_push(NULL, x, 4, on_mel, NULL), -EINVAL);
	assert_int_equal(drsn_features_push(NULL, NULL, 0, NULL, NULL), -EINVAL);
}

static void null_drsn_features_push_into(void **s)
{
	(void)s;
	float x[4] = {0}, out[40];
	assert_int_equal(drsn_features_push_into(NULL, x, 4, out, 1), -EINVAL);
	drsn_features_params p;
	drsn_features *f;
	drsn_features_params_default(&p);
	assert_int_equal(drsn_features_create(&f, &p, NULL), 0);
	float *one_s = calloc(16000, sizeof *one_s);
	assert_int_equal(drsn_features_push_into(f, one_s, 16000, NULL, 98), -EINVAL);
	free(one_s);
	drsn_features_destroy(f);
}

static void null_drsn_features_frames_pending(void **s)
{
	(void)s;
	assert_int_equal(drsn_features_frames_pending(NULL, 400), 0);
}
static void null_drsn_features_reset(void **s) { (void)s; drsn_features_reset(NULL); }
RETURNS_NULL(drsn_features_get_params)
RETURNS_ZERO(drsn_features_n_mels)

/* ---- model.h ---------------------------------------------------------- */

static void null_drsn_model_load(void **s)
{
	(void)s;
	drsn_error e = fresh();
	drsn_model *m = junk;
	assert_einval(drsn_model_load(NULL, MODEL, &e), e, "out");
	e = fresh();
	assert_einval(drsn_model_load(&m, NULL, &e), e, "path");
	assert_null(m);
	assert_int_equal(drsn_model_load(NULL, NULL, NULL), -EINVAL);
}

static void null_drsn_model_load_memory(void **s)
{
	(void)s;
	drsn_error e = fresh();
	drsn_model *m = junk;
	assert_einval(drsn_model_load_memory(NULL, "x", 1, &e), e, "out");
	e = fresh();
	assert_einval(drsn_model_load_memory(&m, NULL, 100, &e), e, "buf");
	assert_null(m);
	assert_int_equal(drsn_model_load_memory(NULL, NULL, 100, NULL), -EINVAL);
}

static void null_drsn_model_free(void **s) { (void)s; drsn_model_free(NULL); }
static void null_drsn_default_model_path(void **s)
{
	(void)s;
	assert_non_null(drsn_default_model_path());
}
RETURNS_ZERO(drsn_model_n_labels)
static void null_drsn_model_label(void **s) { (void)s; assert_null(drsn_model_label(NULL, 0)); }
RETURNS_ZERO(drsn_model_frames)
RETURNS_ZERO(drsn_model_bands)
RETURNS_NULL(drsn_model_features_params)
RETURNS_NULL(drsn_model_variant)
RETURNS_ZERO(drsn_model_n_params)
RETURNS_ZERO(drsn_model_macs)

static void null_drsn_model_metadata(void **s)
{
	(void)s;
	assert_null(drsn_model_metadata(NULL, "labels"));
	assert_null(drsn_model_metadata(NULL, NULL));
}

static void null_drsn_ctx_create(void **s)
{
	(void)s;
	drsn_error e = fresh();
	drsn_ctx *c = junk;
	assert_einval(drsn_ctx_create(&c, NULL, &e), e, "m");
	assert_null(c);
	assert_int_equal(drsn_ctx_create(NULL, NULL, NULL), -EINVAL);
	drsn_model *m;
	assert_int_equal(drsn_model_load(&m, MODEL, NULL), 0);
	e = fresh();
	assert_einval(drsn_ctx_create(NULL, m, &e), e, "out");
	drsn_model_free(m);
}

static void null_drsn_ctx_destroy(void **s) { (void)s; drsn_ctx_destroy(NULL); }

static void null_drsn_ctx_run(void **s)
{
	(void)s;
	float features[98 * 40] = {0}, probs[64];
	assert_int_equal(drsn_ctx_run(NULL, features, probs), -EINVAL);
	assert_int_equal(drsn_ctx_run(NULL, NULL, NULL), -EINVAL);
}

RETURNS_NULL(drsn_ctx_logits)

/* ---- denoise.h -------------------------------------------------------- */

static void null_drsn_denoise_opts_default(void **s) { (void)s; drsn_denoise_opts_default(NULL); }

static void null_drsn_denoise_create(void **s)
{
	(void)s;
	drsn_error e = fresh();
	assert_einval(drsn_denoise_create(NULL, 16000, NULL, &e), e, "out");
	assert_int_equal(drsn_denoise_create(NULL, 16000, NULL, NULL), -EINVAL);
}

static void null_drsn_denoise_destroy(void **s) { (void)s; drsn_denoise_destroy(NULL); }
static void null_drsn_denoise_reset(void **s) { (void)s; drsn_denoise_reset(NULL); }

static void null_drsn_denoise_process(void **s)
{
	(void)s;
	float x[4] = {1, 2, 3, 4};
	drsn_denoise_process(NULL, x, 4, x);
	drsn_denoise_process(NULL, NULL, 4, NULL);
	drsn_denoise *d;
	assert_int_equal(drsn_denoise_create(&d, 16000, NULL, NULL), 0);
	drsn_denoise_process(d, x, 4, NULL);            /* nothing to write to: no-op */
	drsn_denoise_process(d, NULL, 4, x);
	assert_int_equal(drsn_denoise_frames(d), 0);
	drsn_denoise_destroy(d);
}

static void null_drsn_denoise_flush(void **s)
{
	(void)s;
	float x[4];
	drsn_denoise_flush(NULL, x);
	drsn_denoise_flush(NULL, NULL);
	drsn_denoise *d;
	assert_int_equal(drsn_denoise_create(&d, 16000, NULL, NULL), 0);
	drsn_denoise_flush(d, NULL);
	drsn_denoise_destroy(d);
}

RETURNS_ZERO(drsn_denoise_latency)
RETURNS_ZERO(drsn_denoise_hop)
RETURNS_ZERO(drsn_denoise_speech)
RETURNS_ZERO(drsn_denoise_frames)

/* ---- pipeline.h ------------------------------------------------------- */

static void null_drsn_pipeline_opts_default(void **s) { (void)s; drsn_pipeline_opts_default(NULL); }

static void null_drsn_pipeline_create(void **s)
{
	(void)s;
	drsn_error e = fresh();
	drsn_pipeline *p = junk;
	assert_einval(drsn_pipeline_create(&p, NULL, NULL, &e), e, "m");
	assert_null(p);
	assert_int_equal(drsn_pipeline_create(NULL, NULL, NULL, NULL), -EINVAL);
	drsn_model *m;
	assert_int_equal(drsn_model_load(&m, MODEL, NULL), 0);
	e = fresh();
	assert_einval(drsn_pipeline_create(NULL, m, NULL, &e), e, "out");
	drsn_model_free(m);
}

static void null_drsn_pipeline_destroy(void **s) { (void)s; drsn_pipeline_destroy(NULL); }

static void null_drsn_pipeline_push(void **s)
{
	(void)s;
	float x[4] = {0};
	assert_int_equal(drsn_pipeline_push(NULL, x, 4, NULL, NULL), -EINVAL);
	assert_int_equal(drsn_pipeline_push(NULL, NULL, 0, NULL, NULL), -EINVAL);
}

static void null_drsn_pipeline_finish(void **s)
{
	(void)s;
	assert_int_equal(drsn_pipeline_finish(NULL, NULL, NULL), -EINVAL);
}
static void null_drsn_pipeline_reset(void **s) { (void)s; drsn_pipeline_reset(NULL); }

static void null_drsn_pipeline_get_stats(void **s)
{
	(void)s;
	ASSERT_FILLS_ZEROS(drsn_pipeline_get_stats, drsn_pipeline_stats);
}

RETURNS_ZERO(drsn_pipeline_time)
RETURNS_ZERO(drsn_pipeline_window_s)
RETURNS_ZERO(drsn_pipeline_hop_s)

/* ---- the list, and the check that it covers the headers -------------------- */

#define CASE(fn) cmocka_unit_test(null_##fn)

static void every_public_function_has_a_case(void **s);

static const struct CMUnitTest tests[] = {
	CASE(drsn_version), CASE(drsn_version_number), CASE(drsn_strerror), CASE(drsn_fft_wisdom_load), CASE(drsn_fft_wisdom_save),
	CASE(drsn_simd_select), CASE(drsn_simd_name), CASE(drsn_simd_available),
	CASE(drsn_audio_opts_default), CASE(drsn_audio_open), CASE(drsn_audio_open_fd),
	CASE(drsn_audio_get_info), CASE(drsn_audio_read), CASE(drsn_audio_bad_samples),
	CASE(drsn_audio_parse_channels), CASE(drsn_audio_select_channels),
	CASE(drsn_audio_close),
	CASE(drsn_audio_read_all), CASE(drsn_resampler_create), CASE(drsn_resampler_max_out),
	CASE(drsn_resampler_process), CASE(drsn_resampler_flush), CASE(drsn_resampler_reset),
	CASE(drsn_resampler_latency), CASE(drsn_resampler_destroy),
	CASE(drsn_features_params_default), CASE(drsn_features_params_validate),
	CASE(drsn_features_params_to_json), CASE(drsn_features_params_from_json),
	CASE(drsn_features_frames_for), CASE(drsn_features_create), CASE(drsn_features_destroy),
	CASE(drsn_features_push), CASE(drsn_features_push_into), CASE(drsn_features_frames_pending),
	CASE(drsn_features_reset), CASE(drsn_features_get_params), CASE(drsn_features_n_mels),
	CASE(drsn_model_load), CASE(drsn_model_load_memory), CASE(drsn_model_free),
	CASE(drsn_default_model_path), CASE(drsn_model_n_labels), CASE(drsn_model_label),
	CASE(drsn_model_frames), CASE(drsn_model_bands), CASE(drsn_model_features_params),
	CASE(drsn_model_variant), CASE(drsn_model_n_params), CASE(drsn_model_macs),
	CASE(drsn_model_metadata), CASE(drsn_ctx_create), CASE(drsn_ctx_destroy), CASE(drsn_ctx_run),
	CASE(drsn_ctx_logits),
	CASE(drsn_denoise_opts_default), CASE(drsn_denoise_create), CASE(drsn_denoise_destroy),
	CASE(drsn_denoise_reset), CASE(drsn_denoise_process), CASE(drsn_denoise_flush),
	CASE(drsn_denoise_latency), CASE(drsn_denoise_hop), CASE(drsn_denoise_speech),
	CASE(drsn_denoise_frames),
	CASE(drsn_pipeline_opts_default), CASE(drsn_pipeline_create), CASE(drsn_pipeline_destroy),
	CASE(drsn_pipeline_push), CASE(drsn_pipeline_finish), CASE(drsn_pipeline_reset),
	CASE(drsn_pipeline_get_stats), CASE(drsn_pipeline_time), CASE(drsn_pipeline_window_s),
	CASE(drsn_pipeline_hop_s),
	cmocka_unit_test(every_public_function_has_a_case),
};

static int has_case(const char *fn)
{
	char name[600];   /* fn comes from a 512-byte line */
	snprintf(name, sizeof name, "null_%s", fn);
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
		if (!strcmp(tests[i].name, name))
			return 1;
	return 0;
}

/* Public functions are declared "DRSN_API <type> drsn_name(" at the start of
 * a line (the house style of every header); returns how many f declares. */
static int check_header(const char *path, char *missing, size_t n)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int found = 0;
	if (!f)
		fail_msg("%s: cannot open", path);
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "DRSN_API ", 9))
			continue;
		char *paren = strchr(line, '(');
		if (!paren)
			fail_msg("%s: no '(' on the line of \"%s\"", path, line);
		char *b = paren;
		while (b > line && (b[-1] == '_' || (b[-1] >= 'a' && b[-1] <= 'z') ||
				    (b[-1] >= '0' && b[-1] <= '9')))
			b--;
		*paren = '\0';
		if (strncmp(b, "drsn_", 5))
			fail_msg("%s: cannot find the function name in \"%s\"", path, line);
		found++;
		if (!has_case(b) && strlen(missing) + strlen(b) + 2 < n)
			strcat(strcat(missing, " "), b);
	}
	fclose(f);
	return found;
}

static void every_public_function_has_a_case(void **s)
{
	(void)s;
	const char *root = getenv("DRSN_SOURCE_ROOT");
	char dir[512], p[1024 + 256], missing[2048] = "";
	int found = 0, headers = 0;
	snprintf(dir, sizeof dir, "%s/include/drsn", root ? root : ".");
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("%s: cannot open", dir);
	for (struct dirent *de; (de = readdir(d));) {
		size_t l = strlen(de->d_name);
		if (l < 3 || strcmp(de->d_name + l - 2, ".h"))
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		found += check_header(p, missing, sizeof missing);
		headers++;
	}
	closedir(d);
	if (missing[0])
		fail_msg("public functions without a NULL-argument case here:%s", missing);
	/* The table (minus this test) and the headers hold the same functions. */
	assert_true(headers >= 8);
	assert_int_equal(found, (int)(sizeof tests / sizeof tests[0]) - 1);
}

int main(void)
{
	return cmocka_run_group_tests_name("api-null-args", tests, NULL, NULL);
}
