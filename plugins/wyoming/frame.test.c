/* Wyoming framing (frame.h): events in any split, data merge, streamed
 * payloads, and every framing error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

#define MAX_EV 8

struct rec {
	int n;
	char type[MAX_EV][32];
	char *data[MAX_EV];            /* printed merged data */
	size_t plen[MAX_EV];
	uint8_t payload[MAX_EV][256];
	size_t got[MAX_EV];
	int pieces[MAX_EV];
	int ended[MAX_EV];
	int stop_after_event;          /* return 7 from event() when set */
};

static int ev(void *u, const char *type, cJSON *data, size_t payload_length)
{
	struct rec *r = u;
	assert_true(r->n < MAX_EV);
	snprintf(r->type[r->n], sizeof r->type[0], "%s", type);
	r->data[r->n] = cJSON_PrintUnformatted(data);
	r->plen[r->n] = payload_length;
	r->n++;
	return r->stop_after_event ? 7 : 0;
}

static int pl(void *u, const uint8_t *p, size_t n)
{
	struct rec *r = u;
	int i = r->n - 1;
	assert_true(n > 0 && r->got[i] + n <= sizeof r->payload[0]);
	memcpy(r->payload[i] + r->got[i], p, n);
	r->got[i] += n;
	r->pieces[i]++;
	return 0;
}

static int end(void *u)
{
	struct rec *r = u;
	r->ended[r->n - 1]++;
	return 0;
}

static const wy_handler H = {ev, pl, end};
static const wy_limits LIM = {256, 128, 200};

static void rec_free(struct rec *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->data[i]);
}

static const char STREAM[] =
	"{\"type\":\"describe\"}\n"
	"\n"
	"{\"type\":\"audio-chunk\",\"data\":{\"rate\":16000,\"width\":1},\"data_length\":24,\"payload_length\":6}\n"
	"{\"width\":2,\"channels\":1}"
	"abc\nde"
	"  \r\n"
	"{\"type\":\"audio-stop\",\"data\":null,\"payload_length\":0}\r\n";

static void check_stream(const struct rec *r)
{
	assert_int_equal(r->n, 3);
	assert_string_equal(r->type[0], "describe");
	assert_string_equal(r->data[0], "{}");
	assert_int_equal(r->ended[0], 1);
	assert_string_equal(r->type[1], "audio-chunk");
	assert_string_equal(r->data[1], "{\"rate\":16000,\"width\":2,\"channels\":1}");
	assert_int_equal(r->plen[1], 6);
	assert_int_equal(r->got[1], 6);
	assert_memory_equal(r->payload[1], "abc\nde", 6);   /* a newline inside a payload is data */
	assert_int_equal(r->ended[1], 1);
	assert_string_equal(r->type[2], "audio-stop");
	assert_string_equal(r->data[2], "{}");
	assert_int_equal(r->ended[2], 1);
}

static void test_whole_and_bytewise(void **state)
{
	(void)state;
	size_t n = strlen(STREAM);
	for (size_t split = 0; split <= 2; split++) {
		wy_parser *p = NULL;
		struct rec r = {0};
		assert_int_equal(wy_parser_create(&p, &LIM), 0);
		if (split == 0) {
			assert_int_equal(wy_parser_feed(p, (const uint8_t *)STREAM, n, &H, &r), 0);
		} else if (split == 1) {
			for (size_t i = 0; i < n; i++)
				assert_int_equal(wy_parser_feed(p, (const uint8_t *)STREAM + i, 1, &H, &r), 0);
			assert_int_equal(r.pieces[1], 6);   /* streamed, not buffered */
		} else {
			for (size_t i = 0; i < n; i += 7)
				assert_int_equal(wy_parser_feed(p, (const uint8_t *)STREAM + i,
								n - i < 7 ? n - i : 7, &H, &r), 0);
		}
		check_stream(&r);
		assert_int_equal(wy_parser_eof(p), 0);
		assert_string_equal(wy_parser_code(p), "");
		rec_free(&r);
		wy_parser_destroy(p);
	}
}

/* Feed s (then EOF when eof): expect -EPROTO with this code. */
static void expect_error(const char *s, size_t len, int eof, const char *code)
{
	wy_parser *p = NULL;
	struct rec r = {0};
	assert_int_equal(wy_parser_create(&p, &LIM), 0);
	int rc = wy_parser_feed(p, (const uint8_t *)s, len, &H, &r);
	if (eof) {
		assert_int_equal(rc, 0);
		rc = wy_parser_eof(p);
	}
	assert_int_equal(rc, -EPROTO);
	assert_string_equal(wy_parser_code(p), code);
	assert_true(strlen(wy_parser_text(p)) > 10);
	print_message("  %-18s %s\n", code, wy_parser_text(p));
	/* dead after an error */
	assert_int_equal(wy_parser_feed(p, (const uint8_t *)"{\"type\":\"x\"}\n", 13, &H, &r), -EPROTO);
	rec_free(&r);
	wy_parser_destroy(p);
}

