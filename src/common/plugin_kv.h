/* A plugin's [plugin NAME] values read the same way in every plugin
 * (plugins link this from drsn_plugin_helpers, not libdrsn). */
#ifndef DRSN_COMMON_PLUGIN_KV_H
#define DRSN_COMMON_PLUGIN_KV_H

#include <stddef.h>

#include "drsn/plugin.h"

/* kv's value as a decimal integer in [lo, hi] into *out: 0; or -EINVAL
 * with "WHERE: [plugin NAME] KEY: 'VALUE' is not an integer in [lo, hi]"
 * in err (n bytes). */
int drsn__plugin_kv_int(const drsn_plugin_kv *kv, const char *plugin, long lo, long hi, int *out,
			char *err, size_t n);

#endif
