/* libFuzzer target for a whole vvm-smtpd session, after Dovecot's
 * fuzz-smtp-server.c: the input is what a client sends over a socketpair,
 * then it closes its side, and smtp_session_run() serves the other end as
 * it would stdin and stdout.
 *
 * The first byte picks the server, the rest is the conversation:
 *   'L' or 'l'  LMTP (LHLO, one reply per recipient, no AUTH);
 *   'A' or 'a'  SMTP as deployed, MAIL only after AUTH;
 *   any other   SMTP with require_auth off, so that MAIL, RCPT, DATA and
 *               BDAT are reached without a login no fuzzer can compute.
 * With bit 0x20 set (lower case) the limits are tight: 4 KiB messages, two
 * recipients, three errors, one served domain, a Subject override.
 *
 * There is no vvmfs here: the mount is a plain directory tree made once
 * per process, laid out as vvmfs presents subscribers, so that RCPT
 * resolves (and refuses the blocked and unprovisioned ones), AUTH looks up
 * real profile values (no exchange can succeed: the challenges are random)
 * and delivery runs the commit protocol on plain files. The commit reads
 * the UID that vvmfs would set as an attribute; fgetxattr() below plays
 * that part for the first subscriber's INBOX only, so deliveries to it
 * succeed (and a DSN follows), those to the second fail with 451. What a
 * session stored is removed after it.
 *
 * The input is written into the socket before the session starts, so that
 * a run is reproducible; a helper thread writes any rest and reads the
 * replies. The replies must be CRLF-terminated reply lines ("250-...",
 * "250 ...") beginning with the greeting: a reply that echoed a CR, LF or
 * NUL from the client would let it forge responses. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "fuzz-peer.h"
#include "shim-io.h"
#include "smtp-config.h"
#include "smtp-session.h"
#include "vvm-sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Delivered to (UIDs given), the DSN goes here too. */
#define SUB_OK "31612345678"
/* Status N, an INBOX, but no UID: every commit fails. */
#define SUB_NOUID "31612345671"

/* The subscribers of the tree: MSISDN, status, whether it has an INBOX. */
static const struct {
	const char *msisdn;
	const char *status;
	bool inbox;
} subscribers[] = {
	{ SUB_OK, "R\n", true },
	{ SUB_NOUID, "N\n", true },
	{ "31612345679", "B\n", true },   /* blocked: 550 5.2.1 */
	{ "31612345670", "U\n", true },   /* unprovisioned: 550 5.1.1 */
	{ "31612345672", "R\n", false },  /* no INBOX: commit ENOENT */
};

/* Set up on the first input and released at exit: the configs, the tree
 * and libsasl2's globals, none of which a session changes. */
static struct smtp_config configs[2][3]; /* [tight][lmtp, auth, open] */
static char *tmp_dir;
static char *uid_marker; /* "<tmp_dir>/SUB_OK/INBOX/" */

/* vvmfs sets user.imap.uid on a message at its fsync(); a plain file
 * system does not. Messages written into SUB_OK's INBOX get a UID, every
 * other attribute read goes to the kernel. */
ssize_t fgetxattr(int fd, const char *name, void *value, size_t size)
{
	if (uid_marker != NULL && strcmp(name, "user.imap.uid") == 0) {
		char link[64], path[PATH_MAX];
		ssize_t n;

		g_snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		if (n > 0) {
			path[n] = '\0';
			if (g_str_has_prefix(path, uid_marker)) {
				if (size == 0)
					return 1;
				memcpy(value, "7", 1);
				return 1;
			}
		}
	}
	return syscall(SYS_fgetxattr, fd, name, value, size);
}

/* The server may only ever send reply lines: three digits, a space or a
 * hyphen, printable text, CRLF. */
static void check_output(const GString *out, bool lmtp)
{
	const char *greeting = lmtp ? "220 vvm.test LMTP " :
				      "220 vvm.test ESMTP ";
	gsize start = 0;

	if (!g_str_has_prefix(out->str, greeting))
		abort();
	if (out->len < 2 || out->str[out->len - 2] != '\r' ||
	    out->str[out->len - 1] != '\n')
		abort();
	for (gsize i = 0; i < out->len; i++) {
		unsigned char ch = (unsigned char)out->str[i];
		if (ch == '\r' && (i + 1 == out->len || out->str[i + 1] != '\n'))
			abort();
		if (ch == '\n' && (i == 0 || out->str[i - 1] != '\r'))
			abort();
		if (ch == 0 || ch == 0x7f)
			abort();
		if (i == start) {
			const char *p = out->str + i;
			if (i + 4 > out->len || p[0] < '2' || p[0] > '5' ||
			    !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]) ||
			    (p[3] != ' ' && p[3] != '-'))
				abort();
		}
		if (ch == '\n')
			start = i + 1;
	}
}

/* Removes what a session stored in a subscriber's INBOX. */
static void clean_inbox(const char *msisdn)
{
	g_autofree char *inbox = g_build_filename(tmp_dir, msisdn, "INBOX",
						  NULL);
	GDir *dir = g_dir_open(inbox, 0, NULL);
	const char *name;

	if (dir == NULL)
		return;
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *file = g_build_filename(inbox, name, NULL);
		g_unlink(file);
	}
	g_dir_close(dir);
}

