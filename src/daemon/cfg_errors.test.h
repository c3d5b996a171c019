/* Helpers shared by the cmocka tests that read a drsn__cfg_errors list
 * (config.test.c, plugins.test.c). Test code only. */
#ifndef DRSN_DAEMON_CFG_ERRORS_TEST_H
#define DRSN_DAEMON_CFG_ERRORS_TEST_H

#include <string.h>

#include "daemon/config.h"

/* 1 if one of the collected messages contains needle. */
static inline int has_error(const struct drsn__cfg_errors *e, const char *needle)
{
	for (int i = 0; i < e->n; i++)
		if (strstr(e->msg[i], needle))
			return 1;
	return 0;
}

/* Print every message (for a failing assertion's context). */
static inline void dump(const struct drsn__cfg_errors *e)
{
	for (int i = 0; i < e->n; i++)
		print_message("  %s\n", e->msg[i]);
}

#endif
