/*
 * drsnd: the keyword-spotting daemon. Command line -> daemon.c.
 * See `drsnd --help`, config/drsnd.conf and docs/protocol.md.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "common/closest.h"
#include "daemon/daemon.h"
#include "daemon/hush.h"
#include "daemon/log.h"
#include "daemon/plugins.h"
#include "daemon/source.h"
#include "drsn/drsn.h"

#define MAX_OVERRIDES 256

static void usage(FILE *f)
{
	fprintf(f,
		"usage: drsnd [OPTIONS]\n"
		"Listens to an audio source, spots keywords with a DRSN model and tells the\n"
		"clients of a Unix socket (NDJSON, see docs/protocol.md).\n"
		"\n"
		"  -c, --config FILE       config file (default %s if it exists)\n"
		"      --check-config      validate the config (load the model, look up the\n"
		"                          socket group, check the socket paths and a\n"
		"                          file:/fd: source), print every error with its\n"
		"                          line number, exit 0/1\n"
		"      --print-config      print the effective config and exit\n"
		"      --list-devices      list PortAudio input devices and exit\n"
		"      --list-plugins      list the plugins in [plugins] dir and exit\n"
		"  -s, --socket PATH       [socket] path\n"
		"      --instance NAME     this drsnd's instance name (drsnd@NAME.service\n"
		"                          passes %%i): plugins tell instances apart by it\n"
		"                          (mqtt: default client id drsnd-%%h-NAME)\n"
		"  -m, --model PATH        [model] path ('' = no model)\n"
		"  -i, --source SPEC       [audio] source: pa:[DEVICE] | file:PATH | stdin | fd:N\n"
		"      --realtime          [audio] realtime = yes (pace file: sources)\n"
		"      --no-realtime       [audio] realtime = no (as fast as possible)\n"
		"      --exit-on-eof       [audio] on_eof = exit\n"
		"      --wait-for-client   [audio] wait_for_client = yes (file:, stdin, fd:\n"
		"                          read nothing until a client subscribes, or stays\n"
		"                          silent 0.25 s after connecting or a status, ping\n"
		"                          or reload)\n"
		"      --set SECTION.KEY=VALUE   any config key (repeatable)\n"
		"  -l, --log-level LEVEL   error | warning | info | debug\n"
		"  -v, --verbose           log more (-v info, -vv debug)\n"
		"  -q, --quiet             errors only\n"
		"      --version, -h --help\n"
		"Command-line options override the config file, also across reloads (SIGHUP).\n",
		DRSND_CONFIG_PATH);
}

static char *kv(const char *key, const char *value)
{
	size_t n = strlen(key) + strlen(value) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s=%s", key, value);
	return s;
}

/* An instance name as systemd's %i can be: it goes into plugins' ids and
 * topics (no '/', '+', '#', blanks). */
