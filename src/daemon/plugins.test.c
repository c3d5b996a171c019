/* drsnd's plugin loader against the mock modules of tests/plugins/mock.c:
 * every way a plugin can be broken gives its exact error and leaves the
 * loader (and the other plugins) working; config bounds and names; the
 * --check-config view; the host table's pipeline.
 * Args: MOCK_DIR [MODEL] (MODEL: a model for pipeline_create). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "daemon/config.h"
#include "daemon/cfg_errors.test.h"
#include "daemon/plugins.h"
#include "drsn/drsn.h"
#include "tests/plugins/mock.h"

static const char *g_mock_build_dir;
static const char *g_model_path;
#define MSG_MAX_TEST 1024
static char g_dir[256];               /* temp dir: symlinks to the mocks + garbage.so */

static const char *const kinds[] = {"good", "abi2", "structver", "noentry", "nocreate",
				    "failcreate", "failstart", "notplugin", "checkfail", "resets"};
#define N_KINDS (sizeof kinds / sizeof kinds[0])
static void *g_keep[N_KINDS];         /* the test's own handles keep counters alive */

static struct mock_counts *counts(const char *kind)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (!strcmp(kinds[i], kind)) {
			struct mock_counts *c = dlsym(g_keep[i], "mock_counts");
			assert_non_null(c);
			return c;
		}
	fail_msg("no mock %s", kind);
	return NULL;
}

static void reset_counts(void)
{
	for (size_t i = 0; i < N_KINDS; i++) {
		struct mock_counts *c = dlsym(g_keep[i], "mock_counts");
		if (c)
			memset(c, 0, sizeof *c);
	}
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof g_dir, "%s/drsnd-plugins-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(g_dir));
	for (size_t i = 0; i < N_KINDS; i++) {
		char src[PATH_MAX], dst[PATH_MAX];
		snprintf(src, sizeof src, "%s/mock_%s.so", g_mock_build_dir, kinds[i]);
		snprintf(dst, sizeof dst, "%s/mock_%s.so", g_dir, kinds[i]);
		char *abs = realpath(src, NULL);
		assert_non_null(abs);
		assert_int_equal(symlink(abs, dst), 0);
		free(abs);
		g_keep[i] = dlopen(dst, RTLD_NOW | RTLD_LOCAL);
		assert_non_null(g_keep[i]);
	}
	char garbage[PATH_MAX];
	snprintf(garbage, sizeof garbage, "%s/garbage.so", g_dir);
	FILE *f = fopen(garbage, "w");
	assert_non_null(f);
	fputs("not an ELF file\n", f);
	fclose(f);
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_KINDS; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/mock_%s.so", g_dir, kinds[i]);
		unlink(p);
		dlclose(g_keep[i]);
	}
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/garbage.so", g_dir);
	unlink(p);
	rmdir(g_dir);
	return 0;
}

/* A config with [plugins] dir = the temp dir and the given text after it. */
static struct drsn__config *config(const char *text)
{
	struct drsn__config *c = malloc(sizeof *c);
	assert_non_null(c);
	drsn__config_defaults(c);
	char *buf = malloc(strlen(text) + PATH_MAX + 64);
	assert_non_null(buf);
	sprintf(buf, "[plugins]\ndir = %s\n%s", g_dir, text);
	struct drsn__cfg_errors e = {0};
	int rc = drsn__config_load_string(c, buf, "t.conf", &e);
	dump(&e);
	assert_int_equal(rc, 0);
	free(buf);
	return c;
}

static void expect_error(const struct drsn__plugins *ps, const char *name, const char *reason)
{
	char want[2048];
	snprintf(want, sizeof want, "plugin %s (%s/%s.so): %s", name, g_dir, name, reason);
	const char *got = drsn__plugins_error(ps, name);
	assert_non_null(got);
	assert_string_equal(got, want);
}

