/* TLS for shim-io: the server context, and OpenSSL driven through a BIO of
 * our own that uses shim-io's non-blocking reads and writes. A BIO of our
 * own rather than SSL_set_rfd()/SSL_set_wfd(): those would read and write
 * the descriptors in blocking mode (we may not change it), so a peer that
 * sent half a record or stopped reading would hold the process forever. */
#include "shim-io-private.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <openssl/err.h>
#include <openssl/x509.h>

/* The longest destroy waits to send close_notify. */
#define SHIM_TLS_SHUTDOWN_TIMEOUT_MS 1000

struct shim_tls {
	SSL_CTX *ctx;
};

/* Empties OpenSSL's error queue, which would otherwise be blamed on the
 * next call. Returns -errno of a system error found in it (a file that
 * cannot be opened), else fallback; *reason_r gets text for the log. */
static int openssl_error(int fallback, const char **reason_r)
{
	unsigned long e, first = 0;
	const char *reason;
	int ret = fallback;

	while ((e = ERR_get_error()) != 0) {
		if (first == 0)
			first = e;
		if (ERR_SYSTEM_ERROR(e) && ret == fallback &&
		    ERR_GET_REASON(e) > 0)
			ret = -ERR_GET_REASON(e);
	}
	reason = first == 0 ? NULL : ERR_reason_error_string(first);
	if (ret != fallback)
		*reason_r = g_strerror(-ret);
	else
		*reason_r = reason != NULL ? reason : "unknown error";
	return ret;
}

/* OpenSSL's default asks for a key's passphrase on the terminal; a shim
 * has none, and its stdin is the client. */
static int no_passphrase(char *buf, int size, int rwflag, void *context)
{
	return 0;
}

int shim_tls_create(const char *cert_file, const char *key_file,
		    struct shim_tls **tls_r, char **error_r)
{
	const char *reason;
	unsigned long e;
	SSL_CTX *ctx;
	int ret;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ret = openssl_error(-ENOMEM, &reason);
		*error_r = g_strdup_printf("SSL_CTX_new: %s", reason);
		return ret;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		ret = openssl_error(-EINVAL, &reason);
		*error_r = g_strdup_printf("TLS 1.2 minimum: %s", reason);
		goto fail;
	}
	/* IGNORE_UNEXPECTED_EOF: clients (phones above all) often close
	 * without close_notify. Commands are lines, so a cut stream cannot
	 * pass for a complete one: treat it as the EOF it is. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
					 SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_TICKET |
					 SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Each connection is a new process: a ticket or a cached session
	 * could never be resumed, so do not spend bytes on them. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		ret = openssl_error(-EINVAL, &reason);
		*error_r = g_strdup_printf("certificate %s: %s", cert_file,
					   reason);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		e = ERR_peek_error();
		ret = openssl_error(-EINVAL, &reason);
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			reason = "it does not match the certificate";
		*error_r =
			g_strdup_printf("private key %s: %s", key_file, reason);
		goto fail;
	}
	*tls_r = g_new0(struct shim_tls, 1);
	(*tls_r)->ctx = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return ret;
}

void shim_tls_destroy(struct shim_tls **_tls)
{
	struct shim_tls *tls = *_tls;

	if (tls == NULL)
		return;
	*_tls = NULL;
	/* Reference counted: connections using it keep their own. */
	SSL_CTX_free(tls->ctx);
	g_free(tls);
}

static int bio_write(BIO *bio, const char *data, int len)
{
	struct shim_io *io = BIO_get_data(bio);
	ssize_t n;

	BIO_clear_retry_flags(bio);
	n = shim_io_raw_write(io, data, (size_t)len);
	if (n == -EAGAIN) {
		BIO_set_retry_write(bio);
		return -1;
	}
	if (n < 0) {
		io->bio_errno = (int)-n;
		return -1;
	}
	return (int)n;
}

