/* vvmadm fsck's engine against a store damaged on purpose, record by
 * record, through the kv layer: each kind of damage is found, repair fixes
 * it, and a second check is clean. */
#include <errno.h>
#include <string.h>
#include <glib.h>

#include "db.h"
#include "index.h"
#include "mailstore.h"
#include "schema.h"

static const char message_text[] =
	"From: caller@example.net\r\n"
	"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
	"Content-Duration: 7\r\n"
	"\r\n"
	"hello\r\n";

static void deposit(struct mailstore *ms, uint32_t mbox)
{
	g_autoptr(GBytes) canonical = g_bytes_new_static(message_text,
							 strlen(message_text));
	struct index_limits limits;
	struct index *index = NULL;
	struct ms_deposit d = { 0 };
	const char *reason = NULL;
	uint32_t uid;

	index_limits_default(&limits);
	g_assert_cmpint(index_message(message_text, strlen(message_text),
				      &limits, &index, &reason), ==, 0);
	d.canonical = canonical;
	d.index = index_serialize(index);
	d.duration = index->duration;
	g_assert_cmpint(ms_message_deposit(ms, mbox, &d, &uid, &reason), ==, 0);
	g_bytes_unref(d.index);
	index_free(&index);
}

/* A store with one subscriber, three messages in INBOX; returns INBOX. */
static uint32_t build_store(const char *dir)
{
	struct ms_options options = { 0 };
	struct mailstore *ms = NULL;
	g_autofree char *error = NULL;
	uint32_t sub, inbox;

	ms_options_default(&options);
	g_assert_cmpint(mailstore_open(dir, &options, &ms, &error), ==, 0);
	g_assert_cmpint(ms_subscriber_create(ms, "31612345678", &sub), ==, 0);
	g_assert_cmpint(ms_mailbox_lookup(ms, sub, "INBOX", &inbox), ==, 0);
	for (int i = 0; i < 3; i++)
		deposit(ms, inbox);
	mailstore_close(&ms);
	return inbox;
}

/* Damages the store the ways fsck must notice. */
static void damage(const char *dir, uint32_t inbox)
{
	g_autofree char *error = NULL;
	GBytes *value = NULL;
	struct kv_batch *batch = kv_batch_create();
	struct rec_mailbox mbox;
	struct db *db = NULL;
	struct key k;

	g_assert_cmpint(db_open(dir, false, &db, &error), ==, 0);
	key_mailbox(&k, inbox);
	g_assert_cmpint(db_get(db, KV_MAILBOXES, k.data, k.len, &value), ==, 0);
	g_assert_cmpint(rec_mailbox_decode(value, &mbox), ==, 0);
	/* A value may pin the store's memory: let go before closing it. */
	g_bytes_unref(value);
	mbox.messages += 5;     /* wrong counter */
	mbox.uidnext = 2;       /* below UID 3 */
	kv_batch_put_bytes(batch, KV_MAILBOXES, k.data, k.len,
			   rec_mailbox_encode(&mbox));
	key_body(&k, 999);      /* a body no message refers to */
	kv_batch_put(batch, KV_BODIES, k.data, k.len, "orphan", 6);
	key_change(&k, inbox, 77); /* a stale change-log entry */
	kv_batch_put_bytes(batch, KV_INDEX, k.data, k.len,
			   rec_change_encode(&(struct rec_change){ 2, 0, 0 }));
	g_assert_cmpint(db_commit(db, &batch), ==, 0);
	db_close(&db);
}

