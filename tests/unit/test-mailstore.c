/* The mail store's rules against a real RocksDB store in a temp dir: UIDs,
 * UIDVALIDITY and MODSEQ across reopen, counters, quotas, moves, the
 * change feed, expiry and group commit under concurrent writers. */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "db.h"
#include "index.h"
#include "mailstore.h"
#include "schema.h"
#include "vvm-flags.h"

struct fixture {
	char *dir;
	struct mailstore *ms;
	uint32_t sub;
	uint32_t inbox;
	uint32_t greetings;
};

static const char message_text[] =
	"From: caller@example.net\r\n"
	"To: 31612345678@example.net\r\n"
	"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
	"Message-Context: voice-message\r\n"
	"Content-Duration: 12\r\n"
	"\r\n"
	"hello\r\n";

static void store_open(struct fixture *f)
{
	struct ms_options options = { 0 };
	g_autofree char *error = NULL;

	ms_options_default(&options);
	g_assert_cmpint(mailstore_open(f->dir, &options, &f->ms, &error), ==, 0);
}

static void setup(struct fixture *f, gconstpointer data)
{
	f->dir = g_dir_make_tmp("test-mailstore-XXXXXX", NULL);
	store_open(f);
	g_assert_cmpint(ms_subscriber_create(f->ms, "31612345678", &f->sub), ==, 0);
	g_assert_cmpint(ms_mailbox_lookup(f->ms, f->sub, "INBOX", &f->inbox), ==, 0);
	g_assert_cmpint(ms_mailbox_lookup(f->ms, f->sub, "Greetings",
					  &f->greetings), ==, 0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

	mailstore_close(&f->ms);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(f->dir);
}

static void reopen(struct fixture *f)
{
	mailstore_close(&f->ms);
	store_open(f);
}

static int deposit_text(struct fixture *f, uint32_t mbox, const char *text,
			uint32_t flags, uint32_t *uid_r, const char **reason_r)
{
	g_autoptr(GBytes) canonical = index_canonicalize(text, strlen(text));
	struct index_limits limits;
	struct index *index = NULL;
	struct ms_deposit d = { 0 };
	int ret;

	index_limits_default(&limits);
	ret = index_message(g_bytes_get_data(canonical, NULL),
			    g_bytes_get_size(canonical), &limits, &index,
			    reason_r);
	if (ret < 0)
		return ret;
	d.canonical = canonical;
	d.index = index_serialize(index);
	d.duration = index->duration;
	d.expires = index->expires;
	d.flags = flags;
	ret = ms_message_deposit(f->ms, mbox, &d, uid_r, reason_r);
	g_bytes_unref(d.index);
	index_free(&index);
	return ret;
}

static uint32_t deposit(struct fixture *f, uint32_t mbox, uint32_t flags)
{
	const char *reason = NULL;
	uint32_t uid = 0;

	g_assert_cmpint(deposit_text(f, mbox, message_text, flags, &uid,
				     &reason), ==, 0);
	return uid;
}

static struct ms_mailbox mailbox(struct fixture *f, uint32_t id)
{
	struct ms_mailbox m;

	g_assert_cmpint(ms_mailbox_get(f->ms, id, &m), ==, 0);
	g_free(m.name);
	m.name = NULL;
	return m;
}

static void test_uids_survive_reopen(struct fixture *f, gconstpointer data)
{
	uint32_t a = deposit(f, f->inbox, 0);
	uint32_t b = deposit(f, f->inbox, 0);
	struct ms_mailbox before, after;

	g_assert_cmpuint(a, ==, 1);
	g_assert_cmpuint(b, ==, 2);
	/* Expunging the highest UID must not let it be reused. */
	g_assert_cmpint(ms_message_expunge(f->ms, f->inbox, b), ==, 0);
	before = mailbox(f, f->inbox);
	reopen(f);
	after = mailbox(f, f->inbox);
	g_assert_cmpuint(after.uidvalidity, ==, before.uidvalidity);
	g_assert_cmpuint(after.uidnext, ==, 3);
	g_assert_cmpuint(after.highestmodseq, ==, before.highestmodseq);
	g_assert_cmpuint(deposit(f, f->inbox, 0), ==, 3);
}

static void test_uidvalidity_unique(struct fixture *f, gconstpointer data)
{
	uint32_t first, second;
	struct ms_mailbox a, b, inbox, greetings;

	inbox = mailbox(f, f->inbox);
	greetings = mailbox(f, f->greetings);
	g_assert_cmpuint(inbox.uidvalidity, !=, greetings.uidvalidity);
	g_assert_cmpuint(f->inbox, !=, f->greetings);
	g_assert_cmpint(ms_mailbox_create(f->ms, f->sub, "Saved", &first), ==, 0);
	a = mailbox(f, first);
	g_assert_cmpint(ms_mailbox_remove(f->ms, f->sub, "Saved"), ==, 0);
	reopen(f);
	g_assert_cmpint(ms_mailbox_create(f->ms, f->sub, "Saved", &second), ==, 0);
	b = mailbox(f, second);
	g_assert_cmpuint(second, !=, first);
	g_assert_cmpuint(b.uidvalidity, >, a.uidvalidity);
}

static void test_counters_and_flags(struct fixture *f, gconstpointer data)
{
	uint32_t uid = deposit(f, f->inbox, 0);
	struct ms_message msg;
	struct ms_mailbox m;
	const char *reason = NULL;

	deposit(f, f->inbox, VVM_FLAG_SEEN);
	m = mailbox(f, f->inbox);
	g_assert_cmpuint(m.messages, ==, 2);
	g_assert_cmpuint(m.unseen, ==, 1);
	g_assert_cmpint(ms_message_store_flags(f->ms, f->inbox, uid,
					       VVM_FLAGS_ADD, VVM_FLAG_SEEN,
					       &msg, &reason), ==, 0);
	g_assert_cmpuint(msg.modseq, ==, 3);
	m = mailbox(f, f->inbox);
	g_assert_cmpuint(m.unseen, ==, 0);
	/* A change that changes nothing keeps the modseq. */
	g_assert_cmpint(ms_message_store_flags(f->ms, f->inbox, uid,
					       VVM_FLAGS_ADD, VVM_FLAG_SEEN,
					       &msg, &reason), ==, 0);
	g_assert_cmpuint(msg.modseq, ==, 3);
	g_assert_cmpint(ms_message_store_flags(f->ms, f->inbox, uid,
					       VVM_FLAGS_ADD,
					       VVM_FLAG_GREETING_ON, &msg,
					       &reason), ==, -EINVAL);
	g_assert_nonnull(reason);
}

static void test_quota(struct fixture *f, gconstpointer data)
{
	const struct vvm_profile_key *key = vvm_profile_key_find("quota_messages");
	const struct vvm_profile_key *voice =
		vvm_profile_key_find("quota_voice_seconds");
	const char *reason = NULL;
	struct ms_quota q;
	uint32_t uid;

	g_assert_cmpint(ms_profile_set(f->ms, f->sub, key, "2", 1, &reason), ==, 0);
	deposit(f, f->inbox, 0);
	deposit(f, f->greetings, 0);
	g_assert_cmpint(deposit_text(f, f->inbox, message_text, 0, &uid,
				     &reason), ==, -EDQUOT);
	g_assert_cmpstr(reason, ==, "message count quota exceeded");
	g_assert_cmpint(ms_quota_get(f->ms, f->sub, &q), ==, 0);
	g_assert_cmpuint(q.used.messages, ==, 2);
	g_assert_cmpuint(q.used.voice_seconds, ==, 12);
	g_assert_cmpuint(q.used.greeting_seconds, ==, 12);
	g_assert_cmpuint(mailbox(f, f->inbox).uidnext, ==, 2);

	g_assert_cmpint(ms_profile_set(f->ms, f->sub, key, "0", 1, &reason), ==, 0);
	g_assert_cmpint(ms_profile_set(f->ms, f->sub, voice, "20", 2, &reason), ==, 0);
	g_assert_cmpint(deposit_text(f, f->inbox, message_text, 0, &uid,
				     &reason), ==, -EDQUOT);
	g_assert_cmpstr(reason, ==, "voice seconds quota exceeded");
	/* Greetings count against their own limit. */
	deposit(f, f->greetings, 0);
}

static void test_move(struct fixture *f, gconstpointer data)
{
	uint32_t saved, new_uid;
	uint32_t uid = deposit(f, f->inbox, VVM_FLAG_SEEN | VVM_FLAG_FLAGGED);
	const char *reason = NULL;
	struct ms_message msg;
	struct ms_quota q;

	g_assert_cmpint(ms_mailbox_create(f->ms, f->sub, "Saved", &saved), ==, 0);
	deposit(f, saved, 0);
	g_assert_cmpint(ms_message_move(f->ms, f->inbox, uid, saved, &new_uid,
					&reason), ==, 0);
	g_assert_cmpuint(new_uid, ==, 2);
	g_assert_cmpint(ms_message_get(f->ms, f->inbox, uid, &msg), ==, -ENOENT);
	g_assert_cmpint(ms_message_get(f->ms, saved, new_uid, &msg), ==, 0);
	g_assert_cmpuint(msg.flags, ==, VVM_FLAG_SEEN | VVM_FLAG_FLAGGED);
	g_assert_cmpuint(mailbox(f, f->inbox).messages, ==, 0);
	g_assert_cmpuint(mailbox(f, saved).messages, ==, 2);
	g_assert_cmpint(ms_mailbox_remove(f->ms, f->sub, "Saved"), ==, -ENOTEMPTY);
	g_assert_cmpint(ms_quota_get(f->ms, f->sub, &q), ==, 0);
	g_assert_cmpuint(q.used.messages, ==, 2);
	g_assert_cmpint(ms_subscriber_remove(f->ms, "31612345678"), ==, -ENOTEMPTY);
}

/* A move turns voice seconds into greeting seconds and is held to that
 * quota; a usage already over a lowered limit blocks only what raises it. */
static void test_move_quota(struct fixture *f, gconstpointer data)
{
	const struct vvm_profile_key *greeting =
		vvm_profile_key_find("quota_greeting_seconds");
	uint32_t uid = deposit(f, f->inbox, 0), new_uid;
	const char *reason = NULL;
	struct ms_quota q;

	g_assert_cmpint(ms_profile_set(f->ms, f->sub, greeting, "5", 1,
				       &reason), ==, 0);
	g_assert_cmpint(ms_message_move(f->ms, f->inbox, uid, f->greetings,
					&new_uid, &reason), ==, -EDQUOT);
	g_assert_cmpstr(reason, ==, "greeting seconds quota exceeded");
	g_assert_cmpint(ms_quota_get(f->ms, f->sub, &q), ==, 0);
	g_assert_cmpuint(q.used.greeting_seconds, ==, 0);
	g_assert_cmpuint(q.used.voice_seconds, ==, 12);

	g_assert_cmpint(ms_profile_set(f->ms, f->sub, greeting, "0", 1,
				       &reason), ==, 0);
	g_assert_cmpint(ms_message_move(f->ms, f->inbox, uid, f->greetings,
					&new_uid, &reason), ==, 0);
	g_assert_cmpint(ms_profile_set(f->ms, f->sub, greeting, "5", 1,
				       &reason), ==, 0);
	/* Greetings are over their lowered limit; voice still arrives. */
	deposit(f, f->inbox, 0);
}

static void test_changes(struct fixture *f, gconstpointer data)
{
	g_autoptr(GString) all = g_string_new(NULL);
	g_autoptr(GString) since = g_string_new(NULL);
	struct ms_message msg;
	const char *reason;
	uint32_t a = deposit(f, f->inbox, 0);
	uint32_t b = deposit(f, f->inbox, 0);
	uint32_t c = deposit(f, f->inbox, 0);

	g_assert_cmpint(ms_message_expunge(f->ms, f->inbox, b), ==, 0);
	g_assert_cmpint(ms_message_store_flags(f->ms, f->inbox, a,
					       VVM_FLAGS_ADD, VVM_FLAG_SEEN,
					       &msg, &reason), ==, 0);
	g_assert_cmpint(ms_changes(f->ms, f->inbox, 0, false, all), ==, 0);
	g_assert_true(strstr(all->str, "\nhighestmodseq 5\nmessages 2\n"));
	g_assert_null(strstr(all->str, "vanished"));
	g_assert_true(g_str_has_suffix(all->str, "1 5 \\Seen\n3 3\n"));
	g_assert_cmpuint(c, ==, 3);
	/* Since modseq 3: the expunge of 2 and the flag change of 1. */
	g_assert_cmpint(ms_changes(f->ms, f->inbox, 3, false, since), ==, 0);
	g_assert_true(g_str_has_suffix(since->str,
				       "messages 2\nvanished 2\n1 5 \\Seen\n"));
}

static void test_expire(struct fixture *f, gconstpointer data)
{
	g_autofree char *text = g_strconcat(
		"Expires: Mon, 23 Nov 2026 10:00:00 +0000\r\n", message_text,
		NULL);
	const char *reason = NULL;
	uint32_t uid;
	struct ms_message msg;

	g_assert_cmpint(deposit_text(f, f->inbox, text, 0, &uid, &reason), ==, 0);
	deposit(f, f->inbox, 0);
	/* 2026-11-23 10:00:00 UTC is 1795428000. */
	g_assert_cmpint(ms_expire(f->ms, 1795427999, 100), ==, 0);
	g_assert_cmpint(ms_expire(f->ms, 1795428000, 100), ==, 1);
	g_assert_cmpint(ms_message_get(f->ms, f->inbox, uid, &msg), ==, -ENOENT);
	g_assert_cmpuint(mailbox(f, f->inbox).messages, ==, 1);
}

struct writer {
	struct fixture *f;
	uint32_t mbox;
	GArray *uids;
};

static gpointer writer_main(gpointer data)
{
	struct writer *w = data;

	for (int i = 0; i < 50; i++) {
		uint32_t uid = deposit(w->f, w->mbox, 0);

		g_array_append_val(w->uids, uid);
	}
	return NULL;
}

/* Concurrent deposits through group commit: every UID once, counters
 * exact, everything there after reopening. */
static void test_group_commit(struct fixture *f, gconstpointer data)
{
	struct writer writers[8];
	GThread *threads[8];
	g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);

	for (int i = 0; i < 8; i++) {
		writers[i] = (struct writer){ f, i % 2 ? f->inbox : f->greetings,
					      g_array_new(FALSE, FALSE, 4) };
		threads[i] = g_thread_new("writer", writer_main, &writers[i]);
	}
	for (int i = 0; i < 8; i++) {
		g_thread_join(threads[i]);
		for (guint j = 0; j < writers[i].uids->len; j++) {
			uint32_t uid = g_array_index(writers[i].uids, uint32_t, j);
			gpointer key = GUINT_TO_POINTER(writers[i].mbox << 16 | uid);

			g_assert_false(g_hash_table_contains(seen, key));
			g_hash_table_add(seen, key);
		}
		g_array_free(writers[i].uids, TRUE);
	}
	reopen(f);
	g_assert_cmpuint(mailbox(f, f->inbox).messages, ==, 200);
	g_assert_cmpuint(mailbox(f, f->inbox).uidnext, ==, 201);
	g_assert_cmpuint(mailbox(f, f->greetings).highestmodseq, ==, 200);
}

