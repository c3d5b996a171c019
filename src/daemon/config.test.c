/* drsnd's config: the shipped config/drsnd.conf equals the built-in defaults,
 * errors carry file:line (both lines for two keys, duplicates), all errors
 * are collected, --set overrides, --print-config reads back the same,
 * restart-only keys, --check-config's system checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/foreign_group.test.h"
#include "common/utf8.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "engine/fixture.h"
#include "daemon/cfg_errors.test.h"
#include "daemon/log.h"
#include "drsn/pipeline.h"

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
	memset(c2.where, 0, sizeof c2.where);   /* where each key was set: the file */
	assert_memory_equal(&c2, &def, sizeof def);
	assert_int_equal(c.log_level, def.log_level);
	assert_int_equal(c.status_interval_ms, def.status_interval_ms);
	assert_int_equal(c.max_clients, def.max_clients);
	assert_int_equal(c.max_line, def.max_line);
	assert_int_equal(c.client_queue, def.client_queue);
	assert_int_equal(c.flood_errors, def.flood_errors);
	assert_int_equal(c.realtime, def.realtime);
	assert_int_equal(c.on_eof_exit, def.on_eof_exit);
	assert_int_equal(c.wait_for_client, def.wait_for_client);
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

/* One message is exactly want */
static int error_is(const struct drsn__cfg_errors *e, const char *want)
{
	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->msg[i], want))
			return 1;
	return 0;
}

/* A typo in a section's or a key's name: the message names the one meant;
 * a name like none: the message as before */
static void test_typos_get_a_hint(void **state)
{
	(void)state;
	const char *text =
		"[detect]\n"                            /* 1 */
		"threshhold = 0.7\n"                    /* 2 */
		"Smoothing_MS = 200\n"                  /* 3: case */
		"zzzzqqq = 1\n"                         /* 4 */
		"[dectect]\n"                           /* 5 */
		"threshold = 0.7\n"                     /* 6 */
		"[audio]\n"                             /* 7 */
		"sorce = pa:\n"                         /* 8 */
		"[plugins]\n"                           /* 9 */
		"laod = mqtt\n"                         /* 10 */
		"[pluginz]\n"                           /* 11 */
		"x = 1\n"                               /* 12 */
		"[socket]\n"                            /* 13 */
		"grup = audio\n";                       /* 14 */
	struct drsn__config c;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_load_string(&c, text, "t.conf", &e), -EINVAL);
	dump(&e);
	assert_true(error_is(&e, "t.conf:2: [detect] unknown key 'threshhold'; did you mean 'threshold'?"));
	assert_true(error_is(&e, "t.conf:3: [detect] unknown key 'Smoothing_MS'; did you mean 'smoothing_ms'?"));
	assert_true(error_is(&e, "t.conf:4: [detect] unknown key 'zzzzqqq'"));
	assert_true(error_is(&e, "t.conf:6: unknown section [dectect] (known: daemon, socket, model, audio, "
				 "detect, denoise, thresholds, plugins, plugin NAME); did you mean 'detect'?"));
	assert_true(error_is(&e, "t.conf:8: [audio] unknown key 'sorce'; did you mean 'source'?"));
	assert_true(error_is(&e, "t.conf:10: [plugins] unknown key 'laod' (known: dir, load); did you mean 'load'?"));
	assert_true(error_is(&e, "t.conf:12: unknown section [pluginz] (known: daemon, socket, model, audio, "
				 "detect, denoise, thresholds, plugins, plugin NAME); did you mean 'plugins'?"));
	assert_true(error_is(&e, "t.conf:14: [socket] unknown key 'grup'; did you mean 'group'?"));
	assert_int_equal(e.n, 8);
	/* --set too; a key of another section is not offered */
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_set_arg(&c, "audio.threshold=0.5", &e), -EINVAL);
	assert_int_equal(drsn__config_set_arg(&c, "model.pth=/x", &e), -EINVAL);
	assert_true(error_is(&e, "command line: [audio] unknown key 'threshold'"));
	assert_true(error_is(&e, "command line: [model] unknown key 'pth'; did you mean 'path'?"));
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
	/* colour, [nosuch]: like no known name, so no "did you mean" */
	assert_false(has_error(&e, "did you mean"));
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
	/* in line order, and the keys under a broken [section line give no
	 * error of their own (they were "outside any [section]", before it) */
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[detect\nthreshold = 0.5\n[audio]\n"
						      "nonsense\nring_ms = 1\n", "s.conf", &e), -EINVAL);
	dump(&e);
	assert_int_equal(e.n, 3);
	assert_non_null(strstr(e.msg[0], "s.conf:1: syntax error: the ']' of the [section] is missing"));
	assert_non_null(strstr(e.msg[1], "s.conf:4: syntax error (expected"));
	assert_non_null(strstr(e.msg[2], "s.conf:5: [audio] ring_ms: '1'"));

	/* An overlong line is one error at its own line, and counting stays right. */
	char big[600];
	memset(big, 'a', sizeof big);
	memcpy(big, "[model]\npath = ", 15);
	memcpy(big + sizeof big - 40, "\n[detect]\nthreshold = 7\n", 25);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, big, "l.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "l.conf:2: line too long (max 198 bytes): write a long value on "
				  "indented lines below its key, each continuing it (the parts are "
				  "joined with one space, at most 511 bytes)"));
	assert_true(has_error(&e, "l.conf:4: [detect] threshold: '7'"));
	assert_int_equal(e.n, 2);

	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_file(&c, "/nonexistent/drsnd.conf", &e), -ENOENT);
	assert_true(has_error(&e, "/nonexistent/drsnd.conf: cannot open"));
	/* a directory opens, then fails to read: say why */
	memset(&e, 0, sizeof e);
	assert_true(drsn__config_load_file(&c, "/", &e) < 0);
	dump(&e);
	assert_true(has_error(&e, "/: cannot read: Is a directory"));
}

/* What is read of a config file is bounded: 1 MiB (--config /dev/zero ran
 * forever), and a named pipe is refused rather than waited on. */
static void test_file_limits(void **state)
{
	(void)state;
	struct drsn__config c;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	/* more than 1 MiB (/dev/zero, a log file by mistake) is
	 * not read to its end */
	size_t huge_n = 1100000;
	char *huge = malloc(huge_n + 1);
	assert_non_null(huge);
	for (size_t i = 0; i < huge_n; i++)
		huge[i] = i % 64 == 63 ? '\n' : ';';
	huge[huge_n] = '\0';
	assert_int_equal(drsn__config_load_string(&c, huge, "h.conf", &e), -EINVAL);
	free(huge);
	dump(&e);
	assert_true(has_error(&e, "h.conf: longer than 1 MiB, the most of a config file read"));
	assert_int_equal(e.n, 1);

	/* a named pipe would wait for a writer: refused, not opened (the old
	 * code hung here: the alarm ends the test) */
	char fifo[] = "/tmp/drsnd-cfg-XXXXXX";
	assert_non_null(mkdtemp(fifo));
	char fifo_path[64];
	snprintf(fifo_path, sizeof fifo_path, "%s/fifo.conf", fifo);
	assert_int_equal(mkfifo(fifo_path, 0600), 0);
	memset(&e, 0, sizeof e);
	alarm(10);
	assert_int_equal(drsn__config_load_file(&c, fifo_path, &e), -EINVAL);
	alarm(0);
	unlink(fifo_path);
	rmdir(fifo);
	dump(&e);
	assert_true(has_error(&e, "fifo.conf: a named pipe, not a file (drsnd would wait for a "
				  "writer): give a file, or pipe one in with --config /dev/stdin"));
	/* /dev/null is no config, as before */
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_file(&c, "/dev/null", &e), 0);
	assert_int_equal(e.n, 0);
}