static void test_find_and_repair(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-fsck-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_autoptr(GString) report = g_string_new(NULL);
	struct ms_options options = { 0 };
	struct mailstore *ms = NULL;
	g_autofree char *error = NULL;
	struct ms_mailbox mbox;
	uint32_t inbox = build_store(dir);

	g_assert_cmpint(mailstore_fsck(dir, false, report), ==, 0);
	damage(dir, inbox);

	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report), >=, 4);
	g_test_message("%s", report->str);
	g_assert_nonnull(strstr(report->str, "counters"));
	g_assert_nonnull(strstr(report->str, "UIDNEXT"));
	g_assert_nonnull(strstr(report->str, "no message refers to it"));
	g_assert_nonnull(strstr(report->str, "stale change entry"));

	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, true, report), >=, 4);
	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report), ==, 0);

	ms_options_default(&options);
	g_assert_cmpint(mailstore_open(dir, &options, &ms, &error), ==, 0);
	g_assert_cmpint(ms_mailbox_get(ms, inbox, &mbox), ==, 0);
	g_assert_cmpuint(mbox.messages, ==, 3);
	g_assert_cmpuint(mbox.uidnext, ==, 4);
	ms_mailbox_clear(&mbox);
	mailstore_close(&ms);
	g_assert_cmpint(system(cmd), ==, 0);
}

static int collect_seq(void *ctx, uint64_t seq, size_t size)
{
	g_array_append_val((GArray *)ctx, seq);
	return 0;
}

static struct mailstore *open_store(const char *dir)
{
	struct ms_options options = { 0 };
	struct mailstore *ms = NULL;
	g_autofree char *error = NULL;

	ms_options_default(&options);
	g_assert_cmpint(mailstore_open(dir, &options, &ms, &error), ==, 0);
	return ms;
}

/* Deposits text at internaldate; returns the message as stored. */
static struct ms_message deposit_text(struct mailstore *ms, uint32_t mbox,
				      const char *text, int64_t internaldate)
{
	g_autoptr(GBytes) canonical = g_bytes_new(text, strlen(text));
	struct index_limits limits;
	struct index *index = NULL;
	struct ms_deposit d = { 0 };
	struct ms_message msg;
	const char *reason = NULL;
	uint32_t uid;

	index_limits_default(&limits);
	g_assert_cmpint(index_message(text, strlen(text), &limits, &index,
				      &reason), ==, 0);
	d.canonical = canonical;
	d.index = index_serialize(index);
	d.duration = index->duration;
	d.expires = index->expires;
	d.internaldate = internaldate;
	g_assert_cmpint(ms_message_deposit(ms, mbox, &d, &uid, &reason), ==, 0);
	g_bytes_unref(d.index);
	index_free(&index);
	g_assert_cmpint(ms_message_get(ms, mbox, uid, &msg), ==, 0);
	return msg;
}

/* A copy: a value read may pin the store's memory past its close. */
static GBytes *body_of(struct mailstore *ms, uint64_t msgid)
{
	g_autoptr(GBytes) body = NULL;
	gsize len;
	const void *data;

	g_assert_cmpint(ms_message_body(ms, msgid, &body), ==, 0);
	data = g_bytes_get_data(body, &len);
	return g_bytes_new(data, len);
}

static void put(struct db *db, enum kv_table table, const struct key *k,
		const void *value, size_t len)
{
	struct kv_batch *batch = kv_batch_create();

	kv_batch_put(batch, table, k->data, k->len, value, len);
	g_assert_cmpint(db_commit(db, &batch), ==, 0);
}

static void put_message(struct db *db, uint32_t mbox, uint32_t uid,
			const struct ms_message *msg)
{
	struct rec_message rec = {
		.msgid = msg->msgid, .flags = msg->flags,
		.modseq = msg->modseq, .internaldate = msg->internaldate,
		.size = msg->size, .duration = msg->duration,
		.expires = msg->expires,
	};
	g_autoptr(GBytes) value = rec_message_encode(&rec);
	struct key k;

	key_message(&k, mbox, uid);
	put(db, KV_MESSAGES, &k, g_bytes_get_data(value, NULL),
	    g_bytes_get_size(value));
}

static void assert_clean_after_repair(const char *dir, int at_least)
{
	g_autoptr(GString) report = g_string_new(NULL);

	g_assert_cmpint(mailstore_fsck(dir, true, report), >=, at_least);
	g_test_message("repair: %s", report->str);
	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report), ==, 0);
	g_assert_cmpstr(report->str, ==, "");
}

