/*
 * drsnd's levelled log to stderr (journald picks it up).
 *
 * Quiet by default: warnings, errors and the notices of drsn__log_notice
 * (start, reload, recovery, stop). Under systemd (stderr is the
 * stream JOURNAL_STREAM names) every line starts with the sd-daemon "<N>"
 * priority prefix so the journal records the right level; otherwise lines
 * look like
 *   "drsnd: warning: pa:USB: device lost, retrying in 2 s".
 * Safe from the loop thread and from helper threads (one write per line);
 * never call it from the real-time audio callback. After drsn__log_init
 * lines go to a copy of stderr made then, so a hush (hush.h: fd 2 redirected
 * while a host library may print) never holds them back or captures them.
 */
#ifndef DRSN_DAEMON_LOG_H
#define DRSN_DAEMON_LOG_H

enum drsn__log_level {
	DRSN_LOG_ERROR = 0,
	DRSN_LOG_WARNING,
	DRSN_LOG_INFO,
	DRSN_LOG_DEBUG,
};

/* Once at start, while fd 2 is the real stderr (before any hush). Until
 * then (tests, tools) lines go to stderr directly. */
void drsn__log_init(void);
void drsn__log_set_level(enum drsn__log_level l);
enum drsn__log_level drsn__log_get_level(void);

/* "error", "warning", "info", "debug" -> level; -1 if unknown. */
int drsn__log_level_parse(const char *s);
const char *drsn__log_level_name(enum drsn__log_level l);

void drsn__log(enum drsn__log_level l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The few lines a service's journal should always have, at any level but
 * error (-q): start (version, socket, source, model), a reload, a source
 * that is back after a failure, stop. "drsnd: notice: ...", priority 5. */
void drsn__log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_err(...) drsn__log(DRSN_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) drsn__log(DRSN_LOG_WARNING, __VA_ARGS__)
#define log_info(...) drsn__log(DRSN_LOG_INFO, __VA_ARGS__)
#define log_debug(...) drsn__log(DRSN_LOG_DEBUG, __VA_ARGS__)

#endif
