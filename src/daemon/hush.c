/* Host-library stderr kept out of the log (see hush.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "daemon/hush.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/log.h"

#define KEEP_MAX (64 * 1024)   /* bytes of captured text looked at */

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
