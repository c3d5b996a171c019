#include "daemon/config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio/mix.h"
#include "common/closest.h"
#include "common/cnum.h"
#include "common/label.h"
#include "common/unixsock.h"
#include "daemon/log.h"
#include "drsn/audio.h"
#include "drsn/model.h"
#include "drsn/pipeline.h"
#include "drsn_config.h"

#ifndef DRSND_PLUGIN_DIR
#define DRSND_PLUGIN_DIR "/usr/local/lib/drsnd/plugins"
#endif

enum kind { K_INT, K_FLOAT, K_BOOL, K_STR, K_MODE, K_LOGLEVEL, K_ONEOF, K_RAWFMT, K_CLASSIFY };

struct key {
	const char *section, *name;
	enum kind kind;
	size_t off;
	size_t size;           /* K_STR buffer size */
	double min, max;       /* K_INT / K_FLOAT */
	/* Only applied when the daemon starts: a reload keeps the running
	 * value and says so (daemon.c hands these to the source and the
	 * servers once). */
	int restart;
	/* K_STR: NULL if the value is fine, else why not ("must be ...") */
	const char *(*check)(const char *value);
};

#define O(f) offsetof(struct drsn__config, f)
#define S(f) sizeof(((struct drsn__config *)0)->f)
#define RESTART 1

static const char *check_socket_path(const char *v);
static const char *check_pcm_socket(const char *v);
static const char *check_source(const char *v);
static const char *check_channel(const char *v);

static const struct key keys[] = {
	{"daemon", "log_level", K_LOGLEVEL, O(log_level), 0, 0, 0, 0, NULL},
	{"daemon", "status_interval_ms", K_INT, O(status_interval_ms), 0, 0, 3600000,
	 RESTART, NULL},
	{"socket", "path", K_STR, O(socket_path), S(socket_path), 0, 0, RESTART, check_socket_path},
	{"socket", "mode", K_MODE, O(socket_mode), 0, 0, 0777, RESTART, NULL},
	{"socket", "group", K_STR, O(socket_group), S(socket_group), 0, 0, RESTART, NULL},
	{"socket", "max_clients", K_INT, O(max_clients), 0, 1, 4096, RESTART, NULL},
	{"socket", "max_line", K_INT, O(max_line), 0, 64, 1 << 20, RESTART, NULL},
	{"socket", "client_queue", K_INT, O(client_queue), 0, 4096, 64 << 20, RESTART, NULL},
	{"socket", "flood_errors", K_INT, O(flood_errors), 0, 1, 1000000, RESTART, NULL},
	{"model", "path", K_STR, O(model_path), S(model_path), 0, 0, 0, NULL},
	{"audio", "source", K_STR, O(source), S(source), 0, 0, RESTART, check_source},
	{"audio", "realtime", K_BOOL, O(realtime), 0, 0, 0, RESTART, NULL},
	{"audio", "on_eof", K_ONEOF, O(on_eof_exit), 0, 0, 0, 0, NULL},
	{"audio", "wait_for_client", K_BOOL, O(wait_for_client), 0, 0, 0, RESTART, NULL},
	{"audio", "raw_format", K_RAWFMT, O(raw_format), S(raw_format), 0, 0, RESTART, NULL},
	{"audio", "raw_rate", K_INT, O(raw_rate), 0, 1000, 768000, RESTART, NULL},
	{"audio", "raw_channels", K_INT, O(raw_channels), 0, 1, 64, RESTART, NULL},
	{"audio", "channel", K_STR, O(channel), S(channel), 0, 0, RESTART, check_channel},
	{"audio", "device_rate", K_INT, O(device_rate), 0, 0, 768000, RESTART, NULL},
	{"audio", "latency_ms", K_INT, O(latency_ms), 0, 0, 2000, RESTART, NULL},
	{"audio", "ring_ms", K_INT, O(ring_ms), 0, 10, 60000, RESTART, NULL},
	{"audio", "retry_min_ms", K_INT, O(retry_min_ms), 0, 10, 3600000, RESTART, NULL},
	{"audio", "retry_max_ms", K_INT, O(retry_max_ms), 0, 10, 3600000, RESTART, NULL},
	{"audio", "stall_ms", K_INT, O(stall_ms), 0, 100, 600000, RESTART, NULL},
	{"detect", "inference_hop_ms", K_INT, O(inference_hop_ms), 0, DRSN_PIPELINE_HOP_MS_MIN,
	 DRSN_PIPELINE_HOP_MS_MAX, 0, NULL},
	{"detect", "smoothing_ms", K_INT, O(smoothing_ms), 0, 0, DRSN_PIPELINE_SMOOTHING_MS_MAX, 0, NULL},
	{"detect", "threshold", K_FLOAT, O(threshold), 0, 0, 1, 0, NULL},
	{"detect", "refractory_ms", K_INT, O(refractory_ms), 0, 0, DRSN_PIPELINE_REFRACTORY_MS_MAX, 0, NULL},
	{"detect", "vad", K_BOOL, O(vad), 0, 0, 0, 0, NULL},
	{"detect", "vad_threshold_db", K_FLOAT, O(vad_threshold_db), 0, DRSN_PIPELINE_VAD_DB_MIN, 0, 0, NULL},
	{"detect", "vad_hangover_ms", K_INT, O(vad_hangover_ms), 0, 0, DRSN_PIPELINE_HANGOVER_MS_MAX, 0, NULL},
	{"detect", "level_interval_ms", K_INT, O(level_interval_ms), 0, 10, 60000, 0, NULL},
	{"denoise", "classify_on", K_CLASSIFY, O(classify_on_denoised), 0, 0, 0, 0, NULL},
	{"denoise", "strength", K_FLOAT, O(denoise_strength_db), 0, 0, 100, 0, NULL},
	{"denoise", "pcm_socket", K_STR, O(pcm_socket), S(pcm_socket), 0, 0,
	 RESTART, check_pcm_socket},
	{"denoise", "pcm_queue_ms", K_INT, O(pcm_queue_ms), 0, 100, 600000, RESTART, NULL},
};
#define N_KEYS (sizeof keys / sizeof keys[0])
_Static_assert(N_KEYS == DRSN_CFG_N_KEYS, "DRSN_CFG_N_KEYS (config.h) must count keys[]");

/* Largest fd:N (source.c's limit too). */
#define MAX_FD (1 << 20)

static const char *const raw_formats[] = {
	"u8", "s8", "s16le", "s16be", "s24le", "s24be", "s32le", "s32be",
	"f32le", "f32be", "f64le", "f64be",
};

void drsn__cfg_error(struct drsn__cfg_errors *errs, const char *fmt, ...)
{
	if (!errs || errs->n >= DRSN_CFG_MAX_ERRORS)
		return;
	char *m = errs->msg[errs->n++];
	const size_t size = sizeof errs->msg[0];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(m, size, fmt, ap);
	va_end(ap);
	if (len >= (int)size) {
		/* cut at a UTF-8 boundary with room for "…" (3 bytes) */
		size_t at = size - 4;
		while (at > 0 && ((unsigned char)m[at] & 0xc0) == 0x80)
			at--;
		memcpy(m + at, "\xe2\x80\xa6", 4);
	}
}

void drsn__config_defaults(struct drsn__config *c)
{
	memset(c, 0, sizeof *c);
	c->log_level = DRSN_LOG_WARNING;
	c->status_interval_ms = 10000;
	snprintf(c->socket_path, sizeof c->socket_path, "%s", DRSN_CFG_DEFAULT_SOCKET);
	c->socket_mode = 0660;
	c->max_clients = 64;
	c->max_line = 4096;
	c->client_queue = 256 * 1024;
	c->flood_errors = 20;
	snprintf(c->model_path, sizeof c->model_path, "%s", drsn_default_model_path());
	snprintf(c->source, sizeof c->source, "pa:");
	c->realtime = 1;
	c->on_eof_exit = 0;
	c->wait_for_client = 0;
	snprintf(c->raw_format, sizeof c->raw_format, "s16le");
	c->raw_rate = 16000;
	c->raw_channels = 1;
	snprintf(c->channel, sizeof c->channel, "mix");
	c->device_rate = 0;
	c->latency_ms = 0;
	c->ring_ms = 2000;
	c->retry_min_ms = 500;
	c->retry_max_ms = 30000;
	c->stall_ms = 3000;
	c->inference_hop_ms = 100;
	c->smoothing_ms = 300;
	c->threshold = 0.8f;
	c->refractory_ms = 1000;
	c->vad = 0;
	c->vad_threshold_db = -50.0f;
	c->vad_hangover_ms = 500;
	c->level_interval_ms = 100;
	c->classify_on_denoised = 0;
	c->denoise_strength_db = 20.0f;
	c->pcm_socket[0] = '\0';
	c->pcm_queue_ms = 2000;
}

