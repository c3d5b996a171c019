#include "common/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

/* What writing to path replaces: the target of a symbolic link (the link
 * stays), else path itself. malloc'd, or NULL. */
static char *target_of(const char *path)
{
	struct stat lst;
	if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
		char *real = realpath(path, NULL);
		if (real)
			return real;
	}
	return strdup(path);
}

int drsn__outfile_open(drsn__outfile *o, const char *path, drsn_error *err)
{
	struct stat st;
	int rc;
	memset(o, 0, sizeof *o);
	o->fd = -1;
	if (!*path)
		return drsn__fail(err, -ENOENT, "'': cannot create: %s", strerror(ENOENT));
	int exists = stat(path, &st) == 0;
	if (exists && !S_ISREG(st.st_mode)) {
		/* a device or a FIFO: nothing to replace, and nothing to remove */
		o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (o->fd < 0)
			return drsn__fail(err, -errno, "%s: cannot create: %s", path,
					  strerror(errno));
		return 0;
	}
	/* A file we could not write in place is not ours to replace either. */
	if (exists && access(path, W_OK) < 0)
		return drsn__fail(err, -errno, "%s: cannot write: %s", path, strerror(errno));
	o->path = target_of(path);
	size_t n = o->path ? strlen(o->path) + 8 : 0;
	o->tmp = o->path ? malloc(n) : NULL;
	if (!o->tmp) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	snprintf(o->tmp, n, "%s.XXXXXX", o->path);
	o->fd = mkostemp(o->tmp, O_CLOEXEC);   /* 0600, a name no one else has */
	if (o->fd < 0) {
		rc = drsn__fail(err, -errno, "%s: cannot create a file in its folder: %s", path,
				strerror(errno));
		free(o->tmp);   /* not created: nothing to remove */
		o->tmp = NULL;
		goto fail;
	}
	/* the replaced file's permissions, or a new file's (0666 less the umask) */
	mode_t mode;
	if (exists) {
		mode = st.st_mode & 07777;
	} else {
		mode_t mask = umask(0);
		umask(mask);
		mode = 0666 & ~mask;
	}
	if (fchmod(o->fd, mode) < 0) {
		rc = drsn__fail(err, -errno, "%s: cannot set the permissions of %s: %s", path,
				o->tmp, strerror(errno));
		close(o->fd);
		goto fail;
	}
	return 0;
fail:
	drsn__outfile_discard(o);
	o->fd = -1;
	return rc;
}

int drsn__outfile_commit(drsn__outfile *o, drsn_error *err)
{
	int rc = 0;
	if (o->tmp) {
		if (rename(o->tmp, o->path) < 0)
			rc = drsn__fail(err, -errno, "%s: cannot replace it with %s: %s", o->path,
					o->tmp, strerror(errno));
		else
			o->tmp[0] = '\0';   /* renamed: nothing left to remove */
	}
	drsn__outfile_discard(o);
	return rc;
}

void drsn__outfile_discard(drsn__outfile *o)
{
	if (o->tmp && o->tmp[0])
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	o->tmp = NULL;
	o->path = NULL;
}
