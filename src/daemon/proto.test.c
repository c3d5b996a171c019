/* NDJSON protocol lines: commands parse, errors carry the right code and the
 * request id, every built line has type + version and ends in '\n'. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "daemon/proto.h"

static int parse(const char *line, struct drsn__command *cmd, const char **code, cJSON **id)
{
	char msg[256];
	int rc = drsn__proto_parse(line, strlen(line), cmd, code, msg, sizeof msg, id);
	if (rc < 0)
		assert_true(strlen(msg) > 0);
	return rc;
}

static void test_commands(void **state)
{
	(void)state;
	struct drsn__command c;
	const char *code;
	cJSON *id;
	assert_int_equal(parse("{\"type\":\"ping\"}", &c, &code, &id), 0);
	assert_int_equal(c.kind, DRSN_CMD_PING);
	assert_null(c.id);
	assert_int_equal(parse("{\"type\":\"status\",\"version\":1,\"id\":[1,\"a\"]}", &c, &code, &id), 0);
	assert_int_equal(c.kind, DRSN_CMD_STATUS);
	assert_true(cJSON_IsArray(c.id));
	drsn__command_clear(&c);
	assert_int_equal(parse("{\"type\":\"reload\"}  \t", &c, &code, &id), 0);
	assert_int_equal(c.kind, DRSN_CMD_RELOAD);
	assert_int_equal(parse("{\"type\":\"subscribe\",\"events\":[\"scores\",\"vad\",\"detection\"]}", &c, &code, &id), 0);
	assert_int_equal(c.kind, DRSN_CMD_SUBSCRIBE);
	assert_int_equal(c.events, (1u << DRSN_EV_SCORES) | (1u << DRSN_EV_VAD) | (1u << DRSN_EV_DETECTION));
	assert_int_equal(parse("{\"type\":\"subscribe\",\"events\":[]}", &c, &code, &id), 0);
	assert_int_equal(c.events, 0);
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *line, *code;
		int has_id;
	} cases[] = {
		{"", DRSN_ERR_BAD_JSON, 0},
		{"{", DRSN_ERR_BAD_JSON, 0},
		{"{\"type\":\"ping\"} x", DRSN_ERR_BAD_JSON, 0},
		{"{\"type\":\"ping\"}{}", DRSN_ERR_BAD_JSON, 0},
		{"\"ping\"", DRSN_ERR_BAD_REQUEST, 0},
		{"{\"id\":5}", DRSN_ERR_BAD_REQUEST, 1},
		{"{\"type\":7,\"id\":5}", DRSN_ERR_BAD_REQUEST, 1},
		{"{\"type\":\"ping\",\"version\":2,\"id\":\"v\"}", DRSN_ERR_BAD_REQUEST, 1},
		{"{\"type\":\"ping\",\"version\":\"1\"}", DRSN_ERR_BAD_REQUEST, 0},
		{"{\"type\":\"dance\",\"id\":null}", DRSN_ERR_UNKNOWN_COMMAND, 1},
		{"{\"type\":\"subscribe\"}", DRSN_ERR_BAD_REQUEST, 0},
		{"{\"type\":\"subscribe\",\"events\":\"scores\"}", DRSN_ERR_BAD_REQUEST, 0},
		{"{\"type\":\"subscribe\",\"events\":[\"scores\",3]}", DRSN_ERR_BAD_REQUEST, 0},
		{"{\"type\":\"subscribe\",\"events\":[\"nope\"],\"id\":1}", DRSN_ERR_BAD_REQUEST, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct drsn__command c;
		const char *code = NULL;
		cJSON *id = NULL;
		int rc = parse(cases[i].line, &c, &code, &id);
		if (rc == 0 || strcmp(code, cases[i].code) || (id != NULL) != cases[i].has_id)
			fail_msg("case %zu '%s': rc %d code %s id %p", i, cases[i].line, rc, code, (void *)id);
		cJSON_Delete(id);
	}
}

static void test_lines(void **state)
{
	(void)state;
	size_t len;
	cJSON *o = drsn__proto_new("pong");
	cJSON_AddNumberToObject(o, "time", 1.5);
	char *l = drsn__proto_line(o, &len);
	assert_string_equal(l, "{\"type\":\"pong\",\"version\":1,\"time\":1.5}\n");
	assert_int_equal(len, strlen(l));
	free(l);
	cJSON *id = cJSON_CreateString("q\"1");
	l = drsn__proto_error_line(DRSN_ERR_FLOOD, "too many \"bad\" lines\n", id, &len);
	assert_string_equal(l, "{\"type\":\"error\",\"version\":1,\"code\":\"flood\","
			       "\"message\":\"too many \\\"bad\\\" lines\\n\",\"id\":\"q\\\"1\"}\n");
	assert_non_null(strchr(l, '\n'));
	assert_ptr_equal(strchr(l, '\n'), l + len - 1);   /* one line: newlines escaped */
	free(l);
	cJSON_Delete(id);
	assert_null(drsn__proto_line(NULL, &len));
	assert_int_equal(drsn__event_parse("status"), DRSN_EV_STATUS);
	assert_int_equal(drsn__event_parse("Status"), -1);
	assert_string_equal(drsn__event_name(DRSN_EV_LEVEL), "level");
	assert_true(drsn__wall_time() > 1.6e9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests_name("daemon-proto", tests, NULL, NULL);
}
