/* Internals shared by source.c (file, stdin/fd) and source_pa.c. */
#ifndef DRSN_DAEMON_SOURCE_IMPL_H
#define DRSN_DAEMON_SOURCE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "daemon/ring.h"
#include "daemon/source.h"
#include "drsn/audio.h"

enum src_kind { SRC_PA, SRC_FILE, SRC_FD };

struct drsn__source {
	enum src_kind kind;
	uv_loop_t *loop;
	struct drsn__source_opts o;
	char spec[4200];
	struct drsn__source_events ev;
	void *user;
	struct drsn__source_stats st;
	char running[1024];         /* the state's detail once audio flows */
	int ever_running;           /* was "running" once: the next time is a restart */
	float *buf;                 /* chunk samples: loop-side work buffer */

	/* ring + wake-up: pa callback or fd reader thread -> loop */
	struct drsn__ring ring;
	uv_async_t async;
	int async_open;

	/* file */
	drsn_audio *audio;
	uv_timer_t pace;            /* realtime */
	uv_idle_t idle;             /* as fast as possible */
	int pace_open, idle_open;
	uint64_t t0_ns;

	/* stdin / fd */
	int fd;
	pthread_t thread;
	int thread_running;
	_Atomic int reader_done;    /* 1 = end, 2 = error */
	_Atomic uint64_t reader_bad;   /* drsn_audio_bad_samples, for the loop side */
	char reader_err[DRSN_ERROR_MSG_MAX];
	/* Stopping a reader blocked in read(2) on an idle pipe: it cannot be
	 * interrupted (libsndfile retries on EINTR, and pthread_cancel does not
	 * mix with sanitizers), so it is left behind ("abandoned") and frees the
	 * source itself if its read ever returns. lock guards these and every
	 * uv_async_send from the reader (the handle is closed at stop). */
	pthread_mutex_t lock;
	int stop_reader;
	int reader_exited;
	int abandoned;
	int loop_released;          /* abandoned: the loop side closed its handles */

	/* pa (source_pa.c) */
	struct drsn__pa *pa;

	int bad_warned;             /* bad_samples were logged (once per source) */

	/* The level check (drsn__source_deliver): windows of LEVEL_WINDOW_S of
	 * delivered audio, judged at their end (and at the end of a stream). */
	struct {
		uint64_t n;                /* samples in the current window */
		float peak;                /* its loudest |x| */
		uint64_t clipped;          /* its samples at or near full scale */
		uint64_t clipped_total;
		uint64_t zero_run;         /* exact zeros in a row up to now */
		int judged;                /* the last_* hold a judged window */
		float last_peak;
		double last_share;
		int loud_seen;             /* a window peaked at LOW_DBFS or above */
		int silent;                /* zero_run reached SILENCE_S */
		int silent_warned;         /* and this run was warned of */
		int warned[3];             /* LV_SILENT, LV_LOW, LV_CLIP: warned once... */
		uint64_t warned_at[3];     /* ...last at this sample (stream time) */
	} lv;

	int stopping;
	int open_handles;
	void (*done)(void *user);
	void *done_user;
};

void drsn__source_set_state(struct drsn__source *s, enum drsn__source_state st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Account for and hand over samples to the daemon, in chunks. The first
 * samples of a stream turn "starting" into "running" (detail: s->running). */
void drsn__source_deliver(struct drsn__source *s, const float *x, size_t n);
/* file: with realtime pacing: samples due elapsed_ns after the start, at
 * rate Hz. */
uint64_t drsn__source_due(uint64_t elapsed_ns, int rate);
/* file: at real time: how many samples are due at now_ns beyond the
 * `delivered` ones, at most max_lag: what a stall made due beyond that is
 * not caught up, the start *t0_ns moves on by it instead. */
uint64_t drsn__source_pace(uint64_t *t0_ns, uint64_t now_ns, uint64_t delivered, int rate,
			   uint64_t max_lag);
/* Milliseconds of CLOCK_MONOTONIC (stands still while the host is
 * suspended) and CLOCK_BOOTTIME (runs on), read together: source_pa.c's
 * suspend check, every STALL_CHECK_MS, never on the audio path. */
void drsn__source_clocks(uint64_t *mono_ms, uint64_t *boot_ms);
/* Tests only: when set, drsn__source_clocks asks it instead. */
extern void (*drsn__source_clocks_hook)(uint64_t *mono_ms, uint64_t *boot_ms);
/* A libuv handle owned by the source was closed (counts toward done). */
void drsn__source_handle_closed(uv_handle_t *h);
/* Something else the stop waited for (s->open_handles++ at stop) is over. */
void drsn__source_release(struct drsn__source *s);

/* source_pa.c */
int drsn__pa_create(struct drsn__source *s, const char *device, drsn_error *err);
int drsn__pa_start(struct drsn__source *s);
/* Closes its handles via drsn__source_handle_closed; a PortAudio job still
 * running on the threadpool holds the stop (drsn__source_release). */
void drsn__pa_stop(struct drsn__source *s);
void drsn__pa_free(struct drsn__source *s);     /* after all handles closed */
void drsn__pa_stats(const struct drsn__source *s, struct drsn__source_stats *st);
/* The name of the device open last ("" before any), for messages. */
const char *drsn__pa_device(const struct drsn__source *s);
/* check_silent_channels warned: every chosen channel is one of them. */
int drsn__pa_silent_channels_said(const struct drsn__source *s);

#endif
