#include "common/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"

/* ---- stop signals: the temporary files being written, for on_stop ------ */

/* Two a file (OUT and OUT.csv), for each of up to 256 threads of drsn's
 * -j (src/cli/jobs.c). live_lock guards taking and freeing a slot between
 * threads; on_stop reads them without it (a handler cannot wait). */
#define MAX_LIVE 520
static const char *volatile live[MAX_LIVE];
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
/* A stop and a file being created on another thread (-j: the handler runs
 * on the main thread): the creator marks its slot, then looks at stopping;
 * on_stop sets stopping, then waits for marked slots. Sequentially
 * consistent, so either the creator sees stopping and creates nothing, or
 * on_stop sees the mark and waits until the name is in live[]. */
static _Atomic int stopping;
static _Atomic unsigned char creating[MAX_LIVE];
static int catching;      /* drsn__outfile_catch_signals ran */
static _Thread_local int hold_depth;   /* the signal mask is a thread's own */
static _Thread_local sigset_t held_from;   /* the mask before the outer hold */
static const int stop_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
#define N_STOP_SIGS (sizeof stop_sigs / sizeof stop_sigs[0])

static void on_stop(int sig)
{
	stopping = 1;
	for (int i = 0; i < MAX_LIVE; i++) {
		/* a creation under way on another thread: its name is there in
		 * microseconds (1 s at most, for a stalled file system) */
		for (int ms = 0; creating[i] && ms < 1000; ms++)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
		const char *t = live[i];
		if (t && t[0])
			unlink(t);
	}
	signal(sig, SIG_DFL);
	raise(sig);   /* delivered as the handler returns */
}

void drsn__outfile_catch_signals(void)
{
	struct sigaction old, sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_STOP_SIGS; i++)
		sigaddset(&sa.sa_mask, stop_sigs[i]);
	for (size_t i = 0; i < N_STOP_SIGS; i++)
		if (sigaction(stop_sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(stop_sigs[i], &sa, NULL);
	catching = 1;
}

void drsn__outfile_hold_signals(int hold)
{
	if (!catching || (hold ? hold_depth++ > 0 : --hold_depth > 0))
		return;
	if (!hold) {   /* back to what it was: a -j worker keeps them blocked */
		pthread_sigmask(SIG_SETMASK, &held_from, NULL);
		return;
	}
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < N_STOP_SIGS; i++)
		sigaddset(&set, stop_sigs[i]);
	pthread_sigmask(SIG_BLOCK, &set, &held_from);
}

/* The umask, without changing it: umask() sets it for the whole process,
 * and with drsn -j another thread may be creating a folder meanwhile
 * (which would get 0777). Linux shows it in /proc/self/status since 4.7. */
static mode_t process_umask(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	FILE *f = fopen("/proc/self/status", "re");
	if (f) {
		char line[256];
		unsigned m;
		while (fgets(line, sizeof line, f)) {
			if (sscanf(line, "Umask: %o", &m) == 1) {
				fclose(f);
				return (mode_t)m;
			}
		}
		fclose(f);
	}
	pthread_mutex_lock(&lock);   /* older kernels: the two calls, at least one thread at a time */
	mode_t mask = umask(0);
	umask(mask);
	pthread_mutex_unlock(&lock);
	return mask;
}

/* The slot of live[] that holds tmp (NULL: a free one), or -1. */
static int live_slot(const char *tmp)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] == tmp)
			return i;
	return -1;
}

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
	/* created and known to on_stop at once */
	drsn__outfile_hold_signals(1);
	pthread_mutex_lock(&live_lock);
	int slot = catching ? live_slot(NULL) : -1;
	if (slot >= 0)
		live[slot] = "";   /* taken: filled in below */
	pthread_mutex_unlock(&live_lock);
	if (catching && slot < 0) {
		drsn__outfile_hold_signals(0);
		rc = drsn__fail(err, -EMFILE, "%s: too many output files open at once", path);
		free(o->tmp);
		o->tmp = NULL;
		goto fail;
	}
	int e = EINTR;
	if (slot >= 0)
		creating[slot] = 1;
	if (slot < 0 || !stopping) {
		o->fd = mkostemp(o->tmp, O_CLOEXEC);   /* 0600, a name no one else has */
		e = errno;
	}
	if (slot >= 0) {
		pthread_mutex_lock(&live_lock);
		live[slot] = o->fd >= 0 ? o->tmp : NULL;
		pthread_mutex_unlock(&live_lock);
		creating[slot] = 0;
	}
	drsn__outfile_hold_signals(0);
	if (o->fd < 0) {
		rc = drsn__fail(err, -e, "%s: cannot create a file in its folder: %s", path,
				strerror(e));
		free(o->tmp);   /* not created: nothing to remove */
		o->tmp = NULL;
		goto fail;
	}
	/* the replaced file's permissions, or a new file's (0666 less the umask) */
	mode_t mode;
	if (exists) {
		mode = st.st_mode & 07777;
	} else {
		mode = 0666 & ~process_umask();
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
	drsn__outfile_hold_signals(1);
	if (o->tmp) {
		if (rename(o->tmp, o->path) < 0)
			rc = drsn__fail(err, -errno, "%s: cannot replace it with %s: %s", o->path,
					o->tmp, strerror(errno));
		else
			o->tmp[0] = '\0';   /* renamed: nothing left to remove */
	}
	drsn__outfile_discard(o);
	drsn__outfile_hold_signals(0);
	return rc;
}

void drsn__outfile_discard(drsn__outfile *o)
{
	drsn__outfile_hold_signals(1);
	if (o->tmp && o->tmp[0])
		unlink(o->tmp);
	pthread_mutex_lock(&live_lock);
	int slot = o->tmp && catching ? live_slot(o->tmp) : -1;
	if (slot >= 0)
		live[slot] = NULL;
	pthread_mutex_unlock(&live_lock);
	drsn__outfile_hold_signals(0);
	free(o->tmp);
	free(o->path);
	o->tmp = NULL;
	o->path = NULL;
}
