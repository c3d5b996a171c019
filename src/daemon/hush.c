/* Host-library stderr kept out of the log (see hush.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "daemon/hush.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/log.h"

#define KEEP_MAX (64 * 1024)   /* bytes of captured text looked at */

/* Hushes in progress: fd 2 is a capture, stdio's stderr writes there raw. */
static _Atomic int g_hushing;

void drsn__hush_begin(struct drsn__hush *h)
{
	h->saved_fd = h->capture_fd = -1;
	fflush(stderr);
	int fd = memfd_create("drsnd-hush", MFD_CLOEXEC);
	if (fd < 0)
		return;
	int saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (saved < 0 || dup2(fd, 2) < 0) {
		if (saved >= 0)
			close(saved);
		close(fd);
		return;
	}
	h->saved_fd = saved;
	h->capture_fd = fd;
	atomic_fetch_add(&g_hushing, 1);
}

/* A line drsnd's own log wrote: "drsnd: ..." or, under systemd, "<N>...". */
static int own_line(const char *s)
{
	return !strncmp(s, "drsnd: ", 7) || (s[0] == '<' && isdigit((unsigned char)s[1]) && s[2] == '>');
}

int drsn__hush_end(struct drsn__hush *h, const char *what)
{
	if (h->saved_fd < 0)
		return 0;
	fflush(stderr);
	/* stdio's filter logs again before fd 2 is back (and began to send text
	 * to fd 2 only once it was the capture): no raw line in between */
	atomic_fetch_sub(&g_hushing, 1);
	dup2(h->saved_fd, 2);
	close(h->saved_fd);
	h->saved_fd = -1;

	char *buf = malloc(KEEP_MAX + 1);
	ssize_t n = buf ? pread(h->capture_fd, buf, KEEP_MAX, 0) : -1;
	close(h->capture_fd);
	h->capture_fd = -1;
	if (n <= 0) {
		free(buf);
		return 0;
	}
	buf[n] = 0;
	int lines = 0;
	for (char *s = buf, *nl; *s; s = nl ? nl + 1 : s + strlen(s)) {
		nl = strchr(s, '\n');
		if (nl)
			*nl = 0;
		if (!*s)
			continue;
		lines++;
		if (own_line(s))
			fprintf(stderr, "%s\n", s);
		else
			log_debug("%s: %s", what, s);
	}
	free(buf);
	return lines;
}

static void write_fd2(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(2, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Who printed a line outside a hush: known chatter goes to the debug log
 * (*level), anything else may be a library's last word before an abort and
 * stays visible at warning level. */
static const char *line_source(const char *s, enum drsn__log_level *level)
{
	*level = DRSN_LOG_DEBUG;
	if (!strncmp(s, "Expression '", 12) && strstr(s, "' failed in '"))
		return "PortAudio";   /* its PA_ENSURE trace: the error itself comes back as a PaError */
	if (!strncmp(s, "ALSA lib ", 9))
		return "alsa-lib";
	if (strcasestr(s, "jack"))
		return "JACK";
	*level = DRSN_LOG_WARNING;
	return "host library";
}

static char pending[1024];            /* a line not yet ended; under the FILE's lock */
static size_t pending_len;

static void filter_line(char *s)
{
	if (!*s)
		return;
	if (own_line(s)) {
		size_t n = strlen(s);
		s[n] = '\n';
		write_fd2(s, n + 1);
		s[n] = 0;
		return;
	}
	enum drsn__log_level level;
	const char *who = line_source(s, &level);
	drsn__log(level, "%s: %s", who, s);   /* never through stdio (log.c) */
}

/* stdio's stderr: called with the FILE locked (stdio locks around each call). */
static ssize_t filter_write(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	if (atomic_load(&g_hushing) > 0) {
		write_fd2(buf, size);   /* fd 2 is a capture: the hush logs it */
		return (ssize_t)size;
	}
	for (size_t i = 0; i < size; i++) {
		if (buf[i] != '\n' && pending_len < sizeof pending - 1) {
			pending[pending_len++] = buf[i];
			if (pending_len < sizeof pending - 1)
				continue;
		}
		pending[pending_len] = 0;   /* a newline, or a line too long: out it goes */
		pending_len = 0;
		filter_line(pending);
	}
	return (ssize_t)size;
}

int drsn__hush_stdio(void)
{
	static const cookie_io_functions_t io = {.write = filter_write};
	FILE *f = fopencookie(NULL, "w", io);
	if (!f)
		return -errno;
	setvbuf(f, NULL, _IONBF, 0);
	fflush(stderr);
	stderr = f;   /* the old one stays open: fd 2 is still the real stderr */
	return 0;
}
