/*
 * recorder: a drsnd plugin that keeps the audio around each detection.
 *
 * Every raw audio block (and, with denoised = true, every denoised block)
 * goes into a preallocated ring holding pre_roll_ms + post_roll_ms + 4 s.
 * On a detection it notes the clip [start - pre_roll, end + post_roll]
 * (start/end: the detection's model window, stream time) and, once the
 * audio up to the clip's end has arrived, copies the clip out of the ring
 * into a preallocated job and writes
 *     <dir>/<seq>-<UTC time>-<label>-<score>.wav           (16-bit PCM mono)
 *     <dir>/<seq>-<UTC time>-<label>-<score>-denoised.wav  (denoised = true)
 * e.g. 00000042-20261128T101502.123Z-yes-0.93.wav. <seq> (8 digits or more,
 * up to 18) counts up from the highest one in dir at start, so the order of
 * the clips never depends on the wall clock: a box without a real-time clock
 * that boots in 1970, or a clock NTP steps back, neither makes new clips look
 * older nor gives two clips one name. The time is for people. After each
 * write it deletes its own oldest files (lowest <seq> first; names of the
 * old pattern without <seq>, "<UTC time>-<label>-<score>.wav", are older
 * than any with one, by name among themselves) until the directory's
 * recordings fit in max_mb.
 *
 * Writing never blocks the loop: the file I/O (libsndfile to NAME.part,
 * rename, then the size cap's scan and unlinks) runs on libuv's threadpool
 * (uv_queue_work) from one of JOBS preallocated jobs; the loop thread only
 * copies the clip (a few hundred kB at most) into the job. With every job
 * busy a clip is dropped and counted (logged). At stop, clips whose
 * post-roll had not arrived yet are written with the audio there is. At
 * start (the start() hook, not create(): `drsnd --check-config` creates the
 * plugin to check its keys) it deletes its own NAME.part files: writes a
 * crash cut short.
 *
 * Keys ([plugin recorder]): dir (required, an existing writable directory),
 * pre_roll_ms (1000), post_roll_ms (1000), denoised (no), max_mb (100).
 *
 * The plugin always asks for raw and denoised audio (drsn_plugin.wants is a
 * constant, the config comes later), so drsnd runs its denoiser with the
 * recorder loaded: about 0.2% of a core (plugins/recorder/bench_recorder.py).
 * Without denoised = true the denoised blocks are ignored.
 *
 * The pre-roll never reaches across a break in the stream: at a
 * DRSN_PLUGIN_EVENT_RESET (drsnd: the host was suspended, or the audio
 * device was lost and opened again) the clips waiting for their post-roll
 * are written with the audio there is and the rings start afresh, so a
 * detection right after a resume gets only the audio since, not that of
 * before the suspend glued to it. (A reload is no break: the audio runs on.)
 *
 * A reload with a model of another sample rate: the clips in the making are
 * dropped and the buffers re-sized for the new rate, once (logged once). The
 * clips being written then still use the old job buffers, so the re-size
 * waits until they are done; the audio meanwhile is not recorded. If the
 * memory for the new rate cannot be had, the buffers are freed and recording
 * is off (logged once) until the rate changes again; drsnd runs on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>
#include <uv.h>

#include "audio/sndfile_io.h"
#include "common/closest.h"
#include "common/cnum.h"
#include "common/plugin_kv.h"
#include "common/utc.h"
#include "drsn/plugin.h"

#define JOBS 4             /* clips being written at once */
#define PENDING 8          /* detections waiting for their post-roll */
#define SLACK_MS 4000      /* ring room for the model window and block sizes */
#define NAME_MAX_LEN 160
#define SEQ_MAX 999999999999999999ULL   /* 18 digits */

struct ring {
	float *x;
	size_t cap;
	int64_t next;          /* stream sample index of the next sample to come */
	int64_t oldest;        /* first index still held (next - cap, or the first) */
	int started;
};

