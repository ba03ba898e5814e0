/* shim-io over real sockets (and pipes), with real OpenSSL on the client
 * side, in a thread, against a throwaway self-signed certificate. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "shim-io.h"

#define BIG_SIZE (8 * 1024 * 1024)

static char *tmp_dir;
static char *cert_file;
static char *key_file;
static char *other_key_file;
static char *garbage_file;

static void write_key_and_cert(const char *key_path, const char *cert_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509_NAME *name;
	FILE *f;

	g_assert_nonnull(key);
	g_assert_nonnull(cert);
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1,
				   0);
	X509_set_issuer_name(cert, name);
	g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);

	f = fopen(key_path, "w");
	g_assert_nonnull(f);
	g_assert_cmpint(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL),
			==, 1);
	fclose(f);
	if (cert_path != NULL) {
		f = fopen(cert_path, "w");
		g_assert_nonnull(f);
		g_assert_cmpint(PEM_write_X509(f, cert), ==, 1);
		fclose(f);
	}
	X509_free(cert);
	EVP_PKEY_free(key);
}

static struct shim_tls *tls_new(void)
{
	struct shim_tls *tls = NULL;
	char *error = NULL;

	g_assert_cmpint(shim_tls_create(cert_file, key_file, &tls, &error), ==,
			0);
	g_assert_null(error);
	return tls;
}

/* sv[0] for the server, sv[1] for the client, which gives up after 10 s
 * rather than hang the test if the server misbehaves. */
static void pair_open(int sv[2])
{
	struct timeval tv = { .tv_sec = 10 };

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void pair_close(int sv[2])
{
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
}

static void fd_write(int fd, const void *data, size_t len)
{
	g_assert_cmpint(write(fd, data, len), ==, (ssize_t)len);
}

static void fd_expect(int fd, const char *expect)
{
	size_t len = strlen(expect), got = 0;
	char buf[256];
	ssize_t n;

	g_assert_cmpuint(len, <=, sizeof(buf));
	while (got < len) {
		n = read(fd, buf + got, len - got);
		g_assert_cmpint(n, >, 0);
		got += (size_t)n;
	}
	g_assert_cmpmem(buf, len, expect, len);
}

/* Fills until expect is buffered, checks and consumes it. */
static void io_expect(struct shim_io *io, const char *expect)
{
	size_t len = strlen(expect), have;
	const unsigned char *data = shim_io_data(io, &have);

	while (have < len) {
		g_assert_cmpint(shim_io_fill(io, 5000), >, 0);
		data = shim_io_data(io, &have);
	}
	g_assert_cmpmem(data, len, expect, len);
	shim_io_consume(io, len);
}

static int tickets_seen;

static int count_ticket(SSL *ssl, SSL_SESSION *session)
{
	g_atomic_int_inc(&tickets_seen);
	return 0;
}

static SSL *client_connect(int fd)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	g_assert_nonnull(ctx);
	/* Only to see whether the server hands out tickets. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	SSL_CTX_sess_set_new_cb(ctx, count_ticket);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	SSL_set_fd(ssl, fd);
	g_assert_cmpint(SSL_connect(ssl), ==, 1);
	return ssl;
}

static void client_write(SSL *ssl, const char *text)
{
	int len = (int)strlen(text);

	g_assert_cmpint(SSL_write(ssl, text, len), ==, len);
}

static void client_expect(SSL *ssl, const char *expect)
{
	size_t len = strlen(expect), got = 0;
	char buf[256];
	int n;

	g_assert_cmpuint(len, <=, sizeof(buf));
	while (got < len) {
		n = SSL_read(ssl, buf + got, (int)(len - got));
		g_assert_cmpint(n, >, 0);
		got += (size_t)n;
	}
	g_assert_cmpmem(buf, len, expect, len);
}

static void test_plain(void)
{
	const unsigned char *data;
	struct shim_io *io;
	char byte;
	size_t len;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	fd_write(sv[1], "a NOOP\r\nb", 9);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 9);
	data = shim_io_data(io, &len);
	g_assert_cmpmem(data, len, "a NOOP\r\nb", 9);
	shim_io_consume(io, 8);
	/* What was left stays in front of what comes next. */
	fd_write(sv[1], "c", 1);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 1);
	data = shim_io_data(io, &len);
	g_assert_cmpmem(data, len, "bc", 2);
	shim_io_consume(io, 2);
	shim_io_data(io, &len);
	g_assert_cmpuint(len, ==, 0);

	shim_io_write(io, "* OK", 4);
	shim_io_printf(io, " %s %d\r\n", "ready", 42);
	/* Queued, not sent. */
	g_assert_cmpint(recv(sv[1], &byte, 1, MSG_DONTWAIT), ==, -1);
	g_assert_cmpint(errno, ==, EAGAIN);
	g_assert_cmpint(shim_io_flush(io), ==, 0);
	fd_expect(sv[1], "* OK ready 42\r\n");
	g_assert_false(shim_io_is_tls(io));
	g_assert_null(shim_io_tls_description(io));
	shim_io_destroy(&io);
	g_assert_null(io);
	shim_io_destroy(&io);
	pair_close(sv);
}

