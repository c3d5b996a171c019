/*
 * Where an uninstalled build's source tree is (source_tree.h).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/source_tree.h"

#define LINK_NAME "drsn-source-root"
#define MAX_UP 4

static char root[PATH_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void find_root(void)
{
	char dir[PATH_MAX], link[PATH_MAX + sizeof LINK_NAME + 1];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
	struct stat st;

	if (n <= 0)
		return;
	dir[n] = '\0';
	for (int up = 0; up <= MAX_UP; up++) {
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return;
		*slash = '\0';
		snprintf(link, sizeof link, "%s/%s", dir, LINK_NAME);
		/* only the link meson made: a plain file of that name is not it */
		if (lstat(link, &st) == 0 && S_ISLNK(st.st_mode)) {
			if (!realpath(link, root))
				root[0] = '\0';
			return;
		}
	}
}

const char *drsn__source_root(void)
{
	pthread_once(&once, find_root);
	return root[0] ? root : NULL;
}
