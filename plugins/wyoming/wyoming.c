/*
 * wyoming: drsnd as a Wyoming wake-word service (Home Assistant, Rhasspy).
 *
 * Listens on TCP (default tcp://0.0.0.0:10400) or a Unix socket. The TCP
 * host may be an IP address or a name (e.g. localhost), resolved once in
 * start() (before the loop runs; a blocking lookup is fine there) and bound
 * to the first of its addresses that works. Per connection (see frame.h for
 * the framing):
 *
 *   -> describe                  <- info: one wake program "drsnd" whose
 *                                   models are the model's keywords (labels
 *                                   not starting with '_')
 *   -> detect {names?}           only these keywords are reported, until
 *                                   the next detect (absent/null/[] = all,
 *                                   as wyoming-openwakeword)
 *   -> audio-start {rate,width,channels,timestamp?}
 *   -> audio-chunk {rate,width,channels,timestamp?} + PCM payload
 *                                <- detection {name, timestamp} for each
 *                                   keyword the pipeline fires on
 *   -> audio-stop                <- not-detected if nothing fired since
 *                                   audio-start
 *   -> ping {text?}              <- pong {text?}
 *
 * Each connection has its own detection pipeline from the host (the
 * daemon's model and [detect] settings: what a local stream gets), made at
 * its first audio and remade when the model is reloaded. Audio is converted
 * to mono float at the model rate (pcm.h). A detection's timestamp is the
 * audio time at which the pipeline fired, in ms, on the client's clock: the
 * audio-start timestamp (else the first chunk's, else 0) plus the audio
 * received since. A null timestamp is no timestamp (Home Assistant's
 * audio-start carries "timestamp": null, its chunks the clock).
 *
 * Errors are sent as {"type":"error","data":{"text":...,"code":...}}.
 * Framing errors (see frame.h) close the connection after the error is
 * flushed, since the next header cannot be found; a bad audio format or a
 * missing model only drops that stream's audio (until the next
 * audio-start). Other events are ignored. Nothing a client sends affects
 * another connection.
 *
 * A connection that sends no event for idle_timeout_ms (default 60000, 0 =
 * never; blank lines are no event, inside one any byte counts) gets an error "idle-timeout" and is
 * closed (logged), so silent connections cannot hold every max_clients
 * slot. An event (header line, data, payload) must be complete within
 * frame_timeout_ms (default 10000, 0 = never) of its first byte, else
 * "frame-timeout" and the close: a client that trickles a byte every few
 * seconds cannot hold a slot either. A connection that is to close once
 * its last events are written (an error, a timeout, busy) but does not read
 * them is closed anyway after FLUSH_MS: a client that never reads cannot
 * keep its slot. One timer checks all this, once a second (finer for short
 * timeouts), and runs only while there are connections.
 *
 * Each connection gets one read buffer (64 KiB) per loop iteration, then
 * pauses until the next (a uv_idle handle restarts it), so clients that
 * stream faster than real time cannot hold the loop for long.
 *
 * A Unix socket (uri = unix:///PATH) is made as drsnd's own
 * (src/common/unixsock.h): it appears at PATH only once it listens, with
 * its mode (0660) and group (empty: the daemon's) from the start.
 *
 * Keys ([plugin wyoming]): uri (tcp://0.0.0.0:10400), mode (0660), group, max_clients (16),
 * idle_timeout_ms (60000), frame_timeout_ms (10000), max_header_bytes, max_data_bytes,
 * max_payload_bytes (65536, 65536, 1048576), width4 (int32), language (en).
 * create() only parses them (`drsnd --check-config` calls it:
 * DRSN_PLUGIN_CHECK_CONFIG); start() resolves, binds and listens.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "common/closest.h"
#include "common/unixsock.h"
#include "drsn/plugin.h"
#include "frame.h"
#include "pcm.h"

#define READ_BUF (64 * 1024)
#define MAX_WRITE_QUEUE (1024 * 1024)   /* bytes a client may leave unread */
#define FLUSH_MS 5000   /* a close waits this long for the client to read the last events */
#define ATTRIBUTION_URL "https://doi.org/10.1109/TII.2019.2943898"

typedef union {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
} any_stream;

struct wy;

struct conn {
	any_stream h;
	struct wy *w;
	struct conn *prev, *next;
	unsigned id;
	int closing;
	wy_parser *parser;
	wy_pcm *pcm;              /* with pl, at the model's rate */
	drsn_pipeline *pl;
	enum { EV_SKIP, EV_AUDIO } ev;
	/* the audio stream */
	int streaming;            /* audio-start (or a first chunk) seen, no stop yet */
	int stream_bad;           /* its audio is dropped (error already sent) */
	int rate, width, channels;
	int64_t ts_base;          /* ms, the client's clock at audio time 0 */
	int ts_base_set;
	double t_offset;          /* s of stream audio before the current pipeline */
	int n_det;
	uint64_t last_rx;         /* uv_now() of its last bytes (or the accept) */
	uint64_t last_event;      /* uv_now() at its last complete event (or the accept) */
	uint64_t event_since;     /* uv_now() at the current event's first byte */
	int event_ended;          /* an event ended in the current read */
	int flushing;             /* closing once what is queued is written */
	int paused;               /* reading again at the next loop iteration */
	uint64_t flush_since;     /* uv_now() when that began */
	cJSON *names;             /* detect filter: array of strings, or NULL */
	char rbuf[READ_BUF];
};

