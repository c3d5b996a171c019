/* drsn bench [--model M] [--json]: per-window latency of the engine on every
 * SIMD path this machine has, GFLOP/s and fraction of the core's peak, model
 * load time, and the same model's PyTorch latency measured in the same run
 * (train/bench_torch.py), one thread, batch 1. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/source_tree.h"
#include "drsn/drsn.h"
#include "simd/bench_util.h"

extern char **environ;

/* fp32 peak of one core: flops per cycle of the best instruction set here x
 * the core's top clock. Per cycle: two FMA pipes x lanes x 2 flops, as on
 * Zen and Haswell or later (AVX2: 8 lanes) and on the Cortex-A72 and A76 of
 * a Raspberry Pi 4 and 5 (NEON: 4 lanes); SSE2 (no FMA): 4 lanes, two
 * multiplies and two adds; scalar: 1 lane. The clock is cpufreq's
 * cpuinfo_max_freq of the fastest core; where there is none (a VM,
 * qemu-user), an assumed one:
 * 3.1 GHz on x86-64 (the figure this used before), 1.8 GHz on aarch64 (a
 * Raspberry Pi 4's top clock), 1.2 GHz on 32-bit ARM (a Raspberry Pi 3's).
 * 32-bit ARM's NEON kernels have no FMA (ARMv7 -mfpu=neon): one 4-lane
 * multiply-accumulate per cycle, 8 flops, as on the Pi 3's Cortex-A53 (the
 * Pi 2's Cortex-A7 does half that). */
struct peak {
	double flops_per_cycle, ghz, gflops;
	const char *clock;   /* "cpufreq" or "assumed" */
};

#if defined(__aarch64__)
#define ASSUMED_GHZ 1.8
#define NEON_FLOPS 16
#elif defined(__arm__)
#define ASSUMED_GHZ 1.2
#define NEON_FLOPS 8
#else
#define NEON_FLOPS 16
#define ASSUMED_GHZ 3.1
#endif

static struct peak core_peak(const char *best_path)
{
	static const struct {
		const char *name;
		double flops;
	} isa[] = {{"avx2", 32}, {"sse2", 16}, {"neon", NEON_FLOPS}, {"scalar", 4}};
	struct peak p = {4, ASSUMED_GHZ, 0, "assumed"};
	for (size_t i = 0; i < sizeof isa / sizeof isa[0]; i++)
		if (!strcmp(best_path, isa[i].name))
			p.flops_per_cycle = isa[i].flops;
	/* the fastest core's clock: on a big.LITTLE board cpu0 may be a little
	 * one, and a busy single thread runs on a big one */
	const char *f = getenv("DRSN_CPUFREQ_MAX");   /* tests: the one file to read instead */
	long best = 0;
	for (int cpu = 0; cpu < (f && *f ? 1 : 1024); cpu++) {
		char path[96];
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cpufreq/cpuinfo_max_freq", cpu);
		FILE *fp = fopen(f && *f ? f : path, "r");
		long khz = 0;
		if (!fp)
			continue;
		if (fscanf(fp, "%ld", &khz) == 1 && khz >= 100000 && khz <= 10000000 && khz > best)
			best = khz;
		fclose(fp);
	}
	if (best) {
		p.ghz = best / 1e6;
		p.clock = "cpufreq";
	}
	p.gflops = p.flops_per_cycle * p.ghz;
	return p;
}

#define LOAD_RUNS 21
#define MAX_PATHS 8

static void usage(FILE *f)
{
	fprintf(f,
		"usage: drsn bench [-m|--model M.safetensors] [--json] [--runs N] [--no-torch]\n\n"
		"Times one window of the model (median of N runs, default 200, one thread, thread\n"
		"CPU time) on every SIMD path available here, prints GFLOP/s (2 x MACs / latency)\n"
		"and the fraction of the core's fp32 peak for the path drsn would use (flops\n"
		"per cycle of the best path x the clock in cpufreq, else an assumed %.1f GHz),\n"
		"the model load time (median of %d loads), and the same model's PyTorch CPU\n"
		"latency at batch 1 with one thread, measured now by train/bench_torch.py, with\n"
		"the speed-up. Last, what that means for drsnd: the share of one core a stream\n"
		"takes at its default inference_hop_ms = 100 (\"realtime\" in --json).\n"
		"Without --model: the default model that every drsn command uses\n"
		"($DRSN_MODEL, else the installed or the source tree's DRSN-CW), if it exists:\n"
		"  %s\n"
		"else a random-init default-architecture DRSN-CW exported on the fly by\n"
		"train/export.py --random. --no-torch skips PyTorch; if PyTorch fails, drsn's\n"
		"figures are still printed (\"torch\": null) and the exit status is 1. train/ is\n"
		"not installed: it is $DRSN_SOURCE_ROOT/train, else (a drsn run from its build\n"
		"tree) that tree's source tree's.\n",
		ASSUMED_GHZ, LOAD_RUNS, drsn_default_model_path());
}