static gpointer pipe_reader(gpointer data)
{
	int fd = GPOINTER_TO_INT(data);
	gsize total = 0;
	char buf[8192];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			g_assert_cmpint(buf[i], ==, 'p');
		total += (gsize)n;
	}
	g_assert_cmpint(n, ==, 0);
	return GSIZE_TO_POINTER(total);
}

/* Two pipes, as a test harness (or a shim under a plain pipe) may give:
 * the poll-then-read path, and writes far past a pipe's capacity. */
static void test_pipes(void)
{
	int in[2], out[2];
	struct shim_io *io;
	GThread *reader;
	char *block;

	g_assert_cmpint(pipe(in), ==, 0);
	g_assert_cmpint(pipe(out), ==, 0);
	io = shim_io_create(in[0], out[1]);
	g_assert_cmpint(shim_io_fill(io, 0), ==, -ETIMEDOUT);
	fd_write(in[1], "hello\r\n", 7);
	io_expect(io, "hello\r\n");
	close(in[1]);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 0);

	reader = g_thread_new("pipe-reader", pipe_reader,
			      GINT_TO_POINTER(out[0]));
	block = g_malloc(1024 * 1024);
	memset(block, 'p', 1024 * 1024);
	shim_io_write(io, block, 1024 * 1024);
	shim_io_write(io, block, 100);
	g_assert_cmpint(shim_io_flush(io), ==, 0);
	close(out[1]);
	g_assert_cmpuint(GPOINTER_TO_SIZE(g_thread_join(reader)), ==,
			 1024 * 1024 + 100);
	g_free(block);
	shim_io_destroy(&io);
	close(in[0]);
	close(out[0]);
}

/* A pipe's reader that never reads: each write must be small enough not
 * to block, or the timeout could never fire. */
static void test_pipe_write_timeout(void)
{
	char *block = g_malloc0(1024 * 1024);
	struct shim_io *io;
	int out[2];

	g_assert_cmpint(pipe(out), ==, 0);
	io = shim_io_create(out[0], out[1]);
	shim_io_set_write_timeout(io, 200);
	shim_io_write(io, block, 1024 * 1024);
	g_assert_cmpint(shim_io_flush(io), ==, -ETIMEDOUT);
	g_free(block);
	shim_io_destroy(&io);
	close(out[0]);
	close(out[1]);
}

static gpointer slow_reader(gpointer data)
{
	int fd = GPOINTER_TO_INT(data);
	gsize total = 0;
	char buf[64 * 1024];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		total += (gsize)n;
		g_usleep(100 * 1000);
	}
	return GSIZE_TO_POINTER(total);
}

/* The write timeout is for a peer that stopped, not for a slow one: this
 * one takes more than a second and a half for what it is given 800 ms at a
 * time, reading every 100 ms (wide margins: the machines are noisy). */