/* A key of the file that the command line sets to another value (the systemd
 * unit's --set socket.group=audio over a group edited in drsnd.conf) is
 * named, with its line and both values; one set to the same value is not. */
static void test_overridden_keys_are_named(void **state)
{
	(void)state;
	struct drsn__config c, file;
	struct drsn__cfg_errors e = {0}, w = {0};
	drsn__config_defaults(&c);
	const char *text = "[socket]\ngroup = staff\nmax_clients = 5\n[detect]\nthreshold = 0.5\n";
	assert_int_equal(drsn__config_load_string(&c, text, "o.conf", &e), 0);
	file = c;
	assert_int_equal(drsn__config_set_arg(&c, "socket.group=audio", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "detect.threshold=0.5", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "audio.ring_ms=100", &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(drsn__config_overridden(&file, &c, &w), 1);
	dump(&w);
	assert_true(has_error(&w, "o.conf:2: [socket] group = 'staff' is not used: "
				 "the command line sets 'audio'"));
	/* nothing in the file: nothing to say */
	drsn__config_defaults(&file);
	memset(&w, 0, sizeof w);
	assert_int_equal(drsn__config_overridden(&file, &c, &w), 0);
	assert_int_equal(w.n, 0);
	/* a file that lists the defaults (the shipped one) says nothing: the
	 * unit's --set socket.group=audio over its "group =" is no news */
	const char *root = getenv("DRSN_SOURCE_ROOT");
	char path[4096];
	snprintf(path, sizeof path, "%s/config/drsnd.conf", root ? root : ".");
	drsn__config_defaults(&c);
	assert_int_equal(drsn__config_load_file(&c, path, &e), 0);
	file = c;
	assert_int_equal(drsn__config_set_arg(&c, "socket.group=audio", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=stdin", &e), 0);
	assert_int_equal(drsn__config_overridden(&file, &c, &w), 0);
	assert_int_equal(w.n, 0);
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
	/* a value that is wrong on its own is refused where it is set */
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=mic", &e), -EINVAL);
	assert_int_equal(drsn__config_set_arg(&c, "socket.path=relative.sock", &e), -EINVAL);
	assert_int_equal(drsn__config_check(&c, &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "command line: [audio] retry_min_ms (5000) is larger than retry_max_ms (1000)"));
	assert_true(has_error(&e, "command line: [audio] source: 'mic' is not"));
	assert_true(has_error(&e, "command line: [socket] path: 'relative.sock' must be an absolute path"));
	assert_string_equal(c.source, "file:/x.wav");
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=fd:x", NULL), -EINVAL);
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=fd:99999999", NULL), -EINVAL);
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=file:", NULL), -EINVAL);
	assert_int_equal(drsn__config_set_arg(&c, "denoise.pcm_socket=pcm.sock", NULL), -EINVAL);
	assert_int_equal(drsn__config_check(&c, NULL), -EINVAL);
	drsn__config_set_arg(&c, "audio.retry_min_ms=500", NULL);
	assert_int_equal(drsn__config_check(&c, NULL), 0);
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=fd:3", NULL), 0);
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

/* Problems with one key name its line; problems between two keys name the
 * later one's line and both places. */
static void test_places(void **state)
{
	(void)state;
	struct drsn__config c;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_load_string(&c, "[audio]\nsource = http://x\n", "a.conf", &e),
			 -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "a.conf:2: [audio] source: 'http://x' is not pa:[DEVICE], "
				  "file:PATH, stdin or fd:N"));
	assert_int_equal(e.n, 1);

	const char *text =
		"[audio]\n"                             /* 1 */
		"retry_max_ms = 1000\n"                 /* 2 */
		"; between\n"                           /* 3 */
		"retry_min_ms = 5000\n"                 /* 4 */
		"[socket]\n"                            /* 5 */
		"path = /tmp/same.sock\n"               /* 6 */
		"[denoise]\n"                           /* 7 */
		"pcm_socket = /tmp/same.sock\n";        /* 8 */
	drsn__config_defaults(&c);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, text, "b.conf", &e), 0);
	assert_int_equal(drsn__config_check(&c, &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "b.conf:4: [audio] retry_min_ms (5000) is larger than retry_max_ms "
				  "(1000) ([audio] retry_min_ms: b.conf:4; [audio] retry_max_ms: b.conf:2)"));
	assert_true(has_error(&e, "b.conf:8: [denoise] pcm_socket: '/tmp/same.sock' is also [socket] "
				  "path ([socket] path: b.conf:6; [denoise] pcm_socket: b.conf:8)"));
	assert_int_equal(e.n, 2);
	/* the command line comes after the file; a default has no place */
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_set_arg(&c, "audio.retry_max_ms=2000", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "denoise.pcm_socket=", &e), 0);
	assert_int_equal(drsn__config_check(&c, &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "command line: [audio] retry_min_ms (5000) is larger than "
				  "retry_max_ms (2000) ([audio] retry_min_ms: b.conf:4; "
				  "[audio] retry_max_ms: command line)"));
	drsn__config_defaults(&c);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[audio]\nretry_max_ms = 100\n", "c.conf", &e), 0);
	assert_int_equal(drsn__config_check(&c, &e), -EINVAL);
	assert_true(has_error(&e, "c.conf:2: [audio] retry_min_ms (500) is larger than retry_max_ms "
				  "(100) ([audio] retry_min_ms: the default; [audio] retry_max_ms: c.conf:2)"));
}

/* A key given twice in a section is an error naming both lines (it was
 * "last one wins", silently); so is an indented line, which inih reads as
 * more of the value above. The command line still overrides the file. */
