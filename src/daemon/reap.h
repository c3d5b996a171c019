/*
 * Orphans: a drsnd that is PID 1 (a container run without --init) or a
 * child subreaper gets every process orphaned below it as its child, e.g.
 * the background job of an exec plugin command (`sh -c 'mpc pause &'`).
 * libuv waits only for the processes it spawned, so the others would stay
 * zombies, one more for each such command, until the container's pids run
 * out.
 *
 * The reaper waits for those others only: on SIGCHLD it peeks at an exited
 * child (waitid WNOWAIT, which leaves it a zombie) and reaps it only if no
 * uv_process_t of the loop has its pid. A child of libuv's is left to
 * libuv's own SIGCHLD handler (its exit status goes to its exit_cb), and
 * the reaper looks again on the next loop turns until libuv has taken it.
 * Everything runs on the loop thread: no waitpid of libuv's in between.
 */
#ifndef DRSN_DAEMON_REAP_H
#define DRSN_DAEMON_REAP_H

#include <uv.h>

struct drsn__reaper {
	uv_signal_t sigchld;
	uv_check_t again;   /* while a child of libuv's is the first one found */
	int on;
	unsigned long long reaped;
};

/* 1: this process gets orphans (it is PID 1 or a child subreaper), else 0. */
int drsn__reap_needed(void);

/* Starts reaping on loop when drsn__reap_needed() (the handles do not keep
 * the loop running); r->on says whether it did. 0 or a negative errno. */
int drsn__reap_start(struct drsn__reaper *r, uv_loop_t *loop);

/* Closes the handles (the loop must run once more to finish closing). */
void drsn__reap_stop(struct drsn__reaper *r);

/* Reaps the exited children that no uv_process_t of loop owns. The count
 * reaped; *blocked = 1 when it stopped at an exited child of libuv's. */
int drsn__reap_orphans(uv_loop_t *loop, int *blocked);

#endif
