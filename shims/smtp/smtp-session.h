/* One SMTP (or LMTP) connection: its state, the transaction under way and
 * the reply helpers every command uses. */
#ifndef VVM_SMTP_SESSION_H
#define VVM_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "smtp-config.h"
#include "smtp-parser.h"

struct shim_io;
struct shim_tls;

enum smtp_state {
	SMTP_STATE_FRESH,   /* greeted, no EHLO/HELO/LHLO yet */
	SMTP_STATE_READY,   /* introduced, no transaction */
	SMTP_STATE_MAIL,    /* MAIL accepted, no recipient yet */
	SMTP_STATE_RCPT,    /* at least one recipient accepted */
	SMTP_STATE_QUIT,    /* the session is over */
};

/* What the input bytes are for now. */
enum smtp_input {
	SMTP_INPUT_COMMAND,
	SMTP_INPUT_DATA,    /* DATA until <CRLF>.<CRLF> */
	SMTP_INPUT_BDAT,    /* a BDAT chunk of bdat_left more bytes */
};

struct smtp_recipient {
	char *address;      /* as given in RCPT TO */
	char *dir;          /* the subscriber directory it resolved to */
	unsigned int notify;
	char *orcpt;        /* ORCPT's address, or NULL */
};

/* An SMTP reply for one recipient's delivery. */
struct smtp_result {
	unsigned int code;
	const char *enhanced;
	char *text;
};

struct smtp_transaction {
	char id[17];              /* random hex, for the log and Received */
	char *mail_from;          /* "" for <> */
	enum smtp_ret ret;
	char *envid;
	int64_t arrival;
	GPtrArray *recipients;    /* of struct smtp_recipient * */
	GByteArray *data;         /* the message as received */
	bool too_big;             /* past max_message_size: discarding */
	bool bdat;                /* the message comes in BDAT chunks */
	bool bdat_failed;         /* a chunk was refused: discard the rest */
};

struct smtp_session {
	const struct smtp_config *config;
	struct shim_io *io;
	struct shim_tls *tls;
	bool lmtp;
	enum smtp_state state;
	enum smtp_input input;
	char *helo;
	bool esmtp;
	char *client_addr;

	/* After AUTH: the subscriber, whose INBOX gets the DSNs. */
	char *msisdn;
	int session_fd;
	int login_ticket;          /* a password check in flight, or -1 */
	/* Where subscriber directories are: the mount, or "" once chrooted
	 * into it. */
	char *root;
	bool privileges_dropped;

	unsigned int errors;
	unsigned int junk;        /* NOOP, RSET, HELP, VRFY, EXPN so far */
	bool discard_line;        /* the rest of a line that was too long */
	/* DATA reception */
	bool data_mid_line;       /* the last byte taken was not a LF */
	bool data_after_crlf;     /* the last line ended with CRLF */
	bool data_cr_pending;     /* a partial line ended with CR */
	/* BDAT reception */
	uint64_t bdat_left;
	bool bdat_last;
	uint64_t bdat_chunk;
	const char *bdat_refusal; /* the reply once the chunk is read */

	struct smtp_transaction tx;
};

/* Queues one reply line; CRLF is added. Control characters in the text
 * become spaces. A 4xx/5xx reply to a command counts as an error. */
void smtp_reply(struct smtp_session *s, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);
/* Queues a reply without counting it as the client's error. */
void smtp_reply_quiet(struct smtp_session *s, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);
/* Queues a delivery result as a reply line. */
void smtp_reply_result(struct smtp_session *s, const struct smtp_result *r);
/* Sends what is queued; false when the client is gone. */
bool smtp_flush(struct smtp_session *s);

/* Counts a command that moves nothing forward (NOOP, RSET, HELP, VRFY,
 * EXPN): past JUNK_COMMANDS_FREE of them each counts as an error too, so
 * that a client cannot hold a connection with them for ever. */
#define JUNK_COMMANDS_FREE 100
void smtp_junk_command(struct smtp_session *s);

/* Reads one line (an AUTH response) after flushing what is queued.
 * Returns 0 and a new string without its line end, -E2BIG for a line too
 * long and -EPROTO for one with a NUL byte (both consumed), -EPIPE when
 * the client is gone or -ETIMEDOUT. */
int smtp_read_line(struct smtp_session *s, char **line_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* A new path under the subscriber root: "<root>/<rel>". */
char *smtp_path(const struct smtp_session *s, const char *rel);

void smtp_recipient_free(gpointer rcpt);

/* Forgets the transaction (RSET, after delivery, EHLO, STARTTLS). */
void smtp_transaction_reset(struct smtp_session *s);

void smtp_result_set(struct smtp_result *r, unsigned int code,
		     const char *enhanced, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
void smtp_result_clear(struct smtp_result *r);

/* Serves the connection until QUIT, the client leaves, a timeout or too
 * many errors. tls is the implicit-TLS context or NULL. Returns the exit
 * status. */
int smtp_session_run(const struct smtp_config *config, struct shim_io *io,
		     struct shim_tls *tls, bool lmtp, const char *client_addr);

#endif
