/*
 * exec: a drsnd plugin that runs a command on a detection.
 *
 *   [plugin exec]
 *   stop = /usr/bin/mpc pause
 *   on   = /usr/local/bin/lights on
 *   any  = logger -t drsnd "heard $DRSN_LABEL"     ; no shell: see below
 *
 * Keys ([plugin exec]): LABEL = COMMAND, one per label of the model; any =
 * COMMAND for every detection whose label has no key of its own;
 * timeout_ms (10000: SIGTERM, then SIGKILL KILL_GRACE_MS later),
 * min_interval_ms (0: a label's command does not start again within this
 * time of its last start), max_running (4: one more detection while this
 * many commands run is skipped, logged; nothing is queued). A label key that
 * is not one of the model's labels is an error naming it and its line (at
 * create; at a reload with another model it is logged as an error and the
 * key does nothing until a model has the label again).
 *
 * A COMMAND is split into words without a shell: blanks separate words,
 * '...' keeps everything literally, "..." keeps blanks and takes \" and \\,
 * a backslash outside quotes takes the next character literally. No
 * variables, globs, pipes or redirections: for those write
 * `sh -c '... "$DRSN_LABEL" ...'`. The first word is the program: with a
 * '/' it is that file, else it is looked up in PATH at start; a program that
 * is not there or not executable is an error naming it and its line.
 *
 * Spawning: the detection callback (on drsnd's loop thread, never the audio
 * callback) only calls uv_spawn; the child's exit, output and timeout are
 * libuv callbacks, so drsnd never waits for a command. The child gets
 * drsnd's environment (without NOTIFY_SOCKET and WATCHDOG_*) plus DRSN_LABEL, DRSN_SCORE, DRSN_START, DRSN_END
 * (stream seconds), DRSN_TIME (seconds since the epoch, as the detection
 * event's "time") and DRSN_STREAM; stdin is /dev/null. Its stdout and stderr
 * lines go to drsnd's log ("plugin exec: stop[1234]: ..."), each cut at
 * LINE_MAX_LOG bytes, at most MAX_LINES lines per command: after that the
 * pipes are closed (as `| head` does: a command that writes on gets EPIPE or
 * SIGPIPE) and that is logged once. Memory per command is fixed. A non-zero
 * exit status or a signal is logged. At stop, running commands get SIGTERM,
 * and SIGKILL if still there KILL_GRACE_MS later. A command's background
 * job outlives it; when drsnd is PID 1 it is reaped by drsnd (src/daemon/reap.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "common/closest.h"
#include "common/cnum.h"
#include "common/plugin_kv.h"
#include "drsn/plugin.h"

#define MAX_ARGS 64
#define KILL_GRACE_MS 2000
#define MAX_LINES 20           /* output lines logged per command */
#define LINE_MAX_LOG 400       /* bytes of a line logged */
#define READ_BUF 4096
#define ENV_VARS 6

extern char **environ;

struct rule {
	char *key;             /* the label, or "any" */
	char *where;           /* a copy: the config is freed at a reload */
	char *file;            /* the program, resolved */
	char *argv[MAX_ARGS + 1];
	char *words;           /* argv's storage */
	int is_any;
	int missing;           /* the label is not in the current model */
};

struct last_start {
	char label[64];
	uint64_t ms;
};

struct exec_plugin;

struct child {
	struct exec_plugin *x;
	uv_process_t proc;
	uv_pipe_t out[2];      /* stdout, stderr */
	uv_timer_t timer;
	int open_handles;
	int pipes_open[2];
	int exited, timed_out, capped;
	int lines;
	char label[64];
	char buf[READ_BUF];
	char line[2][LINE_MAX_LOG + 1];
	size_t line_len[2];
	int line_cut[2];
	struct child *next;
};

struct exec_plugin {
	const drsn_plugin_host *host;
	struct rule *rules;
	int n_rules;
	int timeout_ms, min_interval_ms, max_running;
	int running;
	struct child *children;
	struct last_start *last;
	int n_last;
	int destroying;
	unsigned long long started, skipped, failed;
};

/* ---- config ------------------------------------------------------------------ */

/* Split cmd into words (the quoting of the head comment) into r->argv.
 * 0 or -EINVAL with a message. */
