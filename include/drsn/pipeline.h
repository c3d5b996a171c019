/*
 * drsn/pipeline.h - streaming keyword detection: audio in, detections out.
 *
 * The one pipeline that both drsnd (live) and `drsn detect` (offline) run,
 * so they give the same detections on the same audio:
 *
 *   audio --> log-mel front end, one frame per hop (drsn_features), kept in a
 *             ring of the model's window of frames
 *         --> every inference hop (default 100 ms): the network over the
 *             last window (drsn_ctx_run) -> label probabilities
 *         --> smoothing: mean of the probabilities over the last smoothing
 *             span (default 300 ms)
 *         --> a label fires when its smoothed probability reaches its
 *             threshold (a global default, per-label overrides), unless it
 *             fired within its refractory time (default 1 s). When several
 *             labels cross at once only the most probable fires. Labels
 *             whose name starts with '_' ("_silence_", "_unknown_") never fire.
 *
 * Before the first full window the ring holds digital-silence frames, so a
 * keyword at the very start of a stream can still be found. At the end of a
 * finite stream (a file), drsn_pipeline_finish() pushes one window of
 * digital silence, so a keyword in its last second is scored as fully as one
 * in the middle.
 *
 * Optional voice-activity gating (opts.vad): a block of one front-end hop
 * (hop_length samples, 10 ms for the shipped models) whose RMS is above
 * vad_threshold_db (dBFS) is voice; inference is skipped (and the smoothing
 * history cleared) while no voice was seen for vad_hangover_ms.
 *
 * Times are seconds of stream time (samples pushed / sample rate). A
 * detection's [start, end] is the model window (window length, e.g. 0.995 s)
 * that gave the label its highest raw probability within the smoothing span.
 *
 * All memory is allocated by create: push never allocates. One handle is
 * not thread-safe (one per stream); pipelines on one shared model are
 * independent of each other.
 */
#ifndef DRSN_PIPELINE_H
#define DRSN_PIPELINE_H

#include <stdint.h>

#include "drsn/common.h"
#include "drsn/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drsn_pipeline drsn_pipeline;

/* The ranges drsn_pipeline_create accepts: drsnd.conf's [detect] keys and
 * drsn detect's options are checked against the same ones. */
#define DRSN_PIPELINE_HOP_MS_MIN 10
#define DRSN_PIPELINE_HOP_MS_MAX 10000
#define DRSN_PIPELINE_SMOOTHING_MS_MAX 10000
#define DRSN_PIPELINE_REFRACTORY_MS_MAX 600000
#define DRSN_PIPELINE_VAD_DB_MIN (-150)
#define DRSN_PIPELINE_HANGOVER_MS_MAX 600000

typedef struct drsn_pipeline_opts {
	int inference_hop_ms;     /* run the network this often [100], rounded to
				     whole front-end hops (drsn_pipeline_hop_s) */
	int smoothing_ms;         /* mean of probabilities over this span [300],
				     rounded to whole inferences; 0 = none */
	float threshold;          /* default per-label threshold [0.8] */
	const float *thresholds;  /* NULL, or n_labels values (< 0 = use threshold) */
	int refractory_ms;        /* [1000] */
	int vad;                  /* voice-activity gating [0] */
	float vad_threshold_db;   /* [-50] */
	int vad_hangover_ms;      /* [500] */
} drsn_pipeline_opts;

DRSN_API void drsn_pipeline_opts_default(drsn_pipeline_opts *o);

typedef struct drsn_detection {
	int label;                /* index into the model's labels */
	const char *name;         /* the label */
	float score;              /* smoothed probability that fired */
	double start, end;        /* stream time, seconds */
	double time;              /* stream time of the inference that fired */
} drsn_detection;

/* Callbacks, each may be NULL. Pointers are valid during the call only. They
 * run inside push/finish and must not push, finish, reset or destroy p.
 * From C++: they must not throw (drsn/common.h, "C++"); catch inside. */
typedef struct drsn_pipeline_events {
	void (*detection)(void *user, const drsn_detection *d);
	/* After every inference: t = stream time of the window's end. */
	void (*scores)(void *user, double t, const float *probs, const float *smoothed, int n_labels);
	/* When the voice-activity state changes (only with opts.vad). */
	void (*vad)(void *user, double t, int active);
} drsn_pipeline_events;

typedef struct drsn_pipeline_stats {
	int64_t samples;          /* pushed, and finish's silence */
	int64_t frames;           /* feature frames computed */
	int64_t inferences;       /* network runs */
	int64_t vad_skipped;      /* inferences skipped as silence */
	int64_t detections;
	double inference_cpu_s;   /* thread CPU time in the network */
} drsn_pipeline_stats;

/* The model must outlive the pipeline. o may be NULL (the defaults); options
 * are validated (err names the field) and copied, thresholds too; the
 * model's front end is created from its metadata. */
DRSN_API int drsn_pipeline_create(drsn_pipeline **out, const drsn_model *m,
				  const drsn_pipeline_opts *o, drsn_error *err);
DRSN_API void drsn_pipeline_destroy(drsn_pipeline *p);

/* Feed n mono samples at the model's sample rate; callbacks run for what
 * they complete. NaN/Inf samples are taken as 0 (as by the denoiser), so one
 * bad sample cannot make the windows that hold it unusable. 0, or -EINVAL
 * (NULL p, or NULL x with n > 0). */
DRSN_API int drsn_pipeline_push(drsn_pipeline *p, const float *x, size_t n,
				const drsn_pipeline_events *ev, void *user);

/* End of a finite stream: push one window of digital silence (window_s of
 * zeros), so that every window that holds any of the audio is scored, as at
 * the start (with VAD gating, only while its hangover lasts). Detections and
 * scores it completes go to ev as from push; stream time runs on through the
 * silence, but a detection's end is capped at the end of the audio (as its
 * start is at 0). Never allocates. Push may continue after it (the silence
 * stays part of the stream); reset starts a new one. 0, or -EINVAL (NULL p). */
DRSN_API int drsn_pipeline_finish(drsn_pipeline *p, const drsn_pipeline_events *ev, void *user);

/* Start a new stream: forget audio, frames, smoothing and refractory state;
 * stream time restarts at 0. Counters are kept. */
DRSN_API void drsn_pipeline_reset(drsn_pipeline *p);

DRSN_API void drsn_pipeline_get_stats(const drsn_pipeline *p, drsn_pipeline_stats *st);

/* Stream time of the samples pushed so far, seconds. */
DRSN_API double drsn_pipeline_time(const drsn_pipeline *p);

/* Model window length and inference hop, seconds (for clients). */
DRSN_API double drsn_pipeline_window_s(const drsn_pipeline *p);
DRSN_API double drsn_pipeline_hop_s(const drsn_pipeline *p);

#ifdef __cplusplus
}
#endif
#endif
