/* drsn watch [--socket PATH] [--levels] [--scores] [--json] [--count N]
 * [--timeout S]: a running drsnd's events, as people read them (or as JSON
 * lines), without socat or jq: "does it hear me?" on a new box, and "say a
 * keyword" as a check for scripts (--count 1 --timeout 30).
 *
 * One Unix stream socket (docs/protocol.md), poll() and read() into one
 * buffer that grows only for a line longer than any before; each line is
 * parsed by cJSON and printed from fixed buffers: nothing else is allocated
 * per event. On a terminal, --levels and --scores keep one live line drawn
 * over itself with '\r'; elsewhere level lines come at most once a second. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/label.h"
#include "daemon/config.h"   /* DRSN_CFG_DEFAULT_SOCKET: drsnd's default [socket] path */

#define LINE_MAX_BYTES (16u << 20)   /* a longer line from drsnd is an error */
#define STATUS_EVERY_S 2.0           /* --levels: ask for a status this often */
#define LEVEL_LINE_S 1.0             /* --levels off a terminal: a line at most this often */
#define MAX_LABELS 1024              /* labels named in --scores (more: "#N") */
#define METER 16                     /* cells of the level meter, -60..0 dBFS */
#define CONNECT_NOTE_S 2.0           /* a connect() waiting this long is said */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: drsn watch [--socket PATH] [--levels] [--scores] [--json] [--count N] [--timeout S]\n\n"
		"Connects to a running drsnd and shows what it hears: a line for its hello\n"
		"(version, model, labels, source), then a line for every detection:\n"
		"  12:03:04.512  stop  0.93  [3.41-4.27 s]  pa:\n"
		"(the local time, the label, its score, the window in stream time, the stream).\n"
		"Ctrl-C, SIGTERM or SIGHUP ends it (exit status 0), as does a reader of its\n"
		"output that goes away (drsn watch | head -3).\n"
		"  --socket PATH   drsnd's socket (default %s, drsnd's [socket] path)\n"
		"  --levels        also the input level, the source's health (ok, silent, low,\n"
		"                  quiet, clipping: a hint when it is not ok) and state; on a\n"
		"                  terminal one line drawn over itself, else a line a second\n"
		"  --scores        also the 3 most probable labels of each inference (smoothed\n"
		"                  probabilities; on a terminal in the same live line)\n"
		"  --json          every line drsnd sends, as it sends it (JSON lines): hello,\n"
		"                  replies, events\n"
		"  --count N       exit 0 after N detections\n"
		"  --timeout S     exit 1 when S seconds (> 0) pass without a detection (from\n"
		"                  connecting, and again after each detection): with --count 1,\n"
		"                  \"say a keyword within S seconds\" for scripts and CI\n"
		"Exit status: 0 (Ctrl-C, SIGTERM, SIGHUP, --count reached, stdout's reader\n"
		"gone), 1 (no socket, no access, not drsnd's event socket, --timeout, also\n"
		"while connecting, drsnd closed the connection, a stdout write error), 2\n"
		"(usage).\n",
		DRSN_CFG_DEFAULT_SOCKET);
}

/* ---- text built into a fixed buffer --------------------------------------- */

struct txt {
	char b[2048];
	size_t n;
};

static void tx_reset(struct txt *t)
{
	t->n = 0;
	t->b[0] = '\0';
}

