/* Messages: deposit, flags, expunge and move, each one transaction that
 * keeps the message, its change-log entry, the mailbox counters and the
 * subscriber's quota usage in step. */
#include "mailstore-private.h"
#include "index.h"
#include "vvm-flags.h"

#include <errno.h>
#include <string.h>

/* durable: for readers outside the store's locks (see db_get_durable). */
static int read_message(struct mailstore *ms, bool durable, uint32_t mbox_id,
			uint32_t uid, struct rec_message *rec_r)
{
	g_autoptr(GBytes) value = NULL;
	struct key k;
	int ret;

	key_message(&k, mbox_id, uid);
	ret = durable ? db_get_durable(ms->db, KV_MESSAGES, k.data, k.len, &value)
		      : db_get(ms->db, KV_MESSAGES, k.data, k.len, &value);
	if (ret < 0)
		return ret;
	return rec_message_decode(g_bytes_get_data(value, NULL),
				  g_bytes_get_size(value), rec_r) < 0 ? -EIO : 0;
}

int ms_get_message(struct mailstore *ms, uint32_t mbox_id, uint32_t uid,
		   struct rec_message *rec_r)
{
	return read_message(ms, false, mbox_id, uid, rec_r);
}

void ms_put_message(struct kv_batch *batch, uint32_t mbox_id, uint32_t uid,
		    const struct rec_message *rec)
{
	struct key k;

	key_message(&k, mbox_id, uid);
	kv_batch_put_bytes(batch, KV_MESSAGES, k.data, k.len,
			   rec_message_encode(rec));
}

void ms_put_change(struct kv_batch *batch, uint32_t mbox_id, uint64_t modseq,
		   uint32_t uid, uint32_t flags, enum change_kind kind)
{
	struct rec_change change = { uid, flags, (uint8_t)kind };
	struct key k;

	key_change(&k, mbox_id, modseq);
	kv_batch_put_bytes(batch, KV_INDEX, k.data, k.len,
			   rec_change_encode(&change));
}

void ms_delete_change(struct kv_batch *batch, uint32_t mbox_id,
		      uint64_t modseq)
{
	struct key k;

	key_change(&k, mbox_id, modseq);
	kv_batch_delete(batch, KV_INDEX, k.data, k.len);
}

static void message_to_public(uint32_t uid, const struct rec_message *rec,
			      struct ms_message *msg_r)
{
	msg_r->uid = uid;
	msg_r->flags = rec->flags;
	msg_r->msgid = rec->msgid;
	msg_r->modseq = rec->modseq;
	msg_r->internaldate = rec->internaldate;
	msg_r->size = rec->size;
	msg_r->duration = rec->duration;
	msg_r->expires = rec->expires;
}

int ms_message_get(struct mailstore *ms, uint32_t mbox_id, uint32_t uid,
		   struct ms_message *msg_r)
{
	struct rec_message rec;
	/* Readers see only what is durable: a UID seen is a UID kept. */
	int ret = read_message(ms, true, mbox_id, uid, &rec);

	if (ret == 0)
		message_to_public(uid, &rec, msg_r);
	return ret;
}

struct list_msg_ctx {
	int (*cb)(void *ctx, const struct ms_message *msg);
	void *ctx;
};

static int list_msg_one(void *ctx, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	struct list_msg_ctx *c = ctx;
	struct rec_message rec;
	struct ms_message msg;

	if (key_len != 8 || rec_message_decode(value, value_len, &rec) < 0)
		return -EIO;
	message_to_public(key_get_be32((const uint8_t *)key + 4), &rec, &msg);
	return c->cb(c->ctx, &msg);
}

int ms_message_list(struct mailstore *ms, uint32_t mbox_id,
		    uint32_t after_uid,
		    int (*cb)(void *ctx, const struct ms_message *msg),
		    void *ctx)
{
	struct list_msg_ctx c = { cb, ctx };
	struct key prefix, start;

	key_message_prefix(&prefix, mbox_id);
	key_message(&start, mbox_id, after_uid + 1);
	if (after_uid == G_MAXUINT32)
		return 0;
	return db_scan(ms->db, KV_MESSAGES, prefix.data, prefix.len,
		       start.data, start.len, list_msg_one, &c);
}

