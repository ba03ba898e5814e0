/* Offline consistency check of a store (vvmadm fsck): every record is read
 * and the derived state (counters, quota usage, UIDNEXT, the change log,
 * the expiry index, the id counters) recomputed from the messages
 * themselves, which are the truth, once ms-fsck-content.c has set aside
 * the messages whose content is not their own. With repair, derived state
 * is rewritten, damaged messages expunged and garbage removed in one
 * batch; nothing is made up. */
#include "ms-fsck-private.h"
#include "vvm-flags.h"

#include <errno.h>
#include <string.h>

void fsck_problem(struct fsck *f, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	g_string_append_vprintf(f->report, fmt, args);
	va_end(args);
	g_string_append_c(f->report, '\n');
	f->problems++;
}

char *fsck_message_name(struct fsck *f, const struct fsck_message *m)
{
	struct mbox_check *mb = g_hash_table_lookup(
		f->mailboxes, GUINT_TO_POINTER(m->mbox_id));
	struct sub_check *s = g_hash_table_lookup(
		f->subscribers, GUINT_TO_POINTER(mb->rec.sub_id));

	if (s == NULL)
		return g_strdup_printf("subscriber %u/%s/%u.eml",
				       mb->rec.sub_id, mb->rec.name, m->uid);
	return g_strdup_printf("%s/%s/%u.eml", s->rec.msisdn, mb->rec.name,
			       m->uid);
}

