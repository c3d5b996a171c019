/* pa:[DEVICE]: live capture with PortAudio (see source.h). */
#include "daemon/source_impl.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "audio/mix.h"
#include "common/samples.h"
#include "daemon/hush.h"
#include "daemon/log.h"
#include "drsn_config.h"

#if DRSN_HAVE_PORTAUDIO
#include <portaudio.h>

#define DRAIN 1024                 /* device-rate samples per resampler call */
#define MIX 4096                   /* callback downmix piece */
#define STALL_CHECK_MS 250
#define HEALTHY_MS 10000           /* running this long resets the backoff */
#define STARTUP_MS 5000            /* a new stream may take this long to deliver (ALSA pulse: ~1.2 s) */
#define LOOP_GAP_MS 2000           /* the loop did not run this long: drsnd was stopped, paused or busy */
#define GAP_SETTLE_MS 1000         /* after that, the backlog the device kept has come by now */
#define GAP_SETTLE_MAX_MS 10000    /* or by then at the latest */
#define GAP_SLACK_S 0.25           /* less missing than this is the device's own latency */
#define SUSPEND_MIN_MS 1000        /* CLOCK_BOOTTIME ran on this much more: the host was suspended */
#define SILENT_CHECK_S 3           /* a chosen channel all zeros this long while another is not: warn */

struct drsn__pa {
	char device[256];
	PaStream *stream;
	int pa_inited;
	int channels;
	int max_channels;              /* what the device says it has (maxInputChannels) */
	double rate;
	/* Seconds of audio lost at the rates before the current one (the ring
	 * counts samples at whatever rate the device ran), and the count then. */
	double lost_s;
	uint64_t lost_samples;
	float mix[MIX];                /* callback-side downmix buffer */
	float in[MIX];                 /* callback side: a piece of the input, made harmless */
	_Atomic uint64_t cb_bad;       /* samples the callback made harmless, not yet counted */
	uint64_t select;               /* the channels averaged (s->o.channels, or all) */
	uint64_t live;                 /* callback side: those that carried signal (audio/mix.h) */
	int n_live;
	/* Every channel of the stream with a non-zero sample since it opened
	 * (bit c: channel c + 1); written by the callback, read by the loop. A
	 * sound server's device (ALSA pulse: 32 channels) takes more channels
	 * than its source has and fills the rest with zeros: a chosen channel
	 * that stays all zeros while another is not may not exist. */
	_Atomic uint64_t heard;
	uint64_t open_frames;          /* frames when the stream opened (loop side) */
	int silent_warned;             /* once per source */
	uint64_t silent_said;          /* the chosen channels that warning named */
	_Atomic uint64_t callbacks;
	_Atomic uint64_t frames;       /* device frames the callbacks got */
	_Atomic uint64_t device_overflows;
	_Atomic int finished;

	drsn_resampler *rs;
	double rs_rate;
	float *rs_out;
	size_t rs_cap;
	float drain[DRAIN];

	uv_timer_t retry, watch;
	int timers_open;
	int backoff_ms;
	uint64_t seen_callbacks;
	uint64_t last_progress_ms;
	uint64_t running_since_ms;
	int got_audio;                 /* this stream has called back at least once */
	int failures;                  /* since the last healthy run */
	uint64_t logged_overflows;     /* ring + device overflows already reported */
	uint64_t last_overflow_log_ms;
	/* A loop that did not run for LOOP_GAP_MS or more (SIGSTOP, a paused
	 * VM): once the device's backlog is in, the frames it did not deliver
	 * over the gap are audio lost (a sound server or a driver keeps only so
	 * much, and may not say so). */
	uint64_t last_watch_ms;        /* on_watch's previous turn; 0: none yet */
	uint64_t watch_frames;         /* frames then */
	uint64_t gap_from_ms;          /* 0, or the last turn before a gap being measured */
	uint64_t gap_frames;           /* frames then */
	uint64_t gap_end_ms;           /* the first turn after the (latest) gap */
	double gap_lost_s;             /* seconds lost over gaps */
	/* A host suspend (lid closed, systemctl suspend) stops CLOCK_MONOTONIC,
	 * the loop's clock, with everything else: the loop sees no gap at all.
	 * CLOCK_BOOTTIME runs on: on_watch's previous readings of both. */
	uint64_t clk_mono_ms, clk_boot_ms;

