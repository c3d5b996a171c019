#include "common/cnum.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t c_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

/* glibc hands out its built-in "C" locale object here (no allocation); it
 * could only fail for lack of memory, and then the conversions below run in
 * the thread's own locale as before. */
static void c_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Switch the calling thread to "C"; returns what to give back to uselocale,
 * (locale_t)0 when nothing was switched. */
static locale_t enter_c(void)
{
	pthread_once(&c_once, c_init);
	return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c(locale_t old)
{
	if (old)
		uselocale(old);
}

int drsn__vsnprintf_c(char *buf, size_t n, const char *fmt, va_list ap)
{
	locale_t old = enter_c();
	int r = vsnprintf(buf, n, fmt, ap);
	leave_c(old);
	return r;
}

int drsn__snprintf_c(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = drsn__vsnprintf_c(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

float drsn__strtof_c(const char *s, char **end)
{
	locale_t old = enter_c();
	float v = strtof(s, end);
	leave_c(old);
	return v;
}

double drsn__strtod_c(const char *s, char **end)
{
	locale_t old = enter_c();
	double v = strtod(s, end);
	leave_c(old);
	return v;
}

char *drsn__float_str_c(char *buf, float v)
{
	locale_t old = enter_c();
	for (int prec = 6; prec <= 9; prec++) {
		snprintf(buf, DRSN__FLOAT_CHARS, "%.*g", prec, (double)v);
		if (strtof(buf, NULL) == v)
			break;
	}
	leave_c(old);
	return buf;
}
