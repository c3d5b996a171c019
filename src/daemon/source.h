/*
 * Audio sources for drsnd. Each delivers mono float samples at the model's
 * rate to on_audio, on the loop thread, in chunks of at most `chunk` samples.
 *
 *   pa:[DEVICE]  PortAudio capture (source_pa.c). DEVICE: empty = default
 *                input, a number = device index, else a case-insensitive
 *                name substring. The device's native rate (or device_rate)
 *                is resampled with drsn_resampler. The real-time callback
 *                only copies into a lock-free ring and calls uv_async_send.
 *                When the device fails or stalls: close, retry with
 *                exponential backoff; the daemon stays up. Opening and
 *                closing run on libuv's threadpool (a hung sound server
 *                blocks them, never the loop); state "starting" until a
 *                stream is open and its first audio has come (every
 *                source: "running" means samples have been delivered). A stop waits for a job that hangs
 *                (the signals are back to their default then: a second
 *                SIGTERM or Ctrl-C ends drsnd at once; the unit's
 *                TimeoutStopSec is 10 s). A host suspend (CLOCK_BOOTTIME
 *                ran on while CLOCK_MONOTONIC, the loop's, stood still) is
 *                noticed within 250 ms of the resume: logged, counted
 *                (suspends) and told to on_suspend.
 *   file:PATH    any file libsndfile reads (drsn_audio_*): paced at real
 *                time with a uv timer, or as fast as possible (one chunk per
 *                loop turn, so clients are still served).
 * Every source averages the channels in `channels` (0: all) to mono,
 * leaving out those that have been digital silence from the start
 * (drsn/audio.h, "Channels"); one beyond what the file, raw_channels or the
 * device has is an error naming both numbers (pa:: a retry, as an absent
 * device).
 *   stdin, fd:N  raw PCM (raw_format/raw_rate/raw_channels) read by a helper
 *                thread with drsn_audio_open_fd into the same kind of ring.
 *                The reader waits when the ring is full (no loss on pipes).
 * Every source's delivered samples are checked for a level that hears
 * nothing (source.c, on the loop): digital silence for 10 s, a 30 s window
 * peaking below -50 dBFS, or clipping; logged with the fix for the kind of
 * source, and in the stats (health, peak_dbfs, clipped...).
 */
#ifndef DRSN_DAEMON_SOURCE_H
#define DRSN_DAEMON_SOURCE_H

#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "drsn/common.h"

struct drsn__source;

struct drsn__source_opts {
	const char *spec;        /* "pa:", "pa:USB", "file:x.wav", "stdin", "fd:3" */
	int target_rate;         /* Hz, the model's */
	int chunk;               /* most samples per on_audio call */
	int realtime;            /* file: pace */
	const char *raw_format;  /* stdin/fd */
	int raw_rate, raw_channels;
	uint64_t channels;       /* the channels averaged to mono (drsn_audio_parse_channels): 0 = all */
	int device_rate;         /* pa: 0 = default */
	int latency_ms;          /* pa: 0 = device low default */
	int ring_ms;
	int retry_min_ms, retry_max_ms, stall_ms;
};

enum drsn__source_state {
	DRSN_SRC_STARTING,
	DRSN_SRC_RUNNING,
	DRSN_SRC_RETRYING,       /* pa: device failed, waiting to retry */
	DRSN_SRC_ENDED,          /* file/stdin/fd: end of stream reached */
	DRSN_SRC_FAILED,         /* file/stdin/fd: read error (see detail) */
};

struct drsn__source_events {
	void (*on_audio)(void *user, const float *x, size_t n);
	/* State changes; detail is a sentence for logs and clients. */
	void (*on_state)(void *user, enum drsn__source_state st, const char *detail);
	/* pa: the host was suspended for `seconds` (noticed within
	 * STALL_CHECK_MS of the resume, logged and counted already): the audio
	 * before and after it are not one stream. May be NULL. */
	void (*on_suspend)(void *user, double seconds);
};

struct drsn__source_stats {
	uint64_t samples;            /* delivered, at the target rate */
	uint64_t overflows;          /* blocks dropped: ring full */
	uint64_t overflow_samples;
	uint64_t device_overflows;   /* PortAudio paInputOverflow */
	uint64_t restarts;           /* pa: back to "running" (audio again) after a failure */
	double behind_s;             /* audio captured but not yet processed (the ring), s */
	double lost_s;               /* audio dropped (overflow_samples in seconds) */
	uint64_t bad_samples;        /* NaN, infinite or beyond +-DRSN_AUDIO_MAX_SAMPLE: read
				        as 0 or clipped, before any resampling (audio.h) */
	int state;                   /* enum drsn__source_state */
	/* The channels averaged to mono (bit c-1: channel c; [audio] channel,
	 * or all of them for mix), of device_channels the source delivers
	 * (pa: the stream as opened, not what the device may offer); both 0
	 * while not known (a pa: device not open yet). */
	uint64_t channels;
	int device_channels;
	/* pa: with [audio] channel, those of channels that have been digital
	 * silence (every sample exactly 0) since the stream opened while
	 * another channel was not; 0 before the first audio */
	uint64_t silent_channels;
	int source_rate;             /* Hz of the audio as it comes (the file's, raw_rate, the
				        device's stream), before resampling; 0 until known */
	/* pa: host suspends seen (CLOCK_BOOTTIME ran on while CLOCK_MONOTONIC
	 * stood still), their seconds in all, and the last one's */
	uint64_t suspends;
	double suspended_s, last_suspend_s;
	/* The level check (source.c: every source, on the loop side, over the
	 * samples delivered): "unknown" (less than a window of audio yet),
	 * "ok", "silent" (digital silence for SILENCE_S or more), "low" (the
	 * last window's loudest sample below LOW_DBFS, and no window's above),
	 * "quiet" (the same after a window above it: a quiet room), "clipping" (CLIP_SHARE
	 * or more of the last window's samples at or near full scale) */
	const char *health;
	int peak_known;              /* 0 before any audio */
	double peak_dbfs;            /* loudest sample of the last window (of the audio so far
				        before the first), dBFS; -200 for digital silence */
	uint64_t clipped;            /* samples at or near full scale since the start */
	double clipped_share;        /* their share of the last window's samples */
	double silence_s;            /* digital silence (exact zeros) up to now, s */
};

/* Parse the spec, open what can be opened now (files are opened here, so a
 * missing file is reported at start-up). A pa: device that is absent at
 * start is not an error: the source retries. */
/* Notes which descriptors are open now: call first thing in main, before
 * libuv or any library opens one. An fd:N source whose N was not open then
 * is refused (else it could read one of libuv's own pipes). Without the
 * call, fd:N is only checked to be open. */
void drsn__source_note_inherited_fds(void);

int drsn__source_create(struct drsn__source **out, uv_loop_t *loop,
			const struct drsn__source_opts *o,
			const struct drsn__source_events *ev, void *user, drsn_error *err);
int drsn__source_start(struct drsn__source *s);
/* Stop producing and close all handles; done(user) runs once closed. */
void drsn__source_stop(struct drsn__source *s, void (*done)(void *user), void *user);
void drsn__source_get_stats(const struct drsn__source *s, struct drsn__source_stats *st);
const char *drsn__source_name(const struct drsn__source *s);
const char *drsn__source_state_name(int st);

/* Print PortAudio's input devices (drsnd --list-devices). 0 or -errno. */
int drsn__source_list_devices(FILE *f);

#endif
