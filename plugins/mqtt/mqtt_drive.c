/*
 * mqtt-drive: load a drsnd plugin module the way drsnd does (ABI symbol,
 * then the entry) with a host table of its own, and feed it detection events
 * at a fixed rate. For the MQTT plugin's tests and its throughput benchmark
 * (plugins/mqtt/mqtt_bench.py), where drsnd's own detections (a few per
 * second of audio) are far too slow to load a broker.
 *
 *   mqtt-drive PLUGIN.so [options] [key=value ...]
 *     --check          create() only: print its message, exit 1 on failure
 *     --count N        detections to send (default 1000)
 *     --rate R         per second (default 1000; 0 = all in one loop turn)
 *     --wait-ms W      before the first (default 500: time to connect)
 *     --linger-ms L    after the last, before destroy() (default 500)
 *     --status-ms S    also a status event every S ms (default 0: none)
 *     --instances K    K instances of the plugin (a fleet of K boxes, one
 *                      connection each); detections go round-robin, "%n" in
 *                      a value is the instance number (client_id=box%n)
 *     --instance-name NAME  host->instance (drsnd --instance NAME; the
 *                      plugin's "%i"); without it the host table is
 *                      version 1, as an older drsnd's
 *   key=value pairs form the [plugin NAME] section (NAME = the file's base
 *   name), "where" = "argv[i]".
 *
 * Each detection is {"type":"detection","version":1,"name":"yes",
 * "score":0.9,"start":...,"end":...,"stream":"drive","seq":i}. On stdout:
 * "sent N detections in T s (R/s)" when done.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "drsn/plugin.h"
#include "../drive.h"

#define MAX_KV 64   /* key=value arguments */

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

__attribute__((visibility("default")))
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	const char *spec = getenv("MQTT_DRIVE_DNS_BLOCK");
	const char *colon = spec ? strchr(spec, ':') : NULL;
	if (colon && node && strlen(node) == (size_t)(colon - spec) && !strncmp(node, spec, strlen(node))) {
		while (access(colon + 1, F_OK) != 0)
			usleep(10000);
		return EAI_NONAME;
	}
	gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	return real ? real(node, service, hints, res) : EAI_SYSTEM;
}

struct drive {
	const drsn_plugin *pl;
	void **self;              /* n_inst instances */
	int n_inst;
	uv_loop_t *loop;
	uv_timer_t tick, stat, done;
	long count, sent;
	double rate;
	uint64_t t0;
	int status_ms;
	int linger_ms;
};

static void send_one(struct drive *d)
{
	char json[256];
	double t = d->sent * 0.25;
	snprintf(json, sizeof json,
		 "{\"type\":\"detection\",\"version\":1,\"name\":\"yes\",\"score\":0.9,\"start\":%.3f,"
		 "\"end\":%.3f,\"stream\":\"drive\",\"seq\":%ld}",
		 t, t + 0.8, d->sent);
	drsn_plugin_event ev = {.type = DRSN_PLUGIN_EVENT_DETECTION, .json = json, .stream = "drive",
				.wall_time = 0};
	d->pl->on_event(d->self[d->sent % d->n_inst], &ev);
	d->sent++;
}

static void on_done(uv_timer_t *t)
{
	struct drive *d = t->data;
	for (int i = 0; i < d->n_inst; i++)
		d->pl->destroy(d->self[i]);
	uv_close((uv_handle_t *)&d->tick, NULL);
	uv_close((uv_handle_t *)&d->stat, NULL);
	uv_close((uv_handle_t *)&d->done, NULL);
}

static void on_tick(uv_timer_t *t)
{
	struct drive *d = t->data;
	if (!d->t0)
		d->t0 = uv_hrtime();
	long due = d->count;
	if (d->rate > 0) {
		double el = (double)(uv_hrtime() - d->t0) * 1e-9;
		due = (long)(el * d->rate) + 1;
		if (due > d->count)
			due = d->count;
	}
	while (d->sent < due)
		send_one(d);
	if (d->sent == d->count) {
		double el = (double)(uv_hrtime() - d->t0) * 1e-9;
		printf("sent %ld detections in %.3f s (%.0f/s)\n", d->sent, el, el > 0 ? d->sent / el : 0.0);
		fflush(stdout);
		uv_timer_stop(&d->tick);
		uv_timer_stop(&d->stat);
		uv_timer_start(&d->done, on_done, (uint64_t)d->linger_ms, 0);
	}
}

