/* Audio file input: libsndfile decode -> downmix -> libsoxr resample. */
#include "drsn/audio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "audio/mix.h"
#include "audio/pipe.h"
#include "audio/resample.h"
#include "audio/sndfile_io.h"
#include "common/error.h"
#include "common/samples.h"

/* Source frames decoded per libsndfile call; every buffer is sized from it. */
#define CHUNK 4096

struct drsn_audio {
	SNDFILE *sf;
	drsn__sfio io;          /* sf's I/O on a regular file (sndfile_io.h) */
	int fd;                 /* ours to close after sf, or -1 */
	char *name;             /* for messages */
	drsn_audio_info info;
	int downmix;            /* average channels to mono */
	uint64_t select;        /* downmix: the channels to average (bit c-1: channel c) */
	uint64_t live;          /* of those, the ones that carried a non-zero sample */
	int n_live;             /* bits in live */
	int started;            /* a read was made: the selection is fixed */
	int keep;               /* opts.keep_channels */
	drsn_resampler *rs;     /* NULL: no rate change */
	float *src;             /* CHUNK * source_channels */
	float *mix;             /* CHUNK * out_channels (downmix target) */
	float *pend;            /* output frames ready to hand out */
	size_t pend_cap, pend_n, pend_pos;   /* frames */
	int64_t src_read;       /* source frames decoded so far */
	int len_estimated;      /* source_frames is libsndfile's guess (MPEG) */
	int64_t limit;          /* RF64 from a pipe: source frames its header declares, or -1 */
	int seekable;           /* a file (or a spooled pipe): CHUNK-sized reads */
	int open_len;           /* the header leaves the length open (SF_COUNT_MAX frames) */
	int ogg;                /* an Ogg stream */
	int ogg_no_end;         /* ... open_len in an Ogg file: it has no last page (cut short) */
	int64_t declared;       /* source frames the header declares, more than the input
				 * may hold (a cut file, a pipe): checked at its end; -1 none */
	long long decl_bytes, held_bytes;   /* a cut file of no fixed frame size: bytes */
	int64_t bad;            /* NaN/Inf/huge source samples (drsn_audio_bad_samples) */
	int check;              /* a float or lossy encoding: samples need checking */
	int src_eof;            /* libsndfile is done */
	int done;               /* nothing more will come */
	int failed;             /* sticky error code, 0 if none */
	int end_failed;         /* failed once the frames before the end are out (end_fail) */
	char failmsg[DRSN_ERROR_MSG_MAX];
};

DRSN_API void drsn_audio_opts_default(drsn_audio_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof *o);
	o->target_rate = 16000;
}

/* ---- raw formats ------------------------------------------------------ */

static const struct {
	const char *name;
	int sf;
} raw_formats[] = {
	{"u8", SF_FORMAT_PCM_U8},
	{"s8", SF_FORMAT_PCM_S8},
	{"s16le", SF_FORMAT_PCM_16 | SF_ENDIAN_LITTLE},
	{"s16be", SF_FORMAT_PCM_16 | SF_ENDIAN_BIG},
	{"s24le", SF_FORMAT_PCM_24 | SF_ENDIAN_LITTLE},
	{"s24be", SF_FORMAT_PCM_24 | SF_ENDIAN_BIG},
	{"s32le", SF_FORMAT_PCM_32 | SF_ENDIAN_LITTLE},
	{"s32be", SF_FORMAT_PCM_32 | SF_ENDIAN_BIG},
	{"f32le", SF_FORMAT_FLOAT | SF_ENDIAN_LITTLE},
	{"f32be", SF_FORMAT_FLOAT | SF_ENDIAN_BIG},
	{"f64le", SF_FORMAT_DOUBLE | SF_ENDIAN_LITTLE},
	{"f64be", SF_FORMAT_DOUBLE | SF_ENDIAN_BIG},
};

