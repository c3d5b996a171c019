/*
 * drsn/plugin.h - drsnd plugins: the ABI between the daemon and a plugin.
 *
 * A plugin is a shared object in drsnd's plugin directory ([plugins] dir in
 * drsnd.conf; a plugin path is never taken from anywhere else). Loading one:
 *
 *   1. dlopen(dir/NAME.so), look up DRSN_PLUGIN_ABI_SYMBOL and call it. It
 *      returns the DRSN_PLUGIN_ABI_VERSION the plugin was built against; a
 *      mismatch is refused with a message naming both versions, before any
 *      other symbol is looked at.
 *   2. Only then look up DRSN_PLUGIN_ENTRY_SYMBOL, which returns a const
 *      struct drsn_plugin. Its first field, version, must equal the ABI
 *      version too; callbacks marked (required) must be set.
 *   3. create() with the host table and the plugin's config section; a
 *      failure is reported with the plugin's message and drsnd runs on
 *      without it.
 *
 * Threading: every callback runs on drsnd's loop thread (never from the
 * real-time audio callback), so a plugin needs no locks against the host.
 * A plugin may own libuv handles on host->loop (sockets, timers); it must
 * close them in destroy() and may free its state in their close callbacks:
 * the host keeps running the loop until every handle has closed.
 *
 * A plugin does not link libdrsn: the host table gives it the daemon's model
 * and detection pipeline, so a plugin that classifies audio (wyoming) gets
 * exactly the detections a local stream would.
 *
 * Pointers passed to callbacks are valid during the call only.
 *
 * C++ plugins: this header compiles as C++11 and later, and
 * DRSN_PLUGIN_DEFINE gives the two exported functions C linkage. drsnd is C:
 * no callback (create, destroy, start, on_event, on_audio, on_model, nor a
 * libuv callback of the plugin's) may let an exception out. Catch
 * everything inside and return a negative errno with a message (create,
 * start) or log through host->log; an exception that reaches drsnd's frames
 * skips its cleanup (or ends the process in std::terminate where C code has
 * no unwind tables, as on armhf).
 */
#ifndef DRSN_PLUGIN_H
#define DRSN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "drsn/model.h"
#include "drsn/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DRSN_PLUGIN_ABI_VERSION 1u

/* The host table's own version (drsn_plugin_host.version). Fields are only
 * ever appended to the host table, so a plugin built against an older
 * header loads unchanged (the ABI version above stays); a plugin that reads
 * a newer field checks host->version first, since an older drsnd (or
 * another host) fills only the fields of its version:
 *   1: up to host_data
 *   2: instance
 *   3: log() takes DRSN_PLUGIN_LOG_NOTICE (an older host logs it as debug) */
#define DRSN_PLUGIN_HOST_VERSION 3u

/* The two exported symbols (see DRSN_PLUGIN_DEFINE below). */
#define DRSN_PLUGIN_ABI_SYMBOL "drsn_plugin_abi_version"
#define DRSN_PLUGIN_ENTRY_SYMBOL "drsn_plugin_entry"

/* Log levels for host->log (the daemon's own: error .. debug). NOTICE
 * (host->version >= 3; an older host logs it as debug) is for the few lines
 * a service's journal should have at any level but error, such as a
 * recovery after a failure that was warned about ("drsnd: notice: ..."). */
enum drsn_plugin_log_level {
	DRSN_PLUGIN_LOG_ERROR = 0,
	DRSN_PLUGIN_LOG_WARN = 1,
	DRSN_PLUGIN_LOG_INFO = 2,
	DRSN_PLUGIN_LOG_DEBUG = 3,
	DRSN_PLUGIN_LOG_NOTICE = 4,
};

/* One key = value of the plugin's "[plugin NAME]" config section, in file
 * order (command-line "plugin NAME.key=value" overrides come last). */
typedef struct drsn_plugin_kv {
	const char *key;
	const char *value;
	const char *where;        /* "drsnd.conf:42" or "command line", for messages */
} drsn_plugin_kv;

