#include "smsd-outbox.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <unistd.h>

#include "vvm-mount.h"

/* Entries held in memory at once; the rest wait in vvmfs. */
#define MAX_ITEMS 2000
/* Entries removed per batch: their numbers fit one xattr value (64 KiB)
 * with room to spare. */
#define MAX_BATCH 1000

/* Entries the SMSC accepted, removed together: one vvmfs commit (one
 * WAL sync) for all of them, in a thread, so that the loop goes on with
 * the SMSC meanwhile. One batch at a time; the next collects what is
 * accepted while this one commits. */
struct removal {
	GArray *seqs;  /* uint64_t */
	int err;
};

struct smsd_outbox {
	const struct smsd_config *cfg;
	char *dir;
	GHashTable *items;  /* seq -> struct smsd_item */
	GHashTable *bad;    /* seqs of entries that cannot be sent (logged) */
	GSequence *waiting; /* items to send, by seq */
	int scan_error;     /* of the last scan, to log changes only */
	bool more;          /* the last scan left entries for want of room */
	GArray *accepted;   /* seqs to remove in the next batch */
	bool removing;      /* a batch is in the thread */
	GThreadPool *remover;
	GAsyncQueue *removed;   /* struct removal, back from the thread */
	int wake_fd;            /* an eventfd, written per batch done */
};

static gint by_seq(gconstpointer a, gconstpointer b, gpointer data)
{
	const struct smsd_item *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void item_free(gpointer data)
{
	struct smsd_item *item = data;

	smsd_out_destroy(&item->out);
	g_free(item);
}

static void removal_free(gpointer data)
{
	struct removal *r = data;

	g_array_unref(r->seqs);
	g_free(r);
}

/* In the remover thread: user.vvm.remove on the outbox directory. */
static void remove_batch(gpointer data, gpointer user_data)
{
	struct smsd_outbox *ob = user_data;
	struct removal *r = data;
	g_autoptr(GString) text = g_string_new(NULL);

	for (guint i = 0; i < r->seqs->len; i++)
		g_string_append_printf(text, "%s%" G_GUINT64_FORMAT,
				       i > 0 ? " " : "",
				       g_array_index(r->seqs, uint64_t, i));
	r->err = -mount_setxattr(ob->dir, -1, "user.vvm.remove", text->str);
	g_async_queue_push(ob->removed, r);
	eventfd_write(ob->wake_fd, 1);
}

struct smsd_outbox *smsd_outbox_create(const struct smsd_config *cfg)
{
	struct smsd_outbox *ob = g_new0(struct smsd_outbox, 1);

	ob->cfg = cfg;
	ob->dir = g_build_filename(cfg->mount, ".outbox", "sms", NULL);
	ob->items = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
					  item_free);
	ob->bad = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					NULL);
	ob->waiting = g_sequence_new(NULL);
	ob->accepted = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	ob->removed = g_async_queue_new_full(removal_free);
	ob->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* A thread that cannot be made is a machine out of resources: the
	 * daemon may abort, as on OOM. */
	ob->remover = g_thread_pool_new(remove_batch, ob, 1, TRUE, NULL);
	g_assert(ob->wake_fd >= 0 && ob->remover != NULL);
	return ob;
}

void smsd_outbox_destroy(struct smsd_outbox **ob)
{
	if (*ob == NULL)
		return;
	smsd_outbox_settle(*ob);
	g_thread_pool_free((*ob)->remover, FALSE, TRUE);
	g_async_queue_unref((*ob)->removed);
	g_array_unref((*ob)->accepted);
	close((*ob)->wake_fd);
	g_sequence_free((*ob)->waiting);
	g_hash_table_destroy((*ob)->items);
	g_hash_table_destroy((*ob)->bad);
	g_free((*ob)->dir);
	g_clear_pointer(ob, g_free);
}

static void wait_again(struct smsd_outbox *ob, struct smsd_item *item)
{
	item->next = 0;
	item->answered = 0;
	item->accepted = 0;
	item->refused = false;
	item->soon = false;
	g_sequence_insert_sorted(ob->waiting, item, by_seq, NULL);
}

/* Takes an item that still has short messages to hand out off the
 * waiting list. */
static void stop_waiting(struct smsd_outbox *ob, struct smsd_item *item)
{
	GSequenceIter *pos;

	if (item->next == item->out->segments->len)
		return;
	pos = g_sequence_lookup(ob->waiting, item, by_seq, NULL);
	if (pos != NULL)
		g_sequence_remove(pos);
}