static void test_duplicates(void **state)
{
	(void)state;
	const char *text =
		"[detect]\n"                            /* 1 */
		"threshold = 0.5\n"                     /* 2 */
		"smoothing_ms = 100\n"                  /* 3 */
		"[audio]\n"                             /* 4 */
		"ring_ms = 100\n"                       /* 5 */
		"[detect]\n"                            /* 6 */
		"threshold = 1.6\n"                     /* 7 */
		"[thresholds]\n"                        /* 8 */
		"yes = 0.5\n"                           /* 9 */
		"yes = 0.7\n"                           /* 10 */
		"[plugins]\n"                           /* 11 */
		"load = a\n"                            /* 12 */
		"load = b\n"                            /* 13 */
		"[plugin a]\n"                          /* 14 */
		"k = 1\n"                               /* 15 */
		"k = 2\n"                               /* 16 */
		"[audio]\n"                             /* 17 */
		"stall_ms = banana\n"                   /* 18 */
		"stall_ms = 200\n";                     /* 19 */
	struct drsn__config c;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_load_string(&c, text, "d.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "d.conf:7: [detect] threshold: duplicate key, also set at line 2"));
	assert_true(has_error(&e, "d.conf:7: [detect] threshold: '1.6'"));   /* all there is */
	assert_true(has_error(&e, "d.conf:10: [thresholds] yes: duplicate key, also set at line 9"));
	assert_true(has_error(&e, "d.conf:13: [plugins] load: duplicate key, also set at line 12"));
	assert_true(has_error(&e, "d.conf:16: [plugin a] k: duplicate key, also set at line 15"));
	/* a bad value still counts as set */
	assert_true(has_error(&e, "d.conf:18: [audio] stall_ms: 'banana'"));
	assert_true(has_error(&e, "d.conf:19: [audio] stall_ms: duplicate key, also set at line 18"));
	assert_int_equal(e.n, 7);
	/* the command line overrides the file, no duplicate */
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_set_arg(&c, "detect.threshold=0.9", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "thresholds.yes=0.9", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "plugin a.k=3", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "detect.threshold=0.95", &e), 0);
	assert_int_equal(e.n, 0);
	/* each file on its own */
	drsn__config_defaults(&c);
	assert_int_equal(drsn__config_load_string(&c, "[detect]\nthreshold = 0.5\n", "1.conf", &e), 0);
	assert_int_equal(drsn__config_load_string(&c, "[detect]\nthreshold = 0.6\n", "2.conf", &e), 0);
	assert_int_equal(e.n, 0);

	/* indentation: an indented first key of a section is a key; an indented
	 * line after a key continues that key's value (joined with a blank),
	 * unless it reads as a key itself (refused, not joined) */
	drsn__config_defaults(&c);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[detect]\n  threshold = 0.5\n", "i.conf", &e), 0);
	assert_true(c.threshold == 0.5f);
	assert_int_equal(drsn__config_load_string(&c, "[detect]\nthreshold = 0.5\n  0.6\n"
						      "  smoothing_ms = 100\n  ; comment\n\n"
						      "[audio]\n  ring_ms = 100\n", "i.conf", &e),
			 -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "i.conf:2: [detect] threshold: '0.5 0.6'"));
	assert_true(has_error(&e, "i.conf:4: an indented line that reads as a key ('smoothing_ms = 100')"));
	assert_int_equal(e.n, 2);
	assert_int_equal(c.ring_ms, 100);
}

/* A value longer than a line (inih's 198 bytes: a curl webhook for exec)
 * continues on indented lines, joined with one blank, up to
 * 511 bytes; a key given again (not indented) is still a duplicate, and
 * --print-config writes such a value the same way. */
static char *print(const struct drsn__config *c);

static void test_long_values(void **state)
{
	(void)state;
	char part[3][101], want[304], text[1200];
	for (int i = 0; i < 3; i++) {
		memset(part[i], 'a' + i, 100);
		memcpy(part[i], i ? "--x" : "curl", i ? 3 : 4);
		part[i][100] = '\0';
	}
	snprintf(want, sizeof want, "%s %s %s", part[0], part[1], part[2]);
	assert_int_equal(strlen(want), 302);
	snprintf(text, sizeof text, "[plugins]\nload = exec\n[plugin exec]\n"
		 "yes = %s\n  %s\n\n  ; a comment between\n\t%s ; a comment\nno = true\n",
		 part[0], part[1], part[2]);
	struct drsn__config c, c2;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_load_string(&c, text, "x.conf", &e), 0);
	dump(&e);
	int s = drsn__config_plugin_section(&c, "exec");
	assert_true(s >= 0);
	assert_int_equal(c.plugins.sections[s].n_kv, 2);
	const char *k, *v, *w;
	drsn__config_plugin_kv(&c, s, 0, &k, &v, &w);
	assert_string_equal(k, "yes");
	assert_string_equal(v, want);
	assert_string_equal(w, "x.conf:4");
	drsn__config_plugin_kv(&c, s, 1, &k, &v, &w);
	assert_string_equal(v, "true");
	assert_string_equal(w, "x.conf:9");

	/* --print-config: lines of at most 198 bytes that read back the same */
	char *out = print(&c);
	print_message("%s", out);
	for (const char *l = out; *l; l += strcspn(l, "\n") + !!l[strcspn(l, "\n")])
		assert_true(strcspn(l, "\n") <= 198);
	drsn__config_defaults(&c2);
	assert_int_equal(drsn__config_load_string(&c2, out, "printed", &e), 0);
	dump(&e);
	drsn__config_plugin_kv(&c2, drsn__config_plugin_section(&c2, "exec"), 0, &k, &v, &w);
	assert_string_equal(v, want);
	free(out);

	/* a quoted value goes on too: its ' ;' is no comment on any line */
	drsn__config_defaults(&c);
	assert_int_equal(drsn__config_load_string(&c, "[model]\npath = \"/a ;b\n   c ;d\" ; c\n",
						      "q.conf", &e), 0);
	assert_string_equal(c.model_path, "/a ;b c ;d");

	/* a key not indented is a duplicate, continued or not */
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[plugin exec]\nyes = a\n  b\nyes = c\n"
						      "[model]\npath = /a\n  b\npath = /c\n",
						      "d.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "d.conf:4: [plugin exec] yes: duplicate key, also set at line 2"));
	assert_true(has_error(&e, "d.conf:8: [model] path: duplicate key, also set at line 6"));
	assert_int_equal(e.n, 2);

	/* joined, at most 511 bytes */
	memset(&e, 0, sizeof e);
	snprintf(text, sizeof text, "[plugin exec]\nyes = %s\n  %s\n  %s\n  %s\n  %s\n  %.8s\n"
		 "[detect]\nthreshold = 2\n", part[0], part[1], part[2], part[0], part[1], part[2]);
	assert_int_equal(drsn__config_load_string(&c, text, "l.conf", &e), -EINVAL);
	dump(&e);
	assert_non_null(strstr(e.msg[0], "l.conf:2: [plugin exec] yes: the value, joined from its "
				       "lines, is longer than 511 bytes"));
	assert_true(has_error(&e, "l.conf:9: [detect] threshold: '2'"));
	assert_int_equal(e.n, 2);

	/* a value begun on the next line (a long path): no leading blank */
	drsn__config_defaults(&c);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[model]\npath =\n  /a/long/path\n[socket]\n"
						      "path = \"\n  /run/x.sock\"\n", "e.conf", &e), 0);
	dump(&e);
	assert_string_equal(c.model_path, "/a/long/path");
	assert_string_equal(c.socket_path, "/run/x.sock");

	/* an indented line that reads as a key (an indented style) is refused,
	 * not made part of the value above: "host = b port = 1884" */
	drsn__config_defaults(&c);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[plugin mqtt]\n  host = b\n  port = 1884\n"
						      "  client_id: x\n[plugin exec]\nyes = curl\n"
						      "  https://example.com/hook\n", "i.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "i.conf:3: an indented line that reads as a key ('port = 1884')"));
	assert_true(has_error(&e, "i.conf:4: an indented line that reads as a key ('client_id: x')"));
	assert_int_equal(e.n, 2);
	s = drsn__config_plugin_section(&c, "exec");
	drsn__config_plugin_kv(&c, s, 0, &k, &v, &w);
	assert_string_equal(v, "curl https://example.com/hook");   /* "https:" is no key */
}

