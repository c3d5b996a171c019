#include "daemon/server.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "common/unixsock.h"
#include "daemon/log.h"

#define FLOOD_WINDOW_MS 10000
#define SCRATCH_SIZE 65536
#define HUP_CHECK_MS 500            /* how often half-closed clients are checked */
#define LISTEN_BACKLOG 128

struct drsn__client {
	uv_pipe_t pipe;                 /* first: the read callbacks cast; data is c too */
	struct drsn__server *srv;
	struct drsn__client *prev, *next;
	uint64_t id;
	unsigned events;
	int closing;
	int counted;                    /* in srv->n_clients */

	char *in;                       /* max_line + 2 bytes ("\r\n"); reads go here */
	size_t in_len;
	int discarding;                 /* inside an overlong line */
	int paused;                     /* not reading: replies fill half the queue */

	char *out;                      /* client_queue bytes, a ring */
	size_t out_cap;
	uint64_t out_head, out_tail;    /* free-running byte counters */
	size_t inflight;
	int writing;
	int finishing;                  /* shut down once the ring is empty */
	int half_closed;                /* sent EOF (shutdown(SHUT_WR)) but still reads */
	int spoke;                      /* has sent a line (a command or not) */
	uv_write_t wreq;
	uv_shutdown_t sreq;

	uint64_t flood_start;
	int flood_count;

	/* drsn__client_watch_silence: fires on_silent unless a line comes first */
	uv_timer_t silence;
	int silence_open;               /* silence was initialised: closed with the client */
	int open_handles;               /* pipe (+ silence): freed when both are closed */
};

enum { REAP_EVERY_MS = 100 };

struct drsn__server {
	uv_loop_t *loop;
	uv_pipe_t listener;
	struct drsn__server_opts o;
	char path[108];
	struct drsn__unix_id made;   /* the socket file at path: removed at stop if still ours */
	struct drsn__server_ops ops;
	void *user;
	struct drsn__client *clients;   /* doubly linked list */
	int n_clients;
	uint64_t reaped_at;   /* uv_now() + 1 of the last full-server reap_gone, 0: none */
	int subscribers[DRSN_EV_COUNT];
	uint64_t next_id;
	struct drsn__server_stats st;
	char *scratch;

	uv_timer_t hup_timer;           /* runs while n_half_closed > 0 */
	int n_half_closed;

	int stopping;
	int open_handles;               /* listener + hup_timer + clients + stop timer */
	uv_timer_t stop_timer;
	int timer_open;
	void (*done)(void *user);
	void *done_user;
};

static void maybe_done(struct drsn__server *s);

/* ---- output ------------------------------------------------------------ */

static void close_client(struct drsn__client *c);

/* For log lines: what a connection of this server is. */
static const char *who(const struct drsn__server *s)
{
	return s->o.raw ? "[denoise] pcm_socket reader" : "client";
}

static void kick_write(struct drsn__client *c);
static void do_shutdown(struct drsn__client *c);
static void resume_input(struct drsn__client *c);

static void on_write(uv_write_t *req, int status)
{
	struct drsn__client *c = req->data;
	c->writing = 0;
	c->out_tail += c->inflight;
	c->inflight = 0;
	if (status < 0) {
		if (status != UV_ECANCELED)
			log_debug("%s %llu: write failed: %s",
				  who(c->srv),
				  (unsigned long long)c->id, uv_strerror(status));
		close_client(c);
		return;
	}
	if (c->out_head != c->out_tail)
		kick_write(c);
	else if (c->finishing)
		do_shutdown(c);
	if (c->paused && (size_t)(c->out_head - c->out_tail) <= c->out_cap / 4)
		resume_input(c);
}

