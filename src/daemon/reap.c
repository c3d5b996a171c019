/* Orphaned processes of a PID 1 drsnd (see reap.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "daemon/reap.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/log.h"

int drsn__reap_needed(void)
{
	int sub = 0;
	if (getpid() == 1)
		return 1;
	return prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&sub, 0, 0, 0) == 0 && sub;
}

struct owner {
	pid_t pid;
	int found;
};

static void find_process(uv_handle_t *h, void *arg)
{
	struct owner *o = arg;
	/* a closing handle is libuv's no more (it drops it without waiting
	 * for its child): that child, once exited, is ours to reap */
	if (h->type == UV_PROCESS && !uv_is_closing(h) && uv_process_get_pid((uv_process_t *)h) == o->pid)
		o->found = 1;
}

int drsn__reap_orphans(uv_loop_t *loop, int *blocked)
{
	int n = 0;
	*blocked = 0;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		/* WNOWAIT: look only; the child stays waitable */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			break;   /* ECHILD: no child at all; 0: none has exited */
		struct owner o = {si.si_pid, 0};
		uv_walk(loop, find_process, &o);
		if (o.found) {
			*blocked = 1;   /* libuv's: its SIGCHLD handler waits for it */
			break;
		}
		if (waitpid(si.si_pid, NULL, WNOHANG) == si.si_pid)
			n++;
		else
			break;   /* cannot happen on the loop thread; do not spin */
	}
	return n;
}

static void reap(struct drsn__reaper *r, uv_loop_t *loop);

static void on_sigchld(uv_signal_t *h, int signum)
{
	(void)signum;
	reap(h->data, h->loop);
}

/* a loop turn later: libuv's handler has had its SIGCHLD by now */
static void on_again(uv_check_t *h)
{
	reap(h->data, h->loop);
}

static void reap(struct drsn__reaper *r, uv_loop_t *loop)
{
	int blocked;
	int n = drsn__reap_orphans(loop, &blocked);
	r->reaped += (unsigned long long)n;
	if (n)
		log_debug("reaped %d orphaned process(es) (%llu in all)", n, r->reaped);
	if (blocked)
		uv_check_start(&r->again, on_again);
	else
		uv_check_stop(&r->again);
}

int drsn__reap_start(struct drsn__reaper *r, uv_loop_t *loop)
{
	memset(r, 0, sizeof *r);
	if (!drsn__reap_needed())
		return 0;
	int rc = uv_signal_init(loop, &r->sigchld);
	if (rc < 0)
		return rc;
	uv_check_init(loop, &r->again);
	r->sigchld.data = r->again.data = r;
	rc = uv_signal_start(&r->sigchld, on_sigchld, SIGCHLD);
	if (rc < 0) {
		uv_close((uv_handle_t *)&r->sigchld, NULL);
		uv_close((uv_handle_t *)&r->again, NULL);
		return rc;
	}
	uv_unref((uv_handle_t *)&r->sigchld);
	uv_unref((uv_handle_t *)&r->again);
	r->on = 1;
	drsn__log_notice("%s: reaping orphaned processes (a container without --init: see README "
		 "\"Running in a container\")", getpid() == 1 ? "PID 1" : "a child subreaper");
	reap(r, loop);   /* any that exited before */
	return 0;
}

void drsn__reap_stop(struct drsn__reaper *r)
{
	if (!r->on)
		return;
	r->on = 0;
	uv_close((uv_handle_t *)&r->sigchld, NULL);
	uv_close((uv_handle_t *)&r->again, NULL);
}
