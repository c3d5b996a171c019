/*
 * drsnd: the keyword-spotting daemon.
 *
 * For now this is the process skeleton: a libuv loop, clean shutdown on
 * SIGINT/SIGTERM, SIGPIPE ignored. Audio sources, the Unix socket and the
 * systemd integration are added by the daemon issue.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "drsn/drsn.h"

static void on_signal(uv_signal_t *h, int signum)
{
	fprintf(stderr, "drsnd: %s, stopping\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
	uv_stop(h->loop);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: drsnd [--version] [--help]\n"
		"Runs the drsnd event loop until SIGINT or SIGTERM.\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf("drsnd %s (libuv %s)\n", drsn_version(), uv_version_string());
			return 0;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "drsnd: unknown option '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	uv_loop_t *loop = uv_default_loop();
	uv_signal_t sigint, sigterm;
	uv_signal_init(loop, &sigint);
	uv_signal_init(loop, &sigterm);
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_start(&sigterm, on_signal, SIGTERM);

	uv_run(loop, UV_RUN_DEFAULT);

	uv_close((uv_handle_t *)&sigint, NULL);
	uv_close((uv_handle_t *)&sigterm, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	return 0;
}
