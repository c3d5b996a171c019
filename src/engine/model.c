/* Loading a DRSN model: validate the safetensors file completely, then fold
 * BN and re-lay out the weights into one aligned arena (plan.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/json.h"
#include "common/utf8.h"
#include "engine/plan.h"
#include "engine/safetensors.h"

#define FORMAT_NAME "drsn-model"
#define FORMAT_VERSION "1"
#define MAX_LABEL_BYTES 256

/* ---- expected tensors ---------------------------------------------------- */

struct loader {
	const struct drsn__st_file *st;
	const char *what;
	drsn_error *err;
	unsigned char *mark;   /* per file tensor: used by the architecture */
};

/* The tensor name (printf-style) with exactly the given shape, or NULL with
 * err filled. */
__attribute__((format(printf, 4, 5)))
static const struct drsn__st_tensor *need(struct loader *L, int ndim, const int64_t *shape,
					  const char *fmt, ...)
{
	char name[96];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	const struct drsn__st_tensor *t = drsn__st_find(L->st, name);
	if (!t) {
		drsn__fail(L->err, -EBADMSG, "%s: missing tensor '%s'", L->what, name);
		return NULL;
	}
	int ok = t->ndim == ndim;
	for (int d = 0; ok && d < ndim; d++)
		ok = t->shape[d] == shape[d];
	if (!ok) {
		char got[128], want[128];
		drsn__st_shape_str(got, sizeof got, t->ndim, t->shape);
		drsn__st_shape_str(want, sizeof want, ndim, shape);
		drsn__fail(L->err, -EBADMSG, "%s: tensor '%s': shape %s does not match the architecture's %s",
			   L->what, name, got, want);
		return NULL;
	}
	L->mark[t - L->st->t] = 1;
	return t;
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

struct bn_t { const struct drsn__st_tensor *w, *b, *mean, *var; };
struct unit_t {
	struct bn_t bn1, bn2, sbn;
	const struct drsn__st_tensor *conv1, *conv2, *fc1w, *fc1b, *fc2w, *fc2b, *pw, *pb;
};
struct tensors_t {
	const struct drsn__st_tensor *stem_w, *stem_b, *fc_w, *fc_b, *att_w, *att_b;
	const struct drsn__st_tensor *pcen[4];   /* log_s, log_alpha, log_delta, log_r */
	struct bn_t bn;
	struct unit_t u[DRSN__MAX_UNITS];
};

static int need_bn(struct loader *L, struct bn_t *bn, int c, const char *prefix)
{
	static const char *const part[4] = {"weight", "bias", "running_mean", "running_var"};
	const struct drsn__st_tensor **dst[4] = {&bn->w, &bn->b, &bn->mean, &bn->var};
	for (int i = 0; i < 4; i++)
		if (!(*dst[i] = need(L, 1, SHAPE(c), "%s.%s", prefix, part[i])))
			return -EBADMSG;
	for (int i = 0; i < c; i++) {
		float v = drsn__st_get(bn->var, i);
		if (!(v >= 0))
			return drsn__fail(L->err, -EBADMSG, "%s: tensor '%s.running_var': element %d = %g (a variance must be >= 0)",
					  L->what, prefix, i, v);
	}
	return 0;
}

static int find_tensors(struct loader *L, const struct drsn__arch *a, struct tensors_t *T)
{
	static const char *const pcen_part[4] = {"log_s", "log_alpha", "log_delta", "log_r"};
	int c0 = a->c0, b = a->bands;
	for (int i = 0; a->pcen && i < 4; i++)
		if (!(T->pcen[i] = need(L, 1, SHAPE(b), "pcen.%s", pcen_part[i])))
			return -EBADMSG;
	if (!(T->stem_w = need(L, 3, SHAPE(c0, b, a->k0), "stem.weight")) ||
	    !(T->stem_b = need(L, 1, SHAPE(c0), "stem.bias")))
		return -EBADMSG;
	for (int i = 0; i < a->n_units; i++) {
		const struct drsn__unit_arch *u = &a->u[i];
		struct unit_t *t = &T->u[i];
		char p[48];
		int ci = u->cin, co = u->cout;
		snprintf(p, sizeof p, "units.%d.bn1", i);
		if (need_bn(L, &t->bn1, ci, p))
			return -EBADMSG;
		snprintf(p, sizeof p, "units.%d.bn2", i);
		if (need_bn(L, &t->bn2, co, p))
			return -EBADMSG;
		if (!(t->conv1 = need(L, 3, SHAPE(co, ci, u->k), "units.%d.conv1.weight", i)) ||
		    !(t->conv2 = need(L, 3, SHAPE(co, co, u->k), "units.%d.conv2.weight", i)))
			return -EBADMSG;
		if (a->variant != DRSN__RESNET) {
			int n2 = a->variant == DRSN__CW ? co : 1;
			snprintf(p, sizeof p, "units.%d.shrink.bn", i);
			if (!(t->fc1w = need(L, 2, SHAPE(co, co), "units.%d.shrink.fc1.weight", i)) ||
			    !(t->fc1b = need(L, 1, SHAPE(co), "units.%d.shrink.fc1.bias", i)) ||
			    need_bn(L, &t->sbn, co, p) ||
			    !(t->fc2w = need(L, 2, SHAPE(n2, co), "units.%d.shrink.fc2.weight", i)) ||
			    !(t->fc2b = need(L, 1, SHAPE(n2), "units.%d.shrink.fc2.bias", i)))
				return -EBADMSG;
		}
		if (u->proj &&
		    (!(t->pw = need(L, 3, SHAPE(co, ci, 1), "units.%d.proj.weight", i)) ||
		     !(t->pb = need(L, 1, SHAPE(co), "units.%d.proj.bias", i))))
			return -EBADMSG;
	}
	if (a->attention &&
	    (!(T->att_w = need(L, 3, SHAPE(1, a->c_last, 1), "att.weight")) ||
	     !(T->att_b = need(L, 1, SHAPE(1), "att.bias"))))
		return -EBADMSG;
	if (need_bn(L, &T->bn, a->c_last, "bn") ||
	    !(T->fc_w = need(L, 2, SHAPE(a->classes, a->c_last), "fc.weight")) ||
	    !(T->fc_b = need(L, 1, SHAPE(a->classes), "fc.bias")))
		return -EBADMSG;
	return 0;
}

/* ---- weight arena ------------------------------------------------------- */

struct bump {
	float *base;    /* NULL: only count */
	size_t n;
	const char *part;      /* what is being folded now, for messages */
	int part_idx;
	char overflow[64];     /* first part whose folded value overflows float32 */
};

/* v as float32; records an overflow (|v| > FLT_MAX after BN folding). */
static inline float f32(struct bump *B, double v)
{
	if (__builtin_expect(!(fabs(v) <= FLT_MAX), 0)) {
		if (!B->overflow[0] && B->part_idx < 0)
			snprintf(B->overflow, sizeof B->overflow, "%s", B->part);
		else if (!B->overflow[0])
			snprintf(B->overflow, sizeof B->overflow, "units.%d.%s", B->part_idx, B->part);
		return 0;
	}
	return (float)v;
}

static float *take(struct bump *B, size_t n)
{
	float *p = B->base ? B->base + B->n : NULL;
	B->n += (n + 15) & ~(size_t)15;
	return p;
}

/* scale/shift of an eval-mode BN: y = x * scale + shift. */
static void bn_affine(const struct bn_t *bn, int i, double eps, double *scale, double *shift)
{
	double s = drsn__st_get(bn->w, i) / sqrt((double)drsn__st_get(bn->var, i) + eps);
	*scale = s;
	*shift = drsn__st_get(bn->b, i) - drsn__st_get(bn->mean, i) * s;
}

/* torch conv weight [cout][cin][k] -> [k][cin][cout], times scale[cout] (NULL: 1).
 * Reads the source in order; the scattered writes stay within one tensor. */
static void relayout_conv(struct bump *B, float *dst, const struct drsn__st_tensor *w, const double *scale)
{
	int64_t co = w->shape[0], ci = w->shape[1], k = w->shape[2], idx = 0;
	for (int64_t o = 0; o < co; o++) {
		double sc = scale ? scale[o] : 1.0;
		for (int64_t i = 0; i < ci; i++)
			for (int64_t j = 0; j < k; j++)
				dst[(j * ci + i) * co + o] = f32(B, drsn__st_get(w, idx++) * sc);
	}
}

/* torch linear weight [nout][nin] -> [nin][nout], times scale[nout] (NULL: 1). */
static void relayout_fc(struct bump *B, float *dst, const struct drsn__st_tensor *w, const double *scale)
{
	int64_t no = w->shape[0], ni = w->shape[1], idx = 0;
	for (int64_t o = 0; o < no; o++) {
		double sc = scale ? scale[o] : 1.0;
		for (int64_t i = 0; i < ni; i++)
			dst[i * no + o] = f32(B, drsn__st_get(w, idx++) * sc);
	}
}

static void copy_vec(float *dst, const struct drsn__st_tensor *t)
{
	for (int64_t i = 0; i < t->numel; i++)
		dst[i] = drsn__st_get(t, i);
}

/* Assign (B->base set) or count every weight buffer; fill when T is given. */
static void build(struct drsn_model *m, struct bump *B, const struct tensors_t *T)
{
	const struct drsn__arch *a = &m->arch;
	double sc[DRSN__MAX_CHANNELS], sh[DRSN__MAX_CHANNELS];
	int cmax = a->c0;
	for (int i = 0; i < a->n_units; i++)
		cmax = a->u[i].cout > cmax ? a->u[i].cout : cmax;

	float *p;
	B->part_idx = -1;
	if (a->pcen) {
		/* exp of the stored logs (s at most 1, as model.py clamps it), and
		 * delta^r, the constant PCEN subtracts */
		float *v[4];
		B->part = "pcen";
		for (int i = 0; i < 4; i++)
			v[i] = take(B, (size_t)a->bands);
		m->pcen_dr = p = take(B, (size_t)a->bands);
		m->pcen_s = v[0], m->pcen_alpha = v[1], m->pcen_delta = v[2], m->pcen_r = v[3];
		for (int c = 0; T && c < a->bands; c++) {
			for (int i = 0; i < 4; i++)
				v[i][c] = f32(B, exp((double)drsn__st_get(T->pcen[i], c)));
			v[0][c] = v[0][c] < 1.0f ? v[0][c] : 1.0f;
			p[c] = f32(B, pow((double)v[2][c], (double)v[3][c]));
		}
	}
	B->part = "stem";
	m->stem_w = p = take(B, (size_t)a->k0 * a->bands * a->c0);
	if (T)
		relayout_conv(B, p, T->stem_w, NULL);
	m->stem_b = p = take(B, (size_t)a->c0);
	if (T)
		copy_vec(p, T->stem_b);

	for (int i = 0; i < a->n_units; i++) {
		const struct drsn__unit_arch *u = &a->u[i];
		const struct unit_t *t = T ? &T->u[i] : NULL;
		struct drsn__unit_plan *up = &m->units[i];
		float *s1, *h1, *w1, *b1, *w2;
		up->a = u;
		B->part = "bn1/conv1/bn2";
		B->part_idx = i;
		up->bn1_scale = s1 = take(B, (size_t)u->cin);
		up->bn1_shift = h1 = take(B, (size_t)u->cin);
		up->w1 = w1 = take(B, (size_t)u->k * u->cin * u->cout);
		up->b1 = b1 = take(B, (size_t)u->cout);
		up->w2 = w2 = take(B, (size_t)u->k * u->cout * u->cout);
		if (t) {
			for (int c = 0; c < u->cin; c++) {
				bn_affine(&t->bn1, c, a->eps, &sc[0], &sh[0]);
				s1[c] = f32(B, sc[0]);
				h1[c] = f32(B, sh[0]);
			}
			for (int c = 0; c < u->cout; c++)
				bn_affine(&t->bn2, c, a->eps, &sc[c], &sh[c]);
			relayout_conv(B, w1, t->conv1, sc);     /* BN2 folded into conv1 */
			for (int c = 0; c < u->cout; c++)
				b1[c] = f32(B, sh[c]);
			relayout_conv(B, w2, t->conv2, NULL);
		}
		up->n2 = a->variant == DRSN__RESNET ? 0 : a->variant == DRSN__CW ? u->cout : 1;
		if (up->n2) {
			float *f1w, *f1b, *f2w, *f2b;
			B->part = "shrink";
			up->fc1_w = f1w = take(B, (size_t)u->cout * u->cout);
			up->fc1_b = f1b = take(B, (size_t)u->cout);
			up->fc2_w = f2w = take(B, (size_t)u->cout * up->n2);
			up->fc2_b = f2b = take(B, (size_t)up->n2);
			if (t) {
				for (int c = 0; c < u->cout; c++)
					bn_affine(&t->sbn, c, a->eps, &sc[c], &sh[c]);
				relayout_fc(B, f1w, t->fc1w, sc);   /* threshold BN folded into FC1 */
				for (int c = 0; c < u->cout; c++)
					f1b[c] = f32(B, drsn__st_get(t->fc1b, c) * sc[c] + sh[c]);
				relayout_fc(B, f2w, t->fc2w, NULL);
				copy_vec(f2b, t->fc2b);
			}
		}
		if (u->proj) {
			float *pw, *pb;
			up->pw = pw = take(B, (size_t)u->cin * u->cout);
			up->pb = pb = take(B, (size_t)u->cout);
			if (t) {
				relayout_conv(B, pw, t->pw, NULL);
				copy_vec(pb, t->pb);
			}
		}
	}

	float *hs, *hh, *fw, *fb, *ones, *zeros;
	B->part = "bn/fc";
	B->part_idx = -1;
	m->head_scale = hs = take(B, (size_t)a->c_last);
	m->head_shift = hh = take(B, (size_t)a->c_last);
	m->fc_w = fw = take(B, (size_t)a->c_last * a->classes);
	m->fc_b = fb = take(B, (size_t)a->classes);
	if (a->attention) {
		float *aw, *ab;
		B->part = "att";
		m->att_w = aw = take(B, (size_t)a->c_last);
		m->att_b = ab = take(B, 1);
		if (T) {
			copy_vec(aw, T->att_w);   /* [1][c_last][1]: already the [c_last][1] of K->fc */
			copy_vec(ab, T->att_b);
		}
		B->part = "bn/fc";
	}
	m->ones = ones = take(B, (size_t)cmax);
	m->zeros = zeros = take(B, (size_t)cmax);
	if (T) {
		for (int c = 0; c < a->c_last; c++) {
			bn_affine(&T->bn, c, a->eps, &sc[0], &sh[0]);
			hs[c] = f32(B, sc[0]);
			hh[c] = f32(B, sh[0]);
		}
		relayout_fc(B, fw, T->fc_w, NULL);
		copy_vec(fb, T->fc_b);
		for (int c = 0; c < cmax; c++) {
			ones[c] = 1.0f;
			zeros[c] = 0.0f;
		}
	}
}

static size_t r16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static void plan_buffers(struct drsn_model *m)
{
	const struct drsn__arch *a = &m->arch;
	struct drsn__buf_plan *b = &m->buf;
	size_t cmax = (size_t)a->c0;
	memset(b, 0, sizeof *b);
	b->in = r16((size_t)(a->frames + 2 * (a->k0 / 2)) * a->bands);
	b->io = (size_t)a->t0 * a->c0;
	for (int i = 0; i < a->n_units; i++) {
		const struct drsn__unit_arch *u = &a->u[i];
		size_t p = (size_t)(u->k / 2), to = (size_t)u->t_out * u->cout;
		b->io = to > b->io ? to : b->io;
		size_t na = ((size_t)u->t_in + 2 * p) * u->cin, nb = ((size_t)u->t_out + 2 * p) * u->cout;
		b->a = na > b->a ? na : b->a;
		b->b = nb > b->b ? nb : b->b;
		if (u->proj)
			b->p = to > b->p ? to : b->p;
		cmax = (size_t)u->cout > cmax ? (size_t)u->cout : cmax;
	}
	b->io = r16(b->io);
	b->a = r16(b->a);
	b->b = r16(b->b);
	b->f = b->io;
	b->p = r16(b->p);
	b->vec = r16(cmax);
	b->pcen = a->pcen ? r16((size_t)a->bands) : 0;
	b->score = a->attention ? r16((size_t)a->t_last) : 0;
	b->total = b->in + b->pcen + 2 * b->io + b->a + b->b + b->f + b->p + 4 * b->vec + b->score +
		   r16((size_t)a->c_last) + r16((size_t)a->classes);
}

/* ---- metadata ----------------------------------------------------------- */

static int parse_labels(struct drsn_model *m, const char *json, const char *what, drsn_error *err)
{
	int rc = 0, n = 0;
	cJSON *r = drsn__json_parse(json, strlen(json) + 1, NULL, 1);   /* no bytes after the array */
	if (!r || !cJSON_IsArray(r)) {
		rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.labels must be a JSON array of strings", what);
		goto out;
	}
	n = cJSON_GetArraySize(r);
	if (n != m->arch.classes) {
		rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.labels has %d labels but the model has %d classes (fc.weight rows)",
				what, n, m->arch.classes);
		goto out;
	}
	m->labels = calloc((size_t)n, sizeof *m->labels);
	if (!m->labels) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory", what);
		goto out;
	}
	int i = 0;
	for (const cJSON *it = r->child; it; it = it->next, i++) {
		if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= MAX_LABEL_BYTES) {
			rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.labels[%d] must be a non-empty string shorter than %d bytes",
					what, i, MAX_LABEL_BYTES);
			goto out;
		}
		/* a label goes into JSON lines (detections, hello), log lines
		 * and drsnd.conf's [thresholds]: UTF-8, one line */
		const char *v = it->valuestring;
		size_t vn = strlen(v), bad = drsn__utf8_check(v, vn);
		if (bad < vn) {
			rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.labels[%d] is not valid UTF-8 (byte %zu)",
					what, i, bad);
			goto out;
		}
		for (size_t k = 0; k < vn; k++)
			if ((unsigned char)v[k] < 0x20 || v[k] == 0x7f) {
				rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.labels[%d] holds a control character (byte 0x%02x)",
						what, i, (unsigned char)v[k]);
				goto out;
			}
		for (int j = 0; j < i; j++)
			if (!strcmp(m->labels[j], it->valuestring)) {
				/* a label names one class: detections and per-label
				 * thresholds could not tell the two apart */
				rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.labels[%d] '%s' repeats labels[%d]",
						what, i, it->valuestring, j);
				goto out;
			}
		if (!(m->labels[i] = strdup(it->valuestring))) {
			rc = drsn__fail(err, -ENOMEM, "%s: out of memory", what);
			goto out;
		}
	}
