/*
 * Wyoming framing: an incremental parser for one connection's byte stream.
 *
 * Each event on the wire is
 *
 *   {"type":"...", "data":{...}, "data_length":N, "payload_length":M}\n
 *   N bytes: a JSON object merged on top of "data" (optional)
 *   M bytes: the binary payload, e.g. PCM audio (optional)
 *
 * Feed bytes as they arrive, in any split. For every event the parser calls
 * h->event() once the header and the data are complete (type and merged data
 * object, owned by the parser and valid during the call), then h->payload()
 * with the payload in pieces as they arrive (never buffered whole), then
 * h->end(). Blank lines between events are skipped.
 *
 * Memory is bounded: one buffer of max_line + max_data bytes, allocated by
 * create; payloads stream through. What breaks the framing is an error the
 * stream cannot recover from (there is no way to find the next header):
 * a header line over max_line bytes, data_length over max_data,
 * payload_length over max_payload, a header or data that is not a JSON
 * object, a missing "type", a length that is not a non-negative integer,
 * and, at end of stream, an event cut short. Then feed/eof return
 * -EPROTO and wy_parser_code/_text name what happened; the parser accepts
 * nothing more.
 */
#ifndef DRSN_PLUGIN_WYOMING_FRAME_H
#define DRSN_PLUGIN_WYOMING_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct wy_limits {
	size_t max_line;      /* header line, bytes, without the newline */
	size_t max_data;      /* data_length */
	size_t max_payload;   /* payload_length */
} wy_limits;

typedef struct wy_handler {
	/* A complete header with its data merged in (data may be an empty
	 * object, never NULL). Non-zero return stops feed() (returns it). */
	int (*event)(void *user, const char *type, cJSON *data, size_t payload_length);
	/* The next piece of the current event's payload (n > 0). */
	int (*payload)(void *user, const uint8_t *p, size_t n);
	/* The current event's payload is complete (also for payload_length 0). */
	int (*end)(void *user);
} wy_handler;

typedef struct wy_parser wy_parser;

/* 0, -EINVAL (a zero limit), -ENOMEM. */
int wy_parser_create(wy_parser **out, const wy_limits *lim);
void wy_parser_destroy(wy_parser *p);

/* Forget any partial event and a previous error. */
void wy_parser_reset(wy_parser *p);

/* 0; -EPROTO for a framing error (see above); or a handler's non-zero
 * return, as is. */
int wy_parser_feed(wy_parser *p, const uint8_t *buf, size_t n, const wy_handler *h, void *user);

/* 1 while inside an event: some of its header line (even blanks without
 * their newline), data or payload has arrived but not all of it; 0 between
 * events (blank lines included) and after an error. */
int wy_parser_in_event(const wy_parser *p);

/* The peer closed its side: 0 between events, -EPROTO ("truncated") inside
 * one. */
int wy_parser_eof(wy_parser *p);

/* After -EPROTO: a short machine-readable code ("header-too-long",
 * "bad-header", "data-too-long", "bad-data", "payload-too-long",
 * "truncated") and a sentence for people. "" when there was no error. */
const char *wy_parser_code(const wy_parser *p);
const char *wy_parser_text(const wy_parser *p);

#endif
