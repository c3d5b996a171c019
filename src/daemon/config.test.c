/* drsnd's config: the shipped config/drsnd.conf equals the built-in defaults,
 * errors carry file:line, all errors are collected, --set overrides. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/cfg_errors.test.h"
#include "daemon/log.h"

static void test_shipped_file_matches_defaults(void **state)
{
	(void)state;
	const char *root = getenv("DRSN_SOURCE_ROOT");
	char path[4096];
	snprintf(path, sizeof path, "%s/config/drsnd.conf", root ? root : ".");
	struct drsn__config def, c;
	drsn__config_defaults(&def);
	drsn__config_defaults(&c);
	/* Start c from different values so that every key the file sets shows. */
	memset(&c, 0x5a, sizeof c);
	c.n_thresholds = 0;
	struct drsn__cfg_errors errs = {0};
	int rc = drsn__config_load_file(&c, path, &errs);
	for (int i = 0; i < errs.n; i++)
		print_message("%s\n", errs.msg[i]);
	assert_int_equal(rc, 0);
	assert_int_equal(errs.n, 0);
	/* The model path depends on the install prefix: compare the rest. */
	memcpy(c.model_path, def.model_path, sizeof c.model_path);
	assert_string_equal(c.socket_path, def.socket_path);
	assert_string_equal(c.source, def.source);
	assert_int_equal(c.socket_mode, 0660);
	/* Every key is in the file with its default: the structs agree byte
	 * for byte on the fields (strings were zero-padded by defaults). */
	struct drsn__config c2;
	drsn__config_defaults(&c2);
	assert_int_equal(drsn__config_load_file(&c2, path, NULL), 0);
	memcpy(c2.model_path, def.model_path, sizeof c2.model_path);
	assert_memory_equal(&c2, &def, sizeof def);
	assert_int_equal(c.log_level, def.log_level);
	assert_int_equal(c.status_interval_ms, def.status_interval_ms);
	assert_int_equal(c.max_clients, def.max_clients);
	assert_int_equal(c.max_line, def.max_line);
	assert_int_equal(c.client_queue, def.client_queue);
	assert_int_equal(c.flood_errors, def.flood_errors);
	assert_int_equal(c.realtime, def.realtime);
	assert_int_equal(c.on_eof_exit, def.on_eof_exit);
	assert_string_equal(c.raw_format, def.raw_format);
	assert_int_equal(c.raw_rate, def.raw_rate);
	assert_int_equal(c.raw_channels, def.raw_channels);
	assert_int_equal(c.device_rate, def.device_rate);
	assert_int_equal(c.latency_ms, def.latency_ms);
	assert_int_equal(c.ring_ms, def.ring_ms);
	assert_int_equal(c.retry_min_ms, def.retry_min_ms);
	assert_int_equal(c.retry_max_ms, def.retry_max_ms);
	assert_int_equal(c.stall_ms, def.stall_ms);
	assert_int_equal(c.inference_hop_ms, def.inference_hop_ms);
	assert_int_equal(c.smoothing_ms, def.smoothing_ms);
	assert_true(c.threshold == def.threshold);
	assert_int_equal(c.refractory_ms, def.refractory_ms);
	assert_int_equal(c.vad, def.vad);
	assert_true(c.vad_threshold_db == def.vad_threshold_db);
	assert_int_equal(c.vad_hangover_ms, def.vad_hangover_ms);
	assert_int_equal(c.level_interval_ms, def.level_interval_ms);
	assert_string_equal(c.socket_group, "");
	assert_int_equal(drsn__config_check(&c2, NULL), 0);
}

