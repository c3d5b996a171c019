/*
 * plugins/mqtt/mqtt.c - drsnd plugin: detections and status to an MQTT broker.
 *
 * Topics (PREFIX = topic_prefix, "drsnd/<hostname>" by default, and
 * "drsnd/<hostname>/<instance>" in a drsnd --instance NAME, i.e.
 * drsnd@NAME.service, whose client id is then drsnd-<hostname>-<instance>:
 * two instances on one host with one copied config must not share an id,
 * or the broker throws one off whenever the other connects):
 *   PREFIX/detection     every detection, the JSON socket clients get
 *                        (QoS = qos, retained only with retain_detections)
 *   PREFIX/status        retained: the latest status event with
 *                        "online": true added; on a clean stop the last one
 *                        again with "online": false
 *   PREFIX/availability  retained: "online" once connected, "offline" on a
 *                        clean stop and as the last will (the broker sends it
 *                        when drsnd dies or its link times out). This topic is
 *                        the one to watch for liveness (Home Assistant's
 *                        availability convention); status may still say
 *                        "online": true after a crash.
 *
 * Why libmosquitto (Debian libmosquitto-dev): it is the reference MQTT
 * client of the Eclipse Mosquitto project, well kept in Debian, and does
 * what we would otherwise write by hand: TLS (OpenSSL) with CA/client
 * certificates, username/password, the last will, and QoS 1/2 bookkeeping
 * (in-flight messages are kept across a reconnect and resent).
 *
 * It runs on drsnd's libuv loop, not on a thread of its own: the socket is
 * watched with a uv_poll (readable, and writable while
 * mosquitto_want_write()), a 1 s uv_timer calls mosquitto_loop_misc()
 * (keepalive pings), and reconnects are ours, on a uv_timer with exponential
 * backoff (reconnect_min_ms doubling up to reconnect_max_ms, plus up to 25%
 * jitter so a fleet does not come back in lockstep after a broker restart);
 * an attempt without the broker's CONNACK after keepalive_s is abandoned.
 * Connecting uses mosquitto_connect_async() (then mosquitto_reconnect_async()):
 * the TCP connect and the TLS handshake do not block, but both resolve the
 * host name with a blocking getaddrinfo() inside. With a numeric address
 * (the default) they are called on the loop; with a host name the call runs
 * on libuv's threadpool (uv_queue_work), so a DNS server that does not
 * answer stalls that attempt only, not the loop (audio, clients, the
 * watchdog). Not uv_getaddrinfo() and a numeric address handed on:
 * libmosquitto checks the broker's TLS certificate against (and sends SNI
 * for) the name it was given. While that call runs, the loop thread leaves
 * libmosquitto alone (no socket watch, no keepalive, no publish: detections
 * queue as while disconnected); its result is handled on the loop, and a
 * failure is retried with the usual backoff. destroy() during a lookup
 * cancels it if it has not started, else the plugin's memory is freed once
 * it has ended (a stop waits at most for the resolver's timeout).
 *
 * The poll watches a dup() of libmosquitto's socket: libmosquitto closes its
 * socket on its own (inside loop_read/write/misc) and the descriptor number
 * may be reused at once, while epoll and libuv track numbers; with our own
 * duplicate the number stays ours until the poll handle has closed.
 *
 * While not connected, detections wait in a bounded queue (queue_max, the
 * oldest is dropped and counted when full) and are sent in order once the
 * broker accepted the connection; the latest status is kept too. While
 * connected, at most queue_max QoS>0 messages are in libmosquitto's hands
 * (sent, not yet acknowledged); beyond that they wait in the same queue.
 *
 * A broker that stays unreachable: the first failure is a warning, the
 * retries info, a warning again every DOWN_WARN_MS, and the reconnect a
 * notice (log_down()). create() only reads the keys (and password_file) and
 * sets up libmosquitto; the connection starts in start(), so `drsnd
 * --check-config` creates the plugin to check the keys (DRSN_PLUGIN_CHECK_CONFIG).
 *
 * On destroy() (drsnd stopping) the plugin publishes the final status and
 * "offline", waits up to STOP_DRAIN_MS for the broker to acknowledge what
 * it still has in flight (a bounded, blocking wait at shutdown only) and
 * disconnects cleanly, so the broker does not send the will.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <mosquitto.h>
#include <uv.h>

#include "common/closest.h"
#include "common/plugin_kv.h"
#include "drsn/plugin.h"

#define STOP_DRAIN_MS 1000
#define MISC_INTERVAL_MS 1000
/* A connection the broker closes within QUICK_DROP_MS of its CONNACK was
 * dropped "right after connecting"; CLASH_DROPS of them in a row are what a
 * second client with the same client id causes (the broker closes the older
 * session whenever the other one connects): warned once. */
#define QUICK_DROP_MS 10000
#define CLASH_DROPS 3
/* A broker that stays unreachable: the first failure is a warning (an
 * error for a name that does not resolve or a refusal), the retries are
 * info, and a warning again every DOWN_WARN_MS (as drsnd's own audio
 * source: not one per retry, 2880 a day at the 30 s backoff cap); the
 * connection that ends it is a notice. */
#define DOWN_WARN_MS 600000

enum { ST_IDLE, ST_CONNECTING, ST_CONNECTED };

struct mqtt_cfg {
	char *host;
	int port;                 /* 0: 1883, or 8883 with tls */
	char *client_id;
	char *prefix;
	int qos;
	int keepalive_s;
	char *username;
	char *password;
	char *password_file;
	int tls;
	char *cafile, *capath, *certfile, *keyfile;
	int tls_insecure;
	int retain_detections;
	int reconnect_min_ms, reconnect_max_ms;
	int queue_max;
};

struct mqtt {
	const drsn_plugin_host *host;
	struct mqtt_cfg cfg;
	struct mosquitto *mosq;
	uv_loop_t *loop;

