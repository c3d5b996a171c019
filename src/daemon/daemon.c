#include "daemon/daemon.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "common/closest.h"
#include "common/error.h"
#include "common/label.h"
#include "common/utf8.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/plugins.h"
#include "daemon/proto.h"
#include "daemon/reap.h"
#include "daemon/server.h"
#include "daemon/source.h"
#include "features/narrowband.h"
#include "pipeline/detector.h"
#include "drsn/drsn.h"

#ifndef DRSND_CONFIG_PATH
#define DRSND_CONFIG_PATH DRSN_CFG_DEFAULT_PATH
#endif

#define DEFAULT_RATE 16000   /* without a model */
#define STOP_FLUSH_MS 2000
#define RETRY_WARN_MS 600000   /* a source that keeps failing: a warning every 10 min */
#define WAIT_SILENT_MS 250     /* [audio] wait_for_client: a client that says nothing for this long starts the reading */

struct daemon {
	uv_loop_t *loop;
	const struct drsn__daemon_args *args;
	struct drsn__config cfg;
	drsn_model *model;
	drsn_pipeline *pipe;
	/* Stream time of pipe's first sample (reloads). With classify_on =
	 * denoised, pipe gets the denoiser's output with its latency removed
	 * (dn_skip), so its times are input times too. */
	double pipe_t0;
	/* The last ctx_cap samples pipe was given (raw or denoised), a ring: a
	 * reload replays them into the new pipeline, so that it starts with a
	 * full window instead of silence and a word said across the reload is
	 * still heard. Allocated with the first pipeline, never on audio. */
	float *ctx;
	size_t ctx_cap, ctx_pos, ctx_n;
	/* Counters of the pipelines reloads replaced (status totals) */
	drsn_pipeline_stats retired;
	char model_name[256];
	int rate;
	int src_down;              /* the source failed or is retrying: its return is a notice */
	uint64_t src_warned_ms;    /* uv_now() of the last retry warning */
	unsigned src_quiet;        /* retries logged at info since then */
	int narrow_rate;           /* the source rate last warned of as below the model's */
	/* [audio] wait_for_client: the source is not started until a client
	 * subscribes to what the pipeline makes, or stays silent for
	 * WAIT_SILENT_MS after it connected or after a status, ping or reload
	 * (then 0 for good: a client leaving pauses nothing) */
	int src_waiting;

	struct drsn__server *srv;

	/* [denoise]: dn runs when classify_on = denoised or pcm_socket is set */
	drsn_denoise *dn;
	float *dn_buf;             /* dn_cap denoised samples */
	int16_t *pcm_buf;          /* dn_cap s16 samples for the PCM socket */
	size_t dn_cap;             /* >= the source chunk and the latency */
	int dn_skip;               /* latency samples still to drop from dn's output */
	uint64_t dn_out;           /* denoised samples passed on (after the skip) */
	struct drsn__server *pcm;  /* the PCM socket, or NULL */
	struct drsn__source *src;
	struct drsn__plugins *plugins; /* [plugins] load: loaded at start, kept over reloads */
	struct drsn__notify notify;
	uv_signal_t sig[3];
	struct drsn__reaper reaper;   /* PID 1: orphans (reap.h) */
	uv_timer_t status_timer;

	/* level meter */
	double lvl_sumsq;
	float lvl_peak;
	int lvl_n, lvl_every;
	uint64_t samples;

	uint64_t reloads, reload_failures;
	uint64_t detections;
	/* inferences the network refused (an output that is not finite):
	 * status failed_inferences; the first one is warned of */
	uint64_t failed_inferences;
	int64_t pipe_failed;            /* drsn__pipeline_failed(pipe) counted so far */
	uint64_t start_ms;
	int stopping;
	int exit_code;
	int pending_closes;
};

/* ---- config + detector --------------------------------------------------- */

int drsn__daemon_config(struct drsn__config *c, const struct drsn__daemon_args *a,
			struct drsn__cfg_errors *errs, struct drsn__cfg_errors *warn)
{
	drsn__config_defaults(c);
	int rc = 0;
	const char *path = a->config_path;
	if (path) {
		rc = drsn__config_load_file(c, path, errs);
	} else if (access(DRSND_CONFIG_PATH, F_OK) == 0) {
		rc = drsn__config_load_file(c, DRSND_CONFIG_PATH, errs);
	} else {
		log_info("no %s: using the built-in defaults", DRSND_CONFIG_PATH);
	}
	/* the file's values, to name those the command line replaces */
	struct drsn__config *file = warn && a->n_overrides ? malloc(sizeof *file) : NULL;
	if (file)
		*file = *c;
	for (int i = 0; i < a->n_overrides; i++)
		if (drsn__config_set_arg(c, a->overrides[i], errs) < 0)
			rc = -EINVAL;
	if (file && rc == 0)
		drsn__config_overridden(file, c, warn);
	free(file);
	if (drsn__config_check(c, errs) < 0)
		rc = -EINVAL;
	return rc;
}

/* The labels of m for a message, ", " between them, each as
 * drsn__label_text gives it (common/label.h); the labels that do not fit
 * in out[n] (n > 8) are ", ..." (UTF-8 stays whole). */
static void label_list(const drsn_model *m, char *out, size_t n)
{
	static const char more[] = ", \xe2\x80\xa6";
	size_t o = 0, room = n - sizeof more;   /* leave room for ", ..." */
	out[0] = '\0';
	for (int l = 0; l < drsn_model_n_labels(m); l++) {
		char item[DRSN__LABEL_TEXT_MAX + 2];
		size_t k = l ? 2 : 0;
		memcpy(item, ", ", k);
		k += drsn__label_text(drsn_model_label(m, l), item + k, sizeof item - k);
		if (o + k > room) {
			/* the labels that fit whole; of a first label too long
			 * for all of it, as much as fits at a whole character */
			item[k] = '\0';
			int keep = l ? 0 : drsn__utf8_prefix(item, room);
			memcpy(out + o, item, (size_t)keep);
			o += (size_t)keep;
			memcpy(out + o, more + (l ? 0 : 2), sizeof more - (l ? 0 : 2));
			return;
		}
		memcpy(out + o, item, k);
		o += k;
		out[o] = '\0';
	}
}

int drsn__daemon_pipeline(const struct drsn__config *c, const drsn_model *m, drsn_pipeline **p,
			  drsn_error *err)
{
	*p = NULL;
	int rc = 0;
	int nl = drsn_model_n_labels(m);
	float *thr = malloc((size_t)nl * sizeof *thr);
	if (!thr)
		return drsn__fail(err, -ENOMEM, "out of memory");
	for (int l = 0; l < nl; l++)
		thr[l] = -1;   /* the global threshold */
	for (int i = 0; i < c->n_thresholds; i++) {
		int found = -1;
		for (int l = 0; l < nl; l++)
			if (!strcmp(drsn_model_label(m, l), c->thresholds[i].label))
				found = l;
		if (found < 0) {
			char known[256];
			struct drsn__closest near;
			label_list(m, known, sizeof known);
			drsn__closest_init(&near, c->thresholds[i].label);
			for (int l = 0; l < nl; l++)
				drsn__closest_add(&near, drsn_model_label(m, l));
			rc = drsn__fail(err, -EINVAL, "%s: [thresholds] %s: no such label in %s%s (labels: %s)",
					c->thresholds[i].where, c->thresholds[i].label, c->model_path,
					drsn__closest_hint(&near, ""), known);
			goto out;
		}
		thr[found] = c->thresholds[i].value;
	}
	drsn_pipeline_opts o;
	drsn_pipeline_opts_default(&o);
	o.inference_hop_ms = c->inference_hop_ms;
	o.smoothing_ms = c->smoothing_ms;
	o.threshold = c->threshold;
	o.thresholds = thr;
	o.refractory_ms = c->refractory_ms;
	o.vad = c->vad;
	o.vad_threshold_db = c->vad_threshold_db;
	o.vad_hangover_ms = c->vad_hangover_ms;
	drsn_error e2;
	rc = drsn_pipeline_create(p, m, &o, &e2);
	if (rc < 0)
		drsn__fail(err, rc, "%s: %s", c->model_path, e2.msg);
out:
	free(thr);
	return rc;
}

