/* Opening the store, the record helpers shared by the mail store's files,
 * subscribers, their profiles and quotas. */
#include "mailstore-private.h"

#include <errno.h>
#include <string.h>

void ms_options_default(struct ms_options *options_r)
{
	memset(options_r, 0, sizeof(*options_r));
	vvm_profile_limits_default(&options_r->profile_limits);
	options_r->sms = (struct ms_sms_config){
		.srv = "127.0.0.1",
		.tui = "*86",
		.dn = "0",
		.ipt = 1143,
		.spt = 1587,
		.lang = "eng",
		.g_len = 60,
		.vs_len = 10,
	};
}

int mailstore_open(const char *dir, const struct ms_options *options,
		   struct mailstore **ms_r, char **error_r)
{
	static const enum kv_open_mode kv_modes[] = {
		[MS_OPEN_SERVE] = KV_OPEN_CREATE,
		[MS_OPEN_CHECK] = KV_OPEN_READ_ONLY,
		[MS_OPEN_REPAIR] = KV_OPEN_EXISTING,
	};
	struct mailstore *ms;
	int ret;

	if (options->mode == MS_OPEN_SERVE &&
	    g_mkdir_with_parents(dir, 0700) < 0) {
		ret = -errno;
		*error_r = g_strdup_printf("cannot create %s: %s", dir,
					   g_strerror(-ret));
		return ret;
	}
	ms = g_new0(struct mailstore, 1);
	ret = db_open(dir, kv_modes[options->mode], &ms->db, error_r);
	if (ret < 0) {
		g_free(ms);
		return ret;
	}
	ms->options = *options;
	g_mutex_init(&ms->global_lock);
	for (int i = 0; i < SUB_LOCK_STRIPES; i++)
		g_mutex_init(&ms->sub_locks[i]);
	g_mutex_init(&ms->errors_lock);
	ms->mailbox_errors = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	ms->counters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     g_free);
	ret = ms_format_open(ms, options->mode, error_r);
	if (ret < 0) {
		mailstore_close(&ms);
		return ret;
	}
	*ms_r = ms;
	return 0;
}

void mailstore_close(struct mailstore **msp)
{
	struct mailstore *ms = *msp;

	if (ms == NULL)
		return;
	db_close(&ms->db);
	g_hash_table_destroy(ms->mailbox_errors);
	g_hash_table_destroy(ms->counters);
	g_mutex_clear(&ms->errors_lock);
	for (int i = 0; i < SUB_LOCK_STRIPES; i++)
		g_mutex_clear(&ms->sub_locks[i]);
	g_mutex_clear(&ms->global_lock);
	g_free(ms);
	*msp = NULL;
}

GMutex *ms_sub_lock(struct mailstore *ms, uint32_t sub_id)
{
	return &ms->sub_locks[sub_id % SUB_LOCK_STRIPES];
}

int ms_get_subscriber(struct mailstore *ms, uint32_t sub_id,
		      struct rec_subscriber *rec_r)
{
	g_autoptr(GBytes) value = NULL;
	struct key k;
	int ret;

	key_subscriber(&k, sub_id);
	ret = db_get(ms->db, KV_SUBSCRIBERS, k.data, k.len, &value);
	if (ret < 0)
		return ret;
	return rec_subscriber_decode(value, rec_r) < 0 ? -EIO : 0;
}

void ms_put_subscriber(struct kv_batch *batch, uint32_t sub_id,
		       const struct rec_subscriber *rec)
{
	struct key k;

	key_subscriber(&k, sub_id);
	kv_batch_put_bytes(batch, KV_SUBSCRIBERS, k.data, k.len,
			   rec_subscriber_encode(rec));
}