	char *t_detection, *t_status, *t_avail;

	uv_timer_t misc_timer, retry_timer;
	struct watch *poll;       /* NULL when no socket is watched */
	int poll_sock;            /* libmosquitto's socket behind poll, or -1 */
	int poll_events;
	int handles_open;         /* timers + poll still to be closed */
	int started;
	int connect_called;       /* mosquitto_connect_async() was called once */
	int stopping;             /* destroy() ran: no more retries or callbacks */
	int64_t connect_started_ms;  /* uv_now() of the last connect attempt */
	int refused;              /* the broker's CONNACK said no (logged) */
	int numeric_host;         /* cfg.host is an IP address: no lookup */

	/* a connect with a host name lookup on the threadpool */
	uv_work_t connect_req;
	int connecting;           /* it is queued or running: hands off libmosquitto */
	int work_rc;              /* its mosquitto_*connect_async() result */
	char work_why[128];       /* strerror() of the worker's errno */
	char work_log[256];       /* libmosquitto's last warning on the worker */

	int state;
	int ever_connected;
	int64_t connected_ms;     /* uv_now() of the last CONNACK */
	int quick_drops;          /* connections in a row closed within QUICK_DROP_MS */
	int clash_warned;
	int down;                 /* failed since the last connection (warned) */
	int64_t down_warned_ms;   /* uv_now() of the last warning about it */
	unsigned down_quiet;      /* failures logged at info since that warning */
	unsigned down_failures;   /* failures since the last connection */
	int backoff_ms;           /* the next retry's base delay */
	unsigned rand_state;
	int inflight;             /* QoS>0 publishes not yet acknowledged */

	/* detections waiting: ring of queue_max strings */
	char **queue;
	int q_head, q_n;
	unsigned long long dropped, dropped_logged;

	char *status;             /* the latest status event (JSON), or NULL */
	int status_dirty;         /* not yet published */
};

/* ---- small helpers ------------------------------------------------------- */

#define LOG(m, level, ...) (m)->host->log((m)->host, DRSN_PLUGIN_LOG_##level, __VA_ARGS__)

/* A failed connect or a lost connection, at level for the first of a
 * run (and every DOWN_WARN_MS), else at info. */
static void log_down(struct mqtt *m, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void log_down(struct mqtt *m, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int64_t now = (int64_t)uv_now(m->loop);
	m->down_failures++;
	if (m->down && now - m->down_warned_ms < DOWN_WARN_MS) {
		m->host->log(m->host, DRSN_PLUGIN_LOG_INFO, "%s", msg);
		m->down_quiet++;
		return;
	}
	if (m->down_quiet)
		m->host->log(m->host, level, "%s (still failing: %u more attempts since the last warning)", msg,
			     m->down_quiet);
	else
		m->host->log(m->host, level, "%s", msg);
	m->down = 1;
	m->down_warned_ms = now;
	m->down_quiet = 0;
}

/* A warning from libmosquitto while the broker is down and was warned
 * about recently: info, as the failure it comes with. */
static int down_quiet_now(const struct mqtt *m)
{
	return m->down && m->loop && (int64_t)uv_now(m->loop) - m->down_warned_ms < DOWN_WARN_MS;
}

static int errf(char *err, size_t n, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t n, int code, const char *fmt, ...)
{
	if (err && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, n, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* s with every "%h" replaced by the host name and every "%i" by the
 * instance name (drsnd --instance, drsnd@NAME), in *out. 0, -ENOMEM, or
 * -ENOENT for a "%i" without an instance. */
static int expand_vars(const char *s, const char *hostname, const char *instance, char **out)
{
	*out = NULL;
	for (int pass = 0; pass < 2; pass++) {
		size_t n = 0;
		for (const char *p = s; *p; p++) {
			const char *v = NULL;
			if (p[0] == '%' && p[1] == 'h')
				v = hostname;
			else if (p[0] == '%' && p[1] == 'i' && !(v = instance))
				return -ENOENT;
			size_t vl = v ? strlen(v) : 1;
			if (pass)
				memcpy(*out + n, v ? v : p, vl);
			n += vl;
			p += v != NULL;
		}
		if (pass)
			(*out)[n] = 0;
		else if (!(*out = malloc(n + 1)))
			return -ENOMEM;
	}
	return 0;
}

static char *cat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);
	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb);
		memcpy(s + la + lb, c, lc + 1);
	}
	return s;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* A libmosquitto error for the log (errno for MOSQ_ERR_ERRNO; 2.0.11 has no
 * text for MOSQ_ERR_KEEPALIVE). */
static const char *mosq_why(int rc)
{
	if (rc == MOSQ_ERR_ERRNO)
		return strerror(errno);
	if (rc == MOSQ_ERR_KEEPALIVE)
		return "no answer from the broker within keepalive_s";
	return mosquitto_strerror(rc);
}

/* ---- config -------------------------------------------------------------- */

enum kind { K_STR, K_INT, K_BOOL };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	long lo, hi;
};

#define O(f) offsetof(struct mqtt_cfg, f)
static const struct key keys[] = {
	{"host", K_STR, O(host), 0, 0},
	{"port", K_INT, O(port), 1, 65535},
	{"client_id", K_STR, O(client_id), 0, 0},
	{"topic_prefix", K_STR, O(prefix), 0, 0},
	{"qos", K_INT, O(qos), 0, 2},
	{"keepalive_s", K_INT, O(keepalive_s), 5, 65535},
	{"username", K_STR, O(username), 0, 0},
	{"password", K_STR, O(password), 0, 0},
	{"password_file", K_STR, O(password_file), 0, 0},
	{"tls", K_BOOL, O(tls), 0, 0},
	{"cafile", K_STR, O(cafile), 0, 0},
	{"capath", K_STR, O(capath), 0, 0},
	{"certfile", K_STR, O(certfile), 0, 0},
	{"keyfile", K_STR, O(keyfile), 0, 0},
	{"tls_insecure", K_BOOL, O(tls_insecure), 0, 0},
	{"retain_detections", K_BOOL, O(retain_detections), 0, 0},
	{"reconnect_min_ms", K_INT, O(reconnect_min_ms), 10, 3600000},
	{"reconnect_max_ms", K_INT, O(reconnect_max_ms), 10, 3600000},
	{"queue_max", K_INT, O(queue_max), 1, 1000000},
};
#undef O
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