void fsck_note_msgid(struct fsck *f, uint64_t msgid)
{
	gpointer key = GUINT_TO_POINTER(MSGID_SUBSCRIBER(msgid));
	uint32_t counter = MSGID_COUNTER(msgid);
	uint32_t *max;

	/* Ids below 2^32 come from format 1's store-wide counter. */
	if (MSGID_SUBSCRIBER(msgid) == 0)
		return;
	max = g_hash_table_lookup(f->msgid_counters, key);
	if (max == NULL) {
		max = g_new0(uint32_t, 1);
		g_hash_table_insert(f->msgid_counters, key, max);
	}
	*max = MAX(*max, counter);
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
		fsck_problem(f, "mailbox %u: corrupt record", m->id);
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

static int load_subscriber(void *ctx, const void *key, size_t key_len,
			   const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	g_autoptr(GBytes) bytes = g_bytes_new(value, value_len);
	struct sub_check *s;
	uint32_t sub_id;

	if (key_len != 5)
		return 0;
	sub_id = key_get_be32((const uint8_t *)key + 1);
	s = g_new0(struct sub_check, 1);
	if (rec_subscriber_decode(bytes, &s->rec) < 0) {
		fsck_problem(f, "subscriber %u: corrupt record", sub_id);
		g_free(s);
		return 0;
	}
	s->computed = s->rec;
	s->computed.bytes = 0;
	s->computed.messages = 0;
	s->computed.voice_seconds = 0;
	s->computed.greeting_seconds = 0;
	g_hash_table_insert(f->subscribers, GUINT_TO_POINTER(sub_id), s);
	return 0;
}

static int load_message(void *ctx, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	struct fsck_message m = { 0 };
	GArray *group;
	guint index = f->messages->len;

	if (key_len == 8) {
		m.mbox_id = key_get_be32(key);
		m.uid = key_get_be32((const uint8_t *)key + 4);
	}
	if (key_len != 8 ||
	    !g_hash_table_contains(f->mailboxes,
				   GUINT_TO_POINTER(m.mbox_id)) ||
	    rec_message_decode(value, value_len, &m.rec) < 0) {
		fsck_problem(f, "message %u/%u: %s%s", m.mbox_id, m.uid,
			     key_len != 8 ? "bad key" : "in no mailbox or corrupt",
			     f->fix != NULL ? " (removed)" : "");
		if (f->fix != NULL)
			kv_batch_delete(f->fix, KV_MESSAGES, key, key_len);
		return 0;
	}
	g_array_append_val(f->messages, m);
	group = g_hash_table_lookup(f->by_msgid, &m.rec.msgid);
	if (group == NULL) {
		group = g_array_new(FALSE, FALSE, sizeof(guint));
		g_hash_table_insert(f->by_msgid, g_memdup2(&m.rec.msgid, 8),
				    group);
	}
	g_array_append_val(group, index);
	fsck_note_msgid(f, m.rec.msgid);
	return 0;
}

static void usage_add(struct rec_subscriber *u, const struct rec_mailbox *mb,
		      const struct rec_message *msg)
{
	u->messages++;
	u->bytes += msg->size;
	if (msg->duration <= 0)
		return;
	if (ms_mailbox_is_greetings(mb))
		u->greeting_seconds += (uint64_t)msg->duration;
	else
		u->voice_seconds += (uint64_t)msg->duration;
}

/* Adds a message that stays to its mailbox's and subscriber's counts. */
static void account(struct fsck *f, const struct fsck_message *msg)
{
	struct mbox_check *m = g_hash_table_lookup(
		f->mailboxes, GUINT_TO_POINTER(msg->mbox_id));
	struct sub_check *s = g_hash_table_lookup(
		f->subscribers, GUINT_TO_POINTER(m->rec.sub_id));

	if (msg->uid >= m->computed.uidnext) {
		fsck_problem(f, "mailbox %u: UIDNEXT %u not above UID %u",
			     m->id, m->computed.uidnext, msg->uid);
		m->computed.uidnext = msg->uid + 1;
	}
	if (msg->rec.modseq > m->computed.highestmodseq) {
		fsck_problem(f, "mailbox %u: HIGHESTMODSEQ below message %u",
			     m->id, msg->uid);
		m->computed.highestmodseq = msg->rec.modseq;
	}
	m->computed.messages++;
	m->computed.bytes += msg->rec.size;
	if ((msg->rec.flags & VVM_FLAG_SEEN) == 0)
		m->computed.unseen++;
	if (s != NULL)
		usage_add(&s->computed, &m->rec, &msg->rec);
	else
		fsck_problem(f, "mailbox %u: its subscriber %u has no record",
			     m->id, m->rec.sub_id);
}

/* The change log must hold, for each message, exactly the entry at its
 * modseq; other present entries are stale. A damaged message's entry
 * gives way to a tombstone (expunge_damaged()). */
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
		fsck_problem(f, "change log: orphan or corrupt entry");
		goto drop;
	}
	if (modseq > m->computed.highestmodseq) {
		fsck_problem(f, "mailbox %u: change at modseq %" G_GUINT64_FORMAT
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
	fsck_problem(f, "mailbox %u: stale change entry for UID %u", mbox_id,
		     change.uid);
drop:
	if (f->fix != NULL)
		kv_batch_delete(f->fix, KV_INDEX, key, key_len);
	return 0;
}

/* Expunges a damaged message as ms_message_expunge() would, after the
 * highest modseq is known: its record, expiry key and change entry go,
 * a tombstone tells clients. Its content is the owner's, or garbage that
 * ms-fsck-content.c removed. */
static void expunge_damaged(struct fsck *f, const struct fsck_message *msg)
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

static int check_expiry_index(struct fsck *f)
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

static void check_mailbox_counters(struct fsck *f, struct mbox_check *m)
{
	GHashTableIter iter;
	gpointer uid, modseq;

	g_hash_table_iter_init(&iter, m->changes);
	while (g_hash_table_iter_next(&iter, &uid, &modseq)) {
		fsck_problem(f, "mailbox %u: UID %u missing from the change log",
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
		fsck_problem(f, "mailbox %u: counters %u/%u/%" G_GUINT64_FORMAT
			     " should be %u/%u/%" G_GUINT64_FORMAT, m->id,
			     m->rec.messages, m->rec.unseen, m->rec.bytes,
			     m->computed.messages, m->computed.unseen,
			     m->computed.bytes);
	if (f->fix != NULL)
		ms_put_mailbox(f->fix, m->id, &m->computed);
}

/* Quota usage, and the message counter: never behind an id in a key. */
static void check_subscriber(struct fsck *f, uint32_t sub_id,
			     struct sub_check *s)
{
	struct rec_subscriber *rec = &s->rec, *u = &s->computed;
	uint32_t *max = g_hash_table_lookup(f->msgid_counters,
					    GUINT_TO_POINTER(sub_id));
	bool fix = false;

	if (u->bytes != rec->bytes || u->messages != rec->messages ||
	    u->voice_seconds != rec->voice_seconds ||
	    u->greeting_seconds != rec->greeting_seconds) {
		fsck_problem(f, "subscriber %s: quota usage %" G_GUINT64_FORMAT
			     " bytes/%" G_GUINT64_FORMAT " messages should be %"
			     G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
			     rec->msisdn, rec->bytes, rec->messages, u->bytes,
			     u->messages);
		fix = true;
	}
	if (max != NULL && *max > rec->last_msgid) {
		fsck_problem(f, "subscriber %s: message counter %u behind id "
			     "%u in the store%s", rec->msisdn, rec->last_msgid,
			     *max, f->fix != NULL ? " (raised)" : "");
		u->last_msgid = *max;
		fix = true;
	}
	if (fix && f->fix != NULL)
		ms_put_subscriber(f->fix, sub_id, u);
}

/* Store-wide counters: never behind a record they numbered. */
struct meta_check {
	uint64_t max_sub, max_mbox, max_uidvalidity, max_outbox;
};

static int note_sub_id(void *ctx, const void *key, size_t key_len,
		       const void *value, size_t value_len)
{
	struct meta_check *c = ctx;

	if (key_len == 5)
		c->max_sub = MAX(c->max_sub, key_get_be32((const uint8_t *)key + 1));
	return 0;
}

static int note_outbox_seq(void *ctx, const void *key, size_t key_len,
			   const void *value, size_t value_len)
{
	struct meta_check *c = ctx;

	if (key_len == 8)
		c->max_outbox = MAX(c->max_outbox, key_get_be64(key));
	return 0;
}

static void check_counter(struct fsck *f, const char *name, uint64_t max)
{
	g_autoptr(GBytes) value = NULL;
	uint64_t stored = 0;
	int ret = db_get(f->ms->db, KV_META, name, strlen(name), &value);

	if (ret == 0 && rec_u64_decode(value, &stored) < 0)
		ret = -EIO;
	if ((ret == 0 || ret == -ENOENT) && stored >= max)
		return;
	fsck_problem(f, "counter %s: %s, behind %" G_GUINT64_FORMAT " in the "
		     "store%s", name, ret == 0 ? "too low" : ret == -ENOENT ?
		     "missing" : "unreadable", max,
		     f->fix != NULL ? " (raised)" : "");
	if (f->fix != NULL)
		kv_batch_put_bytes(f->fix, KV_META, name, strlen(name),
				   rec_u64_encode(max));
}

static int check_meta(struct fsck *f)
{
	struct meta_check c = { 0 };
	GHashTableIter iter;
	gpointer value;
	int ret;

	g_hash_table_iter_init(&iter, f->mailboxes);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		struct mbox_check *m = value;

		c.max_mbox = MAX(c.max_mbox, m->id);
		c.max_uidvalidity = MAX(c.max_uidvalidity, m->rec.uidvalidity);
	}
	ret = db_scan(f->ms->db, KV_SUBSCRIBERS, "S", 1, NULL, 0, note_sub_id,
		      &c);
	if (ret == 0)
		ret = db_scan(f->ms->db, KV_OUTBOX, "", 0, NULL, 0,
			      note_outbox_seq, &c);
	if (ret < 0)
		return ret;
	check_counter(f, "next_sub_id", c.max_sub);
	check_counter(f, "next_mbox_id", c.max_mbox);
	check_counter(f, "last_uidvalidity", c.max_uidvalidity);
	/* Format 1 has no outbox counter: the upgrade makes it. */
	if (f->ms->format == STORE_FORMAT)
		check_counter(f, OUTBOX_SEQUENCE, c.max_outbox);
	return 0;
}

static int run_checks(struct fsck *f)
{
	struct db *db = f->ms->db;
	GHashTableIter iter;
	gpointer key, value;
	int ret;

	ret = db_scan(db, KV_MAILBOXES, "M", 1, NULL, 0, load_mailbox, f);
	if (ret == 0)
		ret = db_scan(db, KV_SUBSCRIBERS, "S", 1, NULL, 0,
			      load_subscriber, f);
	if (ret == 0)
		ret = db_scan(db, KV_MESSAGES, "", 0, NULL, 0, load_message, f);
	if (ret == 0)
		ret = fsck_check_content(f);
	if (ret < 0)
		return ret;
	for (guint i = 0; i < f->messages->len; i++) {
		struct fsck_message *m =
			&g_array_index(f->messages, struct fsck_message, i);
		struct mbox_check *mb = g_hash_table_lookup(
			f->mailboxes, GUINT_TO_POINTER(m->mbox_id));

		/* A damaged message counts until repair expunges it. */
		if (!m->damaged || f->fix == NULL)
			account(f, m);
		g_hash_table_insert(mb->changes, GUINT_TO_POINTER(m->uid),
				    g_memdup2(&m->rec.modseq, 8));
	}
	ret = db_scan(db, KV_INDEX, "C", 1, NULL, 0, check_change, f);
	if (ret == 0)
		ret = check_expiry_index(f);
	if (ret == 0)
		ret = check_meta(f);
	if (ret < 0)
		return ret;
	for (guint i = 0; f->fix != NULL && i < f->messages->len; i++) {
		struct fsck_message *m =
			&g_array_index(f->messages, struct fsck_message, i);

		if (m->damaged)
			expunge_damaged(f, m);
	}
	g_hash_table_iter_init(&iter, f->mailboxes);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		check_mailbox_counters(f, value);
	g_hash_table_iter_init(&iter, f->subscribers);
	while (g_hash_table_iter_next(&iter, &key, &value))
		check_subscriber(f, GPOINTER_TO_UINT(key), value);
	return 0;
}

static void report_summary(struct fsck *f)
{
	if (f->ms->format != STORE_FORMAT)
		g_string_append_printf(f->report,
				       "store format %d: vvmfs upgrades it to "
				       "%d when it next opens it\n",
				       f->ms->format, STORE_FORMAT);
	if (f->damaged > 0)
		g_string_append_printf(
			f->report,
			"%u damaged message%s: what %s held cannot be brought "
			"back; %s (docs/admin.md, \"A damaged store\")\n",
			f->damaged, f->damaged == 1 ? "" : "s",
			f->damaged == 1 ? "it" : "they",
			f->fix != NULL ? "expunged"
				       : f->damaged == 1 ? "--repair expunges it"
							 : "--repair expunges them");
}

int mailstore_fsck(const char *dir, bool repair, GString *report)
{
	struct ms_options options = { 0 };
	struct fsck f = { 0 };
	g_autofree char *error = NULL;
	int ret;

	ms_options_default(&options);
	options.check_only = !repair;
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
	f.messages = g_array_new(FALSE, FALSE, sizeof(struct fsck_message));
	f.by_msgid = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					   (GDestroyNotify)g_array_unref);
	f.owned = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					NULL);
	f.msgid_counters = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	ret = run_checks(&f);
	if (ret == 0)
		report_summary(&f);
	if (ret == 0 && f.fix != NULL && f.problems > 0)
		ret = db_commit(f.ms->db, &f.fix);
	kv_batch_destroy(&f.fix);
	g_hash_table_destroy(f.mailboxes);
	g_hash_table_destroy(f.subscribers);
	g_array_free(f.messages, TRUE);
	g_hash_table_destroy(f.by_msgid);
	g_hash_table_destroy(f.owned);
	g_hash_table_destroy(f.msgid_counters);
	mailstore_close(&f.ms);
	return ret < 0 ? ret : f.problems;
}