static void test_every_failure_reported_and_good_one_runs(void **state)
{
	(void)state;
	reset_counts();
	struct drsn__config *c = config(
		"load = mock_abi2, mock_structver, mock_good, mock_noentry, mock_nocreate, "
		"mock_failcreate, mock_failstart, mock_notplugin, garbage, absent\n");
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct drsn__plugins *ps;
	assert_int_equal(drsn__plugins_load(&ps, &loop, c, NULL, NULL), 0);

	assert_int_equal(drsn__plugins_count(ps), 1);
	assert_string_equal(drsn__plugins_name(ps, 0), "mock_good");
	assert_null(drsn__plugins_name(ps, 1));
	assert_null(drsn__plugins_error(ps, "mock_good"));
	expect_error(ps, "mock_abi2", "built for ABI 2, drsnd speaks 1");
	assert_int_equal(counts("abi2")->entry_calls, 0);   /* the ABI went first */
	expect_error(ps, "mock_structver", "its struct drsn_plugin is version 7, drsnd speaks 1");
	expect_error(ps, "mock_noentry", "missing symbol drsn_plugin_entry");
	expect_error(ps, "mock_nocreate", "missing required create() in struct drsn_plugin");
	expect_error(ps, "mock_failcreate", "create failed: the mock refuses to start (0 keys given)");
	assert_int_equal(counts("failcreate")->creates, 1);
	expect_error(ps, "mock_failstart", "start failed: port 10400 is taken");
	expect_error(ps, "mock_notplugin", "missing symbol drsn_plugin_abi_version: not a drsnd plugin");
	char want[2048];
	snprintf(want, sizeof want, "plugin garbage (%s/garbage.so): cannot load: %s/garbage.so: ", g_dir, g_dir);
	assert_non_null(drsn__plugins_error(ps, "garbage"));
	assert_memory_equal(drsn__plugins_error(ps, "garbage"), want, strlen(want));
	snprintf(want, sizeof want, "cannot load: %s/absent.so: cannot open shared object file: No such file or directory", g_dir);
	expect_error(ps, "absent", want);
	assert_null(drsn__plugins_error(ps, "never-asked"));

	/* the good one: created, started, gets what it wants */
	struct mock_counts *g = counts("good");
	assert_int_equal(g->creates, 1);
	assert_int_equal(g->starts, 1);
	assert_int_equal(drsn__plugins_wants(ps), DRSN_PLUGIN_WANT_RAW_AUDIO);
	drsn_detection det = {.label = 3, .name = "yes", .score = 0.9f, .start = 1, .end = 2, .time = 2};
	drsn_plugin_event ev = {DRSN_PLUGIN_EVENT_DETECTION, "{\"type\":\"detection\",\"label\":\"yes\"}",
				&det, "file:x.wav", 1.5e9};
	drsn__plugins_event(ps, &ev);
	drsn_plugin_event st = {DRSN_PLUGIN_EVENT_STATUS, "{\"type\":\"status\"}", NULL, "file:x.wav", 1.5e9};
	drsn__plugins_event(ps, &st);
	assert_int_equal(g->events, 2);
	assert_int_equal(g->detections, 1);
	assert_int_equal(g->statuses, 1);
	assert_string_equal(g->last_json, "{\"type\":\"status\"}");
	float x[160] = {0};
	drsn_plugin_audio raw = {x, 160, 16000, 0.0, 0, "file:x.wav"};
	drsn_plugin_audio den = {x, 100, 16000, 0.0, 1, "file:x.wav"};
	drsn__plugins_audio(ps, &raw);
	drsn__plugins_audio(ps, &den);   /* not wanted */
	assert_int_equal(g->audio_blocks, 1);
	assert_int_equal(g->denoised_blocks, 0);
	assert_int_equal(g->audio_samples, 160);
	drsn__plugins_model(ps, NULL);
	assert_int_equal(g->models, 1);
	assert_null(g->last_model);

	/* the failed start's timer closes when the loop runs; stop destroys
	 * the good one, whose timer closes on the loop too */
	struct mock_counts *fs = counts("failstart");
	assert_int_equal(fs->destroys, 1);
	drsn__plugins_stop(ps);
	assert_int_equal(g->destroys, 1);
	assert_int_equal(drsn__plugins_count(ps), 0);
	drsn__plugins_event(ps, &ev);            /* stopped: nobody gets it */
	assert_int_equal(g->events, 2);
	drsn__plugins_stop(ps);                  /* twice is fine */
	assert_int_equal(g->destroys, 1);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(g->closed, 1);
	assert_int_equal(fs->closed, 1);
	drsn__plugins_free(ps);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(c);
}

/* DRSN_PLUGIN_EVENT_RESET (a break in the stream: drsnd's daemon.c sends
 * it at a host suspend and when a lost device opens again) goes only to a
 * plugin whose wants has DRSN_PLUGIN_WANT_RESETS: one built before the type
 * existed (mock_good) never sees it, and gets the rest as before. */
