/* SELECT, EXAMINE, CLOSE and UNSELECT. */
#include <errno.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "imap-commands.h"
#include "imap-mailbox.h"
#include "imap-mount.h"
#include "vvm-flags.h"

/* The flags a client may set here (spec "Supported IMAP4 Flags"). */
static const char *permanent_flags(const struct imap_mailbox *box)
{
	return box->greetings ? "\\Seen \\Deleted $CNS-Greeting-On" :
				"\\Seen \\Deleted";
}

static void send_selected(struct imap_session *s)
{
	struct imap_mailbox *box = s->box;
	uint32_t first_unseen = 0;

	for (uint32_t seq = 1; seq <= imap_mailbox_count(box); seq++) {
		if (!(imap_mailbox_msg(box, seq)->flags & VVM_FLAG_SEEN)) {
			first_unseen = seq;
			break;
		}
	}
	imap_send(s, "* FLAGS (%s)\r\n", permanent_flags(box));
	imap_send(s, "* OK [PERMANENTFLAGS (%s)] Flags permitted\r\n",
		  box->readonly ? "" : permanent_flags(box));
	/* Android's client needs EXISTS in every SELECT. */
	imap_send(s, "* %u EXISTS\r\n", imap_mailbox_count(box));
	imap_send(s, "* 0 RECENT\r\n");
	if (first_unseen != 0)
		imap_send(s, "* OK [UNSEEN %u] First unseen\r\n", first_unseen);
	imap_send(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n", box->uidvalidity);
	imap_send(s, "* OK [UIDNEXT %u] Predicted next UID\r\n", box->uidnext);
}

static void select_mailbox(struct imap_session *s,
			   const struct imap_command *cmd, bool readonly)
{
	const char *name;
	struct imap_mailbox *box;

	if (cmd->count != 1 || !imap_arg_get_astring(&cmd->args[0], &name)) {
		imap_bad(s, "%s needs a mailbox name", cmd->name);
		return;
	}
	/* Selecting, even a mailbox that fails, leaves the current one
	 * without expunging it (RFC 3501 6.3.1). */
	if (s->box != NULL) {
		imap_mailbox_close(&s->box);
		s->state = IMAP_STATE_AUTH;
		imap_send(s, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	int ret = imap_mailbox_open(s, name, readonly, &box);
	if (ret == -ENOENT) {
		imap_no(s, "[NONEXISTENT] Mailbox does not exist");
		return;
	}
	if (ret < 0) {
		imap_no(s, "[SERVERBUG] application error");
		return;
	}
	s->box = box;
	s->state = IMAP_STATE_SELECTED;
	send_selected(s);
	imap_ok(s, "[%s] %s completed", readonly ? "READ-ONLY" : "READ-WRITE",
		readonly ? "EXAMINE" : "SELECT");
}

void cmd_select(struct imap_session *s, const struct imap_command *cmd)
{
	select_mailbox(s, cmd, false);
}

void cmd_examine(struct imap_session *s, const struct imap_command *cmd)
{
	select_mailbox(s, cmd, true);
}

/* Whether the message still has \Deleted in the store, not just in the
 * map: another session may have taken it off since. */
static bool still_deleted(const char *path)
{
	g_autofree char *flags = NULL;
	enum vvm_flags_op op;
	uint32_t bits;
	const char *bad;
	size_t bad_len;

	return mount_getxattr(path, -1, "user.imap.flags", &flags) == 0 &&
	       vvm_flags_parse(flags, strlen(flags), &op, &bits, &bad,
			       &bad_len) == 0 &&
	       (bits & VVM_FLAG_DELETED);
}

static bool in_sorted(const GArray *seqs, uint32_t seq)
{
	const uint32_t *v = (const uint32_t *)seqs->data;
	guint lo = 0, hi = seqs->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		if (v[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < seqs->len && v[lo] == seq;
}

/* Removes every message with \Deleted from the store. Returns 0 or the
 * first error. */
int imap_expunge_deleted(struct imap_session *s, const GArray *only_seqs)
{
	struct imap_mailbox *box = s->box;
	int ret = imap_mailbox_sync(s, false);

	for (uint32_t seq = 1; ret == 0 && seq <= imap_mailbox_count(box);
	     seq++) {
		struct imap_msg *msg = imap_mailbox_msg(box, seq);
		if (!(msg->flags & VVM_FLAG_DELETED) || msg->expunged ||
		    (only_seqs != NULL && !in_sorted(only_seqs, seq)))
			continue;
		g_autofree char *path = imap_mailbox_msg_path(box, msg->uid);
		if (!still_deleted(path))
			continue;
		if (unlink(path) == 0 || errno == ENOENT)
			msg->expunged = true;
		else
			ret = -errno;
	}
	return ret;
}

void cmd_close(struct imap_session *s, const struct imap_command *cmd)
{
	/* CLOSE has no NO (RFC 3501): what could not be expunged stays
	 * \Deleted and is said in an untagged NO, as Dovecot does. */
	int ret = s->box->readonly ? 0 : imap_expunge_deleted(s, NULL);
	if (ret < 0) {
		syslog(LOG_ERR, "CLOSE: expunge failed: %s", g_strerror(-ret));
		imap_send(s, "* NO [UNAVAILABLE] some messages could not be "
			     "expunged\r\n");
	}
	imap_mailbox_close(&s->box);
	s->state = IMAP_STATE_AUTH;
	imap_ok(s, "CLOSE completed");
}

void cmd_unselect(struct imap_session *s, const struct imap_command *cmd)
{
	imap_mailbox_close(&s->box);
	s->state = IMAP_STATE_AUTH;
	imap_ok(s, "UNSELECT completed");
}
