/* LIST, LSUB and STATUS: mailboxes are the directories of the
 * subscriber; there is no hierarchy below them. */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "imap-commands.h"
#include "imap-mailbox.h"
#include "imap-mount.h"

static bool same_char(char a, char b, bool fold)
{
	return fold ? g_ascii_tolower(a) == g_ascii_tolower(b) : a == b;
}

/* IMAP list wildcards: "*" and "%" both match any run here, since no
 * mailbox has a hierarchy below it. Greedy with one backtracking point,
 * so a pattern of many wildcards costs O(pattern x name), not more. */
static bool wildmatch(const char *pattern, const char *name, bool fold)
{
	const char *after_star = NULL, *resume = NULL;

	while (*name != '\0') {
		if (*pattern == '*' || *pattern == '%') {
			while (*pattern == '*' || *pattern == '%')
				pattern++;
			after_star = pattern;
			resume = name;
		} else if (*pattern != '\0' && same_char(*pattern, *name, fold)) {
			pattern++;
			name++;
		} else if (after_star != NULL) {
			pattern = after_star;
			name = ++resume;
		} else {
			return false;
		}
	}
	while (*pattern == '*' || *pattern == '%')
		pattern++;
	return *pattern == '\0';
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_mailboxes(struct imap_session *s, GPtrArray *names)
{
	DIR *dir = opendir(*s->root != '\0' ? s->root : "/");
	struct dirent *e;

	if (dir == NULL)
		return -errno;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "profile") == 0 ||
		    (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		g_ptr_array_add(names, g_strdup(e->d_name));
	}
	closedir(dir);
	g_ptr_array_sort(names, compare_names);
	return 0;
}

static void list(struct imap_session *s, const struct imap_command *cmd,
		 const char *verb)
{
	const char *ref, *pattern;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

	if (cmd->count != 2 || !imap_arg_get_astring(&cmd->args[0], &ref) ||
	    !imap_arg_get_list_mailbox(&cmd->args[1], &pattern)) {
		imap_bad(s, "%s needs a reference and a mailbox pattern", verb);
		return;
	}
	if (*pattern == '\0') {
		imap_send(s, "* %s (\\Noselect) \"/\" \"\"\r\n", verb);
		imap_ok(s, "%s completed", verb);
		return;
	}
	g_autofree char *full = g_strconcat(ref, pattern, NULL);
	if (list_mailboxes(s, names) < 0) {
		imap_no(s, "application error");
		return;
	}
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		bool inbox = strcmp(name, "INBOX") == 0;
		if (!wildmatch(full, name, inbox))
			continue;
		imap_send(s, "* %s (\\HasNoChildren) \"/\" ", verb);
		imap_send_string(s, name, strlen(name));
		imap_send(s, "\r\n");
	}
	imap_ok(s, "%s completed", verb);
}

void cmd_list(struct imap_session *s, const struct imap_command *cmd)
{
	list(s, cmd, "LIST");
}

void cmd_lsub(struct imap_session *s, const struct imap_command *cmd)
{
	/* Every mailbox is subscribed. */
	list(s, cmd, "LSUB");
}

static const struct {
	const char *item;
	const char *xattr;    /* NULL: always 0 */
} status_items[] = {
	{ "MESSAGES", "user.imap.messages" },
	{ "RECENT", NULL },
	{ "UIDNEXT", "user.imap.uidnext" },
	{ "UIDVALIDITY", "user.imap.uidvalidity" },
	{ "UNSEEN", "user.imap.unseen" },
	{ "HIGHESTMODSEQ", "user.imap.highestmodseq" },
};

static int status_item(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(status_items); i++) {
		if (g_ascii_strcasecmp(name, status_items[i].item) == 0)
			return (int)i;
	}
	return -1;
}

void cmd_status(struct imap_session *s, const struct imap_command *cmd)
{
	const char *name;
	const struct imap_arg *items;
	unsigned int count;

	if (cmd->count != 2 || !imap_arg_get_astring(&cmd->args[0], &name) ||
	    !imap_arg_get_list(&cmd->args[1], &items, &count) || count == 0) {
		imap_bad(s, "STATUS needs a mailbox and a list of items");
		return;
	}
	g_autofree char *dir_name = imap_mailbox_dir_name(name);
	if (dir_name != NULL && strcmp(dir_name, "Greetings") == 0) {
		/* The spec forbids STATUS on Greetings. */
		imap_no(s, "command not allowed");
		return;
	}
	g_autofree char *dir = dir_name != NULL ? imap_path(s, dir_name) : NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	for (unsigned int i = 0; i < count; i++) {
		const char *item;
		int which;
		uint64_t value = 0;
		if (!imap_arg_get_atom(&items[i], &item) ||
		    (which = status_item(item)) < 0) {
			imap_bad(s, "unknown STATUS item");
			return;
		}
		if (dir == NULL)
			break;
		int ret = status_items[which].xattr == NULL ? 0 :
			mount_getxattr_u64(dir, -1, status_items[which].xattr,
					   &value);
		if (ret == -ENOENT || ret == -ENOTDIR) {
			g_clear_pointer(&dir, g_free);
			break;
		}
		if (ret < 0) {
			imap_no(s, "application error");
			return;
		}
		g_string_append_printf(out, "%s%s %" G_GUINT64_FORMAT,
				       i == 0 ? "" : " ",
				       status_items[which].item, value);
	}
	if (dir == NULL) {
		imap_no(s, "[NONEXISTENT] Mailbox does not exist");
		return;
	}
	imap_send(s, "* STATUS ");
	imap_send_string(s, dir_name, strlen(dir_name));
	imap_send(s, " (%s)\r\n", out->str);
	imap_ok(s, "STATUS completed");
}
