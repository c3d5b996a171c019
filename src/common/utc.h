/* UTC time stamps from a Unix time held in a double (seconds since the
 * epoch, drsn_plugin_event.wall_time), without time_t or gmtime(): a 32-bit
 * time_t (a program or library built for armhf Debian 12 without
 * _TIME_BITS=64) stops at 2038-01-19T03:14:07Z. The calendar is computed in
 * 64-bit integers (days to civil date, proleptic Gregorian). */
#ifndef DRSN_COMMON_UTC_H
#define DRSN_COMMON_UTC_H

#include <stddef.h>

/* "YYYYmmddTHHMMSS.mmmZ" + NUL: 21 bytes, always 4-digit years. */
#define DRSN__UTC_STAMP_SIZE 21

/* The range drsn__utc_stamp writes: 0001-01-01T00:00:00.000Z to
 * 9999-12-31T23:59:59.999Z. */
#define DRSN__UTC_MIN (-62135596800.0)
#define DRSN__UTC_MAX 253402300799.999

/* Write t as "YYYYmmddTHHMMSS.mmmZ" (e.g. 20400101T000000.000Z, t rounded
 * to the nearest millisecond) into buf of n bytes. 0; or
 * -ERANGE for a t outside [DRSN__UTC_MIN, DRSN__UTC_MAX] (a clock set to
 * garbage) or not a number: buf then holds the nearest bound (NaN: the
 * epoch), still a valid stamp; -ENOSPC (buf untouched, or "" when n > 0)
 * when n < DRSN__UTC_STAMP_SIZE. */
int drsn__utc_stamp(double t, char *buf, size_t n);

#endif
