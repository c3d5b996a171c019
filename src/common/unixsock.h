/* Listening Unix sockets that appear only with their final mode and group:
 * drsnd's [socket] path and [denoise] pcm_socket, and plugins that listen
 * on one (wyoming's uri = unix://...). A small static library (unixsock),
 * linked by drsnd and by such plugins; it needs neither libdrsn nor libuv
 * (the caller wraps the fd with uv_pipe_open). Messages go into a buffer
 * of n bytes and name the path; functions return 0 or a negative errno. */
#ifndef DRSN_SRC_COMMON_UNIXSOCK_H
#define DRSN_SRC_COMMON_UNIXSOCK_H

#include <stddef.h>
#include <sys/types.h>

/* Which file a socket drsn__unix_listen made is: drsn__unix_remove removes
 * path only while it is still that file. */
struct drsn__unix_id {
	dev_t dev;
	ino_t ino;
};

/* A socket mode as the config gives it: octal, at most 0777 ("0660").
 * 0 and *mode, or -EINVAL. */
int drsn__unix_parse_mode(const char *s, unsigned *mode);

/* Is someone accepting connections on path? 1 yes, 0 no (stale), <0 errno. */
int drsn__unix_probe(const char *path);

/* The directory of path must exist (bind() reports a missing one as ENOENT,
 * which libuv turns into EACCES). key: the config key that sets path, for
 * the advice in the message. */
int drsn__unix_check_dir(const char *path, const char *key, char *msg, size_t n);

/* Make path free for a new socket: nothing there, or a socket nobody
 * answers on (removed; *removed set to 1). Anything else, a live socket or
 * one that cannot be probed is an error. */
int drsn__unix_clear_stale(const char *path, int *removed, char *msg, size_t n);

/* A listening socket at path with its final mode and group from the start:
 * it is bound under a temporary name in the same directory (a random one
 * that does not exist: never another process's socket), created with
 * the owner's bits only (fchmod before bind: Linux gives the new file the
 * socket's mode less the umask), given its group (gid, unless (gid_t)-1;
 * group: its name, for messages) and then its mode, and linked to path once
 * it listens. Nobody can connect with more rights than configured, nor
 * through path before it is ready. 0 and *fd_out (blocking, close-on-exec),
 * or -errno with msg set (-EADDRINUSE: path appeared meanwhile). *id: the
 * file made, for drsn__unix_remove. */
int drsn__unix_listen(const char *path, unsigned mode, gid_t gid, const char *group, int backlog,
		      int *fd_out, struct drsn__unix_id *id, char *msg, size_t n);

/* Remove the socket drsn__unix_listen made at path (at stop), but only if
 * path is still that file: when someone removed it meanwhile and another
 * daemon made its socket there (a second instance with the same path), that
 * daemon's live socket stays. 1 removed, 0 path is gone or another file,
 * -errno. */
int drsn__unix_remove(const char *path, const struct drsn__unix_id *id);

#endif
