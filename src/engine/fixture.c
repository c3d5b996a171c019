/* Test-only model builder + by-the-book reference network (see fixture.h). */
#include "engine/fixture.h"

#include "drsn/model.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float fx_uniform(uint32_t *s, float lo, float hi)
{
	*s = *s * 1664525u + 1013904223u;
	return lo + (hi - lo) * (float)((*s >> 8) * (1.0 / 16777216.0));
}

static struct fx_tensor *add(struct fx_model *m, const char *name, int ndim, const int64_t *shape,
			     uint32_t *seed, float lo, float hi)
{
	struct fx_tensor *t = &m->t[m->n++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->ndim = ndim;
	t->numel = 1;
	for (int d = 0; d < ndim; d++) {
		t->shape[d] = shape[d];
		t->numel *= shape[d];
	}
	t->data = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
	for (int64_t i = 0; i < t->numel; i++)
		t->data[i] = fx_uniform(seed, lo, hi);
	t->off[0] = t->off[1] = -1;
	return t;
}

#define SH(...) ((const int64_t[]){__VA_ARGS__})

static void add_bn(struct fx_model *m, const char *p, int c, uint32_t *s)
{
	char n[64];
	snprintf(n, sizeof n, "%s.weight", p);
	add(m, n, 1, SH(c), s, 0.5f, 1.5f);
	snprintf(n, sizeof n, "%s.bias", p);
	add(m, n, 1, SH(c), s, -0.3f, 0.3f);
	snprintf(n, sizeof n, "%s.running_mean", p);
	add(m, n, 1, SH(c), s, -0.5f, 0.5f);
	snprintf(n, sizeof n, "%s.running_var", p);
	add(m, n, 1, SH(c), s, 0.5f, 1.5f);
}

void fx_set(char **field, const char *value)
{
	free(*field);
	*field = value ? strdup(value) : NULL;
}

void fx_init(struct fx_model *m, const struct fx_arch *a, uint32_t seed)
{
	uint32_t s = seed * 2654435761u + 1;
	char n[64];
	memset(m, 0, sizeof *m);
	m->arch = *a;
	int cw = !strcmp(a->variant, "cw"), res = !strcmp(a->variant, "resnet");
	int proj = !strcmp(a->shortcut, "projection");
	if (a->pcen) {   /* logs of s 0.006-0.1, alpha 0.7-1, delta 0.7-5.4, r 0.3-0.8 */
		add(m, "pcen.log_s", 1, SH(a->bands), &s, logf(0.006f), logf(0.1f));
		add(m, "pcen.log_alpha", 1, SH(a->bands), &s, logf(0.7f), 0.0f);
		add(m, "pcen.log_delta", 1, SH(a->bands), &s, logf(0.7f), logf(5.4f));
		add(m, "pcen.log_r", 1, SH(a->bands), &s, logf(0.3f), logf(0.8f));
	}
	float ws = 1.0f / sqrtf((float)(a->bands * a->k0));
	add(m, "stem.weight", 3, SH(a->c0, a->bands, a->k0), &s, -ws, ws);
	add(m, "stem.bias", 1, SH(a->c0), &s, -0.1f, 0.1f);
	int c = a->c0;
	for (int i = 0; i < a->n_units; i++) {
		int co = a->units[i][0], k = a->units[i][1], st = a->units[i][2];
		char p[48];
		snprintf(p, sizeof p, "units.%d.bn1", i);
		add_bn(m, p, c, &s);
		snprintf(n, sizeof n, "units.%d.conv1.weight", i);
		ws = 1.0f / sqrtf((float)(c * k));
		add(m, n, 3, SH(co, c, k), &s, -ws, ws);
		snprintf(p, sizeof p, "units.%d.bn2", i);
		add_bn(m, p, co, &s);
		snprintf(n, sizeof n, "units.%d.conv2.weight", i);
		ws = 1.0f / sqrtf((float)(co * k));
		add(m, n, 3, SH(co, co, k), &s, -ws, ws);
		if (!res) {
			ws = 1.0f / sqrtf((float)co);
			snprintf(n, sizeof n, "units.%d.shrink.fc1.weight", i);
			add(m, n, 2, SH(co, co), &s, -ws, ws);
			snprintf(n, sizeof n, "units.%d.shrink.fc1.bias", i);
			add(m, n, 1, SH(co), &s, -ws, ws);
			snprintf(p, sizeof p, "units.%d.shrink.bn", i);
			add_bn(m, p, co, &s);
			snprintf(n, sizeof n, "units.%d.shrink.fc2.weight", i);
			add(m, n, 2, SH(cw ? co : 1, co), &s, -ws, ws);
			snprintf(n, sizeof n, "units.%d.shrink.fc2.bias", i);
			add(m, n, 1, SH(cw ? co : 1), &s, -ws, ws);
		}
		if (proj && (c != co || st != 1)) {
			ws = 1.0f / sqrtf((float)c);
			snprintf(n, sizeof n, "units.%d.proj.weight", i);
			add(m, n, 3, SH(co, c, 1), &s, -ws, ws);
			snprintf(n, sizeof n, "units.%d.proj.bias", i);
			add(m, n, 1, SH(co), &s, -0.1f, 0.1f);
		}
		c = co;
	}
	add_bn(m, "bn", c, &s);
	ws = 1.0f / sqrtf((float)c);
	if (a->attention) {   /* scores of a few units, so the softmax is far from uniform */
		add(m, "att.weight", 3, SH(1, c, 1), &s, -4 * ws, 4 * ws);
		add(m, "att.bias", 1, SH(1), &s, -0.1f, 0.1f);
	}
	add(m, "fc.weight", 2, SH(a->classes, c), &s, -ws, ws);
	add(m, "fc.bias", 1, SH(a->classes), &s, -ws, ws);

	/* metadata, as train/export.py writes it */
	cJSON *ar = cJSON_CreateObject();
	cJSON_AddStringToObject(ar, "variant", a->variant);
	cJSON_AddNumberToObject(ar, "bands", a->bands);
	cJSON_AddNumberToObject(ar, "frames", a->frames);
	cJSON *stem = cJSON_AddObjectToObject(ar, "stem");
	cJSON_AddNumberToObject(stem, "channels", a->c0);
	cJSON_AddNumberToObject(stem, "kernel", a->k0);
	cJSON_AddNumberToObject(stem, "stride", a->s0);
	cJSON *us = cJSON_AddArrayToObject(ar, "units");
	for (int i = 0; i < a->n_units; i++) {
		cJSON *u = cJSON_CreateObject();
		cJSON_AddNumberToObject(u, "channels", a->units[i][0]);
		cJSON_AddNumberToObject(u, "kernel", a->units[i][1]);
		cJSON_AddNumberToObject(u, "stride", a->units[i][2]);
		cJSON_AddItemToArray(us, u);
	}
	cJSON_AddStringToObject(ar, "shortcut", a->shortcut);
	cJSON_AddNumberToObject(ar, "bn_eps", 1e-5);
	cJSON_AddNumberToObject(ar, "classes", a->classes);
	if (a->pcen)
		cJSON_AddStringToObject(ar, "input", "pcen");
	if (a->attention)
		cJSON_AddStringToObject(ar, "pool", "attention");
	m->meta_arch = cJSON_PrintUnformatted(ar);
	cJSON_Delete(ar);

	char fe[256];
	snprintf(fe, sizeof fe, "{\"sample_rate\":16000,\"win_length\":400,\"hop_length\":160,\"n_fft\":512,"
		 "\"n_mels\":%d,\"f_min\":20.0,\"f_max\":8000.0,\"log_offset\":1e-06}", a->bands);
	m->meta_frontend = strdup(fe);
	cJSON *lb = cJSON_CreateArray();
	for (int i = 0; i < a->classes; i++) {
		char l[32];
		snprintf(l, sizeof l, "word%d", i);
		cJSON_AddItemToArray(lb, cJSON_CreateString(l));
	}
	m->meta_labels = cJSON_PrintUnformatted(lb);
	cJSON_Delete(lb);
	m->meta_format = strdup("drsn-model");
	m->meta_version = strdup("1");
	m->meta_prov = strdup("{\"training_data\":\"none (test fixture)\",\"seed\":1}");
}

void fx_free(struct fx_model *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->t[i].data);
	free(m->meta_format);
	free(m->meta_version);
	free(m->meta_arch);
	free(m->meta_frontend);
	free(m->meta_labels);
	free(m->meta_prov);
	memset(m, 0, sizeof *m);
}