struct wy {
	const drsn_plugin_host *host;
	uv_loop_t *loop;
	/* config */
	char uri[512];
	int is_unix;
	char path[108];           /* sun_path */
	unsigned mode;            /* of the Unix socket */
	gid_t gid;                /* its group, (gid_t)-1: the daemon's */
	char group[256];          /* its name, for messages */
	const char *mode_where;   /* where mode or group was set, for a warning with TCP */
	char ip[256];             /* the TCP host: an address or a name */
	int port;
	int max_clients;
	int idle_ms;              /* 0: no idle timeout */
	int frame_ms;             /* 0: no frame timeout */
	wy_limits lim;
	int float4;
	char language[32];
	/* state */
	any_stream listener;
	int listener_open;
	uv_timer_t idle_timer;    /* the checks; runs while there are connections */
	uint64_t check_ms;        /* its period */
	uint64_t last_check;      /* uv_now() at its last run (or start) */
	int idle_timer_open;
	uv_idle_t resume;         /* restarts the paused connections' reads */
	int resume_open;
	int bound_unix;           /* we made path: remove at the end (if still ours) */
	struct drsn__unix_id made;
	struct conn *conns;
	int n_conns;
	unsigned next_id;
	int destroyed;
};

#define LOG(w, level, ...) (w)->host->log((w)->host, DRSN_PLUGIN_LOG_##level, __VA_ARGS__)

static void maybe_free(struct wy *w)
{
	if (!w->destroyed || w->listener_open || w->idle_timer_open || w->resume_open || w->conns)
		return;
	if (w->bound_unix)
		drsn__unix_remove(w->path, &w->made);
	free(w);
}

/* ---- config ------------------------------------------------------------- */

static int parse_uri(struct wy *w, const char *v, const char *where, char *err, size_t n)
{
	size_t len = strlen(v);
	if (len >= sizeof w->uri) {
		snprintf(err, n, "%s: [plugin wyoming] uri is too long", where);
		return -EINVAL;
	}
	memcpy(w->uri, v, len + 1);
	if (!strncmp(v, "unix://", 7)) {
		const char *p = v + 7;
		if (p[0] != '/' || strlen(p) >= sizeof w->path) {
			snprintf(err, n, "%s: [plugin wyoming] uri '%s': a Unix socket needs an absolute path under %zu bytes (unix:///run/drsnd/wyoming.sock)",
				 where, v, sizeof w->path);
			return -EINVAL;
		}
		w->is_unix = 1;
		snprintf(w->path, sizeof w->path, "%s", p);
		return 0;
	}
	if (strncmp(v, "tcp://", 6)) {
		snprintf(err, n, "%s: [plugin wyoming] uri '%s': expected tcp://HOST:PORT or unix:///PATH",
			 where, v);
		return -EINVAL;
	}
	const char *h = v + 6, *colon;
	size_t hl;
	if (h[0] == '[') {
		const char *rb = strchr(h, ']');
		if (!rb || rb[1] != ':')
			goto bad;
		h++;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - h);
	}
	if (hl == 0 || hl >= sizeof w->ip)
		goto bad;
	memcpy(w->ip, h, hl);
	w->ip[hl] = 0;
	char *end = NULL;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		goto bad;
	w->port = (int)port;
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	if (!uv_ip4_addr(w->ip, w->port, &a4) || !uv_ip6_addr(w->ip, w->port, &a6))
		return 0;
	/* a host name (resolved in start()): letters, digits, '-', '.' */
	for (const char *p = w->ip; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '.')) {
			snprintf(err, n, "%s: [plugin wyoming] uri '%s': '%s' is neither an IPv4 or IPv6 address nor a host name",
				 where, v, w->ip);
			return -EINVAL;
		}
	return 0;
bad:
	snprintf(err, n, "%s: [plugin wyoming] uri '%s': expected tcp://HOST:PORT (HOST an address or a name; port 0..65535; IPv6 as [::1]:10400)",
		 where, v);
	return -EINVAL;
}