static int parse_long(const char *v, long *out)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end)
		return -1;
	*out = x;
	return 0;
}

static const char *check_socket_path(const char *v)
{
	return v[0] == '/' ? NULL : "must be an absolute path";
}

static const char *check_pcm_socket(const char *v)
{
	return !v[0] || v[0] == '/' ? NULL : "must be an absolute path (or empty)";
}

static const char *check_source(const char *v)
{
	if (!strncmp(v, "pa:", 3) || !strcmp(v, "stdin"))
		return NULL;
	if (!strncmp(v, "file:", 5))
		return v[5] ? NULL : "needs a path: file:PATH";
	if (!strncmp(v, "fd:", 3)) {
		long fd;
		if (parse_long(v + 3, &fd) || fd < 0 || fd > MAX_FD)
			return "needs a file descriptor number: fd:N";
		return NULL;
	}
	return "is not pa:[DEVICE], file:PATH, stdin or fd:N";
}

static const char *check_channel(const char *v)
{
	uint64_t mask;
	if (drsn_audio_parse_channels(v, &mask, NULL, NULL) < 0)
		return "is not mix, a channel number (1 = the first, up to 64), a list (1,2) or a "
		       "range (1-4)";
	return NULL;
}

uint64_t drsn__config_channels(const struct drsn__config *c)
{
	uint64_t mask = 0;
	drsn_audio_parse_channels(c->channel, &mask, NULL, NULL);
	return mask;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int set_threshold(struct drsn__config *c, const char *label, const char *value,
			 const char *where, struct drsn__cfg_errors *errs)
{
	char *end;
	float v = drsn__strtof_c(value, &end);
	if (end == value || *end || !isfinite(v) || v < 0 || v > 1) {
		drsn__cfg_error(errs, "%s: [thresholds] %s: '%s' is not a number in [0, 1]",
				where, label, value);
		return -EINVAL;
	}
	if (!label[0]) {
		drsn__cfg_error(errs, "%s: [thresholds] \"\": the label is empty", where);
		return -EINVAL;
	}
	for (const char *q = label; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f) {
			/* no model has such a label (the loader refuses them) */
			char shown[sizeof c->thresholds[0].label];
			snprintf(shown, sizeof shown, "%s", label);
			for (char *r = shown; *r; r++)
				if ((unsigned char)*r < 0x20 || *r == 0x7f)
					*r = '?';
			drsn__cfg_error(errs, "%s: [thresholds] label '%s' holds a control character (byte 0x%02x)",
					where, shown, (unsigned char)*q);
			return -EINVAL;
		}
	if (strlen(label) >= sizeof c->thresholds[0].label) {
		drsn__cfg_error(errs, "%s: [thresholds] label '%s' is too long", where, label);
		return -EINVAL;
	}
	struct drsn__cfg_threshold *t = NULL;
	for (int i = 0; i < c->n_thresholds; i++)
		if (!strcmp(c->thresholds[i].label, label))
			t = &c->thresholds[i];
	if (!t) {
		if (c->n_thresholds == DRSN_CFG_MAX_THRESHOLDS) {
			drsn__cfg_error(errs, "%s: [thresholds] more than %d labels", where,
					DRSN_CFG_MAX_THRESHOLDS);
			return -EINVAL;
		}
		t = &c->thresholds[c->n_thresholds++];
		snprintf(t->label, sizeof t->label, "%s", label);
	}
	t->value = v;
	snprintf(t->where, sizeof t->where, "%s", where);
	return 0;
}

/* ---- [plugins] and [plugin NAME] ------------------------------------------ */

int drsn__config_plugin_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (!n || n >= DRSN_CFG_PLUGIN_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

const char *drsn__config_plugin_dir(const struct drsn__config *c)
{
	return c->plugins.dir[0] ? c->plugins.dir : DRSND_PLUGIN_DIR;
}

int drsn__config_plugin_section(const struct drsn__config *c, const char *name)
{
	for (int i = 0; i < c->plugins.n_sections; i++)
		if (!strcmp(c->plugins.sections[i].name, name))
			return i;
	return -1;
}

void drsn__config_plugin_kv(const struct drsn__config *c, int s, int i, const char **key,
			    const char **value, const char **where)
{
	const struct drsn__cfg_plugins *pc = &c->plugins;
	*key = *value = *where = NULL;
	for (int k = 0; k < pc->n_kv; k++) {
		if (pc->kv[k].section != s || i--)
			continue;
		*key = pc->arena + pc->kv[k].key;
		*value = pc->arena + pc->kv[k].value;
		*where = pc->arena + pc->kv[k].where;
		return;
	}
}

/* "load = a, b c": names split at commas and blanks. */
static int set_plugin_load(struct drsn__config *c, const char *value, const char *where,
			   struct drsn__cfg_errors *errs)
{
	struct drsn__cfg_plugins *pc = &c->plugins;
	int n = 0;
	char names[DRSN_CFG_MAX_PLUGINS][DRSN_CFG_PLUGIN_NAME_MAX];
	const char *p = value;
	for (;;) {
		p += strspn(p, ", \t");
		if (!*p)
			break;
		size_t len = strcspn(p, ", \t");
		char name[DRSN_CFG_PLUGIN_VALUE_MAX];
		snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
		p += len;
		if (len >= DRSN_CFG_PLUGIN_NAME_MAX || !drsn__config_plugin_name_ok(name)) {
			drsn__cfg_error(errs, "%s: [plugins] load: '%s' is not a plugin name (only a-z, 0-9, '_' and '-', at most %d characters; plugins are only loaded from [plugins] dir)",
					where, name, DRSN_CFG_PLUGIN_NAME_MAX - 1);
			return -EINVAL;
		}
		for (int i = 0; i < n; i++)
			if (!strcmp(names[i], name)) {
				drsn__cfg_error(errs, "%s: [plugins] load: '%s' is listed twice", where, name);
				return -EINVAL;
			}
		if (n == DRSN_CFG_MAX_PLUGINS) {
			drsn__cfg_error(errs, "%s: [plugins] load: more than %d plugins", where,
					DRSN_CFG_MAX_PLUGINS);
			return -EINVAL;
		}
		snprintf(names[n++], sizeof names[0], "%.63s", name);
	}
	memcpy(pc->load, names, sizeof names[0] * (size_t)n);
	pc->n_load = n;
	/* kept for messages about the names; none = the defaults' "" */
	snprintf(pc->load_where, sizeof pc->load_where, "%s", n ? where : "");
	return 0;
}

static int set_plugins(struct drsn__config *c, const char *key, const char *value,
		       const char *where, struct drsn__cfg_errors *errs)
{
	if (!strcmp(key, "load"))
		return set_plugin_load(c, value, where, errs);
	if (!strcmp(key, "dir")) {
		if (value[0] && value[0] != '/') {
			drsn__cfg_error(errs, "%s: [plugins] dir: '%s' must be an absolute path (or empty for %s)",
					where, value, DRSND_PLUGIN_DIR);
			return -EINVAL;
		}
		if (strlen(value) >= sizeof c->plugins.dir) {
			drsn__cfg_error(errs, "%s: [plugins] dir: value is too long", where);
			return -EINVAL;
		}
		snprintf(c->plugins.dir, sizeof c->plugins.dir, "%s", value);
		return 0;
	}
	struct drsn__closest near;
	drsn__closest_init(&near, key);
	drsn__closest_add_list(&near, "dir, load");
	drsn__cfg_error(errs, "%s: [plugins] unknown key '%s' (known: dir, load)%s", where, key,
			drsn__closest_hint(&near, ""));
	return -EINVAL;
}

static int arena_put(struct drsn__cfg_plugins *pc, const char *s, uint16_t *off)
{
	size_t n = strlen(s) + 1;
	if (pc->arena_used + n > sizeof pc->arena)
		return -1;
	memcpy(pc->arena + pc->arena_used, s, n);
	*off = (uint16_t)pc->arena_used;
	pc->arena_used += n;
	return 0;
}

/* A key of [plugin NAME]: kept in order for the plugin, which checks it. */
static int set_plugin_key(struct drsn__config *c, const char *name, const char *key,
			  const char *value, const char *where, struct drsn__cfg_errors *errs)
{
	struct drsn__cfg_plugins *pc = &c->plugins;
	name += strspn(name, " \t");
	if (!drsn__config_plugin_name_ok(name)) {
		drsn__cfg_error(errs, "%s: [plugin %s]: '%s' is not a plugin name (only a-z, 0-9, '_' and '-', at most %d characters)",
				where, name, name, DRSN_CFG_PLUGIN_NAME_MAX - 1);
		return -EINVAL;
	}
	if (!key[0] || strlen(key) >= DRSN_CFG_PLUGIN_VALUE_MAX ||
	    strlen(value) >= DRSN_CFG_PLUGIN_VALUE_MAX) {
		drsn__cfg_error(errs, "%s: [plugin %s] %.64s: key or value is too long (max %d bytes each)",
				where, name, key, DRSN_CFG_PLUGIN_VALUE_MAX - 1);
		return -EINVAL;
	}
	int s = drsn__config_plugin_section(c, name);
	if (s < 0) {
		if (pc->n_sections == DRSN_CFG_MAX_PLUGINS) {
			drsn__cfg_error(errs, "%s: [plugin %s]: more than %d [plugin NAME] sections",
					where, name, DRSN_CFG_MAX_PLUGINS);
			return -EINVAL;
		}
		s = pc->n_sections++;
		snprintf(pc->sections[s].name, sizeof pc->sections[s].name, "%s", name);
		snprintf(pc->sections[s].where, sizeof pc->sections[s].where, "%s", where);
		pc->sections[s].n_kv = 0;
	}
	if (pc->sections[s].n_kv == DRSN_CFG_MAX_PLUGIN_KEYS) {
		drsn__cfg_error(errs, "%s: [plugin %s] %s: more than %d keys in the section",
				where, name, key, DRSN_CFG_MAX_PLUGIN_KEYS);
		return -EINVAL;
	}
	struct drsn__cfg_plugin_kv kv = {.section = (uint16_t)s};
	size_t used = pc->arena_used;
	if (arena_put(pc, key, &kv.key) || arena_put(pc, value, &kv.value) ||
	    arena_put(pc, where, &kv.where)) {
		pc->arena_used = used;
		drsn__cfg_error(errs, "%s: [plugin %s] %s: the [plugin NAME] sections hold more than %d bytes of keys and values",
				where, name, key, DRSN_CFG_PLUGIN_ARENA);
		return -EINVAL;
	}
	pc->kv[pc->n_kv++] = kv;
	pc->sections[s].n_kv++;
	return 0;
}

/* The table entry of section.key, or NULL. */
static const struct key *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, key))
			return &keys[i];
	return NULL;
}

