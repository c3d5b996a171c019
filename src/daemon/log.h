/*
 * drsnd's levelled log to stderr (journald picks it up).
 *
 * Quiet by default: only warnings and errors. Under systemd (JOURNAL_STREAM
 * set) every line starts with the sd-daemon "<N>" priority prefix so the
 * journal records the right level; otherwise lines look like
 *   "drsnd: warning: pa:USB: device lost, retrying in 2 s".
 * Safe from the loop thread and from helper threads (one fprintf per line);
 * never call it from the real-time audio callback.
 */
#ifndef DRSN_DAEMON_LOG_H
#define DRSN_DAEMON_LOG_H

enum drsn__log_level {
	DRSN_LOG_ERROR = 0,
	DRSN_LOG_WARNING,
	DRSN_LOG_INFO,
	DRSN_LOG_DEBUG,
};

void drsn__log_set_level(enum drsn__log_level l);
enum drsn__log_level drsn__log_get_level(void);

/* "error", "warning", "info", "debug" -> level; -1 if unknown. */
int drsn__log_level_parse(const char *s);
const char *drsn__log_level_name(enum drsn__log_level l);

void drsn__log(enum drsn__log_level l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) drsn__log(DRSN_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) drsn__log(DRSN_LOG_WARNING, __VA_ARGS__)
#define log_info(...) drsn__log(DRSN_LOG_INFO, __VA_ARGS__)
#define log_debug(...) drsn__log(DRSN_LOG_DEBUG, __VA_ARGS__)

#endif
