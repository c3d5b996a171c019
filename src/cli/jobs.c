/* -j N: a command's files over N threads, their output in input order (see
 * cli.h). A worker's stdout lines and stderr messages go to the buffer of
 * its file's slot (a thread-local capture); the main thread prints each
 * slot's buffer once every file before it has been printed, and the first
 * file not yet printed as its lines come (within POLL_MS), as -j 1 would:
 * a long recording's detections are not held until it is done. There are
 * 4 * N slots, reused: a worker that gets that far ahead of the printing
 * waits, so memory stays bounded however many files there are. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

enum { REC_OUT = 1, REC_ERR, REC_ONCE };
enum { POLL_MS = 100 };

struct capture {
	pthread_mutex_t lock;   /* the worker adding, the main thread printing */
	char *buf;
	size_t len, cap, shown;   /* shown: the bytes already printed */
	int oom;
};

static _Thread_local struct capture *capturing;
static _Thread_local struct drsn__cli_job_progress *progress_slot;

int drsn__cli_capturing(void)
{
	return capturing != NULL;
}

struct drsn__cli_job_progress *drsn__cli_job_progress_slot(void)
{
	return progress_slot;
}

/* One record: type, length, text (no allocation once the buffer has grown
 * to what the largest file needs: the slots are reused). */
static void add(int type, const char *s, size_t n)
{
	struct capture *c = capturing;
	pthread_mutex_lock(&c->lock);
	size_t need = c->len + 1 + sizeof n + n;
	if (c->oom)
		goto out;
	if (need > c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 4096;
		while (cap < need)
			cap *= 2;
		char *b = realloc(c->buf, cap);
		if (!b) {
			c->oom = 1;
			goto out;
		}
		c->buf = b;
		c->cap = cap;
	}
	c->buf[c->len] = (char)type;
	memcpy(c->buf + c->len + 1, &n, sizeof n);
	memcpy(c->buf + c->len + 1 + sizeof n, s, n);
	c->len = need;
out:
	pthread_mutex_unlock(&c->lock);
}

int drsn__cli_capture_out(const char *line, size_t n)
{
	if (!capturing)
		return 0;
	add(REC_OUT, line, n);
	return 1;
}

/* A stderr message (prefix, the formatted text, a newline) as a record of
 * type, kept whole however long it is. */
static int capture_msg(int type, const char *prefix, const char *fmt, va_list ap)
{
	if (!capturing)
		return 0;
	size_t pn = strlen(prefix);
	char stack[4096], *msg = stack;
	va_list aq;
	va_copy(aq, ap);
	int m = vsnprintf(stack + pn, sizeof stack - pn - 1, fmt, ap);
	if (m >= 0 && (size_t)m >= sizeof stack - pn - 1 && (msg = malloc((size_t)m + pn + 2)))
		vsnprintf(msg + pn, (size_t)m + 1, fmt, aq);   /* a long one (a long path) */
	va_end(aq);
	if (!msg) {
		msg = stack;
		m = (int)(sizeof stack - pn - 2);
	}
	size_t len = pn + (m < 0 ? 0 : (size_t)m);
	memcpy(msg, prefix, pn);
	msg[len++] = '\n';
	add(type, msg, len);
	if (msg != stack)
		free(msg);
	return 1;
}

int drsn__cli_capture_err(int once, const char *fmt, va_list ap)
{
	return capture_msg(once ? REC_ONCE : REC_ERR, "drsn: ", fmt, ap);
}

int drsn__cli_capture_note(const char *fmt, va_list ap)
{
	return capture_msg(REC_ERR, "", fmt, ap);
}

struct slot {
	struct capture cap;
	int done, code;
};

struct pool {
	const struct drsn__cli_jobs *j;
	struct slot *slot;
	size_t n_slots, next_take, next_emit;
	int stop;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
};

struct worker {
	struct pool *pool;
	int w;
	struct drsn__cli_job_progress prog;
};

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct pool *p = wk->pool;
	progress_slot = &wk->prog;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->stop && p->next_take < p->j->n && p->next_take >= p->next_emit + p->n_slots)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop || p->next_take >= p->j->n) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		size_t i = p->next_take++;
		struct slot *s = &p->slot[i % p->n_slots];
		pthread_mutex_unlock(&p->lock);
		atomic_store(&wk->prog.item, (long long)i);
		capturing = &s->cap;
		int code = p->j->run(p->j->user, wk->w, i);
		capturing = NULL;
		atomic_store(&wk->prog.item, -1LL);
		atomic_store(&wk->prog.total, 0LL);
		pthread_mutex_lock(&p->lock);
		s->code = code;
		s->done = 1;
		pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->lock);
	}
	progress_slot = NULL;
	return NULL;
}

/* A slot's records not yet shown to stdout and stderr, as they would have
 * gone there; with all (its file is done), the slot made empty for reuse.
 * Under the slot's lock: its worker may be adding. */
static void replay(const char *cmd, struct capture *c, int *once_said, int all)
{
	pthread_mutex_lock(&c->lock);
	for (size_t at = c->shown; at < c->len;) {
		int type = c->buf[at];
		size_t n;
		memcpy(&n, c->buf + at + 1, sizeof n);
		const char *s = c->buf + at + 1 + sizeof n;
		at += 1 + sizeof n + n;
		drsn__cli_progress_erase();
		if (type == REC_OUT) {
			if (!drsn__cli_stdout_failed())
				drsn__cli_print_line(cmd, s, n);
		} else if (type == REC_ERR || !*once_said) {
			fwrite(s, 1, n, stderr);
			*once_said |= type == REC_ONCE;
		}
	}
	c->shown = c->len;
	int oom = c->oom && all;
	if (all)
		c->len = c->shown = 0, c->oom = 0;
	pthread_mutex_unlock(&c->lock);
	if (oom)
		drsn__cli_err("%s: out of memory", cmd);
}