struct pending {
	int active;
	char base[NAME_MAX_LEN];   /* "<time>-<label>-<score>" */
	int64_t from, to;          /* clip [from, to) in stream samples */
};

struct recorder;

struct job {
	uv_work_t req;
	struct recorder *r;
	int busy;
	char base[NAME_MAX_LEN];
	int16_t *raw, *den;        /* each cap samples */
	size_t n_raw, n_den;
	int rate;
	/* results, read back on the loop */
	int rc;
	int raw_ok;                /* the raw WAV is there (rc < 0: its -denoised twin is not) */
	char err[256];
	int deleted;
};

struct recorder {
	const drsn_plugin_host *host;
	char dir[512];
	int pre_ms, post_ms, denoised;
	long long max_bytes;
	int rate;
	struct ring raw, den;
	struct pending pend[PENDING];
	struct job jobs[JOBS];
	size_t cap;                /* ring and job capacity, samples */
	int destroying, busy;
	int want_rate;             /* a re-size for this rate waits for busy jobs (0: none) */
	int disabled;              /* no buffers (out of memory): nothing is recorded */
	unsigned long long written, dropped;
	unsigned long long next_seq;   /* the next clip's <seq> */
};

/* ---- config ---------------------------------------------------------------- */

static int configure(struct recorder *r, const drsn_plugin_config *cfg, char *err, size_t n)
{
	int max_mb = 100;
	r->pre_ms = 1000;
	r->post_ms = 1000;
	const char *dir_where = NULL;
	for (int i = 0; i < cfg->n; i++) {
		const drsn_plugin_kv *kv = &cfg->kv[i];
		int rc = 0;
		if (!strcmp(kv->key, "dir")) {
			if (!kv->value[0] || strlen(kv->value) >= sizeof r->dir - 64) {
				snprintf(err, n, "%s: [plugin recorder] dir: '%s' is empty or too long", kv->where,
					 kv->value);
				return -EINVAL;
			}
			snprintf(r->dir, sizeof r->dir, "%s", kv->value);
			dir_where = kv->where;
		} else if (!strcmp(kv->key, "pre_roll_ms")) {
			rc = drsn__plugin_kv_int(kv, "recorder", 0, 30000, &r->pre_ms, err, n);
		} else if (!strcmp(kv->key, "post_roll_ms")) {
			rc = drsn__plugin_kv_int(kv, "recorder", 0, 30000, &r->post_ms, err, n);
		} else if (!strcmp(kv->key, "denoised")) {
			rc = drsn__plugin_kv_bool(kv, "recorder", &r->denoised, err, n);
		} else if (!strcmp(kv->key, "max_mb")) {
			rc = drsn__plugin_kv_int(kv, "recorder", 1, 1000000, &max_mb, err, n);
		} else {
			const char *known = "dir, pre_roll_ms, post_roll_ms, denoised, max_mb";
			struct drsn__closest near;
			drsn__closest_init(&near, kv->key);
			drsn__closest_add_list(&near, known);
			snprintf(err, n, "%s: [plugin recorder] unknown key '%s' (known: %s)%s",
				 kv->where, kv->key, known, drsn__closest_hint(&near, ""));
			return -EINVAL;
		}
		if (rc < 0)
			return rc;
	}
	if (!r->dir[0]) {
		snprintf(err, n, "[plugin recorder] dir: required (the directory the WAV files go to)");
		return -EINVAL;
	}
	struct stat st;
	if (stat(r->dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(r->dir, W_OK | X_OK) < 0) {
		snprintf(err, n, "%s: [plugin recorder] dir: '%s' is not a writable directory: %s", dir_where,
			 r->dir, strerror(errno ? errno : ENOTDIR));
		return -EINVAL;
	}
	r->max_bytes = (long long)max_mb * 1024 * 1024;
	return 0;
}

/* ---- buffers ----------------------------------------------------------------- */

static void free_buffers(struct recorder *r)
{
	free(r->raw.x);
	free(r->den.x);
	r->raw.x = r->den.x = NULL;
	for (int j = 0; j < JOBS; j++) {
		free(r->jobs[j].raw);
		free(r->jobs[j].den);
		r->jobs[j].raw = r->jobs[j].den = NULL;
	}
}

/* Everything sized for rate; rings restart empty. */
static int plan(struct recorder *r, int rate)
{
	free_buffers(r);
	r->rate = rate;
	r->cap = (size_t)((int64_t)rate * (r->pre_ms + r->post_ms + SLACK_MS) / 1000);
	r->raw = (struct ring){.cap = r->cap};
	r->den = (struct ring){.cap = r->cap};
	r->raw.x = malloc(r->cap * sizeof(float));
	r->den.x = r->denoised ? malloc(r->cap * sizeof(float)) : NULL;
	int ok = r->raw.x && (!r->denoised || r->den.x);
	for (int j = 0; j < JOBS; j++) {
		r->jobs[j].raw = malloc(r->cap * sizeof(int16_t));
		r->jobs[j].den = r->denoised ? malloc(r->cap * sizeof(int16_t)) : NULL;
		ok = ok && r->jobs[j].raw && (!r->denoised || r->jobs[j].den);
	}
	return ok ? 0 : -ENOMEM;
}

static void ring_push(struct ring *g, const float *x, size_t n, int64_t at)
{
	if (!g->started || at != g->next) {
		/* first block, or a jump in stream time: start over there */
		g->started = 1;
		g->next = g->oldest = at;
	}
	if (n > g->cap) {
		x += n - g->cap;
		at += (int64_t)(n - g->cap);
		g->next = g->oldest = at;
		n = g->cap;
	}
	size_t pos = (size_t)(g->next % (int64_t)g->cap);
	size_t first = n < g->cap - pos ? n : g->cap - pos;
	memcpy(g->x + pos, x, first * sizeof *x);
	memcpy(g->x, x + first, (n - first) * sizeof *x);
	g->next += (int64_t)n;
	if (g->next - g->oldest > (int64_t)g->cap)
		g->oldest = g->next - (int64_t)g->cap;
}

/* [from, to) clipped to what g holds, as int16 into out; returns samples. */
static size_t ring_copy(const struct ring *g, int64_t from, int64_t to, int16_t *out)
{
	if (!g->started)
		return 0;
	if (from < g->oldest)
		from = g->oldest;
	if (to > g->next)
		to = g->next;
	size_t n = 0;
	for (int64_t i = from; i < to; i++) {
		float v = g->x[i % (int64_t)g->cap] * 32768.0f;
		v = v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v;
		out[n++] = (int16_t)lrintf(v);
	}
	return n;
}

/* ---- writing (threadpool) ------------------------------------------------------ */

/* A recording's <seq>: "00000042-20261128T101502.123Z-..." -> 42; -1 for
 * a name without one (the old pattern: "20261128T101502.123Z-..."); with
 * *time, where the UTC time starts. */
static long long clip_seq(const char *name, const char **time)
{
	size_t k = 0;
	unsigned long long v = 0;
	while (k < 18 && name[k] >= '0' && name[k] <= '9')
		v = v * 10 + (unsigned)(name[k++] - '0');
	if (k >= 8 && name[k] == '-') {
		*time = name + k + 1;
		return (long long)v;
	}
	*time = name;
	return -1;
}

/* "[<seq>-]20261128T101502.123Z-<label>-<score>.wav" or "...-denoised.wav" */
static int own_file(const char *full)
{
	static const char pat[] = "ddddddddTdddddd.dddZ-";
	const char *name;
	clip_seq(full, &name);
	for (size_t i = 0; i < sizeof pat - 1; i++) {
		char c = name[i];
		if (pat[i] == 'd' ? (c < '0' || c > '9') : c != pat[i])
			return 0;
	}
	size_t n = strlen(name);
	const char *end = n > 13 && !strcmp(name + n - 13, "-denoised.wav") ? name + n - 13
			: n > 4 && !strcmp(name + n - 4, ".wav") ? name + n - 4 : NULL;
	if (!end || end - name < 27)
		return 0;
	/* "-D.DD" before the end */
	const char *s = end - 5;
	return s[0] == '-' && s[1] >= '0' && s[1] <= '9' && s[2] == '.' && s[3] >= '0' && s[3] <= '9' &&
	       s[4] >= '0' && s[4] <= '9';
}

static int write_wav(const char *dir, const char *base, const char *suffix, const int16_t *x,
		     size_t n, int rate, char *err, size_t err_size)
{
	char path[800], part[810];
	snprintf(path, sizeof path, "%s/%s%s.wav", dir, base, suffix);
	snprintf(part, sizeof part, "%s.part", path);
	/* A new file, never one that is there: a symlink someone with write
	 * access to dir planted at the (predictable) name would otherwise have
	 * its target truncated and written. What is at that name goes (only the
	 * link, not its target); if something is put back in between, O_EXCL
	 * refuses it. Not readable by others (recordings are private audio;
	 * the umask may take more). */
	unlink(part);
	int fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_size, "%.180s: %s", part, strerror(e));
		return -e;
	}
	SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	/* our I/O, not libsndfile's: past 2038 (every new file's time) Debian
	 * 12's armhf libsndfile cannot fstat() the file (sndfile_io.h) */
	drsn__sfio io;
	SNDFILE *f = drsn__sf_open_fd(&io, fd, SFM_WRITE, &info);
	if (!f) {
		/* the header write failed (disk full): leave no stray .part behind */
		snprintf(err, err_size, "%.180s: %s", part,
			 io.err ? strerror(io.err) : sf_strerror(NULL));
		close(fd);
		unlink(part);
		return -EIO;
	}
	sf_count_t w = sf_write_short(f, x, (sf_count_t)n);
	char why[160] = "";
	if (w != (sf_count_t)n)
		snprintf(why, sizeof why, "%s", io.err ? strerror(io.err)   /* e.g. No space left */
						       : sf_strerror(f));
	int rc = sf_close(f);   /* rewrites the header: may fail too */
	if (rc && !why[0] && io.err)
		snprintf(why, sizeof why, "%s", strerror(io.err));
	if (close(fd) < 0 && !rc && !why[0])
		snprintf(why, sizeof why, "%s", strerror(errno));
	if (w != (sf_count_t)n || rc || why[0]) {
		snprintf(err, err_size, "%.200s: short write (%lld of %zu samples): %s", part,
			 (long long)w, n, why[0] ? why : sf_error_number(rc));
		unlink(part);
		return -EIO;
	}
	if (rename(part, path) < 0) {
		int e = errno;
		snprintf(err, err_size, "rename %.180s: %s", part, strerror(e));
		unlink(part);
		return -e;
	}
	return 0;
}

