/*
 * drsnd's configuration: defaults, the INI file (config/drsnd.conf documents
 * every key), command-line overrides, and validation.
 *
 * The file is parsed with libinih. Every problem is reported with its place,
 * "drsnd.conf:12: [detect] threshold: 1.7 is not in [0, 1]", and all of them
 * are collected (not only the first) so `drsnd --check-config` lists them
 * all. A key given twice in a section is an error naming both lines. Command-
 * line flags go through the same setter as the file, with the place "command
 * line", after the file: they override it.
 *
 * On top of inih's syntax a value may be "double-quoted": it is then taken as
 * it is between the quotes (\" and \\ escape a quote and a backslash), so
 * " ;" inside it is no comment and blanks at its ends stay. --print-config
 * quotes the values that need it, so its output reads back the same.
 *
 * A line holds at most 198 bytes (inih's INI_MAX_LINE in Debian's build); a
 * longer value goes on indented lines below its key (inih's multi-line
 * values), joined with one space, up to 511 bytes. Syntax errors come in
 * line order; a file is read up to 1 MiB, a named pipe refused.
 *
 * A config is a plain value: reload builds a fresh one and swaps it in only
 * if it is valid.
 */
#ifndef DRSN_DAEMON_CONFIG_H
#define DRSN_DAEMON_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DRSN_CFG_MAX_THRESHOLDS 64
#define DRSN_CFG_MAX_ERRORS 32
#define DRSN_CFG_ERROR_MAX 640           /* bytes of a message: a drsn_error's and a prefix */
#define DRSN_CFG_N_KEYS 36               /* keys of [daemon] .. [denoise] (config.c's table) */
#define DRSN_CFG_WHERE_MAX 96            /* "drsnd.conf:12", "command line" */
#define DRSN_CFG_DEFAULT_PATH "/etc/drsnd/drsnd.conf"
/* [socket] path's default: drsnd listens there, drsn watch connects there. */
#define DRSN_CFG_DEFAULT_SOCKET "/run/drsnd/drsnd.sock"

/* [plugins] and [plugin NAME] bounds (over a bound = a config error). */
#define DRSN_CFG_MAX_PLUGINS 16          /* names in load, [plugin NAME] sections */
#define DRSN_CFG_PLUGIN_NAME_MAX 64      /* bytes of a NAME, NUL included */
#define DRSN_CFG_MAX_PLUGIN_KEYS 64      /* keys per [plugin NAME] section */
#define DRSN_CFG_PLUGIN_VALUE_MAX 512    /* bytes of a key or value, NUL included */
#define DRSN_CFG_PLUGIN_ARENA 65536      /* all plugin keys, values and places */

/* One key of a [plugin NAME] section: offsets into the arena. */
struct drsn__cfg_plugin_kv {
	uint16_t section, key, value, where;
};

/* [plugins] dir/load and every [plugin NAME] section, keys kept in file order
 * (command-line overrides appended after). A plain value like the rest. */
struct drsn__cfg_plugins {
	char dir[PATH_MAX];        /* "" = the built-in DRSND_PLUGIN_DIR */
	int n_load;
	char load[DRSN_CFG_MAX_PLUGINS][DRSN_CFG_PLUGIN_NAME_MAX];
	char load_where[96];       /* where load was set, for messages */
	int n_sections;
	struct drsn__cfg_plugin_section {
		char name[DRSN_CFG_PLUGIN_NAME_MAX];
		char where[96];    /* its first key */
		int n_kv;
	} sections[DRSN_CFG_MAX_PLUGINS];
	int n_kv;
	struct drsn__cfg_plugin_kv kv[DRSN_CFG_MAX_PLUGINS * DRSN_CFG_MAX_PLUGIN_KEYS];
	size_t arena_used;
	char arena[DRSN_CFG_PLUGIN_ARENA];
};

/* The longest label (bytes with the NUL) a model may have (src/engine/model.c). */
#define DRSN_CFG_LABEL_MAX 256

struct drsn__cfg_threshold {
	char label[DRSN_CFG_LABEL_MAX];
	float value;
	char where[96];            /* "drsnd.conf:40", for errors found later */
};

struct drsn__config {
	/* [daemon] */
	int log_level;             /* enum drsn__log_level */
	int status_interval_ms;    /* STATUS= to systemd and "status" broadcast; 0 = off */

	/* [socket] */
	char socket_path[108];     /* sun_path size */
	unsigned socket_mode;
	char socket_group[64];     /* "" = keep the process's group */
	int max_clients;
	int max_line;              /* bytes per command line, newline excluded */
	int client_queue;          /* bytes of unsent output per client */
	int flood_errors;          /* protocol errors per 10 s before disconnect */

	/* [model] */
	char model_path[PATH_MAX]; /* "" = no model: level/status events only */

	/* [audio] */
	char source[PATH_MAX + 8]; /* pa:[DEVICE] | file:PATH | stdin | fd:N */
	int realtime;              /* file: pace at real time */
	int on_eof_exit;           /* file/stdin/fd end: 1 = exit, 0 = keep serving */
	int wait_for_client;       /* file/stdin/fd: read nothing until the first client connects */
	char raw_format[16];       /* stdin/fd: sample format */
	int raw_rate;
	int raw_channels;
	char channel[256];         /* which channels make the mono input: "mix", "1", "1-4,6" */
	int device_rate;           /* pa: capture rate, 0 = the device's default */
	int latency_ms;            /* pa: suggested input latency, 0 = device's low default */
	int ring_ms;               /* callback -> loop ring size */
	int retry_min_ms;          /* pa: first retry after a failure */
	int retry_max_ms;          /* pa: backoff cap */
	int stall_ms;              /* pa: no callback for this long = device lost */

