/* Mailboxes: IMAP CREATE, RENAME and DELETE, and their records. */
#include "mailstore-private.h"

#include <errno.h>
#include <string.h>

/* durable: for readers outside the store's locks (see db_get_durable). */
static int read_mailbox(struct mailstore *ms, bool durable, uint32_t mbox_id,
			struct rec_mailbox *rec_r)
{
	g_autoptr(GBytes) value = NULL;
	struct key k;
	int ret;

	key_mailbox(&k, mbox_id);
	ret = durable ? db_get_durable(ms->db, KV_MAILBOXES, k.data, k.len,
				       &value)
		      : db_get(ms->db, KV_MAILBOXES, k.data, k.len, &value);
	if (ret < 0)
		return ret;
	return rec_mailbox_decode(value, rec_r) < 0 ? -EIO : 0;
}

int ms_get_mailbox(struct mailstore *ms, uint32_t mbox_id,
		   struct rec_mailbox *rec_r)
{
	return read_mailbox(ms, false, mbox_id, rec_r);
}

void ms_put_mailbox(struct kv_batch *batch, uint32_t mbox_id,
		    const struct rec_mailbox *rec)
{
	struct key k;

	key_mailbox(&k, mbox_id);
	kv_batch_put_bytes(batch, KV_MAILBOXES, k.data, k.len,
			   rec_mailbox_encode(rec));
}

int ms_lock_mailbox(struct mailstore *ms, uint32_t mbox_id,
		    struct rec_mailbox *rec_r, GMutex **lock_r)
{
	GMutex *lock;
	int ret;

	/* A mailbox never changes owner, so the first read picks the lock. */
	ret = ms_get_mailbox(ms, mbox_id, rec_r);
	if (ret < 0)
		return ret;
	lock = ms_sub_lock(ms, rec_r->sub_id);
	g_mutex_lock(lock);
	ret = ms_get_mailbox(ms, mbox_id, rec_r);
	if (ret < 0) {
		g_mutex_unlock(lock);
		return ret;
	}
	*lock_r = lock;
	return 0;
}

bool ms_mailbox_is_special(const char *name)
{
	return strcmp(name, "INBOX") == 0 || strcmp(name, "Greetings") == 0;
}

bool ms_mailbox_is_inbox(const struct rec_mailbox *mbox)
{
	return strcmp(mbox->name, "INBOX") == 0;
}

bool ms_mailbox_is_greetings(const struct rec_mailbox *mbox)
{
	return strcmp(mbox->name, "Greetings") == 0;
}

bool ms_mailbox_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 255 || name[0] == '.' ||
	    strcmp(name, "profile") == 0 || !g_utf8_validate(name, -1, NULL))
		return false;
	if (g_ascii_strcasecmp(name, "INBOX") == 0 &&
	    strcmp(name, "INBOX") != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)name[i] < ' ' || name[i] == 0x7f ||
		    name[i] == '/')
			return false;
	}
	return true;
}

int ms_mailbox_lookup(struct mailstore *ms, uint32_t sub_id,
		      const char *name, uint32_t *id_r)
{
	g_autoptr(GBytes) value = NULL;
	struct key k;
	int ret;

	if (strlen(name) > 255)
		return -ENOENT;
	key_mailbox_name(&k, sub_id, name);
	ret = db_get(ms->db, KV_MAILBOXES, k.data, k.len, &value);
	if (ret < 0)
		return ret;
	return rec_id_decode(value, id_r);
}