static void kick_write(struct drsn__client *c)
{
	if (c->writing || c->out_head == c->out_tail || uv_is_closing((uv_handle_t *)&c->pipe))
		return;
	size_t at = (size_t)(c->out_tail % c->out_cap);
	size_t used = (size_t)(c->out_head - c->out_tail);
	size_t n = c->out_cap - at < used ? c->out_cap - at : used;
	uv_buf_t b = uv_buf_init(c->out + at, (unsigned)n);
	c->wreq.data = c;
	c->inflight = n;
	c->writing = 1;
	int rc = uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &b, 1, on_write);
	if (rc < 0) {
		c->writing = 0;
		c->inflight = 0;
		close_client(c);
	}
}

int drsn__client_send(struct drsn__client *c, const char *line, size_t len)
{
	if (c->closing)
		return -EPIPE;
	size_t free_bytes = c->out_cap - (size_t)(c->out_head - c->out_tail);
	if (len > free_bytes) {
		c->srv->st.dropped_slow++;
		log_info("%s %llu: output queue full (%zu bytes unsent), dropping it",
			 who(c->srv),
			 (unsigned long long)c->id, (size_t)(c->out_head - c->out_tail));
		close_client(c);
		return -EPIPE;
	}
	size_t at = (size_t)(c->out_head % c->out_cap);
	size_t first = c->out_cap - at < len ? c->out_cap - at : len;
	memcpy(c->out + at, line, first);
	memcpy(c->out, line + first, len - first);
	c->out_head += len;
	c->srv->st.lines_out++;
	c->srv->st.bytes_out += len;
	kick_write(c);
	return 0;
}

void drsn__client_error(struct drsn__client *c, const char *code, const char *msg, const cJSON *id)
{
	size_t len;
	char *line = drsn__proto_error_line(code, msg, id, &len);
	if (line)
		drsn__client_send(c, line, len);
	free(line);
}

void drsn__client_set_events(struct drsn__client *c, unsigned mask)
{
	for (int e = 0; e < DRSN_EV_COUNT; e++) {
		int was = !!(c->events & (1u << e)), now = !!(mask & (1u << e));
		c->srv->subscribers[e] += now - was;
	}
	c->events = mask;
}

unsigned drsn__client_events(const struct drsn__client *c)
{
	return c->events;
}

uint64_t drsn__client_id(const struct drsn__client *c)
{
	return c->id;
}

static int peer_gone(struct drsn__client *c);

static void on_silence(uv_timer_t *t)
{
	struct drsn__client *c = t->data;
	if (!c->closing && c->half_closed && peer_gone(c)) {
		/* ended its input and went: nothing written to it told us yet */
		close_client(c);
		return;
	}
	if (!c->closing && c->srv->ops.on_silent)
		c->srv->ops.on_silent(c->srv->user, c);
}

int drsn__client_watch_silence(struct drsn__client *c, uint64_t ms)
{
	if (c->closing)
		return -EPIPE;
	if (!c->silence_open) {
		int rc = uv_timer_init(c->srv->loop, &c->silence);
		if (rc < 0)
			return rc;
		c->silence.data = c;
		c->silence_open = 1;
		c->open_handles++;
	}
	return uv_timer_start(&c->silence, on_silence, ms, 0);
}

void drsn__server_broadcast(struct drsn__server *s, int ev, const char *line, size_t len)
{
	struct drsn__client *c = s->clients, *next;
	for (; c; c = next) {
		next = c->next;   /* send may close c (it stays in the list until its close cb) */
		if (ev < 0 || (c->events & (1u << ev)))
			drsn__client_send(c, line, len);
	}
}

int drsn__server_subscribers(const struct drsn__server *s, int ev)
{
	return ev >= 0 && ev < DRSN_EV_COUNT ? s->subscribers[ev] : s->n_clients;
}

void drsn__server_get_stats(const struct drsn__server *s, struct drsn__server_stats *st)
{
	*st = s->st;
	st->clients = (uint64_t)s->n_clients;
}

/* ---- closing ----------------------------------------------------------- */

