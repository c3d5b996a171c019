/*
 * Output files that replace their path only once complete (internal).
 */
#ifndef DRSN_SRC_COMMON_OUTFILE_H
#define DRSN_SRC_COMMON_OUTFILE_H

#include "drsn/common.h"

/* A file written beside the one it replaces and renamed over it once complete,
 * so that path is never truncated, half written or removed: a failed write
 * leaves whatever path held before. The .npy writer and drsn denoise's WAV and
 * CSV outputs use it. */
typedef struct drsn__outfile {
	char *path;   /* what to replace: the given path, a symbolic link resolved */
	char *tmp;    /* PATH.XXXXXX in path's folder; NULL: path is written in place */
	int fd;       /* open for writing; the caller closes it */
} drsn__outfile;

/* Opens a new temporary file beside path, with path's permission bits if it
 * exists (else 0666 less the umask). A path that exists and is not a regular
 * file (a device such as /dev/null, a FIFO) is opened in place, truncated,
 * as fopen "w" would. 0, or -errno with err naming path. */
int drsn__outfile_open(drsn__outfile *o, const char *path, drsn_error *err);

/* After the caller closed o->fd: renames the temporary file over path (on
 * failure it is removed). Always frees o's strings. 0 or -errno. */
int drsn__outfile_commit(drsn__outfile *o, drsn_error *err);

/* Gives up: removes the temporary file (never path) and frees o's strings.
 * Does not close o->fd. Safe on a zeroed o and after commit. */
void drsn__outfile_discard(drsn__outfile *o);

#endif
