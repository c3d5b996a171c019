#include "common/json.h"

#include <pthread.h>

static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

cJSON *drsn__json_parse(const char *s, size_t len, const char **end, int require_null_terminated)
{
	pthread_mutex_lock(&parse_lock);
	cJSON *r = cJSON_ParseWithLengthOpts(s, len, end, require_null_terminated);
	pthread_mutex_unlock(&parse_lock);
	return r;
}