out:
	cJSON_Delete(r);
	return rc;
}

static int copy_metadata(struct drsn_model *m, const struct drsn__st_file *st, const char *what,
			 drsn_error *err)
{
	int n = cJSON_GetArraySize(st->metadata);
	m->meta_keys = calloc((size_t)n + 1, sizeof *m->meta_keys);
	m->meta_vals = calloc((size_t)n + 1, sizeof *m->meta_vals);
	if (!m->meta_keys || !m->meta_vals)
		return drsn__fail(err, -ENOMEM, "%s: out of memory", what);
	for (const cJSON *it = st->metadata->child; it; it = it->next) {
		m->meta_keys[m->n_meta] = strdup(it->string);
		m->meta_vals[m->n_meta] = strdup(it->valuestring);
		m->n_meta++;
		if (!m->meta_keys[m->n_meta - 1] || !m->meta_vals[m->n_meta - 1])
			return drsn__fail(err, -ENOMEM, "%s: out of memory", what);
	}
	return 0;
}

static const char *need_meta(const struct drsn__st_file *st, const char *key, const char *what,
			     drsn_error *err)
{
	const char *v = drsn__st_meta(st, key);
	if (!v)
		drsn__fail(err, -EBADMSG, "%s: __metadata__ has no '%s' (not a drsn model file?)", what, key);
	return v;
}

