/* The connection of an inetd-style shim: buffered input, queued output and
 * optional TLS over a pair of file descriptors (usually the same socket as
 * 0 and 1). The descriptors are never switched to non-blocking mode, since
 * another process may share them: sockets use MSG_DONTWAIT per call, other
 * descriptors are polled before each read or write (and writes to them are
 * cut to PIPE_BUF so they cannot block). Writing to a closed pipe raises
 * SIGPIPE, so a shim ignores SIGPIPE; sockets use MSG_NOSIGNAL.
 *
 * Library code: nothing here logs. Allocation failure aborts (a shim serves
 * one connection and may). */
#ifndef SHIM_IO_H
#define SHIM_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <glib.h>

/* A server SSL_CTX, shareable by any number of connections. */
struct shim_tls;

/* Loads the PEM certificate chain (leaf first) and its private key. TLS 1.2
 * is the minimum, OpenSSL's default ciphers, no compression, no client
 * renegotiation, no session tickets or cache (each connection is its own
 * process, so they could never be reused). An encrypted key is refused
 * rather than prompting on a terminal.
 * Returns 0 and *tls_r, or -errno (-ENOENT, -EACCES... for a file that
 * cannot be read, -EINVAL for a file that is not what it should be or a key
 * that does not match the certificate) with *error_r a newly allocated
 * message to g_free(). */
int shim_tls_create(const char *cert_file, const char *key_file,
		    struct shim_tls **tls_r, char **error_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Frees *tls (NULL is fine) and sets it to NULL. Connections that already
 * started TLS with it keep working. */
void shim_tls_destroy(struct shim_tls **tls);

struct shim_io;

/* Wraps in_fd and out_fd, which may be the same. Never fails. */
struct shim_io *shim_io_create(int in_fd, int out_fd);
/* Sends a TLS close_notify if the connection is healthy (best effort,
 * waiting at most a second), frees *io (NULL is fine) and sets it to NULL.
 * Queued output that was not flushed is discarded. The descriptors are
 * left open. */
void shim_io_destroy(struct shim_io **io);

/* Reads more input into the buffer, waiting at most timeout_ms (-1 waits
 * forever, 0 not at all). Input already decrypted inside OpenSSL is
 * returned without waiting.
 * Returns the number of new bytes (> 0); 0 at end of input (the peer closed
 * the connection, with or without a TLS close_notify), again on every later
 * call; -ENOBUFS when the buffer already holds the maximum (see
 * shim_io_set_max_buffer); -ETIMEDOUT when nothing came in time; -EPROTO for
 * a TLS error (shim_io_error() says which); another -errno from the socket.
 * Errors other than -ENOBUFS and -ETIMEDOUT are returned again by every
 * later call. */
ssize_t shim_io_fill(struct shim_io *io, int timeout_ms)
	G_GNUC_WARN_UNUSED_RESULT;
/* Returns the unconsumed input and writes its length to *len_r. The
 * pointer is valid until the next shim_io_fill() or shim_io_start_tls(). */
const unsigned char *shim_io_data(const struct shim_io *io, size_t *len_r);
/* Drops the first n bytes of the buffered input; n must not exceed it. */
void shim_io_consume(struct shim_io *io, size_t n);
/* Caps the unconsumed input shim_io_fill() may buffer (default 64 KiB);
 * it returns -ENOBUFS when that much is already there. */
void shim_io_set_max_buffer(struct shim_io *io, size_t max);

/* Queues output. Nothing is sent until shim_io_flush(), except that once
 * the queue would pass 64 KiB it is sent at once, and a block of 64 KiB or
 * more is sent from the caller's memory without being copied. An error
 * while sending is kept for shim_io_flush() to return; after it, output is
 * dropped. */
void shim_io_write(struct shim_io *io, const void *data, size_t len);
void shim_io_printf(struct shim_io *io, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);
/* Sends everything queued, waiting for the peer to read it.
 * Returns 0; -EPIPE when the peer is gone (a reset counts as gone);
 * -ETIMEDOUT when the peer read nothing for the write timeout; -EPROTO for
 * a TLS error; another -errno. After an error the queue is dropped and
 * every later flush returns the same error. */
int shim_io_flush(struct shim_io *io) G_GNUC_WARN_UNUSED_RESULT;
/* How long a flush (or a self-flushing write) waits for the peer to make
 * room before giving up: the clock restarts at each byte the peer takes, so
 * a slow reader of a large message is not cut off, one that stopped is.
 * Also bounds the whole TLS handshake. Default 60000 ms; -1 waits forever. */
void shim_io_set_write_timeout(struct shim_io *io, int timeout_ms);

/* Starts a server-side TLS handshake: at the start of the connection for
 * implicit TLS, or after the STARTTLS reply (output still queued, such as
 * that reply, is flushed first, in plaintext).
 * Returns 0 once the handshake is done; -EALREADY if TLS was already
 * started (even if it failed); -EPROTO with nothing sent if unconsumed
 * plaintext input is buffered, since a client that pipelines commands
 * after STARTTLS is trying to inject them into the encrypted session
 * (CVE-2011-0411); -EPROTO if the handshake fails or the client closes
 * during it; -ETIMEDOUT if it takes longer than the write timeout; another
 * -errno from the socket or from the flush. shim_io_error() tells these
 * apart for the log. After -EALREADY or the plaintext refusal io is as it
 * was (a plaintext goodbye may still be sent); after any other failure it
 * is unusable, fill and flush return the same error. */
int shim_io_start_tls(struct shim_io *io, struct shim_tls *tls)
	G_GNUC_WARN_UNUSED_RESULT;
/* Whether a TLS handshake has completed on io. */
bool shim_io_is_tls(const struct shim_io *io);
/* Returns "TLSv1.3 TLS_AES_256_GCM_SHA384" style text for the log, owned
 * by io; NULL while the connection is plain. */
const char *shim_io_tls_description(const struct shim_io *io);
/* Returns a description of the last error returned by shim_io_start_tls(),
 * or a TLS or socket error returned by shim_io_fill() or shim_io_flush(),
 * for the log; NULL if none. Owned by io, valid until the next call on io
 * or its destroy. Never contains secrets. */
const char *shim_io_error(const struct shim_io *io);

#endif