	/* Opening and closing run on libuv's threadpool, one job at a time:
	 * with a hung sound server (a stopped PulseAudio, a wedged driver)
	 * Pa_AbortStream or Pa_Initialize can wait for as long as it hangs,
	 * and the loop must go on serving clients meanwhile. While job is set
	 * the worker owns stream, ring, resampler and PortAudio; the loop
	 * touches none of them. */
	uv_work_t work;
	int job;                       /* JOB_*: loop-side, set while queued or running */
	int job_rc;
	char job_msg[512];             /* open: why it failed */
	char dev_name[256];            /* open: the device's name */
	int retry_delay_ms;            /* close: then retry after this */
	int stop_waiting;              /* drsn__pa_stop came while a job ran */
	uint64_t job_overflows[2];     /* ring overflows, samples: status during a job */
	double job_lost_s;             /* and the seconds lost */
};

enum { JOB_NONE, JOB_OPEN, JOB_CLOSE };

/* Seconds of audio the ring dropped (it counts samples at the device's rate).
 * Loop side, while no job runs. */
static double lost_seconds(const struct drsn__source *s)
{
	const struct drsn__pa *p = s->pa;
	if (p->rate <= 0)
		return p->lost_s + p->gap_lost_s;
	return p->lost_s + p->gap_lost_s +
	       (double)(atomic_load(&s->ring.overflow_samples) - p->lost_samples) / p->rate;
}

/* The real-time callback: copy (downmixing if needed) into the ring, wake the
 * loop. No allocation, lock, log or I/O; a full ring is counted by the ring. */
static int pa_callback(const void *input, void *output, unsigned long frames,
		       const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags, void *user)
{
	(void)output;
	(void)ti;
	struct drsn__source *s = user;
	struct drsn__pa *p = s->pa;
	if (flags & paInputOverflow)
		atomic_fetch_add_explicit(&p->device_overflows, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->callbacks, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->frames, frames, memory_order_relaxed);
	if (!input)
		return paContinue;
	const float *x = input;
	const int nch = p->channels;
	uint64_t heard = atomic_load_explicit(&p->heard, memory_order_relaxed);
	if (s->o.channels && heard != drsn__audio_all_channels(nch)) {   /* check_silent_channels */
		uint64_t h = heard;
		for (const float *f = x, *end = x + frames * (unsigned long)nch; f < end; f += nch)
			for (int c = 0; c < nch; c++)
				if (f[c] != 0.0f)
					h |= (uint64_t)1 << c;
		if (h != heard)
			atomic_store_explicit(&p->heard, h, memory_order_relaxed);
	}
	if (p->channels == 1) {
		drsn__ring_write(&s->ring, x, frames);
	} else {
		/* NaN, infinities and huge values are made harmless before the
		 * downmix, as drsn_audio does for files: one broken channel
		 * would otherwise spoil every mixed sample (and join the mix
		 * forever: a NaN is not digital silence) */
		const int ch = p->channels;
		const unsigned long piece = MIX / (unsigned long)ch;
		size_t bad = 0;
		while (frames) {
			unsigned long n = frames < piece ? frames : piece;
			memcpy(p->in, x, n * (unsigned long)ch * sizeof *x);
			bad += drsn__samples_sanitize(p->in, n * (unsigned long)ch);
			drsn__audio_mix(p->in, n, ch, p->select, &p->live, &p->n_live, p->mix);
			drsn__ring_write(&s->ring, p->mix, n);
			x += n * (unsigned long)ch;
			frames -= n;
		}
		if (bad)
			atomic_fetch_add_explicit(&p->cb_bad, bad, memory_order_relaxed);
	}
	uv_async_send(&s->async);
	return paContinue;
}

static void pa_finished(void *user)
{
	struct drsn__source *s = user;
	atomic_store(&s->pa->finished, 1);
	uv_async_send(&s->async);
}

/* Index of the input device matching spec, or -1 (msg says why). */
static int find_device(const char *spec, char *msg, size_t msg_size)
{
	int n = Pa_GetDeviceCount();
	if (n < 0) {
		snprintf(msg, msg_size, "PortAudio: %s", Pa_GetErrorText(n));
		return -1;
	}
	if (!spec[0]) {
		int d = Pa_GetDefaultInputDevice();
		if (d == paNoDevice)
			snprintf(msg, msg_size, "no default input device (%d devices)", n);
		return d == paNoDevice ? -1 : d;
	}
	char *end;
	long idx = strtol(spec, &end, 10);
	if (end != spec && !*end) {
		const PaDeviceInfo *di = idx >= 0 && idx < n ? Pa_GetDeviceInfo((int)idx) : NULL;
		if (!di || di->maxInputChannels < 1) {
			snprintf(msg, msg_size, "no input device number %ld (see drsnd --list-devices)", idx);
			return -1;
		}
		return (int)idx;
	}
	for (int i = 0; i < n; i++) {
		const PaDeviceInfo *di = Pa_GetDeviceInfo(i);
		if (di && di->maxInputChannels > 0 && di->name && strcasestr(di->name, spec))
			return i;
	}
	snprintf(msg, msg_size, "no input device whose name contains '%s' (see drsnd --list-devices)", spec);
	return -1;
}