struct entry {
	char name[256];
	long long size;
	long long seq;   /* clip_seq(): -1 for the old pattern */
};

/* A recording's base: its name without ".wav" / "-denoised.wav". */
static size_t base_len(const char *name)
{
	size_t n = strlen(name);
	return n > 13 && !strcmp(name + n - 13, "-denoised.wav") ? n - 13 : n - 4;
}

/* Oldest first: by <seq> (never by the wall clock), names without one
 * before all others and by name (their UTC time) among themselves; a clip's
 * two files side by side. */
static int by_age(const void *a, const void *b)
{
	const struct entry *ea = a, *eb = b;
	if (ea->seq != eb->seq)
		return ea->seq < eb->seq ? -1 : 1;
	const char *x = ea->name, *y = eb->name;
	size_t lx = base_len(x), ly = base_len(y);
	int c = strncmp(x, y, lx < ly ? lx : ly);
	if (c || lx == ly)
		return c ? c : strcmp(x, y);
	return lx < ly ? -1 : 1;
}

/* Delete own files, oldest first (by_age), until they fit; never `keep`. */
static int enforce_cap(const char *dir, long long max_bytes, const char *keep)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct entry *e = NULL;
	size_t n = 0, cap = 0;
	long long total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!own_file(de->d_name) || strlen(de->d_name) >= sizeof e->name)
			continue;
		char path[800];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;   /* a symlink is none of ours: not counted, not deleted */
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			struct entry *ne = realloc(e, cap * sizeof *e);
			if (!ne)
				break;
			e = ne;
		}
		snprintf(e[n].name, sizeof e[n].name, "%s", de->d_name);
		const char *t;
		e[n].seq = clip_seq(de->d_name, &t);
		e[n++].size = (long long)st.st_size;
		total += (long long)st.st_size;
	}
	closedir(d);
	if (!e)
		return 0;   /* none of ours (the write failed): qsort(NULL, 0) is undefined */
	qsort(e, n, sizeof *e, by_age);
	int deleted = 0;
	for (size_t i = 0; i < n && total > max_bytes;) {
		/* a clip's files go together */
		size_t bl = base_len(e[i].name), k = i;
		int is_keep = bl == strlen(keep) && !strncmp(e[i].name, keep, bl);
		for (; k < n && base_len(e[k].name) == bl && !strncmp(e[k].name, e[i].name, bl); k++) {
			if (is_keep)
				continue;   /* the clip just written */
			char path[800];
			snprintf(path, sizeof path, "%s/%s", dir, e[k].name);
			if (unlink(path) == 0 || errno == ENOENT) {
				total -= e[k].size;
				deleted++;
			}
		}
		i = k;
	}
	free(e);
	return deleted;
}

