/*
 * The loaded model as the runner sees it: BN folded, weights re-laid out for
 * the kernel table (src/simd/kernels.h: conv [k][cin][cout], fc [nin][nout]),
 * and the buffer sizes a context needs. Built by model.c, run by run.c.
 */
#ifndef DRSN_SRC_ENGINE_PLAN_H
#define DRSN_SRC_ENGINE_PLAN_H

#include <stddef.h>

#include "drsn/model.h"
#include "engine/arch.h"

struct drsn__unit_plan {
	const struct drsn__unit_arch *a;
	const float *bn1_scale, *bn1_shift;   /* pre-activation BN (cin), for affine_relu */
	const float *w1, *b1;                 /* conv1 with BN2 folded in: [k][cin][cout], [cout] */
	const float *w2;                      /* conv2: [k][cout][cout], no bias */
	const float *fc1_w, *fc1_b;           /* threshold FC1 with its BN folded: [cout][cout] */
	const float *fc2_w, *fc2_b;           /* threshold FC2: [cout][n2] */
	int n2;                               /* cout (CW), 1 (CS), 0 (resnet) */
	const float *pw, *pb;                 /* projection shortcut [cin][cout], [cout], or NULL */
};

/* Float counts of a context's buffers (each rounded up to 16 floats). */
struct drsn__buf_plan {
	size_t in;      /* padded input window: (frames + 2*(k0/2)) x bands */
	size_t pcen;    /* PCEN smoother state: bands (0 without PCEN) */
	size_t io;      /* one unit input/output: max t x c (two of these) */
	size_t a;       /* padded pre-activation: max (t_in + 2p) x cin */
	size_t b;       /* padded conv1 output: max (t_out + 2p) x cout */
	size_t f;       /* conv2 output / head activation: max t x c */
	size_t p;       /* projected shortcut (0 without projection) */
	size_t vec;     /* threshold branch vectors: max channels */
	size_t score;   /* pool "attention": one weight per head frame (0 for the mean) */
	size_t total;   /* everything, incl. pooled and logits */
};

struct drsn_model {
	struct drsn__arch arch;
	drsn_features_params fe;
	int64_t n_params, macs;

	float *weights;                       /* one 64-byte aligned arena */
	const float *pcen_s, *pcen_alpha;     /* input "pcen": per band s (<= 1), alpha, */
	const float *pcen_delta, *pcen_r;     /* delta, r, and delta^r; NULL for "log" */
	const float *pcen_dr;
	const float *stem_w, *stem_b;         /* [k0][bands][c0], [c0] */
	struct drsn__unit_plan units[DRSN__MAX_UNITS];
	const float *head_scale, *head_shift; /* final BN (c_last) */
	const float *att_w, *att_b;           /* pool "attention": frame scores [c_last], [1]; else NULL */
	const float *fc_w, *fc_b;             /* [c_last][classes], [classes] */
	const float *ones, *zeros;            /* max channels: ReLU via affine_relu, tau = 0 */
	struct drsn__buf_plan buf;

	char **labels;                        /* classes strings */
	int n_meta;
	char **meta_keys, **meta_vals;
};

#endif