static int pin_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (info->dlpi_name && info->dlpi_name[0]) {
		void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
		if (h)
			dlclose(h);   /* stays loaded: RTLD_NODELETE */
	}
	return 0;
}

/* Pa_Initialize has alsa-lib dlopen every PCM plugin it probes (with
 * libasound2-plugins: a52 pulls in libavcodec and some 60 libraries) and
 * Pa_Terminate unloads them again; their constructors leak each time
 * (~13 kB per retry, 37 MB a day while a microphone stays unplugged).
 * Before a Pa_Terminate that a retry follows, keep what is loaded loaded
 * (~10 MB, mostly shared pages): the next Pa_Initialize finds it in place. */
static void pin_loaded_objects(void)
{
	dl_iterate_phdr(pin_object, NULL);
}

/* retry: Pa_Initialize comes again */
static void pa_close_quiet(struct drsn__source *s, int retry)
{
	struct drsn__pa *p = s->pa;
	if (p->stream) {
		Pa_AbortStream(p->stream);
		Pa_CloseStream(p->stream);
		p->stream = NULL;
	}
	if (p->pa_inited) {
		if (retry)
			pin_loaded_objects();
		Pa_Terminate();
		p->pa_inited = 0;
	}
}

static void pa_close(struct drsn__source *s)
{
	struct drsn__hush h;
	drsn__hush_begin(&h);
	pa_close_quiet(s, 0);
	drsn__hush_end(&h, "pa: host library");
}

static void schedule_retry(struct drsn__source *s, const char *why);

/* Open and start the device; 0 or -1 with msg. */
static int pa_open_quiet(struct drsn__source *s, char *msg, size_t msg_size)
{
	struct drsn__pa *p = s->pa;
	PaError e = Pa_Initialize();   /* again each time: rescans the devices */
	if (e != paNoError) {
		snprintf(msg, msg_size, "PortAudio: %s", Pa_GetErrorText(e));
		return -1;
	}
	p->pa_inited = 1;
	int dev = find_device(p->device, msg, msg_size);
	if (dev < 0)
		goto fail;
	const PaDeviceInfo *di = Pa_GetDeviceInfo(dev);
	double rate = s->o.device_rate > 0 ? s->o.device_rate : di->defaultSampleRate;
	PaStreamParameters in = {
		.device = dev,
		.channelCount = 1,
		.sampleFormat = paFloat32,
		.suggestedLatency = s->o.latency_ms > 0 ? s->o.latency_ms / 1000.0 : di->defaultLowInputLatency,
	};
	/* Up to the highest channel chosen ([audio] channel), and 2 at least
	 * where the device has them: a device or sound server asked for mono
	 * averages its channels itself, a dead one too (drsn/audio.h,
	 * "Channels"), and channel 1 of it would be that average. A device
	 * that takes only all of its channels (ALSA hw:) gets all. */
	const int top = drsn__audio_top_channel(s->o.channels);
	if (top > di->maxInputChannels) {
		snprintf(msg, msg_size, "'%s': channel %d asked for ([audio] channel), but it has %d "
			 "input channel%s", di->name, top, di->maxInputChannels,
			 di->maxInputChannels == 1 ? "" : "s");
		goto fail;
	}
	in.channelCount = top > 2 ? top : di->maxInputChannels >= 2 ? 2 : 1;
	if (Pa_IsFormatSupported(&in, NULL, rate) != paFormatIsSupported &&
	    di->maxInputChannels > in.channelCount && di->maxInputChannels <= 64)
		in.channelCount = di->maxInputChannels;
	p->channels = in.channelCount;
	p->max_channels = di->maxInputChannels;
	atomic_store(&p->heard, 0);   /* no callback runs now */
	p->select = s->o.channels ? s->o.channels : drsn__audio_all_channels(p->channels);
	p->live = 0;   /* no callback runs now */
	p->n_live = 0;
	if (p->rate > 0) {   /* no callback runs now: fold the loss at the old rate */
		uint64_t ovs = atomic_load(&s->ring.overflow_samples);
		p->lost_s += (double)(ovs - p->lost_samples) / p->rate;
		p->lost_samples = ovs;
	}
	p->rate = rate;

	/* Callbacks bring 10 ms blocks; the ring holds ring_ms of device-rate
	 * audio, and never fewer than 4 blocks (a block is written whole or
	 * not at all). Reallocated only if the rate grew. */
	unsigned long block = (unsigned long)(rate / 100);
	if (block < 1)
		block = 1;
	size_t need = (size_t)(rate * s->o.ring_ms / 1000.0);
	if (need < 4 * block)
		need = 4 * block;
	if (need < DRAIN)
		need = DRAIN;
	if (s->ring.cap < need) {
		/* keep the overflow counts across the reallocation */
		uint64_t ov = atomic_load(&s->ring.overflows), ovs = atomic_load(&s->ring.overflow_samples);
		drsn__ring_free(&s->ring);
		if (drsn__ring_init(&s->ring, need) < 0) {
			snprintf(msg, msg_size, "out of memory");
			goto fail;
		}
		atomic_store(&s->ring.overflows, ov);
		atomic_store(&s->ring.overflow_samples, ovs);
	} else {
		drsn__ring_reset(&s->ring, need);
	}
	if (!p->rs || p->rs_rate != rate) {
		drsn_resampler_destroy(p->rs);
		free(p->rs_out);
		p->rs = NULL;
		p->rs_out = NULL;
		drsn_error err;
		if (drsn_resampler_create(&p->rs, rate, s->o.target_rate, DRAIN, &err) < 0) {
			snprintf(msg, msg_size, "%s", err.msg);
			goto fail;
		}
		p->rs_cap = drsn_resampler_max_out(p->rs);
		p->rs_out = malloc(p->rs_cap * sizeof *p->rs_out);
		if (!p->rs_out) {
			snprintf(msg, msg_size, "out of memory");
			goto fail;
		}
		p->rs_rate = rate;
	} else {
		drsn_resampler_reset(p->rs);   /* a new stream: drop the old tail */
	}
	atomic_store(&p->finished, 0);
	e = Pa_OpenStream(&p->stream, &in, NULL, rate, block, paNoFlag, pa_callback, s);
	if (e != paNoError) {
		p->stream = NULL;
		snprintf(msg, msg_size, "'%s': cannot open at %.0f Hz: %s", di->name, rate, Pa_GetErrorText(e));
		goto fail;
	}
	Pa_SetStreamFinishedCallback(p->stream, pa_finished);
	e = Pa_StartStream(p->stream);
	if (e != paNoError) {
		snprintf(msg, msg_size, "'%s': cannot start: %s", di->name, Pa_GetErrorText(e));
		goto fail;
	}
	snprintf(p->dev_name, sizeof p->dev_name, "%s", di->name ? di->name : "?");
	return 0;
fail:
	pa_close_quiet(s, 1);
	return -1;
}

