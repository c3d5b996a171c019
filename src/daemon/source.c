#include "daemon/source_impl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audio/mix.h"
#include "audio/pipe.h"
#include "common/error.h"
#include "daemon/log.h"

static const char *const state_names[] = {"starting", "running", "retrying", "ended", "failed"};

const char *drsn__source_state_name(int st)
{
	return st >= 0 && st <= DRSN_SRC_FAILED ? state_names[st] : "?";
}

const char *drsn__source_name(const struct drsn__source *s)
{
	return s->spec;
}

static void level_end(struct drsn__source *s);
static void level_restart(struct drsn__source *s);

void drsn__source_set_state(struct drsn__source *s, enum drsn__source_state st, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (st == DRSN_SRC_ENDED)
		level_end(s);   /* before the clients hear of the end */
	if (st == DRSN_SRC_STARTING && (s->st.state == DRSN_SRC_RETRYING || s->st.state == DRSN_SRC_FAILED))
		level_restart(s);   /* a device opened again: perhaps another one */
	s->st.state = st;
	if (s->ev.on_state)
		s->ev.on_state(s->user, st, detail);
}

/* ---- the level check ------------------------------------------------------
 * The commonest first-run failure of a keyword spotter: it hears nothing
 * because the capture is muted, the wrong device, or its gain is far too
 * low or too high. Judged on the loop side over the samples delivered (the
 * real-time callback only copies), with nothing allocated: speech comes and
 * goes, so the level is a window's loudest sample, never its mean, and a
 * room that is quiet between words is not "low". */
#define LEVEL_WINDOW_S 30      /* the level is judged over windows this long */
#define SILENCE_S 10           /* exact zeros this long: "silent" (also: the shortest last window judged) */
#define LOW_DBFS (-50.0)       /* a window that never reaches this is "low": [detect] vad_threshold_db's
				  default, which no 10 ms frame of it could pass */
#define CLIP_LEVEL 0.98f       /* |x| at or above this (-0.18 dBFS): at or near full scale */
#define CLIP_SHARE 0.001       /* that share of a window's samples: "clipping" (samples/stream-noisy.wav
				  10 dB too loud: 0.09 %; 15 dB: 0.7 %; 20 dB: 2.1 %) */
#define WARN_AGAIN_S 3600      /* a warning of one kind at most once an hour of audio */

enum { LV_SILENT, LV_LOW, LV_CLIP };

static double dbfs(float a)
{
	return 20.0 * log10((double)a + 1e-10);
}

/* 1 if a warning of this kind may be logged now (and it is counted as logged) */
static int level_may_warn(struct drsn__source *s, int kind)
{
	uint64_t again = (uint64_t)WARN_AGAIN_S * (uint64_t)s->o.target_rate;
	if (s->lv.warned[kind] && s->st.samples - s->lv.warned_at[kind] < again)
		return 0;
	s->lv.warned[kind] = 1;
	s->lv.warned_at[kind] = s->st.samples;
	return 1;
}

/* How to change the capture, for the warnings below: by source kind. */
static const char *level_fix(const struct drsn__source *s, int louder)
{
	if (s->kind == SRC_FILE)
		return louder ? "a file is not changed by any setting: record it again with more gain, or "
				"raise it (sox --norm IN OUT)"
			      : "a file is not changed by any setting: record it again with less gain";
	if (s->kind == SRC_FD)
		return louder ? "raise the capture level of the program that feeds drsnd (alsamixer, F4: "
				"capture; pactl set-source-volume @DEFAULT_SOURCE@ 100%), or have it record "
				"from another input (arecord -l, pactl list short sources)"
			      : "lower the capture level of the program that feeds drsnd (alsamixer, F4: "
				"capture; pactl set-source-volume @DEFAULT_SOURCE@ 50%)";
	return louder ? "raise the capture level (alsamixer, F4: capture; pactl set-source-volume "
			"@DEFAULT_SOURCE@ 100%), or pick another device (drsnd --list-devices, then "
			"[audio] source = pa:NAME)"
		      : "lower the capture level (alsamixer, F4: capture; pactl set-source-volume "
			"@DEFAULT_SOURCE@ 50%), or move the microphone away from the loudspeaker";
}