static int set_key(struct drsn__config *c, const struct key *k, const char *section,
		   const char *key, const char *value, const char *where,
		   struct drsn__cfg_errors *errs);

int drsn__config_set(struct drsn__config *c, const char *section, const char *key,
		     const char *value, const char *where, struct drsn__cfg_errors *errs)
{
	/* a line break (only --set can pass one) would not print back as one
	 * line, and no key has a use for control characters */
	for (const char *q = value; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t') {
			drsn__cfg_error(errs, "%s: [%s] %s: the value contains a control character "
					"(byte 0x%02x)", where, section, key, (unsigned char)*q);
			return -EINVAL;
		}
	if (!strcmp(section, "thresholds"))
		return set_threshold(c, key, value, where, errs);
	if (!strcmp(section, "plugins"))
		return set_plugins(c, key, value, where, errs);
	if (!strncmp(section, "plugin ", 7) || !strncmp(section, "plugin\t", 7))
		return set_plugin_key(c, section + 7, key, value, where, errs);
	const struct key *k = find_key(section, key);
	int known_section = 0;
	for (size_t i = 0; i < N_KEYS; i++)
		if (!strcmp(keys[i].section, section))
			known_section = 1;
	struct drsn__closest near;
	if (!known_section) {
		drsn__closest_init(&near, section);
		for (size_t i = 0; i < N_KEYS; i++)
			drsn__closest_add(&near, keys[i].section);
		drsn__closest_add_list(&near, "thresholds, plugins");
		drsn__cfg_error(errs, "%s: unknown section [%s] (known: daemon, socket, model, audio, detect, denoise, thresholds, plugins, plugin NAME)%s",
				where, section, drsn__closest_hint(&near, ""));
		return -EINVAL;
	}
	if (!k) {
		drsn__closest_init(&near, key);
		for (size_t i = 0; i < N_KEYS; i++)
			if (!strcmp(keys[i].section, section))
				drsn__closest_add(&near, keys[i].name);
		drsn__cfg_error(errs, "%s: [%s] unknown key '%s'%s", where, section, key,
				drsn__closest_hint(&near, ""));
		return -EINVAL;
	}
	int rc = set_key(c, k, section, key, value, where, errs);
	if (rc == 0)
		snprintf(c->where[k - keys], sizeof c->where[0], "%s", where);
	return rc;
}

static int set_key(struct drsn__config *c, const struct key *k, const char *section,
		   const char *key, const char *value, const char *where,
		   struct drsn__cfg_errors *errs)
{
	char *p = (char *)c + k->off;
	long l;
	const char *why;
	switch (k->kind) {
	case K_INT:
		if (parse_long(value, &l) || l < k->min || l > k->max) {
			drsn__cfg_error(errs, "%s: [%s] %s: '%s' is not an integer in [%.0f, %.0f]",
					where, section, key, value, k->min, k->max);
			return -EINVAL;
		}
		*(int *)p = (int)l;
		return 0;
	case K_FLOAT: {
		char *end;
		float v = drsn__strtof_c(value, &end);
		if (end == value || *end || !isfinite(v) || v < k->min || v > k->max) {
			drsn__cfg_error(errs, "%s: [%s] %s: '%s' is not a number in [%g, %g]",
					where, section, key, value, k->min, k->max);
			return -EINVAL;
		}
		*(float *)p = v;
		return 0;
	}
	case K_BOOL:
		if (parse_bool(value, (int *)p)) {
			drsn__cfg_error(errs, "%s: [%s] %s: '%s' is not a boolean (yes/no, true/false, on/off, 1/0)",
					where, section, key, value);
			return -EINVAL;
		}
		return 0;
	case K_STR:
		if (strlen(value) >= k->size) {
			drsn__cfg_error(errs, "%s: [%s] %s: value is too long (%zu bytes, max %zu)",
					where, section, key, strlen(value), k->size - 1);
			return -EINVAL;
		}
		if (k->check && (why = k->check(value))) {
			drsn__cfg_error(errs, "%s: [%s] %s: '%s' %s", where, section, key, value,
					why);
			return -EINVAL;
		}
		memcpy(p, value, strlen(value) + 1);
		return 0;
	case K_MODE:
		if (drsn__unix_parse_mode(value, (unsigned *)p) < 0) {
			drsn__cfg_error(errs, "%s: [%s] %s: '%s' is not an octal mode like 0660",
					where, section, key, value);
			return -EINVAL;
		}
		return 0;
	case K_LOGLEVEL: {
		int lv = drsn__log_level_parse(value);
		if (lv < 0) {
			drsn__cfg_error(errs, "%s: [%s] %s: '%s' is not one of error, warning, info, debug",
					where, section, key, value);
			return -EINVAL;
		}
		*(int *)p = lv;
		return 0;
	}
	case K_ONEOF:
		if (!strcmp(value, "exit"))
			*(int *)p = 1;
		else if (!strcmp(value, "stay"))
			*(int *)p = 0;
		else {
			drsn__cfg_error(errs, "%s: [%s] %s: '%s' is not 'stay' or 'exit'",
					where, section, key, value);
			return -EINVAL;
		}
		return 0;
	case K_CLASSIFY:
		if (!strcmp(value, "raw") || !strcmp(value, "denoised")) {
			*(int *)p = !strcmp(value, "denoised");
			return 0;
		}
		drsn__cfg_error(errs, "%s: [%s] %s: '%s' is not 'raw' or 'denoised'",
				where, section, key, value);
		return -EINVAL;
	case K_RAWFMT:
		for (size_t i = 0; i < sizeof raw_formats / sizeof raw_formats[0]; i++)
			if (!strcmp(value, raw_formats[i])) {
				snprintf(p, k->size, "%s", value);
				return 0;
			}
		drsn__cfg_error(errs, "%s: [%s] %s: '%s' is not a raw sample format (u8, s8, s16le, s16be, s24le, s24be, s32le, s32be, f32le, f32be, f64le, f64be)",
				where, section, key, value);
		return -EINVAL;
	}
	return -EINVAL;
}

