/* Group commit with a read-your-writes overlay; see db.h. */
#include "db.h"
#include "schema.h"

#include <errno.h>
#include <string.h>

struct overlay_entry {
	GBytes *value;  /* NULL: deleted */
	int64_t ticket; /* the batch that wrote it */
};

struct db {
	const struct kv_backend *backend;
	struct kv *kv;

	GMutex lock;
	GCond written_cond;
	/* (table, key) -> struct overlay_entry, for batches not yet durable */
	GHashTable *overlay;
	GPtrArray *queued;       /* struct kv_batch *, in ticket order */
	/* sequence name -> uint64_t, the last number handed out; loaded
	 * from KV_META at first use */
	GHashTable *sequences;
	int64_t last_ticket;     /* handed out */
	int64_t written_ticket;  /* durable up to here */
	bool leader_busy;
	bool failed;
};

static GBytes *overlay_key(enum kv_table table, const void *key,
			   size_t key_len)
{
	guint8 *buf = g_malloc(key_len + 1);

	buf[0] = (guint8)table;
	memcpy(buf + 1, key, key_len);
	return g_bytes_new_take(buf, key_len + 1);
}

static void overlay_entry_free(gpointer data)
{
	struct overlay_entry *entry = data;

	if (entry->value != NULL)
		g_bytes_unref(entry->value);
	g_free(entry);
}

int db_open(const char *dir, enum kv_open_mode mode, struct db **db_r,
	    char **error_r)
{
	struct db *db = g_new0(struct db, 1);
	int ret;

	db->backend = &kv_rocksdb_backend;
	ret = db->backend->open(dir, mode, &db->kv, error_r);
	if (ret < 0) {
		g_free(db);
		return ret;
	}
	g_mutex_init(&db->lock);
	g_cond_init(&db->written_cond);
	db->overlay = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
					    (GDestroyNotify)g_bytes_unref,
					    overlay_entry_free);
	db->queued = g_ptr_array_new();
	db->sequences = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					      g_free);
	*db_r = db;
	return 0;
}

void db_close(struct db **dbp)
{
	struct db *db = *dbp;

	if (db == NULL)
		return;
	g_assert(db->queued->len == 0 && !db->leader_busy);
	db->backend->close(db->kv);
	g_hash_table_destroy(db->overlay);
	g_hash_table_destroy(db->sequences);
	g_ptr_array_free(db->queued, TRUE);
	g_mutex_clear(&db->lock);
	g_cond_clear(&db->written_cond);
	g_free(db);
	*dbp = NULL;
}

/* What the overlay holds for a key: true with *ret_r 0 and *value_r, or
 * -ENOENT for a deletion; false when the key is not in flight. Called
 * with the lock held. */
static bool overlay_find(struct db *db, enum kv_table table, const void *key,
			 size_t key_len, int *ret_r, GBytes **value_r)
{
	g_autoptr(GBytes) okey = overlay_key(table, key, key_len);
	struct overlay_entry *entry = g_hash_table_lookup(db->overlay, okey);

	if (entry == NULL)
		return false;
	*ret_r = entry->value == NULL ? -ENOENT : 0;
	if (entry->value != NULL)
		*value_r = g_bytes_ref(entry->value);
	return true;
}

int db_get(struct db *db, enum kv_table table, const void *key,
	   size_t key_len, GBytes **value_r)
{
	bool found;
	int ret = -EIO;

	g_mutex_lock(&db->lock);
	found = db->failed ||
		overlay_find(db, table, key, key_len, &ret, value_r);
	g_mutex_unlock(&db->lock);
	if (found)
		return ret;
	return db->backend->get(db->kv, table, key, key_len, value_r);
}