static void serve(const struct smtp_config *config, bool lmtp,
		  const uint8_t *data, size_t size)
{
	int server_fd;
	struct fuzz_peer *peer = fuzz_peer_start(data, size, &server_fd);

	struct shim_io *io = shim_io_create(server_fd, server_fd);
	/* A stalled exchange (there should be none: the input ends in EOF)
	 * gives up quickly. */
	shim_io_set_write_timeout(io, 5000);
	if (smtp_session_run(config, io, NULL, lmtp,
			     lmtp ? NULL : "192.0.2.1") != 0)
		abort();
	shim_io_destroy(&io);
	/* FUZZ_SMTP_SESSION_ECHO=1 replay-smtp-session FILE shows the
	 * conversation. */
	GString *out = fuzz_peer_finish(peer, server_fd,
					"FUZZ_SMTP_SESSION_ECHO");
	for (size_t i = 0; i < G_N_ELEMENTS(subscribers); i++)
		clean_inbox(subscribers[i].msisdn);
	check_output(out, lmtp);
	g_string_free(out, TRUE);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);

	if (!g_file_set_contents(path, text, -1, NULL))
		abort();
}

/* <tmp>/<msisdn>/profile/{status,smtp_user,smtp_password},
 * <tmp>/<msisdn>/.sessions/smtp and <tmp>/<msisdn>/INBOX/, as vvmfs shows
 * a subscriber. */
static void make_tree(void)
{
	g_autofree char *outbox = g_build_filename(tmp_dir, ".outbox", NULL);

	if (g_mkdir(outbox, 0700) < 0)
		abort();
	for (size_t i = 0; i < G_N_ELEMENTS(subscribers); i++) {
		const char *msisdn = subscribers[i].msisdn;
		g_autofree char *sub = g_build_filename(tmp_dir, msisdn, NULL);
		g_autofree char *profile = g_build_filename(sub, "profile",
							    NULL);
		g_autofree char *sessions = g_build_filename(sub, ".sessions",
							     NULL);
		g_autofree char *inbox = g_build_filename(sub, "INBOX", NULL);

		if (g_mkdir_with_parents(profile, 0700) < 0 ||
		    g_mkdir_with_parents(sessions, 0700) < 0 ||
		    (subscribers[i].inbox && g_mkdir(inbox, 0700) < 0))
			abort();
		write_file(profile, "status", subscribers[i].status);
		write_file(profile, "smtp_user", msisdn);
		write_file(profile, "smtp_password", "secret");
		write_file(sessions, "smtp", "");
	}
}

/* Loads a config written for the purpose, so that /etc/vvm/vvm.conf
 * plays no part. */
static void load_config(const char *text, struct smtp_config *config_r)
{
	g_autofree char *file = g_build_filename(tmp_dir, "vvm.conf", NULL);
	g_autofree char *error = NULL;

	if (!g_file_set_contents(file, text, -1, NULL) ||
	    smtp_config_load(file, config_r, &error) < 0) {
		fprintf(stderr, "fuzz-smtp-session: %s\n", error);
		abort();
	}
	g_unlink(file);
}

static void remove_tree(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	const char *name;

	if (dir != NULL) {
		while ((name = g_dir_read_name(dir)) != NULL) {
			g_autofree char *child = g_build_filename(path, name,
								  NULL);
			remove_tree(child);
		}
		g_dir_close(dir);
		g_rmdir(path);
	} else {
		g_unlink(path);
	}
}

static void global_done(void)
{
	for (size_t t = 0; t < 2; t++) {
		for (size_t m = 0; m < 3; m++)
			smtp_config_clear(&configs[t][m]);
	}
	vvm_sasl_global_done();
	g_clear_pointer(&uid_marker, g_free);
	remove_tree(tmp_dir);
	g_free(tmp_dir);
}

static void global_init(void)
{
	/* tmpfs where there is one: every delivery fsync()s. */
	tmp_dir = g_strdup("/dev/shm/fuzz-smtp-session-XXXXXX");
	if (g_mkdtemp(tmp_dir) == NULL) {
		g_free(tmp_dir);
		tmp_dir = g_dir_make_tmp("fuzz-smtp-session-XXXXXX", NULL);
		if (tmp_dir == NULL)
			abort();
	}
	make_tree();
	uid_marker = g_strdup_printf("%s/%s/INBOX/", tmp_dir, SUB_OK);
	signal(SIGPIPE, SIG_IGN);
	/* Idempotent: AUTH calls it too, the first time. */
	if (vvm_sasl_global_init("smtp") < 0)
		abort();

	for (size_t t = 0; t < 2; t++) {
		g_autofree char *text = g_strdup_printf(
			"[smtp]\n"
			"mount = %s\n"
			"hostname = vvm.test\n"
			"idle_timeout = 1\n"
			"data_timeout = 1\n"
			/* No throttling: its count would carry over from
			 * one input to the next. */
			"login_failures_max = 0\n"
			"login_failure_delay_ms = 0\n"
			"cram_md5 = %s\n"
			"%s",
			tmp_dir, t ? "false" : "true",
			t ? "max_message_size = 4096\n"
			    "max_recipients = 2\n"
			    "max_errors = 3\n"
			    "domains = vvm.test, example.com\n"
			    "subject = Voice message\n"
			    "known_clients = vvm-client\n"
			    "require_tui_init = true\n" : "");
		for (size_t m = 0; m < 3; m++) {
			load_config(text, &configs[t][m]);
			configs[t][m].require_auth = m != 2;
		}
	}
	atexit(global_done);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool initialized;

	if (!initialized) {
		global_init();
		initialized = true;
	}
	if (size == 0)
		return 0;
	bool tight = (data[0] & 0x20) != 0;
	size_t mode;
	switch (data[0] & ~0x20) {
	case 'L':
		mode = 0;
		break;
	case 'A':
		mode = 1;
		break;
	default:
		mode = 2;
		break;
	}
	serve(&configs[tight][mode], mode == 0, data + 1, size - 1);
	return 0;
}