void ms_usage_apply(struct rec_subscriber *sub, const struct rec_mailbox *mbox,
		    const struct rec_message *msg, int sign)
{
	uint64_t seconds = msg->duration > 0 ? (uint64_t)msg->duration : 0;

	sub->bytes += (uint64_t)sign * msg->size;
	sub->messages += (uint64_t)sign;
	if (ms_mailbox_is_greetings(mbox))
		sub->greeting_seconds += (uint64_t)sign * seconds;
	else
		sub->voice_seconds += (uint64_t)sign * seconds;
}

void ms_mailbox_apply(struct rec_mailbox *mbox, const struct rec_message *msg,
		      int sign)
{
	mbox->messages += (uint32_t)sign;
	mbox->bytes += (uint64_t)sign * msg->size;
	if ((msg->flags & VVM_FLAG_SEEN) == 0)
		mbox->unseen += (uint32_t)sign;
}

/* True when a usage that this change raises ends above its limit; usage
 * over a limit that the change does not raise (the limit was lowered) does
 * not block it. */
static bool over(uint64_t before, uint64_t after, uint64_t limit)
{
	return limit != 0 && after > before && after > limit;
}

static int quota_check(struct mailstore *ms, uint32_t sub_id,
		       const struct rec_subscriber *before,
		       const struct rec_subscriber *after,
		       const char **reason_r)
{
	struct ms_quota q;
	int ret = ms_quota_get(ms, sub_id, &q);

	/* A limit that cannot be read refuses the change: it is not
	 * "unlimited". */
	if (ret < 0) {
		*reason_r = "quota limits unreadable";
		return ret;
	}
	if (over(before->bytes, after->bytes, q.limit_kb * 1024))
		*reason_r = "storage quota exceeded";
	else if (over(before->messages, after->messages, q.limit_messages))
		*reason_r = "message count quota exceeded";
	else if (over(before->voice_seconds, after->voice_seconds,
		      q.limit_voice_seconds))
		*reason_r = "voice seconds quota exceeded";
	else if (over(before->greeting_seconds, after->greeting_seconds,
		      q.limit_greeting_seconds))
		*reason_r = "greeting seconds quota exceeded";
	else
		return 0;
	return -EDQUOT;
}

static void put_expiry(struct kv_batch *batch, uint32_t mbox_id, uint32_t uid,
		       const struct rec_message *msg, bool present)
{
	struct key k;

	if (msg->expires <= 0)
		return;
	key_expiry(&k, msg->expires, mbox_id, uid);
	if (present)
		kv_batch_put(batch, KV_INDEX, k.data, k.len, "", 0);
	else
		kv_batch_delete(batch, KV_INDEX, k.data, k.len);
}

static int flags_check(const struct rec_mailbox *mbox, uint32_t flags,
		       const char **reason_r)
{
	if ((flags & VVM_FLAG_GREETING_ON) != 0 &&
	    !ms_mailbox_is_greetings(mbox)) {
		*reason_r = "$CNS-Greeting-On is allowed only in Greetings";
		return -EINVAL;
	}
	return 0;
}

/* Adds to batch msg as the next UID of mbox, at the next modseq; returns
 * the UID. */
static uint32_t insert_into(struct kv_batch *batch, uint32_t mbox_id,
			    struct rec_mailbox *mbox, struct rec_message *msg)
{
	uint32_t uid = mbox->uidnext++;

	msg->modseq = ++mbox->highestmodseq;
	ms_mailbox_apply(mbox, msg, 1);
	ms_put_message(batch, mbox_id, uid, msg);
	ms_put_change(batch, mbox_id, msg->modseq, uid, msg->flags,
		      CHANGE_PRESENT);
	put_expiry(batch, mbox_id, uid, msg, true);
	ms_put_mailbox(batch, mbox_id, mbox);
	return uid;
}

/* Queues the SYNC a change in mbox calls for: NM or MBU for INBOX (as
 * sync->ev says), GU for Greetings, none elsewhere. */