/* At start no clip is being written: an own NAME.wav.part is what a crash or
 * power cut left mid-write. Delete those (they count toward no cap and
 * would stay forever); returns how many. */
static int remove_stale_parts(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char name[256], path[800];
		size_t l = strlen(de->d_name);
		if (l <= 5 || l >= sizeof name || strcmp(de->d_name + l - 5, ".part"))
			continue;
		memcpy(name, de->d_name, l - 5);
		name[l - 5] = '\0';
		if (!own_file(name))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* The <seq> after the highest one of the recorder's own files (and .part
 * files) in dir; 0 in an empty one. Symlinks do not count (like the cap). */
static unsigned long long first_seq(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	unsigned long long next = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char name[256], path[800];
		size_t l = strlen(de->d_name);
		if (l >= sizeof name)
			continue;
		memcpy(name, de->d_name, l + 1);
		if (l > 5 && !strcmp(name + l - 5, ".part"))
			name[l - 5] = '\0';
		const char *t;
		long long seq = clip_seq(name, &t);
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (seq < 0 || !own_file(name) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if ((unsigned long long)seq >= next)
			next = (unsigned long long)seq + 1;
	}
	closedir(d);
	return next;
}

static void work(uv_work_t *req)
{
	struct job *j = req->data;
	struct recorder *r = j->r;
	j->err[0] = '\0';
	j->rc = write_wav(r->dir, j->base, "", j->raw, j->n_raw, j->rate, j->err, sizeof j->err);
	j->raw_ok = j->rc == 0;
	if (!j->rc && j->n_den)
		j->rc = write_wav(r->dir, j->base, "-denoised", j->den, j->n_den, j->rate, j->err,
				  sizeof j->err);
	char keep[NAME_MAX_LEN + 1];
	snprintf(keep, sizeof keep, "%s", j->base);
	j->deleted = enforce_cap(r->dir, r->max_bytes, keep);
}

