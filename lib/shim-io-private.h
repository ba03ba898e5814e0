/* What shim-io.c (buffers, waiting) and shim-tls.c (OpenSSL) share. */
#ifndef SHIM_IO_PRIVATE_H
#define SHIM_IO_PRIVATE_H

#include <stdint.h>
#include <openssl/ssl.h>

#include "shim-io.h"

struct shim_io {
	int in_fd;
	int out_fd;
	bool in_is_socket;
	bool out_is_socket;

	/* Unconsumed input is in_buf[in_start..in_end). */
	unsigned char *in_buf;
	size_t in_start;
	size_t in_end;
	size_t in_size;
	size_t in_max;
	bool in_eof;
	int read_error;

	GByteArray *out;
	int write_error;
	int write_timeout_ms;

	/* Set from shim_io_start_tls() on; tls_description once the
	 * handshake is done. */
	SSL *ssl;
	/* What the BIO saw, which OpenSSL does not pass on: errno of the
	 * failed read or write, and whether the peer closed. */
	int bio_errno;
	bool bio_eof;
	/* A fatal TLS error: OpenSSL forbids SSL_shutdown() after one. */
	bool tls_failed;
	char *tls_description;

	char *error;
};

void shim_io_set_error(struct shim_io *io, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);
size_t shim_io_buffered(const struct shim_io *io);

/* The monotonic time timeout_ms from now, -1 for none. */
int64_t shim_io_deadline(int timeout_ms);
/* Waits until fd has events or deadline (-1 never) passes.
 * Returns 0, -ETIMEDOUT or -errno. */
int shim_io_wait(int fd, short events, int64_t deadline)
	G_GNUC_WARN_UNUSED_RESULT;

/* Non-blocking plaintext I/O on the descriptors: > 0 bytes, 0 at EOF (read
 * only), -EAGAIN when nothing can be done now, or -errno; a write to a peer
 * that is gone is -EPIPE. */
ssize_t shim_io_raw_read(struct shim_io *io, void *buf, size_t len)
	G_GNUC_WARN_UNUSED_RESULT;
ssize_t shim_io_raw_write(struct shim_io *io, const void *data, size_t len)
	G_GNUC_WARN_UNUSED_RESULT;

/* The same over TLS. On -EAGAIN, *fd_r and *events_r say what to wait for,
 * which is not always the direction of the call. On other errors the
 * message is set. */
ssize_t shim_io_tls_read(struct shim_io *io, void *buf, size_t len, int *fd_r,
			 short *events_r) G_GNUC_WARN_UNUSED_RESULT;
ssize_t shim_io_tls_write(struct shim_io *io, const void *data, size_t len,
			  int *fd_r, short *events_r) G_GNUC_WARN_UNUSED_RESULT;
/* Whether OpenSSL holds input, decrypted or not, that a read could use
 * without the socket. */
bool shim_io_tls_has_pending(const struct shim_io *io);
/* Shuts TLS down (best effort) and frees its state. */
void shim_io_tls_free(struct shim_io *io);

#endif