typedef struct drsn_plugin_config {
	const char *name;         /* NAME of the section */
	int n;
	const drsn_plugin_kv *kv;
} drsn_plugin_config;

/* What the daemon offers a plugin. Filled by the host, read-only. */
typedef struct drsn_plugin_host {
	uint32_t version;                 /* DRSN_PLUGIN_HOST_VERSION (1 in older drsnd) */
	struct uv_loop_s *loop;           /* the daemon's loop (libuv) */
	const char *daemon_version;       /* e.g. "0.1.0" */
	const char *hostname;             /* gethostname(), for topics and ids */

	void (*log)(const struct drsn_plugin_host *h, int level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

	/* The daemon's current model (NULL when none is configured); it changes
	 * only on reload, announced by on_model(). Use the drsn_model_* getters
	 * through the pointers below, not by linking libdrsn. */
	const drsn_model *(*model)(const struct drsn_plugin_host *h);
	int (*model_n_labels)(const drsn_model *m);
	const char *(*model_label)(const drsn_model *m, int i);
	int (*model_sample_rate)(const drsn_model *m);

	/* A detection pipeline on the current model with the daemon's [detect]
	 * settings (threshold, smoothing, refractory, VAD): the same detections
	 * a local stream gets. Audio is mono float at model_sample_rate(). */
	int (*pipeline_create)(const struct drsn_plugin_host *h, drsn_pipeline **out, drsn_error *err);
	void (*pipeline_destroy)(drsn_pipeline *p);
	int (*pipeline_push)(drsn_pipeline *p, const float *x, size_t n,
			     const drsn_pipeline_events *ev, void *user);
	void (*pipeline_reset)(drsn_pipeline *p);
	double (*pipeline_time)(const drsn_pipeline *p);

	void *host_data;                  /* the host's own; plugins leave it alone */

	/* version >= 2 only (read host->version first): */
	const char *instance;             /* `drsnd --instance NAME` (drsnd@NAME.service
					   * passes %i), for ids and topics that must
					   * differ between instances on one host; NULL
					   * for a plain drsnd */
} drsn_plugin_host;

enum drsn_plugin_event_type {
	DRSN_PLUGIN_EVENT_DETECTION = 1,  /* a keyword fired on a local stream */
	DRSN_PLUGIN_EVENT_STATUS = 2,     /* the periodic status counters */
	/* The stream broke off here: the audio after this event does not
	 * follow on from the audio before it, although the stream time runs
	 * on without a jump (the host was suspended, or the audio device was
	 * lost and came back). Audio kept from before (a pre-roll) must not be
	 * joined to the audio after. Only to plugins with
	 * DRSN_PLUGIN_WANT_RESETS in wants: an older plugin never sees this
	 * type. json: {"type":"reset","version":1,"stream":S,
	 * "stream_time":T,"reason":"suspend"|"source"}, where T is the stream
	 * time of the first sample after the break (socket clients get no
	 * such event: they see source.suspends and the source's state in
	 * status). detection is NULL. */
	DRSN_PLUGIN_EVENT_RESET = 3,
};

typedef struct drsn_plugin_event {
	uint32_t type;                    /* enum drsn_plugin_event_type */
	const char *json;                 /* the event exactly as socket clients get it,
					   * one JSON object, no newline */
	const drsn_detection *detection;  /* DETECTION only, else NULL */
	const char *stream;               /* the stream's name */
	double wall_time;                 /* seconds since the epoch */
} drsn_plugin_event;

/* A block of a local stream's audio. */
typedef struct drsn_plugin_audio {
	const float *x;                   /* mono, [-1, 1] */
	size_t n;
	int sample_rate;
	double t0;                        /* stream time of x[0], seconds */
	int denoised;                     /* 1: the denoiser's output, 0: raw */
	const char *stream;
} drsn_plugin_audio;

/* Audio a plugin asks for (drsn_plugin.wants). */
#define DRSN_PLUGIN_WANT_RAW_AUDIO      (1u << 0)
#define DRSN_PLUGIN_WANT_DENOISED_AUDIO (1u << 1)
/* DRSN_PLUGIN_EVENT_RESET events to on_event (a drsnd that does not know
 * the bit sends none: a plugin must not count on them for safety). */
#define DRSN_PLUGIN_WANT_RESETS         (1u << 2)
/* Also in wants: create() only reads its config and the model (no files
 * written, no sockets, no use of host->loop), so `drsnd --check-config`
 * calls create() (host->loop NULL, host->log silent) and destroy() right
 * after, and reports create()'s message as a config error. A drsnd that
 * does not know the bit ignores it. */
#define DRSN_PLUGIN_CHECK_CONFIG        (1u << 8)

typedef struct drsn_plugin {
	uint32_t version;                 /* DRSN_PLUGIN_ABI_VERSION: first, always */
	const char *name;                 /* short, e.g. "mqtt" */
	const char *description;
	uint32_t wants;                   /* DRSN_PLUGIN_WANT_* bits, may be 0 */

	/* (required) Make the plugin's state from its config section. Unknown
	 * keys and bad values are errors: write a message naming the key,
	 * value and cfg->kv[i].where into err (err_size bytes) and return a
	 * negative errno. */
	int (*create)(void **self, const drsn_plugin_host *host,
		      const drsn_plugin_config *cfg, char *err, size_t err_size);
	/* (required) Close handles, free state (possibly in close callbacks). */
	void (*destroy)(void *self);

	/* Optional: the libuv hook, called once after create(), to open
	 * sockets and start timers on the loop. 0 or a negative errno (then
	 * destroy() follows and the plugin is dropped). */
	int (*start)(void *self, struct uv_loop_s *loop, char *err, size_t err_size);
	/* Optional: detections and status (and, with DRSN_PLUGIN_WANT_RESETS,
	 * resets). Ignore a type you do not know. */
	void (*on_event)(void *self, const drsn_plugin_event *ev);
	/* Optional: audio blocks as wanted. Read-only; called from the loop
	 * thread after the block went through the pipeline. */
	void (*on_audio)(void *self, const drsn_plugin_audio *a);
	/* Optional: a reload replaced the model (m may be NULL). Pipelines made
	 * on the old model must be destroyed (and remade) in this call: the old
	 * model is freed right after it returns. */
	void (*on_model)(void *self, const drsn_model *m);
} drsn_plugin;

typedef uint32_t (*drsn_plugin_abi_fn)(void);
typedef const drsn_plugin *(*drsn_plugin_entry_fn)(void);

/* C linkage for the two exported functions: a plugin's source is outside
 * this header's extern "C" block, and a C++ compiler would otherwise mangle
 * their names (_Z23drsn_plugin_abi_versionv), which drsnd's dlsym() of
 * DRSN_PLUGIN_ABI_SYMBOL does not find. */
#ifdef __cplusplus
#define DRSN_PLUGIN_EXTERN_C extern "C"
#else
#define DRSN_PLUGIN_EXTERN_C
#endif

/* In the plugin's source (C or C++), once, at file (global namespace) scope:
 *     DRSN_PLUGIN_DEFINE(my_plugin_struct)
 * A C++ plugin: the callbacks are plain functions (static member functions
 * or captureless lambdas do too) and must not throw; see above. */
#define DRSN_PLUGIN_DEFINE(plugin_struct)                                          \
	DRSN_PLUGIN_EXTERN_C __attribute__((visibility("default")))                \
	uint32_t drsn_plugin_abi_version(void);                                    \
	DRSN_PLUGIN_EXTERN_C __attribute__((visibility("default")))                \
	const drsn_plugin *drsn_plugin_entry(void);                                \
	uint32_t drsn_plugin_abi_version(void) { return DRSN_PLUGIN_ABI_VERSION; }     \
	const drsn_plugin *drsn_plugin_entry(void) { return &(plugin_struct); }

#ifdef __cplusplus
}
#endif
#endif