static const char *unquote(const char *s, char *out, size_t n, const char *hidden, int key);

int drsn__config_set_arg(struct drsn__config *c, const char *arg, struct drsn__cfg_errors *errs)
{
	const char *dot = strchr(arg, '.');
	const char *eq = strchr(arg, '=');
	/* a threshold's KEY is a label, which may hold '=': its VALUE, a
	 * number, is after the last one */
	if (dot && eq && dot < eq && (size_t)(dot - arg) == strlen("thresholds") &&
	    !strncmp(arg, "thresholds", (size_t)(dot - arg)))
		eq = strrchr(arg, '=');
	if (!dot || !eq || dot > eq || dot == arg || eq == dot + 1) {
		drsn__cfg_error(errs, "command line: --set '%s': expected SECTION.KEY=VALUE", arg);
		return -EINVAL;
	}
	char section[64], key[DRSN_CFG_LABEL_MAX + 8];
	if ((size_t)(dot - arg) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof key) {
		drsn__cfg_error(errs, "command line: --set '%s': name too long", arg);
		return -EINVAL;
	}
	memcpy(section, arg, (size_t)(dot - arg));
	section[dot - arg] = '\0';
	memcpy(key, dot + 1, (size_t)(eq - dot - 1));
	key[eq - dot - 1] = '\0';
	char unquoted[sizeof key];
	if (key[0] == '"') {
		const char *why = unquote(key, unquoted, sizeof unquoted, "", 1);
		if (why) {
			drsn__cfg_error(errs, "command line: [%s] %s: %s", section, key, why);
			return -EINVAL;
		}
		return drsn__config_set(c, section, unquoted, eq + 1, "command line", errs);
	}
	return drsn__config_set(c, section, key, eq + 1, "command line", errs);
}

/* inih calls our reader once per line: counting calls gives the line number
 * for the handler (Debian's inih is built without INI_HANDLER_LINENO). Lines
 * longer than inih's buffer (INI_MAX_LINE, 200 bytes with the newline and
 * the NUL) are reported here instead of being split. A longer value goes on
 * indented lines below its key (inih's INI_ALLOW_MULTILINE, on in Debian's
 * build: it calls the handler again with each of them): the handler keeps
 * the key pending and joins the parts with one space; the key is set when
 * the next key, [section] or syntax error line or the end of the file comes
 * (flush), so that messages stay in line order. Syntax errors are reported
 * as the reader meets them (scan_line), not after the whole file. */
#define CFG_FILE_MAX (1024 * 1024)   /* bytes of a config file read at most */
#define CFG_VALUE_MAX (DRSN_CFG_PLUGIN_VALUE_MAX - 1)   /* a joined value, bytes */
struct parse {
	struct drsn__config *c;
	struct drsn__cfg_errors *errs;
	const char *name;
	int line;
	int bad;
	/* source: a FILE or a string */
	FILE *f;
	int read_errno;            /* why reading f failed (EISDIR for a directory) */
	int stop;                  /* not text: read no further */
	const char *s;
	/* the line inih is on, as inih sees it (scan_line) */
	int continuation;          /* indented: continues the key above's value */
	int indented_key;          /* indented but "NAME = ...": refused */
	int key_ctl;               /* a "quoted key" holds a control byte */
	int have_key;              /* a key line since the last [section] */
	/* lines of this file that set each key (0 = none yet): duplicates */
	int key_line[N_KEYS];
	int threshold_line[DRSN_CFG_MAX_THRESHOLDS];
	int plugins_line[2];       /* [plugins] dir, load */
	int kv_start;              /* [plugin NAME] keys before this file */
	size_t bytes;              /* read so far (CFG_FILE_MAX) */
	int quote_open;            /* a "quoted value" goes on past this line */
	int skip_section;          /* a broken [section line: skip its keys */
	int skip_more;             /* skip continuation lines (of a line too long) */
	/* the key line the handler saw last, set at flush (continued meanwhile) */
	int pend;
	int pend_line;
	int pend_ctl;              /* its key_ctl */
	int pend_long;             /* the joined value went over CFG_VALUE_MAX */
	char pend_section[64];     /* inih's sections are < 50 bytes */
	char pend_name[DRSN_CFG_LABEL_MAX + 8];
	char pend_value[CFG_VALUE_MAX + 3];   /* + 2 quotes */
};

static void flush(struct parse *p);

/* A ';' inside a "quoted value" or a "quoted key", hidden from inih's inline
 * comments; a '=' or ':' inside a "quoted key", hidden from inih's split of
 * key and value. Keys and values hold no control characters otherwise. */
#define QUOTED_SEMICOLON '\x1f'
#define QUOTED_EQUALS '\x1e'
#define QUOTED_COLON '\x1d'

/* inih's find_chars_or_comment (ini.c): the first of chars, or an inline
 * comment (';' after a blank), or the end. */
static char *find_or_comment(char *s, const char *chars)
{
	int was_space = 0;
	while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* Hide the ';' of a "quoted value" from q, just after its opening quote or
 * at the start of a line that continues it, up to the closing quote.
 * Returns that quote, or NULL if the quote is still open at the line's end. */
static char *hide_quoted(char *q)
{
	for (; *q && *q != '"'; q++) {
		if (*q == '\\' && (q[1] == '"' || q[1] == '\\'))
			q++;
		else if (*q == ';')
			*q = QUOTED_SEMICOLON;
	}
	return *q ? q : NULL;
}

/* A line that starts "NAME =" or "NAME: " (inih's delimiters; not "https:"). */
static int looks_like_key(const char *st)
{
	const char *q = st;
	if (!isalpha((unsigned char)*q) && *q != '_')
		return 0;
	while (isalnum((unsigned char)*q) || *q == '_' || *q == '-' || *q == '.')
		q++;
	while (*q == ' ' || *q == '\t')
		q++;
	return *q == '=' || (*q == ':' && (!q[1] || isspace((unsigned char)q[1])));
}

/* Follow inih's reading of line (ini_parse_stream, INI_ALLOW_MULTILINE): a
 * comment or blank, an indented line after a key (a continuation of that
 * key's value: inih calls the handler again with it), a [section], or a key
 * line. In a key line whose value starts with '"', hide the ';' up to the
 * closing quote so that inih does not cut the value there. */
static void scan_line(struct parse *p, char *line)
{
	char *st = line;
	if (p->line == 1 && !strncmp(st, "\xef\xbb\xbf", 3))
		st += 3;   /* inih skips a UTF-8 BOM */
	while (*st && isspace((unsigned char)*st))
		st++;
	p->continuation = 0;
	p->indented_key = 0;
	p->key_ctl = 0;
	if (!*st || *st == ';' || *st == '#')
		return;
	if (p->have_key && st > line && looks_like_key(st)) {
		/* "  port = 1884" in an indented style: a key, not more of the
		 * value above (which it would silently become) */
		p->indented_key = 1;
	} else if (p->have_key && st > line) {
		p->continuation = 1;
		char *rest = st;
		if (p->quote_open && !(rest = hide_quoted(st)))
			return;
		p->quote_open = 0;
		/* an inline comment: Debian's inih (r55) keeps it in a
		 * continuation line (later ones cut it, as in a key line) */
		char *semi = find_or_comment(rest, "");
		*semi = '\0';
		return;
	}
	/* not more of the key above: that key is whole */
	flush(p);
	p->skip_more = 0;
	p->quote_open = 0;
	if (*st == '[') {
		if (*find_or_comment(st + 1, "]") == ']') {
			p->have_key = 0;
			p->skip_section = 0;
		} else {
			/* inih keeps the section before: the keys below would
			 * land there or outside any [section], errors of none
			 * of their own */
			drsn__cfg_error(p->errs, "%s:%d: syntax error: the ']' of the [section] is "
					"missing (the keys up to the next [section] are not read)",
					p->name, p->line);
			p->bad = 1;
			p->skip_section = 1;
		}
		return;
	}
	if (*st == '"') {
		/* a "quoted key" ([thresholds]: a label with '=' ...): hide
		 * its separators from inih up to the closing quote, if there
		 * is one (else the handler says it is missing) */
		char *end = st + 1;
		for (; *end && *end != '"'; end++)
			if (*end == '\\' && (end[1] == '"' || end[1] == '\\'))
				end++;
		for (char *q = st + 1; *end && q < end; q++) {
			if (*q == '\\' && (q[1] == '"' || q[1] == '\\'))
				q++;
			else if (*q == QUOTED_SEMICOLON || *q == QUOTED_EQUALS || *q == QUOTED_COLON)
				p->key_ctl = 1;   /* such a byte of the file's own */
			else if (*q == ';')
				*q = QUOTED_SEMICOLON;
			else if (*q == '=')
				*q = QUOTED_EQUALS;
			else if (*q == ':')
				*q = QUOTED_COLON;
		}
	}
	char *sep = find_or_comment(st, "=:");
	if (*sep != '=' && *sep != ':') {
		drsn__cfg_error(p->errs, "%s:%d: syntax error (expected [section], key = value, "
				"or a ; comment)", p->name, p->line);
		p->bad = 1;
		return;
	}
	p->have_key = 1;
	char *v = sep + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '"')
		p->quote_open = !hide_quoted(v + 1);
}

