/* The commands around a transaction: the greetings, STARTTLS, RSET,
 * NOOP, QUIT, HELP, VRFY and EXPN. */
#include <string.h>
#include <syslog.h>

#include "shim-io.h"
#include "smtp-auth.h"
#include "smtp-commands.h"

/* The EHLO/LHLO reply: every extension on its own line, the last with a
 * space. */
static void send_extensions(struct smtp_session *s)
{
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(lines, g_strdup("PIPELINING"));
	g_ptr_array_add(lines, g_strdup_printf(
		"SIZE %" G_GUINT64_FORMAT, s->config->max_message_size));
	g_ptr_array_add(lines, g_strdup("8BITMIME"));
	g_ptr_array_add(lines, g_strdup("ENHANCEDSTATUSCODES"));
	g_ptr_array_add(lines, g_strdup("DSN"));
	g_ptr_array_add(lines, g_strdup("CHUNKING"));
	if (smtp_offers(s, "STARTTLS"))
		g_ptr_array_add(lines, g_strdup("STARTTLS"));
	if (smtp_offers(s, "AUTH")) {
		g_autofree char *mechs = smtp_auth_mechanisms(s);
		if (*mechs != '\0')
			g_ptr_array_add(lines, g_strdup_printf("AUTH %s",
							       mechs));
	}
	g_ptr_array_add(lines, g_strdup("HELP"));
	smtp_reply_quiet(s, "250-%s", s->config->hostname);
	for (guint i = 0; i < lines->len; i++)
		smtp_reply_quiet(s, "250%c%s", i + 1 < lines->len ? '-' : ' ',
				 (char *)lines->pdata[i]);
}

void cmd_hello(struct smtp_session *s, const struct smtp_command *cmd)
{
	bool lhlo = cmd->verb == SMTP_VERB_LHLO;

	if (lhlo != s->lmtp) {
		smtp_reply(s, s->lmtp ? "500 5.5.1 Error: this is LMTP, "
					"send LHLO" :
					"500 5.5.2 Error: command not "
					"recognized");
		return;
	}
	smtp_transaction_reset(s);
	g_free(s->helo);
	s->helo = g_strdup(cmd->arg);
	s->esmtp = cmd->verb != SMTP_VERB_HELO;
	s->state = SMTP_STATE_READY;
	if (s->esmtp)
		send_extensions(s);
	else
		smtp_reply(s, "250 %s", s->config->hostname);
}

void cmd_starttls(struct smtp_session *s, const struct smtp_command *cmd)
{
	g_autofree char *error = NULL;

	if (!smtp_offers(s, "STARTTLS")) {
		if (shim_io_is_tls(s->io))
			smtp_reply(s, "503 5.5.1 Error: TLS already active");
		else if (s->msisdn != NULL)
			smtp_reply(s, "503 5.5.1 Error: STARTTLS after AUTH");
		else
			smtp_reply(s, "502 5.5.1 Error: command not "
				   "implemented");
		return;
	}
	if (s->state == SMTP_STATE_MAIL || s->state == SMTP_STATE_RCPT) {
		smtp_reply(s, "503 5.5.1 Error: STARTTLS inside a "
			   "transaction");
		return;
	}
	size_t pending;
	shim_io_data(s->io, &pending);
	if (pending > 0) {
		/* Plaintext pipelined after STARTTLS would be injected into
		 * the encrypted session (CVE-2011-0411). */
		smtp_reply_quiet(s, "554 5.5.1 Error: commands pipelined "
				 "after STARTTLS");
		s->state = SMTP_STATE_QUIT;
		return;
	}
	if (s->tls == NULL &&
	    shim_tls_create(s->config->tls_cert, s->config->tls_key, &s->tls,
			    &error) < 0) {
		syslog(LOG_ERR, "TLS: %s", error);
		smtp_reply(s, "454 4.7.0 TLS not available due to local "
			   "problem");
		return;
	}
	smtp_reply_quiet(s, "220 2.0.0 Ready to start TLS");
	int ret = shim_io_start_tls(s->io, s->tls);
	if (ret < 0) {
		syslog(LOG_NOTICE, "STARTTLS failed: %s",
		       shim_io_error(s->io) != NULL ? shim_io_error(s->io) :
						       "handshake");
		s->state = SMTP_STATE_QUIT;
		return;
	}
	/* RFC 3207 4.2: forget everything learned before TLS. */
	smtp_transaction_reset(s);
	g_clear_pointer(&s->helo, g_free);
	s->state = SMTP_STATE_FRESH;
}

void cmd_rset(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_junk_command(s);
	smtp_transaction_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

void cmd_noop(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_junk_command(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

void cmd_quit(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_reply(s, "221 2.0.0 Bye");
	s->state = SMTP_STATE_QUIT;
}

void cmd_help(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_junk_command(s);
	smtp_reply(s, "214-2.0.0 vvm deposits voice messages (RFC 5321, "
		   "VVM interface \"Message Deposit\")");
	smtp_reply(s, "214-2.0.0 Commands: %s MAIL RCPT DATA BDAT RSET NOOP "
		   "QUIT HELP VRFY%s", s->lmtp ? "LHLO" : "EHLO HELO",
		   s->lmtp ? "" : " AUTH STARTTLS");
	smtp_reply(s, "214 2.0.0 End of HELP info");
}

void cmd_vrfy(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_junk_command(s);
	/* RFC 5321 3.5.3: not saying who exists is a legitimate answer. */
	smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message "
		   "and attempt delivery");
}

void cmd_expn(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_junk_command(s);
	smtp_reply(s, "502 5.5.1 Error: EXPN not supported");
}
