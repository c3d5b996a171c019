/* For tests of a [socket] group the process is not in (chown's EPERM), in a
 * forked child only: drop root (to nobody) if the test runs as root, and
 * find a group this process is not a member of. Test code only (after
 * <cmocka.h>). */
#ifndef DRSN_COMMON_FOREIGN_GROUP_TEST_H
#define DRSN_COMMON_FOREIGN_GROUP_TEST_H

#include <grp.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Fork: the parent gets the child's pid (for foreign_wait); the child
 * returns 0 with *g a group it is not in, its test's result to be its exit
 * status (0 = passed). A failed drop of root ends the child (2), so does
 * finding no such group (3). */
static inline pid_t foreign_fork(struct group **g)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid)
		return pid;
	if (geteuid() == 0 && (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
		_exit(2);
	gid_t mine[256];
	int n_mine = getgroups(256, mine), in = 1;
	*g = NULL;
	setgrent();
	while (in && (*g = getgrent())) {
		in = (*g)->gr_gid == getegid();
		for (int i = 0; i < n_mine; i++)
			in |= mine[i] == (*g)->gr_gid;
	}
	if (!*g)
		_exit(3);
	return 0;
}

/* The child of foreign_fork passed. */
static inline void foreign_wait(pid_t pid)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#endif
