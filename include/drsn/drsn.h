/*
 * drsn.h - the whole public API of libdrsn.
 *
 * Include this one header. See each sub-header for its part:
 *   drsn/common.h    conventions (errors, NULL arguments, ownership, threads)
 *   drsn/version.h   version macros (compile time) and drsn_version_number()
 *   drsn/simd.h      which instruction set the engine's kernels use
 *   drsn/audio.h     reading audio files as mono float at the model's rate
 *   drsn/features.h  streaming log-mel front end
 *   drsn/model.h     DRSN model files and the inference engine
 *   drsn/denoise.h   streaming spectral-shrinkage denoiser
 *   drsn/pipeline.h  streaming keyword detection (drsnd, drsn detect)
 */
#ifndef DRSN_DRSN_H
#define DRSN_DRSN_H

#include "drsn/common.h"
#include "drsn/version.h"
#include "drsn/simd.h"
#include "drsn/audio.h"
#include "drsn/features.h"
#include "drsn/model.h"
#include "drsn/denoise.h"
#include "drsn/pipeline.h"

#endif