	/* [detect] */
	int inference_hop_ms;
	int smoothing_ms;
	float threshold;
	int refractory_ms;
	int vad;                   /* skip inference on silence */
	float vad_threshold_db;    /* frame RMS (dBFS) above this = voice */
	int vad_hangover_ms;
	int level_interval_ms;     /* "level" events */

	/* [denoise] */
	int classify_on_denoised;  /* pipeline input: 0 = raw audio, 1 = the denoiser's output */
	float denoise_strength_db; /* drsn_denoise_opts.strength_db */
	char pcm_socket[108];      /* (restart) denoised s16le PCM for readers; "" = off */
	int pcm_queue_ms;          /* unsent PCM a reader may have queued, ms of audio */

	/* [thresholds] label = value */
	int n_thresholds;
	struct drsn__cfg_threshold thresholds[DRSN_CFG_MAX_THRESHOLDS];

	/* [plugins], [plugin NAME] (restart: the running set stays on reload) */
	struct drsn__cfg_plugins plugins;

	/* Where each key of [daemon] .. [denoise] was last set, in config.c's
	 * table order ("" = the default): messages about two keys name both. */
	char where[DRSN_CFG_N_KEYS][DRSN_CFG_WHERE_MAX];
};

/* Problems found while building a config. */
struct drsn__cfg_errors {
	int n;
	char msg[DRSN_CFG_MAX_ERRORS][DRSN_CFG_ERROR_MAX];   /* a longer one ends in "…" */
};

/* Built-in defaults (the values config/drsnd.conf documents). */
void drsn__config_defaults(struct drsn__config *c);

/* Set one key. where names the place for messages ("file:12" or "command
 * line"). Returns 0, or -EINVAL after appending a message to errs. */
int drsn__config_set(struct drsn__config *c, const char *section, const char *key,
		     const char *value, const char *where, struct drsn__cfg_errors *errs);

/* "section.key=value" (the --set form). */
int drsn__config_set_arg(struct drsn__config *c, const char *arg,
			 struct drsn__cfg_errors *errs);

/* Parse an INI file into c (on top of what c holds). Returns 0 or a negative
 * errno (-ENOENT if missing: errs says so too). Keeps going after an error so
 * every bad line is reported. */
int drsn__config_load_file(struct drsn__config *c, const char *path,
			   struct drsn__cfg_errors *errs);

/* Same from a string (tests); name is used in messages. */
int drsn__config_load_string(struct drsn__config *c, const char *text, const char *name,
			     struct drsn__cfg_errors *errs);

/* Cross-key checks (e.g. retry_min <= retry_max), naming where both keys
 * were set. 0 or -EINVAL. */
int drsn__config_check(const struct drsn__config *c, struct drsn__cfg_errors *errs);

/* What start-up will need from this system (drsnd --check-config): the
 * [socket] group exists and this user is in it (else chown fails), the
 * directories of [socket] path and [denoise] pcm_socket exist and neither
 * path is a file other than a socket (nothing is created or bound), a file:
 * source opens as audio, an fd: source is an open descriptor. Same messages
 * as start-up gives, after the place the key was set. 0 or a negative errno.
 * (A missing /run/drsnd or /run/drsnd-NAME is fine: the systemd units
 * create it when the daemon starts.) */
int drsn__config_check_system(const struct drsn__config *c, struct drsn__cfg_errors *errs);

/* The keys that only apply when the daemon starts ([socket] path, [audio]
 * source, [plugins] ...; "(restart)" in config/drsnd.conf) whose values
 * differ between the running config and a reloaded one, as "[socket] path,
 * [audio] source" in buf ("" if none; cut with "…" if n is too small).
 * Returns how many differ. */
int drsn__config_restart_only_diff(const struct drsn__config *running,
				   const struct drsn__config *reloaded, char *buf, size_t n);

/* Copy the running values (and places) of those keys into c, a reloaded
 * config, so that c says what runs: a later reload reports them again. */
void drsn__config_keep_restart_only(struct drsn__config *c, const struct drsn__config *running);

/* The keys of [daemon] .. [denoise] that file (the config before the
 * command line was applied) sets to other than the default and the command
 * line sets again to another value in c: one message each in warn, naming
 * the file's line, both values and that the command line wins (e.g. a
 * [socket] group edited in the file that the systemd unit's --set
 * socket.group overrides; a key the file lists with its default, as the
 * shipped one does, is not named). Returns how many, or -ENOMEM. */
int drsn__config_overridden(const struct drsn__config *file, const struct drsn__config *c,
			    struct drsn__cfg_errors *warn);

/* [audio] channel as a drsn_audio_parse_channels mask: 0 = mix. */
uint64_t drsn__config_channels(const struct drsn__config *c);

/* Threshold for label: its override, else the global one. */
float drsn__config_threshold(const struct drsn__config *c, const char *label);

/* A plugin name: [a-z0-9_-]+, shorter than DRSN_CFG_PLUGIN_NAME_MAX. */
int drsn__config_plugin_name_ok(const char *name);

/* The effective plugin directory ([plugins] dir, or the built-in one). */
const char *drsn__config_plugin_dir(const struct drsn__config *c);

/* The [plugin NAME] section's index, or -1. */
int drsn__config_plugin_section(const struct drsn__config *c, const char *name);

/* Key i (0 .. sections[s].n_kv - 1) of section s, in order: pointers into c. */
void drsn__config_plugin_kv(const struct drsn__config *c, int s, int i, const char **key,
			    const char **value, const char **where);

/* Print the effective config as INI (drsnd --print-config). */
void drsn__config_print(const struct drsn__config *c, FILE *f);

void drsn__cfg_error(struct drsn__cfg_errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