static int collect_seq(void *ctx, uint64_t seq, size_t size)
{
	g_array_append_val((GArray *)ctx, seq);
	return 0;
}

/* The outbox entries' texts, oldest first; removes them. */
static GPtrArray *take_outbox(struct fixture *f)
{
	g_autoptr(GArray) seqs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);

	g_assert_cmpint(ms_outbox_list(f->ms, collect_seq, seqs), ==, 0);
	for (guint i = 0; i < seqs->len; i++) {
		uint64_t seq = g_array_index(seqs, uint64_t, i);
		GBytes *text = NULL;

		g_assert_cmpint(ms_outbox_get(f->ms, seq, &text), ==, 0);
		g_ptr_array_add(texts, g_strndup(g_bytes_get_data(text, NULL),
						 g_bytes_get_size(text)));
		g_bytes_unref(text);
		g_assert_cmpint(ms_outbox_remove(f->ms, seq), ==, 0);
	}
	return texts;
}

static void set_status(struct fixture *f, const char *value, int expect)
{
	const char *reason = NULL;

	g_assert_cmpint(ms_profile_set(f->ms, f->sub,
				       vvm_profile_key_find("status"), value,
				       strlen(value), &reason), ==, expect);
}

/* Notifications are queued with the change they announce, only while the
 * service is active, and each status change queues one STATUS. */
