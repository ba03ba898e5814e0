#include "smtp-session.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "shim-io.h"
#include "smtp-auth.h"
#include "smtp-commands.h"
#include "vvm-mount.h"

static void G_GNUC_PRINTF(3, 0) queue_reply(struct smtp_session *s,
					     bool count, const char *fmt,
					     va_list ap)
{
	g_autofree char *text = g_strdup_vprintf(fmt, ap);

	/* Texts may quote a store's or a client's words: one line each. */
	for (char *p = text; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	/* An MTA speaking LMTP is trusted, and refused recipients are
	 * routine for it: only SMTP clients run into the error limit. */
	if (count && !s->lmtp && (text[0] == '4' || text[0] == '5'))
		s->errors++;
	shim_io_write(s->io, text, strlen(text));
	shim_io_write(s->io, "\r\n", 2);
}

void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	queue_reply(s, true, fmt, ap);
	va_end(ap);
}

void smtp_reply_quiet(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	queue_reply(s, false, fmt, ap);
	va_end(ap);
}

void smtp_reply_result(struct smtp_session *s, const struct smtp_result *r)
{
	smtp_reply_quiet(s, "%u %s %s", r->code, r->enhanced, r->text);
}

void smtp_junk_command(struct smtp_session *s)
{
	if (++s->junk > JUNK_COMMANDS_FREE && !s->lmtp)
		s->errors++;
}

bool smtp_flush(struct smtp_session *s)
{
	return shim_io_flush(s->io) == 0;
}

char *smtp_path(const struct smtp_session *s, const char *rel)
{
	return g_strdup_printf("%s/%s", s->root, rel);
}