static char *print(const struct drsn__config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	drsn__config_print(c, f);
	fclose(f);
	return buf;
}

/* --print-config gives a file that reads back as the same config, also for
 * values with " ;" (an inline comment to inih), blanks at an end, quotes and
 * backslashes: it quotes them. */
static void test_print_round_trip(void **state)
{
	(void)state;
	struct drsn__config c, c2;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	static const char *const sets[] = {
		"audio.source=file:/tmp/a ;b.wav",
		"model.path= \"quoted\" \\ path ;x\t",
		"socket.group=g;h",
		"plugins.dir=/p ;d",
		"plugins.load=a",
		"plugin a.k=v ;w",
		"plugin a.j=1",
		"plugin a.k=\"last\"",          /* overrides k: printed once */
		"thresholds.yes=0.25",
		"thresholds.no=0.123456789",     /* more digits than %g keeps */
		"detect.threshold=0.8",
		"denoise.strength=12.3456789",
	};
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
		assert_int_equal(drsn__config_set_arg(&c, sets[i], &e), 0);
	char *text = print(&c);
	print_message("%s", text);
	assert_non_null(strstr(text, "source = \"file:/tmp/a ;b.wav\"\n"));
	assert_non_null(strstr(text, "group = g;h\n"));
	drsn__config_defaults(&c2);
	assert_int_equal(drsn__config_load_string(&c2, text, "printed", &e), 0);
	dump(&e);
	assert_string_equal(c2.source, "file:/tmp/a ;b.wav");
	assert_string_equal(c2.model_path, " \"quoted\" \\ path ;x\t");
	assert_string_equal(c2.socket_group, "g;h");
	assert_string_equal(c2.plugins.dir, "/p ;d");
	const char *k, *v, *w;
	int s = drsn__config_plugin_section(&c2, "a");
	assert_int_equal(s, 0);
	assert_int_equal(c2.plugins.sections[s].n_kv, 2);
	drsn__config_plugin_kv(&c2, s, 0, &k, &v, &w);
	assert_string_equal(k, "j");
	drsn__config_plugin_kv(&c2, s, 1, &k, &v, &w);
	assert_string_equal(k, "k");
	assert_string_equal(v, "\"last\"");
	assert_true(drsn__config_threshold(&c2, "yes") == 0.25f);
	assert_true(drsn__config_threshold(&c2, "no") == 0.123456789f);
	assert_true(c2.threshold == 0.8f && c2.denoise_strength_db == 12.3456789f);
	assert_non_null(strstr(text, "threshold = 0.8\n"));   /* the short form when it reads back */
	/* and it prints the same again */
	char *text2 = print(&c2);
	assert_string_equal(text, text2);
	free(text);
	free(text2);

	/* a secret (mqtt's password) is never printed, only that it is set;
	 * password_file (a path) and an empty password are */
	drsn__config_defaults(&c);
	static const char *const secrets[] = {
		"plugin mqtt.username=u", "plugin mqtt.password=hunter2", "plugin x.api_token=tok3n",
		"plugin x.password_file=/etc/pw", "plugin x.secret=", "plugin x.tokens=many",
	};
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		assert_int_equal(drsn__config_set_arg(&c, secrets[i], &e), 0);
	text = print(&c);
	print_message("%s", text);
	assert_null(strstr(text, "hunter2"));
	assert_null(strstr(text, "tok3n"));
	assert_non_null(strstr(text, "; password = (set; not printed)\n"));
	assert_non_null(strstr(text, "; api_token = (set; not printed)\n"));
	assert_non_null(strstr(text, "\nusername = u\n"));
	assert_non_null(strstr(text, "\npassword_file = /etc/pw\n"));
	assert_non_null(strstr(text, "\nsecret = \n"));
	assert_non_null(strstr(text, "\ntokens = many\n"));
	free(text);

	/* quoted values in a file: a comment after the quote, blanks kept */
	drsn__config_defaults(&c);
	assert_int_equal(drsn__config_load_string(&c, "[audio]\nsource = \"file:/a ;b.wav\" ; c\n"
						      "[socket]\ngroup = \" g \"\n", "q.conf", &e), 0);
	assert_string_equal(c.source, "file:/a ;b.wav");
	assert_string_equal(c.socket_group, " g ");
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[socket]\ngroup = \"open\n"
						      "[audio]\nsource = \"file:/a\"b\n", "q.conf", &e),
			 -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "q.conf:2: [socket] group: the closing '\"' is missing"));
	assert_true(has_error(&e, "q.conf:4: [audio] source: text after the closing '\"'"));
	/* no control characters (a line break would not print as one line) */
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=file:/a\nb", &e), -EINVAL);
	assert_true(has_error(&e, "command line: [audio] source: the value contains a control "
				  "character (byte 0x0a)"));
}

/* [thresholds] for a model of one's own: a label with blanks, capitals or
 * any UTF-8 is a key as it is; one with '=', ':', ';', a '#' or '[' first, a
 * quote, a backslash or blanks at an end is a "quoted key" (\" and \\ inside).
 * --set takes the value after the last '=' (thresholds.a=b=0.5), and
 * --print-config quotes what needs it, so that it reads back the same. */