static int parse_size(const char *key, const char *v, const char *where, long long lo,
		      long long hi, long long *out, char *err, size_t n)
{
	char *end = NULL;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi) {
		snprintf(err, n, "%s: [plugin wyoming] %s = '%s': expected an integer in %lld..%lld",
			 where, key, v, lo, hi);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int configure(struct wy *w, const drsn_plugin_config *cfg, char *err, size_t n)
{
	int rc = parse_uri(w, "tcp://0.0.0.0:10400", "default", err, n);
	w->max_clients = 16;
	w->idle_ms = 60000;
	w->frame_ms = 10000;
	w->lim.max_line = 64 * 1024;
	w->lim.max_data = 64 * 1024;
	w->lim.max_payload = 1024 * 1024;
	w->float4 = 0;
	snprintf(w->language, sizeof w->language, "en");
	w->mode = 0660;
	w->gid = (gid_t)-1;
	for (int i = 0; !rc && i < cfg->n; i++) {
		const char *k = cfg->kv[i].key, *v = cfg->kv[i].value, *at = cfg->kv[i].where;
		long long x = 0;
		if (!strcmp(k, "uri")) {
			rc = parse_uri(w, v, at, err, n);
		} else if (!strcmp(k, "mode")) {
			/* as drsnd's [socket] mode */
			if (drsn__unix_parse_mode(v, &w->mode) < 0) {
				snprintf(err, n, "%s: [plugin wyoming] mode = '%s': expected an octal mode like 0660",
					 at, v);
				rc = -EINVAL;
			}
			w->mode_where = at;
		} else if (!strcmp(k, "group")) {
			/* as drsnd's [socket] group: empty = the daemon's */
			struct group *g = v[0] ? getgrnam(v) : NULL;
			if (v[0] && (!g || strlen(v) >= sizeof w->group)) {
				snprintf(err, n, "%s: [plugin wyoming] group = '%s': no group by that name",
					 at, v);
				rc = -ENOENT;
			} else {
				snprintf(w->group, sizeof w->group, "%s", v);
				w->gid = g ? g->gr_gid : (gid_t)-1;
			}
			w->mode_where = at;
		} else if (!strcmp(k, "max_clients")) {
			rc = parse_size(k, v, at, 1, 1024, &x, err, n);
			w->max_clients = (int)x;
		} else if (!strcmp(k, "idle_timeout_ms")) {
			rc = parse_size(k, v, at, 0, 86400000, &x, err, n);
			w->idle_ms = (int)x;
		} else if (!strcmp(k, "frame_timeout_ms")) {
			rc = parse_size(k, v, at, 0, 86400000, &x, err, n);
			w->frame_ms = (int)x;
		} else if (!strcmp(k, "max_header_bytes")) {
			rc = parse_size(k, v, at, 256, 16 << 20, &x, err, n);
			w->lim.max_line = (size_t)x;
		} else if (!strcmp(k, "max_data_bytes")) {
			rc = parse_size(k, v, at, 256, 16 << 20, &x, err, n);
			w->lim.max_data = (size_t)x;
		} else if (!strcmp(k, "max_payload_bytes")) {
			rc = parse_size(k, v, at, 1024, 64 << 20, &x, err, n);
			w->lim.max_payload = (size_t)x;
		} else if (!strcmp(k, "width4")) {
			if (!strcmp(v, "int32"))
				w->float4 = 0;
			else if (!strcmp(v, "float32"))
				w->float4 = 1;
			else {
				snprintf(err, n, "%s: [plugin wyoming] width4 = '%s': expected int32 or float32",
					 at, v);
				rc = -EINVAL;
			}
		} else if (!strcmp(k, "language")) {
			if (!v[0] || strlen(v) >= sizeof w->language) {
				snprintf(err, n, "%s: [plugin wyoming] language = '%s': expected a short tag like en",
					 at, v);
				rc = -EINVAL;
			} else {
				snprintf(w->language, sizeof w->language, "%s", v);
			}
		} else {
			const char *known = "uri, mode, group, max_clients, idle_timeout_ms, frame_timeout_ms, "
					    "max_header_bytes, max_data_bytes, max_payload_bytes, width4, language";
			struct drsn__closest near;
			drsn__closest_init(&near, k);
			drsn__closest_add_list(&near, known);
			snprintf(err, n, "%s: [plugin wyoming] unknown key '%s' (known: %s)%s",
				 at, k, known, drsn__closest_hint(&near, ""));
			rc = -EINVAL;
		}
	}
	if (!rc && !w->is_unix && w->mode_where)
		LOG(w, WARN, "%s: [plugin wyoming] mode and group apply to a unix:// uri only; "
		    "ignored for %s", w->mode_where, w->uri);
	return rc;
}

/* ---- writing events --------------------------------------------------------- */

struct wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	char buf[];
};

static void on_written(uv_write_t *req, int status)
{
	free(req);   /* struct wreq starts with req */
	(void)status;
}

static void conn_close(struct conn *c);

/* Send {"type":type,"data":data} (data may be NULL; it is consumed). */
static void send_event(struct conn *c, const char *type, cJSON *data)
{
	if (c->closing) {
		cJSON_Delete(data);
		return;
	}
	cJSON *e = cJSON_CreateObject();
	char *text = NULL;
	if (e && cJSON_AddStringToObject(e, "type", type)) {
		if (data) {
			cJSON_AddItemToObject(e, "data", data);
			data = NULL;
		}
		text = cJSON_PrintUnformatted(e);
	}
	cJSON_Delete(e);
	cJSON_Delete(data);
	if (!text) {
		LOG(c->w, ERROR, "client %u: out of memory writing %s", c->id, type);
		conn_close(c);
		return;
	}
	size_t len = strlen(text);
	if (uv_stream_get_write_queue_size(&c->h.stream) + len > MAX_WRITE_QUEUE) {
		LOG(c->w, WARN, "client %u: does not read its events (over %d bytes queued): closing",
		    c->id, MAX_WRITE_QUEUE);
		free(text);
		conn_close(c);
		return;
	}
	struct wreq *r = malloc(sizeof *r + len + 1);
	if (!r) {
		free(text);
		conn_close(c);
		return;
	}
	memcpy(r->buf, text, len);
	r->buf[len] = '\n';
	r->len = len + 1;
	r->c = c;
	free(text);
	uv_buf_t b = uv_buf_init(r->buf, (unsigned)r->len);
	int rc = uv_write(&r->req, &c->h.stream, &b, 1, on_written);
	if (rc < 0) {
		free(r);
		LOG(c->w, DEBUG, "client %u: write: %s", c->id, uv_strerror(rc));
		conn_close(c);
	}
}

static void send_error(struct conn *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void send_error(struct conn *c, const char *code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	LOG(c->w, INFO, "client %u: error %s: %s", c->id, code, text);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "text", text);
	cJSON_AddStringToObject(d, "code", code);
	send_event(c, "error", d);
}

