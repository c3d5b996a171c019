/* The pipeline's detector stage, for `drsn tune` (src/cli/cmd_tune.c), which
 * replays it over recorded smoothed scores at other thresholds and must
 * decide exactly as drsn_pipeline does (pipeline.c's infer() calls the same
 * function). */
#ifndef DRSN_SRC_PIPELINE_DETECTOR_H
#define DRSN_SRC_PIPELINE_DETECTOR_H

#include "drsn/pipeline.h"

/* The label that fires at an inference at stream time t with these smoothed
 * probabilities, or -1: of the labels that may fire (fires[l]), whose
 * smoothed[l] >= thr[l] and which did not fire within refractory_s
 * (t - last_fire[l] < refractory_s), the most probable (the lowest index on
 * a tie). Labels are not independent: when several cross at once only one
 * fires, and only its last_fire moves. */
int drsn__detector_pick(const float *smoothed, const float *thr, const char *fires,
			const double *last_fire, double refractory_s, double t, int n_labels);

/* Inside a scores callback of p: how many inferences back (0 = this one)
 * the window lies that a detection of label would report (its highest raw
 * probability within the smoothing span); the detection's end is that
 * inference's t. */
int drsn__pipeline_peak_back(const drsn_pipeline *p, int label);

/* p's refractory time in seconds, and which labels may fire (n_labels flags). */
double drsn__pipeline_refractory_s(const drsn_pipeline *p);
const char *drsn__pipeline_fires(const drsn_pipeline *p);

/* How many of p's inferences failed since it was created (drsn_ctx_run < 0:
 * weights or features that overflow float32): they give no scores and are
 * not in drsn_pipeline_stats' inferences. For drsnd, which says so. */
int64_t drsn__pipeline_failed(const drsn_pipeline *p);

#endif