static void test_slow_reader(void)
{
	char *block = g_malloc0(1024 * 1024);
	struct shim_io *io;
	GThread *reader;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	shim_io_set_write_timeout(io, 800);
	reader = g_thread_new("reader", slow_reader, GINT_TO_POINTER(sv[1]));
	shim_io_write(io, block, 1024 * 1024);
	g_assert_cmpint(shim_io_flush(io), ==, 0);
	shutdown(sv[0], SHUT_WR);
	g_assert_cmpuint(GPOINTER_TO_SIZE(g_thread_join(reader)), ==,
			 1024 * 1024);
	g_free(block);
	shim_io_destroy(&io);
	pair_close(sv);
}

static void test_fill_timeout(void)
{
	struct shim_io *io;
	int64_t start;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	g_assert_cmpint(shim_io_fill(io, 0), ==, -ETIMEDOUT);
	start = g_get_monotonic_time();
	g_assert_cmpint(shim_io_fill(io, 150), ==, -ETIMEDOUT);
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 150 * 1000);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 5000 * 1000);
	/* A timeout is not sticky. */
	fd_write(sv[1], "x", 1);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 1);
	shim_io_destroy(&io);
	pair_close(sv);
}

static void test_eof(void)
{
	struct shim_io *io;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	fd_write(sv[1], "x", 1);
	close(sv[1]);
	sv[1] = -1;
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 1);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 0);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 0);
	shim_io_destroy(&io);
	pair_close(sv);
}

static void test_max_buffer(void)
{
	const unsigned char *data;
	char *block = g_malloc(70000);
	struct shim_io *io;
	size_t len;
	ssize_t n;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	shim_io_set_max_buffer(io, 10);
	fd_write(sv[1], "0123456789abcdefghij", 20);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 10);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, -ENOBUFS);
	shim_io_consume(io, 4);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 4);
	data = shim_io_data(io, &len);
	g_assert_cmpmem(data, len, "456789abcd", 10);
	shim_io_destroy(&io);

	/* The default cap is 64 KiB. */
	io = shim_io_create(sv[0], sv[0]);
	memset(block, 'z', 70000);
	fd_write(sv[1], block, 70000);
	while ((n = shim_io_fill(io, 5000)) > 0)
		;
	g_assert_cmpint(n, ==, -ENOBUFS);
	data = shim_io_data(io, &len);
	g_assert_cmpuint(len, ==, 64 * 1024);
	g_assert_cmpint(data[len - 1], ==, 'z');
	g_free(block);
	shim_io_destroy(&io);
	pair_close(sv);
}

static void test_peer_gone(void)
{
	struct shim_io *io;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	close(sv[1]);
	sv[1] = -1;
	shim_io_write(io, "* BYE\r\n", 7);
	g_assert_cmpint(shim_io_flush(io), ==, -EPIPE);
	g_assert_nonnull(shim_io_error(io));
	g_assert_cmpint(shim_io_flush(io), ==, -EPIPE);
	shim_io_printf(io, "more\r\n");
	g_assert_cmpint(shim_io_flush(io), ==, -EPIPE);
	shim_io_destroy(&io);
	pair_close(sv);
}

/* Over TCP a peer that is gone may answer with a reset: that is -EPIPE
 * too, so callers need to know only one. */
static void test_peer_reset(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct linger linger = { .l_onoff = 1, .l_linger = 0 };
	socklen_t addr_len = sizeof(addr);
	int listener, client, server, ret;
	struct shim_io *io;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(listener, >=, 0);
	g_assert_cmpint(bind(listener, (struct sockaddr *)&addr, sizeof(addr)),
			==, 0);
	g_assert_cmpint(listen(listener, 1), ==, 0);
	g_assert_cmpint(
		getsockname(listener, (struct sockaddr *)&addr, &addr_len), ==,
		0);
	client = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(connect(client, (struct sockaddr *)&addr, sizeof(addr)),
			==, 0);
	server = accept(listener, NULL, NULL);
	g_assert_cmpint(server, >=, 0);
	/* Closing with l_linger 0 sends a reset. */
	setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
	close(client);

	io = shim_io_create(server, server);
	/* The reset may arrive after the first write went out. */
	for (int i = 0; i < 100; i++) {
		shim_io_write(io, "* BYE\r\n", 7);
		ret = shim_io_flush(io);
		if (ret != 0)
			break;
		g_usleep(10 * 1000);
	}
	g_assert_cmpint(ret, ==, -EPIPE);
	shim_io_destroy(&io);
	close(server);
	close(listener);
}

