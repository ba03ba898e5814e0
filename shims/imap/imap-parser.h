/* Incremental IMAP4rev1 command parser (RFC 3501 section 9, LITERAL+ and
 * LITERAL- from RFC 7888, literal8 from RFC 3516). Syntax only: it does no
 * I/O and knows nothing of what commands mean beyond the shape of their
 * arguments. The caller feeds bytes as they arrive and gets back one whole
 * command at a time, as a tag, a name and a tree of arguments.
 *
 * Lexing is deliberately a little wider than the grammar so that one tree
 * serves every command; the accessors below apply the exact rules:
 *  - An argument that is not a string, literal or list is an "atom" here:
 *    any run of CHARs other than SP, CTL, "(", ")", "{" and DQUOTE. That
 *    covers atoms, numbers, sequence sets ("1:*"), flags ("\Seen"),
 *    list-mailbox patterns ("INBOX/%") and FETCH attributes.
 *  - After BODY, BODY.PEEK, BINARY, BINARY.PEEK or BINARY.SIZE an opening
 *    "[" extends the atom up to its "]", spaces, parentheses and quoted
 *    strings included, and any "<partial>" follows: the whole of
 *    BODY.PEEK[HEADER.FIELDS (FROM DATE)]<0.100> is one atom, to be taken
 *    apart by imap_fetch_att_parse() (imap-fetch-att.h).
 *  - "NIL" in any case is IMAP_ARG_NIL, which keeps its spelling so that
 *    a mailbox named NIL still reads as an astring.
 *  - Runs of spaces count as one, before CRLF too; a bare LF ends a line as
 *    CRLF does; empty lines between commands are ignored.
 *  - Quoted strings may hold 8-bit bytes (RFC 6855); literals may hold
 *    anything, NUL included.
 * The UID prefix is not special: "UID" is the command name and the
 * sub-command its first argument. */
#ifndef VVM_IMAP_PARSER_H
#define VVM_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All limits are per command and must be non-zero. */
struct imap_parser_limits {
	/* Bytes of command text: everything but literal data, CRLFs
	 * included, summed over the lines of a command. */
	size_t max_line_length;
	/* Bytes of literal data, summed over the literals of a command,
	 * so it also bounds each one. */
	uint32_t max_literal_size;
	/* Largest non-synchronizing literal: 4096 for LITERAL-, equal to
	 * max_literal_size for LITERAL+. */
	uint32_t max_nonsync_literal_size;
	/* Arguments in the tree, lists and their members all counted. */
	unsigned int max_args;
	/* Nesting of parenthesised lists. */
	unsigned int max_depth;
};

/* Defaults for the not-authenticated state: enough for CAPABILITY,
 * STARTTLS, ID, LOGIN with literals and AUTHENTICATE. */
void imap_parser_limits_preauth(struct imap_parser_limits *limits_r);
/* Defaults once authenticated: room for APPEND of a greeting. */
void imap_parser_limits_auth(struct imap_parser_limits *limits_r);

enum imap_parse_result {
	IMAP_PARSE_DONE,        /* a whole command: imap_parser_command() */
	IMAP_PARSE_NEED_MORE,   /* all input consumed, command incomplete */
	/* A synchronizing literal {n} was announced: send "+ ..." before
	 * the client sends its data. imap_parser_literal() tells its size. */
	IMAP_PARSE_NEED_LITERAL_CONTINUATION,
	IMAP_PARSE_ERROR,       /* imap_parser_error() says what */
};

enum imap_parse_error {
	IMAP_PARSE_ERROR_NONE,
	IMAP_PARSE_ERROR_SYNTAX,
	IMAP_PARSE_ERROR_LINE_TOO_LONG,
	/* A literal over the limit, refused before any of its data was
	 * read; the RFC 7888 [TOOBIG] case. */
	IMAP_PARSE_ERROR_LITERAL_TOO_BIG,
	IMAP_PARSE_ERROR_TOO_COMPLEX,     /* max_args or max_depth */
};

enum imap_arg_type {
	IMAP_ARG_EOL,           /* ends every argument array */
	IMAP_ARG_ATOM,
	IMAP_ARG_NIL,
	IMAP_ARG_STRING,        /* quoted string, unescaped */
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
};

enum imap_arg_flags {
	IMAP_ARG_FLAG_NONSYNC = 1u << 0,  /* literal was {n+} */
	IMAP_ARG_FLAG_LITERAL8 = 1u << 1, /* literal was ~{n} */
	IMAP_ARG_FLAG_HAS_NUL = 1u << 2,  /* literal data holds a NUL */
};

/* Strings are NUL-terminated; len excludes the terminator. A list's len
 * is its number of members, and list[len] is IMAP_ARG_EOL. */
