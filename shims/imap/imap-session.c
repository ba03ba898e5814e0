#include "imap-session.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "imap-commands.h"
#include "imap-login.h"
#include "imap-mailbox.h"
#include "shim-io.h"
#include "vvm-mount.h"

/* Invalid commands a client may send before login. */
#define MAX_BAD_BEFORE_LOGIN 10

static int timeout_ms(const struct imap_session *s)
{
	if (s->state == IMAP_STATE_NOT_AUTH && s->config->login_timeout > 0) {
		gint64 left = s->login_deadline - g_get_monotonic_time();
		return (int)MAX(0, MIN(left / 1000, G_MAXINT));
	}
	unsigned int seconds = s->config->idle_timeout;
	return seconds == 0 ? -1 : (int)MIN(seconds, G_MAXINT / 1000) * 1000;
}

/* Counts a failed command before login; false once the client has had
 * enough. */
static bool tolerate_bad(struct imap_session *s)
{
	if (s->state != IMAP_STATE_NOT_AUTH ||
	    ++s->bad_commands < MAX_BAD_BEFORE_LOGIN)
		return true;
	imap_send(s, "* BYE Too many invalid commands\r\n");
	s->state = IMAP_STATE_LOGOUT;
	return false;
}

void imap_reply(struct imap_session *s, enum imap_reply_kind kind,
		const char *fmt, ...)
{
	va_list ap;

	s->reply = kind;
	g_string_truncate(s->reply_text, 0);
	va_start(ap, fmt);
	g_string_append_vprintf(s->reply_text, fmt, ap);
	va_end(ap);
	/* Texts may quote what a store or a client said: keep them on one
	 * line. */
	for (gsize i = 0; i < s->reply_text->len; i++) {
		unsigned char c = (unsigned char)s->reply_text->str[i];
		if (c < 0x20 || c == 0x7f)
			s->reply_text->str[i] = ' ';
	}
}

void imap_no_unavailable(struct imap_session *s, const char *what, int ret)
{
	syslog(LOG_ERR, "%s: %s", what, g_strerror(-ret));
	imap_no(s, "[UNAVAILABLE] application error");
}

void imap_send(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *text = NULL;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	shim_io_write(s->io, text, strlen(text));
}

void imap_send_data(struct imap_session *s, const void *data, size_t len)
{
	shim_io_write(s->io, data, len);
}

bool imap_flush(struct imap_session *s)
{
	return shim_io_flush(s->io) == 0;
}

static void append_string(GString *out, const char *str, size_t len,
			  bool bare_ok)
{
	bool bare = bare_ok && len > 0, quotable = len < 1024;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];
		bare = bare && c < 0x80 && imap_is_astring_char(c);
		quotable = quotable && c >= 0x20 && c < 0x7f;
	}
	if (bare) {
		g_string_append_len(out, str, len);
	} else if (quotable) {
		g_string_append_c(out, '"');
		for (size_t i = 0; i < len; i++) {
			if (str[i] == '"' || str[i] == '\\')
				g_string_append_c(out, '\\');
			g_string_append_c(out, str[i]);
		}
		g_string_append_c(out, '"');
	} else {
		g_string_append_printf(out, "{%zu}\r\n", len);
		g_string_append_len(out, str, len);
	}
}

void imap_send_string(struct imap_session *s, const char *str, size_t len)
{
	g_autoptr(GString) out = g_string_sized_new(len + 8);

	append_string(out, str, len, false);
	imap_send_data(s, out->str, out->len);
}

void imap_append_astring(GString *out, const char *str)
{
	append_string(out, str, strlen(str), true);
}

char *imap_path(const struct imap_session *s, const char *rel)
{
	return g_strdup_printf("%s/%s", s->root, rel);
}

