/*
 * The architecture of a DRSN model, parsed from the "architecture" metadata
 * JSON (see drsn/model.h) and checked against hard limits, so that nothing
 * downstream can be asked to plan an absurd network.
 */
#ifndef DRSN_SRC_ENGINE_ARCH_H
#define DRSN_SRC_ENGINE_ARCH_H

#include <stdint.h>

#include "drsn/common.h"

#define DRSN__MAX_UNITS 64
#define DRSN__MAX_CHANNELS 1024
#define DRSN__MAX_BANDS 512
#define DRSN__MAX_FRAMES 4096
#define DRSN__MAX_KERNEL 31
#define DRSN__MAX_STRIDE 8
#define DRSN__MAX_CLASSES 4096

enum drsn__variant { DRSN__CW, DRSN__CS, DRSN__RESNET };

struct drsn__unit_arch {
	int cin, cout;      /* channels in / out (cout >= cin) */
	int k, s;           /* kernel (odd), stride */
	int t_in, t_out;    /* frames in / out: t_out = (t_in - 1) / s + 1 */
	int proj;           /* 1x1 projection shortcut (only with shortcut "projection") */
};

struct drsn__arch {
	enum drsn__variant variant;
	int pcen;                           /* input "pcen": PCEN of the window before the stem */
	int attention;                      /* pool "attention": softmax-weighted sum over time (else the mean) */
	int bands, frames;
	int c0, k0, s0, t0;                 /* stem: channels, kernel, stride, frames out */
	int n_units;
	struct drsn__unit_arch u[DRSN__MAX_UNITS];
	int projection;                     /* shortcut kind is "projection" */
	double eps;                         /* BatchNorm epsilon */
	int classes;
	int c_last, t_last;                 /* channels and frames into the head */
};

/* Parse the architecture JSON (len bytes). Every failure names the field:
 * "<what>: architecture: units[2].kernel must be odd (got 4)". */
int drsn__arch_parse(struct drsn__arch *a, const char *json, const char *what, drsn_error *err);

/* The variant's name: "cw", "cs", "resnet". */
const char *drsn__variant_name(enum drsn__variant v);

/* Trainable parameters and multiply-accumulates per window (as model.py). */
int64_t drsn__arch_params(const struct drsn__arch *a);
int64_t drsn__arch_macs(const struct drsn__arch *a);

#endif