static int split_words(struct rule *r, const drsn_plugin_kv *kv, char *err, size_t n)
{
	const char *s = kv->value;
	size_t len = strlen(s);
	r->words = malloc(len + 1);
	if (!r->words) {
		snprintf(err, n, "out of memory");
		return -ENOMEM;
	}
	char *o = r->words;
	int argc = 0;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (argc == MAX_ARGS) {
			snprintf(err, n, "%s: [plugin exec] %s: more than %d words", kv->where, kv->key, MAX_ARGS);
			return -EINVAL;
		}
		r->argv[argc++] = o;
		while (*s && *s != ' ' && *s != '\t') {
			if (*s == '\'') {
				const char *q = strchr(s + 1, '\'');
				if (!q) {
					snprintf(err, n, "%s: [plugin exec] %s: unterminated ' in '%s'", kv->where,
						 kv->key, kv->value);
					return -EINVAL;
				}
				memcpy(o, s + 1, (size_t)(q - s - 1));
				o += q - s - 1;
				s = q + 1;
			} else if (*s == '"') {
				s++;
				while (*s && *s != '"') {
					if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
						s++;
					*o++ = *s++;
				}
				if (*s != '"') {
					snprintf(err, n, "%s: [plugin exec] %s: unterminated \" in '%s'", kv->where,
						 kv->key, kv->value);
					return -EINVAL;
				}
				s++;
			} else if (*s == '\\') {
				if (!s[1]) {
					snprintf(err, n, "%s: [plugin exec] %s: a \\ at the end of '%s'", kv->where,
						 kv->key, kv->value);
					return -EINVAL;
				}
				*o++ = s[1];
				s += 2;
			} else {
				*o++ = *s++;
			}
		}
		*o++ = '\0';
	}
	r->argv[argc] = NULL;
	if (!argc) {
		snprintf(err, n, "%s: [plugin exec] %s: empty command", kv->where, kv->key);
		return -EINVAL;
	}
	return 0;
}

/* NULL when path is an executable file, else why not */
static const char *not_executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return strerror(errno);
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if (access(path, X_OK) < 0)
		return strerror(errno);
	return NULL;
}

/* The program of argv[0]: itself with a '/', else the first executable in
 * PATH. 0 or -ENOENT with a message naming the key's line. */
static int resolve(struct rule *r, const drsn_plugin_kv *kv, char *err, size_t n)
{
	const char *prog = r->argv[0];
	if (strchr(prog, '/')) {
		const char *why = not_executable(prog);
		if (why) {
			snprintf(err, n, "%s: [plugin exec] %s: '%s' is not an executable file: %s", kv->where,
				 kv->key, prog, why);
			return -ENOENT;
		}
		r->file = strdup(prog);
		return r->file ? 0 : -ENOMEM;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		const char *c = strchr(p, ':');
		size_t dl = c ? (size_t)(c - p) : strlen(p);
		char full[4096];
		if (dl && (size_t)snprintf(full, sizeof full, "%.*s/%s", (int)dl, p, prog) < sizeof full &&
		    !not_executable(full)) {
			r->file = strdup(full);
			return r->file ? 0 : -ENOMEM;
		}
		p += dl;
		if (*p == ':')
			p++;
	}
	snprintf(err, n, "%s: [plugin exec] %s: '%s': no executable of that name in PATH (%s)", kv->where,
		 kv->key, prog, path);
	return -ENOENT;
}

static int has_label(const drsn_plugin_host *h, const drsn_model *m, const char *label)
{
	int nl = h->model_n_labels(m);
	for (int i = 0; i < nl; i++)
		if (!strcmp(h->model_label(m, i), label))
			return 1;
	return 0;
}

/* "a, b, c" of the model's labels, cut to fit */
static void label_list(const drsn_plugin_host *h, const drsn_model *m, char *out, size_t n)
{
	size_t k = 0;
	out[0] = '\0';
	int nl = h->model_n_labels(m);
	for (int i = 0; i < nl && k + 8 < n; i++) {
		int w = snprintf(out + k, n - k, "%s%s", i ? ", " : "", h->model_label(m, i));
		if (w < 0 || (size_t)w >= n - k) {
			snprintf(out + k, n - k, ", ...");
			break;
		}
		k += (size_t)w;
	}
}

