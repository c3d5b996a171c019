/*
 * drsn/version.h - the version of the headers a program is compiled with,
 * and of the library it runs with.
 *
 * The macros describe the headers; drsn_version() and drsn_version_number()
 * describe the libdrsn the program is running with (the shared library may
 * be newer than the headers). A program that needs a feature added in 0.2.0:
 *
 *     #if DRSN_VERSION_NUMBER < DRSN_VERSION_ENCODE(0, 2, 0)
 *     #error "needs libdrsn >= 0.2.0"
 *     #endif
 *     ...
 *     if (drsn_version_number() < DRSN_VERSION_ENCODE(0, 2, 0)) {
 *         fprintf(stderr, "libdrsn %s is too old (need 0.2.0)\n", drsn_version());
 *         return 1;
 *     }
 *
 * meson.build refuses to configure when these numbers are not its project
 * version. `pkg-config --modversion drsn` prints the same version.
 */
#ifndef DRSN_VERSION_H
#define DRSN_VERSION_H

#include "drsn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DRSN_VERSION_MAJOR 0
#define DRSN_VERSION_MINOR 1
#define DRSN_VERSION_PATCH 0
#define DRSN_VERSION_STRING "0.1.0"

/* One integer that orders versions: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define DRSN_VERSION_ENCODE(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define DRSN_VERSION_NUMBER \
	DRSN_VERSION_ENCODE(DRSN_VERSION_MAJOR, DRSN_VERSION_MINOR, DRSN_VERSION_PATCH)

/* The running library's version as DRSN_VERSION_ENCODE gives it (its
 * drsn_version() string is declared in drsn/common.h). */
DRSN_API int drsn_version_number(void);

#ifdef __cplusplus
}
#endif
#endif