static void cfg_free(struct mqtt_cfg *c)
{
	for (int i = 0; i < N_KEYS; i++)
		if (keys[i].kind == K_STR) {
			char **p = (char **)((char *)c + keys[i].off);
			wipe_free(*p);
			*p = NULL;
		}
}

/* Where key was last set (for messages about combinations), or "default". */
static const char *where_of(const drsn_plugin_config *cfg, const char *key)
{
	const char *w = "default";
	for (int i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->kv[i].key, key))
			w = cfg->kv[i].where;
	return w;
}

static int read_password_file(struct mqtt_cfg *c, const char *where, const char *sect,
			      char *err, size_t en)
{
	FILE *f = fopen(c->password_file, "r");
	if (!f)
		return errf(err, en, -errno, "%s: [%s] password_file: cannot read '%s': %s", where, sect,
			    c->password_file, strerror(errno));
	char line[1024];
	int ok = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	size_t l = ok ? strcspn(line, "\r\n") : 0;
	line[l] = 0;
	if (!l) {
		explicit_bzero(line, sizeof line);
		return errf(err, en, -EINVAL, "%s: [%s] password_file: '%s' has no password on its first line",
			    where, sect, c->password_file);
	}
	c->password = strdup(line);
	explicit_bzero(line, sizeof line);
	return c->password ? 0 : -ENOMEM;
}

static int cfg_parse(struct mqtt_cfg *c, const drsn_plugin_config *cfg, const char *hostname,
		     const char *instance, char *err, size_t en)
{
	char sect[96];
	snprintf(sect, sizeof sect, "plugin %s", cfg->name ? cfg->name : "mqtt");
	memset(c, 0, sizeof *c);
	c->qos = 1;
	c->keepalive_s = 30;
	c->reconnect_min_ms = 500;
	c->reconnect_max_ms = 30000;
	c->queue_max = 1000;

	for (int i = 0; i < cfg->n; i++) {
		const drsn_plugin_kv *kv = &cfg->kv[i];
		const struct key *k = NULL;
		for (int j = 0; j < N_KEYS; j++)
			if (!strcmp(keys[j].name, kv->key))
				k = &keys[j];
		if (!k) {
			char known[512] = "";
			struct drsn__closest near;
			drsn__closest_init(&near, kv->key);
			for (int j = 0; j < N_KEYS; j++) {
				snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
					 j ? ", " : "", keys[j].name);
				drsn__closest_add(&near, keys[j].name);
			}
			return errf(err, en, -EINVAL, "%s: [%s] unknown key '%s' (known: %s)%s", kv->where, sect,
				    kv->key, known, drsn__closest_hint(&near, ""));
		}
		void *p = (char *)c + k->off;
		switch (k->kind) {
		case K_STR: {
			if (strcmp(k->name, "username") && strcmp(k->name, "password") && !kv->value[0])
				return errf(err, en, -EINVAL, "%s: [%s] %s: the value is empty", kv->where, sect,
					    kv->key);
			char *s = strdup(kv->value);
			if (!s)
				return -ENOMEM;
			wipe_free(*(char **)p);
			*(char **)p = s;
			break;
		}
		case K_INT:
			if (drsn__plugin_kv_int(kv, sect + strlen("plugin "), k->lo, k->hi, p, err, en))
				return -EINVAL;
			break;
		case K_BOOL:
			if (drsn__plugin_kv_bool(kv, sect + strlen("plugin "), p, err, en))
				return -EINVAL;
			break;
		}
	}

	/* defaults that depend on the host */
	if (!c->host && !(c->host = strdup("127.0.0.1")))
		return -ENOMEM;
	if (!c->port)
		c->port = c->tls ? 8883 : 1883;
	/* an instance (drsnd@NAME) gets its own id and topics by default; a
	 * plain drsnd keeps drsnd-%h and drsnd/%h */
	static const char *const vkeys[2] = {"client_id", "topic_prefix"};
	const char *defaults[2] = {instance ? "drsnd-%h-%i" : "drsnd-%h", instance ? "drsnd/%h/%i" : "drsnd/%h"};
	char **vals[2] = {&c->client_id, &c->prefix};
	for (int i = 0; i < 2; i++) {
		char *s;
		int rc = expand_vars(*vals[i] ? *vals[i] : defaults[i], hostname, instance, &s);
		if (rc == -ENOENT)
			return errf(err, en, -EINVAL,
				    "%s: [%s] %s: '%s' uses %%i, but this drsnd has no instance name "
				    "(drsnd --instance NAME, as drsnd@NAME.service passes)",
				    where_of(cfg, vkeys[i]), sect, vkeys[i], *vals[i]);
		if (rc < 0)
			return rc;
		free(*vals[i]);
		*vals[i] = s;
	}

	/* checks across keys */
	size_t pl = strlen(c->prefix);
	if (c->prefix[pl - 1] == '/' || strpbrk(c->prefix, "+#") ||
	    mosquitto_validate_utf8(c->prefix, (int)pl) != MOSQ_ERR_SUCCESS || pl > 60000)
		return errf(err, en, -EINVAL,
			    "%s: [%s] topic_prefix: '%s' is not a topic prefix (UTF-8, no '+' or '#', no trailing '/')",
			    where_of(cfg, "topic_prefix"), sect, c->prefix);
	if (strlen(c->client_id) > 65535 ||
	    mosquitto_validate_utf8(c->client_id, (int)strlen(c->client_id)) != MOSQ_ERR_SUCCESS)
		return errf(err, en, -EINVAL, "%s: [%s] client_id: '%s' is not a valid client id",
			    where_of(cfg, "client_id"), sect, c->client_id);
	if (c->reconnect_max_ms < c->reconnect_min_ms)
		return errf(err, en, -EINVAL, "%s: [%s] reconnect_max_ms: %d is below reconnect_min_ms (%d)",
			    where_of(cfg, "reconnect_max_ms"), sect, c->reconnect_max_ms, c->reconnect_min_ms);
	if (c->password && c->password_file)
		return errf(err, en, -EINVAL, "%s: [%s] password_file: set together with password (%s); use one",
			    where_of(cfg, "password_file"), sect, where_of(cfg, "password"));
	if ((c->password || c->password_file) && !c->username)
		return errf(err, en, -EINVAL, "%s: [%s] %s: a password needs a username",
			    where_of(cfg, c->password ? "password" : "password_file"), sect,
			    c->password ? "password" : "password_file");
	if (c->password_file) {
		int rc = read_password_file(c, where_of(cfg, "password_file"), sect, err, en);
		if (rc < 0)
			return rc;
	}
	static const char *const tls_keys[] = {"cafile", "capath", "certfile", "keyfile", "tls_insecure"};
	if (!c->tls)
		for (int i = 0; i < 5; i++)
			for (int j = 0; j < cfg->n; j++)
				if (!strcmp(cfg->kv[j].key, tls_keys[i]))
					return errf(err, en, -EINVAL, "%s: [%s] %s is set but tls is off (set tls = yes)",
						    cfg->kv[j].where, sect, tls_keys[i]);
	if (!c->certfile != !c->keyfile)
		return errf(err, en, -EINVAL, "%s: [%s] %s: a client certificate needs both certfile and keyfile",
			    where_of(cfg, c->certfile ? "certfile" : "keyfile"), sect,
			    c->certfile ? "certfile" : "keyfile");
	static const char *const files[] = {"cafile", "certfile", "keyfile"};
	char *const paths[] = {c->cafile, c->certfile, c->keyfile};
	for (int i = 0; i < 3; i++)
		if (paths[i] && access(paths[i], R_OK))
			return errf(err, en, -EINVAL, "%s: [%s] %s: cannot read '%s': %s",
				    where_of(cfg, files[i]), sect, files[i], paths[i], strerror(errno));
	if (c->capath && access(c->capath, R_OK | X_OK))
		return errf(err, en, -EINVAL, "%s: [%s] capath: cannot read directory '%s': %s",
			    where_of(cfg, "capath"), sect, c->capath, strerror(errno));
	return 0;
}