static void test_outbox(struct fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) texts = NULL;
	struct ms_message msg;
	const char *reason;
	uint32_t uid, greeting;

	deposit(f, f->inbox, 0);
	texts = take_outbox(f);
	g_assert_cmpuint(texts->len, ==, 0);       /* P: no SYNC */

	set_status(f, "N", 0);
	set_status(f, "N", 0);                       /* no change, no SMS */
	set_status(f, "U", 0);
	set_status(f, "R", -EINVAL);                 /* U->R skips P */
	set_status(f, "P", 0);
	set_status(f, "R", 0);
	g_ptr_array_unref(texts);
	texts = take_outbox(f);
	g_assert_cmpuint(texts->len, ==, 4);
	g_assert_nonnull(strstr(texts->pdata[0], "kind STATUS\nreplace 1\n"
				"text //VVM:STATUS:st=N;rc=0;"));
	/* U: "VVM not provisioned". */
	g_assert_nonnull(strstr(texts->pdata[1], "text //VVM:STATUS:st=U;rc=5\n"));
	g_assert_nonnull(strstr(texts->pdata[3], ":st=R;"));

	uid = deposit(f, f->inbox, 0);
	g_assert_cmpint(ms_message_expunge(f->ms, f->inbox, uid), ==, 0);
	greeting = deposit(f, f->greetings, 0);
	g_assert_cmpint(ms_message_store_flags(f->ms, f->greetings, greeting,
					       VVM_FLAGS_ADD,
					       VVM_FLAG_GREETING_ON, &msg,
					       &reason), ==, 0);
	g_ptr_array_unref(texts);
	texts = take_outbox(f);
	g_assert_cmpuint(texts->len, ==, 4);
	g_assert_nonnull(strstr(texts->pdata[0], "to 31612345678\nport 0\n"
				"kind SYNC\nreplace 1\n"));
	g_assert_nonnull(strstr(texts->pdata[0], ":ev=NM;id=2;c=2;t=v;"));
	g_assert_nonnull(strstr(texts->pdata[0], ";l=12\n"));
	g_assert_nonnull(strstr(texts->pdata[1], ":ev=MBU;c=1\n"));
	g_assert_nonnull(strstr(texts->pdata[2], ":ev=GU;"));
	g_assert_nonnull(strstr(texts->pdata[3], ":ev=GU;"));
	g_assert_cmpint(ms_outbox_remove(f->ms, 12345), ==, -ENOENT);
}