/* Fills the input buffer; false when the session must end. */
static bool fill_input(struct imap_session *s, int timeout)
{
	bool late = s->state == IMAP_STATE_NOT_AUTH &&
		    s->config->login_timeout > 0 &&
		    g_get_monotonic_time() >= s->login_deadline;
	ssize_t n = late ? -ETIMEDOUT : shim_io_fill(s->io, timeout);

	if (n > 0)
		return true;
	if (n == -ETIMEDOUT && s->state != IMAP_STATE_NOT_AUTH)
		imap_send(s, "* BYE Autologout; idle for too long\r\n");
	else if (n == -ETIMEDOUT)
		imap_send(s, "* BYE Login timeout\r\n");
	else if (n == -ENOBUFS)
		imap_send(s, "* BYE Input buffer full\r\n");
	imap_flush(s);
	return false;
}

int imap_read_line(struct imap_session *s, int timeout, const char **line_r)
{
	for (;;) {
		size_t len, consumed;
		const unsigned char *data = shim_io_data(s->io, &len);
		enum imap_parse_result res = imap_parser_read_line(
			s->parser, data, len, &consumed, line_r);
		shim_io_consume(s->io, consumed);
		if (res == IMAP_PARSE_DONE)
			return 0;
		if (res == IMAP_PARSE_ERROR)
			return -EPROTO;
		ssize_t n = shim_io_fill(s->io, timeout < 0 ? timeout_ms(s) :
								timeout);
		if (n == -ETIMEDOUT)
			return -ETIMEDOUT;
		if (n <= 0)
			return -EPIPE;
	}
}

static void send_tagged(struct imap_session *s)
{
	static const char *const words[] = {
		[IMAP_REPLY_OK] = "OK", [IMAP_REPLY_NO] = "NO",
		[IMAP_REPLY_BAD] = "BAD",
	};

	if (s->reply == IMAP_REPLY_NONE)
		return;
	imap_send(s, "%s %s %s\r\n", s->tag, words[s->reply],
		  s->reply_text->str);
}

/* Untagged updates after a command: vvmfs may have changed under us. */
static void sync_after(struct imap_session *s, bool allow_expunge)
{
	if (s->state != IMAP_STATE_SELECTED || s->box == NULL)
		return;
	if (imap_mailbox_sync(s, allow_expunge) < 0)
		syslog(LOG_WARNING, "cannot read the change feed of %s",
		       s->box->name);
}

static bool allowed_now(const struct imap_session *s, unsigned int flags)
{
	switch (s->state) {
	case IMAP_STATE_NOT_AUTH:
		return (flags & CMD_NOT_AUTH) != 0;
	case IMAP_STATE_AUTH:
		return (flags & CMD_AUTH) != 0 && (flags & CMD_SELECTED) == 0;
	case IMAP_STATE_SELECTED:
		return (flags & CMD_AUTH) != 0;
	default:
		return false;
	}
}

static void run_command(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_command_def *def = imap_command_find(cmd->name);

	g_free(s->tag);
	s->tag = g_strdup(cmd->tag);
	s->uid_command = false;
	s->reply = IMAP_REPLY_NONE;
	if (def == NULL) {
		/* The spec's answer to anything it does not list. */
		imap_no(s, "command not allowed");
	} else if (!allowed_now(s, def->flags)) {
		if (s->state == IMAP_STATE_NOT_AUTH)
			imap_bad(s, "%s needs an authenticated session",
				 def->name);
		else if (s->state == IMAP_STATE_AUTH &&
			 (def->flags & CMD_SELECTED))
			imap_bad(s, "%s needs a selected mailbox", def->name);
		else
			imap_bad(s, "%s is not valid after login", def->name);
	} else {
		def->handler(s, cmd);
		/* FETCH, STORE and SEARCH by sequence number must not shift
		 * sequence numbers under the client (RFC 3501 7.4.1). */
		bool by_seq = !s->uid_command &&
			      (def->handler == cmd_fetch ||
			       def->handler == cmd_store ||
			       def->handler == cmd_search);
		if (!(def->flags & CMD_SELFCARE))
			sync_after(s, !by_seq);
	}
	send_tagged(s);
}

