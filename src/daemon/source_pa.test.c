/* pa: a host suspend (lid closed, systemctl suspend). CLOCK_MONOTONIC, the
 * loop's clock, stands still while the host sleeps, CLOCK_BOOTTIME runs on:
 * the source must notice the difference, log it once per suspend, count it
 * in its status and tell the daemon (on_suspend), and take nothing else for
 * one. The clocks come from drsn__source_clocks_hook: the monotonic one is
 * the real one, the boot clock that plus what the test says the host slept.
 * The device does not exist: the source is retrying meanwhile (PortAudio is
 * initialised for real, on the threadpool), which is when a laptop's USB
 * microphone may well be away over a suspend too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/log.h"
#include "daemon/source_impl.h"

static uint64_t slept_ms;   /* the host's suspends so far */

static void fake_clocks(uint64_t *mono_ms, uint64_t *boot_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	*mono_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	*boot_ms = *mono_ms + slept_ms;
}

struct seen {
	int suspends;
	double seconds;
	int closed;
};

static void on_audio(void *user, const float *x, size_t n)
{
	(void)user;
	(void)x;
	(void)n;
}

static void on_state(void *user, enum drsn__source_state st, const char *detail)
{
	(void)user;
	(void)st;
	(void)detail;
}

static void on_suspend(void *user, double seconds)
{
	struct seen *seen = user;
	seen->suspends++;
	seen->seconds = seconds;
}

static void on_tick(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Runs the loop for ms milliseconds: the source's watch timer turns. */
static void run_for(uv_loop_t *loop, uint64_t ms)
{
	uv_timer_t t;
	uv_timer_init(loop, &t);
	uv_timer_start(&t, on_tick, ms, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static void on_done(void *user)
{
	((struct seen *)user)->closed = 1;
}

/* What the log wrote so far. */
static char got[65536];

static const char *err_text(FILE *f)
{
	rewind(f);
	size_t n = fread(got, 1, sizeof got - 1, f);
	got[n] = 0;
	fseek(f, 0, SEEK_END);
	return got;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The source's status and what on_suspend heard: n suspends, the last
 * one of `last` seconds, `total` in all (to 0.1 s: the test's own turns) */
static void expect(const struct drsn__source *s, const struct seen *seen, uint64_t n, double last,
		   double total)
{
	struct drsn__source_stats st;
	drsn__source_get_stats(s, &st);
	assert_int_equal(st.suspends, n);
	assert_true(st.last_suspend_s > last - 0.1 && st.last_suspend_s < last + 0.1);
	assert_true(st.suspended_s > total - 0.1 && st.suspended_s < total + 0.1);
	assert_int_equal(seen->suspends, (int)n);
	assert_true(!n || (seen->seconds > last - 0.1 && seen->seconds < last + 0.1));
}

static void test_suspend_is_noticed(void **state)
{
	(void)state;
	/* the log goes to a file (drsn__log_init: to a copy of fd 2 as it is
	 * then); cmocka's messages to the real stderr */
	FILE *err = tmpfile();
	assert_non_null(err);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(err), 2) >= 0);
	drsn__log_init();
	dup2(saved, 2);
	close(saved);
	drsn__source_clocks_hook = fake_clocks;

	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct drsn__source_opts o = {
		.spec = "pa:drsn-test-no-such-device", .target_rate = 16000, .chunk = 1600,
		.ring_ms = 2000, .retry_min_ms = 500, .retry_max_ms = 1000, .stall_ms = 3000,
	};
	struct drsn__source_events ev = {on_audio, on_state, on_suspend};
	struct seen seen = {0};
	struct drsn__source *s;
	drsn_error e;
	assert_int_equal(drsn__source_create(&s, &loop, &o, &ev, &seen, &e), 0);
	assert_int_equal(drsn__source_start(s), 0);
	run_for(&loop, 800);   /* several watch turns, none a suspend */
	expect(s, &seen, 0, 0, 0);

	/* the host sleeps a minute: the monotonic clock does not move */
	slept_ms += 60000;
	run_for(&loop, 800);
	expect(s, &seen, 1, 60, 60);
	const char *log = err_text(err);
	assert_int_equal(count(log, "the host was suspended for 60.0 s; the audio of that time was not heard"), 1);
	assert_non_null(strstr(log, "drsnd: warning: pa:drsn-test-no-such-device: the host was suspended"));
	/* not a loop gap as well */
	assert_null(strstr(log, "did not run"));

	/* logged once per suspend: more turns say nothing more */
	run_for(&loop, 800);
	expect(s, &seen, 1, 60, 60);
	assert_int_equal(count(err_text(err), "the host was suspended"), 1);

	/* under SUSPEND_MIN_MS (clock noise, a short s2idle wake-up): nothing */
	slept_ms += 400;
	run_for(&loop, 800);
	expect(s, &seen, 1, 60, 60);

	/* a second suspend: counted on, the last one's length */
	slept_ms += 5000;
	run_for(&loop, 800);
	expect(s, &seen, 2, 5, 65);
	log = err_text(err);
	assert_int_equal(count(log, "the host was suspended for 5.0 s"), 1);
	assert_int_equal(count(log, "the host was suspended"), 2);

	drsn__source_stop(s, on_done, &seen);
	for (int i = 0; i < 1000 && !seen.closed; i++)
		uv_run(&loop, UV_RUN_ONCE);
	assert_true(seen.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
	drsn__source_clocks_hook = NULL;
	fclose(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suspend_is_noticed),
	};
	return cmocka_run_group_tests_name("daemon-source-pa", tests, NULL, NULL);
}
