/*
 * Where the default model is: the one answer that drsn, drsnd and the tests
 * share (see drsn_default_model_path in drsn/model.h).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/source_tree.h"
#include "drsn/model.h"
#include "drsn_config.h"

#define SOURCE_MODEL "models/kws20-drsn-cw.safetensors"

static char source_model[PATH_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void find_source_model(void)
{
	const char *root = drsn__source_root();
	if (root)
		snprintf(source_model, sizeof source_model, "%s/%s", root, SOURCE_MODEL);
}

DRSN_API const char *drsn_default_model_path(void)
{
	const char *env = getenv("DRSN_MODEL");

	if (env && *env)
		return env;
	if (access(DRSN_DEFAULT_MODEL, F_OK) == 0)
		return DRSN_DEFAULT_MODEL;
	/* An uninstalled build: the model shipped in its source tree. */
	pthread_once(&once, find_source_model);
	if (source_model[0] && access(source_model, F_OK) == 0)
		return source_model;
	return DRSN_DEFAULT_MODEL;
}
