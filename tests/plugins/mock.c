/*
 * Mock drsnd plugins for the loader test (src/daemon/plugins.test.c). One
 * source, built by tests/plugins/meson.build into several modules, each with
 * one -DMOCK_<KIND> that breaks it in one way:
 *
 *   mock_good        a working plugin: keys 'greeting' and 'pipeline', a
 *                    libuv timer from start() closed in destroy(), counters
 *                    the test reads through the exported mock_counts
 *   mock_abi2        built for ABI 2
 *   mock_structver   right ABI symbol, struct drsn_plugin version 7
 *   mock_noentry     no drsn_plugin_entry symbol
 *   mock_nocreate    create() missing
 *   mock_failcreate  create() fails with its own message
 *   mock_checkfail   mock_failcreate whose wants has DRSN_PLUGIN_CHECK_CONFIG
 *                    (drsnd --check-config creates it)
 *   mock_failstart   start() fails after opening a timer
 *   mock_notplugin   a shared object without the ABI symbol
 *   mock_resets      mock_good that asks for DRSN_PLUGIN_EVENT_RESET
 *                    (DRSN_PLUGIN_WANT_RESETS), which mock_good never gets
 *   mock_slow        mock_good whose on_audio takes 3x the block's duration
 *                    (sleeps) while the file named by key 'slow_while'
 *                    exists: a box too slow for real time, on demand
 *                    (tests/daemon/test_live.py)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "drsn/plugin.h"
#include "tests/plugins/mock.h"

#define EXPORT __attribute__((visibility("default")))

#if defined(MOCK_SLOW)
#define MOCK_SLOW_KEY ", slow_while"
#else
#define MOCK_SLOW_KEY ""
#endif

/* What the test reads (dlsym "mock_counts"). */
EXPORT struct mock_counts mock_counts;

struct mock {
	const drsn_plugin_host *host;
	char slow_while[512];
	uv_timer_t timer;
	int timer_open;
};

static void on_closed(uv_handle_t *h)
{
	struct mock *m = h->data;
	mock_counts.closed++;
	free(m);
}

static void mock_destroy(void *self)
{
	struct mock *m = self;
	mock_counts.destroys++;
	if (m->timer_open)
		uv_close((uv_handle_t *)&m->timer, on_closed);   /* frees m */
	else
		free(m);
}

#if defined(MOCK_FAILCREATE) || defined(MOCK_CHECKFAIL)
static int mock_create(void **self, const drsn_plugin_host *host, const drsn_plugin_config *cfg,
		       char *err, size_t err_size)
{
	(void)self;
	mock_counts.creates++;
	snprintf(mock_counts.instance, sizeof mock_counts.instance, "%s",
		 host->version >= 2 && host->instance ? host->instance : "(none)");
	snprintf(err, err_size, "the mock refuses to start (%d keys given)", cfg->n);
	return -EINVAL;
}
#else
__attribute__((unused))   /* mock_nocreate leaves it out */
static int mock_create(void **self, const drsn_plugin_host *host, const drsn_plugin_config *cfg,
		       char *err, size_t err_size)
{
	mock_counts.creates++;
	mock_counts.host_version = host->version;
	snprintf(mock_counts.instance, sizeof mock_counts.instance, "%s",
		 host->version >= 2 && host->instance ? host->instance : "(none)");
	int want_pipeline = 0;
	char slow_while[512] = "";
	for (int i = 0; i < cfg->n; i++) {
		const drsn_plugin_kv *kv = &cfg->kv[i];
		if (!strcmp(kv->key, "greeting")) {
			snprintf(mock_counts.greeting, sizeof mock_counts.greeting, "%s", kv->value);
		} else if (!strcmp(kv->key, "pipeline")) {
			want_pipeline = !strcmp(kv->value, "yes");
#if defined(MOCK_SLOW)
		} else if (!strcmp(kv->key, "slow_while")) {
			snprintf(slow_while, sizeof slow_while, "%s", kv->value);
#endif
		} else {
			snprintf(err, err_size, "%s: unknown key '%s' (known: greeting, pipeline%s)", kv->where,
				 kv->key, MOCK_SLOW_KEY);
			return -EINVAL;
		}
	}
	if (want_pipeline) {
		drsn_pipeline *p;
		drsn_error e;
		mock_counts.pipeline_rc = host->pipeline_create(host, &p, &e);
		if (mock_counts.pipeline_rc < 0) {
			snprintf(mock_counts.pipeline_err, sizeof mock_counts.pipeline_err, "%s", e.msg);
		} else {
			int rate = host->model_sample_rate(host->model(host));
			float *x = calloc((size_t)rate, sizeof *x);
			if (x)
				host->pipeline_push(p, x, (size_t)rate, NULL, NULL);
			free(x);
			mock_counts.pipeline_time = host->pipeline_time(p);
			host->pipeline_destroy(p);
		}
	}
	struct mock *m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	m->host = host;
	memcpy(m->slow_while, slow_while, sizeof slow_while);
	host->log(host, DRSN_PLUGIN_LOG_INFO, "created with %d keys", cfg->n);
	*self = m;
	return 0;
}
#endif

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static int mock_start(void *self, struct uv_loop_s *loop, char *err, size_t err_size)
{
	struct mock *m = self;
	mock_counts.starts++;
	uv_timer_init(loop, &m->timer);
	m->timer.data = m;
	m->timer_open = 1;
	uv_timer_start(&m->timer, on_tick, 60000, 60000);
#if defined(MOCK_FAILSTART)
	snprintf(err, err_size, "port 10400 is taken");
	return -EADDRINUSE;
#else
	(void)err;
	(void)err_size;
	return 0;
#endif
}

