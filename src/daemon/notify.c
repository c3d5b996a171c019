#include "daemon/notify.h"

#include <stdarg.h>
#include <stdio.h>

#include "daemon/log.h"
#include "drsn_config.h"

#if DRSN_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static void notify_send(const char *msg)
{
#if DRSN_HAVE_SYSTEMD
	int rc = sd_notify(0, msg);
	if (rc < 0)
		log_debug("sd_notify: %s", uv_strerror(rc));
#else
	(void)msg;
#endif
}

int drsn__notify_available(void)
{
	return DRSN_HAVE_SYSTEMD;
}

#if DRSN_HAVE_SYSTEMD
static void on_watchdog(uv_timer_t *t)
{
	struct drsn__notify *n = t->data;
	n->pings++;
	notify_send("WATCHDOG=1");
}
#endif

void drsn__notify_init(struct drsn__notify *n, uv_loop_t *loop)
{
	n->watchdog_on = 0;
	n->pings = 0;
	n->watchdog_usec = 0;
	uv_timer_init(loop, &n->watchdog);
	n->watchdog.data = n;
#if DRSN_HAVE_SYSTEMD
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		n->watchdog_usec = usec;
		uint64_t ms = usec / 2000;   /* half the timeout */
		if (ms == 0)
			ms = 1;
		n->watchdog_on = 1;
		uv_timer_start(&n->watchdog, on_watchdog, ms, ms);
		log_info("systemd watchdog: %llu us, pinging every %llu ms",
			 (unsigned long long)usec, (unsigned long long)ms);
	}
#endif
	/* The watchdog alone must not keep the loop alive. */
	uv_unref((uv_handle_t *)&n->watchdog);
}

void drsn__notify_close(struct drsn__notify *n)
{
	uv_timer_stop(&n->watchdog);
	uv_close((uv_handle_t *)&n->watchdog, NULL);
}

void drsn__notify_ready(const char *status)
{
	char msg[512];
	snprintf(msg, sizeof msg, "READY=1%s%s", status ? "\nSTATUS=" : "", status ? status : "");
	notify_send(msg);
}

void drsn__notify_reloading(void)
{
	notify_send("RELOADING=1\nSTATUS=reloading");
}

void drsn__notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=stopping");
}

void drsn__notify_status(const char *fmt, ...)
{
	char msg[512] = "STATUS=";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof msg - 7, fmt, ap);
	va_end(ap);
	notify_send(msg);
}