static int configure(struct exec_plugin *x, const drsn_plugin_config *cfg, char *err, size_t n)
{
	const drsn_plugin_host *h = x->host;
	x->timeout_ms = 10000;
	x->min_interval_ms = 0;
	x->max_running = 4;
	x->rules = calloc((size_t)(cfg->n ? cfg->n : 1), sizeof *x->rules);
	if (!x->rules) {
		snprintf(err, n, "out of memory");
		return -ENOMEM;
	}
	const drsn_model *m = h->model(h);
	for (int i = 0; i < cfg->n; i++) {
		const drsn_plugin_kv *kv = &cfg->kv[i];
		int rc;
		if (!strcmp(kv->key, "timeout_ms")) {
			rc = drsn__plugin_kv_int(kv, "exec", 1, 86400000, &x->timeout_ms, err, n);
		} else if (!strcmp(kv->key, "min_interval_ms")) {
			rc = drsn__plugin_kv_int(kv, "exec", 0, 86400000, &x->min_interval_ms, err, n);
		} else if (!strcmp(kv->key, "max_running")) {
			rc = drsn__plugin_kv_int(kv, "exec", 1, 64, &x->max_running, err, n);
		} else {
			int is_any = !strcmp(kv->key, "any");
			if (!is_any && (!m || !has_label(h, m, kv->key))) {
				/* no model: no detections, no label to match */
				char labels[300] = "";
				struct drsn__closest near;
				drsn__closest_init(&near, kv->key);
				drsn__closest_add_list(&near, "any, timeout_ms, min_interval_ms, max_running");
				if (m) {
					label_list(h, m, labels, sizeof labels);
					for (int l = 0; l < h->model_n_labels(m); l++)
						drsn__closest_add(&near, h->model_label(m, l));
				}
				snprintf(err, n, "%s: [plugin exec] unknown key '%s' (known: any, timeout_ms, min_interval_ms, "
					 "max_running%s%s)%s%s", kv->where, kv->key, m ? ", or a label of the model: " : "",
					 labels, m ? "" : ": no model is loaded, so no label key can match",
					 drsn__closest_hint(&near, ""));
				return -EINVAL;
			}
			/* a later key for the same label replaces the earlier (a
			 * command-line override comes last) */
			struct rule *r = NULL;
			for (int k = 0; k < x->n_rules && !r; k++)
				if (!strcmp(x->rules[k].key, kv->key))
					r = &x->rules[k];
			if (r) {
				free(r->words);
				free(r->file);
				free(r->key);
				free(r->where);
				memset(r, 0, sizeof *r);
			} else {
				r = &x->rules[x->n_rules++];
			}
			r->is_any = is_any;
			r->where = strdup(kv->where);
			r->key = strdup(kv->key);
			if (!r->key || !r->where) {
				snprintf(err, n, "out of memory");
				return -ENOMEM;
			}
			rc = split_words(r, kv, err, n);
			if (!rc)
				rc = resolve(r, kv, err, n);
		}
		if (rc < 0)
			return rc;
	}
	if (!x->n_rules) {
		snprintf(err, n, "[plugin exec]: no command: add LABEL = COMMAND (or any = COMMAND)");
		return -EINVAL;
	}
	return 0;
}

static void exec_free(struct exec_plugin *x)
{
	for (int k = 0; k < x->n_rules; k++) {
		free(x->rules[k].key);
		free(x->rules[k].where);
		free(x->rules[k].words);
		free(x->rules[k].file);
	}
	free(x->rules);
	free(x->last);
	free(x);
}

/* ---- children ------------------------------------------------------------------ */

