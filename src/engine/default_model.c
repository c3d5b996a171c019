/*
 * Where the default model is: the one answer that drsn, drsnd and the tests
 * share (see drsn_default_model_path in drsn/model.h).
 */
#include <stdlib.h>
#include <unistd.h>

#include "drsn/model.h"
#include "drsn_config.h"

DRSN_API const char *drsn_default_model_path(void)
{
	const char *env = getenv("DRSN_MODEL");

	if (env && *env)
		return env;
	if (access(DRSN_DEFAULT_MODEL, F_OK) == 0)
		return DRSN_DEFAULT_MODEL;
	/* An uninstalled build: the model shipped in the source tree. */
	if (access(DRSN_SOURCE_MODEL, F_OK) == 0)
		return DRSN_SOURCE_MODEL;
	return DRSN_DEFAULT_MODEL;
}
