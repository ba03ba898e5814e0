/* Offline consistency check of a store (vvmadm fsck): every record is read
 * and the derived state (counters, quota usage, UIDNEXT, change log,
 * expiry index) recomputed from the messages themselves, which are the
 * truth. With repair, derived state is rewritten and orphans removed in
 * one batch. */
#include "mailstore-private.h"
#include "vvm-flags.h"

#include <errno.h>
#include <string.h>

struct mbox_check {
	uint32_t id;
	struct rec_mailbox rec;
	struct rec_mailbox computed;
	GHashTable *changes; /* uid -> modseq of its change entry */
};

struct fsck {
	struct mailstore *ms;
	GString *report;
	struct kv_batch *fix;
	int problems;
	GHashTable *mailboxes;   /* mbox_id -> struct mbox_check */
	GHashTable *subscribers; /* sub_id -> struct rec_subscriber (computed) */
	GHashTable *msgids;      /* msgid -> (mbox_id << 32 | uid) */
};

static void G_GNUC_PRINTF(2, 3) problem(struct fsck *f, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	g_string_append_vprintf(f->report, fmt, args);
	va_end(args);
	g_string_append_c(f->report, '\n');
	f->problems++;
}

static void mbox_check_free(gpointer data)
{
	struct mbox_check *m = data;

	g_hash_table_destroy(m->changes);
	g_free(m);
}

static int load_mailbox(void *ctx, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	struct mbox_check *m;
	g_autoptr(GBytes) bytes = g_bytes_new(value, value_len);

	if (key_len != 5)
		return 0;
	m = g_new0(struct mbox_check, 1);
	m->id = key_get_be32((const uint8_t *)key + 1);
	m->changes = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	if (rec_mailbox_decode(bytes, &m->rec) < 0) {
		problem(f, "mailbox %u: corrupt record", m->id);
		mbox_check_free(m);
		return 0;
	}
	m->computed = m->rec;
	m->computed.messages = 0;
	m->computed.unseen = 0;
	m->computed.bytes = 0;
	g_hash_table_insert(f->mailboxes, GUINT_TO_POINTER(m->id), m);
	return 0;
}

static struct rec_subscriber *usage_of(struct fsck *f, uint32_t sub_id)
{
	struct rec_subscriber *u =
		g_hash_table_lookup(f->subscribers, GUINT_TO_POINTER(sub_id));

	if (u == NULL) {
		u = g_new0(struct rec_subscriber, 1);
		g_hash_table_insert(f->subscribers, GUINT_TO_POINTER(sub_id),
				    u);
	}
	return u;
}

static int check_message(void *ctx, const void *key, size_t key_len,
			 const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	struct rec_message msg;
	struct mbox_check *m;
	struct rec_subscriber *u;
	uint32_t mbox_id, uid;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GBytes) index = NULL;
	struct key k;

	if (key_len != 8)
		return 0;
	mbox_id = key_get_be32(key);
	uid = key_get_be32((const uint8_t *)key + 4);
	m = g_hash_table_lookup(f->mailboxes, GUINT_TO_POINTER(mbox_id));
	if (m == NULL || rec_message_decode(value, value_len, &msg) < 0) {
		problem(f, "message %u/%u: %s", mbox_id, uid,
			m == NULL ? "in no mailbox" : "corrupt record");
		if (f->fix != NULL)
			kv_batch_delete(f->fix, KV_MESSAGES, key, key_len);
		return 0;
	}
	key_body(&k, msg.msgid);
	if (db_get(f->ms->db, KV_BODIES, k.data, k.len, &body) < 0 ||
	    g_bytes_get_size(body) != msg.size)
		problem(f, "message %u/%u: body missing or of wrong size",
			mbox_id, uid);
	key_index(&k, msg.msgid);
	if (db_get(f->ms->db, KV_INDEX, k.data, k.len, &index) < 0)
		problem(f, "message %u/%u: index missing", mbox_id, uid);
	if (g_hash_table_contains(f->msgids, &msg.msgid))
		problem(f, "message %u/%u: body shared with another message",
			mbox_id, uid);
	g_hash_table_insert(f->msgids, g_memdup2(&msg.msgid, 8),
			    GUINT_TO_POINTER(1));
	if (uid >= m->rec.uidnext) {
		problem(f, "mailbox %u: UIDNEXT %u not above UID %u", mbox_id,
			m->rec.uidnext, uid);
		m->computed.uidnext = uid + 1;
	}
	if (msg.modseq > m->computed.highestmodseq) {
		problem(f, "mailbox %u: HIGHESTMODSEQ below message %u", mbox_id,
			uid);
		m->computed.highestmodseq = msg.modseq;
	}
	g_hash_table_insert(m->changes, GUINT_TO_POINTER(uid),
			    g_memdup2(&msg.modseq, 8));
	m->computed.messages++;
	m->computed.bytes += msg.size;
	if ((msg.flags & VVM_FLAG_SEEN) == 0)
		m->computed.unseen++;
	u = usage_of(f, m->rec.sub_id);
	u->messages++;
	u->bytes += msg.size;
	if (msg.duration > 0) {
		if (ms_mailbox_is_greetings(&m->rec))
			u->greeting_seconds += (uint64_t)msg.duration;
		else
			u->voice_seconds += (uint64_t)msg.duration;
	}
	return 0;
}