static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char buf[8192];
	size_t len = 0;
	int got = 0;
	for (;;) {
		int ch;
		if (p->f) {
			ch = fgetc(p->f);
			if (ch == EOF && ferror(p->f) && !p->read_errno)
				p->read_errno = errno ? errno : EIO;
		} else {
			ch = *p->s ? (unsigned char)*p->s : EOF;
			if (ch != EOF)
				p->s++;
		}
		if (ch == EOF)
			break;
		if (++p->bytes > CFG_FILE_MAX) {
			flush(p);
			drsn__cfg_error(p->errs, "%s: longer than %d MiB, the most of a config file "
					"read (not a drsnd config file?)", p->name, CFG_FILE_MAX >> 20);
			p->bad = 1;
			p->stop = 1;
			return NULL;
		}
		got = 1;
		if (len < sizeof buf - 1)
			buf[len++] = (char)ch;
		else
			len = sizeof buf;   /* mark overlong */
		if (ch == '\n')
			break;
	}
	if (!got || p->stop)
		return NULL;
	p->line++;
	if (memchr(buf, '\0', len < sizeof buf ? len : sizeof buf - 1)) {
		flush(p);
		/* inih would cut the line at it: every line of a UTF-16 file
		 * (Notepad's "Unicode") would be a syntax error of its own */
		int u16 = p->line == 1 && len >= 2 &&
			  ((buf[0] == '\xff' && buf[1] == '\xfe') || (buf[0] == '\xfe' && buf[1] == '\xff'));
		if (u16)
			drsn__cfg_error(p->errs, "%s:1: the file is UTF-16 (Notepad's \"Unicode\"): save "
					"it as UTF-8 (a BOM and CRLF line ends are fine)", p->name);
		else
			drsn__cfg_error(p->errs, "%s:%d: a NUL byte: not a text file (save it as "
					"UTF-8 text)", p->name, p->line);
		p->bad = 1;
		p->stop = 1;
		return NULL;
	}
	if (len >= (size_t)num) {
		/* more of the pending key: drop the key (no consequential
		 * error about its cut value); else the key is whole */
		size_t blanks = strspn(buf, " \t");
		if (p->have_key && blanks && blanks < len && buf[blanks] != '\r' && buf[blanks] != '\n')
			p->pend = 0;
		else
			flush(p);
		drsn__cfg_error(p->errs, "%s:%d: line too long (max %d bytes): write a long value "
				"on indented lines below its key, each continuing it (the parts are "
				"joined with one space, at most %d bytes)", p->name, p->line, num - 2,
				CFG_VALUE_MAX);
		p->bad = 1;
		p->continuation = 0;
		p->quote_open = 0;
		p->skip_more = 1;   /* indented lines below it: its own */
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	memcpy(str, buf, len);
	str[len] = '\0';
	scan_line(p, str);
	return str;
}

/* A hidden separator (scan_line) back as the file has it, or 0. */
static char unhide(char ch)
{
	return ch == QUOTED_SEMICOLON ? ';' : ch == QUOTED_EQUALS ? '=' : ch == QUOTED_COLON ? ':' : 0;
}

/* A "quoted value" or, with key set, a "quoted key" ([thresholds]: a label
 * with '=' ...): s starts with '"'. The text between the quotes with \" and
 * \\ unescaped, and the separators in `hidden` that scan_line hid brought
 * back (a value: ";"; a key from a file: ";=:"; a key from --set: "").
 * NULL, or why it is not one. */
static const char *unquote(const char *s, char *out, size_t n, const char *hidden, int key)
{
	size_t o = 0;
	const char *q = s + 1;
	for (; *q && *q != '"'; q++) {
		char ch = *q, shown = unhide(ch);
		if (ch == '\\' && (q[1] == '"' || q[1] == '\\'))
			ch = *++q;
		else if (shown && strchr(hidden, shown))
			ch = shown;
		if (o + 1 >= n)
			return key ? "the key is too long" : "the value is too long";
		out[o++] = ch;
	}
	if (*q != '"')
		return key ? "the closing '\"' of the key is missing" : "the closing '\"' is missing";
	if (q[1])
		return key ? "text after the key's closing '\"'"
			   : "text after the closing '\"' (a comment needs a blank before its ';')";
	out[o] = '\0';
	return NULL;
}

/* Line of the file where section.key was set first, if it was: 0 if not. */
static int first_line(const struct parse *p, const char *section, const char *key)
{
	const struct drsn__config *c = p->c;
	if (!strcmp(section, "thresholds")) {
		for (int i = 0; i < c->n_thresholds; i++)
			if (!strcmp(c->thresholds[i].label, key))
				return p->threshold_line[i];
		return 0;
	}
	if (!strcmp(section, "plugins"))
		return !strcmp(key, "dir") ? p->plugins_line[0] :
		       !strcmp(key, "load") ? p->plugins_line[1] : 0;
	if (!strncmp(section, "plugin ", 7) || !strncmp(section, "plugin\t", 7)) {
		const char *name = section + 7 + strspn(section + 7, " \t");
		int s = drsn__config_plugin_section(c, name);
		const struct drsn__cfg_plugins *pc = &c->plugins;
		for (int i = p->kv_start; s >= 0 && i < pc->n_kv; i++) {
			if (pc->kv[i].section != s || strcmp(pc->arena + pc->kv[i].key, key))
				continue;
			const char *colon = strrchr(pc->arena + pc->kv[i].where, ':');
			return colon ? atoi(colon + 1) : 0;
		}
		return 0;
	}
	const struct key *k = find_key(section, key);
	return k ? p->key_line[k - keys] : 0;
}

/* Remember the first line that set section.key (whether or not its value
 * was good: a second line for it is a duplicate either way). */
static void note_line(struct parse *p, const char *section, const char *key, int line)
{
	const struct drsn__config *c = p->c;
	if (!strcmp(section, "thresholds")) {
		for (int i = 0; i < c->n_thresholds; i++)
			if (!strcmp(c->thresholds[i].label, key) && !p->threshold_line[i])
				p->threshold_line[i] = line;
	} else if (!strcmp(section, "plugins")) {
		int i = !strcmp(key, "load");
		if ((i || !strcmp(key, "dir")) && !p->plugins_line[i])
			p->plugins_line[i] = line;
	} else {
		const struct key *k = find_key(section, key);
		if (k && !p->key_line[k - keys])
			p->key_line[k - keys] = line;
	}
	/* [plugin NAME] keys: found in c->plugins.kv by first_line */
}

/* Set the pending key (its value joined from all its lines), if any. */
static void flush(struct parse *p)
{
	if (!p->pend)
		return;
	p->pend = 0;
	const char *section = p->pend_section, *name = p->pend_name, *value = p->pend_value;
	char where[DRSN_CFG_WHERE_MAX];
	snprintf(where, sizeof where, "%s:%d", p->name, p->pend_line);
	if (!section[0]) {
		drsn__cfg_error(p->errs, "%s: key '%s' outside any [section]", where, name);
		p->bad = 1;
		return;
	}
	char key[DRSN_CFG_LABEL_MAX + 8];
	if (name[0] == '"') {
		/* what was hidden, as the file has it, for messages */
		char shown[DRSN_CFG_LABEL_MAX + 8];
		snprintf(shown, sizeof shown, "%s", name);
		for (char *q = shown; *q; q++)
			if (unhide(*q))
				*q = unhide(*q);
		const char *why = p->pend_ctl ? "the key holds a control character"
				  : unquote(name, key, sizeof key, ";=:", 1);
		if (why) {
			drsn__cfg_error(p->errs, "%s: [%s] %s: %s", where, section, shown, why);
			p->bad = 1;
			return;
		}
		name = key;
	}
	char unquoted[sizeof p->pend_value];
	if (!p->pend_long && value[0] == '"') {
		const char *why = unquote(value, unquoted, sizeof unquoted, ";", 0);
		if (why) {
			drsn__cfg_error(p->errs, "%s: [%s] %s: %s", where, section, name, why);
			p->bad = 1;
			return;
		}
		value = unquoted;
	}
	if (p->pend_long || strlen(value) > CFG_VALUE_MAX) {
		drsn__cfg_error(p->errs, "%s: [%s] %s: the value, joined from its lines, is longer "
				"than %d bytes", where, section, name, CFG_VALUE_MAX);
		p->bad = 1;
		return;
	}
	int first = first_line(p, section, name);
	if (first) {
		/* an error; its value is still checked, to report all there is */
		drsn__cfg_error(p->errs, "%s: [%s] %s: duplicate key, also set at line %d "
				"(give each key once)", where, section, name, first);
		p->bad = 1;
	}
	if (drsn__config_set(p->c, section, name, value, where, p->errs))
		p->bad = 1;
	note_line(p, section, name, p->pend_line);
}

