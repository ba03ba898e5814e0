/* Buffered, time-bounded I/O on a shim's connection. Every read and write
 * is non-blocking for that call only (the descriptors' flags are shared with
 * whoever else holds them, so they are left alone) and waiting is done in
 * poll(), which is what gives each operation its timeout. TLS plugs into
 * the same two primitives through a BIO, in shim-tls.c. */
#include "shim-io-private.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHIM_IO_DEFAULT_MAX_BUFFER (64 * 1024)
#define SHIM_IO_DEFAULT_WRITE_TIMEOUT_MS 60000
/* The most read in one go: a TLS record's worth. */
#define SHIM_IO_READ_CHUNK (16 * 1024)
/* The output queue sends itself when it would grow past this. */
#define SHIM_IO_OUT_QUEUE_MAX (64 * 1024)

static bool fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

struct shim_io *shim_io_create(int in_fd, int out_fd)
{
	struct shim_io *io = g_new0(struct shim_io, 1);

	io->in_fd = in_fd;
	io->out_fd = out_fd;
	io->in_is_socket = fd_is_socket(in_fd);
	io->out_is_socket = fd_is_socket(out_fd);
	io->in_max = SHIM_IO_DEFAULT_MAX_BUFFER;
	io->in_size = 4096;
	io->in_buf = g_malloc(io->in_size);
	io->out = g_byte_array_new();
	io->write_timeout_ms = SHIM_IO_DEFAULT_WRITE_TIMEOUT_MS;
	return io;
}

void shim_io_destroy(struct shim_io **_io)
{
	struct shim_io *io = *_io;

	if (io == NULL)
		return;
	*_io = NULL;
	shim_io_tls_free(io);
	g_free(io->in_buf);
	g_byte_array_unref(io->out);
	g_free(io->error);
	g_free(io);
}

void shim_io_set_error(struct shim_io *io, const char *fmt, ...)
{
	va_list args;

	g_free(io->error);
	va_start(args, fmt);
	io->error = g_strdup_vprintf(fmt, args);
	va_end(args);
}

const char *shim_io_error(const struct shim_io *io)
{
	return io->error;
}

int64_t shim_io_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	return g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
}

int shim_io_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int timeout = -1;
		int ret;

		if (deadline >= 0) {
			int64_t left = deadline - g_get_monotonic_time();

			if (left <= 0)
				return -ETIMEDOUT;
			/* Round up, or the last wait would spin at 0 ms. */
			timeout = (int)MIN((left + 999) / 1000, INT_MAX);
		}
		ret = poll(&pfd, 1, timeout);
		/* POLLERR, POLLHUP and POLLNVAL count as ready: the read or
		 * write that follows reports them. */
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