static void child_closed(uv_handle_t *hd)
{
	struct child *c = hd->data;
	if (--c->open_handles)
		return;
	struct exec_plugin *x = c->x;
	for (struct child **p = &x->children; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	free(c);
	if (x->destroying && !x->children)
		exec_free(x);
}

static void close_pipe(struct child *c, int k)
{
	if (!c->pipes_open[k])
		return;
	c->pipes_open[k] = 0;
	uv_close((uv_handle_t *)&c->out[k], child_closed);
}

/* Closes the timer too once the process and both pipes are done. */
static void maybe_done(struct child *c)
{
	if (c->exited && !c->pipes_open[0] && !c->pipes_open[1] && !uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, child_closed);
}

static void flush_line(struct child *c, int k)
{
	const drsn_plugin_host *h = c->x->host;
	if (!c->line_len[k] && !c->line_cut[k])
		return;
	c->line[k][c->line_len[k]] = '\0';
	if (c->lines < MAX_LINES)
		h->log(h, k ? DRSN_PLUGIN_LOG_WARN : DRSN_PLUGIN_LOG_INFO, "%s[%d]: %s%s", c->label, c->proc.pid,
		       c->line[k], c->line_cut[k] ? " [...]" : "");
	c->lines++;
	c->line_len[k] = 0;
	c->line_cut[k] = 0;
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct child *c = hd->data;
	*buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct child *c = s->data;
	int k = s == (uv_stream_t *)&c->out[1];
	if (nread < 0) {
		flush_line(c, k);
		close_pipe(c, k);
		maybe_done(c);
		return;
	}
	for (ssize_t i = 0; i < nread && !c->capped; i++) {
		if (c->lines >= MAX_LINES) {   /* a byte beyond the last line logged */
			c->capped = 1;
			const drsn_plugin_host *h = c->x->host;
			h->log(h, DRSN_PLUGIN_LOG_WARN, "%s[%d]: more than %d lines of output: the rest is not logged, "
			       "its stdout and stderr are closed", c->label, c->proc.pid, MAX_LINES);
			break;
		}
		char ch = buf->base[i];
		if (ch == '\n') {
			flush_line(c, k);
		} else if (c->line_len[k] < LINE_MAX_LOG) {
			c->line[k][c->line_len[k]++] = ch == '\r' || ch == '\t' ? ' ' : ch;
		} else {
			c->line_cut[k] = 1;
		}
	}
	if (c->capped) {
		close_pipe(c, 0);
		close_pipe(c, 1);
		maybe_done(c);
	}
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
	struct child *c = p->data;
	const drsn_plugin_host *h = c->x->host;
	c->exited = 1;
	c->x->running--;
	if (term_signal) {
		c->x->failed++;
		h->log(h, DRSN_PLUGIN_LOG_WARN, "%s[%d]: killed by signal %d (%s)%s", c->label, p->pid, term_signal,
		       strsignal(term_signal), !c->timed_out ? "" : c->x->destroying ? ", at drsnd's stop" :
		       ", after timeout_ms");
	} else if (status) {
		c->x->failed++;
		h->log(h, DRSN_PLUGIN_LOG_WARN, "%s[%d]: exited with status %lld", c->label, p->pid,
		       (long long)status);
	} else {
		h->log(h, DRSN_PLUGIN_LOG_DEBUG, "%s[%d]: exited with status 0", c->label, p->pid);
	}
	uv_close((uv_handle_t *)p, child_closed);
	/* a grandchild may hold the pipes open: they close on their own or
	 * at the cap; the timer goes once they are closed */
	maybe_done(c);
}

static void on_timer(uv_timer_t *t)
{
	struct child *c = t->data;
	const drsn_plugin_host *h = c->x->host;
	if (c->exited)
		return;
	if (!c->timed_out) {
		c->timed_out = 1;
		if (!c->x->destroying)
			h->log(h, DRSN_PLUGIN_LOG_WARN, "%s[%d]: still running after timeout_ms = %d: SIGTERM",
			       c->label, c->proc.pid, c->x->timeout_ms);
		uv_process_kill(&c->proc, SIGTERM);
		uv_timer_start(&c->timer, on_timer, KILL_GRACE_MS, 0);
	} else {
		h->log(h, DRSN_PLUGIN_LOG_WARN, "%s[%d]: still running %d ms after SIGTERM: SIGKILL", c->label,
		       c->proc.pid, KILL_GRACE_MS);
		uv_process_kill(&c->proc, SIGKILL);
	}
}

/* The environment: drsnd's plus the detection's DRSN_* (replacing any),
 * without systemd's notify and watchdog variables (for drsnd alone). */
static char **make_env(char vars[ENV_VARS][160])
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = malloc((n + ENV_VARS + 1) * sizeof *env);
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "DRSN_", 5) && strncmp(environ[i], "NOTIFY_SOCKET=", 14) &&
		    strncmp(environ[i], "WATCHDOG_", 9))
			env[k++] = environ[i];
	for (int i = 0; i < ENV_VARS; i++)
		env[k++] = vars[i];
	env[k] = NULL;
	return env;
}

