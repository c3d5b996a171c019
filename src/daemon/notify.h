/*
 * systemd integration: READY=1 / RELOADING=1 / STOPPING=1 / STATUS= through
 * sd_notify, and WATCHDOG=1 from a libuv timer at half of WATCHDOG_USEC
 * (sd_watchdog_enabled). Without the 'systemd' build feature, or when not
 * started by systemd (no NOTIFY_SOCKET), every call does nothing.
 *
 * The watchdog is fed from the loop thread, so a stuck loop (not just a
 * live process) gets restarted.
 */
#ifndef DRSN_DAEMON_NOTIFY_H
#define DRSN_DAEMON_NOTIFY_H

#include <stdint.h>

#include <uv.h>

struct drsn__notify {
	uv_timer_t watchdog;
	int watchdog_on;
	uint64_t watchdog_usec;
	uint64_t pings;
};

/* Start the watchdog timer if systemd asked for one. */
void drsn__notify_init(struct drsn__notify *n, uv_loop_t *loop);
/* Close the timer (the loop must run once more to finish closing). */
void drsn__notify_close(struct drsn__notify *n);

/* Send "READY=1\nSTATUS=<status>" etc. status may be NULL. */
void drsn__notify_ready(const char *status);
void drsn__notify_reloading(void);
void drsn__notify_stopping(void);
void drsn__notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 if this build talks to systemd at all. */
int drsn__notify_available(void);

#endif