int ms_next_counter(struct mailstore *ms, struct kv_batch *batch,
		    const char *name, uint64_t floor, uint64_t *value_r)
{
	g_autoptr(GBytes) value = NULL;
	uint64_t *last = g_hash_table_lookup(ms->counters, name);
	int ret;

	/* The last value handed out is kept here, not read back: it may
	 * sit in a batch not yet submitted (a subscriber's two mailboxes). */
	if (last == NULL) {
		last = g_new0(uint64_t, 1);
		ret = db_get(ms->db, KV_META, name, strlen(name), &value);
		if (ret == 0 && rec_u64_decode(value, last) < 0)
			ret = -EIO;
		if (ret < 0 && ret != -ENOENT) {
			g_free(last);
			return ret;
		}
		g_hash_table_insert(ms->counters, g_strdup(name), last);
	}
	*last = MAX(*last + 1, floor);
	kv_batch_put_bytes(batch, KV_META, name, strlen(name),
			   rec_u64_encode(*last));
	*value_r = *last;
	return 0;
}

bool ms_msisdn_valid(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > MS_MSISDN_MAX || name[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isdigit(name[i]))
			return false;
	}
	return true;
}

int ms_subscriber_lookup(struct mailstore *ms, const char *msisdn,
			 uint32_t *id_r)
{
	g_autoptr(GBytes) value = NULL;
	struct key k;
	int ret;

	if (!ms_msisdn_valid(msisdn))
		return -ENOENT;
	key_subscriber_name(&k, msisdn);
	ret = db_get(ms->db, KV_SUBSCRIBERS, k.data, k.len, &value);
	if (ret < 0)
		return ret;
	return rec_id_decode(value, id_r);
}

int ms_subscriber_get(struct mailstore *ms, uint32_t id,
		      struct ms_subscriber *sub_r)
{
	struct rec_subscriber rec;
	int ret = ms_get_subscriber(ms, id, &rec);

	if (ret < 0)
		return ret;
	sub_r->id = id;
	sub_r->created = rec.created;
	g_strlcpy(sub_r->msisdn, rec.msisdn, sizeof(sub_r->msisdn));
	return 0;
}

/* The deployment's profile defaults for a new subscriber, in its
 * creating batch: provisioned with them, or not at all. */
static void put_provision(struct mailstore *ms, struct kv_batch *batch,
			  uint32_t sub_id)
{
	size_t count;
	const struct vvm_profile_key *keys = vvm_profile_keys(&count);
	struct key k;

	for (size_t i = 0; i < count; i++) {
		const char *value = ms->options.provision[i];

		if (value == NULL)
			continue;
		key_profile(&k, sub_id, keys[i].name);
		kv_batch_put(batch, KV_SUBSCRIBERS, k.data, k.len, value,
			     strlen(value));
	}
}

int ms_subscriber_create(struct mailstore *ms, const char *msisdn,
			 uint32_t *id_r)
{
	struct kv_batch *batch;
	struct rec_subscriber rec = { 0 };
	uint64_t id;
	uint32_t existing, be_id, mbox_id;
	struct key k;
	int ret;

	if (!ms_msisdn_valid(msisdn))
		return -EINVAL;
	g_mutex_lock(&ms->global_lock);
	ret = ms_subscriber_lookup(ms, msisdn, &existing);
	if (ret != -ENOENT) {
		g_mutex_unlock(&ms->global_lock);
		return ret == 0 ? -EEXIST : ret;
	}
	batch = kv_batch_create();
	ret = ms_next_counter(ms, batch, "next_sub_id", 1, &id);
	if (ret == 0 && id > G_MAXUINT32)
		ret = -ENOSPC;
	if (ret == 0) {
		rec.created = g_get_real_time() / G_USEC_PER_SEC;
		g_strlcpy(rec.msisdn, msisdn, sizeof(rec.msisdn));
		ms_put_subscriber(batch, (uint32_t)id, &rec);
		put_provision(ms, batch, (uint32_t)id);
		key_subscriber_name(&k, msisdn);
		be_id = GUINT32_TO_BE((uint32_t)id);
		kv_batch_put(batch, KV_SUBSCRIBERS, k.data, k.len, &be_id, 4);
		ret = ms_mailbox_create_locked(ms, batch, (uint32_t)id,
					       "INBOX", &mbox_id);
	}
	if (ret == 0)
		ret = ms_mailbox_create_locked(ms, batch, (uint32_t)id,
					       "Greetings", &mbox_id);
	if (ret == 0)
		ret = db_commit(ms->db, &batch);
	kv_batch_destroy(&batch);
	g_mutex_unlock(&ms->global_lock);
	if (ret == 0)
		*id_r = (uint32_t)id;
	return ret;
}

