/*
 * The safetensors container, validated: an 8-byte little-endian header
 * length, a JSON header ({name: {"dtype","shape","data_offsets"}, ...,
 * "__metadata__": {str: str}}), then the data section. drsn__st_parse checks
 * the whole container (lengths, JSON, types, dtypes, shapes, offsets in range,
 * ordered and covering the data section exactly with no overlap and no gap,
 * unique names) before anything reads a tensor. It knows nothing about DRSN.
 */
#ifndef DRSN_SRC_ENGINE_SAFETENSORS_H
#define DRSN_SRC_ENGINE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drsn/common.h"

#define DRSN__ST_MAX_DIMS 8
#define DRSN__ST_MAX_TENSORS 4096
#define DRSN__ST_MAX_META 256

struct cJSON;

struct drsn__st_tensor {
	const char *name;                  /* owned by the parsed JSON */
	int ndim;
	int64_t shape[DRSN__ST_MAX_DIMS];
	int64_t numel;
	const unsigned char *data;         /* numel little-endian float32, maybe unaligned */
};

struct drsn__st_file {
	struct cJSON *root;                /* the header JSON */
	struct cJSON *metadata;            /* its "__metadata__" object or NULL */
	int n;
	struct drsn__st_tensor *t;         /* sorted by name */
};

/* Parse and validate buf (len bytes; must stay valid while f is used).
 * what names the source in messages ("x.safetensors", "<memory>").
 * Errors: -EBADMSG malformed, -ENOTSUP dtype other than F32, -ENOMEM. */
int drsn__st_parse(struct drsn__st_file *f, const void *buf, size_t len,
		   const char *what, drsn_error *err);
void drsn__st_free(struct drsn__st_file *f);

/* The tensor called name, or NULL. */
const struct drsn__st_tensor *drsn__st_find(const struct drsn__st_file *f, const char *name);

/* A "__metadata__" string value, or NULL if absent. */
const char *drsn__st_meta(const struct drsn__st_file *f, const char *key);

/* Element i of t as a float (byte order and alignment handled). */
static inline float drsn__st_get(const struct drsn__st_tensor *t, int64_t i)
{
	uint32_t u;
	float v;
	memcpy(&u, t->data + 4 * i, sizeof u);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	u = __builtin_bswap32(u);
#endif
	memcpy(&v, &u, sizeof v);
	return v;
}

/* "[a,b,c]" into s (n bytes). */
void drsn__st_shape_str(char *s, size_t n, int ndim, const int64_t *shape);

#endif
