#include "common/plugin_kv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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