static const char *subtype_name(int format)
{
	static const struct { int sf; const char *name; } t[] = {
		{SF_FORMAT_PCM_S8, "pcm_s8"}, {SF_FORMAT_PCM_U8, "pcm_u8"},
		{SF_FORMAT_PCM_16, "pcm_16"}, {SF_FORMAT_PCM_24, "pcm_24"},
		{SF_FORMAT_PCM_32, "pcm_32"}, {SF_FORMAT_FLOAT, "float"},
		{SF_FORMAT_DOUBLE, "double"}, {SF_FORMAT_ULAW, "ulaw"},
		{SF_FORMAT_ALAW, "alaw"}, {SF_FORMAT_IMA_ADPCM, "ima_adpcm"},
		{SF_FORMAT_MS_ADPCM, "ms_adpcm"}, {SF_FORMAT_GSM610, "gsm610"},
		{SF_FORMAT_VORBIS, "vorbis"}, {SF_FORMAT_OPUS, "opus"},
		{SF_FORMAT_MPEG_LAYER_I, "layer1"}, {SF_FORMAT_MPEG_LAYER_II, "layer2"},
		{SF_FORMAT_MPEG_LAYER_III, "layer3"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if ((format & SF_FORMAT_SUBMASK) == t[i].sf)
			return t[i].name;
	return "other";
}

static void describe_format(drsn_audio_info *info, int format)
{
	SF_FORMAT_INFO fi = {.format = format & SF_FORMAT_TYPEMASK};
	char major[16] = "?";
	if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0 && fi.extension) {
		snprintf(major, sizeof major, "%s", fi.extension);
		for (char *c = major; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
	}
	if (!strcmp(major, "OGA"))
		strcpy(major, "OGG");
	else if (!strcmp(major, "M1A"))
		strcpy(major, "MPEG");
	snprintf(info->format, sizeof info->format, "%s %s", major, subtype_name(format));
}

/* ---- open ------------------------------------------------------------- */

/* After a failed sf_open: libsndfile's parse log of it, to find the field. */
static long log_field(const char *log, const char *key)
{
	const char *p = log;
	while ((p = strstr(p, key)) != NULL) {
		p += strlen(key);
		while (*p == ' ')
			p++;
		if (*p == ':') {
			p++;
			return strtol(p, NULL, 10);
		}
	}
	return -1;
}

/* Bytes of one sample of an uncompressed encoding, else 0. */
static int sample_bytes(int format)
{
	switch (format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_PCM_S8:
	case SF_FORMAT_PCM_U8:
	case SF_FORMAT_ULAW:
	case SF_FORMAT_ALAW:
		return 1;
	case SF_FORMAT_PCM_16:
		return 2;
	case SF_FORMAT_PCM_24:
		return 3;
	case SF_FORMAT_PCM_32:
	case SF_FORMAT_FLOAT:
		return 4;
	case SF_FORMAT_DOUBLE:
		return 8;
	default:
		return 0;
	}
}

/* Streaming writers put a placeholder size (0xFFFFFFFF, 0x7FFFF000, sox's
 * 0x7F000000 in AIFF...) where the length goes: no size at or past this
 * is taken as a promise. */
#define SIZE_PLACEHOLDER 0x70000000LL

/* A file whose data chunk is longer than the file (cut short): libsndfile
 * logs "data : 32000 (should be 2000)" (WAV), "SSND : ..." (AIFF),
 * "Data Size : ..." (AU), a RIFF size past the end (W64) or a frame count
 * short of the ds64 chunk's (RF64), and quietly reads what is there. The
 * frames the header declares (*frames, -1 if the encoding has no fixed
 * frame size), or else the bytes it declares and the file holds; 1 if cut. */
static int cut_data(const char *log, int format, int channels, int64_t *frames,
		    long long *declared, long long *held)
{
	static const char *keys[] = {"\ndata : ", "\n SSND : ", "\nSSND : ",
				     "\n  Data Size   : "};
	const int frame_bytes = sample_bytes(format) * channels;
	long long d = -1, a = -1, x, y;
	const char *p;

	*frames = -1;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && d < 0; i++) {
		p = strstr(log, keys[i]);
		if (p && sscanf(p + strlen(keys[i]), "%lld (should be %lld)", &x, &y) == 2) {
			/* AIFF's SSND chunk starts with 8 bytes of offset and block size */
			const long long skip = strstr(keys[i], "SSND") ? 8 : 0;
			d = x - skip;
			a = y - skip;
		}
	}
	/* W64: "riff : 96104 (should be 48052)", then "data : 96024" (its
	 * 24-byte chunk header included) */
	p = strstr(log, "\nriff : ");
	if (d < 0 && (format & SF_FORMAT_TYPEMASK) == SF_FORMAT_W64 && p &&
	    sscanf(p + 8, "%lld (should be %lld)", &x, &y) == 2 && x > y &&
	    (p = strstr(log, "\ndata : ")) && sscanf(p + 8, "%lld", &d) == 1) {
		d -= 24;
		a = d - (x - y);
	}
	/* RF64: "Calculated frame count 23971 does not match value from 'ds64'
	 * chunk of 48000." The ds64 count is also its "  Frames    : 48000"
	 * line, taken first: a 32-bit libsndfile (armhf) prints 0 in the
	 * sentence for it (a 64-bit value through a 32-bit format). */
	p = strstr(log, "Calculated frame count ");
	const char *ds64 = strstr(log, "ds64 : "), *fr = ds64 ? strstr(ds64, "\n  Frames") : NULL;
	long long ds = -1;
	if (fr && sscanf(fr, " Frames : %lld", &ds) != 1)
		ds = -1;
	if (d < 0 && p && sscanf(p, "Calculated frame count %lld does not match value from "
				 "'ds64' chunk of %lld", &y, &x) == 2 && (ds <= 0 || (x = ds)) && x > y &&
	    frame_bytes && x < INT64_MAX / frame_bytes) {
		*frames = x;
		*declared = x * frame_bytes;
		*held = y * frame_bytes;
		return 1;
	}
	if (d < 0 || a < 0 || d >= SIZE_PLACEHOLDER || d <= a)
		return 0;
	*declared = d;
	*held = a;
	if (frame_bytes)
		*frames = d / frame_bytes;
	return 1;
}

/* size < 0: not a regular file (a pipe). */
static int open_fail(drsn_error *err, const char *name, long long size, int code)
{
	const char *why = sf_error_number(code);
	char log[2048] = "";
	long v;

	sf_command(NULL, SFC_GET_LOG_INFO, log, sizeof log);
	/* libsndfile's FLAC decoder seeks back over the bytes it sniffed the
	 * format from, which a pipe cannot do: it then reports "lost sync", as
	 * if the stream were corrupt */
	if (size < 0 && strstr(log, "pipe seek") && strcasestr(why, "flac"))
		return drsn__fail(err, -ENOTSUP, "%s: FLAC cannot be read from a pipe (libsndfile "
				  "must seek in it): give the file's name, or pipe WAV instead "
				  "(e.g. 'flac -dc FILE.flac | ...')", name);
	/* a device with nothing in it (< /dev/null): libsndfile read no byte */
	if (code == SF_ERR_UNRECOGNISED_FORMAT && size < 0 && strstr(log, "Length : 0\n") &&
	    strstr(log, "short count"))
		return drsn__fail(err, -ENODATA, "%s: empty: no data to read (zero bytes)", name);
	switch (code) {
	case SF_ERR_UNRECOGNISED_FORMAT:
		if (size < 0)   /* raw PCM from a pipe needs its rate and format given (drsnd's raw_*) */
			return drsn__fail(err, -ENOTSUP, "%s: unsupported format: no header libsndfile "
					  "recognises (%s); headerless raw PCM cannot be read without its "
					  "rate and format: pipe WAV instead (e.g. 'sox IN -t wav -' or "
					  "'ffmpeg -i IN -f wav -')", name, why);
		return drsn__fail(err, -ENOTSUP, "%s: unsupported format: not an audio file libsndfile "
				  "recognises (%s)", name, why);
	case SF_ERR_SYSTEM:
		return drsn__fail(err, -EIO, "%s: read error: %s", name, why);
	case SF_ERR_UNSUPPORTED_ENCODING:
		return drsn__fail(err, -ENOTSUP, "%s: unsupported encoding (%s)", name, why);
	default:
		break;
	}
	/* A WAV whose format tag libsndfile has no decoder for (G.726, G.722,
	 * ...: telephone systems write them) is "Malformed 'fmt ' chunk" to it;
	 * with the rest of its fmt chunk sane, it is an encoding we lack */
	const char *tag = strstr(log, "=> Unknown format");
	if (tag && log_field(log, "Block Align") > 0 && log_field(log, "Bit Width") > 0 &&
	    log_field(log, "Channels") > 0) {
		const char *p = tag;
		while (p > log && p[-1] != ':' && p[-1] != '\n')
			p--;
		long t = strtol(p, NULL, 16);
		return drsn__fail(err, -ENOTSUP, "%s: unsupported encoding: WAV format tag 0x%04lX, "
				  "which libsndfile cannot decode (convert it to PCM first, e.g. "
				  "'ffmpeg -i FILE -c:a pcm_s16le OUT.wav')", name, t);
	}
	/* libsndfile parsed the header but refused its values ("SF_INFO struct
	 * incomplete", "Channel count is zero."): name the field from its log.
	 * Not for other errors: a cut-off header logs zeros it never read. */
	if (strstr(why, "SF_INFO") || strstr(why, "Channel count")) {
		v = log_field(log, "Sample Rate");
		if (v >= 0 && (v < DRSN_AUDIO_MIN_RATE || v > DRSN_AUDIO_MAX_RATE))
			return drsn__fail(err, -ERANGE, "%s: absurd sample rate %ld Hz in header "
					  "(supported %d..%d Hz)", name, v, DRSN_AUDIO_MIN_RATE,
					  DRSN_AUDIO_MAX_RATE);
		v = log_field(log, "Channels");
		if (v == 0 || v > DRSN_AUDIO_MAX_CHANNELS)
			return drsn__fail(err, -ERANGE, "%s: absurd channel count %ld in header "
					  "(supported 1..%d)", name, v, DRSN_AUDIO_MAX_CHANNELS);
	}
	if (size < 0)   /* a pipe: FLAC, CAF, VOC... need to seek, WAV does not */
		return drsn__fail(err, -EBADMSG, "%s: corrupt or truncated stream, or a format "
				  "libsndfile cannot read from a pipe (%s): pipe WAV, AIFF, AU "
				  "or OGG (e.g. sox IN -t wav -), or name the file", name, why);
	return drsn__fail(err, -EBADMSG, "%s: corrupt or truncated header or stream (%lld bytes): %s",
			  name, size, why);
}

/* 1 for encodings whose decoded samples are always within [-1, 1]: integer
 * PCM and the companded ones (libsndfile scales them by their full scale).
 * Float, double and the lossy codecs (decoded in float) are checked. */
static int bounded_encoding(int format)
{
	switch (format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_PCM_S8:
	case SF_FORMAT_PCM_U8:
	case SF_FORMAT_PCM_16:
	case SF_FORMAT_PCM_24:
	case SF_FORMAT_PCM_32:
	case SF_FORMAT_ULAW:
	case SF_FORMAT_ALAW:
		return 1;
	default:
		return 0;
	}
}

static int check_opts(const drsn_audio_opts *o, const char *name, int *raw_sf, drsn_error *err)
{
	*raw_sf = 0;
	if (o->target_rate != 0 &&
	    (o->target_rate < DRSN_AUDIO_MIN_RATE || o->target_rate > DRSN_AUDIO_MAX_RATE))
		return drsn__fail(err, -ERANGE, "%s: target_rate %d Hz outside %d..%d (or 0 = source rate)",
				  name, o->target_rate, DRSN_AUDIO_MIN_RATE, DRSN_AUDIO_MAX_RATE);
	if (!o->raw_format)
		return 0;
	for (size_t i = 0; i < sizeof raw_formats / sizeof raw_formats[0]; i++)
		if (!strcmp(o->raw_format, raw_formats[i].name))
			*raw_sf = SF_FORMAT_RAW | raw_formats[i].sf;
	if (!*raw_sf)
		return drsn__fail(err, -EINVAL, "%s: unknown raw_format '%s' (u8, s8, s16le, s16be, "
				  "s24le, s24be, s32le, s32be, f32le, f32be, f64le, f64be)",
				  name, o->raw_format);
	if (o->raw_rate < DRSN_AUDIO_MIN_RATE || o->raw_rate > DRSN_AUDIO_MAX_RATE)
		return drsn__fail(err, -ERANGE, "%s: raw_rate %d Hz outside %d..%d", name,
				  o->raw_rate, DRSN_AUDIO_MIN_RATE, DRSN_AUDIO_MAX_RATE);
	if (o->raw_channels < 1 || o->raw_channels > DRSN_AUDIO_MAX_CHANNELS)
		return drsn__fail(err, -ERANGE, "%s: raw_channels %d outside 1..%d", name,
				  o->raw_channels, DRSN_AUDIO_MAX_CHANNELS);
	return 0;
}

static pthread_mutex_t sf_open_lock = PTHREAD_MUTEX_INITIALIZER;

/* A pipe or socket (not raw PCM): peek at its header before libsndfile
 * reads it. A format libsndfile must seek in is copied into memory first
 * (spool: the offline tools), or refused naming it; RF64 has its header
 * read here (*rf64), its audio then read as raw PCM. */
static int pipe_header(int *fd, int *own_fd, const char *name, int spool, int *spooled,
		       drsn__rf64_head *rf64, drsn_error *err)
{
	unsigned char head[12];
	ssize_t n = drsn__pipe_peek(*fd, head, sizeof head);
	if (n < 0)   /* neither a pipe nor a socket: libsndfile as it is */
		return 0;
	if (n == 0)
		return drsn__fail(err, -ENODATA, "%s: empty: the stream ended before its first "
				  "byte (zero bytes)", name);
	/* An ID3v2 tag before a FLAC (or MP3) stream: dropped, to see what it
	 * tags. libsndfile skips it in a file, but from a pipe it would take a
	 * tagged FLAC for MP3 and then lose sync. */
	uint64_t tag = drsn__pipe_id3_size(head, (size_t)n);
	if (tag) {
		int r = drsn__pipe_take(*fd, NULL, tag);
		if (r < 0 && errno)
			return drsn__fail(err, -errno, "%s: read error in its ID3 tag: %s", name,
					  strerror(errno));
		n = drsn__pipe_peek(*fd, head, sizeof head);
		if (n < 0)
			return drsn__fail(err, -errno, "%s: %s", name, strerror(errno));
		if (r < 0 || n == 0)
			return drsn__fail(err, -EBADMSG, "%s: no audio after its ID3 tag (%llu bytes): "
					  "the stream ends there", name, (unsigned long long)tag);
	}
	const char *fmt = drsn__pipe_seek_format(head, (size_t)n);
	if (fmt && !spool)
		return drsn__fail(err, -ENOTSUP, "%s: %s cannot be read from a pipe (libsndfile "
				  "must seek in it): pipe WAV instead (e.g. 'sox IN -t wav -' or "
				  "'ffmpeg -i IN -f wav -'), or name the file", name, fmt);
	if (fmt) {
		int sfd = drsn__pipe_spool(*fd, name, fmt, drsn__pipe_spool_max(), err);
		if (sfd < 0)
			return sfd;
		if (*own_fd)
			close(*fd);
		*fd = sfd;
		*own_fd = 1;
		*spooled = 1;
		return 0;
	}
	if (n < 12 || memcmp(head, "RF64", 4) || memcmp(head + 8, "WAVE", 4))
		return 0;
	return drsn__rf64_read(*fd, name, rf64, err);
}

/* Takes over fd when own_fd (closed on failure too). spool: see pipe_header. */
static int open_common(drsn_audio **out, int fd, int own_fd, const char *name,
		       const drsn_audio_opts *opts, int spool, drsn_error *err)
{
	drsn_audio_opts defaults;
	drsn_audio *a = NULL;
	SF_INFO sfi;
	int raw_sf = 0, rc = 0, ch;
	char log[2048] = "";
	struct stat st = {0};
	drsn__rf64_head rf64 = {0};
	int spooled = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = drsn__fail(err, -EBADF, "%s: not an open file descriptor", name);
		goto cleanup;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = drsn__fail(err, -EISDIR, "%s: is a directory, not an audio stream", name);
		goto cleanup;
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		rc = drsn__fail(err, -ENODATA, "%s: empty file (zero length)", name);
		goto cleanup;
	}
	if (!opts) {
		drsn_audio_opts_default(&defaults);
		opts = &defaults;
	}
	rc = check_opts(opts, name, &raw_sf, err);
	if (rc < 0)
		goto cleanup;
	if (!raw_sf && !S_ISREG(st.st_mode)) {
		rc = pipe_header(&fd, &own_fd, name, spool, &spooled, &rf64, err);
		if (rc < 0)
			goto cleanup;
		fstat(fd, &st);
		if (rf64.format)
			raw_sf = SF_FORMAT_RAW | (rf64.format & SF_FORMAT_SUBMASK) | SF_ENDIAN_LITTLE;
	}

	a = calloc(1, sizeof *a);
	if (a) {
		a->fd = own_fd ? fd : -1;   /* closed by drsn_audio_close from here on */
		own_fd = 0;
	}
	if (!a || !(a->name = strdup(name))) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory", name);
		goto cleanup;
	}

	memset(&sfi, 0, sizeof sfi);
	a->limit = rf64.format ? rf64.frames : -1;
	if (raw_sf) {
		sfi.format = raw_sf;
		sfi.samplerate = rf64.format ? rf64.rate : opts->raw_rate;
		sfi.channels = rf64.format ? rf64.channels : opts->raw_channels;
	}
	/* A failed sf_open leaves its code and parse log in libsndfile globals:
	 * serialise file opens so that concurrent ones cannot swap their reasons.
	 * Not pipes: their header read may block for as long as the writer
	 * likes, and must not hold up every other open. */
	int lock = S_ISREG(st.st_mode);
	if (lock)
		pthread_mutex_lock(&sf_open_lock);
	a->sf = drsn__sf_open_fd(&a->io, fd, SFM_READ, &sfi);
	if (!a->sf)
		rc = open_fail(err, name, S_ISREG(st.st_mode) ? (long long)st.st_size : -1,
			       sf_error(NULL));
	if (lock)
		pthread_mutex_unlock(&sf_open_lock);
	if (!a->sf)
		goto cleanup;
	sf_command(a->sf, SFC_GET_LOG_INFO, log, sizeof log);

	if (sfi.samplerate < DRSN_AUDIO_MIN_RATE || sfi.samplerate > DRSN_AUDIO_MAX_RATE) {
		rc = drsn__fail(err, -ERANGE, "%s: absurd sample rate %d Hz in header (supported %d..%d Hz)",
				name, sfi.samplerate, DRSN_AUDIO_MIN_RATE, DRSN_AUDIO_MAX_RATE);
		goto cleanup;
	}
	if (sfi.channels < 1 || sfi.channels > DRSN_AUDIO_MAX_CHANNELS) {
		rc = drsn__fail(err, -ERANGE, "%s: absurd channel count %d in header (supported 1..%d)",
				name, sfi.channels, DRSN_AUDIO_MAX_CHANNELS);
		goto cleanup;
	}
	if (rf64.format) {   /* from here on as libsndfile's RF64 */
		sfi.format = rf64.format;
		raw_sf = 0;
	}
	/* A cut file, or a pipe whose header declares its length: read to the
	 * end, as sox and ffmpeg do, and then said to be short (refill) */
	a->declared = -1;
	if (rf64.format)
		a->declared = a->limit;
	else if (!raw_sf && sfi.seekable)
		cut_data(log, sfi.format, sfi.channels, &a->declared, &a->decl_bytes,
			 &a->held_bytes);
	else if (!raw_sf && sample_bytes(sfi.format) && sfi.frames > 0 &&
		 sfi.frames < SIZE_PLACEHOLDER / (sample_bytes(sfi.format) * sfi.channels))
		a->declared = sfi.frames;
	/* From a pipe libsndfile would read nothing, and say nothing: from a CAF
	 * (libsndfile 1.2), or from a WAV whose writer put 0 for "unknown length" */
	if (!sfi.seekable && (sfi.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_CAF) {
		rc = drsn__fail(err, -ENOTSUP, "%s: CAF cannot be read from a pipe: pipe WAV "
				"(e.g. sox IN -t wav -), or name the file", name);
		goto cleanup;
	}
	if (!sfi.seekable && !raw_sf && (rf64.format ? a->limit == 0 : sfi.frames == 0)) {
		rc = drsn__fail(err, -ENODATA, "%s: no audio: the header declares zero frames (a "
				"stream of unknown length must declare the largest size, as sox and "
				"ffmpeg write)", name);
		goto cleanup;
	}
	if (sfi.seekable && sfi.frames == 0) {
		if (raw_sf)   /* raw PCM has no header: the input is (nearly) empty */
			rc = drsn__fail(err, -ENODATA, "%s: no audio: not one whole frame of raw "
					"%s, %d channel(s) (the input is %s)", name, opts->raw_format,
					opts->raw_channels, st.st_size == 0 ? "empty" : "shorter");
		else
			rc = drsn__fail(err, -ENODATA, "%s: no audio: the header is valid but "
					"declares zero frames", name);
		goto cleanup;
	}

	ch = sfi.channels;
	a->info.source_rate = sfi.samplerate;
	a->info.source_channels = ch;
	/* SF_COUNT_MAX frames: the length is open. A FLAC whose writer could not
	 * seek back to say (`ffmpeg -i IN -f flac - | cat > F.flac`, or sox's to
	 * a pipe, spooled) says 0 samples, for unknown: read to its end. An Ogg
	 * file has it from its last page: without one it was cut short. */
	a->seekable = sfi.seekable;
	a->open_len = sfi.frames == SF_COUNT_MAX && !raw_sf;   /* raw PCM has no header */
	a->ogg = (sfi.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_OGG;
	a->ogg_no_end = a->ogg && a->open_len && sfi.seekable && !spooled;
	a->info.source_frames = sfi.seekable && !a->open_len ? (int64_t)sfi.frames : -1;
	a->info.sndfile_format = sfi.format;
	/* MPEG audio: without a length header (Xing/LAME, as in CBR files from
	 * recorders, VBR ones without it, MP3 in WAV) libsndfile guesses the
	 * frames from the first frame's bit rate and the file size, so a
	 * shorter decode is no sign of truncation */
	switch (sfi.format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_MPEG_LAYER_I:
	case SF_FORMAT_MPEG_LAYER_II:
	case SF_FORMAT_MPEG_LAYER_III:
		a->len_estimated = 1;
		break;
	default:
		break;
	}
	a->check = !bounded_encoding(sfi.format);
	if (raw_sf)
		snprintf(a->info.format, sizeof a->info.format, "RAW %s", opts->raw_format);
	else
		describe_format(&a->info, sfi.format);
	a->info.out_rate = opts->target_rate ? opts->target_rate : sfi.samplerate;
	a->info.out_channels = opts->keep_channels ? ch : 1;
	a->downmix = !opts->keep_channels && ch > 1;
	a->keep = opts->keep_channels;
	a->select = drsn__audio_all_channels(ch);

	if (a->info.out_rate != a->info.source_rate) {
		rc = drsn__resampler_create(&a->rs, a->info.source_rate, a->info.out_rate,
					    a->info.out_channels, CHUNK, err);
		if (rc < 0) {
			if (err) {   /* keep the reason, add the file */
				drsn_error inner = *err;
				drsn__fail(err, rc, "%s: %s", name, inner.msg);
			}
			goto cleanup;
		}
		a->pend_cap = drsn_resampler_max_out(a->rs);
	} else {
		a->pend_cap = CHUNK;
	}
	a->info.out_frames = a->info.source_frames < 0 ? -1 :
		a->rs ? drsn__resampler_total_out(a->rs, a->info.source_frames) : a->info.source_frames;

	a->src = malloc(sizeof(float) * CHUNK * (size_t)ch);
	a->mix = malloc(sizeof(float) * CHUNK * (size_t)a->info.out_channels);
	a->pend = malloc(sizeof(float) * a->pend_cap * (size_t)a->info.out_channels);
	if (!a->src || !a->mix || !a->pend) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory", name);
		goto cleanup;
	}
	*out = a;
	a = NULL;
cleanup:
	if (own_fd)
		close(fd);
	drsn_audio_close(a);
	return rc;
}

