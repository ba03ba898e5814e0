/* One IMAP connection: its state, I/O and the replies every command
 * shares. The session keeps nothing beyond the connection; everything it
 * knows of mail it reads from the vvmfs mount. */
#ifndef VVM_IMAP_SESSION_H
#define VVM_IMAP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "imap-config.h"
#include "imap-parser.h"

struct shim_io;
struct shim_tls;
struct imap_mailbox;

enum imap_state {
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

enum imap_reply_kind {
	IMAP_REPLY_NONE,   /* the command sent its own tagged reply */
	IMAP_REPLY_OK,
	IMAP_REPLY_NO,
	IMAP_REPLY_BAD,
};

struct imap_session {
	const struct imap_config *config;
	struct shim_io *io;
	struct shim_tls *tls;      /* loaded at the first STARTTLS */
	struct imap_parser *parser;
	enum imap_state state;

	/* After login: the subscriber, and the path of its directory
	 * ("MOUNT/<msisdn>", or "" once chrooted into it). */
	char *msisdn;
	char *root;
	int session_fd;            /* holds the .sessions/imap slot */
	int login_ticket;          /* a password check in flight, or -1 */
	/* Before login: the end of the time allowed, however busy the
	 * client keeps the connection, and the invalid commands so far. */
	gint64 login_deadline;
	unsigned int bad_commands;

	struct imap_mailbox *box;  /* while selected */
	/* The subscriber's accept list is set (at login or by SETMETADATA):
	 * bodies and their structure come from the message's rendition. */
	bool transcode;

	/* The command being answered. */
	char *tag;                 /* copied: reads reuse the parser */
	bool uid_command;          /* UID FETCH/STORE/SEARCH/EXPUNGE */
	enum imap_reply_kind reply;
	GString *reply_text;
};

/* Runs the session to its end. Returns the process exit status. */
int imap_session_run(const struct imap_config *config, struct shim_io *io,
		     struct shim_tls *tls);

/* The tagged reply the command ends with, sent after any untagged
 * updates; text may start with a [CODE]. */
void imap_reply(struct imap_session *s, enum imap_reply_kind kind,
		const char *fmt, ...) G_GNUC_PRINTF(3, 4);
#define imap_ok(s, ...) imap_reply(s, IMAP_REPLY_OK, __VA_ARGS__)
#define imap_no(s, ...) imap_reply(s, IMAP_REPLY_NO, __VA_ARGS__)
#define imap_bad(s, ...) imap_reply(s, IMAP_REPLY_BAD, __VA_ARGS__)
/* NO [UNAVAILABLE] for a command the mount failed (ret, logged with
 * what): a temporary failure, never an answer guessed without the value
 * that could not be read. */
void imap_no_unavailable(struct imap_session *s, const char *what, int ret);

/* Untagged and continuation output, queued until the next flush. */
void imap_send(struct imap_session *s, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);
void imap_send_data(struct imap_session *s, const void *data, size_t len);
/* Flushes output; false when the client is gone. */
bool imap_flush(struct imap_session *s);

/* Reads one line outside the command grammar (AUTHENTICATE responses,
 * IDLE's DONE), waiting at most timeout_ms (-1: the session's idle
 * limit). Returns 0 and *line_r (valid until the next read), -ETIMEDOUT,
 * -EPROTO for a bad line, or -EPIPE when the client is gone. */
int imap_read_line(struct imap_session *s, int timeout_ms,
		   const char **line_r) G_GNUC_WARN_UNUSED_RESULT;

/* Writes an IMAP string: quoted when it can be, else a literal. */
void imap_send_string(struct imap_session *s, const char *str, size_t len);
/* Appends str as an astring: bare when every byte is an ASTRING-CHAR,
 * else quoted, else a literal. */
void imap_append_astring(GString *out, const char *str);

/* The path of rel inside the subscriber's directory; a new string. */
char *imap_path(const struct imap_session *s, const char *rel);

#endif
