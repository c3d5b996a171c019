/*
 * The drsnd daemon proper: ties config, model + pipeline, audio source,
 * socket server, systemd notification and signals together on one libuv
 * loop. drsnd.c only parses the command line and calls these.
 *
 * Life cycle: load config (file, then command-line overrides) -> load model
 * and build the pipeline -> open the audio source -> listen -> READY=1 ->
 * start the source -> run until SIGTERM/SIGINT (or end of a file source with
 * on_eof = exit) -> STOPPING=1, stop the source, flush and close clients.
 *
 * SIGHUP and the "reload" command rebuild config + model + pipeline into new
 * objects and swap them in only if everything succeeded; otherwise the old
 * ones keep running and the reason is logged and sent to clients as an
 * "error" (code reload_failed). Audio keeps flowing meanwhile (it waits in
 * the source's ring while the loop thread loads). [socket] and [audio] keys
 * need a restart; a reload that changes them says so.
 *
 * [denoise]: with classify_on = denoised or a pcm_socket, every audio block
 * also goes through a drsn_denoise (created at start/reload, its one-frame
 * latency dropped so denoised sample i is input sample i); the pipeline then
 * hears the denoised audio (classify_on = denoised) and the PCM socket's
 * readers get it as s16le (a second drsn__server in raw mode).
 */
#ifndef DRSN_DAEMON_DAEMON_H
#define DRSN_DAEMON_DAEMON_H

#include "daemon/config.h"
#include "drsn/model.h"
#include "drsn/pipeline.h"

struct drsn__daemon_args {
	const char *config_path;      /* NULL = DRSND_CONFIG_PATH if it exists */
	const char *const *overrides; /* "section.key=value", applied after the file */
	int n_overrides;
	const char *instance;         /* --instance NAME (drsnd@NAME), NULL = none:
				       * plugins' host->instance */
};

/* Build a config from defaults, the file and the overrides, and check it.
 * All problems go to errs. 0 or -EINVAL/-ENOENT. warn (may be NULL) gets a
 * message for each key of the file that an override replaces
 * (drsn__config_overridden). */
int drsn__daemon_config(struct drsn__config *c, const struct drsn__daemon_args *a,
			struct drsn__cfg_errors *errs, struct drsn__cfg_errors *warn);

/* Load the config's model (NULL if model.path is empty) and its pipeline
 * (thresholds mapped to label indices: an unknown label is an error naming
 * where it was set). On failure *config_fault (may be NULL) is 1 if the
 * model loaded and the config's [detect]/[thresholds] did not fit it, 0 if
 * the model itself failed. */
int drsn__daemon_detector(const struct drsn__config *c, drsn_model **m, drsn_pipeline **p,
			  int *config_fault, drsn_error *err);

/* A pipeline on m with c's [detect] settings and [thresholds] (an unknown
 * label is an error naming where it was set). Plugins get theirs from here. */
int drsn__daemon_pipeline(const struct drsn__config *c, const drsn_model *m, drsn_pipeline **p,
			  drsn_error *err);

/* Run the daemon until stopped. Returns the process exit code. */
int drsn__daemon_run(const struct drsn__daemon_args *a);

#endif