#define ERR(s, eof, code) expect_error(s, sizeof(s) - 1, eof, code)

static void test_errors(void **state)
{
	(void)state;
	char longline[300];
	memset(longline, 'x', sizeof longline);
	expect_error(longline, sizeof longline, 0, "header-too-long");
	ERR("not json\n", 0, "bad-header");
	ERR("[1,2]\n", 0, "bad-header");
	ERR("{\"data\":{}}\n", 0, "bad-header");
	ERR("{\"type\":5}\n", 0, "bad-header");
	ERR("{\"type\":\"a\",\"data\":3}\n", 0, "bad-header");
	ERR("{\"type\":\"a\",\"payload_length\":-1}\n", 0, "bad-header");
	ERR("{\"type\":\"a\",\"payload_length\":1.5}\n", 0, "bad-header");
	ERR("{\"type\":\"a\",\"payload_length\":\"9\"}\n", 0, "bad-header");
	ERR("{\"type\":\"a\",\"payload_length\":201}\n", 0, "payload-too-long");
	ERR("{\"type\":\"a\",\"payload_length\":1e300}\n", 0, "payload-too-long");
	ERR("{\"type\":\"a\",\"data_length\":129}\n", 0, "data-too-long");
	ERR("{\"type\":\"a\",\"data_length\":3}\n[1]", 0, "bad-data");
	ERR("{\"type\":\"a\",\"data_length\":3}\nxyz", 0, "bad-data");
	ERR("{\"type\":\"a\",\"payload_length\":10}\n12345", 1, "truncated");
	ERR("{\"type\":\"a\",\"data_length\":10}\n{\"a\"", 1, "truncated");
	ERR("{\"type\":\"a\"", 1, "truncated");
}

