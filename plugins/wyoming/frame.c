/* Wyoming framing: header line + data + streamed payload (see frame.h). */
#include "frame.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum state { ST_HEADER, ST_DATA, ST_PAYLOAD, ST_FAILED };

struct wy_parser {
	wy_limits lim;
	enum state st;
	char *buf;            /* max_line (+1 NUL) or max_data (+1 NUL) bytes */
	size_t cap;
	size_t len;           /* bytes held in buf */
	cJSON *header;        /* parsed header while reading data */
	size_t data_length;
	size_t payload_left;
	char code[24];
	char text[160];
};

int wy_parser_create(wy_parser **out, const wy_limits *lim)
{
	if (!out || !lim || !lim->max_line || !lim->max_data || !lim->max_payload)
		return -EINVAL;
	*out = NULL;
	wy_parser *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->lim = *lim;
	p->cap = (lim->max_line > lim->max_data ? lim->max_line : lim->max_data) + 1;
	p->buf = malloc(p->cap);
	if (!p->buf) {
		free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

void wy_parser_reset(wy_parser *p)
{
	cJSON_Delete(p->header);
	p->header = NULL;
	p->st = ST_HEADER;
	p->len = 0;
	p->data_length = 0;
	p->payload_left = 0;
	p->code[0] = p->text[0] = 0;
}

void wy_parser_destroy(wy_parser *p)
{
	if (!p)
		return;
	cJSON_Delete(p->header);
	free(p->buf);
	free(p);
}

__attribute__((format(printf, 3, 4)))
static int fail(wy_parser *p, const char *code, const char *fmt, ...)
{
	va_list ap;
	snprintf(p->code, sizeof p->code, "%s", code);
	va_start(ap, fmt);
	vsnprintf(p->text, sizeof p->text, fmt, ap);
	va_end(ap);
	cJSON_Delete(p->header);
	p->header = NULL;
	p->st = ST_FAILED;
	return -EPROTO;
}

/* A length field: absent/null = 0; else a non-negative integer <= max. */
static int length_field(wy_parser *p, const char *name, size_t max, const char *too_long,
			size_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->header, name);
	*out = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble != floor(v->valuedouble))
		return fail(p, "bad-header", "header field %s is not a non-negative integer", name);
	if (v->valuedouble > (double)max)
		return fail(p, too_long, "%s %.15g is over the limit of %zu bytes", name,
			    v->valuedouble, max);
	*out = (size_t)v->valuedouble;
	return 0;
}

/* The event is complete up to its payload: hand it over. */
static int emit(wy_parser *p, const wy_handler *h, void *user)
{
	int rc = 0;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(p->header, "type");
	cJSON *data = cJSON_GetObjectItemCaseSensitive(p->header, "data");
	if (!cJSON_IsObject(data)) {
		cJSON_DeleteItemFromObjectCaseSensitive(p->header, "data");
		data = cJSON_AddObjectToObject(p->header, "data");
		if (!data)
			return fail(p, "bad-header", "out of memory");
	}
	rc = h->event(user, type->valuestring, data, p->payload_left);
	cJSON_Delete(p->header);
	p->header = NULL;
	if (rc)
		return rc;
	if (p->payload_left) {
		p->st = ST_PAYLOAD;
		return 0;
	}
	p->st = ST_HEADER;
	return h->end(user);
}

static int header_line(wy_parser *p, const wy_handler *h, void *user)
{
	size_t n = p->len;
	p->len = 0;
	while (n && (p->buf[n - 1] == '\r' || p->buf[n - 1] == ' ' || p->buf[n - 1] == '\t'))
		n--;
	size_t i = 0;
	while (i < n && (p->buf[i] == ' ' || p->buf[i] == '\t'))
		i++;
	if (i == n)
		return 0;   /* blank line */
	p->header = cJSON_ParseWithLength(p->buf + i, n - i);
	if (!p->header)
		return fail(p, "bad-header", "header line is not JSON");
	if (!cJSON_IsObject(p->header))
		return fail(p, "bad-header", "header line is not a JSON object");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(p->header, "type");
	if (!cJSON_IsString(type) || !type->valuestring[0])
		return fail(p, "bad-header", "header has no \"type\" string");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(p->header, "data");
	if (data && !cJSON_IsObject(data) && !cJSON_IsNull(data))
		return fail(p, "bad-header", "header field data is not an object");
	int rc = length_field(p, "data_length", p->lim.max_data, "data-too-long", &p->data_length);
	if (!rc)
		rc = length_field(p, "payload_length", p->lim.max_payload, "payload-too-long",
				  &p->payload_left);
	if (rc)
		return rc;
	if (p->data_length) {
		p->st = ST_DATA;
		return 0;
	}
	return emit(p, h, user);
}