static void test_write_timeout(void)
{
	char *block = g_malloc0(4 * 1024 * 1024);
	struct shim_io *io;
	int64_t start;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	shim_io_set_write_timeout(io, 200);
	start = g_get_monotonic_time();
	/* The client never reads. */
	shim_io_write(io, block, 4 * 1024 * 1024);
	g_assert_cmpint(shim_io_flush(io), ==, -ETIMEDOUT);
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 200 * 1000);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 5000 * 1000);
	g_free(block);
	shim_io_destroy(&io);
	pair_close(sv);
}

static gpointer starttls_client(gpointer data)
{
	int fd = GPOINTER_TO_INT(data);
	char byte;
	SSL *ssl;

	fd_write(fd, "a STARTTLS\r\n", 12);
	fd_expect(fd, "a OK\r\n");
	ssl = client_connect(fd);
	client_write(ssl, "b NOOP\r\n");
	client_expect(ssl, "b OK\r\n");
	g_assert_cmpint(SSL_shutdown(ssl), >=, 0);
	/* The server's close_notify, from shim_io_destroy(). */
	g_assert_cmpint(SSL_read(ssl, &byte, 1), ==, 0);
	g_assert_cmpint(SSL_get_error(ssl, 0), ==, SSL_ERROR_ZERO_RETURN);
	SSL_free(ssl);
	return NULL;
}

static void test_starttls(void)
{
	struct shim_tls *tls = tls_new();
	struct shim_io *io;
	GThread *client;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	client =
		g_thread_new("client", starttls_client, GINT_TO_POINTER(sv[1]));
	io_expect(io, "a STARTTLS\r\n");
	/* Not flushed: start_tls sends it, in plaintext, first. */
	shim_io_write(io, "a OK\r\n", 6);
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, 0);
	g_assert_true(shim_io_is_tls(io));
	g_assert_true(g_str_has_prefix(shim_io_tls_description(io), "TLSv1."));
	io_expect(io, "b NOOP\r\n");
	shim_io_write(io, "b OK\r\n", 6);
	g_assert_cmpint(shim_io_flush(io), ==, 0);
	/* close_notify is EOF. */
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 0);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 0);
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, -EALREADY);
	shim_io_destroy(&io);
	g_thread_join(client);
	shim_tls_destroy(&tls);
	g_assert_null(tls);
	shim_tls_destroy(&tls);
	pair_close(sv);
}

static void test_starttls_injection(void)
{
	struct shim_tls *tls = tls_new();
	struct shim_io *io;
	char byte;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	fd_write(sv[1], "a STARTTLS\r\nb NOOP\r\n", 20);
	io_expect(io, "a STARTTLS\r\n");
	shim_io_write(io, "a OK\r\n", 6);
	/* Without the check, the handshake would wait for a ClientHello. */
	shim_io_set_write_timeout(io, 1000);
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, -EPROTO);
	g_assert_nonnull(strstr(shim_io_error(io), "STARTTLS"));
	g_assert_false(shim_io_is_tls(io));
	/* Refused before anything was sent... */
	g_assert_cmpint(recv(sv[1], &byte, 1, MSG_DONTWAIT), ==, -1);
	/* ...and still plaintext, for a goodbye. */
	shim_io_write(io, "* BYE\r\n", 7);
	g_assert_cmpint(shim_io_flush(io), ==, 0);
	fd_expect(sv[1], "a OK\r\n* BYE\r\n");
	shim_io_destroy(&io);
	shim_tls_destroy(&tls);
	pair_close(sv);
}

