/* NDJSON protocol lines: commands parse, errors carry the right code and the
 * request id, every built line has type + version, is UTF-8 and ends in '\n'. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
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
	char *text = cJSON_PrintUnformatted(c.id);
	assert_string_equal(text, "[1,\"a\"]");
	free(text);
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
		/* not UTF-8: no JSON text, and the id could not be echoed */
		{"{\"type\":\"ping\",\"id\":\"\xff\"}", DRSN_ERR_BAD_JSON, 0},
		{"{\"type\":\"ping\",\"id\":1,\"x\":\"\xc3\"}", DRSN_ERR_BAD_JSON, 0},
		{"{\"type\":\"ping\",\"id\":\"\xed\xa0\x80\"}", DRSN_ERR_BAD_JSON, 0},
		/* ids that would not come back as sent: inf prints as null, a
		 * string is cut at its NUL */
		{"{\"type\":\"ping\",\"id\":1e400}", DRSN_ERR_BAD_REQUEST, 0},
		{"{\"type\":\"ping\",\"id\":[1,{\"a\":-1e999}]}", DRSN_ERR_BAD_REQUEST, 0},
		{"{\"type\":\"ping\",\"id\":\"a\\u0000b\"}", DRSN_ERR_BAD_REQUEST, 0},
		{"{\"type\":\"ping\\u0000x\",\"id\":1}", DRSN_ERR_BAD_REQUEST, 0},
		{"{\"id\\u0000\":1,\"type\":\"ping\"}", DRSN_ERR_BAD_REQUEST, 0},
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

/* The error a line gets: its code and message (test_errors checks codes) */
static void expect_error(const char *line, const char *want_code, const char *want_msg, int has_id)
{
	struct drsn__command c;
	const char *code = NULL;
	cJSON *id = NULL;
	char msg[256];
	int rc = drsn__proto_parse(line, strlen(line), &c, &code, msg, sizeof msg, &id);
	if (rc == 0 || strcmp(code, want_code) || strcmp(msg, want_msg) || (id != NULL) != has_id)
		fail_msg("'%.60s': rc %d code %s msg '%s' id %p", line, rc, code, rc ? msg : "",
			 (void *)id);
	cJSON_Delete(id);
	if (rc == 0)
		drsn__command_clear(&c);
}

/* Nesting beyond cJSON's limit (1000) is said as such, not as a syntax
 * error ("near byte 1000" of valid JSON); brackets inside strings do not
 * count. */
static void test_nesting(void **state)
{
	(void)state;
	char *line = malloc(8000);   /* 1001 "{\"a\":" and a NUL */
	assert_non_null(line);
	memset(line, '[', 2000);
	memset(line + 2000, ']', 2000);
	line[4000] = 0;
	expect_error(line, DRSN_ERR_BAD_JSON, "arrays and objects nested deeper than 1000 levels (byte 1000)", 0);
	/* 1000 levels are within the limit: an array, not a command */
	memset(line, '[', 1000);
	memset(line + 1000, ']', 1000);
	line[2000] = 0;
	expect_error(line, DRSN_ERR_BAD_REQUEST, "a command must be a JSON object", 0);
	/* objects too */
	size_t n = 0;
	for (int i = 0; i < 1001; i++)
		n += (size_t)sprintf(line + n, "{\"a\":");
	line[n] = 0;
	expect_error(line, DRSN_ERR_BAD_JSON, "arrays and objects nested deeper than 1000 levels (byte 5000)", 0);
	/* 1500 '[' in a string, then a syntax error at a '[': not nesting */
	n = (size_t)sprintf(line, "{\"type\":\"ping\",\"id\":\"\\\"");
	memset(line + n, '[', 1500);
	n += 1500;
	sprintf(line + n, "\",\"x\":[1 [2]]}");
	expect_error(line, DRSN_ERR_BAD_JSON, "not valid JSON (near byte 1532)", 0);
	free(line);
}

/* {"type":"ping","type":"status"} was answered as a ping (cJSON finds the
 * first): a key a command reads may appear once. */