static void test_threshold_labels_of_ones_own(void **state)
{
	(void)state;
	static const struct {
		const char *line, *label;
		float value;
	} cases[] = {
		{"hey box = 0.5", "hey box", 0.5f},
		{"Licht an = 0.25", "Licht an", 0.25f},
		{"\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf = 0.75",
		 "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf", 0.75f},
		{"\"a=b\" = 0.125", "a=b", 0.125f},
		{"\"x:y\" = 0.375", "x:y", 0.375f},
		{"\"x ;y\" = 0.0625", "x ;y", 0.0625f},
		{"\"#tag\" = 0.4375", "#tag", 0.4375f},
		{"\"[x]\" = 0.5625", "[x]", 0.5625f},
		{"\" lead\" = 0.6875", " lead", 0.6875f},
		{"\"say \\\"hi\\\"\" = 0.8125", "say \"hi\"", 0.8125f},
		{"\"back\\\\slash\" = 0.9375", "back\\slash", 0.9375f},
		{"\"+/#\"   =   0.3 ; a comment", "+/#", 0.3f},
		{"Mr. Box = 0.2", "Mr. Box", 0.2f},
	};
	enum { N = sizeof cases / sizeof cases[0] };
	char text[4096] = "[thresholds]\n";
	for (size_t i = 0; i < N; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text), "%s\n", cases[i].line);
	struct drsn__config c, c2;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	int rc = drsn__config_load_string(&c, text, "own.conf", &e);
	dump(&e);
	assert_int_equal(rc, 0);
	assert_int_equal(c.n_thresholds, N);
	for (size_t i = 0; i < N; i++) {
		if (strcmp(c.thresholds[i].label, cases[i].label) || c.thresholds[i].value != cases[i].value)
			fail_msg("'%s': got label '%s' = %g", cases[i].line, c.thresholds[i].label,
				 c.thresholds[i].value);
		char where[32];
		snprintf(where, sizeof where, "own.conf:%d", (int)i + 2);
		assert_string_equal(c.thresholds[i].where, where);
	}
	/* read back from --print-config: the same labels and values */
	char *printed = print(&c);
	print_message("%s", printed);
	assert_non_null(strstr(printed, "\nhey box = 0.5\n"));
	assert_non_null(strstr(printed, "\n\"a=b\" = 0.125\n"));
	assert_non_null(strstr(printed, "\nsay \"hi\" = 0.8125\n"));
	assert_non_null(strstr(printed, "\n\"#tag\" = 0.4375\n"));
	drsn__config_defaults(&c2);
	rc = drsn__config_load_string(&c2, printed, "printed", &e);
	dump(&e);
	assert_int_equal(rc, 0);
	assert_int_equal(c2.n_thresholds, N);
	for (size_t i = 0; i < N; i++)
		assert_true(drsn__config_threshold(&c2, cases[i].label) == cases[i].value);
	free(printed);

	/* --set: LABEL is up to the last '=', and may be quoted as in a file */
	drsn__config_defaults(&c);
	assert_int_equal(drsn__config_set_arg(&c, "thresholds.a=b=0.25", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "thresholds.\" x\"=0.5", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "thresholds.Mr. Box=0.75", &e), 0);
	dump(&e);
	assert_true(drsn__config_threshold(&c, "a=b") == 0.25f);
	assert_true(drsn__config_threshold(&c, " x") == 0.5f);
	assert_true(drsn__config_threshold(&c, "Mr. Box") == 0.75f);
	/* a label as long as a model allows (255 bytes) fits --set */
	char arg[400] = "thresholds.";
	memset(arg + strlen(arg), 'k', 255);
	strcat(arg, "=0.5");
	assert_int_equal(drsn__config_set_arg(&c, arg, &e), 0);
	dump(&e);

	/* what is wrong is named */
	memset(&e, 0, sizeof e);
	drsn__config_defaults(&c);
	assert_int_equal(drsn__config_load_string(&c, "[thresholds]\n\"open = 0.5\n\"a\" b = 0.5\n"
						      "\"\" = 0.5\n", "bad.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "bad.conf:2: [thresholds] \"open: the closing '\"' of the key is missing"));
	assert_true(has_error(&e, "bad.conf:3: [thresholds] \"a\" b: text after the key's closing '\"'"));
	assert_true(has_error(&e, "bad.conf:4: [thresholds] \"\": the label is empty"));
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_set_arg(&c, "thresholds.a\nb=0.5", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "command line: [thresholds] label 'a?b' holds a control character (byte 0x0a)"));
}

/* A [thresholds] label the model lacks: the error names it and lists the
 * model's labels so that one can be told from the next ("hey box" and
 * "a, b" quoted), cut short at a whole character: the message goes into log
 * lines and the JSON reply to a reload, which must stay UTF-8. */
static void test_threshold_label_not_in_model(void **state)
{
	(void)state;
	static const struct fx_arch a = {"cw", 40, 98, 8, 3, 1, 1, {{8, 3, 1}}, "zero_pad", 8, 0, 0};
	struct fx_model *fx = malloc(sizeof *fx);
	assert_non_null(fx);
	fx_init(fx, &a, 3);
	/* five labels of 20 three-byte characters and a digit: the list is
	 * longer than the message has room for */
#define KO "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf"
#define KO4 KO KO KO KO
	fx_set(&fx->meta_labels, "[\"_silence_\",\"hey box\",\"a, b\",\"" KO4 "1\",\"" KO4 "2\",\""
				 KO4 "3\",\"" KO4 "4\",\"" KO4 "5\"]");
	drsn_model *m = fx_load(fx);
	fx_free(fx);
	free(fx);
	assert_non_null(m);
	struct drsn__config c;
	drsn__config_defaults(&c);
	snprintf(c.model_path, sizeof c.model_path, "own.safetensors");
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_load_string(&c, "[thresholds]\nHey Box = 0.5\n", "own.conf", &e), 0);
	drsn_pipeline *p = NULL;
	drsn_error err;
	assert_int_equal(drsn__daemon_pipeline(&c, m, &p, &err), -EINVAL);
	assert_null(p);
	print_message("%s\n", err.msg);
	/* labels are compared case and all: the hint names the one meant, before
	 * the list (which the message cuts short) */
	assert_non_null(strstr(err.msg, "own.conf:2: [thresholds] Hey Box: no such label in own.safetensors; "
					"did you mean 'hey box'? (labels: _silence_, \"hey box\", \"a, b\", " KO4 "1, "));
	size_t n = strlen(err.msg);
	assert_int_equal(drsn__utf8_check(err.msg, n), n);
	assert_string_equal(err.msg + n - 4, "\xe2\x80\xa6)");
	assert_non_null(strstr(err.msg, KO4 "3, \xe2\x80\xa6)"));
	/* a typo: the label meant; a name like none: no hint */
	static const struct { const char *conf, *want; } cases[] = {
		{"[thresholds]\n_silense_ = 0.5\n", "_silense_: no such label in own.safetensors; did you mean '_silence_'? (labels: "},
		{"[thresholds]\na b = 0.5\n", "a b: no such label in own.safetensors; did you mean 'a, b'? (labels: "},
		{"[thresholds]\nbanana = 0.5\n", "banana: no such label in own.safetensors (labels: "},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		drsn__config_defaults(&c);
		snprintf(c.model_path, sizeof c.model_path, "own.safetensors");
		assert_int_equal(drsn__config_load_string(&c, cases[i].conf, "own.conf", &e), 0);
		assert_int_equal(drsn__daemon_pipeline(&c, m, &p, &err), -EINVAL);
		print_message("%s\n", err.msg);
		assert_non_null(strstr(err.msg, cases[i].want));
	}
	drsn_model_free(m);
#undef KO4
#undef KO
}

/* A message longer than the buffer ends in "…"; one as long as a drsn_error
 * message plus a prefix fits whole (the model's label list did not). */
