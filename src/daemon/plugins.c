#include "daemon/plugins.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "common/error.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "drsn/drsn.h"

#define MSG_MAX 1024

struct plugin {
	char name[DRSN_CFG_PLUGIN_NAME_MAX];
	char path[PATH_MAX];
	void *dl;                 /* open until drsn__plugins_free */
	const drsn_plugin *p;
	void *self;
	int live;                 /* created (and started): gets callbacks */
	char error[MSG_MAX];      /* why it did not load, "" if it did */
	drsn_plugin_host host;    /* host_data = this slot */
	struct drsn__plugins *set;
};

struct drsn__plugins {
	uv_loop_t *loop;
	const struct drsn__config *cfg;
	const drsn_model *model;
	char hostname[256];
	const char *instance;     /* --instance NAME, or NULL */
	int n;
	struct plugin pl[DRSN_CFG_MAX_PLUGINS];
	int stopped;
};

/* ---- the host table -------------------------------------------------------- */

static void host_log(const drsn_plugin_host *h, int level, const char *fmt, ...)
{
	const struct plugin *pl = h->host_data;
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (level == DRSN_PLUGIN_LOG_NOTICE) {
		drsn__log_notice("plugin %s: %s", pl->name, msg);
		return;
	}
	if (level < DRSN_PLUGIN_LOG_ERROR)
		level = DRSN_PLUGIN_LOG_ERROR;
	if (level > DRSN_PLUGIN_LOG_DEBUG)
		level = DRSN_PLUGIN_LOG_DEBUG;
	/* enum drsn_plugin_log_level mirrors enum drsn__log_level */
	drsn__log((enum drsn__log_level)level, "plugin %s: %s", pl->name, msg);
}

static const drsn_model *host_model(const drsn_plugin_host *h)
{
	const struct plugin *pl = h->host_data;
	return pl->set->model;
}

static int host_model_sample_rate(const drsn_model *m)
{
	return m ? drsn_model_features_params(m)->sample_rate : 0;
}

static int host_pipeline_create(const drsn_plugin_host *h, drsn_pipeline **out, drsn_error *err)
{
	const struct plugin *pl = h->host_data;
	*out = NULL;
	if (!pl->set->model)
		return drsn__fail(err, -ENOENT, "drsnd runs without a model ([model] path is empty)");
	return drsn__daemon_pipeline(pl->set->cfg, pl->set->model, out, err);
}

static void host_fill(struct plugin *pl, struct drsn__plugins *ps)
{
	pl->set = ps;
	pl->host = (drsn_plugin_host){
		.version = DRSN_PLUGIN_HOST_VERSION,
		.loop = ps->loop,
		.daemon_version = drsn_version(),
		.hostname = ps->hostname,
		.log = host_log,
		.model = host_model,
		.model_n_labels = drsn_model_n_labels,
		.model_label = drsn_model_label,
		.model_sample_rate = host_model_sample_rate,
		.pipeline_create = host_pipeline_create,
		.pipeline_destroy = drsn_pipeline_destroy,
		.pipeline_push = drsn_pipeline_push,
		.pipeline_reset = drsn_pipeline_reset,
		.pipeline_time = drsn_pipeline_time,
		.host_data = pl,
		.instance = ps->instance,
	};
}

/* ---- opening a module -------------------------------------------------------- */

/* Whoever may write the folder or the module decides what code drsnd runs:
 * a folder or module that anyone may write (mode o+w, also a sticky /tmp:
 * anyone can add NAME.so there), or that belongs to a user other than root
 * and drsnd's own, is refused. Group write is allowed (a plugin admin
 * group). 0, or -1 with why in msg. A missing one is dlopen's to report. */
