/* The drsn command-line tool: one file per subcommand (cmd_<name>.c). */
#ifndef DRSN_SRC_CLI_CLI_H
#define DRSN_SRC_CLI_CLI_H

/* A subcommand gets argv with argv[0] = its own name; returns the exit code. */
typedef int (*drsn__cmd_fn)(int argc, char **argv);

struct drsn__cmd {
	const char *name;
	drsn__cmd_fn run;
	const char *summary;
};

/* Print "drsn: " + message to stderr. */
void drsn__cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Subcommands (add yours here and in the table in main.c). */
int drsn__cmd_version(int argc, char **argv);
int drsn__cmd_info(int argc, char **argv);
int drsn__cmd_features(int argc, char **argv);
int drsn__cmd_denoise(int argc, char **argv);
int drsn__cmd_detect(int argc, char **argv);
int drsn__cmd_bench(int argc, char **argv);
int drsn__cmd_classify(int argc, char **argv);

#endif
