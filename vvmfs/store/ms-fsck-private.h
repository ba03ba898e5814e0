/* What the two halves of fsck share: ms-fsck.c reads the records and
 * checks the derived state (counters, change log, quota usage, the
 * expiry index, id counters); ms-fsck-content.c checks what message
 * records point at (bodies, indexes, audio records, renditions) and
 * decides which messages are damaged. */
#ifndef VVM_MS_FSCK_PRIVATE_H
#define VVM_MS_FSCK_PRIVATE_H

#include "mailstore-private.h"

/* A message record as fsck found it. */
struct fsck_message {
	uint32_t mbox_id;
	uint32_t uid;
	struct rec_message rec;
	/* Its content is not its own and cannot be brought back: repair
	 * expunges it (with a tombstone, so that clients learn of it). */
	bool damaged;
};

struct fsck {
	struct mailstore *ms;
	GString *report;
	struct kv_batch *fix; /* NULL: check only */
	int problems;
	unsigned damaged;
	GHashTable *mailboxes;   /* mbox_id -> struct mbox_check */
	GHashTable *subscribers; /* sub_id -> struct sub_check */
	GArray *messages;        /* struct fsck_message, in key order */
	/* msgid -> GArray of guint indexes into messages */
	GHashTable *by_msgid;
	/* msgids whose content a message that stays refers to */
	GHashTable *owned;
	/* sub_id -> uint32_t, the largest message counter in any key */
	GHashTable *msgid_counters;
};

struct mbox_check {
	uint32_t id;
	struct rec_mailbox rec;
	struct rec_mailbox computed;
	GHashTable *changes; /* uid -> modseq of its change entry */
};

struct sub_check {
	struct rec_subscriber rec;
	struct rec_subscriber computed; /* usage of the messages that stay */
};

void fsck_problem(struct fsck *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* "31612345678/INBOX/3.eml" for a report; caller frees. */
char *fsck_message_name(struct fsck *f, const struct fsck_message *m);
/* Notes a message id seen in any key, for the counter check. */
void fsck_note_msgid(struct fsck *f, uint64_t msgid);

/* ms-fsck-content.c: marks damaged messages, fills f->owned, fixes
 * indexes, drops stale renditions and orphaned content. */
int fsck_check_content(struct fsck *f);

#endif
