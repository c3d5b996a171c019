/* drsn: the command-line tool. Dispatches to one subcommand. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* 1 once a command has said that stdout could not be written: main says
 * it no more. */
static _Atomic int stdout_said;   /* also set on a -j worker */

/* A message about a failed write to stdout: "stdout: write error: ..." (the
 * commands' own and drsn__cli_print_json's), "stdout: write failed: ..."
 * (features -o -), "-: write failed" or "-: cannot write" (denoise's OUT or
 * --vad '-'). */
static int says_stdout_failed(const char *msg)
{
	return strstr(msg, "stdout: write") ||
	       (!strncmp(msg, "-: ", 3) && (strstr(msg, "write failed") || strstr(msg, "cannot write")));
}

/* PREFIX FMT... and a newline on stderr, or kept for its turn on a -j worker */
static void say(const char *prefix, const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int kept = *prefix ? drsn__cli_capture_err(0, fmt, aq) : drsn__cli_capture_note(fmt, aq);
	va_end(aq);
	if (kept)   /* on a -j worker */
		return;
	drsn__cli_progress_erase();   /* the message starts at the left margin */
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void drsn__cli_err(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && says_stdout_failed(msg))
		stdout_said = 1;
	va_start(ap, fmt);
	say("drsn: ", fmt, ap);
	va_end(ap);
}

void drsn__cli_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

int drsn__cli_model_from_env(const char *path)
{
	const char *env = getenv("DRSN_MODEL");
	return env && *env && path == env;
}

void drsn__cli_model_error(const char *cmd, const char *path, int from_env, const char *msg)
{
	size_t n = strlen(path);
	if (!from_env)
		drsn__cli_err("%s: %s", cmd, msg);
	else if (!strncmp(msg, path, n) && msg[n] == ':')
		drsn__cli_err("%s: %s (from $DRSN_MODEL)%s", cmd, path, msg + n);
	else
		drsn__cli_err("%s: %s (from $DRSN_MODEL): %s", cmd, path, msg);
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
	fprintf(f, "\n'drsn COMMAND --help' (or 'drsn help COMMAND') describes one command.\n");
}

/* After the command (cmd; NULL: drsn's own usage): stdout flushed and
 * closed. A write that failed and was not said yet (a full disk, a closed
 * pipe while SIGPIPE is ignored) is said, "drsn: CMD: stdout: write error:
 * REASON", and the exit code rc becomes 1 (a usage error's 2 stays). */
static int close_stdout(const char *cmd, int rc)
{
	errno = 0;
	int bad = fflush(stdout) != 0;
	int e = errno;   /* 0: an earlier write failed, its reason gone */
	bad |= ferror(stdout) != 0;
	errno = 0;
	/* EBADF with nothing to write: stdout was closed (>&-) and not used */
	if (fclose(stdout) != 0 && !bad && errno != EBADF) {
		bad = 1;
		e = errno;
	}
	if (!bad)
		return rc;
	if (!stdout_said && !drsn__cli_stdout_failed())
		drsn__cli_err("%s%sstdout: write error%s%s", cmd ? cmd : "", cmd ? ": " : "",
			      e ? ": " : "", e ? strerror(e) : "");
	return rc ? rc : 1;
}

static const struct drsn__cmd *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

/* "unknown command 'X' (try 'drsn --help')", "; did you mean 'Y'?" when one is close */
static int unknown_command(const char *how, const char *name)
{
	struct drsn__closest near;
	drsn__closest_init(&near, name);
	for (size_t i = 0; i < N_COMMANDS; i++)
		drsn__closest_add(&near, commands[i].name);
	drsn__cli_err("%sunknown command '%s' (try 'drsn --help')%s", how, name,
		      drsn__closest_hint(&near, ""));
	return 2;
}

/* drsn help [COMMAND]: drsn's usage (also for help --help), or COMMAND --help. */
static int help(int argc, char **argv, const char **cmd)
{
	if (argc > 3) {
		drsn__cli_err("help: one command at most (got '%s' too)", argv[3]);
		return 2;
	}
	if (argc < 3 || !strcmp(argv[2], "help") || !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
		usage(stdout);
		return 0;
	}
	const struct drsn__cmd *c = find_command(argv[2]);
	if (!c)
		return unknown_command("help: ", argv[2]);
	char *args[] = {(char *)c->name, "--help", NULL};
	*cmd = c->name;
	return c->run(2, args);
}

static int run(int argc, char **argv, const char **cmd)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "help"))
		return help(argc, argv, cmd);
	if (!strcmp(argv[1], "--version")) {
		*cmd = "version";
		return drsn__cmd_version(0, NULL);
	}
	/* Ctrl-C, SIGTERM, SIGHUP, SIGPIPE: no output's temporary file stays behind */
	drsn__outfile_catch_signals();
	/* a file size limit (ulimit -f): a write that fails with EFBIG, said and
	 * cleaned up like a full disk, not death with the temporary file left */
	signal(SIGXFSZ, SIG_IGN);
	const struct drsn__cmd *c = find_command(argv[1]);
	if (!c)
		return unknown_command("", argv[1]);
	*cmd = c->name;
	return c->run(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	const char *cmd = NULL;
	int rc = run(argc, argv, &cmd);
	return close_stdout(cmd, rc);
}
