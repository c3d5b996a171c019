#include "daemon/proto.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/utf8.h"

static const char *const event_names[DRSN_EV_COUNT] = {
	"detection", "scores", "level", "vad", "status",
};

int drsn__event_parse(const char *name)
{
	for (int i = 0; i < DRSN_EV_COUNT; i++)
		if (!strcmp(name, event_names[i]))
			return i;
	return -1;
}

const char *drsn__event_name(int ev)
{
	return ev >= 0 && ev < DRSN_EV_COUNT ? event_names[ev] : "?";
}

void drsn__command_clear(struct drsn__command *cmd)
{
	cJSON_Delete(cmd->id);
	cmd->id = NULL;
}

static int fail(const char **code, const char *c, char *msg, size_t n, const char *text)
{
	*code = c;
	snprintf(msg, n, "%s", text);
	return -EINVAL;
}

/* Offset of the first "\u0000" escape inside a JSON string of line, or -1.
 * cJSON would cut the string there ("a\u0000b" -> "a"). */
static long find_nul_escape(const char *line, size_t len)
{
	int in_string = 0;
	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			in_string = line[i] == '"';
		} else if (line[i] == '"') {
			in_string = 0;
		} else if (line[i] == '\\' && i + 1 < len) {
			if (line[i + 1] == 'u' && i + 5 < len && !memcmp(line + i + 2, "0000", 4))
				return (long)i;
			i++;   /* the escaped character */
		}
	}
	return -1;
}

/* 1 if every number in v (at any depth) is finite: cJSON reads 1e400 as
 * inf and would print it as null. */
static int all_finite(const cJSON *v)
{
	if (cJSON_IsNumber(v))
		return isfinite(v->valuedouble);
	for (const cJSON *c = v->child; c; c = c->next)
		if (!all_finite(c))
			return 0;
	return 1;
}

/* Scanning text cJSON has already accepted: p at a value, past it. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end && *p != '"'; p++)
		if (*p == '\\')
			p++;
	return p < end ? p + 1 : end;
}

static const char *skip_value(const char *p, const char *end)
{
	if (p == end)
		return end;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && (unsigned char)*p > ' ' && !strchr(",}]", *p))
			p++;
		return p;
	}
	int depth = 0;
	while (p < end) {
		if (*p == '"') {
			p = skip_string(p, end);
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return end;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* Is [p, end) a JSON number (RFC 8259)? cJSON also takes "01", "1." and
 * "-.5" (it hands strtod what looks numeric), which are not JSON. */
static int json_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p == end || *p < '0' || *p > '9')
		return 0;
	if (*p++ == '0' && p < end && *p >= '0' && *p <= '9')
		return 0;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (p < end && *p == '.') {
		if (++p == end || *p < '0' || *p > '9')
			return 0;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return 0;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p == end;
}

/* Every number in the value [v, end) is JSON's: echoed as is, it is valid. */
static int strict_numbers(const char *p, const char *end)
{
	while (p < end) {
		if (*p == '"') {
			p = skip_string(p, end);
		} else if (*p == '-' || (*p >= '0' && *p <= '9')) {
			const char *q = p;
			while (q < end && strchr("0123456789+-.eE", *q))
				q++;
			if (!json_number(p, q))
				return 0;
			p = q;
		} else {
			p++;
		}
	}
	return 1;
}

/* The "id" member of the object in line, as the client wrote it, or NULL
 * (none, a key with escapes before it, or a number cJSON takes that JSON
 * does not: then cJSON's value is used).
 * Echoed verbatim, a number comes back digit for digit: cJSON prints at
 * most 17 significant digits (2^53 + 1 as 9.00719925474099e+15). */
static cJSON *raw_id(const char *line, size_t len)
{
	const char *end = line + len, *p = skip_space(line, end);
	if (p == end || *p != '{')
		return NULL;
	for (p = skip_space(p + 1, end); p < end && *p == '"'; ) {
		const char *key = p + 1;
		p = skip_string(p, end);
		if (p == end)
			return NULL;
		size_t klen = (size_t)(p - 1 - key);
		if (memchr(key, '\\', klen))
			return NULL;
		p = skip_space(p, end);
		if (p == end || *p != ':')
			return NULL;
		const char *v = skip_space(p + 1, end);
		p = skip_value(v, end);
		if (klen == 2 && !memcmp(key, "id", 2)) {
			/* cJSON takes control characters as space, and raw in a
			 * string: those only its own printing makes valid JSON */
			if (p == v || !strict_numbers(v, p))
				return NULL;   /* cJSON's value, printed as valid JSON */
			for (const char *q = v; q < p; q++)
				if ((unsigned char)*q < ' ')
					return NULL;
			char *text = malloc((size_t)(p - v) + 1);
			if (!text)
				return NULL;
			memcpy(text, v, (size_t)(p - v));
			text[p - v] = '\0';
			cJSON *r = cJSON_CreateRaw(text);
			free(text);
			return r;
		}
		p = skip_space(p, end);
		if (p == end || *p != ',')
			return NULL;
		p = skip_space(p + 1, end);
	}
	return NULL;
}