static void spawn(struct exec_plugin *x, const struct rule *r, const drsn_plugin_event *ev)
{
	const drsn_plugin_host *h = x->host;
	const drsn_detection *d = ev->detection;
	struct child *c = calloc(1, sizeof *c);
	if (!c) {
		h->log(h, DRSN_PLUGIN_LOG_ERROR, "%s: not run: out of memory", d->name);
		return;
	}
	c->x = x;
	snprintf(c->label, sizeof c->label, "%s", d->name);
	char vars[ENV_VARS][160];
	snprintf(vars[0], sizeof vars[0], "DRSN_LABEL=%s", d->name);
	drsn__snprintf_c(vars[1], sizeof vars[1], "DRSN_SCORE=%.4f", (double)d->score);
	drsn__snprintf_c(vars[2], sizeof vars[2], "DRSN_START=%.3f", d->start);
	drsn__snprintf_c(vars[3], sizeof vars[3], "DRSN_END=%.3f", d->end);
	drsn__snprintf_c(vars[4], sizeof vars[4], "DRSN_TIME=%.3f", ev->wall_time);
	snprintf(vars[5], sizeof vars[5], "DRSN_STREAM=%s", ev->stream ? ev->stream : "");
	char **env = make_env(vars);
	if (!env) {
		free(c);
		h->log(h, DRSN_PLUGIN_LOG_ERROR, "%s: not run: out of memory", d->name);
		return;
	}
	uv_loop_t *loop = h->loop;
	uv_pipe_init(loop, &c->out[0], 0);
	uv_pipe_init(loop, &c->out[1], 0);
	uv_timer_init(loop, &c->timer);
	c->proc.data = c->out[0].data = c->out[1].data = c->timer.data = c;
	uv_stdio_container_t stdio[3] = {
		{.flags = UV_IGNORE},   /* /dev/null */
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->out[0]},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->out[1]},
	};
	uv_process_options_t o = {
		.exit_cb = on_exit_cb,
		.file = r->file,
		.args = (char **)r->argv,
		.env = env,
		.stdio_count = 3,
		.stdio = stdio,
	};
	int rc = uv_spawn(loop, &c->proc, &o);
	free(env);   /* copied into the child by now */
	c->open_handles = 3;   /* pipes, timer */
	c->pipes_open[0] = c->pipes_open[1] = 1;
	c->next = x->children;
	x->children = c;
	if (rc < 0) {
		/* libuv: the process handle must be closed too */
		c->exited = 1;
		c->open_handles++;
		uv_close((uv_handle_t *)&c->proc, child_closed);
		x->failed++;
		h->log(h, DRSN_PLUGIN_LOG_ERROR, "%s: cannot run %s (%s): %s", d->name, r->file, r->where,
		       uv_strerror(rc));
		close_pipe(c, 0);
		close_pipe(c, 1);
		maybe_done(c);
		return;
	}
	c->open_handles++;   /* the process */
	x->running++;
	x->started++;
	h->log(h, DRSN_PLUGIN_LOG_INFO, "%s %.2f: started %s [%d] (%s)", d->name, (double)d->score, r->argv[0],
	       c->proc.pid, r->where);
	uv_read_start((uv_stream_t *)&c->out[0], on_alloc, on_read);
	uv_read_start((uv_stream_t *)&c->out[1], on_alloc, on_read);
	uv_timer_start(&c->timer, on_timer, (uint64_t)x->timeout_ms, 0);
}

/* ---- callbacks -------------------------------------------------------------------- */

static int exec_create(void **self, const drsn_plugin_host *host, const drsn_plugin_config *cfg, char *err,
		       size_t err_size)
{
	struct exec_plugin *x = calloc(1, sizeof *x);
	if (!x) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	x->host = host;
	int rc = configure(x, cfg, err, err_size);
	if (rc < 0) {
		exec_free(x);
		return rc;
	}
	for (int k = 0; k < x->n_rules; k++)
		host->log(host, DRSN_PLUGIN_LOG_INFO, "%s: runs %s (%s)", x->rules[k].key, x->rules[k].file,
			  x->rules[k].where);
	host->log(host, DRSN_PLUGIN_LOG_INFO, "timeout_ms %d, min_interval_ms %d, max_running %d", x->timeout_ms,
		  x->min_interval_ms, x->max_running);
	*self = x;
	return 0;
}

