/* DATA and BDAT: taking the message in. DATA ends only at <CRLF>.<CRLF>
 * (a "." line after a bare LF is message text: accepting other endings is
 * what SMTP smuggling exploits), with dot-stuffing undone; BDAT takes
 * exactly the octets announced. Past max_message_size the rest is read
 * and dropped, then refused. */
#include <string.h>

#include "shim-io.h"
#include "smtp-commands.h"

/* Why DATA or BDAT cannot carry a message now, or NULL. */
static const char *data_refusal(const struct smtp_session *s)
{
	switch (s->state) {
	case SMTP_STATE_RCPT:
		return NULL;
	case SMTP_STATE_MAIL:
		/* RFC 2033 4.2 wants 503 in LMTP; RFC 2920 3.1 554 in SMTP. */
		return s->lmtp ? "503 5.5.1 Error: no valid recipients" :
				 "554 5.5.1 Error: no valid recipients";
	default:
		return "503 5.5.1 Error: need MAIL command";
	}
}

void cmd_data(struct smtp_session *s, const struct smtp_command *cmd)
{
	const char *refusal = data_refusal(s);

	if (refusal != NULL) {
		smtp_reply(s, "%s", refusal);
		return;
	}
	if (s->tx.bdat) {
		smtp_reply(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	s->input = SMTP_INPUT_DATA;
	s->data_mid_line = false;
	s->data_after_crlf = true;
}

void cmd_bdat(struct smtp_session *s, const struct smtp_command *cmd)
{
	/* The chunk follows whatever the answer: it is read either way. */
	s->input = SMTP_INPUT_BDAT;
	s->bdat_left = cmd->chunk_size;
	s->bdat_chunk = cmd->chunk_size;
	s->bdat_last = cmd->last;
	s->bdat_refusal = data_refusal(s);
	if (s->bdat_refusal != NULL &&
	    cmd->chunk_size > s->config->max_message_size) {
		/* Reading that much only to refuse it is not worth it. */
		smtp_reply_quiet(s, "421 4.5.0 %s Error: BDAT out of "
				 "sequence, closing", s->config->hostname);
		s->state = SMTP_STATE_QUIT;
		s->input = SMTP_INPUT_COMMAND;
		return;
	}
	if (s->bdat_refusal != NULL)
		return;
	if (s->tx.bdat_failed)
		s->bdat_refusal = "503 5.5.1 Error: an earlier chunk failed";
	else
		s->tx.bdat = true;
}

static void append(struct smtp_session *s, const void *data, size_t len)
{
	struct smtp_transaction *tx = &s->tx;

	if (tx->too_big)
		return;
	if (tx->data->len + len > s->config->max_message_size) {
		tx->too_big = true;
		g_byte_array_set_size(tx->data, 0);
		return;
	}
	g_byte_array_append(tx->data, data, (guint)len);
}

/* The message is whole: refuse it for its size or deliver it. */
static void message_done(struct smtp_session *s)
{
	s->input = SMTP_INPUT_COMMAND;
	if (s->tx.too_big) {
		/* LMTP answers every recipient (RFC 2033 4.2). */
		guint replies = s->lmtp ? s->tx.recipients->len : 1;
		for (guint i = 0; i < replies; i++)
			smtp_reply_quiet(s, "552 5.3.4 Message size exceeds "
					 "fixed limit");
		smtp_transaction_reset(s);
		return;
	}
	smtp_deliver(s);
	smtp_transaction_reset(s);
}

/* Takes the DATA lines that are buffered. */
static bool data_lines(struct smtp_session *s)
{
	size_t len;
	const unsigned char *data = shim_io_data(s->io, &len);
	const unsigned char *lf = memchr(data, '\n', len);

	if (lf == NULL) {
		/* A partial line: keep it unless it could still become the
		 * end marker or a stuffed dot, which needs its next bytes. */
		if (len == 0 || (!s->data_mid_line && data[0] == '.' &&
				 len < 3))
			return false;
		size_t skip = !s->data_mid_line && data[0] == '.' ? 1 : 0;
		append(s, data + skip, len - skip);
		s->data_cr_pending = data[len - 1] == '\r';
		shim_io_consume(s->io, len);
		s->data_mid_line = true;
		return false;
	}
	size_t n = (size_t)(lf - data) + 1;
	bool crlf = n >= 2 ? data[n - 2] == '\r' :
			     s->data_mid_line && s->data_cr_pending;
	if (!s->data_mid_line && data[0] == '.') {
		if (n == 3 && crlf && s->data_after_crlf) {
			shim_io_consume(s->io, n);
			message_done(s);
			return true;
		}
		append(s, data + 1, n - 1);
	} else {
		append(s, data, n);
	}
	shim_io_consume(s->io, n);
	s->data_mid_line = false;
	s->data_after_crlf = crlf;
	return true;
}

/* Takes what is buffered of the BDAT chunk. */
static bool bdat_bytes(struct smtp_session *s)
{
	size_t len;
	const unsigned char *data = shim_io_data(s->io, &len);
	size_t n = (size_t)MIN((uint64_t)len, s->bdat_left);

	if (n > 0 && s->bdat_refusal == NULL)
		append(s, data, n);
	shim_io_consume(s->io, n);
	s->bdat_left -= n;
	if (s->bdat_left > 0)
		return false;
	s->input = SMTP_INPUT_COMMAND;
	if (s->bdat_refusal != NULL) {
		smtp_reply(s, "%s", s->bdat_refusal);
		if (s->state == SMTP_STATE_RCPT)
			s->tx.bdat_failed = true;
		return true;
	}
	if (s->bdat_last)
		message_done(s);
	else
		smtp_reply(s, "250 2.0.0 %" G_GUINT64_FORMAT " octets received",
			   s->bdat_chunk);
	return true;
}

bool smtp_data_input(struct smtp_session *s)
{
	return s->input == SMTP_INPUT_DATA ? data_lines(s) : bdat_bytes(s);
}