/* poll() with no wait; 1 when fd is ready. */
static int fd_ready_now(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret;

	do
		ret = poll(&pfd, 1, 0);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

ssize_t shim_io_raw_read(struct shim_io *io, void *buf, size_t len)
{
	ssize_t n;
	int ret;

	if (!io->in_is_socket) {
		/* A readable pipe or tty returns what it has without
		 * blocking. */
		ret = fd_ready_now(io->in_fd, POLLIN);
		if (ret <= 0)
			return ret == 0 ? -EAGAIN : ret;
	}
	do {
		if (io->in_is_socket)
			n = recv(io->in_fd, buf, len, MSG_DONTWAIT);
		else
			n = read(io->in_fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

ssize_t shim_io_raw_write(struct shim_io *io, const void *data, size_t len)
{
	ssize_t n;
	int ret;

	if (!io->out_is_socket) {
		/* A writable pipe takes PIPE_BUF bytes without blocking, not
		 * necessarily more. */
		ret = fd_ready_now(io->out_fd, POLLOUT);
		if (ret <= 0)
			return ret == 0 ? -EAGAIN : ret;
		len = MIN(len, PIPE_BUF);
	}
	do {
		if (io->out_is_socket)
			n = send(io->out_fd, data, len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			n = write(io->out_fd, data, len);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EWOULDBLOCK)
		return -EAGAIN;
	/* Callers act on "the peer is gone", however the kernel put it. */
	return errno == ECONNRESET ? -EPIPE : -errno;
}

/* One non-blocking read: > 0 bytes, 0 at EOF, -EAGAIN with what to wait
 * for in *fd_r and *events_r, or -errno. */
static ssize_t io_read_once(struct shim_io *io, void *buf, size_t len,
			    int *fd_r, short *events_r)
{
	*fd_r = io->in_fd;
	*events_r = POLLIN;
	if (io->ssl != NULL)
		return shim_io_tls_read(io, buf, len, fd_r, events_r);
	return shim_io_raw_read(io, buf, len);
}

/* Makes room for want more bytes after the unconsumed input. */
static void in_reserve(struct shim_io *io, size_t want)
{
	size_t used = io->in_end - io->in_start;

	if (io->in_size - io->in_end >= want)
		return;
	if (io->in_start > 0) {
		memmove(io->in_buf, io->in_buf + io->in_start, used);
		io->in_start = 0;
		io->in_end = used;
	}
	if (io->in_size - io->in_end < want) {
		/* Doubling, but never past what the cap can use. */
		io->in_size =
			MAX(used + want, MIN(io->in_size * 2, io->in_max));
		io->in_buf = g_realloc(io->in_buf, io->in_size);
	}
}

ssize_t shim_io_fill(struct shim_io *io, int timeout_ms)
{
	size_t used = io->in_end - io->in_start;
	int64_t deadline;
	size_t want, total;
	ssize_t n;
	short events;
	int fd, ret;

	if (io->read_error != 0)
		return io->read_error;
	if (used >= io->in_max)
		return -ENOBUFS;
	if (io->in_eof)
		return 0;
	want = MIN(io->in_max - used, SHIM_IO_READ_CHUNK);
	in_reserve(io, want);

	/* Reading before polling is what makes input already decrypted
	 * inside OpenSSL come out without waiting for the socket. */
	deadline = shim_io_deadline(timeout_ms);
	while ((n = io_read_once(io, io->in_buf + io->in_end, want, &fd,
				 &events)) == -EAGAIN) {
		ret = shim_io_wait(fd, events, deadline);
		if (ret < 0)
			return ret;
	}
	if (n == 0) {
		io->in_eof = true;
		return 0;
	}
	if (n < 0) {
		io->read_error = (int)n;
		if (io->ssl == NULL)
			shim_io_set_error(io, "read: %s", g_strerror((int)-n));
		return n;
	}
	io->in_end += (size_t)n;
	total = (size_t)n;

	/* SSL_read() returns one record at a time: take the rest of what
	 * OpenSSL holds now, so the caller sees it in one piece. EOF or an
	 * error found here waits for the next call. */
	while (io->ssl != NULL && total < want && shim_io_tls_has_pending(io)) {
		n = io_read_once(io, io->in_buf + io->in_end, want - total, &fd,
				 &events);
		if (n <= 0) {
			if (n == 0)
				io->in_eof = true;
			else if (n != -EAGAIN)
				io->read_error = (int)n;
			break;
		}
		io->in_end += (size_t)n;
		total += (size_t)n;
	}
	return (ssize_t)total;
}

const unsigned char *shim_io_data(const struct shim_io *io, size_t *len_r)
{
	*len_r = io->in_end - io->in_start;
	return io->in_buf + io->in_start;
}

void shim_io_consume(struct shim_io *io, size_t n)
{
	g_assert(n <= io->in_end - io->in_start);
	io->in_start += n;
	if (io->in_start == io->in_end)
		io->in_start = io->in_end = 0;
}

size_t shim_io_buffered(const struct shim_io *io)
{
	return io->in_end - io->in_start;
}

void shim_io_set_max_buffer(struct shim_io *io, size_t max)
{
	io->in_max = max;
}

void shim_io_set_write_timeout(struct shim_io *io, int timeout_ms)
{
	io->write_timeout_ms = timeout_ms;
}

/* Sends all of data, waiting at most the write timeout for each bit of
 * progress. Returns 0 or -errno. */
static int io_send(struct shim_io *io, const unsigned char *data, size_t len)
{
	int64_t deadline = shim_io_deadline(io->write_timeout_ms);
	ssize_t n;
	short events;
	int fd, ret;

	while (len > 0) {
		fd = io->out_fd;
		events = POLLOUT;
		if (io->ssl != NULL)
			n = shim_io_tls_write(io, data, len, &fd, &events);
		else
			n = shim_io_raw_write(io, data, len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			deadline = shim_io_deadline(io->write_timeout_ms);
		} else if (n == -EAGAIN) {
			ret = shim_io_wait(fd, events, deadline);
			if (ret < 0)
				return ret;
		} else {
			/* write() returning 0 for a non-empty buffer means
			 * the other end is not taking anything. */
			return n == 0 ? -EPIPE : (int)n;
		}
	}
	return 0;
}

int shim_io_flush(struct shim_io *io)
{
	int ret;

	if (io->write_error != 0)
		return io->write_error;
	if (io->out->len == 0)
		return 0;
	ret = io_send(io, io->out->data, io->out->len);
	g_byte_array_set_size(io->out, 0);
	if (ret < 0) {
		io->write_error = ret;
		if (ret != -EPROTO)
			shim_io_set_error(io, "write: %s", g_strerror(-ret));
	}
	return ret;
}

void shim_io_write(struct shim_io *io, const void *data, size_t len)
{
	int ret;

	if (io->write_error != 0 || len == 0)
		return;
	if (io->out->len + len <= SHIM_IO_OUT_QUEUE_MAX) {
		g_byte_array_append(io->out, data, (guint)len);
		return;
	}
	if (shim_io_flush(io) < 0)
		return;
	if (len < SHIM_IO_OUT_QUEUE_MAX) {
		g_byte_array_append(io->out, data, (guint)len);
		return;
	}
	/* A message body: stream it rather than copy it. */
	ret = io_send(io, data, len);
	if (ret < 0) {
		io->write_error = ret;
		if (ret != -EPROTO)
			shim_io_set_error(io, "write: %s", g_strerror(-ret));
	}
}

void shim_io_printf(struct shim_io *io, const char *fmt, ...)
{
	g_autofree char *text = NULL;
	va_list args;

	va_start(args, fmt);
	text = g_strdup_vprintf(fmt, args);
	va_end(args);
	shim_io_write(io, text, strlen(text));
}
