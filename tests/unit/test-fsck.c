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

	g_assert_cmpint(db_open(dir, KV_OPEN_EXISTING, &db, &error), ==, 0);
	key_mailbox(&k, inbox);
	g_assert_cmpint(db_get(db, KV_MAILBOXES, k.data, k.len, &value), ==, 0);
	g_assert_cmpint(rec_mailbox_decode(value, &mbox), ==, 0);
	/* A value may pin the store's memory: let go before closing it. */
	g_bytes_unref(value);
	mbox.messages += 5;     /* wrong counter */
	mbox.uidnext = 2;       /* below UID 3 */
	kv_batch_put_bytes(batch, KV_MAILBOXES, k.data, k.len,
			   rec_mailbox_encode(&mbox));
	/* A message's bytes whose record is lost. */
	key_body(&k, MSGID_MAKE(1, 999));
	kv_batch_put(batch, KV_BODIES, k.data, k.len, message_text,
		     strlen(message_text));
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
	g_autoptr(GBytes) body = NULL;
	struct ms_mailbox mbox;
	struct ms_message msg;
	uint32_t inbox = build_store(dir), recovered;
	int unrepaired = -1;

	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), ==, 0);
	damage(dir, inbox);

	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), >=, 4);
	g_test_message("%s", report->str);
	g_assert_nonnull(strstr(report->str, "counters"));
	g_assert_nonnull(strstr(report->str, "UIDNEXT"));
	g_assert_nonnull(strstr(report->str, "no message refers to it; repair "
				"recovers it into 31612345678/Recovered"));
	g_assert_nonnull(strstr(report->str, "stale change entry"));
	g_assert_nonnull(strstr(report->str, "message counter 3 behind id 999"));

	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, true, report, &unrepaired), >=, 5);
	g_test_message("repair: %s", report->str);
	g_assert_cmpint(unrepaired, ==, 0);
	g_assert_nonnull(strstr(report->str, "(recovered as "
				"31612345678/Recovered/1.eml)"));
	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), ==, 0);

	ms_options_default(&options);
	g_assert_cmpint(mailstore_open(dir, &options, &ms, &error), ==, 0);
	g_assert_cmpint(ms_mailbox_get(ms, inbox, &mbox), ==, 0);
	g_assert_cmpuint(mbox.messages, ==, 3);
	g_assert_cmpuint(mbox.uidnext, ==, 4);
	ms_mailbox_clear(&mbox);
	/* The lost message, whole, in its subscriber's Recovered. */
	g_assert_cmpint(ms_mailbox_lookup(ms, 1, "Recovered", &recovered), ==,
			0);
	g_assert_cmpint(ms_message_get(ms, recovered, 1, &msg), ==, 0);
	g_assert_cmpuint(msg.msgid, ==, MSGID_MAKE(1, 999));
	g_assert_cmpint(msg.duration, ==, 7);
	body = body_of(ms, msg.msgid);
	g_assert_cmpmem(g_bytes_get_data(body, NULL), g_bytes_get_size(body),
			message_text, strlen(message_text));
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

	g_assert_cmpint(mailstore_fsck(dir, true, report, NULL), >=, at_least);
	g_test_message("repair: %s", report->str);
	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), ==, 0);
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
	g_assert_cmpint(db_open(dir, KV_OPEN_EXISTING, &db, &error), ==, 0);
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

	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), ==, 2);
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
 * deposit's, which in one mailbox is the higher UID, whatever the
 * INTERNALDATEs (a client's word) say. */
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
	g_assert_cmpint(db_open(dir, KV_OPEN_EXISTING, &db, &error), ==, 0);
	b.msgid = a.msgid;
	put_message(db, inbox, 2, &b);
	db_close(&db);

	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), >=, 1);
	g_assert_nonnull(strstr(report->str,
				"31612345678/INBOX/1.eml: damaged, its body was "
				"overwritten by 31612345678/INBOX/2.eml"));
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

	g_assert_cmpint(db_open(dir, KV_OPEN_EXISTING, &db, &error), ==, 0);
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

	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), ==, 11);
	g_test_message("%s", report->str);
	g_assert_nonnull(strstr(report->str, "31612345678/INBOX/1.eml: its "
				"index is not the one made from its body"));
	g_assert_nonnull(strstr(report->str, "31612345678/INBOX/2.eml: its "
				"audio record names parts"));
	g_assert_nonnull(strstr(report->str, ": the renditions of a message that is gone"));
	g_assert_nonnull(strstr(report->str, ": the index of a message that is gone"));
	g_assert_nonnull(strstr(report->str, "corrupt or not what its record"));
	g_assert_nonnull(strstr(report->str, "bytes without a record"));
	g_assert_nonnull(strstr(report->str, "the index of a message that is gone"));
	g_assert_nonnull(strstr(report->str, "message counter 1 behind id"));
	g_assert_nonnull(strstr(report->str, "counter outbox_seq: 0, behind 1"));
	g_assert_nonnull(strstr(report->str, "counter next_mbox_id: 1, behind 2"));
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

