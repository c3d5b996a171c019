#include "daemon/config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/log.h"
#include "drsn/model.h"
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
};

#define O(f) offsetof(struct drsn__config, f)
#define S(f) sizeof(((struct drsn__config *)0)->f)

static const struct key keys[] = {
	{"daemon", "log_level", K_LOGLEVEL, O(log_level), 0, 0, 0},
	{"daemon", "status_interval_ms", K_INT, O(status_interval_ms), 0, 0, 3600000},
	{"socket", "path", K_STR, O(socket_path), S(socket_path), 0, 0},
	{"socket", "mode", K_MODE, O(socket_mode), 0, 0, 0777},
	{"socket", "group", K_STR, O(socket_group), S(socket_group), 0, 0},
	{"socket", "max_clients", K_INT, O(max_clients), 0, 1, 4096},
	{"socket", "max_line", K_INT, O(max_line), 0, 64, 1 << 20},
	{"socket", "client_queue", K_INT, O(client_queue), 0, 4096, 64 << 20},
	{"socket", "flood_errors", K_INT, O(flood_errors), 0, 1, 1000000},
	{"model", "path", K_STR, O(model_path), S(model_path), 0, 0},
	{"audio", "source", K_STR, O(source), S(source), 0, 0},
	{"audio", "realtime", K_BOOL, O(realtime), 0, 0, 0},
	{"audio", "on_eof", K_ONEOF, O(on_eof_exit), 0, 0, 0},
	{"audio", "raw_format", K_RAWFMT, O(raw_format), S(raw_format), 0, 0},
	{"audio", "raw_rate", K_INT, O(raw_rate), 0, 1000, 768000},
	{"audio", "raw_channels", K_INT, O(raw_channels), 0, 1, 64},
	{"audio", "device_rate", K_INT, O(device_rate), 0, 0, 768000},
	{"audio", "latency_ms", K_INT, O(latency_ms), 0, 0, 2000},
	{"audio", "ring_ms", K_INT, O(ring_ms), 0, 10, 60000},
	{"audio", "retry_min_ms", K_INT, O(retry_min_ms), 0, 10, 3600000},
	{"audio", "retry_max_ms", K_INT, O(retry_max_ms), 0, 10, 3600000},
	{"audio", "stall_ms", K_INT, O(stall_ms), 0, 100, 600000},
	{"detect", "inference_hop_ms", K_INT, O(inference_hop_ms), 0, 10, 10000},
	{"detect", "smoothing_ms", K_INT, O(smoothing_ms), 0, 0, 10000},
	{"detect", "threshold", K_FLOAT, O(threshold), 0, 0, 1},
	{"detect", "refractory_ms", K_INT, O(refractory_ms), 0, 0, 60000},
	{"detect", "vad", K_BOOL, O(vad), 0, 0, 0},
	{"detect", "vad_threshold_db", K_FLOAT, O(vad_threshold_db), 0, -150, 0},
	{"detect", "vad_hangover_ms", K_INT, O(vad_hangover_ms), 0, 0, 10000},
	{"detect", "level_interval_ms", K_INT, O(level_interval_ms), 0, 10, 60000},
	{"denoise", "classify_on", K_CLASSIFY, O(classify_on_denoised), 0, 0, 0},
	{"denoise", "strength", K_FLOAT, O(denoise_strength_db), 0, 0, 100},
	{"denoise", "pcm_socket", K_STR, O(pcm_socket), S(pcm_socket), 0, 0},
	{"denoise", "pcm_queue_ms", K_INT, O(pcm_queue_ms), 0, 100, 600000},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static const char *const raw_formats[] = {
	"u8", "s8", "s16le", "s16be", "s24le", "s24be", "s32le", "s32be",
	"f32le", "f32be", "f64le", "f64be",
};

void drsn__cfg_error(struct drsn__cfg_errors *errs, const char *fmt, ...)
{
	if (!errs || errs->n >= DRSN_CFG_MAX_ERRORS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errs->msg[errs->n++], sizeof errs->msg[0], fmt, ap);
	va_end(ap);
}

void drsn__config_defaults(struct drsn__config *c)
{
	memset(c, 0, sizeof *c);
	c->log_level = DRSN_LOG_WARNING;
	c->status_interval_ms = 10000;
	snprintf(c->socket_path, sizeof c->socket_path, "/run/drsnd/drsnd.sock");
	c->socket_mode = 0660;
	c->max_clients = 64;
	c->max_line = 4096;
	c->client_queue = 256 * 1024;
	c->flood_errors = 20;
	snprintf(c->model_path, sizeof c->model_path, "%s", drsn_default_model_path());
	snprintf(c->source, sizeof c->source, "pa:");
	c->realtime = 1;
	c->on_eof_exit = 0;
	snprintf(c->raw_format, sizeof c->raw_format, "s16le");
	c->raw_rate = 16000;
	c->raw_channels = 1;
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
	float v = strtof(value, &end);
	if (end == value || *end || !isfinite(v) || v < 0 || v > 1) {
		drsn__cfg_error(errs, "%s: [thresholds] %s: '%s' is not a number in [0, 1]",
				where, label, value);
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
	drsn__cfg_error(errs, "%s: [plugins] unknown key '%s' (known: dir, load)", where, key);
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

int drsn__config_set(struct drsn__config *c, const char *section, const char *key,
		     const char *value, const char *where, struct drsn__cfg_errors *errs)
{
	if (!strcmp(section, "thresholds"))
		return set_threshold(c, key, value, where, errs);
	if (!strcmp(section, "plugins"))
		return set_plugins(c, key, value, where, errs);
	if (!strncmp(section, "plugin ", 7) || !strncmp(section, "plugin\t", 7))
		return set_plugin_key(c, section + 7, key, value, where, errs);
	const struct key *k = NULL;
	int known_section = 0;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strcmp(keys[i].section, section))
			continue;
		known_section = 1;
		if (!strcmp(keys[i].name, key))
			k = &keys[i];
	}
	if (!known_section) {
		drsn__cfg_error(errs, "%s: unknown section [%s] (known: daemon, socket, model, audio, detect, denoise, thresholds, plugins, plugin NAME)",
				where, section);
		return -EINVAL;
	}
	if (!k) {
		drsn__cfg_error(errs, "%s: [%s] unknown key '%s'", where, section, key);
		return -EINVAL;
	}
	char *p = (char *)c + k->off;
	long l;
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
		float v = strtof(value, &end);
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
		memcpy(p, value, strlen(value) + 1);
		return 0;
	case K_MODE: {
		char *end;
		errno = 0;
		unsigned long m = strtoul(value, &end, 8);
		if (errno || end == value || *end || m > 0777) {
			drsn__cfg_error(errs, "%s: [%s] %s: '%s' is not an octal mode like 0660",
					where, section, key, value);
			return -EINVAL;
		}
		*(unsigned *)p = (unsigned)m;
		return 0;
	}
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

int drsn__config_set_arg(struct drsn__config *c, const char *arg, struct drsn__cfg_errors *errs)
{
	const char *dot = strchr(arg, '.');
	const char *eq = strchr(arg, '=');
	if (!dot || !eq || dot > eq || dot == arg || eq == dot + 1) {
		drsn__cfg_error(errs, "command line: --set '%s': expected SECTION.KEY=VALUE", arg);
		return -EINVAL;
	}
	char section[64], key[128];
	if ((size_t)(dot - arg) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof key) {
		drsn__cfg_error(errs, "command line: --set '%s': name too long", arg);
		return -EINVAL;
	}
	memcpy(section, arg, (size_t)(dot - arg));
	section[dot - arg] = '\0';
	memcpy(key, dot + 1, (size_t)(eq - dot - 1));
	key[eq - dot - 1] = '\0';
	return drsn__config_set(c, section, key, eq + 1, "command line", errs);
}

/* inih calls our reader once per line: counting calls gives the line number
 * for the handler (Debian's inih is built without INI_HANDLER_LINENO). Lines
 * longer than inih's buffer are reported here instead of being split. */
struct parse {
	struct drsn__config *c;
	struct drsn__cfg_errors *errs;
	const char *name;
	int line;
	int bad;
	/* source: a FILE or a string */
	FILE *f;
	const char *s;
};

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
		} else {
			ch = *p->s ? (unsigned char)*p->s : EOF;
			if (ch != EOF)
				p->s++;
		}
		if (ch == EOF)
			break;
		got = 1;
		if (len < sizeof buf - 1)
			buf[len++] = (char)ch;
		else
			len = sizeof buf;   /* mark overlong */
		if (ch == '\n')
			break;
	}
	if (!got)
		return NULL;
	p->line++;
	if (len >= (size_t)num) {
		drsn__cfg_error(p->errs, "%s:%d: line too long (max %d bytes)", p->name, p->line, num - 2);
		p->bad = 1;
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	memcpy(str, buf, len);
	str[len] = '\0';
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	char where[96];
	snprintf(where, sizeof where, "%s:%d", p->name, p->line);
	if (!section[0]) {
		drsn__cfg_error(p->errs, "%s: key '%s' outside any [section]", where, name);
		p->bad = 1;
		return 1;   /* keep going: report every error */
	}
	if (drsn__config_set(p->c, section, name, value ? value : "", where, p->errs))
		p->bad = 1;
	return 1;
}