/* Sends the accepted entries to the remover, unless a batch is there. */
static void start_removal(struct smsd_outbox *ob)
{
	struct removal *r;

	guint n = MIN(ob->accepted->len, MAX_BATCH);

	if (ob->removing || n == 0)
		return;
	r = g_new0(struct removal, 1);
	r->seqs = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), n);
	g_array_append_vals(r->seqs, ob->accepted->data, n);
	g_array_remove_range(ob->accepted, 0, n);
	ob->removing = true;
	g_thread_pool_push(ob->remover, r, NULL);
}

/* Removes a sent entry from vvmfs, with others: smsd_outbox_reap()
 * forgets it once it is gone. Until then, and for good when the removal
 * fails, the item stays, done, so this process never sends it again. */
static void retire(struct smsd_outbox *ob, struct smsd_item *item)
{
	item->retiring = true;
	g_array_append_val(ob->accepted, item->seq);
	start_removal(ob);
}

int smsd_outbox_fd(struct smsd_outbox *ob)
{
	return ob->wake_fd;
}

static void removal_done(struct smsd_outbox *ob, const struct removal *r)
{
	if (r->err != 0)
		syslog(LOG_ERR, "cannot remove %u sent outbox entries: %s",
		       r->seqs->len, g_strerror(r->err));
	for (guint i = 0; i < r->seqs->len; i++) {
		uint64_t seq = g_array_index(r->seqs, uint64_t, i);
		struct smsd_item *item = g_hash_table_lookup(ob->items, &seq);

		if (r->err == 0)
			g_hash_table_remove(ob->items, &seq);
		else if (item != NULL)
			item->retiring = false;
	}
}

unsigned smsd_outbox_reap(struct smsd_outbox *ob)
{
	struct removal *r;
	eventfd_t count;
	unsigned reaped = 0;

	eventfd_read(ob->wake_fd, &count);
	while ((r = g_async_queue_try_pop(ob->removed)) != NULL) {
		removal_done(ob, r);
		reaped += r->seqs->len;
		ob->removing = false;
		removal_free(r);
	}
	start_removal(ob);
	return reaped;
}

void smsd_outbox_settle(struct smsd_outbox *ob)
{
	while (ob->removing || ob->accepted->len > 0) {
		struct pollfd p = { .fd = ob->wake_fd, .events = POLLIN };

		start_removal(ob);
		poll(&p, 1, 100);
		smsd_outbox_reap(ob);
	}
}

bool smsd_outbox_idle(struct smsd_outbox *ob)
{
	return g_hash_table_size(ob->items) == 0;
}

static void mark_bad(struct smsd_outbox *ob, uint64_t seq, const char *reason)
{
	syslog(LOG_ERR, "outbox entry %" G_GUINT64_FORMAT " cannot be sent: "
	       "%s; left in place", seq, reason);
	g_hash_table_add(ob->bad, g_memdup2(&seq, sizeof(seq)));
}

/* Reads one new entry into an item; returns 1 if it did. */
static int load(struct smsd_outbox *ob, uint64_t seq)
{
	g_autofree char *path = g_strdup_printf("%s/%" G_GUINT64_FORMAT,
						ob->dir, seq);
	g_autofree char *data = NULL;
	struct vvm_sms_entry entry;
	struct smsd_item *item;
	const char *reason = NULL;
	size_t len;
	int ret = mount_read_file(path, VVM_SMS_TEXT_MAX + 256, &data, &len);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0) {
		syslog(LOG_ERR, "cannot read outbox entry %" G_GUINT64_FORMAT
		       ": %s", seq, g_strerror(-ret));
		return 0;
	}
	if (vvm_sms_entry_parse(data, len, &entry, &reason) < 0) {
		mark_bad(ob, seq, reason);
		return 0;
	}
	item = g_new0(struct smsd_item, 1);
	item->seq = seq;
	/* Concatenated parts carry an 8-bit reference; consecutive entries
	 * to one phone get different ones. */
	if (smsd_out_build(ob->cfg, &entry, (uint8_t)seq, &item->out,
			   &reason) < 0) {
		g_free(item);
		mark_bad(ob, seq, reason);
		return 0;
	}
	g_hash_table_insert(ob->items, &item->seq, item);
	wait_again(ob, item);
	return 1;
}

static gint seq_compare(gconstpointer a, gconstpointer b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sequence numbers in the directory that are not known yet, in
 * order. */
static int list_new(struct smsd_outbox *ob, GArray *seqs)
{
	DIR *d = opendir(ob->dir);
	struct dirent *e;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char *end;
		uint64_t seq;

		if (!g_ascii_isdigit(e->d_name[0]))
			continue;
		seq = g_ascii_strtoull(e->d_name, &end, 10);
		if (*end != '\0' || g_hash_table_contains(ob->items, &seq) ||
		    g_hash_table_contains(ob->bad, &seq))
			continue;
		g_array_append_val(seqs, seq);
	}
	closedir(d);
	g_array_sort(seqs, seq_compare);
	return 0;
}