static void test_names(struct fixture *f, gconstpointer data)
{
	uint32_t id;

	g_assert_false(ms_msisdn_valid("0612345678"));
	g_assert_false(ms_msisdn_valid("+31612345678"));
	g_assert_false(ms_msisdn_valid("1234567890123456"));
	g_assert_true(ms_msisdn_valid("1"));
	g_assert_cmpint(ms_subscriber_create(f->ms, "31612345678", &id), ==, -EEXIST);
	g_assert_cmpint(ms_mailbox_create(f->ms, f->sub, "inbox", &id), ==, -EINVAL);
	g_assert_cmpint(ms_mailbox_create(f->ms, f->sub, ".hidden", &id), ==, -EINVAL);
	g_assert_cmpint(ms_mailbox_create(f->ms, f->sub, "profile", &id), ==, -EINVAL);
	g_assert_cmpint(ms_mailbox_create(f->ms, f->sub, "a\tb", &id), ==, -EINVAL);
	g_assert_cmpint(ms_mailbox_remove(f->ms, f->sub, "INBOX"), ==, -EPERM);
	g_assert_cmpint(ms_mailbox_rename(f->ms, f->sub, "Greetings", "X"), ==, -EPERM);
}

static void assert_rendition(struct fixture *f, uint64_t msgid, uint8_t format,
			     int expect, const char *body)
{
	g_autoptr(GBytes) got = NULL;
	g_autoptr(GBytes) index = NULL;

	g_assert_cmpint(ms_rendition_get(f->ms, msgid, format, &got, &index),
			==, expect);
	if (expect < 0 || body == NULL) {
		g_assert_null(got);
		return;
	}
	g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got),
			body, strlen(body));
	g_assert_cmpmem(g_bytes_get_data(index, NULL), g_bytes_get_size(index),
			"idx", 3);
}

