/* Commands that need no mailbox: CAPABILITY, NOOP, CHECK, LOGOUT, ID,
 * ENABLE, NAMESPACE. */
#include <string.h>

#include "imap-commands.h"
#include "imap-login.h"
#include "shim-io.h"

char *imap_capabilities(const struct imap_session *s)
{
	GString *caps = g_string_new("IMAP4REV1 LITERAL+ ID ENABLE");
	bool tls = shim_io_is_tls(s->io);

	if (s->state == IMAP_STATE_NOT_AUTH) {
		if (!tls && s->config->tls != VVM_TLS_NONE)
			g_string_append(caps, " STARTTLS");
		if (!tls && s->config->login_disabled)
			g_string_append(caps, " LOGINDISABLED");
		g_string_append(caps, " SASL-IR");
		g_auto(GStrv) mechs = imap_auth_mechanisms(s);
		for (char **m = mechs; *m != NULL; m++)
			g_string_append_printf(caps, " AUTH=%s", *m);
		return g_string_free(caps, FALSE);
	}
	/* Upper case: Android's client compares tokens as they are. */
	g_string_append(caps, " IDLE NAMESPACE UIDPLUS UNSELECT CHILDREN "
			      "QUOTA METADATA");
	return g_string_free(caps, FALSE);
}

void cmd_capability(struct imap_session *s, const struct imap_command *cmd)
{
	g_autofree char *caps = imap_capabilities(s);

	if (cmd->count != 0) {
		imap_bad(s, "CAPABILITY takes no arguments");
		return;
	}
	imap_send(s, "* CAPABILITY %s\r\n", caps);
	imap_ok(s, "CAPABILITY completed");
}

void cmd_noop(struct imap_session *s, const struct imap_command *cmd)
{
	imap_ok(s, "NOOP completed");
}

void cmd_check(struct imap_session *s, const struct imap_command *cmd)
{
	/* Every change is committed as it is made. */
	imap_ok(s, "CHECK completed");
}

void cmd_logout(struct imap_session *s, const struct imap_command *cmd)
{
	imap_send(s, "* BYE vvm logging out\r\n");
	imap_ok(s, "LOGOUT completed");
	s->state = IMAP_STATE_LOGOUT;
}

void cmd_id(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg *list;
	unsigned int count;

	if (cmd->count != 1 || (cmd->args[0].type != IMAP_ARG_NIL &&
				(!imap_arg_get_list(&cmd->args[0], &list, &count) ||
				 count % 2 != 0 || count > 60))) {
		imap_bad(s, "ID takes NIL or a list of field/value pairs");
		return;
	}
	imap_send(s, "* ID (\"name\" \"vvm\" \"version\" \"%s\")\r\n",
		  VVM_VERSION);
	imap_ok(s, "ID completed");
}

void cmd_enable(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count == 0) {
		imap_bad(s, "ENABLE needs capability names");
		return;
	}
	/* None of the extensions ENABLE can turn on is implemented. */
	imap_send(s, "* ENABLED\r\n");
	imap_ok(s, "ENABLE completed");
}

void cmd_namespace(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_bad(s, "NAMESPACE takes no arguments");
		return;
	}
	imap_send(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_ok(s, "NAMESPACE completed");
}
