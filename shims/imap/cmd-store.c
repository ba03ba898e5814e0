/* STORE, EXPUNGE and the UID prefix. */
#include <errno.h>
#include <string.h>

#include "imap-commands.h"
#include "imap-mailbox.h"
#include "imap-mount.h"
#include "vvm-flags.h"

/* The flags the spec lets a client set: \Seen and \Deleted, and
 * $CNS-Greeting-On (alias $AppleVM-ActiveGreeting) in Greetings. \Recent
 * is the server's to set and is ignored. Returns the bits, -EINVAL for
 * bad syntax or -EPERM for a flag the client may not set. */
static int64_t client_flags(const struct imap_mailbox *box,
			    const struct imap_arg *args)
{
	const struct imap_arg *list = args;
	unsigned int count = 0;
	uint32_t flags = 0;

	/* A parenthesised list, or flags separated by spaces (RFC 3501
	 * store-att-flags). */
	if (imap_arg_get_list(&args[0], &list, &count)) {
		if (args[1].type != IMAP_ARG_EOL)
			return -EINVAL;
	} else {
		while (args[count].type != IMAP_ARG_EOL)
			count++;
	}
	for (unsigned int i = 0; i < count; i++) {
		const char *name;
		if (!imap_arg_get_atom(&list[i], &name))
			return -EINVAL;
		if (g_ascii_strcasecmp(name, "\\Recent") == 0)
			continue;
		uint32_t flag = vvm_flag_from_name(name, strlen(name));
		if (flag == VVM_FLAG_SEEN || flag == VVM_FLAG_DELETED ||
		    (flag == VVM_FLAG_GREETING_ON && box->greetings))
			flags |= flag;
		else
			return -EPERM;
	}
	return flags;
}

static const char *op_prefix(enum vvm_flags_op op)
{
	return op == VVM_FLAGS_ADD ? "+" : op == VVM_FLAGS_REMOVE ? "-" : "";
}

/* Stores one message's flags and reads back what vvmfs made of them. */
static int store_one(struct imap_session *s, uint32_t seq,
		     enum vvm_flags_op op, uint32_t flags)
{
	struct imap_msg *msg = imap_mailbox_msg(s->box, seq);
	g_autofree char *path = imap_mailbox_msg_path(s->box, msg->uid);
	g_autoptr(GString) value = g_string_new(op_prefix(op));
	g_autofree char *now = NULL;
	uint64_t modseq = 0;
	uint32_t stored;
	enum vvm_flags_op read_op;
	const char *bad;
	size_t bad_len;

	if (op != VVM_FLAGS_REPLACE && flags == 0)
		return 0;
	vvm_flags_format(flags, value);
	int ret = mount_setxattr(path, -1, "user.imap.flags", value->str);
	if (ret == 0)
		ret = mount_getxattr(path, -1, "user.imap.flags", &now);
	if (ret == 0)
		ret = mount_getxattr_u64(path, -1, "user.imap.modseq", &modseq);
	if (ret < 0)
		return ret;
	if (vvm_flags_parse(now, strlen(now), &read_op, &stored, &bad,
			    &bad_len) < 0)
		return -EIO;
	imap_mailbox_note_flags(s->box, seq, stored, modseq);
	return 0;
}

static int parse_store_item(const char *item, enum vvm_flags_op *op_r,
			    bool *silent_r)
{
	const char *rest = item;

	*op_r = VVM_FLAGS_REPLACE;
	if (*rest == '+' || *rest == '-') {
		*op_r = *rest == '+' ? VVM_FLAGS_ADD : VVM_FLAGS_REMOVE;
		rest++;
	}
	if (g_ascii_strcasecmp(rest, "FLAGS") == 0)
		*silent_r = false;
	else if (g_ascii_strcasecmp(rest, "FLAGS.SILENT") == 0)
		*silent_r = true;
	else
		return -EINVAL;
	return 0;
}