static const char voice_a[] =
	"From: +31600000001@example.net\r\n"
	"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
	"Subject: first\r\n"
	"Content-Duration: 7\r\n"
	"\r\n"
	"the first message\r\n";
static const char voice_b[] =
	"From: +31600000002@example.net\r\n"
	"Date: Sun, 22 Nov 2026 11:00:00 +0000\r\n"
	"Subject: second, and longer\r\n"
	"Content-Duration: 9\r\n"
	"\r\n"
	"the second message, which is not the first\r\n";

/* The damage a reused message id did: two records, one body (the later
 * deposit's), and a rendition cached for the id. fsck names the message
 * that lost its bytes, repair expunges it with a tombstone, keeps the
 * other and drops the rendition, which may have been made of either. */
static void test_reused_id(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-fsck-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_autoptr(GString) report = g_string_new(NULL);
	g_autoptr(GBytes) rendered = g_bytes_new_static("rendered", 8);
	g_autoptr(GBytes) idx = g_bytes_new_static("idx", 3);
	g_autoptr(GBytes) b_body = NULL;
	g_autoptr(GBytes) after = NULL;
	g_autofree char *error = NULL;
	struct mailstore *ms = open_store(dir);
	struct ms_message a, b, gone;
	struct kv_batch *batch;
	struct db *db = NULL;
	uint32_t sub, inbox;
	struct key k;

	g_assert_cmpint(ms_subscriber_create(ms, "31612345678", &sub), ==, 0);
	g_assert_cmpint(ms_mailbox_lookup(ms, sub, "INBOX", &inbox), ==, 0);
	a = deposit_text(ms, inbox, voice_a, 1000);
	b = deposit_text(ms, inbox, voice_b, 2000);
	b_body = body_of(ms, b.msgid);
	g_assert_cmpint(ms_rendition_put(ms, inbox, 2, b.msgid, 1, rendered,
					 idx), ==, 0);
	mailstore_close(&ms);

	/* UID 1 now points at UID 2's content, its own is gone. */
	g_assert_cmpint(db_open(dir, false, &db, &error), ==, 0);
	batch = kv_batch_create();
	key_body(&k, a.msgid);
	kv_batch_delete(batch, KV_BODIES, k.data, k.len);
	key_index(&k, a.msgid);
	kv_batch_delete(batch, KV_INDEX, k.data, k.len);
	g_assert_cmpint(db_commit(db, &batch), ==, 0);
	gone = a;
	gone.msgid = b.msgid;
	put_message(db, inbox, 1, &gone);
	db_close(&db);

	g_assert_cmpint(mailstore_fsck(dir, false, report), ==, 2);
	g_test_message("%s", report->str);
	g_assert_nonnull(strstr(report->str,
				"31612345678/INBOX/1.eml: damaged, its body was "
				"overwritten by 31612345678/INBOX/2.eml"));
	g_assert_nonnull(strstr(report->str, "rendition 1 of message id"));
	g_assert_nonnull(strstr(report->str, "1 damaged message"));
	assert_clean_after_repair(dir, 2);

	ms = open_store(dir);
	g_assert_cmpint(ms_message_get(ms, inbox, 1, &gone), ==, -ENOENT);
	g_assert_cmpint(ms_message_get(ms, inbox, 2, &b), ==, 0);
	after = body_of(ms, b.msgid);
	g_assert_true(g_bytes_equal(after, b_body));
	g_string_truncate(report, 0);
	g_assert_cmpint(ms_changes(ms, inbox, b.modseq, false, report), ==, 0);
	g_assert_nonnull(strstr(report->str, "vanished 1\n"));
	mailstore_close(&ms);
	g_assert_cmpint(system(cmd), ==, 0);
}

/* Two records that both fit the body they share: the body is the later
 * deposit's, so the later INTERNALDATE keeps it. */
