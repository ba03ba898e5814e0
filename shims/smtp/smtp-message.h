/* The message side of a VVM deposit (spec "Message Deposit Interface
 * Description" and its header references): checking that a message a
 * client deposits is a voice message the spec allows, each refusal with
 * its own reason; the bytes stored for it (trace fields, the configured
 * subject); and the delivery status notification (RFC 3464, shaped like
 * the spec's Example H) deposited in the sender's mailbox when a
 * recipient fails after DATA.
 *
 * Library code: no I/O, no logging. Built on GMime (initialized by the
 * caller or by these functions once). Messages are whole, in canonical
 * CRLF form, as received after DATA/BDAT (dot-unstuffed). */
#ifndef VVM_SMTP_MESSAGE_H
#define VVM_SMTP_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* Initializes GMime. The functions below do it themselves when needed; a
 * server that forks calls it once beforehand so its children need not. */
void smtp_message_init(void);

/* Why a message is refused: the SMTP reply for it. */
struct smtp_refusal {
	unsigned int code;     /* 554, 550 ... */
	const char *enhanced;  /* "5.6.0", static */
	char *text;            /* one line, printable ASCII; g_free() */
};

struct smtp_message_rules {
	/* When not NULL, From's local part must be this MSISDN (the
	 * authenticated depositor): 550 5.7.1 otherwise. */
	const char *sender_msisdn;
	/* Unix time now, for Expires in the past (refused, 554 5.6.0). */
	int64_t now;
	/* Longest voice message accepted, seconds; 0: no limit. A longer
	 * Content-Duration is refused (552 5.3.4). */
	unsigned int max_duration;
	/* Also accept delivery and disposition reports (a top-level
	 * multipart/report; report-type=delivery-status or
	 * disposition-notification), which an MTA delivering over LMTP sends
	 * back to a subscriber; the spec lists DSN and MDN among the
	 * messages a client retrieves. They pass with info all zero. */
	bool allow_reports;
};

/* What the check learned, for delivery and the log. */
struct smtp_message_info {
	unsigned int duration;   /* top-level Content-Duration, seconds */
	unsigned int voice_parts;
	bool has_original;       /* a message/rfc822 part (forward/reply) */
	/* X-CNS-Messaging-Action: NULL, "reply" or "forward" (static) */
	const char *action;
	bool high_importance;    /* Importance: High */
	int64_t expires;         /* Expires as Unix time, 0 when absent */
};

/* Checks a deposit against the spec's rules. Returns 0 and *info_r, or
 * -EINVAL and *refusal_r. The rules, each with its own text:
 * - canonical bytes (no NUL, no bare CR or LF) and well-formed MIME (else
 *   554 5.6.0, e.g. "malformed MIME: missing closing boundary");
 * - From: exactly one <phone-number>@<domain> (1 to 20 digits, optional
 *   leading "+"), matching rules->sender_msisdn when set, a leading "+"
 *   ignored on either side (550 5.7.1);
 * - To: at least one address; Date: parseable (RFC 5322);
 * - MIME-Version: 1.0 (a comment after it allowed);
 * - Message-Context: voice-message (any case; anything else: "only voice
 *   messages can be deposited", 554 5.6.1);
 * - Content-Duration: a non-negative integer; Content-Type
 *   multipart/mixed;
 * - Importance: high, normal or low; Sensitivity: private, confidential
 *   or personal; Expires: an RFC 5322 date not in the past;
 *   X-CNS-Messaging-Action: reply or forward;
 * - none of the top-level fields above more than once;
 * - each audio part (any subtype) directly inside the top-level
 *   multipart (the voice attachments; at least one is required unless a
 *   message/rfc822 original carries one): Content-Transfer-Encoding
 *   base64, Content-Disposition attachment with a filename,
 *   Content-Duration an integer, and base64 that decodes to something;
 * - a forward ("X-CNS-Messaging-Action: forward") of an original marked
 *   "Sensitivity: Private" is refused (554 5.7.1 "a private message
 *   cannot be forwarded");
 * - the longer of Content-Duration and the attachments' sum at most
 *   rules->max_duration.
 * Header names are case-insensitive; values are compared
 * case-insensitively. Texts name a voice attachment by its IMAP part
 * number. */
int smtp_message_check(const void *data, size_t len,
		       const struct smtp_message_rules *rules,
		       struct smtp_message_info *info_r,
		       struct smtp_refusal *refusal_r)
	G_GNUC_WARN_UNUSED_RESULT;

void smtp_refusal_clear(struct smtp_refusal *refusal);

/* The trace of one transaction, for the stored copy. */
struct smtp_trace {
	const char *return_path;   /* MAIL FROM address, "" for <> */
	const char *helo;          /* EHLO/LHLO argument, may be NULL */
	const char *client_addr;   /* "127.0.0.1", may be NULL */
	const char *hostname;      /* our host name */
	const char *protocol;      /* "ESMTP", "ESMTPS", "ESMTPSA", "LMTP" */
	const char *id;            /* transaction id */
	int64_t time;              /* Unix time of receipt */
};

/* The bytes to store: "Return-Path: <...>" and a "Received:" field (RFC
 * 5321 4.4; no "for" clause, the recipients are not disclosed to each
 * other) in front of the message, with its Subject replaced by
 * subject_override when that is not NULL (every Subject field, folded
 * lines and all, gives way to one in the first one's place, or just
 * before the blank line when there is none; RFC 2047-encoded when not
 * ASCII). The rest of the message is kept byte for byte. Trace values
 * are copied with control and 8-bit bytes as '?', so a client's HELO
 * cannot add a field. */
GBytes *smtp_message_stored(const void *data, size_t len,
			    const struct smtp_trace *trace,
			    const char *subject_override);

/* One recipient's line in a DSN (RFC 3464 2.3). */
struct smtp_dsn_recipient {
	const char *final_recipient;  /* address as given in RCPT TO */
	const char *original_recipient; /* ORCPT's address, or NULL */
	const char *action;           /* "failed" or "delivered" */
	const char *status;           /* "5.2.2" */
	const char *diagnostic;       /* the SMTP reply, "552 5.2.2 ..." */
};

struct smtp_dsn {
	const char *reporting_mta;    /* our host name */
	const char *sender;           /* the DSN's To: the MAIL FROM address */
	const char *from;             /* the DSN's From (e.g. the first
					 failed recipient, as Example H) */
	const char *envid;            /* ENVID, or NULL */
	int64_t arrival;              /* Unix time the message arrived */
	int64_t now;                  /* Date of the DSN */
	const struct smtp_dsn_recipient *recipients;
	size_t n_recipients;
	bool headers_only;            /* RET=HDRS: text/rfc822-headers */
	const void *original;         /* the message as received */
	size_t original_len;
};

/* A multipart/report; report-type=delivery-status message (RFC 3464)
 * with a human-readable text/plain part, the message/delivery-status part
 * (Reporting-MTA: dns; ..., Original-Envelope-Id, Arrival-Date, and per
 * recipient Final-Recipient: rfc822; ..., Original-Recipient, Action,
 * Status, Diagnostic-Code: smtp; ...), and the original as message/rfc822
 * (or its header as text/rfc822-headers). Its own header has From, To,
 * Date, Message-ID, Subject, MIME-Version, Auto-Submitted:
 * auto-replied, and Message-Context: voice-message (the spec: a DSN's
 * Message-Context is the original's type). Canonical CRLF bytes, valid
 * for vvmfs (From and Date present). */
GBytes *smtp_dsn_build(const struct smtp_dsn *dsn);

#endif