static void test_long_messages(void **state)
{
	(void)state;
	struct drsn__cfg_errors e = {0};
	char long_msg[DRSN_CFG_ERROR_MAX * 2];
	memset(long_msg, 'x', sizeof long_msg - 1);
	long_msg[sizeof long_msg - 1] = '\0';
	drsn__cfg_error(&e, "%s", long_msg);
	size_t n = strlen(e.msg[0]);
	assert_true(n < DRSN_CFG_ERROR_MAX);
	assert_string_equal(e.msg[0] + n - 3, "\xe2\x80\xa6");
	char fits[512 + 32];
	memset(fits, 'y', sizeof fits - 2);
	fits[sizeof fits - 2] = ')';
	fits[sizeof fits - 1] = '\0';
	drsn__cfg_error(&e, "[model] path: %s", fits);
	assert_int_equal(strlen(e.msg[1]), strlen("[model] path: ") + strlen(fits));
	assert_int_equal(e.msg[1][strlen(e.msg[1]) - 1], ')');
}

/* What a reload cannot apply: the keys that only take effect at start. */
static void test_restart_only_diff(void **state)
{
	(void)state;
	struct drsn__config *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	char buf[256];
	drsn__config_defaults(a);
	drsn__config_defaults(b);
	assert_int_equal(drsn__config_restart_only_diff(a, b, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	static const char *const sets[] = {
		"socket.path=/tmp/other.sock",
		"socket.max_clients=3",
		"audio.source=file:/tmp/x.wav",
		"detect.threshold=0.5",        /* applied by a reload */
		"model.path=/tmp/m.safetensors",
		"daemon.log_level=debug",
		"audio.on_eof=exit",
		"plugins.load=a",
		"plugin a.k=1",
	};
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
		assert_int_equal(drsn__config_set_arg(b, sets[i], NULL), 0);
	assert_int_equal(drsn__config_restart_only_diff(a, b, buf, sizeof buf), 5);
	assert_string_equal(buf, "[socket] path, [socket] max_clients, [audio] source, "
				 "[plugins] load, [plugin a]");
	/* too small: cut with "…" */
	assert_int_equal(drsn__config_restart_only_diff(a, b, buf, 40), 5);
	assert_string_equal(buf, "[socket] path, [socket] max_clients\xe2\x80\xa6");
	/* a plugin section that changed or went */
	assert_int_equal(drsn__config_set_arg(a, "plugins.load=a", NULL), 0);
	assert_int_equal(drsn__config_set_arg(a, "plugin a.k=2", NULL), 0);
	assert_int_equal(drsn__config_set_arg(a, "plugin b.x=2", NULL), 0);
	assert_int_equal(drsn__config_restart_only_diff(a, b, buf, sizeof buf), 5);
	assert_string_equal(buf, "[socket] path, [socket] max_clients, [audio] source, "
				 "[plugin a], [plugin b]");
	/* keeping the running values: nothing left to report, the rest is new */
	drsn__config_keep_restart_only(b, a);
	assert_int_equal(drsn__config_restart_only_diff(a, b, buf, sizeof buf), 0);
	assert_string_equal(b->socket_path, a->socket_path);
	assert_int_equal(b->max_clients, 64);
	assert_true(b->threshold == 0.5f);
	assert_string_equal(b->model_path, "/tmp/m.safetensors");
	assert_int_equal(b->on_eof_exit, 1);
	free(a);
	free(b);
}

/* --check-config's look at the system: what start-up would fail on. */
static void test_check_system(void **state)
{
	(void)state;
	const char *root = getenv("DRSN_SOURCE_ROOT");
	char arg[4200];
	struct drsn__config c;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_check_system(&c, &e), 0);   /* pa:, no group */
	struct group *g = getgrgid(getgid());
	assert_non_null(g);
	snprintf(arg, sizeof arg, "socket.group=%s", g->gr_name);
	assert_int_equal(drsn__config_set_arg(&c, arg, &e), 0);
	snprintf(arg, sizeof arg, "audio.source=file:%s/samples/keywords-clean.wav", root ? root : ".");
	assert_int_equal(drsn__config_set_arg(&c, arg, &e), 0);
	assert_int_equal(drsn__config_check_system(&c, &e), 0);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	snprintf(arg, sizeof arg, "audio.source=fd:%d", pfd[0]);
	assert_int_equal(drsn__config_set_arg(&c, arg, &e), 0);
	assert_int_equal(drsn__config_check_system(&c, &e), 0);
	assert_int_equal(e.n, 0);
	close(pfd[0]);
	assert_int_equal(drsn__config_check_system(&c, &e), -EBADF);
	snprintf(arg, sizeof arg, "command line: [audio] source: fd:%d: not an open file descriptor",
		 pfd[0]);
	assert_true(has_error(&e, arg));
	close(pfd[1]);

	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[socket]\ngroup = nosuchgroup-drsnd\n"
						      "[audio]\nsource = file:/nonexistent.wav\n",
						      "s.conf", &e), 0);
	assert_true(drsn__config_check_system(&c, &e) < 0);
	dump(&e);
	assert_true(has_error(&e, "s.conf:2: [socket] group: no group named 'nosuchgroup-drsnd'"));
	assert_true(has_error(&e, "s.conf:4: [audio] source: /nonexistent.wav: no such file"));
	assert_int_equal(e.n, 2);
	memset(&e, 0, sizeof e);
	int dfd = open("/", O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	snprintf(arg, sizeof arg, "audio.source=fd:%d", dfd);
	assert_int_equal(drsn__config_set_arg(&c, "socket.group=", &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, arg, &e), 0);
	assert_true(drsn__config_check_system(&c, &e) < 0);
	assert_true(has_error(&e, "is a directory, not an audio stream"));
	close(dfd);
}

/* --check-config finds what makes start-up fail at the sockets (it said OK
 * and the daemon then exited 1), creating and binding nothing: a missing
 * directory, a path that is another file, a [socket] group this user is
 * not in (chown's EPERM). A missing /run/drsnd-NAME is the unit's to make. */
