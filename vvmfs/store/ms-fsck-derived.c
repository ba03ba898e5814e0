/* fsck's checks of what is derived from the message records: the
 * mailbox name index, UIDNEXT and HIGHESTMODSEQ, the change log, the
 * expiry index, mailbox counters, quota usage and the id counters; and
 * the tombstones repair leaves for the records it takes away. */
#include "ms-fsck-private.h"
#include "vvm-flags.h"

#include <errno.h>
#include <string.h>

int fsck_load_counter(struct fsck *f, const char *name, uint64_t *value_r)
{
	g_autoptr(GBytes) value = NULL;
	int ret = db_get(f->ms->db, KV_META, name, strlen(name), &value);

	*value_r = 0;
	if (ret == -ENOENT)
		return 0;
	if (ret == 0 && rec_u64_decode(value, value_r) < 0)
		ret = -EIO;
	return ret;
}

/* Each mailbox is named in the name index, under its own id. */
int fsck_check_names(struct fsck *f)
{
	GHashTableIter iter;
	gpointer key, value;

	g_hash_table_iter_init(&iter, f->names);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		struct mbox_name *n = value;
		struct mbox_check *m = g_hash_table_lookup(f->mailboxes, key);
		struct key k;

		if (m != NULL && m->rec.sub_id == n->sub_id &&
		    strcmp(m->rec.name, n->name) == 0)
			continue;
		fsck_problem(f, "mailbox name index: \"%s\" of subscriber %u "
			     "names mailbox %u, %s%s", n->name, n->sub_id,
			     GPOINTER_TO_UINT(key),
			     m == NULL ? "which is not there"
				       : "whose record has another name",
			     f->fix != NULL ? " (removed)" : "");
		if (f->fix != NULL) {
			key_mailbox_name(&k, n->sub_id, n->name);
			kv_batch_delete(f->fix, KV_MAILBOXES, k.data, k.len);
		}
	}
	g_hash_table_iter_init(&iter, f->mailboxes);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		struct mbox_check *m = value;
		g_autoptr(GBytes) id = NULL;
		uint32_t be_id = GUINT32_TO_BE(m->id);
		struct key k;
		int ret;

		key_mailbox_name(&k, m->rec.sub_id, m->rec.name);
		ret = db_get(f->ms->db, KV_MAILBOXES, k.data, k.len, &id);
		if (ret < 0 && ret != -ENOENT)
			return ret;
		if (ret == 0 && g_bytes_get_size(id) == 4 &&
		    memcmp(g_bytes_get_data(id, NULL), &be_id, 4) == 0)
			continue;
		fsck_problem(f, "mailbox %u (\"%s\"): not in the name index%s",
			     m->id, m->rec.name,
			     f->fix != NULL ? " (added)" : "");
		if (f->fix != NULL)
			kv_batch_put(f->fix, KV_MAILBOXES, k.data, k.len,
				     &be_id, 4);
	}
	return 0;
}

void fsck_account(struct fsck *f, const struct fsck_message *msg)
{
	struct mbox_check *m = g_hash_table_lookup(
		f->mailboxes, GUINT_TO_POINTER(msg->mbox_id));
	struct sub_check *s = g_hash_table_lookup(
		f->subscribers, GUINT_TO_POINTER(m->rec.sub_id));

	ms_mailbox_apply(&m->computed, &msg->rec, 1);
	if (s != NULL)
		ms_usage_apply(&s->computed, &m->rec, &msg->rec, 1);
}

/* A record found: its UID and modseq bound the mailbox's, damaged or not
 * (UIDs are never used twice), and it counts as found. */