static int notify_change(struct mailstore *ms, struct kv_batch *batch,
			 const struct rec_mailbox *mbox, struct ms_sync *sync)
{
	if (ms_mailbox_is_greetings(mbox))
		sync->ev = MS_SYNC_GREETING;
	else if (!ms_mailbox_is_inbox(mbox))
		return 0;
	sync->count = mbox->unseen;
	if (sync->time == 0)
		sync->time = g_get_real_time() / G_USEC_PER_SEC;
	return ms_queue_sync(ms, batch, mbox->sub_id, sync);
}

/* The SYNC NM of a message arriving in INBOX, by deposit or move. */
static struct ms_sync sync_new(uint32_t uid, const struct rec_message *msg)
{
	return (struct ms_sync){
		.ev = MS_SYNC_NEW,
		.uid = uid,
		.type = msg->sms_type,
		.sender = msg->sender[0] != '\0' ? msg->sender : NULL,
		.time = msg->internaldate,
		.length = msg->duration,
	};
}

/* Submits batch, releases lock and waits for durability. */
static int commit_unlock(struct mailstore *ms, struct kv_batch **batch,
			 GMutex *lock)
{
	int64_t ticket = db_submit(ms->db, batch);

	g_mutex_unlock(lock);
	return db_wait(ms->db, ticket);
}

int ms_message_deposit(struct mailstore *ms, uint32_t mbox_id,
		       const struct ms_deposit *deposit, uint32_t *uid_r,
		       const char **reason_r)
{
	struct rec_mailbox mbox;
	struct rec_subscriber sub = { 0 }, before;
	struct rec_message msg = { 0 };
	struct ms_sync sync;
	struct kv_batch *batch;
	GMutex *lock;
	uint32_t uid;
	struct key k;
	int ret;

	ret = ms_lock_mailbox(ms, mbox_id, &mbox, &lock);
	if (ret < 0)
		return ret;
	ret = ms_get_subscriber(ms, mbox.sub_id, &sub);
	before = sub;
	if (ret == 0)
		ret = flags_check(&mbox, deposit->flags, reason_r);
	msg.size = g_bytes_get_size(deposit->canonical);
	msg.duration = deposit->duration;
	msg.expires = deposit->expires;
	msg.flags = deposit->flags & VVM_FLAGS_ALL;
	msg.internaldate = deposit->internaldate != 0
		? deposit->internaldate
		: g_get_real_time() / G_USEC_PER_SEC;
	msg.sms_type = deposit->sms_type;
	/* A longer number is none SYNC could carry. */
	if (deposit->sender != NULL &&
	    strlen(deposit->sender) < sizeof(msg.sender))
		g_strlcpy(msg.sender, deposit->sender, sizeof(msg.sender));
	ms_usage_apply(&sub, &mbox, &msg, 1);
	if (ret == 0)
		ret = quota_check(ms, mbox.sub_id, &before, &sub, reason_r);
	if (ret == 0 && mbox.uidnext == G_MAXUINT32) {
		*reason_r = "mailbox has used up its UIDs";
		ret = -ENOSPC;
	}
	if (ret == 0 && sub.last_msgid == G_MAXUINT32) {
		*reason_r = "subscriber has used up its message ids";
		ret = -ENOSPC;
	}
	if (ret < 0) {
		g_mutex_unlock(lock);
		return ret;
	}
	/* The counter is in the subscriber record this batch writes anyway
	 * (quota usage), under the lock that orders its writers. */
	msg.msgid = MSGID_MAKE(mbox.sub_id, ++sub.last_msgid);

	batch = kv_batch_create();
	key_body(&k, msg.msgid);
	kv_batch_put_bytes(batch, KV_BODIES, k.data, k.len,
			   g_bytes_ref(deposit->canonical));
	key_index(&k, msg.msgid);
	kv_batch_put_bytes(batch, KV_INDEX, k.data, k.len,
			   g_bytes_ref(deposit->index));
	if (deposit->audio != NULL) {
		key_audio(&k, msg.msgid);
		kv_batch_put_bytes(batch, KV_INDEX, k.data, k.len,
				   g_bytes_ref(deposit->audio));
	}
	uid = insert_into(batch, mbox_id, &mbox, &msg);
	ms_put_subscriber(batch, mbox.sub_id, &sub);
	sync = sync_new(uid, &msg);
	ret = notify_change(ms, batch, &mbox, &sync);
	if (ret < 0) {
		kv_batch_destroy(&batch);
		g_mutex_unlock(lock);
		return ret;
	}
	ret = commit_unlock(ms, &batch, lock);
	if (ret == 0)
		*uid_r = uid;
	return ret;
}