/* ---- load --------------------------------------------------------------- */

static int load(drsn_model **out, const void *buf, size_t len, const char *what, drsn_error *err)
{
	struct drsn__st_file st;
	struct drsn_model *m = NULL;
	struct tensors_t *T = NULL;
	struct loader L = {0};
	const char *s;
	int rc;

	*out = NULL;
	if ((rc = drsn__st_parse(&st, buf, len, what, err)))
		return rc;
	m = calloc(1, sizeof *m);
	T = calloc(1, sizeof *T);
	if (!m || !T) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory", what);
		goto fail;
	}

	rc = -EBADMSG;
	if (!(s = need_meta(&st, "format", what, err)))
		goto fail;
	if (strcmp(s, FORMAT_NAME)) {
		rc = drsn__fail(err, -ENOTSUP, "%s: __metadata__.format is '%.40s', not '" FORMAT_NAME "'", what, s);
		goto fail;
	}
	if (!(s = need_meta(&st, "format_version", what, err)))
		goto fail;
	if (strcmp(s, FORMAT_VERSION)) {
		rc = drsn__fail(err, -ENOTSUP, "%s: __metadata__.format_version '%.20s' is not supported (this build reads " FORMAT_VERSION ")",
				what, s);
		goto fail;
	}
	if (!(s = need_meta(&st, "architecture", what, err)))
		goto fail;
	if ((rc = drsn__arch_parse(&m->arch, s, what, err)))
		goto fail;

	rc = -EBADMSG;
	if (!(s = need_meta(&st, "frontend", what, err)))
		goto fail;
	drsn_error fe_err;
	drsn__error_clear(&fe_err);
	drsn_features_params_default(&m->fe);
	/* from_json also validates (drsn_features_params_validate) */
	if ((rc = drsn_features_params_from_json(&m->fe, s, strlen(s), &fe_err))) {
		rc = drsn__fail(err, rc, "%s: __metadata__.frontend: %s", what, fe_err.msg);
		goto fail;
	}
	if (m->fe.n_mels != m->arch.bands) {
		rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.frontend.n_mels = %d but the architecture has %d bands",
				what, m->fe.n_mels, m->arch.bands);
		goto fail;
	}
	rc = -EBADMSG;
	if (!(s = need_meta(&st, "labels", what, err)))
		goto fail;
	if ((rc = parse_labels(m, s, what, err)))
		goto fail;
	if ((rc = copy_metadata(m, &st, what, err)))
		goto fail;

	L.st = &st;
	L.what = what;
	L.err = err;
	if (!(L.mark = calloc((size_t)st.n + 1, 1))) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory", what);
		goto fail;
	}
	if ((rc = find_tensors(&L, &m->arch, T)))
		goto fail;
	for (int i = 0; i < st.n; i++)
		if (!L.mark[i]) {
			rc = drsn__fail(err, -EBADMSG, "%s: unexpected tensor '%s' (not part of the %s architecture)",
					what, st.t[i].name, drsn__variant_name(m->arch.variant));
			goto fail;
		}
	for (int i = 0; i < st.n; i++) {
		const struct drsn__st_tensor *t = &st.t[i];
		for (int64_t j = 0; j < t->numel; j++) {
			float v = drsn__st_get(t, j);
			if (!isfinite(v)) {
				rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': element %lld is not finite (%g)",
						what, t->name, (long long)j, v);
				goto fail;
			}
		}
	}

	struct bump B = {0};
	build(m, &B, NULL);
	m->weights = aligned_alloc(64, B.n * sizeof(float));
	if (!m->weights) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory (%zu weights)", what, B.n);
		goto fail;
	}
	B.base = m->weights;
	B.n = 0;
	build(m, &B, T);
	if (B.overflow[0] && !strcmp(B.overflow, "pcen")) {
		rc = drsn__fail(err, -EBADMSG, "%s: pcen: a parameter (exp of pcen.log_*) or delta^r overflows float32",
				what);
		goto fail;
	}
	if (B.overflow[0]) {
		rc = drsn__fail(err, -EBADMSG, "%s: %s: folding BatchNorm into the weights overflows float32 (running_var ~ 0 with huge weights?)",
				what, B.overflow);
		goto fail;
	}
	plan_buffers(m);
	m->n_params = drsn__arch_params(&m->arch);
	m->macs = drsn__arch_macs(&m->arch);

	free(L.mark);
	free(T);
	drsn__st_free(&st);
	*out = m;
	return 0;