void fsck_account_found(struct fsck *f, const struct fsck_message *msg)
{
	struct mbox_check *m = g_hash_table_lookup(
		f->mailboxes, GUINT_TO_POINTER(msg->mbox_id));
	struct sub_check *s = g_hash_table_lookup(
		f->subscribers, GUINT_TO_POINTER(m->rec.sub_id));

	if (msg->uid >= m->computed.uidnext) {
		if (!m->made)
			fsck_problem(f, "mailbox %u: UIDNEXT %u not above UID "
				     "%u", m->id, m->computed.uidnext,
				     msg->uid);
		m->computed.uidnext = msg->uid == G_MAXUINT32 ? G_MAXUINT32
							      : msg->uid + 1;
	}
	if (msg->rec.modseq > m->computed.highestmodseq) {
		if (!m->made)
			fsck_problem(f, "mailbox %u: HIGHESTMODSEQ below message "
				     "%u", m->id, msg->uid);
		m->computed.highestmodseq = msg->rec.modseq;
	}
	ms_mailbox_apply(&m->present, &msg->rec, 1);
	if (s != NULL)
		ms_usage_apply(&s->present, &m->rec, &msg->rec, 1);
	/* A damaged message counts until repair expunges it. */
	if (!msg->damaged || f->fix == NULL)
		fsck_account(f, msg);
	g_hash_table_insert(m->changes, GUINT_TO_POINTER(msg->uid),
			    g_memdup2(&msg->rec.modseq, 8));
}

static bool is_lost(struct fsck *f, uint32_t mbox_id, uint32_t uid)
{
	uint64_t key = (uint64_t)mbox_id << 32 | uid;

	return g_hash_table_contains(f->lost, &key);
}

/* The UID of a record that does not decode stays used: UIDNEXT above
 * it, and (repair) a tombstone, since clients may have seen it. */
void fsck_bound_lost(struct fsck *f, bool bury)
{
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, f->lost);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		uint64_t lost = *(uint64_t *)key;
		uint32_t uid = (uint32_t)lost;
		struct mbox_check *m = g_hash_table_lookup(
			f->mailboxes, GUINT_TO_POINTER((uint32_t)(lost >> 32)));

		if (!bury) {
			if (uid >= m->computed.uidnext)
				m->computed.uidnext = uid == G_MAXUINT32
					? G_MAXUINT32 : uid + 1;
			continue;
		}
		ms_put_change(f->fix, m->id, ++m->computed.highestmodseq, uid,
			      0, CHANGE_EXPUNGED);
	}
}

/* The change log must hold, for each message, exactly the entry at its
 * modseq; other present entries are stale. */
static int check_change(void *ctx, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	struct rec_change change;
	struct mbox_check *m = NULL;
	uint32_t mbox_id = 0;
	uint64_t modseq = 0, *expected;

	if (key_len == 13) {
		mbox_id = key_get_be32((const uint8_t *)key + 1);
		modseq = key_get_be64((const uint8_t *)key + 5);
		m = g_hash_table_lookup(f->mailboxes,
					GUINT_TO_POINTER(mbox_id));
	}
	if (m == NULL || rec_change_decode(value, value_len, &change) < 0) {
		fsck_problem(f, "change log: an orphan or corrupt entry%s",
			     f->fix != NULL ? " (removed)" : "");
		goto drop;
	}
	if (modseq > m->computed.highestmodseq) {
		if (!m->made)
			fsck_problem(f, "mailbox %u: change at modseq %"
				     G_GUINT64_FORMAT " above HIGHESTMODSEQ",
				     mbox_id, modseq);
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
	/* A lost record's entry gives way to its tombstone (bury_lost()). */
	if (!is_lost(f, mbox_id, change.uid))
		fsck_problem(f, "mailbox %u: stale change entry for UID %u%s",
			     mbox_id, change.uid,
			     f->fix != NULL ? " (removed)" : "");
drop:
	if (f->fix != NULL)
		kv_batch_delete(f->fix, KV_INDEX, key, key_len);
	return 0;
}

int fsck_check_changes(struct fsck *f)
{
	return db_scan(f->ms->db, KV_INDEX, "C", 1, NULL, 0, check_change, f);
}

/* Expunges a damaged message as ms_message_expunge() would, once the
 * highest modseq is known: its record, expiry key and change entry go,
 * a tombstone tells clients. Its content is the owner's, or is
 * recovered. */
void fsck_expunge_damaged(struct fsck *f, const struct fsck_message *msg)
{
	struct mbox_check *m = g_hash_table_lookup(
		f->mailboxes, GUINT_TO_POINTER(msg->mbox_id));
	struct key k;

	key_message(&k, msg->mbox_id, msg->uid);
	kv_batch_delete(f->fix, KV_MESSAGES, k.data, k.len);
	if (msg->rec.expires > 0) {
		key_expiry(&k, msg->rec.expires, msg->mbox_id, msg->uid);
		kv_batch_delete(f->fix, KV_INDEX, k.data, k.len);
	}
	ms_delete_change(f->fix, msg->mbox_id, msg->rec.modseq);
	g_hash_table_remove(m->changes, GUINT_TO_POINTER(msg->uid));
	ms_put_change(f->fix, msg->mbox_id, ++m->computed.highestmodseq,
		      msg->uid, 0, CHANGE_EXPUNGED);
}

/* The expiry index holds exactly one key per message that stays and
 * expires; a damaged message's key goes with it. */
struct expiry_check {
	struct fsck *f;
	GHashTable *expected; /* GBytes keys of messages that stay */
	GHashTable *damaged;  /* GBytes keys of damaged messages */
};

static GHashTable *key_set(void)
{
	return g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
				     (GDestroyNotify)g_bytes_unref, NULL);
}

