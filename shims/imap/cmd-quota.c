/* GETQUOTA and GETQUOTAROOT (RFC 2087) in the spec's multi-resource
 * form: one root "" for the whole subscriber, the total and per-media
 * resources with their -soft limits. */
#include <errno.h>
#include <string.h>

#include "imap-commands.h"
#include "imap-login.h"
#include "imap-mailbox.h"
#include "imap-mount.h"

/* The lines of user.vvm.quota, each "<name> <used> <limit>", and the
 * resource the spec calls it by. */
static const struct {
	const char *line;
	const char *resource;
} resources[] = {
	{ "storage_kb", "STORAGE" },
	{ "messages", "MESSAGE" },
	{ "voice_seconds", "voice" },
	{ "greeting_seconds", "x-voice-greeting" },
};

static void append_resource(GString *out, const char *name, guint64 used,
			    guint64 limit, unsigned int soft_percent)
{
	if (out->len > 0)
		g_string_append_c(out, ' ');
	g_string_append_printf(out, "%s %" G_GUINT64_FORMAT " %"
			       G_GUINT64_FORMAT, name, used, limit);
	if (soft_percent > 0)
		g_string_append_printf(out, " %s-soft %" G_GUINT64_FORMAT " %"
				       G_GUINT64_FORMAT, name, used,
				       limit / 100 * soft_percent +
				       limit % 100 * soft_percent / 100);
}

/* "<used> <limit>" of the line of user.vvm.quota named name. */
static int quota_line(char **lines, const char *name, guint64 *used_r,
		      guint64 *limit_r)
{
	for (char **l = lines; *l != NULL; l++) {
		g_auto(GStrv) f = g_strsplit(*l, " ", -1);

		if (g_strv_length(f) != 3 || strcmp(f[0], name) != 0)
			continue;
		if (!g_ascii_string_to_unsigned(f[1], 10, 0, G_MAXUINT64,
						used_r, NULL) ||
		    !g_ascii_string_to_unsigned(f[2], 10, 0, G_MAXUINT64,
						limit_r, NULL))
			return -EIO;
		return 0;
	}
	return -EIO;
}

/* The QUOTA response's resource list. Limits of 0 mean unlimited and
 * such resources are left out, as RFC 2087 has no way to say
 * "unlimited"; a quota that cannot be read, or reads as anything but
 * numbers, is an error and never "unlimited". */
static int quota_resources(struct imap_session *s, GString *out)
{
	g_autofree char *root = imap_path(s, "");
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	int ret = mount_getxattr(root, -1, "user.vvm.quota", &text);

	if (ret < 0)
		return ret;
	lines = g_strsplit(text, "\n", -1);
	for (size_t i = 0; i < G_N_ELEMENTS(resources); i++) {
		guint64 used, limit;

		ret = quota_line(lines, resources[i].line, &used, &limit);
		if (ret < 0)
			return ret;
		if (limit > 0)
			append_resource(out, resources[i].resource, used, limit,
					s->config->quota_soft_percent);
	}
	return 0;
}

static void send_quota(struct imap_session *s)
{
	g_autoptr(GString) list = g_string_new(NULL);

	int ret = quota_resources(s, list);

	if (ret < 0) {
		imap_no_unavailable(s, "cannot read the quota", ret);
		return;
	}
	imap_send(s, "* QUOTA \"\" (%s)\r\n", list->str);
}

void cmd_getquota(struct imap_session *s, const struct imap_command *cmd)
{
	const char *root;

	if (cmd->count != 1 || !imap_arg_get_astring(&cmd->args[0], &root)) {
		imap_bad(s, "GETQUOTA needs a quota root");
		return;
	}
	if (*root != '\0') {
		imap_no(s, "[NONEXISTENT] no such quota root");
		return;
	}
	send_quota(s);
	if (s->reply == IMAP_REPLY_NONE)
		imap_ok(s, "GETQUOTA completed");
}

void cmd_getquotaroot(struct imap_session *s, const struct imap_command *cmd)
{
	const char *name;
	uint64_t uidvalidity;

	if (cmd->count != 1 || !imap_arg_get_astring(&cmd->args[0], &name)) {
		imap_bad(s, "GETQUOTAROOT needs a mailbox name");
		return;
	}
	g_autofree char *dir_name = imap_mailbox_dir_name(name);
	g_autofree char *dir = dir_name != NULL ? imap_path(s, dir_name) : NULL;
	int ret = dir == NULL ? -ENOENT :
		mount_getxattr_u64(dir, -1, "user.imap.uidvalidity",
				   &uidvalidity);
	if (ret == -ENOENT || ret == -ENOTDIR) {
		imap_no(s, "[NONEXISTENT] Mailbox does not exist");
		return;
	}
	if (ret < 0) {
		imap_no_unavailable(s, "GETQUOTAROOT: cannot read the mailbox",
				    ret);
		return;
	}
	imap_send(s, "* QUOTAROOT ");
	imap_send_string(s, dir_name, strlen(dir_name));
	imap_send(s, " \"\"\r\n");
	send_quota(s);
	if (s->reply == IMAP_REPLY_NONE)
		imap_ok(s, "GETQUOTAROOT completed");
}