static void test_reset_only_to_those_that_ask(void **state)
{
	(void)state;
	reset_counts();
	struct drsn__config *c = config("load = mock_good, mock_resets\n");
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct drsn__plugins *ps;
	assert_int_equal(drsn__plugins_load(&ps, &loop, c, NULL, NULL), 0);
	assert_int_equal(drsn__plugins_count(ps), 2);
	assert_int_equal(drsn__plugins_wants(ps), DRSN_PLUGIN_WANT_RAW_AUDIO | DRSN_PLUGIN_WANT_RESETS);
	const char *json = "{\"type\":\"reset\",\"version\":1,\"stream\":\"pa:default\","
			   "\"stream_time\":12.5,\"reason\":\"suspend\"}";
	drsn_plugin_event rs = {DRSN_PLUGIN_EVENT_RESET, json, NULL, "pa:default", 1.5e9};
	drsn__plugins_event(ps, &rs);
	drsn_plugin_event st = {DRSN_PLUGIN_EVENT_STATUS, "{\"type\":\"status\"}", NULL, "pa:default", 1.5e9};
	drsn__plugins_event(ps, &st);
	struct mock_counts *g = counts("good"), *r = counts("resets");
	assert_int_equal(g->events, 1);
	assert_int_equal(g->resets, 0);
	assert_int_equal(g->statuses, 1);
	assert_int_equal(r->events, 2);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->statuses, 1);
	drsn__plugins_event(ps, &rs);
	assert_int_equal(r->resets, 2);
	assert_int_equal(g->events, 1);
	drsn__plugins_free(ps);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(c);
}

/* Load one plugin; its error or NULL (copied to err). */
static const char *load_error(const char *name, char *err, size_t n)
{
	char text[128];
	snprintf(text, sizeof text, "load = %s\n", name);
	struct drsn__config *c = config(text);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct drsn__plugins *ps;
	assert_int_equal(drsn__plugins_load(&ps, &loop, c, NULL, NULL), 0);
	const char *e = drsn__plugins_error(ps, name);
	snprintf(err, n, "%s", e ? e : "");
	assert_int_equal(drsn__plugins_count(ps), e ? 0 : 1);
	drsn__plugins_stop(ps);
	uv_run(&loop, UV_RUN_DEFAULT);
	drsn__plugins_free(ps);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(c);
	return e ? err : NULL;
}

/* A folder or module anyone may write: anyone could make drsnd run their
 * code. Refused with the reason, before dlopen runs any of it (the old
 * loader opened them). */
/* The host table is version 2 and hands plugins drsnd's --instance (NULL
 * or "" = none). */
static void test_host_instance(void **state)
{
	(void)state;
	struct drsn__config *c = config("load = mock_good\n");
	uv_loop_t loop;
	uv_loop_init(&loop);
	const char *given[] = {"kitchen", "", NULL};
	const char *want[] = {"kitchen", "(none)", "(none)"};
	for (int i = 0; i < 3; i++) {
		reset_counts();
		struct drsn__plugins *ps;
		assert_int_equal(drsn__plugins_load(&ps, &loop, c, NULL, given[i]), 0);
		assert_int_equal(drsn__plugins_count(ps), 1);
		assert_int_equal(counts("good")->host_version, DRSN_PLUGIN_HOST_VERSION);
		assert_int_equal(DRSN_PLUGIN_HOST_VERSION, 3);
		assert_string_equal(counts("good")->instance, want[i]);
		drsn__plugins_free(ps);
		assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	}
	assert_int_equal(uv_loop_close(&loop), 0);
	free(c);
}

static void test_world_writable_refused(void **state)
{
	(void)state;
	char err[MSG_MAX_TEST], want[2 * PATH_MAX + 256];
	reset_counts();
	assert_int_equal(chmod(g_dir, 0777), 0);
	load_error("mock_good", err, sizeof err);
	snprintf(want, sizeof want, "plugin mock_good (%s/mock_good.so): refused: the folder %s is writable by anyone (mode 0777)",
		 g_dir, g_dir);
	assert_string_equal(err, want);
	assert_int_equal(counts("good")->creates, 0);
	/* sticky (as /tmp): anyone may still add a NAME.so */
	assert_int_equal(chmod(g_dir, 01777), 0);
	assert_non_null(load_error("mock_good", err, sizeof err));
	assert_non_null(strstr(err, "refused: the folder"));
	assert_int_equal(chmod(g_dir, 0700), 0);
	assert_null(load_error("mock_good", err, sizeof err));
	assert_int_equal(counts("good")->creates, 1);

	/* a module anyone may write: a copy of mock_good as ww.so */
	char src[PATH_MAX], dst[PATH_MAX];
	snprintf(src, sizeof src, "%s/mock_good.so", g_mock_build_dir);
	snprintf(dst, sizeof dst, "%s/ww.so", g_dir);
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	assert_non_null(in);
	assert_non_null(out);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	assert_int_equal(chmod(dst, 0666), 0);
	load_error("ww", err, sizeof err);
	snprintf(want, sizeof want, "plugin ww (%s): refused: the module %s is writable by anyone (mode 0666)",
		 dst, dst);
	assert_string_equal(err, want);
	assert_int_equal(chmod(dst, 0644), 0);
	assert_null(load_error("ww", err, sizeof err));
	unlink(dst);
}

