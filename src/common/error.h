/* Internal helpers for filling a drsn_error. */
#ifndef DRSN_SRC_COMMON_ERROR_H
#define DRSN_SRC_COMMON_ERROR_H

#include "drsn/common.h"

/* Set err (if not NULL) to code and a printf-style message; returns code. */
int drsn__fail(drsn_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear err (if not NULL). */
void drsn__error_clear(drsn_error *err);

#endif