DRSN_API int drsn_audio_open(drsn_audio **out, const char *path, const drsn_audio_opts *opts,
			     drsn_error *err)
{
	struct stat st;
	int fd;

	DRSN__REQUIRE(err, out);
	*out = NULL;
	DRSN__REQUIRE(err, path);
	drsn__error_clear(err);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return drsn__fail(err, -ENOENT, "%s: no such file", path);
		if (e == EACCES)
			return drsn__fail(err, -EACCES, "%s: unreadable: permission denied", path);
		return drsn__fail(err, -e, "%s: cannot open: %s", path, strerror(e));
	}
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return drsn__fail(err, -e, "%s: cannot stat: %s", path, strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return drsn__fail(err, -EISDIR, "%s: unreadable: is a directory, not an audio file", path);
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		close(fd);
		return drsn__fail(err, -ENODATA, "%s: empty file (zero length)", path);
	}
	return open_common(out, fd, 1, path, opts, 0, err);
}

DRSN_API int drsn_audio_open_fd(drsn_audio **out, int fd, const char *name,
				const drsn_audio_opts *opts, drsn_error *err)
{
	char fdname[32];

	DRSN__REQUIRE(err, out);
	*out = NULL;
	if (!name) {
		snprintf(fdname, sizeof fdname, "fd:%d", fd);
		name = fdname;
	}
	drsn__error_clear(err);
	return open_common(out, fd, 0, name, opts, 0, err);
}