static void test_section_in_order_and_bad_key(void **state)
{
	(void)state;
	reset_counts();
	/* keys in order, a command-line override last: the plugin sees it last */
	struct drsn__config *c = config(
		"load = mock_good\n"           /* 3 */
		"[plugin mock_good]\n"         /* 4 */
		"greeting = hello\n"           /* 5 */
		"[plugin other]\n"             /* 6 */
		"x = 1\n");                    /* 7 */
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__config_set_arg(c, "plugin mock_good.greeting=world", &e), 0);
	int s = drsn__config_plugin_section(c, "mock_good");
	assert_true(s >= 0);
	assert_int_equal(c->plugins.sections[s].n_kv, 2);
	const char *k, *v, *w;
	drsn__config_plugin_kv(c, s, 0, &k, &v, &w);
	assert_string_equal(k, "greeting");
	assert_string_equal(v, "hello");
	assert_string_equal(w, "t.conf:5");
	drsn__config_plugin_kv(c, s, 1, &k, &v, &w);
	assert_string_equal(v, "world");
	assert_string_equal(w, "command line");

	uv_loop_t loop;
	uv_loop_init(&loop);
	struct drsn__plugins *ps;
	assert_int_equal(drsn__plugins_load(&ps, &loop, c, NULL, NULL), 0);
	assert_int_equal(drsn__plugins_count(ps), 1);
	assert_string_equal(counts("good")->greeting, "world");
	drsn__plugins_free(ps);   /* stops too */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	free(c);

	/* an unknown key: the plugin's own message, naming key and place */
	reset_counts();
	c = config("load = mock_good, mock_failcreate\n"
		   "[plugin mock_good]\n"
		   "greeting = hi\n"
		   "colour = blue\n");    /* 6 */
	assert_int_equal(drsn__plugins_load(&ps, &loop, c, NULL, NULL), 0);
	assert_int_equal(drsn__plugins_count(ps), 0);
	expect_error(ps, "mock_good", "create failed: t.conf:6: unknown key 'colour' (known: greeting, pipeline)");
	expect_error(ps, "mock_failcreate", "create failed: the mock refuses to start (0 keys given)");
	drsn__plugins_free(ps);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(c);
}