static void mock_on_event(void *self, const drsn_plugin_event *ev)
{
	(void)self;
	mock_counts.events++;
	if (ev->type == DRSN_PLUGIN_EVENT_DETECTION && ev->detection)
		mock_counts.detections++;
	if (ev->type == DRSN_PLUGIN_EVENT_STATUS)
		mock_counts.statuses++;
	if (ev->type == DRSN_PLUGIN_EVENT_RESET)
		mock_counts.resets++;
	snprintf(mock_counts.last_json, sizeof mock_counts.last_json, "%s", ev->json);
}

static void mock_on_audio(void *self, const drsn_plugin_audio *a)
{
	struct mock *m = self;
	if (m->slow_while[0] && a->sample_rate > 0 && access(m->slow_while, F_OK) == 0) {
		long ns = (long)((double)a->n / a->sample_rate * 3e9);
		struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
		nanosleep(&ts, NULL);
	}
	if (a->denoised)
		mock_counts.denoised_blocks++;
	else
		mock_counts.audio_blocks++;
	mock_counts.audio_samples += (long)a->n;
}

static void mock_on_model(void *self, const drsn_model *m)
{
	(void)self;
	mock_counts.models++;
	mock_counts.last_model = m;
}

#if defined(MOCK_STRUCTVER)
#define MOCK_VERSION 7u
#else
#define MOCK_VERSION DRSN_PLUGIN_ABI_VERSION
#endif

static const drsn_plugin mock_plugin = {
	.version = MOCK_VERSION,
	.name = "mock",
	.description = "loader test mock",
#if defined(MOCK_CHECKFAIL)
	.wants = DRSN_PLUGIN_WANT_RAW_AUDIO | DRSN_PLUGIN_CHECK_CONFIG,
#elif defined(MOCK_RESETS)
	.wants = DRSN_PLUGIN_WANT_RAW_AUDIO | DRSN_PLUGIN_WANT_RESETS,
#else
	.wants = DRSN_PLUGIN_WANT_RAW_AUDIO,
#endif
#if defined(MOCK_NOCREATE)
	.create = NULL,
#else
	.create = mock_create,
#endif
	.destroy = mock_destroy,
	.start = mock_start,
	.on_event = mock_on_event,
	.on_audio = mock_on_audio,
	.on_model = mock_on_model,
};

#if defined(MOCK_ABI2)
EXPORT uint32_t drsn_plugin_abi_version(void);
EXPORT const drsn_plugin *drsn_plugin_entry(void);
uint32_t drsn_plugin_abi_version(void)
{
	return 2;
}
const drsn_plugin *drsn_plugin_entry(void)
{
	mock_counts.entry_calls++;
	return &mock_plugin;
}
#elif defined(MOCK_NOENTRY)
EXPORT uint32_t drsn_plugin_abi_version(void);
uint32_t drsn_plugin_abi_version(void) { return DRSN_PLUGIN_ABI_VERSION; }
EXPORT const drsn_plugin *mock_unused(void);
const drsn_plugin *mock_unused(void) { return &mock_plugin; }
#elif defined(MOCK_NOTPLUGIN)
EXPORT const drsn_plugin *mock_unused(void);
const drsn_plugin *mock_unused(void) { return &mock_plugin; }
#else
DRSN_PLUGIN_DEFINE(mock_plugin)
#endif