static int bio_read(BIO *bio, char *buf, int len)
{
	struct shim_io *io = BIO_get_data(bio);
	ssize_t n;

	BIO_clear_retry_flags(bio);
	n = shim_io_raw_read(io, buf, (size_t)len);
	if (n == -EAGAIN) {
		BIO_set_retry_read(bio);
		return -1;
	}
	if (n < 0) {
		io->bio_errno = (int)-n;
		return -1;
	}
	if (n == 0)
		io->bio_eof = true;
	return (int)n;
}

static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct shim_io *io = BIO_get_data(bio);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		/* Nothing is held here. */
		return 1;
	case BIO_CTRL_EOF:
		/* How OpenSSL tells a closed peer from a failed read. */
		return io->bio_eof ? 1 : 0;
	default:
		return 0;
	}
}

/* Sorts out an SSL_*() call that returned ret <= 0. Returns -EAGAIN with
 * what to wait for in *fd_r and *events_r; 0 at EOF; or -errno (-EPROTO
 * for TLS itself) with the error message set. */
static int tls_failure(struct shim_io *io, int ret, const char *what, int *fd_r,
		       short *events_r)
{
	const char *reason;

	switch (SSL_get_error(io->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*fd_r = io->in_fd;
		*events_r = POLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*fd_r = io->out_fd;
		*events_r = POLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		io->tls_failed = true;
		if (io->bio_errno != 0) {
			ERR_clear_error();
			shim_io_set_error(io, "%s: %s", what,
					  g_strerror(io->bio_errno));
			return -io->bio_errno;
		}
		break;
	default:
		io->tls_failed = true;
		break;
	}
	(void)openssl_error(-EPROTO, &reason);
	shim_io_set_error(io, "%s: %s", what, reason);
	return -EPROTO;
}

ssize_t shim_io_tls_read(struct shim_io *io, void *buf, size_t len, int *fd_r,
			 short *events_r)
{
	int ret;

	ERR_clear_error();
	io->bio_errno = 0;
	ret = SSL_read(io->ssl, buf, (int)MIN(len, INT_MAX));
	if (ret > 0)
		return ret;
	return tls_failure(io, ret, "TLS read", fd_r, events_r);
}

ssize_t shim_io_tls_write(struct shim_io *io, const void *data, size_t len,
			  int *fd_r, short *events_r)
{
	int ret;

	ERR_clear_error();
	io->bio_errno = 0;
	/* Partial writes are on, and a retry passes the same len. */
	ret = SSL_write(io->ssl, data, (int)MIN(len, INT_MAX));
	if (ret > 0)
		return ret;
	return tls_failure(io, ret, "TLS write", fd_r, events_r);
}

bool shim_io_tls_has_pending(const struct shim_io *io)
{
	return SSL_has_pending(io->ssl) == 1;
}

/* One for the process, never freed, as OpenSSL's own BIO_s_*() are: BIO
 * type indexes are few, and a method must outlive every BIO using it. */
static BIO_METHOD *bio_method_get(void)
{
	/* The method, or 1 if it could not be made: out of memory, final,
	 * which a shim may accept. g_once wants non-zero. */
	static gsize once;
	BIO_METHOD *method = NULL;
	int index;

	if (g_once_init_enter(&once)) {
		index = BIO_get_new_index();
		if (index != -1)
			method = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK,
					      "shim-io");
		if (method != NULL &&
		    (BIO_meth_set_write(method, bio_write) != 1 ||
		     BIO_meth_set_read(method, bio_read) != 1 ||
		     BIO_meth_set_ctrl(method, bio_ctrl) != 1)) {
			BIO_meth_free(method);
			method = NULL;
		}
		g_once_init_leave(&once, method != NULL ? (gsize)method : 1);
	}
	return once == 1 ? NULL : (BIO_METHOD *)once;
}

/* Creates io->ssl talking through io's descriptors. Returns 0 or
 * -ENOMEM. */
