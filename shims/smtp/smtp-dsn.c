/* The delivery status notification (RFC 3464) deposited in the sender's
 * mailbox, shaped like the spec's Example H but complete: the human text,
 * the machine-readable report and the original, as a voice-message
 * context so the client lists it with the message it reports on. */
#include <string.h>

#include <gmime/gmime.h>

#include "smtp-message-private.h"

static void append_field(GString *out, const char *name, const char *prefix,
			 const char *value)
{
	g_string_append_printf(out, "%s: %s", name, prefix);
	smtp_append_printable(out, value);
	g_string_append(out, "\r\n");
}

/* g_mime_utils_header_format_date() needs no g_mime_init(). */
static void append_date(GString *out, const char *name, int64_t time)
{
	GDateTime *date = g_date_time_new_from_unix_utc(time);
	g_autofree char *text = g_mime_utils_header_format_date(date);

	g_string_append_printf(out, "%s: %s\r\n", name, text);
	g_date_time_unref(date);
}

static bool all_delivered(const struct smtp_dsn *dsn)
{
	size_t i;

	for (i = 0; i < dsn->n_recipients; i++) {
		if (g_ascii_strcasecmp(dsn->recipients[i].action, "delivered"))
			return false;
	}
	return true;
}

/* A boundary the original does not hold anywhere: random makes a clash
 * unlikely, the search makes it impossible. */
static char *make_boundary(const struct smtp_dsn *dsn)
{
	char *boundary = NULL, *uuid;
	bool clash;

	do {
		g_free(boundary);
		uuid = g_uuid_string_random();
		/* "=_" never occurs in base64 or quoted-printable text. */
		boundary = g_strdup_printf("=_dsn_%s", uuid);
		g_free(uuid);
		clash = dsn->original_len > 0 &&
			memmem(dsn->original, dsn->original_len, boundary,
			       strlen(boundary)) != NULL;
	} while (clash);
	return boundary;
}

static void append_header(GString *out, const struct smtp_dsn *dsn,
			  const char *boundary)
{
	g_autofree char *uuid = g_uuid_string_random();

	append_field(out, "From", "", dsn->from);
	append_field(out, "To", "", dsn->sender);
	append_date(out, "Date", dsn->now);
	g_string_append_printf(out, "Message-ID: <%s@", uuid);
	smtp_append_printable(out, dsn->reporting_mta);
	g_string_append(out, ">\r\n");
	g_string_append_printf(out,
			       "Subject: Delivery Status Notification (%s)\r\n",
			       all_delivered(dsn) ? "Success" : "Failure");
	g_string_append(out, "MIME-Version: 1.0\r\n"
			     "Auto-Submitted: auto-replied\r\n"
			     "Message-Context: voice-message\r\n"
			     "Content-Type: multipart/report; "
			     "report-type=delivery-status;\r\n");
	g_string_append_printf(out, "\tboundary=\"%s\"\r\n\r\n", boundary);
	g_string_append(out, "This is a MIME-encapsulated delivery status "
			     "notification (RFC 3464).\r\n");
}

static void append_text(GString *out, const struct smtp_dsn *dsn)
{
	size_t i;

	g_string_append(out, "Content-Type: text/plain; charset=us-ascii\r\n"
			     "\r\n"
			     "This is the delivery report for your voice "
			     "message.\r\n");
	for (i = 0; i < dsn->n_recipients; i++) {
		g_string_append(out, "\r\n");
		smtp_append_printable(out, dsn->recipients[i].final_recipient);
		g_string_append(out, ": ");
		smtp_append_printable(out, dsn->recipients[i].action);
		g_string_append(out, "\r\n    ");
		smtp_append_printable(out, dsn->recipients[i].diagnostic);
		g_string_append(out, "\r\n");
	}
}

static void append_status(GString *out, const struct smtp_dsn *dsn)
{
	const struct smtp_dsn_recipient *rcpt;
	size_t i;

	g_string_append(out, "Content-Type: message/delivery-status\r\n\r\n");
	append_field(out, "Reporting-MTA", "dns; ", dsn->reporting_mta);
	if (dsn->envid != NULL)
		append_field(out, "Original-Envelope-Id", "", dsn->envid);
	append_date(out, "Arrival-Date", dsn->arrival);
	for (i = 0; i < dsn->n_recipients; i++) {
		rcpt = &dsn->recipients[i];
		g_string_append(out, "\r\n");
		append_field(out, "Final-Recipient", "rfc822; ",
			     rcpt->final_recipient);
		if (rcpt->original_recipient != NULL)
			append_field(out, "Original-Recipient", "rfc822; ",
				     rcpt->original_recipient);
		append_field(out, "Action", "", rcpt->action);
		append_field(out, "Status", "", rcpt->status);
		append_field(out, "Diagnostic-Code", "smtp; ",
			     rcpt->diagnostic);
	}
}

/* The original's header block, its blank line excluded. */
static size_t header_length(const char *msg, size_t len)
{
	const char *blank;

	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
		return 0;
	blank = memmem(msg, len, "\r\n\r\n", 4);
	return blank != NULL ? (size_t)(blank - msg) + 2 : len;
}

static bool has_8bit(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)msg[i] > 0x7f)
			return true;
	}
	return false;
}

static void append_original(GString *out, const struct smtp_dsn *dsn)
{
	const char *msg = dsn->original;
	size_t len = dsn->original_len;

	if (dsn->headers_only) {
		g_string_append(out,
				"Content-Type: text/rfc822-headers\r\n\r\n");
		len = header_length(msg, len);
	} else {
		g_string_append(out, "Content-Type: message/rfc822\r\n");
		/* RFC 2046 5.2.1: 7bit unless said otherwise. */
		if (has_8bit(msg, len))
			g_string_append(out,
					"Content-Transfer-Encoding: 8bit\r\n");
		g_string_append(out, "\r\n");
	}
	g_string_append_len(out, msg, len);
}

GBytes *smtp_dsn_build(const struct smtp_dsn *dsn)
{
	g_autofree char *boundary = make_boundary(dsn);
	GString *out = g_string_sized_new(dsn->original_len + 4096);

	append_header(out, dsn, boundary);
	g_string_append_printf(out, "\r\n--%s\r\n", boundary);
	append_text(out, dsn);
	g_string_append_printf(out, "\r\n--%s\r\n", boundary);
	append_status(out, dsn);
	g_string_append_printf(out, "\r\n--%s\r\n", boundary);
	append_original(out, dsn);
	g_string_append_printf(out, "\r\n--%s--\r\n", boundary);
	return g_string_free_to_bytes(out);
}