/* What alsa-lib and libjack print while PortAudio probes goes to the debug
 * log (daemon/hush.h). */
static int pa_open(struct drsn__source *s, char *msg, size_t msg_size)
{
	struct drsn__hush h;
	drsn__hush_begin(&h);
	int rc = pa_open_quiet(s, msg, msg_size);
	drsn__hush_end(&h, "pa: host library");
	return rc;
}

static void job_work(uv_work_t *w);
static void job_done(uv_work_t *w, int status);

static void queue_job(struct drsn__source *s, int job)
{
	struct drsn__pa *p = s->pa;
	p->job = job;
	p->job_overflows[0] = atomic_load(&s->ring.overflows);
	p->job_overflows[1] = atomic_load(&s->ring.overflow_samples);
	p->job_lost_s = lost_seconds(s);
	p->work.data = s;
	if (uv_queue_work(s->loop, &p->work, job_work, job_done) < 0) {
		job_work(&p->work);   /* cannot happen with a live loop: do it here */
		job_done(&p->work, 0);
	}
}

static void on_retry(uv_timer_t *t)
{
	struct drsn__source *s = t->data;
	if (s->stopping || s->pa->job)
		return;
	queue_job(s, JOB_OPEN);
}

/* Not running: say why; returns the delay before the next attempt. */
static int retry_state(struct drsn__source *s, const char *why)
{
	struct drsn__pa *p = s->pa;
	int delay = p->backoff_ms;
	p->failures++;
	drsn__source_set_state(s, DRSN_SRC_RETRYING, "%s: %s; retrying in %.1f s", s->spec, why, delay / 1000.0);
	p->backoff_ms = delay * 2 > s->o.retry_max_ms ? s->o.retry_max_ms : delay * 2;
	return delay;
}

static void retry_later(struct drsn__source *s, const char *why)
{
	uv_timer_start(&s->pa->retry, on_retry, (uint64_t)retry_state(s, why), 0);
}