static void test_reused_id_same_size(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-fsck-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_autoptr(GString) report = g_string_new(NULL);
	g_autofree char *error = NULL;
	struct mailstore *ms = open_store(dir);
	struct ms_message a, b;
	struct db *db = NULL;
	uint32_t sub, inbox;

	g_assert_cmpint(ms_subscriber_create(ms, "31612345678", &sub), ==, 0);
	g_assert_cmpint(ms_mailbox_lookup(ms, sub, "INBOX", &inbox), ==, 0);
	a = deposit_text(ms, inbox, voice_a, 5000);
	b = deposit_text(ms, inbox, voice_a, 4000);
	mailstore_close(&ms);
	g_assert_cmpint(db_open(dir, false, &db, &error), ==, 0);
	b.msgid = a.msgid;
	put_message(db, inbox, 2, &b);
	db_close(&db);

	g_assert_cmpint(mailstore_fsck(dir, false, report), >=, 1);
	g_assert_nonnull(strstr(report->str,
				"31612345678/INBOX/2.eml: damaged, its body was "
				"overwritten by 31612345678/INBOX/1.eml"));
	assert_clean_after_repair(dir, 1);
	g_assert_cmpint(system(cmd), ==, 0);
}

/* Content that is wrong or nobody's: an index not made from its body,
 * an audio record of parts that are not audio, renditions without a
 * message, corrupt, or without a record, an index without a message,
 * counters behind the ids in the store, and a wrong expiry index. */