/* The first of keys (NULL-terminated) that obj holds more than once, or
 * NULL: cJSON keeps every member and its lookups find the first, so
 * {"type":"ping","type":"status"} would be answered as a ping. The keys a
 * command reads only: others are ignored anyway (and a walk of every pair
 * would cost a long line's square). */
static const char *dup_key(const cJSON *obj, const char *const *keys)
{
	for (; *keys; keys++) {
		int n = 0;
		for (const cJSON *c = obj->child; c; c = c->next)
			if (c->string && !strcmp(c->string, *keys) && ++n > 1)
				return *keys;
	}
	return NULL;
}

static int fail_duplicate(const char **code, const char *key, char *msg, size_t n)
{
	*code = DRSN_ERR_BAD_REQUEST;
	snprintf(msg, n, "key \"%s\" appears more than once", key);
	return -EINVAL;
}

/* How deep in arrays and objects byte at of s lies (strings skipped):
 * what tells cJSON's nesting limit from a syntax error. */
static size_t depth_at(const char *s, size_t at)
{
	size_t depth = 0;
	int in_str = 0;
	for (size_t i = 0; i < at; i++) {
		if (in_str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_str = 0;
		} else if (s[i] == '"') {
			in_str = 1;
		} else if (s[i] == '[' || s[i] == '{') {
			depth++;
		} else if ((s[i] == ']' || s[i] == '}') && depth) {
			depth--;
		}
	}
	return depth;
}

