/* Numbers as text in the "C" locale (cnum.c), whatever locale the process or
 * the calling thread is in. A program that embeds libdrsn and calls
 * setlocale(LC_ALL, "") in a German or French locale makes printf's %g write
 * "0,025" (not JSON) and strtof stop at the '.' of "0.025" (reading 0). The
 * library, drsnd and the plugins convert every number that goes into or comes
 * out of JSON, a config file or a file name through here; messages for people
 * keep the user's locale. Thread-safe: the "C" locale is switched in for the
 * calling thread only (uselocale), never with setlocale. cJSON (1.7.15)
 * already parses and prints numbers with '.' in any locale. */
#ifndef DRSN_SRC_COMMON_CNUM_H
#define DRSN_SRC_COMMON_CNUM_H

#include <stdarg.h>
#include <stddef.h>

/* snprintf / vsnprintf with the "C" locale's '.' */
int drsn__snprintf_c(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int drsn__vsnprintf_c(char *buf, size_t n, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* strtof / strtod reading '.' as the decimal point */
float drsn__strtof_c(const char *s, char **end);
double drsn__strtod_c(const char *s, char **end);

/* The shortest of %.6g .. %.9g that drsn__strtof_c reads back as v ("0.8",
 * not "0.800000012"; "1e-06"; 0.123456789 not cut to 0.123457). buf needs
 * DRSN__FLOAT_CHARS bytes. Returns buf. */
#define DRSN__FLOAT_CHARS 32
char *drsn__float_str_c(char *buf, float v);

#endif