/* ---- the socket watch ---------------------------------------------------- */

/* A uv_poll on our dup() of libmosquitto's socket (uv_fileno() is no longer
 * available in the close callback, so the fd is kept here). */
struct watch {
	uv_poll_t h;
	int fd;
};

static void on_poll(uv_poll_t *p, int status, int events);
static void schedule_retry(struct mqtt *m);
static void note_drop(struct mqtt *m);

/* Our memory (libmosquitto's is gone by now). */
static void free_state(struct mqtt *m)
{
	for (int i = 0; m->queue && i < m->q_n; i++)
		free(m->queue[(m->q_head + i) % m->cfg.queue_max]);
	free(m->queue);
	free(m->status);
	free(m->t_detection);
	free(m->t_status);
	free(m->t_avail);
	cfg_free(&m->cfg);
	free(m);
}

static void free_if_done(struct mqtt *m)
{
	if (!m->stopping || m->handles_open > 0)
		return;
	if (m->mosq) {
		mosquitto_destroy(m->mosq);
		mosquitto_lib_cleanup();
		m->mosq = NULL;
	}
	free_state(m);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct mqtt *m = h->data;
	m->handles_open--;
	if (h->type == UV_POLL) {
		struct watch *w = (struct watch *)h;
		close(w->fd);
		free(w);
	}
	free_if_done(m);
}

static void unwatch(struct mqtt *m)
{
	if (!m->poll)
		return;
	uv_poll_stop(&m->poll->h);
	uv_close((uv_handle_t *)&m->poll->h, on_handle_closed);
	m->poll = NULL;
	m->poll_sock = -1;
}

/* After every libmosquitto call: follow its socket (it may have closed it or
 * opened a new one), watch for writable only while it has something to
 * write, and schedule a reconnect once it is gone. */
static void sync_io(struct mqtt *m)
{
	if (m->stopping || m->connecting)
		return;
	int s = mosquitto_socket(m->mosq);
	if (s != m->poll_sock)
		unwatch(m);
	if (s >= 0 && !m->poll) {
		int fd = dup(s);
		struct watch *w = fd >= 0 ? malloc(sizeof *w) : NULL;
		int urc = w ? uv_poll_init(m->loop, &w->h, fd) : -errno;
		if (urc < 0) {
			LOG(m, ERROR, "cannot watch the broker socket: %s", strerror(-urc));
			free(w);
			if (fd >= 0)
				close(fd);
			mosquitto_disconnect(m->mosq);
			s = mosquitto_socket(m->mosq);
		} else {
			w->fd = fd;
			w->h.data = m;
			m->handles_open++;
			m->poll = w;
			m->poll_sock = s;
			m->poll_events = 0;
		}
	}
	if (m->poll) {
		int ev = UV_READABLE | (mosquitto_want_write(m->mosq) ? UV_WRITABLE : 0);
		if (ev != m->poll_events) {
			uv_poll_start(&m->poll->h, ev, on_poll);
			m->poll_events = ev;
		}
	}
	if (s < 0 && m->state != ST_IDLE) {
		if (m->state == ST_CONNECTED)   /* gone without on_disconnect() */
			note_drop(m);
		m->state = ST_IDLE;
		schedule_retry(m);
	}
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct mqtt *m = p->data;
	if (status < 0) {
		/* POLLERR: libuv stopped the watch; a read surfaces the error
		 * (ECONNREFUSED, ECONNRESET) and makes libmosquitto drop the
		 * socket. If it does not, watch again. */
		m->poll_events = 0;
		events = UV_READABLE;
	}
	if (events & UV_READABLE)
		mosquitto_loop_read(m->mosq, 1);
	if ((events & UV_WRITABLE) && mosquitto_socket(m->mosq) >= 0)
		mosquitto_loop_write(m->mosq, 1);
	sync_io(m);
}

