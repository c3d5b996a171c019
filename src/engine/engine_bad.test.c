/* The loader against a corpus of broken model files: each must fail with a
 * clear message naming the field or tensor at fault (checked here), and
 * never crash (run this under ASan: the buffers are exact-size). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drsn/model.h"
#include "engine/fixture.h"

static const struct fx_arch def_arch = {
	"cw", 40, 98, 32, 3, 1, 6, {{32, 3, 1}, {32, 3, 1}, {64, 3, 2}, {64, 3, 1}, {96, 3, 2}, {96, 3, 1}},
	"zero_pad", 12, 0, 0};
static const struct fx_arch tiny_arch = {"cs", 6, 9, 4, 3, 1, 2, {{4, 3, 1}, {7, 3, 2}}, "projection", 3, 0, 0};

/* ---- mutations of the fixture before serialising ---------------------- */

static void m_missing(struct fx_model *m) { fx_remove(m, "units.2.conv1.weight"); }
static void m_shape(struct fx_model *m)
{
	struct fx_tensor *t = fx_find(m, "units.2.conv1.weight");   /* [64,32,3] -> [32,64,3] */
	t->shape[0] = 32;
	t->shape[1] = 64;
}
static void m_rank(struct fx_model *m)
{
	struct fx_tensor *t = fx_find(m, "fc.weight");              /* [12,96] -> [1152] */
	t->ndim = 1;
	t->shape[0] = 12 * 96;
}
static void m_nan(struct fx_model *m) { fx_find(m, "units.3.bn2.weight")->data[5] = NAN; }
static void m_inf(struct fx_model *m) { fx_find(m, "stem.weight")->data[100] = -INFINITY; }
static void m_negvar(struct fx_model *m) { fx_find(m, "units.0.bn1.running_var")->data[2] = -1; }
static void m_fold_overflow(struct fx_model *m)
{
	fx_find(m, "units.1.bn2.weight")->data[0] = 3e38f;
	fx_find(m, "units.1.bn2.running_var")->data[0] = 0;
}
static void m_overlap(struct fx_model *m)
{
	struct fx_tensor *a = fx_find(m, "bn.weight"), *b = fx_find(m, "bn.bias");
	int64_t pos = 0;
	for (struct fx_tensor *t = m->t; t < a; t++)
		pos += 4 * t->numel;
	a->off[0] = b->off[0] = pos;
	a->off[1] = b->off[1] = pos + 4 * a->numel;
}
static void m_offsets_size(struct fx_model *m)
{
	struct fx_tensor *t = m->t;            /* stem.weight: first in the data */
	t->off[0] = 0;
	t->off[1] = 4;
}
static void m_f16(struct fx_model *m) { fx_find(m, "fc.bias")->dtype = "F16"; }
static void m_extra(struct fx_model *m)
{
	struct fx_tensor *t = &m->t[m->n++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "extra.weight");
	t->ndim = 1;
	t->shape[0] = t->numel = 2;
	t->data = calloc(2, sizeof(float));
	t->off[0] = t->off[1] = -1;
}
static void m_dup(struct fx_model *m) { snprintf(fx_find(m, "bn.bias")->name, 64, "bn.weight"); }
static void m_labels_count(struct fx_model *m)
{
	fx_set(&m->meta_labels, "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\"]");
}
static void m_labels_type(struct fx_model *m) { fx_set(&m->meta_labels, "{\"a\":1}"); }
/* nested JSON with bytes after it (cJSON_Parse stopped at the first value) */
static void m_labels_trailing(struct fx_model *m)
{
	fx_set(&m->meta_labels, "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\"] [\"x\"]");
}
static void m_labels_repeat(struct fx_model *m)
{
	fx_set(&m->meta_labels, "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"c\",\"k\",\"l\"]");
}
static void m_labels_empty(struct fx_model *m)
{
	fx_set(&m->meta_labels, "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"\",\"i\",\"j\",\"k\",\"l\"]");
}
/* a line break in a label would split drsnd's log lines and --print-config's
 * [thresholds]; bytes that are not UTF-8 would make every JSON line that
 * carries the label (detections, hello, drsn info --json) invalid */