static struct rec_mailbox get_mailbox_rec(struct db *db, uint32_t id)
{
	g_autoptr(GBytes) value = NULL;
	struct rec_mailbox rec;
	struct key k;

	key_mailbox(&k, id);
	g_assert_cmpint(db_get(db, KV_MAILBOXES, k.data, k.len, &value), ==, 0);
	g_assert_cmpint(rec_mailbox_decode(value, &rec), ==, 0);
	return rec;
}

/* Records lost, bytes kept: a message record and a mailbox record that
 * do not decode. Repair rebuilds the mailbox from the name index and its
 * messages (with a new UIDVALIDITY), and gives the message whose record
 * is lost a new one in Recovered, with its bytes untouched. Bytes that
 * are no message and have no subscriber are kept, and said so. */
static void test_lost_records(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-fsck-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_autoptr(GString) report = g_string_new(NULL);
	g_autoptr(GBytes) lost_body = NULL;
	g_autoptr(GBytes) after = NULL;
	g_autofree char *error = NULL;
	struct mailstore *ms = open_store(dir);
	struct ms_message a, b, c, got;
	struct ms_mailbox mbox;
	struct rec_mailbox saved_rec;
	struct kv_batch *batch;
	struct db *db = NULL;
	uint32_t sub, inbox, saved, recovered;
	int unrepaired = -1;
	struct key k;

	g_assert_cmpint(ms_subscriber_create(ms, "31612345678", &sub), ==, 0);
	g_assert_cmpint(ms_mailbox_lookup(ms, sub, "INBOX", &inbox), ==, 0);
	g_assert_cmpint(ms_mailbox_create(ms, sub, "Saved", &saved), ==, 0);
	a = deposit_text(ms, inbox, voice_a, 0);
	b = deposit_text(ms, inbox, voice_b, 0);
	c = deposit_text(ms, saved, voice_b, 0);
	lost_body = body_of(ms, b.msgid);
	mailstore_close(&ms);

	g_assert_cmpint(db_open(dir, KV_OPEN_EXISTING, &db, &error), ==, 0);
	saved_rec = get_mailbox_rec(db, saved);
	batch = kv_batch_create();
	key_message(&k, inbox, 2);
	kv_batch_put(batch, KV_MESSAGES, k.data, k.len, "\001garbage", 8);
	key_mailbox(&k, saved);
	kv_batch_put(batch, KV_MAILBOXES, k.data, k.len, "\001bad", 4);
	key_body(&k, 777);
	kv_batch_put(batch, KV_BODIES, k.data, k.len, "not a message", 13);
	g_assert_cmpint(db_commit(db, &batch), ==, 0);
	db_close(&db);

	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), >=, 4);
	g_test_message("%s", report->str);
	g_assert_nonnull(strstr(report->str, "message 1/2: a corrupt record"));
	g_assert_nonnull(strstr(report->str, "31612345678/Saved: its mailbox "
				"record does not decode"));
	g_assert_nonnull(strstr(report->str, "repair recovers it into "
				"31612345678/Recovered"));
	g_assert_nonnull(strstr(report->str, "body 777: no message refers to "
				"it, and it does not index as one"));

	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, true, report, &unrepaired), >=, 4);
	g_test_message("repair: %s", report->str);
	g_assert_cmpint(unrepaired, ==, 1);
	g_assert_nonnull(strstr(report->str, "; kept (not repaired)\n"));
	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report, &unrepaired), ==, 1);
	g_assert_cmpint(unrepaired, ==, 1);

	ms = open_store(dir);
	g_assert_cmpint(ms_message_get(ms, inbox, 1, &got), ==, 0);
	g_assert_cmpuint(got.msgid, ==, a.msgid);
	g_assert_cmpint(ms_message_get(ms, inbox, 2, &got), ==, -ENOENT);
	/* Its UID stays used, and clients that saw it learn it is gone. */
	g_assert_cmpint(ms_mailbox_get(ms, inbox, &mbox), ==, 0);
	g_assert_cmpuint(mbox.uidnext, ==, 3);
	ms_mailbox_clear(&mbox);
	g_string_truncate(report, 0);
	g_assert_cmpint(ms_changes(ms, inbox, 1, false, report), ==, 0);
	g_assert_nonnull(strstr(report->str, "vanished 2\n"));
	g_assert_cmpint(ms_mailbox_lookup(ms, sub, "Recovered", &recovered),
			==, 0);
	g_assert_cmpint(ms_message_get(ms, recovered, 1, &got), ==, 0);
	g_assert_cmpuint(got.msgid, ==, b.msgid);
	g_assert_cmpuint(got.size, ==, b.size);
	after = body_of(ms, got.msgid);
	g_assert_true(g_bytes_equal(after, lost_body));
	g_assert_cmpint(ms_mailbox_get(ms, saved, &mbox), ==, 0);
	g_assert_cmpstr(mbox.name, ==, "Saved");
	g_assert_cmpuint(mbox.messages, ==, 1);
	g_assert_cmpuint(mbox.uidnext, ==, 2);
	g_assert_cmpuint(mbox.uidvalidity, >, saved_rec.uidvalidity);
	ms_mailbox_clear(&mbox);
	g_assert_cmpint(ms_message_get(ms, saved, 1, &got), ==, 0);
	g_assert_cmpuint(got.msgid, ==, c.msgid);
	mailstore_close(&ms);
	g_assert_cmpint(system(cmd), ==, 0);
}

