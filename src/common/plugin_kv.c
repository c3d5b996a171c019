#include "common/plugin_kv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

int drsn__plugin_kv_int(const drsn_plugin_kv *kv, const char *plugin, long lo, long hi, int *out,
			char *err, size_t n)
{
	char *end;
	errno = 0;
	long v = strtol(kv->value, &end, 10);
	if (errno || end == kv->value || *end || v < lo || v > hi) {
		snprintf(err, n, "%s: [plugin %s] %s: '%s' is not an integer in [%ld, %ld]", kv->where, plugin,
			 kv->key, kv->value, lo, hi);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

int drsn__plugin_kv_bool(const drsn_plugin_kv *kv, const char *plugin, int *out, char *err, size_t n)
{
	static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false", "off"};
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(kv->value, yes[i]) || !strcasecmp(kv->value, no[i])) {
			*out = !strcasecmp(kv->value, yes[i]);
			return 0;
		}
	}
	snprintf(err, n, "%s: [plugin %s] %s: '%s' is not a boolean (yes/no, true/false, on/off, 1/0)", kv->where,
		 plugin, kv->key, kv->value);
	return -EINVAL;
}
