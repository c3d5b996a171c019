/*
 * drsn/audio.h - reading audio as float at the model's rate, and a streaming
 * resampler for live capture.
 *
 * Files are decoded with libsndfile (WAV, FLAC, OGG/Vorbis, AIFF, AU, CAF,
 * W64, MP3 when libsndfile has it, ... and headerless raw PCM when
 * opts.raw_format is set). Any source rate and channel count goes in; out
 * comes float32 (see "Sample values" below), by default mono at 16000 Hz:
 * the average of the channels that have carried signal (see "Channels"
 * below). Resampling uses libsoxr (see docs/resampler.md for why).
 *
 *     drsn_audio_opts o;
 *     drsn_audio_opts_default(&o);          // 16000 Hz, mono
 *     drsn_audio *a;
 *     drsn_error e;
 *     if (drsn_audio_open(&a, "x.wav", &o, &e) < 0) { puts(e.msg); ... }
 *     float buf[4096];
 *     long n;
 *     while ((n = drsn_audio_read(a, buf, 4096, &e)) > 0) use(buf, n);
 *     if (n < 0) puts(e.msg);               // "x.wav: ..." - never silent truncation
 *     drsn_audio_close(a);
 *
 * Errors name the file (or the name given for an fd) and the reason:
 *   -ENOENT   missing file (or a path component)
 *   -EACCES   no permission to read      -EISDIR  a directory, not a file
 *   -ENODATA  zero-length file or empty stream (0 bytes), or a valid header
 *             with zero frames (or a length left open and no frames)
 *   -ENOTSUP  not an audio format libsndfile knows (text, random bytes), an
 *             encoding it cannot decode (WAV format tag 0x0045 G.726, ...),
 *             or from a pipe a format libsndfile must seek in (FLAC, CAF,
 *             VOC, WVE, SDS, HTK: the message names it), or an RF64 from a
 *             pipe in another encoding than PCM, float, A-law, mu-law
 *   -EBADMSG  corrupt or truncated header, truncated data, decode error
 *   -ERANGE   absurd sample rate or channel count in the header or options
 *   -EINVAL   bad options (unknown raw format, ...)
 *   -EIO      an I/O error from the operating system while reading
 * No partial garbage, no silent truncation: a file cut short (a WAV, AIFF,
 * AU, W64 or RF64 whose data is shorter than its header declares, a FLAC
 * that decodes fewer frames than it promises, an Ogg with no last page)
 * hands out the frames that are there, as sox and ffmpeg read it, then every
 * read fails, saying how many of how many frames there were; a decode error
 * fails the read that meets it (the frames before it were real audio).
 * From pipes the length is unknown (source_frames -1) and the stream simply
 * ends, unless its header declares a length (WAV, AIFF, AU, RF64: not a
 * streaming writer's placeholder such as 0xFFFFFFFF) that it falls short
 * of: then the same error. A header that leaves the length open (a FLAC
 * saying 0 samples, as written to a pipe) is read to its end. MPEG audio
 * (MP3) without a length header has only libsndfile's estimate of its
 * length: it ends where the decoder ends, which is no error.
 *
 * Sample values: integer formats give [-1, 1); float formats (32/64-bit
 * float WAV, ...) give what the file holds, values a little beyond 1.0 too,
 * except that NaN and infinite samples are read as 0 and finite ones beyond
 * +-DRSN_AUDIO_MAX_SAMPLE are clipped there, before the channels are mixed
 * and resampled: one corrupt sample stays one sample, and nothing downstream
 * (front end, denoiser, network) sees a value that is not finite.
 * drsn_audio_bad_samples() counts them, so a program can warn.
 *
 * Channels: the mono output is the average of the source's channels, or of
 * the ones drsn_audio_select_channels chose, leaving out a channel for as
 * long as it has been digital silence (every sample exactly 0) since the
 * start: a USB microphone that reports two channels and records on one
 * comes out at that channel's level, not 6 dB down (measured with the
 * shipped model on samples/stream-noisy.wav at -34 dB: 9 of 10 keywords
 * mono, 2 of 10 with the second channel zero when it counted). From its
 * first non-zero sample on, a channel counts for the rest of the stream.
 * A channel with noise on it, or with the box's own playback (a mic array's
 * loopback channel), is not silence: choose the channels instead.
 *
 * Threads: separate handles may be used from separate threads at once; one
 * handle (drsn_audio or drsn_resampler) by one thread at a time.
 */
#ifndef DRSN_AUDIO_H
#define DRSN_AUDIO_H

#include <stdint.h>

#include "drsn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits on what a file (or raw options) may declare; outside -> -ERANGE. */
#define DRSN_AUDIO_MIN_RATE 1000
#define DRSN_AUDIO_MAX_RATE 768000
#define DRSN_AUDIO_MAX_CHANNELS 64

/* Largest sample magnitude delivered (2^16, +96 dBFS): beyond it a float
 * file's samples are clipped, NaN and infinities are read as 0. */