struct fx_tensor *fx_find(struct fx_model *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->t[i].name, name))
			return &m->t[i];
	return NULL;
}

void fx_remove(struct fx_model *m, const char *name)
{
	struct fx_tensor *t = fx_find(m, name);
	if (!t)
		return;
	free(t->data);
	int i = (int)(t - m->t);
	memmove(&m->t[i], &m->t[i + 1], (size_t)(m->n - i - 1) * sizeof *t);
	m->n--;
}

unsigned char *fx_serialize(const struct fx_model *m, size_t *len)
{
	cJSON *h = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(h, "__metadata__");
	const char *keys[] = {"format", "format_version", "architecture", "frontend", "labels", "provenance"};
	const char *vals[] = {m->meta_format, m->meta_version, m->meta_arch, m->meta_frontend,
			      m->meta_labels, m->meta_prov};
	for (int i = 0; i < 6; i++)
		if (vals[i])
			cJSON_AddStringToObject(md, keys[i], vals[i]);
	int64_t pos = 0;
	for (int i = 0; i < m->n; i++) {
		const struct fx_tensor *t = &m->t[i];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "dtype", t->dtype ? t->dtype : "F32");
		cJSON *sh = cJSON_AddArrayToObject(e, "shape");
		for (int d = 0; d < t->ndim; d++)
			cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
		int64_t b = t->off[0] >= 0 ? t->off[0] : pos, en = t->off[1] >= 0 ? t->off[1] : pos + 4 * t->numel;
		cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
		cJSON_AddItemToArray(of, cJSON_CreateNumber((double)b));
		cJSON_AddItemToArray(of, cJSON_CreateNumber((double)en));
		cJSON_AddItemToObject(h, t->name, e);
		pos += 4 * t->numel;
	}
	char *js = cJSON_PrintUnformatted(h);
	cJSON_Delete(h);
	size_t hl = strlen(js), pad = (8 - hl % 8) % 8;
	*len = 8 + hl + pad + (size_t)pos;
	unsigned char *out = malloc(*len);
	uint64_t n = hl + pad;
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(n >> (8 * i));
	memcpy(out + 8, js, hl);
	memset(out + 8 + hl, ' ', pad);
	free(js);
	unsigned char *d = out + 8 + n;
	for (int i = 0; i < m->n; i++) {
		memcpy(d, m->t[i].data, (size_t)m->t[i].numel * 4);   /* little-endian hosts */
		d += m->t[i].numel * 4;
	}
	return out;
}

