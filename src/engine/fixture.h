/*
 * Test-only: build DRSN model files in memory, and run the network by the
 * book (PyTorch layouts, no BN folding, double precision) as an independent
 * reference for the engine. Tests mutate a fixture (drop a tensor, change a
 * shape, poke a NaN, edit metadata, override offsets) before serialising it.
 */
#ifndef DRSN_SRC_ENGINE_FIXTURE_H
#define DRSN_SRC_ENGINE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#define FX_MAX_TENSORS 600

struct fx_arch {
	const char *variant;     /* "cw", "cs", "resnet" */
	int bands, frames;
	int c0, k0, s0;
	int n_units;
	int units[16][3];        /* channels, kernel, stride */
	const char *shortcut;    /* "zero_pad" or "projection" */
	int classes;
	int pcen;                /* 1: "input":"pcen" and the pcen.log_* tensors */
	int attention;           /* 1: "pool":"attention" and the att.* tensors */
};

struct fx_tensor {
	char name[64];
	int ndim;
	int64_t shape[4];
	int64_t numel;
	float *data;
	int64_t off[2];          /* data_offsets to write; {-1,-1}: automatic */
	const char *dtype;       /* NULL: "F32" */
};

struct fx_model {
	struct fx_arch arch;
	int n;
	struct fx_tensor t[FX_MAX_TENSORS];
	char *meta_format, *meta_version, *meta_arch, *meta_frontend, *meta_labels, *meta_prov;
};

/* A valid random model (deterministic in seed). */
void fx_init(struct fx_model *m, const struct fx_arch *a, uint32_t seed);
void fx_free(struct fx_model *m);
struct fx_tensor *fx_find(struct fx_model *m, const char *name);
void fx_remove(struct fx_model *m, const char *name);
/* Replace one metadata string (e.g. &m->meta_labels); NULL removes it. */
void fx_set(char **field, const char *value);

/* The safetensors bytes (malloc'd; *len set). */
unsigned char *fx_serialize(const struct fx_model *m, size_t *len);

/* Serialise and load with drsn_model_load_memory; NULL (message on stderr)
 * on failure. */
struct drsn_model;
struct drsn_model *fx_load(const struct fx_model *m);

/* Reference forward pass: logits[classes] for x[frames][bands]. */
void fx_forward(const struct fx_model *m, const float *x, double *logits);

/* Deterministic uniform in [lo, hi). */
float fx_uniform(uint32_t *state, float lo, float hi);

#endif