static void on_client_closed(uv_handle_t *h)
{
	struct drsn__client *c = h->data;
	struct drsn__server *s = c->srv;
	if (--c->open_handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else if (s->clients == c)
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->in);
	free(c->out);
	free(c);
	s->open_handles--;
	maybe_done(s);
}

static void close_client(struct drsn__client *c)
{
	if (uv_is_closing((uv_handle_t *)&c->pipe))
		return;
	c->closing = 1;
	if (c->counted) {
		c->counted = 0;
		c->srv->n_clients--;
		drsn__client_set_events(c, 0);
	}
	if (c->half_closed) {
		c->half_closed = 0;
		c->srv->n_half_closed--;
	}
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
	if (c->silence_open)
		uv_close((uv_handle_t *)&c->silence, on_client_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	close_client(req->data);
}

static void do_shutdown(struct drsn__client *c)
{
	c->finishing = 0;
	c->sreq.data = c;
	if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->pipe, on_shutdown) < 0)
		close_client(c);
}

/* Stop reading, send what is queued, then close. */
static void finish_client(struct drsn__client *c)
{
	if (uv_is_closing((uv_handle_t *)&c->pipe) || c->closing)
		return;
	c->closing = 1;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if (c->out_head == c->out_tail && !c->writing) {
		do_shutdown(c);
	} else {
		/* on_write shuts down when the ring is empty */
		c->finishing = 1;
		kick_write(c);
	}
}

/* ---- input ------------------------------------------------------------- */

static void protocol_error(struct drsn__client *c, const char *code, const char *msg, const cJSON *id)
{
	struct drsn__server *s = c->srv;
	s->st.protocol_errors++;
	uint64_t now = uv_now(s->loop);
	if (now - c->flood_start > FLOOD_WINDOW_MS) {
		c->flood_start = now;
		c->flood_count = 0;
	}
	if (++c->flood_count > s->o.flood_errors) {
		s->st.dropped_flood++;
		log_info("client %llu: more than %d protocol errors in 10 s, disconnecting",
			 (unsigned long long)c->id, s->o.flood_errors);
		drsn__client_error(c, DRSN_ERR_FLOOD, "too many bad requests: disconnecting", NULL);
		finish_client(c);
		return;
	}
	drsn__client_error(c, code, msg, id);
}

/* c has sent a line (a command, or one that is not): it is not silent */
static void heard(struct drsn__client *c)
{
	c->spoke = 1;
	if (c->silence_open)
		uv_timer_stop(&c->silence);
}