/* The running stream failed: tell the clients now, close it on the
 * threadpool (that may hang as long as the sound server does), then
 * retry after the backoff. */
static void schedule_retry(struct drsn__source *s, const char *why)
{
	struct drsn__pa *p = s->pa;
	p->retry_delay_ms = retry_state(s, why);
	queue_job(s, JOB_CLOSE);
}

/* Threadpool: the PortAudio calls that may block. */
static void job_work(uv_work_t *w)
{
	struct drsn__source *s = w->data;
	struct drsn__pa *p = s->pa;
	if (p->job == JOB_OPEN)
		p->job_rc = pa_open(s, p->job_msg, sizeof p->job_msg);
	else
		pa_close_quiet(s, 1);   /* not hushed: a hush would hold the loop's log while it hangs */
}

static void pa_stop_now(struct drsn__source *s);

/* Loop: the job is over. */
static void job_done(uv_work_t *w, int status)
{
	struct drsn__source *s = w->data;
	struct drsn__pa *p = s->pa;
	int job = p->job;
	(void)status;   /* UV_ECANCELED cannot happen: nothing cancels it */
	p->job = JOB_NONE;
	if (p->stop_waiting) {
		p->stop_waiting = 0;
		pa_stop_now(s);   /* no callbacks after this: now the async handle can go */
		s->async.data = s;
		s->open_handles++;
		uv_close((uv_handle_t *)&s->async, drsn__source_handle_closed);
		drsn__source_release(s);
		return;
	}
	if (s->stopping)
		return;
	if (job == JOB_CLOSE) {
		uv_timer_start(&p->retry, on_retry, (uint64_t)p->retry_delay_ms, 0);
	} else if (p->job_rc < 0) {
		retry_later(s, p->job_msg);   /* not fatal: the device may appear later */
	} else {
		p->seen_callbacks = atomic_load(&p->callbacks);
		p->got_audio = 0;
		p->last_progress_ms = uv_now(s->loop);
		p->running_since_ms = p->last_progress_ms;
		p->last_watch_ms = p->gap_from_ms = 0;   /* a new stream: no gap spans it */
		p->open_frames = atomic_load(&p->frames);
		s->st.channels = p->select;
		s->st.device_channels = p->channels;
		/* "running" once its first audio is through (drsn__source_deliver,
		 * which counts the restart then): a stream may open and then
		 * deliver nothing */
		s->st.source_rate = (int)p->rate;
		snprintf(s->running, sizeof s->running,
			 "%.400s: capturing from '%s' at %.0f Hz, %d channel(s)%s", s->spec,
			 p->dev_name, p->rate, p->channels,
			 p->rate != s->o.target_rate ? ", resampled" : "");
		drsn__source_set_state(s, DRSN_SRC_STARTING, "%s: opened '%s'; waiting for its audio",
				       s->spec, p->dev_name);
	}
}

/* At most about one chunk of audio per loop turn, then the rest next turn:
 * on a box slower than real time the callback refills the ring as fast as
 * it is read, and draining it empty would never return to the sockets,
 * timers and the watchdog. The ring fills instead, and what does not fit is
 * dropped and counted (overflows): the backlog stays within ring_ms. */
static void pa_drain(struct drsn__source *s)
{
	struct drsn__pa *p = s->pa;
	size_t n, budget = (size_t)(p->rate * s->o.chunk / s->o.target_rate) + 1;
	while (!s->stopping && budget &&
	       (n = drsn__ring_read(&s->ring, p->drain, budget < DRAIN ? budget : DRAIN)) > 0) {
		size_t out;
		budget -= n;
		/* before the resampler, which would spread a NaN over its filter
		 * (the same as drsn_audio_read does for files); a device with
		 * channels to mix had them made harmless by the callback */
		s->st.bad_samples += drsn__samples_sanitize(p->drain, n) + atomic_exchange(&p->cb_bad, 0);
		if (drsn_resampler_process(p->rs, p->drain, n, p->rs_out, p->rs_cap, &out) == 0)
			drsn__source_deliver(s, p->rs_out, out);
	}
	if (!s->stopping && drsn__ring_used(&s->ring))
		uv_async_send(&s->async);
}

static void on_pa_async(uv_async_t *a)
{
	struct drsn__source *s = a->data;
	if (s->stopping || s->pa->job || !s->pa->stream)
		return;
	pa_drain(s);
	if (atomic_load(&s->pa->finished))
		schedule_retry(s, "the stream stopped (device error or removed)");
}

/* The loop did not run from gap_from_ms to gap_end_ms: once the device's
 * backlog is in (it delivers at real-time pace again), what it did not
 * deliver over that time is lost; counted once, logged once. */
