/* The store format (schema.h): checked when a store is opened, and a
 * format 1 store upgraded in place. Format 1 took message ids from the
 * largest body key and outbox numbers from the largest pending entry;
 * format 2 takes both from counters (docs/design.md, "Ids"), which the
 * upgrade starts above everything format 1 handed out that is still
 * there. */
#include "mailstore-private.h"

#include <errno.h>
#include <string.h>

struct upgrade_scan {
	uint64_t max;
	bool bad;
};

static int max_msgid(void *ctx, const void *key, size_t key_len,
		     const void *value, size_t value_len)
{
	struct upgrade_scan *u = ctx;
	struct rec_message msg;

	if (rec_message_decode(value, value_len, &msg) < 0) {
		u->bad = true;
		return 1;
	}
	u->max = MAX(u->max, msg.msgid);
	return 0;
}

static int max_outbox_seq(void *ctx, const void *key, size_t key_len,
			  const void *value, size_t value_len)
{
	struct upgrade_scan *u = ctx;

	if (key_len != 8) {
		u->bad = true;
		return 1;
	}
	u->max = MAX(u->max, key_get_be64(key));
	return 0;
}

/* Format 1 to 2. Message ids of format 2 start at 2^32 (subscriber ids
 * start at 1), so they cannot meet a format 1 id as long as those stayed
 * below it; the outbox counter starts at the largest pending entry. */
static int upgrade(struct mailstore *ms, char **error_r)
{
	struct upgrade_scan ids = { 0 }, seqs = { 0 };
	struct kv_batch *batch;
	int ret;

	ret = db_scan(ms->db, KV_MESSAGES, "", 0, NULL, 0, max_msgid, &ids);
	if (ret >= 0)
		ret = db_scan(ms->db, KV_OUTBOX, "", 0, NULL, 0, max_outbox_seq,
			      &seqs);
	if (ret >= 0 && (ids.bad || seqs.bad)) {
		*error_r = g_strdup("store format 1 with a corrupt message "
				    "record or outbox key: run vvmadm fsck");
		return -EIO;
	}
	if (ret >= 0 && ids.max > G_MAXUINT32) {
		*error_r = g_strdup_printf("store format 1 with message id %"
					   G_GUINT64_FORMAT ", past what an "
					   "upgrade can keep apart", ids.max);
		return -EIO;
	}
	if (ret < 0) {
		*error_r = g_strdup("cannot read the store to upgrade it");
		return ret;
	}
	batch = kv_batch_create();
	kv_batch_put_bytes(batch, KV_META, OUTBOX_SEQUENCE,
			   strlen(OUTBOX_SEQUENCE), rec_u64_encode(seqs.max));
	kv_batch_put_bytes(batch, KV_META, STORE_FORMAT_KEY,
			   strlen(STORE_FORMAT_KEY),
			   rec_u64_encode(STORE_FORMAT));
	ret = db_commit(ms->db, &batch);
	if (ret < 0)
		*error_r = g_strdup("cannot write the store format");
	return ret;
}

int ms_format_open(struct mailstore *ms, bool check_only, char **error_r)
{
	g_autoptr(GBytes) value = NULL;
	uint64_t format;
	int ret;

	ret = db_get(ms->db, KV_META, STORE_FORMAT_KEY,
		     strlen(STORE_FORMAT_KEY), &value);
	if (ret == -ENOENT) {
		ms->format = check_only ? 1 : STORE_FORMAT;
		return check_only ? 0 : upgrade(ms, error_r);
	}
	if (ret == 0 && rec_u64_decode(value, &format) < 0)
		ret = -EIO;
	if (ret < 0) {
		*error_r = g_strdup("cannot read the store format");
		return ret;
	}
	if (format != STORE_FORMAT) {
		*error_r = g_strdup_printf("store format %" G_GUINT64_FORMAT
					   " is not the one this vvmfs "
					   "knows (%d)", format, STORE_FORMAT);
		return -ENOTSUP;
	}
	ms->format = STORE_FORMAT;
	return 0;
}