int ms_mailbox_create_locked(struct mailstore *ms, struct kv_batch *batch,
			     uint32_t sub_id, const char *name, uint32_t *id_r)
{
	struct rec_mailbox rec = { 0 };
	uint64_t id, uidvalidity;
	int64_t now = g_get_real_time() / G_USEC_PER_SEC;
	uint32_t be_id;
	struct key k;
	int ret;

	ret = ms_next_counter(ms, batch, "next_mbox_id", 1, &id);
	if (ret == 0)
		ret = ms_next_counter(ms, batch, "last_uidvalidity",
				      (uint64_t)now, &uidvalidity);
	if (ret < 0)
		return ret;
	if (id > MS_MAILBOX_ID_MAX || uidvalidity > G_MAXUINT32)
		return -ENOSPC;
	rec.sub_id = sub_id;
	rec.uidvalidity = (uint32_t)uidvalidity;
	rec.uidnext = 1;
	rec.created = now;
	g_strlcpy(rec.name, name, sizeof(rec.name));
	ms_put_mailbox(batch, (uint32_t)id, &rec);
	key_mailbox_name(&k, sub_id, name);
	be_id = GUINT32_TO_BE((uint32_t)id);
	kv_batch_put(batch, KV_MAILBOXES, k.data, k.len, &be_id, 4);
	*id_r = (uint32_t)id;
	return 0;
}

int ms_mailbox_create(struct mailstore *ms, uint32_t sub_id, const char *name,
		      uint32_t *id_r)
{
	struct rec_subscriber sub;
	struct kv_batch *batch = NULL;
	GMutex *lock = ms_sub_lock(ms, sub_id);
	uint32_t existing;
	int ret;

	if (!ms_mailbox_name_valid(name))
		return -EINVAL;
	g_mutex_lock(&ms->global_lock);
	g_mutex_lock(lock);
	ret = ms_get_subscriber(ms, sub_id, &sub);
	if (ret == 0) {
		ret = ms_mailbox_lookup(ms, sub_id, name, &existing);
		ret = ret == 0 ? -EEXIST : ret == -ENOENT ? 0 : ret;
	}
	if (ret == 0) {
		batch = kv_batch_create();
		ret = ms_mailbox_create_locked(ms, batch, sub_id, name, id_r);
	}
	if (ret == 0)
		ret = db_commit(ms->db, &batch);
	kv_batch_destroy(&batch);
	g_mutex_unlock(lock);
	g_mutex_unlock(&ms->global_lock);
	return ret;
}

static int delete_tombstone(void *ctx, const void *key, size_t key_len,
			    const void *value, size_t value_len)
{
	kv_batch_delete(ctx, KV_INDEX, key, key_len);
	return 0;
}

int ms_mailbox_remove(struct mailstore *ms, uint32_t sub_id, const char *name)
{
	struct rec_mailbox rec;
	struct kv_batch *batch;
	GMutex *lock = ms_sub_lock(ms, sub_id);
	uint32_t id;
	struct key k;
	int ret;

	if (ms_mailbox_is_special(name))
		return -EPERM;
	g_mutex_lock(lock);
	ret = ms_mailbox_lookup(ms, sub_id, name, &id);
	if (ret == 0)
		ret = ms_get_mailbox(ms, id, &rec);
	if (ret == 0 && rec.messages > 0)
		ret = -ENOTEMPTY;
	if (ret < 0) {
		g_mutex_unlock(lock);
		return ret;
	}
	batch = kv_batch_create();
	key_mailbox_name(&k, sub_id, name);
	kv_batch_delete(batch, KV_MAILBOXES, k.data, k.len);
	key_mailbox(&k, id);
	kv_batch_delete(batch, KV_MAILBOXES, k.data, k.len);
	/* What remains of the change log are tombstones, some perhaps
	 * still in flight. */
	key_change_prefix(&k, id);
	ret = db_wait_all(ms->db);
	if (ret == 0)
		ret = db_scan(ms->db, KV_INDEX, k.data, k.len, NULL, 0,
		      delete_tombstone, batch);
	if (ret == 0)
		ret = db_commit(ms->db, &batch);
	kv_batch_destroy(&batch);
	g_mutex_unlock(lock);
	return ret;
}