/* A damaged message bounds UIDNEXT like any other (a UID is never used
 * twice) and gives way to a tombstone even when its change entry was
 * missing; an audio part whose Content-Type is folded is audio. */
static void test_damage_edges(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-fsck-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_autoptr(GString) report = g_string_new(NULL);
	g_autoptr(GBytes) audio = NULL;
	g_autofree char *error = NULL;
	struct mailstore *ms = open_store(dir);
	struct ms_message a, b, folded;
	struct rec_mailbox rec;
	struct ms_mailbox mbox;
	struct kv_batch *batch;
	struct db *db = NULL;
	uint32_t sub, inbox;
	struct key k;
	static const char folded_text[] =
		"From: +31600000004@example.net\r\n"
		"Date: Sun, 22 Nov 2026 13:00:00 +0000\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n"
		"\r\n"
		"--b\r\n"
		"Content-Type:\r\n"
		" audio/amr\r\n"
		"\r\n"
		"AMR\r\n"
		"--b--\r\n";

	g_assert_cmpint(ms_subscriber_create(ms, "31612345678", &sub), ==, 0);
	g_assert_cmpint(ms_mailbox_lookup(ms, sub, "INBOX", &inbox), ==, 0);
	a = deposit_text(ms, inbox, voice_a, 0);
	b = deposit_text(ms, inbox, voice_b, 0);
	folded = deposit_text(ms, inbox, folded_text, 0);
	mailstore_close(&ms);

	g_assert_cmpint(db_open(dir, KV_OPEN_EXISTING, &db, &error), ==, 0);
	batch = kv_batch_create();
	/* UID 2 damaged as a reused id leaves it, without its change
	 * entry, above a UIDNEXT that fell behind. */
	b.msgid = a.msgid;
	put_message(db, inbox, 2, &b);
	key_change(&k, inbox, b.modseq);
	kv_batch_delete(batch, KV_INDEX, k.data, k.len);
	rec = get_mailbox_rec(db, inbox);
	rec.uidnext = 2;
	key_mailbox(&k, inbox);
	kv_batch_put_bytes(batch, KV_MAILBOXES, k.data, k.len,
			   rec_mailbox_encode(&rec));
	key_audio(&k, folded.msgid);
	kv_batch_put(batch, KV_INDEX, k.data, k.len, "1 amr 20\n", 9);
	g_assert_cmpint(db_commit(db, &batch), ==, 0);
	db_close(&db);

	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), >=, 2);
	g_test_message("%s", report->str);
	g_assert_nonnull(strstr(report->str, "INBOX/2.eml: damaged"));
	g_assert_null(strstr(report->str, "audio record"));
	assert_clean_after_repair(dir, 2);

	g_assert_cmpint(db_open(dir, KV_OPEN_EXISTING, &db, &error), ==, 0);
	key_audio(&k, folded.msgid);
	g_assert_cmpint(db_get(db, KV_INDEX, k.data, k.len, &audio), ==, 0);
	g_clear_pointer(&audio, g_bytes_unref);
	db_close(&db);
	ms = open_store(dir);
	g_assert_cmpint(ms_mailbox_get(ms, inbox, &mbox), ==, 0);
	g_assert_cmpuint(mbox.uidnext, ==, 4);
	ms_mailbox_clear(&mbox);
	g_string_truncate(report, 0);
	g_assert_cmpint(ms_changes(ms, inbox, 1, false, report), ==, 0);
	g_assert_nonnull(strstr(report->str, "vanished 2\n"));
	mailstore_close(&ms);
	g_assert_cmpint(system(cmd), ==, 0);
}

