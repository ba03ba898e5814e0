/* The SMS outbox as a sender works through it: MOUNT/.outbox/sms/<seq>
 * entries read in order, each turned into its short messages, handed out
 * one short message at a time, and unlinked once the peer accepted every
 * one of them. Delivery is at least once: an entry is sent again after a
 * refusal, a lost connection or a restart, but never twice while the
 * peer keeps accepting it. */
#ifndef VVM_SMSD_OUTBOX_H
#define VVM_SMSD_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "smsd-config.h"
#include "smsd-segments.h"

struct smsd_outbox;

struct smsd_item {
	uint64_t seq;
	struct smsd_out *out;
	guint next;       /* short messages handed out (the next one's index) */
	guint answered;   /* ... and answered */
	guint accepted;   /* ... and accepted */
	bool refused;     /* one was refused: the entry goes again, whole */
	bool soon;        /* ... after a second, not after a growing pause */
	bool done;        /* all accepted; removal pending */
	bool retiring;    /* ... and under way */
	unsigned attempts;
	int64_t retry_at; /* monotonic microseconds */
};

struct smsd_outbox *smsd_outbox_create(const struct smsd_config *cfg);
void smsd_outbox_destroy(struct smsd_outbox **ob);

/* Reads the entries not yet known (at most a bounded number are held at
 * a time, the lowest sequence numbers first) and unlinks those whose
 * unlink failed before. Returns how many new entries it loaded, or the
 * error of reading the directory (logged when it starts and ends). */
int smsd_outbox_scan(struct smsd_outbox *ob) G_GNUC_WARN_UNUSED_RESULT;

/* The last scan left entries unread for want of room, and there is room
 * now: scan again rather than wait for the next poll. */
bool smsd_outbox_wants_scan(struct smsd_outbox *ob);

/* The next short message to send: its item, and its index in
 * item->out->segments. NULL when none may go now. */
struct smsd_item *smsd_outbox_next(struct smsd_outbox *ob, int64_t now,
				   guint *segment_r);

/* The next entry to send whole, every short message handed out at once
 * (a command gets the entry, not its parts). NULL when none may go. */
struct smsd_item *smsd_outbox_next_entry(struct smsd_outbox *ob,
					 int64_t now);

/* The peer's answer to one short message. When every short message of
 * the item is accepted, the entry is removed (the item freed when that
 * is reaped); a
 * refusal sends the whole entry again after a growing pause
 * (retry_soon: after a second, as for throttling). */
void smsd_outbox_result(struct smsd_outbox *ob, struct smsd_item *item,
			bool accepted, bool retry_soon, int64_t now);

/* The connection is lost: short messages without an answer will not get
 * one, so their entries go again whole. */
void smsd_outbox_reset(struct smsd_outbox *ob);

/* When the earliest waiting item may go, or -1 when none waits. */
int64_t smsd_outbox_next_time(struct smsd_outbox *ob);

/* Accepted entries are removed in batches (user.vvm.remove, one vvmfs
 * commit each) by a thread. The descriptor is readable when a batch is
 * done; reaping forgets the entries that are gone (or logs why they are
 * not), starts the next batch and returns how many entries it reaped. */
int smsd_outbox_fd(struct smsd_outbox *ob);
unsigned smsd_outbox_reap(struct smsd_outbox *ob);
/* Waits until every accepted entry is removed or failed to be. */
void smsd_outbox_settle(struct smsd_outbox *ob);
/* No entry is held: none to send, none being sent or unlinked. */
bool smsd_outbox_idle(struct smsd_outbox *ob);

#endif
