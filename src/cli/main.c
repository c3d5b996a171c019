/* drsn: the command-line tool. Dispatches to one subcommand. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/closest.h"
#include "common/outfile.h"
#include "drsn/drsn.h"

static const struct drsn__cmd commands[] = {
	{"version", drsn__cmd_version, "print the version"},
	{"info", drsn__cmd_info, "a model's architecture, size, MACs, labels, front end, provenance"},
	{"features", drsn__cmd_features, "log-mel features of an audio file (.npy or a summary)"},
	{"denoise", drsn__cmd_denoise, "remove background noise from an audio file"},
	{"detect", drsn__cmd_detect, "spot keywords in audio files (drsnd's streaming pipeline, offline)"},
	{"bench", drsn__cmd_bench, "engine latency per SIMD path, GFLOP/s, load time, and PyTorch in the same run"},
	{"classify", drsn__cmd_classify, "label whole clips (one window per file) as JSON lines"},
	{"tune", drsn__cmd_tune, "per-label thresholds that keep false alarms down on recordings of your room"},
	{"watch", drsn__cmd_watch, "a running drsnd's detections, input level and scores, as they happen"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

void drsn__cli_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int kept = drsn__cli_capture_err(0, fmt, ap);   /* on a -j worker */
	va_end(ap);
	if (kept)
		return;
	drsn__cli_progress_erase();   /* the message starts at the left margin */
	fputs("drsn: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int drsn__cli_bad_option(const char *cmd, int c, char **argv, const struct option *opts)
{
	const char *s = optind > 0 ? argv[optind - 1] : "", *what = "unknown option", *how = "";
	char opt[3] = {'-', (char)optopt, 0};
	int len = 2;
	struct drsn__closest near;
	drsn__closest_init(&near, "");
	if (!strncmp(s, "--", 2)) {   /* the long option as given, without =VALUE */
		len = (int)strcspn(s, "=");
		if (c == '?' && optopt) {   /* glibc: a known option, given a value */
			what = "option";
			how = " takes no value";
		} else if (c == '?') {
			what = "unknown or ambiguous option";
			drsn__closest_option(&near, s, opts);
		}
	} else {
		s = opt;
	}
	if (c == ':') {
		what = "option";
		how = " needs a value";
	}
	drsn__cli_err("%s: %s '%.*s'%s (try 'drsn %s --help')%s", cmd, what, len, s, how, cmd,
		      drsn__closest_hint(&near, "--"));
	return 2;
}

int drsn__cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: drsn version\n\nPrints drsn's version (libdrsn's, which drsnd shares).\n");
		return 0;
	}
	if (argc > 1) {
		drsn__cli_err("version: unexpected argument '%s'", argv[1]);
		return 2;
	}
	printf("drsn %s\n", drsn_version());
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: drsn COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'drsn COMMAND --help' describes one command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return drsn__cmd_version(0, NULL);
	/* Ctrl-C, SIGTERM, SIGHUP, SIGPIPE: no output's temporary file stays behind */
	drsn__outfile_catch_signals();
	/* a file size limit (ulimit -f): a write that fails with EFBIG, said and
	 * cleaned up like a full disk, not death with the temporary file left */
	signal(SIGXFSZ, SIG_IGN);
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	struct drsn__closest near;
	drsn__closest_init(&near, argv[1]);
	for (size_t i = 0; i < N_COMMANDS; i++)
		drsn__closest_add(&near, commands[i].name);
	drsn__cli_err("unknown command '%s' (try 'drsn --help')%s", argv[1], drsn__closest_hint(&near, ""));
	return 2;
}