static void test_limits_exact(void **state)
{
	(void)state;
	/* a header of exactly max_line bytes and a payload of exactly max_payload pass */
	char line[257];
	int k = snprintf(line, sizeof line, "{\"type\":\"a\",\"payload_length\":200,\"pad\":\"");
	while (k < 254)
		line[k++] = 'p';
	line[k++] = '"';
	line[k++] = '}';
	assert_int_equal(k, 256);
	wy_parser *p = NULL;
	struct rec r = {0};
	assert_int_equal(wy_parser_create(&p, &LIM), 0);
	assert_int_equal(wy_parser_feed(p, (const uint8_t *)line, 256, &H, &r), 0);
	assert_int_equal(wy_parser_feed(p, (const uint8_t *)"\n", 1, &H, &r), 0);
	uint8_t payload[200] = {0};
	assert_int_equal(wy_parser_feed(p, payload, sizeof payload, &H, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.got[0], 200);
	assert_int_equal(r.ended[0], 1);
	assert_int_equal(wy_parser_eof(p), 0);
	rec_free(&r);
	wy_parser_destroy(p);
}

static void test_handler_stop(void **state)
{
	(void)state;
	wy_parser *p = NULL;
	struct rec r = {.stop_after_event = 1};
	assert_int_equal(wy_parser_create(&p, &LIM), 0);
	const char *s = "{\"type\":\"a\"}\n{\"type\":\"b\"}\n";
	assert_int_equal(wy_parser_feed(p, (const uint8_t *)s, strlen(s), &H, &r), 7);
	assert_int_equal(r.n, 1);   /* b was not parsed */
	rec_free(&r);
	wy_parser_destroy(p);
	wy_limits zero = {0, 1, 1};
	assert_int_equal(wy_parser_create(&p, &zero), -EINVAL);
}

/* wy_parser_in_event, byte by byte: 1 from an event's first byte (a
 * blank's too) until its last, 0 between events and after blank lines. */
static void test_in_event(void **state)
{
	(void)state;
	const char *s = "\n \r\n{\"type\":\"a\",\"data_length\":2,\"payload_length\":3}\n{}xyz"
			"{\"type\":\"b\"}\n";
	/* in_event after each byte: the blank lines end at 1 and 4, a at 57, b at 70 */
	size_t ends[] = {1, 4, 57, 70};
	size_t n = strlen(s), k = 0;
	wy_parser *p = NULL;
	struct rec r = {0};
	assert_int_equal(wy_parser_create(&p, &LIM), 0);
	assert_int_equal(wy_parser_in_event(p), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(wy_parser_feed(p, (const uint8_t *)s + i, 1, &H, &r), 0);
		int boundary = k < sizeof ends / sizeof *ends && i + 1 == ends[k];
		k += boundary;
		assert_int_equal(wy_parser_in_event(p), !boundary);
	}
	assert_int_equal(k, 4);
	assert_int_equal(r.n, 2);
	assert_int_equal(wy_parser_feed(p, (const uint8_t *)"x\n", 2, &H, &r), -EPROTO);
	assert_int_equal(wy_parser_in_event(p), 0);   /* failed: no event to finish */
	rec_free(&r);
	wy_parser_destroy(p);
}

/* A log of what the handler saw, as text: events, payload bytes, ends. */
struct trace {
	char buf[1 << 14];
	size_t n;
};

static void tr_add(struct trace *t, const char *s, size_t len)
{
	if (t->n + len > sizeof t->buf)
		len = sizeof t->buf - t->n;
	memcpy(t->buf + t->n, s, len);
	t->n += len;
}

static int tr_event(void *u, const char *type, cJSON *data, size_t payload_length)
{
	char *d = cJSON_PrintUnformatted(data);
	char line[512];
	int k = snprintf(line, sizeof line, "E %s %s %zu|", type, d ? d : "?", payload_length);
	free(d);
	tr_add(u, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
	return 0;
}

static int tr_payload(void *u, const uint8_t *p, size_t n)
{
	tr_add(u, (const char *)p, n);
	return 0;
}

static int tr_end(void *u)
{
	tr_add(u, "$|", 2);
	return 0;
}

static const wy_handler TR = {tr_event, tr_payload, tr_end};

/* Whole buffer vs random splits, then EOF: the same trace, the same result. */
static int run_split(const uint8_t *s, size_t n, unsigned *seed, int split, struct trace *t,
		     char *code, size_t code_size)
{
	wy_parser *p = NULL;
	assert_int_equal(wy_parser_create(&p, &LIM), 0);
	int rc = 0;
	size_t i = 0;
	while (i < n && !rc) {
		size_t k = split ? 1 + (size_t)(rand_r(seed) % 40) : n;
		if (k > n - i)
			k = n - i;
		rc = wy_parser_feed(p, s + i, k, &TR, t);
		i += k;
	}
	if (!rc)
		rc = wy_parser_eof(p);
	snprintf(code, code_size, "%s", wy_parser_code(p));
	wy_parser_destroy(p);
	return rc;
}

/* Valid streams mutated at random (bytes flipped, dropped, cut): whatever the
 * bytes, a split feed sees exactly what a whole feed sees, and ASan sees
 * nothing. */
static void test_mutated_streams_split_invariant(void **state)
{
	(void)state;
	static const char *parts[] = {
		"{\"type\":\"describe\"}\n",
		"{\"type\":\"audio-chunk\",\"data\":{\"rate\":16000},\"data_length\":11,\"payload_length\":8}\n{\"width\":2}01234567",
		"{\"type\":\"audio-stop\",\"payload_length\":3}\nabc",
		"\n",
		"{\"type\":\"detect\",\"data\":{\"names\":[\"yes\"]}}\r\n",
	};
	unsigned seed = 12345;
	int outcomes[2] = {0, 0};
	for (int iter = 0; iter < 3000; iter++) {
		uint8_t s[600];
		size_t n = 0;
		int np = 1 + (int)(rand_r(&seed) % 6);
		for (int j = 0; j < np; j++) {
			const char *x = parts[rand_r(&seed) % (sizeof parts / sizeof *parts)];
			size_t l = strlen(x);
			memcpy(s + n, x, l);
			n += l;
		}
		int muts = (int)(rand_r(&seed) % 4);
		for (int m = 0; m < muts && n > 1; m++) {
			size_t at = (size_t)rand_r(&seed) % n;
			switch (rand_r(&seed) % 3) {
			case 0:
				s[at] = (uint8_t)rand_r(&seed);
				break;
			case 1:
				memmove(s + at, s + at + 1, n - at - 1);
				n--;
				break;
			default:
				n = at + 1;
			}
		}
		struct trace a = {.n = 0}, b = {.n = 0};
		char ca[32], cb[32];
		int ra = run_split(s, n, &seed, 0, &a, ca, sizeof ca);
		int rb = run_split(s, n, &seed, 1, &b, cb, sizeof cb);
		assert_int_equal(ra, rb);
		assert_string_equal(ca, cb);
		assert_int_equal(a.n, b.n);
		assert_memory_equal(a.buf, b.buf, a.n);
		assert_true(ra == 0 || ra == -EPROTO);
		outcomes[ra != 0]++;
	}
	print_message("  3000 mutated streams: %d parsed cleanly, %d framing errors\n", outcomes[0],
		      outcomes[1]);
	assert_true(outcomes[0] > 300 && outcomes[1] > 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_bytewise),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits_exact),
		cmocka_unit_test(test_handler_stop),
		cmocka_unit_test(test_in_event),
		cmocka_unit_test(test_mutated_streams_split_invariant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
