#include "common/unixsock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>   /* uv_strerror only: drsnd and its plugins have libuv */

__attribute__((format(printf, 4, 5)))
static int fail(char *msg, size_t n, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
	return code;
}

int drsn__unix_parse_mode(const char *s, unsigned *mode)
{
	char *end;
	errno = 0;
	unsigned long m = strtoul(s, &end, 8);
	if (errno || end == s || *end || m > 0777)
		return -EINVAL;
	*mode = (unsigned)m;
	return 0;
}

int drsn__unix_probe(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	int e = errno;
	close(fd);
	if (rc == 0)
		return 1;
	if (e == ECONNREFUSED)
		return 0;
	return -e;
}

int drsn__unix_check_dir(const char *path, const char *key, char *msg, size_t n)
{
	char dir[108];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;         /* relative: the working directory */
	slash[slash == dir] = '\0';   /* "/x.sock" -> "/" */
	struct stat st;
	if (stat(dir, &st) < 0) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR)
			return fail(msg, n, -ENOENT, "%s: socket directory does not exist "
				    "(create it, or set %s)", dir, key);
		return fail(msg, n, -e, "%s: cannot reach the socket directory: %s", dir, strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return fail(msg, n, -ENOTDIR,
			    "%s: is not a directory, so the socket cannot go there (set %s)", dir, key);
	return 0;
}

int drsn__unix_clear_stale(const char *path, int *removed, char *msg, size_t n)
{
	struct stat st;
	*removed = 0;
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return fail(msg, n, -EEXIST, "%s: exists and is not a socket; not touching it", path);
	int live = drsn__unix_probe(path);
	if (live > 0)
		return fail(msg, n, -EADDRINUSE, "%s: another daemon is listening there", path);
	if (live < 0)
		return fail(msg, n, live, "%s: cannot probe the existing socket: %s", path,
			    strerror(-live));
	if (unlink(path) < 0)
		return fail(msg, n, -errno, "%s: cannot remove the stale socket: %s", path,
			    strerror(errno));
	*removed = 1;
	return 0;
}

/* 32 random bits for a temporary name; the clock and a counter when the
 * kernel has none to give yet (early boot). */
static unsigned tmp_random(void)
{
	static _Atomic unsigned counter;
	unsigned r;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
		return r;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned)ts.tv_nsec ^ ((unsigned)ts.tv_sec << 20) ^
	       (atomic_fetch_add(&counter, 1) * 0x9e3779b9u);
}

int drsn__unix_listen(const char *path, unsigned mode, gid_t gid, const char *group, int backlog,
		      int *fd_out, struct drsn__unix_id *id, char *msg, size_t n)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	const char *base = strrchr(path, '/');
	int dir_len = base ? (int)(base - path) + 1 : 0;
	const char *tmp = a.sun_path;
	struct stat st;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(msg, n, -errno, "%s: socket: %s", path, strerror(errno));
	int rc;
	if (fchmod(fd, mode & 0700) < 0) {
		rc = fail(msg, n, -errno, "%s: fchmod: %s", path, strerror(errno));
		goto fail;
	}
	/* "DIR/.drsnd-PID-RANDOM~", a name nobody else uses: never one that
	 * is there (bind refuses it), so never another process's socket in the
	 * making. The pid alone is not enough: drsnd in two containers sharing
	 * the socket folder are both pid 1, and one used to remove the other's
	 * temporary socket and bind its own there, which the other then linked
	 * to its path. Short, so it fits for all but the longest paths. */
	int bound = -EADDRINUSE;
	for (int tries = 0; tries < 16 && bound == -EADDRINUSE; tries++) {
		if (snprintf(a.sun_path, sizeof a.sun_path, "%.*s.drsnd-%ld-%08x~", dir_len, path,
			     (long)getpid(), tmp_random()) >= (int)sizeof a.sun_path) {
			rc = fail(msg, n, -ENAMETOOLONG, "%s: socket directory name too long "
				  "for the temporary socket name", path);
			goto fail;
		}
		bound = bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ? -errno : 0;
	}
	if (bound < 0) {
		rc = bound;
		/* the file made is in the directory: name it, and who cannot write
		 * there (a container's arbitrary uid, a read-only root) */
		int dl = dir_len > 1 ? dir_len - 1 : dir_len;
		const char *d = dir_len ? path : ".";
		if (!dir_len)
			dl = 1;
		if (rc == -EACCES || rc == -EPERM)
			fail(msg, n, rc, "%s: cannot bind: %s (uid %ld may not create files in %.*s)",
			     path, uv_strerror(rc), (long)geteuid(), dl, d);
		else if (rc == -EROFS)
			fail(msg, n, rc, "%s: cannot bind: %s (%.*s is on a read-only mount: the "
			     "socket directory must be writable)", path, uv_strerror(rc), dl, d);
		else
			fail(msg, n, rc, "%s: cannot bind: %s", path, uv_strerror(rc));
		goto fail;
	}
	if (gid != (gid_t)-1 && chown(tmp, (uid_t)-1, gid) < 0) {
		rc = -errno;
		if (rc == -EPERM)
			fail(msg, n, rc, "%s: chown to group '%s': %s (uid %ld is not a member of "
			     "'%s': drsnd's user must be one, e.g. SupplementaryGroups=%s in the "
			     "systemd unit, or set another group)", path, group, strerror(-rc),
			     (long)geteuid(), group, group);
		else
			fail(msg, n, rc, "%s: chown to group '%s': %s", path, group, strerror(-rc));
		goto fail_bound;
	}
	if (chmod(tmp, mode) < 0) {
		rc = fail(msg, n, -errno, "%s: chmod %04o: %s", path, mode, strerror(errno));
		goto fail_bound;
	}
	if (listen(fd, backlog) < 0) {
		rc = fail(msg, n, -errno, "%s: cannot listen: %s", path, strerror(errno));
		goto fail_bound;
	}
	/* the file that goes to path: its identity, for drsn__unix_remove */
	if (lstat(tmp, &st) < 0) {
		rc = fail(msg, n, -errno, "%s: stat %s: %s", path, tmp, strerror(errno));
		goto fail_bound;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	/* link, not rename: like bind, it never replaces a socket another
	 * daemon made meanwhile */
	if (link(tmp, path) < 0) {
		rc = -errno;
		if (rc == -EEXIST)
			rc = fail(msg, n, -EADDRINUSE, "%s: another daemon made this socket meanwhile",
				  path);
		else
			fail(msg, n, rc, "%s: cannot link %s there: %s", path, tmp, strerror(-rc));
		goto fail_bound;
	}
	unlink(tmp);
	*fd_out = fd;
	return 0;
fail_bound:
	unlink(tmp);
fail:
	close(fd);
	return rc;
}

int drsn__unix_remove(const char *path, const struct drsn__unix_id *id)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode) || st.st_dev != id->dev || st.st_ino != id->ino)
		return 0;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 1;
}
