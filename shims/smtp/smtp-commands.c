#include "smtp-commands.h"

#include <string.h>

#include "shim-io.h"

static smtp_command_fn *const handlers[] = {
	[SMTP_VERB_HELO] = cmd_hello,
	[SMTP_VERB_EHLO] = cmd_hello,
	[SMTP_VERB_LHLO] = cmd_hello,
	[SMTP_VERB_MAIL] = cmd_mail,
	[SMTP_VERB_RCPT] = cmd_rcpt,
	[SMTP_VERB_DATA] = cmd_data,
	[SMTP_VERB_BDAT] = cmd_bdat,
	[SMTP_VERB_RSET] = cmd_rset,
	[SMTP_VERB_NOOP] = cmd_noop,
	[SMTP_VERB_QUIT] = cmd_quit,
	[SMTP_VERB_HELP] = cmd_help,
	[SMTP_VERB_VRFY] = cmd_vrfy,
	[SMTP_VERB_EXPN] = cmd_expn,
	[SMTP_VERB_AUTH] = cmd_auth,
	[SMTP_VERB_STARTTLS] = cmd_starttls,
};

void smtp_command_run(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_command_fn *handler = (size_t)cmd->verb < G_N_ELEMENTS(handlers) ?
					   handlers[cmd->verb] : NULL;

	if (handler == NULL)
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
	else
		handler(s, cmd);
}

bool smtp_offers(const struct smtp_session *s, const char *keyword)
{
	bool smtp = !s->lmtp;

	/* Not after AUTH either: what was learnt before TLS is to be
	 * forgotten (RFC 3207 4.2), and a login is not given back. */
	if (strcmp(keyword, "STARTTLS") == 0)
		return smtp && s->config->tls != VVM_TLS_NONE &&
		       !shim_io_is_tls(s->io) && !s->privileges_dropped &&
		       s->msisdn == NULL;
	if (strcmp(keyword, "AUTH") == 0)
		return smtp && s->msisdn == NULL && !s->privileges_dropped;
	return true;
}
