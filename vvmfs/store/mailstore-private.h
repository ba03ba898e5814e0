#ifndef VVM_MAILSTORE_PRIVATE_H
#define VVM_MAILSTORE_PRIVATE_H

#include "mailstore.h"
#include "db.h"
#include "schema.h"

#define SUB_LOCK_STRIPES 64

struct mailstore {
	struct db *db;
	struct ms_options options;
	/* Serializes the allocation of store-wide ids and the creation and
	 * removal of subscribers. */
	GMutex global_lock;
	GHashTable *counters; /* KV_META counter name -> uint64_t, global_lock */
	/* All changes to one subscriber's data run under its stripe. */
	GMutex sub_locks[SUB_LOCK_STRIPES];
	/* The store's format: 1 only for a store fsck opened before its
	 * upgrade. */
	int format;
	GMutex errors_lock;
	GHashTable *mailbox_errors; /* mbox_id -> last rejection reason */
};

GMutex *ms_sub_lock(struct mailstore *ms, uint32_t sub_id);

/* ms-format.c: checks the store format. Opened for service, an older
 * format is upgraded; -EUCLEAN when it holds damage only fsck --repair
 * can clear, -ENOTSUP for a format this vvmfs does not know, -EIO;
 * *error_r then says why. */
int ms_format_open(struct mailstore *ms, enum ms_open_mode mode,
		   char **error_r)
	G_GNUC_WARN_UNUSED_RESULT;

int ms_get_subscriber(struct mailstore *ms, uint32_t sub_id,
		      struct rec_subscriber *rec_r) G_GNUC_WARN_UNUSED_RESULT;
void ms_put_subscriber(struct kv_batch *batch, uint32_t sub_id,
		       const struct rec_subscriber *rec);
int ms_get_mailbox(struct mailstore *ms, uint32_t mbox_id,
		   struct rec_mailbox *rec_r) G_GNUC_WARN_UNUSED_RESULT;
void ms_put_mailbox(struct kv_batch *batch, uint32_t mbox_id,
		    const struct rec_mailbox *rec);
int ms_get_message(struct mailstore *ms, uint32_t mbox_id, uint32_t uid,
		   struct rec_message *rec_r) G_GNUC_WARN_UNUSED_RESULT;
void ms_put_message(struct kv_batch *batch, uint32_t mbox_id, uint32_t uid,
		    const struct rec_message *rec);
void ms_put_change(struct kv_batch *batch, uint32_t mbox_id, uint64_t modseq,
		   uint32_t uid, uint32_t flags, enum change_kind kind);
/* Adds to batch the removal of a message's content: body, index, audio
 * parts and every cached rendition. */
void ms_delete_content(struct kv_batch *batch, uint64_t msgid);
void ms_delete_change(struct kv_batch *batch, uint32_t mbox_id,
		      uint64_t modseq);
/* Allocates the next value of a store-wide counter in KV_META; call with
 * global_lock held, and commit batch before releasing it. */
int ms_next_counter(struct mailstore *ms, struct kv_batch *batch,
		    const char *name, uint64_t floor, uint64_t *value_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Reads a uint profile value (quota limits): 0 with *value_r, 0 when
 * unset; -EIO when it cannot be read or is not a number, never a
 * value that would lift a limit. */
int ms_profile_uint(struct mailstore *ms, uint32_t sub_id, const char *name,
		    uint64_t *value_r) G_GNUC_WARN_UNUSED_RESULT;

/* Adds a new mailbox to batch; call with global_lock held and commit
 * before releasing it. */
int ms_mailbox_create_locked(struct mailstore *ms, struct kv_batch *batch,
			     uint32_t sub_id, const char *name,
			     uint32_t *id_r) G_GNUC_WARN_UNUSED_RESULT;
/* ms-outbox.c: notifications, queued into the batch of their change. */
enum ms_sync_event {
	MS_SYNC_NEW,      /* NM */
	MS_SYNC_MAILBOX,  /* MBU */
	MS_SYNC_GREETING, /* GU */
};

struct ms_sync {
	enum ms_sync_event ev;
	uint32_t uid;
	unsigned count;      /* unseen in INBOX */
	char type;
	const char *sender;
	int64_t time;
	int64_t length;
};

/* Queues a SYNC if the subscriber's status is active. */
int ms_queue_sync(struct mailstore *ms, struct kv_batch *batch,
		  uint32_t sub_id, const struct ms_sync *sync)
	G_GNUC_WARN_UNUSED_RESULT;
/* Queues the STATUS that announces status st. -EINVAL with *reason_r when
 * the deployment's SMS settings or the profile cannot make a valid one. */
int ms_queue_status(struct mailstore *ms, struct kv_batch *batch,
		    uint32_t sub_id, char st, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;
bool ms_mailbox_is_inbox(const struct rec_mailbox *mbox);
bool ms_mailbox_is_greetings(const struct rec_mailbox *mbox);
/* How a message counts (sign 1) or stops counting (-1) against its
 * subscriber's quota usage, in the mailbox it is in; and in that
 * mailbox's counters. The one rule that commits keep and fsck checks. */
void ms_usage_apply(struct rec_subscriber *sub, const struct rec_mailbox *mbox,
		    const struct rec_message *msg, int sign);
void ms_mailbox_apply(struct rec_mailbox *mbox, const struct rec_message *msg,
		      int sign);
/* Orders uint64_t values, for g_array_sort(). */
static inline int ms_cmp_u64(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}
/* Locks the subscriber that owns mbox_id and reads the mailbox record.
 * On success returns 0 with the lock held; on error unlocked. */
int ms_lock_mailbox(struct mailstore *ms, uint32_t mbox_id,
		    struct rec_mailbox *rec_r, GMutex **lock_r)
	G_GNUC_WARN_UNUSED_RESULT;

#endif
