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

#endif