/* One run of the network on a window of digital silence (log(log_offset)
 * in every band): a model whose weights are finite but overflow float32
 * (a damaged or wrongly exported file) loads, and then every inference
 * would fail; it is refused here, at start, reload and --check-config. */
static int model_runs(const drsn_model *m, const char *path, drsn_error *err)
{
	drsn_ctx *ctx = NULL;
	size_t n = (size_t)drsn_model_frames(m) * (size_t)drsn_model_bands(m);
	float *x = malloc(n * sizeof *x);
	int rc = -ENOMEM;
	if (!x) {
		drsn__fail(err, rc, "%s: out of memory", path);
		goto cleanup;
	}
	float v = logf(drsn_model_features_params(m)->log_offset);
	for (size_t i = 0; i < n; i++)
		x[i] = v;
	if ((rc = drsn_ctx_create(&ctx, m, err)) < 0)
		goto cleanup;
	rc = drsn_ctx_run(ctx, x, NULL);
	if (rc < 0)
		drsn__fail(err, rc, "%s: the network's output on silence is not finite (weights that "
			   "overflow float32): a damaged or wrongly exported model", path);
cleanup:
	drsn_ctx_destroy(ctx);
	free(x);
	return rc;
}

int drsn__daemon_detector(const struct drsn__config *c, drsn_model **m, drsn_pipeline **p,
			  int *config_fault, drsn_error *err)
{
	*m = NULL;
	*p = NULL;
	if (config_fault)
		*config_fault = 0;
	if (!c->model_path[0])
		return 0;
	int rc = drsn_model_load(m, c->model_path, err);
	if (rc < 0)
		return rc;
	rc = model_runs(*m, c->model_path, err);
	if (rc < 0) {
		drsn_model_free(*m);
		*m = NULL;
		return rc;
	}
	rc = drsn__daemon_pipeline(c, *m, p, err);
	if (rc < 0) {
		if (config_fault)
			*config_fault = 1;
		drsn_model_free(*m);
		*m = NULL;
	}
	return rc;
}

/* Does c (or a plugin) want the denoiser? (pcm_socket: the running value.) */
static int denoise_wanted(const struct daemon *d, const struct drsn__config *c)
{
	return c->classify_on_denoised || c->pcm_socket[0] ||
	       (drsn__plugins_wants(d->plugins) & DRSN_PLUGIN_WANT_DENOISED_AUDIO);
}

static int denoiser_create(struct daemon *d, const struct drsn__config *c, drsn_denoise **dn,
			   drsn_error *err)
{
	drsn_denoise_opts o;
	drsn_denoise_opts_default(&o);
	o.strength_db = c->denoise_strength_db;
	drsn_error e2;
	int rc = drsn_denoise_create(dn, d->rate, &o, &e2);
	if (rc < 0)
		return drsn__fail(err, rc, "[denoise]: %s", e2.msg);
	if ((size_t)drsn_denoise_latency(*dn) > d->dn_cap) {
		int lat = drsn_denoise_latency(*dn);
		drsn_denoise_destroy(*dn);
		*dn = NULL;
		return drsn__fail(err, -EINVAL, "[denoise]: latency %d samples exceeds the buffer (%zu)",
				  lat, d->dn_cap);
	}
	return 0;
}

/* The model's name for hello, status and the log: its file name without
 * .safetensors, of the file a symbolic link leads to (the installed
 * default.safetensors is a link to the shipped kws20-drsn-cw.safetensors,
 * and "default" would not say which model runs). */
static void model_name(const char *path, char *out, size_t n)
{
	char *real = realpath(path, NULL);
	const char *p = real ? real : path;
	const char *b = strrchr(p, '/');
	b = b ? b + 1 : p;
	snprintf(out, n, "%s", b);
	free(real);
	char *dot = strstr(out, ".safetensors");
	if (dot && dot[12] == '\0')
		*dot = '\0';
}

/* ---- events to clients --------------------------------------------------- */

static void broadcast(struct daemon *d, int ev, cJSON *o)
{
	size_t len;
	char *line = drsn__proto_line(o, &len);
	if (line)
		drsn__server_broadcast(d->srv, ev, line, len);
	free(line);
}

/* An event for the clients subscribed to ev and for the plugins (the same
 * line, without its newline). */
static void emit(struct daemon *d, int ev, cJSON *o, const drsn_detection *det)
{
	size_t len;
	char *line = drsn__proto_line(o, &len);
	if (!line)
		return;
	if (drsn__plugins_count(d->plugins)) {
		line[len - 1] = '\0';
		drsn_plugin_event pe = {
			.type = ev == DRSN_EV_DETECTION ? DRSN_PLUGIN_EVENT_DETECTION : DRSN_PLUGIN_EVENT_STATUS,
			.json = line,
			.detection = det,
			.stream = drsn__source_name(d->src),
			.wall_time = drsn__wall_time(),
		};
		drsn__plugins_event(d->plugins, &pe);
		line[len - 1] = '\n';
	}
	if (drsn__server_subscribers(d->srv, ev))
		drsn__server_broadcast(d->srv, ev, line, len);
	free(line);
}

static void send_to(struct drsn__client *c, cJSON *o, const cJSON *id)
{
	if (!o)
		return;
	if (id)
		cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
	size_t len;
	char *line = drsn__proto_line(o, &len);
	if (line)
		drsn__client_send(c, line, len);
	free(line);
}

/* Samples per "level" event (up to 384 kHz x 60 s: rate x ms passes INT_MAX) */
static int level_every(const struct daemon *d)
{
	return (int)((int64_t)d->rate * d->cfg.level_interval_ms / 1000);
}

static double stream_time(const struct daemon *d)
{
	return (double)d->samples / d->rate;
}

static cJSON *hello(struct daemon *d)
{
	cJSON *o = drsn__proto_new("hello");
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "daemon", "drsnd");
	cJSON_AddStringToObject(o, "daemon_version", drsn_version());
	cJSON_AddStringToObject(o, "source", drsn__source_name(d->src));
	cJSON_AddNumberToObject(o, "sample_rate", d->rate);
	if (d->model) {
		cJSON *m = cJSON_AddObjectToObject(o, "model");
		cJSON_AddStringToObject(m, "name", d->model_name);
		cJSON_AddStringToObject(m, "variant", drsn_model_variant(d->model));
		cJSON *l = cJSON_AddArrayToObject(m, "labels");
		for (int i = 0; i < drsn_model_n_labels(d->model); i++)
			cJSON_AddItemToArray(l, cJSON_CreateString(drsn_model_label(d->model, i)));
		const drsn_features_params *fp = drsn_model_features_params(d->model);
		cJSON_AddNumberToObject(m, "sample_rate", fp->sample_rate);
		cJSON_AddNumberToObject(m, "window", drsn_pipeline_window_s(d->pipe));
		cJSON_AddNumberToObject(m, "hop", (double)fp->hop_length / fp->sample_rate);
		cJSON_AddNumberToObject(m, "inference_hop", drsn_pipeline_hop_s(d->pipe));
	} else {
		cJSON_AddNullToObject(o, "model");
	}
	cJSON *ev = cJSON_AddArrayToObject(o, "events");
	for (int i = 0; i < DRSN_EV_COUNT; i++)
		cJSON_AddItemToArray(ev, cJSON_CreateString(drsn__event_name(i)));
	return o;
}