/* train/ is not installed: $DRSN_SOURCE_ROOT, else the source tree of a drsn
 * run from its build tree; NULL (and an error naming both) for an installed
 * drsn. */
static const char *source_root(const char *script)
{
	const char *r = getenv("DRSN_SOURCE_ROOT");
	if (r && *r)
		return r;
	r = drsn__source_root();
	if (!r)
		drsn__cli_err("bench: %s is in drsnd's source tree, which is not installed: set "
			      "DRSN_SOURCE_ROOT to it, or run drsn from its build tree", script);
	return r;
}

static const char *python(void)
{
	const char *p = getenv("PYTHON");
	return p && *p ? p : "/usr/bin/python3";
}

/* Run argv (stderr passes through); its stdout goes to out (NUL-terminated,
 * truncated to cap - 1). Returns the exit status, or -errno if it could not
 * be started; a child killed by a signal counts as status 128 + signal. */
static int run_capture(char *const argv[], char *out, size_t cap)
{
	int fd[2], rc;
	pid_t pid;
	posix_spawn_file_actions_t fa;
	if (pipe(fd))
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fd[0]);
	posix_spawn_file_actions_addclose(&fa, fd[1]);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	if (rc) {
		close(fd[0]);
		return -rc;
	}
	size_t len = 0;
	char sink[512];
	for (;;) {
		ssize_t n = len + 1 < cap ? read(fd[0], out + len, cap - 1 - len)
					  : read(fd[0], sink, sizeof sink);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < cap)
			len += (size_t)n;
	}
	out[len] = '\0';
	close(fd[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The default model, as every other command finds it (drsn_default_model_path):
 * 0 with *source set, or -ENOENT when there is none. $DRSN_MODEL is used even
 * if it is missing, so that the load error names it. */
static int find_default(char *path, size_t n, const char **source)
{
	const char *env = getenv("DRSN_MODEL");
	snprintf(path, n, "%s", drsn_default_model_path());
	if (env && *env) {
		*source = "$DRSN_MODEL";
		return 0;
	}
	*source = "shipped";
	return access(path, R_OK) == 0 ? 0 : -ENOENT;
}

/* A random-init default DRSN-CW exported to a fresh directory dir. */
static int export_random(char *path, size_t n, char *dir)
{
	if (!mkdtemp(dir)) {
		drsn__cli_err("bench: cannot create a temporary directory from %s: %s", dir,
			      strerror(errno));
		return -errno;
	}
	char script[1024], out[4096];
	const char *root = source_root("train/export.py");
	if (!root)
		return -ENOENT;
	snprintf(script, sizeof script, "%s/train/export.py", root);
	snprintf(path, n, "%s/default-cw-random.safetensors", dir);
	char *argv[] = {(char *)python(), script, "--random", "--variant", "cw", "--arch", "default",
			"--seed", "1", "-o", path, NULL};
	int rc = run_capture(argv, out, sizeof out);
	if (rc) {
		drsn__cli_err("bench: %s %s --random failed (%s)", python(), script,
			      rc < 0 ? strerror(-rc) : "non-zero exit");
		return -EIO;
	}
	return 0;
}

struct timing {
	const char *name;
	double cpu_ms, wall_ms; /* medians per window */
};

/* Median per-window times of drsn_ctx_run on the path selected now. */
static int time_windows(drsn_ctx *c, const float *x, int runs, struct timing *t, double *buf)
{
	double *wall = buf + runs;
	const int warm = runs / 10 > 5 ? runs / 10 : 5;
	for (int i = 0; i < warm; i++)
		if (drsn_ctx_run(c, x, NULL))
			return -EINVAL;
	for (int i = 0; i < runs; i++) {
		const double c0 = drsn__bench_cpu(), w0 = drsn__bench_wall();
		if (drsn_ctx_run(c, x, NULL))
			return -EINVAL;
		wall[i] = 1e3 * (drsn__bench_wall() - w0);
		buf[i] = 1e3 * (drsn__bench_cpu() - c0);
	}
	t->cpu_ms = drsn__bench_median(buf, runs);
	t->wall_ms = drsn__bench_median(wall, runs);
	return 0;
}

struct torch_result {
	int ok;
	char version[64];
	double cpu_ms, wall_ms;
};

static int run_torch(const char *model, int runs, struct torch_result *r)
{
	char script[1024], nruns[16], out[8192];
	const char *root = source_root("train/bench_torch.py");
	if (!root)
		return -ENOENT;
	snprintf(script, sizeof script, "%s/train/bench_torch.py", root);
	snprintf(nruns, sizeof nruns, "%d", runs);
	char *argv[] = {(char *)python(), script, (char *)model, "--runs", nruns, "--json", NULL};
	int rc = run_capture(argv, out, sizeof out);
	if (rc) {
		drsn__cli_err("bench: %s %s failed (%s); --no-torch skips PyTorch", python(), script,
			      rc < 0 ? strerror(-rc) : "non-zero exit");
		return -EIO;
	}
	cJSON *o = cJSON_Parse(out);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "torch");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "cpu_ms_median");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "wall_ms_median");
	if (!cJSON_IsString(v) || !cJSON_IsNumber(c) || !cJSON_IsNumber(w) || !(c->valuedouble > 0)) {
		drsn__cli_err("bench: %s printed no usable JSON result: %.200s", script, out);
		cJSON_Delete(o);
		return -EPROTO;
	}
	snprintf(r->version, sizeof r->version, "%s", v->valuestring);
	r->cpu_ms = c->valuedouble;
	r->wall_ms = w->valuedouble;
	r->ok = 1;
	cJSON_Delete(o);
	return 0;
}