static void recorder_free(struct recorder *r)
{
	free_buffers(r);
	free(r);
}

static void after_work(uv_work_t *req, int status)
{
	struct job *j = req->data;
	struct recorder *r = j->r;
	const drsn_plugin_host *h = r->host;
	if (status < 0)
		h->log(h, DRSN_PLUGIN_LOG_ERROR, "%s: not written: %s", j->base, uv_strerror(status));
	else if (j->rc < 0 && j->raw_ok) {
		r->written++;
		h->log(h, DRSN_PLUGIN_LOG_ERROR, "wrote %s/%s.wav, but not its -denoised.wav: %s",
		       r->dir, j->base, j->err);
	} else if (j->rc < 0)
		h->log(h, DRSN_PLUGIN_LOG_ERROR, "%s: not written: %s", j->base, j->err);
	else {
		r->written++;
		h->log(h, DRSN_PLUGIN_LOG_INFO, "wrote %s/%s.wav (%.2f s%s)%s", r->dir, j->base,
		       (double)j->n_raw / j->rate, j->n_den ? ", and -denoised" : "",
		       j->deleted ? ", deleted older recordings over max_mb" : "");
	}
	j->busy = 0;
	r->busy--;
	if (r->destroying && !r->busy)
		recorder_free(r);
}