static void test_check_sockets(void **state)
{
	(void)state;
	char dir[] = "/tmp/drsnd-cfg-sock-XXXXXX", arg[200], want[300];
	assert_non_null(mkdtemp(dir));
	struct drsn__config c;
	drsn__config_defaults(&c);
	struct drsn__cfg_errors e = {0};
	snprintf(arg, sizeof arg, "socket.path=%s/file.sock", dir);
	int fd = open(arg + 12, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(drsn__config_set_arg(&c, arg, &e), 0);
	assert_int_equal(drsn__config_set_arg(&c, "denoise.pcm_socket=/nonexistent/p.sock", &e), 0);
	assert_int_equal(drsn__config_check_system(&c, &e), -EINVAL);
	dump(&e);
	snprintf(want, sizeof want, "command line: [socket] path: %s/file.sock: exists and is not "
		 "a socket (drsnd would not touch it): remove it, or set [socket] path", dir);
	assert_true(has_error(&e, want));
	assert_true(has_error(&e, "command line: [denoise] pcm_socket: /nonexistent: socket "
				  "directory does not exist (create it, or set [denoise] pcm_socket)"));
	assert_int_equal(e.n, 2);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(&c, "[socket]\npath = /nonexistent/x.sock\n"
						      "[denoise]\npcm_socket =\n", "s.conf", &e), 0);
	assert_int_equal(drsn__config_check_system(&c, &e), -EINVAL);
	assert_true(has_error(&e, "s.conf:2: [socket] path: /nonexistent: socket directory does not exist"));
	assert_int_equal(e.n, 1);
	/* good ones: nothing is made there */
	memset(&e, 0, sizeof e);
	snprintf(arg, sizeof arg, "socket.path=%s/new.sock", dir);
	assert_int_equal(drsn__config_set_arg(&c, arg, &e), 0);
	assert_int_equal(drsn__config_check_system(&c, &e), 0);
	assert_int_equal(access(arg + 12, F_OK), -1);
	assert_int_equal(drsn__config_set_arg(&c, "socket.path=/run/drsnd-cfg-test-none/drsnd.sock", &e), 0);
	assert_int_equal(drsn__config_check_system(&c, &e), 0);
	assert_int_equal(e.n, 0);
	snprintf(arg, sizeof arg, "%s/file.sock", dir);
	unlink(arg);
	rmdir(dir);

	/* a group the checking user is not in: not an error, as the check runs
	 * as whoever runs it (an admin), and drsnd's units run as a DynamicUser
	 * given SupplementaryGroups=; a start outside the group fails naming
	 * that (unixsock's test_group_not_a_member). A child drops root first. */
	struct group *g;
	pid_t pid = foreign_fork(&g);
	if (pid == 0) {
		drsn__config_defaults(&c);
		memset(&e, 0, sizeof e);
		snprintf(arg, sizeof arg, "socket.group=%s", g->gr_name);
		int ok = !drsn__config_set_arg(&c, arg, &e) && drsn__config_check_system(&c, &e) == 0 &&
			 e.n == 0;
		dump(&e);
		_exit(ok ? 0 : 1);
	}
	foreign_wait(pid);
	/* a group that does not exist: an error for anyone */
	drsn__config_defaults(&c);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_set_arg(&c, "socket.group=drsn-no-such-group", &e), 0);
	assert_int_equal(drsn__config_check_system(&c, &e), -ENOENT);
	assert_true(has_error(&e, "[socket] group: no group named 'drsn-no-such-group'"));
}

/* [detect] accepts what drsn_pipeline_create accepts (the DRSN_PIPELINE_*
 * ranges of drsn/pipeline.h; drsn detect's options use them too): a config
 * that loads always makes a pipeline, and no valid value is refused. */
static void test_detect_ranges_are_the_pipelines(void **state)
{
	(void)state;
	const struct { const char *key; double lo, hi, step; } keys[] = {
		{"inference_hop_ms", DRSN_PIPELINE_HOP_MS_MIN, DRSN_PIPELINE_HOP_MS_MAX, 1},
		{"smoothing_ms", 0, DRSN_PIPELINE_SMOOTHING_MS_MAX, 1},
		{"refractory_ms", 0, DRSN_PIPELINE_REFRACTORY_MS_MAX, 1},
		{"vad_threshold_db", DRSN_PIPELINE_VAD_DB_MIN, 0, 0.5},
		{"vad_hangover_ms", 0, DRSN_PIPELINE_HANGOVER_MS_MAX, 1},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const double vals[4] = {keys[i].lo, keys[i].hi, keys[i].lo - keys[i].step,
					keys[i].hi + keys[i].step};
		for (int k = 0; k < 4; k++) {
			char text[128];
			snprintf(text, sizeof text, "[detect]\n%s = %g\n", keys[i].key, vals[k]);
			struct drsn__config c;
			drsn__config_defaults(&c);
			struct drsn__cfg_errors e = {0};
			int rc = drsn__config_load_string(&c, text, "r.conf", &e);
			if (rc != (k < 2 ? 0 : -EINVAL))
				fail_msg("%s: %s = %g: %d", text, keys[i].key, vals[k], rc);
		}
	}
}


/* [audio] channel: mix, N, lists and ranges; a bad value names the line;
 * a channel beyond raw_channels (stdin, fd:) names both keys; --check-config
 * opens a file: source and names both numbers; --print-config reads back. */
static void test_audio_channel(void **state)
{
	(void)state;
	struct drsn__config c;
	struct drsn__cfg_errors errs = {0};
	drsn__config_defaults(&c);
	assert_string_equal(c.channel, "mix");
	assert_true(drsn__config_channels(&c) == 0);
	assert_int_equal(drsn__config_load_string(&c, "[audio]\nchannel = 1-4,6\n", "t.conf", &errs), 0);
	assert_true(drsn__config_channels(&c) == 0x2f);
	assert_int_equal(drsn__config_load_string(&c, "[audio]\nchannel = 0\n", "t.conf", &errs), -EINVAL);
	assert_true(has_error(&errs, "t.conf:2: [audio] channel: '0' is not mix, a channel number"));

	/* stdin with 2 raw channels: channel 3 is an error naming both places */
	errs.n = 0;
	drsn__config_defaults(&c);
	assert_int_equal(drsn__config_load_string(&c, "[audio]\nsource = stdin\nraw_channels = 2\n"
						  "channel = 3\n", "t.conf", &errs), 0);
	assert_int_equal(drsn__config_check(&c, &errs), -EINVAL);
	dump(&errs);
	assert_true(has_error(&errs, "t.conf:4: [audio] channel: channel 3 asked for, but "
			      "raw_channels is 2 ([audio] channel: t.conf:4; [audio] raw_channels: t.conf:3)"));
	errs.n = 0;
	assert_int_equal(drsn__config_set_arg(&c, "audio.channel=2", &errs), 0);
	assert_int_equal(drsn__config_check(&c, &errs), 0);
	/* pa: is checked when the device opens */
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=pa:", &errs), 0);
	assert_int_equal(drsn__config_set_arg(&c, "audio.channel=9", &errs), 0);
	assert_int_equal(drsn__config_check(&c, &errs), 0);

	/* --check-config: a 2-channel file asked for channel 3 */
	char path[64] = "/tmp/drsn-cfg-chan-XXXXXX.wav";
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	static const unsigned char wav[] = {   /* 1 frame of 2 s16 channels, 16 kHz */
		'R', 'I', 'F', 'F', 40, 0, 0, 0, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ', 16, 0, 0, 0,
		1, 0, 2, 0, 0x80, 0x3e, 0, 0, 0, 0xfa, 0, 0, 4, 0, 16, 0, 'd', 'a', 't', 'a', 4, 0,
		0, 0, 1, 0, 0, 0};
	assert_int_equal(write(fd, wav, sizeof wav), (ssize_t)sizeof wav);
	close(fd);
	char text[256];
	snprintf(text, sizeof text, "[audio]\nsource = file:%s\nchannel = 3\n", path);
	drsn__config_defaults(&c);
	errs.n = 0;
	assert_int_equal(drsn__config_load_string(&c, text, "t.conf", &errs), 0);
	assert_true(drsn__config_check_system(&c, &errs) < 0);
	dump(&errs);
	char want[256];
	snprintf(want, sizeof want, "t.conf:3: [audio] channel: %s: channel 3 asked for, but it "
		 "has 2 channels", path);
	assert_true(has_error(&errs, want));
	errs.n = 0;
	assert_int_equal(drsn__config_set_arg(&c, "audio.channel=2", &errs), 0);
	assert_int_equal(drsn__config_check_system(&c, &errs), 0);
	unlink(path);

	/* printed and read back */
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	drsn__config_print(&c, f);
	fclose(f);
	assert_non_null(strstr(buf, "\nchannel = 2\n"));
	free(buf);
}