static gpointer implicit_client(gpointer data)
{
	int fd = GPOINTER_TO_INT(data);
	SSL *ssl = client_connect(fd);

	client_write(ssl, "hello\r\n");
	client_expect(ssl, "world\r\n");
	/* Gone without close_notify, as phones do. */
	SSL_free(ssl);
	shutdown(fd, SHUT_RDWR);
	return NULL;
}

static void test_implicit_tls(void)
{
	struct shim_tls *tls = tls_new();
	struct shim_io *io;
	GThread *client;
	int sv[2];

	pair_open(sv);
	g_atomic_int_set(&tickets_seen, 0);
	io = shim_io_create(sv[0], sv[0]);
	client =
		g_thread_new("client", implicit_client, GINT_TO_POINTER(sv[1]));
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, 0);
	g_assert_true(shim_io_is_tls(io));
	io_expect(io, "hello\r\n");
	shim_io_printf(io, "%s\r\n", "world");
	g_assert_cmpint(shim_io_flush(io), ==, 0);
	g_assert_cmpint(shim_io_fill(io, 5000), ==, 0);
	g_thread_join(client);
	/* A new process per connection could never resume a session. */
	g_assert_cmpint(g_atomic_int_get(&tickets_seen), ==, 0);
	shim_io_destroy(&io);
	shim_tls_destroy(&tls);
	pair_close(sv);
}

static int big_received;

static unsigned char big_byte(size_t i)
{
	return (unsigned char)(i % 251 + i / 65536);
}

static gpointer big_client(gpointer data)
{
	int fd = GPOINTER_TO_INT(data);
	SSL *ssl = client_connect(fd);
	size_t total = 0;
	char buf[16384];
	int n;

	while (total < BIG_SIZE) {
		n = SSL_read(ssl, buf, sizeof(buf));
		g_assert_cmpint(n, >, 0);
		for (int i = 0; i < n; i++) {
			if ((unsigned char)buf[i] != big_byte(total + i))
				g_error("byte %zu differs", total + i);
		}
		total += (size_t)n;
		g_atomic_int_set(&big_received, (int)total);
	}
	g_assert_cmpint(SSL_read(ssl, buf, 1), ==, 0);
	SSL_free(ssl);
	return NULL;
}

static void test_big_write(void)
{
	struct shim_tls *tls = tls_new();
	unsigned char *big = g_malloc(BIG_SIZE);
	struct shim_io *io;
	GThread *client;
	size_t half = BIG_SIZE / 2;
	int sv[2];

	for (size_t i = 0; i < BIG_SIZE; i++)
		big[i] = big_byte(i);
	pair_open(sv);
	g_atomic_int_set(&big_received, 0);
	io = shim_io_create(sv[0], sv[0]);
	client = g_thread_new("client", big_client, GINT_TO_POINTER(sv[1]));
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, 0);
	shim_io_write(io, big, half);
	/* Streamed while written: all but what is in flight has arrived. */
	g_assert_cmpint(g_atomic_int_get(&big_received), >=, (int)half / 2);
	/* The rest in small writes, through the self-flushing queue. */
	for (size_t off = half; off < BIG_SIZE; off += 1000)
		shim_io_write(io, big + off, MIN(1000, BIG_SIZE - off));
	g_assert_cmpint(shim_io_flush(io), ==, 0);
	shim_io_destroy(&io);
	g_thread_join(client);
	g_free(big);
	shim_tls_destroy(&tls);
	pair_close(sv);
}

struct pending_client {
	int fd;
	/* The client says here when it has sent everything. */
	GAsyncQueue *sent;
};