/* Copy pending clip p out of the rings into a free job and queue it. */
static void submit(struct recorder *r, struct pending *p)
{
	p->active = 0;
	struct job *j = NULL;
	for (int k = 0; k < JOBS && !j; k++)
		if (!r->jobs[k].busy)
			j = &r->jobs[k];
	if (!j) {
		r->dropped++;
		r->host->log(r->host, DRSN_PLUGIN_LOG_WARN, "%s: dropped: %d recordings are still being written",
			     p->base, JOBS);
		return;
	}
	j->n_raw = ring_copy(&r->raw, p->from, p->to, j->raw);
	j->n_den = r->denoised ? ring_copy(&r->den, p->from, p->to, j->den) : 0;
	if (!j->n_raw) {
		r->host->log(r->host, DRSN_PLUGIN_LOG_WARN, "%s: no audio left for it", p->base);
		return;
	}
	snprintf(j->base, sizeof j->base, "%s", p->base);
	j->r = r;
	j->rate = r->rate;
	j->req.data = j;
	int rc = uv_queue_work(r->host->loop, &j->req, work, after_work);
	if (rc < 0) {
		r->host->log(r->host, DRSN_PLUGIN_LOG_ERROR, "%s: cannot queue the write: %s", p->base,
			     uv_strerror(rc));
		return;
	}
	j->busy = 1;
	r->busy++;
}

/* Submit every clip whose audio has all arrived. */
static void check_pending(struct recorder *r)
{
	for (int i = 0; i < PENDING; i++) {
		struct pending *p = &r->pend[i];
		if (p->active && r->raw.next >= p->to && (!r->denoised || r->den.next >= p->to))
			submit(r, p);
	}
}

/* ---- callbacks -------------------------------------------------------------------- */

static int recorder_create(void **self, const drsn_plugin_host *host, const drsn_plugin_config *cfg,
			   char *err, size_t err_size)
{
	struct recorder *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	r->host = host;
	int rc = configure(r, cfg, err, err_size);
	if (rc < 0)
		goto fail;
	const drsn_model *m = host->model(host);
	int rate = m ? host->model_sample_rate(m) : 16000;
	if (plan(r, rate) < 0) {
		snprintf(err, err_size, "out of memory for %d s of audio", (int)(r->cap / (size_t)rate));
		rc = -ENOMEM;
		goto fail;
	}
	host->log(host, DRSN_PLUGIN_LOG_INFO, "recording %d ms before and %d ms after each detection to %s%s (cap %lld MB)",
		  r->pre_ms, r->post_ms, r->dir, r->denoised ? ", with the denoised audio" : "",
		  r->max_bytes / (1024 * 1024));
	*self = r;
	return 0;
fail:
	recorder_free(r);
	return rc;
}

/* The directory's files: not in create(), which `drsnd --check-config`
 * calls too (DRSN_PLUGIN_CHECK_CONFIG: it must not delete anything). */