/* The rendition cache: per format, kept across a move (the content stays),
 * dropped by an expunge, and never written for a message that is gone. */
static void test_renditions(struct fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) body = g_bytes_new_static("rendered", 8);
	g_autoptr(GBytes) index = g_bytes_new_static("idx", 3);
	uint32_t uid = deposit(f, f->inbox, 0), saved, moved;
	const char *reason = NULL;
	struct ms_message msg;

	g_assert_cmpint(ms_message_get(f->ms, f->inbox, uid, &msg), ==, 0);
	assert_rendition(f, msg.msgid, 0, -ENOENT, NULL);
	g_assert_cmpint(ms_rendition_put(f->ms, f->inbox, uid, msg.msgid, 0,
					 body, index), ==, 0);
	g_assert_cmpint(ms_rendition_put(f->ms, f->inbox, uid, msg.msgid, 3,
					 NULL, NULL), ==, 0);
	assert_rendition(f, msg.msgid, 0, 0, "rendered");
	assert_rendition(f, msg.msgid, 3, 0, NULL);
	assert_rendition(f, msg.msgid, 1, -ENOENT, NULL);
	g_assert_cmpint(ms_rendition_put(f->ms, f->inbox, uid, msg.msgid,
					 MS_RENDITION_FORMATS, body, index),
			==, -EINVAL);
	/* A wrong msgid for the UID is a message that is gone. */
	g_assert_cmpint(ms_rendition_put(f->ms, f->inbox, uid, msg.msgid + 1, 0,
					 body, index), ==, -ENOENT);

	g_assert_cmpint(ms_mailbox_create(f->ms, f->sub, "Saved", &saved), ==, 0);
	g_assert_cmpint(ms_message_move(f->ms, f->inbox, uid, saved, &moved,
					&reason), ==, 0);
	reopen(f);
	assert_rendition(f, msg.msgid, 0, 0, "rendered");
	g_assert_cmpint(ms_message_expunge(f->ms, saved, moved), ==, 0);
	assert_rendition(f, msg.msgid, 0, -ENOENT, NULL);
	assert_rendition(f, msg.msgid, 3, -ENOENT, NULL);
	g_assert_cmpint(ms_rendition_put(f->ms, saved, moved, msg.msgid, 0,
					 body, index), ==, -ENOENT);
	assert_rendition(f, msg.msgid, 0, -ENOENT, NULL);
}

