/* IDLE (RFC 2177): changes made by anyone through the mount are told as
 * they happen, found by watching the mailbox's highest modseq. */
#include <errno.h>
#include <string.h>

#include "imap-commands.h"
#include "imap-mailbox.h"
#include "imap-mount.h"
#include "shim-io.h"

static bool changed(struct imap_session *s)
{
	uint64_t modseq;

	if (s->box == NULL)
		return false;
	if (mount_getxattr_u64(s->box->dir, -1, "user.imap.highestmodseq",
			       &modseq) < 0)
		return true;   /* gone: let the sync find out */
	return modseq != s->box->highestmodseq;
}

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
		if (s->box != NULL && changed(s) &&
		    imap_mailbox_sync(s, true) < 0) {
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
