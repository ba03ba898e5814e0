/* Offline consistency check of a store (vvmadm fsck): every record is
 * read; ms-fsck-content.c sets aside the messages whose content is not
 * their own, ms-fsck-derived.c recomputes what is derived from the
 * messages, which are the truth, and ms-fsck-recover.c gives lost bytes a
 * record again. Without repair the store is opened read-only. With
 * repair, all fixes go in one batch; nothing is made up
 * (ms-fsck-private.h). */
#include "ms-fsck-private.h"

#include <errno.h>
#include <string.h>

static void report(struct fsck *f, const char *suffix, const char *fmt,
		   va_list args)
{
	g_string_append_vprintf(f->report, fmt, args);
	g_string_append(f->report, suffix);
	g_string_append_c(f->report, '\n');
	f->problems++;
}

void fsck_problem(struct fsck *f, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	report(f, "", fmt, args);
	va_end(args);
}

void fsck_unrepaired(struct fsck *f, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	report(f, f->fix != NULL ? " (not repaired)" : "", fmt, args);
	va_end(args);
	f->unrepaired++;
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
	uint32_t *max;

	/* Ids below 2^32 come from format 1's store-wide counter. */
	if (MSGID_SUBSCRIBER(msgid) == 0)
		return;
	f->max_sub_id = MAX(f->max_sub_id, MSGID_SUBSCRIBER(msgid));
	max = g_hash_table_lookup(f->msgid_counters, key);
	if (max == NULL) {
		max = g_new0(uint32_t, 1);
		g_hash_table_insert(f->msgid_counters, key, max);
	}
	*max = MAX(*max, MSGID_COUNTER(msgid));
}

static void mbox_check_free(gpointer data)
{
	struct mbox_check *m = data;

	g_hash_table_destroy(m->changes);
	g_free(m);
}

static void mbox_name_free(gpointer data)
{
	struct mbox_name *n = data;

	g_free(n->name);
	g_free(n);
}

/* --- loading ---------------------------------------------------------- */

struct load_mailboxes {
	struct fsck *f;
	GArray *corrupt; /* ids of records that do not decode */
};

static int load_mailbox(void *ctx, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	struct load_mailboxes *c = ctx;
	struct fsck *f = c->f;
	g_autoptr(GBytes) bytes = g_bytes_new(value, value_len);
	struct rec_mailbox rec;
	uint32_t id;

	if (key_len != 5)
		return 0;
	id = key_get_be32((const uint8_t *)key + 1);
	f->seen_mbox_id = MAX(f->seen_mbox_id, id);
	if (rec_mailbox_decode(bytes, &rec) < 0) {
		g_array_append_val(c->corrupt, id);
		return 0;
	}
	f->seen_uidvalidity = MAX(f->seen_uidvalidity, rec.uidvalidity);
	fsck_mailbox_add(f, id, &rec);
	return 0;
}

static int load_name(void *ctx, const void *key, size_t key_len,
		     const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	struct mbox_name *n;
	uint32_t id;

	if (key_len < 6 || key_len > 5 + 255 || value_len != 4) {
		fsck_problem(f, "mailbox name index: a corrupt entry%s",
			     f->fix != NULL ? " (removed)" : "");
		if (f->fix != NULL)
			kv_batch_delete(f->fix, KV_MAILBOXES, key, key_len);
		return 0;
	}
	id = key_get_be32(value);
	f->seen_mbox_id = MAX(f->seen_mbox_id, id);
	n = g_new0(struct mbox_name, 1);
	n->sub_id = key_get_be32((const uint8_t *)key + 1);
	n->name = g_strndup((const char *)key + 5, key_len - 5);
	g_hash_table_replace(f->names, GUINT_TO_POINTER(id), n);
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
	f->max_sub_id = MAX(f->max_sub_id, sub_id);
	s = g_new0(struct sub_check, 1);
	if (rec_subscriber_decode(bytes, &s->rec) < 0) {
		fsck_unrepaired(f, "subscriber %u: its record does not decode",
				sub_id);
		g_free(s);
		return 0;
	}
	s->computed = s->rec;
	s->computed.bytes = 0;
	s->computed.messages = 0;
	s->computed.voice_seconds = 0;
	s->computed.greeting_seconds = 0;
	s->present = s->computed;
	g_hash_table_insert(f->subscribers, GUINT_TO_POINTER(sub_id), s);
	return 0;
}