/* The change log must hold, for each message, exactly the entry at its
 * modseq; other present entries are stale. */
static int check_change(void *ctx, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	struct rec_change change;
	struct mbox_check *m;
	uint32_t mbox_id = key_get_be32((const uint8_t *)key + 1);
	uint64_t modseq = key_get_be64((const uint8_t *)key + 5);
	uint64_t *expected;

	m = g_hash_table_lookup(f->mailboxes, GUINT_TO_POINTER(mbox_id));
	if (key_len != 13 || m == NULL ||
	    rec_change_decode(value, value_len, &change) < 0) {
		problem(f, "change log: orphan or corrupt entry");
		goto drop;
	}
	if (modseq > m->computed.highestmodseq) {
		problem(f, "mailbox %u: change at modseq %" G_GUINT64_FORMAT
			" above HIGHESTMODSEQ", mbox_id, modseq);
		m->computed.highestmodseq = modseq;
	}
	if (change.kind == CHANGE_EXPUNGED)
		return 0;
	expected = g_hash_table_lookup(m->changes,
				       GUINT_TO_POINTER(change.uid));
	if (expected != NULL && *expected == modseq) {
		g_hash_table_remove(m->changes, GUINT_TO_POINTER(change.uid));
		return 0;
	}
	problem(f, "mailbox %u: stale change entry for UID %u", mbox_id,
		change.uid);
drop:
	if (f->fix != NULL)
		kv_batch_delete(f->fix, KV_INDEX, key, key_len);
	return 0;
}

static int check_body(void *ctx, const void *key, size_t key_len,
		      const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	uint64_t msgid;

	if (key_len != 8)
		return 0;
	msgid = key_get_be64(key);
	if (g_hash_table_contains(f->msgids, &msgid))
		return 0;
	problem(f, "body %" G_GUINT64_FORMAT ": no message refers to it",
		msgid);
	if (f->fix != NULL)
		ms_delete_content(f->fix, msgid);
	return 0;
}

static void check_mailbox_counters(struct fsck *f, struct mbox_check *m)
{
	GHashTableIter iter;
	gpointer uid, modseq;

	g_hash_table_iter_init(&iter, m->changes);
	while (g_hash_table_iter_next(&iter, &uid, &modseq)) {
		problem(f, "mailbox %u: UID %u missing from the change log",
			m->id, GPOINTER_TO_UINT(uid));
		if (f->fix != NULL) {
			struct rec_message msg;

			if (ms_get_message(f->ms, m->id, GPOINTER_TO_UINT(uid),
					   &msg) == 0)
				ms_put_change(f->fix, m->id, msg.modseq,
					      GPOINTER_TO_UINT(uid), msg.flags,
					      CHANGE_PRESENT);
		}
	}
	if (m->computed.messages != m->rec.messages ||
	    m->computed.unseen != m->rec.unseen ||
	    m->computed.bytes != m->rec.bytes)
		problem(f, "mailbox %u: counters %u/%u/%" G_GUINT64_FORMAT
			" should be %u/%u/%" G_GUINT64_FORMAT, m->id,
			m->rec.messages, m->rec.unseen, m->rec.bytes,
			m->computed.messages, m->computed.unseen,
			m->computed.bytes);
	if (f->fix != NULL)
		ms_put_mailbox(f->fix, m->id, &m->computed);
}