int drsn__proto_parse(const char *line, size_t len, struct drsn__command *cmd,
		      const char **code, char *msg, size_t msg_size, cJSON **id)
{
	memset(cmd, 0, sizeof *cmd);
	*id = NULL;
	/* The protocol is UTF-8 (RFC 8259): other bytes make the line no JSON
	 * text, and echoing them would make our reply invalid too. */
	size_t bad = drsn__utf8_check(line, len);
	if (bad < len) {
		*code = DRSN_ERR_BAD_JSON;
		snprintf(msg, msg_size, "request is not valid UTF-8 (byte %zu)", bad);
		return -EINVAL;
	}
	/* A raw NUL is no JSON anywhere; cJSON would end a string there
	 * ({"id":"a<NUL>b"} came back as "a") or skip it as white space. */
	const char *raw_nul = memchr(line, '\0', len);
	if (raw_nul) {
		*code = DRSN_ERR_BAD_JSON;
		snprintf(msg, msg_size, "request contains a NUL byte (byte %zu)",
			 (size_t)(raw_nul - line));
		return -EINVAL;
	}
	long nul = find_nul_escape(line, len);
	if (nul >= 0) {
		*code = DRSN_ERR_BAD_REQUEST;
		snprintf(msg, msg_size, "strings must not contain \\u0000 (byte %ld)", nul);
		return -EINVAL;
	}
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	int rc = 0;
	if (!root) {
		size_t at = end && end >= line ? (size_t)(end - line) : 0;
		*code = DRSN_ERR_BAD_JSON;
		if (at < len && (line[at] == '[' || line[at] == '{') &&
		    depth_at(line, at) >= CJSON_NESTING_LIMIT)
			snprintf(msg, msg_size, "arrays and objects nested deeper than %d levels (byte %zu)",
				 CJSON_NESTING_LIMIT, at);
		else
			snprintf(msg, msg_size, "not valid JSON (near byte %zu)", at);
		return -EINVAL;
	}
	/* Anything but whitespace after the object is an error too. */
	if (end) {
		while ((size_t)(end - line) < len && (*end == ' ' || *end == '\t' || *end == '\r'))
			end++;
		if ((size_t)(end - line) < len) {
			rc = fail(code, DRSN_ERR_BAD_JSON, msg, msg_size, "trailing bytes after the JSON object");
			goto out;
		}
	}
	if (!cJSON_IsObject(root)) {
		rc = fail(code, DRSN_ERR_BAD_REQUEST, msg, msg_size, "a command must be a JSON object");
		goto out;
	}
	cJSON *jid = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (jid && !all_finite(jid)) {
		/* not echoed: it cannot be written back as it came */
		rc = fail(code, DRSN_ERR_BAD_REQUEST, msg, msg_size,
			  "\"id\" holds a number out of range (use a smaller number or a string)");
		goto out;
	}
	if (jid) {
		*id = raw_id(line, len);
		if (!*id)
			*id = cJSON_Duplicate(jid, 1);
	}
	/* (a repeated "id": the first is echoed, as cJSON finds it) */
	static const char *const cmd_keys[] = {"type", "id", "version", "events", NULL};
	const char *dup = dup_key(root, cmd_keys);
	if (dup) {
		rc = fail_duplicate(code, dup, msg, msg_size);
		goto out;
	}
	cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsString(type)) {
		rc = fail(code, DRSN_ERR_BAD_REQUEST, msg, msg_size, "missing string field \"type\"");
		goto out;
	}
	cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (ver && (!cJSON_IsNumber(ver) || ver->valuedouble != DRSN_PROTO_VERSION)) {
		rc = fail(code, DRSN_ERR_BAD_REQUEST, msg, msg_size, "unsupported \"version\" (this server speaks 1)");
		goto out;
	}
	const char *t = type->valuestring;
	if (!strcmp(t, "ping")) {
		cmd->kind = DRSN_CMD_PING;
	} else if (!strcmp(t, "status")) {
		cmd->kind = DRSN_CMD_STATUS;
	} else if (!strcmp(t, "reload")) {
		cmd->kind = DRSN_CMD_RELOAD;
	} else if (!strcmp(t, "subscribe")) {
		cmd->kind = DRSN_CMD_SUBSCRIBE;
		cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "events");
		if (!cJSON_IsArray(ev)) {
			rc = fail(code, DRSN_ERR_BAD_REQUEST, msg, msg_size,
				  "subscribe needs \"events\": an array of event names");
			goto out;
		}
		cJSON *e;
		cJSON_ArrayForEach(e, ev) {
			int k = cJSON_IsString(e) ? drsn__event_parse(e->valuestring) : -1;
			if (k < 0) {
				*code = DRSN_ERR_BAD_REQUEST;
				int str = cJSON_IsString(e);
				const char *name = str ? e->valuestring : "(not a string)";
				snprintf(msg, msg_size, "unknown event %s%.*s%s "
					 "(known: detection, scores, level, vad, status)",
					 str ? "'" : "", drsn__utf8_prefix(name, 64), name,
					 str ? "'" : "");
				rc = -EINVAL;
				goto out;
			}
			cmd->events |= 1u << k;
		}
	} else {
		*code = DRSN_ERR_UNKNOWN_COMMAND;
		snprintf(msg, msg_size,
			 "unknown command '%.*s' (known: ping, status, subscribe, reload)",
			 drsn__utf8_prefix(t, 64), t);
		rc = -EINVAL;
		goto out;
	}
	cmd->id = *id;
	*id = NULL;
out:
	cJSON_Delete(root);
	return rc;
}

cJSON *drsn__proto_new(const char *type)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "type", type) ||
	    !cJSON_AddNumberToObject(o, "version", DRSN_PROTO_VERSION)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

char *drsn__proto_line(cJSON *obj, size_t *len)
{
	if (!obj)
		return NULL;
	char *s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	if (drsn__utf8_check(s, n) < n) {
		/* a string that is not UTF-8 (a file name in "source", ...): its
		 * bad bytes become U+FFFD, so every line sent is UTF-8 */
		char *fixed = drsn__utf8_fix(s, n, &n);
		free(s);
		if (!fixed)
			return NULL;
		s = fixed;
	}
	char *line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}

char *drsn__proto_error_line(const char *code, const char *msg, const cJSON *id, size_t *len)
{
	cJSON *o = drsn__proto_new("error");
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "code", code);
	cJSON_AddStringToObject(o, "message", msg);
	if (id)
		cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
	return drsn__proto_line(o, len);
}

double drsn__wall_time(void)
{
	/* With a 32-bit time_t this fails (EOVERFLOW) from 2038-01-19T03:14:08Z
	 * on, leaving ts as it was: meson.build builds with _TIME_BITS=64. */
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return 0;
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