static int load_message(void *ctx, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	struct fsck_message m = { 0 };
	guint index = f->messages->len;
	bool decoded;
	GArray *group;

	if (key_len == 8) {
		m.mbox_id = key_get_be32(key);
		m.uid = key_get_be32((const uint8_t *)key + 4);
	}
	decoded = key_len == 8 &&
		  rec_message_decode(value, value_len, &m.rec) == 0;
	if (!decoded || !g_hash_table_contains(f->mailboxes,
					       GUINT_TO_POINTER(m.mbox_id))) {
		uint64_t lost = (uint64_t)m.mbox_id << 32 | m.uid;

		if (key_len == 8 && g_hash_table_contains(
					    f->mailboxes,
					    GUINT_TO_POINTER(m.mbox_id)))
			g_hash_table_add(f->lost, g_memdup2(&lost, 8));
		/* Its bytes stay: with no record they are recovered. */
		fsck_problem(f, "message %u/%u: %s%s", m.mbox_id, m.uid,
			     decoded ? "in no mailbox" : "a corrupt record",
			     f->fix != NULL ? " (record removed)" : "");
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


/* --- the run ------------------------------------------------------------ */

static int load(struct fsck *f)
{
	struct db *db = f->ms->db;
	g_autoptr(GArray) corrupt = g_array_new(FALSE, FALSE,
						sizeof(uint32_t));
	struct load_mailboxes mailboxes = { f, corrupt };
	uint64_t stored_mbox, stored_uidvalidity;
	int ret;

	ret = db_scan(db, KV_MAILBOXES, "M", 1, NULL, 0, load_mailbox,
		      &mailboxes);
	if (ret == 0)
		ret = db_scan(db, KV_MAILBOXES, "N", 1, NULL, 0, load_name, f);
	if (ret == 0)
		ret = db_scan(db, KV_SUBSCRIBERS, "S", 1, NULL, 0,
			      load_subscriber, f);
	if (ret == 0)
		ret = fsck_load_counter(f, "next_mbox_id", &stored_mbox);
	if (ret == 0)
		ret = fsck_load_counter(f, "last_uidvalidity", &stored_uidvalidity);
	if (ret < 0)
		return ret;
	f->next_mbox_id = MAX(f->seen_mbox_id, stored_mbox);
	f->last_uidvalidity = MAX(f->seen_uidvalidity, stored_uidvalidity);
	for (guint i = 0; i < corrupt->len; i++)
		fsck_rebuild_mailbox(f, g_array_index(corrupt, uint32_t, i));
	ret = fsck_check_names(f);
	if (ret == 0)
		ret = db_scan(db, KV_MESSAGES, "", 0, NULL, 0, load_message, f);
	return ret;
}

static int run_checks(struct fsck *f)
{
	GHashTableIter iter;
	gpointer key, value;
	int ret;

	ret = load(f);
	if (ret == 0)
		ret = fsck_check_content(f);
	if (ret < 0)
		return ret;
	for (guint i = 0; i < f->messages->len; i++)
		fsck_account_found(f, &g_array_index(f->messages,
						     struct fsck_message, i));
	fsck_bound_lost(f, false);
	ret = fsck_check_changes(f);
	if (ret == 0)
		ret = fsck_check_expiry(f);
	if (ret < 0)
		return ret;
	for (guint i = 0; f->fix != NULL && i < f->messages->len; i++) {
		struct fsck_message *m =
			&g_array_index(f->messages, struct fsck_message, i);

		if (m->damaged)
			fsck_expunge_damaged(f, m);
	}
	if (f->fix != NULL)
		fsck_bound_lost(f, true);
	ret = fsck_recover_orphans(f);
	g_hash_table_iter_init(&iter, f->mailboxes);
	while (ret == 0 && g_hash_table_iter_next(&iter, NULL, &value))
		ret = fsck_check_mailbox(f, value);
	g_hash_table_iter_init(&iter, f->subscribers);
	while (ret == 0 && g_hash_table_iter_next(&iter, &key, &value))
		fsck_check_subscriber(f, GPOINTER_TO_UINT(key), value);
	if (ret == 0)
		ret = fsck_check_meta(f);
	return ret;
}

static void report_summary(struct fsck *f)
{
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
	if (f->recovered > 0)
		g_string_append_printf(
			f->report, "%u message%s whose record was lost: %s "
			"into the subscriber's %s mailbox\n", f->recovered,
			f->recovered == 1 ? "" : "s",
			f->fix != NULL ? "recovered"
				       : f->recovered == 1 ? "--repair recovers it"
							   : "--repair recovers them",
			FSCK_RECOVERED);
	if (f->fix == NULL && f->ms->format != STORE_FORMAT)
		g_string_append_printf(
			f->report, "store format %d: --repair upgrades it to "
			"%d, as vvmfs does when it opens it%s\n", f->ms->format,
			STORE_FORMAT, f->damaged > 0
				? " (vvmfs refuses it while damaged messages "
				  "remain)" : "");
}

/* After a repair of a format 1 store, the upgrade vvmfs would make. */
static int upgrade(struct fsck *f)
{
	g_autofree char *error = NULL;
	int ret;

	if (f->ms->format == STORE_FORMAT)
		return 0;
	ret = ms_format_upgrade(f->ms, &error);
	if (ret == 0)
		g_string_append_printf(f->report, "store format: upgraded to "
				       "%d\n", STORE_FORMAT);
	else
		fsck_unrepaired(f, "store format 1: not upgraded: %s", error);
	return ret == -EUCLEAN ? 0 : ret;
}

int mailstore_fsck(const char *dir, bool repair, GString *report,
		   int *unrepaired_r)
{
	struct ms_options options = { 0 };
	struct fsck f = { 0 };
	g_autofree char *error = NULL;
	int ret;

	ms_options_default(&options);
	options.mode = repair ? MS_OPEN_REPAIR : MS_OPEN_CHECK;
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
	f.names = g_hash_table_new_full(NULL, NULL, NULL, mbox_name_free);
	f.subscribers = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	f.messages = g_array_new(FALSE, FALSE, sizeof(struct fsck_message));
	f.lost = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
				       NULL);
	f.by_msgid = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					   (GDestroyNotify)g_array_unref);
	f.owned = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					NULL);
	f.msgid_counters = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	ret = run_checks(&f);
	if (ret == 0)
		report_summary(&f);
	/* The commit takes (and NULLs) the batch. */
	if (ret == 0 && repair && f.problems > 0)
		ret = db_commit(f.ms->db, &f.fix);
	if (ret == 0 && repair)
		ret = upgrade(&f);
	kv_batch_destroy(&f.fix);
	g_hash_table_destroy(f.mailboxes);
	g_hash_table_destroy(f.names);
	g_hash_table_destroy(f.subscribers);
	g_array_free(f.messages, TRUE);
	g_hash_table_destroy(f.lost);
	g_hash_table_destroy(f.by_msgid);
	g_hash_table_destroy(f.owned);
	if (f.orphans != NULL)
		g_hash_table_destroy(f.orphans);
	g_hash_table_destroy(f.msgid_counters);
	mailstore_close(&f.ms);
	if (ret == 0 && unrepaired_r != NULL)
		*unrepaired_r = f.unrepaired;
	return ret < 0 ? ret : f.problems;
}