/* The real-time budget at drsnd's default [detect] inference_hop_ms: the
 * share of one core the network takes per stream, and how many streams one
 * core could run (the network alone, no margin for the rest). */
#define BUDGET_HOP_MS 100.0

static double streams_per_core(double cpu_ms)
{
	return floor(BUDGET_HOP_MS / cpu_ms);
}

static void print_text(const char *path, const char *source, const drsn_model *m, double load_ms,
		       int runs, const struct timing *t, int np, const struct timing *chosen,
		       const struct torch_result *tr)
{
	const double macs = (double)drsn_model_macs(m);
	printf("model      %s (%s)\n", path, source);
	printf("           %s, %d x %d input, %lld parameters, %.2f M MACs per window\n",
	       drsn_model_variant(m), drsn_model_frames(m), drsn_model_bands(m),
	       (long long)drsn_model_n_params(m), macs * 1e-6);
	printf("load       %.3f ms (median of %d loads; target < 5 ms)\n\n", load_ms, LOAD_RUNS);
	printf("per window, one thread, median of %d runs (thread CPU time; wall in brackets):\n", runs);
	for (int i = 0; i < np; i++)
		printf("  %-7s %9.3f ms  [%8.3f ms]  %7.2f GFLOP/s  %5.1fx scalar%s\n", t[i].name,
		       t[i].cpu_ms, t[i].wall_ms, 2 * macs / (t[i].cpu_ms * 1e6),
		       t[0].cpu_ms / t[i].cpu_ms, &t[i] == chosen ? "   <- in use" : "");
	const double gf = 2 * macs / (chosen->cpu_ms * 1e6);
	const struct peak pk = core_peak(t[np - 1].name);
	printf("\n%s: %.2f GFLOP/s = %.1f%% of the %.1f GFLOP/s fp32 peak of one core\n"
	       "           (%s: %.0f flops/cycle x %.2f GHz, %s clock)\n",
	       chosen->name, gf, 100 * gf / pk.gflops, pk.gflops, t[np - 1].name,
	       pk.flops_per_cycle, pk.ghz, pk.clock);
	if (tr->ok)
		printf("PyTorch %s, 1 thread, batch 1: %.3f ms [%.3f ms wall] per window\n"
		       "speed-up over PyTorch: %.1fx (thread CPU), %.1fx (wall); target >= 5x\n",
		       tr->version, tr->cpu_ms, tr->wall_ms, tr->cpu_ms / chosen->cpu_ms,
		       tr->wall_ms / chosen->wall_ms);
	else
		printf("PyTorch: not measured\n");
	printf("\nreal time: a window costs %.3f ms on %s; at inference_hop_ms = %.0f (drsnd's default) that\n"
	       "           is %.1f%% of one core per stream: one core runs %.0f stream(s), the network\n"
	       "           alone (README \"Slow boxes\"; a longer hop costs proportionally less)\n",
	       chosen->cpu_ms, chosen->name, BUDGET_HOP_MS, 100 * chosen->cpu_ms / BUDGET_HOP_MS,
	       streams_per_core(chosen->cpu_ms));
}

