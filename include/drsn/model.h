/*
 * drsn/model.h - DRSN model files and the inference engine.
 *
 * A model is a Deep Residual Shrinkage Network (Zhao et al. 2020) in its 1-D
 * form: log-mel features (frames x bands, time-major, exactly what the front
 * end produces) go through a stem convolution, residual shrinkage building
 * units (RSBU-CW, RSBU-CS, or plain residual units for the "resnet"
 * baseline), BN, ReLU, global average pooling over time and one fully
 * connected layer. Softmax of the logits gives the label probabilities.
 *
 * Files are safetensors: an 8-byte little-endian header length, a JSON
 * header, then raw little-endian float32 tensors named as in the PyTorch
 * state_dict of train/drsn/model.py. The header's "__metadata__" holds
 * string values (nested JSON is stored as a JSON string):
 *   "format"          "drsn-model"
 *   "format_version"  "1"
 *   "architecture"    {"variant":"cw"|"cs"|"resnet", "bands":40, "frames":98,
 *                      "stem":{"channels":32,"kernel":3,"stride":1},
 *                      "units":[{"channels":32,"kernel":3,"stride":1},...],
 *                      "shortcut":"zero_pad"|"projection", "bn_eps":1e-5,
 *                      "classes":12, optional "input":"log"|"pcen",
 *                      optional "pool":"mean"|"attention"}
 *                     "pcen" puts a trainable per-channel energy
 *                     normalisation (Wang et al. 2017) of each window
 *                     before the stem: from E = exp(log-mel),
 *                     M[0] = E[0], M[t] = (1-s) M[t-1] + s E[t],
 *                     (E / (1e-6 + M)^alpha + delta)^r - delta^r per band,
 *                     with tensors pcen.log_s/log_alpha/log_delta/log_r
 *                     [bands] holding the logs (s is capped at 1). It is
 *                     computed per window, so streaming and one-shot
 *                     classification give the same result.
 *                     The head pools its frames by their mean, or with
 *                     "attention" by softmax_t(s) where s_t is a 1x1
 *                     convolution of the frame to one channel (tensors
 *                     att.weight [1][c_last][1] and att.bias [1]).
 *   "frontend"        the drsn_features_params JSON (drsn/features.h)
 *   "labels"          JSON array of the class names, in logit order:
 *                     distinct, 1-255 bytes of valid UTF-8 without control
 *                     characters each (a file with others does not load)
 *   "provenance"      JSON object: training data, command, seed, date,
 *                     measured accuracy (free-form, shown by `drsn info`)
 *
 * Loading validates everything before use (header length against the file
 * size, the JSON, dtypes, shapes against the architecture, offsets in range,
 * ordered and covering the data exactly, finite values, the label count, the
 * front-end parameters) and fails with a message naming the field or tensor.
 * A model is immutable after load: share one drsn_model read-only between
 * any number of threads, each with its own drsn_ctx.
 *
 * Every buffer is planned when the model is loaded and the context created:
 * drsn_ctx_run() never allocates, locks or blocks.
 *
 * Making and inspecting files: train/train.py exports what it trains;
 *   /usr/bin/python3 train/export.py --random --variant cw --arch default -o m.safetensors
 * writes a random-init model (BN statistics randomised) of the shipped size
 * (222k parameters, 6.3 M MACs per 1 s window); `drsn info m.safetensors`
 * prints what a file holds.
 */
#ifndef DRSN_MODEL_H
#define DRSN_MODEL_H

#include "drsn/common.h"
#include "drsn/features.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drsn_model drsn_model;   /* weights + plan, read-only after load */
typedef struct drsn_ctx drsn_ctx;       /* per-stream activations */

/* Load a .safetensors model (the file is mmap'd while loading and unmapped
 * before return: the model keeps its own re-laid-out, BN-folded weights).
 * Errors: -ENOENT/-EACCES/-EIO opening the file (-EINVAL: not a regular
 * file), -EBADMSG for a malformed or inconsistent file, -ENOTSUP for an
 * unsupported dtype (F32 only), format version or variant, -EINVAL for
 * front-end parameters the C front end does not support, -ENOMEM, -EFBIG
 * for a file larger than the address space (4 GiB with a 32-bit size_t).
 * err->msg starts with the path and names the field or tensor at fault. */
DRSN_API int drsn_model_load(drsn_model **out, const char *path, drsn_error *err);

/* The same from a buffer (len bytes; not kept after return). Messages start
 * with "<memory>". This is the fuzzing entry point: any bytes are safe. */
DRSN_API int drsn_model_load_memory(drsn_model **out, const void *buf, size_t len,
				    drsn_error *err);

DRSN_API void drsn_model_free(drsn_model *m);

/* The model to load when none is given: $DRSN_MODEL if set; else the
 * installed default (<datadir>/drsnd/models/default.safetensors) if it
 * exists; else (for a program run from its build tree, which links to its
 * source tree) the models/kws20-drsn-cw.safetensors of that source tree, if
 * it exists; else the installed path (so the load error names where the
 * model was expected). Never NULL; the string is static, or the
 * environment's (valid until DRSN_MODEL changes). */
DRSN_API const char *drsn_default_model_path(void);

/* ---- what the model is ------------------------------------------------- */

DRSN_API int drsn_model_n_labels(const drsn_model *m);
/* Label i (0 <= i < n_labels), or NULL if out of range. */
DRSN_API const char *drsn_model_label(const drsn_model *m, int i);
/* Input window: frames x bands floats, time-major. */
DRSN_API int drsn_model_frames(const drsn_model *m);
DRSN_API int drsn_model_bands(const drsn_model *m);
/* The front end the model was trained with (n_mels == drsn_model_bands). */
DRSN_API const drsn_features_params *drsn_model_features_params(const drsn_model *m);
/* "cw", "cs" or "resnet". */
DRSN_API const char *drsn_model_variant(const drsn_model *m);
/* Trainable parameters (as torch's sum(p.numel() for p in parameters())). */
DRSN_API int64_t drsn_model_n_params(const drsn_model *m);
/* Multiply-accumulates for one window (convolutions + fully connected). */
DRSN_API int64_t drsn_model_macs(const drsn_model *m);
/* A "__metadata__" string value ("architecture", "frontend", "labels",
 * "provenance", "format_version", or any extra key), NULL if absent. */
DRSN_API const char *drsn_model_metadata(const drsn_model *m, const char *key);

/* ---- running it --------------------------------------------------------- */

/* A per-stream context: all activation buffers for one window. The model
 * must outlive it. */
DRSN_API int drsn_ctx_create(drsn_ctx **out, const drsn_model *m, drsn_error *err);
DRSN_API void drsn_ctx_destroy(drsn_ctx *c);

/* Run one window. features: drsn_model_frames() x drsn_model_bands() floats,
 * time-major ([t][band]). probs: drsn_model_n_labels() floats (softmax) or
 * NULL. Uses the SIMD path selected at the time of the call (DRSN_SIMD /
 * drsn_simd_select). No allocation. Returns 0 (logits and probs finite), or
 * -EINVAL for NULL args or a non-finite feature value, or -ERANGE when
 * finite but absurd features (far outside any log-mel range) overflow the
 * network; on error probs is not written and the logits are unspecified. */
DRSN_API int drsn_ctx_run(drsn_ctx *c, const float *features, float *probs);

/* The logits of the last drsn_ctx_run (n_labels floats, owned by c and
 * overwritten by its next run). */
DRSN_API const float *drsn_ctx_logits(const drsn_ctx *c);

#ifdef __cplusplus
}
#endif
#endif
