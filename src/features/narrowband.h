/*
 * Audio whose rate is below the model's (an 8 kHz telephone recording or
 * Bluetooth hands-free microphone, for a 16 kHz model): resampling brings it
 * to the model's rate, but it has nothing above half its own rate, and the
 * upper mel bands the model was trained on stay empty. drsn detect/classify
 * and drsnd say so once (models/README.md, "Narrowband audio", has the
 * accuracy it costs the shipped model).
 */
#ifndef DRSN_SRC_FEATURES_NARROWBAND_H
#define DRSN_SRC_FEATURES_NARROWBAND_H

#include <stddef.h>

#include "drsn/features.h"

/* If source_rate Hz cannot carry the front end p's top band (source_rate is
 * below p->sample_rate and half of it below p->f_max): the note, one
 * sentence without a newline, in out[n] (n > 0; cut short if it does not
 * fit), and 1. Else out is "" and 0 (also for source_rate <= 0: unknown). */
int drsn__narrowband_note(int source_rate, const drsn_features_params *p, char *out, size_t n);

#endif