/* [audio] wait_for_client: a boolean, off by default; a bad value names
 * its line; with a pa: source (a live microphone cannot wait) it is an
 * error naming both keys' places; file:, stdin and fd: take it. */
static void test_wait_for_client(void **state)
{
	(void)state;
	struct drsn__config c;
	struct drsn__cfg_errors errs = {0};
	drsn__config_defaults(&c);
	assert_int_equal(c.wait_for_client, 0);
	assert_int_equal(drsn__config_load_string(&c, "[audio]\nsource = stdin\n"
						  "wait_for_client = yes\n", "t.conf", &errs), 0);
	assert_int_equal(c.wait_for_client, 1);
	assert_int_equal(drsn__config_check(&c, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(drsn__config_load_string(&c, "[audio]\n\nwait_for_client = later\n",
						  "t.conf", &errs), -EINVAL);
	dump(&errs);
	assert_true(has_error(&errs, "t.conf:3: [audio] wait_for_client: 'later' is not a boolean"));

	static const char *const ok[] = {"file:/x.wav", "stdin", "fd:3"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char arg[64];
		drsn__config_defaults(&c);
		errs.n = 0;
		snprintf(arg, sizeof arg, "audio.source=%s", ok[i]);
		assert_int_equal(drsn__config_set_arg(&c, arg, &errs), 0);
		assert_int_equal(drsn__config_set_arg(&c, "audio.wait_for_client=yes", &errs), 0);
		assert_int_equal(drsn__config_check(&c, &errs), 0);
	}

	/* pa: (the default source, and a named device) is refused */
	drsn__config_defaults(&c);
	errs.n = 0;
	assert_int_equal(drsn__config_load_string(&c, "[audio]\nwait_for_client = on\n", "t.conf",
						  &errs), 0);
	assert_int_equal(drsn__config_check(&c, &errs), -EINVAL);
	dump(&errs);
	assert_true(has_error(&errs, "t.conf:2: [audio] wait_for_client: a live pa: source cannot "
			      "wait for a client (only file:, stdin and fd: can); set wait_for_client = no "
			      "([audio] wait_for_client: t.conf:2; [audio] source: the default)"));
	errs.n = 0;
	assert_int_equal(drsn__config_set_arg(&c, "audio.source=pa:USB", &errs), 0);
	assert_int_equal(drsn__config_check(&c, &errs), -EINVAL);
	assert_true(has_error(&errs, "command line: [audio] wait_for_client: a live pa: source"));
	errs.n = 0;
	assert_int_equal(drsn__config_set_arg(&c, "audio.wait_for_client=no", &errs), 0);
	assert_int_equal(drsn__config_check(&c, &errs), 0);
}

/* drsnd.conf edited on Windows: a UTF-8 BOM, CRLF line ends, tabs around
 * '=' and trailing blanks are taken as the same file without them; a
 * UTF-16 file (Notepad's "Unicode") is one error naming line 1 and what to
 * do, not a syntax error per line. */
static void test_windows_file(void **state)
{
	(void)state;
	const char *text =
		"\xef\xbb\xbf; edited in Notepad\r\n"
		"[detect]\t\r\n"
		"threshold\t=\t0.7 \t\r\n"
		"\r\n"
		"[audio] \r\n"
		"source = \"file:/tmp/a b.wav\"  \r\n"
		"channel\t= 1,2\t; the mics\r\n"
		"[thresholds]\r\n"
		"yes = 0.9\r\n";
	struct drsn__config c;
	struct drsn__cfg_errors errs = {0};
	drsn__config_defaults(&c);
	int rc = drsn__config_load_string(&c, text, "win.conf", &errs);
	dump(&errs);
	assert_int_equal(rc, 0);
	assert_true(c.threshold == 0.7f);
	assert_string_equal(c.source, "file:/tmp/a b.wav");
	assert_string_equal(c.channel, "1,2");
	assert_int_equal(c.n_thresholds, 1);
	assert_true(c.thresholds[0].value == 0.9f);

	/* the same from a file */
	char path[64] = "/tmp/drsn-cfg-win-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	drsn__config_defaults(&c);
	rc = drsn__config_load_file(&c, path, &errs);
	dump(&errs);
	assert_int_equal(rc, 0);
	assert_true(c.threshold == 0.7f);
	assert_string_equal(c.channel, "1,2");

	/* UTF-16 LE with its BOM */
	static const char u16[] = "\xff\xfe[\0d\0e\0t\0e\0c\0t\0]\0\r\0\n\0t\0h\0r\0e\0s\0h\0o\0l\0d\0"
				  " \0=\0 \0000\0.\0007\0\r\0\n\0";
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, u16, sizeof u16 - 1), (ssize_t)(sizeof u16 - 1));
	close(fd);
	drsn__config_defaults(&c);
	errs.n = 0;
	assert_int_equal(drsn__config_load_file(&c, path, &errs), -EINVAL);
	dump(&errs);
	assert_int_equal(errs.n, 1);
	char want[128];
	snprintf(want, sizeof want, "%s:1: the file is UTF-16", path);
	assert_true(has_error(&errs, want));
	assert_true(has_error(&errs, "UTF-8"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_file_matches_defaults),
		cmocka_unit_test(test_errors_have_line_numbers_and_all_are_reported),
		cmocka_unit_test(test_typos_get_a_hint),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_file_limits),
		cmocka_unit_test(test_set_arg_overrides_and_check),
		cmocka_unit_test(test_overridden_keys_are_named),
		cmocka_unit_test(test_places),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_threshold_labels_of_ones_own),
		cmocka_unit_test(test_threshold_label_not_in_model),
		cmocka_unit_test(test_long_messages),
		cmocka_unit_test(test_restart_only_diff),
		cmocka_unit_test(test_check_system),
		cmocka_unit_test(test_check_sockets),
		cmocka_unit_test(test_detect_ranges_are_the_pipelines),
		cmocka_unit_test(test_audio_channel),
		cmocka_unit_test(test_wait_for_client),
		cmocka_unit_test(test_windows_file),
	};
	return cmocka_run_group_tests_name("daemon-config", tests, NULL, NULL);
}
