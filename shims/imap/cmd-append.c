/* APPEND: the spec allows it only into Greetings. The message is written
 * through vvmfs's commit protocol and acknowledged only once fsync() said
 * it is durable. */
#include <errno.h>
#include <string.h>

#include "imap-commands.h"
#include "imap-date.h"
#include "imap-mailbox.h"
#include "imap-mount.h"
#include "vvm-deposit.h"
#include "vvm-flags.h"

struct append_args {
	const char *mailbox;
	uint32_t flags;
	bool have_date;
	int64_t date;
	const char *data;
	size_t len;
};

/* mailbox [flag-list] [date-time] literal */
static int parse_append(const struct imap_command *cmd, struct append_args *a,
			const char **error_r)
{
	unsigned int i = 1;

	*error_r = "APPEND needs a mailbox and a message literal";
	if (cmd->count < 2 || cmd->count > 4 ||
	    !imap_arg_get_astring(&cmd->args[0], &a->mailbox))
		return -EINVAL;
	const struct imap_arg *list;
	unsigned int count;
	if (imap_arg_get_list(&cmd->args[i], &list, &count)) {
		for (unsigned int f = 0; f < count; f++) {
			const char *name;
			if (!imap_arg_get_atom(&list[f], &name))
				return -EINVAL;
			if (g_ascii_strcasecmp(name, "\\Recent") == 0)
				continue;
			uint32_t flag = vvm_flag_from_name(name, strlen(name));
			if (flag != VVM_FLAG_SEEN && flag != VVM_FLAG_DELETED &&
			    flag != VVM_FLAG_GREETING_ON) {
				*error_r = NULL;    /* not allowed, not bad */
				return -EPERM;
			}
			a->flags |= flag;
		}
		i++;
	}
	const char *date;
	int zone;
	if (i + 1 < cmd->count && imap_arg_get_string(&cmd->args[i], &date)) {
		if (imap_datetime_parse(date, &a->date, &zone) < 0) {
			*error_r = "APPEND date-time is invalid";
			return -EINVAL;
		}
		a->have_date = true;
		i++;
	}
	if (i + 1 != cmd->count || cmd->args[i].type != IMAP_ARG_LITERAL ||
	    !imap_arg_get_data(&cmd->args[i], &a->data, &a->len))
		return -EINVAL;
	return 0;
}

/* Deposits the message; returns its UID or -errno, with vvmfs's reason
 * for a rejection in *reason_r. */
static int64_t deposit(const char *dir, const struct append_args *a,
		       char **reason_r)
{
	g_autoptr(GString) flags = g_string_new(NULL);
	struct vvm_deposit d = { 0 };
	uint32_t uid;

	vvm_flags_format(a->flags, flags);
	d.flags = flags->str;
	if (a->have_date)
		d.internaldate = a->date;
	int ret = vvm_deposit(dir, "append", a->data, a->len, &d, &uid,
			      reason_r);
	return ret < 0 ? ret : (int64_t)uid;
}

void cmd_append(struct imap_session *s, const struct imap_command *cmd)
{
	struct append_args a = { 0 };
	const char *error;
	g_autofree char *reason = NULL;
	uint64_t uidvalidity = 0;

	int ret = parse_append(cmd, &a, &error);
	if (ret == -EPERM) {
		imap_no(s, "command not allowed");
		return;
	}
	if (ret < 0) {
		imap_bad(s, "%s", error);
		return;
	}
	g_autofree char *dir_name = imap_mailbox_dir_name(a.mailbox);
	g_autofree char *dir = dir_name != NULL ? imap_path(s, dir_name) : NULL;
	ret = dir == NULL ? -ENOENT :
		mount_getxattr_u64(dir, -1, "user.imap.uidvalidity",
				   &uidvalidity);
	if (ret == -ENOENT || ret == -ENOTDIR) {
		imap_no(s, "[TRYCREATE] Mailbox does not exist");
		return;
	}
	if (ret < 0) {
		imap_no_unavailable(s, "APPEND: cannot read UIDVALIDITY", ret);
		return;
	}
	if (strcmp(dir_name, "Greetings") != 0) {
		imap_no(s, "command not allowed");
		return;
	}
	int64_t uid = deposit(dir, &a, &reason);
	if (uid == -EDQUOT)
		imap_no(s, "[OVERQUOTA] %s", reason != NULL ? reason :
							   "quota exceeded");
	else if (uid == -EFBIG)
		imap_no(s, "[TOOBIG] message is too large");
	else if (uid == -EINVAL)
		imap_no(s, "[PARSE] %s", reason != NULL ? reason :
						       "message is invalid");
	else if (uid < 0)
		imap_no(s, "application error");
	else if (uid == 0)
		imap_ok(s, "APPEND completed");
	else
		imap_ok(s, "[APPENDUID %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT
			   "] APPEND completed", uidvalidity, uid);
}