static int data_done(wy_parser *p, const wy_handler *h, void *user)
{
	cJSON *extra = cJSON_ParseWithLength(p->buf, p->len);
	p->len = 0;
	if (!extra || !cJSON_IsObject(extra)) {
		cJSON_Delete(extra);
		return fail(p, "bad-data", "the %zu data bytes are not a JSON object", p->data_length);
	}
	cJSON *data = cJSON_GetObjectItemCaseSensitive(p->header, "data");
	if (!cJSON_IsObject(data)) {
		cJSON_DeleteItemFromObjectCaseSensitive(p->header, "data");
		cJSON_AddItemToObject(p->header, "data", extra);
		return emit(p, h, user);
	}
	/* merge: data_length's object wins key by key */
	while (extra->child) {
		cJSON *item = cJSON_DetachItemViaPointer(extra, extra->child);
		cJSON *old = cJSON_GetObjectItemCaseSensitive(data, item->string);
		if (old) {
			cJSON_ReplaceItemViaPointer(data, old, item);   /* keeps item's key */
		} else {
			item->next = item->prev = NULL;
			cJSON_AddItemToObject(data, item->string, item);
		}
	}
	cJSON_Delete(extra);
	return emit(p, h, user);
}

int wy_parser_feed(wy_parser *p, const uint8_t *buf, size_t n, const wy_handler *h, void *user)
{
	int rc = 0;
	while (n && !rc) {
		switch (p->st) {
		case ST_FAILED:
			return -EPROTO;
		case ST_HEADER: {
			const uint8_t *nl = memchr(buf, '\n', n);
			size_t take = nl ? (size_t)(nl - buf) : n;
			if (p->len + take > p->lim.max_line)
				return fail(p, "header-too-long",
					    "header line longer than %zu bytes", p->lim.max_line);
			memcpy(p->buf + p->len, buf, take);
			p->len += take;
			if (!nl)
				return 0;
			buf += take + 1;
			n -= take + 1;
			rc = header_line(p, h, user);
			break;
		}
		case ST_DATA: {
			size_t take = p->data_length - p->len;
			if (take > n)
				take = n;
			memcpy(p->buf + p->len, buf, take);
			p->len += take;
			buf += take;
			n -= take;
			if (p->len == p->data_length)
				rc = data_done(p, h, user);
			break;
		}
		case ST_PAYLOAD: {
			size_t take = p->payload_left < n ? p->payload_left : n;
			p->payload_left -= take;
			rc = h->payload(user, buf, take);
			buf += take;
			n -= take;
			if (!rc && !p->payload_left) {
				p->st = ST_HEADER;
				rc = h->end(user);
			}
			break;
		}
		}
	}
	return rc;
}

int wy_parser_in_event(const wy_parser *p)
{
	return p->st == ST_DATA || p->st == ST_PAYLOAD || (p->st == ST_HEADER && p->len > 0);
}

int wy_parser_eof(wy_parser *p)
{
	switch (p->st) {
	case ST_FAILED:
		return -EPROTO;
	case ST_HEADER: {
		size_t i = 0;
		while (i < p->len && (p->buf[i] == ' ' || p->buf[i] == '\t' || p->buf[i] == '\r'))
			i++;
		if (i == p->len)
			return 0;
		return fail(p, "truncated", "connection closed inside a header line (%zu bytes, no newline)",
			    p->len);
	}
	case ST_DATA:
		return fail(p, "truncated", "connection closed after %zu of %zu data bytes", p->len,
			    p->data_length);
	case ST_PAYLOAD:
		return fail(p, "truncated", "connection closed with %zu payload bytes missing",
			    p->payload_left);
	}
	return 0;
}

const char *wy_parser_code(const wy_parser *p)
{
	return p->code;
}

const char *wy_parser_text(const wy_parser *p)
{
	return p->text;
}
