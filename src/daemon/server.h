/*
 * drsnd's Unix socket server on libuv: accepts clients, splits their input
 * into lines, hands parsed commands to the daemon, and queues output.
 *
 * Bounded everywhere, so no client can hurt the audio or the others:
 *  - input: one line buffer of max_line bytes per client (plus the line's
 *    "\n" or "\r\n", which max_line does not count); a longer line gets
 *    one "line_too_long" error and is discarded up to its newline. While a
 *    client's output queue is over half full its commands wait (it is not
 *    read), so pipelined requests never overflow it with replies;
 *  - output: a byte ring of client_queue bytes per client, allocated at
 *    accept. A line that does not fit means the client is not reading fast
 *    enough: it is disconnected and counted in dropped_slow. Sending never
 *    waits and never allocates per message;
 *  - protocol errors: more than flood_errors within 10 s disconnects the
 *    client (dropped_flood) after a final "flood" error;
 *  - clients: at most max_clients; one more gets "too_many_clients" and is
 *    closed. A client that shuts down its sending side keeps receiving; one
 *    that has closed for good is noticed within HUP_CHECK_MS even when
 *    nothing is written to it.
 * Everything runs on the loop thread.
 */
#ifndef DRSN_DAEMON_SERVER_H
#define DRSN_DAEMON_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "daemon/proto.h"
#include "drsn/common.h"

struct drsn__server;
struct drsn__client;

struct drsn__server_opts {
	const char *path;          /* socket file */
	unsigned mode;             /* e.g. 0660; the socket file appears with it */
	const char *group;         /* NULL or "" = leave the group alone; else as mode */
	int max_clients;
	int max_line;
	int client_queue;
	int flood_errors;
	/* Output-only byte stream (the denoised PCM socket): client input is
	 * read and discarded, nothing is sent on connect or on rejection, and
	 * on_command is never called (ops may have NULL members). */
	int raw;
};

struct drsn__server_ops {
	/* A client connected: send it "hello". May be NULL. */
	void (*on_connect)(void *user, struct drsn__client *c);
	/* A parsed command (cmd->id is the request id or NULL; valid during
	 * the call). Reply with drsn__client_send. */
	void (*on_command)(void *user, struct drsn__client *c, const struct drsn__command *cmd);
	/* drsn__client_watch_silence ran out: c has sent no line since. May
	 * be NULL. */
	void (*on_silent)(void *user, struct drsn__client *c);
};

struct drsn__server_stats {
	uint64_t clients;          /* connected now */
	uint64_t accepted;         /* since start */
	uint64_t rejected;         /* over max_clients */
	uint64_t dropped_slow;     /* output queue overflowed */
	uint64_t dropped_flood;    /* too many protocol errors */
	uint64_t protocol_errors;  /* error events sent for bad input */
	uint64_t lines_out;
	uint64_t bytes_out;        /* queued for sending */
};

/* Bind and listen on o->path. If the path exists: a socket no daemon answers
 * on is removed (stale); a live one, or a non-socket file, is an error. */
int drsn__server_start(struct drsn__server **out, uv_loop_t *loop,
		       const struct drsn__server_opts *o,
		       const struct drsn__server_ops *ops, void *user, drsn_error *err);

/* Graceful stop: stop accepting, stop reading, let each client's queued
 * output drain (at most timeout_ms), close everything, unlink the socket,
 * free the server. done(user) runs when all handles are closed. */
void drsn__server_stop(struct drsn__server *s, int timeout_ms,
		       void (*done)(void *user), void *user);

/* Queue one line (ending in '\n') for c. Returns 0, or -EPIPE if c is
 * closing or was just dropped because its queue is full. */
int drsn__client_send(struct drsn__client *c, const char *line, size_t len);

/* Send an "error" event to c (id: the request id to echo, or NULL). */
void drsn__client_error(struct drsn__client *c, const char *code, const char *msg,
			const cJSON *id);

/* Call ops->on_silent(user, c) once, ms from now, unless c sends a line
 * first (a command or a malformed or overlong one; blank keep-alive lines
 * do not count) or goes away. The timer is part of c (no allocation) and
 * is closed with it. Returns 0 or a negative errno. */
int drsn__client_watch_silence(struct drsn__client *c, uint64_t ms);

void drsn__client_set_events(struct drsn__client *c, unsigned mask);
unsigned drsn__client_events(const struct drsn__client *c);
uint64_t drsn__client_id(const struct drsn__client *c);

/* Send line to every client subscribed to ev (ev < 0: to every client). */
void drsn__server_broadcast(struct drsn__server *s, int ev, const char *line, size_t len);

/* Clients subscribed to ev now: build a line only if someone wants it. */
int drsn__server_subscribers(const struct drsn__server *s, int ev);

void drsn__server_get_stats(const struct drsn__server *s, struct drsn__server_stats *st);

#endif
