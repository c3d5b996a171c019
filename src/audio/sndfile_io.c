/* libsndfile through our own fstat/lseek/read/write (sndfile_io.h). */
#include "audio/sndfile_io.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static sf_count_t vio_get_filelen(void *user)
{
	drsn__sfio *io = user;
	struct stat st;
	if (fstat(io->fd, &st) < 0) {
		io->err = errno;
		return -1;
	}
	return st.st_size > io->base ? (sf_count_t)st.st_size - io->base : 0;
}

static sf_count_t vio_seek(sf_count_t offset, int whence, void *user)
{
	drsn__sfio *io = user;
	off_t r;
	if (whence == SEEK_SET)
		offset += io->base;
	r = lseek(io->fd, (off_t)offset, whence);
	if (r < 0) {
		io->err = errno;
		return -1;
	}
	return (sf_count_t)r - io->base;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *user)
{
	drsn__sfio *io = user;
	char *p = ptr;
	sf_count_t done = 0;
	while (done < count) {
		ssize_t n = read(io->fd, p + done, (size_t)(count - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			io->err = errno;
			break;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *user)
{
	drsn__sfio *io = user;
	const char *p = ptr;
	sf_count_t done = 0;
	while (done < count) {
		ssize_t n = write(io->fd, p + done, (size_t)(count - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			io->err = n < 0 ? errno : EIO;
			break;
		}
		done += n;
	}
	return done;
}

static sf_count_t vio_tell(void *user)
{
	drsn__sfio *io = user;
	off_t r = lseek(io->fd, 0, SEEK_CUR);
	if (r < 0) {
		io->err = errno;
		return -1;
	}
	return (sf_count_t)r - io->base;
}

SNDFILE *drsn__sf_open_fd(drsn__sfio *io, int fd, int mode, SF_INFO *info)
{
	static SF_VIRTUAL_IO vio = {
		.get_filelen = vio_get_filelen,
		.seek = vio_seek,
		.read = vio_read,
		.write = vio_write,
		.tell = vio_tell,
	};
	struct stat st;
	off_t at;

	io->fd = fd;
	io->base = 0;
	io->err = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (at = lseek(fd, 0, SEEK_CUR)) < 0)
		return sf_open_fd(fd, mode, info, SF_FALSE);
	io->base = (sf_count_t)at;
	return sf_open_virtual(&vio, mode, info, io);
}