static void m_labels_ctrl(struct fx_model *m)
{
	fx_set(&m->meta_labels, "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"line\\nbreak\",\"l\"]");
}
static void m_labels_utf8(struct fx_model *m)
{
	fx_set(&m->meta_labels, "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"bad\xff\"]");
}
static void m_no_arch(struct fx_model *m) { fx_set(&m->meta_arch, NULL); }
static void m_no_frontend(struct fx_model *m) { fx_set(&m->meta_frontend, NULL); }
static void m_version(struct fx_model *m) { fx_set(&m->meta_version, "2"); }
static void m_format(struct fx_model *m) { fx_set(&m->meta_format, "onnx"); }

/* Replace the first `from` in the architecture JSON. */
static void arch_edit(struct fx_model *m, const char *from, const char *to)
{
	char buf[4096];
	char *p = strstr(m->meta_arch, from);
	assert_non_null(p);
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - m->meta_arch), m->meta_arch, to, p + strlen(from));
	fx_set(&m->meta_arch, buf);
}
static void m_even_kernel(struct fx_model *m)
{
	arch_edit(m, "{\"channels\":32,\"kernel\":3,\"stride\":1},{\"channels\":64",
		  "{\"channels\":32,\"kernel\":4,\"stride\":1},{\"channels\":64");
}
static void m_absurd_channels(struct fx_model *m)
{
	arch_edit(m, "\"units\":[{\"channels\":32", "\"units\":[{\"channels\":100000");
}
static void m_absurd_frames(struct fx_model *m) { arch_edit(m, "\"frames\":98", "\"frames\":1e9"); }
static void m_frac_stride(struct fx_model *m) { arch_edit(m, "\"stride\":2", "\"stride\":1.5"); }
static void m_shrink(struct fx_model *m)
{
	arch_edit(m, "{\"channels\":96,\"kernel\":3,\"stride\":1}]", "{\"channels\":90,\"kernel\":3,\"stride\":1}]");
}
static void m_variant(struct fx_model *m) { arch_edit(m, "\"variant\":\"cw\"", "\"variant\":\"se\""); }
static void m_arch_key(struct fx_model *m) { arch_edit(m, "\"bn_eps\"", "\"bn_epsilon\""); }
static void m_arch_json(struct fx_model *m) { arch_edit(m, "\"classes\":12}", "\"classes\":12"); }
static void m_arch_trailing(struct fx_model *m) { arch_edit(m, "\"classes\":12}", "\"classes\":12} {\"classes\":3}"); }
static void m_pcen_untensored(struct fx_model *m) { arch_edit(m, "\"classes\":12}", "\"classes\":12,\"input\":\"pcen\"}"); }
static void m_input(struct fx_model *m) { arch_edit(m, "\"classes\":12}", "\"classes\":12,\"input\":\"mfcc\"}"); }
static void m_input_type(struct fx_model *m) { arch_edit(m, "\"classes\":12}", "\"classes\":12,\"input\":1}"); }
static void m_pool_untensored(struct fx_model *m) { arch_edit(m, "\"classes\":12}", "\"classes\":12,\"pool\":\"attention\"}"); }
static void m_pool(struct fx_model *m) { arch_edit(m, "\"classes\":12}", "\"classes\":12,\"pool\":\"max\"}"); }
static void m_pool_type(struct fx_model *m) { arch_edit(m, "\"classes\":12}", "\"classes\":12,\"pool\":[]}"); }
static void m_eps(struct fx_model *m) { arch_edit(m, "\"bn_eps\":1e-05", "\"bn_eps\":-1"); }
static void m_many_units(struct fx_model *m)
{
	char u[4096] = "\"units\":[";
	for (int i = 0; i < 65; i++)
		strcat(u, "{\"channels\":32,\"kernel\":3,\"stride\":1},");
	arch_edit(m, "\"units\":[", u);
}
static void m_fe_mels(struct fx_model *m)
{
	fx_set(&m->meta_frontend, "{\"sample_rate\":16000,\"win_length\":400,\"hop_length\":160,\"n_fft\":512,"
				  "\"n_mels\":64,\"f_min\":20.0,\"f_max\":8000.0,\"log_offset\":1e-06}");
}
static void m_fe_rate(struct fx_model *m) { fx_set(&m->meta_frontend, "{\"sample_rate\":-5}"); }
static void m_fe_key(struct fx_model *m) { fx_set(&m->meta_frontend, "{\"hop_size\":160}"); }
static void m_fe_trailing(struct fx_model *m) { fx_set(&m->meta_frontend, "{\"hop_length\":160}x"); }

