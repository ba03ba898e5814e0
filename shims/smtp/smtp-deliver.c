/* Delivery: the message checked once, then committed into each
 * recipient's INBOX through the mount by the commit protocol. The reply
 * comes only after every commit has returned, so a 250 always means
 * stored with the WAL synced. */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "shim-io.h"
#include "smtp-commands.h"
#include "smtp-message.h"
#include "smtp-parser.h"
#include "vvm-deposit.h"
#include "vvm-login.h"
#include "vvm-mount.h"

/* The errno of a refused commit as the recipient's SMTP result. */
static void commit_result(struct smtp_result *r, int ret, const char *reason)
{
	switch (ret) {
	case -EDQUOT:
		smtp_result_set(r, 552, "5.2.2", "Mailbox full%s%s",
				reason != NULL ? ": " : "",
				reason != NULL ? reason : "");
		break;
	case -EFBIG:
		smtp_result_set(r, 552, "5.3.4", "Message too big for the "
				"mailbox");
		break;
	case -EINVAL:
		smtp_result_set(r, 554, "5.6.0", "Message refused: %s",
				reason != NULL ? reason : "invalid message");
		break;
	case -ENOENT:
	case -ENOTDIR:
		smtp_result_set(r, 550, "5.1.1", "No such subscriber");
		break;
	default:
		smtp_result_set(r, 451, "4.3.0", "Local error in "
				"processing, try again later");
		break;
	}
}

static int commit(const char *dir, GBytes *message, uint32_t *uid_r,
		  char **reason_r)
{
	g_autofree char *inbox = g_strdup_printf("%s/INBOX", dir);
	struct vvm_deposit deposit = { 0 };
	gsize len;
	const void *data = g_bytes_get_data(message, &len);

	return vvm_deposit(inbox, "smtp", data, len, &deposit, uid_r,
			   reason_r);
}

/* Commits into one recipient's INBOX, or repeats the result of an
 * earlier recipient that resolved to the same subscriber. */
static void deliver_to(struct smtp_session *s, GBytes *message, guint i,
		       struct smtp_result *results)
{
	struct smtp_recipient *rcpt = s->tx.recipients->pdata[i];

	for (guint j = 0; j < i; j++) {
		struct smtp_recipient *earlier = s->tx.recipients->pdata[j];
		if (strcmp(earlier->dir, rcpt->dir) == 0) {
			smtp_result_set(&results[i], results[j].code,
					results[j].enhanced, "%s",
					results[j].text);
			return;
		}
	}
	uint32_t uid = 0;
	g_autofree char *reason = NULL;
	/* A subscriber removed since RCPT, unless vvmfs went away. */
	int ret = mount_confirm_absence(s->root, commit(rcpt->dir, message,
							&uid, &reason));
	if (ret == 0) {
		smtp_result_set(&results[i], 250, "2.0.0", "Ok: stored as "
				"%s uid %u", s->tx.id, uid);
		syslog(LOG_INFO, "id=%s to=<%s> uid=%u size=%zu", s->tx.id,
		       rcpt->address, uid, g_bytes_get_size(message));
		return;
	}
	commit_result(&results[i], ret, reason);
	syslog(ret == -EDQUOT || ret == -EINVAL ? LOG_NOTICE : LOG_ERR,
	       "id=%s to=<%s> not stored: %s%s%s", s->tx.id, rcpt->address,
	       g_strerror(-ret), reason != NULL ? ": " : "",
	       reason != NULL ? reason : "");
}

static const char *protocol_name(const struct smtp_session *s)
{
	if (s->lmtp)
		return "LMTP";
	bool tls = shim_io_is_tls(s->io);
	if (s->msisdn != NULL)
		return tls ? "ESMTPSA" : "ESMTPA";
	return tls ? "ESMTPS" : s->esmtp ? "ESMTP" : "SMTP";
}

static GBytes *stored_copy(const struct smtp_session *s)
{
	struct smtp_trace trace = {
		.return_path = s->tx.mail_from,
		.helo = s->helo,
		.client_addr = s->client_addr,
		.hostname = s->config->hostname,
		.protocol = protocol_name(s),
		.id = s->tx.id,
		.time = g_get_real_time() / G_USEC_PER_SEC,
	};

	return smtp_message_stored(s->tx.data->data, s->tx.data->len, &trace,
				   s->config->subject);
}

/* Whom a DSN goes to: the authenticated subscriber, else the sender
 * address when it names one of ours. NULL for none. */
static char *dsn_mailbox(const struct smtp_session *s)
{
	g_autofree char *local = NULL, *domain = NULL;

	if (!s->config->dsn || s->tx.mail_from[0] == '\0')
		return NULL;
	if (s->msisdn != NULL)
		return smtp_path(s, s->msisdn);
	if (!smtp_address_split(s->tx.mail_from, &local, &domain) ||
	    !vvm_msisdn_valid(local, strlen(local)))
		return NULL;
	return smtp_path(s, local);
}

static bool wants_dsn(const struct smtp_recipient *rcpt, bool delivered)
{
	if (delivered)
		return (rcpt->notify & SMTP_NOTIFY_SUCCESS) != 0;
	/* RFC 3461 4.1: without NOTIFY, failures are reported. */
	return rcpt->notify == 0 || (rcpt->notify & SMTP_NOTIFY_FAILURE) != 0;
}

/* Deposits a DSN for the recipients that asked for one into the
 * sender's INBOX (the spec's "Voice DSN Message"). */