static void handle_line(struct drsn__client *c, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return;   /* blank lines are keep-alives */
	heard(c);
	struct drsn__command cmd;
	const char *code;
	char msg[256];
	cJSON *id = NULL;
	if (drsn__proto_parse(line, len, &cmd, &code, msg, sizeof msg, &id) < 0) {
		protocol_error(c, code, msg, id);
		cJSON_Delete(id);
		return;
	}
	c->srv->ops.on_command(c->srv->user, c, &cmd);
	drsn__command_clear(&cmd);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

/* max_line counts a line's bytes without its "\n" or "\r\n" */
static void line_too_long(struct drsn__client *c)
{
	char msg[128];
	heard(c);
	snprintf(msg, sizeof msg, "line longer than %d bytes: discarded", c->srv->o.max_line);
	protocol_error(c, DRSN_ERR_LINE_TOO_LONG, msg, NULL);
}

/* The complete lines in c->in, in order. Replies are queued like events,
 * and a client may send many commands in one write: while its queue is
 * more than half full the rest wait in c->in and the client is not read
 * (resume_input goes on once it has read), so a client that reads its
 * replies is not dropped for asking. */
static void process_input(struct drsn__client *c)
{
	size_t cap = (size_t)c->srv->o.max_line, done = 0;
	while (!c->closing) {
		if ((size_t)(c->out_head - c->out_tail) > c->out_cap / 2) {
			c->paused = 1;
			uv_read_stop((uv_stream_t *)&c->pipe);
			break;
		}
		char *p = c->in + done;
		char *nl = memchr(p, '\n', c->in_len - done);
		if (!nl)
			break;
		size_t len = (size_t)(nl - p);
		if (c->discarding)
			c->discarding = 0;
		else if (len - (len && p[len - 1] == '\r') > cap)
			line_too_long(c);
		else
			handle_line(c, p, len);
		done += len + 1;
	}
	memmove(c->in, c->in + done, c->in_len - done);
	c->in_len -= done;
	if (c->paused || c->closing)
		return;
	/* what is left has no newline yet: a '\r' at the end may be the
	 * first half of its "\r\n" */
	if (c->discarding) {
		c->in_len = 0;
	} else if (c->in_len - (c->in_len && c->in[c->in_len - 1] == '\r') > cap) {
		c->in_len = 0;
		c->discarding = 1;
		line_too_long(c);
	}
}

static void resume_input(struct drsn__client *c)
{
	c->paused = 0;
	if (c->closing)
		return;
	process_input(c);
	if (!c->paused && !c->closing && !c->half_closed &&
	    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
		close_client(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct drsn__client *c = (struct drsn__client *)h;
	if (c->srv->o.raw)   /* what a PCM reader sends is dropped */
		*buf = uv_buf_init(c->srv->scratch, SCRATCH_SIZE);
	else   /* process_input leaves at most max_line + 1 bytes */
		*buf = uv_buf_init(c->in + c->in_len,
				   (unsigned)((size_t)c->srv->o.max_line + 2 - c->in_len));
}

/* 1 if the peer has closed its end for good (or the socket is in error),
 * 0 if it still reads: after its shutdown(SHUT_WR) a Unix stream socket
 * reports EOF but not POLLHUP. */
static int peer_gone(struct drsn__client *c)
{
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0)
		return 1;
	struct pollfd p = {.fd = fd, .events = 0};
	return poll(&p, 1, 0) != 0;
}

/* Closes the clients (all, or only the half-closed ones) whose peer has
 * closed its end; a closed client stays in the list until its close
 * callback, so the walk is safe. */
static void reap_gone(struct drsn__server *s, int half_closed_only)
{
	for (struct drsn__client *c = s->clients; c; c = c->next)
		if (c->counted && !c->closing && (c->half_closed || !half_closed_only) && peer_gone(c)) {
			log_debug("%s %llu: disconnected", who(s), (unsigned long long)c->id);
			close_client(c);
		}
}

/* A half-closed client that has since closed its end gets no EPIPE until
 * something is written to it: one subscribed to nothing would hold its
 * slot for ever. */
static void on_hup_check(uv_timer_t *t)
{
	struct drsn__server *s = t->data;
	reap_gone(s, 1);
	if (!s->n_half_closed)
		uv_timer_stop(t);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct drsn__client *c = (struct drsn__client *)st;
	struct drsn__server *s = c->srv;
	if (n == UV_EOF && !c->closing && !peer_gone(c)) {
		/* shutdown(SHUT_WR) ("printf ... | socat - UNIX-CONNECT:..."):
		 * the client has said everything but still reads. A last line
		 * without its newline is complete now; the events go on. */
		uv_read_stop(st);
		if (!s->o.raw && c->in_len && !c->discarding)
			handle_line(c, c->in, c->in_len);
		c->in_len = 0;
		if (c->closing)
			return;
		/* a client that said something and then ended its input
		 * ("printf status | socat") was a probe: not silent, not a
		 * listener; one that ends its input without a word listens */
		if (c->spoke && c->silence_open)
			uv_timer_stop(&c->silence);
		log_debug("%s %llu: end of its input, still sending to it", who(s),
			  (unsigned long long)c->id);
		c->half_closed = 1;
		if (s->n_half_closed++ == 0)
			uv_timer_start(&s->hup_timer, on_hup_check, HUP_CHECK_MS, HUP_CHECK_MS);
		return;
	}
	if (n < 0) {
		/* EOF or error: the peer is gone (a half-written line is dropped). */
		log_debug("%s %llu: %s", who(s), (unsigned long long)c->id,
			  n == UV_EOF ? "disconnected" : uv_strerror((int)n));
		close_client(c);
		return;
	}
	(void)buf;
	if (!s->o.raw) {
		c->in_len += (size_t)n;
		process_input(c);
	}
}

/* ---- accept ------------------------------------------------------------ */

static void on_connection(uv_stream_t *l, int status)
{
	struct drsn__server *s = l->data;
	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	struct drsn__client *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->srv = s;
	c->id = ++s->next_id;
	c->out_cap = (size_t)s->o.client_queue;
	c->in = malloc((size_t)s->o.max_line + 2);
	c->out = malloc(c->out_cap);
	uv_pipe_init(s->loop, &c->pipe, 0);
	c->pipe.data = c;
	c->open_handles = 1;
	s->open_handles++;
	/* link first: on_client_closed unlinks */
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	if (uv_accept(l, (uv_stream_t *)&c->pipe) < 0 || !c->in || !c->out) {
		close_client(c);
		return;
	}
	s->st.accepted++;
	/* Connections that came in one loop turn are all accepted before any
	 * of them is read: clients that connected, asked and went (a health
	 * check in a loop) would still hold slots, and a new client alone on
	 * the socket could be refused. The gone ones go first. */
	if (s->n_clients >= s->o.max_clients && !s->stopping &&
	    (!s->reaped_at || uv_now(s->loop) + 1 - s->reaped_at >= REAP_EVERY_MS)) {
		/* a poll() per client: at most every REAP_EVERY_MS, so that a client
		 * retrying against a full server of thousands does not stall the loop */
		s->reaped_at = uv_now(s->loop) + 1;
		reap_gone(s, 0);
	}
	if (s->n_clients >= s->o.max_clients || s->stopping) {
		s->st.rejected++;
		if (!s->o.raw) {
			char msg[96];
			snprintf(msg, sizeof msg, "server full (%d clients)", s->o.max_clients);
			drsn__client_error(c, DRSN_ERR_TOO_MANY_CLIENTS, msg, NULL);
		} else if (!s->stopping && (s->st.rejected == 1 || s->st.rejected % 100 == 0)) {
			/* a PCM reader cannot be told: the log says why it got EOF */
			log_warn("[denoise] pcm_socket: %d readers connected ([socket] max_clients), "
				 "closing a new one (%llu so far)", s->o.max_clients,
				 (unsigned long long)s->st.rejected);
		}
		finish_client(c);
		return;
	}
	c->counted = 1;
	s->n_clients++;
	drsn__client_set_events(c, DRSN_EV_DEFAULT_MASK);
	log_debug("%s %llu connected (%d now)", who(s),
		  (unsigned long long)c->id, s->n_clients);
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
	if (s->ops.on_connect)
		s->ops.on_connect(s->user, c);
}

/* ---- start / stop ------------------------------------------------------ */

int drsn__server_start(struct drsn__server **out, uv_loop_t *loop,
		       const struct drsn__server_opts *o,
		       const struct drsn__server_ops *ops, void *user, drsn_error *err)
{
	*out = NULL;
	struct drsn__server *s = calloc(1, sizeof *s);
	int rc;
	if (!s)
		return drsn__fail(err, -ENOMEM, "out of memory");
	if (strlen(o->path) >= sizeof s->path) {
		free(s);
		return drsn__fail(err, -ENAMETOOLONG, "%s: socket path too long (max %zu bytes)",
				  o->path, sizeof s->path - 1);
	}
	snprintf(s->path, sizeof s->path, "%s", o->path);
	s->o = *o;
	s->o.path = s->path;
	s->o.group = NULL;
	s->ops = *ops;
	s->user = user;
	s->loop = loop;
	s->scratch = malloc(SCRATCH_SIZE);
	if (!s->scratch) {
		free(s);
		return drsn__fail(err, -ENOMEM, "out of memory");
	}

	/* the only raw server is [denoise] pcm_socket */
	char msg[sizeof err->msg];
	rc = drsn__unix_check_dir(s->path, o->raw ? "[denoise] pcm_socket" : "[socket] path", msg,
				  sizeof msg);
	int removed = 0;
	if (!rc)
		rc = drsn__unix_clear_stale(s->path, &removed, msg, sizeof msg);
	if (rc < 0) {
		drsn__fail(err, rc, "%s", msg);
		goto fail;
	}
	if (removed)
		log_info("%s: removed a stale socket (no daemon answered)", s->path);

	gid_t gid = (gid_t)-1;
	if (o->group && o->group[0]) {
		struct group *g = getgrnam(o->group);
		if (!g) {
			rc = drsn__fail(err, -ENOENT, "[socket] group: no group named '%s'", o->group);
			goto fail;
		}
		gid = g->gr_gid;
	}

	uv_pipe_init(loop, &s->listener, 0);
	s->listener.data = s;
	s->open_handles = 1;
	int fd = -1;
	rc = drsn__unix_listen(s->path, o->mode, gid, o->group, LISTEN_BACKLOG, &fd, &s->made, msg,
			       sizeof msg);
	if (rc < 0) {
		drsn__fail(err, rc, "%s", msg);
		goto fail_handle;
	}
	rc = uv_pipe_open(&s->listener, fd);
	if (rc < 0) {
		close(fd);
		drsn__fail(err, rc, "%s: %s", s->path, uv_strerror(rc));
		goto fail_bound;
	}
	rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
	if (rc < 0) {
		drsn__fail(err, rc, "%s: cannot listen: %s", s->path, uv_strerror(rc));
		goto fail_bound;
	}
	uv_timer_init(loop, &s->hup_timer);
	s->hup_timer.data = s;
	s->open_handles++;
	*out = s;
	return 0;

fail_bound:
	drsn__unix_remove(s->path, &s->made);
fail_handle:
	/* The handle must be closed before s is freed: run the loop once. */
	uv_close((uv_handle_t *)&s->listener, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
fail:
	free(s->scratch);
	free(s);
	return rc;
}

static void on_handle_closed(uv_handle_t *h);

static void maybe_done(struct drsn__server *s)
{
	if (!s->stopping)
		return;
	if (!s->clients && s->timer_open) {
		s->timer_open = 0;
		uv_timer_stop(&s->stop_timer);
		uv_close((uv_handle_t *)&s->stop_timer, on_handle_closed);
	}
	if (s->open_handles > 0)
		return;
	void (*done)(void *) = s->done;
	void *user = s->done_user;
	free(s->scratch);
	free(s);
	if (done)
		done(user);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct drsn__server *s = h->data;
	s->open_handles--;
	maybe_done(s);
}

static void on_stop_timeout(uv_timer_t *t)
{
	struct drsn__server *s = t->data;
	for (struct drsn__client *c = s->clients; c; c = c->next)
		close_client(c);
}

void drsn__server_stop(struct drsn__server *s, int timeout_ms, void (*done)(void *), void *user)
{
	s->stopping = 1;
	s->done = done;
	s->done_user = user;
	/* only our own: another drsnd may have made a socket there since
	 * someone removed ours */
	drsn__unix_remove(s->path, &s->made);
	s->open_handles++;   /* the timer; held until maybe_done closes it */
	uv_timer_init(s->loop, &s->stop_timer);
	s->stop_timer.data = s;
	s->timer_open = 1;
	uv_timer_start(&s->stop_timer, on_stop_timeout, (uint64_t)timeout_ms, 0);
	for (struct drsn__client *c = s->clients, *next; c; c = next) {
		next = c->next;
		finish_client(c);
	}
	uv_close((uv_handle_t *)&s->listener, on_handle_closed);
	uv_close((uv_handle_t *)&s->hup_timer, on_handle_closed);
}