static cJSON *attribution(void)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "name", "drsnd: Deep Residual Shrinkage Network keyword spotter");
	cJSON_AddStringToObject(a, "url", ATTRIBUTION_URL);
	return a;
}

static void send_info(struct conn *c)
{
	struct wy *w = c->w;
	const drsn_plugin_host *h = w->host;
	const drsn_model *m = h->model(h);
	cJSON *d = cJSON_CreateObject();
	const char *empty[] = {"asr", "tts", "handle", "intent"};
	for (size_t i = 0; i < sizeof empty / sizeof *empty; i++)
		cJSON_AddArrayToObject(d, empty[i]);
	cJSON *wake = cJSON_AddArrayToObject(d, "wake");
	cJSON *prog = cJSON_CreateObject();
	cJSON_AddItemToArray(wake, prog);
	cJSON_AddStringToObject(prog, "name", "drsnd");
	cJSON_AddItemToObject(prog, "attribution", attribution());
	cJSON_AddBoolToObject(prog, "installed", 1);
	cJSON_AddStringToObject(prog, "description", "drsnd keyword spotter (Deep Residual Shrinkage Network)");
	cJSON_AddStringToObject(prog, "version", h->daemon_version ? h->daemon_version : "");
	cJSON *models = cJSON_AddArrayToObject(prog, "models");
	int n = m ? h->model_n_labels(m) : 0;
	for (int i = 0; i < n; i++) {
		const char *label = h->model_label(m, i);
		if (!label || label[0] == '_')
			continue;
		cJSON *x = cJSON_CreateObject();
		cJSON_AddItemToArray(models, x);
		cJSON_AddStringToObject(x, "name", label);
		cJSON_AddItemToObject(x, "attribution", attribution());
		cJSON_AddBoolToObject(x, "installed", 1);
		cJSON_AddStringToObject(x, "description", label);
		cJSON_AddStringToObject(x, "phrase", label);
		cJSON *langs = cJSON_AddArrayToObject(x, "languages");
		cJSON_AddItemToArray(langs, cJSON_CreateString(w->language));
		cJSON_AddStringToObject(x, "version", h->daemon_version ? h->daemon_version : "");
	}
	send_event(c, "info", d);
}

/* ---- audio -------------------------------------------------------------- */

static void drop_pipeline(struct conn *c)
{
	if (c->pl)
		c->w->host->pipeline_destroy(c->pl);
	c->pl = NULL;
	wy_pcm_destroy(c->pcm);
	c->pcm = NULL;
}

/* The pipeline and converter on the current model. 0 or -1 (error sent). */
static int ensure_pipeline(struct conn *c)
{
	const drsn_plugin_host *h = c->w->host;
	if (c->pl)
		return 0;
	const drsn_model *m = h->model(h);
	if (!m) {
		send_error(c, "no-model", "drsnd has no model loaded; audio is ignored");
		return -1;
	}
	drsn_error e = {0};
	int rc = h->pipeline_create(h, &c->pl, &e);
	if (rc < 0) {
		c->pl = NULL;
		send_error(c, "pipeline", "cannot make a detection pipeline: %s", e.msg[0] ? e.msg : "failed");
		return -1;
	}
	rc = wy_pcm_create(&c->pcm, h->model_sample_rate(m), c->w->float4);
	if (rc < 0) {
		send_error(c, "pipeline", "cannot make the audio converter (model rate %d Hz)",
			   h->model_sample_rate(m));
		drop_pipeline(c);
		return -1;
	}
	return 0;
}

static int name_wanted(const struct conn *c, const char *name)
{
	if (!c->names)
		return 1;
	const cJSON *x;
	cJSON_ArrayForEach(x, c->names)
		if (cJSON_IsString(x) && !strcmp(x->valuestring, name))
			return 1;
	return 0;
}

static void on_detection(void *user, const drsn_detection *d)
{
	struct conn *c = user;
	if (!name_wanted(c, d->name)) {
		LOG(c->w, DEBUG, "client %u: %s not in detect names, not reported", c->id, d->name);
		return;
	}
	int64_t ts = c->ts_base + (int64_t)llround((c->t_offset + d->time) * 1000.0);
	cJSON *data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "name", d->name);
	cJSON_AddNumberToObject(data, "timestamp", (double)ts);
	c->n_det++;
	LOG(c->w, DEBUG, "client %u: detection %s at %lld ms (score %.3f)", c->id, d->name,
	    (long long)ts, d->score);
	send_event(c, "detection", data);
}

static const drsn_pipeline_events pipeline_events = {.detection = on_detection};

static int push_audio(void *user, const float *x, size_t n)
{
	struct conn *c = user;
	if (!c->pl)
		return 0;
	int rc = c->w->host->pipeline_push(c->pl, x, n, &pipeline_events, c);
	return c->closing ? 1 : (rc < 0 ? rc : 0);
}

/* An integer field of data, or def when absent; -2 when present but not an
 * integer (then *ok = 0). */
static long long int_field(const cJSON *data, const char *key, long long def, int *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
	if (!v || cJSON_IsNull(v))
		return def;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    fabs(v->valuedouble) > 9e15) {
		*ok = 0;
		return -2;
	}
	return (long long)v->valuedouble;
}

/* 1 when data has key with a value: Wyoming clients send null for none
 * (wyoming's AudioStart without a timestamp: "timestamp": null). */
static int has_value(const cJSON *data, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
	return v && !cJSON_IsNull(v);
}

/* Finish the converter (its resampler tail goes through the pipeline). */
static void finish_audio(struct conn *c)
{
	if (c->pcm && !c->stream_bad)
		wy_pcm_finish(c->pcm, push_audio, c);
}

