/* The drsn command-line tool: one file per subcommand (cmd_<name>.c). */
#ifndef DRSN_SRC_CLI_CLI_H
#define DRSN_SRC_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "drsn/audio.h"

/* A subcommand gets argv with argv[0] = its own name; returns the exit code. */
typedef int (*drsn__cmd_fn)(int argc, char **argv);

struct drsn__cmd {
	const char *name;
	drsn__cmd_fn run;
	const char *summary;
};

/* Print "drsn: " + message to stderr. A message that says stdout could not
 * be written ("stdout: write error: ...", "-: write failed", ...) is noted:
 * main, which checks stdout after every command (flush and close: a failed
 * write not said yet is "drsn: CMD: stdout: write error: REASON", exit 1),
 * then does not say it again. */
void drsn__cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print message (no prefix) and a newline to stderr: a note that is not an
 * error (drsn features' "FILE: N frames x M bands -> OUT"). Both are kept
 * with their file on a -j worker (drsn__cli_jobs_run). */
void drsn__cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A model that could not be loaded from path: "drsn: CMD: MSG" (msg is
 * drsn_model_load's error, which starts with the path), with "PATH (from
 * $DRSN_MODEL)" when from_env: the default model, as $DRSN_MODEL names it.
 * drsn__cli_model_from_env(path): 1 if path is drsn_default_model_path()'s
 * answer from $DRSN_MODEL (that very string, not an equal -m value). */
void drsn__cli_model_error(const char *cmd, const char *path, int from_env, const char *msg);
int drsn__cli_model_from_env(const char *path);

/* The progress bar on stderr (src/cli/progress.c), for a caller that has
 * checked stderr is a terminal: drawn over itself, done/total of file of
 * n_files. drsn__cli_progress_erase erases it if drawn (1 if it was: draw it
 * again after printing), before anything else goes to the terminal. */
void drsn__cli_progress(double done, double total, int file, int n_files);
int drsn__cli_progress_erase(void);
void drsn__cli_progress_redraw(void);

/* The files that a command's FILE... arguments name. An argument that is a
 * folder stands for the audio files under it, at any depth, in byte order of
 * their paths (hidden entries, symbolic links to folders, and files whose
 * extension, in any case, is not one libsndfile's format lists name or one
 * of files.c's other_extensions, .bwf .wave .snd ..., are skipped; one of a known audio or
 * video extension, e.g. .m4a or .mp4, with a note on stderr that suggests
 * ffmpeg); any other argument is
 * kept as it is, for the reader to open or to explain. An entry with error
 * set is one that cannot be used (a folder that cannot be listed, or that
 * has no audio files in it, a second '-'): report it and go on with the rest. */
struct drsn__cli_file {
	char *path;
	char *error;   /* NULL, or "PATH: what is wrong" */
	int arg;       /* the index in args of the argument that named it */
};
struct drsn__cli_files {
	struct drsn__cli_file *file;
	size_t n, cap;
};
/* 0, or -ENOMEM (nothing to free then); free with drsn__cli_files_free. */
int drsn__cli_files_collect(struct drsn__cli_files *fl, char **args, int n_args);
void drsn__cli_files_free(struct drsn__cli_files *fl);
/* mkdir -p for the folders of path (not its last part): 0 or -errno. */
int drsn__cli_make_parents(char *path);

/* o as one line on stdout, flushed (results go out as they come), then
 * freed; "drsn: CMD: out of memory" if it cannot be printed. A write that
 * fails (a closed pipe while SIGPIPE is ignored, a full disk) is said once,
 * "drsn: CMD: stdout: write error: REASON", and from then on
 * drsn__cli_stdout_failed() is 1: stop, and exit 1. 0, or -1 when the
 * line was not written (either cause). */
struct cJSON;
int drsn__cli_print_json(const char *cmd, struct cJSON *o);
/* s in single quotes for a shell command line ("'" as '\''), into out of
 * n bytes (cut short if it does not fit); returns out. */
const char *drsn__cli_shell_quote(const char *s, char *out, size_t n);
int drsn__cli_stdout_failed(void);

/* A file that could not be read or processed: "drsn: CMD: MSG" on stderr
 * and {"file":FILE,"error":MSG} on stdout, so that output alone tells a
 * file with no result from one that failed (msg names the file). */
void drsn__cli_file_error(const char *cmd, const char *file, const char *msg);

/* After reading file through a: if it held NaN, infinite or out-of-range
 * samples (drsn_audio_bad_samples; read as 0 or clipped), one warning
 * "drsn: CMD: FILE: N samples ..." on stderr. The file is still processed. */
struct drsn_audio;
void drsn__cli_warn_bad_samples(const char *cmd, const char *file, const struct drsn_audio *a);

/* After opening file through a for a model with front end p: if the file's
 * rate is too low for the model's top mel band (features/narrowband.h),
 * "drsn: CMD: FILE: warning: source 8000 Hz is below the model's ..." on
 * stderr, for the first such file of the run only (*said is then 1; start
 * it at 0). The file is still processed. */
struct drsn_features_params;
void drsn__cli_warn_narrowband(const char *cmd, const char *file, const struct drsn_audio *a,
			       const struct drsn_features_params *p, int *said);

/* --channel SEL (mix, N, a list 1,2 or a range 1-4; drsn_audio_parse_channels)
 * into *mask (0 = mix); -1 after "drsn: CMD: --channel 'X': why" on stderr
 * (a usage error: exit 2). */
int drsn__cli_channel_arg(const char *cmd, const char *text, uint64_t *mask);

/* Open file ("-": stdin) with ao and, unless channels is 0 (mix), make its
 * mono output those channels (drsn_audio_select_channels: a channel the
 * file does not have is an error naming both numbers). 0 or negative with
 * e naming the file; *a is NULL on failure. */
int drsn__cli_audio_open(drsn_audio **a, const char *file, const drsn_audio_opts *ao,
			 uint64_t channels, drsn_error *e);

/* 1 if path a and path b name one existing regular file (the same device and
 * inode, so through any spelling of the path, a symbolic or a hard link),
 * else 0. "-" (stdin or stdout) names no file here. */
int drsn__cli_same_file(const char *a, const char *b);

/* Before a command opens its output out: if out names the same file as one
 * of the n inputs in (NULL entries are skipped), prints "drsn: CMD: output
 * OUT is the same file as input IN ..." and returns 2 (a usage error: the
 * input would be overwritten); else 0. */
int drsn__cli_refuse_clash(const char *cmd, const char *out, const char *const *in, size_t n);

/* For a getopt_long loop run with opterr = 0 and an optstring that starts
 * with ':': the '?' or ':' it returned, as one line naming the option
 * ("drsn: CMD: unknown option '--x' (try 'drsn CMD --help')", then "; did
 * you mean '--y'?" when an option of opts is close). Returns 2. */
struct option;
int drsn__cli_bad_option(const char *cmd, int c, char **argv, const struct option *opts);

/* A model's label as one item of a list (common/label.h: quoted when it
 * holds a blank, ',', '"' or '\'). */
#include <stdio.h>
struct drsn_model;
void drsn__cli_put_label(FILE *f, const char *label);
/* Every label of m so, with sep between them. */
void drsn__cli_put_labels(FILE *f, const struct drsn_model *m, const char *sep);

/* drsn detect's machinery, shared with drsn tune (src/cli/cmd_detect.c):
 * detect's options, the model, the pipeline and the run over the files.
 * Use: drsn__detect_init; in the getopt_long loop (DRSN__DETECT_LONGOPTS in
 * the option table, DRSN__DETECT_SHORTOPTS in the optstring) hand each option
 * to drsn__detect_option; then drsn__detect_open, drsn__detect_run,
 * drsn__detect_close (always, also after a failed open). */
#include "drsn/pipeline.h"
struct drsn__detect {
	const char *cmd;               /* "detect", "tune": error messages */
	const char *model_path;
	const char *lt[64];            /* --label-threshold L=P as given */
	float lt_p[64];
	int n_lt, quiet;
	int jobs;                      /* -j N: threads (1: as before) */
	uint64_t channels;
	drsn_pipeline_opts o;
	/* from drsn__detect_open: */
	drsn_model *m;
	drsn_pipeline *p;
	drsn_pipeline **wp;            /* d->jobs - 1 more, one per other worker */
	float *thr;                    /* per label, -1 = the global threshold */
	struct drsn__cli_files files;
};
enum { DRSN__DETECT_O_LT = 256, DRSN__DETECT_O_HOP, DRSN__DETECT_O_SMOOTH, DRSN__DETECT_O_REFR,
       DRSN__DETECT_O_VAD, DRSN__DETECT_O_VADDB, DRSN__DETECT_O_VADH, DRSN__DETECT_O_CHAN,
       DRSN__DETECT_O_NEXT /* a command's own long options from here */ };
#define DRSN__DETECT_SHORTOPTS "m:t:qj:"
#define DRSN__DETECT_LONGOPTS \
	{"model", required_argument, NULL, 'm'}, \
	{"threshold", required_argument, NULL, 't'}, \
	{"label-threshold", required_argument, NULL, DRSN__DETECT_O_LT}, \
	{"inference-hop-ms", required_argument, NULL, DRSN__DETECT_O_HOP}, \
	{"smoothing-ms", required_argument, NULL, DRSN__DETECT_O_SMOOTH}, \
	{"refractory-ms", required_argument, NULL, DRSN__DETECT_O_REFR}, \
	{"vad", no_argument, NULL, DRSN__DETECT_O_VAD}, \
	{"vad-threshold-db", required_argument, NULL, DRSN__DETECT_O_VADDB}, \
	{"vad-hangover-ms", required_argument, NULL, DRSN__DETECT_O_VADH}, \
	{"channel", required_argument, NULL, DRSN__DETECT_O_CHAN}, \
	{"quiet", no_argument, NULL, 'q'}, \
	{"jobs", required_argument, NULL, 'j'}
void drsn__detect_init(struct drsn__detect *d, const char *cmd);
/* The options' lines of a usage text (detect's, shared by tune). */
void drsn__detect_usage_options(FILE *f);
/* Option c (getopt_long's return) with arg: 1 if it is one of detect's
 * (*bad = 1 after a usage error, said on stderr), 0 if not. */
int drsn__detect_option(struct drsn__detect *d, int c, const char *arg, int *bad);
/* Load the model, check the --label-threshold labels, create the pipeline,
 * collect the files of args. 0, or -1 after an error on stderr; -2 after a
 * usage error (a --label-threshold label the model does not have: exit 2). */
int drsn__detect_open(struct drsn__detect *d, char **args, int n_args);
/* Every file through the pipeline, each a stream of its own (reset, push,
 * finish), with ev and user; file_start (may be NULL) before a file's first
 * sample, file_end (may be NULL) after its finish with the audio's length
 * in seconds. A file that cannot be read gets drsn__cli_file_error. 0, or 1
 * when a file failed or stdout failed (the exit code). With d->jobs > 1 the
 * files go over that many threads (drsn__cli_jobs_run), worker w with the
 * user at (char *)user + w * user_size (an array of d->jobs of them). */
int drsn__detect_run(struct drsn__detect *d, const drsn_pipeline_events *ev,
		     void (*file_start)(void *user, const char *file),
		     void (*file_end)(void *user, const char *file, double audio_s), void *user,
		     size_t user_size);
void drsn__detect_close(struct drsn__detect *d);
/* A float option's value in [lo, hi]: 0, or -1 after "drsn: CMD: OPT: 'V' is
 * not a number in [lo, hi]". */
int drsn__cli_parse_float(const char *cmd, const char *opt, const char *v, float lo, float hi, float *out);

/* -j N (src/cli/jobs.c): a command's n files over N threads, the output
 * exactly as one thread gives it, in input order. run(user, w, i) does file
 * i on worker w (0..jobs-1: each worker has its own context, pipeline and
 * buffers, made before; a model is shared) and returns 0, or 1 when it
 * failed. On a worker, what it prints through drsn__cli_print_json,
 * drsn__cli_print_line, drsn__cli_err and the warnings is kept with file i
 * and printed by the main thread once every file before i has been; a
 * worker at most 4 * jobs files ahead waits. The progress bar is the main
 * thread's: tick (may be NULL) is called there every 100 ms while it waits
 * and after each file is printed, with the first file not yet printed and
 * the workers' progress (drsn__cli_jobs_progress). jobs 1: every file in
 * order on this thread, as before. Stops after a file once stdout failed.
 * Returns the OR of the files' codes. */
#define DRSN__JOBS_MAX 256
#include <stdatomic.h>
struct drsn__cli_job_progress {
	_Atomic long long item;     /* the file being done, -1 none */
	_Atomic long long done, total;   /* of that file, as drsn__cli_progress got it */
};
struct drsn__cli_jobs {
	const char *cmd;
	int jobs;
	size_t n;
	int (*run)(void *user, int w, size_t i);
	void (*tick)(void *user, size_t next, const void *workers, int n_workers);
	void *user;
};
int drsn__cli_jobs_run(const struct drsn__cli_jobs *j);
const struct drsn__cli_job_progress *drsn__cli_jobs_progress(const void *workers, int w);
/* 1 on a worker of drsn__cli_jobs_run (its output is kept), else 0. */
int drsn__cli_capturing(void);
/* The worker's progress record (drsn__cli_progress on a worker stores
 * there), or NULL on the main thread. */
struct drsn__cli_job_progress *drsn__cli_job_progress_slot(void);
/* On a worker: keep line (n bytes, no newline) or the message for stdout / stderr
 * and return 1; elsewhere return 0 (print it yourself). once: a warning
 * said for the first file only (the narrowband one). */
#include <stdarg.h>
int drsn__cli_capture_out(const char *line, size_t n);
int drsn__cli_capture_err(int once, const char *fmt, va_list ap);
/* The same for a message without the "drsn: " prefix (drsn__cli_note). */
int drsn__cli_capture_note(const char *fmt, va_list ap);
/* -j/--jobs V: 1..DRSN__JOBS_MAX, or 0 / "auto" = the online CPUs: 0, or -1
 * after "drsn: CMD: --jobs: 'V' is not ..." on stderr (a usage error). */
int drsn__cli_jobs_arg(const char *cmd, const char *v, int *out);
/* For a command that parses its arguments by hand: argv[*i] as -j N, -jN,
 * --jobs N or --jobs=N. 0 if it is none of them; 1 when taken into *jobs
 * (*i then at its value); -1 after a usage error on stderr (a bad value, or
 * "drsn: CMD: -j needs a value" for a last argument without one). */
int drsn__cli_jobs_option(const char *cmd, int argc, char **argv, int *i, int *jobs);
/* The n bytes of s and a newline on stdout, flushed, as drsn__cli_print_json
 * prints a line (a write error said once; then drsn__cli_stdout_failed);
 * kept instead on a worker. 0 or -1. */
int drsn__cli_print_line(const char *cmd, const char *s, size_t n);

/* Subcommands (add yours here and in the table in main.c). */
int drsn__cmd_version(int argc, char **argv);
int drsn__cmd_info(int argc, char **argv);
int drsn__cmd_features(int argc, char **argv);
int drsn__cmd_denoise(int argc, char **argv);
int drsn__cmd_detect(int argc, char **argv);
int drsn__cmd_bench(int argc, char **argv);
int drsn__cmd_classify(int argc, char **argv);
int drsn__cmd_tune(int argc, char **argv);
int drsn__cmd_watch(int argc, char **argv);

#endif