drsn_model *fx_load(const struct fx_model *m)
{
	size_t len;
	unsigned char *buf = fx_serialize(m, &len);
	drsn_model *model = NULL;
	drsn_error err = {0};
	if (drsn_model_load_memory(&model, buf, len, &err))
		fprintf(stderr, "fixture: load failed: %s\n", err.msg);
	free(buf);
	return model;
}

/* ---- reference forward pass -------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static const float *T(const struct fx_model *m, const char *fmt, ...)
{
	char n[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n, sizeof n, fmt, ap);
	va_end(ap);
	struct fx_tensor *t = fx_find((struct fx_model *)m, n);
	if (!t) {
		fprintf(stderr, "fixture: no tensor %s\n", n);
		abort();
	}
	return t->data;
}

/* x[c][t] (channel-major, like torch) -> BN in eval mode (prefix fmt with %d). */
static void bn(const struct fx_model *m, double *x, int c, int t, const char *p, int relu)
{
	const float *w = T(m, "%s.weight", p);
	const float *b = T(m, "%s.bias", p);
	const float *mu = T(m, "%s.running_mean", p);
	const float *var = T(m, "%s.running_var", p);
	for (int ci = 0; ci < c; ci++)
		for (int j = 0; j < t; j++) {
			double v = (x[ci * t + j] - mu[ci]) / sqrt((double)var[ci] + 1e-5) * w[ci] + b[ci];
			x[ci * t + j] = relu && v < 0 ? 0 : v;
		}
}