struct imap_arg {
	enum imap_arg_type type;
	unsigned int flags;
	size_t len;
	union {
		const char *str;
		const struct imap_arg *list;
	} v;
};

struct imap_command {
	const char *tag;
	const char *name;             /* as sent; see imap_command_is() */
	const struct imap_arg *args;  /* count members, then IMAP_ARG_EOL */
	unsigned int count;
};

struct imap_parser;

/* Returns a parser that enforces a copy of limits. Aborts on OOM, as a
 * shim process may. */
struct imap_parser *imap_parser_create(const struct imap_parser_limits *limits);
/* Frees the parser and everything it returned; NULLs *parser. */
void imap_parser_destroy(struct imap_parser **parser);

/* Switches limits, typically to imap_parser_limits_auth() after login.
 * Returns 0, -EINVAL for a zero limit, or -EBUSY in the middle of a
 * command. */
int imap_parser_set_limits(struct imap_parser *parser,
			   const struct imap_parser_limits *limits);

/* Parses up to len bytes and sets *consumed_r to how many it used; the
 * caller passes the rest in the next call. Returns NEED_MORE only when it
 * consumed everything; DONE, NEED_LITERAL_CONTINUATION and ERROR consume
 * at least one byte. After DONE or ERROR the next call starts a new
 * command; after ERROR it first skips the rest of the bad line and the
 * data of a non-synchronizing literal that line announced. What
 * imap_parser_command() and imap_parser_error() return stays valid until
 * that next call. */
enum imap_parse_result imap_parser_feed(struct imap_parser *parser,
					const void *data, size_t len,
					size_t *consumed_r);

/* Returns the command after IMAP_PARSE_DONE, else NULL. */
const struct imap_command *
imap_parser_command(const struct imap_parser *parser);

/* After IMAP_PARSE_ERROR: returns the kind of error and sets *message_r to
 * static text for after "BAD ", and *tag_r to the command's tag, or to
 * NULL when the line broke before a valid tag (answer "* BAD"). */
enum imap_parse_error imap_parser_error(const struct imap_parser *parser,
					const char **message_r,
					const char **tag_r);

/* While a literal is announced or being read: returns true and sets
 * *size_r and *nonsync_r (whether it was {n+}). Else returns false. */
bool imap_parser_literal(const struct imap_parser *parser, uint32_t *size_r,
			 bool *nonsync_r);

/* Reads one line outside the command grammar, between commands: a SASL
 * response during AUTHENTICATE, or IDLE's "DONE". Same contract as
 * imap_parser_feed() but never returns NEED_LITERAL_CONTINUATION; on DONE
 * *line_r is the line without its CRLF (or LF), NUL-terminated and valid
 * until the next call. A line over max_line_length or holding a NUL is an
 * error, after which the rest of it is skipped. */
enum imap_parse_result imap_parser_read_line(struct imap_parser *parser,
					     const void *data, size_t len,
					     size_t *consumed_r,
					     const char **line_r);

/* Compares the command name with name case-insensitively. */
bool imap_command_is(const struct imap_command *cmd, const char *name);

/* RFC 3501 character classes, for 7-bit c only. */
bool imap_is_atom_char(unsigned char c);
bool imap_is_astring_char(unsigned char c);  /* atom chars and "]" */
bool imap_is_list_char(unsigned char c);     /* astring chars, "%", "*" */

/* Accessors: each returns true and sets its output when arg has the
 * right shape, else returns false and leaves the output alone. */

/* Any atom, NIL included, as raw text (sequence sets, flags, keywords). */
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
/* Whether arg is an atom or NIL equal to name, case-insensitively. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *name);
/* Quoted string or literal without NUL. */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r);
/* astring: strict atom (ASTRING-CHARs only), NIL, or string. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r);
/* nstring: NIL sets *str_r to NULL, else a string. */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r);
/* list-mailbox: an atom of list-chars, or a string. */
bool imap_arg_get_list_mailbox(const struct imap_arg *arg, const char **str_r);
/* Quoted string or literal as bytes, NUL allowed (APPEND's message). */
bool imap_arg_get_data(const struct imap_arg *arg, const char **data_r,
		       size_t *len_r);
/* A list's members (ending in IMAP_ARG_EOL) and their number. */
bool imap_arg_get_list(const struct imap_arg *arg,
		       const struct imap_arg **list_r, unsigned int *count_r);

/* RFC 3501 number (0..2^32-1) and nz-number (1..2^32-1): digits only, no
 * sign or space. Return 0 and set *num_r, or -EINVAL. */
int imap_parse_number(const char *str, uint32_t *num_r);
int imap_parse_nz_number(const char *str, uint32_t *num_r);

#endif
