/* MAIL and RCPT: opening a transaction and resolving its recipients to
 * subscribers. */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "smtp-commands.h"
#include "vvm-login.h"
#include "vvm-mount.h"

bool smtp_drop_privileges(struct smtp_session *s)
{
	if (s->privileges_dropped)
		return true;
	int ret = vvm_login_drop_privileges(s->config->mount,
					    s->config->run_as);
	if (ret < 0) {
		syslog(LOG_ERR, "cannot drop privileges: %s%s",
		       g_strerror(-ret),
		       ret == -EACCES ? " (is vvmfs mounted with owner= "
					"the [smtp] user?)" : "");
		smtp_reply_quiet(s, "421 4.3.0 %s Error: local problem",
				 s->config->hostname);
		s->state = SMTP_STATE_QUIT;
		return false;
	}
	if (ret > 0) {
		g_free(s->root);
		s->root = g_strdup("");
	}
	/* Nothing may be loaded from the file system from now on: STARTTLS
	 * and AUTH are no longer offered. */
	s->privileges_dropped = true;
	return true;
}

static void transaction_begin(struct smtp_session *s,
			      const struct smtp_command *cmd)
{
	struct smtp_transaction *tx = &s->tx;

	smtp_transaction_reset(s);
	g_snprintf(tx->id, sizeof(tx->id), "%08x%08x", g_random_int(),
		   g_random_int());
	tx->mail_from = g_strdup(cmd->path);
	tx->ret = cmd->ret;
	tx->envid = g_strdup(cmd->envid);
	tx->arrival = g_get_real_time() / G_USEC_PER_SEC;
	tx->recipients =
		g_ptr_array_new_with_free_func(smtp_recipient_free);
	tx->data = g_byte_array_new();
	s->state = SMTP_STATE_MAIL;
}

void cmd_mail(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (s->state == SMTP_STATE_FRESH) {
		smtp_reply(s, "503 5.5.1 Error: send %s first",
			   s->lmtp ? "LHLO" : "HELO/EHLO");
		return;
	}
	if (s->state != SMTP_STATE_READY) {
		smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (!s->lmtp && s->config->require_auth && s->msisdn == NULL) {
		smtp_reply(s, "530 5.7.0 Authentication required");
		return;
	}
	if (!s->esmtp && (cmd->has_size || cmd->body || cmd->ret ||
			  cmd->envid != NULL)) {
		smtp_reply(s, "555 5.5.4 Unsupported parameter (send EHLO "
			   "for ESMTP)");
		return;
	}
	if (cmd->has_size && cmd->size > s->config->max_message_size) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (!smtp_drop_privileges(s))
		return;
	transaction_begin(s, cmd);
	smtp_reply(s, "250 2.1.0 Ok");
}

static bool domain_served(const struct smtp_session *s, const char *domain)
{
	if (s->config->domains[0] == NULL)
		return true;
	for (char **d = s->config->domains; *d != NULL; d++) {
		if (g_ascii_strcasecmp(*d, domain) == 0)
			return true;
	}
	return false;
}

static void no_such_subscriber(struct smtp_session *s, const char *path)
{
	smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: no such "
		   "subscriber", path);
}

/* The MSISDN an RCPT address names, or NULL after replying why none.
 * Postmaster, bare or at a domain we serve, must be accepted (RFC 5321
 * 4.5.1): it reaches the subscriber [smtp] postmaster names. */
static char *recipient_msisdn(struct smtp_session *s, const char *path)
{
	g_autofree char *local = NULL, *domain = NULL;

	if (strcmp(path, "postmaster") == 0) {
		local = g_strdup(path);
	} else if (!smtp_address_split(path, &local, &domain)) {
		no_such_subscriber(s, path);
		return NULL;
	}
	if (domain != NULL && !domain_served(s, domain)) {
		smtp_reply(s, "550 5.1.2 <%s>: Recipient domain not served "
			   "here", path);
		return NULL;
	}
	if (g_ascii_strcasecmp(local, "postmaster") == 0 &&
	    s->config->postmaster != NULL)
		return g_strdup(s->config->postmaster);
	const char *number = local[0] == '+' ? local + 1 : local;
	if (!vvm_msisdn_valid(number, strlen(number))) {
		no_such_subscriber(s, path);
		return NULL;
	}
	return g_strdup(number);
}

/* Resolves an RCPT address to a subscriber directory that may receive,
 * or replies why not and returns NULL. */
static char *resolve(struct smtp_session *s, const char *path)
{
	g_autofree char *msisdn = recipient_msisdn(s, path);
	g_autofree char *dir = NULL, *status = NULL;

	if (msisdn == NULL)
		return NULL;
	dir = smtp_path(s, msisdn);
	int ret = mount_confirm_absence(s->root,
					profile_get_at(dir, "status", &status));
	if (ret == -ENOENT || ret == -ENOTDIR ||
	    (ret == 0 && status[0] == 'U')) {
		no_such_subscriber(s, path);
		return NULL;
	}
	if (ret < 0) {
		syslog(LOG_ERR, "cannot read the status of %s: %s", msisdn,
		       g_strerror(-ret));
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure",
			   path);
		return NULL;
	}
	if (status[0] == 'B') {
		smtp_reply(s, "550 5.2.1 <%s>: Mailbox disabled", path);
		return NULL;
	}
	return g_steal_pointer(&dir);
}

void cmd_rcpt(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (s->state != SMTP_STATE_MAIL && s->state != SMTP_STATE_RCPT) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (!s->esmtp && (cmd->notify != 0 || cmd->orcpt != NULL)) {
		smtp_reply(s, "555 5.5.4 Unsupported parameter (send EHLO "
			   "for ESMTP)");
		return;
	}
	if (s->tx.recipients->len >= s->config->max_recipients) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	char *dir = resolve(s, cmd->path);
	if (dir == NULL)
		return;
	struct smtp_recipient *rcpt = g_new0(struct smtp_recipient, 1);
	rcpt->address = g_strdup(cmd->path);
	rcpt->dir = dir;
	rcpt->notify = cmd->notify;
	rcpt->orcpt = g_strdup(cmd->orcpt);
	g_ptr_array_add(s->tx.recipients, rcpt);
	s->state = SMTP_STATE_RCPT;
	smtp_reply(s, "250 2.1.5 Ok");
}