int db_get_durable(struct db *db, enum kv_table table, const void *key,
		   size_t key_len, GBytes **value_r)
{
	g_autoptr(GBytes) okey = overlay_key(table, key, key_len);
	struct overlay_entry *entry;
	GBytes *value = NULL;
	int64_t ticket = 0;
	int ret;

	g_mutex_lock(&db->lock);
	entry = g_hash_table_lookup(db->overlay, okey);
	if (entry != NULL) {
		ticket = entry->ticket;
		value = entry->value != NULL ? g_bytes_ref(entry->value) : NULL;
	}
	g_mutex_unlock(&db->lock);
	if (entry == NULL)
		return db_get(db, table, key, key_len, value_r);
	ret = db_wait(db, ticket);
	if (ret == 0 && value == NULL)
		ret = -ENOENT;
	if (ret < 0) {
		if (value != NULL)
			g_bytes_unref(value);
		return ret;
	}
	*value_r = value;
	return 0;
}

int db_scan(struct db *db, enum kv_table table, const void *prefix,
	    size_t prefix_len, const void *start, size_t start_len,
	    int (*cb)(void *ctx, const void *key, size_t key_len,
		      const void *value, size_t value_len),
	    void *ctx)
{
	return db->backend->scan(db->kv, table, prefix, prefix_len, start,
				 start_len, cb, ctx);
}

/* The last number of a sequence, from memory or, the first time, from
 * its record. Called with the lock held. */
static int sequence_last(struct db *db, const char *name, uint64_t **last_r)
{
	g_autoptr(GBytes) value = NULL;
	uint64_t *last = g_hash_table_lookup(db->sequences, name);
	int ret;

	if (last == NULL) {
		last = g_new0(uint64_t, 1);
		if (!overlay_find(db, KV_META, name, strlen(name), &ret,
				  &value))
			ret = db->backend->get(db->kv, KV_META, name,
					       strlen(name), &value);
		if (ret == 0 && rec_u64_decode(value, last) < 0)
			ret = -EIO;
		if (ret < 0 && ret != -ENOENT) {
			g_free(last);
			return ret;
		}
		g_hash_table_insert(db->sequences, (gpointer)name, last);
	}
	*last_r = last;
	return 0;
}

/* Gives each sequenced put of batch its number, and adds the records of
 * the sequences it used. Called with the lock held; on error the batch
 * is left unnumbered and no number is taken. */
static int number_sequenced(struct db *db, struct kv_batch *batch)
{
	g_autoptr(GHashTable) used = NULL;
	GHashTableIter iter;
	gpointer name, value;
	int ret;

	for (guint i = 0; i < batch->ops->len; i++) {
		struct kv_op *op = &g_array_index(batch->ops, struct kv_op, i);
		uint64_t *last;

		if (op->sequence == NULL)
			continue;
		if (used == NULL)
			used = g_hash_table_new(g_str_hash, g_str_equal);
		ret = sequence_last(db, op->sequence, &last);
		if (ret < 0)
			return ret;
		g_hash_table_insert(used, (gpointer)op->sequence, last);
	}
	if (used == NULL)
		return 0;
	for (guint i = 0; i < batch->ops->len; i++) {
		struct kv_op *op = &g_array_index(batch->ops, struct kv_op, i);
		uint64_t *last, be;

		if (op->sequence == NULL)
			continue;
		last = g_hash_table_lookup(used, op->sequence);
		be = GUINT64_TO_BE(++*last);
		op->key = g_bytes_new(&be, sizeof(be));
	}
	g_hash_table_iter_init(&iter, used);
	while (g_hash_table_iter_next(&iter, &name, &value))
		kv_batch_put_bytes(batch, KV_META, name, strlen(name),
				   rec_u64_encode(*(uint64_t *)value));
	return 0;
}

int64_t db_submit(struct db *db, struct kv_batch **batchp)
{
	struct kv_batch *batch = *batchp;
	int64_t ticket;
	int ret;

	*batchp = NULL;
	g_mutex_lock(&db->lock);
	ret = db->failed ? -EIO : number_sequenced(db, batch);
	if (ret < 0) {
		g_mutex_unlock(&db->lock);
		kv_batch_destroy(&batch);
		return ret;
	}
	ticket = ++db->last_ticket;
	for (guint i = 0; i < batch->ops->len; i++) {
		struct kv_op *op = &g_array_index(batch->ops, struct kv_op, i);
		struct overlay_entry *entry = g_new(struct overlay_entry, 1);
		gsize key_len;
		const void *key = g_bytes_get_data(op->key, &key_len);

		entry->value = op->value != NULL ? g_bytes_ref(op->value) : NULL;
		entry->ticket = ticket;
		g_hash_table_replace(db->overlay,
				     overlay_key(op->table, key, key_len),
				     entry);
	}
	g_ptr_array_add(db->queued, batch);
	g_mutex_unlock(&db->lock);
	return ticket;
}