static int recorder_start(void *self, uv_loop_t *loop, char *err, size_t err_size)
{
	(void)loop;
	(void)err;
	(void)err_size;
	struct recorder *r = self;
	const drsn_plugin_host *host = r->host;
	r->next_seq = first_seq(r->dir);
	if (r->next_seq > SEQ_MAX) {
		/* someone's 999999999999999999-... file: start over rather than
		 * write names the size cap would not know as ours */
		host->log(host, DRSN_PLUGIN_LOG_WARN, "%s: the clip numbers are used up (a file numbered %llu): "
			  "starting over at 0, the size cap may delete new clips first", r->dir, SEQ_MAX);
		r->next_seq = 0;
	}
	int stale = remove_stale_parts(r->dir);
	if (stale)
		host->log(host, DRSN_PLUGIN_LOG_WARN, "deleted %d unfinished .part file(s) in %s "
			  "(a write cut short by a crash or power loss)", stale, r->dir);
	return 0;
}

static void recorder_destroy(void *self)
{
	struct recorder *r = self;
	/* clips still waiting for their post-roll: what there is */
	for (int i = 0; i < PENDING; i++)
		if (r->pend[i].active)
			submit(r, &r->pend[i]);
	r->destroying = 1;
	if (!r->busy)
		recorder_free(r);
}

/* A label as part of a file name: ASCII letters, digits and '_' as they
 * are, a character beyond ASCII (a label in any script) whole, anything else
 * ('/', '.', '-', blanks) as '_'; at most 48 bytes, never a character cut.
 * A label is valid UTF-8 (the model loader refuses others: drsn/model.h),
 * so a lead byte gives its character's length. */
static void sanitize(const char *in, char *out, size_t n)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t k = 0, lim = n - 1 < 48 ? n - 1 : 48;
	while (*s && k < lim) {
		unsigned char c = *s;
		size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		if (len) {
			if (k + len > lim)
				break;
			memcpy(out + k, s, len);
			k += len;
			s += len;
			continue;
		}
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
		out[k++] = ok ? (char)c : '_';
		s++;
	}
	out[k] = '\0';
}

/* The stream broke off (a host suspend, a device lost and back): what the
 * rings hold is from before, maybe hours ago, and never goes into a clip
 * with the audio after. Clips waiting for their post-roll are written now
 * with the audio there is; the rings start afresh with the next block. */
static void reset(struct recorder *r)
{
	for (int i = 0; i < PENDING; i++)
		if (r->pend[i].active)
			submit(r, &r->pend[i]);
	r->raw.started = r->den.started = 0;
}

static void recorder_on_event(void *self, const drsn_plugin_event *ev)
{
	struct recorder *r = self;
	if (ev->type == DRSN_PLUGIN_EVENT_RESET) {
		reset(r);
		return;
	}
	if (ev->type != DRSN_PLUGIN_EVENT_DETECTION || !ev->detection)
		return;
	const drsn_detection *d = ev->detection;
	if (r->disabled || r->want_rate) {
		r->dropped++;
		r->host->log(r->host, DRSN_PLUGIN_LOG_WARN, "%s detection not recorded: %s", d->name,
			     r->disabled ? "recording is off (out of memory)" : "the buffers are being re-sized");
		return;
	}
	struct pending *p = NULL;
	for (int i = 0; i < PENDING && !p; i++)
		if (!r->pend[i].active)
			p = &r->pend[i];
	if (!p) {
		r->dropped++;
		r->host->log(r->host, DRSN_PLUGIN_LOG_WARN, "%s detection not recorded: %d are waiting for their post-roll",
			     d->name, PENDING);
		return;
	}
	/* not gmtime(): past 2038 on a 32-bit time_t; a clock set to garbage
	 * gives the nearest of 0001-01-01 and 9999-12-31 (utc.h) */
	char when[DRSN__UTC_STAMP_SIZE], label[64];
	drsn__utc_stamp(ev->wall_time, when, sizeof when);
	sanitize(d->name, label, sizeof label);
	float score = d->score < 0 ? 0 : d->score > 1 ? 1 : d->score;
	/* the order comes from the sequence number, never from the wall clock;
	 * the score as "0.93" also in a host that set a comma locale (cnum.h) */
	drsn__snprintf_c(p->base, sizeof p->base, "%08llu-%s-%s-%.2f", r->next_seq, when, label, score);
	r->next_seq = r->next_seq < SEQ_MAX ? r->next_seq + 1 : 0;
	p->from = (int64_t)llround((d->start * 1000 - r->pre_ms) * r->rate / 1000.0);
	p->to = (int64_t)llround((d->end * 1000 + r->post_ms) * r->rate / 1000.0);
	if (p->from < 0)
		p->from = 0;
	if (p->to - p->from > (int64_t)r->cap)
		p->from = p->to - (int64_t)r->cap;   /* a window longer than the slack */
	p->active = 1;
	check_pending(r);
}