/* torch Conv1d: y[co][to], w[co][ci][k], pad k/2 (zero padding: taps that
 * fall outside [0, t) are skipped). */
static void conv(double *y, const double *x, const float *w, const float *b, int ci, int t, int co,
		 int k, int s, int *t_out)
{
	int p = k / 2, to = (t + 2 * p - k) / s + 1;
	for (int o = 0; o < co; o++) {
		double *yo = y + (size_t)o * to;
		for (int tt = 0; tt < to; tt++)
			yo[tt] = b ? b[o] : 0;
		for (int i = 0; i < ci; i++)
			for (int j = 0; j < k; j++) {
				double wv = w[((size_t)o * ci + i) * k + j];
				const double *xi = x + (size_t)i * t + j - p;   /* xi[tt*s] = x[i][tt*s + j - p] */
				int lo = 0, hi = to;
				while (lo < to && lo * s + j - p < 0)
					lo++;
				while (hi > lo && (hi - 1) * s + j - p >= t)
					hi--;
				for (int tt = lo; tt < hi; tt++)
					yo[tt] += wv * xi[tt * s];
			}
	}
	*t_out = to;
}

void fx_forward(const struct fx_model *m, const float *xin, double *logits)
{
	const struct fx_arch *a = &m->arch;
	int cw = !strcmp(a->variant, "cw"), res = !strcmp(a->variant, "resnet");
	int proj = !strcmp(a->shortcut, "projection");
	size_t big = (size_t)(a->frames + 8) * 1024;
	double *x = calloc(big, sizeof *x), *h = calloc(big, sizeof *x), *g = calloc(big, sizeof *x),
	       *f = calloc(big, sizeof *x), *y = calloc(big, sizeof *x);
	for (int t = 0; t < a->frames; t++)
		for (int b = 0; b < a->bands; b++)
			x[b * a->frames + t] = xin[t * a->bands + b];
	for (int b = 0; a->pcen && b < a->bands; b++) {   /* PCEN, as model.py */
		double s = fmin(exp(T(m, "pcen.log_s")[b]), 1.0), al = exp(T(m, "pcen.log_alpha")[b]);
		double d = exp(T(m, "pcen.log_delta")[b]), r = exp(T(m, "pcen.log_r")[b]), mm = 0;
		for (int t = 0; t < a->frames; t++) {
			double e = exp(x[b * a->frames + t]);
			mm = t ? (1 - s) * mm + s * e : e;
			x[b * a->frames + t] = pow(e / pow(1e-6 + mm, al) + d, r) - pow(d, r);
		}
	}
	int t = a->frames, c = a->c0, to;
	conv(h, x, T(m, "stem.weight"), T(m, "stem.bias"), a->bands, t, c, a->k0, a->s0, &to);
	t = to;
	memcpy(x, h, (size_t)c * t * sizeof *x);
	for (int i = 0; i < a->n_units; i++) {
		int co = a->units[i][0], k = a->units[i][1], s = a->units[i][2], t2;
		char pre[48];
		memcpy(h, x, (size_t)c * t * sizeof *x);
		snprintf(pre, sizeof pre, "units.%d.bn1", i);
		bn(m, h, c, t, pre, 1);
		snprintf(pre, sizeof pre, "units.%d.bn2", i);
		conv(g, h, T(m, "units.%d.conv1.weight", i), NULL, c, t, co, k, s, &to);
		bn(m, g, co, to, pre, 1);
		conv(f, g, T(m, "units.%d.conv2.weight", i), NULL, co, to, co, k, 1, &t2);
		double tau[1024] = {0};
		if (!res) {
			double mean[1024], hid[1024], al[1024], all = 0;
			for (int ci = 0; ci < co; ci++) {
				mean[ci] = 0;
				for (int j = 0; j < to; j++)
					mean[ci] += fabs(f[ci * to + j]);
				mean[ci] /= to;
				all += mean[ci] / co;
			}
			const float *w1 = T(m, "units.%d.shrink.fc1.weight", i), *b1 = T(m, "units.%d.shrink.fc1.bias", i);
			for (int o = 0; o < co; o++) {
				hid[o] = b1[o];
				for (int j = 0; j < co; j++)
					hid[o] += (double)w1[o * co + j] * mean[j];
			}
			snprintf(pre, sizeof pre, "units.%d.shrink.bn", i);
			bn(m, hid, co, 1, pre, 1);
			const float *w2 = T(m, "units.%d.shrink.fc2.weight", i), *b2 = T(m, "units.%d.shrink.fc2.bias", i);
			int n2 = cw ? co : 1;
			for (int o = 0; o < n2; o++) {
				al[o] = b2[o];
				for (int j = 0; j < co; j++)
					al[o] += (double)w2[o * co + j] * hid[j];
				al[o] = 1 / (1 + exp(-al[o]));
			}
			for (int ci = 0; ci < co; ci++)
				tau[ci] = cw ? al[ci] * mean[ci] : al[0] * all;
		}
		int pad = (co - c) / 2, use_proj = proj && (c != co || s != 1);
		if (use_proj)
			conv(g, x, T(m, "units.%d.proj.weight", i), T(m, "units.%d.proj.bias", i), c, t, co, 1, s, &t2);
		for (int ci = 0; ci < co; ci++)
			for (int j = 0; j < to; j++) {
				double v = f[ci * to + j], av = fabs(v) - tau[ci];
				double r = av > 0 ? (v > 0 ? av : -av) : 0;
				if (use_proj)
					r += g[ci * to + j];
				else if (ci >= pad && ci < pad + c)
					r += x[(ci - pad) * t + j * s];
				y[ci * to + j] = r;
			}
		c = co;
		t = to;
		memcpy(x, y, (size_t)c * t * sizeof *x);
	}
	bn(m, x, c, t, "bn", 1);
	for (int j = 0; j < t; j++)   /* frame weights: 1/t (mean), or the attention softmax */
		h[j] = 1.0 / t;
	if (a->attention) {
		const float *aw = T(m, "att.weight");
		double sum = 0;
		for (int j = 0; j < t; j++) {
			h[j] = T(m, "att.bias")[0];
			for (int ci = 0; ci < c; ci++)
				h[j] += (double)aw[ci] * x[ci * t + j];
		}
		for (int j = 0; j < t; j++)
			sum += h[j] = exp(h[j]);
		for (int j = 0; j < t; j++)
			h[j] /= sum;
	}
	const float *fw = T(m, "fc.weight"), *fb = T(m, "fc.bias");
	for (int o = 0; o < a->classes; o++) {
		double acc = fb[o];
		for (int ci = 0; ci < c; ci++) {
			double p = 0;
			for (int j = 0; j < t; j++)
				p += h[j] * x[ci * t + j];
			acc += fw[o * c + ci] * p;
		}
		logits[o] = acc;
	}
	free(x);
	free(h);
	free(g);
	free(f);
	free(y);
}