#define DRSN_AUDIO_MAX_SAMPLE 65536.0f

typedef struct drsn_audio drsn_audio;

typedef struct drsn_audio_opts {
	/* Rate of the delivered samples, Hz. Default 16000.
	 * 0 = keep the source rate (no resampling). */
	int target_rate;
	/* 0 (default): deliver mono, the average of all channels.
	 * 1: deliver the source channels interleaved (frame = channels floats). */
	int keep_channels;
	/* Headerless raw PCM: NULL (default) = detect the format from the header.
	 * Otherwise one of "u8", "s8", "s16le", "s16be", "s24le", "s24be",
	 * "s32le", "s32be", "f32le", "f32be", "f64le", "f64be", and raw_rate /
	 * raw_channels must be set too. */
	const char *raw_format;
	int raw_rate;      /* Hz, for raw_format only */
	int raw_channels;  /* for raw_format only */
} drsn_audio_opts;

/* Fill o with the defaults (16000 Hz, mono, detect format). Start from this:
 * a zeroed struct means target_rate = 0, i.e. "keep the source rate". */
DRSN_API void drsn_audio_opts_default(drsn_audio_opts *o);

typedef struct drsn_audio_info {
	int source_rate;         /* Hz, as in the file (or raw_rate) */
	int source_channels;     /* as in the file (or raw_channels) */
	int64_t source_frames;   /* frames in the file, -1 if unknown (pipes, a
				    FLAC or Ogg header that leaves it open);
				    an estimate for MP3 without a length header */
	char format[48];         /* e.g. "WAV pcm_16", "FLAC pcm_24", "OGG vorbis",
				    "MPEG layer3", "RAW f32le" */
	int sndfile_format;      /* libsndfile SF_FORMAT_* code of the source, to
				    write output in the same container/encoding */
	int out_rate;            /* Hz of what drsn_audio_read delivers */
	int out_channels;        /* 1, or source_channels with keep_channels */
	int64_t out_frames;      /* frames drsn_audio_read will deliver in total,
				    -1 if unknown; exact for files but MP3s
				    without a length header (an estimate) */
} drsn_audio_info;

/* Open a file. opts may be NULL (defaults). On failure *out is NULL, the
 * return value is a negative errno and err (if not NULL) says why. */
DRSN_API int drsn_audio_open(drsn_audio **out, const char *path,
			     const drsn_audio_opts *opts, drsn_error *err);

/* Open an already-open file descriptor: a file, or a pipe such as stdin
 * (pipes need opts->raw_format, or a format libsndfile can read from a pipe:
 * WAV, RF64, AIFF, AU, W64, Ogg, MP3, ...; not FLAC, CAF, VOC, WVE, SDS or
 * HTK, which libsndfile must seek in: -ENOTSUP naming the format, before
 * anything is read). name is used in messages ("stdin", "fd:3"; NULL -> "fd:N").
 * The fd stays open after drsn_audio_close; the caller closes it. On a pipe
 * a read blocks until about max_frames output frames' worth of input has
 * arrived (plus the resampler's delay) or the stream ends: ask for small
 * chunks (e.g. 160) to keep a live stream's latency low. */
DRSN_API int drsn_audio_open_fd(drsn_audio **out, int fd, const char *name,
				const drsn_audio_opts *opts, drsn_error *err);

/* Channel selection, "mix" or 1-based channel numbers: "mix" (all), "2",
 * "1,2,4", "1-4" (ranges and lists mixed: "1-4,6"), as drsn --channel and
 * drsnd.conf's [audio] channel take it. *mask: 0 for "mix", else bit c-1
 * for channel c (1..DRSN_AUDIO_MAX_CHANNELS). -EINVAL with err quoting the
 * text and saying why (what, e.g. "--channel", starts the message; NULL:
 * "channel"). */
DRSN_API int drsn_audio_parse_channels(const char *text, uint64_t *mask, const char *what,
				       drsn_error *err);

/* Make the mono output the average of the channels in mask (as
 * drsn_audio_parse_channels gives it; 0 = all, the default), the silent
 * ones left out as above. Call after open, before the first read, on a
 * handle opened without keep_channels (else -EINVAL). A channel beyond the
 * source's count is -ERANGE, naming the file, the channel and the count:
 * "x.wav: channel 3 asked for, but it has 2 channels". */
DRSN_API int drsn_audio_select_channels(drsn_audio *a, uint64_t mask, drsn_error *err);

/* Source and output description. */
DRSN_API void drsn_audio_get_info(const drsn_audio *a, drsn_audio_info *info);

