/* The change feed (what changed in a mailbox since a modseq) and the
 * retention purge of expired messages. */
#include "index.h"
#include "mailstore-private.h"
#include "vvm-flags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct change_line {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
};

struct changes_ctx {
	GArray *present;   /* struct change_line */
	GArray *vanished;  /* uint32_t */
};

static int changes_one(void *ctx, const void *key, size_t key_len,
		       const void *value, size_t value_len)
{
	struct changes_ctx *c = ctx;
	struct rec_change change;
	struct change_line line;

	if (key_len != 13 || rec_change_decode(value, value_len, &change) < 0)
		return -EIO;
	if (change.kind == CHANGE_EXPUNGED) {
		g_array_append_val(c->vanished, change.uid);
		return 0;
	}
	line.uid = change.uid;
	line.flags = change.flags;
	line.modseq = key_get_be64((const uint8_t *)key + 5);
	g_array_append_val(c->present, line);
	return 0;
}

static int cmp_line(const void *a, const void *b)
{
	const struct change_line *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int cmp_u32(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* Appends sorted uids as an IMAP sequence set ("3,5,7:9"). */
static void append_uid_set(GString *out, GArray *uids)
{
	for (guint i = 0; i < uids->len;) {
		uint32_t first = g_array_index(uids, uint32_t, i);
		uint32_t last = first;

		while (++i < uids->len &&
		       g_array_index(uids, uint32_t, i) == last + 1)
			last++;
		if (out->str[out->len - 1] != ' ')
			g_string_append_c(out, ',');
		if (first == last)
			g_string_append_printf(out, "%u", first);
		else
			g_string_append_printf(out, "%u:%u", first, last);
	}
}

/* "+ <size> <internaldate> <lengths...>\n" and then the ENVELOPE, the
 * BODYSTRUCTURE, the BODY, the sections text and the header block, then
 * "\n". A message expunged since the scan gets no such line. */
static int append_full(struct mailstore *ms, uint32_t mbox_id, uint32_t uid,
		       GString *out)
{
	struct ms_message msg;
	struct index *index = NULL;
	GBytes *body = NULL;
	char *sections = NULL;
	const char *header = "";
	uint64_t header_len = 0;
	int ret = ms_message_get(ms, mbox_id, uid, &msg);

	if (ret == -ENOENT)
		return 0;
	if (ret == 0)
		ret = ms_message_index(ms, msg.msgid, &index);
	if (ret == 0)
		ret = ms_message_body(ms, msg.msgid, &body);
	/* Content gone with its record is an expunge since the scan;
	 * content gone while its record stays is damage, not nothing. */
	if (ret == -ENOENT) {
		ret = ms_message_get(ms, mbox_id, uid, &msg);
		ret = ret == -ENOENT ? 0 : ret == 0 ? -EIO : ret;
		goto out;
	}
	if (ret < 0)
		goto out;
	sections = index_sections_format(index);
	for (guint i = 0; i < index->sections->len; i++) {
		const struct index_section *sec =
			&g_array_index(index->sections, struct index_section, i);
		gsize size;
		const char *data = g_bytes_get_data(body, &size);
		if (*sec->part == '\0' &&
		    sec->header_offset + sec->header_length <= size) {
			header = data + sec->header_offset;
			header_len = sec->header_length;
			break;
		}
	}
	g_string_append_printf(out, "+ %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT
			       " %zu %zu %zu %zu %" G_GUINT64_FORMAT "\n",
			       msg.size, msg.internaldate,
			       strlen(index->envelope),
			       strlen(index->bodystructure), strlen(index->body),
			       strlen(sections), header_len);
	g_string_append(out, index->envelope);
	g_string_append(out, index->bodystructure);
	g_string_append(out, index->body);
	g_string_append(out, sections);
	g_string_append_len(out, header, (gssize)header_len);
	g_string_append_c(out, '\n');
out:
	g_free(sections);
	if (body != NULL)
		g_bytes_unref(body);
	index_free(&index);
	return ret;
}

int ms_changes(struct mailstore *ms, uint32_t mbox_id, uint64_t since,
	       bool full, GString *out)
{
	struct changes_ctx c;
	struct rec_mailbox mbox;
	struct key prefix, start;
	GMutex *lock;
	int ret;

	/* Under the subscriber's lock with nothing in flight, the mailbox
	 * record and the change log are one consistent snapshot. */
	ret = ms_lock_mailbox(ms, mbox_id, &mbox, &lock);
	if (ret < 0)
		return ret;
	c.present = g_array_new(FALSE, FALSE, sizeof(struct change_line));
	c.vanished = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	key_change_prefix(&prefix, mbox_id);
	key_change(&start, mbox_id, since + 1);
	ret = db_wait_all(ms->db);
	if (ret == 0 && since < G_MAXUINT64)
		ret = db_scan(ms->db, KV_INDEX, prefix.data, prefix.len,
			      start.data, start.len, changes_one, &c);
	g_mutex_unlock(lock);
	if (ret == 0) {
		g_string_append_printf(out,
				       "uidvalidity %u\nuidnext %u\n"
				       "highestmodseq %" G_GUINT64_FORMAT
				       "\nmessages %u\n",
				       mbox.uidvalidity, mbox.uidnext,
				       mbox.highestmodseq, mbox.messages);
		/* A reader starting from nothing needs no tombstones. */
		if (since > 0 && c.vanished->len > 0) {
			g_array_sort(c.vanished, cmp_u32);
			g_string_append(out, "vanished ");
			append_uid_set(out, c.vanished);
			g_string_append_c(out, '\n');
		}
		g_array_sort(c.present, cmp_line);
		for (guint i = 0; i < c.present->len; i++) {
			struct change_line *line = &g_array_index(
				c.present, struct change_line, i);

			g_string_append_printf(out, "%u %" G_GUINT64_FORMAT,
					       line->uid, line->modseq);
			if (line->flags != 0)
				g_string_append_c(out, ' ');
			vvm_flags_format(line->flags, out);
			g_string_append_c(out, '\n');
			if (full && ret == 0)
				ret = append_full(ms, mbox_id, line->uid, out);
		}
	}
	g_array_free(c.present, TRUE);
	g_array_free(c.vanished, TRUE);
	return ret;
}

struct expire_ctx {
	int64_t now;
	unsigned max;
	GArray *due; /* pairs of uint32_t: mbox_id, uid */
};

static int expire_one(void *ctx, const void *key, size_t key_len,
		      const void *value, size_t value_len)
{
	struct expire_ctx *c = ctx;
	const uint8_t *p = key;
	uint32_t pair[2];

	if (key_len != 17)
		return -EIO;
	if ((int64_t)key_get_be64(p + 1) > c->now || c->due->len / 2 >= c->max)
		return 1;
	pair[0] = key_get_be32(p + 9);
	pair[1] = key_get_be32(p + 13);
	g_array_append_vals(c->due, pair, 2);
	return 0;
}

int ms_expire(struct mailstore *ms, int64_t now, unsigned max)
{
	struct expire_ctx c = { now, max, NULL };
	int ret, purged = 0;

	c.due = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	ret = db_scan(ms->db, KV_INDEX, "E", 1, NULL, 0, expire_one, &c);
	if (ret > 0)
		ret = 0;
	for (guint i = 0; ret == 0 && i < c.due->len; i += 2) {
		uint32_t mbox_id = g_array_index(c.due, uint32_t, i);
		uint32_t uid = g_array_index(c.due, uint32_t, i + 1);
		int r = ms_message_expunge(ms, mbox_id, uid);

		/* Expunged meanwhile by someone else: nothing to do. */
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			ret = r;
			break;
		}
		purged++;
	}
	g_array_free(c.due, TRUE);
	return ret < 0 ? ret : purged;
}