/* A message whose text names n, so that every body differs. */
static uint32_t deposit_nth(struct fixture *f, uint32_t mbox, int n,
			    struct ms_message *msg_r)
{
	g_autofree char *text = g_strdup_printf("%sThis is message %d.\r\n",
						message_text, n);
	const char *reason = NULL;
	uint32_t uid = 0;

	g_assert_cmpint(deposit_text(f, mbox, text, 0, &uid, &reason), ==, 0);
	g_assert_cmpint(ms_message_get(f->ms, mbox, uid, msg_r), ==, 0);
	return uid;
}

static void assert_body_names(struct fixture *f, uint64_t msgid, int n)
{
	g_autoptr(GBytes) body = NULL;
	g_autofree char *tail = g_strdup_printf("This is message %d.\r\n", n);
	g_autofree char *text = NULL;
	gsize len;
	const char *data;

	g_assert_cmpint(ms_message_body(f->ms, msgid, &body), ==, 0);
	data = g_bytes_get_data(body, &len);
	text = g_strndup(data, len);
	g_assert_true(g_str_has_suffix(text, tail));
}

/* Message ids are never handed out twice: not after a reopen while a
 * rendition is cached (its body key sorts after every message's, which
 * once made the id counter restart at 1 and a deposit overwrite message
 * 1), and not after the newest message is gone. */
static void test_msgids_never_reused(struct fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) rendered = g_bytes_new_static("rendered", 8);
	g_autoptr(GBytes) idx = g_bytes_new_static("idx", 3);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(
		g_int64_hash, g_int64_equal, g_free, NULL);
	struct ms_message msgs[6];
	uint32_t uids[6];

	for (int n = 0; n < 3; n++)
		uids[n] = deposit_nth(f, f->inbox, n, &msgs[n]);
	g_assert_cmpint(ms_rendition_put(f->ms, f->inbox, uids[2],
					 msgs[2].msgid, 1, rendered, idx), ==, 0);
	reopen(f);
	uids[3] = deposit_nth(f, f->inbox, 3, &msgs[3]);
	/* The newest is expunged: its id must not come again either. */
	g_assert_cmpint(ms_message_expunge(f->ms, f->inbox, uids[3]), ==, 0);
	reopen(f);
	uids[4] = deposit_nth(f, f->greetings, 4, &msgs[4]);
	uids[5] = deposit_nth(f, f->inbox, 5, &msgs[5]);
	for (int n = 0; n < 6; n++) {
		g_assert_false(g_hash_table_contains(seen, &msgs[n].msgid));
		g_hash_table_add(seen, g_memdup2(&msgs[n].msgid, 8));
		if (n != 3)
			assert_body_names(f, msgs[n].msgid, n);
	}
	assert_rendition(f, msgs[2].msgid, 1, 0, "rendered");
	assert_rendition(f, msgs[5].msgid, 1, -ENOENT, NULL);
}