static gpointer pending_client(gpointer data)
{
	struct pending_client *ctx = data;
	SSL *ssl = client_connect(ctx->fd);
	char *big = g_malloc(12000);

	client_write(ssl, "r1\n");
	client_write(ssl, "r2\n");
	client_write(ssl, "r3\n");
	memset(big, 'q', 12000);
	g_assert_cmpint(SSL_write(ssl, big, 12000), ==, 12000);
	g_free(big);
	/* All of it is in the server's socket now. */
	g_async_queue_push(ctx->sent, GINT_TO_POINTER(1));
	client_expect(ssl, "ok\n");
	SSL_free(ssl);
	return NULL;
}

/* Records that OpenSSL has already taken off the socket must come out of
 * fill without waiting for the socket, which has nothing more: the 12000
 * byte record is read off the socket whole, but the cap lets it out 1000
 * bytes at a time, each with fill(0). */
static void test_ssl_pending(void)
{
	struct shim_tls *tls = tls_new();
	struct pending_client ctx;
	const unsigned char *data;
	GString *got = g_string_new(NULL);
	struct shim_io *io;
	GThread *client;
	size_t len;
	ssize_t n;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	shim_io_set_max_buffer(io, 1000);
	ctx.fd = sv[1];
	ctx.sent = g_async_queue_new();
	client = g_thread_new("client", pending_client, &ctx);
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, 0);
	g_async_queue_pop(ctx.sent);
	while (got->len < 9 + 12000) {
		n = shim_io_fill(io, 0);
		g_assert_cmpint(n, >, 0);
		data = shim_io_data(io, &len);
		g_assert_cmpuint(len, ==, (size_t)n);
		g_assert_cmpuint(len, <=, 1000);
		g_string_append_len(got, (const char *)data, (gssize)len);
		shim_io_consume(io, len);
	}
	g_assert_true(g_str_has_prefix(got->str, "r1\nr2\nr3\nqqq"));
	g_assert_cmpint(shim_io_fill(io, 0), ==, -ETIMEDOUT);
	shim_io_write(io, "ok\n", 3);
	g_assert_cmpint(shim_io_flush(io), ==, 0);
	g_thread_join(client);
	shim_io_destroy(&io);
	g_string_free(got, TRUE);
	g_async_queue_unref(ctx.sent);
	shim_tls_destroy(&tls);
	pair_close(sv);
}

static gpointer connect_then_vanish(gpointer data)
{
	int fd = GPOINTER_TO_INT(data);
	SSL *ssl = client_connect(fd);

	SSL_free(ssl);
	close(fd);
	return NULL;
}

static void test_tls_peer_gone(void)
{
	struct shim_tls *tls = tls_new();
	struct shim_io *io;
	GThread *client;
	int sv[2];

	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	client = g_thread_new("client", connect_then_vanish,
			      GINT_TO_POINTER(sv[1]));
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, 0);
	g_thread_join(client);
	sv[1] = -1;
	shim_io_write(io, "* BYE\r\n", 7);
	g_assert_cmpint(shim_io_flush(io), ==, -EPIPE);
	g_assert_cmpint(shim_io_flush(io), ==, -EPIPE);
	shim_io_destroy(&io);
	shim_tls_destroy(&tls);
	pair_close(sv);
}

static void test_handshake_failures(void)
{
	struct shim_tls *tls = tls_new();
	struct shim_io *io;
	int64_t start;
	int sv[2];

	/* Not TLS at all. */
	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	fd_write(sv[1], "GET / HTTP/1.0\r\n\r\n", 18);
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, -EPROTO);
	g_assert_nonnull(shim_io_error(io));
	g_assert_false(shim_io_is_tls(io));
	g_assert_cmpint(shim_io_fill(io, 0), ==, -EPROTO);
	shim_io_write(io, "x", 1);
	g_assert_cmpint(shim_io_flush(io), ==, -EPROTO);
	shim_io_destroy(&io);
	pair_close(sv);

	/* A client that says nothing. */
	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	shim_io_set_write_timeout(io, 200);
	start = g_get_monotonic_time();
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, -ETIMEDOUT);
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 200 * 1000);
	shim_io_destroy(&io);
	pair_close(sv);

	/* A client that leaves. */
	pair_open(sv);
	io = shim_io_create(sv[0], sv[0]);
	close(sv[1]);
	sv[1] = -1;
	g_assert_cmpint(shim_io_start_tls(io, tls), ==, -EPROTO);
	shim_io_destroy(&io);
	pair_close(sv);
	shim_tls_destroy(&tls);
}

