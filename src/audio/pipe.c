/* Audio from a pipe: peeking at its header, RF64's header, spooling (pipe.h). */
#include "audio/pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include "common/error.h"

ssize_t drsn__pipe_peek(int fd, unsigned char *buf, size_t n)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (S_ISSOCK(st.st_mode)) {
		ssize_t k;
		do
			k = recv(fd, buf, n, MSG_PEEK | MSG_WAITALL);
		while (k < 0 && errno == EINTR);
		return k;
	}
	if (!S_ISFIFO(st.st_mode)) {
		errno = ENOTSUP;
		return -1;
	}
	int cap = fcntl(fd, F_GETPIPE_SZ);
	if (cap > 0 && n > (size_t)cap)
		n = (size_t)cap;
	/* A pipe cannot be waited on for n bytes: poll says "some", FIONREAD
	 * how many; a writer's header comes in one write, so this rarely waits */
	for (long ns = 1000000;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int avail = 0;
		if (poll(&pf, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (ioctl(fd, FIONREAD, &avail) < 0)
			return -1;
		if ((size_t)avail >= n || (pf.revents & (POLLHUP | POLLERR)))
			break;
		struct timespec ts = {0, ns};
		nanosleep(&ts, NULL);
		if (ns < 20000000)
			ns *= 2;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	ssize_t t = tee(fd, p[1], n, SPLICE_F_NONBLOCK), got = 0;
	if (t == -1 && errno == EAGAIN)   /* an O_NONBLOCK stdin that the poll raced */
		t = 0;
	while (t > 0 && got < t) {
		ssize_t r = read(p[0], buf + got, (size_t)(t - got));
		if (r <= 0)
			break;
		got += r;
	}
	int e = errno;
	close(p[0]);
	close(p[1]);
	errno = e;
	return t < 0 ? -1 : got;
}

static int is(const unsigned char *p, const char *s)
{
	return !memcmp(p, s, strlen(s));
}

uint64_t drsn__pipe_id3_size(const unsigned char *b, size_t n)
{
	/* "ID3", version 2..4, revision, flags, a 28-bit size in four 7-bit bytes */
	if (n < 10 || !is(b, "ID3") || b[3] < 2 || b[3] > 4 || b[4] == 0xFF ||
	    (b[6] | b[7] | b[8] | b[9]) & 0x80)
		return 0;
	uint64_t size = (uint64_t)b[6] << 21 | (uint64_t)b[7] << 14 | (uint64_t)b[8] << 7 | b[9];
	return 10 + size + (b[3] == 4 && (b[5] & 0x10) ? 10 : 0);
}

const char *drsn__pipe_seek_format(const unsigned char *b, size_t n)
{
	if (n < 12)
		return NULL;
	if (is(b, "fLaC"))
		return "FLAC";
	if (is(b, "caff") && is(b + 8, "desc"))
		return "CAF";
	if (is(b, "Creative"))
		return "VOC";
	if (is(b, "ALawSoundFil"))
		return "WVE";
	if (b[0] == 0xF0 && b[1] == 0x7E && !(b[2] & 0x80) && b[3] == 0x01)
		return "SDS";
	/* libsndfile knows HTK by its sample count against the file's length;
	 * those bytes may be anything in a format with a magic (an AU's data
	 * size of 131072) */
	if (b[8] == 0 && b[9] == 2 && b[10] == 0 && b[11] == 0 && !drsn__pipe_container(b, n))
		return "HTK";
	return NULL;
}

const char *drsn__pipe_container(const unsigned char *b, size_t n)
{
	static const struct { const char *at0, *at8, *name; } magic[] = {
		{"RIFF", "WAVE", "WAV"}, {"RIFX", "WAVE", "WAV"}, {"RF64", "WAVE", "RF64"},
		{"riff", NULL, "W64"}, {"FORM", "AIFF", "AIFF"}, {"FORM", "AIFC", "AIFF"},
		{"OggS", NULL, "Ogg"}, {".snd", NULL, "AU"}, {"ID3", NULL, "MP3"},
		{"fLaC", NULL, "FLAC"}, {"caff", "desc", "CAF"}, {"Creative", NULL, "VOC"},
	};
	if (n < 12)
		return NULL;
	for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++)
		if (is(b, magic[i].at0) && (!magic[i].at8 || is(b + 8, magic[i].at8)))
			return magic[i].name;
	return NULL;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int drsn__pipe_take(int fd, unsigned char *b, uint64_t n)
{
	unsigned char junk[4096];
	while (n > 0) {
		size_t want = b || n < sizeof junk ? (size_t)n : sizeof junk;
		ssize_t k = read(fd, b ? b : junk, want);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = 0;
			return -1;
		}
		n -= (uint64_t)k;
		if (b)
			b += k;
	}
	return 0;
}

#define RF64_HEADER_MAX (64 << 20)

int drsn__rf64_read(int fd, const char *name, drsn__rf64_head *h, drsn_error *err)
{
	unsigned char b[64], c[8];
	uint64_t ds64_data = 0, at = 12;
	int tag = -1, bits = 0, block = 0;

	memset(h, 0, sizeof *h);
	if (drsn__pipe_take(fd, b, 12) < 0)
		goto cut;
	if (!is(b, "RF64") || !is(b + 8, "WAVE"))
		return drsn__fail(err, -EBADMSG, "%s: not an RF64 header", name);
	for (;;) {
		if (drsn__pipe_take(fd, c, 8) < 0)
			goto cut;
		uint32_t size = le32(c + 4);
		at += 8;
		if (is(c, "data")) {
			/* all ones: the length is in ds64; unknown if that is 0
			 * too (ffmpeg writing to a pipe): to the end */
			uint64_t bytes = size != 0xFFFFFFFFu ? size : ds64_data ? ds64_data : UINT64_MAX;
			if (tag < 0 || block <= 0)
				return drsn__fail(err, -EBADMSG, "%s: RF64 without a valid fmt chunk "
						  "before its data chunk", name);
			h->header_len = (size_t)at;
			h->frames = bytes >= (uint64_t)INT64_MAX ? -1 : (int64_t)(bytes / (uint64_t)block);
			break;
		}
		/* the start of the chunk is kept (what fmt and ds64 hold), the
		 * rest dropped: any length of bext, iXML or JUNK */
		uint64_t left = (uint64_t)size + (size & 1);
		if (at + left > RF64_HEADER_MAX)   /* not an RF64 a writer makes: do not eat a stream */
			return drsn__fail(err, -EBADMSG, "%s: RF64 header over %d MiB before its data "
					  "chunk: not an RF64 stream?", name, RF64_HEADER_MAX >> 20);
		size_t keep = left < sizeof b ? (size_t)left : sizeof b;
		if (drsn__pipe_take(fd, b, keep) < 0 || drsn__pipe_take(fd, NULL, left - keep) < 0)
			goto cut;
		at += left;
		if (is(c, "ds64") && size >= 24) {
			ds64_data = le64(b + 8);
		} else if (is(c, "fmt ") && size >= 16) {
			tag = b[0] | b[1] << 8;
			h->channels = b[2] | b[3] << 8;
			h->rate = (int)le32(b + 4);
			block = b[12] | b[13] << 8;
			bits = b[14] | b[15] << 8;
			if (tag == 0xFFFE && size >= 40)   /* WAVE_FORMAT_EXTENSIBLE: the GUID's tag */
				tag = b[24] | b[25] << 8;
		}
	}
	int sub = 0;
	if (tag == 1)
		sub = bits == 8 ? SF_FORMAT_PCM_U8 : bits == 16 ? SF_FORMAT_PCM_16 :
		      bits == 24 ? SF_FORMAT_PCM_24 : bits == 32 ? SF_FORMAT_PCM_32 : 0;
	else if (tag == 3)
		sub = bits == 32 ? SF_FORMAT_FLOAT : bits == 64 ? SF_FORMAT_DOUBLE : 0;
	else if (tag == 6 && bits == 8)
		sub = SF_FORMAT_ALAW;
	else if (tag == 7 && bits == 8)
		sub = SF_FORMAT_ULAW;
	if (!sub || h->channels < 1 || block != h->channels * bits / 8)
		return drsn__fail(err, -ENOTSUP, "%s: RF64 with format tag 0x%04X, %d bits, cannot "
				  "be read from a pipe (PCM, float, A-law and mu-law can): pipe WAV "
				  "instead (e.g. 'sox IN -t wav -'), or name the file", name, tag, bits);
	h->format = SF_FORMAT_RF64 | sub;
	return 0;
cut:   /* the end of the stream: a truncated header; else a read error */
	return drsn__fail(err, errno ? -EIO : -EBADMSG, "%s: %s in its RF64 header", name,
			  errno ? strerror(errno) : "end of stream");
}

int64_t drsn__pipe_spool_max(void)
{
	const int64_t gib = (int64_t)1 << 30;
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	int64_t half = pages > 0 && size > 0 ? (int64_t)pages * size / 2 : gib;
	return half < gib ? half : gib;
}

/* A file with no name to hold a stream in: a memory file, or where there is
 * none (a kernel before 3.17, a seccomp filter that forbids memfd_create:
 * ENOSYS, EPERM) an unlinked one in $TMPDIR or /tmp. -1 and errno. */
static int spool_file(void)
{
	int fd = memfd_create("drsn-stdin", MFD_CLOEXEC);
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM && errno != EACCES))
		return fd;
	int e = errno;
	const char *dirs[] = {getenv("TMPDIR"), "/tmp"};
	for (size_t i = 0; i < 2; i++)
		if (dirs[i] && dirs[i][0] && (fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
			return fd;
	errno = e;
	return -1;
}

int drsn__pipe_spool(int fd, const char *name, const char *fmt, int64_t max, drsn_error *err)
{
	char buf[65536];
	int64_t total = 0;
	int rc = 0;
	int mfd = spool_file();
	if (mfd < 0)
		return drsn__fail(err, -errno, "%s: cannot make a memory file to hold the %s stream: %s",
				  name, fmt, strerror(errno));
	for (;;) {
		ssize_t k = read(fd, buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = drsn__fail(err, -EIO, "%s: read error: %s", name, strerror(errno));
			goto cleanup;
		}
		if (k == 0)
			break;
		if (total + k > max) {
			rc = drsn__fail(err, -EFBIG, "%s: %s from a pipe is held in memory whole, as "
					"libsndfile must seek in it, and it is over %lld MiB: give the "
					"file's name, or pipe WAV instead (e.g. 'sox IN -t wav -')", name,
					fmt, (long long)(max >> 20));
			goto cleanup;
		}
		for (ssize_t w = 0; w < k;) {
			ssize_t r = write(mfd, buf + w, (size_t)(k - w));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = drsn__fail(err, -ENOMEM, "%s: out of memory holding the %s stream "
						"(%lld bytes): %s", name, fmt, (long long)total,
						strerror(r < 0 ? errno : ENOSPC));
				goto cleanup;
			}
			w += r;
		}
		total += k;
	}
	if (lseek(mfd, 0, SEEK_SET) < 0)
		rc = drsn__fail(err, -errno, "%s: %s", name, strerror(errno));
cleanup:
	if (rc < 0) {
		close(mfd);
		return rc;
	}
	return mfd;
}