struct collect_ctx {
	struct kv_batch *batch;
	enum kv_table table;
	GArray *ids;
};

static int collect_delete(void *ctx, const void *key, size_t key_len,
			  const void *value, size_t value_len)
{
	struct collect_ctx *c = ctx;

	kv_batch_delete(c->batch, c->table, key, key_len);
	if (c->ids != NULL && value_len == 4) {
		uint32_t id = key_get_be32(value);

		g_array_append_val(c->ids, id);
	}
	return 0;
}

/* Deletes every key with the given prefix, collecting 4-byte values. */
static int delete_prefix(struct mailstore *ms, struct kv_batch *batch,
			 enum kv_table table, const struct key *prefix,
			 GArray *ids)
{
	struct collect_ctx c = { batch, table, ids };

	return db_scan(ms->db, table, prefix->data, prefix->len, NULL, 0,
		       collect_delete, &c);
}

int ms_subscriber_remove(struct mailstore *ms, const char *msisdn)
{
	struct rec_subscriber rec;
	struct kv_batch *batch = NULL;
	g_autoptr(GArray) mboxes = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	uint32_t id;
	struct key k;
	GMutex *lock;
	int ret;

	g_mutex_lock(&ms->global_lock);
	ret = ms_subscriber_lookup(ms, msisdn, &id);
	if (ret < 0)
		goto out;
	lock = ms_sub_lock(ms, id);
	g_mutex_lock(lock);
	ret = ms_get_subscriber(ms, id, &rec);
	if (ret == 0 && rec.messages > 0)
		ret = -ENOTEMPTY;
	if (ret < 0)
		goto out_sub;
	batch = kv_batch_create();
	key_mailbox_name_prefix(&k, id);
	ret = db_wait_all(ms->db);
	if (ret == 0)
		ret = delete_prefix(ms, batch, KV_MAILBOXES, &k, mboxes);
	for (guint i = 0; ret == 0 && i < mboxes->len; i++) {
		uint32_t mbox_id = g_array_index(mboxes, uint32_t, i);

		key_mailbox(&k, mbox_id);
		kv_batch_delete(batch, KV_MAILBOXES, k.data, k.len);
		key_change_prefix(&k, mbox_id);
		ret = delete_prefix(ms, batch, KV_INDEX, &k, NULL);
	}
	key_profile_prefix(&k, id);
	if (ret == 0)
		ret = delete_prefix(ms, batch, KV_SUBSCRIBERS, &k, NULL);
	key_subscriber(&k, id);
	kv_batch_delete(batch, KV_SUBSCRIBERS, k.data, k.len);
	key_subscriber_name(&k, msisdn);
	kv_batch_delete(batch, KV_SUBSCRIBERS, k.data, k.len);
	if (ret == 0)
		ret = db_commit(ms->db, &batch);
	kv_batch_destroy(&batch);
out_sub:
	g_mutex_unlock(lock);
out:
	g_mutex_unlock(&ms->global_lock);
	return ret;
}

struct list_sub_ctx {
	struct mailstore *ms;
	int (*cb)(void *ctx, const struct ms_subscriber *sub);
	void *ctx;
};

static int list_sub_one(void *ctx, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	struct list_sub_ctx *c = ctx;
	struct ms_subscriber sub = { 0 };

	if (value_len != 4 || key_len - 1 > MS_MSISDN_MAX)
		return 0;
	sub.id = key_get_be32(value);
	memcpy(sub.msisdn, (const char *)key + 1, key_len - 1);
	return c->cb(c->ctx, &sub);
}

