/*
 * Output files that replace their path only once complete (internal).
 */
#ifndef DRSN_SRC_COMMON_OUTFILE_H
#define DRSN_SRC_COMMON_OUTFILE_H

#include "drsn/common.h"

/* A file written beside the one it replaces and renamed over it once complete,
 * so that path is never truncated, half written or removed: a failed write
 * leaves whatever path held before. The .npy writer (drsn features -o) and drsn
 * denoise's WAV and CSV outputs use it. */
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

/* Stop signals (a program's choice, e.g. drsn's main): from this call on,
 * SIGINT, SIGTERM, SIGHUP and SIGPIPE remove every temporary file an open
 * outfile holds (each path stays as it was) and then kill the process by
 * that signal as before. A signal the caller ignores (nohup, a background
 * job) stays ignored. Each temporary file is known to the handler from its
 * creation on, and commit renames it with these signals held, so a signal
 * never leaves one behind nor removes a file already renamed. Without this
 * call the functions above touch no signal state. At most 520 outfiles may
 * be open at once while it is in force (-EMFILE beyond): two for each of
 * drsn's up to 256 threads. Threads may open, commit and discard outfiles
 * at once; holding signals holds them for the calling thread. */
void drsn__outfile_catch_signals(void);

/* Blocks (hold 1) or unblocks (hold 0) those signals, nested, for a program
 * that commits several outfiles and wants either none or all renamed when a
 * signal comes. Does nothing unless drsn__outfile_catch_signals() ran. */
void drsn__outfile_hold_signals(int hold);

#endif