static void bad_syntax(struct imap_session *s)
{
	const char *message, *tag;

	imap_parser_error(s->parser, &message, &tag);
	if (tag != NULL)
		imap_send(s, "%s BAD %s\r\n", tag, message);
	else
		imap_send(s, "* BAD %s\r\n", message);
}

/* Parses what is buffered; false when the session must end. */
static bool serve_input(struct imap_session *s)
{
	while (s->state != IMAP_STATE_LOGOUT) {
		size_t len, consumed;
		const unsigned char *data = shim_io_data(s->io, &len);
		enum imap_parse_result res;

		if (len == 0)
			return true;
		res = imap_parser_feed(s->parser, data, len, &consumed);
		shim_io_consume(s->io, consumed);
		switch (res) {
		case IMAP_PARSE_NEED_MORE:
			return true;
		case IMAP_PARSE_NEED_LITERAL_CONTINUATION:
			imap_send(s, "+ OK\r\n");
			if (!imap_flush(s))
				return false;
			break;
		case IMAP_PARSE_ERROR:
			bad_syntax(s);
			tolerate_bad(s);
			break;
		case IMAP_PARSE_DONE: {
			const struct imap_command *cmd =
				imap_parser_command(s->parser);
			bool known = imap_command_find(cmd->name) != NULL;
			run_command(s, cmd);
			/* Before login a refused LOGIN or AUTHENTICATE counts
			 * too: guesses go to a new connection each few. */
			if (s->reply == IMAP_REPLY_BAD ||
			    s->reply == IMAP_REPLY_NO || !known)
				tolerate_bad(s);
			break;
		}
		}
	}
	return true;
}

static void session_free(struct imap_session *s)
{
	imap_mailbox_close(&s->box);
	imap_parser_destroy(&s->parser);
	if (s->session_fd >= 0)
		close(s->session_fd);
	imap_login_attempt_failed(s);
	g_free(s->tag);
	g_free(s->msisdn);
	g_free(s->root);
	g_string_free(s->reply_text, TRUE);
}

/* Without a live vvmfs every login would be an unknown user: refused
 * as a temporary failure instead, before the greeting. */
static bool store_available(struct imap_session *s)
{
	int ret = mount_check_live(s->config->mount);

	if (ret == 0)
		return true;
	syslog(LOG_ERR, "%s: no vvmfs mounted there: %s", s->config->mount,
	       g_strerror(-ret));
	imap_send(s, "* BYE [UNAVAILABLE] Voicemail store not available\r\n");
	return false;
}

int imap_session_run(const struct imap_config *config, struct shim_io *io,
		     struct shim_tls *tls)
{
	struct imap_parser_limits limits;
	struct imap_session s = {
		.config = config, .io = io, .tls = tls, .session_fd = -1,
		.login_ticket = -1, .state = IMAP_STATE_NOT_AUTH,
		.reply_text = g_string_new(NULL),
	};

	s.login_deadline = g_get_monotonic_time() +
			   (gint64)config->login_timeout * G_USEC_PER_SEC;
	imap_parser_limits_preauth(&limits);
	s.parser = imap_parser_create(&limits);
	if (store_available(&s)) {
		g_autofree char *caps = imap_capabilities(&s);
		imap_send(&s, "* OK [CAPABILITY %s] vvm VVM IMAP ready\r\n",
			  caps);
	} else {
		s.state = IMAP_STATE_LOGOUT;
	}
	while (s.state != IMAP_STATE_LOGOUT) {
		if (!imap_flush(&s) || !fill_input(&s, timeout_ms(&s)))
			break;
		if (!serve_input(&s))
			break;
	}
	imap_flush(&s);
	/* Implicit TLS's context belongs to the caller; STARTTLS's to us. */
	if (s.tls != tls)
		shim_tls_destroy(&s.tls);
	session_free(&s);
	return 0;
}