void imap_store(struct imap_session *s, const struct imap_arg *args)
{
	const char *set, *item;
	enum vvm_flags_op op;
	bool silent, expunged = false;
	g_autoptr(GArray) seqs = NULL;

	if (!imap_arg_get_atom(&args[0], &set) ||
	    !imap_arg_get_atom(&args[1], &item) ||
	    parse_store_item(item, &op, &silent) < 0 ||
	    args[2].type == IMAP_ARG_EOL) {
		imap_bad(s, "STORE needs a message set, FLAGS and flags");
		return;
	}
	int64_t flags = client_flags(s->box, &args[2]);
	if (flags == -EINVAL) {
		imap_bad(s, "STORE flags are invalid");
		return;
	}
	if (flags < 0) {
		imap_no(s, "command not allowed");
		return;
	}
	int ret = imap_message_set(s, set, &seqs);
	if (ret < 0) {
		imap_bad(s, "invalid message set");
		return;
	}
	if (s->box->readonly) {
		imap_no(s, "[READ-ONLY] mailbox is read-only");
		return;
	}
	for (guint i = 0; i < seqs->len; i++) {
		uint32_t seq = g_array_index(seqs, uint32_t, i);
		if (imap_mailbox_msg(s->box, seq)->expunged) {
			expunged = true;
			continue;
		}
		ret = store_one(s, seq, op, (uint32_t)flags);
		if (ret == -ENOENT) {
			expunged = true;
			continue;
		}
		if (ret < 0) {
			imap_no(s, "application error");
			return;
		}
		if (!silent || s->uid_command)
			imap_mailbox_send_flags(s, seq);
	}
	if (expunged)
		imap_no(s, "[EXPUNGEISSUED] some of the messages no longer "
			   "exist");
	else
		imap_ok(s, "STORE completed");
}

void cmd_store(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count < 3) {
		imap_bad(s, "STORE needs a message set, FLAGS and flags");
		return;
	}
	imap_store(s, cmd->args);
}

void cmd_expunge(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_bad(s, "EXPUNGE takes no arguments");
		return;
	}
	if (s->box->readonly) {
		imap_no(s, "[READ-ONLY] mailbox is read-only");
		return;
	}
	if (imap_expunge_deleted(s, NULL) < 0)
		imap_no(s, "application error");
	else
		imap_ok(s, "EXPUNGE completed");
}

void imap_uid_expunge(struct imap_session *s, const struct imap_arg *args)
{
	const char *set;
	g_autoptr(GArray) seqs = NULL;

	if (!imap_arg_get_atom(&args[0], &set) ||
	    args[1].type != IMAP_ARG_EOL) {
		imap_bad(s, "UID EXPUNGE needs a UID set");
		return;
	}
	if (imap_message_set(s, set, &seqs) < 0) {
		imap_bad(s, "invalid UID set");
		return;
	}
	if (s->box->readonly) {
		imap_no(s, "[READ-ONLY] mailbox is read-only");
		return;
	}
	if (imap_expunge_deleted(s, seqs) < 0)
		imap_no(s, "application error");
	else
		imap_ok(s, "UID EXPUNGE completed");
}

void cmd_uid(struct imap_session *s, const struct imap_command *cmd)
{
	const char *sub;

	if (cmd->count < 1 || !imap_arg_get_atom(&cmd->args[0], &sub)) {
		imap_bad(s, "UID needs FETCH, STORE, SEARCH or EXPUNGE");
		return;
	}
	s->uid_command = true;
	/* A UID command may be told of expunges, and is then not held up
	 * by messages whose EXPUNGE was waiting (RFC 3501 7.4.1). */
	imap_mailbox_flush_expunges(s, false);
	const struct imap_arg *args = &cmd->args[1];
	unsigned int count = cmd->count - 1;
	if (g_ascii_strcasecmp(sub, "FETCH") == 0 && count >= 2)
		imap_fetch(s, cmd, args);
	else if (g_ascii_strcasecmp(sub, "STORE") == 0 && count >= 3)
		imap_store(s, args);
	else if (g_ascii_strcasecmp(sub, "SEARCH") == 0 && count >= 1)
		imap_search(s, args);
	else if (g_ascii_strcasecmp(sub, "EXPUNGE") == 0 && count == 1)
		imap_uid_expunge(s, args);
	else if (g_ascii_strcasecmp(sub, "COPY") == 0 ||
		 g_ascii_strcasecmp(sub, "MOVE") == 0)
		imap_no(s, "command not allowed");
	else
		imap_bad(s, "UID needs FETCH, STORE, SEARCH or EXPUNGE with "
			    "their arguments");
}