struct bad_case {
	const char *what;
	void (*mutate)(struct fx_model *m);
	int code;
	const char *expect;   /* substring of the message */
};

static const struct bad_case cases[] = {
	{"missing tensor", m_missing, -EBADMSG, "<memory>: missing tensor 'units.2.conv1.weight'"},
	{"wrong shape", m_shape, -EBADMSG, "tensor 'units.2.conv1.weight': shape [32,64,3] does not match the architecture's [64,32,3]"},
	{"wrong rank", m_rank, -EBADMSG, "tensor 'fc.weight': shape [1152] does not match the architecture's [12,96]"},
	{"NaN", m_nan, -EBADMSG, "tensor 'units.3.bn2.weight': element 5 is not finite (nan)"},
	{"Inf", m_inf, -EBADMSG, "tensor 'stem.weight': element 100 is not finite (-inf)"},
	{"negative variance", m_negvar, -EBADMSG, "tensor 'units.0.bn1.running_var': element 2 = -1 (a variance must be >= 0)"},
	{"BN fold overflow", m_fold_overflow, -EBADMSG, "<memory>: units.1.bn1/conv1/bn2: folding BatchNorm into the weights overflows float32"},
	{"overlapping offsets", m_overlap, -EBADMSG, "overlap tensor 'bn."},
	{"offsets vs shape", m_offsets_size, -EBADMSG, "tensor 'stem.weight': 4 bytes at data_offsets but shape [32,40,3] needs 15360"},
	{"F16", m_f16, -ENOTSUP, "tensor 'fc.bias': dtype 'F16' is not supported (F32 only)"},
	{"extra tensor", m_extra, -EBADMSG, "unexpected tensor 'extra.weight' (not part of the cw architecture)"},
	{"duplicate name", m_dup, -EBADMSG, "tensor 'bn.weight' appears twice"},
	{"label count", m_labels_count, -EBADMSG, "__metadata__.labels has 11 labels but the model has 12 classes"},
	{"labels type", m_labels_type, -EBADMSG, "__metadata__.labels must be a JSON array of strings"},
	{"labels trailing", m_labels_trailing, -EBADMSG, "__metadata__.labels must be a JSON array of strings"},
	{"arch trailing", m_arch_trailing, -EBADMSG, "__metadata__.architecture is not valid JSON"},
	{"empty label", m_labels_empty, -EBADMSG, "__metadata__.labels[7] must be a non-empty string"},
	{"control character in a label", m_labels_ctrl, -EBADMSG, "__metadata__.labels[10] holds a control character (byte 0x0a)"},
	{"label not UTF-8", m_labels_utf8, -EBADMSG, "__metadata__.labels[11] is not valid UTF-8 (byte 3)"},
	{"repeated label", m_labels_repeat, -EBADMSG, "__metadata__.labels[9] 'c' repeats labels[2]"},
	{"no architecture", m_no_arch, -EBADMSG, "__metadata__ has no 'architecture'"},
	{"no frontend", m_no_frontend, -EBADMSG, "__metadata__ has no 'frontend'"},
	{"format version", m_version, -ENOTSUP, "__metadata__.format_version '2' is not supported (this build reads 1)"},
	{"format", m_format, -ENOTSUP, "__metadata__.format is 'onnx', not 'drsn-model'"},
	{"even kernel", m_even_kernel, -EBADMSG, "architecture: units[1].kernel must be odd (got 4)"},
	{"absurd channels", m_absurd_channels, -EBADMSG, "architecture: units[0].channels = 100000 is out of range [1, 1024]"},
	{"absurd frames", m_absurd_frames, -EBADMSG, "architecture: frames = 1e+09 is out of range [1, 4096]"},
	{"fractional stride", m_frac_stride, -EBADMSG, "architecture: units[2].stride must be an integer"},
	{"shrinking unit", m_shrink, -EBADMSG, "architecture: units[5].channels = 90 is fewer than its input's 96"},
	{"variant", m_variant, -ENOTSUP, "architecture: variant 'se' is not one of cw, cs, resnet"},
	{"unknown arch key", m_arch_key, -EBADMSG, "architecture: unknown key 'bn_epsilon'"},
	{"arch JSON", m_arch_json, -EBADMSG, "__metadata__.architecture is not valid JSON"},
	{"pcen, no tensors", m_pcen_untensored, -EBADMSG, "missing tensor 'pcen.log_s'"},
	{"input", m_input, -ENOTSUP, "architecture: input 'mfcc' is not log or pcen"},
	{"input type", m_input_type, -EBADMSG, "architecture: input must be a string"},
	{"pool, no tensors", m_pool_untensored, -EBADMSG, "missing tensor 'att.weight'"},
	{"pool", m_pool, -ENOTSUP, "architecture: pool 'max' is not mean or attention"},
	{"pool type", m_pool_type, -EBADMSG, "architecture: pool must be a string"},
	{"bn_eps", m_eps, -EBADMSG, "architecture: bn_eps must be a number in (0, 1)"},
	{"too many units", m_many_units, -EBADMSG, "architecture: more than 64 units"},
	{"front end n_mels", m_fe_mels, -EBADMSG, "__metadata__.frontend.n_mels = 64 but the architecture has 40 bands"},
	{"front end value", m_fe_rate, -EINVAL, "__metadata__.frontend: "},
	{"front end key", m_fe_key, -EINVAL, "hop_size"},
	{"front end trailing", m_fe_trailing, -EINVAL, "trailing bytes"},
};

