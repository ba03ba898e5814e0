/* SMTP/LMTP command syntax (RFC 5321 4.1, with the parameters of SIZE
 * RFC 1870, 8BITMIME RFC 6152, DSN RFC 3461, CHUNKING RFC 3030 and AUTH
 * RFC 4954): one command line in, one parsed command or a ready reply
 * out. No I/O, no state: whether a command is allowed now is the
 * session's business. */
#ifndef VVM_SMTP_PARSER_H
#define VVM_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest command line accepted, CRLF excluded. RFC 5321 4.5.3.1.4 says
 * 512 with CRLF, extensions may raise it; AUTH's initial response needs
 * more (RFC 4954 4: 12288). */
#define SMTP_COMMAND_LINE_MAX 12288
/* RFC 5321 4.5.3.1.1/2/3 */
#define SMTP_LOCAL_PART_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256
/* RFC 3461 4.4: ENVID at most 100 characters */
#define SMTP_ENVID_MAX 100
/* RFC 3461 4.2: ORCPT's address (decoded) */
#define SMTP_ORCPT_MAX 500

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_LHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_HELP,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_AUTH,
	SMTP_VERB_STARTTLS,
};

enum smtp_body {
	SMTP_BODY_UNSPECIFIED = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

enum smtp_ret {
	SMTP_RET_UNSPECIFIED = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* RCPT NOTIFY= (RFC 3461 4.1); 0 when absent. NEVER is never combined
 * with the others. */
#define SMTP_NOTIFY_NEVER   (1u << 0)
#define SMTP_NOTIFY_SUCCESS (1u << 1)
#define SMTP_NOTIFY_FAILURE (1u << 2)
#define SMTP_NOTIFY_DELAY   (1u << 3)

/* Strings are NUL-terminated copies owned by the command; every field not
 * named for the verb is zero/NULL. */
struct smtp_command {
	enum smtp_verb verb;
	/* HELO/EHLO/LHLO: the domain or address literal as sent (any
	 * printable ASCII, at most SMTP_DOMAIN_MAX bytes).
	 * VRFY, EXPN, HELP, NOOP: the rest of the line without its leading
	 * and trailing blanks, or NULL.
	 * AUTH: the mechanism, upper-cased. */
	char *arg;
	/* AUTH: the initial response as sent (base64, or "=" for an empty
	 * one), NULL when none. */
	char *auth_initial;

	/* MAIL, RCPT: the address inside <>, source route dropped, a quoted
	 * local part kept as sent (with its quotes). MAIL FROM:<> gives "".
	 * RCPT TO:<Postmaster> (any case, no domain) gives "postmaster".
	 * At most SMTP_PATH_MAX bytes, its local part (quotes included)
	 * at most SMTP_LOCAL_PART_MAX and its domain SMTP_DOMAIN_MAX;
	 * printable US-ASCII only. */
	char *path;
	/* MAIL parameters */
	bool has_size;
	uint64_t size;
	enum smtp_body body;
	enum smtp_ret ret;
	/* ENVID and ORCPT decoded, or NULL; as RFC 3461 4.2 and 4.4 want,
	 * both printable US-ASCII (space included), never empty. */
	char *envid;
	/* RCPT parameters */
	unsigned int notify;  /* SMTP_NOTIFY_* bits */
	char *orcpt_type;     /* "rfc822" (lower-cased), or NULL */
	char *orcpt;

	/* BDAT */
	uint64_t chunk_size;
	bool last;
};

/* Parses one command line (without its CRLF; len bytes, may contain any
 * byte). Verbs and parameter keywords are case-insensitive; "MAIL FROM:"
 * and "RCPT TO:" accept a space before the "<" as many clients send it.
 * Returns 0 and fills *cmd_r (an unknown verb is SMTP_VERB_UNKNOWN, not an
 * error), or -EINVAL and sets *reply_r to a static complete reply line
 * without CRLF, e.g. "501 5.5.4 Syntax: MAIL FROM:<address>",
 * "501 5.1.7 Bad sender address syntax", "501 5.1.3 Bad recipient address
 * syntax", "555 5.5.4 Unsupported parameter", "501 5.5.4 Duplicate
 * parameter", "500 5.5.2 Line contains a NUL byte",
 * "500 5.5.6 Line too long" (only past SMTP_COMMAND_LINE_MAX). On error
 * *cmd_r is left zeroed (safe to clear). */
int smtp_parse_command(const char *line, size_t len,
		       struct smtp_command *cmd_r, const char **reply_r);

/* Frees the strings of cmd and zeroes it. Accepts a zeroed command. */
void smtp_command_clear(struct smtp_command *cmd);

/* Decodes RFC 3461 4 xtext ("+" followed by two upper-case hex digits for
 * a byte; other printable ASCII but "+" and "=" as itself). Returns a new
 * string, or NULL when text is not valid xtext or decodes to a NUL or to
 * more than max bytes. */
char *smtp_xtext_decode(const char *text, size_t max);
/* Encodes bytes as xtext, "+", "=", controls, space and 8-bit bytes as
 * "+XX" (for ENVID/ORCPT passed on; a DSN carries them decoded, RFC 3461
 * 6.3). Returns a new string. */
char *smtp_xtext_encode(const char *text);

/* Splits an address from smtp_command.path at the "@" before its domain
 * into two new strings: the last "@", or the one before an address
 * literal, which may itself hold "@". Returns false, writing nothing, when there is no "@" or
 * either side is empty. */
bool smtp_address_split(const char *path, char **local_r, char **domain_r);

#endif
