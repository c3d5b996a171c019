/* Audio from a pipe (or a socket): what its first bytes say before
 * libsndfile reads them, and the ways round what libsndfile cannot do there.
 *
 * libsndfile reads WAV, AIFF, AU, W64, Ogg, MP3 and most others in order,
 * so from a pipe as from a file. A few it must seek in (FLAC, CAF, VOC, WVE,
 * SDS; HTK it recognises only by the file's length): from a pipe these
 * fail, or worse, SDS decodes garbage and prints libsndfile's debugging to
 * stdout. RF64 it reads, but its header parser reads the first 8 bytes of
 * audio as a chunk header and cannot seek back: 4 frames of 16-bit mono
 * lost, 24-bit samples misaligned into noise. */
#ifndef DRSN_AUDIO_PIPE_H
#define DRSN_AUDIO_PIPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "drsn/audio.h"
#include "drsn/common.h"

/* drsn_audio_open_fd for the offline tools (drsn detect -, ...): a pipe in
 * a format libsndfile must seek in is first copied whole into an anonymous
 * memory file (at most drsn__pipe_spool_max() bytes, else -EFBIG saying
 * so) and read from there, as the file by its name would be; every other
 * stream is read as it comes. drsn_audio_open_fd refuses those formats
 * instead, naming them (drsnd's stdin and fd: sources are live). */
int drsn__audio_open_fd_spool(drsn_audio **out, int fd, const char *name,
			      const drsn_audio_opts *opts, drsn_error *err);

/* Up to n bytes from the start of fd, a pipe or a stream socket, left in it
 * for the next read (tee(2), recv(MSG_PEEK)): waits until n bytes are there
 * or the writer is gone (n is cut to the pipe's capacity). The count, or -1
 * (errno) when fd is neither. */
ssize_t drsn__pipe_peek(int fd, unsigned char *buf, size_t n);

/* n bytes of fd into b (NULL: dropped), however many reads it takes; 0,
 * or -1 at the end of the stream (errno 0) or on an error (errno). */
int drsn__pipe_take(int fd, unsigned char *b, uint64_t n);

/* The bytes of the ID3v2 tag that head (at least 10 bytes) starts with
 * (its header, body and footer), else 0. MP3 and FLAC files may start with
 * one; libsndfile skips it in a file. */
uint64_t drsn__pipe_id3_size(const unsigned char *head, size_t n);

/* The name ("FLAC", "CAF", ...) of the format whose first 12 bytes are
 * head, if libsndfile must seek in it (as above), else NULL. */
const char *drsn__pipe_seek_format(const unsigned char *head, size_t n);

/* The name ("WAV", "FLAC", "Ogg", ...) of the container whose first 12
 * bytes are head, for the common ones (with a magic no raw PCM has by
 * chance), else NULL: to tell a raw PCM reader that it was sent a file. */
const char *drsn__pipe_container(const unsigned char *head, size_t n);

/* What an RF64 header declares, read (consumed) from fd up to its data
 * chunk's header, chunks of any length on the way dropped, for reading its
 * data as raw PCM from there: the libsndfile SF_FORMAT_RF64 | subtype
 * code, rate, channels, the header's length and the data's length in
 * frames (-1: to the end, also when ds64 says 0 for a data chunk of all
 * ones, as ffmpeg writes to a pipe; 0 is zero frames, as libsndfile reads
 * it). 0, or a negative errno with why in err (name: the stream's). */
typedef struct drsn__rf64_head {
	int format, rate, channels;
	size_t header_len;
	int64_t frames;
} drsn__rf64_head;
int drsn__rf64_read(int fd, const char *name, drsn__rf64_head *h, drsn_error *err);

/* Copy all of fd (a pipe) into an anonymous memory file, at most max bytes:
 * its descriptor (at offset 0, the caller's to close), or a negative errno
 * with err naming name and fmt (-EFBIG past max). */
int drsn__pipe_spool(int fd, const char *name, const char *fmt, int64_t max, drsn_error *err);

/* The spool's cap: 1 GiB, or half the RAM if less. */
int64_t drsn__pipe_spool_max(void);

#endif