/* audio-start, or an audio-chunk without one: a new stream in this format. */
static void stream_begin(struct conn *c, const cJSON *data, int implicit)
{
	int ok = 1;
	if (c->streaming)
		finish_audio(c);
	c->streaming = 1;
	c->stream_bad = 0;
	c->n_det = 0;
	c->t_offset = 0;
	c->ts_base = 0;
	c->ts_base_set = 0;
	long long rate = int_field(data, "rate", -1, &ok);
	long long width = int_field(data, "width", -1, &ok);
	long long channels = int_field(data, "channels", -1, &ok);
	long long ts = int_field(data, "timestamp", 0, &ok);
	if (has_value(data, "timestamp") && ok) {
		c->ts_base = ts;
		c->ts_base_set = 1;
	}
	if (!ok || rate < 0 || width < 0 || channels < 0 || rate > INT_MAX || width > INT_MAX ||
	    channels > INT_MAX) {
		c->stream_bad = 1;
		send_error(c, "bad-audio-format", "%s needs integer rate, width and channels",
			   implicit ? "audio-chunk" : "audio-start");
		return;
	}
	if (ensure_pipeline(c) < 0) {
		c->stream_bad = 1;
		return;
	}
	c->w->host->pipeline_reset(c->pl);
	char err[256];
	if (wy_pcm_start(c->pcm, (int)rate, (int)width, (int)channels, err, sizeof err) < 0) {
		c->stream_bad = 1;
		send_error(c, "bad-audio-format", "%s", err);
		return;
	}
	c->rate = (int)rate;
	c->width = (int)width;
	c->channels = (int)channels;
}

static void on_audio_chunk(struct conn *c, const cJSON *data)
{
	if (!c->streaming) {
		stream_begin(c, data, 1);
	} else if (!c->stream_bad) {
		int ok = 1;
		long long rate = int_field(data, "rate", c->rate, &ok);
		long long width = int_field(data, "width", c->width, &ok);
		long long channels = int_field(data, "channels", c->channels, &ok);
		if (!ok || rate < 0 || width < 0 || channels < 0 || rate > INT_MAX ||
		    width > INT_MAX || channels > INT_MAX) {
			c->stream_bad = 1;
			send_error(c, "bad-audio-format", "audio-chunk: rate, width and channels must be integers");
		} else if (!wy_pcm_same_format(c->pcm, (int)rate, (int)width, (int)channels)) {
			/* the format changed mid-stream: keep the stream time going */
			char err[256];
			finish_audio(c);
			if (wy_pcm_start(c->pcm, (int)rate, (int)width, (int)channels, err, sizeof err) < 0) {
				c->stream_bad = 1;
				send_error(c, "bad-audio-format", "%s", err);
			} else {
				c->rate = (int)rate;
				c->width = (int)width;
				c->channels = (int)channels;
			}
		}
	}
	if (c->streaming && !c->ts_base_set) {
		int ok = 1;
		long long ts = int_field(data, "timestamp", 0, &ok);
		if (ok && has_value(data, "timestamp")) {
			/* the first chunk's clock, less the audio already received */
			double before = c->t_offset + (c->pl ? c->w->host->pipeline_time(c->pl) : 0);
			c->ts_base = ts - (int64_t)llround(before * 1000.0);
		}
		c->ts_base_set = 1;
	}
	c->ev = (c->streaming && !c->stream_bad) ? EV_AUDIO : EV_SKIP;
}

static void on_audio_stop(struct conn *c)
{
	if (!c->streaming) {
		send_event(c, "not-detected", NULL);
		return;
	}
	finish_audio(c);
	c->streaming = 0;
	if (!c->n_det)
		send_event(c, "not-detected", NULL);
}

/* ---- events in ---------------------------------------------------------- */

static int on_event(void *user, const char *type, cJSON *data, size_t payload_length)
{
	struct conn *c = user;
	c->ev = EV_SKIP;
	if (!strcmp(type, "audio-chunk")) {
		on_audio_chunk(c, data);
	} else if (!strcmp(type, "describe")) {
		send_info(c);
	} else if (!strcmp(type, "detect")) {
		cJSON_Delete(c->names);
		c->names = NULL;
		const cJSON *names = cJSON_GetObjectItemCaseSensitive(data, "names");
		if (cJSON_IsArray(names) && cJSON_GetArraySize(names) > 0)
			c->names = cJSON_Duplicate(names, 1);
		else if (names && !cJSON_IsNull(names) && !cJSON_IsArray(names))   /* [] = all */
			send_error(c, "bad-detect", "detect: names must be a list of strings");
	} else if (!strcmp(type, "audio-start")) {
		stream_begin(c, data, 0);
	} else if (!strcmp(type, "audio-stop")) {
		on_audio_stop(c);
	} else if (!strcmp(type, "ping")) {
		cJSON *d = NULL;
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(data, "text");
		if (cJSON_IsString(t)) {
			d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "text", t->valuestring);
		}
		send_event(c, "pong", d);
	} else {
		LOG(c->w, DEBUG, "client %u: ignoring event '%s' (%zu payload bytes)", c->id, type,
		    payload_length);
	}
	return c->closing;
}