int ms_message_store_flags(struct mailstore *ms, uint32_t mbox_id,
			   uint32_t uid, int op, uint32_t flags,
			   struct ms_message *msg_r, const char **reason_r)
{
	struct rec_mailbox mbox;
	struct rec_message msg;
	struct kv_batch *batch;
	uint32_t old_flags, new_flags;
	GMutex *lock;
	int ret;

	ret = ms_lock_mailbox(ms, mbox_id, &mbox, &lock);
	if (ret < 0)
		return ret;
	ret = ms_get_message(ms, mbox_id, uid, &msg);
	new_flags = vvm_flags_apply(msg.flags, op, flags & VVM_FLAGS_ALL);
	if (ret == 0)
		ret = flags_check(&mbox, new_flags, reason_r);
	if (ret < 0 || new_flags == msg.flags) {
		if (ret == 0)
			message_to_public(uid, &msg, msg_r);
		g_mutex_unlock(lock);
		return ret;
	}
	batch = kv_batch_create();
	old_flags = msg.flags;
	ms_mailbox_apply(&mbox, &msg, -1);
	ms_delete_change(batch, mbox_id, msg.modseq);
	msg.flags = new_flags;
	msg.modseq = ++mbox.highestmodseq;
	ms_mailbox_apply(&mbox, &msg, 1);
	ms_put_message(batch, mbox_id, uid, &msg);
	ms_put_change(batch, mbox_id, msg.modseq, uid, msg.flags,
		      CHANGE_PRESENT);
	ms_put_mailbox(batch, mbox_id, &mbox);
	/* Only activating or deactivating a greeting concerns the client. */
	if (ms_mailbox_is_greetings(&mbox) &&
	    ((old_flags ^ new_flags) & VVM_FLAG_GREETING_ON) != 0)
		ret = notify_change(ms, batch, &mbox, &(struct ms_sync){
			.ev = MS_SYNC_GREETING, .uid = uid });
	if (ret < 0) {
		kv_batch_destroy(&batch);
		g_mutex_unlock(lock);
		return ret;
	}
	ret = commit_unlock(ms, &batch, lock);
	if (ret == 0)
		message_to_public(uid, &msg, msg_r);
	return ret;
}

/* Adds to batch the removal of uid from mbox, leaving a tombstone. With
 * keep_content the body and index stay (the message moves elsewhere). */
static void expunge_into(struct kv_batch *batch, uint32_t mbox_id,
			 struct rec_mailbox *mbox, uint32_t uid,
			 const struct rec_message *msg, bool keep_content)
{
	struct key k;

	if (!keep_content)
		ms_delete_content(batch, msg->msgid);
	key_message(&k, mbox_id, uid);
	kv_batch_delete(batch, KV_MESSAGES, k.data, k.len);
	put_expiry(batch, mbox_id, uid, msg, false);
	ms_delete_change(batch, mbox_id, msg->modseq);
	ms_mailbox_apply(mbox, msg, -1);
	ms_put_change(batch, mbox_id, ++mbox->highestmodseq, uid, 0,
		      CHANGE_EXPUNGED);
	ms_put_mailbox(batch, mbox_id, mbox);
}