static void expect_fail(const unsigned char *buf, size_t len, int code, const char *expect, const char *what)
{
	unsigned char *copy = malloc(len ? len : 1);   /* exact size: ASan sees any over-read */
	memcpy(copy, buf, len);
	drsn_model *m = (drsn_model *)1;
	drsn_error err = {0};
	int rc = drsn_model_load_memory(&m, copy, len, &err);
	free(copy);
	printf("  %-20s -> %s\n", what, err.msg);
	if (rc == 0)
		fail_msg("%s: loaded a broken model", what);
	assert_null(m);
	assert_int_equal(err.code, rc);
	if (code)
		assert_int_equal(rc, code);
	if (!strstr(err.msg, expect))
		fail_msg("%s: message '%s' lacks '%s'", what, err.msg, expect);
}

static void test_broken_models(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fx_model *fx = malloc(sizeof *fx);
		fx_init(fx, &def_arch, 4);
		cases[i].mutate(fx);
		size_t len;
		unsigned char *buf = fx_serialize(fx, &len);
		expect_fail(buf, len, cases[i].code, cases[i].expect, cases[i].what);
		free(buf);
		fx_free(fx);
		free(fx);
	}
}

/* Serialise fx and load it: expect NULL, it loads; else it fails with -EBADMSG
 * and a message holding expect. Frees fx. */
static void expect_load(struct fx_model *fx, const char *expect, const char *what)
{
	size_t len;
	unsigned char *buf = fx_serialize(fx, &len);
	if (expect) {
		expect_fail(buf, len, -EBADMSG, expect, what);
	} else {
		drsn_model *m = NULL;
		drsn_error err = {0};
		assert_int_equal(drsn_model_load_memory(&m, buf, len, &err), 0);
		drsn_model_free(m);
	}
	free(buf);
	fx_free(fx);
	free(fx);
}

