/*
 * Keeps what host libraries print to stderr out of drsnd's log.
 *
 * PortAudio's back ends print straight to stderr when they probe for what
 * is not there: alsa-lib on a box without card 0, libjack when no JACK
 * server runs. That is ~40 lines per Pa_Initialize, and drsnd initialises
 * again on every retry after a device is lost, so the journal would fill
 * with them and bury drsnd's own "retrying" line.
 *
 * Between drsn__hush_begin and drsn__hush_end, fd 2 goes to an anonymous
 * memory file. At the end, each captured line is logged at debug level
 * ("<what>: <line>"; run drsnd with log_level = debug to see them).
 * drsnd's own log writes to a copy of stderr (log.h, drsn__log_init), so
 * its lines from other threads are never captured, even while a hushed
 * call hangs (source_pa.c opens devices on a worker thread); a "drsnd: "
 * line printed to stderr directly is passed on at the end. Call both from
 * one thread; never from the real-time audio callback. If fd 2 cannot be
 * redirected, nothing is captured and nothing is lost.
 */
#ifndef DRSN_DAEMON_HUSH_H
#define DRSN_DAEMON_HUSH_H

struct drsn__hush {
	int saved_fd;    /* the real stderr, or -1: not capturing */
	int capture_fd;
};

void drsn__hush_begin(struct drsn__hush *h);
/* Restores stderr; returns how many lines were captured. */
int drsn__hush_end(struct drsn__hush *h, const char *what);

/*
 * Outside a hush, host libraries still print now and then: PortAudio's
 * ALSA stream thread traces each failed call ("Expression '...' failed in
 * 'src/hostapi/alsa/pa_linux_alsa.c', line: ...", three lines per lost
 * device), raw and without a level in the journal. They print through
 * stdio's stderr (PortAudio's PaUtil_DebugPrint, alsa-lib's and libjack's
 * default error handlers, libpulse's log), so drsn__hush_stdio replaces that
 * FILE (glibc lets a program assign stderr) with one that logs each line,
 * named: PortAudio, alsa-lib and JACK lines at debug level, any other at
 * warning (it may be a library's last word before an abort). Lines of
 * drsnd's own ("drsnd: ...", "<N>...") pass as they are; inside a hush the
 * text goes on to fd 2 (the capture). The line is logged by the thread that
 * printed it, at once: nothing is queued, nothing can be lost to a crash,
 * and it costs a library's thread no more than its own fprintf did (at the
 * default level, less: a debug line is not written at all). fd 2 itself is
 * untouched: what writes there directly (ASan and UBSan reports, glibc's
 * fatal errors) reaches the real stderr as before, and hushes still capture
 * it. Once, at start (before any thread), after drsn__log_init.
 */
int drsn__hush_stdio(void);

#endif
