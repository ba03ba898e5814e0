/* The command table and the handlers: each checks whether its command is
 * allowed now (503 5.5.1 if not) and then proceeds. */
#ifndef VVM_SMTP_COMMANDS_H
#define VVM_SMTP_COMMANDS_H

#include "smtp-session.h"

typedef void smtp_command_fn(struct smtp_session *s,
			     const struct smtp_command *cmd);

/* Runs a parsed command: the handler of its verb, or the reply for an
 * unknown one. */
void smtp_command_run(struct smtp_session *s, const struct smtp_command *cmd);

/* The EHLO/LHLO keywords offered now, for the reply and for tests of what
 * is allowed ("STARTTLS", "AUTH", ...). */
bool smtp_offers(const struct smtp_session *s, const char *keyword);

smtp_command_fn cmd_hello, cmd_starttls, cmd_rset, cmd_noop, cmd_quit,
	cmd_help, cmd_vrfy, cmd_expn;       /* cmd-misc.c */
smtp_command_fn cmd_auth;                   /* cmd-auth.c */
smtp_command_fn cmd_mail, cmd_rcpt;         /* cmd-mail.c */
smtp_command_fn cmd_data, cmd_bdat;         /* cmd-data.c */

/* cmd-data.c: takes message bytes from the input buffer while the
 * session is in DATA or BDAT input; delivers once the message is whole.
 * Returns false when it needs more input. */
bool smtp_data_input(struct smtp_session *s);

/* smtp-deliver.c: commits the received message into every recipient's
 * INBOX and answers: one reply (SMTP, with a DSN in the sender's INBOX
 * for recipients that failed) or one per recipient (LMTP). */
void smtp_deliver(struct smtp_session *s);

/* cmd-mail.c: chroots into the mount and becomes [smtp] user, once, when
 * started as root. False (with a 421 reply and the session ended) if that
 * fails. */
bool smtp_drop_privileges(struct smtp_session *s);

#endif
