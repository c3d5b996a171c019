/* Running a loaded model on one window: a per-stream context holds every
 * activation buffer (planned by model.c), so drsn_ctx_run never allocates.
 * All arithmetic goes through the SIMD kernel table (src/simd/kernels.h);
 * what is left here is per-channel glue on vectors of at most C floats. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "engine/plan.h"
#include "simd/kernels.h"

struct drsn_ctx {
	const struct drsn_model *m;
	float *arena;
	float *in;          /* padded input window */
	float *pcen_m;      /* PCEN smoother, one value per band */
	float *io[2];       /* unit inputs/outputs, ping-pong */
	float *a, *b, *f, *p;
	float *mean, *hid, *alpha, *tau;
	float *score;       /* pool "attention": frame weights */
	float *pooled, *logits;
};

DRSN_API int drsn_ctx_create(drsn_ctx **out, const drsn_model *m, drsn_error *err)
{
	DRSN__REQUIRE(err, out);
	*out = NULL;
	DRSN__REQUIRE(err, m);
	const struct drsn__buf_plan *bp = &m->buf;
	drsn_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return drsn__fail(err, -ENOMEM, "drsn_ctx_create: out of memory");
	c->m = m;
	c->arena = aligned_alloc(64, bp->total * sizeof(float));
	if (!c->arena) {
		free(c);
		return drsn__fail(err, -ENOMEM, "drsn_ctx_create: out of memory (%zu floats)", bp->total);
	}
	/* Zero once: the padding rows of `in` stay zero forever; a and b get
	 * their halo rows re-zeroed per unit (their sizes change per unit). */
	memset(c->arena, 0, bp->total * sizeof(float));
	float *p = c->arena;
	c->in = p;        p += bp->in;
	c->pcen_m = p;    p += bp->pcen;
	c->io[0] = p;     p += bp->io;
	c->io[1] = p;     p += bp->io;
	c->a = p;         p += bp->a;
	c->b = p;         p += bp->b;
	c->f = p;         p += bp->f;
	c->p = p;         p += bp->p;
	c->mean = p;      p += bp->vec;
	c->hid = p;       p += bp->vec;
	c->alpha = p;     p += bp->vec;
	c->tau = p;       p += bp->vec;
	c->score = p;     p += bp->score;
	c->pooled = p;    p += (m->arch.c_last + 15) & ~15;
	c->logits = p;
	*out = c;
	return 0;
}

DRSN_API void drsn_ctx_destroy(drsn_ctx *c)
{
	if (!c)
		return;
	free(c->arena);
	free(c);
}

DRSN_API const float *drsn_ctx_logits(const drsn_ctx *c)
{
	return c ? c->logits : NULL;
}

/* Zero the p halo rows on both sides of a [t + 2p][ch] buffer. */
static void zero_halo(float *buf, int t, int p, int ch)
{
	if (!p)
		return;
	memset(buf, 0, (size_t)p * ch * sizeof *buf);
	memset(buf + (size_t)(t + p) * ch, 0, (size_t)p * ch * sizeof *buf);
}

/* alpha -> tau from the threshold branch (CW: per channel; CS: one value). */
static void threshold(drsn_ctx *c, const struct drsn__kernels *K, const struct drsn__unit_plan *up)
{
	int ch = up->a->cout;
	K->fc(c->hid, c->mean, up->fc1_w, up->fc1_b, ch, ch);
	for (int i = 0; i < ch; i++)
		c->hid[i] = c->hid[i] > 0 ? c->hid[i] : 0;
	K->fc(c->alpha, c->hid, up->fc2_w, up->fc2_b, ch, up->n2);
	if (up->n2 == ch) {
		for (int i = 0; i < ch; i++)
			c->tau[i] = c->mean[i] / (1.0f + expf(-c->alpha[i]));
	} else {
		float s = 0;
		for (int i = 0; i < ch; i++)
			s += c->mean[i];
		float tau = s / (float)ch / (1.0f + expf(-c->alpha[0]));
		for (int i = 0; i < ch; i++)
			c->tau[i] = tau;
	}
}

/* pool "attention" over the head activation f [t_last][c_last]: a score per
 * frame (a 1x1 convolution to one channel), a softmax over time, and the
 * weighted sum of the frames (model.py's DRSN.forward). */
static void attention_pool(drsn_ctx *c, const struct drsn_model *m, const struct drsn__arch *A,
			   const struct drsn__kernels *K)
{
	int t = A->t_last, ch = A->c_last;
	float mx = 0, s = 0;
	for (int j = 0; j < t; j++) {
		K->fc(&c->score[j], c->f + (size_t)j * ch, m->att_w, m->att_b, ch, 1);
		mx = !j || c->score[j] > mx ? c->score[j] : mx;
	}
	for (int j = 0; j < t; j++)
		s += c->score[j] = expf(c->score[j] - mx);
	memset(c->pooled, 0, (size_t)ch * sizeof *c->pooled);
	for (int j = 0; j < t; j++) {
		const float w = c->score[j] / s, *row = c->f + (size_t)j * ch;
		for (int i = 0; i < ch; i++)
			c->pooled[i] += w * row[i];
	}
}

