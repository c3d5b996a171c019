/* The files a command's FILE... arguments name: a folder stands for the
 * audio files in it (see cli.h). */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <sndfile.h>

#include "cli/cli.h"
#include "drsn/audio.h"
#include "audio/pipe.h"
#include "common/utf8.h"
#include "features/narrowband.h"

#define MAX_DEPTH 32

/* Common extensions of formats libsndfile reads that its format lists do
 * not name (they give one extension a format): Broadcast WAV of field
 * recorders (Zoom, Sound Devices, Tascam: .BWF), .wave, Sun/NeXT .snd,
 * NIST SPHERE .sph and .nist, Amiga IFF .8svx .16sv .svx, MPEG Layer II
 * .mp2. Each only if this libsndfile has the format (MPEG: 1.1 and later). */
static const struct { const char *ext; int major; } other_extensions[] = {
	{"aif", SF_FORMAT_AIFF}, {"bwf", SF_FORMAT_WAV}, {"wave", SF_FORMAT_WAV},
	{"snd", SF_FORMAT_AU}, {"sph", SF_FORMAT_NIST}, {"nist", SF_FORMAT_NIST},
	{"8svx", SF_FORMAT_SVX}, {"16sv", SF_FORMAT_SVX}, {"svx", SF_FORMAT_SVX},
	{"mp2", SF_FORMAT_MPEG},
};

/* Extensions libsndfile names in its format lists, and other_extensions;
 * "raw" is not one, as headerless files need options a folder cannot give.
 * Any case (.WAV, .BWF). */
static int audio_extension(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name || !dot[1])
		return 0;
	const char *ext = dot + 1;
	if (!strcasecmp(ext, "raw"))
		return 0;
	int major = 0;
	for (size_t i = 0; i < sizeof other_extensions / sizeof *other_extensions; i++)
		if (!strcasecmp(ext, other_extensions[i].ext))
			major = other_extensions[i].major;
	static const int lists[2][2] = {{SFC_GET_FORMAT_MAJOR_COUNT, SFC_GET_FORMAT_MAJOR},
					{SFC_GET_SIMPLE_FORMAT_COUNT, SFC_GET_SIMPLE_FORMAT}};
	for (int l = 0; l < 2; l++) {
		int n = 0;
		sf_command(NULL, lists[l][0], &n, sizeof n);
		for (int i = 0; i < n; i++) {
			SF_FORMAT_INFO fi = {.format = i};
			if (sf_command(NULL, lists[l][1], &fi, sizeof fi) == 0 &&
			    (major ? (fi.format & SF_FORMAT_TYPEMASK) == major
				   : fi.extension && !strcasecmp(ext, fi.extension)))
				return 1;
		}
	}
	return 0;
}

/* Extensions of audio and video files that libsndfile may not read (those it
 * does read are audio_extension()'s): in a folder such a file is skipped
 * with a note, not in silence. */
static int media_extension(const char *name)
{
	static const char *const ext[] = {
		"m4a", "m4b", "m4r", "aac", "wma", "wmv", "asf", "amr", "awb", "mp4", "m4v", "webm",
		"mkv", "mka", "mov", "avi", "3gp", "3g2", "ac3", "eac3", "dts", "ape", "wv", "tta",
		"opus", "mp3", "mp2", "mpc", "spx", "ra", "rm", "flv", "ts", "aiff"};
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name || !dot[1] || dot[-1] == '/')
		return 0;
	for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
		if (!strcasecmp(dot + 1, ext[i]))
			return 1;
	return 0;
}

const char *drsn__cli_shell_quote(const char *s, char *out, size_t n)
{
	size_t k = 0;
	out[k++] = '\'';
	for (; *s && k + 6 < n; s++) {
		if (*s == '\'') {
			memcpy(out + k, "'\\''", 4);
			k += 4;
		} else {
			out[k++] = *s;
		}
	}
	out[k++] = '\'';
	out[k] = '\0';
	return out;
}

/* The note for a file in a folder that libsndfile cannot read but that is
 * audio or video by its extension (.m4a, .mp4, ...): skipped, not in
 * silence; stdout and the exit status stay as they were. */
static void note_skipped(const char *path)
{
	char q[2 * 4096 + 16], qw[2 * 4096 + 32], wav[4096 + 8];
	snprintf(wav, sizeof wav, "%s.wav", path);
	drsn__cli_err("%s: skipped: this libsndfile does not read %s files; convert it first, e.g. "
		      "ffmpeg -i %s -ac 1 -ar 16000 %s", path, strrchr(path, '.'),
		      drsn__cli_shell_quote(path, q, sizeof q), drsn__cli_shell_quote(wav, qw, sizeof qw));
}