static int print_json(const char *path, const char *source, const drsn_model *m, double load_ms,
		      int runs, const struct timing *t, int np, const struct timing *chosen,
		      const struct torch_result *tr)
{
	const double macs = (double)drsn_model_macs(m);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "model", path);
	cJSON_AddStringToObject(o, "model_source", source);
	cJSON_AddStringToObject(o, "variant", drsn_model_variant(m));
	cJSON_AddNumberToObject(o, "parameters", (double)drsn_model_n_params(m));
	cJSON_AddNumberToObject(o, "macs_per_window", macs);
	cJSON_AddNumberToObject(o, "load_ms_median", load_ms);
	cJSON_AddNumberToObject(o, "runs", runs);
	const struct peak pk = core_peak(t[np - 1].name);
	cJSON_AddNumberToObject(o, "peak_gflops", pk.gflops);
	cJSON_AddNumberToObject(o, "peak_flops_per_cycle", pk.flops_per_cycle);
	cJSON_AddNumberToObject(o, "peak_ghz", pk.ghz);
	cJSON_AddStringToObject(o, "peak_clock", pk.clock);
	cJSON *paths = cJSON_AddArrayToObject(o, "paths");
	for (int i = 0; i < np; i++) {
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "name", t[i].name);
		cJSON_AddNumberToObject(p, "cpu_ms_median", t[i].cpu_ms);
		cJSON_AddNumberToObject(p, "wall_ms_median", t[i].wall_ms);
		cJSON_AddNumberToObject(p, "gflops", 2 * macs / (t[i].cpu_ms * 1e6));
		cJSON_AddItemToArray(paths, p);
	}
	const double gf = 2 * macs / (chosen->cpu_ms * 1e6);
	cJSON_AddStringToObject(o, "path", chosen->name);
	cJSON_AddNumberToObject(o, "gflops", gf);
	cJSON_AddNumberToObject(o, "fraction_of_peak", gf / pk.gflops);
	cJSON *rt = cJSON_AddObjectToObject(o, "realtime");
	cJSON_AddNumberToObject(rt, "inference_hop_ms", BUDGET_HOP_MS);
	cJSON_AddNumberToObject(rt, "core_fraction", chosen->cpu_ms / BUDGET_HOP_MS);
	cJSON_AddNumberToObject(rt, "streams_per_core", streams_per_core(chosen->cpu_ms));
	if (tr->ok) {
		cJSON *p = cJSON_AddObjectToObject(o, "torch");
		cJSON_AddStringToObject(p, "version", tr->version);
		cJSON_AddNumberToObject(p, "threads", 1);
		cJSON_AddNumberToObject(p, "batch", 1);
		cJSON_AddNumberToObject(p, "cpu_ms_median", tr->cpu_ms);
		cJSON_AddNumberToObject(p, "wall_ms_median", tr->wall_ms);
		cJSON_AddNumberToObject(o, "speedup_vs_torch", tr->cpu_ms / chosen->cpu_ms);
		cJSON_AddNumberToObject(o, "speedup_vs_torch_wall", tr->wall_ms / chosen->wall_ms);
	} else {
		cJSON_AddNullToObject(o, "torch");
		cJSON_AddNullToObject(o, "speedup_vs_torch");
	}
	char *s = cJSON_Print(o);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
	return s ? 0 : 1;
}