/* Every second: keepalive pings (libmosquitto closes a link whose broker
 * stopped answering), a connect that takes too long, and with TLS a read:
 * OpenSSL may hold decrypted packets (PUBACKs) that no longer show on the
 * socket, and this bounds how long they wait. */
static void on_misc(uv_timer_t *t)
{
	struct mqtt *m = t->data;
	if (m->connecting || mosquitto_socket(m->mosq) < 0)
		return;
	if (m->state == ST_CONNECTING && m->poll &&
	    (int64_t)uv_now(m->loop) - m->connect_started_ms > (int64_t)m->cfg.keepalive_s * 1000) {
		/* no CONNACK within keepalive_s (a SYN into the void waits ~2 min
		 * in the kernel): abort the socket under libmosquitto; its next
		 * read fails and the usual retry follows */
		m->host->log(m->host, down_quiet_now(m) ? DRSN_PLUGIN_LOG_INFO : DRSN_PLUGIN_LOG_WARN,
			     "no answer from %s:%d within %d s", m->cfg.host, m->cfg.port, m->cfg.keepalive_s);
		shutdown(m->poll->fd, SHUT_RDWR);
		mosquitto_loop_read(m->mosq, 1);
	} else {
		if (m->cfg.tls)
			mosquitto_loop_read(m->mosq, 1);
		if (mosquitto_socket(m->mosq) >= 0)
			mosquitto_loop_misc(m->mosq);
	}
	sync_io(m);
}

/* ---- connecting ---------------------------------------------------------- */

/* On the loop for a numeric host, else on the threadpool (resolves). */
static int do_connect(struct mqtt *m)
{
	int rc = m->connect_called
		 ? mosquitto_reconnect_async(m->mosq)
		 : mosquitto_connect_async(m->mosq, m->cfg.host, m->cfg.port, m->cfg.keepalive_s);
	m->connect_called = 1;
	return rc;
}

/* The outcome of do_connect(), on the loop; why: errno's text for
 * MOSQ_ERR_ERRNO. */
static void connect_result(struct mqtt *m, int rc, const char *why)
{
	if (rc != MOSQ_ERR_SUCCESS) {
		if (rc == MOSQ_ERR_EAI)
			log_down(m, DRSN_PLUGIN_LOG_ERROR, "cannot connect to %s:%d: cannot resolve the host name '%s'",
				 m->cfg.host, m->cfg.port, m->cfg.host);
		else
			log_down(m, DRSN_PLUGIN_LOG_WARN, "cannot connect to %s:%d: %s", m->cfg.host, m->cfg.port,
				 rc == MOSQ_ERR_ERRNO ? why : mosq_why(rc));
		/* the socket may be half made: drop it */
		if (mosquitto_socket(m->mosq) >= 0)
			mosquitto_disconnect(m->mosq);
		m->state = ST_IDLE;
		unwatch(m);
		schedule_retry(m);
		return;
	}
	sync_io(m);
}

static void connect_work(uv_work_t *req)
{
	struct mqtt *m = req->data;
	m->work_rc = do_connect(m);
	if (m->work_rc == MOSQ_ERR_ERRNO)
		snprintf(m->work_why, sizeof m->work_why, "%s", strerror(errno));
}

static void connect_done(uv_work_t *req, int status)
{
	struct mqtt *m = req->data;
	m->connecting = 0;
	m->handles_open--;
	if (m->stopping) {   /* destroy() ran meanwhile: the result does not matter */
		free_if_done(m);
		return;
	}
	if (m->work_log[0])
		m->host->log(m->host, down_quiet_now(m) ? DRSN_PLUGIN_LOG_INFO : DRSN_PLUGIN_LOG_WARN,
			     "libmosquitto: %s", m->work_log);
	if (status < 0) {
		m->work_rc = MOSQ_ERR_ERRNO;
		snprintf(m->work_why, sizeof m->work_why, "%s", uv_strerror(status));
	}
	connect_result(m, m->work_rc, m->work_why);
}

static void try_connect(struct mqtt *m)
{
	m->state = ST_CONNECTING;
	m->connect_started_ms = (int64_t)uv_now(m->loop);
	/* a socket libmosquitto still has is closed by the reconnect, and the
	 * new one may get the same number: stop watching the old one first */
	unwatch(m);
	if (!m->numeric_host) {
		m->connect_req.data = m;
		m->work_rc = MOSQ_ERR_SUCCESS;
		m->work_why[0] = m->work_log[0] = '\0';
		/* set first: the worker reads it (on_mosq_log) */
		m->connecting = 1;
		m->handles_open++;   /* connect_done() must run before the memory goes */
		int urc = uv_queue_work(m->loop, &m->connect_req, connect_work, connect_done);
		if (urc == 0)
			return;
		m->connecting = 0;
		m->handles_open--;
		LOG(m, WARN, "cannot queue the connect to %s on the threadpool (%s): connecting on the loop",
		    m->cfg.host, uv_strerror(urc));
	}
	int rc = do_connect(m);
	connect_result(m, rc, rc == MOSQ_ERR_ERRNO ? strerror(errno) : "");
}

static void on_retry(uv_timer_t *t)
{
	struct mqtt *m = t->data;
	if (m->state == ST_IDLE)
		try_connect(m);
}