static int add(struct drsn__cli_files *fl, const char *path, const char *error)
{
	if (fl->n == fl->cap) {
		size_t cap = fl->cap ? 2 * fl->cap : 16;
		struct drsn__cli_file *f = realloc(fl->file, cap * sizeof *f);
		if (!f)
			return -ENOMEM;
		fl->file = f;
		fl->cap = cap;
	}
	struct drsn__cli_file *f = &fl->file[fl->n];
	f->path = strdup(path);
	f->error = error ? strdup(error) : NULL;
	f->arg = 0;
	if (!f->path || (error && !f->error)) {
		free(f->path);
		free(f->error);
		return -ENOMEM;
	}
	fl->n++;
	return 0;
}

static int add_error(struct drsn__cli_files *fl, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An entry for path with the message "path: " + fmt. */
static int add_error(struct drsn__cli_files *fl, const char *path, const char *fmt, ...)
{
	char msg[4096 + 256];
	int k = snprintf(msg, sizeof msg, "%.4096s: ", path);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
	va_end(ap);
	return add(fl, path, msg);
}

/* Byte order, whatever the locale: the same folder lists the same way everywhere. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Appends the audio files under dir, and an entry with an error for what
 * cannot be listed or read; returns how many entries, or -ENOMEM. */
static long walk(struct drsn__cli_files *fl, const char *dir, int depth)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, not_hidden, by_name);
	if (n < 0)
		return add_error(fl, dir, "cannot list the folder: %s", strerror(errno)) < 0 ? -ENOMEM : 1;
	long found = 0;
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		int len = snprintf(path, sizeof path, "%s%s%s", dir,
				   dir[strlen(dir) - 1] == '/' ? "" : "/", ents[i]->d_name);
		if (rc < 0)
			continue;
		if (len >= (int)sizeof path) {   /* named, not skipped in silence */
			rc = add_error(fl, dir, "'%.100s...': a path longer than %zu bytes, not searched",
				       ents[i]->d_name, sizeof path - 1);
			found++;
			continue;
		}
		struct stat st, lst = {0};
		if (lstat(path, &lst) < 0 || stat(path, &st) < 0) {
			/* a dangling link to an audio file is worth naming; others are not */
			if (audio_extension(path)) {
				rc = S_ISLNK(lst.st_mode) ? add_error(fl, path, "a broken symbolic link")
							  : add_error(fl, path, "unreadable: %s", strerror(errno));
				found++;
			}
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			/* symbolic links to folders are not followed: no loops, no surprises */
			if (S_ISLNK(lst.st_mode))
				continue;
			if (depth >= MAX_DEPTH) {
				rc = add_error(fl, path, "a folder nested deeper than %d levels, not searched",
					       MAX_DEPTH);
				found++;
				continue;
			}
			long k = walk(fl, path, depth + 1);
			if (k < 0)
				rc = (int)k;
			else
				found += k;
		} else if (S_ISREG(st.st_mode) && audio_extension(path)) {
			rc = add(fl, path, NULL);
			found++;
		} else if (S_ISREG(st.st_mode) && media_extension(path)) {
			note_skipped(path);
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc < 0 ? rc : found;
}

int drsn__cli_files_collect(struct drsn__cli_files *fl, char **args, int n_args)
{
	int stdin_seen = 0;
	memset(fl, 0, sizeof *fl);
	for (int i = 0; i < n_args; i++) {
		struct stat st;
		int rc = 0;
		size_t first = fl->n;
		if (!strcmp(args[i], "-") && stdin_seen++) {
			rc = add(fl, "-", "stdin ('-') given more than once: it is read only once");
		} else if (strcmp(args[i], "-") && stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			long k = walk(fl, args[i], 0);
			if (k == 0)
				rc = add_error(fl, args[i], "no audio files in this folder (looked for the "
					       "extensions libsndfile reads: .wav .flac .ogg .mp3 ...)");
			else if (k < 0)
				rc = (int)k;
		} else {
			rc = add(fl, args[i], NULL);   /* the reader names what is wrong with it */
		}
		if (rc < 0) {
			drsn__cli_files_free(fl);
			return rc;
		}
		for (size_t k = first; k < fl->n; k++)
			fl->file[k].arg = i;
	}
	return 0;
}

int drsn__cli_make_parents(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		int rc = mkdir(path, 0777) < 0 && errno != EEXIST ? -errno : 0;
		*s = '/';
		if (rc < 0)
			return rc;
	}
	return 0;
}

void drsn__cli_files_free(struct drsn__cli_files *fl)
{
	for (size_t i = 0; i < fl->n; i++) {
		free(fl->file[i].path);
		free(fl->file[i].error);
	}
	free(fl->file);
	memset(fl, 0, sizeof *fl);
}