static void test_content_and_counters(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-fsck-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_autoptr(GString) report = g_string_new(NULL);
	g_autoptr(GBytes) sub_value = NULL;
	g_autofree char *error = NULL;
	struct mailstore *ms = open_store(dir);
	struct rec_subscriber sub_rec;
	struct ms_message a, b, c;
	struct index *index = NULL;
	struct db *db = NULL;
	uint32_t sub, inbox;
	const char *reason = NULL;
	const char entry[] = "to 31699999999\nport 0\nkind STATUS\nreplace 1\n"
			     "text //VVM:STATUS:st=U;rc=3\n";
	uint8_t bad_rendition[] = { RENDITION_V1, RENDITION_OWN, 'x' };
	struct key k;
	static const char expiring[] =
		"From: +31600000003@example.net\r\n"
		"Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
		"Expires: Sun, 22 Nov 2037 12:00:00 +0000\r\n"
		"\r\n"
		"expires\r\n";

	g_assert_cmpint(ms_subscriber_create(ms, "31612345678", &sub), ==, 0);
	g_assert_cmpint(ms_mailbox_lookup(ms, sub, "INBOX", &inbox), ==, 0);
	a = deposit_text(ms, inbox, voice_a, 0);
	b = deposit_text(ms, inbox, voice_b, 0);
	c = deposit_text(ms, inbox, expiring, 0);
	g_assert_cmpint(ms_outbox_add(ms, entry, strlen(entry), &reason), ==, 0);
	mailstore_close(&ms);

	g_assert_cmpint(db_open(dir, false, &db, &error), ==, 0);
	key_index(&k, a.msgid);
	put(db, KV_INDEX, &k, "garbage", 7);
	key_audio(&k, b.msgid);
	put(db, KV_INDEX, &k, "1 amr 9000\n", 11);
	key_rendition_index(&k, b.msgid + 100, 2);
	put(db, KV_INDEX, &k, bad_rendition, 2);
	key_rendition_index(&k, b.msgid, 3);
	put(db, KV_INDEX, &k, bad_rendition, sizeof(bad_rendition));
	key_rendition_body(&k, b.msgid, 3);
	put(db, KV_BODIES, &k, "not a message", 13);
	key_rendition_body(&k, b.msgid, 4);
	put(db, KV_BODIES, &k, "no record", 9);
	key_index(&k, b.msgid + 200);
	put(db, KV_INDEX, &k, "orphan", 6);
	/* Counters behind what they numbered. */
	key_subscriber(&k, sub);
	g_assert_cmpint(db_get(db, KV_SUBSCRIBERS, k.data, k.len, &sub_value),
			==, 0);
	g_assert_cmpint(rec_subscriber_decode(sub_value, &sub_rec), ==, 0);
	g_clear_pointer(&sub_value, g_bytes_unref);
	sub_rec.last_msgid = 1;
	sub_value = rec_subscriber_encode(&sub_rec);
	put(db, KV_SUBSCRIBERS, &k, g_bytes_get_data(sub_value, NULL),
	    g_bytes_get_size(sub_value));
	{
		struct kv_batch *batch = kv_batch_create();

		kv_batch_put_bytes(batch, KV_META, "outbox_seq", 10,
				   rec_u64_encode(0));
		kv_batch_put_bytes(batch, KV_META, "next_mbox_id", 12,
				   rec_u64_encode(1));
		key_expiry(&k, c.expires, inbox, 3);
		kv_batch_delete(batch, KV_INDEX, k.data, k.len);
		key_expiry(&k, 12345, inbox, 2);
		kv_batch_put(batch, KV_INDEX, k.data, k.len, "", 0);
		g_assert_cmpint(db_commit(db, &batch), ==, 0);
	}
	db_close(&db);

	g_assert_cmpint(mailstore_fsck(dir, false, report), ==, 11);
	g_test_message("%s", report->str);
	g_assert_nonnull(strstr(report->str, "31612345678/INBOX/1.eml: its "
				"index is not the one made from its body"));
	g_assert_nonnull(strstr(report->str, "31612345678/INBOX/2.eml: its "
				"audio record names parts"));
	g_assert_nonnull(strstr(report->str, "rendition 2 of message id"));
	g_assert_nonnull(strstr(report->str, ": no message refers to it"));
	g_assert_nonnull(strstr(report->str, "corrupt or not what its record"));
	g_assert_nonnull(strstr(report->str, "bytes without a record"));
	g_assert_nonnull(strstr(report->str, "index of message id"));
	g_assert_nonnull(strstr(report->str, "message counter 1 behind id"));
	g_assert_nonnull(strstr(report->str, "counter outbox_seq: too low"));
	g_assert_nonnull(strstr(report->str, "counter next_mbox_id: too low"));
	g_assert_nonnull(strstr(report->str, "UID 3 missing from the expiry"));
	g_assert_nonnull(strstr(report->str, "expiry index: an entry for no"));
	g_assert_null(strstr(report->str, "damaged"));
	assert_clean_after_repair(dir, 11);

	/* What repair made again is what the store serves, and the raised
	 * counters hand out new ids. */
	ms = open_store(dir);
	g_assert_cmpint(ms_message_index(ms, a.msgid, &index), ==, 0);
	g_assert_cmpint(index->duration, ==, 7);
	index_free(&index);
	g_assert_cmpuint(deposit_text(ms, inbox, voice_a, 0).msgid, >, c.msgid);
	mailstore_close(&ms);
	g_assert_cmpint(system(cmd), ==, 0);
}

/* A store as the last vvmfs of format 1 left it (made by
 * tests/data/make-format1-store.sh): its fourth deposit reused the first
 * message's id. fsck names the damage without writing; repair expunges
 * it; the upgrade to format 2 keeps every other message and its pending
 * SMS, and new ids and numbers do not meet old ones. */