static int unsafe(const char *what, const char *p, const char *name, const char *path, char *msg,
		  size_t msg_size)
{
	struct stat st;
	if (stat(p, &st) < 0)
		return 0;
	if (st.st_mode & S_IWOTH) {
		snprintf(msg, msg_size, "plugin %s (%s): refused: the %s %s is writable by anyone (mode %04o)",
			 name, path, what, p, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(msg, msg_size, "plugin %s (%s): refused: the %s %s belongs to uid %u, neither root nor drsnd's user (uid %u)",
			 name, path, what, p, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	return 0;
}

/* Steps 1-2 of plugin.h for name in dir: the module open and its struct
 * checked. 0, or -1 with why in msg ("plugin NAME (PATH): ..."). */
static int open_module(const char *dir, const char *name, char *path, size_t path_size,
		       void **dl_out, const drsn_plugin **p_out, char *msg, size_t msg_size)
{
	*dl_out = NULL;
	*p_out = NULL;
	path[0] = '\0';
	if (!drsn__config_plugin_name_ok(name)) {
		snprintf(msg, msg_size, "plugin '%s': refused: not a plugin name (only a-z, 0-9, '_' and '-'; plugins are only loaded from %s)",
			 name, dir);
		return -1;
	}
	int len = snprintf(path, path_size, "%s/%s.so", dir, name);
	if (len < 0 || (size_t)len >= path_size) {
		snprintf(msg, msg_size, "plugin %s: refused: the path in %.200s is too long", name, dir);
		path[0] = '\0';
		return -1;
	}
	if (unsafe("folder", dir, name, path, msg, msg_size) < 0 ||
	    unsafe("module", path, name, path, msg, msg_size) < 0)
		return -1;
	dlerror();
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		snprintf(msg, msg_size, "plugin %s (%s): cannot load: %s", name, path, e ? e : "dlopen failed");
		return -1;
	}
	union { void *obj; drsn_plugin_abi_fn abi; drsn_plugin_entry_fn entry; } sym;
	sym.obj = dlsym(dl, DRSN_PLUGIN_ABI_SYMBOL);
	if (!sym.obj) {
		snprintf(msg, msg_size, "plugin %s (%s): missing symbol %s: not a drsnd plugin", name, path,
			 DRSN_PLUGIN_ABI_SYMBOL);
		goto fail;
	}
	uint32_t abi = sym.abi();
	if (abi != DRSN_PLUGIN_ABI_VERSION) {
		snprintf(msg, msg_size, "plugin %s (%s): built for ABI %u, drsnd speaks %u", name, path,
			 (unsigned)abi, (unsigned)DRSN_PLUGIN_ABI_VERSION);
		goto fail;
	}
	sym.obj = dlsym(dl, DRSN_PLUGIN_ENTRY_SYMBOL);
	if (!sym.obj) {
		snprintf(msg, msg_size, "plugin %s (%s): missing symbol %s", name, path, DRSN_PLUGIN_ENTRY_SYMBOL);
		goto fail;
	}
	const drsn_plugin *p = sym.entry();
	if (!p) {
		snprintf(msg, msg_size, "plugin %s (%s): %s() returned NULL", name, path, DRSN_PLUGIN_ENTRY_SYMBOL);
		goto fail;
	}
	if (p->version != DRSN_PLUGIN_ABI_VERSION) {
		snprintf(msg, msg_size, "plugin %s (%s): its struct drsn_plugin is version %u, drsnd speaks %u",
			 name, path, (unsigned)p->version, (unsigned)DRSN_PLUGIN_ABI_VERSION);
		goto fail;
	}
	const char *missing = !p->name || !p->name[0] ? "name" : !p->create ? "create()" : !p->destroy ? "destroy()" : NULL;
	if (missing) {
		snprintf(msg, msg_size, "plugin %s (%s): missing required %s in struct drsn_plugin", name, path,
			 missing);
		goto fail;
	}
	*dl_out = dl;
	*p_out = p;
	return 0;
fail:
	dlclose(dl);
	return -1;
}

/* ---- loading ------------------------------------------------------------------- */

/* The [plugin NAME] section, in order, into kv (its strings live in the config). */
static drsn_plugin_config section_config(const struct drsn__config *c, const char *name,
					 drsn_plugin_kv kv[DRSN_CFG_MAX_PLUGIN_KEYS])
{
	int s = drsn__config_plugin_section(c, name);
	int n = s < 0 ? 0 : c->plugins.sections[s].n_kv;
	for (int i = 0; i < n; i++)
		drsn__config_plugin_kv(c, s, i, &kv[i].key, &kv[i].value, &kv[i].where);
	return (drsn_plugin_config){.name = name, .n = n, .kv = kv};
}

static void load_one(struct drsn__plugins *ps, struct plugin *pl)
{
	const struct drsn__config *c = ps->cfg;
	const char *dir = drsn__config_plugin_dir(c);
	char msg[MSG_MAX - 128];
	if (open_module(dir, pl->name, pl->path, sizeof pl->path, &pl->dl, &pl->p, pl->error,
			sizeof pl->error) < 0)
		goto failed;

	drsn_plugin_kv kv[DRSN_CFG_MAX_PLUGIN_KEYS];
	drsn_plugin_config pc = section_config(c, pl->name, kv);

	msg[0] = '\0';
	int rc = pl->p->create(&pl->self, &pl->host, &pc, msg, sizeof msg);
	if (rc < 0) {
		snprintf(pl->error, sizeof pl->error, "plugin %s (%.400s): create failed: %.500s", pl->name, pl->path,
			 msg[0] ? msg : strerror(-rc));
		/* nothing of it runs: its code can go */
		dlclose(pl->dl);
		pl->dl = NULL;
		goto failed;
	}
	if (pl->p->start) {
		msg[0] = '\0';
		rc = pl->p->start(pl->self, ps->loop, msg, sizeof msg);
		if (rc < 0) {
			snprintf(pl->error, sizeof pl->error, "plugin %s (%.400s): start failed: %.500s", pl->name,
				 pl->path, msg[0] ? msg : strerror(-rc));
			/* its close callbacks may still run: the module stays open */
			pl->p->destroy(pl->self);
			pl->self = NULL;
			goto failed;
		}
	}
	pl->live = 1;
	log_info("plugin %s (%s): loaded%s%s", pl->name, pl->path, pl->p->description ? ": " : "",
		 pl->p->description ? pl->p->description : "");
	return;
failed:
	log_err("%s; drsnd runs on without it", pl->error);
}

/* What the host table tells plugins of this drsnd: its host and instance
 * names (the same for a run and for --check-config). */
static void set_identity(struct drsn__plugins *ps, const struct drsn__config *cfg, const drsn_model *model,
			 const char *instance)
{
	ps->instance = instance && instance[0] ? instance : NULL;
	ps->cfg = cfg;
	ps->model = model;
	if (gethostname(ps->hostname, sizeof ps->hostname - 1) < 0)
		snprintf(ps->hostname, sizeof ps->hostname, "localhost");
}

int drsn__plugins_load(struct drsn__plugins **out, struct uv_loop_s *loop,
		       const struct drsn__config *cfg, const drsn_model *model, const char *instance)
{
	struct drsn__plugins *ps = calloc(1, sizeof *ps);
	*out = ps;
	if (!ps)
		return -ENOMEM;
	set_identity(ps, cfg, model, instance);
	ps->loop = loop;
	for (int i = 0; i < cfg->plugins.n_load && i < DRSN_CFG_MAX_PLUGINS; i++) {
		struct plugin *pl = &ps->pl[ps->n++];
		snprintf(pl->name, sizeof pl->name, "%s", cfg->plugins.load[i]);
		host_fill(pl, ps);
		load_one(ps, pl);
	}
	return 0;
}

int drsn__plugins_count(const struct drsn__plugins *ps)
{
	int n = 0;
	for (int i = 0; ps && i < ps->n; i++)
		n += ps->pl[i].live;
	return n;
}

const char *drsn__plugins_name(const struct drsn__plugins *ps, int i)
{
	for (int k = 0; ps && k < ps->n; k++)
		if (ps->pl[k].live && i-- == 0)
			return ps->pl[k].name;
	return NULL;
}

const char *drsn__plugins_error(const struct drsn__plugins *ps, const char *name)
{
	for (int k = 0; ps && k < ps->n; k++)
		if (!strcmp(ps->pl[k].name, name))
			return ps->pl[k].error[0] ? ps->pl[k].error : NULL;
	return NULL;
}

uint32_t drsn__plugins_wants(const struct drsn__plugins *ps)
{
	uint32_t w = 0;
	for (int k = 0; ps && k < ps->n; k++)
		if (ps->pl[k].live)
			w |= ps->pl[k].p->wants;
	return w;
}

void drsn__plugins_event(struct drsn__plugins *ps, const drsn_plugin_event *ev)
{
	/* a reset only to those that asked: older plugins never see the type */
	uint32_t need = ev->type == DRSN_PLUGIN_EVENT_RESET ? DRSN_PLUGIN_WANT_RESETS : 0;
	for (int k = 0; ps && k < ps->n; k++)
		if (ps->pl[k].live && ps->pl[k].p->on_event && (ps->pl[k].p->wants & need) == need)
			ps->pl[k].p->on_event(ps->pl[k].self, ev);
}

void drsn__plugins_audio(struct drsn__plugins *ps, const drsn_plugin_audio *a)
{
	uint32_t bit = a->denoised ? DRSN_PLUGIN_WANT_DENOISED_AUDIO : DRSN_PLUGIN_WANT_RAW_AUDIO;
	for (int k = 0; ps && k < ps->n; k++)
		if (ps->pl[k].live && ps->pl[k].p->on_audio && (ps->pl[k].p->wants & bit))
			ps->pl[k].p->on_audio(ps->pl[k].self, a);
}

void drsn__plugins_model(struct drsn__plugins *ps, const drsn_model *m)
{
	if (!ps)
		return;
	ps->model = m;
	for (int k = 0; k < ps->n; k++)
		if (ps->pl[k].live && ps->pl[k].p->on_model)
			ps->pl[k].p->on_model(ps->pl[k].self, m);
}

void drsn__plugins_stop(struct drsn__plugins *ps)
{
	if (!ps || ps->stopped)
		return;
	ps->stopped = 1;
	for (int k = 0; k < ps->n; k++) {
		struct plugin *pl = &ps->pl[k];
		if (!pl->live)
			continue;
		pl->live = 0;
		pl->p->destroy(pl->self);
		pl->self = NULL;
		log_info("plugin %s: stopped", pl->name);
	}
}

void drsn__plugins_free(struct drsn__plugins *ps)
{
	if (!ps)
		return;
	drsn__plugins_stop(ps);
	for (int k = 0; k < ps->n; k++)
		if (ps->pl[k].dl)
			dlclose(ps->pl[k].dl);
	free(ps);
}

/* ---- --check-config ------------------------------------------------------------- */

int drsn__plugins_check(const struct drsn__config *c, struct drsn__cfg_errors *errs,
			struct drsn__cfg_errors *warnings)
{
	const struct drsn__cfg_plugins *pc = &c->plugins;
	const char *dir = drsn__config_plugin_dir(c);
	int rc = 0;
	for (int i = 0; i < pc->n_load; i++) {
		char path[PATH_MAX], msg[MSG_MAX];
		void *dl;
		const drsn_plugin *p;
		if (open_module(dir, pc->load[i], path, sizeof path, &dl, &p, msg, sizeof msg) < 0) {
			if (path[0] && access(path, F_OK) < 0)
				drsn__cfg_error(errs, "%s: [plugins] load: no plugin '%s' in %.200s (%.200s: %s)",
						pc->load_where, pc->load[i], dir, path, strerror(errno));
			else
				drsn__cfg_error(errs, "%s: [plugins] load: %.200s", pc->load_where, msg);
			rc = -EINVAL;
			continue;
		}
		dlclose(dl);
	}
	for (int s = 0; s < pc->n_sections; s++) {
		int loaded = 0;
		for (int i = 0; i < pc->n_load; i++)
			loaded |= !strcmp(pc->load[i], pc->sections[s].name);
		if (!loaded)
			drsn__cfg_error(warnings, "%s: [plugin %s]: '%s' is not in [plugins] load: its keys are not used",
					pc->sections[s].where, pc->sections[s].name, pc->sections[s].name);
	}
	return rc;
}

static void quiet_log(const drsn_plugin_host *h, int level, const char *fmt, ...)
{
	(void)h;
	(void)level;
	(void)fmt;
}

int drsn__plugins_check_create(const struct drsn__config *c, const drsn_model *model, const char *instance,
			       struct drsn__cfg_errors *errs)
{
	struct drsn__plugins *ps = calloc(1, sizeof *ps);
	if (!ps)
		return -ENOMEM;
	set_identity(ps, c, model, instance);
	const char *dir = drsn__config_plugin_dir(c);
	int rc = 0;
	for (int i = 0; i < c->plugins.n_load && i < DRSN_CFG_MAX_PLUGINS; i++) {
		struct plugin *pl = &ps->pl[ps->n++];
		snprintf(pl->name, sizeof pl->name, "%s", c->plugins.load[i]);
		host_fill(pl, ps);
		pl->host.log = quiet_log;
		if (open_module(dir, pl->name, pl->path, sizeof pl->path, &pl->dl, &pl->p, pl->error,
				sizeof pl->error) < 0)
			continue;   /* drsn__plugins_check() reported it */
		if (pl->p->wants & DRSN_PLUGIN_CHECK_CONFIG) {
			drsn_plugin_kv kv[DRSN_CFG_MAX_PLUGIN_KEYS];
			drsn_plugin_config pc = section_config(c, pl->name, kv);
			char msg[MSG_MAX - 128] = "";
			int r = pl->p->create(&pl->self, &pl->host, &pc, msg, sizeof msg);
			if (r < 0) {
				drsn__cfg_error(errs, "plugin %s: %s", pl->name, msg[0] ? msg : strerror(-r));
				rc = -EINVAL;
			} else {
				pl->p->destroy(pl->self);
			}
		}
		dlclose(pl->dl);
	}
	free(ps);
	return rc;
}

/* ---- --list-plugins --------------------------------------------------------------- */

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int drsn__plugins_list(const struct drsn__config *c, FILE *f)
{
	const char *dir = drsn__config_plugin_dir(c);
	DIR *d = opendir(dir);
	if (!d && errno == ENOENT && !c->plugins.dir[0] && !c->plugins.n_load) {
		/* the default folder of a drsnd that is not installed (a build
		 * tree): no plugin, which is not an error when none is asked for */
		fprintf(f, "plugins in %s (ABI %u): none (no such folder: no plugin is installed; "
			"set [plugins] dir to a folder of NAME.so files)\n", dir, (unsigned)DRSN_PLUGIN_ABI_VERSION);
		return 0;
	}
	if (!d) {
		int rc = -errno;
		fprintf(stderr, "drsnd: [plugins] dir %s: %s\n", dir, strerror(errno));
		return rc;
	}
	char *names[256];
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 256) {
		size_t len = strlen(de->d_name);
		if (len > 3 && !strcmp(de->d_name + len - 3, ".so") && (names[n] = strndup(de->d_name, len - 3)))
			n++;
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, by_str);
	fprintf(f, "plugins in %s (ABI %u):\n", dir, (unsigned)DRSN_PLUGIN_ABI_VERSION);
	for (int i = 0; i < n; i++) {
		int loaded = 0;
		for (int k = 0; k < c->plugins.n_load; k++)
			loaded |= !strcmp(c->plugins.load[k], names[i]);
		char path[PATH_MAX], msg[MSG_MAX];
		void *dl;
		const drsn_plugin *p;
		if (open_module(dir, names[i], path, sizeof path, &dl, &p, msg, sizeof msg) < 0) {
			fprintf(f, "  %-16s %-7s unusable: %s\n", names[i], loaded ? "(load)" : "", msg);
		} else {
			fprintf(f, "  %-16s %-7s %s\n", names[i], loaded ? "(load)" : "",
				p->description ? p->description : "");
			dlclose(dl);
		}
		free(names[i]);
	}
	for (int k = 0; k < c->plugins.n_load; k++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s.so", dir, c->plugins.load[k]);
		if (access(path, F_OK) < 0)
			fprintf(f, "  %-16s %-7s missing: no %s\n", c->plugins.load[k], "(load)", path);
	}
	return 0;
}
