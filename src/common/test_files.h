/*
 * Files and folders in cmocka tests (test-only; link test_files_src):
 * the tests of drsn's outputs check that what must not change did not,
 * and that no temporary file is left behind.
 */
#ifndef DRSN_SRC_COMMON_TEST_FILES_H
#define DRSN_SRC_COMMON_TEST_FILES_H

#include <stddef.h>
#include <sys/types.h>

/* The whole file p (free it), *n its size; fails the test if p cannot be read. */
char *drsn__test_slurp(const char *p, size_t *n);

/* Fails the test unless file p holds exactly the n bytes given. */
void drsn__test_assert_file_is(const char *p, const char *bytes, size_t n);

/* Fails the test unless folder d holds exactly `names`: its entries' names,
 * sorted, joined by single spaces. */
void drsn__test_assert_folder_holds(const char *d, const char *names);

/* Entries of folder d, hidden ones too. */
int drsn__test_count_entries(const char *d);

/* Starts argv[0] with argv, its stdin a pipe that gets the n bytes of `in`
 * and then stalls (stays open), as a writer does; once folder d holds
 * `entries` entries (the program's temporary outputs are there), sends it
 * sig (with sig's default action, as from an interactive shell). Returns
 * the wait status; fails the test if d never holds that many entries or
 * the program does not stop within 5 s. */
int drsn__test_signal_while_writing(char *const argv[], const void *in, size_t n, const char *d,
				    int entries, int sig);

/* Runs "'exe' ARGS" through the shell with stdout and stderr going to
 * dir/stdout.txt and dir/stderr.txt, read back into out and err (either may
 * be NULL). Returns the exit code, or -1 if the program did not exit. */
int drsn__test_run(const char *exe, const char *dir, const char *args, char *out, size_t outn,
		   char *err, size_t errn);

/* The program a test should start for exe: exe itself natively; in a cross
 * build, whose tests run under meson's MESON_EXE_WRAPPER (e.g. "qemu-aarch64
 * -L /"), a script dir/drsn-wrapped that runs exe under that wrapper, so that
 * system(), popen() and exec*() start the target's binary as on the target.
 * The returned path lives until the next call; fails the test if the script
 * cannot be written. */
const char *drsn__test_exe(const char *exe, const char *dir);

#endif