static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_error("{\"type\":\"ping\",\"type\":\"status\"}", DRSN_ERR_BAD_REQUEST,
		     "key \"type\" appears more than once", 0);
	expect_error("{\"type\":\"ping\",\"id\":1,\"version\":1,\"version\":2}", DRSN_ERR_BAD_REQUEST,
		     "key \"version\" appears more than once", 1);
	expect_error("{\"type\":\"subscribe\",\"events\":[],\"events\":[\"scores\"],\"id\":\"s\"}",
		     DRSN_ERR_BAD_REQUEST, "key \"events\" appears more than once", 1);
	expect_error("{\"id\":1,\"type\":\"ping\",\"id\":2}", DRSN_ERR_BAD_REQUEST,
		     "key \"id\" appears more than once", 1);
	/* other keys are ignored, repeated or not; a nested object may repeat
	 * its keys */
	struct drsn__command c;
	const char *code;
	cJSON *id;
	assert_int_equal(parse("{\"type\":\"ping\",\"x\":1,\"x\":2,\"id\":{\"type\":1,\"type\":2}}",
			       &c, &code, &id), 0);
	assert_int_equal(c.kind, DRSN_CMD_PING);
	drsn__command_clear(&c);
}

static void test_utf8_and_ids(void **state)
{
	(void)state;
	struct drsn__command c;
	const char *code;
	cJSON *id;
	char msg[256];
	const char *l = "{\"type\":\"ping\",\"id\":\"\xff\"}";
	assert_int_equal(drsn__proto_parse(l, strlen(l), &c, &code, msg, sizeof msg, &id), -EINVAL);
	assert_string_equal(msg, "request is not valid UTF-8 (byte 21)");
	l = "{\"type\":\"ping\",\"id\":1e400}";
	assert_int_equal(drsn__proto_parse(l, strlen(l), &c, &code, msg, sizeof msg, &id), -EINVAL);
	assert_non_null(strstr(msg, "\"id\" holds a number out of range"));
	l = "{\"type\":\"ping\",\"id\":\"a\\u0000b\"}";
	assert_int_equal(drsn__proto_parse(l, strlen(l), &c, &code, msg, sizeof msg, &id), -EINVAL);
	assert_string_equal(msg, "strings must not contain \\u0000 (byte 22)");
	/* a raw NUL byte: in a string cJSON cut it short ("a<NUL>b" came back
	 * as "a"), outside one it was skipped like white space */
	static const char raw_nul[][40] = {
		"{\"type\":\"ping\",\"id\":\"a\0b\"}",
		"\0{\"type\":\"ping\",\"id\":2}",
		"{\"type\":\"pi\0ng\",\"id\":3}",
	};
	static const size_t raw_nul_len[] = {26, 23, 23};
	static const char *const raw_nul_msg[] = {
		"request contains a NUL byte (byte 22)",
		"request contains a NUL byte (byte 0)",
		"request contains a NUL byte (byte 11)",
	};
	for (size_t i = 0; i < 3; i++) {
		id = NULL;
		assert_int_equal(drsn__proto_parse(raw_nul[i], raw_nul_len[i], &c, &code, msg,
						   sizeof msg, &id), -EINVAL);
		assert_string_equal(code, DRSN_ERR_BAD_JSON);
		assert_string_equal(msg, raw_nul_msg[i]);
		assert_null(id);
	}
	/* fine: UTF-8, escapes that are not NUL, an escaped backslash before
	 * "u0000", big finite numbers */
	static const char *const good[] = {
		"{\"type\":\"ping\",\"id\":\"caf\xc3\xa9 \xf0\x9f\x8e\xa4\"}",
		"{\"type\":\"ping\",\"id\":\"\\u00e9\\u0001\\ud83c\\udfa4\"}",
		"{\"type\":\"ping\",\"id\":\"\\\\u0000\"}",
		"{\"type\":\"ping\",\"id\":[1e300,-1e-300,0]}",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (drsn__proto_parse(good[i], strlen(good[i]), &c, &code, msg, sizeof msg, &id))
			fail_msg("'%s': %s", good[i], msg);
		drsn__command_clear(&c);
	}
	/* an unknown command's name is cut at a character boundary */
	char big[200] = "{\"type\":\"";
	for (int i = 0; i < 40; i++)
		strcat(big, "\xc3\xa9");
	strcat(big, "\"}");
	assert_int_equal(drsn__proto_parse(big, strlen(big), &c, &code, msg, sizeof msg, &id),
			 -EINVAL);
	assert_string_equal(code, DRSN_ERR_UNKNOWN_COMMAND);
	assert_int_equal(drsn__utf8_check(msg, strlen(msg)), strlen(msg));
	assert_non_null(strstr(msg, "\xc3\xa9' (known"));
}