/* inih's call for a key line (kept pending: lines below may continue it) or
 * for an indented line continuing it (appended with one space). */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	if (!value)
		value = "";
	if (p->indented_key) {
		drsn__cfg_error(p->errs, "%s:%d: an indented line that reads as a key ('%.40s'): write "
				"keys without indentation (an indented line continues the value of the "
				"key above it)", p->name, p->line, value);
		p->bad = 1;
		return 1;
	}
	if (p->continuation) {
		if (!p->pend || p->skip_more)
			return 1;   /* of a key skipped or already reported */
		size_t n = strlen(p->pend_value), m = strlen(value);
		/* no space after an empty start ("path =" or an opening quote) */
		size_t sep = n && strcmp(p->pend_value, "\"");
		if (n + sep + m > CFG_VALUE_MAX + 2) {
			p->pend_long = 1;
		} else {   /* fits: n + sep + m + 1 <= sizeof pend_value */
			if (sep)
				p->pend_value[n] = ' ';
			memcpy(p->pend_value + n + sep, value, m + 1);
		}
		return 1;
	}
	flush(p);   /* (done already by scan_line) */
	if (p->skip_section)
		return 1;   /* under a broken [section line, reported */
	if (strlen(section) >= sizeof p->pend_section || strlen(name) >= sizeof p->pend_name) {
		drsn__cfg_error(p->errs, "%s:%d: [%.63s] %.64s: the key is too long", p->name, p->line,
				section, name);
		p->bad = 1;
		return 1;
	}
	p->pend = 1;
	p->pend_line = p->line;
	p->pend_ctl = p->key_ctl;
	p->pend_long = strlen(value) > CFG_VALUE_MAX + 2;
	snprintf(p->pend_section, sizeof p->pend_section, "%s", section);
	snprintf(p->pend_name, sizeof p->pend_name, "%s", name);
	snprintf(p->pend_value, sizeof p->pend_value, "%s", p->pend_long ? "" : value);
	return 1;
}

static int parse(struct parse *p)
{
	int n_before = p->errs ? p->errs->n : 0;
	p->kv_start = p->c->plugins.n_kv;
	int rc = ini_parse_stream(reader, p, handler, p);
	flush(p);
	if (rc < 0) {
		drsn__cfg_error(p->errs, "%s: out of memory while parsing", p->name);
		return -ENOMEM;
	}
	if (rc > 0) {
		/* inih returns the first line it could not use: a syntax error,
		 * unless it is a line whose error we already reported. */
		char prefix[128];
		snprintf(prefix, sizeof prefix, "%s:%d:", p->name, rc);
		int seen = 0;
		for (int i = n_before; p->errs && i < p->errs->n; i++)
			if (!strncmp(p->errs->msg[i], prefix, strlen(prefix)))
				seen = 1;
		if (!seen)
			drsn__cfg_error(p->errs, "%s:%d: syntax error (expected [section], key = value, or a ; comment)",
					p->name, rc);
		p->bad = 1;
	}
	return p->bad ? -EINVAL : 0;
}

