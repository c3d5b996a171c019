/* The down-mix to mono, shared by drsn_audio (audio.c) and drsnd's pa:
 * callback (daemon/source_pa.c). No allocation, lock or I/O: real-time safe. */
#ifndef DRSN_AUDIO_MIX_H
#define DRSN_AUDIO_MIX_H

#include <stddef.h>
#include <stdint.h>

/* n frames of ch interleaved channels in src -> n mono samples in out: the
 * average of the channels in select (bit c: channel c + 1) that are in
 * *live. A selected channel joins *live (and *n_live) at its first non-zero
 * sample and stays: a channel that has been digital silence from the start
 * does not halve the level of the others (drsn/audio.h, "Channels"). Start
 * a stream with *live = 0, *n_live = 0. */
/* The mask of channels 1..ch (what "mix" averages). */
static inline uint64_t drsn__audio_all_channels(int ch)
{
	return ch >= 64 ? UINT64_MAX : ((uint64_t)1 << ch) - 1;
}

/* The highest channel (1-based) in mask, 0 for none: how many channels a
 * source must have for it. */
static inline int drsn__audio_top_channel(uint64_t mask)
{
	return mask ? 64 - __builtin_clzll(mask) : 0;
}

void drsn__audio_mix(const float *src, size_t n, int ch, uint64_t select, uint64_t *live,
		     int *n_live, float *out);

#endif
