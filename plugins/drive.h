/*
 * What the plugin test drivers (mqtt-drive, recorder-drive) share: the
 * loader's steps as drsnd takes them (ABI version first, then the entry), and
 * a host table's log ("[level] plugin NAME: ...", NAME = host_data) and
 * model (none) callbacks. Header-only: each driver is one program.
 */
#ifndef DRSN_PLUGINS_DRIVE_H
#define DRSN_PLUGINS_DRIVE_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>

#include "drsn/plugin.h"

/* The plugin in the module at path (*so: the module, for dlclose once it is
 * destroyed), NULL (said on stderr, as "who: ...") if it cannot be loaded,
 * has another ABI or lacks create/destroy. */
static const drsn_plugin *drive_load(const char *who, const char *path, void **so)
{
	*so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*so) {
		fprintf(stderr, "%s: %s\n", who, dlerror());
		return NULL;
	}
	drsn_plugin_abi_fn abi = (drsn_plugin_abi_fn)dlsym(*so, DRSN_PLUGIN_ABI_SYMBOL);
	if (!abi || abi() != DRSN_PLUGIN_ABI_VERSION) {
		fprintf(stderr, "%s: %s: no or wrong ABI version\n", who, path);
		return NULL;
	}
	drsn_plugin_entry_fn entry = (drsn_plugin_entry_fn)dlsym(*so, DRSN_PLUGIN_ENTRY_SYMBOL);
	const drsn_plugin *pl = entry ? entry() : NULL;
	if (!pl || pl->version != DRSN_PLUGIN_ABI_VERSION || !pl->create || !pl->destroy) {
		fprintf(stderr, "%s: %s: bad entry\n", who, path);
		return NULL;
	}
	return pl;
}

static void drive_log(const drsn_plugin_host *h, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void drive_log(const drsn_plugin_host *h, int level, const char *fmt, ...)
{
	static const char *const level_names[] = {"error", "warn", "info", "debug", "notice"};
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[%s] plugin %s: ", (unsigned)level <= DRSN_PLUGIN_LOG_NOTICE ? level_names[level] : "?",
		(const char *)h->host_data);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const drsn_model *drive_no_model(const drsn_plugin_host *h)
{
	(void)h;
	return NULL;
}

#endif