int drsn__cmd_bench(int argc, char **argv)
{
	const char *model_arg = NULL;
	int json = 0, torch = 1, runs = 200, status = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {   /* the end of options; bench takes no operand */
			if (i + 1 < argc) {
				drsn__cli_err("bench: unexpected argument '%s' (try 'drsn bench --help')",
					      argv[i + 1]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--no-torch")) {
			torch = 0;
		} else if ((!strcmp(argv[i], "--model") || !strcmp(argv[i], "-m")) && i + 1 < argc) {
			model_arg = argv[++i];
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 100000) {
				drsn__cli_err("bench: --runs '%s': expected an integer in 1..100000", argv[i]);
				return 2;
			}
			runs = (int)v;
		} else {
			drsn__cli_err("bench: unknown or incomplete argument '%s' (try 'drsn bench --help')",
				      argv[i]);
			return 2;
		}
	}

	char path[1024] = "", tmpdir[] = "/tmp/drsn-bench-XXXXXX";
	const char *source = "given";
	int random_model = 0;
	if (model_arg) {
		snprintf(path, sizeof path, "%s", model_arg);
	} else if (find_default(path, sizeof path, &source) < 0) {
		random_model = 1;
		source = "random init, default architecture, DRSN-CW";
		if (export_random(path, sizeof path, tmpdir))
			goto cleanup_tmp;
	}

	drsn_model *m = NULL;
	drsn_ctx *ctx = NULL;
	float *x = NULL;
	double *buf = NULL;
	drsn_error err = {0};
	double load_ms[LOAD_RUNS];
	for (int i = 0; i < LOAD_RUNS; i++) {
		drsn_model_free(m);
		m = NULL;
		const double w0 = drsn__bench_wall();
		if (drsn_model_load(&m, path, &err)) {
			drsn__cli_model_error("bench", path, !model_arg && !strcmp(source, "$DRSN_MODEL"),
					      err.msg);
			goto cleanup;
		}
		load_ms[i] = 1e3 * (drsn__bench_wall() - w0);
	}
	const double load_med = drsn__bench_median(load_ms, LOAD_RUNS);
	if (drsn_ctx_create(&ctx, m, &err)) {
		drsn__cli_err("bench: %s", err.msg);
		goto cleanup;
	}

	/* A deterministic, log-mel-like input window. */
	const size_t n_in = (size_t)drsn_model_frames(m) * drsn_model_bands(m);
	x = malloc(n_in * sizeof *x);
	buf = malloc(2 * (size_t)runs * sizeof *buf);
	if (!x || !buf) {
		drsn__cli_err("bench: out of memory");
		goto cleanup;
	}
	uint32_t s = 12345;
	for (size_t i = 0; i < n_in; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = -6.0f + 8.0f * (float)(s >> 8) / 16777216.0f;
	}

	const char *names[MAX_PATHS];
	struct timing t[MAX_PATHS];
	int np = drsn_simd_available(names, MAX_PATHS);
	np = np < MAX_PATHS ? np : MAX_PATHS;
	for (int i = 0; i < np; i++) {
		t[i].name = names[i];
		if (drsn_simd_select(names[i]) || time_windows(ctx, x, runs, &t[i], buf)) {
			drsn__cli_err("bench: running %s on the %s path failed", path, names[i]);
			drsn_simd_select(NULL);
			goto cleanup;
		}
	}
	drsn_simd_select(NULL); /* back to what drsn uses: CPU flags, then DRSN_SIMD */
	const struct timing *chosen = &t[np - 1];
	for (int i = 0; i < np; i++)
		if (!strcmp(t[i].name, drsn_simd_name()))
			chosen = &t[i];

	/* PyTorch failing (no python3-torch on an edge box, no train/ beside an
	 * installed drsn) loses the comparison, not drsn's own figures: they
	 * are printed ("torch": null), and the exit status says it failed. */
	struct torch_result tr = {0};
	int torch_failed = torch && run_torch(path, runs, &tr) < 0;

	status = json ? print_json(path, source, m, load_med, runs, t, np, chosen, &tr)
		      : (print_text(path, source, m, load_med, runs, t, np, chosen, &tr), 0);
	if (torch_failed)
		status = 1;

cleanup:
	free(x);
	free(buf);
	drsn_ctx_destroy(ctx);
	drsn_model_free(m);
cleanup_tmp:
	if (random_model) { /* also after a failed export: whatever it left */
		unlink(path);
		rmdir(tmpdir);
	}
	return status;
}