/* Retries the removals that failed. */
static void retry_retired(struct smsd_outbox *ob)
{
	GHashTableIter it;
	gpointer value;
	GPtrArray *done = g_ptr_array_new();

	g_hash_table_iter_init(&it, ob->items);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct smsd_item *item = value;

		if (item->done && !item->retiring)
			g_ptr_array_add(done, item);
	}
	for (guint i = 0; i < done->len; i++)
		retire(ob, g_ptr_array_index(done, i));
	g_ptr_array_unref(done);
}

int smsd_outbox_scan(struct smsd_outbox *ob)
{
	g_autoptr(GArray) seqs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	int loaded = 0;
	guint i = 0;
	int ret;

	retry_retired(ob);
	ret = list_new(ob, seqs);
	/* A mount that is gone stays gone for a while: one line when the
	 * outbox becomes unreadable, one when it is back. */
	if (ret < 0 && ob->scan_error == 0)
		syslog(LOG_ERR, "cannot read %s: %s", ob->dir,
		       g_strerror(-ret));
	else if (ret == 0 && ob->scan_error != 0)
		syslog(LOG_NOTICE, "%s is readable again", ob->dir);
	ob->scan_error = ret;
	if (ret < 0)
		return ret;
	for (; i < seqs->len && g_hash_table_size(ob->items) < MAX_ITEMS; i++)
		loaded += load(ob, g_array_index(seqs, uint64_t, i));
	ob->more = i < seqs->len;
	return loaded;
}

bool smsd_outbox_wants_scan(struct smsd_outbox *ob)
{
	/* Half the room free, so that a drain does not scan per entry. */
	return ob->more && g_hash_table_size(ob->items) <= MAX_ITEMS / 2;
}

struct smsd_item *smsd_outbox_next(struct smsd_outbox *ob, int64_t now,
				   guint *segment_r)
{
	GSequenceIter *it = g_sequence_get_begin_iter(ob->waiting);

	/* The lowest sequence number that may go now. */
	for (; !g_sequence_iter_is_end(it); it = g_sequence_iter_next(it)) {
		struct smsd_item *item = g_sequence_get(it);

		if (item->retry_at > now)
			continue;
		*segment_r = item->next++;
		if (item->next == item->out->segments->len)
			g_sequence_remove(it);
		return item;
	}
	return NULL;
}

struct smsd_item *smsd_outbox_next_entry(struct smsd_outbox *ob,
					 int64_t now)
{
	guint segment;
	struct smsd_item *item = smsd_outbox_next(ob, now, &segment);

	if (item != NULL && item->next < item->out->segments->len) {
		stop_waiting(ob, item);
		item->next = item->out->segments->len;
	}
	return item;
}

void smsd_outbox_result(struct smsd_outbox *ob, struct smsd_item *item,
			bool accepted, bool retry_soon, int64_t now)
{
	guint total = item->out->segments->len;
	unsigned pause;

	item->answered++;
	if (accepted) {
		item->accepted++;
	} else if (!item->refused) {
		/* The rest is not handed out: the entry goes again whole. */
		stop_waiting(ob, item);
		item->refused = true;
		item->soon = retry_soon;
	}
	if (item->answered < item->next)
		return;
	if (!item->refused) {
		if (item->accepted == total) {
			item->done = true;
			retire(ob, item);
		}
		return;
	}
	item->attempts++;
	pause = item->soon ? 1
		: MIN(ob->cfg->retry_max_s, 1u << MIN(item->attempts, 20u));
	wait_again(ob, item);
	item->retry_at = now + (int64_t)pause * G_USEC_PER_SEC;
}

void smsd_outbox_reset(struct smsd_outbox *ob)
{
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, ob->items);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct smsd_item *item = value;

		/* Items handed out in part or whole and not done go again:
		 * the answers to their short messages will not come. */
		if (item->done || item->next == 0)
			continue;
		if (!item->refused)
			stop_waiting(ob, item);
		wait_again(ob, item);
	}
}

int64_t smsd_outbox_next_time(struct smsd_outbox *ob)
{
	int64_t earliest = -1;
	GSequenceIter *it = g_sequence_get_begin_iter(ob->waiting);

	for (; !g_sequence_iter_is_end(it); it = g_sequence_iter_next(it)) {
		struct smsd_item *item = g_sequence_get(it);

		if (earliest < 0 || item->retry_at < earliest)
			earliest = item->retry_at;
	}
	return earliest;
}