int drsn__cli_same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (!strcmp(a, "-") || !strcmp(b, "-") || stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return 0;
	return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int drsn__cli_refuse_clash(const char *cmd, const char *out, const char *const *in, size_t n)
{
	for (size_t i = 0; out && i < n; i++) {
		if (in[i] && drsn__cli_same_file(out, in[i])) {
			drsn__cli_err("%s: output %s is the same file as input %s: refusing to "
				      "overwrite the input (choose another output)", cmd, out,
				      in[i]);
			return 2;
		}
	}
	return 0;
}

static _Atomic int stdout_failed;   /* read by -j workers */

int drsn__cli_stdout_failed(void)
{
	return atomic_load(&stdout_failed);
}

/* line (n bytes, or NULL: out of memory) and a newline, flushed. */
static int put_line(const char *cmd, const char *line, size_t n)
{
	int bad = 0;
	errno = 0;
	if (line)
		bad = fwrite(line, 1, n, stdout) != n || putchar('\n') == EOF;
	else
		drsn__cli_err("%s: out of memory", cmd);
	bad |= fflush(stdout) != 0;
	if (bad && !drsn__cli_stdout_failed()) {
		drsn__cli_err("%s: stdout: write error: %s", cmd, errno ? strerror(errno) : "unknown");
		atomic_store(&stdout_failed, 1);
	}
	return line && !bad ? 0 : -1;
}

int drsn__cli_print_line(const char *cmd, const char *s, size_t n)
{
	if (drsn__cli_capture_out(s, n))   /* on a -j worker: printed in order */
		return 0;
	return put_line(cmd, s, n);
}

int drsn__cli_print_json(const char *cmd, cJSON *o)
{
	char *line = o ? cJSON_PrintUnformatted(o) : NULL;
	int rc;
	if (line && drsn__cli_capture_out(line, strlen(line)))   /* on a -j worker: printed in order */
		rc = 0;
	else
		rc = put_line(cmd, line, line ? strlen(line) : 0);
	free(line);
	cJSON_Delete(o);
	return rc;
}

void drsn__cli_file_error(const char *cmd, const char *file, const char *msg)
{
	drsn__cli_err("%s: %s", cmd, msg);
	cJSON *o = cJSON_CreateObject();
	drsn__utf8_add_string(o, "file", file);   /* JSON is UTF-8, a file name need not be */
	drsn__utf8_add_string(o, "error", msg);    /* it names the file */
	drsn__cli_print_json(cmd, o);
}

void drsn__cli_warn_bad_samples(const char *cmd, const char *file, const drsn_audio *a)
{
	int64_t n = drsn_audio_bad_samples(a);
	if (n > 0)
		drsn__cli_err("%s: %s: warning: %lld sample%s NaN, infinite or beyond +-%g (read as 0, "
			      "or clipped): corrupt audio?", cmd, file, (long long)n, n == 1 ? " was" : "s were",
			      (double)DRSN_AUDIO_MAX_SAMPLE);
}

static void capture_once(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void capture_once(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	drsn__cli_capture_err(1, fmt, ap);
	va_end(ap);
}

void drsn__cli_warn_narrowband(const char *cmd, const char *file, const drsn_audio *a,
			       const drsn_features_params *p, int *said)
{
	drsn_audio_info info;
	char note[512];
	if (*said)
		return;
	drsn_audio_get_info(a, &info);
	if (drsn__narrowband_note(info.source_rate, p, note, sizeof note)) {
		if (!drsn__cli_capturing())
			drsn__cli_err("%s: %s: warning: %s", cmd, file, note);
		else   /* a -j worker: said for the first such file in input order */
			capture_once("%s: %s: warning: %s", cmd, file, note);
		*said = 1;
	}
}

int drsn__cli_channel_arg(const char *cmd, const char *text, uint64_t *mask)
{
	drsn_error e;
	if (drsn_audio_parse_channels(text, mask, "--channel", &e) < 0) {
		drsn__cli_err("%s: %s", cmd, e.msg);
		return -1;
	}
	return 0;
}

int drsn__cli_audio_open(drsn_audio **a, const char *file, const drsn_audio_opts *ao,
			 uint64_t channels, drsn_error *e)
{
	int rc = strcmp(file, "-") ? drsn_audio_open(a, file, ao, e)
				   : drsn__audio_open_fd_spool(a, 0, "stdin", ao, e);
	if (rc < 0 || !channels)
		return rc;
	rc = drsn_audio_select_channels(*a, channels, e);
	if (rc < 0) {
		drsn_audio_close(*a);
		*a = NULL;
	}
	return rc;
}