static void test_errors_have_line_numbers_and_all_are_reported(void **state)
{
	(void)state;
	const char *text =
		"; comment\n"                           /* 1 */
		"[detect]\n"                            /* 2 */
		"threshold = 1.7\n"                     /* 3 */
		"refractory_ms = soon\n"                /* 4 */
		"vad = maybe\n"                         /* 5 */
		"[socket]\n"                            /* 6 */
		"mode = 0999\n"                         /* 7 */
		"colour = blue\n"                       /* 8 */
		"[nosuch]\n"                            /* 9 */
		"x = 1\n"                               /* 10 */
		"[audio]\n"                             /* 11 */
		"raw_format = s17le\n"                  /* 12 */
		"on_eof = explode\n"                    /* 13 */
		"[thresholds]\n"                        /* 14 */
		"yes = 2\n"                             /* 15 */
		"no = 0.5\n"                            /* 16 */
		"[daemon]\n"                            /* 17 */
		"log_level = loud\n";                   /* 18 */
	struct drsn__config c;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_load_string(&c, text, "t.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "t.conf:3: [detect] threshold: '1.7'"));
	assert_true(has_error(&e, "t.conf:4: [detect] refractory_ms: 'soon'"));
	assert_true(has_error(&e, "t.conf:5: [detect] vad: 'maybe'"));
	assert_true(has_error(&e, "t.conf:7: [socket] mode: '0999'"));
	assert_true(has_error(&e, "t.conf:8: [socket] unknown key 'colour'"));
	assert_true(has_error(&e, "t.conf:10: unknown section [nosuch]"));
	assert_true(has_error(&e, "t.conf:12: [audio] raw_format: 's17le'"));
	assert_true(has_error(&e, "t.conf:13: [audio] on_eof: 'explode'"));
	assert_true(has_error(&e, "t.conf:15: [thresholds] yes: '2'"));
	assert_true(has_error(&e, "t.conf:18: [daemon] log_level: 'loud'"));
	assert_int_equal(e.n, 10);
	/* The good line still applied. */
	assert_int_equal(c.n_thresholds, 1);
	assert_string_equal(c.thresholds[0].label, "no");
	assert_string_equal(c.thresholds[0].where, "t.conf:16");
	assert_true(drsn__config_threshold(&c, "no") == 0.5f);
	assert_true(drsn__config_threshold(&c, "up") == c.threshold);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	struct drsn__config c;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_load_string(&c, "[detect]\nthreshold 0.5\n", "s.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "s.conf:2: syntax error"));

	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "threshold = 0.5\n", "s.conf", &e), -EINVAL);
	assert_true(has_error(&e, "s.conf:1: key 'threshold' outside any [section]"));

	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[detect\n", "s.conf", &e), -EINVAL);
	assert_true(has_error(&e, "s.conf:1: syntax error"));

	/* An overlong line is one error at its own line, and counting stays right. */
	char big[600];
	memset(big, 'a', sizeof big);
	memcpy(big, "[model]\npath = ", 15);
	memcpy(big + sizeof big - 40, "\n[detect]\nthreshold = 7\n", 25);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, big, "l.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "l.conf:2: line too long"));
	assert_true(has_error(&e, "l.conf:4: [detect] threshold: '7'"));

	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_file(&c, "/nonexistent/drsnd.conf", &e), -ENOENT);
	assert_true(has_error(&e, "/nonexistent/drsnd.conf: cannot open"));
}

static void test_set_arg_overrides_and_check(void **state)
{
	(void)state;
	struct drsn__config c;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_load_string(&c, "[detect]\nthreshold = 0.6\n", "a.conf", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "detect.threshold=0.95", &e), 0);
	assert_true(c.threshold == 0.95f);
	assert_int_equal(drsn__config_set_arg(&c, "thresholds.yes=0.7", &e), 0);
	assert_true(drsn__config_threshold(&c, "yes") == 0.7f);
	assert_string_equal(c.thresholds[0].where, "command line");
	assert_int_equal(drsn__config_set_arg(&c, "socket.mode=0600", &e), 0);
	assert_int_equal(c.socket_mode, 0600);
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=file:/x.wav", &e), 0);
	assert_int_equal(e.n, 0);

	assert_int_equal(drsn__config_set_arg(&c, "detect", &e), -EINVAL);
	assert_int_equal(drsn__config_set_arg(&c, "detect.threshold", &e), -EINVAL);
	assert_int_equal(drsn__config_set_arg(&c, "detect.nokey=1", &e), -EINVAL);
	assert_true(has_error(&e, "command line: [detect] unknown key 'nokey'"));

	assert_int_equal(drsn__config_check(&c, NULL), 0);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_set_arg(&c, "audio.retry_min_ms=5000", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "audio.retry_max_ms=1000", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=mic", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "socket.path=relative.sock", &e), 0);
	assert_int_equal(drsn__config_check(&c, &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "retry_min_ms (5000) is larger than retry_max_ms (1000)"));
	assert_true(has_error(&e, "source: 'mic' is not"));
	assert_true(has_error(&e, "path: 'relative.sock' must be an absolute path"));
	drsn__config_set_arg(&c, "audio.source=fd:x", NULL);
	drsn__config_set_arg(&c, "audio.retry_min_ms=500", NULL);
	drsn__config_set_arg(&c, "socket.path=/tmp/x.sock", NULL);
	assert_int_equal(drsn__config_check(&c, NULL), -EINVAL);
	drsn__config_set_arg(&c, "audio.source=fd:3", NULL);
	assert_int_equal(drsn__config_check(&c, NULL), 0);

	/* print -> parse round trip gives the same config. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	drsn__config_print(&c, f);
	fclose(f);
	struct drsn__config c2;
	drsn__config_defaults(&c2);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c2, buf, "printed", &e), 0);
	dump(&e);
	assert_string_equal(c2.source, "fd:3");
	assert_true(c2.threshold == c.threshold);
	assert_int_equal(c2.socket_mode, 0600);
	assert_true(drsn__config_threshold(&c2, "yes") == 0.7f);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_file_matches_defaults),
		cmocka_unit_test(test_errors_have_line_numbers_and_all_are_reported),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_set_arg_overrides_and_check),
	};
	return cmocka_run_group_tests_name("daemon-config", tests, NULL, NULL);
}