static int on_payload(void *user, const uint8_t *p, size_t n)
{
	struct conn *c = user;
	if (c->ev != EV_AUDIO || !c->pcm || c->stream_bad)
		return 0;
	int rc = wy_pcm_feed(c->pcm, p, n, push_audio, c);
	if (rc < 0 && !c->closing) {
		c->stream_bad = 1;
		c->ev = EV_SKIP;
		send_error(c, "audio", "cannot convert the audio (%s)", strerror(-rc));
	}
	return c->closing;
}

static int on_end(void *user)
{
	struct conn *c = user;
	c->ev = EV_SKIP;
	c->event_ended = 1;
	c->last_event = uv_now(c->w->loop);
	return c->closing;
}

static const wy_handler handler = {on_event, on_payload, on_end};

/* ---- connections -------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *hd)
{
	struct conn *c = hd->data;
	struct wy *w = c->w;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (--w->n_conns == 0 && w->idle_timer_open && !uv_is_closing((uv_handle_t *)&w->idle_timer)) {
		uv_timer_stop(&w->idle_timer);
		LOG(w, DEBUG, "check timer stopped (no clients)");
	}
	drop_pipeline(c);
	wy_parser_destroy(c->parser);
	cJSON_Delete(c->names);
	LOG(w, DEBUG, "client %u: closed", c->id);
	free(c);
	maybe_free(w);
}

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_read_stop(&c->h.stream);
	uv_close(&c->h.handle, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;
	(void)status;
	free(req);
	conn_close(c);
}

/* Close once what is queued has been written (the error event). */
static void conn_close_after_flush(struct conn *c)
{
	if (c->closing || c->flushing)
		return;
	c->flushing = 1;
	c->flush_since = uv_now(c->w->loop);
	uv_read_stop(&c->h.stream);
	uv_shutdown_t *req = malloc(sizeof *req);
	if (req) {
		req->data = c;
		if (uv_shutdown(req, &c->h.stream, on_shutdown) == 0)
			return;
		free(req);
	}
	conn_close(c);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = hd->data;
	(void)suggested;
	*buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void protocol_error(struct conn *c)
{
	send_error(c, wy_parser_code(c->parser), "%s", wy_parser_text(c->parser));
	conn_close_after_flush(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Next loop iteration: the paused connections read again. */
static void on_resume(uv_idle_t *idle)
{
	struct wy *w = idle->data;
	uv_idle_stop(idle);
	for (struct conn *c = w->conns; c; c = c->next) {
		if (!c->paused)
			continue;
		c->paused = 0;
		if (!c->closing && !c->flushing)
			uv_read_start(&c->h.stream, on_alloc, on_read);
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (c->closing)
		return;
	if (nread > 0) {
		c->last_rx = uv_now(c->w->loop);
		int was_in_event = wy_parser_in_event(c->parser);
		c->event_ended = 0;
		int rc = wy_parser_feed(c->parser, (const uint8_t *)buf->base, (size_t)nread, &handler, c);
		if (wy_parser_in_event(c->parser) && (!was_in_event || c->event_ended))
			c->event_since = uv_now(c->w->loop);   /* an event began in this read */
		if (rc == -EPROTO) {
			protocol_error(c);
		} else if (!c->closing && !c->flushing && c->w->resume_open) {
			/* One buffer per connection and loop iteration: libuv would
			 * read on (32 times) while a client has data, and a few
			 * clients that stream faster than real time would hold
			 * the loop for seconds (the daemon's own audio, the
			 * other clients and the watchdog wait). */
			uv_read_stop(s);
			c->paused = 1;
			uv_idle_start(&c->w->resume, on_resume);
		}
		return;
	}
	if (nread == 0)
		return;
	if (nread == UV_EOF) {
		if (wy_parser_eof(c->parser) == -EPROTO) {
			protocol_error(c);
			return;
		}
		LOG(c->w, DEBUG, "client %u: end of stream", c->id);
		conn_close_after_flush(c);
		return;
	}
	LOG(c->w, DEBUG, "client %u: read: %s", c->id, uv_strerror((int)nread));
	conn_close(c);
}

static void on_idle_timer(uv_timer_t *t);

static void on_connection(uv_stream_t *server, int status)
{
	struct wy *w = server->data;
	if (status < 0) {
		LOG(w, WARN, "accept: %s", uv_strerror(status));
		return;
	}
	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		LOG(w, ERROR, "out of memory for a client");
		return;
	}
	c->w = w;
	c->id = ++w->next_id;
	c->last_rx = c->last_event = uv_now(w->loop);
	if (w->is_unix)
		uv_pipe_init(w->loop, &c->h.pipe, 0);
	else
		uv_tcp_init(w->loop, &c->h.tcp);
	c->h.handle.data = c;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	if (w->n_conns++ == 0 && w->idle_timer_open) {
		w->last_check = uv_now(w->loop);
		uv_timer_start(&w->idle_timer, on_idle_timer, w->check_ms, w->check_ms);
		LOG(w, DEBUG, "check timer started (a client connected)");
	}
	if (uv_accept(server, &c->h.stream) < 0) {
		conn_close(c);
		return;
	}
	if (!w->is_unix)
		uv_tcp_nodelay(&c->h.tcp, 1);
	if (w->n_conns > w->max_clients) {
		send_error(c, "busy", "too many clients (max_clients = %d)", w->max_clients);
		conn_close_after_flush(c);
		return;
	}
	if (wy_parser_create(&c->parser, &w->lim) < 0) {
		LOG(w, ERROR, "out of memory for a client");
		conn_close(c);
		return;
	}
	LOG(w, DEBUG, "client %u: connected", c->id);
	uv_read_start(&c->h.stream, on_alloc, on_read);
}

/* t moved on by `by`, but not past now. */
static uint64_t later(uint64_t t, uint64_t by, uint64_t now)
{
	return t + by < now ? t + by : now;
}

/* Close the connections that sent no event for idle_timeout_ms, those
 * with an event unfinished frame_timeout_ms after its first byte, and those
 * whose last events are not read within FLUSH_MS. */
static void on_idle_timer(uv_timer_t *t)
{
	struct wy *w = t->data;
	uint64_t now = uv_now(w->loop);
	/* More than a period late: the loop did not run (drsnd stopped, a
	 * paused VM, starved). That time is not the clients': what they sent
	 * meanwhile still waits in the sockets (timers run before the reads),
	 * so their clocks move on by the lateness, instead of every connection
	 * timing out at once. */
	uint64_t late = now - w->last_check > 2 * w->check_ms ? now - w->last_check - w->check_ms : 0;
	w->last_check = now;
	for (struct conn *c = w->conns; c; c = c->next) {
		if (c->closing)
			continue;
		if (late) {
			c->last_rx = later(c->last_rx, late, now);
			c->last_event = later(c->last_event, late, now);
			c->event_since = later(c->event_since, late, now);
			c->flush_since = later(c->flush_since, late, now);
		}
		if (c->flushing) {
			if (now - c->flush_since >= FLUSH_MS) {
				LOG(w, WARN, "client %u: does not read its last events (%zu bytes unsent after %d ms): closing",
				    c->id, uv_stream_get_write_queue_size(&c->h.stream), FLUSH_MS);
				conn_close(c);
			}
			continue;
		}
		/* inside an event: its bytes so far count; between events: only
		 * whole events (blank lines do not) */
		int in_event = c->parser && wy_parser_in_event(c->parser);
		uint64_t quiet = now - (in_event ? c->last_rx : c->last_event);
		if (in_event && w->frame_ms && now - c->event_since >= (uint64_t)w->frame_ms) {
			send_error(c, "frame-timeout", "an event is not complete %llu ms after its first byte (frame_timeout_ms = %d): closing",
				   (unsigned long long)(now - c->event_since), w->frame_ms);
			conn_close_after_flush(c);
		} else if (w->idle_ms && quiet >= (uint64_t)w->idle_ms) {
			send_error(c, "idle-timeout", "%s for %llu ms (idle_timeout_ms = %d): closing",
				   in_event ? "nothing received" : "no event received", (unsigned long long)quiet,
				   w->idle_ms);
			conn_close_after_flush(c);
		}
	}
}

/* ---- the plugin --------------------------------------------------------- */

static int wy_create(void **self, const drsn_plugin_host *host, const drsn_plugin_config *cfg,
		     char *err, size_t err_size)
{
	struct wy *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	w->host = host;
	int rc = configure(w, cfg, err, err_size);
	if (rc < 0) {
		free(w);
		return rc;
	}
	*self = w;
	return 0;
}

static void on_listener_closed(uv_handle_t *hd)
{
	struct wy *w = hd->data;
	w->listener_open = 0;
	maybe_free(w);
}

static void on_idle_timer_closed(uv_handle_t *hd)
{
	struct wy *w = hd->data;
	w->idle_timer_open = 0;
	maybe_free(w);
}

static void on_resume_closed(uv_handle_t *hd)
{
	struct wy *w = hd->data;
	w->resume_open = 0;
	maybe_free(w);
}

/* Bind the TCP listener to host:port (an address, or a name tried address
 * by address). 0 or a negative errno (message in err). */
static int bind_tcp(struct wy *w, char *err, size_t err_size)
{
	uv_getaddrinfo_t req;   /* an IP address comes back as it is, without DNS */
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE};   /* not ADDRCONFIG: localhost on a box with only lo */
	char port[16];
	snprintf(port, sizeof port, "%d", w->port);
	int rc = uv_getaddrinfo(w->loop, &req, NULL, w->ip, port, &hints);   /* synchronous */
	if (rc < 0) {
		snprintf(err, err_size, "uri %s: cannot resolve the host name '%s': %s", w->uri, w->ip,
			 uv_strerror(rc));
		return rc;
	}
	/* Each address on a socket of its own (one uv_tcp_t keeps the family of
	 * its first bind), bound and listening before the next is tried: a
	 * ::1 that cannot be bound, or a port in use there, moves on to
	 * 127.0.0.1. The first failure is the one reported. */
	rc = UV_EADDRNOTAVAIL;
	int first = 0;
	for (struct addrinfo *a = req.addrinfo; a && rc < 0; a = a->ai_next) {
		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		int one = 1, fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
		    bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 64) < 0) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
		} else if ((rc = uv_tcp_open(&w->listener.tcp, fd)) < 0) {
			close(fd);
		}
		if (rc < 0 && !first)
			first = rc;
	}
	uv_freeaddrinfo(req.addrinfo);
	if (rc < 0 && first)
		rc = first;
	return rc;
}

