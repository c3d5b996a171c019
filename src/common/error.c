#include "common/error.h"
#include "drsn/version.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

DRSN_API const char *drsn_version(void)
{
	return DRSN_VERSION_STRING;
}

DRSN_API int drsn_version_number(void)
{
	return DRSN_VERSION_NUMBER;
}

DRSN_API const char *drsn_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case -ENOENT: return "no such file";
	case -EACCES: return "permission denied";
	case -EINVAL: return "invalid argument";
	case -ENOMEM: return "out of memory";
	case -EIO: return "input/output error";
	case -EBADMSG: return "corrupt or truncated data";
	case -ENOTSUP: return "unsupported format";
	case -ENODATA: return "no data";
	case -ERANGE: return "value out of range";
	case -EOVERFLOW: return "overflow";
	case -ENOSPC: return "no space left in buffer";
	case -EAGAIN: return "try again";
	case -EPROTO: return "protocol error";
	default: break;
	}
	/* -INT_MIN overflows: it is no errno anyway */
	return err < 0 && err != INT_MIN ? strerror(-err) : "unknown error";
}

int drsn__fail(drsn_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return code;
}

void drsn__error_clear(drsn_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