static void warn_silent(struct drsn__source *s)
{
	if (s->kind == SRC_PA)
		log_warn("%s: the capture from '%s' has been digital silence (every sample exactly 0) "
			 "for %d s: the keyword spotter hears nothing. The input is muted, or it is the "
			 "wrong device: unmute it (alsamixer, F4: capture, M; pactl set-source-mute "
			 "@DEFAULT_SOURCE@ 0), or pick another device (drsnd --list-devices, then [audio] "
			 "source = pa:NAME); status: source.health \"silent\"", s->spec, drsn__pa_device(s),
			 SILENCE_S);
	else if (s->kind == SRC_FD)
		log_warn("%s: the stream has been digital silence (every sample exactly 0) for %d s: "
			 "the keyword spotter hears nothing. The program that feeds drsnd records from a "
			 "muted or wrong input: unmute it (alsamixer, F4: capture, M; pactl "
			 "set-source-mute @DEFAULT_SOURCE@ 0), or have it record from another (arecord -l, "
			 "pactl list short sources); status: source.health \"silent\"", s->spec, SILENCE_S);
	else
		log_warn("%s: %d s of digital silence (every sample exactly 0) from %.1f s into the "
			 "file: the keyword spotter hears nothing there (a recording of a muted or "
			 "unplugged input?); status: source.health \"silent\"", s->spec, SILENCE_S,
			 (double)(s->st.samples - s->lv.zero_run) / s->o.target_rate);   /* samples: up to here */
}

/* The window is over (or the stream, and it held SILENCE_S or more). */
static void level_judge(struct drsn__source *s)
{
	float peak = s->lv.peak;
	double secs = (double)s->lv.n / s->o.target_rate;
	double share = s->lv.n ? (double)s->lv.clipped / (double)s->lv.n : 0;
	s->lv.judged = 1;
	s->lv.last_peak = peak;
	s->lv.last_share = share;
	s->lv.n = 0;
	s->lv.peak = 0;
	s->lv.clipped = 0;
	if (peak == 0)
		return;   /* digital silence: the silence check says it */
	if (dbfs(peak) >= LOW_DBFS)
		s->lv.loud_seen = 1;
	if (share >= CLIP_SHARE && level_may_warn(s, LV_CLIP))
		log_warn("%s: %.2f%% of the samples of the last %.0f s were at or near full scale "
			 "(clipped): the gain is too high, and clipped speech is heard badly; %s; "
			 "status: source.clipped_share", s->spec, share * 100, secs, level_fix(s, 0));
	else if (dbfs(peak) < LOW_DBFS && !s->lv.loud_seen && level_may_warn(s, LV_LOW))
		/* once the level has been seen to reach speech, a quiet stretch is
		 * a quiet room, not a gain */
		log_warn("%s: the loudest sample of the last %.0f s was %.1f dBFS: far too quiet for "
			 "the keyword spotter (speech 1 m from a microphone peaks at about -30 to -10 "
			 "dBFS; below %.0f dBFS not even the voice-activity gate's default opens). %s: %s; "
			 "status: source.peak_dbfs", s->spec, secs, dbfs(peak), LOW_DBFS,
			 s->kind == SRC_FILE ? "If the file holds speech, it was recorded with far too little gain"
					     : "If someone spoke meanwhile, the gain is far too low, or it is the wrong input",
			 level_fix(s, 1));
}

static void level_feed(struct drsn__source *s, const float *x, size_t n)
{
	const uint64_t window = (uint64_t)LEVEL_WINDOW_S * (uint64_t)s->o.target_rate;
	const uint64_t silence = (uint64_t)SILENCE_S * (uint64_t)s->o.target_rate;
	while (n) {
		size_t k = (size_t)(window - s->lv.n) < n ? (size_t)(window - s->lv.n) : n;
		float peak = s->lv.peak;
		uint64_t clipped = 0;
		size_t first = k, last = 0;   /* the first non-zero sample, the one after the last */
		for (size_t i = 0; i < k; i++) {
			float a = fabsf(x[i]);
			peak = a > peak ? a : peak;
			clipped += a >= CLIP_LEVEL;
			if (a != 0.0f) {
				first = first < k ? first : i;
				last = i + 1;
			}
		}
		s->lv.peak = peak;
		s->lv.clipped += clipped;
		s->lv.clipped_total += clipped;
		s->lv.n += k;
		if (first < k) {
			if (s->lv.silent_warned)
				drsn__log_notice("%s: sound again after %.1f s of digital silence", s->spec,
						 (double)(s->lv.zero_run + first) / s->o.target_rate);
			if (s->lv.silent)
				s->lv.judged = 0;   /* "unknown" until a window of the new sound */
			s->lv.silent = s->lv.silent_warned = 0;
			s->lv.zero_run = k - last;
		} else {
			s->lv.zero_run += k;
		}
		if (!s->lv.silent && s->lv.zero_run >= silence) {
			s->lv.silent = 1;
			/* the chosen channels a sound server filled with zeros
			 * were named already (source_pa.c) */
			if (!(s->kind == SRC_PA && drsn__pa_silent_channels_said(s)) &&
			    level_may_warn(s, LV_SILENT)) {
				s->lv.silent_warned = 1;
				warn_silent(s);
			}
		}
		if (s->lv.n == window)
			level_judge(s);
		x += k;
		n -= k;
	}
}

