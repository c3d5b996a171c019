/*
 * The NDJSON protocol of drsnd's Unix socket (docs/protocol.md is the user's
 * reference). One JSON object per line; every line has "type" and
 * "version" (DRSN_PROTO_VERSION). Lines are built and parsed with cJSON.
 *
 * This module only turns values into lines and lines into commands; it knows
 * nothing about sockets (server.c) or audio (daemon.c).
 */
#ifndef DRSN_DAEMON_PROTO_H
#define DRSN_DAEMON_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define DRSN_PROTO_VERSION 1

/* Event types a client can subscribe to (bit i = 1 << i). */
enum drsn__event {
	DRSN_EV_DETECTION = 0,   /* subscribed by default */
	DRSN_EV_SCORES,
	DRSN_EV_LEVEL,
	DRSN_EV_VAD,
	DRSN_EV_STATUS,          /* periodic status broadcast; a "status" command always answers */
	DRSN_EV_COUNT
};
#define DRSN_EV_DEFAULT_MASK (1u << DRSN_EV_DETECTION)

/* "detection" -> DRSN_EV_DETECTION ...; -1 if unknown. */
int drsn__event_parse(const char *name);
const char *drsn__event_name(int ev);

/* Commands a client sends. */
enum drsn__cmd_kind {
	DRSN_CMD_PING,
	DRSN_CMD_STATUS,
	DRSN_CMD_SUBSCRIBE,
	DRSN_CMD_RELOAD,
};

struct drsn__command {
	enum drsn__cmd_kind kind;
	unsigned events;         /* subscribe: new mask */
	cJSON *id;               /* the client's "id" (any JSON value, as a cJSON_Raw of the
				  * text it sent when it can be found) or NULL; owned */
};

/* Error codes of "error" events (the "code" field). */
#define DRSN_ERR_BAD_JSON "bad_json"
#define DRSN_ERR_BAD_REQUEST "bad_request"
#define DRSN_ERR_UNKNOWN_COMMAND "unknown_command"
#define DRSN_ERR_LINE_TOO_LONG "line_too_long"
#define DRSN_ERR_TOO_MANY_CLIENTS "too_many_clients"
#define DRSN_ERR_FLOOD "flood"
#define DRSN_ERR_RELOAD_FAILED "reload_failed"
#define DRSN_ERR_SOURCE "source"

/* Parse one line (without its newline). On success fills cmd (free its id
 * with drsn__command_clear) and returns 0. On failure returns -EINVAL and
 * sets *code to one of the DRSN_ERR_* strings, msg to a sentence, and *id to
 * the request's id if one could be read (caller frees with cJSON_Delete).
 * Refused, without an id: a line that is not UTF-8 (bad_json), a \u0000 in
 * any string, an id holding a number out of double range (bad_request): the
 * id could not be echoed as it was sent. */
int drsn__proto_parse(const char *line, size_t len, struct drsn__command *cmd,
		      const char **code, char *msg, size_t msg_size, cJSON **id);
void drsn__command_clear(struct drsn__command *cmd);

/* A new object {"type": type, "version": DRSN_PROTO_VERSION}. */
cJSON *drsn__proto_new(const char *type);

/* Serialise obj as one line: a malloc'd, '\n'-terminated string, *len set
 * to its length including the newline. Deletes obj. NULL on ENOMEM. Bytes
 * of its strings that are not UTF-8 become U+FFFD: every line is UTF-8. */
char *drsn__proto_line(cJSON *obj, size_t *len);

/* {"type":"error","version":1,"code":code,"message":msg[,"id":id]} as a
 * line (id is copied, not taken). */
char *drsn__proto_error_line(const char *code, const char *msg, const cJSON *id, size_t *len);

/* Wall-clock time as a Unix timestamp in seconds (for "time" fields); 0 if
 * the clock cannot be read. */
double drsn__wall_time(void);

#endif
