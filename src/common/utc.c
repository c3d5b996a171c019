#include "common/utc.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* Days since 1970-01-01 to a proleptic Gregorian date: eras of 400 years
 * (146097 days) starting on March 1st, so a leap day is the last day of its
 * year. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;                   /* days since 0000-03-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;              /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;   /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                 /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;            /* [0, 11], March = 0 */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int drsn__utc_stamp(double t, char *buf, size_t n)
{
	if (n < DRSN__UTC_STAMP_SIZE) {
		if (n > 0)
			buf[0] = '\0';
		return -ENOSPC;
	}
	int rc = 0;
	if (isnan(t)) {
		t = 0;
		rc = -ERANGE;
	} else if (t < DRSN__UTC_MIN) {
		t = DRSN__UTC_MIN;
		rc = -ERANGE;
	} else if (t > DRSN__UTC_MAX) {
		t = DRSN__UTC_MAX;
		rc = -ERANGE;
	}
	/* |t| < 2^38 here: t * 1000 < 2^48, an exact whole number of ms once
	 * rounded (to the nearest: at year 9999 doubles are 30 us apart, and
	 * DRSN__UTC_MAX is stored as ...799.99899) */
	int64_t msec = llround(t * 1000);
	int64_t sec = (msec >= 0 ? msec : msec - 999) / 1000;
	int ms = (int)(msec - sec * 1000);            /* [0, 999] */
	int64_t days = (sec >= 0 ? sec : sec - 86399) / 86400;
	int64_t sod = sec - days * 86400;            /* [0, 86399] */
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, n, "%04d%02d%02dT%02d%02d%02d.%03dZ", (int)y, m, d, (int)(sod / 3600),
		 (int)(sod / 60 % 60), (int)(sod % 60), ms);
	return rc;
}