static void exec_destroy(void *self)
{
	struct exec_plugin *x = self;
	x->destroying = 1;
	for (struct child *c = x->children; c; c = c->next) {
		/* a grandchild that holds the pipes does not hold up the stop */
		close_pipe(c, 0);
		close_pipe(c, 1);
		if (c->exited) {
			maybe_done(c);
			continue;
		}
		x->host->log(x->host, DRSN_PLUGIN_LOG_INFO, "%s[%d]: drsnd stops: SIGTERM", c->label, c->proc.pid);
		c->timed_out = 1;
		uv_process_kill(&c->proc, SIGTERM);
		uv_timer_start(&c->timer, on_timer, KILL_GRACE_MS, 0);
	}
	if (!x->children)
		exec_free(x);
}

/* 1: the label's command started less than min_interval_ms ago. Else notes now. */
static int too_soon(struct exec_plugin *x, const char *label)
{
	uint64_t now = uv_now(x->host->loop);
	struct last_start *l = NULL;
	for (int i = 0; i < x->n_last && !l; i++)
		if (!strncmp(x->last[i].label, label, sizeof l->label - 1))
			l = &x->last[i];
	if (l && now - l->ms < (uint64_t)x->min_interval_ms)
		return 1;
	if (!l) {
		struct last_start *nl = realloc(x->last, (size_t)(x->n_last + 1) * sizeof *nl);
		if (!nl)
			return 0;
		x->last = nl;
		l = &x->last[x->n_last++];
		snprintf(l->label, sizeof l->label, "%s", label);
	}
	l->ms = now;
	return 0;
}

static void exec_on_event(void *self, const drsn_plugin_event *ev)
{
	struct exec_plugin *x = self;
	const drsn_plugin_host *h = x->host;
	if (ev->type != DRSN_PLUGIN_EVENT_DETECTION || !ev->detection || x->destroying)
		return;
	const drsn_detection *d = ev->detection;
	const struct rule *r = NULL, *any = NULL;
	for (int k = 0; k < x->n_rules && !r; k++) {
		if (x->rules[k].is_any)
			any = &x->rules[k];
		else if (!strcmp(x->rules[k].key, d->name))
			r = &x->rules[k];
	}
	if (!r)
		r = any;
	if (!r)
		return;
	if (x->running >= x->max_running) {
		x->skipped++;
		h->log(h, DRSN_PLUGIN_LOG_WARN, "%s %.2f: skipped: %d command(s) still running (max_running = %d)",
		       d->name, (double)d->score, x->running, x->max_running);
		return;
	}
	if (x->min_interval_ms && too_soon(x, d->name)) {
		x->skipped++;
		h->log(h, DRSN_PLUGIN_LOG_INFO, "%s %.2f: skipped: within min_interval_ms = %d of its last start",
		       d->name, (double)d->score, x->min_interval_ms);
		return;
	}
	spawn(x, r, ev);
}

static void exec_on_model(void *self, const drsn_model *m)
{
	struct exec_plugin *x = self;
	const drsn_plugin_host *h = x->host;
	if (!m)
		return;
	for (int k = 0; k < x->n_rules; k++) {
		struct rule *r = &x->rules[k];
		if (r->is_any)
			continue;
		int missing = !has_label(h, m, r->key);
		if (missing) {
			char labels[300];
			label_list(h, m, labels, sizeof labels);
			h->log(h, DRSN_PLUGIN_LOG_ERROR, "%s: [plugin exec] %s: '%s' is not a label of the new model "
			       "(its labels: %s): the key does nothing until a model has it", r->where, r->key,
			       r->key, labels);
		} else if (r->missing) {
			h->log(h, DRSN_PLUGIN_LOG_INFO, "%s: the new model has label '%s' again", r->where, r->key);
		}
		r->missing = missing;
	}
}

static const drsn_plugin exec_plugin_def = {
	.version = DRSN_PLUGIN_ABI_VERSION,
	.name = "exec",
	.description = "runs a command on a detection",
	.wants = DRSN_PLUGIN_CHECK_CONFIG,   /* create() only reads config and model */
	.create = exec_create,
	.destroy = exec_destroy,
	.on_event = exec_on_event,
	.on_model = exec_on_model,
};

DRSN_PLUGIN_DEFINE(exec_plugin_def)