static int tls_setup(struct shim_io *io, struct shim_tls *tls)
{
	BIO_METHOD *method = bio_method_get();
	BIO *bio;

	if (method == NULL)
		return -ENOMEM;
	io->ssl = SSL_new(tls->ctx);
	bio = BIO_new(method);
	if (io->ssl == NULL || bio == NULL) {
		BIO_free(bio);
		return -ENOMEM;
	}
	BIO_set_data(bio, io);
	BIO_set_init(bio, 1);
	/* One BIO for both directions: one reference. */
	SSL_set_bio(io->ssl, bio, bio);
	SSL_set_mode(io->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Fewer reads; fill drains what it reads ahead. */
	SSL_set_read_ahead(io->ssl, 1);
	SSL_set_accept_state(io->ssl);
	return 0;
}

int shim_io_start_tls(struct shim_io *io, struct shim_tls *tls)
{
	int64_t deadline;
	short events;
	int fd, ret;

	if (io->ssl != NULL) {
		shim_io_set_error(io, "TLS was already started");
		return -EALREADY;
	}
	if (shim_io_buffered(io) > 0) {
		shim_io_set_error(io, "client sent plaintext after STARTTLS "
				      "before the TLS handshake (command "
				      "injection attempt?)");
		return -EPROTO;
	}
	ret = shim_io_flush(io);
	if (ret < 0)
		return ret;

	ERR_clear_error();
	ret = tls_setup(io, tls);
	if (ret < 0) {
		ERR_clear_error();
		shim_io_set_error(io, "TLS setup: out of memory");
		goto fail;
	}
	deadline = shim_io_deadline(io->write_timeout_ms);
	for (;;) {
		ERR_clear_error();
		io->bio_errno = 0;
		ret = SSL_do_handshake(io->ssl);
		if (ret == 1)
			break;
		ret = tls_failure(io, ret, "TLS handshake", &fd, &events);
		if (ret == -EAGAIN) {
			ret = shim_io_wait(fd, events, deadline);
			if (ret == 0)
				continue;
			shim_io_set_error(io, "TLS handshake: %s",
					  ret == -ETIMEDOUT ? "timed out"
							    : g_strerror(-ret));
		} else if (ret == 0) {
			ret = -EPROTO;
			shim_io_set_error(io, "TLS handshake: the client "
					      "closed the connection");
		}
		goto fail;
	}
	io->tls_description = g_strdup_printf("%s %s", SSL_get_version(io->ssl),
					      SSL_get_cipher_name(io->ssl));
	return 0;
fail:
	io->tls_failed = true;
	io->read_error = ret;
	io->write_error = ret;
	return ret;
}

bool shim_io_is_tls(const struct shim_io *io)
{
	return io->tls_description != NULL;
}

const char *shim_io_tls_description(const struct shim_io *io)
{
	return io->tls_description;
}

/* Sends our close_notify, without waiting for the client's: it has nothing
 * more to tell us, and waiting would let it hold the process. */
static void tls_shutdown(struct shim_io *io)
{
	int timeout_ms = io->write_timeout_ms < 0
				 ? SHIM_TLS_SHUTDOWN_TIMEOUT_MS
				 : MIN(io->write_timeout_ms,
				       SHIM_TLS_SHUTDOWN_TIMEOUT_MS);
	int64_t deadline = shim_io_deadline(timeout_ms);
	short events;
	int fd, ret;

	for (;;) {
		ERR_clear_error();
		io->bio_errno = 0;
		ret = SSL_shutdown(io->ssl);
		if (ret >= 0)
			break;
		ret = tls_failure(io, ret, "TLS shutdown", &fd, &events);
		if (ret != -EAGAIN || shim_io_wait(fd, events, deadline) < 0)
			break;
	}
	ERR_clear_error();
}

void shim_io_tls_free(struct shim_io *io)
{
	if (io->ssl != NULL) {
		if (io->tls_description != NULL && !io->tls_failed &&
		    io->write_error == 0)
			tls_shutdown(io);
		/* Frees the BIO too. */
		SSL_free(io->ssl);
		io->ssl = NULL;
	}
	g_free(io->tls_description);
	io->tls_description = NULL;
}