static void test_format1_store(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-fsck-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_autofree char *untar = g_strdup_printf(
		"tar xzf '%s/store-format1-damaged.tar.gz' -C '%s'",
		g_getenv("VVM_TEST_DATA"), dir);
	g_autoptr(GString) report = g_string_new(NULL);
	g_autoptr(GArray) seqs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	g_autoptr(GPtrArray) bodies = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_bytes_unref);
	g_autoptr(GBytes) format = NULL;
	g_autofree char *error = NULL;
	const char entry[] = "to 31699999999\nport 0\nkind STATUS\nreplace 1\n"
			     "text //VVM:STATUS:st=U;rc=3\n";
	const char *reason = NULL;
	struct ms_message msg, fresh;
	struct mailstore *ms;
	struct db *db = NULL;
	uint64_t last_seq;
	uint32_t sub, inbox;

	g_assert_nonnull(g_getenv("VVM_TEST_DATA"));
	g_assert_cmpint(system(untar), ==, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report), ==, 1);
	g_test_message("%s", report->str);
	g_assert_nonnull(strstr(report->str,
				"31612345678/INBOX/1.eml: damaged, its body was "
				"overwritten by 31612345678/INBOX/4.eml; what it "
				"held cannot be brought back\n"));
	g_assert_nonnull(strstr(report->str, "store format 1: vvmfs upgrades"));
	/* Checking wrote nothing, not even the upgrade. */
	g_assert_cmpint(db_open(dir, false, &db, &error), ==, 0);
	g_assert_cmpint(db_get(db, KV_META, "format", 6, &format), ==, -ENOENT);
	db_close(&db);

	ms = open_store(dir);
	g_assert_cmpint(ms_subscriber_lookup(ms, "31612345678", &sub), ==, 0);
	g_assert_cmpint(ms_mailbox_lookup(ms, sub, "INBOX", &inbox), ==, 0);
	for (uint32_t uid = 2; uid <= 4; uid++) {
		g_assert_cmpint(ms_message_get(ms, inbox, uid, &msg), ==, 0);
		g_ptr_array_add(bodies, body_of(ms, msg.msgid));
	}
	g_assert_cmpint(ms_outbox_list(ms, collect_seq, seqs), ==, 0);
	g_assert_cmpuint(seqs->len, >=, 4);
	last_seq = g_array_index(seqs, uint64_t, seqs->len - 1);
	mailstore_close(&ms);

	/* The upgrade at open did not repair: fsck still finds it. */
	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report), ==, 1);
	g_assert_null(strstr(report->str, "store format"));
	assert_clean_after_repair(dir, 1);

	ms = open_store(dir);
	g_assert_cmpint(ms_message_get(ms, inbox, 1, &msg), ==, -ENOENT);
	for (uint32_t uid = 2; uid <= 4; uid++) {
		g_autoptr(GBytes) body = NULL;

		g_assert_cmpint(ms_message_get(ms, inbox, uid, &msg), ==, 0);
		body = body_of(ms, msg.msgid);
		g_assert_true(g_bytes_equal(body, bodies->pdata[uid - 2]));
	}
	fresh = deposit_text(ms, inbox, voice_a, 0);
	g_assert_cmpuint(fresh.uid, ==, 5);
	g_assert_cmpuint(fresh.msgid >> 32, ==, sub);
	g_assert_cmpint(ms_outbox_add(ms, entry, strlen(entry), &reason), ==, 0);
	g_array_set_size(seqs, 0);
	g_assert_cmpint(ms_outbox_list(ms, collect_seq, seqs), ==, 0);
	g_assert_cmpuint(g_array_index(seqs, uint64_t, seqs->len - 1), >,
			 last_seq);
	mailstore_close(&ms);
	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report), ==, 0);
	g_assert_cmpint(system(cmd), ==, 0);
}

static void test_missing_store(void)
{
	g_autoptr(GString) report = g_string_new(NULL);

	g_assert_cmpint(mailstore_fsck("/nonexistent/vvm-store", false, report),
			==, -ENOENT);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fsck/find-and-repair", test_find_and_repair);
	g_test_add_func("/fsck/missing-store", test_missing_store);
	g_test_add_func("/fsck/reused-id", test_reused_id);
	g_test_add_func("/fsck/reused-id-same-size", test_reused_id_same_size);
	g_test_add_func("/fsck/content-and-counters", test_content_and_counters);
	g_test_add_func("/fsck/format1-store", test_format1_store);
	return g_test_run();
}
