/*
 * recorder-drive: load the recorder plugin module the way drsnd does, with a
 * host table of its own (no model: 16 kHz at create()), and feed it audio
 * blocks and detections by a script, for plugins/recorder/test_recorder.py:
 * what drsnd cannot do on demand (a model of another sample rate arriving
 * while a clip is being written, a rate whose buffers do not fit in memory).
 *
 *   recorder-drive RECORDER.so DIR [key=value ...] -- STEP ...
 *     audio:RATE:SECONDS   SECONDS of a 440 Hz tone at RATE Hz in 10 ms
 *                          blocks, from the stream time reached so far
 *                          (counted in seconds, so a rate change keeps it)
 *     det:START:END[:LABEL] a detection LABEL ("yes") of the window
 *                          [START, END] s
 *     wall:EPOCH           set the wall clock the detections carry to EPOCH
 *                          (s since 1970, UTC) now; it runs on with the
 *                          stream time (starts at 2025-12-01T00:00:00Z)
 *     reset                a DRSN_PLUGIN_EVENT_RESET (the host was suspended:
 *                          the stream breaks off here), if the plugin's
 *                          wants has DRSN_PLUGIN_WANT_RESETS (drsnd's rule)
 *     run                  run the loop until the writes queued are done
 *     symlink:TARGET:NAME  make DIR/NAME a symlink to TARGET now (what someone
 *                          else with write access to DIR could do)
 *     locale:NAME          setlocale(LC_ALL, NAME) now, as a host program that
 *                          took its user's locale (de_DE.UTF-8: decimal comma;
 *                          the steps after it are read in it too); exit 3 if
 *                          NAME is not installed
 *
 * The keys form the [plugin recorder] section (dir = DIR first). Log lines go
 * to stderr as "[level] plugin recorder: ...". Exit 0 when every step ran
 * and destroy() freed everything (the loop closes).
 */
#include <dlfcn.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "drsn/plugin.h"
#include "../drive.h"

#define MAX_KV 32

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: recorder-drive RECORDER.so DIR [key=value ...] -- STEP ...\n");
		return 2;
	}
	static drsn_plugin_kv kv[MAX_KV];
	int nkv = 0, i = 3;
	kv[nkv++] = (drsn_plugin_kv){.key = "dir", .value = argv[2], .where = "argv[2]"};
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || nkv == MAX_KV) {
			fprintf(stderr, "recorder-drive: bad argument '%s'\n", argv[i]);
			return 2;
		}
		*eq = 0;
		kv[nkv++] = (drsn_plugin_kv){.key = argv[i], .value = eq + 1, .where = "argv"};
	}
	i++;   /* past "--" */

	void *so;
	const drsn_plugin *pl = drive_load("recorder-drive", argv[1], &so);
	if (!pl)
		return 1;
	if (!pl->on_audio || !pl->on_event) {
		fprintf(stderr, "recorder-drive: %s: not a recorder plugin\n", argv[1]);
		return 1;
	}
	uv_loop_t *loop = uv_default_loop();
	drsn_plugin_host host = {
		.version = DRSN_PLUGIN_ABI_VERSION,
		.loop = loop,
		.daemon_version = "recorder-drive",
		.hostname = "drive",
		.log = drive_log,
		.model = drive_no_model,
		.host_data = (void *)"recorder",
	};
	drsn_plugin_config cfg = {.name = "recorder", .n = nkv, .kv = kv};
	char err[512] = "";
	void *self = NULL;
	if (pl->create(&self, &host, &cfg, err, sizeof err) < 0) {
		printf("create failed: %s\n", err);
		return 1;
	}
	if (pl->start && pl->start(self, loop, err, sizeof err) < 0) {   /* as drsnd: create, then start */
		printf("start failed: %s\n", err);
		pl->destroy(self);
		return 1;
	}

	double t = 0;   /* stream time, s */
	double wall0 = 1764547200.0;   /* the wall clock at stream time 0 */
	float *x = NULL;
	int rc = 0;
	for (; i < argc && !rc; i++) {
		int rate, used = 0;
		double a, b;
		if (sscanf(argv[i], "audio:%d:%lf", &rate, &a) == 2 && rate > 0) {
			size_t n = (size_t)rate / 100 ? (size_t)rate / 100 : 1;
			float *nx = realloc(x, n * sizeof *x);
			if (!nx) {
				rc = 1;
				break;
			}
			x = nx;
			for (double end = t + a; t < end - 1e-9; t += (double)n / rate) {
				int64_t k0 = llround(t * rate);
				for (size_t k = 0; k < n; k++)
					x[k] = 0.5f * (float)sin(2 * M_PI * 440.0 * (double)(k0 + (int64_t)k) / rate);
				drsn_plugin_audio au = {.x = x, .n = n, .sample_rate = rate, .t0 = t, .stream = "drive"};
				pl->on_audio(self, &au);
			}
		} else if (sscanf(argv[i], "det:%lf:%lf%n", &a, &b, &used) == 2) {
			const char *label = argv[i][used] == ':' ? argv[i] + used + 1 : "yes";
			drsn_detection d = {.name = label, .score = 0.9f, .start = a, .end = b, .time = b};
			drsn_plugin_event ev = {.type = DRSN_PLUGIN_EVENT_DETECTION, .detection = &d,
						.json = "{}", .stream = "drive", .wall_time = wall0 + t};
			pl->on_event(self, &ev);
		} else if (sscanf(argv[i], "wall:%lf", &a) == 1) {
			wall0 = a - t;
		} else if (!strncmp(argv[i], "symlink:", 8) && strrchr(argv[i], ':') > argv[i] + 8) {
			char *colon = strrchr(argv[i], ':'), path[4096];
			*colon = 0;
			snprintf(path, sizeof path, "%s/%s", argv[2], colon + 1);
			if (symlink(argv[i] + 8, path) < 0) {
				perror("recorder-drive: symlink");
				rc = 1;
			}
		} else if (!strncmp(argv[i], "locale:", 7)) {
			if (!setlocale(LC_ALL, argv[i] + 7)) {
				fprintf(stderr, "recorder-drive: locale %s is not installed\n", argv[i] + 7);
				rc = 3;
			}
		} else if (!strcmp(argv[i], "reset")) {
			if (pl->wants & DRSN_PLUGIN_WANT_RESETS) {
				drsn_plugin_event ev = {.type = DRSN_PLUGIN_EVENT_RESET, .json = "{}",
							.stream = "drive", .wall_time = wall0 + t};
				pl->on_event(self, &ev);
			}
		} else if (!strcmp(argv[i], "run")) {
			uv_run(loop, UV_RUN_DEFAULT);
		} else {
			fprintf(stderr, "recorder-drive: bad step '%s'\n", argv[i]);
			rc = 2;
		}
	}
	pl->destroy(self);
	uv_run(loop, UV_RUN_DEFAULT);
	if (uv_loop_close(loop)) {
		fprintf(stderr, "recorder-drive: handles left open on the loop after destroy()\n");
		rc = 1;
	}
	free(x);
	dlclose(so);
	return rc;
}