int drsn__config_load_file(struct drsn__config *c, const char *path, struct drsn__cfg_errors *errs)
{
	/* A named pipe (not through a link, as /dev/stdin and /dev/fd/N are:
	 * a pipe given so is read) would make the open wait for a writer. A
	 * device is read (/dev/null: no config; /dev/zero ends at the cap). */
	struct stat st;
	if (!lstat(path, &st) && S_ISFIFO(st.st_mode)) {
		drsn__cfg_error(errs, "%s: a named pipe, not a file (drsnd would wait for a "
				"writer): give a file, or pipe one in with --config /dev/stdin", path);
		return -EINVAL;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		drsn__cfg_error(errs, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	struct parse p = {.c = c, .errs = errs, .name = path, .f = f};
	int rc = parse(&p);
	if (ferror(f)) {
		int e = p.read_errno ? p.read_errno : EIO;
		drsn__cfg_error(errs, "%s: cannot read: %s", path, strerror(e));
		rc = -e;
	}
	fclose(f);
	return rc;
}

int drsn__config_load_string(struct drsn__config *c, const char *text, const char *name,
			     struct drsn__cfg_errors *errs)
{
	struct parse p = {.c = c, .errs = errs, .name = name, .s = text};
	return parse(&p);
}

/* Where c's section.key was set ("" = the default). */
static const char *where_of(const struct drsn__config *c, const char *section, const char *key)
{
	const struct key *k = find_key(section, key);
	return k ? c->where[k - keys] : "";
}

/* The later of two places: the command line comes after the file, a higher
 * line after a lower one, "" (the default) before everything. */
static const char *later(const char *a, const char *b)
{
	if (!a[0] || !strcmp(b, "command line"))
		return b;
	if (!b[0] || !strcmp(a, "command line"))
		return a;
	const char *ca = strrchr(a, ':'), *cb = strrchr(b, ':');
	if (ca && cb && ca - a == cb - b && !strncmp(a, b, (size_t)(ca - a)))
		return atoi(ca + 1) > atoi(cb + 1) ? a : b;
	return b;
}

/* An error about two keys: at the later one's place, naming where both
 * were set. what: the problem, e.g. "[audio] retry_min_ms (5) is ...". */
static void two_keys_error(const struct drsn__config *c, struct drsn__cfg_errors *errs,
			   const char *sa, const char *ka, const char *sb, const char *kb,
			   const char *what)
{
	const char *wa = where_of(c, sa, ka), *wb = where_of(c, sb, kb);
	const char *w = later(wa, wb);
	drsn__cfg_error(errs, "%s%s%s ([%s] %s: %s; [%s] %s: %s)", w, w[0] ? ": " : "", what,
			sa, ka, wa[0] ? wa : "the default", sb, kb, wb[0] ? wb : "the default");
}

int drsn__config_check(const struct drsn__config *c, struct drsn__cfg_errors *errs)
{
	int rc = 0;
	char what[DRSN_CFG_ERROR_MAX];
	/* values the setter checks (a config built without it) */
	for (size_t i = 0; i < N_KEYS; i++) {
		const char *v = (const char *)c + keys[i].off, *why;
		if (keys[i].check && (why = keys[i].check(v))) {
			const char *w = c->where[i];
			drsn__cfg_error(errs, "%s%s[%s] %s: '%s' %s", w, w[0] ? ": " : "",
					keys[i].section, keys[i].name, v, why);
			rc = -EINVAL;
		}
	}
	if (c->retry_min_ms > c->retry_max_ms) {
		snprintf(what, sizeof what,
			 "[audio] retry_min_ms (%d) is larger than retry_max_ms (%d)",
			 c->retry_min_ms, c->retry_max_ms);
		two_keys_error(c, errs, "audio", "retry_min_ms", "audio", "retry_max_ms", what);
		rc = -EINVAL;
	}
	const int top = drsn__audio_top_channel(drsn__config_channels(c));
	if ((!strcmp(c->source, "stdin") || !strncmp(c->source, "fd:", 3)) &&
	    top > c->raw_channels) {
		snprintf(what, sizeof what, "[audio] channel: channel %d asked for, but raw_channels "
			 "is %d", top, c->raw_channels);
		two_keys_error(c, errs, "audio", "channel", "audio", "raw_channels", what);
		rc = -EINVAL;
	}
	if (c->wait_for_client && !strncmp(c->source, "pa:", 3)) {
		/* a live microphone does not hold its audio for anyone */
		snprintf(what, sizeof what, "[audio] wait_for_client: a live pa: source cannot wait "
			 "for a client (only file:, stdin and fd: can); set wait_for_client = no");
		two_keys_error(c, errs, "audio", "wait_for_client", "audio", "source", what);
		rc = -EINVAL;
	}
	if (c->pcm_socket[0] && !strcmp(c->pcm_socket, c->socket_path)) {
		snprintf(what, sizeof what, "[denoise] pcm_socket: '%.500s' is also [socket] path",
			 c->pcm_socket);
		two_keys_error(c, errs, "socket", "path", "denoise", "pcm_socket", what);
		rc = -EINVAL;
	}
	if (c->smoothing_ms && c->smoothing_ms < c->inference_hop_ms)
		log_debug("[detect] smoothing_ms %d < inference_hop_ms %d: no smoothing",
			  c->smoothing_ms, c->inference_hop_ms);
	return rc;
}

/* path is /run/drsnd/X or /run/drsnd-NAME/X (drsnd@NAME). */
static int runtime_dir(const char *path)
{
	const char *rest = NULL;
	if (!strncmp(path, "/run/drsnd/", 11))
		rest = path + 11;
	else if (!strncmp(path, "/run/drsnd-", 11) && (rest = strchr(path + 11, '/')))
		rest++;
	return rest && !strchr(rest, '/');
}

/* As drsn__server_start does before it binds (neither creating nor
 * binding anything): the socket's directory exists, and path is no file
 * other than a socket (a stale one is removed at start, a live one is the
 * running daemon's). A missing /run/drsnd or /run/drsnd-NAME is fine: the
 * systemd units create it at start (RuntimeDirectory=). */
static int check_socket(const struct drsn__config *c, const char *path, const char *section,
			const char *key, struct drsn__cfg_errors *errs)
{
	const char *w = where_of(c, section, key);
	char name[48], msg[DRSN_CFG_ERROR_MAX - 160];
	snprintf(name, sizeof name, "[%s] %s", section, key);
	int rc = drsn__unix_check_dir(path, name, msg, sizeof msg);
	if (rc == -ENOENT && runtime_dir(path))
		return 0;
	struct stat st;
	if (!rc && !lstat(path, &st) && !S_ISSOCK(st.st_mode)) {
		snprintf(msg, sizeof msg, "%s: exists and is not a socket (drsnd would not "
			 "touch it): remove it, or set %s", path, name);
		rc = -EEXIST;
	}
	if (rc < 0)
		drsn__cfg_error(errs, "%s%s%s: %s", w, w[0] ? ": " : "", name, msg);
	return rc;
}

int drsn__config_check_system(const struct drsn__config *c, struct drsn__cfg_errors *errs)
{
	int rc = 0;
	const char *w = where_of(c, "socket", "group");
	/* as drsn__server_start */
	struct group *g = c->socket_group[0] ? getgrnam(c->socket_group) : NULL;
	if (c->socket_group[0] && !g) {
		drsn__cfg_error(errs, "%s%s[socket] group: no group named '%s'", w,
				w[0] ? ": " : "", c->socket_group);
		rc = -ENOENT;
	}
	/* Membership is not checked: the check runs as whoever runs it, and
	 * drsnd's units run as a DynamicUser with SupplementaryGroups=; a
	 * start by a user outside the group fails naming that fix (unixsock.c). */
	if (check_socket(c, c->socket_path, "socket", "path", errs) < 0)
		rc = -EINVAL;
	if (c->pcm_socket[0] && check_socket(c, c->pcm_socket, "denoise", "pcm_socket", errs) < 0)
		rc = -EINVAL;
	w = where_of(c, "audio", "source");
	if (!strncmp(c->source, "file:", 5)) {
		/* as drsn__source_create: the same open, without resampling */
		drsn_audio_opts o;
		drsn_audio_opts_default(&o);
		o.target_rate = 0;
		drsn_audio *a;
		drsn_error e;
		int r = drsn_audio_open(&a, c->source + 5, &o, &e);
		if (r < 0) {
			drsn__cfg_error(errs, "%s%s[audio] source: %s", w, w[0] ? ": " : "", e.msg);
			rc = r;
		} else {
			/* as start-up: a channel the file does not have */
			uint64_t mask = drsn__config_channels(c);
			if (mask && (r = drsn_audio_select_channels(a, mask, &e)) < 0) {
				const char *wc = where_of(c, "audio", "channel");
				drsn__cfg_error(errs, "%s%s[audio] channel: %s", wc, wc[0] ? ": " : "",
						e.msg);
				rc = r;
			}
			drsn_audio_close(a);
		}
	} else if (!strncmp(c->source, "fd:", 3)) {
		/* as drsn_audio_open_fd, without reading from it */
		int fd = atoi(c->source + 3);
		struct stat st;
		const char *why = NULL;
		if (fstat(fd, &st) < 0)
			why = "not an open file descriptor";
		else if (S_ISDIR(st.st_mode))
			why = "is a directory, not an audio stream";
		else if (S_ISREG(st.st_mode) && st.st_size == 0)
			why = "empty file (zero length)";
		if (why) {
			drsn__cfg_error(errs, "%s%s[audio] source: %s: %s", w, w[0] ? ": " : "",
					c->source, why);
			rc = -EBADF;
		}
	}
	return rc;
}

/* Same value of key k in a and b. */
static int key_equal(const struct drsn__config *a, const struct drsn__config *b,
		     const struct key *k)
{
	const char *pa = (const char *)a + k->off, *pb = (const char *)b + k->off;
	if (k->kind == K_STR || k->kind == K_RAWFMT)
		return !strcmp(pa, pb);
	if (k->kind == K_FLOAT)
		return *(const float *)pa == *(const float *)pb;
	return *(const int *)pa == *(const int *)pb;   /* K_MODE: an unsigned of the same size */
}

/* k's value in c as --print-config writes it (strings in quotes), for messages. */
static void value_str(const struct drsn__config *c, const struct key *k, char *b, size_t n)
{
	const char *p = (const char *)c + k->off;
	const int i = *(const int *)p;
	switch (k->kind) {
	case K_INT: snprintf(b, n, "%d", i); break;
	case K_FLOAT: drsn__snprintf_c(b, n, "%g", *(const float *)p); break;
	case K_BOOL: snprintf(b, n, "%s", i ? "yes" : "no"); break;
	case K_STR: case K_RAWFMT: snprintf(b, n, "'%.200s'", p); break;
	case K_MODE: snprintf(b, n, "0%03o", *(const unsigned *)p); break;
	case K_LOGLEVEL: snprintf(b, n, "%s", drsn__log_level_name(i)); break;
	case K_ONEOF: snprintf(b, n, "%s", i ? "exit" : "stay"); break;
	case K_CLASSIFY: snprintf(b, n, "%s", i ? "denoised" : "raw"); break;
	}
}

int drsn__config_overridden(const struct drsn__config *file, const struct drsn__config *c,
			    struct drsn__cfg_errors *warn)
{
	/* the shipped file lists every key with its default: only a value
	 * changed from that is someone's setting */
	struct drsn__config *def = malloc(sizeof *def);
	if (!def)
		return -ENOMEM;
	drsn__config_defaults(def);
	int n = 0;
	for (size_t i = 0; i < N_KEYS; i++) {
		const char *w = file->where[i];
		if (!w[0] || !strcmp(w, "command line") || strcmp(c->where[i], "command line") ||
		    key_equal(file, c, &keys[i]) || key_equal(file, def, &keys[i]))
			continue;
		char was[256], now[256];
		value_str(file, &keys[i], was, sizeof was);
		value_str(c, &keys[i], now, sizeof now);
		drsn__cfg_error(warn, "%s: [%s] %s = %s is not used: the command line sets %s "
				"(command-line options override the config file)",
				w, keys[i].section, keys[i].name, was, now);
		n++;
	}
	free(def);
	return n;
}

/* Same keys and values, in order, in [plugin NAME] (places may differ). */
static int plugin_section_equal(const struct drsn__config *a, const struct drsn__config *b,
				const char *name)
{
	int sa = drsn__config_plugin_section(a, name), sb = drsn__config_plugin_section(b, name);
	if (sa < 0 || sb < 0)
		return sa == sb;
	if (a->plugins.sections[sa].n_kv != b->plugins.sections[sb].n_kv)
		return 0;
	for (int i = 0; i < a->plugins.sections[sa].n_kv; i++) {
		const char *ka, *va, *wa, *kb, *vb, *wb;
		drsn__config_plugin_kv(a, sa, i, &ka, &va, &wa);
		drsn__config_plugin_kv(b, sb, i, &kb, &vb, &wb);
		if (strcmp(ka, kb) || strcmp(va, vb))
			return 0;
	}
	return 1;
}

/* "a, b, c" into buf[n], ending in "…" when the next item does not fit. */
struct list {
	char *buf;
	size_t n, len;
	int count, cut;
};

static void list_add(struct list *l, const char *item)
{
	l->count++;
	if (l->cut || !l->n)
		return;
	size_t need = (l->len ? 2 : 0) + strlen(item);
	if (l->len + need + 4 <= l->n) {   /* keeps room for "…" */
		l->len += (size_t)snprintf(l->buf + l->len, l->n - l->len, "%s%s",
					   l->len ? ", " : "", item);
		return;
	}
	l->cut = 1;
	if (l->len + 4 <= l->n)
		l->len += (size_t)snprintf(l->buf + l->len, l->n - l->len, "\xe2\x80\xa6");
}

int drsn__config_restart_only_diff(const struct drsn__config *running,
				   const struct drsn__config *reloaded, char *buf, size_t n)
{
	struct list l = {buf, n, 0, 0, 0};
	char item[DRSN_CFG_PLUGIN_NAME_MAX + 16];
	if (n)
		buf[0] = '\0';
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!keys[i].restart || key_equal(running, reloaded, &keys[i]))
			continue;
		snprintf(item, sizeof item, "[%s] %s", keys[i].section, keys[i].name);
		list_add(&l, item);
	}
	const struct drsn__cfg_plugins *pa = &running->plugins, *pb = &reloaded->plugins;
	if (strcmp(pa->dir, pb->dir))
		list_add(&l, "[plugins] dir");
	int load_same = pa->n_load == pb->n_load;
	for (int i = 0; load_same && i < pa->n_load; i++)
		load_same = !strcmp(pa->load[i], pb->load[i]);
	if (!load_same)
		list_add(&l, "[plugins] load");
	/* sections of the running config, then the new ones */
	for (int s = 0; s < pa->n_sections; s++)
		if (!plugin_section_equal(running, reloaded, pa->sections[s].name)) {
			snprintf(item, sizeof item, "[plugin %s]", pa->sections[s].name);
			list_add(&l, item);
		}
	for (int s = 0; s < pb->n_sections; s++)
		if (drsn__config_plugin_section(running, pb->sections[s].name) < 0) {
			snprintf(item, sizeof item, "[plugin %s]", pb->sections[s].name);
			list_add(&l, item);
		}
	return l.count;
}