int drsn__audio_open_fd_spool(drsn_audio **out, int fd, const char *name,
			      const drsn_audio_opts *opts, drsn_error *err)
{
	DRSN__REQUIRE(err, out);
	*out = NULL;
	DRSN__REQUIRE(err, name);
	drsn__error_clear(err);
	return open_common(out, fd, 0, name, opts, 1, err);
}

DRSN_API int drsn_audio_parse_channels(const char *text, uint64_t *mask, const char *what,
				       drsn_error *err)
{
	const char *p = text;
	uint64_t m = 0;

	if (!what)
		what = "channel";
	DRSN__REQUIRE(err, mask);
	*mask = 0;
	DRSN__REQUIRE(err, text);
	drsn__error_clear(err);
	if (!strcmp(text, "mix"))
		return 0;
	for (;;) {
		char *end;
		long lo, hi;
		if (*p < '0' || *p > '9')
			goto bad;
		lo = strtol(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			if (p[1] < '0' || p[1] > '9')
				goto bad;
			hi = strtol(p + 1, &end, 10);
			p = end;
		}
		if (lo < 1 || hi > DRSN_AUDIO_MAX_CHANNELS || lo > hi)
			return drsn__fail(err, -EINVAL, "%s '%s': channels are numbered 1 to %d (a "
					  "range low-high)", what, text, DRSN_AUDIO_MAX_CHANNELS);
		for (long c = lo; c <= hi; c++)
			m |= (uint64_t)1 << (c - 1);
		if (!*p)
			break;
		if (*p != ',')
			goto bad;
		p++;
	}
	*mask = m;
	return 0;
bad:
	return drsn__fail(err, -EINVAL, "%s '%s': expected mix, a channel number (1 = the first), "
			  "a list (1,2) or a range (1-4)", what, text);
}