static int check_subscriber(void *ctx, const void *key, size_t key_len,
			    const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	struct rec_subscriber rec, *u;
	g_autoptr(GBytes) bytes = g_bytes_new(value, value_len);
	uint32_t sub_id;

	if (key_len != 5)
		return 0;
	sub_id = key_get_be32((const uint8_t *)key + 1);
	if (rec_subscriber_decode(bytes, &rec) < 0) {
		problem(f, "subscriber %u: corrupt record", sub_id);
		return 0;
	}
	u = usage_of(f, sub_id);
	if (u->bytes != rec.bytes || u->messages != rec.messages ||
	    u->voice_seconds != rec.voice_seconds ||
	    u->greeting_seconds != rec.greeting_seconds) {
		problem(f, "subscriber %s: quota usage %" G_GUINT64_FORMAT
			" bytes/%" G_GUINT64_FORMAT " messages should be %"
			G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, rec.msisdn,
			rec.bytes, rec.messages, u->bytes, u->messages);
		if (f->fix != NULL) {
			rec.bytes = u->bytes;
			rec.messages = u->messages;
			rec.voice_seconds = u->voice_seconds;
			rec.greeting_seconds = u->greeting_seconds;
			ms_put_subscriber(f->fix, sub_id, &rec);
		}
	}
	return 0;
}

static int run_checks(struct fsck *f)
{
	struct db *db = f->ms->db;
	GHashTableIter iter;
	gpointer value;
	int ret;

	ret = db_scan(db, KV_MAILBOXES, "M", 1, NULL, 0, load_mailbox, f);
	if (ret == 0)
		ret = db_scan(db, KV_MESSAGES, "", 0, NULL, 0, check_message, f);
	if (ret == 0)
		ret = db_scan(db, KV_INDEX, "C", 1, NULL, 0, check_change, f);
	if (ret == 0)
		ret = db_scan(db, KV_BODIES, "", 0, NULL, 0, check_body, f);
	if (ret < 0)
		return ret;
	g_hash_table_iter_init(&iter, f->mailboxes);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		check_mailbox_counters(f, value);
	return db_scan(db, KV_SUBSCRIBERS, "S", 1, NULL, 0, check_subscriber,
		       f);
}

int mailstore_fsck(const char *dir, bool repair, GString *report)
{
	struct ms_options options = { 0 };
	struct fsck f = { 0 };
	g_autofree char *error = NULL;
	int ret;

	ms_options_default(&options);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_string_append_printf(report, "%s: no such store\n", dir);
		return -ENOENT;
	}
	ret = mailstore_open(dir, &options, &f.ms, &error);
	if (ret < 0) {
		g_string_append_printf(report, "%s\n", error);
		return ret;
	}
	f.report = report;
	f.fix = repair ? kv_batch_create() : NULL;
	f.mailboxes = g_hash_table_new_full(NULL, NULL, NULL, mbox_check_free);
	f.subscribers = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	f.msgids = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					 NULL);
	ret = run_checks(&f);
	if (ret == 0 && f.fix != NULL && f.problems > 0)
		ret = db_commit(f.ms->db, &f.fix);
	kv_batch_destroy(&f.fix);
	g_hash_table_destroy(f.mailboxes);
	g_hash_table_destroy(f.subscribers);
	g_hash_table_destroy(f.msgids);
	mailstore_close(&f.ms);
	return ret < 0 ? ret : f.problems;
}