int ms_subscriber_list(struct mailstore *ms, const char *after,
		       int (*cb)(void *ctx, const struct ms_subscriber *sub),
		       void *ctx)
{
	struct list_sub_ctx c = { ms, cb, ctx };
	struct key start;

	/* Start just past `after`: append a NUL, which sorts first. */
	key_subscriber_name(&start, after != NULL ? after : "");
	if (after != NULL)
		start.data[start.len++] = '\0';
	return db_scan(ms->db, KV_SUBSCRIBERS, "N", 1, start.data, start.len,
		       list_sub_one, &c);
}

int ms_profile_get(struct mailstore *ms, uint32_t sub_id,
		   const struct vvm_profile_key *pkey, char **value_r)
{
	g_autoptr(GBytes) value = NULL;
	struct rec_subscriber rec;
	struct key k;
	int ret;

	key_profile(&k, sub_id, pkey->name);
	ret = db_get(ms->db, KV_SUBSCRIBERS, k.data, k.len, &value);
	if (ret == 0) {
		gsize len;
		const char *data = g_bytes_get_data(value, &len);

		/* An empty value may come back as a NULL pointer. */
		*value_r = len == 0 ? g_strdup("") : g_strndup(data, len);
		return 0;
	}
	if (ret != -ENOENT)
		return ret;
	if (pkey->default_value != NULL) {
		*value_r = g_strdup(pkey->default_value);
		return 0;
	}
	ret = ms_get_subscriber(ms, sub_id, &rec);
	if (ret == 0)
		*value_r = g_strdup(rec.msisdn);
	return ret;
}

/* A status change must be one the state machine allows, and is announced
 * by a STATUS SMS in the same batch. */
static int status_change(struct mailstore *ms, struct kv_batch *batch,
			 uint32_t sub_id, char to, const char **reason_r)
{
	g_autofree char *from = NULL;
	int ret;

	ret = ms_profile_get(ms, sub_id, vvm_profile_key_find("status"), &from);
	if (ret < 0)
		return ret;
	ret = vvm_status_transition(from[0], to, reason_r);
	if (ret < 0 || from[0] == to)
		return ret;
	return ms_queue_status(ms, batch, sub_id, to, reason_r);
}

int ms_profile_set(struct mailstore *ms, uint32_t sub_id,
		   const struct vvm_profile_key *pkey, const char *value,
		   size_t len, const char **reason_r)
{
	struct rec_subscriber rec;
	struct kv_batch *batch;
	GMutex *lock = ms_sub_lock(ms, sub_id);
	struct key k;
	int ret;

	ret = vvm_profile_validate(pkey, &ms->options.profile_limits, value,
				   len, reason_r);
	if (ret < 0)
		return ret;
	g_mutex_lock(lock);
	ret = ms_get_subscriber(ms, sub_id, &rec);
	if (ret < 0) {
		g_mutex_unlock(lock);
		return ret;
	}
	batch = kv_batch_create();
	if (pkey->type == VVM_PROFILE_STATUS)
		ret = status_change(ms, batch, sub_id, value[0], reason_r);
	key_profile(&k, sub_id, pkey->name);
	kv_batch_put(batch, KV_SUBSCRIBERS, k.data, k.len, value, len);
	if (ret == 0)
		ret = db_commit(ms->db, &batch);
	kv_batch_destroy(&batch);
	g_mutex_unlock(lock);
	return ret;
}