static void test_config_names_and_bounds(void **state)
{
	(void)state;
	struct drsn__config *c = malloc(sizeof *c);
	assert_non_null(c);
	drsn__config_defaults(c);
	struct drsn__cfg_errors e = {0};
	const char *text =
		"[plugins]\n"                   /* 1 */
		"load = ../evil\n"              /* 2 */
		"load = a/b\n"                  /* 3 */
		"load = ok, ok\n"               /* 4 */
		"dir = relative/dir\n"          /* 5 */
		"colour = red\n"                /* 6 */
		"[plugin a/b]\n"                /* 7 */
		"x = 1\n"                       /* 8 */
		"[plugin Upper]\n"              /* 9 */
		"x = 1\n"                       /* 10 */
		"[plugin fine]\n"               /* 11 */
		"x = 1\n";                      /* 12 */
	assert_int_equal(drsn__config_load_string(c, text, "n.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "n.conf:2: [plugins] load: '../evil' is not a plugin name"));
	assert_true(has_error(&e, "n.conf:3: [plugins] load: 'a/b' is not a plugin name"));
	assert_true(has_error(&e, "n.conf:4: [plugins] load: 'ok' is listed twice"));
	assert_true(has_error(&e, "n.conf:5: [plugins] dir: 'relative/dir' must be an absolute path"));
	assert_true(has_error(&e, "n.conf:6: [plugins] unknown key 'colour' (known: dir, load)"));
	assert_true(has_error(&e, "n.conf:8: [plugin a/b]: 'a/b' is not a plugin name"));
	assert_true(has_error(&e, "n.conf:10: [plugin Upper]: 'Upper' is not a plugin name"));
	assert_int_equal(e.n, 9);   /* and lines 3, 4: load given again */
	assert_int_equal(c->plugins.n_load, 0);
	assert_int_equal(c->plugins.n_sections, 1);   /* [plugin fine] */

	/* bounds: 17 names, 65 keys, a 512-byte value: errors with their line */
	size_t cap = 200000;
	char *big = malloc(cap);
	assert_non_null(big);
	size_t off = (size_t)snprintf(big, cap, "[plugins]\nload = ");
	for (int i = 0; i < 17; i++)
		off += (size_t)snprintf(big + off, cap - off, "%sp%d", i ? ", " : "", i);
	off += (size_t)snprintf(big + off, cap - off, "\n[plugin many]\n");   /* lines 2, 3 */
	for (int i = 0; i < 65; i++)                                        /* lines 4..68 */
		off += (size_t)snprintf(big + off, cap - off, "k%d = v\n", i);
	drsn__config_defaults(c);
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__config_load_string(c, big, "b.conf", &e), -EINVAL);
	dump(&e);
	assert_true(has_error(&e, "b.conf:2: [plugins] load: more than 16 plugins"));
	assert_true(has_error(&e, "b.conf:68: [plugin many] k64: more than 64 keys in the section"));
	assert_int_equal(e.n, 2);
	assert_int_equal(c->plugins.sections[drsn__config_plugin_section(c, "many")].n_kv, 64);
	free(big);

	/* --set reaches plugin sections (lines in a file end at inih's 198
	 * bytes, so a value's 511-byte bound shows there); bad names refused */
	drsn__config_defaults(c);
	memset(&e, 0, sizeof e);
	char lng[600] = "plugin long.v=";
	memset(lng + strlen(lng), 'x', 512);
	lng[14 + 512] = '\0';
	assert_int_equal(drsn__config_set_arg(c, lng, &e), -EINVAL);
	assert_true(has_error(&e, "command line: [plugin long] v: key or value is too long (max 511 bytes each)"));
	lng[14 + 511] = '\0';
	assert_int_equal(drsn__config_set_arg(c, lng, &e), 0);
	assert_int_equal(e.n, 1);
	assert_int_equal(drsn__config_set_arg(c, "plugins.load=recorder", &e), 0);
	assert_int_equal(drsn__config_set_arg(c, "plugin recorder.dir=/tmp", &e), 0);
	assert_int_equal(drsn__config_set_arg(c, "plugins.load=x/../y", &e), -EINVAL);
	assert_true(has_error(&e, "command line: [plugins] load: 'x/../y' is not a plugin name"));
	assert_string_equal(c->plugins.load[0], "recorder");

	/* the loader refuses such names on its own, even if a config got them */
	snprintf(c->plugins.dir, sizeof c->plugins.dir, "%s", g_dir);
	c->plugins.n_load = 3;
	snprintf(c->plugins.load[0], sizeof c->plugins.load[0], "../mock_good");
	snprintf(c->plugins.load[1], sizeof c->plugins.load[1], "x/mock_good");
	snprintf(c->plugins.load[2], sizeof c->plugins.load[2], "mock_good");
	reset_counts();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct drsn__plugins *ps;
	assert_int_equal(drsn__plugins_load(&ps, &loop, c, NULL, NULL), 0);
	char want[1024];
	snprintf(want, sizeof want, "plugin '../mock_good': refused: not a plugin name (only a-z, 0-9, '_' and '-'; plugins are only loaded from %s)", g_dir);
	assert_string_equal(drsn__plugins_error(ps, "../mock_good"), want);
	assert_non_null(strstr(drsn__plugins_error(ps, "x/mock_good"), "plugin 'x/mock_good': refused"));
	assert_int_equal(drsn__plugins_count(ps), 1);
	assert_int_equal(counts("good")->creates, 1);
	drsn__plugins_free(ps);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(c);
}

static void test_check_config(void **state)
{
	(void)state;
	struct drsn__config *c = config("load = mock_good, absent, mock_abi2\n"   /* 3 */
					"[plugin mock_good]\n"
					"greeting = hi\n"
					"[plugin stray]\n"
					"x = 1\n");                                  /* 7 */
	struct drsn__cfg_errors e = {0}, w = {0};
	assert_int_equal(drsn__plugins_check(c, &e, &w), -EINVAL);
	dump(&e);
	dump(&w);
	char want[1024];
	snprintf(want, sizeof want, "t.conf:3: [plugins] load: no plugin 'absent' in %s (%s/absent.so: No such file or directory)",
		 g_dir, g_dir);
	assert_true(has_error(&e, want));
	assert_true(has_error(&e, "t.conf:3: [plugins] load: plugin mock_abi2 ("));
	assert_true(has_error(&e, "built for ABI 2, drsnd speaks 1"));
	assert_int_equal(e.n, 2);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0], "t.conf:7: [plugin stray]: 'stray' is not in [plugins] load: its keys are not used");
	free(c);

	c = config("load = mock_good\n");
	memset(&e, 0, sizeof e);
	memset(&w, 0, sizeof w);
	assert_int_equal(drsn__plugins_check(c, &e, &w), 0);
	assert_int_equal(e.n + w.n, 0);
	free(c);
}