void drsn__config_keep_restart_only(struct drsn__config *c, const struct drsn__config *running)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!keys[i].restart)
			continue;
		size_t size = keys[i].size ? keys[i].size : sizeof(int);
		memcpy((char *)c + keys[i].off, (const char *)running + keys[i].off, size);
		memcpy(c->where[i], running->where[i], sizeof c->where[i]);
	}
	c->plugins = running->plugins;
}

float drsn__config_threshold(const struct drsn__config *c, const char *label)
{
	for (int i = 0; i < c->n_thresholds; i++)
		if (!strcmp(c->thresholds[i].label, label))
			return c->thresholds[i].value;
	return c->threshold;
}

/* A value as inih reads it back: quoted if it has blanks at an end, starts
 * with a quote, or holds a ';' after a blank (an inline comment). One longer
 * than a line (key = at col) goes on indented lines that continue it, each
 * cut at a single blank (the reader joins the parts with one) before which
 * no part starts with a comment's ';' or '#'. A value with no such blank is
 * left whole (the file then says its line is too long). */
static void print_value(FILE *f, const char *v, size_t col)
{
	size_t n = strlen(v);
	int quote = n && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]) ||
			  v[0] == '"');
	for (size_t i = 1; i < n && !quote; i++)
		quote = v[i] == ';' && isspace((unsigned char)v[i - 1]);
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (m) {
		drsn__label_put_quoted(m, v, quote);
		if (fclose(m))
			text = NULL;
	}
	if (!text) {
		drsn__label_put_quoted(f, v, quote);
		return;
	}
	const size_t line_max = 198;   /* inih's INI_MAX_LINE - 2 */
	const char *t = text;
	while (col + strlen(t) > line_max) {
		const char *cut = NULL;
		for (const char *q = t + 1; q + 1 < t + strlen(t) && (size_t)(q - t) + col <= line_max; q++)
			if (*q == ' ' && q[-1] != ' ' && q[1] != ' ' && q[1] != '\t' &&
			    q[-1] != '\t' && q[1] != ';' && q[1] != '#')
				cut = q;
		if (!cut)
			break;
		fprintf(f, "%.*s\n  ", (int)(cut - t), t);
		t = cut + 1;
		col = 2;
	}
	fputs(t, f);
	free(text);
}

/* The shortest decimal that strtof reads back as v: "0.8", not
 * "0.800000012", yet 0.123456789 is not cut to 0.123457. With '.' in any
 * locale (cnum.h), as the config file is read. */
static void print_float(FILE *f, float v)
{
	char b[DRSN__FLOAT_CHARS];
	fputs(drsn__float_str_c(b, v), f);
}

/* A plugin key whose value is a secret: "password", "secret", "token" or a
 * name ending in "_password", "_secret", "_token". --print-config shows
 * that it is set, never the value (its output lands in bug reports and
 * terminals); a path to a secret (password_file) is no secret. */
static int secret_key(const char *k)
{
	static const char *const names[] = {"password", "secret", "token"};
	size_t n = strlen(k);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t m = strlen(names[i]);
		if (!strcmp(k, names[i]) ||
		    (n > m && k[n - m - 1] == '_' && !strcmp(k + n - m, names[i])))
			return 1;
	}
	return 0;
}

void drsn__config_print(const struct drsn__config *c, FILE *f)
{
	const char *sec = "";
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];
		if (strcmp(sec, k->section))
			fprintf(f, "%s[%s]\n", i ? "\n" : "", sec = k->section);
		const char *p = (const char *)c + k->off;
		int col = fprintf(f, "%s = ", k->name);
		switch (k->kind) {
		case K_INT: fprintf(f, "%d\n", *(const int *)p); break;
		case K_FLOAT: print_float(f, *(const float *)p); fputc('\n', f); break;
		case K_BOOL: fprintf(f, "%s\n", *(const int *)p ? "yes" : "no"); break;
		case K_STR: case K_RAWFMT: print_value(f, p, (size_t)col); fputc('\n', f); break;
		case K_MODE: fprintf(f, "0%03o\n", *(const unsigned *)p); break;
		case K_LOGLEVEL: fprintf(f, "%s\n", drsn__log_level_name(*(const int *)p)); break;
		case K_ONEOF: fprintf(f, "%s\n", *(const int *)p ? "exit" : "stay"); break;
		case K_CLASSIFY: fprintf(f, "%s\n", *(const int *)p ? "denoised" : "raw"); break;
		}
	}
	fprintf(f, "\n[thresholds]\n");
	for (int i = 0; i < c->n_thresholds; i++)
	{
		drsn__label_put_conf_key(f, c->thresholds[i].label);
		fputs(" = ", f);
		print_float(f, c->thresholds[i].value);
		fputc('\n', f);
	}
	const struct drsn__cfg_plugins *pc = &c->plugins;
	fprintf(f, "\n[plugins]\ndir = ");
	print_value(f, pc->dir, 6);
	fprintf(f, "\nload =");
	for (int i = 0; i < pc->n_load; i++)
		fprintf(f, "%s %s", i ? "," : "", pc->load[i]);
	fprintf(f, "\n");
	for (int s = 0; s < pc->n_sections; s++) {
		fprintf(f, "\n[plugin %s]\n", pc->sections[s].name);
		for (int i = 0; i < pc->sections[s].n_kv; i++) {
			const char *k, *v, *w, *k2, *v2, *w2;
			drsn__config_plugin_kv(c, s, i, &k, &v, &w);
			/* a key given again (--set after the file): only its last
			 * value, as a file may give each key once */
			int again = 0;
			for (int j = i + 1; j < pc->sections[s].n_kv && !again; j++) {
				drsn__config_plugin_kv(c, s, j, &k2, &v2, &w2);
				again = !strcmp(k, k2);
			}
			if (again)
				continue;
			if (secret_key(k) && v[0]) {
				fprintf(f, "; %s = (set; not printed)\n", k);
				continue;
			}
			int col = fprintf(f, "%s = ", k);
			print_value(f, v, (size_t)col);
			fputc('\n', f);
		}
	}
}
