#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/test_files.h"

char *drsn__test_slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		fail_msg("%s: cannot open", p);
	char *b = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 65536;
			b = realloc(b, cap);
			assert_non_null(b);
		}
		size_t k = fread(b + *n, 1, cap - *n, f);
		if (k == 0)
			break;
		*n += k;
	}
	fclose(f);
	return b;
}

void drsn__test_assert_file_is(const char *p, const char *bytes, size_t n)
{
	size_t m;
	char *b = drsn__test_slurp(p, &m);
	if (m != n || memcmp(b, bytes, n))
		fail_msg("%s changed: %zu bytes, was %zu", p, m, n);
	free(b);
}

void drsn__test_assert_folder_holds(const char *d, const char *names)
{
	struct dirent **e;
	int n = scandir(d, &e, NULL, alphasort);
	assert_true(n >= 0);
	char got[1024] = "";
	for (int i = 0; i < n; i++) {
		size_t k = strlen(got);
		if (strcmp(e[i]->d_name, ".") && strcmp(e[i]->d_name, ".."))
			snprintf(got + k, sizeof got - k, "%s%s", k ? " " : "", e[i]->d_name);
		free(e[i]);
	}
	free(e);
	if (strcmp(got, names))
		fail_msg("%s holds '%s', expected '%s'", d, got, names);
}

int drsn__test_run(const char *exe, const char *dir, const char *args, char *out, size_t outn,
		   char *err, size_t errn)
{
	char cmd[4096], op[256], ep[256];
	snprintf(op, sizeof op, "%s/stdout.txt", dir);
	snprintf(ep, sizeof ep, "%s/stderr.txt", dir);
	snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", exe, args, op, ep);
	int rc = system(cmd);
	char *bufs[] = {out, err};
	size_t ns[] = {outn, errn};
	const char *ps[] = {op, ep};
	for (int i = 0; i < 2; i++) {
		if (!bufs[i])
			continue;
		FILE *f = fopen(ps[i], "r");
		size_t n = f ? fread(bufs[i], 1, ns[i] - 1, f) : 0;
		bufs[i][n] = '\0';
		if (f)
			fclose(f);
	}
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

const char *drsn__test_exe(const char *exe, const char *dir)
{
	static char path[PATH_MAX], abs_exe[PATH_MAX];
	const char *wrap = getenv("MESON_EXE_WRAPPER");
	if (!wrap || !*wrap)
		return exe;
	/* absolute: tests run it from other folders; the wrapper is already
	 * quoted for the shell (meson joins it with shlex) */
	if (!realpath(exe, abs_exe))
		fail_msg("%s: not found", exe);
	snprintf(path, sizeof path, "%s/drsn-wrapped", dir);
	FILE *f = fopen(path, "w");
	if (!f || fprintf(f, "#!/bin/sh\nexec %s '%s' \"$@\"\n", wrap, abs_exe) < 0 ||
	    fclose(f) != 0 || chmod(path, 0755) != 0)
		fail_msg("%s: cannot write", path);
	return path;
}

int drsn__test_count_entries(const char *d)
{
	DIR *dp = opendir(d);
	assert_non_null(dp);
	int n = 0;
	for (struct dirent *de; (de = readdir(dp));)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(dp);
	return n;
}

int drsn__test_signal_while_writing(char *const argv[], const void *in, size_t n, const char *d,
				    int entries, int sig)
{
	int fds[2], status = 0;
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(sig, SIG_DFL);
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[0]);
	assert_int_equal(write(fds[1], in, n), (ssize_t)n);
	for (int t = 0; t < 1000 && drsn__test_count_entries(d) < entries; t++)
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	int have = drsn__test_count_entries(d);
	if (have != entries) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("%s: %d entries while %s ran, not %d", d, have, argv[0], entries);
	}
	assert_int_equal(kill(pid, sig), 0);
	for (int t = 0; t < 500 && waitpid(pid, &status, WNOHANG) == 0; t++)
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("%s did not stop on signal %d", argv[0], sig);
	}
	close(fds[1]);
	return status;
}