static void on_stat(uv_timer_t *t)
{
	struct drive *d = t->data;
	char json[160];
	snprintf(json, sizeof json, "{\"type\":\"status\",\"version\":1,\"uptime\":%.3f,\"detections\":%ld}",
		 (double)uv_now(d->loop) / 1000.0, d->sent);
	drsn_plugin_event ev = {.type = DRSN_PLUGIN_EVENT_STATUS, .json = json, .stream = "drive"};
	for (int i = 0; i < d->n_inst; i++)
		d->pl->on_event(d->self[i], &ev);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mqtt-drive PLUGIN.so [--check] [--count N] [--rate R] [--wait-ms W] "
				"[--linger-ms L] [--status-ms S] [--instances K] [--instance-name NAME] [key=value ...]\n");
		return 2;
	}
	struct drive d = {.count = 1000, .rate = 1000, .linger_ms = 500, .n_inst = 1};
	int check = 0, wait_ms = 500;
	const char *instance = NULL;
	static drsn_plugin_kv kv[MAX_KV];
	static char where[MAX_KV][32];
	int nkv = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--check")) {
			check = 1;
		} else if (!strcmp(a, "--count") && i + 1 < argc) {
			d.count = atol(argv[++i]);
		} else if (!strcmp(a, "--rate") && i + 1 < argc) {
			d.rate = atof(argv[++i]);
		} else if (!strcmp(a, "--wait-ms") && i + 1 < argc) {
			wait_ms = atoi(argv[++i]);
		} else if (!strcmp(a, "--linger-ms") && i + 1 < argc) {
			d.linger_ms = atoi(argv[++i]);
		} else if (!strcmp(a, "--instances") && i + 1 < argc) {
			d.n_inst = atoi(argv[++i]);
		} else if (!strcmp(a, "--instance-name") && i + 1 < argc) {
			instance = argv[++i];
		} else if (!strcmp(a, "--status-ms") && i + 1 < argc) {
			d.status_ms = atoi(argv[++i]);
		} else if (strchr(a, '=') && a[0] != '-' && nkv < MAX_KV) {
			char *eq = strchr(argv[i], '=');
			*eq = 0;
			snprintf(where[nkv], sizeof where[nkv], "argv[%d]", i);
			kv[nkv] = (drsn_plugin_kv){.key = argv[i], .value = eq + 1, .where = where[nkv]};
			nkv++;
		} else {
			fprintf(stderr, "mqtt-drive: bad argument '%s'\n", a);
			return 2;
		}
	}

	if (d.n_inst < 1 || d.count < 0) {
		fprintf(stderr, "mqtt-drive: --instances must be >= 1 and --count >= 0\n");
		return 2;
	}

	/* the loader's steps: ABI version first, then the entry */
	void *so;
	d.pl = drive_load("mqtt-drive", argv[1], &so);
	if (!d.pl)
		return 1;
	if (!d.pl->on_event) {
		fprintf(stderr, "mqtt-drive: %s: bad entry\n", argv[1]);
		return 1;
	}

	char hostname[256] = "localhost";
	gethostname(hostname, sizeof hostname - 1);
	d.loop = uv_default_loop();
	drsn_plugin_host host = {
		.version = instance ? DRSN_PLUGIN_HOST_VERSION : 1,
		.loop = d.loop,
		.daemon_version = "mqtt-drive",
		.hostname = hostname,
		.log = drive_log,
		.model = drive_no_model,
		.host_data = (void *)d.pl->name,
		.instance = instance,
	};
	/* per instance: its own copy of the keys, "%n" -> the instance number */
	drsn_plugin_kv *ikv = calloc((size_t)d.n_inst * (size_t)(nkv + 1), sizeof *ikv);
	d.self = calloc((size_t)d.n_inst, sizeof *d.self);
	char *vals = malloc((size_t)d.n_inst * (size_t)(nkv + 1) * 128);
	if (!ikv || !d.self || !vals)
		return 1;
	char err[512] = "";
	int rc = 0, made = 0;
	for (int k = 0; k < d.n_inst && rc >= 0; k++) {
		for (int j = 0; j < nkv; j++) {
			char *v = vals + ((size_t)k * (size_t)(nkv + 1) + (size_t)j) * 128;
			const char *pi = strstr(kv[j].value, "%n");
			if (pi)
				snprintf(v, 128, "%.*s%d%s", (int)(pi - kv[j].value), kv[j].value, k, pi + 2);
			else
				snprintf(v, 128, "%s", kv[j].value);
			ikv[(size_t)k * (size_t)(nkv + 1) + (size_t)j] = (drsn_plugin_kv){kv[j].key, v, kv[j].where};
		}
		drsn_plugin_config cfg = {.name = d.pl->name, .n = nkv, .kv = ikv + (size_t)k * (size_t)(nkv + 1)};
		rc = d.pl->create(&d.self[k], &host, &cfg, err, sizeof err);
		if (rc < 0)
			printf("create failed (%d): %s\n", rc, err);
		else if (!check && d.pl->start && (rc = d.pl->start(d.self[k], d.loop, err, sizeof err)) < 0)
			printf("start failed (%d): %s\n", rc, err), made++;
		else
			made++;
	}
	if (rc >= 0 && check)
		printf("create ok\n");
	if (rc < 0 || check) {
		for (int k = 0; k < made; k++)
			d.pl->destroy(d.self[k]);
		uv_run(d.loop, UV_RUN_DEFAULT);
		free(ikv);
		free(vals);
		free(d.self);
		return rc < 0 ? 1 : 0;
	}
	uv_timer_init(d.loop, &d.tick);
	uv_timer_init(d.loop, &d.stat);
	uv_timer_init(d.loop, &d.done);
	d.tick.data = d.stat.data = d.done.data = &d;
	uv_timer_start(&d.tick, on_tick, (uint64_t)wait_ms, 1);
	if (d.status_ms > 0)
		uv_timer_start(&d.stat, on_stat, (uint64_t)d.status_ms, (uint64_t)d.status_ms);
	uv_run(d.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(d.loop);
	dlclose(so);
	free(ikv);
	free(vals);
	free(d.self);
	if (rc) {
		fprintf(stderr, "mqtt-drive: handles left open on the loop after destroy()\n");
		return 1;
	}
	return 0;
}