int ms_message_expunge(struct mailstore *ms, uint32_t mbox_id, uint32_t uid)
{
	struct rec_mailbox mbox;
	struct rec_subscriber sub;
	struct rec_message msg;
	struct kv_batch *batch;
	GMutex *lock;
	int ret;

	ret = ms_lock_mailbox(ms, mbox_id, &mbox, &lock);
	if (ret < 0)
		return ret;
	ret = ms_get_message(ms, mbox_id, uid, &msg);
	if (ret == 0)
		ret = ms_get_subscriber(ms, mbox.sub_id, &sub);
	if (ret < 0) {
		g_mutex_unlock(lock);
		return ret;
	}
	batch = kv_batch_create();
	expunge_into(batch, mbox_id, &mbox, uid, &msg, false);
	ms_usage_apply(&sub, &mbox, &msg, -1);
	ms_put_subscriber(batch, mbox.sub_id, &sub);
	ret = notify_change(ms, batch, &mbox, &(struct ms_sync){
		.ev = MS_SYNC_MAILBOX, .uid = uid });
	if (ret < 0) {
		kv_batch_destroy(&batch);
		g_mutex_unlock(lock);
		return ret;
	}
	return commit_unlock(ms, &batch, lock);
}

int ms_message_move(struct mailstore *ms, uint32_t src_mbox, uint32_t uid,
		    uint32_t dst_mbox, uint32_t *new_uid_r, const char **reason_r)
{
	struct rec_mailbox src, dst;
	struct rec_subscriber sub, after;
	struct rec_message msg;
	struct ms_sync sync;
	struct kv_batch *batch;
	uint32_t new_uid;
	GMutex *lock;
	int ret;

	if (src_mbox == dst_mbox)
		return -EINVAL;
	ret = ms_lock_mailbox(ms, src_mbox, &src, &lock);
	if (ret < 0)
		return ret;
	ret = ms_get_mailbox(ms, dst_mbox, &dst);
	if (ret == 0 && dst.sub_id != src.sub_id)
		ret = -EXDEV;
	if (ret == 0 && dst.uidnext == G_MAXUINT32)
		ret = -ENOSPC;
	if (ret == 0)
		ret = ms_get_message(ms, src_mbox, uid, &msg);
	if (ret == 0)
		ret = ms_get_subscriber(ms, src.sub_id, &sub);
	if (ret == 0) {
		/* Voice seconds become greeting seconds, or the reverse. */
		after = sub;
		ms_usage_apply(&after, &src, &msg, -1);
		ms_usage_apply(&after, &dst, &msg, 1);
		ret = quota_check(ms, src.sub_id, &sub, &after, reason_r);
	}
	if (ret < 0) {
		g_mutex_unlock(lock);
		return ret;
	}
	batch = kv_batch_create();
	expunge_into(batch, src_mbox, &src, uid, &msg, true);
	if (!ms_mailbox_is_greetings(&dst))
		msg.flags &= ~(uint32_t)VVM_FLAG_GREETING_ON;
	new_uid = insert_into(batch, dst_mbox, &dst, &msg);
	ms_put_subscriber(batch, src.sub_id, &after);
	ret = notify_change(ms, batch, &src, &(struct ms_sync){
		.ev = MS_SYNC_MAILBOX, .uid = uid });
	sync = sync_new(new_uid, &msg);
	if (ret == 0)
		ret = notify_change(ms, batch, &dst, &sync);
	if (ret < 0) {
		kv_batch_destroy(&batch);
		g_mutex_unlock(lock);
		return ret;
	}
	ret = commit_unlock(ms, &batch, lock);
	if (ret == 0)
		*new_uid_r = new_uid;
	return ret;
}

int ms_message_body(struct mailstore *ms, uint64_t msgid, GBytes **body_r)
{
	struct key k;

	key_body(&k, msgid);
	return db_get_durable(ms->db, KV_BODIES, k.data, k.len, body_r);
}

int ms_message_audio(struct mailstore *ms, uint64_t msgid, GBytes **audio_r)
{
	struct key k;

	key_audio(&k, msgid);
	return db_get_durable(ms->db, KV_INDEX, k.data, k.len, audio_r);
}

int ms_message_index(struct mailstore *ms, uint64_t msgid,
		     struct index **index_r)
{
	g_autoptr(GBytes) value = NULL;
	struct key k;
	int ret;

	key_index(&k, msgid);
	ret = db_get_durable(ms->db, KV_INDEX, k.data, k.len, &value);
	if (ret < 0)
		return ret;
	return index_deserialize(g_bytes_get_data(value, NULL),
				 g_bytes_get_size(value), index_r) < 0 ? -EIO
								       : 0;
}
