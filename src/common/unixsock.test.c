#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/foreign_group.test.h"
#include "common/unixsock.h"

/* A listening socket bound at path (as another process would have it). */
static int listen_at(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static ino_t ino_of(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	return st.st_ino;
}

static int files_in(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* Another process's temporary socket, at the name ours used to take
 * (".drsnd-PID~": drsnd in two containers sharing the socket folder are
 * both pid 1), is left alone: it used to be removed and replaced by ours,
 * and the other process then linked our socket to its path. */
static void test_temporary_name_never_another_process(void **state)
{
	(void)state;
	char dir[] = "/tmp/drsn-unixsock-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char theirs[160], path[160], msg[256];
	snprintf(theirs, sizeof theirs, "%s/.drsnd-%ld~", dir, (long)getpid());
	snprintf(path, sizeof path, "%s/a.sock", dir);
	int other = listen_at(theirs);
	ino_t before = ino_of(theirs);
	int fd = -1;
	struct drsn__unix_id id;
	assert_int_equal(drsn__unix_listen(path, 0600, (gid_t)-1, NULL, 4, &fd, &id, msg, sizeof msg), 0);
	assert_int_equal(ino_of(theirs), before);   /* theirs is still there, the same file */
	assert_true(ino_of(path) != 0 && ino_of(path) != before);
	assert_int_equal(drsn__unix_probe(path), 1);
	assert_int_equal(files_in(dir), 2);   /* no temporary name left behind */
	close(fd);
	close(other);
	unlink(path);
	unlink(theirs);
	rmdir(dir);
}

/* A group the process is not in: chown's EPERM names the fix (the user
 * must be a member, SupplementaryGroups= under systemd). As root, a child
 * becomes nobody first. */
static void test_group_not_a_member(void **state)
{
	(void)state;
	char dir[] = "/tmp/drsn-unixsock-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0777), 0);
	struct group *g;
	pid_t pid = foreign_fork(&g);
	if (pid == 0) {
		char path[160], msg[700], want[700];
		snprintf(path, sizeof path, "%s/a.sock", dir);
		snprintf(want, sizeof want, "%s: chown to group '%s': Operation not permitted (uid %ld is "
			 "not a member of '%s': drsnd's user must be one, e.g. SupplementaryGroups=%s "
			 "in the systemd unit", path, g->gr_name, (long)geteuid(), g->gr_name, g->gr_name);
		int fd = -1;
		struct drsn__unix_id id;
		int rc = drsn__unix_listen(path, 0660, g->gr_gid, g->gr_name, 4, &fd, &id, msg, sizeof msg);
		print_message("%s\n", msg);
		_exit(rc == -EPERM && strstr(msg, want) ? 0 : 1);
	}
	foreign_wait(pid);
	assert_int_equal(files_in(dir), 0);
	rmdir(dir);
}

/* At stop only our own socket file goes: after ours was removed and
 * another daemon made its socket at the path, that one stays. */
static void test_remove_only_our_own(void **state)
{
	(void)state;
	char dir[] = "/tmp/drsn-unixsock-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[160], msg[256];
	snprintf(path, sizeof path, "%s/a.sock", dir);
	int fd = -1;
	struct drsn__unix_id id;
	assert_int_equal(drsn__unix_listen(path, 0660, (gid_t)-1, NULL, 4, &fd, &id, msg, sizeof msg), 0);
	assert_int_equal(unlink(path), 0);
	int other = listen_at(path);
	assert_int_equal(drsn__unix_remove(path, &id), 0);
	assert_int_equal(drsn__unix_probe(path), 1);   /* the other daemon's, still there */
	close(other);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(drsn__unix_remove(path, &id), 0);   /* gone: nothing to do */
	/* ours, still there: removed */
	close(fd);
	assert_int_equal(drsn__unix_listen(path, 0660, (gid_t)-1, NULL, 4, &fd, &id, msg, sizeof msg), 0);
	assert_int_equal(drsn__unix_remove(path, &id), 1);
	assert_int_equal(ino_of(path), 0);
	close(fd);
	rmdir(dir);
}

/* A second listener at a live path is refused, naming it. */
static void test_live_path_refused(void **state)
{
	(void)state;
	char dir[] = "/tmp/drsn-unixsock-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[160], msg[256];
	snprintf(path, sizeof path, "%s/a.sock", dir);
	int fd = -1, fd2 = -1, removed = 0;
	struct drsn__unix_id id, id2;
	assert_int_equal(drsn__unix_listen(path, 0660, (gid_t)-1, NULL, 4, &fd, &id, msg, sizeof msg), 0);
	ino_t ino = ino_of(path);
	assert_int_equal(drsn__unix_clear_stale(path, &removed, msg, sizeof msg), -EADDRINUSE);
	assert_non_null(strstr(msg, "another daemon is listening there"));
	assert_non_null(strstr(msg, path));
	/* past that check (a race): link refuses, the path is untouched */
	assert_int_equal(drsn__unix_listen(path, 0660, (gid_t)-1, NULL, 4, &fd2, &id2, msg, sizeof msg),
			 -EADDRINUSE);
	assert_non_null(strstr(msg, "another daemon made this socket meanwhile"));
	assert_int_equal(ino_of(path), ino);
	assert_int_equal(files_in(dir), 1);
	assert_int_equal(drsn__unix_remove(path, &id), 1);
	close(fd);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_temporary_name_never_another_process),
		cmocka_unit_test(test_remove_only_our_own),
		cmocka_unit_test(test_live_path_refused),
		cmocka_unit_test(test_group_not_a_member),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