/* The source's state for status and systemd: "waiting" before the source
 * has been started ([audio] wait_for_client). */
static const char *source_state(const struct daemon *d, const struct drsn__source_stats *st)
{
	return d->src_waiting ? "waiting" : drsn__source_state_name(st->state);
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* a += sign * b, counter by counter */
static void stats_add(drsn_pipeline_stats *a, const drsn_pipeline_stats *b, int sign)
{
	a->samples += sign * b->samples;
	a->frames += sign * b->frames;
	a->inferences += sign * b->inferences;
	a->vad_skipped += sign * b->vad_skipped;
	a->detections += sign * b->detections;
	a->inference_cpu_s += sign * b->inference_cpu_s;
}

/* [1, 3]: the channels in mask (bit c: channel c + 1) */
static void add_channels(cJSON *o, const char *name, uint64_t mask)
{
	cJSON *a = cJSON_AddArrayToObject(o, name);
	for (int c = 0; a && c < 64; c++)
		if (mask & ((uint64_t)1 << c))
			cJSON_AddItemToArray(a, cJSON_CreateNumber(c + 1));
}

static cJSON *status(struct daemon *d)
{
	cJSON *o = drsn__proto_new("status");
	if (!o)
		return NULL;
	struct drsn__server_stats ss;
	drsn__server_get_stats(d->srv, &ss);
	struct drsn__source_stats src;
	drsn__source_get_stats(d->src, &src);
	drsn_pipeline_stats ps = {0};
	if (d->pipe)
		drsn_pipeline_get_stats(d->pipe, &ps);
	stats_add(&ps, &d->retired, 1);
	cJSON_AddNumberToObject(o, "uptime", (double)(uv_now(d->loop) - d->start_ms) / 1000.0);
	cJSON_AddNumberToObject(o, "stream_time", stream_time(d));
	cJSON *s = cJSON_AddObjectToObject(o, "source");
	cJSON_AddStringToObject(s, "name", drsn__source_name(d->src));
	cJSON_AddStringToObject(s, "state", source_state(d, &src));
	cJSON_AddNumberToObject(s, "samples", (double)src.samples);
	cJSON_AddNumberToObject(s, "overflows", (double)src.overflows);
	cJSON_AddNumberToObject(s, "overflow_samples", (double)src.overflow_samples);
	cJSON_AddNumberToObject(s, "device_overflows", (double)src.device_overflows);
	cJSON_AddNumberToObject(s, "restarts", (double)src.restarts);
	cJSON_AddNumberToObject(s, "behind", round(src.behind_s * 1e3) / 1e3);
	cJSON_AddNumberToObject(s, "lost", round(src.lost_s * 1e3) / 1e3);
	cJSON_AddNumberToObject(s, "bad_samples", (double)src.bad_samples);
	add_channels(s, "channels", src.channels);
	cJSON_AddNumberToObject(s, "device_channels", src.device_channels);
	cJSON_AddNumberToObject(s, "rate", src.source_rate);
	add_channels(s, "silent_channels", src.silent_channels);
	cJSON_AddNumberToObject(s, "suspends", (double)src.suspends);
	cJSON_AddNumberToObject(s, "suspended", round(src.suspended_s * 1e3) / 1e3);
	cJSON_AddNumberToObject(s, "last_suspend", round(src.last_suspend_s * 1e3) / 1e3);
	cJSON_AddStringToObject(s, "health", src.health ? src.health : "unknown");
	if (src.peak_known)
		cJSON_AddNumberToObject(s, "peak_dbfs", round(src.peak_dbfs * 10) / 10);
	else
		cJSON_AddNullToObject(s, "peak_dbfs");
	cJSON_AddNumberToObject(s, "clipped", (double)src.clipped);
	cJSON_AddNumberToObject(s, "clipped_share", round(src.clipped_share * 1e5) / 1e5);
	cJSON_AddNumberToObject(s, "silence", round(src.silence_s * 1e3) / 1e3);
	cJSON_AddNumberToObject(o, "frames", (double)ps.frames);
	cJSON_AddNumberToObject(o, "inferences", (double)ps.inferences);
	cJSON_AddNumberToObject(o, "vad_skipped", (double)ps.vad_skipped);
	cJSON_AddNumberToObject(o, "failed_inferences", (double)d->failed_inferences);
	cJSON_AddNumberToObject(o, "detections", (double)d->detections);
	cJSON_AddNumberToObject(o, "overflows", (double)(src.overflows + src.device_overflows));
	cJSON_AddNumberToObject(o, "clients", (double)ss.clients);
	cJSON_AddNumberToObject(o, "dropped_clients", (double)(ss.dropped_slow + ss.dropped_flood));
	cJSON_AddNumberToObject(o, "dropped_slow", (double)ss.dropped_slow);
	cJSON_AddNumberToObject(o, "dropped_flood", (double)ss.dropped_flood);
	cJSON_AddNumberToObject(o, "rejected_clients", (double)ss.rejected);
	cJSON_AddNumberToObject(o, "protocol_errors", (double)ss.protocol_errors);
	cJSON_AddNumberToObject(o, "cpu_time", cpu_seconds());
	cJSON_AddNumberToObject(o, "inference_cpu_time", ps.inference_cpu_s);
	cJSON_AddStringToObject(o, "simd", drsn_simd_name());   /* the network's kernels */
	cJSON_AddNumberToObject(o, "rss_kb", (double)rss_kb());
	cJSON_AddStringToObject(o, "classify_on", d->cfg.classify_on_denoised ? "denoised" : "raw");
	if (d->pcm) {
		struct drsn__server_stats ps2;
		drsn__server_get_stats(d->pcm, &ps2);
		cJSON_AddNumberToObject(o, "pcm_clients", (double)ps2.clients);
		cJSON_AddNumberToObject(o, "pcm_dropped", (double)ps2.dropped_slow);
		cJSON_AddNumberToObject(o, "pcm_bytes", (double)ps2.bytes_out);
	}
	cJSON *pl = cJSON_AddArrayToObject(o, "plugins");
	for (int i = 0; i < drsn__plugins_count(d->plugins); i++)
		cJSON_AddItemToArray(pl, cJSON_CreateString(drsn__plugins_name(d->plugins, i)));
	cJSON_AddNumberToObject(o, "reloads", (double)d->reloads);
	cJSON_AddNumberToObject(o, "reload_failures", (double)d->reload_failures);
	if (d->model)
		cJSON_AddStringToObject(o, "model", d->model_name);
	else
		cJSON_AddNullToObject(o, "model");
	return o;
}

/* ---- pipeline callbacks -------------------------------------------------- */

static void on_detection(void *user, const drsn_detection *det)
{
	struct daemon *d = user;
	d->detections++;
	log_info("detection: %s %.3f [%.2f, %.2f] s", det->name, det->score, d->pipe_t0 + det->start,
		 d->pipe_t0 + det->end);
	if (!drsn__server_subscribers(d->srv, DRSN_EV_DETECTION) && !drsn__plugins_count(d->plugins))
		return;
	cJSON *o = drsn__proto_new("detection");
	cJSON_AddStringToObject(o, "label", det->name);
	cJSON_AddNumberToObject(o, "score", round(det->score * 1e4) / 1e4);   /* as drsn detect */
	cJSON_AddStringToObject(o, "stream", drsn__source_name(d->src));
	cJSON_AddNumberToObject(o, "start", d->pipe_t0 + det->start);
	cJSON_AddNumberToObject(o, "end", d->pipe_t0 + det->end);
	cJSON_AddNumberToObject(o, "stream_time", d->pipe_t0 + det->time);
	cJSON_AddNumberToObject(o, "time", drsn__wall_time());
	/* plugins get the detection in stream time, like the JSON */
	drsn_detection sd = *det;
	sd.start += d->pipe_t0;
	sd.end += d->pipe_t0;
	sd.time += d->pipe_t0;
	emit(d, DRSN_EV_DETECTION, o, &sd);
}

static void on_scores(void *user, double t, const float *probs, const float *smoothed, int n)
{
	struct daemon *d = user;
	if (!drsn__server_subscribers(d->srv, DRSN_EV_SCORES))
		return;
	cJSON *o = drsn__proto_new("scores");
	cJSON_AddStringToObject(o, "stream", drsn__source_name(d->src));
	cJSON_AddNumberToObject(o, "stream_time", d->pipe_t0 + t);
	cJSON *a = cJSON_AddArrayToObject(o, "scores");
	cJSON *b = cJSON_AddArrayToObject(o, "smoothed");
	for (int i = 0; i < n; i++) {
		cJSON_AddItemToArray(a, cJSON_CreateNumber(round(probs[i] * 1e5) / 1e5));
		cJSON_AddItemToArray(b, cJSON_CreateNumber(round(smoothed[i] * 1e5) / 1e5));
	}
	broadcast(d, DRSN_EV_SCORES, o);
}

static void on_vad(void *user, double t, int active)
{
	struct daemon *d = user;
	log_debug("vad: %s at %.2f s", active ? "voice" : "silence", t);
	if (!drsn__server_subscribers(d->srv, DRSN_EV_VAD))
		return;
	cJSON *o = drsn__proto_new("vad");
	cJSON_AddStringToObject(o, "stream", drsn__source_name(d->src));
	cJSON_AddNumberToObject(o, "stream_time", d->pipe_t0 + t);
	cJSON_AddBoolToObject(o, "active", active);
	if (d->dn)
		cJSON_AddNumberToObject(o, "speech", round(drsn_denoise_speech(d->dn) * 1e4) / 1e4);
	broadcast(d, DRSN_EV_VAD, o);
}

static const drsn_pipeline_events pipe_events = {on_detection, on_scores, on_vad};

/* ---- audio ----------------------------------------------------------------- */

/* After a push or finish: inferences that failed are counted, and the
 * first is warned of (they give no scores and no detections). */
static void count_failed(struct daemon *d)
{
	int64_t f = drsn__pipeline_failed(d->pipe);
	if (f == d->pipe_failed)
		return;
	if (!d->failed_inferences)
		log_warn("model %s: an inference failed: the network's output is not finite (weights or "
			 "audio that overflow float32), so no scores nor detections for it (status "
			 "failed_inferences counts them; warned once)", d->model_name);
	d->failed_inferences += (uint64_t)(f - d->pipe_failed);
	d->pipe_failed = f;
}

/* x goes to the pipeline, and its tail stays in ctx for a reload. */
static void classify(struct daemon *d, const float *x, size_t n)
{
	drsn_pipeline_push(d->pipe, x, n, &pipe_events, d);
	count_failed(d);
	if (!d->ctx_cap)
		return;
	if (n >= d->ctx_cap) {
		memcpy(d->ctx, x + n - d->ctx_cap, d->ctx_cap * sizeof *x);
		d->ctx_pos = 0;
		d->ctx_n = d->ctx_cap;
		return;
	}
	size_t first = d->ctx_cap - d->ctx_pos < n ? d->ctx_cap - d->ctx_pos : n;
	memcpy(d->ctx + d->ctx_pos, x, first * sizeof *x);
	memcpy(d->ctx, x + first, (n - first) * sizeof *x);
	d->ctx_pos = (d->ctx_pos + n) % d->ctx_cap;
	d->ctx_n = d->ctx_n + n < d->ctx_cap ? d->ctx_n + n : d->ctx_cap;
}

/* Replays up to `want` of the latest samples in ctx into p, with no events
 * (the old pipeline already reported on them). Returns how many. */
static size_t prime(struct daemon *d, drsn_pipeline *p, size_t want)
{
	size_t n = want < d->ctx_n ? want : d->ctx_n;
	if (!n)
		return 0;
	size_t start = (d->ctx_pos + d->ctx_cap - n) % d->ctx_cap;
	size_t first = d->ctx_cap - start < n ? d->ctx_cap - start : n;
	drsn_pipeline_push(p, d->ctx + start, first, NULL, NULL);
	drsn_pipeline_push(p, d->ctx, n - first, NULL, NULL);
	return n;
}

/* n denoised samples out of dn: drop the latency, then to the pipeline
 * (classify_on = denoised, unless to_pipe is 0) and the PCM readers. */
static void denoised(struct daemon *d, const float *y, size_t n, int to_pipe)
{
	size_t skip = (size_t)d->dn_skip < n ? (size_t)d->dn_skip : n;
	d->dn_skip -= (int)skip;
	y += skip;
	n -= skip;
	if (!n)
		return;
	if (to_pipe && d->pipe && d->cfg.classify_on_denoised)
		classify(d, y, n);
	if (drsn__plugins_wants(d->plugins) & DRSN_PLUGIN_WANT_DENOISED_AUDIO) {
		drsn_plugin_audio a = {y, n, d->rate, (double)d->dn_out / d->rate, 1,
				       drsn__source_name(d->src)};
		drsn__plugins_audio(d->plugins, &a);
	}
	if (d->pcm && drsn__server_subscribers(d->pcm, -1)) {
		for (size_t i = 0; i < n; i++) {
			float v = y[i] * 32768.0f;
			v = v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v;
			d->pcm_buf[i] = (int16_t)lrintf(v);
		}
		/* s16le: the hosts drsnd runs on are little-endian (checked at start) */
		drsn__server_broadcast(d->pcm, -1, (const char *)d->pcm_buf, n * sizeof *d->pcm_buf);
	}
	d->dn_out += n;
}

/* End of stream: the denoiser's last latency samples. */
static void denoise_flush(struct daemon *d, int to_pipe)
{
	if (!d->dn)
		return;
	drsn_denoise_flush(d->dn, d->dn_buf);
	denoised(d, d->dn_buf, (size_t)drsn_denoise_latency(d->dn), to_pipe);
	drsn_denoise_reset(d->dn);
	d->dn_skip = drsn_denoise_latency(d->dn);
}

static void on_audio(void *user, const float *x, size_t n)
{
	struct daemon *d = user;
	if (d->pipe && !(d->dn && d->cfg.classify_on_denoised))
		classify(d, x, n);
	for (size_t i = 0; d->dn && i < n; i += d->dn_cap) {
		size_t k = n - i < d->dn_cap ? n - i : d->dn_cap;
		drsn_denoise_process(d->dn, x + i, k, d->dn_buf);
		denoised(d, d->dn_buf, k, 1);
	}
	if (drsn__plugins_wants(d->plugins) & DRSN_PLUGIN_WANT_RAW_AUDIO) {
		drsn_plugin_audio a = {x, n, d->rate, stream_time(d), 0, drsn__source_name(d->src)};
		drsn__plugins_audio(d->plugins, &a);
	}
	for (size_t i = 0; i < n; i++) {
		float a = fabsf(x[i]);
		d->lvl_sumsq += (double)x[i] * x[i];
		if (a > d->lvl_peak)
			d->lvl_peak = a;
		d->samples++;
		if (++d->lvl_n < d->lvl_every)
			continue;
		if (drsn__server_subscribers(d->srv, DRSN_EV_LEVEL)) {
			double rms = sqrt(d->lvl_sumsq / d->lvl_n);
			cJSON *o = drsn__proto_new("level");
			cJSON_AddStringToObject(o, "stream", drsn__source_name(d->src));
			cJSON_AddNumberToObject(o, "stream_time", stream_time(d));
			cJSON_AddNumberToObject(o, "rms_dbfs", round(20 * log10(rms + 1e-10) * 100) / 100);
			cJSON_AddNumberToObject(o, "peak_dbfs", round(20 * log10(d->lvl_peak + 1e-10) * 100) / 100);
			broadcast(d, DRSN_EV_LEVEL, o);
		}
		d->lvl_sumsq = 0;
		d->lvl_peak = 0;
		d->lvl_n = 0;
	}
}

static void begin_stop(struct daemon *d, int code);

/* Stream time at which a pipeline that starts now, classifying the raw or
 * (classify_on_denoised) the denoised stream, hears its first sample. */
static double pipe_origin(const struct daemon *d, int on_denoised)
{
	return d->dn && on_denoised ? (double)d->dn_out / d->rate : stream_time(d);
}

/* The stream broke off (reason: "suspend", "source"): plugins that keep
 * audio (the recorder's pre-roll) hear that what comes next does not follow
 * on from what they hold, although the stream time runs on (it counts
 * samples). Call after the last audio from before went to the plugins. */
static void plugins_reset(struct daemon *d, const char *reason)
{
	if (!(drsn__plugins_wants(d->plugins) & DRSN_PLUGIN_WANT_RESETS))
		return;
	cJSON *o = drsn__proto_new("reset");
	if (!o)
		return;
	cJSON_AddStringToObject(o, "stream", drsn__source_name(d->src));
	cJSON_AddNumberToObject(o, "stream_time", stream_time(d));
	cJSON_AddStringToObject(o, "reason", reason);
	size_t len;
	char *line = drsn__proto_line(o, &len);
	if (!line)
		return;
	line[len - 1] = '\0';
	drsn_plugin_event pe = {
		.type = DRSN_PLUGIN_EVENT_RESET,
		.json = line,
		.stream = drsn__source_name(d->src),
		.wall_time = drsn__wall_time(),
	};
	drsn__plugins_event(d->plugins, &pe);
	free(line);
}

/* The audio that comes next does not follow on from the audio before
 * (reason "suspend": the host slept; "source": a lost device is back): the
 * keyword pipeline starts afresh, so that no window joins the two, and the
 * plugins that keep audio hear of it. */
static void pipeline_break(struct daemon *d, const char *reason)
{
	if (d->pipe) {
		drsn_pipeline_reset(d->pipe);
		d->pipe_t0 = pipe_origin(d, d->cfg.classify_on_denoised);
	}
	d->ctx_n = 0;
	plugins_reset(d, reason);
}

/* The host slept (source_pa.c logged it): the audio before and after the
 * suspend, minutes or hours apart, must not meet in one window, where half
 * a word said before and half of one after could make a keyword never
 * said, and the smoothing and refractory state belongs to the old audio.
 * The pipeline starts a new stream at the current stream time, with
 * nothing to replay at a reload. Status subscribers hear of it at once. */
static void on_source_suspend(void *user, double seconds)
{
	struct daemon *d = user;
	(void)seconds;
	/* what the denoiser holds is from before: its tail goes to the PCM
	 * readers only, and it starts afresh too */
	denoise_flush(d, 0);
	pipeline_break(d, "suspend");
	if (d->srv && (drsn__server_subscribers(d->srv, DRSN_EV_STATUS) || drsn__plugins_count(d->plugins)))
		emit(d, DRSN_EV_STATUS, status(d), NULL);
}

/* Audio below the model's rate (features/narrowband.h): a warning when it
 * starts to flow, once per rate (a device that comes back at the same rate
 * after a failure is not warned of again). */
static void warn_narrowband(struct daemon *d)
{
	struct drsn__source_stats st;
	char note[512];
	drsn__source_get_stats(d->src, &st);
	if (!d->model || st.source_rate == d->narrow_rate)
		return;
	if (drsn__narrowband_note(st.source_rate, drsn_model_features_params(d->model), note, sizeof note)) {
		log_warn("%s: %s", drsn__source_name(d->src), note);
		d->narrow_rate = st.source_rate;
	}
}

static void on_source_state(void *user, enum drsn__source_state st, const char *detail)
{
	struct daemon *d = user;
	uint64_t now = uv_now(d->loop);
	switch (st) {
	case DRSN_SRC_STARTING:
		/* a lost device opened again (its audio comes after this): the
		 * audio of before its loss is not followed on from; the
		 * denoiser's tail goes to the PCM readers only, as at a suspend */
		if (d->src_down) {
			denoise_flush(d, 0);
			pipeline_break(d, "source");
		}
		log_info("%s", detail);
		break;
	case DRSN_SRC_RETRYING:
		/* A device that stays away: the first failure is a warning, then
		 * one every RETRY_WARN_MS, not one per retry (2880 a day at the
		 * 30 s backoff); the retries between are info. */
		if (d->src_down && now - d->src_warned_ms < RETRY_WARN_MS) {
			log_info("%s", detail);
			d->src_quiet++;
			break;
		}
		if (d->src_quiet)
			log_warn("%s (still failing: %u more retries since the last warning)", detail,
				 d->src_quiet);
		else
			log_warn("%s", detail);
		d->src_warned_ms = now;
		d->src_quiet = 0;
		d->src_down = 1;
		break;
	case DRSN_SRC_FAILED:
		/* with on_eof = exit it ends the daemon (status 1): an error,
		 * which -q and log_level = error show too */
		drsn__log(d->cfg.on_eof_exit ? DRSN_LOG_ERROR : DRSN_LOG_WARNING, "%s", detail);
		d->src_down = 1;
		break;
	case DRSN_SRC_RUNNING:
		if (d->src_down)   /* the journal that has the failure has the recovery */
			drsn__log_notice("%s", detail);
		else
			log_info("%s", detail);
		d->src_down = 0;
		d->src_quiet = 0;
		warn_narrowband(d);
		break;
	default:
		log_info("%s", detail);
	}
	drsn__notify_status("%s", detail);
	if (d->srv && (st == DRSN_SRC_FAILED || st == DRSN_SRC_RETRYING)) {
		size_t len;
		char *line = drsn__proto_error_line(DRSN_ERR_SOURCE, detail, NULL, &len);
		if (line)
			drsn__server_broadcast(d->srv, -1, line, len);
		free(line);
	}
	if (st == DRSN_SRC_ENDED || st == DRSN_SRC_FAILED)
		denoise_flush(d, 1);
	if (st == DRSN_SRC_ENDED && d->pipe) {   /* a file or stdin: score its last second in full */
		drsn_pipeline_finish(d->pipe, &pipe_events, d);
		count_failed(d);
	}
	if (d->srv && (drsn__server_subscribers(d->srv, DRSN_EV_STATUS) || drsn__plugins_count(d->plugins)))
		emit(d, DRSN_EV_STATUS, status(d), NULL);
	if ((st == DRSN_SRC_ENDED || st == DRSN_SRC_FAILED) && d->cfg.on_eof_exit)
		begin_stop(d, st == DRSN_SRC_FAILED ? 1 : 0);
}

/* ---- reload ---------------------------------------------------------------- */

/* Samples a new pipeline needs to have heard to run as if it had always
 * been there: a window, the smoothing span and a hop. */
static size_t context_samples(const struct daemon *d, const drsn_pipeline *p,
			      const struct drsn__config *c)
{
	double s = drsn_pipeline_window_s(p) + drsn_pipeline_hop_s(p) + c->smoothing_ms / 1000.0;
	return (size_t)(s * d->rate + 0.5);
}

/* 0 on success; on failure the old config/model stay and msg says why. */
static int reload(struct daemon *d, char *msg, size_t msg_size)
{
	drsn__notify_reloading();
	struct drsn__config *nc = malloc(sizeof *nc);
	struct drsn__cfg_errors *errs = calloc(1, sizeof *errs);
	struct drsn__cfg_errors *warn = calloc(1, sizeof *warn);
	int rc = -ENOMEM;
	snprintf(msg, msg_size, "out of memory");
	if (!nc || !errs)
		goto out;
	rc = drsn__daemon_config(nc, d->args, errs, warn);
	for (int i = 0; warn && i < warn->n; i++)
		log_warn("%s", warn->msg[i]);
	if (rc < 0) {
		int off = snprintf(msg, msg_size, "config not reloaded, keeping the old one: ");
		for (int i = 0; i < errs->n && off < (int)msg_size; i++)
			off += snprintf(msg + off, msg_size - (size_t)off, "%s%s", i ? "; " : "", errs->msg[i]);
		goto out;
	}
	drsn_model *m;
	drsn_pipeline *p;
	drsn_error e;
	int config_fault;
	rc = drsn__daemon_detector(nc, &m, &p, &config_fault, &e);
	if (rc < 0) {
		snprintf(msg, msg_size, "%s not reloaded, keeping the old one: %s",
			 config_fault ? "config" : "model", e.msg);
		goto out;
	}
	int new_rate = m ? drsn_model_features_params(m)->sample_rate : DEFAULT_RATE;
	if (new_rate != d->rate) {
		snprintf(msg, msg_size, "model not reloaded, keeping the old one: %.1000s runs at %d Hz but the audio source delivers %d Hz (restart drsnd to change rate)",
			 nc->model_path, new_rate, d->rate);
		drsn_pipeline_destroy(p);
		drsn_model_free(m);
		rc = -EINVAL;
		goto out;
	}
	/* [denoise]: the PCM socket is a restart key: keep the running one */
	struct drsn__config want = *nc;
	snprintf(want.pcm_socket, sizeof want.pcm_socket, "%s", d->cfg.pcm_socket);
	drsn_denoise *ndn = NULL;
	int new_dn = denoise_wanted(d, &want) &&
		     (!d->dn || nc->denoise_strength_db != d->cfg.denoise_strength_db);
	if (new_dn && denoiser_create(d, nc, &ndn, &e) < 0) {
		snprintf(msg, msg_size, "config not reloaded, keeping the old one: %s", e.msg);
		drsn_pipeline_destroy(p);
		drsn_model_free(m);
		rc = -EINVAL;
		goto out;
	}
	/* Everything is ready: swap. */
	if (new_dn || !denoise_wanted(d, &want)) {
		/* the old denoiser's tail goes to the PCM readers only: the old
		 * pipeline is replaced now */
		denoise_flush(d, 0);
		drsn_denoise_destroy(d->dn);
		d->dn = NULL;
	}
	if (new_dn) {
		d->dn = ndn;
		d->dn_skip = drsn_denoise_latency(ndn);
	}
	drsn_pipeline *old_pipe = d->pipe;
	drsn_model *old_model = d->model;
	/* The new pipeline hears the last window again (when it classifies
	 * the same stream, raw or denoised, as the old one). It counts from
	 * the first sample replayed: its times are offset by now (the denoised
	 * stream is behind the input by what dn still holds) minus those. */
	int same_input = old_pipe && p && (d->dn && d->cfg.classify_on_denoised) ==
					       (d->dn && nc->classify_on_denoised);
	size_t primed = 0;
	drsn_pipeline_stats old_st = {0}, primed_st = {0};
	if (old_pipe)
		drsn_pipeline_get_stats(old_pipe, &old_st);
	if (same_input) {
		/* Replay a whole number of hops, so that the new pipeline's frames
		 * and inferences fall where the old one's would have. */
		size_t need = context_samples(d, p, nc);
		size_t hop = (size_t)(drsn_pipeline_hop_s(p) * d->rate + 0.5);
		/* 64-bit: samples passes 2^32 after 74.5 h at 16 kHz, and size_t
		 * is 32-bit on armhf; replay itself is at most need + hop. The
		 * old pipeline's samples since its last reset (a suspend resets
		 * it; its stats count on): its hops are counted from there */
		uint64_t old_n = (uint64_t)llround(drsn_pipeline_time(old_pipe) * d->rate);
		size_t replay = (size_t)(old_n <= need || !hop ? old_n : old_n - (old_n - need) / hop * hop);
		while (replay > d->ctx_n && replay >= hop && hop)
			replay -= hop;
		primed = prime(d, p, replay);
	} else {
		d->ctx_n = 0;
	}
	if (p)
		drsn_pipeline_get_stats(p, &primed_st);
	primed_st.inference_cpu_s = 0;   /* the replay's CPU was spent: it counts */
	stats_add(&d->retired, &old_st, 1);
	stats_add(&d->retired, &primed_st, -1);
	d->model = m;
	d->pipe = p;
	d->pipe_failed = p ? drsn__pipeline_failed(p) : 0;   /* the replay's are not counted */
	d->pipe_t0 = pipe_origin(d, nc->classify_on_denoised) - (double)primed / d->rate;
	if (m)
		model_name(nc->model_path, d->model_name, sizeof d->model_name);
	struct drsn__config old = d->cfg;
	d->cfg = *nc;
	/* Keys that need a restart ([socket], [audio] source, [plugins] ...)
	 * keep their running values: d->cfg says what runs */
	char later[512];
	drsn__config_restart_only_diff(&old, nc, later, sizeof later);
	drsn__config_keep_restart_only(&d->cfg, &old);
	/* plugins drop their pipelines on the old model before it goes */
	drsn__plugins_model(d->plugins, m);
	drsn_pipeline_destroy(old_pipe);
	drsn_model_free(old_model);
	drsn__log_set_level(d->cfg.log_level);
	d->lvl_every = level_every(d);
	snprintf(msg, msg_size, "reloaded config and model%s%s%s%s",
		 m ? " " : " (no model)", m ? d->model_name : "",
		 later[0] ? "; needs a restart to apply: " : "", later);
	if (later[0])
		log_warn("reload: needs a restart to apply: %s", later);
	rc = 0;
out:
	free(nc);
	free(errs);
	free(warn);
	if (rc < 0) {
		d->reload_failures++;
		log_err("%s", msg);
	} else {
		d->reloads++;
		drsn__log_notice("%s", msg);
	}
	drsn__notify_ready(rc < 0 ? "running (reload failed: kept the old config and model)" : "running (reloaded)");
	return rc;
}

static void do_reload(struct daemon *d, struct drsn__client *asker, const cJSON *id)
{
	char msg[2048];
	int rc = reload(d, msg, sizeof msg);
	if (rc < 0) {
		/* every client learns that the daemon runs on the old setup */
		size_t len;
		char *line = drsn__proto_error_line(DRSN_ERR_RELOAD_FAILED, msg, NULL, &len);
		if (line)
			drsn__server_broadcast(d->srv, -1, line, len);
		free(line);
	} else {
		broadcast(d, -1, hello(d));   /* labels may have changed */
	}
	if (asker) {
		cJSON *o = drsn__proto_new("reload");
		cJSON_AddBoolToObject(o, "ok", rc == 0);
		cJSON_AddStringToObject(o, "message", msg);
		send_to(asker, o, id);
	}
}

/* ---- server callbacks ------------------------------------------------------ */

/* [audio] wait_for_client: client c wants the stream (why: what it did);
 * it gets it from its first sample, the source being read only now */
static void stop_waiting(struct daemon *d, struct drsn__client *c, const char *why)
{
	if (!d->src_waiting || d->stopping)
		return;
	d->src_waiting = 0;
	drsn__log_notice("client %llu %s: reading %s", (unsigned long long)drsn__client_id(c), why,
			 drsn__source_name(d->src));
	drsn__source_start(d->src);
}

static void on_connect(void *user, struct drsn__client *c)
{
	struct daemon *d = user;
	send_to(c, hello(d), NULL);
	/* a client that only listens (subscribed to detection, as every new
	 * one) starts the reading; a probe (status, ping) that is gone by
	 * then does not */
	int rc = d->src_waiting && !d->stopping ? drsn__client_watch_silence(c, WAIT_SILENT_MS) : 0;
	if (rc < 0 && rc != -EPIPE)   /* -EPIPE: it is gone already */
		stop_waiting(d, c, "connected (no timer)");
}

static void on_silent(void *user, struct drsn__client *c)
{
	stop_waiting(user, c, "sent nothing for 0.25 s");
}

/* Why event ev cannot come with the running config (a reload may change
 * that), or NULL: the subscribed reply's warnings. */
static const char *never_comes(const struct daemon *d, int ev)
{
	if ((ev == DRSN_EV_DETECTION || ev == DRSN_EV_SCORES || ev == DRSN_EV_VAD) && !d->pipe)
		return "no model is loaded ([model] path): no detection pipeline runs";
	if (ev == DRSN_EV_VAD && !d->cfg.vad)
		return "voice-activity gating is off ([detect] vad = no): set vad = yes and reload";
	return NULL;
}

/* The subscribed reply: the events now subscribed, and a warning for each
 * that cannot come as the daemon is configured. */
static cJSON *subscribed(const struct daemon *d, unsigned events)
{
	cJSON *o = drsn__proto_new("subscribed");
	cJSON *a = cJSON_AddArrayToObject(o, "events"), *w = NULL;
	for (int i = 0; i < DRSN_EV_COUNT; i++) {
		if (!(events & (1u << i)))
			continue;
		cJSON_AddItemToArray(a, cJSON_CreateString(drsn__event_name(i)));
		const char *why = never_comes(d, i);
		if (!why)
			continue;
		if (!w)
			w = cJSON_AddArrayToObject(o, "warnings");
		cJSON *it = cJSON_CreateObject();
		cJSON_AddStringToObject(it, "event", drsn__event_name(i));
		cJSON_AddStringToObject(it, "message", why);
		cJSON_AddItemToArray(w, it);
	}
	return o;
}

static void on_command(void *user, struct drsn__client *c, const struct drsn__command *cmd)
{
	struct daemon *d = user;
	switch (cmd->kind) {
	case DRSN_CMD_PING: {
		cJSON *o = drsn__proto_new("pong");
		cJSON_AddNumberToObject(o, "time", drsn__wall_time());
		send_to(c, o, cmd->id);
		break;
	}
	case DRSN_CMD_STATUS:
		send_to(c, status(d), cmd->id);
		break;
	case DRSN_CMD_SUBSCRIBE: {
		drsn__client_set_events(c, cmd->events);
		send_to(c, subscribed(d, cmd->events), cmd->id);
		break;
	}
	case DRSN_CMD_RELOAD:
		do_reload(d, c, cmd->id);
		break;
	}
	if (!d->src_waiting)
		return;
	/* a subscription to what the pipeline makes starts the reading;
	 * status, ping and reload are what health checks and admins send:
	 * they leave the source waiting (answered first, so the reply still
	 * says so), unless the client then stays, silent and not at the end
	 * of its input, for WAIT_SILENT_MS: a listener that asked first */
	if (cmd->kind == DRSN_CMD_SUBSCRIBE && (cmd->events & ~(1u << DRSN_EV_STATUS)))
		stop_waiting(d, c, "subscribed");
	else {
		int rc = drsn__client_watch_silence(c, WAIT_SILENT_MS);
		if (rc < 0 && rc != -EPIPE)   /* -EPIPE: it is gone already */
			stop_waiting(d, c, "asked (no timer)");
	}
}

/* ---- signals, timers, stop ------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_part_done(void *user)
{
	struct daemon *d = user;
	d->pending_closes--;
}

static void close_signals(struct daemon *d)
{
	for (int i = 0; i < 3; i++)
		uv_close((uv_handle_t *)&d->sig[i], on_closed);
}

static void begin_stop(struct daemon *d, int code)
{
	if (d->stopping)
		return;
	d->stopping = 1;
	d->exit_code = code;
	drsn__notify_stopping();
	/* the signals stay caught until the loop ends (they no longer keep it
	 * running): another SIGTERM or SIGINT during the stop must not kill
	 * drsnd halfway, a SIGHUP neither (their default actions) */
	for (int i = 0; i < 3; i++)
		uv_unref((uv_handle_t *)&d->sig[i]);
	uv_close((uv_handle_t *)&d->status_timer, on_closed);
	drsn__notify_close(&d->notify);
	/* plugins close their handles; the loop runs until they have */
	drsn__plugins_stop(d->plugins);
	d->pending_closes = d->pcm ? 3 : 2;
	drsn__source_stop(d->src, on_part_done, d);
	drsn__server_stop(d->srv, STOP_FLUSH_MS, on_part_done, d);
	if (d->pcm)
		drsn__server_stop(d->pcm, STOP_FLUSH_MS, on_part_done, d);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	const char *name = signum == SIGHUP ? "SIGHUP" : signum == SIGINT ? "SIGINT" : "SIGTERM";
	if (d->stopping) {
		drsn__log_notice("%s: already stopping", name);
		return;
	}
	if (signum == SIGHUP) {
		log_info("SIGHUP: reloading");
		do_reload(d, NULL, NULL);
		return;
	}
	log_info("%s: stopping", name);
	begin_stop(d, 0);
}