/* Outbox numbers are never handed out twice either: a sender that still
 * holds an old number (a removal it retries) must not meet a new entry
 * under it after a restart. */
static void test_outbox_numbers_never_reused(struct fixture *f,
					     gconstpointer data)
{
	g_autoptr(GArray) before = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	g_autoptr(GArray) after = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	const char entry[] = "to 31699999999\nport 0\nkind STATUS\nreplace 1\n"
			     "text //VVM:STATUS:st=U;rc=3\n";
	const char *reason = NULL;

	for (int i = 0; i < 3; i++)
		g_assert_cmpint(ms_outbox_add(f->ms, entry, strlen(entry),
					      &reason), ==, 0);
	g_assert_cmpint(ms_outbox_list(f->ms, collect_seq, before), ==, 0);
	g_assert_cmpuint(before->len, ==, 3);
	for (guint i = 0; i < before->len; i++)
		g_assert_cmpint(ms_outbox_remove(
			f->ms, g_array_index(before, uint64_t, i)), ==, 0);
	reopen(f);
	g_assert_cmpint(ms_outbox_add(f->ms, entry, strlen(entry), &reason),
			==, 0);
	g_assert_cmpint(ms_outbox_list(f->ms, collect_seq, after), ==, 0);
	g_assert_cmpuint(after->len, ==, 1);
	g_assert_cmpuint(g_array_index(after, uint64_t, 0), >,
			 g_array_index(before, uint64_t, 2));
}

/* A quota limit that cannot be read refuses what it would limit, and
 * reads back as an error: never as "unlimited", nor as a number that a
 * parser saturated. */
static void test_unreadable_quota_refuses(struct fixture *f,
					  gconstpointer data)
{
	static const char *const damaged[] = {
		"12x", "99999999999999999999999", "-1", "",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(damaged); i++) {
		g_autofree char *error = NULL;
		struct kv_batch *batch = kv_batch_create();
		const char *reason = NULL;
		struct db *db = NULL;
		struct ms_quota q;
		struct key k;
		uint32_t uid;

		mailstore_close(&f->ms);
		g_assert_cmpint(db_open(f->dir, KV_OPEN_EXISTING, &db, &error),
				==, 0);
		key_profile(&k, f->sub, "quota_messages");
		kv_batch_put(batch, KV_SUBSCRIBERS, k.data, k.len, damaged[i],
			     strlen(damaged[i]));
		g_assert_cmpint(db_commit(db, &batch), ==, 0);
		db_close(&db);
		store_open(f);

		g_assert_cmpint(deposit_text(f, f->inbox, message_text, 0, &uid,
					     &reason), ==, -EIO);
		g_assert_cmpstr(reason, ==, "quota limits unreadable");
		g_assert_cmpint(ms_quota_get(f->ms, f->sub, &q), ==, -EIO);
		g_assert_cmpuint(mailbox(f, f->inbox).messages, ==, 0);
	}
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) \
	g_test_add("/mailstore/" name, struct fixture, NULL, setup, fn, teardown)
	ADD("uids-survive-reopen", test_uids_survive_reopen);
	ADD("uidvalidity-unique", test_uidvalidity_unique);
	ADD("counters-and-flags", test_counters_and_flags);
	ADD("quota", test_quota);
	ADD("move", test_move);
	ADD("move-quota", test_move_quota);
	ADD("changes", test_changes);
	ADD("expire", test_expire);
	ADD("group-commit", test_group_commit);
	ADD("names", test_names);
	ADD("outbox", test_outbox);
	ADD("renditions", test_renditions);
	ADD("msgids-never-reused", test_msgids_never_reused);
	ADD("outbox-numbers-never-reused", test_outbox_numbers_never_reused);
	ADD("unreadable-quota-refuses", test_unreadable_quota_refuses);
	return g_test_run();
}