/* Read up to max_frames (> 0) output frames (max_frames * out_channels floats)
 * into buf. Returns the number of frames written (> 0), 0 at the end, or a negative
 * errno with err naming the file. drsn code never allocates here; libsoxr
 * (when resampling) grows its buffers in the first ~0.5 s of output and again
 * at the end of the stream, and allocates nothing in between (measured on
 * 5 s files from 8, 22.05, 44.1 and 48 kHz in reads of 160 and 4096 frames:
 * the last early allocation 0.41 s in; src/audio/alloc.test.c). */
DRSN_API long drsn_audio_read(drsn_audio *a, float *buf, size_t max_frames,
			      drsn_error *err);

/* Source samples (each channel's counted) read so far that were NaN or
 * infinite (read as 0) or beyond +-DRSN_AUDIO_MAX_SAMPLE (clipped); 0 for a
 * NULL a. Integer formats never have any. */
DRSN_API int64_t drsn_audio_bad_samples(const drsn_audio *a);

/* Close and free a (NULL is fine). Does not close a caller's fd. */
DRSN_API void drsn_audio_close(drsn_audio *a);

/* Whole file in one malloc'd buffer (*out: *n_frames * out_channels floats;
 * free() it). On failure *out is NULL and *n_frames 0; -ENOMEM, before
 * anything is read, when the file's frames cannot be held in one buffer
 * (with a 32-bit size_t: 2^30 mono frames or more). */
DRSN_API int drsn_audio_read_all(const char *path, const drsn_audio_opts *opts,
				 float **out, size_t *n_frames, drsn_error *err);

/*
 * Streaming mono resampler (libsoxr, chosen quality; see docs/resampler.md)
 * for live capture. Pass-through copy when in_rate == out_rate.
 *
 *     drsn_resampler *r;
 *     drsn_resampler_create(&r, 48000, 16000, 480, &e);
 *     size_t cap = drsn_resampler_max_out(r);
 *     float *out = malloc(cap * sizeof *out);                // once
 *     drsn_resampler_process(r, in, 480, out, cap, &n_out);  // any n_in <= 480
 *     ...
 *     do drsn_resampler_flush(r, out, cap, &n_out);          // at end of stream
 *     while (n_out > 0);
 *
 * The output is time-aligned with the input (no leading filter delay);
 * samples still inside the filter come out at flush.
 */
typedef struct drsn_resampler drsn_resampler;

/* Rates in Hz within [DRSN_AUDIO_MIN_RATE, DRSN_AUDIO_MAX_RATE]; max_in_chunk
 * is the most input samples any one process call will pass (> 0). */
DRSN_API int drsn_resampler_create(drsn_resampler **out, double in_rate,
				   double out_rate, size_t max_in_chunk,
				   drsn_error *err);

/* Output capacity (samples) that is always enough for process(n_in <=
 * max_in_chunk) and for flush. */
DRSN_API size_t drsn_resampler_max_out(const drsn_resampler *r);

/* Consume all n_in (<= max_in_chunk) samples, write *n_out samples to out.
 * Returns 0, -EINVAL (n_in too large, NULL pointers) or -ENOSPC (out_cap <
 * drsn_resampler_max_out). Input samples that are NaN or infinite are read
 * as 0 and ones beyond +-DRSN_AUDIO_MAX_SAMPLE are clipped there, as
 * drsn_audio_read does (one NaN used to spoil ~30 ms of output); checking
 * costs ~2 instructions a sample, ~4% of the call.
 * Allocation: libsoxr grows its buffers during a stream's first calls
 * (after create, reset or a finished flush): measured, the first 1.1 s of
 * input in calls of 480 samples (0.1 s from 44.1 or 48 kHz, 1.1 s from
 * 8 kHz), up to ~5 s in calls of 128. After that a call allocates nothing,
 * whatever its n_in (larger calls are fed to libsoxr in pieces of 480, which
 * leaves the output bit for bit the same). libsoxr's own growth rule gives no
 * hard bound: from 96 kHz with random call sizes one more realloc was seen
 * 100 s in. */
DRSN_API int drsn_resampler_process(drsn_resampler *r, const float *in,
				    size_t n_in, float *out, size_t out_cap,
				    size_t *n_out);

/* End of stream: write up to out_cap (>= drsn_resampler_max_out) of the
 * samples still held in the filter to out. Call until *n_out == 0; then the
 * resampler is ready for a new stream (as if just created). A stream of N
 * input samples yields round(N * out_rate / in_rate) output samples in all. */
DRSN_API int drsn_resampler_flush(drsn_resampler *r, float *out,
				  size_t out_cap, size_t *n_out);

/* Drop whatever the resampler holds and start a new stream (no output).
 * One flush call is not a reset: flush until *n_out == 0, or call this. */
DRSN_API int drsn_resampler_reset(drsn_resampler *r);

/* Samples (at the output rate) the resampler currently holds back: how far
 * the output lags the input. 0 when passing through. */
DRSN_API double drsn_resampler_latency(const drsn_resampler *r);

DRSN_API void drsn_resampler_destroy(drsn_resampler *r);

#ifdef __cplusplus
}
#endif
#endif
