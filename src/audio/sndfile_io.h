/* libsndfile on a file descriptor through our own I/O (sf_open_virtual), so
 * that libsndfile never fstat()s the file itself. Debian 12's armhf
 * libsndfile1 is built with a 32-bit time_t: its sf_open_fd() fails with
 * EOVERFLOW ("Value too large for defined data type") on any file whose
 * mtime, atime or ctime is past 2038-01-19, which after that date is every
 * new file. Our fstat()/lseek() have a 64-bit time_t and off_t (meson.build's
 * _TIME_BITS=64), so the callbacks here have no such limit (tests/y2038).
 * Linked into libdrsn and, as a static helper, into the recorder plugin. */
#ifndef DRSN_AUDIO_SNDFILE_IO_H
#define DRSN_AUDIO_SNDFILE_IO_H

#include <sndfile.h>

typedef struct drsn__sfio {
	int fd;
	sf_count_t base;   /* the fd's offset at open: libsndfile's position 0 */
	int err;           /* errno of the last failed read/write/seek, 0 if none */
} drsn__sfio;

/* sf_open_fd(fd, mode, info, SF_FALSE) for a regular file, through io, which
 * must outlive the SNDFILE (until sf_close); the descriptor stays the
 * caller's, to close after sf_close. Anything else (a pipe, a terminal, a
 * socket) goes to sf_open_fd as before: libsndfile has its own handling of
 * streams that cannot seek, which virtual I/O would not have. As with
 * sf_open_fd, a file starts at the descriptor's offset. On failure NULL,
 * with sf_error(NULL), sf_strerror(NULL) and the parse log set as
 * libsndfile's own open would. */
SNDFILE *drsn__sf_open_fd(drsn__sfio *io, int fd, int mode, SF_INFO *info);

#endif
