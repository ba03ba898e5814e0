/* libFuzzer target for a whole vvm-imapd session before login, after
 * Dovecot's fuzz-smtp-server.c: the input is what a client sends over a
 * socketpair, then it closes its side, and imap_session_run() serves the
 * other end as it would stdin and stdout. The mount is an empty vvmfs
 * root (.outbox/ and no subscriber), so every login is an unknown user:
 * this reaches the greeting, CAPABILITY, ID, NOOP, LOGOUT, STARTTLS,
 * LOGIN, AUTHENTICATE with each mechanism and its challenge/response
 * lines, literals, the line limits and commands in the wrong state.
 *
 * Each input is served twice: by a plain-text server (no TLS, CRAM-MD5 on)
 * and by one with a STARTTLS certificate and LOGINDISABLED, so that the
 * STARTTLS paths (pipelining refused, loading the certificate as
 * vvm-imapd does at the first STARTTLS, a handshake with whatever follows)
 * are reached too.
 *
 * The input is written into the socket before the session starts, so for
 * inputs up to the shim's read chunk (16 KiB) the server sees it all in its
 * first read and a run is reproducible; a helper thread writes any rest and
 * reads the replies. The replies must be CRLF-terminated lines of text
 * beginning with the greeting: a reply that echoed a CR, LF or NUL from the
 * client would let it forge responses. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz-peer.h"
#include "imap-config.h"
#include "imap-session.h"
#include "shim-io.h"
#include "vvm-sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set up on the first input and released at exit: the two configs, the
 * certificate files and libsasl2's globals, none of which a session
 * changes. Nothing of one session survives into the next. */
static struct imap_config plain_config, tls_config;
static char *tmp_dir, *mount_dir, *outbox_dir, *cert_file, *key_file;

/* The server may only ever send lines of printable text and CRLF (before
 * login there are no literals in its output), up to a TLS handshake. */
static void check_output(const GString *out)
{
	static const char tls_go[] = " OK Begin TLS negotiation now\r\n";
	const char *tls = strstr(out->str, tls_go);
	gsize len = tls != NULL ? (gsize)(tls - out->str) + strlen(tls_go) :
				  out->len;

	if (!g_str_has_prefix(out->str, "* OK [CAPABILITY "))
		abort();
	if (len < 2 || out->str[len - 2] != '\r' || out->str[len - 1] != '\n')
		abort();
	for (gsize i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)out->str[i];
		if (ch == '\r' && (i + 1 == len || out->str[i + 1] != '\n'))
			abort();
		if (ch == '\n' && (i == 0 || out->str[i - 1] != '\r'))
			abort();
		if (ch == 0 || ch == 0x7f)
			abort();
	}
}

static void serve(const struct imap_config *config, const uint8_t *data,
		  size_t size)
{
	int server_fd;
	struct fuzz_peer *peer = fuzz_peer_start(data, size, &server_fd);

	struct shim_io *io = shim_io_create(server_fd, server_fd);
	/* A stalled exchange (there should be none: the input ends in EOF)
	 * gives up quickly. */
	shim_io_set_write_timeout(io, 5000);
	/* As vvm-imapd starts a STARTTLS session: no TLS until asked. */
	if (imap_session_run(config, io, NULL) != 0)
		abort();
	shim_io_destroy(&io);
	/* FUZZ_IMAP_SESSION_ECHO=1 replay-imap-session FILE shows the
	 * conversation. */
	GString *out = fuzz_peer_finish(peer, server_fd,
					"FUZZ_IMAP_SESSION_ECHO");
	check_output(out);
	g_string_free(out, TRUE);
}

/* A throwaway P-256 certificate and its key, as PEM files. */
static void write_cert(const char *cert, const char *key)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x509 = X509_new();
	FILE *f;

	if (pkey == NULL || x509 == NULL)
		abort();
	ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
	X509_gmtime_adj(X509_getm_notBefore(x509), 0);
	X509_gmtime_adj(X509_getm_notAfter(x509), 86400);
	X509_set_pubkey(x509, pkey);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN",
				   MBSTRING_ASC,
				   (const unsigned char *)"vvm.test", -1, -1,
				   0);
	X509_set_issuer_name(x509, X509_get_subject_name(x509));
	if (X509_sign(x509, pkey, EVP_sha256()) == 0)
		abort();
	if ((f = fopen(cert, "w")) == NULL || !PEM_write_X509(f, x509))
		abort();
	fclose(f);
	if ((f = fopen(key, "w")) == NULL ||
	    !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL))
		abort();
	fclose(f);
	X509_free(x509);
	EVP_PKEY_free(pkey);
}

/* Loads a config written for the purpose, so that /etc/vvm/vvm.conf
 * plays no part: a mount without subscribers and no waiting. */
static void load_config(const char *file, const char *text,
			struct imap_config *config_r)
{
	g_autofree char *error = NULL;

	if (!g_file_set_contents(file, text, -1, NULL) ||
	    imap_config_load(file, config_r, &error) < 0) {
		fprintf(stderr, "fuzz-imap-session: %s\n", error);
		abort();
	}
	g_unlink(file);
}

static void global_done(void)
{
	imap_config_clear(&plain_config);
	imap_config_clear(&tls_config);
	vvm_sasl_global_done();
	g_unlink(cert_file);
	g_unlink(key_file);
	g_rmdir(outbox_dir);
	g_rmdir(mount_dir);
	g_rmdir(tmp_dir);
	g_free(outbox_dir);
	g_free(mount_dir);
	g_free(cert_file);
	g_free(key_file);
	g_free(tmp_dir);
}

static void global_init(void)
{
	g_autofree char *conf = NULL;
	g_autofree char *common = NULL;

	tmp_dir = g_dir_make_tmp("fuzz-imap-session-XXXXXX", NULL);
	if (tmp_dir == NULL)
		abort();
	mount_dir = g_build_filename(tmp_dir, "mnt", NULL);
	outbox_dir = g_build_filename(mount_dir, ".outbox", NULL);
	if (g_mkdir_with_parents(outbox_dir, 0700) < 0)
		abort();
	common = g_strdup_printf("[imap]\n"
				 "mount = %s\n"
				 "hostname = vvm.test\n"
				 "login_timeout = 1\n"
				 "idle_timeout = 1\n"
				 "login_failure_delay_ms = 0\n",
				 mount_dir);
	conf = g_build_filename(tmp_dir, "vvm.conf", NULL);
	cert_file = g_build_filename(tmp_dir, "cert.pem", NULL);
	key_file = g_build_filename(tmp_dir, "key.pem", NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Idempotent: AUTHENTICATE calls it too, the first time. */
	if (vvm_sasl_global_init("imap") < 0)
		abort();
	load_config(conf, common, &plain_config);
	plain_config.cram_md5 = true;

	write_cert(cert_file, key_file);
	g_autofree char *tls_text = g_strdup_printf(
		"%stls = starttls\ntls_cert = %s\ntls_key = %s\n"
		"login_disabled = true\n", common, cert_file, key_file);
	load_config(conf, tls_text, &tls_config);
	atexit(global_done);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool initialized;

	if (!initialized) {
		global_init();
		initialized = true;
	}
	serve(&plain_config, data, size);
	serve(&tls_config, data, size);
	return 0;
}