/* Drops overlay entries that the written batches made durable, unless a
 * later batch has replaced them since. Called with the lock held. */
static void overlay_retire(struct db *db, GPtrArray *batches, int64_t upto)
{
	for (guint b = 0; b < batches->len; b++) {
		struct kv_batch *batch = batches->pdata[b];

		for (guint i = 0; i < batch->ops->len; i++) {
			struct kv_op *op =
				&g_array_index(batch->ops, struct kv_op, i);
			gsize key_len;
			const void *key = g_bytes_get_data(op->key, &key_len);
			g_autoptr(GBytes) okey =
				overlay_key(op->table, key, key_len);
			struct overlay_entry *entry =
				g_hash_table_lookup(db->overlay, okey);

			if (entry != NULL && entry->ticket <= upto)
				g_hash_table_remove(db->overlay, okey);
		}
	}
}

static void destroy_batch(gpointer data, gpointer user_data)
{
	struct kv_batch *batch = data;

	kv_batch_destroy(&batch);
}

/* Writes everything queued as one synced batch. Called with the lock held;
 * drops it around the write so that others can queue behind. */
static void lead_one_group(struct db *db)
{
	GPtrArray *group = db->queued;
	int64_t upto = db->last_ticket;
	struct kv_batch *merged = kv_batch_create();
	int ret;

	db->queued = g_ptr_array_new();
	db->leader_busy = true;
	g_mutex_unlock(&db->lock);

	for (guint i = 0; i < group->len; i++) {
		struct kv_batch *batch = group->pdata[i];
		/* Keep the ops' keys alive for overlay_retire(). */
		for (guint j = 0; j < batch->ops->len; j++) {
			struct kv_op op =
				g_array_index(batch->ops, struct kv_op, j);

			op.key = g_bytes_ref(op.key);
			if (op.value != NULL)
				op.value = g_bytes_ref(op.value);
			g_array_append_val(merged->ops, op);
		}
	}
	ret = db->backend->write(db->kv, merged, true);
	kv_batch_destroy(&merged);

	g_mutex_lock(&db->lock);
	if (ret < 0) {
		/* Nothing queued behind the lost batch may be written now;
		 * drop it so that the store can still be closed. */
		db->failed = true;
		g_ptr_array_foreach(db->queued, destroy_batch, NULL);
		g_ptr_array_set_size(db->queued, 0);
	} else {
		db->written_ticket = upto;
	}
	overlay_retire(db, group, upto);
	for (guint i = 0; i < group->len; i++) {
		struct kv_batch *batch = group->pdata[i];

		kv_batch_destroy(&batch);
	}
	g_ptr_array_free(group, TRUE);
	db->leader_busy = false;
	g_cond_broadcast(&db->written_cond);
}

int db_wait(struct db *db, int64_t ticket)
{
	int ret = 0;

	if (ticket < 0)
		return (int)ticket;
	g_mutex_lock(&db->lock);
	while (db->written_ticket < ticket) {
		if (db->failed) {
			ret = -EIO;
			break;
		}
		if (db->leader_busy)
			g_cond_wait(&db->written_cond, &db->lock);
		else
			lead_one_group(db);
	}
	g_mutex_unlock(&db->lock);
	return ret;
}

int db_wait_all(struct db *db)
{
	int64_t last;

	g_mutex_lock(&db->lock);
	last = db->last_ticket;
	g_mutex_unlock(&db->lock);
	return db_wait(db, last);
}

int db_commit(struct db *db, struct kv_batch **batch)
{
	return db_wait(db, db_submit(db, batch));
}

char *db_stats(struct db *db)
{
	return db->backend->stats(db->kv);
}