/* A device opened again after a loss may be another one (a USB microphone
 * unplugged, a quieter one picked): its level is judged afresh, as from the
 * start (the clipped total and the warnings' hourly limit carry on). */
static void level_restart(struct drsn__source *s)
{
	s->lv.n = 0;
	s->lv.peak = 0;
	s->lv.clipped = 0;
	s->lv.zero_run = 0;
	s->lv.judged = 0;
	s->lv.loud_seen = 0;
	s->lv.silent = s->lv.silent_warned = 0;
}

/* End of stream: its last window is judged if it is long enough. */
static void level_end(struct drsn__source *s)
{
	if (s->lv.n >= (uint64_t)SILENCE_S * (uint64_t)s->o.target_rate)
		level_judge(s);
}

static void level_stats(const struct drsn__source *s, struct drsn__source_stats *st)
{
	st->clipped = s->lv.clipped_total;
	st->silence_s = (double)s->lv.zero_run / s->o.target_rate;
	st->clipped_share = s->lv.judged ? s->lv.last_share : 0;
	st->peak_known = s->lv.judged || s->lv.n;
	st->peak_dbfs = dbfs(s->lv.judged ? s->lv.last_peak : s->lv.peak);
	if (s->lv.silent)
		st->health = "silent";
	else if (!s->lv.judged)
		st->health = "unknown";
	else if (s->lv.last_share >= CLIP_SHARE)
		st->health = "clipping";
	else if (dbfs(s->lv.last_peak) < LOW_DBFS)
		st->health = s->lv.loud_seen ? "quiet" : "low";   /* as the warning: a quiet room, or a gain */
	else
		st->health = "ok";
}

void drsn__source_deliver(struct drsn__source *s, const float *x, size_t n)
{
	size_t chunk = (size_t)s->o.chunk;
	int first = n && s->st.state == DRSN_SRC_STARTING;
	if (s->kind == SRC_FD)
		s->st.bad_samples = atomic_load(&s->reader_bad);
	else if (s->audio)
		s->st.bad_samples = (uint64_t)drsn_audio_bad_samples(s->audio);
	if (s->st.bad_samples && !s->bad_warned) {
		/* once: a broken capture would otherwise fill the log */
		s->bad_warned = 1;
		log_warn("%s: NaN, infinite or out-of-range samples (beyond +-%g) taken as 0 or "
			 "clipped; not logged again (status: source.bad_samples)", s->spec,
			 (double)DRSN_AUDIO_MAX_SAMPLE);
	}
	while (n && !s->stopping) {
		size_t k = n < chunk ? n : chunk;
		s->st.samples += k;
		level_feed(s, x, k);
		s->ev.on_audio(s->user, x, k);
		x += k;
		n -= k;
	}
	if (first && !s->stopping) {   /* its status shows the samples */
		/* a restart is audio coming through again, not a device that
		 * opens and delivers nothing */
		if (s->ever_running)
			s->st.restarts++;
		s->ever_running = 1;
		drsn__source_set_state(s, DRSN_SRC_RUNNING, "%s", s->running);
	}
}

