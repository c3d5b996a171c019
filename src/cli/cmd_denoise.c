/* drsn denoise: denoise an audio file (see drsn/denoise.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "audio/sndfile_io.h"
#include "cli/cli.h"
#include "common/outfile.h"
#include "drsn/audio.h"
#include "drsn/denoise.h"

#define CHUNK 4096

/* --channel: 0 = not given (every channel denoised on its own); else mono
 * out, as drsn_audio gives it (mix: the average; a selection). */
static struct {
	int given;
	uint64_t mask;
} channel;

/* The progress bar (stderr a terminal, no --quiet): files of at least
 * BAR_MIN_S seconds, which take some seconds to denoise (a 24 h 48 kHz
 * stereo file takes minutes), drawn every BAR_EVERY chunks. */
#define BAR_MIN_S 600.0
#define BAR_EVERY 64
static struct {
	int on;
	int file, n_files;
} bar = {0, 1, 1};

static void usage(FILE *f)
{
	drsn_denoise_opts o;
	drsn_denoise_opts_default(&o);
	fprintf(f,
		"usage: drsn denoise [--strength DB] [--frame-ms MS] [--channel SEL] [--vad OUT.csv] IN OUT\n"
		"       drsn denoise [--strength DB] [--frame-ms MS] [--channel SEL] [-j N] IN_FOLDER OUT_FOLDER\n"
		"\n"
		"Removes background noise from IN (any format libsndfile reads; '-' is stdin)\n"
		"and writes OUT at the same rate and channel count, each channel denoised on\n"
		"its own, time-aligned with IN (the denoiser's one-frame delay is removed).\n"
		"OUT's container follows its extension (.wav .flac .ogg .aiff .au .caf .w64\n"
		".mp3 .opus), else IN's; the sample encoding is IN's where OUT's container\n"
		"allows it (ADPCM: 16-bit PCM). A .wav OUT is RF64 (64-bit sizes) if IN is,\n"
		"if it would pass the 4 GiB a WAV holds, or if IN is a pipe (then a WAV again\n"
		"at the end if it stayed small).\n"
		"OUT '-' is stdout (not a terminal), always a WAV (IN's encoding if PCM or\n"
		"float, else 16-bit); on a pipe a WAV stream (header of unknown length),\n"
		"e.g. 'drsn denoise IN - | aplay'.\n"
		"With a folder, every audio file under IN_FOLDER is written to the same\n"
		"relative path under OUT_FOLDER (created; not inside IN_FOLDER), one line\n"
		"'IN -> OUT' per file on stdout; a run where an output would be an input\n"
		"file (OUT_FOLDER above IN_FOLDER) or two inputs one output is refused.\n"
		"OUT and OUT.csv are written beside their final names and replace them only\n"
		"when complete (a failed or interrupted run leaves them as they were); an\n"
		"output that is the same file as IN is refused.\n"
		"  --strength DB   most attenuation of any time-frequency bin, 0..100 dB\n"
		"                  (default %g; 0 passes the audio through unchanged)\n"
		"  --frame-ms MS   analysis frame, 8..64 ms (default %g); also the delay of the\n"
		"                  streaming API\n"
		"  --channel SEL   mono OUT, from these channels of IN: mix (the average of\n"
		"                  all but those that are digital silence), N (1 = the first),\n"
		"                  a list 1,2 or a range 1-4 (their average); without it every\n"
		"                  channel is kept and denoised on its own\n"
		"  --vad OUT.csv   write 'time_s,speech' per frame of the first channel: the\n"
		"                  denoiser's speech-presence probability in [0, 1] ('-': stdout)\n"
		"  -j, --jobs N    with folders: files on N threads at once [1]; 0 or auto: one\n"
		"                  per online CPU; the same files and lines, in the same order\n"
		"  -q, --quiet     no progress bar (shown on a terminal for files of 10 min or more)\n",
		(double)o.strength_db, (double)o.frame_ms);
}

static const struct { const char *ext; int major; int subtype; } containers[] = {
	{"wav", SF_FORMAT_WAV, SF_FORMAT_PCM_16}, {"flac", SF_FORMAT_FLAC, SF_FORMAT_PCM_16},
	{"ogg", SF_FORMAT_OGG, SF_FORMAT_VORBIS}, {"oga", SF_FORMAT_OGG, SF_FORMAT_VORBIS},
	{"aiff", SF_FORMAT_AIFF, SF_FORMAT_PCM_16}, {"aif", SF_FORMAT_AIFF, SF_FORMAT_PCM_16},
	{"au", SF_FORMAT_AU, SF_FORMAT_PCM_16}, {"caf", SF_FORMAT_CAF, SF_FORMAT_PCM_16},
	{"w64", SF_FORMAT_W64, SF_FORMAT_PCM_16}, {"mp3", SF_FORMAT_MPEG, SF_FORMAT_MPEG_LAYER_III},
	{"opus", SF_FORMAT_OGG, SF_FORMAT_OPUS},
};