int drsn__cli_jobs_run(const struct drsn__cli_jobs *j)
{
	int code = 0;
	if (j->jobs <= 1 || j->n <= 1) {
		for (size_t i = 0; i < j->n && !drsn__cli_stdout_failed(); i++)
			code |= j->run(j->user, 0, i);
		return code;
	}
	int nw = j->jobs;
	struct pool p = {.j = j, .n_slots = 4 * (size_t)nw};
	struct worker *wk = calloc((size_t)nw, sizeof *wk);
	pthread_t *th = calloc((size_t)nw, sizeof *th);
	p.slot = calloc(p.n_slots, sizeof *p.slot);
	if (!wk || !th || !p.slot) {
		drsn__cli_err("%s: out of memory", j->cmd);
		free(wk);
		free(th);
		free(p.slot);
		return 1;
	}
	for (size_t i = 0; i < p.n_slots; i++)
		pthread_mutex_init(&p.slot[i].cap.lock, NULL);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.done, NULL);
	/* the workers start with the stop signals blocked (a thread's mask
	 * is inherited): only the main thread runs outfile's handler, never
	 * one in the middle of taking a temporary file's slot */
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGPIPE);   /* outfile's stop signals, all of them */
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	int started = 0;
	for (; started < nw; started++) {
		wk[started].pool = &p;
		wk[started].w = started;
		atomic_init(&wk[started].prog.item, -1LL);
		atomic_init(&wk[started].prog.done, 0LL);
		atomic_init(&wk[started].prog.total, 0LL);
		int rc = pthread_create(&th[started], NULL, worker_main, &wk[started]);
		if (rc != 0) {
			if (started == 0) {
				drsn__cli_err("%s: cannot start a thread: %s", j->cmd, strerror(rc));
				code = 1;
				p.stop = 1;
			}
			break;   /* fewer workers: the same output */
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	int once_said = 0;
	while (!p.stop && p.next_emit < j->n) {
		struct slot *s = &p.slot[p.next_emit % p.n_slots];
		pthread_mutex_lock(&p.lock);
		while (!s->done) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_nsec += POLL_MS * 1000000L;
			if (t.tv_nsec >= 1000000000L) {
				t.tv_sec++;
				t.tv_nsec -= 1000000000L;
			}
			if (pthread_cond_timedwait(&p.done, &p.lock, &t) == ETIMEDOUT) {
				/* the first file not yet printed: its lines so far */
				pthread_mutex_unlock(&p.lock);
				replay(j->cmd, &s->cap, &once_said, 0);
				if (j->tick)
					j->tick(j->user, p.next_emit, wk, started);
				pthread_mutex_lock(&p.lock);
			}
		}
		pthread_mutex_unlock(&p.lock);
		replay(j->cmd, &s->cap, &once_said, 1);
		code |= s->code;
		pthread_mutex_lock(&p.lock);
		s->done = 0;
		p.next_emit++;
		if (drsn__cli_stdout_failed())
			p.stop = 1;
		pthread_cond_broadcast(&p.work);
		pthread_mutex_unlock(&p.lock);
		if (j->tick && !p.stop)
			j->tick(j->user, p.next_emit, wk, started);
	}
	for (int w = 0; w < started; w++)
		pthread_join(th[w], NULL);
	for (size_t i = 0; i < p.n_slots; i++) {
		free(p.slot[i].cap.buf);
		pthread_mutex_destroy(&p.slot[i].cap.lock);
	}
	pthread_cond_destroy(&p.done);
	pthread_cond_destroy(&p.work);
	pthread_mutex_destroy(&p.lock);
	free(p.slot);
	free(th);
	free(wk);
	return code;
}

const struct drsn__cli_job_progress *drsn__cli_jobs_progress(const void *workers, int w)
{
	return &((const struct worker *)workers)[w].prog;
}

int drsn__cli_jobs_arg(const char *cmd, const char *v, int *out)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (!strcmp(v, "auto") || (end != v && !*end && !errno && x == 0)) {
		x = sysconf(_SC_NPROCESSORS_ONLN);
		*out = x < 1 ? 1 : x > DRSN__JOBS_MAX ? DRSN__JOBS_MAX : (int)x;
		return 0;
	}
	if (end == v || *end || errno || x < 1 || x > DRSN__JOBS_MAX) {
		drsn__cli_err("%s: --jobs: '%s' is not a number of threads in [1, %d], 0 or 'auto' "
			      "(one per online CPU)", cmd, v, DRSN__JOBS_MAX);
		return -1;
	}
	*out = (int)x;
	return 0;
}

int drsn__cli_jobs_option(const char *cmd, int argc, char **argv, int *i, int *jobs)
{
	const char *a = argv[*i];
	if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
		if (*i + 1 >= argc) {   /* the last argument, without its value */
			drsn__cli_err("%s: %s needs a value (try 'drsn %s --help')", cmd, a, cmd);
			return -1;
		}
		return drsn__cli_jobs_arg(cmd, argv[++*i], jobs) < 0 ? -1 : 1;
	}
	if (!strncmp(a, "--jobs=", 7) || (!strncmp(a, "-j", 2) && a[2]))
		return drsn__cli_jobs_arg(cmd, a + (a[1] == '-' ? 7 : 2), jobs) < 0 ? -1 : 1;
	return 0;
}