DRSN_API int drsn_audio_select_channels(drsn_audio *a, uint64_t mask, drsn_error *err)
{
	DRSN__REQUIRE(err, a);
	drsn__error_clear(err);
	const int ch = a->info.source_channels;
	if (a->started)
		return drsn__fail(err, -EINVAL, "%s: channels are chosen before the first read", a->name);
	if (a->keep)
		return drsn__fail(err, -EINVAL, "%s: channels are chosen for a mono output, not with "
				  "keep_channels", a->name);
	const int top = drsn__audio_top_channel(mask);
	if (top > ch)
		return drsn__fail(err, -ERANGE, "%s: channel %d asked for, but it has %d "
				  "channel%s", a->name, top, ch, ch == 1 ? "" : "s");
	if (!mask)
		mask = drsn__audio_all_channels(ch);
	a->select = mask;
	/* one channel of many: mixed (copied) too; one of one: as it is */
	a->downmix = ch > 1;
	return 0;
}

DRSN_API void drsn_audio_get_info(const drsn_audio *a, drsn_audio_info *info)
{
	if (info && a)
		*info = a->info;
	else if (info)
		memset(info, 0, sizeof *info);
}

/* ---- read ------------------------------------------------------------- */

static long read_fail(drsn_audio *a, drsn_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_failmsg(drsn_audio *a, const char *fmt, va_list ap)
{
	int n = snprintf(a->failmsg, sizeof a->failmsg, "%s: ", a->name);
	if (n >= 0 && (size_t)n < sizeof a->failmsg)
		vsnprintf(a->failmsg + n, sizeof a->failmsg - (size_t)n, fmt, ap);
}

static long read_fail(drsn_audio *a, drsn_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_failmsg(a, fmt, ap);
	va_end(ap);
	a->failed = code;
	return drsn__fail(err, code, "%s", a->failmsg);
}

/* A fault seen at the end of the source (it is shorter than its header
 * says): the frames before it are handed out first, then every read fails. */
static void end_fail(drsn_audio *a, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void end_fail(drsn_audio *a, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_failmsg(a, fmt, ap);
	va_end(ap);
	a->end_failed = code;
}

void drsn__audio_mix(const float *src, size_t n, int ch, uint64_t select, uint64_t *live,
		     int *n_live, float *out)
{
	uint64_t lv = *live;
	int nl = *n_live;
	float g = nl > 1 ? 1.0f / (float)nl : 1.0f;   /* as s * (1 / ch) always was */
	for (size_t i = 0; i < n; i++) {
		const float *f = src + i * (size_t)ch;
		float s = 0.0f;
		for (int c = 0; c < ch; c++) {
			const uint64_t bit = (uint64_t)1 << c;
			if (!(select & bit))
				continue;
			/* a silent channel adds 0: only the count changes */
			if (!(lv & bit) && f[c] != 0.0f) {
				lv |= bit;
				nl++;
				g = 1.0f / (float)nl;
			}
			s += f[c];
		}
		out[i] = s * g;
	}
	*live = lv;
	*n_live = nl;
}

/* Decode a chunk of source frames and turn it into output frames in pend.
 * Files: always CHUNK frames, so libsoxr sees one steady pattern (its FIFOs
 * stop growing after the first reads: see alloc.test.c). Pipes: only about
 * enough for `need` output frames, since libsndfile blocks until it has what
 * was asked or the stream ends, and a live stream's latency matters. */
static long refill(drsn_audio *a, size_t need, drsn_error *err)
{
	const int ch = a->info.source_channels;
	const int och = a->info.out_channels;
	sf_count_t n = 0;
	float *frames;
	int e;

	a->pend_n = a->pend_pos = 0;
	if (!a->src_eof) {
		double want = ceil((double)need * a->info.source_rate / a->info.out_rate);
		sf_count_t req = want < 1 ? 1 : want > CHUNK ? CHUNK : (sf_count_t)want;
		if (a->seekable)
			req = CHUNK;
		if (a->limit >= 0 && req > a->limit - a->src_read)
			req = a->limit - a->src_read;
		n = req > 0 ? sf_readf_float(a->sf, a->src, req) : 0;
		e = sf_error(a->sf);
		if (e == SF_ERR_SYSTEM)
			return read_fail(a, err, -EIO, "read error after %" PRId64 " frames: %s",
					 a->src_read, sf_strerror(a->sf));
		if (e != SF_ERR_NO_ERROR || n < 0)
			return read_fail(a, err, -EBADMSG, "corrupt data after %" PRId64 " frames: %s",
					 a->src_read, sf_strerror(a->sf));
		a->src_read += n;
		/* before the downmix and the resampler, which would spread one bad
		 * sample over its neighbours (audio.h, "Sample values") */
		if (n > 0 && a->check)
			a->bad += (int64_t)drsn__samples_sanitize(a->src, (size_t)n * (size_t)ch);
		if (n < req || req == 0) {
			a->src_eof = 1;
			if (a->info.source_frames >= 0 && a->src_read != a->info.source_frames &&
			    !a->len_estimated)
				end_fail(a, -EBADMSG, "truncated data: the audio ends after %" PRId64
					 " of the %" PRId64 " frames the header declares", a->src_read,
					 a->info.source_frames);
			else if (a->declared >= 0 && a->src_read < a->declared)
				end_fail(a, -EBADMSG, "truncated data: the audio ends after %" PRId64
					 " of the %" PRId64 " frames the header declares", a->src_read,
					 a->declared);
			else if (a->decl_bytes > 0)
				end_fail(a, -EBADMSG, "truncated data: the audio ends after %" PRId64
					 " frames: the header declares %lld bytes of it, the file "
					 "holds %lld", a->src_read, a->decl_bytes, a->held_bytes);
			else if (a->open_len && a->src_read == 0 && a->ogg)
				end_fail(a, -EBADMSG, "truncated or corrupt Ogg stream: not one frame "
					 "of audio decodes from it");
			else if (a->ogg_no_end)
				end_fail(a, -EBADMSG, "truncated or corrupt Ogg stream: the audio ends "
					 "after %" PRId64 " frames, and the file has no last page (cut "
					 "short?)", a->src_read);
			else if (a->open_len && a->src_read == 0)
				end_fail(a, -ENODATA, "no audio: the header is valid but no frame "
					 "follows it (it leaves the length open)");
		}
	}

	frames = a->src;
	if (n > 0 && a->downmix) {
		drsn__audio_mix(a->src, (size_t)n, ch, a->select, &a->live, &a->n_live, a->mix);
		frames = a->mix;
	}

	if (!a->rs) {
		if (n > 0)
			memcpy(a->pend, frames, sizeof(float) * (size_t)n * (size_t)och);
		a->pend_n = (size_t)n;
		if (a->src_eof && n == 0)
			a->done = 1;
		return 0;
	}
	if (n > 0) {
		size_t got = 0;
		int rc = drsn_resampler_process(a->rs, frames, (size_t)n, a->pend, a->pend_cap, &got);
		if (rc < 0)
			return read_fail(a, err, rc, "resampler failed: %s", drsn_strerror(rc));
		a->pend_n = got;
	} else {
		size_t got = 0;
		int rc = drsn_resampler_flush(a->rs, a->pend, a->pend_cap, &got);
		if (rc < 0)
			return read_fail(a, err, rc, "resampler failed: %s", drsn_strerror(rc));
		a->pend_n = got;
		if (got == 0)
			a->done = 1;
	}
	return 0;
}

DRSN_API long drsn_audio_read(drsn_audio *a, float *buf, size_t max_frames, drsn_error *err)
{
	size_t got = 0;
	const size_t och = a ? (size_t)a->info.out_channels : 1;

	DRSN__REQUIRE(err, a);
	DRSN__REQUIRE(err, buf);
	if (max_frames == 0)
		return drsn__fail(err, -EINVAL, "drsn_audio_read: max_frames is 0");
	if (a->failed)
		return drsn__fail(err, a->failed, "%s", a->failmsg);
	a->started = 1;
	if (max_frames > (size_t)LONG_MAX)
		max_frames = (size_t)LONG_MAX;
	while (got < max_frames) {
		if (a->pend_pos < a->pend_n) {
			size_t k = a->pend_n - a->pend_pos;
			if (k > max_frames - got)
				k = max_frames - got;
			memcpy(buf + got * och, a->pend + a->pend_pos * och, k * och * sizeof *buf);
			a->pend_pos += k;
			got += k;
			continue;
		}
		if (a->done && a->end_failed && !got) {
			a->failed = a->end_failed;
			return drsn__fail(err, a->failed, "%s", a->failmsg);
		}
		if (a->done)
			break;
		long rc = refill(a, max_frames - got, err);
		if (rc < 0)
			return rc;
	}
	return (long)got;
}

DRSN_API int64_t drsn_audio_bad_samples(const drsn_audio *a)
{
	return a ? a->bad : 0;
}

DRSN_API void drsn_audio_close(drsn_audio *a)
{
	if (!a)
		return;
	if (a->sf)
		sf_close(a->sf);
	if (a->fd >= 0)
		close(a->fd);
	drsn_resampler_destroy(a->rs);
	free(a->src);
	free(a->mix);
	free(a->pend);
	free(a->name);
	free(a);
}

DRSN_API int drsn_audio_read_all(const char *path, const drsn_audio_opts *opts, float **out,
				 size_t *n_frames, drsn_error *err)
{
	drsn_audio *a = NULL;
	float *buf = NULL;
	size_t n = 0, cap = 0, och, max_frames;
	int rc;

	if (out)
		*out = NULL;
	if (n_frames)
		*n_frames = 0;
	DRSN__REQUIRE(err, out);
	DRSN__REQUIRE(err, n_frames);
	DRSN__REQUIRE(err, path);
	rc = drsn_audio_open(&a, path, opts, err);
	if (rc < 0)
		goto cleanup;
	och = (size_t)a->info.out_channels;
	/* Every buffer size below fits in size_t: with a 32-bit size_t a long
	 * file (or a high target rate) would wrap cap * och * sizeof *buf to a
	 * few bytes, and the reads would run past them. */
	max_frames = SIZE_MAX / och / sizeof *buf;
	if (a->info.out_frames >= (int64_t)max_frames) {
		rc = drsn__fail(err, -ENOMEM, "%s: %" PRId64 " frames of %zu channel(s) do not fit "
				"in memory (at most %zu in this %zu-bit build)", path,
				a->info.out_frames, och, max_frames, sizeof(size_t) * 8);
		goto cleanup;
	}
	/* exact for files: +1 so the read that meets the end needs no growth */
	cap = a->info.out_frames > 0 ? (size_t)a->info.out_frames + 1 : 16000;
	for (;;) {
		if (n == cap) {
			float *nb;
			if (cap > max_frames / 2) {
				rc = drsn__fail(err, -ENOMEM, "%s: out of memory after %zu frames", path, n);
				goto cleanup;
			}
			cap *= 2;
			nb = realloc(buf, cap * och * sizeof *buf);
			if (!nb) {
				rc = drsn__fail(err, -ENOMEM, "%s: out of memory", path);
				goto cleanup;
			}
			buf = nb;
		}
		if (!buf && !(buf = malloc(cap * och * sizeof *buf))) {
			rc = drsn__fail(err, -ENOMEM, "%s: out of memory", path);
			goto cleanup;
		}
		long k = drsn_audio_read(a, buf + n * och, cap - n, err);
		if (k < 0) {
			rc = (int)k;
			goto cleanup;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	*out = buf;
	*n_frames = n;
	buf = NULL;
cleanup:
	free(buf);
	drsn_audio_close(a);
	return rc;
}