static void expect_tls_error(const char *cert, const char *key, int expect,
			     const char *in_message)
{
	struct shim_tls *tls = NULL;
	char *error = NULL;

	g_assert_cmpint(shim_tls_create(cert, key, &tls, &error), ==, expect);
	g_assert_null(tls);
	g_assert_nonnull(error);
	if (strstr(error, in_message) == NULL)
		g_error("\"%s\" not in \"%s\"", in_message, error);
	g_free(error);
}

static void test_tls_create_errors(void)
{
	g_autofree char *missing =
		g_build_filename(tmp_dir, "missing.pem", NULL);

	expect_tls_error(missing, key_file, -ENOENT, missing);
	expect_tls_error(cert_file, missing, -ENOENT, missing);
	expect_tls_error(garbage_file, key_file, -EINVAL, garbage_file);
	expect_tls_error(cert_file, garbage_file, -EINVAL, garbage_file);
	expect_tls_error(cert_file, other_key_file, -EINVAL, "does not match");
}

int main(int argc, char **argv)
{
	GError *error = NULL;
	int ret;

	g_test_init(&argc, &argv, NULL);
	signal(SIGPIPE, SIG_IGN);

	tmp_dir = g_dir_make_tmp("test-shim-io-XXXXXX", &error);
	g_assert_no_error(error);
	cert_file = g_build_filename(tmp_dir, "cert.pem", NULL);
	key_file = g_build_filename(tmp_dir, "key.pem", NULL);
	other_key_file = g_build_filename(tmp_dir, "other-key.pem", NULL);
	garbage_file = g_build_filename(tmp_dir, "garbage.pem", NULL);
	write_key_and_cert(key_file, cert_file);
	write_key_and_cert(other_key_file, NULL);
	g_file_set_contents(garbage_file, "not a PEM file\n", -1, &error);
	g_assert_no_error(error);

	g_test_add_func("/shim-io/plain", test_plain);
	g_test_add_func("/shim-io/pipes", test_pipes);
	g_test_add_func("/shim-io/pipe-write-timeout", test_pipe_write_timeout);
	g_test_add_func("/shim-io/slow-reader", test_slow_reader);
	g_test_add_func("/shim-io/fill-timeout", test_fill_timeout);
	g_test_add_func("/shim-io/eof", test_eof);
	g_test_add_func("/shim-io/max-buffer", test_max_buffer);
	g_test_add_func("/shim-io/peer-gone", test_peer_gone);
	g_test_add_func("/shim-io/peer-reset", test_peer_reset);
	g_test_add_func("/shim-io/write-timeout", test_write_timeout);
	g_test_add_func("/shim-io/starttls", test_starttls);
	g_test_add_func("/shim-io/starttls-injection", test_starttls_injection);
	g_test_add_func("/shim-io/implicit-tls", test_implicit_tls);
	g_test_add_func("/shim-io/big-write", test_big_write);
	g_test_add_func("/shim-io/ssl-pending", test_ssl_pending);
	g_test_add_func("/shim-io/tls-peer-gone", test_tls_peer_gone);
	g_test_add_func("/shim-io/handshake-failures", test_handshake_failures);
	g_test_add_func("/shim-io/tls-create-errors", test_tls_create_errors);
	ret = g_test_run();

	g_unlink(cert_file);
	g_unlink(key_file);
	g_unlink(other_key_file);
	g_unlink(garbage_file);
	g_rmdir(tmp_dir);
	g_free(cert_file);
	g_free(key_file);
	g_free(other_key_file);
	g_free(garbage_file);
	g_free(tmp_dir);
	return ret;
}