/* sf_format_check() and what libsndfile can write: it passes MPEG Layer I
 * and II (read-only: "unimplemented format" at open) and a WAV holding MPEG
 * Layer III ("unsupported encoding"), so an MP2 or MP3 IN would make an OUT
 * that cannot be opened. */
static int can_write(int format, int rate, int channels)
{
	int sub = format & SF_FORMAT_SUBMASK;
	if (sub == SF_FORMAT_MPEG_LAYER_I || sub == SF_FORMAT_MPEG_LAYER_II ||
	    (sub == SF_FORMAT_MPEG_LAYER_III && (format & SF_FORMAT_TYPEMASK) != SF_FORMAT_MPEG))
		return 0;
	SF_INFO si = {.samplerate = rate, .channels = channels, .format = format};
	return sf_format_check(&si);
}

/* The libsndfile format to write: container from OUT's extension (else the
 * input's), encoding from the input where that container takes it (not
 * ADPCM, which would change the length; see below); 0 if the
 * container OUT's extension names cannot hold this audio (MP3: 2 channels). */
static int out_format(const char *path, int in_format, int rate, int channels)
{
	const char *dot = strrchr(path, '.');
	int major = in_format & SF_FORMAT_TYPEMASK, fallback = SF_FORMAT_PCM_16, named = 0;
	if (dot) {
		for (size_t i = 0; i < sizeof containers / sizeof containers[0]; i++)
			if (!strcasecmp(dot + 1, containers[i].ext)) {
				major = containers[i].major;
				fallback = containers[i].subtype;
				named = 1;
			}
	}
	/* .wav from a WAVE_FORMAT_EXTENSIBLE input (e.g. 5.1) stays extensible:
	 * plain WAV has no channel mask, so players lose the speaker layout;
	 * from an RF64 input (long recordings) it stays RF64 */
	if (major == SF_FORMAT_WAV && ((in_format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAVEX ||
				       (in_format & SF_FORMAT_TYPEMASK) == SF_FORMAT_RF64))
		major = in_format & SF_FORMAT_TYPEMASK;
	int sub = in_format & SF_FORMAT_SUBMASK;
	/* ADPCM comes in whole blocks, of a size each writer picks: libsndfile
	 * reads a block's worth (its last one padded) and writes blocks of its
	 * own size, so OUT would be up to a block longer than IN: 16-bit PCM */
	if (sub != SF_FORMAT_IMA_ADPCM && sub != SF_FORMAT_MS_ADPCM && can_write(major | sub, rate, channels))
		return major | sub;
	if (can_write(major | fallback, rate, channels))
		return major | fallback;
	if (named)
		return 0;   /* not a WAV under another name */
	return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
}

/* Bits of an integer PCM encoding, else 0 (float, compressed, companded). */
static int pcm_bits(int format)
{
	switch (format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_PCM_S8:
	case SF_FORMAT_PCM_U8:
		return 8;
	case SF_FORMAT_PCM_16:
		return 16;
	case SF_FORMAT_PCM_24:
		return 24;
	case SF_FORMAT_PCM_32:
		return 32;
	default:
		return 0;
	}
}

/* Most bytes a WAV may hold: its sizes are 32-bit. libsndfile writes a larger
 * one without complaint, with sizes wrapped modulo 4 GiB, which every reader
 * then takes for a short file. Tests build drsn with a small limit. */
#ifndef DRSN__WAV_MAX_BYTES
#define DRSN__WAV_MAX_BYTES 0xFFFFFFFFLL
#endif

/* A .wav OUT that could pass DRSN__WAV_MAX_BYTES (frames known and too many,
 * or unknown: a pipe): RF64 instead (the same container with 64-bit sizes).
 * For an unknown length the caller asks libsndfile to write it back as a
 * WAV at close if it stayed under 4 GiB (SFC_RF64_AUTO_DOWNGRADE; it is then
 * WAVE_FORMAT_EXTENSIBLE). Returns format, or the RF64 one. */
static int wav_or_rf64(int format, int64_t frames, int channels)
{
	int major = format & SF_FORMAT_TYPEMASK, sub = format & SF_FORMAT_SUBMASK;
	if (major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX)
		return format;
	/* bytes a sample (at most: A-law, mu-law, ADPCM, GSM take 2 or fewer),
	 * plus room for the header */
	double bytes = pcm_bits(format) ? pcm_bits(format) / 8 : sub == SF_FORMAT_DOUBLE ? 8 :
		       sub == SF_FORMAT_FLOAT ? 4 : 2;
	if (frames >= 0 && (double)frames * channels * bytes + 65536 <= (double)DRSN__WAV_MAX_BYTES)
		return format;
	SF_INFO si = {.samplerate = 16000, .channels = channels, .format = SF_FORMAT_RF64 | sub};
	return sf_format_check(&si) ? si.format : format;
}

/* Float samples to integer PCM of the given bits, rounded to nearest and
 * clipped, left-aligned in an int for sf_writef_int (whose narrowing is an
 * exact shift). libsndfile's own float path with SFC_SET_CLIPPING truncates
 * (floor): -0.5 LSB of DC and twice the quantisation noise power. */
static void to_pcm(const float *x, int *y, size_t n, int bits)
{
	const double scale = ldexp(1.0, bits - 1), hi = scale - 1;
	for (size_t i = 0; i < n; i++) {
		double v = rint((double)x[i] * scale);
		v = v > hi ? hi : v < -scale ? -scale : v == v ? v : 0;   /* NaN: 0 (never from the denoiser) */
		y[i] = (int)((int64_t)v * ((int64_t)1 << (32 - bits)));
	}
}

/* Stdout that is a pipe: a WAV stream, IN's encoding if it is PCM or float
 * (else 16-bit), written by libsndfile as raw little-endian samples after
 * write_stream_wav_header(). */
static int pipe_format(int in_format, int rate, int channels)
{
	int sub = out_format("-.wav", in_format, rate, channels) & SF_FORMAT_SUBMASK;
	if (!pcm_bits(sub) && sub != SF_FORMAT_FLOAT && sub != SF_FORMAT_DOUBLE)
		sub = SF_FORMAT_PCM_16;
	if (sub == SF_FORMAT_PCM_S8)
		sub = SF_FORMAT_PCM_U8;   /* WAV's 8 bits are unsigned */
	return SF_FORMAT_RAW | SF_ENDIAN_LITTLE | sub;
}

static void put_le(unsigned char *p, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The 44-byte header of a WAV of unknown length (RIFF and data sizes
 * 0xFFFFFFFF, as sox and ffmpeg write to pipes) for si's raw format. 0 or
 * -1 with errno. */
static int write_stream_wav_header(int fd, const SF_INFO *si)
{
	int sub = si->format & SF_FORMAT_SUBMASK, bits = pcm_bits(sub);
	int bytes = bits ? bits / 8 : sub == SF_FORMAT_DOUBLE ? 8 : 4;
	unsigned char h[44];
	memcpy(h, "RIFF", 4);
	put_le(h + 4, 0xFFFFFFFFu, 4);
	memcpy(h + 8, "WAVEfmt ", 8);
	put_le(h + 16, 16, 4);
	put_le(h + 20, bits ? 1 : 3, 2);   /* PCM or IEEE float */
	put_le(h + 22, (uint32_t)si->channels, 2);
	put_le(h + 24, (uint32_t)si->samplerate, 4);
	put_le(h + 28, (uint32_t)(si->samplerate * si->channels * bytes), 4);
	put_le(h + 32, (uint32_t)(si->channels * bytes), 2);
	put_le(h + 34, (uint32_t)(8 * bytes), 2);
	memcpy(h + 36, "data", 4);
	put_le(h + 40, 0xFFFFFFFFu, 4);
	for (size_t done = 0; done < sizeof h;) {
		ssize_t w = write(fd, h + done, sizeof h - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			errno = w < 0 ? errno : EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

/* IN's speaker layout (its WAVEX channel mask) onto out, if it has one;
 * else out keeps libsndfile's default for its channel count. IN is opened
 * again for this, so only if it is a regular file (not a FIFO). */
static void copy_channel_map(const char *in_path, SNDFILE *out, int nch)
{
	struct stat st;
	if (stat(in_path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	SF_INFO si = {0};
	drsn__sfio io;
	int fd = open(in_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	SNDFILE *in = drsn__sf_open_fd(&io, fd, SFM_READ, &si);
	int *map = malloc((size_t)nch * sizeof *map);
	if (in && map && si.channels == nch &&
	    sf_command(in, SFC_GET_CHANNEL_MAP_INFO, map, nch * (int)sizeof *map) == SF_TRUE)
		sf_command(out, SFC_SET_CHANNEL_MAP_INFO, map, nch * (int)sizeof *map);
	free(map);
	if (in)
		sf_close(in);
	close(fd);
}

struct vad_out { FILE *f; int rate, hop, lat; int failed; int err; };

static void on_frame(void *user, uint64_t frame, float speech)
{
	struct vad_out *v = user;
	/* Frame f covers input [(f + 1) * hop - lat, (f + 1) * hop): report its centre. */
	double t = ((double)(frame + 1) * v->hop - v->lat / 2.0) / v->rate;
	if (t >= 0 && fprintf(v->f, "%.4f,%.4f\n", t, (double)speech) < 0 && !v->failed) {
		v->failed = 1;
		v->err = errno;
	}
}

/* "OUT: write failed: " and the cause: the errno our I/O saw (a full disk,
 * a file size limit), else libsndfile's message for out (NULL: after
 * sf_close). libsndfile's own message after a short write through our I/O
 * is "No Error.". */
static void write_failed(const char *out_path, SNDFILE *out, const drsn__sfio *io)
{
	drsn__cli_err("%s: write failed: %s", out_path,
		      io->err ? strerror(io->err) : out ? sf_strerror(out) : "unknown error");
}

/* An output that would overwrite the input, or two outputs in one file:
 * 2 with the reason on stderr, else 0. Nothing is opened. */
static int refuse_clashes(const char *in_path, const char *out_path, const char *vad_path)
{
	const char *in[] = {in_path};
	if (drsn__cli_refuse_clash("denoise", out_path, in, 1) ||
	    (vad_path && drsn__cli_refuse_clash("denoise", vad_path, in, 1)))
		return 2;
	if (vad_path && !strcmp(vad_path, "-") && !strcmp(out_path, "-")) {
		drsn__cli_err("denoise: --vad - and the output - would both go to stdout");
		return 2;
	}
	if (vad_path && (!strcmp(vad_path, out_path) || drsn__cli_same_file(vad_path, out_path))) {
		drsn__cli_err("denoise: --vad %s and the output %s are the same file", vad_path,
			      out_path);
		return 2;
	}
	return 0;
}

/* Denoises one file into out_path; 0, or 1 with the reason on stderr (2: an
 * output is the input). out_path and vad_path are replaced only on success. */
static int denoise_file(const drsn_denoise_opts *o, const char *in_path, const char *out_path,
			const char *vad_path)
{
	int rc = refuse_clashes(in_path, out_path, vad_path), nch = 0;
	if (rc)
		return rc;
	if (!strcmp(out_path, "-") && isatty(STDOUT_FILENO)) {
		drsn__cli_err("denoise: -: not writing a binary WAV to a terminal (redirect or pipe "
			      "stdout, e.g. '| aplay')");
		return 2;
	}
	rc = 1;
	drsn_error e;
	drsn_audio *a = NULL;
	drsn_denoise **dn = NULL;
	SNDFILE *out = NULL;
	drsn__sfio out_io;   /* out's I/O: lives until sf_close(out) */
	drsn__outfile out_file = {.fd = -1}, vad_file = {.fd = -1};
	float *buf = NULL, *ch = NULL, *res = NULL;
	int *ires = NULL, bits = 0;
	struct vad_out vad = {0};

	drsn_audio_opts ao;
	drsn_audio_opts_default(&ao);
	ao.target_rate = 0;       /* keep the source rate */
	ao.keep_channels = !channel.given;
	int orc = drsn__cli_audio_open(&a, in_path, &ao, channel.mask, &e);
	if (orc < 0) {
		drsn__cli_err("%s", e.msg);
		goto cleanup;
	}
	drsn_audio_info info;
	drsn_audio_get_info(a, &info);
	nch = info.out_channels;

	dn = calloc((size_t)nch, sizeof *dn);
	if (!dn)
		goto nomem;
	if (vad_path && !strcmp(vad_path, "-")) {
		vad.f = stdout;
		fprintf(vad.f, "time_s,speech\n");
	} else if (vad_path) {
		if (drsn__outfile_open(&vad_file, vad_path, &e) < 0) {
			drsn__cli_err("%s", e.msg);
			goto cleanup;
		}
		vad.f = fdopen(vad_file.fd, "w");
		if (!vad.f) {
			drsn__cli_err("%s: cannot create: %s", vad_path, strerror(errno));
			close(vad_file.fd);
			goto cleanup;
		}
		fprintf(vad.f, "time_s,speech\n");
	}
	for (int c = 0; c < nch; c++) {
		drsn_denoise_opts oc = *o;
		if (c == 0 && vad.f) {
			oc.on_frame = on_frame;
			oc.user = &vad;
		}
		if (drsn_denoise_create(&dn[c], info.out_rate, &oc, &e) < 0) {
			drsn__cli_err("%s: %s", in_path, e.msg);
			goto cleanup;
		}
	}
	int lat = drsn_denoise_latency(dn[0]);
	vad.rate = info.out_rate;
	vad.hop = drsn_denoise_hop(dn[0]);
	vad.lat = lat;

	size_t cap = CHUNK > (size_t)lat ? CHUNK : (size_t)lat;
	buf = malloc(cap * (size_t)nch * sizeof *buf);
	ch = malloc(cap * sizeof *ch);
	res = malloc(cap * (size_t)nch * sizeof *res);
	if (!buf || !ch || !res)
		goto nomem;

	SF_INFO si = {.samplerate = info.out_rate, .channels = nch};
	int to_stdout = !strcmp(out_path, "-");
	si.format = out_format(to_stdout ? "-.wav" : out_path, info.sndfile_format, info.out_rate, nch);
	if (to_stdout)   /* a WAV, a pipe's or not: IN's encoding if PCM or float, else 16-bit */
		si.format = (si.format & SF_FORMAT_TYPEMASK) |
			    (pipe_format(info.sndfile_format, info.out_rate, nch) & SF_FORMAT_SUBMASK);
	if (!si.format) {
		drsn__cli_err("%s: a %s file cannot hold %d channels at %d Hz (try .wav or .flac)",
			      out_path, strrchr(out_path, '.'), nch, info.out_rate);
		goto cleanup;
	}
	int auto_wav = 0;   /* RF64 for a length unknown: back to WAV if it stays small */
	if ((si.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_RF64) {
		int f = wav_or_rf64(si.format, info.out_frames, nch);
		auto_wav = f != si.format && info.out_frames < 0;
		si.format = f;
	}
	if (!(ires = malloc(cap * (size_t)nch * sizeof *ires)))
		goto nomem;
	bits = pcm_bits(si.format);
	if (to_stdout && lseek(1, 0, SEEK_CUR) < 0) {
		/* a pipe: libsndfile writes no container there but raw */
		si.format = pipe_format(info.sndfile_format, info.out_rate, nch);
		auto_wav = 0;
		bits = pcm_bits(si.format);
		if (write_stream_wav_header(1, &si) < 0) {
			drsn__cli_err("-: cannot write to stdout: %s", strerror(errno));
			goto cleanup;
		}
	} else if (!to_stdout && drsn__outfile_open(&out_file, out_path, &e) < 0) {
		drsn__cli_err("%s", e.msg);
		goto cleanup;
	}
	/* stdout (a pipe or a file), or OUT: the descriptor stays ours, to
	 * close whether or not this succeeds */
	out = drsn__sf_open_fd(&out_io, out_file.fd >= 0 ? out_file.fd : 1, SFM_WRITE, &si);
	if (!out) {
		drsn__cli_err("%s: cannot write: %s", out_path, sf_strerror(NULL));
		goto cleanup;
	}
	sf_command(out, SFC_SET_CLIPPING, NULL, SF_TRUE);
	if (auto_wav)
		sf_command(out, SFC_RF64_AUTO_DOWNGRADE, NULL, SF_TRUE);
	if (((si.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAVEX ||
	     (si.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_RF64) && strcmp(in_path, "-"))
		copy_channel_map(in_path, out, nch);

	size_t skip = (size_t)lat;   /* the first lat output frames precede the input */
	double total = (double)info.out_frames, read = 0;
	int show_bar = bar.on && total >= BAR_MIN_S * info.out_rate;
	for (int done = 0, chunks = 0; !done; chunks++) {
		if (show_bar && chunks % BAR_EVERY == 0)
			drsn__cli_progress(read, total, bar.file, bar.n_files);
		long n = drsn_audio_read(a, buf, CHUNK, &e);
		if (n < 0) {
			drsn__cli_err("%s", e.msg);
			goto cleanup;
		}
		if (n == 0) {
			drsn__cli_warn_bad_samples("denoise", in_path, a);
			n = lat;   /* flush */
			done = 1;
		} else {
			read += (double)n;
		}
		for (int c = 0; c < nch; c++) {
			if (done) {
				drsn_denoise_flush(dn[c], ch);
			} else {
				for (long i = 0; i < n; i++)
					ch[i] = buf[i * nch + c];
				drsn_denoise_process(dn[c], ch, (size_t)n, ch);
			}
			for (long i = 0; i < n; i++)
				res[i * nch + c] = ch[i];
		}
		size_t from = skip < (size_t)n ? skip : (size_t)n;
		skip -= from;
		sf_count_t m = (sf_count_t)((size_t)n - from);
		if (m > 0 && bits)
			to_pcm(res + from * (size_t)nch, ires, (size_t)m * (size_t)nch, bits);
		if (m > 0 && (bits ? sf_writef_int(out, ires, m)
				   : sf_writef_float(out, res + from * (size_t)nch, m)) != m) {
			write_failed(out_path, out, &out_io);
			goto cleanup;
		}
	}
	if (vad.f && (vad.failed || fflush(vad.f) != 0)) {
		drsn__cli_err("%s: write failed: %s", vad_path,
			      strerror(vad.failed ? vad.err : errno));
		goto cleanup;
	}
	if (show_bar) {
		drsn__cli_progress(total, total, bar.file, bar.n_files);
		drsn__cli_progress_erase();
	}
	rc = 0;
	goto cleanup;

nomem:
	drsn__cli_err("denoise: out of memory");
cleanup:
	if (out && sf_close(out) != 0 && rc == 0) {
		write_failed(out_path, NULL, &out_io);
		rc = 1;
	}
	if (out_file.fd >= 0 && close(out_file.fd) != 0 && rc == 0) {
		drsn__cli_err("%s: write failed: %s", out_path, strerror(errno));
		rc = 1;
	}
	if (vad.f && (vad.f == stdout ? fflush(vad.f) : fclose(vad.f)) != 0 && rc == 0) {
		drsn__cli_err("%s: write failed: %s", vad_path, strerror(errno));
		rc = 1;
	}
	/* in place only now, and only both (a stop signal waits until both are);
	 * on failure only our temporary files go */
	drsn__outfile_hold_signals(1);
	if (rc == 0 && (drsn__outfile_commit(&out_file, &e) < 0 ||
			drsn__outfile_commit(&vad_file, &e) < 0)) {
		drsn__cli_err("%s", e.msg);
		rc = 1;
	}
	drsn__outfile_discard(&out_file);
	drsn__outfile_discard(&vad_file);
	drsn__outfile_hold_signals(0);
	for (int c = 0; dn && c < nch; c++)
		drsn_denoise_destroy(dn[c]);
	free(dn);
	free(buf);
	free(ch);
	free(res);
	free(ires);
	drsn_audio_close(a);
	return rc;
}

struct folder_job {
	const drsn_denoise_opts *o;
	const char *in_dir, *out_dir;
	const struct drsn__cli_files *fl;
};

/* The output of file i of a folder (the same relative path under out_dir)
 * into out; 0, or -1 (said if say) when it is too long. */
static int folder_out_path(const struct folder_job *j, size_t i, char *out, size_t n, int say)
{
	const char *rel = j->fl->file[i].path + strlen(j->in_dir), *out_dir = j->out_dir;
	while (*rel == '/')
		rel++;
	int olen = (int)strlen(out_dir);
	while (olen > 1 && out_dir[olen - 1] == '/')
		olen--;   /* "out/" and "out" name the same files */
	if (snprintf(out, n, "%.*s/%s", olen, out_dir, rel) >= (int)n) {
		if (say)
			drsn__cli_err("denoise: %s/%s: path too long", out_dir, rel);
		return -1;
	}
	return 0;
}

/* The path a file written at p ends up at: p with its longest existing
 * prefix resolved (symbolic links, "..") by realpath; 0, or -1. */
static int final_path(const char *p, char *res)
{
	char head[PATH_MAX];
	size_t n = strlen(p);
	if (n >= sizeof head)
		return -1;
	memcpy(head, p, n + 1);
	for (;;) {
		char *slash = strrchr(head, '/');
		if (realpath(head, res)) {
			size_t k = strlen(res);
			if (k + strlen(p + strlen(head)) >= PATH_MAX)
				return -1;
			strcpy(res + k, p + strlen(head));
			return 0;
		}
		if (errno != ENOENT || !slash || slash == head)
			return -1;
		*slash = 0;
	}
}

struct clash_key { dev_t dev; ino_t ino; size_t i; int out; };

static int by_inode(const void *pa, const void *pb)
{
	const struct clash_key *a = pa, *b = pb;
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	return a->out - b->out;   /* an input first */
}

/* An output's final path and the input it is written from. */
struct final_out { char *path; size_t i; };

static int by_path(const void *pa, const void *pb)
{
	return strcmp(((const struct final_out *)pa)->path, ((const struct final_out *)pb)->path);
}

/* Before anything is written: no output of the run may be one of its input
 * files (the same device and inode; an OUT_FOLDER above IN_FOLDER maps
 * IN/b/x.wav onto IN/x.wav), nor two outputs the same file (a symbolic link
 * to a folder under OUT_FOLDER). 2 with both named on stderr, 1 when out of
 * memory, else 0. */
static int refuse_folder_clashes(const struct folder_job *j)
{
	size_t n = j->fl->n, nk = 0, nf = 0;
	struct clash_key *k = malloc((2 * n + 1) * sizeof *k);
	struct final_out *fin = calloc(n + 1, sizeof *fin);
	int rc = 1;
	if (!k || !fin) {
		drsn__cli_err("denoise: out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		char out[PATH_MAX], res[PATH_MAX];
		struct stat st;
		if (j->fl->file[i].error || folder_out_path(j, i, out, sizeof out, 0) < 0)
			continue;   /* said when its turn comes */
		if (stat(j->fl->file[i].path, &st) == 0 && S_ISREG(st.st_mode))
			k[nk++] = (struct clash_key){st.st_dev, st.st_ino, i, 0};
		if (stat(out, &st) == 0)
			k[nk++] = (struct clash_key){st.st_dev, st.st_ino, i, 1};
		if (final_path(out, res) == 0) {
			if (!(fin[nf].path = strdup(res))) {
				drsn__cli_err("denoise: out of memory");
				goto cleanup;
			}
			fin[nf++].i = i;
		}
	}
	rc = 2;
	qsort(k, nk, sizeof *k, by_inode);
	for (size_t a = 0; a + 1 < nk; a++) {
		const struct clash_key *x = &k[a], *y = &k[a + 1];
		if (x->dev == y->dev && x->ino == y->ino && !x->out && y->out) {
			char out[PATH_MAX];
			folder_out_path(j, y->i, out, sizeof out, 0);
			drsn__cli_err("denoise: the output %s (of %s) is the input %s: refusing to "
				      "overwrite an input (choose an output folder that is not above "
				      "the input folder)", out, j->fl->file[y->i].path,
				      j->fl->file[x->i].path);
			goto cleanup;
		}
	}
	qsort(fin, nf, sizeof *fin, by_path);
	for (size_t a = 0; a + 1 < nf; a++) {
		if (!strcmp(fin[a].path, fin[a + 1].path)) {
			size_t ia = fin[a].i, ib = fin[a + 1].i;
			drsn__cli_err("denoise: %s and %s would both be written to %s: refusing "
				      "(a symbolic link in the output folder?)",
				      j->fl->file[ia < ib ? ia : ib].path, j->fl->file[ia < ib ? ib : ia].path,
				      fin[a].path);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	for (size_t a = 0; fin && a < nf; a++)
		free(fin[a].path);
	free(fin);
	free(k);
	return rc;
}

/* File i of a folder (on -j worker w): 0, or 1 when it failed. */
static int denoise_one(void *user, int w, size_t i)
{
	struct folder_job *j = user;
	const char *in = j->fl->file[i].path;
	(void)w;   /* a denoiser is made for each file: nothing of a worker's own */
	if (j->fl->file[i].error) {
		drsn__cli_err("denoise: %s", j->fl->file[i].error);
		return 1;
	}
	if (drsn__cli_stdout_failed())   /* said once already: write no more files */
		return 1;
	char out[PATH_MAX];
	if (folder_out_path(j, i, out, sizeof out, 1) < 0)
		return 1;
	int mrc = drsn__cli_make_parents(out);
	if (mrc < 0) {
		drsn__cli_err("denoise: %s: cannot create its folder: %s", out, strerror(-mrc));
		return 1;
	}
	if (!drsn__cli_capturing()) {   /* -j 1; a worker's bar is drawn by denoise_tick */
		bar.file = (int)i + 1;
		bar.n_files = (int)j->fl->n;
	}
	if (denoise_file(j->o, in, out, NULL) != 0)
		return 1;
	/* as it is done: to a log, and before a Ctrl-C */
	char line[2 * PATH_MAX + 8];
	int n = snprintf(line, sizeof line, "%s -> %s", in, out);
	drsn__cli_print_line("denoise", line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	return 0;
}

/* -j N: the bar of the first file in input order that is being denoised and
 * long enough to have one (denoise_file draws it for -j 1). */
static void denoise_tick(void *user, size_t next, const void *workers, int n_workers)
{
	struct folder_job *j = user;
	const struct drsn__cli_job_progress *best = NULL;
	long long best_item = -1;
	(void)next;
	if (!bar.on)
		return;
	for (int w = 0; w < n_workers; w++) {
		const struct drsn__cli_job_progress *p = drsn__cli_jobs_progress(workers, w);
		long long item = atomic_load(&p->item);
		if (item >= 0 && atomic_load(&p->total) > 0 && (best_item < 0 || item < best_item)) {
			best = p;
			best_item = item;
		}
	}
	if (best)
		drsn__cli_progress((double)atomic_load(&best->done), (double)atomic_load(&best->total),
				   (int)best_item + 1, (int)j->fl->n);
	else
		drsn__cli_progress_erase();
}

/* IN_DIR OUT_DIR: every audio file under IN_DIR to the same relative path
 * under OUT_DIR, which may not be IN_DIR or inside it; jobs files at once. */
static int denoise_folder(const drsn_denoise_opts *o, const char *in_dir, const char *out_dir,
			  int jobs)
{
	char in_real[PATH_MAX], out_real[PATH_MAX];
	struct stat st;
	if (stat(out_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		drsn__cli_err("denoise: the input '%s' is a folder, so the output must be one too: '%s' is a file",
			      in_dir, out_dir);
		return 2;
	}
	int created = mkdir(out_dir, 0777) == 0;
	if (!created && errno != EEXIST) {
		drsn__cli_err("denoise: %s: cannot create the folder: %s", out_dir, strerror(errno));
		return 1;
	}
	if (!realpath(in_dir, in_real) || !realpath(out_dir, out_real)) {
		drsn__cli_err("denoise: %s: %s", in_dir, strerror(errno));
		return 1;
	}
	size_t nin = strlen(in_real);
	if (!strncmp(out_real, in_real, nin) && (out_real[nin] == 0 || out_real[nin] == '/' || nin == 1)) {
		drsn__cli_err("denoise: the output folder '%s' is inside the input folder '%s': "
			      "it would denoise its own output next time", out_dir, in_dir);
		if (created)
			rmdir(out_dir);
		return 2;
	}
	struct drsn__cli_files fl;
	char *in_arg = (char *)in_dir;
	if (drsn__cli_files_collect(&fl, &in_arg, 1) < 0) {
		drsn__cli_err("denoise: out of memory");
		return 1;
	}
	struct folder_job j = {.o = o, .in_dir = in_dir, .out_dir = out_dir, .fl = &fl};
	int crc = refuse_folder_clashes(&j);
	if (crc) {
		if (created)
			rmdir(out_dir);
		drsn__cli_files_free(&fl);
		return crc;
	}
	if (jobs > (int)fl.n)   /* no more workers than files */
		jobs = fl.n > 0 ? (int)fl.n : 1;
	struct drsn__cli_jobs run = {.cmd = "denoise", .jobs = jobs, .n = fl.n,
				     .run = denoise_one, .tick = denoise_tick, .user = &j};
	int rc = drsn__cli_jobs_run(&run);
	if (drsn__cli_stdout_failed())   /* the 'IN -> OUT' lines could not be written */
		rc = 1;
	if (jobs > 1 && bar.on)
		drsn__cli_progress_erase();
	drsn__cli_files_free(&fl);
	return rc;
}

int drsn__cmd_denoise(int argc, char **argv)
{
	drsn_denoise_opts o;
	drsn_denoise_opts_default(&o);
	const char *in_path = NULL, *out_path = NULL, *vad_path = NULL;
	int quiet = 0, jobs = 1, j, opts = 1;   /* opts: 0 after "--" */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts && !strcmp(a, "--")) {
			opts = 0;
		} else if (!opts || a[0] != '-' || !a[1]) {   /* a path ('-': stdin or stdout) */
			if (!in_path) {
				in_path = a;
			} else if (!out_path) {
				out_path = a;
			} else {
				drsn__cli_err("denoise: one input and one output file (got '%s' too)", a);
				return 2;
			}
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if ((!strcmp(a, "--strength") || !strcmp(a, "--frame-ms")) && i + 1 < argc) {
			/* the ranges drsn_denoise_create takes (src/denoise/denoise.c) */
			const float lo = a[2] == 's' ? 0 : 8, hi = a[2] == 's' ? 100 : 64;
			char *end;
			float v = strtof(argv[++i], &end);
			if (end == argv[i] || *end || !(v >= lo && v <= hi)) {
				drsn__cli_err("denoise: %s: '%s' is not a number in [%g, %g]", a,
					      argv[i], (double)lo, (double)hi);
				return 2;
			}
			if (a[2] == 's')
				o.strength_db = v;
			else
				o.frame_ms = v;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = 1;
		} else if ((j = drsn__cli_jobs_option("denoise", argc, argv, &i, &jobs)) != 0) {
			if (j < 0)
				return 2;
		} else if (!strcmp(a, "--vad") && i + 1 < argc) {
			vad_path = argv[++i];
		} else if (!strcmp(a, "--channel") && i + 1 < argc) {
			if (drsn__cli_channel_arg("denoise", argv[++i], &channel.mask) < 0)
				return 2;
			channel.given = 1;
		} else if (!strcmp(a, "--strength") || !strcmp(a, "--frame-ms") ||
			   !strcmp(a, "--vad") || !strcmp(a, "--channel")) {   /* the last argument, without its value */
			drsn__cli_err("denoise: %s needs a value (try 'drsn denoise --help')", a);
			return 2;
		} else {
			drsn__cli_err("denoise: unknown option '%s' (try 'drsn denoise --help')", a);
			return 2;
		}
	}
	if (!in_path || !out_path) {
		if (in_path)
			drsn__cli_err("denoise: no output after the input '%s'", in_path);
		usage(stderr);
		return 2;
	}
	/* not when stdout is the same terminal and gets lines (--vad -) */
	bar.on = !quiet && isatty(STDERR_FILENO) &&
		 !(isatty(STDOUT_FILENO) && ((vad_path && !strcmp(vad_path, "-")) || !strcmp(out_path, "-")));
	struct stat st;
	if (strcmp(in_path, "-") && stat(in_path, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (vad_path) {
			drsn__cli_err("denoise: --vad takes one input file, not the folder '%s'", in_path);
			return 2;
		}
		return denoise_folder(&o, in_path, out_path, jobs);
	}
	return denoise_file(&o, in_path, out_path, vad_path);
}