static void check_gap(struct drsn__source *s, uint64_t now, uint64_t frames)
{
	struct drsn__pa *p = s->pa;
	uint64_t turn = (uint64_t)(p->rate * (double)(now - p->last_watch_ms) / 1000.0);
	int paced = frames - p->watch_frames <= turn + turn / 2 + (uint64_t)(p->rate / 100);
	if (now - p->gap_end_ms < GAP_SETTLE_MS || (!paced && now - p->gap_end_ms < GAP_SETTLE_MAX_MS))
		return;
	double span = (double)(now - p->gap_from_ms) / 1000.0;
	double lost = span - (double)(frames - p->gap_frames) / p->rate;
	if (lost >= GAP_SLACK_S) {
		p->gap_lost_s += lost;
		atomic_fetch_add(&p->device_overflows, 1);
		p->logged_overflows++;   /* said here, not again by on_watch */
		log_warn("%s: audio lost: %.1f s while drsnd did not run (%.1f s: stopped, paused or busy); "
			 "the device or sound server did not keep it", s->spec, lost, span);
	} else {
		log_info("%s: drsnd did not run for %.1f s (stopped, paused or busy); the device kept "
			 "its audio", s->spec, span);
	}
	p->gap_from_ms = 0;
}

/* "1", "1,3": the channels in mask */
static void channel_list(uint64_t mask, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = 0;
	for (int c = 0; c < 64 && n < size; c++)
		if (mask & ((uint64_t)1 << c))
			n += (size_t)snprintf(buf + n, size - n, "%s%d", n ? "," : "", c + 1);
}

/* A channel chosen with [audio] channel that has been all zeros for
 * SILENT_CHECK_S while another channel of the stream was not: a sound
 * server's device (ALSA pulse) offers 32 channels whatever its source has,
 * and fills the ones the source lacks with zeros, so drsnd cannot tell a
 * channel 3 that is not there from one that is silent. Said once. */
static void check_silent_channels(struct drsn__source *s, uint64_t frames)
{
	struct drsn__pa *p = s->pa;
	if (p->silent_warned || !s->o.channels || frames - p->open_frames < (uint64_t)(p->rate * SILENT_CHECK_S))
		return;
	uint64_t heard = atomic_load(&p->heard);
	uint64_t silent = s->o.channels & ~heard;
	if (!heard || !silent)
		return;
	p->silent_warned = 1;
	p->silent_said = silent;
	char sil[200], other[200];
	channel_list(silent, sil, sizeof sil);
	channel_list(heard, other, sizeof other);
	log_warn("%s: channel %s ([audio] channel) has been digital silence for %d s while channel %s "
		 "carries sound: '%s' says it has %d input channels, but a sound server's device fills "
		 "those its source lacks with zeros; the source may have fewer (see drsnd --list-devices, "
		 "pactl list sources); status: source.silent_channels", s->spec, sil, SILENT_CHECK_S, other,
		 p->dev_name, p->max_channels);
}

/* Seconds the host was suspended since the previous call (CLOCK_BOOTTIME
 * ran on while CLOCK_MONOTONIC stood still), or 0: counted, logged once
 * per suspend, and told to the daemon (on_suspend). Whatever the source's
 * state: a device retrying during the suspend missed its audio as well. */
static double check_suspend(struct drsn__source *s)
{
	struct drsn__pa *p = s->pa;
	uint64_t mono, boot;
	drsn__source_clocks(&mono, &boot);
	int first = !p->clk_boot_ms;
	uint64_t slept = boot - p->clk_boot_ms - (mono - p->clk_mono_ms);
	p->clk_mono_ms = mono;
	p->clk_boot_ms = boot;
	/* (BOOTTIME - MONOTONIC only grows: an unsigned wrap is no suspend) */
	if (first || slept < SUSPEND_MIN_MS || slept > (uint64_t)1 << 62)
		return 0;
	double secs = (double)slept / 1000.0;
	s->st.suspends++;
	s->st.suspended_s += secs;
	s->st.last_suspend_s = secs;
	log_warn("%s: the host was suspended for %.1f s; the audio of that time was not heard "
		 "(status: source.suspends)", s->spec, secs);
	if (s->ev.on_suspend)
		s->ev.on_suspend(s->user, secs);
	return secs;
}

