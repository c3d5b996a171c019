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

/* kv's value as a boolean (yes/no, true/false, on/off, 1/0, any case) into
 * *out (1/0): 0; or -EINVAL with "WHERE: [plugin NAME] KEY: 'VALUE' is not
 * a boolean (yes/no, true/false, on/off, 1/0)" in err. */
int drsn__plugin_kv_bool(const drsn_plugin_kv *kv, const char *plugin, int *out, char *err, size_t n);

#endif
