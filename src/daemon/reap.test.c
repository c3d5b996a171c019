/* daemon/reap.h: a child subreaper (as PID 1 in a container) reaps the
 * orphans its children leave, and libuv still gets the exit status of
 * every process it spawned, also when orphan and child exit together. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "daemon/reap.h"

#define N 40

static int statuses[N], exited;

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
	(void)term_signal;
	statuses[exited++] = (int)status;
	uv_close((uv_handle_t *)p, NULL);
}

static void on_timer(uv_timer_t *t)
{
	(void)t;   /* a turn after the last exit: the orphans' SIGCHLDs are in */
}

/* exited children of this process still to be waited for */
static int zombies(void)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD ? 0 : -1;
	return si.si_pid != 0;
}

static void test_orphans_reaped_statuses_kept(void **state)
{
	(void)state;
	assert_int_equal(drsn__reap_needed(), 0);
	/* a reaper that took a child of libuv's would leave uv_run waiting
	 * for it for good: fail (SIGALRM) rather than hang */
	alarm(60);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	assert_int_equal(drsn__reap_needed(), 1);
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct drsn__reaper r;
	assert_int_equal(drsn__reap_start(&r, &loop), 0);
	assert_true(r.on);
	static uv_process_t procs[N];
	/* each leaves two orphans: one that exits with it, one a little later */
	char *args[] = {"/bin/sh", "-c", "true & (sleep 0.05; exit 9) & exit 7", NULL};
	for (int i = 0; i < N; i++) {
		uv_process_options_t o = {.exit_cb = on_exit_cb, .file = args[0], .args = args};
		assert_int_equal(uv_spawn(&loop, &procs[i], &o), 0);
	}
	uv_run(&loop, UV_RUN_DEFAULT);   /* the reaper's handles do not keep it running */
	assert_int_equal(exited, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(statuses[i], 7);
	/* the late orphans: reaped once they exit */
	uv_timer_t t;
	for (int i = 0; i < 50 && r.reaped < 2 * N; i++) {
		uv_timer_init(&loop, &t);
		uv_timer_start(&t, on_timer, 20, 0);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_close((uv_handle_t *)&t, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	assert_int_equal(r.reaped, 2 * N);
	assert_int_equal(zombies(), 0);
	drsn__reap_stop(&r);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	alarm(0);
}

/* not PID 1, not a subreaper: nothing started, nothing reaped */
static void test_not_needed(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct drsn__reaper r;
	assert_int_equal(drsn__reap_start(&r, &loop), 0);
	assert_false(r.on);
	drsn__reap_stop(&r);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_needed),
		cmocka_unit_test(test_orphans_reaped_statuses_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