/* Audio at another rate than the buffers' (a reload changed the model's):
 * drop the clips in the making and re-size, once no job is writing from the
 * old buffers. 1 when the buffers are ready for rate, 0 when this block is
 * not recorded. Each change is logged once, not per block. */
static int replan(struct recorder *r, int rate)
{
	const drsn_plugin_host *h = r->host;
	if (r->want_rate != rate) {
		r->want_rate = rate;
		for (int i = 0; i < PENDING; i++)
			r->pend[i].active = 0;
		if (r->busy)
			h->log(h, DRSN_PLUGIN_LOG_INFO, "audio at %d Hz (was %d Hz): re-sizing the buffers once the "
			       "%d recording(s) being written are done; not recording until then", rate, r->rate,
			       r->busy);
	}
	if (r->busy)
		return 0;
	r->want_rate = 0;
	int old = r->rate;
	if (plan(r, rate) < 0) {
		free_buffers(r);
		r->disabled = 1;
		h->log(h, DRSN_PLUGIN_LOG_ERROR, "audio at %d Hz (was %d Hz): out of memory for %lld s of audio: "
		       "recording is off until the sample rate changes again", rate, old,
		       (long long)(r->cap / (size_t)rate));
		return 0;
	}
	r->disabled = 0;
	h->log(h, DRSN_PLUGIN_LOG_INFO, "audio at %d Hz (was %d Hz): buffers re-sized", rate, old);
	return 1;
}

static void recorder_on_audio(void *self, const drsn_plugin_audio *a)
{
	struct recorder *r = self;
	if (a->denoised && !r->denoised)
		return;
	/* only when the model's rate changes (reload): not the hot path */
	if (a->sample_rate != r->rate) {
		if (!replan(r, a->sample_rate))
			return;
	} else if (r->want_rate) {
		r->want_rate = 0;   /* back to the buffers' rate before the re-size */
	}
	if (r->disabled)
		return;
	int64_t at = (int64_t)llround(a->t0 * r->rate);
	ring_push(a->denoised ? &r->den : &r->raw, a->x, a->n, at);
	check_pending(r);
}

static const drsn_plugin recorder_plugin = {
	.version = DRSN_PLUGIN_ABI_VERSION,
	.name = "recorder",
	.description = "writes the audio around each detection to WAV files",
	/* create() reads the keys and checks dir; start() deletes stale files */
	.wants = DRSN_PLUGIN_WANT_RAW_AUDIO | DRSN_PLUGIN_WANT_DENOISED_AUDIO | DRSN_PLUGIN_WANT_RESETS |
		 DRSN_PLUGIN_CHECK_CONFIG,
	.create = recorder_create,
	.destroy = recorder_destroy,
	.start = recorder_start,
	.on_event = recorder_on_event,
	.on_audio = recorder_on_audio,
};

DRSN_PLUGIN_DEFINE(recorder_plugin)
