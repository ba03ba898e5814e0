/* GETMETADATA and SETMETADATA (RFC 5464) for the spec's two server
 * entries: /private/VVM/GreetingTypesAllowed (from the config) and
 * /private/VVM/Accept (the profile's accept). The error texts are the
 * spec's. */
#include <errno.h>
#include <string.h>

#include "imap-commands.h"
#include "imap-mount.h"

#define VVM_PREFIX "/private/VVM/"

enum entry { ENTRY_UNKNOWN, ENTRY_GREETING_TYPES, ENTRY_ACCEPT, ENTRY_FOREIGN };

static enum entry entry_of(const char *name)
{
	if (g_ascii_strncasecmp(name, VVM_PREFIX, strlen(VVM_PREFIX)) != 0)
		return ENTRY_FOREIGN;
	const char *leaf = name + strlen(VVM_PREFIX);
	if (g_ascii_strcasecmp(leaf, "GreetingTypesAllowed") == 0)
		return ENTRY_GREETING_TYPES;
	if (g_ascii_strcasecmp(leaf, "Accept") == 0)
		return ENTRY_ACCEPT;
	return ENTRY_UNKNOWN;
}

/* The entries asked for: one astring or a parenthesised list. */
static bool entry_list(const struct imap_arg *arg, GPtrArray *names)
{
	const struct imap_arg *list = arg;
	unsigned int count = 1;
	const char *name;

	if (!imap_arg_get_list(arg, &list, &count))
		list = arg;
	for (unsigned int i = 0; i < count; i++) {
		if (!imap_arg_get_astring(&list[i], &name))
			return false;
		g_ptr_array_add(names, (char *)name);
	}
	return count > 0;
}

void cmd_getmetadata(struct imap_session *s, const struct imap_command *cmd)
{
	const char *mailbox;
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	g_autoptr(GString) out = g_string_new(NULL);

	/* DEPTH and MAXSIZE options, which come first, are not supported
	 * (spec). */
	if (cmd->count != 2 || !imap_arg_get_astring(&cmd->args[0], &mailbox)) {
		imap_bad(s, "GETMETADATA command not allowed");
		return;
	}
	if (*mailbox != '\0' || !entry_list(&cmd->args[1], names)) {
		imap_bad(s, "GETMETADATA invalid parameter");
		return;
	}
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		g_autofree char *value = NULL;
		switch (entry_of(name)) {
		case ENTRY_GREETING_TYPES:
			value = g_strdup(s->config->greeting_types);
			break;
		case ENTRY_ACCEPT:
			if (profile_get(s, "accept", &value) < 0) {
				imap_no(s, "GETMETADATA application error");
				return;
			}
			break;
		case ENTRY_FOREIGN:
			imap_bad(s, "GETMETADATA command not allowed");
			return;
		default:
			imap_bad(s, "GETMETADATA invalid parameter");
			return;
		}
		if (out->len > 0)
			g_string_append_c(out, ' ');
		g_string_append_printf(out, "%s%s ", VVM_PREFIX,
				       name + strlen(VVM_PREFIX));
		/* Bare where the value is an atom, as the spec's example
		 * shows it; quoted or a literal otherwise. */
		if (*value == '\0')
			g_string_append(out, "NIL");
		else
			imap_append_astring(out, value);
	}
	imap_send(s, "* METADATA \"\" (%s)\r\n", out->str);
	imap_ok(s, "GETMETADATA complete");
}

void cmd_setmetadata(struct imap_session *s, const struct imap_command *cmd)
{
	const char *mailbox, *name, *value;
	const struct imap_arg *list;
	unsigned int count;

	if (cmd->count != 2 || !imap_arg_get_astring(&cmd->args[0], &mailbox) ||
	    !imap_arg_get_list(&cmd->args[1], &list, &count) || count != 2 ||
	    !imap_arg_get_astring(&list[0], &name) || *mailbox != '\0') {
		imap_bad(s, "invalid parameter");
		return;
	}
	/* Only Accept can be set; GreetingTypesAllowed is the server's to
	 * say. A value is a string or NIL (RFC 5464), not an atom. */
	if (entry_of(name) != ENTRY_ACCEPT ||
	    !imap_arg_get_nstring(&list[1], &value)) {
		imap_bad(s, "invalid parameter");
		return;
	}
	int ret = profile_set(s, "accept", value != NULL ? value : "");
	if (ret == -EINVAL)
		imap_bad(s, "invalid parameter");
	else if (ret < 0)
		imap_no(s, "application error");
	else {
		/* What vvmfs has just taken, without reading it back. */
		imap_session_set_accept(s, value);
		imap_ok(s, "SETMETADATA complete");
	}
}