static void schedule_retry(struct mqtt *m)
{
	if (m->stopping || uv_is_active((uv_handle_t *)&m->retry_timer))
		return;
	int base = m->backoff_ms;
	long delay = base + (long)(rand_r(&m->rand_state) % (base / 4 + 1));
	if (delay > m->cfg.reconnect_max_ms)
		delay = m->cfg.reconnect_max_ms;
	m->backoff_ms = base > m->cfg.reconnect_max_ms / 2 ? m->cfg.reconnect_max_ms : base * 2;
	LOG(m, INFO, "reconnecting to %s:%d in %ld ms", m->cfg.host, m->cfg.port, delay);
	uv_timer_start(&m->retry_timer, on_retry, (uint64_t)delay, 0);
}

/* ---- publishing ---------------------------------------------------------- */

static int publish(struct mqtt *m, const char *topic, const char *payload, int qos, int retain)
{
	int mid = 0;
	int rc = mosquitto_publish(m->mosq, &mid, topic, (int)strlen(payload), payload, qos, retain != 0);
	if (rc == MOSQ_ERR_SUCCESS && qos > 0)
		m->inflight++;
	else if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN && rc != MOSQ_ERR_CONN_LOST)
		LOG(m, WARN, "publish to %s failed: %s", topic,
		    mosq_why(rc));
	return rc;
}

/* A status with "online": v appended, or NULL (not a JSON object). */
static char *status_with_online(const char *json, int v)
{
	size_t n = strlen(json);
	while (n && isspace((unsigned char)json[n - 1]))
		n--;
	if (n < 2 || json[0] != '{' || json[n - 1] != '}')
		return NULL;
	size_t i = 1;
	while (i < n - 1 && isspace((unsigned char)json[i]))
		i++;
	const char *add = v ? "\"online\":true}" : "\"online\":false}";
	int empty = i == n - 1;
	char *s = malloc(n + strlen(add) + 2);
	if (!s)
		return NULL;
	memcpy(s, json, n - 1);
	sprintf(s + n - 1, "%s%s", empty ? "" : ",", add);
	return s;
}

static void publish_status(struct mqtt *m, int online)
{
	if (!m->status)
		return;
	char *s = status_with_online(m->status, online);
	if (!s) {
		LOG(m, WARN, "status event is not a JSON object; not published");
	} else if (publish(m, m->t_status, s, m->cfg.qos, 1) == MOSQ_ERR_SUCCESS) {
		m->status_dirty = 0;
	}
	free(s);
}

static int queue_push(struct mqtt *m, const char *json)
{
	char *s = strdup(json);
	if (!s)
		return -ENOMEM;
	int cap = m->cfg.queue_max;
	if (m->q_n == cap) {   /* full: the oldest goes */
		free(m->queue[m->q_head]);
		m->q_head = (m->q_head + 1) % cap;
		m->q_n--;
		if (m->dropped++ == m->dropped_logged)
			LOG(m, WARN, "queue full (queue_max = %d): dropping the oldest detections", cap);
	}
	m->queue[(m->q_head + m->q_n) % cap] = s;
	m->q_n++;
	return 0;
}

/* Send queued detections while connected and under the in-flight cap. */
static void flush_queue(struct mqtt *m)
{
	while (m->q_n && m->state == ST_CONNECTED && (m->cfg.qos == 0 || m->inflight < m->cfg.queue_max)) {
		char *s = m->queue[m->q_head];
		if (publish(m, m->t_detection, s, m->cfg.qos, m->cfg.retain_detections) != MOSQ_ERR_SUCCESS)
			break;
		free(s);
		m->q_head = (m->q_head + 1) % m->cfg.queue_max;
		m->q_n--;
	}
}

/* ---- libmosquitto callbacks (called inside loop_read/write/misc) --------- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt *m = obj;
	if (rc != 0) {
		const char *hint = (rc == 4 || rc == 5) ? " (check username and password)" : "";
		log_down(m, DRSN_PLUGIN_LOG_ERROR, "broker %s:%d refused the connection: %s%s", m->cfg.host,
			 m->cfg.port, mosquitto_connack_string(rc), hint);
		m->refused = 1;   /* said; on_disconnect need not */
		return;   /* libmosquitto drops the socket; sync_io retries */
	}
	m->state = ST_CONNECTED;
	m->connected_ms = (int64_t)uv_now(m->loop);   /* the backoff is reset in note_drop() */
	if (m->down)   /* the journal that has the failure has the recovery */
		m->host->log(m->host, m->host->version >= 3 ? DRSN_PLUGIN_LOG_NOTICE : DRSN_PLUGIN_LOG_INFO,
			     "connected to %s:%d again (after %u failed attempts) as %s; publishing to %s/",
			     m->cfg.host, m->cfg.port, m->down_failures, m->cfg.client_id, m->cfg.prefix);
	else
		LOG(m, INFO, "connected to %s:%d as %s; publishing to %s/", m->cfg.host, m->cfg.port,
		    m->cfg.client_id, m->cfg.prefix);
	m->down = 0;
	m->down_quiet = m->down_failures = 0;
	if (m->dropped > m->dropped_logged) {
		LOG(m, WARN, "%llu detections were dropped while the broker was unreachable",
		    m->dropped - m->dropped_logged);
		m->dropped_logged = m->dropped;
	}
	m->ever_connected = 1;
	publish(m, m->t_avail, "online", m->cfg.qos, 1);
	if (m->status_dirty)
		publish_status(m, 1);
	flush_queue(m);
}

/* A connection that was up ended. One that lasted resets the backoff; one
 * the broker closed right after connecting does not (a client id clash
 * would otherwise reconnect every reconnect_min_ms for ever, each time
 * throwing the other client off), and a few in a row are warned about. */
