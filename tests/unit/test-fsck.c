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
	return g_test_run();
}