/* PCEN (model.py's PCEN) of the window x [frames][bands] of log-mels, in
 * place: E = exp(x), M[0] = E[0], M[t] = (1 - s) M[t-1] + s E[t],
 * out = (E / (eps + M)^alpha + delta)^r - delta^r, per band. */
static void pcen(float *x, float *m_state, const struct drsn_model *m, int frames, int bands)
{
	const float eps = 1e-6f;
	for (int t = 0; t < frames; t++) {
		float *row = x + (size_t)t * bands;
		for (int b = 0; b < bands; b++) {
			float e = expf(row[b]);
			float mm = t ? (1.0f - m->pcen_s[b]) * m_state[b] + m->pcen_s[b] * e : e;
			m_state[b] = mm;
			row[b] = powf(e / powf(eps + mm, m->pcen_alpha[b]) + m->pcen_delta[b], m->pcen_r[b]) -
				 m->pcen_dr[b];
		}
	}
}

DRSN_API int drsn_ctx_run(drsn_ctx *c, const float *features, float *probs)
{
	if (!c || !features)
		return -EINVAL;
	const struct drsn_model *m = c->m;
	const struct drsn__arch *A = &m->arch;
	const struct drsn__kernels *K = drsn__kernels_get();

	/* Input window into the padded buffer (its halo rows are always zero). */
	size_t n_in = (size_t)A->frames * A->bands;
	for (size_t i = 0; i < n_in; i++)
		if (!isfinite(features[i]))
			return -EINVAL;
	memcpy(c->in + (size_t)(A->k0 / 2) * A->bands, features, n_in * sizeof *features);
	if (A->pcen)
		pcen(c->in + (size_t)(A->k0 / 2) * A->bands, c->pcen_m, m, A->frames, A->bands);
	K->conv1d(c->io[0], c->in, m->stem_w, m->stem_b, A->t0, A->bands, A->c0, A->k0, A->s0);

	int cur = 0;
	for (int i = 0; i < A->n_units; i++) {
		const struct drsn__unit_plan *up = &m->units[i];
		const struct drsn__unit_arch *u = up->a;
		const float *x = c->io[cur];
		float *y = c->io[cur ^ 1];
		int p = u->k / 2;

		/* f = conv2(relu(bn2(conv1(relu(bn1(x)))))), BN2 folded into conv1 */
		zero_halo(c->a, u->t_in, p, u->cin);
		K->affine_relu(c->a + (size_t)p * u->cin, x, up->bn1_scale, up->bn1_shift, u->t_in, u->cin);
		float *bi = c->b + (size_t)p * u->cout;
		K->conv1d(bi, c->a, up->w1, up->b1, u->t_out, u->cin, u->cout, u->k, u->s);
		K->affine_relu(bi, bi, m->ones, m->zeros, u->t_out, u->cout);
		zero_halo(c->b, u->t_out, p, u->cout);
		K->conv1d(c->f, c->b, up->w2, NULL, u->t_out, u->cout, u->cout, u->k, 1);

		const float *tau = m->zeros;
		if (up->n2) {
			K->mean_time(c->mean, c->f, u->t_out, u->cout, 1);
			threshold(c, K, up);
			tau = c->tau;
		}
		if (up->pw) {
			K->conv1d(c->p, x, up->pw, up->pb, u->t_out, u->cin, u->cout, 1, u->s);
			K->shrink_add(y, c->f, tau, c->p, u->t_out, u->cout, u->cout, 1, 0);
		} else {
			K->shrink_add(y, c->f, tau, x, u->t_out, u->cout, u->cin, u->s,
				      (u->cout - u->cin) / 2);
		}
		cur ^= 1;
	}

	/* head: BN -> ReLU -> pool over time -> FC */
	K->affine_relu(c->f, c->io[cur], m->head_scale, m->head_shift, A->t_last, A->c_last);
	if (m->att_w)
		attention_pool(c, m, A, K);
	else
		K->mean_time(c->pooled, c->f, A->t_last, A->c_last, 0);
	K->fc(c->logits, c->pooled, m->fc_w, m->fc_b, A->c_last, A->classes);
	/* Finite but huge features (|x| ~ 1e36 and up; a front end gives at
	 * most a few hundred) overflow float32 inside the network. */
	for (int i = 0; i < A->classes; i++)
		if (!isfinite(c->logits[i]))
			return -ERANGE;

	if (probs) {
		float mx = c->logits[0], s = 0;
		for (int i = 1; i < A->classes; i++)
			mx = c->logits[i] > mx ? c->logits[i] : mx;
		for (int i = 0; i < A->classes; i++)
			s += probs[i] = expf(c->logits[i] - mx);
		for (int i = 0; i < A->classes; i++)
			probs[i] /= s;
	}
	return 0;
}