/* A PCEN model (input "pcen") loads; broken PCEN parameters name the fault. */
static void test_pcen_models(void **state)
{
	(void)state;
	struct fx_arch pa = def_arch;
	pa.pcen = 1;
	for (int i = 0; i < 4; i++) {
		struct fx_model *fx = malloc(sizeof *fx);
		fx_init(fx, &pa, 9);
		const char *what = "pcen ok", *expect = NULL;
		if (i == 1) {
			what = "pcen overflow";
			expect = "pcen: a parameter (exp of pcen.log_*) or delta^r overflows float32";
			fx_find(fx, "pcen.log_delta")->data[3] = 200.0f;
		} else if (i == 2) {
			what = "pcen missing";
			expect = "missing tensor 'pcen.log_r'";
			fx_remove(fx, "pcen.log_r");
		} else if (i == 3) {
			what = "pcen tensors, log input";
			expect = "unexpected tensor 'pcen.log_";
			arch_edit(fx, "\"input\":\"pcen\"", "\"input\":\"log\"");
		}
		expect_load(fx, expect, what);
	}
}

/* An attention-pooled model (pool "attention") loads; broken scores name the fault. */
static void test_attention_models(void **state)
{
	(void)state;
	struct fx_arch pa = def_arch;
	pa.attention = 1;
	static const struct {
		const char *what, *expect;
	} sub[] = {
		{"attention ok", NULL},
		{"att.weight shape", "tensor 'att.weight': shape [1,95,1] does not match the architecture's [1,96,1]"},
		{"att.bias missing", "missing tensor 'att.bias'"},
		{"att tensors, mean pool", "unexpected tensor 'att."},
		{"att.bias NaN", "tensor 'att.bias': element 0 is not finite (nan)"},
	};
	for (int i = 0; i < (int)(sizeof sub / sizeof sub[0]); i++) {
		struct fx_model *fx = malloc(sizeof *fx);
		fx_init(fx, &pa, 11);
		if (i == 1) {
			struct fx_tensor *t = fx_find(fx, "att.weight");
			t->shape[1] = 95;
			t->numel = 95;
		} else if (i == 2) {
			fx_remove(fx, "att.bias");
		} else if (i == 3) {
			arch_edit(fx, "\"pool\":\"attention\"", "\"pool\":\"mean\"");
		} else if (i == 4) {
			fx_find(fx, "att.bias")->data[0] = NAN;
		}
		expect_load(fx, sub[i].expect, sub[i].what);
	}
}

/* Edits of the raw bytes: header length, JSON text, data section size. */
static unsigned char *header_edit(const unsigned char *buf, size_t len, const char *from, const char *to,
				  size_t *out_len)
{
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | buf[i];
	char *h = strndup((const char *)buf + 8, hl);
	char *p = strstr(h, from);
	assert_non_null(p);
	size_t nl = hl - strlen(from) + strlen(to);
	*out_len = len - hl + nl;
	unsigned char *o = malloc(*out_len);
	for (int i = 0; i < 8; i++)
		o[i] = (unsigned char)((uint64_t)nl >> (8 * i));
	size_t pre = (size_t)(p - h);
	memcpy(o + 8, h, pre);
	memcpy(o + 8 + pre, to, strlen(to));
	memcpy(o + 8 + pre + strlen(to), p + strlen(from), hl - pre - strlen(from));
	memcpy(o + 8 + nl, buf + 8 + hl, len - 8 - hl);
	free(h);
	return o;
}