int ms_mailbox_rename(struct mailstore *ms, uint32_t sub_id, const char *from,
		      const char *to)
{
	struct rec_mailbox rec;
	struct kv_batch *batch;
	GMutex *lock = ms_sub_lock(ms, sub_id);
	uint32_t id, existing, be_id;
	struct key k;
	int ret;

	/* A special target exists, and is refused below as such. */
	if (ms_mailbox_is_special(from))
		return -EPERM;
	if (!ms_mailbox_name_valid(to))
		return -EINVAL;
	g_mutex_lock(lock);
	ret = ms_mailbox_lookup(ms, sub_id, from, &id);
	if (ret == 0)
		ret = ms_get_mailbox(ms, id, &rec);
	if (ret == 0) {
		ret = ms_mailbox_lookup(ms, sub_id, to, &existing);
		ret = ret == 0 ? -EEXIST : ret == -ENOENT ? 0 : ret;
	}
	if (ret < 0) {
		g_mutex_unlock(lock);
		return ret;
	}
	batch = kv_batch_create();
	key_mailbox_name(&k, sub_id, from);
	kv_batch_delete(batch, KV_MAILBOXES, k.data, k.len);
	key_mailbox_name(&k, sub_id, to);
	be_id = GUINT32_TO_BE(id);
	kv_batch_put(batch, KV_MAILBOXES, k.data, k.len, &be_id, 4);
	g_strlcpy(rec.name, to, sizeof(rec.name));
	ms_put_mailbox(batch, id, &rec);
	ret = db_commit(ms->db, &batch);
	g_mutex_unlock(lock);
	return ret;
}

int ms_mailbox_get(struct mailstore *ms, uint32_t id, struct ms_mailbox *mbox_r)
{
	struct rec_mailbox rec;
	int ret = read_mailbox(ms, true, id, &rec);

	if (ret < 0)
		return ret;
	mbox_r->id = id;
	mbox_r->sub_id = rec.sub_id;
	mbox_r->name = g_strdup(rec.name);
	mbox_r->uidvalidity = rec.uidvalidity;
	mbox_r->uidnext = rec.uidnext;
	mbox_r->highestmodseq = rec.highestmodseq;
	mbox_r->messages = rec.messages;
	mbox_r->unseen = rec.unseen;
	mbox_r->bytes = rec.bytes;
	mbox_r->created = rec.created;
	return 0;
}

void ms_mailbox_clear(struct ms_mailbox *mbox)
{
	g_clear_pointer(&mbox->name, g_free);
}

struct list_mbox_ctx {
	int (*cb)(void *ctx, const char *name, uint32_t id);
	void *ctx;
};

static int list_mbox_one(void *ctx, const void *key, size_t key_len,
			 const void *value, size_t value_len)
{
	struct list_mbox_ctx *c = ctx;
	char name[256];

	/* 'N' + sub_id + name */
	if (value_len != 4 || key_len < 6 || key_len - 5 >= sizeof(name))
		return 0;
	memcpy(name, (const char *)key + 5, key_len - 5);
	name[key_len - 5] = '\0';
	return c->cb(c->ctx, name, key_get_be32(value));
}

int ms_mailbox_list(struct mailstore *ms, uint32_t sub_id,
		    int (*cb)(void *ctx, const char *name, uint32_t id),
		    void *ctx)
{
	struct list_mbox_ctx c = { cb, ctx };
	struct key k;

	key_mailbox_name_prefix(&k, sub_id);
	return db_scan(ms->db, KV_MAILBOXES, k.data, k.len, NULL, 0,
		       list_mbox_one, &c);
}

void ms_mailbox_set_error(struct mailstore *ms, uint32_t mbox_id,
			  const char *reason)
{
	g_mutex_lock(&ms->errors_lock);
	g_hash_table_replace(ms->mailbox_errors, GUINT_TO_POINTER(mbox_id),
			     g_strdup(reason));
	g_mutex_unlock(&ms->errors_lock);
}

char *ms_mailbox_get_error(struct mailstore *ms, uint32_t mbox_id)
{
	char *reason;

	g_mutex_lock(&ms->errors_lock);
	reason = g_strdup(g_hash_table_lookup(ms->mailbox_errors,
					      GUINT_TO_POINTER(mbox_id)));
	g_mutex_unlock(&ms->errors_lock);
	return reason;
}