/* Every STALL_CHECK_MS: a device that stopped calling back is lost. */
static void on_watch(uv_timer_t *t)
{
	struct drsn__source *s = t->data;
	struct drsn__pa *p = s->pa;
	double slept = s->stopping ? 0 : check_suspend(s);
	if (s->stopping || p->job || !p->stream) {
		p->last_watch_ms = p->gap_from_ms = 0;
		return;
	}
	uint64_t now = uv_now(s->loop);
	uint64_t frames = atomic_load(&p->frames);
	if (slept > 0) {
		/* The loop's own pause around a suspend (tasks frozen, devices
		 * resumed: seconds on the monotonic clock too) is part of the
		 * suspend, reported as that, not as a loop gap as well; a gap
		 * being measured ends here. The device gets stall_ms afresh, at
		 * least STARTUP_MS until it calls back: it may wake slowly. */
		p->gap_from_ms = 0;
		p->last_progress_ms = now;
		p->got_audio = 0;
	} else if (p->last_watch_ms && now - p->last_watch_ms >= LOOP_GAP_MS) {
		/* we did not run, the device may well have: it gets stall_ms
		 * afresh; and what it kept of the gap is measured */
		p->last_progress_ms = now;
		if (!p->gap_from_ms) {
			p->gap_from_ms = p->last_watch_ms;
			p->gap_frames = p->watch_frames;
		}
		p->gap_end_ms = now;
	} else if (p->gap_from_ms && p->last_watch_ms) {
		check_gap(s, now, frames);
	}
	p->last_watch_ms = now;
	p->watch_frames = frames;
	check_silent_channels(s, frames);
	/* Lost audio is never silent: log it, at most once a second. */
	uint64_t lost = atomic_load(&s->ring.overflows) + atomic_load(&p->device_overflows);
	if (lost != p->logged_overflows && now - p->last_overflow_log_ms >= 1000) {
		log_warn("%s: audio lost: %llu ring overflows (%llu samples), %llu device overflows so far",
			 s->spec, (unsigned long long)atomic_load(&s->ring.overflows),
			 (unsigned long long)atomic_load(&s->ring.overflow_samples),
			 (unsigned long long)atomic_load(&p->device_overflows));
		p->logged_overflows = lost;
		p->last_overflow_log_ms = now;
	}
	uint64_t cb = atomic_load(&p->callbacks);
	if (cb != p->seen_callbacks) {
		p->seen_callbacks = cb;
		p->got_audio = 1;
		p->last_progress_ms = now;
		if (p->failures && now - p->running_since_ms > HEALTHY_MS) {
			p->failures = 0;
			p->backoff_ms = s->o.retry_min_ms;
		}
		return;
	}
	uint64_t limit = (uint64_t)s->o.stall_ms;
	if (!p->got_audio && limit < STARTUP_MS)
		limit = STARTUP_MS;
	if (now - p->last_progress_ms >= limit) {
		char why[96];
		snprintf(why, sizeof why, "no audio for %llu ms (device lost?)", (unsigned long long)limit);
		schedule_retry(s, why);
	} else if (Pa_IsStreamActive(p->stream) != 1) {
		schedule_retry(s, "the stream is no longer active");
	}
}

int drsn__pa_create(struct drsn__source *s, const char *device, drsn_error *err)
{
	struct drsn__pa *p = calloc(1, sizeof *p);
	if (!p)
		return drsn__fail(err, -ENOMEM, "out of memory");
	snprintf(p->device, sizeof p->device, "%s", device);
	p->backoff_ms = s->o.retry_min_ms;
	s->pa = p;
	uv_async_init(s->loop, &s->async, on_pa_async);
	s->async.data = s;
	s->async_open = 1;
	uv_timer_init(s->loop, &p->retry);
	uv_timer_init(s->loop, &p->watch);
	p->retry.data = p->watch.data = s;
	p->timers_open = 1;
	return 0;
}

int drsn__pa_start(struct drsn__source *s)
{
	struct drsn__pa *p = s->pa;
	uv_timer_start(&p->watch, on_watch, STALL_CHECK_MS, STALL_CHECK_MS);
	queue_job(s, JOB_OPEN);
	return 0;
}

static void pa_timer_closed(uv_handle_t *h)
{
	drsn__source_handle_closed(h);
}

static void pa_stop_now(struct drsn__source *s)
{
	struct drsn__pa *p = s->pa;
	pa_close(s);                 /* no callbacks after this */
	drsn_resampler_destroy(p->rs);
	free(p->rs_out);
	p->rs = NULL;
	p->rs_out = NULL;
}

void drsn__pa_stop(struct drsn__source *s)
{
	struct drsn__pa *p = s->pa;
	if (!p)
		return;
	if (p->job) {
		/* the worker has the stream (a callback may still wake the async
		 * handle): finish both once it is done (job_done) */
		p->stop_waiting = 1;
		s->open_handles++;
		s->async_open = 0;
	} else {
		pa_stop_now(s);
	}
	if (p->timers_open) {
		p->timers_open = 0;
		s->open_handles += 2;
		p->retry.data = p->watch.data = s;
		uv_close((uv_handle_t *)&p->retry, pa_timer_closed);
		uv_close((uv_handle_t *)&p->watch, pa_timer_closed);
	}
}