/* The id comes back as the client wrote it: cJSON printed a number with at
 * most 17 significant digits, often in e-notation (2^53 + 1 came back as
 * 9.00719925474099e+15, a time in ns rounded too): no client matched its
 * reply. */
static void test_ids_verbatim(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"{\"type\":\"ping\",\"id\":9007199254740993}", "9007199254740993"},
		{"{\"id\":1796078829957192400,\"type\":\"ping\"}", "1796078829957192400"},
		{" { \"type\" : \"ping\" , \"id\" : [1.0, {\"n\":12345678901234567890}] , \"x\":1}",
		 "[1.0, {\"n\":12345678901234567890}]"},
		{"{\"x\":\"a\\\"id\\\":1,\",\"id\":-0,\"type\":\"status\"}", "-0"},
		{"{\"type\":\"ping\",\"id\":\"caf\\u00e9\"}", "\"caf\\u00e9\""},
		/* an escaped key: cJSON's first "id", as cJSON prints it */
		{"{\"\\u0069d\":1.50,\"id\":2,\"type\":\"ping\"}", "1.5"},
		{"{\"type\":\"nosuch\",\"id\":18446744073709551615}", "18446744073709551615"},
		/* control characters cJSON lets through: its own escaped printing */
		{"{\"type\":\"ping\",\"id\":\"a\tb\"}", "\"a\\tb\""},
		{"{\"type\":\"ping\",\"id\":[1,\x01 2]\x02}", "[1,2]"},
		{"{\"type\":\"ping\",\"id\":5\x01}", "5"},
		{"{\"type\":\"ping\",\"id\":\x01" "5}", "5"},
		/* numbers cJSON takes that JSON does not: its valid printing */
		{"{\"type\":\"ping\",\"id\":01}", "1"},
		{"{\"type\":\"ping\",\"id\":1.}", "1"},
		{"{\"type\":\"ping\",\"id\":-.5}", "-0.5"},
		{"{\"type\":\"ping\",\"id\":[2,00]}", "[2,0]"},
		{"{\"type\":\"ping\",\"id\":{\"a\":\"01\",\"b\":1E+2}}", "{\"a\":\"01\",\"b\":1E+2}"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct drsn__command c;
		const char *code = NULL;
		cJSON *id = NULL;
		char msg[256];
		int rc = drsn__proto_parse(cases[i][0], strlen(cases[i][0]), &c, &code, msg,
					   sizeof msg, &id);
		const cJSON *got = rc == 0 ? c.id : id;
		assert_non_null(got);
		size_t len;
		char *line = drsn__proto_error_line("x", "m", got, &len);
		char want[160];
		snprintf(want, sizeof want, "{\"type\":\"error\",\"version\":1,\"code\":\"x\","
			 "\"message\":\"m\",\"id\":%s}\n", cases[i][1]);
		if (strcmp(line, want))
			fail_msg("case %zu: %s gives %s", i, cases[i][0], line);
		free(line);
		cJSON_Delete(id);
		if (rc == 0)
			drsn__command_clear(&c);
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
	/* every line is UTF-8, whatever the strings held (a file name...) */
	o = drsn__proto_new("hello");
	cJSON_AddStringToObject(o, "source", "file:/n/bad\xff.wav");
	l = drsn__proto_line(o, &len);
	assert_string_equal(l, "{\"type\":\"hello\",\"version\":1,"
			       "\"source\":\"file:/n/bad\xef\xbf\xbd.wav\"}\n");
	assert_int_equal(len, strlen(l));
	free(l);
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
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_utf8_and_ids),
		cmocka_unit_test(test_ids_verbatim),
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests_name("daemon-proto", tests, NULL, NULL);
}