static int check_expiry(void *ctx, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	struct expiry_check *c = ctx;
	g_autoptr(GBytes) k = g_bytes_new(key, key_len);

	if (g_hash_table_remove(c->expected, k) ||
	    g_hash_table_contains(c->damaged, k))
		return 0;
	fsck_problem(c->f, "expiry index: an entry for no message that "
		     "expires%s", c->f->fix != NULL ? " (removed)" : "");
	if (c->f->fix != NULL)
		kv_batch_delete(c->f->fix, KV_INDEX, key, key_len);
	return 0;
}

int fsck_check_expiry(struct fsck *f)
{
	g_autoptr(GHashTable) expected = key_set();
	g_autoptr(GHashTable) damaged = key_set();
	struct expiry_check c = { f, expected, damaged };
	GHashTableIter iter;
	gpointer key;
	int ret;

	for (guint i = 0; i < f->messages->len; i++) {
		struct fsck_message *m =
			&g_array_index(f->messages, struct fsck_message, i);
		struct key k;

		if (m->rec.expires <= 0)
			continue;
		key_expiry(&k, m->rec.expires, m->mbox_id, m->uid);
		g_hash_table_add(m->damaged ? damaged : expected,
				 g_bytes_new(k.data, k.len));
	}
	ret = db_scan(f->ms->db, KV_INDEX, "E", 1, NULL, 0, check_expiry, &c);
	if (ret < 0)
		return ret;
	g_hash_table_iter_init(&iter, expected);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		gsize len;
		const uint8_t *k = g_bytes_get_data(key, &len);

		fsck_problem(f, "mailbox %u: UID %u missing from the expiry "
			     "index%s", key_get_be32(k + 9),
			     key_get_be32(k + 13),
			     f->fix != NULL ? " (added)" : "");
		if (f->fix != NULL)
			kv_batch_put(f->fix, KV_INDEX, k, len, "", 0);
	}
	return 0;
}

int fsck_check_mailbox(struct fsck *f, struct mbox_check *m)
{
	GHashTableIter iter;
	gpointer uid, modseq;

	g_hash_table_iter_init(&iter, m->changes);
	while (g_hash_table_iter_next(&iter, &uid, &modseq)) {
		struct rec_message msg;
		int ret;

		fsck_problem(f, "mailbox %u: UID %u missing from the change "
			     "log%s", m->id, GPOINTER_TO_UINT(uid),
			     f->fix != NULL ? " (added)" : "");
		if (f->fix == NULL)
			continue;
		ret = ms_get_message(f->ms, m->id, GPOINTER_TO_UINT(uid),
				     &msg);
		if (ret < 0)
			return ret;
		ms_put_change(f->fix, m->id, msg.modseq, GPOINTER_TO_UINT(uid),
			      msg.flags, CHANGE_PRESENT);
	}
	if (!m->made && (m->present.messages != m->rec.messages ||
			 m->present.unseen != m->rec.unseen ||
			 m->present.bytes != m->rec.bytes))
		fsck_problem(f, "mailbox %u: counters %u/%u/%" G_GUINT64_FORMAT
			     " should be %u/%u/%" G_GUINT64_FORMAT, m->id,
			     m->rec.messages, m->rec.unseen, m->rec.bytes,
			     m->present.messages, m->present.unseen,
			     m->present.bytes);
	if (f->fix != NULL)
		ms_put_mailbox(f->fix, m->id, &m->computed);
	return 0;
}

