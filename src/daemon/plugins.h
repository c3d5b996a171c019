/*
 * drsnd's plugin loader: the host side of include/drsn/plugin.h.
 *
 * For every name in [plugins] load, in order:
 *   name must be [a-z0-9_-]+ (no '/', no '..'); the file is exactly
 *   <[plugins] dir>/<name>.so, never anything else
 *   -> dlopen(RTLD_NOW | RTLD_LOCAL)
 *   -> DRSN_PLUGIN_ABI_SYMBOL() must return DRSN_PLUGIN_ABI_VERSION
 *   -> only then DRSN_PLUGIN_ENTRY_SYMBOL(): struct version, name and the
 *      required callbacks (create, destroy) are checked
 *   -> create() with the host table and the [plugin NAME] section
 *   -> start() if the plugin has one.
 * Any failure is logged as an error naming the plugin, the file and the
 * reason ("built for ABI 2, drsnd speaks 1", "missing symbol
 * drsn_plugin_entry", dlerror()'s text, the plugin's own create message) and
 * the daemon runs on without that plugin.
 *
 * Each plugin gets its own host table (host_data = its slot) so host->log
 * can prefix "plugin NAME:"; pipeline_create() builds a pipeline on the
 * daemon's current model with its current [detect] settings
 * (drsn__daemon_pipeline), i.e. the detections a local stream gets.
 *
 * Life cycle on the daemon's loop thread:
 *   drsn__plugins_load() at start (after the model, before the loop runs),
 *   drsn__plugins_event()/_audio() as things happen, drsn__plugins_model()
 *   when a reload swapped the model (before the old one is freed),
 *   drsn__plugins_stop() when the daemon stops (every destroy(); the loop
 *   then runs until the plugins' handles have closed),
 *   drsn__plugins_free() after the loop returned (dlclose).
 */
#ifndef DRSN_DAEMON_PLUGINS_H
#define DRSN_DAEMON_PLUGINS_H

#include <stdint.h>
#include <stdio.h>

#include "daemon/config.h"
#include "drsn/plugin.h"

struct uv_loop_s;
struct drsn__plugins;

/* Load every plugin of c->plugins.load. cfg must stay valid (and is read
 * again by pipeline_create: pass the daemon's running config); model may be
 * NULL. instance (NULL or "" = none; must stay valid) is host->instance,
 * drsnd --instance NAME. Failures of single plugins are logged and kept for
 * drsn__plugins_error(); only -ENOMEM fails the whole call. */
int drsn__plugins_load(struct drsn__plugins **out, struct uv_loop_s *loop,
		       const struct drsn__config *cfg, const drsn_model *model, const char *instance);

/* Plugins that loaded and run, and their names (for status). */
int drsn__plugins_count(const struct drsn__plugins *ps);
const char *drsn__plugins_name(const struct drsn__plugins *ps, int i);

/* Why plugin NAME did not load ("plugin NAME (PATH): reason"), or NULL if it
 * loaded or was never asked for. */
const char *drsn__plugins_error(const struct drsn__plugins *ps, const char *name);

/* OR of the running plugins' wants (DRSN_PLUGIN_WANT_*). */
uint32_t drsn__plugins_wants(const struct drsn__plugins *ps);

/* Hand an event / an audio block to every running plugin that takes it. */
void drsn__plugins_event(struct drsn__plugins *ps, const drsn_plugin_event *ev);
void drsn__plugins_audio(struct drsn__plugins *ps, const drsn_plugin_audio *a);

/* A reload replaced the model (m may be NULL): on_model() on every plugin,
 * then host->model() returns m. Call before the old model is freed. */
void drsn__plugins_model(struct drsn__plugins *ps, const drsn_model *m);

/* destroy() every running plugin (once; later calls do nothing). */
void drsn__plugins_stop(struct drsn__plugins *ps);

/* Stop if not yet, dlclose every module, free. Call after the loop has run
 * the plugins' close callbacks. NULL is fine. */
void drsn__plugins_free(struct drsn__plugins *ps);

/* What --check-config can see without creating plugins: every name in load
 * has a loadable module in dir with the right ABI and entry (errors), and
 * every [plugin NAME] section belongs to a loaded plugin (warnings).
 * 0 or -EINVAL. */
int drsn__plugins_check(const struct drsn__config *c, struct drsn__cfg_errors *errs,
			struct drsn__cfg_errors *warnings);

/* --check-config, after drsn__plugins_check() passed: create() and destroy()
 * each plugin in load whose wants has DRSN_PLUGIN_CHECK_CONFIG (its create()
 * only reads config and model: exec), with model (may be NULL), the host
 * and instance names a run gives them (drsnd --instance) and no loop;
 * a create() that fails is an error with its message. 0 or -EINVAL. */
int drsn__plugins_check_create(const struct drsn__config *c, const drsn_model *model, const char *instance,
			       struct drsn__cfg_errors *errs);

/* drsnd --list-plugins: every NAME.so in the plugin dir with its
 * description (or why it cannot load), "(load)" for those in [plugins] load,
 * and load names without a file. 0 or a negative errno (no dir). */
int drsn__plugins_list(const struct drsn__config *c, FILE *f);

#endif