/* Edits of the header text: replace `from` by `to`; all must give -EBADMSG. */
static const struct header_case {
	const char *what, *from, *to, *expect;
} header_cases[] = {
	{"metadata number", "\"format_version\":\"1\"", "\"format_version\":1",
	 "__metadata__.format_version must be a string"},
	{"tensor key", "\"dtype\":\"F32\"", "\"dtype\":\"F32\",\"extra\":1",
	 "tensor 'stem.weight': unknown key 'extra'"},
	{"negative dim", "\"shape\":[", "\"shape\":[-1,", "shape[0] is not an integer"},
	{"huge offset", "\"data_offsets\":[0,", "\"data_offsets\":[1e300,",
	 "data_offsets must be integers in [0, 2^53] with begin <= end"},
	{"header array", "{\"__metadata__\"", "[{\"__metadata__\"", "header is not valid JSON"},
	{"metadata array", "\"__metadata__\":{", "\"__metadata__\":[{", "header is not valid JSON"},
	{"two JSON values", "{\"__metadata__\"", "[1] {\"__metadata__\"", "trailing bytes after the JSON object"},
	{"metadata type", "{\"__metadata__\":{", "{\"__metadata__\":7,\"x\":{",
	 "__metadata__ must be an object of strings"},
	{"duplicate metadata", "{\"__metadata__\":{", "{\"__metadata__\":{\"labels\":\"[]\",",
	 "__metadata__.labels appears twice"},
};

static void test_broken_bytes(void **state)
{
	(void)state;
	struct fx_model *fx = malloc(sizeof *fx);
	fx_init(fx, &def_arch, 5);
	size_t len, l2;
	unsigned char *buf = fx_serialize(fx, &len), *b2;

	expect_fail(buf, 0, -EBADMSG, "<memory>: 0 bytes is too short for a safetensors file", "empty");
	expect_fail(buf, 7, -EBADMSG, "7 bytes is too short", "7 bytes");
	b2 = malloc(len);
	memcpy(b2, buf, len);
	b2[5] = 0x01;
	expect_fail(b2, len, -EBADMSG, "exceeds the file size", "header length");
	/* an audio file as the model: named as not a model, not "truncated" */
	memcpy(b2, "RIFF\x24\x71\x0b\x00WAVEfmt ", 16);
	expect_fail(b2, len, -EBADMSG, "not a safetensors model (no 8-byte header length and JSON "
		    "header; the file starts with \"RIFF\")", "a WAV file");
	memcpy(b2, buf, len);
	b2[8] = 'x';
	expect_fail(b2, len, -EBADMSG, "header is not valid JSON (error near byte 0", "header JSON");
	memcpy(b2, buf, len);
	b2[100] = '\0';
	expect_fail(b2, len, -EBADMSG, "header contains a NUL byte", "NUL in header");
	free(b2);
	expect_fail(buf, len - 1, -EBADMSG, "run past the data section", "data truncated");
	b2 = calloc(len + 4, 1);
	memcpy(b2, buf, len);
	expect_fail(b2, len + 4, -EBADMSG, "data section has", "data too long");
	free(b2);

	for (size_t i = 0; i < sizeof header_cases / sizeof header_cases[0]; i++) {
		const struct header_case *h = &header_cases[i];
		b2 = header_edit(buf, len, h->from, h->to, &l2);
		expect_fail(b2, l2, -EBADMSG, h->expect, h->what);
		free(b2);
	}
	free(buf);
	fx_free(fx);
	free(fx);
}

/* Every prefix of a small model fails cleanly; single-byte changes anywhere
 * either load (then run) or fail with a message. */