static void send_dsn(struct smtp_session *s, const struct smtp_result *results)
{
	g_autofree char *mailbox = dsn_mailbox(s);
	GPtrArray *rcpts = s->tx.recipients;
	g_autofree struct smtp_dsn_recipient *lines =
		g_new0(struct smtp_dsn_recipient, rcpts->len);
	g_auto(GStrv) diagnostics = g_new0(char *, rcpts->len + 1);
	const char *first_failed = NULL;
	size_t n = 0;

	for (guint i = 0; i < rcpts->len; i++) {
		const struct smtp_recipient *rcpt = rcpts->pdata[i];
		bool delivered = results[i].code == 250;
		if (!wants_dsn(rcpt, delivered))
			continue;
		diagnostics[n] = g_strdup_printf("%u %s %s", results[i].code,
						 results[i].enhanced,
						 results[i].text);
		lines[n] = (struct smtp_dsn_recipient){
			.final_recipient = rcpt->address,
			.original_recipient = rcpt->orcpt,
			.action = delivered ? "delivered" : "failed",
			.status = results[i].enhanced,
			.diagnostic = diagnostics[n],
		};
		if (!delivered && first_failed == NULL)
			first_failed = rcpt->address;
		n++;
	}
	if (n > 0 && mailbox == NULL && s->config->dsn &&
	    s->tx.mail_from[0] != '\0')
		syslog(LOG_NOTICE, "id=%s: no DSN: the sender is not a "
		       "subscriber", s->tx.id);
	if (n > 0 && mailbox != NULL) {
		struct smtp_dsn dsn = {
			.reporting_mta = s->config->hostname,
			.sender = s->tx.mail_from,
			.from = first_failed != NULL ? first_failed :
						       lines[0].final_recipient,
			.envid = s->tx.envid,
			.arrival = s->tx.arrival,
			.now = g_get_real_time() / G_USEC_PER_SEC,
			.recipients = lines,
			.n_recipients = n,
			.headers_only = s->tx.ret == SMTP_RET_HDRS,
			.original = s->tx.data->data,
			.original_len = s->tx.data->len,
		};
		g_autoptr(GBytes) report = smtp_dsn_build(&dsn);
		uint32_t uid;
		g_autofree char *reason = NULL;
		int ret = commit(mailbox, report, &uid, &reason);
		if (ret < 0)
			syslog(LOG_ERR, "id=%s DSN not stored: %s%s%s",
			       s->tx.id, g_strerror(-ret),
			       reason != NULL ? ": " : "",
			       reason != NULL ? reason : "");
		else
			syslog(LOG_INFO, "id=%s DSN uid=%u", s->tx.id, uid);
	}
}

/* SMTP's single reply: 250 once anyone has the message (the others are
 * told by DSN), else the first failure. A temporary failure makes the
 * whole message temporary: the client must try again rather than have a
 * DSN report as lost what a retry would deliver (the recipients that got
 * it then get it twice, which loses nothing). */
static void reply_smtp(struct smtp_session *s, const struct smtp_result *results)
{
	guint n = s->tx.recipients->len, stored = 0;
	const struct smtp_result *failure = NULL, *temporary = NULL;

	for (guint i = 0; i < n; i++) {
		if (results[i].code == 250)
			stored++;
		else if (failure == NULL)
			failure = &results[i];
		if (results[i].code / 100 == 4 && temporary == NULL)
			temporary = &results[i];
	}
	if (temporary != NULL && stored > 0)
		syslog(LOG_WARNING, "id=%s: %u of %u recipients stored, the "
		       "rest failed for now: the client is told to retry all",
		       s->tx.id, stored, n);
	if (stored == 0 || temporary != NULL) {
		smtp_reply_result(s, temporary != NULL ? temporary : failure);
		return;
	}
	smtp_reply_quiet(s, "250 2.0.0 Ok: stored as %s for %u of %u "
			 "recipients", s->tx.id, stored, n);
	send_dsn(s, results);
}

/* The content refusal, for the one reply or for every recipient. */
static void refuse(struct smtp_session *s, const struct smtp_refusal *r)
{
	guint replies = s->lmtp ? s->tx.recipients->len : 1;

	syslog(LOG_NOTICE, "id=%s refused: %u %s %s", s->tx.id, r->code,
	       r->enhanced, r->text);
	for (guint i = 0; i < replies; i++)
		smtp_reply_quiet(s, "%u %s %s", r->code, r->enhanced, r->text);
}

void smtp_deliver(struct smtp_session *s)
{
	struct smtp_message_rules rules = {
		.sender_msisdn = s->config->enforce_from ? s->msisdn : NULL,
		.now = g_get_real_time() / G_USEC_PER_SEC,
		.max_duration = s->config->max_duration,
		.allow_reports = s->lmtp,
	};
	struct smtp_message_info info;
	struct smtp_refusal refusal = { 0 };

	if (smtp_message_check(s->tx.data->data, s->tx.data->len, &rules,
			       &info, &refusal) < 0) {
		refuse(s, &refusal);
		smtp_refusal_clear(&refusal);
		return;
	}
	g_autoptr(GBytes) message = stored_copy(s);
	guint n = s->tx.recipients->len;
	struct smtp_result *results = g_new0(struct smtp_result, n);
	for (guint i = 0; i < n; i++)
		deliver_to(s, message, i, results);
	if (s->lmtp) {
		for (guint i = 0; i < n; i++)
			smtp_reply_result(s, &results[i]);
	} else {
		reply_smtp(s, results);
	}
	for (guint i = 0; i < n; i++)
		smtp_result_clear(&results[i]);
	g_free(results);
}
