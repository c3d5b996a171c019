/* cJSON parsing for the library (json.c). */
#ifndef DRSN_SRC_COMMON_JSON_H
#define DRSN_SRC_COMMON_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* cJSON_ParseWithLengthOpts(s, len, end, require_null_terminated) under a
 * process-wide lock: every cJSON parse writes cJSON's one global error
 * record, so two unserialised parses (two threads loading models) are a
 * data race. Every parse of the library goes through here. For a
 * NUL-terminated s, pass len = strlen(s) + 1 (as cJSON_ParseWithOpts does). */
cJSON *drsn__json_parse(const char *s, size_t len, const char **end, int require_null_terminated);

#endif
