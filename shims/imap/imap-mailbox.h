/* The selected mailbox as this session knows it: the map from sequence
 * numbers to UIDs and flags, kept in step with vvmfs's change feed
 * (MAILBOX/.changes/<modseq>). */
#ifndef VVM_IMAP_MAILBOX_H
#define VVM_IMAP_MAILBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

struct imap_session;

struct imap_msg {
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags;      /* enum vvm_flag bits */
	bool recent;
	/* Gone from the store, but the client still counts it: its EXPUNGE
	 * waits for a command during which one may be sent. */
	bool expunged;
};

/* What FETCH needs of a message without opening it, from the mailbox's
 * .changes/0.full. */
struct msg_summary {
	uint64_t size;
	int64_t internaldate;
	char *envelope;
	char *bodystructure;
	char *body;
	char *sections;
	char *header;        /* the top-level header block, from offset 0 */
	size_t header_len;
};

struct imap_mailbox {
	char *name;          /* as the client sees it: "INBOX", "Greetings" */
	char *dir;           /* its path on the mount */
	bool readonly;       /* EXAMINE */
	bool greetings;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	GArray *msgs;        /* of struct imap_msg, index = sequence - 1 */
	/* Messages with UIDs from here on arrived during this session and
	 * are \Recent to it. */
	uint32_t recent_floor;
	/* uid -> struct msg_summary, read at the first FETCH that needs it
	 * and again once the mailbox has moved on. */
	GHashTable *summaries;
	uint64_t summaries_modseq;
};

/* The directory name on the mount of the IMAP mailbox name: INBOX in any
 * case is INBOX. Returns NULL for a name no mailbox can have. */
char *imap_mailbox_dir_name(const char *name);

/* Opens the mailbox named name (an IMAP name) and reads its state.
 * Returns 0, -ENOENT when there is no such mailbox, or -errno. */
int imap_mailbox_open(struct imap_session *s, const char *name,
		      bool readonly, struct imap_mailbox **box_r)
	G_GNUC_WARN_UNUSED_RESULT;
void imap_mailbox_close(struct imap_mailbox **box);

/* Reads what changed since the last sync and tells the client: FETCH
 * FLAGS for changed flags, EXISTS and RECENT for new messages, and, when
 * allow_expunge, EXPUNGE for messages that went away. Returns 0 or
 * -errno. */
int imap_mailbox_sync(struct imap_session *s, bool allow_expunge)
	G_GNUC_WARN_UNUSED_RESULT;

/* Sends EXPUNGE for every message marked expunged (silent: just drops
 * them) and removes them from the map. */
void imap_mailbox_flush_expunges(struct imap_session *s, bool silent);

static inline uint32_t imap_mailbox_count(const struct imap_mailbox *box)
{
	return box->msgs->len;
}

static inline struct imap_msg *imap_mailbox_msg(struct imap_mailbox *box,
						uint32_t seq)
{
	return &g_array_index(box->msgs, struct imap_msg, seq - 1);
}

/* The sequence number of uid, or 0 when it is not in the map. */
uint32_t imap_mailbox_seq(const struct imap_mailbox *box, uint32_t uid);

/* The summary of uid, reading the mailbox's if it is older than what the
 * session knows; NULL when there is none (the caller opens the file). */
const struct msg_summary *imap_mailbox_summary(struct imap_mailbox *box,
					       uint32_t uid);

/* The path of a message's file; a new string. */
char *imap_mailbox_msg_path(const struct imap_mailbox *box, uint32_t uid);

/* Appends the flags as IMAP shows them, \Recent included. */
void imap_msg_format_flags(const struct imap_msg *msg, GString *out);

/* Sends "* seq FETCH (FLAGS ...)", with the UID in a UID command. */
void imap_mailbox_send_flags(struct imap_session *s, uint32_t seq);

/* Records flags read back after this session changed them, so the next
 * sync does not report its own change. */
void imap_mailbox_note_flags(struct imap_mailbox *box, uint32_t seq,
			     uint32_t flags, uint64_t modseq);

#endif