static void test_truncation_and_flips(void **state)
{
	(void)state;
	struct fx_model *fx = malloc(sizeof *fx);
	fx_init(fx, &tiny_arch, 6);
	size_t len;
	unsigned char *buf = fx_serialize(fx, &len);
	drsn_model *m = NULL;
	assert_int_equal(drsn_model_load_memory(&m, buf, len, NULL), 0);
	drsn_model_free(m);
	/* every prefix through the first 256 bytes, then every 7th (also under
	 * qemu-user and ASan this stays within seconds) */
	size_t n_prefixes = 0;
	for (size_t n = 0; n < len; n += n < 256 ? 1 : 7, n_prefixes++) {
		unsigned char *p = malloc(n ? n : 1);
		memcpy(p, buf, n);
		drsn_error err = {0};
		m = NULL;
		int rc = drsn_model_load_memory(&m, p, n, &err);
		free(p);
		if (rc == 0 || m || strncmp(err.msg, "<memory>: ", 10))
			fail_msg("prefix of %zu/%zu bytes: rc %d, message '%s'", n, len, rc, err.msg);
	}
	uint32_t s = 77;
	int loaded = 0, failed = 0;
	float *x = calloc(9 * 6, sizeof *x);
	for (int it = 0; it < 500; it++) {
		unsigned char *p = malloc(len);
		memcpy(p, buf, len);
		size_t at = (size_t)fx_uniform(&s, 0, (float)len);
		at = at < len ? at : len - 1;
		p[at] ^= (unsigned char)(1u << (it % 8));
		drsn_error err = {0};
		m = NULL;
		if (drsn_model_load_memory(&m, p, len, &err) == 0) {
			drsn_ctx *c = NULL;
			assert_int_equal(drsn_ctx_create(&c, m, NULL), 0);
			drsn_ctx_run(c, x, NULL);
			drsn_ctx_destroy(c);
			drsn_model_free(m);
			loaded++;
		} else {
			assert_true(err.msg[0] != '\0');
			failed++;
		}
		free(p);
	}
	printf("  %zu truncations of %zu bytes rejected; 500 bit flips: %d loaded (weights changed), %d rejected\n",
	       n_prefixes, len, loaded, failed);
	free(x);
	free(buf);
	fx_free(fx);
	free(fx);
}

static void test_files(void **state)
{
	(void)state;
	drsn_model *m = NULL;
	drsn_error err = {0};
	assert_int_equal(drsn_model_load(&m, "/nonexistent/x.safetensors", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/x.safetensors: cannot open"));
	assert_int_equal(drsn_model_load(&m, "/", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "/: not a regular file"));
	/* A FIFO is refused at once. Opening it used to wait for a writer
	 * forever; the alarm turns such a hang into a failure (SIGALRM). */
	char dir[] = "/tmp/drsn-engine-fifo-XXXXXX", fifo[64];
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof fifo, "%s/model.safetensors", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(20);
	assert_int_equal(drsn_model_load(&m, fifo, &err), -EINVAL);
	alarm(0);
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_null(m);
	unlink(fifo);
	rmdir(dir);

	char path[] = "/tmp/drsn-engine-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(drsn_model_load(&m, path, &err), -EBADMSG);   /* empty file */
	assert_non_null(strstr(err.msg, path));
	struct fx_model *fx = malloc(sizeof *fx);
	fx_init(fx, &tiny_arch, 8);
	size_t len;
	unsigned char *buf = fx_serialize(fx, &len);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	assert_int_equal(drsn_model_load(&m, path, &err), 0);
	assert_int_equal(drsn_model_n_labels(m), 3);
	assert_string_equal(drsn_model_variant(m), "cs");
	drsn_model_free(m);
	assert_int_equal(truncate(path, (off_t)len - 3), 0);
	assert_int_equal(drsn_model_load(&m, path, &err), -EBADMSG);
	printf("  truncated file -> %s\n", err.msg);
	assert_non_null(strstr(err.msg, "truncated file?"));
	/* The model followed by a 4 GiB hole (sparse, nothing is read): with a
	 * 32-bit size_t only the first len bytes were mapped and it loaded. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	assert_int_equal(truncate(path, ((off_t)1 << 32) + (off_t)len), 0);
	int rc = drsn_model_load(&m, path, &err);
	printf("  model + 4 GiB -> %s\n", err.msg);
	assert_null(m);
	assert_int_equal(rc, sizeof(size_t) < 8 ? -EFBIG : -EBADMSG);
	assert_non_null(strstr(err.msg, sizeof(size_t) < 8 ? "too large" : "data section has"));
	unlink(path);
	free(buf);
	fx_free(fx);
	free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broken_models),
		cmocka_unit_test(test_pcen_models),
		cmocka_unit_test(test_attention_models),
		cmocka_unit_test(test_broken_bytes),
		cmocka_unit_test(test_truncation_and_flips),
		cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests_name("engine-bad-models", tests, NULL, NULL);
}
