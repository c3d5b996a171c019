/*
 * Client PCM -> the model's input: mono float at the model's sample rate.
 *
 * Wyoming audio is little-endian interleaved PCM described by rate (Hz),
 * width (bytes per sample) and channels. Accepted: width 2 (s16), 3 (s24),
 * 4 (s32, or f32 when the converter was made with float4), 1..8 channels
 * (averaged to mono), rates 4000..192000 Hz (anything but the model rate goes
 * through libsoxr, the project's resampler, with the same HQ recipe).
 *
 * Payload bytes may arrive split anywhere, even inside a frame: a partial
 * frame is carried to the next feed. Output goes to a sink in blocks (of at
 * most a few thousand samples). All buffers are allocated by create; start()
 * makes a libsoxr object only when the input rate changes.
 */
#ifndef DRSN_PLUGIN_WYOMING_PCM_H
#define DRSN_PLUGIN_WYOMING_PCM_H

#include <stddef.h>
#include <stdint.h>

#define WY_PCM_MIN_RATE 4000
#define WY_PCM_MAX_RATE 192000
#define WY_PCM_MAX_CHANNELS 8

typedef struct wy_pcm wy_pcm;

/* Mono float samples at the output rate. Non-zero return stops the feed. */
typedef int (*wy_pcm_sink)(void *user, const float *x, size_t n);

/* out_rate: the model's rate. float4: width 4 means float32 (else int32).
 * 0, -EINVAL, -ENOMEM. */
int wy_pcm_create(wy_pcm **out, int out_rate, int float4);
void wy_pcm_destroy(wy_pcm *c);

/* Begin a stream in this format (ends none: call finish first to keep the
 * resampler's tail). 0, or -EINVAL with a message naming the field. */
int wy_pcm_start(wy_pcm *c, int rate, int width, int channels, char *err, size_t err_size);

/* 1 when a stream was started and rate/width/channels equal it. */
int wy_pcm_same_format(const wy_pcm *c, int rate, int width, int channels);

/* Convert n bytes of the started stream. 0, -EINVAL (no stream), -EIO
 * (libsoxr), or the sink's non-zero return. */
int wy_pcm_feed(wy_pcm *c, const uint8_t *p, size_t n, wy_pcm_sink sink, void *user);

/* End the stream: push the resampler's tail, drop a partial frame. The next
 * stream needs start() again. */
int wy_pcm_finish(wy_pcm *c, wy_pcm_sink sink, void *user);

/* Input frames seen since start (whole frames only). */
int64_t wy_pcm_frames_in(const wy_pcm *c);

#endif