/* --check-config creates (and destroys) only the plugins whose wants has
 * DRSN_PLUGIN_CHECK_CONFIG; their create() message is a config error. */
static void test_check_create(void **state)
{
	(void)state;
	reset_counts();
	struct drsn__config *c = config("load = mock_good, mock_failcreate, mock_checkfail\n"
					"[plugin mock_checkfail]\n"
					"a = 1\n");
	struct drsn__cfg_errors e = {0};
	assert_int_equal(drsn__plugins_check_create(c, NULL, "kitchen", &e), -EINVAL);
	dump(&e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msg[0], "plugin mock_checkfail: the mock refuses to start (1 keys given)");
	assert_int_equal(counts("checkfail")->creates, 1);
	assert_string_equal(counts("checkfail")->instance, "kitchen");   /* as a run gives it */
	assert_int_equal(counts("good")->creates, 0);        /* not asked to */
	assert_int_equal(counts("failcreate")->creates, 0);
	free(c);

	c = config("load = mock_good\n");
	memset(&e, 0, sizeof e);
	assert_int_equal(drsn__plugins_check_create(c, NULL, NULL, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(counts("good")->creates, 0);
	free(c);
}

static void test_host_pipeline(void **state)
{
	(void)state;
	reset_counts();
	struct drsn__config *c = config("load = mock_good\n[plugin mock_good]\npipeline = yes\n");
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct drsn__plugins *ps;
	/* no model: a clear error from pipeline_create */
	assert_int_equal(drsn__plugins_load(&ps, &loop, c, NULL, NULL), 0);
	struct mock_counts *g = counts("good");
	assert_int_equal(g->pipeline_rc, -ENOENT);
	assert_string_equal(g->pipeline_err, "drsnd runs without a model ([model] path is empty)");
	drsn__plugins_free(ps);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);

	if (!g_model_path) {
		print_message("no model given: pipeline with a model not tested\n");
	} else {
		drsn_model *m;
		drsn_error err;
		assert_int_equal(drsn_model_load(&m, g_model_path, &err), 0);
		reset_counts();
		assert_int_equal(drsn__plugins_load(&ps, &loop, c, m, NULL), 0);
		assert_int_equal(g->pipeline_rc, 0);
		assert_true(g->pipeline_time == 1.0);
		/* [thresholds] with a label the model lacks: the daemon's message */
		drsn__plugins_free(ps);
		assert_int_equal(drsn__config_set_arg(c, "thresholds.nosuchlabel=0.5", NULL), 0);
		reset_counts();
		assert_int_equal(drsn__plugins_load(&ps, &loop, c, m, NULL), 0);
		assert_int_equal(g->pipeline_rc, -EINVAL);
		assert_non_null(strstr(g->pipeline_err, "command line: [thresholds] nosuchlabel: no such label"));
		drsn__plugins_free(ps);
		assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
		drsn_model_free(m);
	}
	assert_int_equal(uv_loop_close(&loop), 0);
	free(c);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s MOCK_DIR [MODEL]\n", argv[0]);
		return 2;
	}
	g_mock_build_dir = argv[1];
	g_model_path = argc > 2 ? argv[2] : getenv("DRSN_TEST_MODEL");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_failure_reported_and_good_one_runs),
		cmocka_unit_test(test_host_instance),
		cmocka_unit_test(test_reset_only_to_those_that_ask),
		cmocka_unit_test(test_world_writable_refused),
		cmocka_unit_test(test_section_in_order_and_bad_key),
		cmocka_unit_test(test_config_names_and_bounds),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_check_create),
		cmocka_unit_test(test_host_pipeline),
	};
	return cmocka_run_group_tests_name("daemon-plugins", tests, setup_dir, teardown_dir);
}
