/* What the parts of fsck share. ms-fsck.c reads the records and runs
 * the checks; ms-fsck-content.c checks what message records point at
 * (bodies, indexes, audio records, renditions) and decides which messages
 * are damaged; ms-fsck-derived.c checks what is derived from the records
 * (counters, change log, quota usage, expiry index, id counters);
 * ms-fsck-recover.c gives message bytes that lost their record a record
 * again, and rebuilds a mailbox record that is lost.
 *
 * Repair never deletes a message's bytes: what no record refers to is
 * given one in its subscriber's Recovered mailbox, or kept and reported
 * when there is no subscriber to give it to. */
#ifndef VVM_MS_FSCK_PRIVATE_H
#define VVM_MS_FSCK_PRIVATE_H

#include "mailstore-private.h"
#include "index.h"

#define FSCK_RECOVERED "Recovered"

/* A message record as fsck found it (or as recovery made it). */
struct fsck_message {
	uint32_t mbox_id;
	uint32_t uid;
	struct rec_message rec;
	/* Its body is not its own and what it held cannot be brought
	 * back: repair expunges it, with a tombstone so that clients
	 * learn of it. */
	bool damaged;
};

struct mbox_check {
	uint32_t id;
	struct rec_mailbox rec;      /* as stored (or rebuilt, or made) */
	struct rec_mailbox present;  /* counts of the records found */
	struct rec_mailbox computed; /* what repair writes */
	GHashTable *changes; /* uid -> modseq of its change entry */
	bool made;           /* rebuilt or created by repair: written whole */
};

struct sub_check {
	struct rec_subscriber rec;
	struct rec_subscriber present;  /* usage of the records found */
	struct rec_subscriber computed; /* what repair writes */
};

/* Content of a message id that no record that stays refers to. */
struct orphan {
	bool body, index, audio;
	GArray *renditions; /* uint8_t formats with a record or bytes */
};

struct fsck {
	struct mailstore *ms;
	GString *report;
	struct kv_batch *fix; /* NULL: check only */
	int problems;
	int unrepaired; /* of the problems, those repair cannot fix */
	unsigned damaged;
	unsigned recovered;
	GHashTable *mailboxes;   /* mbox_id -> struct mbox_check */
	GHashTable *names;       /* mbox_id -> struct mbox_name */
	GHashTable *subscribers; /* sub_id -> struct sub_check */
	GArray *messages;        /* struct fsck_message */
	/* (mbox_id << 32 | uid) of records in a mailbox that do not decode:
	 * the UID stays used, and repair leaves a tombstone for it */
	GHashTable *lost;
	/* msgid -> GArray of guint indexes into messages */
	GHashTable *by_msgid;
	/* msgids whose content a message that stays refers to */
	GHashTable *owned;
	GHashTable *orphans;     /* msgid -> struct orphan */
	/* sub_id -> uint32_t, the largest message counter in any key */
	GHashTable *msgid_counters;
	/* The largest ids the store holds, which the counters must reach */
	uint64_t max_sub_id, seen_mbox_id, seen_uidvalidity;
	/* KV_META counters as repair leaves them (it takes ids too) */
	uint64_t next_mbox_id, last_uidvalidity;
};

/* The mailbox name index ('N' sub_id name -> mbox_id), by id. */
struct mbox_name {
	uint32_t sub_id;
	char *name;
};

void fsck_problem(struct fsck *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* A problem repair leaves as it is; the line says so when repairing. */
void fsck_unrepaired(struct fsck *f, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);
/* "31612345678/INBOX/3.eml" for a report; caller frees. */
char *fsck_message_name(struct fsck *f, const struct fsck_message *m);
/* Notes a message id seen in any key, for the counter checks. */
void fsck_note_msgid(struct fsck *f, uint64_t msgid);

/* ms-fsck-derived.c */
/* Adds a message that stays to its mailbox's and subscriber's counts
 * (what repair writes). */
void fsck_account(struct fsck *f, const struct fsck_message *m);
/* A record found: bounds UIDNEXT and HIGHESTMODSEQ, counts as found, and
 * as staying unless repair expunges it. */
void fsck_account_found(struct fsck *f, const struct fsck_message *m);
/* The UIDs of lost records: bounds UIDNEXT, or (bury) their tombstones. */
void fsck_bound_lost(struct fsck *f, bool bury);
void fsck_expunge_damaged(struct fsck *f, const struct fsck_message *m);
int fsck_load_counter(struct fsck *f, const char *name, uint64_t *value_r)
	G_GNUC_WARN_UNUSED_RESULT;
int fsck_check_names(struct fsck *f) G_GNUC_WARN_UNUSED_RESULT;
int fsck_check_changes(struct fsck *f) G_GNUC_WARN_UNUSED_RESULT;
int fsck_check_expiry(struct fsck *f) G_GNUC_WARN_UNUSED_RESULT;
int fsck_check_mailbox(struct fsck *f, struct mbox_check *m)
	G_GNUC_WARN_UNUSED_RESULT;
void fsck_check_subscriber(struct fsck *f, uint32_t sub_id,
			   struct sub_check *s);
int fsck_check_meta(struct fsck *f) G_GNUC_WARN_UNUSED_RESULT;

/* ms-fsck-content.c */
/* Indexes body as a commit would, whatever its size. */
int fsck_index(GBytes *body, struct index **index_r, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Whether an audio record names audio parts of body (indexed as index). */
bool fsck_audio_fits(GBytes *audio, GBytes *body, const struct index *index);
/* Marks damaged messages, fills f->owned and
 * f->orphans, fixes indexes and audio records, drops renditions that
 * cannot be trusted. -errno when content cannot be read. */
int fsck_check_content(struct fsck *f) G_GNUC_WARN_UNUSED_RESULT;

/* ms-fsck-recover.c */
/* Adds a mailbox to f->mailboxes, its counts to be found. */
struct mbox_check *fsck_mailbox_add(struct fsck *f, uint32_t id,
				    const struct rec_mailbox *rec);
/* Rebuilds the record of mailbox id, which does not decode, from the
 * name index: its messages stay, with a new UIDVALIDITY. Adds it to
 * f->mailboxes, or reports it lost when no name names it (its messages
 * are then recovered as orphans). */
void fsck_rebuild_mailbox(struct fsck *f, uint32_t id);
/* Gives each orphaned body a record in its subscriber's Recovered
 * mailbox, or keeps it and reports it; removes what is left of message
 * ids without a body. Call once the mailboxes' UIDNEXT and HIGHESTMODSEQ
 * are final. -errno when content cannot be read. */
int fsck_recover_orphans(struct fsck *f) G_GNUC_WARN_UNUSED_RESULT;

#endif