static void tx_printf(struct txt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tx_printf(struct txt *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(t->b + t->n, sizeof t->b - t->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		t->n = t->n + (size_t)k < sizeof t->b ? t->n + (size_t)k : sizeof t->b - 1;
}

/* s from drsnd (a label, a stream name, a message): control characters as
 * '?', so that nothing it says moves the terminal's cursor or colours. */
static void tx_str(struct txt *t, const char *s)
{
	for (; s && *s && t->n + 1 < sizeof t->b; s++)
		t->b[t->n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	t->b[t->n] = '\0';
}

/* A label as list text (quoted when it holds a blank, ',', '"' or '\'). */
static void tx_label(struct txt *t, const char *label, int width)
{
	char q[DRSN__LABEL_TEXT_MAX];
	drsn__label_text(label ? label : "?", q, sizeof q);
	size_t before = t->n;
	tx_str(t, q);
	for (int w = (int)(t->n - before); w < width; w++)
		tx_printf(t, " ");
}

/* "12:03:04.512": local time of Unix time at (seconds). */
static void tx_clock(struct txt *t, double at)
{
	struct tm tm;
	if (!isfinite(at) || fabs(at) > 1e12) {   /* not a time: no undefined conversion */
		tx_printf(t, "??:??:??.???");
		return;
	}
	time_t s = (time_t)floor(at);
	int ms = (int)((at - floor(at)) * 1000);
	if (ms > 999)
		ms = 999;
	if (!localtime_r(&s, &tm)) {
		tx_printf(t, "??:??:??.???");
		return;
	}
	tx_printf(t, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static double now_s(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the watch -------------------------------------------------------------- */

struct watch {
	const char *path;
	int levels, scores, json;
	long count;
	double timeout;
	int tty;                 /* stdout is a terminal: a live line */
	int blocked;             /* the stop signals are blocked but in ppoll ... */
	sigset_t wait_mask;      /* ... and in stdout writes, which may block */
	int stdout_gone;         /* its reader went away (EPIPE): a quiet end, 0 */
	int fd;
	char *buf;
	size_t len, cap;
	cJSON *hello;            /* the latest hello: its labels */
	const char *label[MAX_LABELS];
	int n_labels, label_w;
	long detections;
	int stdout_failed;
	/* what the live line and the level lines show */
	int have_level;
	double rms, peak;
	int have_status, have_health, have_src_peak;
	char health[24], state[24], source[16];   /* source: the start of source.name */
	double src_peak, clipped_share;
	struct txt top;          /* "yes 0.91  no 0.05  _unknown_ 0.02" */
	int live_drawn;
	double next_level_line;  /* monotonic */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* Writes to stdout may block (a reader that stalls): the stop signals
 * are let in meanwhile, so SIGTERM still ends drsn watch. */
static void out_open(struct watch *w, sigset_t *prev)
{
	if (w->blocked)
		sigprocmask(SIG_SETMASK, &w->wait_mask, prev);
}

static void out_close(struct watch *w, const sigset_t *prev)
{
	if (w->blocked)
		sigprocmask(SIG_SETMASK, prev, NULL);
}

static void flush_out(struct watch *w)
{
	sigset_t prev;
	errno = 0;
	out_open(w, &prev);
	int bad = fflush(stdout) != 0 || ferror(stdout);
	int e = errno;
	out_close(w, &prev);
	if (!bad || w->stdout_failed || w->stdout_gone)
		return;
	if (e == EINTR && stop_signal) {   /* stopped while blocked: not an error */
		clearerr(stdout);
		return;
	}
	if (e == EPIPE) {   /* drsn watch | head -3 */
		w->stdout_gone = 1;
		return;
	}
	w->stdout_failed = 1;
	drsn__cli_err("watch: stdout: write error: %s", e ? strerror(e) : "unknown");
}

static void live_erase(struct watch *w)
{
	if (!w->live_drawn)
		return;
	fputs("\r\033[K", stdout);
	w->live_drawn = 0;
	flush_out(w);
}

static int live_mode(const struct watch *w)
{
	return w->tty && !w->json && (w->levels || w->scores);
}

/* The source's health and state from the last status: in full (level
 * lines), or short (the live line: the state only when not running). */
static void tx_health(struct txt *t, const struct watch *w, int compact)
{
	const char *sep = "";
	if (w->have_health) {
		tx_printf(t, "health ");
		tx_str(t, w->health);
		if (w->have_src_peak && compact)
			tx_printf(t, ", max %.1f", w->src_peak);
		else if (w->have_src_peak)   /* the last 30 s window's, or so far before one */
			tx_printf(t, " (loudest %.1f dBFS %s)", w->src_peak,
				  strcmp(w->health, "unknown") ? "in 30 s" : "so far");
		sep = compact ? "  " : ", ";
	}
	if (w->state[0] && !(compact && !strcmp(w->state, "running"))) {
		tx_printf(t, "%s", sep);
		tx_str(t, w->state);
	}
}

static void live_draw(struct watch *w)
{
	if (!live_mode(w))
		return;
	struct txt t;
	tx_reset(&t);
	if (w->levels) {
		if (w->have_level) {
			int n = (int)lround((w->rms + 60) / 60 * METER);
			n = n < 0 ? 0 : n > METER ? METER : n;
			tx_printf(&t, "%5.1f dBFS [", w->rms);
			for (int i = 0; i < METER; i++)
				tx_printf(&t, "%c", i < n ? '#' : '-');
			tx_printf(&t, "] peak %5.1f", w->peak);
		} else {
			tx_printf(&t, "(no level yet)");
		}
		if (w->have_status) {
			tx_printf(&t, "  ");
			tx_health(&t, w, 1);
		}
	}
	if (w->scores && w->top.n)
		tx_printf(&t, "%s%s", t.n ? "  | " : "", w->top.b);
	/* one terminal row: cut at its width (columns: UTF-8 lead bytes) */
	struct winsize ws;
	int cols = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col - 1 : 79;
	size_t k = 0;
	for (int c = 0; k < t.n; k++) {
		if (((unsigned char)t.b[k] & 0xc0) != 0x80 && ++c > cols)
			break;
	}
	fputs("\r", stdout);
	fwrite(t.b, 1, k, stdout);
	fputs("\033[K", stdout);
	w->live_drawn = 1;
	flush_out(w);
}

/* One line on stdout, above the live line. */
static void put_line(struct watch *w, const struct txt *t)
{
	live_erase(w);
	sigset_t prev;
	out_open(w, &prev);
	fwrite(t->b, 1, t->n, stdout);
	fputc('\n', stdout);
	out_close(w, &prev);
	flush_out(w);
	live_draw(w);
}

/* "drsn: watch: ..." on stderr, above the live line. */
static void put_err(struct watch *w, const struct txt *t)
{
	live_erase(w);
	drsn__cli_err("watch: %s", t->b);
	live_draw(w);
}

/* "drsn: watch: PATH: " and the rest on stderr, above the live line; 1. */
static int path_err(struct watch *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int path_err(struct watch *w, const char *fmt, ...)
{
	struct txt t;
	tx_reset(&t);
	tx_str(&t, w->path);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t.b + t.n, sizeof t.b - t.n, fmt, ap);
	va_end(ap);
	put_err(w, &t);
	return 1;
}

static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(s) ? s->valuestring : NULL;
}

static int num_of(const cJSON *o, const char *name, double *out)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!cJSON_IsNumber(n))
		return 0;
	*out = n->valuedouble;
	return 1;
}

/* ---- events ------------------------------------------------------------------ */

static void on_hello(struct watch *w, cJSON *ev)
{
	cJSON_Delete(w->hello);
	w->hello = ev;   /* kept: its label strings */
	w->n_labels = 0;
	w->label_w = 4;
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(ev, "model");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(model, "labels"), *l;
	cJSON_ArrayForEach(l, labels) {
		const char *s = cJSON_IsString(l) ? l->valuestring : "?";
		if (w->n_labels < MAX_LABELS)
			w->label[w->n_labels] = s;
		w->n_labels++;
		char q[DRSN__LABEL_TEXT_MAX];
		int n = (int)drsn__label_text(s, q, sizeof q);
		if (s[0] != '_' && n > w->label_w)
			w->label_w = n < 16 ? n : 16;
	}
	double v;
	if (num_of(ev, "version", &v) && v != 1) {
		struct txt e;
		tx_reset(&e);
		tx_printf(&e, "%s: drsnd speaks protocol version %g; drsn watch knows version 1", w->path, v);
		put_err(w, &e);
	}
	if (w->json)
		return;
	struct txt t;
	tx_reset(&t);
	tx_printf(&t, "drsnd ");
	tx_str(&t, str_of(ev, "daemon_version") ? str_of(ev, "daemon_version") : "?");
	tx_printf(&t, " on ");
	tx_str(&t, w->path);
	tx_printf(&t, ": ");
	if (cJSON_IsObject(model)) {
		tx_printf(&t, "model ");
		tx_str(&t, str_of(model, "name") ? str_of(model, "name") : "?");
		tx_printf(&t, ", %d labels (keywords:", w->n_labels);
		int k = 0;
		cJSON_ArrayForEach(l, labels)
			if (cJSON_IsString(l) && l->valuestring[0] != '_') {
				tx_printf(&t, "%s", k++ ? ", " : " ");
				tx_label(&t, l->valuestring, 0);
			}
		tx_printf(&t, "%s)", k ? "" : " none");
	} else {
		tx_printf(&t, "no model (levels and status only)");
	}
	tx_printf(&t, ", source ");
	tx_str(&t, str_of(ev, "source") ? str_of(ev, "source") : "?");
	if (num_of(ev, "sample_rate", &v))
		tx_printf(&t, ", %g Hz", v);
	put_line(w, &t);
}

static void on_detection(struct watch *w, const cJSON *ev)
{
	w->detections++;
	if (w->json)
		return;
	double at = now_s(CLOCK_REALTIME), score = NAN, start = NAN, end = NAN;
	num_of(ev, "time", &at);
	num_of(ev, "score", &score);
	num_of(ev, "start", &start);
	num_of(ev, "end", &end);
	struct txt t;
	tx_reset(&t);
	tx_clock(&t, at);
	tx_printf(&t, "  ");
	tx_label(&t, str_of(ev, "label"), w->label_w);
	tx_printf(&t, "  %.2f  [%.2f-%.2f s]  ", score, start, end);
	tx_str(&t, str_of(ev, "stream"));
	put_line(w, &t);
}

/* A level line off a terminal: at most one a second. */
static void level_line(struct watch *w)
{
	double now = now_s(CLOCK_MONOTONIC);
	if (now < w->next_level_line)
		return;
	w->next_level_line = now + LEVEL_LINE_S;
	struct txt t;
	tx_reset(&t);
	tx_clock(&t, now_s(CLOCK_REALTIME));
	tx_printf(&t, "  level  rms %.1f dBFS, peak %.1f dBFS", w->rms, w->peak);
	if (w->have_status) {
		tx_printf(&t, "; ");
		tx_health(&t, w, 0);
	}
	put_line(w, &t);
}

static void on_level(struct watch *w, const cJSON *ev)
{
	if (w->json || !w->levels)
		return;
	w->have_level = num_of(ev, "rms_dbfs", &w->rms);
	if (!num_of(ev, "peak_dbfs", &w->peak))
		w->peak = w->rms;
	if (!w->have_level)
		return;
	if (live_mode(w))
		live_draw(w);
	else
		level_line(w);
}

/* What to do about an input that is not ok, by kind of source as in the
 * warnings drsnd logs: no mixer advice for a file, which no setting changes;
 * for stdin and fd:N it is the program that feeds drsnd that records. */
static void health_hint(struct watch *w)
{
	enum { MIC, FILE_, PIPE } kind = !strncmp(w->source, "file:", 5) ? FILE_ :
					  !strcmp(w->source, "stdin") || !strncmp(w->source, "fd:", 3) ? PIPE : MIC;
	struct txt t;
	tx_reset(&t);
	const char *h = w->health;
	if (!strcmp(h, "ok") || !strcmp(h, "unknown"))
		return;
	if (!strcmp(h, "silent"))
		tx_printf(&t, "%s", kind == FILE_ ?
			  "hint: the file is digital silence here (every sample 0): a recording of a muted "
			  "or unplugged input?" : kind == PIPE ?
			  "hint: drsnd hears digital silence (every sample 0): the program that feeds it "
			  "records from a muted or wrong input: unmute it (alsamixer, F4: capture, M; pactl "
			  "set-source-mute @DEFAULT_SOURCE@ 0) or have it record from another (arecord -l, "
			  "pactl list short sources)" :
			  "hint: drsnd hears digital silence (every sample 0): the capture is muted or it is "
			  "the wrong device: unmute it (alsamixer, F4: capture, M; pactl set-source-mute "
			  "@DEFAULT_SOURCE@ 0) or pick another (drsnd --list-devices; [audio] source)");
	else if (!strcmp(h, "low")) {
		tx_printf(&t, "hint: the input is far too quiet (");
		if (w->have_src_peak)
			tx_printf(&t, "its loudest sample in 30 s: %.1f dBFS; ", w->src_peak);
		tx_printf(&t, "speech 1 m from a microphone peaks at -30 to -10 dBFS): %s", kind == FILE_ ?
			  "the file was recorded with far too little gain: raise it (sox --norm IN OUT)" :
			  kind == PIPE ? "raise the capture level of the program that feeds drsnd (alsamixer, "
			  "F4: capture; pactl set-source-volume @DEFAULT_SOURCE@ 100%)" :
			  "raise the capture level (alsamixer, F4: capture; pactl set-source-volume "
			  "@DEFAULT_SOURCE@ 100%)");
	} else if (!strcmp(h, "quiet"))
		tx_printf(&t, "hint: nothing above -50 dBFS for 30 s (it was louder before): %s",
			  kind == FILE_ ? "a quiet stretch of the file" : "a quiet room, or speak up");
	else if (!strcmp(h, "clipping"))
		tx_printf(&t, "hint: the input clips (%.2f %% of the last window's samples at full scale): %s",
			  w->clipped_share * 100, kind == FILE_ ?
			  "the file was recorded with too much gain, and no setting undoes that: record it "
			  "again with less" : kind == PIPE ?
			  "lower the capture level of the program that feeds drsnd (alsamixer, F4: capture; "
			  "pactl set-source-volume @DEFAULT_SOURCE@ 50%)" :
			  "lower the capture level (alsamixer, F4: capture; pactl set-source-volume "
			  "@DEFAULT_SOURCE@ 50%)");
	else {
		tx_printf(&t, "hint: source health ");
		tx_str(&t, h);
		tx_printf(&t, " (docs/protocol.md, status source.health)");
	}
	put_line(w, &t);
}

static void on_status(struct watch *w, const cJSON *ev)
{
	if (w->json || !w->levels)
		return;
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(ev, "source");
	const char *state = str_of(src, "state"), *health = str_of(src, "health");
	char was[sizeof w->health];
	memcpy(was, w->health, sizeof was);
	w->have_status = 1;
	snprintf(w->state, sizeof w->state, "%s", state ? state : "");
	const char *name = str_of(src, "name");
	snprintf(w->source, sizeof w->source, "%s", name ? name : "");
	w->have_health = health != NULL;   /* older drsnd: no source.health */
	snprintf(w->health, sizeof w->health, "%s", health ? health : "");
	w->have_src_peak = num_of(src, "peak_dbfs", &w->src_peak);
	if (!num_of(src, "clipped_share", &w->clipped_share))
		w->clipped_share = 0;
	if (w->have_health && strcmp(was, w->health))
		health_hint(w);
	if (live_mode(w))
		live_draw(w);
}

static void on_scores(struct watch *w, const cJSON *ev)
{
	if (w->json || !w->scores)
		return;
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(ev, "smoothed"), *x;
	if (!cJSON_IsArray(a))
		a = cJSON_GetObjectItemCaseSensitive(ev, "scores");
	int best[3] = {-1, -1, -1}, i = 0;
	double bv[3] = {0};
	cJSON_ArrayForEach(x, a) {
		double v = cJSON_IsNumber(x) ? x->valuedouble : -1;
		for (int k = 0; k < 3; k++)
			if (best[k] < 0 || v > bv[k]) {
				for (int m = 2; m > k; m--) {
					best[m] = best[m - 1];
					bv[m] = bv[m - 1];
				}
				best[k] = i;
				bv[k] = v;
				break;
			}
		i++;
	}
	tx_reset(&w->top);
	for (int k = 0; k < 3 && best[k] >= 0; k++) {
		tx_printf(&w->top, "%s", k ? "  " : "");
		if (best[k] < w->n_labels && best[k] < MAX_LABELS)
			tx_label(&w->top, w->label[best[k]], 0);
		else
			tx_printf(&w->top, "#%d", best[k]);
		tx_printf(&w->top, " %.2f", bv[k]);
	}
	if (live_mode(w)) {
		live_draw(w);
		return;
	}
	double st = NAN;
	num_of(ev, "stream_time", &st);
	struct txt t;
	tx_reset(&t);
	tx_clock(&t, now_s(CLOCK_REALTIME));
	tx_printf(&t, "  scores  %s  [%.2f s]", w->top.b, st);
	put_line(w, &t);
}

static void on_error(struct watch *w, const cJSON *ev)
{
	struct txt t;
	tx_reset(&t);
	tx_printf(&t, "drsnd error ");
	tx_str(&t, str_of(ev, "code") ? str_of(ev, "code") : "?");
	if (str_of(ev, "message")) {
		tx_printf(&t, ": ");
		tx_str(&t, str_of(ev, "message"));
	}
	put_err(w, &t);
}

static void on_subscribed(struct watch *w, const cJSON *ev)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(ev, "warnings")) {
		struct txt t;
		tx_reset(&t);
		tx_printf(&t, "drsnd: ");
		tx_str(&t, str_of(x, "event"));
		tx_printf(&t, ": ");
		tx_str(&t, str_of(x, "message"));
		put_err(w, &t);
	}
}

/* One line from drsnd (n bytes, no newline). 0, or 1 when it is not drsnd's. */
static int on_line(struct watch *w, const char *line, size_t n)
{
	while (n && line[n - 1] == '\r')
		n--;
	if (!n)
		return 0;
	cJSON *ev = cJSON_ParseWithLength(line, n);
	const char *type = str_of(ev, "type");
	if (!type) {
		cJSON_Delete(ev);
		if (!w->hello)
			return path_err(w, ": not drsnd's event socket (it did not send a hello; drsnd's PCM socket?)");
		struct txt t;
		tx_reset(&t);
		tx_str(&t, w->path);
		char head[61];
		snprintf(head, sizeof head, "%s", line);
		tx_printf(&t, ": drsnd sent a line that is not a JSON event (skipped): ");
		tx_str(&t, head);
		put_err(w, &t);
		return 0;
	}
	if (!w->hello && strcmp(type, "hello") && strcmp(type, "error")) {
		cJSON_Delete(ev);
		return path_err(w, ": not drsnd's event socket (its first line is not a hello)");
	}
	if (w->json) {
		live_erase(w);
		fwrite(line, 1, n, stdout);
		fputc('\n', stdout);
		flush_out(w);
	}
	if (!strcmp(type, "hello")) {
		on_hello(w, ev);
		return 0;   /* ev is kept */
	}
	if (!strcmp(type, "detection"))
		on_detection(w, ev);
	else if (!strcmp(type, "level"))
		on_level(w, ev);
	else if (!strcmp(type, "status"))
		on_status(w, ev);
	else if (!strcmp(type, "scores"))
		on_scores(w, ev);
	else if (!strcmp(type, "error"))
		on_error(w, ev);
	else if (!strcmp(type, "subscribed"))
		on_subscribed(w, ev);
	cJSON_Delete(ev);
	return 0;
}

/* ---- the connection ---------------------------------------------------------- */

/* Why connect() to w->path failed with err, in one line that names the path
 * and what to do. */
static void connect_error(struct watch *w, int err)
{
	struct txt t;
	struct stat st;
	tx_reset(&t);
	tx_str(&t, w->path);
	int have = stat(w->path, &st) == 0;
	if (err == ENOENT) {
		tx_printf(&t, ": no such socket: is drsnd running? (systemctl status drsnd; drsnd --socket ");
		tx_str(&t, w->path);
		tx_printf(&t, ")");
	} else if (have && !S_ISSOCK(st.st_mode)) {
		tx_printf(&t, ": not a socket (%s): drsn watch --socket takes drsnd's [socket] path",
			  S_ISDIR(st.st_mode) ? "a folder" : S_ISREG(st.st_mode) ? "a regular file" : "not a socket file");
	} else if (err == EACCES || err == EPERM) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s", w->path);
		char *slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		if (!have || (slash && access(dir, X_OK) != 0)) {
			tx_printf(&t, ": permission denied: its folder %s is not open to you", slash ? dir : ".");
		} else {
			const struct group *g = getgrgid(st.st_gid);
			const struct passwd *pw = getpwuid(geteuid());
			char gname[64], uname[64];
			if (g)
				snprintf(gname, sizeof gname, "%s", g->gr_name);
			else
				snprintf(gname, sizeof gname, "%u", (unsigned)st.st_gid);
			if (pw)
				snprintf(uname, sizeof uname, "%s", pw->pw_name);
			else
				snprintf(uname, sizeof uname, "%u", (unsigned)geteuid());
			int listed = 0;   /* a member in the group database, maybe not in this login */
			for (char **m = g ? g->gr_mem : NULL; m && *m && pw; m++)
				listed |= !strcmp(*m, pw->pw_name);
			tx_printf(&t, ": permission denied: the socket is mode %04o, group %s ([socket] mode and "
				       "group in drsnd.conf; the systemd unit sets group audio)",
				  (unsigned)(st.st_mode & 07777), gname);
			if (!(st.st_mode & 0060))
				tx_printf(&t, "; its mode lets no group in: set [socket] mode = 0660");
			else if (st.st_gid == 0)   /* a drsnd run by hand as root: not a group to join */
				tx_printf(&t, "; give it a group of its own (drsnd --set socket.group=audio, or "
					       "[socket] group) and add yourself to that one: sudo usermod -aG "
					       "audio %s, then log out and in again", uname);
			else if (listed)
				tx_printf(&t, "; you are in group %s, but not yet in this login: log out and in "
					       "again (or: newgrp %s)", gname, gname);
			else
				tx_printf(&t, "; add yourself to the group: sudo usermod -aG %s %s, then log out and "
					       "in again", gname, uname);
		}
	} else if (err == ECONNREFUSED) {
		tx_printf(&t, ": connection refused: no drsnd listens there (a socket left by one that died?): "
			       "systemctl status drsnd");
	} else {
		tx_printf(&t, ": cannot connect: %s", strerror(err));
	}
	drsn__cli_err("watch: %s", t.b);
}

static int send_line(struct watch *w, const char *line)
{
	size_t n = strlen(line);
	while (n) {
		/* never waits: a drsnd that reads no requests (its queue to us
		 * is half full) costs a status request, not the watch */
		ssize_t k = send(w->fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;   /* gone: the read that follows says so */
		line += k;
		n -= (size_t)k;
	}
	return 0;
}

static int parse_args(struct watch *w, int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"levels", no_argument, NULL, 'l'},
		{"scores", no_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'J'},
		{"count", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	opterr = 0;   /* drsn__cli_bad_option says it, in one line */
	while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 's': w->path = optarg; break;
		case 'l': w->levels = 1; break;
		case 'S': w->scores = 1; break;
		case 'J': w->json = 1; break;
		case 'n':
			errno = 0;
			w->count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || w->count < 1) {
				drsn__cli_err("watch: --count: '%s' is not an integer >= 1", optarg);
				return 2;
			}
			break;
		case 'T':
			w->timeout = strtod(optarg, &end);
			if (end == optarg || *end || !(w->timeout > 0 && w->timeout <= 1e7)) {
				drsn__cli_err("watch: --timeout: '%s' is not a number of seconds in (0, 10000000]", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: return drsn__cli_bad_option("watch", c, argv, opts);
		}
	}
	if (optind < argc) {
		drsn__cli_err("watch: unexpected argument '%s' (try 'drsn watch --help')", argv[optind]);
		return 2;
	}
	if (!w->path[0] || strlen(w->path) >= sizeof ((struct sockaddr_un *)0)->sun_path) {
		drsn__cli_err("watch: --socket: '%s' is not a socket path (1 to %zu bytes)", w->path,
			      sizeof ((struct sockaddr_un *)0)->sun_path - 1);
		return 2;
	}
	return -1;
}

/* Read what drsnd sent and handle its complete lines: 0, 1 when the
 * connection ended or is not drsnd's (said), -1 when read would block. */
static int pump(struct watch *w)
{
	if (w->len == w->cap) {
		if (w->cap >= LINE_MAX_BYTES) {
			if (w->hello)
				return path_err(w, ": drsnd sent a line longer than %u bytes", LINE_MAX_BYTES);
			return path_err(w, ": not drsnd's event socket (%u bytes and no line)", LINE_MAX_BYTES);
		}
		char *b = realloc(w->buf, 2 * w->cap);
		if (!b) {
			drsn__cli_err("watch: out of memory");
			return 1;
		}
		w->buf = b;
		w->cap *= 2;
	}
	ssize_t k = read(w->fd, w->buf + w->len, w->cap - w->len);
	if (k < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (k <= 0) {
		if (k < 0 && errno != ECONNRESET)
			return path_err(w, ": %s", strerror(errno));
		return path_err(w, ": drsnd closed the connection (stopped or restarted)");
	}
	w->len += (size_t)k;
	size_t at = 0;
	for (;;) {
		char *nl = memchr(w->buf + at, '\n', w->len - at);
		if (!nl)
			break;
		size_t n = (size_t)(nl - (w->buf + at));
		*nl = '\0';   /* the line as a string too (message excerpts) */
		if (on_line(w, w->buf + at, n))
			return 1;
		at += n + 1;
		if ((w->count && w->detections >= w->count) || w->stdout_failed)
			break;
	}
	memmove(w->buf, w->buf + at, w->len - at);
	w->len -= at;
	/* before a hello, a long run of bytes with no newline is not drsnd */
	if (!w->hello && w->len >= 65536) {
		return path_err(w, ": not drsnd's event socket (no hello in its first 64 KiB; drsnd's PCM socket?)");
	}
	return 0;
}

int drsn__cmd_watch(int argc, char **argv)
{
	struct watch w = {.path = DRSN_CFG_DEFAULT_SOCKET, .fd = -1};
	int code = parse_args(&w, argc, argv);
	if (code >= 0)
		return code;
	code = 1;
	w.tty = isatty(STDOUT_FILENO);
	w.cap = 65536;
	w.buf = malloc(w.cap);
	if (!w.buf) {
		drsn__cli_err("watch: out of memory");
		return 1;
	}

	/* Ctrl-C, SIGTERM, SIGHUP: the live line erased, exit 0. While
	 * connecting they interrupt connect() (drsnd's backlog may be full);
	 * then they are blocked but while ppoll waits, so none is lost between
	 * a check and the wait. */
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	sigset_t block, wait_mask;
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		sigaddset(&block, sigs[i]);
		struct sigaction act = {.sa_handler = on_signal}, old;   /* no SA_RESTART */
		sigemptyset(&act.sa_mask);
		/* one ignored by who started us (nohup) stays ignored */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &act, NULL);
	}
	signal(SIGPIPE, SIG_IGN);   /* a reader gone: EPIPE, a quiet end */

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, w.path, strlen(w.path) + 1);
	w.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w.fd < 0) {
		drsn__cli_err("watch: socket: %s", strerror(errno));
		goto out;
	}
	/* a full backlog (drsnd hung or swamped): connect() waits, --timeout
	 * long at most; without one, it says so after CONNECT_NOTE_S and waits on */
	double first_wait = w.timeout > 0 ? w.timeout : CONNECT_NOTE_S;
	struct timeval tv = {(time_t)first_wait, (suseconds_t)((first_wait - floor(first_wait)) * 1e6)};
	setsockopt(w.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int rc = connect(w.fd, (struct sockaddr *)&sa, sizeof sa);
	if (rc < 0 && (errno == EAGAIN || errno == EINPROGRESS) && w.timeout <= 0) {
		struct txt t;
		tx_reset(&t);
		tx_str(&t, w.path);
		tx_printf(&t, ": drsnd has not accepted the connection in %g s (its listen backlog is "
			  "full: is it hung, or swamped with clients?); still waiting (Ctrl-C stops, "
			  "--timeout S gives up)", CONNECT_NOTE_S);
		put_err(&w, &t);
		struct timeval none = {0, 0};
		setsockopt(w.fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
		rc = connect(w.fd, (struct sockaddr *)&sa, sizeof sa);
	}
	if (rc < 0) {
		if (errno == EINTR && stop_signal) {
			code = 0;
		} else if (errno == EAGAIN || errno == EINPROGRESS) {
			struct txt t;
			tx_reset(&t);
			tx_str(&t, w.path);
			tx_printf(&t, ": drsnd did not accept the connection within %g s (--timeout; its "
				  "listen backlog is full?)", w.timeout);
			put_err(&w, &t);
		} else {
			connect_error(&w, errno);
		}
		goto out;
	}
	struct timeval none = {0, 0};
	setsockopt(w.fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigdelset(&wait_mask, sigs[i]);
	w.wait_mask = wait_mask;
	w.blocked = 1;
	/* a status first (its reply comes before any level: health is known
	 * from the first level line on), then what to send us */
	char sub[160];
	snprintf(sub, sizeof sub, "{\"type\":\"subscribe\",\"events\":[\"detection\"%s%s]}\n",
		 w.levels ? ",\"level\",\"status\"" : "", w.scores ? ",\"scores\"" : "");
	const char *status_req = "{\"type\":\"status\",\"id\":\"drsn-watch\"}\n";
	if (w.levels)
		send_line(&w, status_req);
	send_line(&w, sub);

	double t_mono = now_s(CLOCK_MONOTONIC);
	double deadline = w.timeout > 0 ? t_mono + w.timeout : INFINITY;
	/* the health and state as they are now, not only at status_interval_ms
	 * (10 s; 0 = never) and on a change of state; --json passes events as
	 * drsnd sends them, and asks only once */
	double next_status = w.levels && !w.json ? t_mono + STATUS_EVERY_S : INFINITY;
	long seen = 0;
	for (;;) {
		if (stop_signal) {
			code = 0;
			break;
		}
		double now = now_s(CLOCK_MONOTONIC);
		if (now >= next_status) {
			send_line(&w, status_req);
			next_status = now + STATUS_EVERY_S;
		}
		if (now >= deadline) {
			struct txt t;
			tx_reset(&t);
			tx_printf(&t, "no detection within %g s", w.timeout);
			if (w.count > 1)
				tx_printf(&t, " (%ld of %ld)", w.detections, w.count);
			else if (w.detections)
				tx_printf(&t, " of the last (%ld before)", w.detections);
			tx_printf(&t, " on ");
			tx_str(&t, w.path);
			put_err(&w, &t);
			break;
		}
		double wait = fmin(deadline, next_status) - now;
		struct timespec ts, *tsp = NULL;
		if (isfinite(wait)) {
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
			tsp = &ts;
		}
		struct pollfd pfd = {.fd = w.fd, .events = POLLIN};
		int r = ppoll(&pfd, 1, tsp, &wait_mask);
		if (r < 0 && errno != EINTR) {
			drsn__cli_err("watch: poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		int p = pump(&w);
		if (w.stdout_gone) {
			code = 0;
			break;
		}
		if (p > 0 || w.stdout_failed)
			break;
		if (w.detections > seen) {   /* --timeout counts again from each detection */
			seen = w.detections;
			deadline = w.timeout > 0 ? now_s(CLOCK_MONOTONIC) + w.timeout : INFINITY;
		}
		if (w.count && w.detections >= w.count) {
			code = 0;
			break;
		}
	}
out:
	if (stop_signal || w.stdout_gone)
		__fpurge(stdout);   /* a stalled or gone reader: exit() must not wait on it */
	if (w.stdout_gone)
		clearerr(stdout);   /* a quiet end: not a write error for main to say */
	live_erase(&w);
	if (w.stdout_failed)
		code = 1;
	if (w.fd >= 0)
		close(w.fd);
	cJSON_Delete(w.hello);
	free(w.buf);
	return code;
}