static int instance_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.:-\\", *s))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	drsn__source_note_inherited_fds();   /* before anything opens one: fd:N */
	drsn__log_init();
	enum { O_CHECK = 256, O_PRINT, O_LIST, O_LISTPL, O_RT, O_NORT, O_EOF, O_WAIT, O_SET, O_VERSION, O_INSTANCE };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, O_CHECK},
		{"print-config", no_argument, NULL, O_PRINT},
		{"list-devices", no_argument, NULL, O_LIST},
		{"list-plugins", no_argument, NULL, O_LISTPL},
		{"socket", required_argument, NULL, 's'},
		{"instance", required_argument, NULL, O_INSTANCE},
		{"model", required_argument, NULL, 'm'},
		{"source", required_argument, NULL, 'i'},
		{"realtime", no_argument, NULL, O_RT},
		{"no-realtime", no_argument, NULL, O_NORT},
		{"exit-on-eof", no_argument, NULL, O_EOF},
		{"wait-for-client", no_argument, NULL, O_WAIT},
		{"set", required_argument, NULL, O_SET},
		{"log-level", required_argument, NULL, 'l'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"version", no_argument, NULL, O_VERSION},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	/* PortAudio's JACK back end would start a JACK server when none runs: a
	 * daemon must not. Set here, before any thread can call getenv. */
	setenv("JACK_NO_START_SERVER", "1", 0);
	char *ov[MAX_OVERRIDES];
	int n_ov = 0, check = 0, print = 0, list = 0, list_plugins = 0, verbose = 0, quiet = 0, code = 2;
	drsn_model *check_model = NULL;   /* --check-config: the model, for the plugins */
	struct drsn__daemon_args a = {0};
	int c;
	while ((c = getopt_long(argc, argv, "c:s:m:i:l:vqh", opts, NULL)) != -1) {
		char *o = NULL;
		switch (c) {
		case 'c': a.config_path = optarg; continue;
		case O_INSTANCE:
			if (!instance_ok(optarg)) {
				fprintf(stderr, "drsnd: --instance '%s': not an instance name (1-64 of a-z A-Z 0-9 "
						"_ . : - \\, as systemd's %%i)\n", optarg);
				goto out;
			}
			a.instance = optarg;
			continue;
		case O_CHECK: check = 1; continue;
		case O_PRINT: print = 1; continue;
		case O_LIST: list = 1; continue;
		case O_LISTPL: list_plugins = 1; continue;
		case 's': o = kv("socket.path", optarg); break;
		case 'm': o = kv("model.path", optarg); break;
		case 'i': o = kv("audio.source", optarg); break;
		case O_RT: o = kv("audio.realtime", "yes"); break;
		case O_NORT: o = kv("audio.realtime", "no"); break;
		case O_EOF: o = kv("audio.on_eof", "exit"); break;
		case O_WAIT: o = kv("audio.wait_for_client", "yes"); break;
		case O_SET: o = kv("", optarg) ; if (o) memmove(o, o + 1, strlen(o)); break;
		case 'l': o = kv("daemon.log_level", optarg); break;
		case 'v': verbose++; continue;
		case 'q': quiet = 1; continue;
		case O_VERSION:
			printf("drsnd %s (libuv %s)\n", drsn_version(), uv_version_string());
			code = 0;
			goto out;
		case 'h':
			usage(stdout);
			code = 0;
			goto out;
		default:
			/* getopt said "unrecognized option '--x'" (or "ambiguous"): under it,
			 * a close option's name */
			if (c == '?' && !optopt && optind > 0 && !strncmp(argv[optind - 1], "--", 2)) {
				struct drsn__closest near;
				drsn__closest_option(&near, argv[optind - 1], opts);
				const char *hint = drsn__closest_hint(&near, "--");
				if (hint[0])
					fprintf(stderr, "drsnd:%s\n", hint + 1);   /* " did you mean '--y'?" */
			}
			usage(stderr);
			goto out;
		}
		if (!o || n_ov == MAX_OVERRIDES) {
			fprintf(stderr, "drsnd: too many options\n");
			free(o);
			goto out;
		}
		ov[n_ov++] = o;
	}
	if (optind < argc) {
		fprintf(stderr, "drsnd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		goto out;
	}
	if (verbose || quiet) {
		const char *lv = quiet ? "error" : verbose == 1 ? "info" : "debug";
		char *o = kv("daemon.log_level", lv);
		if (!o || n_ov == MAX_OVERRIDES) {
			free(o);
			goto out;
		}
		ov[n_ov++] = o;
	}
	a.overrides = (const char *const *)ov;
	a.n_overrides = n_ov;

	if (list) {
		code = drsn__source_list_devices(stdout) < 0 ? 1 : 0;
		goto out;
	}
	if (list_plugins) {
		struct drsn__config *cfg = malloc(sizeof *cfg);
		struct drsn__cfg_errors *errs = calloc(1, sizeof *errs);
		code = 1;
		if (cfg && errs && drsn__daemon_config(cfg, &a, errs, NULL) == 0)
			code = drsn__plugins_list(cfg, stdout) < 0 ? 1 : 0;
		for (int i = 0; errs && i < errs->n; i++)
			fprintf(stderr, "%s\n", errs->msg[i]);
		free(cfg);
		free(errs);
		goto out;
	}
	if (check || print) {
		struct drsn__config *cfg = malloc(sizeof *cfg);
		struct drsn__cfg_errors *errs = calloc(1, sizeof *errs);
		struct drsn__cfg_errors *shadowed = calloc(1, sizeof *shadowed);
		code = 1;
		if (!cfg || !errs)
			goto check_out;
		/* --check-config: the keys of the file the command line overrides */
		int rc = drsn__daemon_config(cfg, &a, errs, check ? shadowed : NULL);
		for (int i = 0; shadowed && i < shadowed->n; i++)
			fprintf(stderr, "warning: %s\n", shadowed->msg[i]);
		if (rc == 0 && check) {
			/* what start-up needs from this system: the socket's group
			 * (and being in it), the sockets' directories and paths,
			 * the file or descriptor of the audio source */
			if (drsn__config_check_system(cfg, errs) < 0)
				rc = -1;
			/* the model, then the [detect] and [thresholds] keys on it (an
			 * unknown label is a config error: its message names the line) */
			drsn_model *m;
			drsn_pipeline *p;
			drsn_error e;
			int config_fault;
			if (drsn__daemon_detector(cfg, &m, &p, &config_fault, &e) < 0) {
				drsn__cfg_error(errs, "%s%s", config_fault ? "" : "[model] path: ", e.msg);
				rc = -1;
			}
			drsn_pipeline_destroy(p);
			check_model = m;   /* for the plugins' create() below */
		}
		if (rc == 0 && check) {
			/* [plugins]: modules present and of the right ABI; those
			 * that allow it created (their keys checked), not started */
			struct drsn__cfg_errors *warn = calloc(1, sizeof *warn);
			if (!warn || drsn__plugins_check(cfg, errs, warn) < 0 ||
			    drsn__plugins_check_create(cfg, check_model, a.instance, errs) < 0)
				rc = -1;
			for (int i = 0; warn && i < warn->n; i++)
				fprintf(stderr, "warning: %s\n", warn->msg[i]);
			free(warn);
		}
		drsn_model_free(check_model);
		check_model = NULL;
		for (int i = 0; i < errs->n; i++)
			fprintf(stderr, "%s\n", errs->msg[i]);
		if (rc == 0 && print)
			drsn__config_print(cfg, stdout);
		/* name what was checked: the file, the default one, or none */
		if (rc == 0 && check && a.config_path)
			printf("%s: OK\n", a.config_path);
		else if (rc == 0 && check && access(DRSND_CONFIG_PATH, F_OK) == 0)
			printf("%s: OK\n", DRSND_CONFIG_PATH);
		else if (rc == 0 && check)
			printf("no %s, built-in defaults: OK\n", DRSND_CONFIG_PATH);
		code = rc == 0 ? 0 : 1;
check_out:
		free(cfg);
		free(errs);
		free(shadowed);
		goto out;
	}
	drsn__hush_stdio();   /* host libraries' stderr lines in the log's format */
	code = drsn__daemon_run(&a);
out:
	for (int i = 0; i < n_ov; i++)
		free(ov[i]);
	return code;
}
