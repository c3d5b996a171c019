#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "daemon/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Atomic int g_level = DRSN_LOG_WARNING;
/* A copy of stderr made by drsn__log_init, never closed: lines go there, so
 * a hush (fd 2 redirected by another thread) never captures them. */
static _Atomic int g_fd = -1;
/* 1: fd 2 is the journal's stream (lines get "<N>" prefixes), 0: it is not,
 * -1: not known yet (before drsn__log_init). */
static _Atomic int g_journal = -1;

/* Is fd the stream systemd connected to the journal? JOURNAL_STREAM holds
 * its "device:inode" (systemd.exec(5)); the variable alone is not enough: a
 * child of a service inherits it with its stderr sent elsewhere, e.g. to a
 * file, which must get plain lines. */
static int on_journal(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char end;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2 || fstat(fd, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void drsn__log_init(void)
{
	if (atomic_load(&g_fd) < 0) {
		atomic_store(&g_journal, on_journal(2));
		atomic_store(&g_fd, fcntl(2, F_DUPFD_CLOEXEC, 3));
	}
}

static const char *const names[] = {"error", "warning", "info", "debug"};
/* sd-daemon priorities: LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7. */
static const int prio[] = {3, 4, 6, 7};

void drsn__log_set_level(enum drsn__log_level l)
{
	atomic_store(&g_level, (int)l);
}

enum drsn__log_level drsn__log_get_level(void)
{
	return (enum drsn__log_level)atomic_load(&g_level);
}

int drsn__log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	if (!strcmp(s, "warn"))
		return DRSN_LOG_WARNING;
	return -1;
}

const char *drsn__log_level_name(enum drsn__log_level l)
{
	return (unsigned)l < 4 ? names[l] : "?";
}

static void vlog(const char *name, int priority, const char *fmt, va_list ap)
{
	char line[1024];
	int off;
	int journal = atomic_load(&g_journal);
	if (journal < 0)
		journal = on_journal(2);
	if (journal)
		off = snprintf(line, sizeof line, "<%d>", priority);
	else
		off = snprintf(line, sizeof line, "drsnd: %s: ", name);
	vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
	int fd = atomic_load(&g_fd);
	if (fd < 0)
		fd = 2;   /* not through stdio's stderr: that may be hush.h's filter */
	size_t n = strlen(line);
	line[n++] = '\n';   /* vsnprintf left room: n < sizeof line */
	for (size_t done = 0; done < n;) {   /* one write: lines of threads do not mix */
		ssize_t w = write(fd, line + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;   /* nowhere else to report it */
		done += (size_t)w;
	}
}

void drsn__log(enum drsn__log_level l, const char *fmt, ...)
{
	if ((int)l > atomic_load(&g_level))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(names[l], prio[l], fmt, ap);
	va_end(ap);
}

void drsn__log_notice(const char *fmt, ...)
{
	if (atomic_load(&g_level) < DRSN_LOG_WARNING)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("notice", 5, fmt, ap);   /* sd-daemon LOG_NOTICE */
	va_end(ap);
}
