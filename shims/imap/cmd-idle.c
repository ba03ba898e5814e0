/* IDLE (RFC 2177): changes made by anyone through the mount are told as
 * they happen, found by watching the mailbox's highest modseq. */
#include <errno.h>
#include <string.h>

#include "imap-commands.h"
#include "imap-mailbox.h"
#include "shim-io.h"

void cmd_idle(struct imap_session *s, const struct imap_command *cmd)
{
	const char *line;
	gint64 deadline = g_get_monotonic_time() +
			  (gint64)s->config->idle_timeout * G_USEC_PER_SEC;

	if (cmd->count != 0) {
		imap_bad(s, "IDLE takes no arguments");
		return;
	}
	imap_send(s, "+ idling\r\n");
	for (;;) {
		if (s->box != NULL && imap_mailbox_sync(s, true) < 0) {
			imap_no(s, "application error");
			return;
		}
		if (!imap_flush(s)) {
			s->state = IMAP_STATE_LOGOUT;
			return;
		}
		int ret = imap_read_line(s, (int)s->config->idle_poll_ms, &line);
		if (ret == 0) {
			if (g_ascii_strcasecmp(line, "DONE") == 0)
				imap_ok(s, "IDLE terminated");
			else
				imap_bad(s, "IDLE expected DONE");
			return;
		}
		if (ret == -EPROTO) {
			imap_bad(s, "IDLE expected DONE");
			return;
		}
		if (ret == -EPIPE ||
		    (s->config->idle_timeout > 0 &&
		     g_get_monotonic_time() > deadline)) {
			if (ret != -EPIPE)
				imap_send(s, "* BYE Autologout; idle for too "
					     "long\r\n");
			s->state = IMAP_STATE_LOGOUT;
			return;
		}
	}
}