static int wy_start(void *self, uv_loop_t *loop, char *err, size_t err_size)
{
	struct wy *w = self;
	int rc;
	w->loop = loop;
	if (w->is_unix) {
		int removed = 0, fd = -1;
		rc = drsn__unix_check_dir(w->path, "[plugin wyoming] uri", err, err_size);
		if (!rc)
			rc = drsn__unix_clear_stale(w->path, &removed, err, err_size);
		if (!rc && removed)
			LOG(w, INFO, "%s: removed a stale socket (nobody answered)", w->path);
		if (!rc)
			rc = drsn__unix_listen(w->path, w->mode, w->gid, w->group, 64, &fd, &w->made,
					       err, err_size);
		if (rc < 0)
			return rc;
		uv_pipe_init(loop, &w->listener.pipe, 0);
		w->listener.handle.data = w;
		w->listener_open = 1;
		w->bound_unix = 1;
		err[0] = '\0';
		rc = uv_pipe_open(&w->listener.pipe, fd);
		if (rc < 0)
			close(fd);
	} else {
		uv_tcp_init(loop, &w->listener.tcp);
		w->listener.handle.data = w;
		w->listener_open = 1;
		err[0] = '\0';
		rc = bind_tcp(w, err, err_size);
	}
	if (!rc)
		rc = uv_listen(&w->listener.stream, 64, on_connection);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, err_size, "cannot listen on %s: %s", w->uri, uv_strerror(rc));
		uv_close(&w->listener.handle, on_listener_closed);
		return rc;
	}
	/* a quarter of the shortest limit, 10..1000 ms; started with the first
	 * connection, stopped with the last */
	int shortest = FLUSH_MS;
	if (w->idle_ms > 0 && w->idle_ms < shortest)
		shortest = w->idle_ms;
	if (w->frame_ms > 0 && w->frame_ms < shortest)
		shortest = w->frame_ms;
	w->check_ms = (uint64_t)(shortest / 4 < 10 ? 10 : shortest / 4 > 1000 ? 1000 : shortest / 4);
	uv_timer_init(loop, &w->idle_timer);
	w->idle_timer.data = w;
	w->idle_timer_open = 1;
	uv_idle_init(loop, &w->resume);
	w->resume.data = w;
	w->resume_open = 1;
	if (w->is_unix) {
		LOG(w, INFO, "listening on unix://%s", w->path);
	} else {
		struct sockaddr_storage ss;
		int len = sizeof ss;
		char ip[64] = "?";
		int port = w->port;
		if (uv_tcp_getsockname(&w->listener.tcp, (struct sockaddr *)&ss, &len) == 0) {
			if (ss.ss_family == AF_INET6) {
				uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
				port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
			} else {
				uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
				port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			}
		}
		int named = uv_ip4_addr(w->ip, w->port, &(struct sockaddr_in){0}) &&
			    uv_ip6_addr(w->ip, w->port, &(struct sockaddr_in6){0});
		LOG(w, INFO, "listening on tcp://%s%s%s:%d%s%s%s", ss.ss_family == AF_INET6 ? "[" : "", ip,
		    ss.ss_family == AF_INET6 ? "]" : "", port, named ? " (" : "", named ? w->ip : "",
		    named ? ")" : "");
	}
	if (w->idle_ms > 0)
		LOG(w, DEBUG, "idle connections are closed after %d ms", w->idle_ms);
	if (w->frame_ms > 0)
		LOG(w, DEBUG, "an event must be complete %d ms after its first byte", w->frame_ms);
	return 0;
}