/* Quota usage, and the message counter: never behind an id in a key. */
void fsck_check_subscriber(struct fsck *f, uint32_t sub_id,
			     struct sub_check *s)
{
	struct rec_subscriber *rec = &s->rec, *u = &s->present;
	uint32_t *max = g_hash_table_lookup(f->msgid_counters,
					    GUINT_TO_POINTER(sub_id));

	if (u->bytes != rec->bytes || u->messages != rec->messages ||
	    u->voice_seconds != rec->voice_seconds ||
	    u->greeting_seconds != rec->greeting_seconds)
		fsck_problem(f, "subscriber %s: quota usage %" G_GUINT64_FORMAT
			     " bytes/%" G_GUINT64_FORMAT " messages should be %"
			     G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
			     rec->msisdn, rec->bytes, rec->messages, u->bytes,
			     u->messages);
	if (max != NULL && *max > rec->last_msgid) {
		fsck_problem(f, "subscriber %s: message counter %u behind id "
			     "%u in the store%s", rec->msisdn, rec->last_msgid,
			     *max, f->fix != NULL ? " (raised)" : "");
		s->computed.last_msgid = *max;
	}
	if (f->fix != NULL && (s->computed.bytes != rec->bytes ||
			       s->computed.messages != rec->messages ||
			       s->computed.voice_seconds != rec->voice_seconds ||
			       s->computed.greeting_seconds !=
				       rec->greeting_seconds ||
			       s->computed.last_msgid != rec->last_msgid))
		ms_put_subscriber(f->fix, sub_id, &s->computed);
}

/* --- store-wide counters: never behind a record they numbered ------- */

static int note_sub_name(void *ctx, const void *key, size_t key_len,
			 const void *value, size_t value_len)
{
	struct fsck *f = ctx;

	if (value_len == 4)
		f->max_sub_id = MAX(f->max_sub_id, key_get_be32(value));
	return 0;
}

static int note_outbox_seq(void *ctx, const void *key, size_t key_len,
			   const void *value, size_t value_len)
{
	uint64_t *max = ctx;

	if (key_len == 8)
		*max = MAX(*max, key_get_be64(key));
	return 0;
}

/* Reports a counter below max, and writes value (max, or more if
 * repair has taken ids from it) when it is not what is stored. */
static int check_counter(struct fsck *f, const char *name, uint64_t max,
			 uint64_t value)
{
	uint64_t stored;
	int ret = fsck_load_counter(f, name, &stored);

	if (ret < 0)
		return ret;
	if (stored < max)
		fsck_problem(f, "counter %s: %" G_GUINT64_FORMAT ", behind %"
			     G_GUINT64_FORMAT " in the store%s", name, stored,
			     max, f->fix != NULL ? " (raised)" : "");
	value = MAX(value, max);
	if (f->fix != NULL && value > stored)
		kv_batch_put_bytes(f->fix, KV_META, name, strlen(name),
				   rec_u64_encode(value));
	return 0;
}

int fsck_check_meta(struct fsck *f)
{
	uint64_t max_outbox = 0;
	int ret;

	ret = db_scan(f->ms->db, KV_SUBSCRIBERS, "N", 1, NULL, 0,
		      note_sub_name, f);
	if (ret == 0)
		ret = db_scan(f->ms->db, KV_OUTBOX, "", 0, NULL, 0,
			      note_outbox_seq, &max_outbox);
	if (ret == 0)
		ret = check_counter(f, "next_sub_id", f->max_sub_id,
				    f->max_sub_id);
	if (ret == 0)
		ret = check_counter(f, "next_mbox_id", f->seen_mbox_id,
				    f->next_mbox_id);
	if (ret == 0)
		ret = check_counter(f, "last_uidvalidity",
				    f->seen_uidvalidity, f->last_uidvalidity);
	/* Format 1 has no outbox counter: the upgrade makes it. */
	if (ret == 0 && f->ms->format == STORE_FORMAT)
		ret = check_counter(f, OUTBOX_SEQUENCE, max_outbox, max_outbox);
	return ret;
}
