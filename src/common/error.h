/* Internal helpers for filling a drsn_error. */
#ifndef DRSN_SRC_COMMON_ERROR_H
#define DRSN_SRC_COMMON_ERROR_H

#include "drsn/common.h"

/* Set err (if not NULL) to code and a printf-style message; returns code. */
int drsn__fail(drsn_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* For a public function's required pointer argument: if arg is NULL, fill
 * err with "FUNCTION: arg is NULL" and return -EINVAL (drsn/common.h). */
#define DRSN__REQUIRE(err, arg)                                                            \
	do {                                                                               \
		if (!(arg))                                                                \
			return drsn__fail((err), -EINVAL, "%s: %s is NULL", __func__, #arg); \
	} while (0)

/* Clear err (if not NULL). */
void drsn__error_clear(drsn_error *err);

#endif