static void wy_destroy(void *self)
{
	struct wy *w = self;
	if (!w)
		return;
	w->destroyed = 1;
	for (struct conn *c = w->conns; c; c = c->next)
		conn_close(c);
	if (w->listener_open && !uv_is_closing(&w->listener.handle))
		uv_close(&w->listener.handle, on_listener_closed);
	if (w->idle_timer_open && !uv_is_closing((uv_handle_t *)&w->idle_timer))
		uv_close((uv_handle_t *)&w->idle_timer, on_idle_timer_closed);
	if (w->resume_open && !uv_is_closing((uv_handle_t *)&w->resume))
		uv_close((uv_handle_t *)&w->resume, on_resume_closed);
	maybe_free(w);
}

/* The model changed: every pipeline was made on the old one. A stream in
 * progress goes on with a new pipeline (its time keeps counting). */
static void wy_on_model(void *self, const drsn_model *m)
{
	struct wy *w = self;
	int remade = 0, dropped = 0;
	for (struct conn *c = w->conns; c; c = c->next) {
		if (!c->pl)
			continue;
		dropped++;
		double t = w->host->pipeline_time(c->pl);
		drop_pipeline(c);
		if (c->closing || !c->streaming || c->stream_bad)
			continue;
		c->t_offset += t;
		if (!m) {
			c->stream_bad = 1;
			send_error(c, "no-model", "the model was unloaded; audio is ignored");
			continue;
		}
		char err[256];
		if (ensure_pipeline(c) < 0) {
			c->stream_bad = 1;
		} else if (wy_pcm_start(c->pcm, c->rate, c->width, c->channels, err, sizeof err) < 0) {
			c->stream_bad = 1;
			send_error(c, "bad-audio-format", "%s", err);
		} else {
			remade++;
		}
	}
	/* idle connections make theirs at their next audio-start */
	LOG(w, INFO, "model reloaded: %d client pipeline(s) dropped, %d remade for streams in progress",
	    dropped, remade);
}

static const drsn_plugin wyoming_plugin = {
	.version = DRSN_PLUGIN_ABI_VERSION,
	.name = "wyoming",
	.description = "Wyoming protocol wake-word service (Home Assistant)",
	.wants = DRSN_PLUGIN_CHECK_CONFIG,   /* create() reads the keys; start() listens */
	.create = wy_create,
	.destroy = wy_destroy,
	.start = wy_start,
	.on_model = wy_on_model,
};

DRSN_PLUGIN_DEFINE(wyoming_plugin)