static int parse(struct parse *p)
{
	int n_before = p->errs ? p->errs->n : 0;
	int rc = ini_parse_stream(reader, p, handler, p);
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
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		drsn__cfg_error(errs, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	struct parse p = {.c = c, .errs = errs, .name = path, .f = f};
	int rc = parse(&p);
	if (ferror(f)) {
		drsn__cfg_error(errs, "%s: read error", path);
		rc = -EIO;
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

int drsn__config_check(const struct drsn__config *c, struct drsn__cfg_errors *errs)
{
	int rc = 0;
	if (c->retry_min_ms > c->retry_max_ms) {
		drsn__cfg_error(errs, "[audio] retry_min_ms (%d) is larger than retry_max_ms (%d)",
				c->retry_min_ms, c->retry_max_ms);
		rc = -EINVAL;
	}
	if (!c->socket_path[0] || c->socket_path[0] != '/') {
		drsn__cfg_error(errs, "[socket] path: '%s' must be an absolute path", c->socket_path);
		rc = -EINVAL;
	}
	const char *s = c->source;
	if (!strncmp(s, "pa:", 3) || !strncmp(s, "file:", 5) || !strcmp(s, "stdin")) {
		if (!strncmp(s, "file:", 5) && !s[5]) {
			drsn__cfg_error(errs, "[audio] source: 'file:' needs a path");
			rc = -EINVAL;
		}
	} else if (!strncmp(s, "fd:", 3)) {
		long fd;
		if (parse_long(s + 3, &fd) || fd < 0 || fd > INT32_MAX) {
			drsn__cfg_error(errs, "[audio] source: '%s': fd:N needs a file descriptor number", s);
			rc = -EINVAL;
		}
	} else {
		drsn__cfg_error(errs, "[audio] source: '%s' is not pa:[DEVICE], file:PATH, stdin or fd:N", s);
		rc = -EINVAL;
	}
	if (c->pcm_socket[0] && c->pcm_socket[0] != '/') {
		drsn__cfg_error(errs, "[denoise] pcm_socket: '%s' must be an absolute path (or empty)",
				c->pcm_socket);
		rc = -EINVAL;
	}
	if (c->pcm_socket[0] && !strcmp(c->pcm_socket, c->socket_path)) {
		drsn__cfg_error(errs, "[denoise] pcm_socket: '%s' is also [socket] path", c->pcm_socket);
		rc = -EINVAL;
	}
	if (c->smoothing_ms && c->smoothing_ms < c->inference_hop_ms)
		log_debug("[detect] smoothing_ms %d < inference_hop_ms %d: no smoothing",
			  c->smoothing_ms, c->inference_hop_ms);
	return rc;
}

float drsn__config_threshold(const struct drsn__config *c, const char *label)
{
	for (int i = 0; i < c->n_thresholds; i++)
		if (!strcmp(c->thresholds[i].label, label))
			return c->thresholds[i].value;
	return c->threshold;
}

void drsn__config_print(const struct drsn__config *c, FILE *f)
{
	const char *sec = "";
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];
		if (strcmp(sec, k->section))
			fprintf(f, "%s[%s]\n", i ? "\n" : "", sec = k->section);
		const char *p = (const char *)c + k->off;
		fprintf(f, "%s = ", k->name);
		switch (k->kind) {
		case K_INT: fprintf(f, "%d\n", *(const int *)p); break;
		case K_FLOAT: fprintf(f, "%g\n", *(const float *)p); break;
		case K_BOOL: fprintf(f, "%s\n", *(const int *)p ? "yes" : "no"); break;
		case K_STR: case K_RAWFMT: fprintf(f, "%s\n", p); break;
		case K_MODE: fprintf(f, "0%03o\n", *(const unsigned *)p); break;
		case K_LOGLEVEL: fprintf(f, "%s\n", drsn__log_level_name(*(const int *)p)); break;
		case K_ONEOF: fprintf(f, "%s\n", *(const int *)p ? "exit" : "stay"); break;
		case K_CLASSIFY: fprintf(f, "%s\n", *(const int *)p ? "denoised" : "raw"); break;
		}
	}
	fprintf(f, "\n[thresholds]\n");
	for (int i = 0; i < c->n_thresholds; i++)
		fprintf(f, "%s = %g\n", c->thresholds[i].label, c->thresholds[i].value);
	const struct drsn__cfg_plugins *pc = &c->plugins;
	fprintf(f, "\n[plugins]\ndir = %s\nload =", pc->dir);
	for (int i = 0; i < pc->n_load; i++)
		fprintf(f, "%s %s", i ? "," : "", pc->load[i]);
	fprintf(f, "\n");
	for (int s = 0; s < pc->n_sections; s++) {
		fprintf(f, "\n[plugin %s]\n", pc->sections[s].name);
		for (int i = 0; i < pc->sections[s].n_kv; i++) {
			const char *k, *v, *w;
			drsn__config_plugin_kv(c, s, i, &k, &v, &w);
			fprintf(f, "%s = %s\n", k, v);
		}
	}
}