int ms_profile_uint(struct mailstore *ms, uint32_t sub_id, const char *name,
		    uint64_t *value_r)
{
	const struct vvm_profile_key *pkey = vvm_profile_key_find(name);
	g_autoptr(GBytes) value = NULL;
	g_autofree char *text = NULL;
	const char *data;
	guint64 v;
	struct key k;
	gsize len;
	int ret;

	key_profile(&k, sub_id, name);
	ret = db_get(ms->db, KV_SUBSCRIBERS, k.data, k.len, &value);
	if (ret == -ENOENT) {
		*value_r = 0;
		return 0;
	}
	if (ret < 0)
		return ret;
	/* Written only as a validated number in its key's range; anything
	 * else is damage, never a larger limit. */
	data = g_bytes_get_data(value, &len);
	text = g_strndup(data, len);
	if (strlen(text) != len || !g_ascii_isdigit(text[0]) ||
	    !g_ascii_string_to_unsigned(text, 10, 0, pkey->max_value, &v,
					NULL))
		return -EIO;
	*value_r = v;
	return 0;
}

int ms_quota_get(struct mailstore *ms, uint32_t sub_id,
		 struct ms_quota *quota_r)
{
	struct rec_subscriber rec;
	int ret = ms_get_subscriber(ms, sub_id, &rec);

	if (ret < 0)
		return ret;
	quota_r->used.bytes = rec.bytes;
	quota_r->used.messages = rec.messages;
	quota_r->used.voice_seconds = rec.voice_seconds;
	quota_r->used.greeting_seconds = rec.greeting_seconds;
	ret = ms_profile_uint(ms, sub_id, "quota_storage_kb",
			      &quota_r->limit_kb);
	if (ret == 0)
		ret = ms_profile_uint(ms, sub_id, "quota_messages",
				      &quota_r->limit_messages);
	if (ret == 0)
		ret = ms_profile_uint(ms, sub_id, "quota_voice_seconds",
				      &quota_r->limit_voice_seconds);
	if (ret == 0)
		ret = ms_profile_uint(ms, sub_id, "quota_greeting_seconds",
				      &quota_r->limit_greeting_seconds);
	return ret;
}

int ms_login_failures_get(struct mailstore *ms, uint32_t sub_id,
			  struct ms_login_failures *lf_r)
{
	g_autoptr(GBytes) value = NULL;
	struct rec_subscriber rec;
	struct key k;
	int ret;

	/* Outside the lock: a count still in flight is shown only once it
	 * is durable, so that nothing seen can be lost to a crash. */
	key_subscriber(&k, sub_id);
	ret = db_get_durable(ms->db, KV_SUBSCRIBERS, k.data, k.len, &value);
	if (ret < 0)
		return ret;
	if (rec_subscriber_decode(value, &rec) < 0)
		return -EIO;
	lf_r->count = rec.login_failures;
	lf_r->last = rec.login_last;
	return 0;
}

int ms_login_failures_update(struct mailstore *ms, uint32_t sub_id,
			     bool reset, int64_t now,
			     struct ms_login_failures *lf_r)
{
	struct rec_subscriber rec;
	struct kv_batch *batch;
	GMutex *lock = ms_sub_lock(ms, sub_id);
	int64_t ticket;
	int ret;

	/* The subscriber record is the one deposits rewrite for quota usage,
	 * under the same lock: the count rides along in it, and goes with
	 * it when the subscriber is removed. */
	g_mutex_lock(lock);
	ret = ms_get_subscriber(ms, sub_id, &rec);
	if (ret < 0) {
		g_mutex_unlock(lock);
		return ret;
	}
	if (reset) {
		rec.login_failures = 0;
		rec.login_last = 0;
	} else {
		if (rec.login_failures < G_MAXUINT64)
			rec.login_failures++;
		rec.login_last = now;
	}
	batch = kv_batch_create();
	ms_put_subscriber(batch, sub_id, &rec);
	/* Submitted under the lock, so that the next update reads this one;
	 * the WAL sync is waited for without it. */
	ticket = db_submit(ms->db, &batch);
	g_mutex_unlock(lock);
	ret = db_wait(ms->db, ticket);
	if (ret == 0) {
		lf_r->count = rec.login_failures;
		lf_r->last = rec.login_last;
	}
	return ret;
}

char *ms_stats(struct mailstore *ms)
{
	return db_stats(ms->db);
}