void smtp_result_set(struct smtp_result *r, unsigned int code,
		     const char *enhanced, const char *fmt, ...)
{
	va_list ap;

	g_free(r->text);
	r->code = code;
	r->enhanced = enhanced;
	va_start(ap, fmt);
	r->text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

void smtp_result_clear(struct smtp_result *r)
{
	g_free(r->text);
	memset(r, 0, sizeof(*r));
}

void smtp_recipient_free(gpointer data)
{
	struct smtp_recipient *rcpt = data;

	g_free(rcpt->address);
	g_free(rcpt->dir);
	g_free(rcpt->orcpt);
	g_free(rcpt);
}

void smtp_transaction_reset(struct smtp_session *s)
{
	struct smtp_transaction *tx = &s->tx;

	g_free(tx->mail_from);
	g_free(tx->envid);
	if (tx->recipients != NULL)
		g_ptr_array_free(tx->recipients, TRUE);
	if (tx->data != NULL)
		g_byte_array_free(tx->data, TRUE);
	memset(tx, 0, sizeof(*tx));
	s->input = SMTP_INPUT_COMMAND;
	if (s->state == SMTP_STATE_MAIL || s->state == SMTP_STATE_RCPT)
		s->state = SMTP_STATE_READY;
}

static int timeout_ms(const struct smtp_session *s)
{
	unsigned int seconds = s->input == SMTP_INPUT_COMMAND ?
				       s->config->idle_timeout :
				       s->config->data_timeout;

	return seconds == 0 ? -1 : (int)MIN(seconds, G_MAXINT / 1000) * 1000;
}

/* Fills the input buffer; false when the session must end. */
static bool fill_input(struct smtp_session *s)
{
	ssize_t n = shim_io_fill(s->io, timeout_ms(s));

	if (n > 0)
		return true;
	if (n == -ETIMEDOUT)
		smtp_reply_quiet(s, "421 4.4.2 %s Error: timeout exceeded",
				 s->config->hostname);
	else if (n != 0)
		syslog(LOG_INFO, "connection lost: %s",
		       shim_io_error(s->io) != NULL ? shim_io_error(s->io) :
						       g_strerror((int)-n));
	smtp_flush(s);
	return false;
}

/* The end of the first line in data: the offset just past its LF, or 0
 * when there is none yet. */
static size_t line_end(const unsigned char *data, size_t len)
{
	const unsigned char *lf = memchr(data, '\n', len);

	return lf != NULL ? (size_t)(lf - data) + 1 : 0;
}

int smtp_read_line(struct smtp_session *s, char **line_r)
{
	for (;;) {
		size_t len;
		const unsigned char *data = shim_io_data(s->io, &len);
		size_t end = line_end(data, len);

		if (end > 0) {
			size_t n = end - 1;
			if (n > 0 && data[n - 1] == '\r')
				n--;
			bool nul = memchr(data, '\0', n) != NULL;
			if (!nul)
				*line_r = g_strndup((const char *)data, n);
			shim_io_consume(s->io, end);
			return nul ? -EPROTO : 0;
		}
		if (len > SMTP_COMMAND_LINE_MAX + 2) {
			shim_io_consume(s->io, len);
			s->discard_line = true;
			return -E2BIG;
		}
		if (!smtp_flush(s))
			return -EPIPE;
		ssize_t got = shim_io_fill(s->io, timeout_ms(s));
		if (got == -ETIMEDOUT)
			return -ETIMEDOUT;
		if (got <= 0)
			return -EPIPE;
	}
}

static void run_line(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command cmd;
	const char *reply;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (smtp_parse_command(line, len, &cmd, &reply) == 0) {
		smtp_command_run(s, &cmd);
	} else if (len >= 4 && g_ascii_strncasecmp(line, "BDAT", 4) == 0 &&
		   (len == 4 || line[4] == ' ')) {
		/* A chunk of unknown size follows: its bytes must not be
		 * taken for commands, and where it ends is lost. */
		smtp_reply_quiet(s, "421 4.5.0 %s Error: malformed BDAT, "
				 "closing", s->config->hostname);
		s->state = SMTP_STATE_QUIT;
	} else {
		smtp_reply(s, "%s", reply);
	}
	smtp_command_clear(&cmd);
}

/* Takes one command line from the input; false when it needs more. */
static bool command_input(struct smtp_session *s)
{
	size_t len;
	const unsigned char *data = shim_io_data(s->io, &len);
	size_t end = line_end(data, len);

	if (s->discard_line) {
		shim_io_consume(s->io, end > 0 ? end : len);
		s->discard_line = end == 0;
		return end > 0;
	}
	if (end == 0) {
		if (len <= SMTP_COMMAND_LINE_MAX + 2)
			return false;
		/* No line ends in what a line may hold: refuse it now and
		 * drop it up to its end. */
		smtp_reply(s, "500 5.5.6 Line too long");
		shim_io_consume(s->io, len);
		s->discard_line = true;
		return false;
	}
	g_autofree char *line = g_strndup((const char *)data, end - 1);
	shim_io_consume(s->io, end);
	run_line(s, line, end - 1);
	return true;
}

/* Serves what is buffered; false when the session must end. */
static bool serve_input(struct smtp_session *s)
{
	for (;;) {
		if (s->state == SMTP_STATE_QUIT)
			return false;
		if (s->config->max_errors > 0 &&
		    s->errors >= s->config->max_errors) {
			smtp_reply_quiet(s, "421 4.7.0 %s Error: too many "
					 "errors", s->config->hostname);
			s->state = SMTP_STATE_QUIT;
			return false;
		}
		bool progress = s->input == SMTP_INPUT_COMMAND ?
					command_input(s) : smtp_data_input(s);
		if (!progress)
			return true;
	}
}

static void session_free(struct smtp_session *s)
{
	smtp_transaction_reset(s);
	if (s->session_fd >= 0)
		close(s->session_fd);
	smtp_login_attempt_failed(s);
	g_free(s->helo);
	g_free(s->client_addr);
	g_free(s->msisdn);
	g_free(s->root);
}

/* Without a live vvmfs every recipient would be unknown, a permanent
 * failure: refused as a temporary one instead, before the greeting. */
static bool store_available(struct smtp_session *s)
{
	int ret = mount_check_live(s->config->mount);

	if (ret == 0)
		return true;
	syslog(LOG_ERR, "%s: no vvmfs mounted there: %s", s->config->mount,
	       g_strerror(-ret));
	smtp_reply_quiet(s, "421 4.3.2 Service not available: voicemail "
			 "store offline");
	return false;
}

int smtp_session_run(const struct smtp_config *config, struct shim_io *io,
		     struct shim_tls *tls, bool lmtp, const char *client_addr)
{
	struct smtp_session s = {
		.config = config, .io = io, .tls = tls, .lmtp = lmtp,
		.session_fd = -1, .login_ticket = -1,
		.root = g_strdup(config->mount),
		.client_addr = g_strdup(client_addr),
	};

	/* An MTA's LMTP client neither authenticates nor starts TLS: there
	 * is nothing left to load, so confine the process at once. */
	if (store_available(&s) && (!lmtp || smtp_drop_privileges(&s))) {
		smtp_reply_quiet(&s, "220 %s %s vvm ready", config->hostname,
				 lmtp ? "LMTP" : "ESMTP");
		for (;;) {
			if (!smtp_flush(&s) || !fill_input(&s))
				break;
			if (!serve_input(&s))
				break;
		}
	}
	smtp_flush(&s);
	/* Implicit TLS's context belongs to the caller; STARTTLS's to us. */
	if (s.tls != tls)
		shim_tls_destroy(&s.tls);
	session_free(&s);
	return 0;
}