static void note_drop(struct mqtt *m)
{
	if ((int64_t)uv_now(m->loop) - m->connected_ms >= QUICK_DROP_MS) {
		m->quick_drops = 0;
		m->backoff_ms = m->cfg.reconnect_min_ms;
		return;
	}
	if (++m->quick_drops >= CLASH_DROPS && !m->clash_warned) {
		m->clash_warned = 1;
		LOG(m, WARN, "the broker %s:%d closed the connection %d times right after connecting (within %d s): "
		    "is another client using client id '%s'? (two drsnd instances need their own client_id: "
		    "drsnd --instance NAME and %%i)",
		    m->cfg.host, m->cfg.port, m->quick_drops, QUICK_DROP_MS / 1000, m->cfg.client_id);
	}
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt *m = obj;
	if (m->stopping)
		return;
	if (m->state == ST_CONNECTED) {
		log_down(m, DRSN_PLUGIN_LOG_WARN, "connection to %s:%d lost: %s", m->cfg.host, m->cfg.port,
			 mosq_why(rc));
		note_drop(m);
	} else if (!m->refused) {
		log_down(m, DRSN_PLUGIN_LOG_WARN, "cannot connect to %s:%d: %s", m->cfg.host, m->cfg.port,
			 mosq_why(rc));
	}
	m->refused = 0;
	m->state = ST_IDLE;
	schedule_retry(m);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct mqtt *m = obj;
	if (m->inflight > 0 && m->cfg.qos > 0)
		m->inflight--;
	if (m->state == ST_CONNECTED && !m->stopping)
		flush_queue(m);
}

static void on_mosq_log(struct mosquitto *mosq, void *obj, int level, const char *msg)
{
	struct mqtt *m = obj;
	if (m->connecting) {
		/* on the threadpool, inside connect_work(): logged by connect_done() */
		if ((level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) && !m->work_log[0])
			snprintf(m->work_log, sizeof m->work_log, "%s", msg);
		return;
	}
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		m->host->log(m->host, down_quiet_now(m) ? DRSN_PLUGIN_LOG_INFO : DRSN_PLUGIN_LOG_WARN,
			     "libmosquitto: %s", msg);
	else if (level & (MOSQ_LOG_INFO | MOSQ_LOG_NOTICE))
		LOG(m, DEBUG, "libmosquitto: %s", msg);
}

/* ---- the plugin ---------------------------------------------------------- */