void drsn__pa_free(struct drsn__source *s)
{
	free(s->pa);
	s->pa = NULL;
}

void drsn__pa_stats(const struct drsn__source *s, struct drsn__source_stats *st)
{
	if (s->pa && s->pa->job) {   /* the worker may be reallocating the ring */
		st->overflows = s->pa->job_overflows[0];
		st->overflow_samples = s->pa->job_overflows[1];
		st->device_overflows = atomic_load(&s->pa->device_overflows);
		st->lost_s = s->pa->job_lost_s;
		return;
	}
	st->overflows = atomic_load(&s->ring.overflows);
	st->overflow_samples = atomic_load(&s->ring.overflow_samples);
	st->device_overflows = s->pa ? atomic_load(&s->pa->device_overflows) : 0;
	if (!s->pa || s->pa->rate <= 0)
		return;
	if (s->pa->stream && s->o.channels) {   /* mix leaves silent channels out by design */
		uint64_t heard = atomic_load(&s->pa->heard);
		st->silent_channels = heard ? st->channels & ~heard : 0;
	}
	st->lost_s = lost_seconds(s);
	if (s->pa->stream)
		st->behind_s = (double)drsn__ring_used(&s->ring) / s->pa->rate;
}

int drsn__pa_silent_channels_said(const struct drsn__source *s)
{
	/* all of the chosen channels: their mix is the zeros that warning
	 * explained; else a channel not named went silent too (a mute) */
	return s->pa && s->pa->silent_warned && !(s->o.channels & ~s->pa->silent_said);
}

const char *drsn__pa_device(const struct drsn__source *s)
{
	/* written by an open job: read while none runs (audio is delivered
	 * only then) */
	return s->pa && !s->pa->job ? s->pa->dev_name : "";
}

int drsn__source_list_devices(FILE *f)
{
	struct drsn__hush h;
	drsn__hush_begin(&h);
	PaError e = Pa_Initialize();
	drsn__hush_end(&h, "pa: host library");
	if (e != paNoError) {
		fprintf(stderr, "drsnd: PortAudio: %s\n", Pa_GetErrorText(e));
		return -EIO;
	}
	int n = Pa_GetDeviceCount();
	int def = Pa_GetDefaultInputDevice();
	fprintf(f, "PortAudio input devices (use pa:INDEX or pa:NAME-SUBSTRING):\n");
	int shown = 0;
	for (int i = 0; i < n; i++) {
		const PaDeviceInfo *di = Pa_GetDeviceInfo(i);
		if (!di || di->maxInputChannels < 1)
			continue;
		const PaHostApiInfo *hi = Pa_GetHostApiInfo(di->hostApi);
		fprintf(f, "%c %3d  %-40s  %s, %d ch, %.0f Hz\n", i == def ? '*' : ' ', i, di->name,
			hi ? hi->name : "?", di->maxInputChannels, di->defaultSampleRate);
		shown++;
	}
	if (!shown)
		fprintf(f, "  (none)\n");
	drsn__hush_begin(&h);
	Pa_Terminate();
	drsn__hush_end(&h, "pa: host library");
	return 0;
}

#else /* !DRSN_HAVE_PORTAUDIO */

int drsn__pa_create(struct drsn__source *s, const char *device, drsn_error *err)
{
	(void)s;
	(void)device;
	return drsn__fail(err, -ENOTSUP, "audio source pa:: this drsnd was built without PortAudio (-Dportaudio=disabled)");
}

int drsn__pa_start(struct drsn__source *s)
{
	(void)s;
	return -ENOTSUP;
}

void drsn__pa_stop(struct drsn__source *s)
{
	(void)s;
}

void drsn__pa_free(struct drsn__source *s)
{
	(void)s;
}

void drsn__pa_stats(const struct drsn__source *s, struct drsn__source_stats *st)
{
	(void)s;
	(void)st;
}

int drsn__pa_silent_channels_said(const struct drsn__source *s)
{
	(void)s;
	return 0;
}

const char *drsn__pa_device(const struct drsn__source *s)
{
	(void)s;
	return "";
}

int drsn__source_list_devices(FILE *f)
{
	(void)f;
	fprintf(stderr, "drsnd: built without PortAudio: no devices to list\n");
	return -ENOTSUP;
}
#endif
