/* Fuzzes the SMTP command parser: whatever the line, it must either give
 * a complete SMTP error reply with a zeroed command, or a command whose
 * fields hold what the header promises for its verb. The xtext functions
 * get the same input, and what decodes must encode and decode back. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "smtp-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A string of at most max bytes within the input's size, all printable
 * (space allowed or not). */
static void check_str(const char *s, size_t max, bool space_ok)
{
	size_t len = strnlen(s, max + 1);

	if (len > max)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (s[i] < (space_ok ? ' ' : '!') || s[i] > '~')
			abort();
	}
}

static bool has_verb(const struct smtp_command *cmd, enum smtp_verb a,
		     enum smtp_verb b, enum smtp_verb c)
{
	return cmd->verb == a || cmd->verb == b || cmd->verb == c;
}

static void check_path(const struct smtp_command *cmd)
{
	char *local, *domain;

	check_str(cmd->path, SMTP_PATH_MAX, true);
	if (cmd->path[0] == '\0') {
		if (cmd->verb != SMTP_VERB_MAIL)
			abort();
		return;
	}
	if (strcmp(cmd->path, "postmaster") == 0 &&
	    cmd->verb == SMTP_VERB_RCPT)
		return;
	if (!smtp_address_split(cmd->path, &local, &domain))
		abort();
	if (strlen(local) > SMTP_LOCAL_PART_MAX ||
	    strlen(domain) > SMTP_DOMAIN_MAX)
		abort();
	/* A domain name, or an address literal whose text may hold "@" */
	if (domain[0] == '[' ? domain[strlen(domain) - 1] != ']' ||
			       strchr(domain + 1, '[') != NULL :
			       strchr(domain, '@') != NULL)
		abort();
	g_free(local);
	g_free(domain);
}

static void check_ok(const struct smtp_command *cmd, size_t size)
{
	bool mail = cmd->verb == SMTP_VERB_MAIL;
	bool rcpt = cmd->verb == SMTP_VERB_RCPT;
	unsigned int n = cmd->notify;

	if (cmd->verb > SMTP_VERB_STARTTLS)
		abort();
	if ((cmd->path != NULL) != (mail || rcpt))
		abort();
	if (cmd->path != NULL)
		check_path(cmd);

	if (!mail && (cmd->has_size || cmd->size != 0 || cmd->body != 0 ||
		      cmd->ret != 0 || cmd->envid != NULL))
		abort();
	if (cmd->body > SMTP_BODY_8BITMIME || cmd->ret > SMTP_RET_HDRS)
		abort();
	if (!cmd->has_size && cmd->size != 0)
		abort();
	if (cmd->envid != NULL)
		check_str(cmd->envid, SMTP_ENVID_MAX, true);

	if (!rcpt && (n != 0 || cmd->orcpt != NULL || cmd->orcpt_type != NULL))
		abort();
	if ((n & ~(SMTP_NOTIFY_NEVER | SMTP_NOTIFY_SUCCESS |
		   SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY)) != 0 ||
	    ((n & SMTP_NOTIFY_NEVER) != 0 && n != SMTP_NOTIFY_NEVER))
		abort();
	if ((cmd->orcpt != NULL) != (cmd->orcpt_type != NULL))
		abort();
	if (cmd->orcpt != NULL) {
		check_str(cmd->orcpt, SMTP_ORCPT_MAX, true);
		check_str(cmd->orcpt_type, size, false);
		for (const char *t = cmd->orcpt_type; *t != '\0'; t++) {
			if (g_ascii_isupper(*t))
				abort();
		}
		if (cmd->orcpt[0] == '\0' || cmd->orcpt_type[0] == '\0')
			abort();
	}

	if (cmd->verb != SMTP_VERB_BDAT && (cmd->chunk_size != 0 || cmd->last))
		abort();

	if (has_verb(cmd, SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_LHLO)) {
		check_str(cmd->arg, SMTP_DOMAIN_MAX, false);
		if (cmd->arg[0] == '\0')
			abort();
	} else if (cmd->verb == SMTP_VERB_AUTH) {
		check_str(cmd->arg, 20, false);
		for (const char *t = cmd->arg; *t != '\0'; t++) {
			if (!g_ascii_isupper(*t) && !g_ascii_isdigit(*t) &&
			    *t != '-' && *t != '_')
				abort();
		}
		if (cmd->auth_initial != NULL)
			check_str(cmd->auth_initial, size, false);
	} else if (has_verb(cmd, SMTP_VERB_NOOP, SMTP_VERB_HELP,
			    SMTP_VERB_VRFY) || cmd->verb == SMTP_VERB_EXPN) {
		if (cmd->arg != NULL && (strnlen(cmd->arg, size + 1) > size ||
					 cmd->arg[0] == '\0'))
			abort();
	} else if (cmd->arg != NULL) {
		abort();
	}
	if (cmd->verb != SMTP_VERB_AUTH && cmd->auth_initial != NULL)
		abort();
}

static bool is_zero(const struct smtp_command *cmd)
{
	return cmd->verb == 0 && cmd->arg == NULL && cmd->auth_initial == NULL &&
	       cmd->path == NULL && !cmd->has_size && cmd->size == 0 &&
	       cmd->body == 0 && cmd->ret == 0 && cmd->envid == NULL &&
	       cmd->notify == 0 && cmd->orcpt_type == NULL &&
	       cmd->orcpt == NULL && cmd->chunk_size == 0 && !cmd->last;
}

/* Reply lines are "5yz x.y.z text": printable, one line. */
static void check_reply(const char *reply)
{
	check_str(reply, 200, true);
	if (reply[0] != '5' || !g_ascii_isdigit(reply[1]) ||
	    !g_ascii_isdigit(reply[2]) || reply[3] != ' ' || reply[4] != '5' ||
	    reply[5] != '.')
		abort();
}

static void check_xtext(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	char *decoded = smtp_xtext_decode(text, size);
	char *encoded, *again;

	if (decoded != NULL) {
		if (strlen(decoded) > size)
			abort();
		encoded = smtp_xtext_encode(decoded);
		again = smtp_xtext_decode(encoded, size);
		if (again == NULL || strcmp(again, decoded) != 0)
			abort();
		g_free(encoded);
		g_free(again);
		g_free(decoded);
	}
	g_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_command cmd;
	const char *reply = NULL;
	int ret;

	ret = smtp_parse_command((const char *)data, size, &cmd, &reply);
	if (ret == 0) {
		check_ok(&cmd, size);
	} else {
		if (ret != -EINVAL || reply == NULL || !is_zero(&cmd))
			abort();
		check_reply(reply);
	}
	smtp_command_clear(&cmd);
	if (!is_zero(&cmd))
		abort();
	check_xtext(data, size);
	return 0;
}