static int mqtt_create(void **self, const drsn_plugin_host *host, const drsn_plugin_config *cfg,
		       char *err, size_t err_size)
{
	*self = NULL;
	struct mqtt *m = calloc(1, sizeof *m);
	if (!m)
		return errf(err, err_size, -ENOMEM, "out of memory");
	m->host = host;
	m->poll_sock = -1;
	m->state = ST_IDLE;
	const char *hostname = host->hostname && host->hostname[0] ? host->hostname : "localhost";
	/* host->instance is in version 2 of the host table */
	const char *instance = host->version >= 2 && host->instance && host->instance[0] ? host->instance : NULL;
	int rc = cfg_parse(&m->cfg, cfg, hostname, instance, err, err_size);
	if (rc < 0) {
		if (rc == -ENOMEM)
			errf(err, err_size, rc, "out of memory");
		goto fail;
	}
	struct mqtt_cfg *c = &m->cfg;
	m->backoff_ms = c->reconnect_min_ms;
	m->rand_state = (unsigned)getpid() ^ (unsigned)time(NULL);
	m->t_detection = cat3(c->prefix, "/", "detection");
	m->t_status = cat3(c->prefix, "/", "status");
	m->t_avail = cat3(c->prefix, "/", "availability");
	m->queue = calloc((size_t)c->queue_max, sizeof *m->queue);
	if (!m->t_detection || !m->t_status || !m->t_avail || !m->queue) {
		rc = errf(err, err_size, -ENOMEM, "out of memory");
		goto fail;
	}

	mosquitto_lib_init();
	m->mosq = mosquitto_new(c->client_id, true, m);
	if (!m->mosq) {
		rc = errf(err, err_size, -errno ? -errno : -ENOMEM, "mosquitto_new: %s", strerror(errno));
		mosquitto_lib_cleanup();
		goto fail;
	}
	mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	mosquitto_publish_callback_set(m->mosq, on_publish);
	mosquitto_log_callback_set(m->mosq, on_mosq_log);
	int mrc = mosquitto_will_set(m->mosq, m->t_avail, 7, "offline", c->qos, true);
	if (mrc != MOSQ_ERR_SUCCESS) {
		rc = errf(err, err_size, -EINVAL, "last will on %s: %s", m->t_avail, mosquitto_strerror(mrc));
		goto fail_mosq;
	}
	if (c->username && (mrc = mosquitto_username_pw_set(m->mosq, c->username, c->password))) {
		rc = errf(err, err_size, -EINVAL, "%s: [plugin %s] username: %s", where_of(cfg, "username"),
			  cfg->name, mosquitto_strerror(mrc));
		goto fail_mosq;
	}
	if (c->tls) {
		if (!c->cafile && !c->capath)
			mrc = mosquitto_int_option(m->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		else
			mrc = mosquitto_tls_set(m->mosq, c->cafile, c->capath, c->certfile, c->keyfile, NULL);
		if (mrc == MOSQ_ERR_SUCCESS && c->tls_insecure)
			mrc = mosquitto_tls_insecure_set(m->mosq, true);
		if (mrc != MOSQ_ERR_SUCCESS) {
			rc = errf(err, err_size, -EINVAL, "%s: [plugin %s] tls: %s (cafile %s, capath %s, certfile %s, keyfile %s)",
				  where_of(cfg, "tls"), cfg->name, mosquitto_strerror(mrc),
				  c->cafile ? c->cafile : "-", c->capath ? c->capath : "-",
				  c->certfile ? c->certfile : "-", c->keyfile ? c->keyfile : "-");
			goto fail_mosq;
		}
	}
	*self = m;
	return 0;

fail_mosq:
	mosquitto_destroy(m->mosq);
	mosquitto_lib_cleanup();
	m->mosq = NULL;
fail:
	free_state(m);
	return rc;
}

static int mqtt_start(void *self, uv_loop_t *loop, char *err, size_t err_size)
{
	struct mqtt *m = self;
	m->loop = loop;
	uv_timer_init(loop, &m->misc_timer);
	uv_timer_init(loop, &m->retry_timer);
	m->misc_timer.data = m->retry_timer.data = m;
	m->handles_open = 2;
	m->started = 1;
	unsigned char a[sizeof(struct in6_addr)];
	m->numeric_host = uv_inet_pton(AF_INET, m->cfg.host, a) == 0 ||
			  uv_inet_pton(AF_INET6, m->cfg.host, a) == 0;
	uv_timer_start(&m->misc_timer, on_misc, MISC_INTERVAL_MS, MISC_INTERVAL_MS);
	LOG(m, INFO, "broker %s:%d%s, client id %s, topics %s/{detection,status,availability}, QoS %d",
	    m->cfg.host, m->cfg.port, m->cfg.tls ? " (TLS)" : "", m->cfg.client_id, m->cfg.prefix, m->cfg.qos);
	try_connect(m);
	return 0;
}

static void mqtt_on_event(void *self, const drsn_plugin_event *ev)
{
	struct mqtt *m = self;
	if (!ev->json || m->stopping)
		return;
	if (ev->type == DRSN_PLUGIN_EVENT_DETECTION) {
		if (m->state == ST_CONNECTED && !m->q_n && (m->cfg.qos == 0 || m->inflight < m->cfg.queue_max) &&
		    publish(m, m->t_detection, ev->json, m->cfg.qos, m->cfg.retain_detections) == MOSQ_ERR_SUCCESS) {
			sync_io(m);
			return;
		}
		if (queue_push(m, ev->json) < 0)
			LOG(m, WARN, "out of memory: detection not queued");
		if (m->state == ST_CONNECTED)
			flush_queue(m);
	} else if (ev->type == DRSN_PLUGIN_EVENT_STATUS) {
		char *s = strdup(ev->json);
		if (!s)
			return;
		free(m->status);
		m->status = s;
		m->status_dirty = 1;
		if (m->state == ST_CONNECTED)
			publish_status(m, 1);
	}
	if (m->started)
		sync_io(m);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run libmosquitto's socket by hand until done(m) or the deadline. */
static void drain(struct mqtt *m, int64_t deadline, int (*done)(struct mqtt *))
{
	while (!done(m) && mosquitto_socket(m->mosq) >= 0) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = {.fd = mosquitto_socket(m->mosq),
				     .events = POLLIN | (mosquitto_want_write(m->mosq) ? POLLOUT : 0)};
		if (poll(&pfd, 1, (int)(left < 50 ? left : 50)) < 0 && errno != EINTR)
			break;
		if (pfd.revents & (POLLIN | POLLERR | POLLHUP))
			mosquitto_loop_read(m->mosq, 1);
		if ((pfd.revents & POLLOUT) && mosquitto_socket(m->mosq) >= 0)
			mosquitto_loop_write(m->mosq, 1);
	}
}

/* Everything sent and acknowledged (queue included). */
static int acked(struct mqtt *m)
{
	flush_queue(m);
	return m->q_n == 0 && m->inflight == 0 && !mosquitto_want_write(m->mosq);
}

static int closed(struct mqtt *m)
{
	return mosquitto_socket(m->mosq) < 0;
}

static void mqtt_destroy(void *self)
{
	struct mqtt *m = self;
	m->stopping = 1;   /* no retries, no more socket watching */
	if (m->started)
		uv_timer_stop(&m->retry_timer);
	if (m->connecting) {
		/* a connect with its lookup on the threadpool: cancelled if it has
		 * not started, else waited for (connect_done() ignores it) */
		if (uv_cancel((uv_req_t *)&m->connect_req) < 0)
			LOG(m, INFO, "stopping while the host name '%s' is being resolved: waiting for the lookup",
			    m->cfg.host);
	}
	if (m->state == ST_CONNECTED) {
		int64_t deadline = now_ms() + STOP_DRAIN_MS;
		publish_status(m, 0);
		publish(m, m->t_avail, "offline", m->cfg.qos, 1);
		drain(m, deadline, acked);
		if (m->q_n || m->inflight)
			LOG(m, WARN, "stopping after %d ms with %d detections unsent and %d messages unacknowledged",
			    STOP_DRAIN_MS, m->q_n, m->inflight);
		mosquitto_disconnect(m->mosq);
		drain(m, deadline + 200, closed);
	} else if (m->q_n) {
		LOG(m, WARN, "stopping while not connected to %s:%d: %d queued detections are lost", m->cfg.host,
		    m->cfg.port, m->q_n);
	}
	if (m->dropped)
		LOG(m, WARN, "%llu detections were dropped in all (queue full)", m->dropped);
	m->state = ST_IDLE;
	unwatch(m);   /* libmosquitto goes in free_if_done(), after a lookup in progress */
	if (m->started) {
		uv_close((uv_handle_t *)&m->misc_timer, on_handle_closed);
		uv_close((uv_handle_t *)&m->retry_timer, on_handle_closed);
	}
	free_if_done(m);
}

static const drsn_plugin mqtt_plugin = {
	.version = DRSN_PLUGIN_ABI_VERSION,
	.name = "mqtt",
	.description = "publishes detections and status to an MQTT broker (libmosquitto)",
	.wants = DRSN_PLUGIN_CHECK_CONFIG,   /* create() reads keys and files, connects in start() */
	.create = mqtt_create,
	.destroy = mqtt_destroy,
	.start = mqtt_start,
	.on_event = mqtt_on_event,
};

DRSN_PLUGIN_DEFINE(mqtt_plugin)