static struct mailstore *open_store_as(const char *dir, enum ms_open_mode mode)
{
	struct ms_options options = { 0 };
	struct mailstore *ms = NULL;
	g_autofree char *error = NULL;

	ms_options_default(&options);
	options.mode = mode;
	g_assert_cmpint(mailstore_open(dir, &options, &ms, &error), ==, 0);
	return ms;
}

/* A store as the last vvmfs of format 1 left it (made by
 * tests/data/make-format1-store.sh): its fourth deposit reused the first
 * message's id. fsck names the damage and writes nothing; vvmfs refuses
 * to upgrade the store while it holds it, since an expunge of either
 * message would then delete the body the other shows; repair expunges
 * it and upgrades; every other message and pending SMS stays, and new
 * ids and numbers do not meet old ones. */
static void test_format1_store(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-fsck-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_autofree char *untar = g_strdup_printf(
		"tar xzf '%s/store-format1-damaged.tar.gz' -C '%s'",
		g_getenv("VVM_TEST_DATA"), dir);
	g_autofree char *listing = g_strdup_printf("ls -l --full-time '%s'",
						   dir);
	g_autofree char *before = NULL, *after = NULL;
	g_autoptr(GString) report = g_string_new(NULL);
	g_autoptr(GArray) seqs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	g_autoptr(GPtrArray) bodies = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_bytes_unref);
	struct ms_options options = { 0 };
	g_autofree char *error = NULL;
	const char entry[] = "to 31699999999\nport 0\nkind STATUS\nreplace 1\n"
			     "text //VVM:STATUS:st=U;rc=3\n";
	const char *reason = NULL;
	struct ms_message msg, fresh;
	struct mailstore *ms = NULL;
	uint64_t last_seq;
	uint32_t sub, inbox;

	g_assert_nonnull(g_getenv("VVM_TEST_DATA"));
	g_assert_cmpint(system(untar), ==, 0);
	g_assert_true(g_spawn_command_line_sync(listing, &before, NULL, NULL,
						NULL));
	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), ==, 1);
	g_test_message("%s", report->str);
	g_assert_nonnull(strstr(report->str,
				"31612345678/INBOX/1.eml: damaged, its body was "
				"overwritten by 31612345678/INBOX/4.eml; what it "
				"held cannot be brought back\n"));
	g_assert_nonnull(strstr(report->str, "store format 1: --repair "
				"upgrades it to 2, as vvmfs does when it opens "
				"it (vvmfs refuses it while damaged messages "
				"remain)"));
	/* Checking wrote nothing: not a file of the store changed. */
	g_assert_true(g_spawn_command_line_sync(listing, &after, NULL, NULL,
						NULL));
	g_assert_cmpstr(before, ==, after);

	/* What to compare with afterwards, read without writing. */
	ms = open_store_as(dir, MS_OPEN_CHECK);
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

	/* vvmfs will not upgrade a store in that state. */
	ms_options_default(&options);
	g_assert_cmpint(mailstore_open(dir, &options, &ms, &error), ==,
			-EUCLEAN);
	g_assert_nonnull(strstr(error, "vvmadm fsck --repair"));

	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, true, report, NULL), ==, 1);
	g_test_message("repair: %s", report->str);
	g_assert_nonnull(strstr(report->str, "store format: upgraded to 2\n"));
	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), ==, 0);

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
	/* Above anything format 1 may have handed out, pending or not. */
	g_assert_cmpuint(g_array_index(seqs, uint64_t, seqs->len - 1), >,
			 MAX(last_seq, G_MAXUINT32));
	mailstore_close(&ms);
	g_string_truncate(report, 0);
	g_assert_cmpint(mailstore_fsck(dir, false, report, NULL), ==, 0);
	g_assert_cmpint(system(cmd), ==, 0);
}

static void test_missing_store(void)
{
	g_autoptr(GString) report = g_string_new(NULL);

	g_assert_cmpint(mailstore_fsck("/nonexistent/vvm-store", false, report, NULL),
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
	g_test_add_func("/fsck/lost-records", test_lost_records);
	g_test_add_func("/fsck/damage-edges", test_damage_edges);
	return g_test_run();
}