static void source_free(struct drsn__source *s)
{
	drsn_audio_close(s->audio);
	drsn__pa_free(s);
	drsn__ring_free(&s->ring);
	free(s->buf);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void maybe_done(struct drsn__source *s)
{
	if (!s->stopping || s->open_handles > 0)
		return;
	void (*done)(void *) = s->done;
	void *user = s->done_user;
	/* An abandoned reader may still wake: the last of the two frees. */
	pthread_mutex_lock(&s->lock);
	s->loop_released = 1;
	int free_it = !s->abandoned || s->reader_exited;
	pthread_mutex_unlock(&s->lock);
	if (free_it)
		source_free(s);
	if (done)
		done(user);
}

void drsn__source_handle_closed(uv_handle_t *h)
{
	drsn__source_release(h->data);
}

void drsn__source_release(struct drsn__source *s)
{
	s->open_handles--;
	maybe_done(s);
}

static void close_handle(struct drsn__source *s, uv_handle_t *h)
{
	h->data = s;
	s->open_handles++;
	uv_close(h, drsn__source_handle_closed);
}

void (*drsn__source_clocks_hook)(uint64_t *mono_ms, uint64_t *boot_ms);

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void drsn__source_clocks(uint64_t *mono_ms, uint64_t *boot_ms)
{
	if (drsn__source_clocks_hook) {
		drsn__source_clocks_hook(mono_ms, boot_ms);
		return;
	}
	*mono_ms = clock_ms(CLOCK_MONOTONIC);
	*boot_ms = clock_ms(CLOCK_BOOTTIME);
}

/* ---- file: -------------------------------------------------------------- */

static void file_end(struct drsn__source *s, long rc, const drsn_error *e)
{
	if (s->pace_open)
		uv_timer_stop(&s->pace);
	if (s->idle_open)
		uv_idle_stop(&s->idle);
	if (rc < 0)
		drsn__source_set_state(s, DRSN_SRC_FAILED, "%s", e->msg);
	else
		drsn__source_set_state(s, DRSN_SRC_ENDED, "%s: end of file after %.3f s", s->spec + 5,
				       (double)s->st.samples / s->o.target_rate);
}

/* Read and deliver up to n samples; 1 if the file goes on. */
static int file_pump(struct drsn__source *s, uint64_t n)
{
	while (n > 0 && !s->stopping) {
		size_t want = n < (uint64_t)s->o.chunk ? (size_t)n : (size_t)s->o.chunk;
		drsn_error e;
		long got = drsn_audio_read(s->audio, s->buf, want, &e);
		if (got <= 0) {
			file_end(s, got, &e);
			return 0;
		}
		drsn__source_deliver(s, s->buf, (size_t)got);
		n -= (uint64_t)got;
	}
	return 1;
}

uint64_t drsn__source_due(uint64_t elapsed_ns, int rate)
{
	/* whole seconds apart: elapsed_ns * rate passes 2^64 after 13 days at 16 kHz */
	const uint64_t ns = 1000000000u;
	return elapsed_ns / ns * (uint64_t)rate + elapsed_ns % ns * (uint64_t)rate / ns;
}

uint64_t drsn__source_pace(uint64_t *t0_ns, uint64_t now_ns, uint64_t delivered, int rate,
			   uint64_t max_lag)
{
	const uint64_t ns = 1000000000u;
	uint64_t due = drsn__source_due(now_ns - *t0_ns, rate);
	if (due > delivered + max_lag) {
		/* the file pauses for the gap: the start moves on by the excess,
		 * rounded down (a sample more due, never one skipped) */
		uint64_t excess = due - delivered - max_lag;
		*t0_ns += excess / (uint64_t)rate * ns + excess % (uint64_t)rate * ns / (uint64_t)rate;
		due = drsn__source_due(now_ns - *t0_ns, rate);
	}
	return due > delivered ? due - delivered : 0;
}

/* Every 10 ms: what real time owes, at most a chunk per turn (the loop gets
 * back to its clients and the watchdog between, as with pa:'s ring), and at
 * most ring_ms behind: after a stall (drsnd stopped, a paused VM, a loop
 * too busy) the file pauses instead of racing through the gap, which would
 * hold the loop and send a burst of stale detections. */
static void on_pace(uv_timer_t *t)
{
	struct drsn__source *s = t->data;
	uint64_t chunk = (uint64_t)s->o.chunk;
	uint64_t max_lag = (uint64_t)s->o.target_rate * (uint64_t)s->o.ring_ms / 1000;
	if (max_lag < chunk)
		max_lag = chunk;
	uint64_t t0 = s->t0_ns;
	uint64_t n = drsn__source_pace(&s->t0_ns, uv_hrtime(), s->st.samples, s->o.target_rate, max_lag);
	if (s->t0_ns - t0 >= 1000000000u)
		log_info("%s: %.1f s late (drsnd was stopped, paused or busy): the file pauses for "
			 "that long instead of catching up", s->spec, (double)(s->t0_ns - t0) * 1e-9);
	if (n)
		file_pump(s, n < chunk ? n : chunk);
}

static void on_idle(uv_idle_t *h)
{
	struct drsn__source *s = h->data;
	file_pump(s, (uint64_t)s->o.chunk);
}

/* The status's channels and rate, once the file or stream is open (its
 * channels are known, and chosen) */
static void note_format(struct drsn__source *s)
{
	drsn_audio_info info;
	drsn_audio_get_info(s->audio, &info);
	s->st.device_channels = info.source_channels;
	s->st.source_rate = info.source_rate;
	s->st.channels = s->o.channels ? s->o.channels : drsn__audio_all_channels(info.source_channels);
}

static int file_create(struct drsn__source *s, const char *path, drsn_error *err)
{
	drsn_audio_opts ao;
	drsn_audio_opts_default(&ao);
	ao.target_rate = s->o.target_rate;
	int rc = drsn_audio_open(&s->audio, path, &ao, err);
	if (rc < 0)
		return rc;
	if (s->o.channels && (rc = drsn_audio_select_channels(s->audio, s->o.channels, err)) < 0)
		return rc;
	note_format(s);
	if (s->o.realtime) {
		uv_timer_init(s->loop, &s->pace);
		s->pace.data = s;
		s->pace_open = 1;
	} else {
		uv_idle_init(s->loop, &s->idle);
		s->idle.data = s;
		s->idle_open = 1;
	}
	return 0;
}

/* ---- stdin / fd:N --------------------------------------------------------- */

/* Wake the loop, unless drsn__source_stop has begun (the handle may be
 * closed). 0 if the reader must stop. */
static int reader_wake(struct drsn__source *s)
{
	pthread_mutex_lock(&s->lock);
	int stop = s->stop_reader;
	if (!stop)
		uv_async_send(&s->async);
	pthread_mutex_unlock(&s->lock);
	return !stop;
}

static unsigned le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define WAV_HEADER_MAX (1 << 20)

/* A WAV stream on a raw stdin or fd: source ("arecord | drsnd --source
 * stdin" without -t raw): its header is read and dropped when it declares
 * what the raw keys say, so the samples that follow are read as they are;
 * else the source fails, naming both. Reader thread, before any sample. 0,
 * or -1 with s->reader_err set. */
static int take_wav_header(struct drsn__source *s)
{
	unsigned char b[64];
	unsigned tag = 0, ch = 0, bits = 0;
	uint32_t rate = 0;
	size_t total = 12;
	const char *why = NULL;

	if (drsn__pipe_take(s->fd, b, 12) < 0) {
		why = "ended inside its header";
		goto bad;
	}
	for (;;) {
		if (drsn__pipe_take(s->fd, b, 8) < 0) {
			why = "ended inside its header";
			goto bad;
		}
		uint32_t size = le32(b + 4);
		total += 8;
		if (!memcmp(b, "data", 4))
			break;
		uint64_t left = (uint64_t)size + (size & 1);
		if (total + left > WAV_HEADER_MAX) {
			why = "has a header of over 1 MiB before its data";
			goto bad;
		}
		total += (size_t)left;
		if (!memcmp(b, "fmt ", 4)) {
			if (size < 16 || left > sizeof b) {
				why = "has a malformed fmt chunk";
				goto bad;
			}
			if (drsn__pipe_take(s->fd, b, left) < 0) {
				why = "ended inside its header";
				goto bad;
			}
			tag = le16(b);
			ch = le16(b + 2);
			rate = le32(b + 4);
			bits = le16(b + 14);
			if (tag == 0xFFFE && size >= 26)   /* WAVE_FORMAT_EXTENSIBLE: the GUID's first two bytes */
				tag = le16(b + 24);
			continue;
		}
		if (drsn__pipe_take(s->fd, NULL, left) < 0) {   /* LIST, fact, ...: skipped */
			why = "ended inside its header";
			goto bad;
		}
	}
	if (!tag) {
		why = "has no fmt chunk before its data";
		goto bad;
	}
	const char *fmt = tag == 1 ? (bits == 8 ? "u8" : bits == 16 ? "s16le" : bits == 24 ? "s24le" :
				      bits == 32 ? "s32le" : NULL) :
			  tag == 3 ? (bits == 32 ? "f32le" : bits == 64 ? "f64le" : NULL) : NULL;
	if (!fmt) {
		snprintf(s->reader_err, sizeof s->reader_err, "%.200s: a WAV stream of format tag %u, "
			 "%u bits, which a raw PCM source cannot read: pipe raw PCM instead (e.g. 'sox "
			 "IN -t raw -e signed -b 16 -r 16000 -c 1 -'), or use source = file:PATH",
			 s->spec, tag, bits);
		return -1;
	}
	if (strcmp(fmt, s->o.raw_format) || rate != (uint32_t)s->o.raw_rate || ch != (unsigned)s->o.raw_channels) {
		snprintf(s->reader_err, sizeof s->reader_err, "%.200s: a WAV stream of %s, %lu Hz, %u "
			 "channel(s), but the raw PCM settings say %s, %d Hz, %d: set [audio] raw_format = "
			 "%s, raw_rate = %lu, raw_channels = %u (or pipe raw PCM: 'arecord -t raw')",
			 s->spec, fmt, (unsigned long)rate, ch, s->o.raw_format, s->o.raw_rate,
			 s->o.raw_channels, fmt, (unsigned long)rate, ch);
		return -1;
	}
	return 0;
bad:
	snprintf(s->reader_err, sizeof s->reader_err, "%.200s: a WAV stream that %s: pipe raw PCM "
		 "instead ('arecord -t raw', 'sox IN -t raw ... -'), or use source = file:PATH", s->spec, why);
	return -1;
}

/* 1 at the end of the stream, 2 on a read error, 0 when told to stop. */
static int reader_loop(struct drsn__source *s, float *buf)
{
	/* drsn_audio_read blocks until it has this many: read 10 ms at a time,
	 * so a live pipe (arecord | drsnd) adds at most 10 ms of latency. */
	size_t chunk = (size_t)s->o.target_rate / 100;
	if (chunk < 1 || chunk > (size_t)s->o.chunk)
		chunk = (size_t)s->o.chunk;
	/* stdin and fd: are raw PCM: a file piped in (a FLAC, an Ogg) would be
	 * read as noise, its header too. A live stream: refused, not spooled.
	 * A WAV header that declares the raw settings is dropped (arecord
	 * without -t raw), one that does not is refused naming both. */
	unsigned char head[12];
	ssize_t k = s->kind == SRC_FD && s->o.raw_format ? drsn__pipe_peek(s->fd, head, sizeof head) : 0;
	struct stat fst;
	int regular = 0;
	if (k < 0 && fstat(s->fd, &fst) == 0 && S_ISREG(fst.st_mode)) {   /* stdin < FILE */
		off_t at = lseek(s->fd, 0, SEEK_CUR);
		k = at < 0 ? -1 : pread(s->fd, head, sizeof head, at);
		regular = 1;
	}
	const char *container = k > 0 ? drsn__pipe_container(head, (size_t)k) : NULL;
	if (container && regular) {   /* a file: it can be read as one, header and all */
		snprintf(s->reader_err, sizeof s->reader_err, "%.200s: a %s file, but stdin and fd: "
			 "sources are raw PCM (raw_format %s, raw_rate %d, raw_channels %d): read it as a "
			 "file with source = file:/dev/stdin (or file:PATH)", s->spec, container,
			 s->o.raw_format, s->o.raw_rate, s->o.raw_channels);
		return 2;
	}
	if (container && !memcmp(head, "RIFF", 4)) {   /* a little-endian WAV: read as raw if it matches */
		if (take_wav_header(s) < 0)
			return 2;
		container = NULL;
	}
	if (container) {
		snprintf(s->reader_err, sizeof s->reader_err, "%.200s: a %s stream, but stdin and "
			 "fd: sources are raw PCM (raw_format %s, raw_rate %d, raw_channels %d): pipe "
			 "raw PCM instead (e.g. 'sox IN -t raw -e signed -b 16 -r 16000 -c 1 -' or "
			 "'ffmpeg -i IN -f s16le -ar 16000 -ac 1 -'), or use source = file:PATH",
			 s->spec, container, s->o.raw_format, s->o.raw_rate, s->o.raw_channels);
		return 2;
	}
	for (;;) {
		drsn_error e;
		long n = drsn_audio_read(s->audio, buf, chunk, &e);
		if (n == 0)
			return 1;
		if (n < 0) {
			snprintf(s->reader_err, sizeof s->reader_err, "%s", e.msg);
			return 2;
		}
		/* A pipe has no real-time deadline: wait for room, lose nothing.
		 * We are the only producer, so the space can only grow. */
		while (drsn__ring_space(&s->ring) < (size_t)n) {
			if (!reader_wake(s))
				return 0;
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
		drsn__ring_write(&s->ring, buf, (size_t)n);
		atomic_store(&s->reader_bad, (uint64_t)drsn_audio_bad_samples(s->audio));
		if (!reader_wake(s))
			return 0;
	}
}

static void *reader_main(void *arg)
{
	struct drsn__source *s = arg;
	float *buf = malloc((size_t)s->o.chunk * sizeof *buf);
	int done = 2;
	if (buf)
		done = reader_loop(s, buf);
	else
		snprintf(s->reader_err, sizeof s->reader_err, "%.400s: out of memory", s->spec);
	free(buf);
	pthread_mutex_lock(&s->lock);
	if (done)
		atomic_store(&s->reader_done, done);
	if (!s->stop_reader)
		uv_async_send(&s->async);
	s->reader_exited = 1;
	int free_it = s->abandoned && s->loop_released;
	pthread_mutex_unlock(&s->lock);
	if (free_it)
		source_free(s);   /* the loop side gave up on us at stop */
	return NULL;
}

enum { INHERITED_MAX = 1024 };
static unsigned char inherited[INHERITED_MAX / 8];
static int inherited_known;

void drsn__source_note_inherited_fds(void)
{
	for (int fd = 0; fd < INHERITED_MAX; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			inherited[fd / 8] |= (unsigned char)(1u << (fd % 8));
	inherited_known = 1;
}

static int fd_create(struct drsn__source *s, int fd, drsn_error *err)
{
	if (inherited_known && fd < INHERITED_MAX && !(inherited[fd / 8] & (1u << (fd % 8))))
		return drsn__fail(err, -EBADF, "audio source '%s': descriptor %d was not open when "
				  "drsnd started: start drsnd with it open (e.g. 'drsnd --source fd:%d "
				  "%d< FILE', or a systemd socket or pipe)", s->spec, fd, fd, fd);
	drsn_audio_opts ao;
	drsn_audio_opts_default(&ao);
	ao.target_rate = s->o.target_rate;
	ao.raw_format = s->o.raw_format;
	ao.raw_rate = s->o.raw_rate;
	ao.raw_channels = s->o.raw_channels;
	s->fd = fd;
	int rc = drsn_audio_open_fd(&s->audio, fd, s->spec, &ao, err);
	if (rc < 0 || (s->o.channels && (rc = drsn_audio_select_channels(s->audio, s->o.channels, err)) < 0))
		return rc;
	note_format(s);
	return 0;
}

/* ---- ring drain (fd reader and pa callback) ------------------------------ */

static void on_async(uv_async_t *a)
{
	struct drsn__source *s = a->data;
	if (s->kind == SRC_PA)
		return;   /* source_pa.c installs its own callback */
	/* Deliver what is there now, not what a fast writer (cat file |) adds
	 * meanwhile: the loop must get back to its sockets between turns. */
	size_t n, budget = drsn__ring_used(&s->ring);
	while (!s->stopping && budget &&
	       (n = drsn__ring_read(&s->ring, s->buf,
				    budget < (size_t)s->o.chunk ? budget : (size_t)s->o.chunk)) > 0) {
		drsn__source_deliver(s, s->buf, n);
		budget -= n;
	}
	if (!s->stopping && drsn__ring_used(&s->ring)) {
		uv_async_send(a);   /* the rest next turn */
		return;
	}
	int d = atomic_load(&s->reader_done);
	if (d && drsn__ring_used(&s->ring) == 0 &&
	    (s->st.state == DRSN_SRC_RUNNING || s->st.state == DRSN_SRC_STARTING)) {
		if (d == 1)
			drsn__source_set_state(s, DRSN_SRC_ENDED, "%s: end of stream after %.3f s", s->spec,
					       (double)s->st.samples / s->o.target_rate);
		else
			drsn__source_set_state(s, DRSN_SRC_FAILED, "%s", s->reader_err);
	}
}

/* ---- common -------------------------------------------------------------- */

int drsn__source_create(struct drsn__source **out, uv_loop_t *loop,
			const struct drsn__source_opts *o,
			const struct drsn__source_events *ev, void *user, drsn_error *err)
{
	*out = NULL;
	if (o->target_rate <= 0 || o->chunk <= 0)
		return drsn__fail(err, -EINVAL, "audio source: bad target rate or chunk");
	struct drsn__source *s = calloc(1, sizeof *s);
	if (!s)
		return drsn__fail(err, -ENOMEM, "out of memory");
	int rc;
	pthread_mutex_init(&s->lock, NULL);
	s->loop = loop;
	s->o = *o;
	s->ev = *ev;
	s->user = user;
	s->fd = -1;
	snprintf(s->spec, sizeof s->spec, "%s", o->spec);
	s->o.spec = s->spec;
	s->buf = malloc((size_t)o->chunk * sizeof *s->buf);
	if (!s->buf) {
		rc = drsn__fail(err, -ENOMEM, "out of memory");
		goto fail;
	}
	const char *spec = s->spec;
	if (!strncmp(spec, "file:", 5)) {
		s->kind = SRC_FILE;
		rc = file_create(s, spec + 5, err);
	} else if (!strcmp(spec, "stdin") || !strncmp(spec, "fd:", 3)) {
		s->kind = SRC_FD;
		int fd = 0;
		if (spec[0] == 'f') {
			char *end;
			long v = strtol(spec + 3, &end, 10);
			if (end == spec + 3 || *end || v < 0 || v > 1 << 20) {
				rc = drsn__fail(err, -EINVAL, "audio source '%s': fd:N needs a descriptor number", spec);
				goto fail;
			}
			fd = (int)v;
		}
		rc = fd_create(s, fd, err);
	} else if (!strncmp(spec, "pa:", 3)) {
		s->kind = SRC_PA;
		rc = drsn__pa_create(s, spec + 3, err);
	} else {
		rc = drsn__fail(err, -EINVAL, "audio source '%s': not pa:[DEVICE], file:PATH, stdin or fd:N", spec);
	}
	if (rc < 0)
		goto fail;
	if (s->kind == SRC_FD) {
		/* ring_ms of audio between the reader thread and the loop */
		size_t cap = (size_t)s->o.target_rate * (size_t)s->o.ring_ms / 1000;
		if (cap < (size_t)s->o.chunk * 2)
			cap = (size_t)s->o.chunk * 2;
		rc = drsn__ring_init(&s->ring, cap);
		if (rc < 0) {
			drsn__fail(err, rc, "out of memory");
			goto fail;
		}
		uv_async_init(loop, &s->async, on_async);
		s->async.data = s;
		s->async_open = 1;
	}
	s->st.state = DRSN_SRC_STARTING;
	*out = s;
	return 0;
fail:
	source_free(s);
	return rc;
}

int drsn__source_start(struct drsn__source *s)
{
	switch (s->kind) {
	case SRC_FILE:
		snprintf(s->running, sizeof s->running, "%.400s: reading%s", s->spec,
			 s->o.realtime ? " at real time" : " as fast as possible");
		s->t0_ns = uv_hrtime();
		if (s->o.realtime)
			uv_timer_start(&s->pace, on_pace, 10, 10);
		else
			uv_idle_start(&s->idle, on_idle);
		return 0;
	case SRC_FD:
		snprintf(s->running, sizeof s->running, "%.400s: reading raw %s, %d Hz, %d channel(s)",
			 s->spec, s->o.raw_format, s->o.raw_rate, s->o.raw_channels);
		if (pthread_create(&s->thread, NULL, reader_main, s) != 0) {
			drsn__source_set_state(s, DRSN_SRC_FAILED, "%s: cannot start the reader thread", s->spec);
			return -EAGAIN;
		}
		s->thread_running = 1;
		return 0;
	case SRC_PA:
		return drsn__pa_start(s);
	}
	return -EINVAL;
}

void drsn__source_stop(struct drsn__source *s, void (*done)(void *), void *user)
{
	s->stopping = 1;
	s->done = done;
	s->done_user = user;
	s->open_handles++;   /* held while closing, so done cannot run early */
	if (s->thread_running) {
		pthread_mutex_lock(&s->lock);
		s->stop_reader = 1;
		pthread_mutex_unlock(&s->lock);
		/* A live pipe wakes the reader within 10 ms; give it 200. */
		for (int i = 0; i < 100; i++) {
			pthread_mutex_lock(&s->lock);
			int exited = s->reader_exited;
			pthread_mutex_unlock(&s->lock);
			if (exited)
				break;
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
		pthread_mutex_lock(&s->lock);
		if (s->reader_exited) {
			pthread_mutex_unlock(&s->lock);
			pthread_join(s->thread, NULL);
		} else {
			/* blocked in read(2) on an idle pipe: leave it behind */
			s->abandoned = 1;
			pthread_mutex_unlock(&s->lock);
			pthread_detach(s->thread);
			log_info("%s: the reader is blocked on an idle pipe; leaving it", s->spec);
		}
		s->thread_running = 0;
	}
	if (s->kind == SRC_PA)
		drsn__pa_stop(s);
	if (s->async_open)
		close_handle(s, (uv_handle_t *)&s->async);
	if (s->pace_open)
		close_handle(s, (uv_handle_t *)&s->pace);
	if (s->idle_open)
		close_handle(s, (uv_handle_t *)&s->idle);
	s->open_handles--;
	maybe_done(s);
}

void drsn__source_get_stats(const struct drsn__source *s, struct drsn__source_stats *st)
{
	*st = s->st;
	level_stats(s, st);
	if (s->kind == SRC_FD) {
		st->overflows = atomic_load(&s->ring.overflows);
		st->overflow_samples = atomic_load(&s->ring.overflow_samples);
		st->behind_s = (double)drsn__ring_used(&s->ring) / s->o.target_rate;
		st->lost_s = (double)st->overflow_samples / s->o.target_rate;
	}
	if (s->kind == SRC_PA)
		drsn__pa_stats(s, st);
}
