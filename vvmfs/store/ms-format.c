/* The store format (schema.h): checked when a store is opened, and a
 * format 1 store upgraded in place. Format 1 took message ids from the
 * largest body key and outbox numbers from the largest pending entry;
 * format 2 takes both from counters (docs/design.md, "Ids"), which the
 * upgrade starts above everything format 1 handed out that is still
 * there.
 *
 * Format 1's bug left two message records on one body. Once upgraded, an
 * expunge of either would delete the body the other still shows, so the
 * upgrade refuses such a store (EUCLEAN) until fsck --repair has set the
 * damaged records aside. */
#include "mailstore-private.h"

#include <errno.h>
#include <string.h>

/* Format 1's outbox numbers restarted after each restart; format 2's
 * start above any it can have handed out in a store that was in use, so
 * that a sender still holding one cannot meet a new entry under it. */
#define OUTBOX_SEQ_FLOOR ((uint64_t)1 << 32)

struct upgrade_scan {
	GArray *msgids; /* uint64_t, of every message record */
	uint64_t max_seq;
	bool corrupt;
};

static int note_msgid(void *ctx, const void *key, size_t key_len,
		      const void *value, size_t value_len)
{
	struct upgrade_scan *u = ctx;
	struct rec_message msg;

	if (key_len != 8 || rec_message_decode(value, value_len, &msg) < 0) {
		u->corrupt = true;
		return 1;
	}
	g_array_append_val(u->msgids, msg.msgid);
	return 0;
}

static int note_outbox_seq(void *ctx, const void *key, size_t key_len,
			   const void *value, size_t value_len)
{
	struct upgrade_scan *u = ctx;

	if (key_len != 8) {
		u->corrupt = true;
		return 1;
	}
	u->max_seq = MAX(u->max_seq, key_get_be64(key));
	return 0;
}

/* True when two records share a message id (sorts msgids). */
static bool shared_ids(GArray *msgids)
{
	g_array_sort(msgids, ms_cmp_u64);
	for (guint i = 1; i < msgids->len; i++) {
		if (g_array_index(msgids, uint64_t, i) ==
		    g_array_index(msgids, uint64_t, i - 1))
			return true;
	}
	return false;
}

static int any_key(void *ctx, const void *key, size_t key_len,
		   const void *value, size_t value_len)
{
	return 1;
}

/* The outbox counter the upgrade starts: above the pending entries, a
 * counter already there and, unless the store is new (no counter of any
 * kind was ever written), the floor. */
static int outbox_start(struct mailstore *ms, uint64_t max_pending,
			uint64_t *seq_r)
{
	g_autoptr(GBytes) value = NULL;
	uint64_t stored = 0;
	int used, ret = db_get(ms->db, KV_META, OUTBOX_SEQUENCE,
			       strlen(OUTBOX_SEQUENCE), &value);

	if (ret == 0 && rec_u64_decode(value, &stored) < 0)
		ret = -EIO;
	if (ret < 0 && ret != -ENOENT)
		return ret;
	used = db_scan(ms->db, KV_META, "", 0, NULL, 0, any_key, NULL);
	if (used < 0)
		return used;
	*seq_r = MAX(stored, max_pending);
	if (used > 0 || max_pending > 0)
		*seq_r = MAX(*seq_r, OUTBOX_SEQ_FLOOR);
	return 0;
}

/* Format 1 to 2. Message ids of format 2 start at 2^32 (subscriber ids
 * start at 1), so they cannot meet a format 1 id as long as those stayed
 * below it. */
static int upgrade(struct mailstore *ms, char **error_r)
{
	struct upgrade_scan u = { 0 };
	struct kv_batch *batch;
	uint64_t seq = 0;
	int ret;

	u.msgids = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	ret = db_scan(ms->db, KV_MESSAGES, "", 0, NULL, 0, note_msgid, &u);
	if (ret >= 0 && !u.corrupt)
		ret = db_scan(ms->db, KV_OUTBOX, "", 0, NULL, 0,
			      note_outbox_seq, &u);
	if (ret < 0) {
		*error_r = g_strdup("cannot read the store to upgrade it");
	} else if (u.corrupt || shared_ids(u.msgids)) {
		*error_r = g_strdup("store format 1 with damage that only "
				    "vvmadm fsck --repair can clear (messages "
				    "sharing one body, or a record that does "
				    "not decode): run it, then start again");
		ret = -EUCLEAN;
	} else if (u.msgids->len > 0 &&
		   g_array_index(u.msgids, uint64_t, u.msgids->len - 1) >
			   G_MAXUINT32) {
		*error_r = g_strdup("store format 1 with message ids past "
				    "what an upgrade can keep apart");
		ret = -EIO;
	} else {
		ret = outbox_start(ms, u.max_seq, &seq);
		if (ret < 0)
			*error_r = g_strdup("cannot read the outbox counter");
	}
	g_array_free(u.msgids, TRUE);
	if (ret < 0)
		return ret;
	batch = kv_batch_create();
	kv_batch_put_bytes(batch, KV_META, OUTBOX_SEQUENCE,
			   strlen(OUTBOX_SEQUENCE), rec_u64_encode(seq));
	kv_batch_put_bytes(batch, KV_META, STORE_FORMAT_KEY,
			   strlen(STORE_FORMAT_KEY),
			   rec_u64_encode(STORE_FORMAT));
	ret = db_commit(ms->db, &batch);
	if (ret < 0)
		*error_r = g_strdup("cannot write the store format");
	else
		ms->format = STORE_FORMAT;
	return ret;
}

int ms_format_open(struct mailstore *ms, enum ms_open_mode mode,
		   char **error_r)
{
	g_autoptr(GBytes) value = NULL;
	uint64_t format;
	int ret;

	ret = db_get(ms->db, KV_META, STORE_FORMAT_KEY,
		     strlen(STORE_FORMAT_KEY), &value);
	if (ret == -ENOENT) {
		ms->format = 1;
		return mode == MS_OPEN_SERVE ? upgrade(ms, error_r) : 0;
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

int ms_format_upgrade(struct mailstore *ms, char **error_r)
{
	return ms->format == STORE_FORMAT ? 0 : upgrade(ms, error_r);
}