fail:
	free(L.mark);
	free(T);
	drsn__st_free(&st);
	drsn_model_free(m);
	return rc;
}

DRSN_API int drsn_model_load_memory(drsn_model **out, const void *buf, size_t len, drsn_error *err)
{
	DRSN__REQUIRE(err, out);
	*out = NULL;
	if (len > 0)
		DRSN__REQUIRE(err, buf);
	return load(out, buf, len, "<memory>", err);
}

DRSN_API int drsn_model_load(drsn_model **out, const char *path, drsn_error *err)
{
	struct stat sb;
	void *map = NULL;
	int fd = -1, rc;

	DRSN__REQUIRE(err, out);
	*out = NULL;
	DRSN__REQUIRE(err, path);
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer, and
	 * the S_ISREG check below would never run (drsnd's reload would hang). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		return drsn__fail(err, rc, "%s: cannot open: %s", path, drsn_strerror(rc));
	}
	if (fstat(fd, &sb) < 0) {
		rc = drsn__fail(err, -errno, "%s: cannot stat: %s", path, drsn_strerror(-errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = drsn__fail(err, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (sb.st_size == 0) {
		rc = load(out, "", 0, path, err);
		goto out;
	}
	/* A 32-bit size_t (armhf) would map only st_size mod 4 GiB bytes. */
	if ((uint64_t)sb.st_size > SIZE_MAX) {
		rc = drsn__fail(err, -EFBIG, "%s: %lld bytes is too large for this %zu-bit build",
				path, (long long)sb.st_size, sizeof(size_t) * 8);
		goto out;
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		map = NULL;
		rc = drsn__fail(err, -EIO, "%s: cannot mmap: %s", path, drsn_strerror(-errno));
		goto out;
	}
	rc = load(out, map, (size_t)sb.st_size, path, err);
out:
	if (map)
		munmap(map, (size_t)sb.st_size);
	close(fd);
	return rc;
}

DRSN_API void drsn_model_free(drsn_model *m)
{
	if (!m)
		return;
	if (m->labels)
		for (int i = 0; i < m->arch.classes; i++)
			free(m->labels[i]);
	free(m->labels);
	for (int i = 0; i < m->n_meta; i++) {
		free(m->meta_keys[i]);
		free(m->meta_vals[i]);
	}
	free(m->meta_keys);
	free(m->meta_vals);
	free(m->weights);
	free(m);
}

/* ---- getters ------------------------------------------------------------ */

DRSN_API int drsn_model_n_labels(const drsn_model *m) { return m ? m->arch.classes : 0; }
DRSN_API int drsn_model_frames(const drsn_model *m) { return m ? m->arch.frames : 0; }
DRSN_API int drsn_model_bands(const drsn_model *m) { return m ? m->arch.bands : 0; }
DRSN_API int64_t drsn_model_n_params(const drsn_model *m) { return m ? m->n_params : 0; }
DRSN_API int64_t drsn_model_macs(const drsn_model *m) { return m ? m->macs : 0; }

DRSN_API const char *drsn_model_variant(const drsn_model *m)
{
	return m ? drsn__variant_name(m->arch.variant) : NULL;
}

DRSN_API const drsn_features_params *drsn_model_features_params(const drsn_model *m)
{
	return m ? &m->fe : NULL;
}

DRSN_API const char *drsn_model_label(const drsn_model *m, int i)
{
	return m && i >= 0 && i < m->arch.classes ? m->labels[i] : NULL;
}

DRSN_API const char *drsn_model_metadata(const drsn_model *m, const char *key)
{
	for (int i = 0; m && key && i < m->n_meta; i++)
		if (!strcmp(m->meta_keys[i], key))
			return m->meta_vals[i];
	return NULL;
}