static void on_status_timer(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct drsn__server_stats ss;
	drsn__server_get_stats(d->srv, &ss);
	struct drsn__source_stats src;
	drsn__source_get_stats(d->src, &src);
	drsn__notify_status("%s: %s, %.0f s of audio, %llu detections, %llu clients, %llu overflows",
			    drsn__source_name(d->src), source_state(d, &src), stream_time(d),
			    (unsigned long long)d->detections, (unsigned long long)ss.clients,
			    (unsigned long long)(src.overflows + src.device_overflows));
	if (drsn__server_subscribers(d->srv, DRSN_EV_STATUS) || drsn__plugins_count(d->plugins))
		emit(d, DRSN_EV_STATUS, status(d), NULL);
}

/* ---- run ------------------------------------------------------------------- */

int drsn__daemon_run(const struct drsn__daemon_args *a)
{
	struct daemon *d = calloc(1, sizeof *d);
	if (!d)
		return 1;
	int code = 1;
	d->args = a;
	struct drsn__cfg_errors *errs = calloc(1, sizeof *errs);
	/* keys of the file that the command line overrides */
	struct drsn__cfg_errors *shadowed = calloc(1, sizeof *shadowed);
	if (!errs)
		goto out;
	if (drsn__daemon_config(&d->cfg, a, errs, shadowed) < 0) {
		for (int i = 0; i < errs->n; i++)
			log_err("%s", errs->msg[i]);
		goto out;
	}
	drsn__log_set_level(d->cfg.log_level);
	for (int i = 0; shadowed && i < shadowed->n; i++)
		log_warn("%s", shadowed->msg[i]);

	drsn_error e;
	if (drsn__daemon_detector(&d->cfg, &d->model, &d->pipe, NULL, &e) < 0) {
		log_err("%s", e.msg);
		goto out;
	}
	if (d->model) {
		model_name(d->cfg.model_path, d->model_name, sizeof d->model_name);
		d->rate = drsn_model_features_params(d->model)->sample_rate;
		log_info("model %s: %s, %d labels, %d Hz, %s kernels", d->model_name,
			 drsn_model_variant(d->model), drsn_model_n_labels(d->model), d->rate,
			 drsn_simd_name());
	} else {
		d->rate = DEFAULT_RATE;
		log_warn("no model configured: serving level/status events only");
	}
	d->lvl_every = level_every(d);
	/* reload context: what this pipeline needs, at least 2 s (a reload may
	 * bring a model with a longer window: it then gets what there is) */
	if (d->pipe) {
		size_t need = context_samples(d, d->pipe, &d->cfg);
		d->ctx_cap = need > (size_t)d->rate * 2 ? need : (size_t)d->rate * 2;
		d->ctx = malloc(d->ctx_cap * sizeof *d->ctx);
		if (!d->ctx) {
			log_err("out of memory");
			goto out;
		}
	}

	/* [denoise]: buffers for the source's chunks and the longest frame (64 ms) */
	d->dn_cap = (size_t)(d->rate / 10 > d->rate * 64 / 1000 + 1 ? d->rate / 10 : d->rate * 64 / 1000 + 1);
	d->dn_buf = malloc(d->dn_cap * sizeof *d->dn_buf);
	d->pcm_buf = malloc(d->dn_cap * sizeof *d->pcm_buf);
	if (!d->dn_buf || !d->pcm_buf) {
		log_err("out of memory");
		goto out;
	}
	if (d->cfg.pcm_socket[0]) {
		const uint16_t one = 1;
		if (*(const uint8_t *)&one != 1) {
			log_err("[denoise] pcm_socket: s16le output is only implemented on little-endian hosts");
			goto out;
		}
	}
	if (denoise_wanted(d, &d->cfg)) {
		if (denoiser_create(d, &d->cfg, &d->dn, &e) < 0) {
			log_err("%s", e.msg);
			goto out;
		}
		d->dn_skip = drsn_denoise_latency(d->dn);
	}

	signal(SIGPIPE, SIG_IGN);
	d->loop = uv_default_loop();
	d->start_ms = uv_now(d->loop);

	struct drsn__source_opts so = {
		.spec = d->cfg.source,
		.target_rate = d->rate,
		.chunk = d->rate / 10,
		.realtime = d->cfg.realtime,
		.raw_format = d->cfg.raw_format,
		.raw_rate = d->cfg.raw_rate,
		.raw_channels = d->cfg.raw_channels,
		.channels = drsn__config_channels(&d->cfg),
		.device_rate = d->cfg.device_rate,
		.latency_ms = d->cfg.latency_ms,
		.ring_ms = d->cfg.ring_ms,
		.retry_min_ms = d->cfg.retry_min_ms,
		.retry_max_ms = d->cfg.retry_max_ms,
		.stall_ms = d->cfg.stall_ms,
	};
	static const struct drsn__source_events sev = {on_audio, on_source_state, on_source_suspend};
	if (drsn__source_create(&d->src, d->loop, &so, &sev, d, &e) < 0) {
		log_err("%s", e.msg);
		goto out_loop;
	}

	struct drsn__server_opts svo = {
		.path = d->cfg.socket_path,
		.mode = d->cfg.socket_mode,
		.group = d->cfg.socket_group,
		.max_clients = d->cfg.max_clients,
		.max_line = d->cfg.max_line,
		.client_queue = d->cfg.client_queue,
		.flood_errors = d->cfg.flood_errors,
	};
	/* Signals are caught before the socket appears: a SIGTERM right after a
	 * client saw the socket stops gracefully (handled once the loop runs). */
	const int signums[3] = {SIGINT, SIGTERM, SIGHUP};
	for (int i = 0; i < 3; i++) {
		uv_signal_init(d->loop, &d->sig[i]);
		d->sig[i].data = d;
		uv_signal_start(&d->sig[i], on_signal, signums[i]);
	}
	static const struct drsn__server_ops sops = {on_connect, on_command, on_silent};
	if (drsn__server_start(&d->srv, d->loop, &svo, &sops, d, &e) < 0) {
		log_err("%s", e.msg);
		close_signals(d);
		d->pending_closes = 1;
		drsn__source_stop(d->src, on_part_done, d);
		uv_run(d->loop, UV_RUN_DEFAULT);
		goto out_loop;
	}
	if (d->cfg.pcm_socket[0]) {
		struct drsn__server_opts po = svo;
		po.path = d->cfg.pcm_socket;
		po.raw = 1;
		po.max_line = 64;
		/* s16 mono: 2 bytes a sample. One loop turn may deliver a whole
		 * ring (ring_ms) at once, so that comes on top of pcm_queue_ms. */
		po.client_queue = (int)((int64_t)d->rate * 2 * (d->cfg.pcm_queue_ms + d->cfg.ring_ms) / 1000);
		if (po.client_queue < 4096)
			po.client_queue = 4096;
		static const struct drsn__server_ops pops = {NULL, NULL, NULL};
		if (drsn__server_start(&d->pcm, d->loop, &po, &pops, d, &e) < 0) {
			log_err("[denoise] pcm_socket: %s", e.msg);
			close_signals(d);
			d->pending_closes = 2;
			drsn__source_stop(d->src, on_part_done, d);
			drsn__server_stop(d->srv, 0, on_part_done, d);
			uv_run(d->loop, UV_RUN_DEFAULT);
			goto out_loop;
		}
	}

	/* [plugins]: once the sockets listen; a plugin that fails is logged
	 * and left out */
	struct drsn__cfg_errors *warn = calloc(1, sizeof *warn);
	if (warn) {
		drsn__plugins_check(&d->cfg, NULL, warn);
		for (int i = 0; i < warn->n; i++)
			log_warn("%s", warn->msg[i]);
		free(warn);
	}
	/* orphans of the plugins' commands when drsnd is PID 1 */
	int rrc = drsn__reap_start(&d->reaper, d->loop);
	if (rrc < 0)
		log_warn("cannot reap orphaned processes: %s", uv_strerror(rrc));
	if (drsn__plugins_load(&d->plugins, d->loop, &d->cfg, d->model, d->args->instance) < 0)
		log_err("plugins: out of memory; running without plugins");
	if (!d->dn && denoise_wanted(d, &d->cfg)) {
		/* a plugin wants denoised audio */
		if (denoiser_create(d, &d->cfg, &d->dn, &e) < 0)
			log_err("%s (plugins get no denoised audio)", e.msg);
		else
			d->dn_skip = drsn_denoise_latency(d->dn);
	}

	uv_timer_init(d->loop, &d->status_timer);
	d->status_timer.data = d;
	if (d->cfg.status_interval_ms > 0)
		uv_timer_start(&d->status_timer, on_status_timer, (uint64_t)d->cfg.status_interval_ms,
			       (uint64_t)d->cfg.status_interval_ms);
	drsn__notify_init(&d->notify, d->loop);

	char ready[512];
	snprintf(ready, sizeof ready, "listening on %s; source %.200s; model %.100s", d->cfg.socket_path,
		 d->cfg.source, d->model ? d->model_name : "(none)");
	drsn__notify_ready(ready);
	drsn__log_notice("drsnd %s %s (%s kernels)", drsn_version(), ready, drsn_simd_name());
	if (d->cfg.wait_for_client) {
		/* ready all the same: the daemon serves; the file waits */
		d->src_waiting = 1;
		drsn__log_notice("waiting for a client before reading %s", drsn__source_name(d->src));
		drsn__notify_status("waiting for a client before reading %s", drsn__source_name(d->src));
	} else {
		drsn__source_start(d->src);
	}

	uv_run(d->loop, UV_RUN_DEFAULT);
	code = d->exit_code;
	close_signals(d);
	drsn__reap_stop(&d->reaper);
	uv_run(d->loop, UV_RUN_DEFAULT);   /* their close callbacks */
	drsn__log_notice("stopped (exit status %d)", code);
out_loop:
	/* the plugins' code goes only after the loop ran their close callbacks */
	drsn__plugins_free(d->plugins);
	d->plugins = NULL;
	uv_loop_close(d->loop);
out:
	drsn_denoise_destroy(d->dn);
	free(d->dn_buf);
	free(d->pcm_buf);
	free(d->ctx);
	drsn_pipeline_destroy(d->pipe);
	drsn_model_free(d->model);
	free(errs);
	free(shadowed);
	free(d);
	return code;
}
