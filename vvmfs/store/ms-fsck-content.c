/* fsck of message content: every message record points at a body that is
 * its own, with the index the indexer makes of it; content nothing refers
 * to is garbage; a rendition is a cache of its message's audio.
 *
 * The damage a reused message id leaves (issue 11): two records point at
 * one body, which holds the bytes of the later deposit; the earlier
 * message's bytes are gone. The record the body matches (size, duration,
 * Expires, as the indexer reads them from the body) keeps it; among
 * several that match, the latest INTERNALDATE, since the body is the last
 * deposit's. The others are damaged: repair expunges them rather than
 * show another message's bytes under their UIDs. Renditions of a reused
 * id may have been made from either message and are dropped. */
#include "ms-fsck-private.h"
#include "index.h"

#include <errno.h>
#include <string.h>

/* A message's content as the store holds it. */
struct content {
	GBytes *body;          /* NULL: missing */
	struct index *fresh;   /* the body indexed anew; NULL if none */
	const char *unparsed;  /* why the body indexes as no message */
};

static void content_load(struct fsck *f, uint64_t msgid, struct content *c)
{
	struct index_limits limits;
	struct key k;

	memset(c, 0, sizeof(*c));
	key_body(&k, msgid);
	if (db_get(f->ms->db, KV_BODIES, k.data, k.len, &c->body) < 0) {
		c->body = NULL;
		return;
	}
	index_limits_default(&limits);
	limits.max_size = MAX(limits.max_size, g_bytes_get_size(c->body));
	if (index_message(g_bytes_get_data(c->body, NULL),
			  g_bytes_get_size(c->body), &limits, &c->fresh,
			  &c->unparsed) < 0)
		c->fresh = NULL;
}

static void content_clear(struct content *c)
{
	if (c->body != NULL)
		g_bytes_unref(c->body);
	index_free(&c->fresh);
}

static struct fsck_message *message_at(struct fsck *f, GArray *group,
				       guint i)
{
	return &g_array_index(f->messages, struct fsck_message,
			      g_array_index(group, guint, i));
}

/* Whether the body is what the record describes. */
static bool matches(const struct fsck_message *m, const struct content *c)
{
	return c->fresh != NULL && m->rec.size == c->fresh->size &&
	       m->rec.duration == c->fresh->duration &&
	       m->rec.expires == c->fresh->expires;
}

static bool later(const struct fsck_message *a, const struct fsck_message *b)
{
	if (a->rec.internaldate != b->rec.internaldate)
		return a->rec.internaldate > b->rec.internaldate;
	if (a->mbox_id != b->mbox_id)
		return a->mbox_id > b->mbox_id;
	return a->uid > b->uid;
}

static struct fsck_message *owner_of(struct fsck *f, GArray *group,
				     const struct content *c)
{
	struct fsck_message *owner = NULL;

	for (guint i = 0; i < group->len; i++) {
		struct fsck_message *m = message_at(f, group, i);

		if (matches(m, c) && (owner == NULL || later(m, owner)))
			owner = m;
	}
	return owner;
}

static void mark_damaged(struct fsck *f, struct fsck_message *m,
			 const struct content *c,
			 const struct fsck_message *owner)
{
	g_autofree char *name = fsck_message_name(f, m);
	g_autofree char *owner_name =
		owner != NULL ? fsck_message_name(f, owner) : NULL;
	g_autofree char *why = NULL;

	if (c->body == NULL)
		why = g_strdup("its body is missing");
	else if (c->fresh == NULL)
		why = g_strdup_printf("its body is no message (%s)",
				      c->unparsed);
	else if (owner != NULL)
		why = g_strdup_printf("its body was overwritten by %s",
				      owner_name);
	else
		why = g_strdup_printf("its body is not its own (%zu bytes, "
				      "its record says %" G_GUINT64_FORMAT ")",
				      g_bytes_get_size(c->body), m->rec.size);
	m->damaged = true;
	f->damaged++;
	fsck_problem(f, "%s: damaged, %s; what it held cannot be brought "
		     "back%s", name, why, f->fix != NULL ? " (expunged)" : "");
}

/* True when the part's Content-Type is audio/something. */
static bool part_is_audio(const struct content *c,
			  const struct index_section *s)
{
	const char *data = g_bytes_get_data(c->body, NULL);
	g_autofree char *header = g_ascii_strdown(data + s->header_offset,
						  (gssize)s->header_length);
	const char *p = header;

	while ((p = strstr(p, "content-type:")) != NULL) {
		bool line_start = p == header || p[-1] == '\n';

		p += strlen("content-type:");
		if (!line_start)
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		return g_str_has_prefix(p, "audio/");
	}
	return false;
}

/* The audio record lists audio parts of the body: a record left from
 * another message names parts that are not audio here. */
static bool audio_record_fits(GBytes *audio, const struct content *c)
{
	g_autofree char *text = g_strndup(g_bytes_get_data(audio, NULL),
					  g_bytes_get_size(audio));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (char **line = lines; *line != NULL; line++) {
		g_auto(GStrv) fields = g_strsplit(*line, " ", 2);
		bool found = false;

		if (**line == '\0')
			continue;
		for (guint i = 0; i < c->fresh->sections->len && !found; i++) {
			const struct index_section *s = &g_array_index(
				c->fresh->sections, struct index_section, i);

			found = strcmp(s->part, fields[0]) == 0 &&
				part_is_audio(c, s);
		}
		if (!found)
			return false;
	}
	return true;
}

/* The owner's index and audio record must be those of its body. */
static void check_owner(struct fsck *f, uint64_t msgid,
			const struct fsck_message *owner,
			const struct content *c)
{
	g_autoptr(GBytes) stored = NULL;
	g_autoptr(GBytes) made = index_serialize(c->fresh);
	g_autoptr(GBytes) audio = NULL;
	g_autofree char *name = fsck_message_name(f, owner);
	struct key k;

	key_index(&k, msgid);
	if (db_get(f->ms->db, KV_INDEX, k.data, k.len, &stored) < 0 ||
	    !g_bytes_equal(stored, made)) {
		fsck_problem(f, "%s: its index is %s its body%s", name,
			     stored == NULL ? "missing, not made from"
					    : "not the one made from",
			     f->fix != NULL ? " (made anew)" : "");
		if (f->fix != NULL)
			kv_batch_put_bytes(f->fix, KV_INDEX, k.data, k.len,
					   g_bytes_ref(made));
	}
	key_audio(&k, msgid);
	if (db_get(f->ms->db, KV_INDEX, k.data, k.len, &audio) == 0 &&
	    !audio_record_fits(audio, c)) {
		fsck_problem(f, "%s: its audio record names parts its body does "
			     "not have as audio%s", name,
			     f->fix != NULL ? " (dropped)" : "");
		if (f->fix != NULL)
			kv_batch_delete(f->fix, KV_INDEX, k.data, k.len);
	}
}

/* One message id and the records that point at it. */
static void check_group(struct fsck *f, uint64_t msgid, GArray *group)
{
	struct content c;
	struct fsck_message *owner;

	content_load(f, msgid, &c);
	owner = owner_of(f, group, &c);
	for (guint i = 0; i < group->len; i++) {
		struct fsck_message *m = message_at(f, group, i);

		if (m != owner)
			mark_damaged(f, m, &c, owner);
	}
	if (owner != NULL) {
		g_hash_table_add(f->owned, g_memdup2(&msgid, 8));
		check_owner(f, msgid, owner, &c);
	} else if (f->fix != NULL) {
		ms_delete_content(f->fix, msgid);
	}
	content_clear(&c);
}

/* A message id whose content is not owned: orphaned (reported) unless a
 * damaged record points at it (reported with the record). */
static bool orphan(struct fsck *f, uint64_t msgid)
{
	return !g_hash_table_contains(f->by_msgid, &msgid);
}

static bool owned(struct fsck *f, uint64_t msgid)
{
	return g_hash_table_contains(f->owned, &msgid);
}

/* A reused id: its renditions may be of the other message. */
static bool shared(struct fsck *f, uint64_t msgid)
{
	GArray *group = g_hash_table_lookup(f->by_msgid, &msgid);

	return group != NULL && group->len > 1;
}

static int check_orphan_content(void *ctx, const void *key, size_t key_len,
				const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	const uint8_t *p = key;
	uint64_t msgid;

	if (key_len != 9) {
		fsck_problem(f, "index table: a key of %zu bytes under '%c'%s",
			     key_len, p[0], f->fix != NULL ? " (removed)" : "");
		goto drop;
	}
	msgid = key_get_be64(p + 1);
	fsck_note_msgid(f, msgid);
	if (owned(f, msgid) || !orphan(f, msgid))
		return 0;
	fsck_problem(f, "%s of message id %" G_GUINT64_FORMAT ": no message "
		     "refers to it%s", p[0] == 'I' ? "index" : "audio record",
		     msgid, f->fix != NULL ? " (removed)" : "");
drop:
	if (f->fix != NULL)
		kv_batch_delete(f->fix, KV_INDEX, key, key_len);
	return 0;
}

/* Whether a rendition's bytes index as its record says. */
static bool rendition_whole(struct fsck *f, uint64_t msgid, uint8_t format,
			    const uint8_t *record, size_t len)
{
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GBytes) made = NULL;
	struct index_limits limits;
	struct index *index = NULL;
	const char *reason;
	struct key k;
	bool whole;

	if (len < 2 || record[0] != RENDITION_V1 ||
	    record[1] > RENDITION_OWN)
		return false;
	if (record[1] == RENDITION_ORIGINAL)
		return len == 2;
	key_rendition_body(&k, msgid, format);
	if (db_get(f->ms->db, KV_BODIES, k.data, k.len, &body) < 0)
		return false;
	index_limits_default(&limits);
	limits.max_size = MAX(limits.max_size, g_bytes_get_size(body));
	if (index_message(g_bytes_get_data(body, NULL), g_bytes_get_size(body),
			  &limits, &index, &reason) < 0)
		return false;
	made = index_serialize(index);
	index_free(&index);
	whole = g_bytes_get_size(made) == len - 2 &&
		memcmp(g_bytes_get_data(made, NULL), record + 2, len - 2) == 0;
	return whole;
}

static void drop_rendition(struct fsck *f, uint64_t msgid, uint8_t format)
{
	struct key k;

	if (f->fix == NULL)
		return;
	key_rendition_index(&k, msgid, format);
	kv_batch_delete(f->fix, KV_INDEX, k.data, k.len);
	key_rendition_body(&k, msgid, format);
	kv_batch_delete(f->fix, KV_BODIES, k.data, k.len);
}

static int check_rendition(void *ctx, const void *key, size_t key_len,
			   const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	const uint8_t *p = key;
	const char *fixed = f->fix != NULL ? " (dropped)" : "";
	uint64_t msgid;
	uint8_t format;

	if (key_len != 10) {
		fsck_problem(f, "index table: a rendition key of %zu bytes%s",
			     key_len, f->fix != NULL ? " (removed)" : "");
		if (f->fix != NULL)
			kv_batch_delete(f->fix, KV_INDEX, key, key_len);
		return 0;
	}
	msgid = key_get_be64(p + 1);
	format = p[9];
	fsck_note_msgid(f, msgid);
	if (!owned(f, msgid)) {
		if (orphan(f, msgid))
			fsck_problem(f, "rendition %u of message id %"
				     G_GUINT64_FORMAT ": no message refers to "
				     "it%s", format, msgid, fixed);
	} else if (shared(f, msgid)) {
		fsck_problem(f, "rendition %u of message id %" G_GUINT64_FORMAT
			     ": made from either message of a reused id%s",
			     format, msgid, fixed);
	} else if (format >= MS_RENDITION_FORMATS ||
		   !rendition_whole(f, msgid, format, value, value_len)) {
		fsck_problem(f, "rendition %u of message id %" G_GUINT64_FORMAT
			     ": corrupt or not what its record says%s",
			     format, msgid, fixed);
	} else {
		return 0;
	}
	drop_rendition(f, msgid, format);
	return 0;
}

static int check_body(void *ctx, const void *key, size_t key_len,
		      const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	g_autoptr(GBytes) record = NULL;
	uint64_t msgid;
	struct key k;

	if (key_len != 8 && key_len != 9) {
		fsck_problem(f, "body table: a key of %zu bytes%s", key_len,
			     f->fix != NULL ? " (removed)" : "");
		if (f->fix != NULL)
			kv_batch_delete(f->fix, KV_BODIES, key, key_len);
		return 0;
	}
	msgid = key_get_be64(key);
	fsck_note_msgid(f, msgid);
	if (key_len == 8) {
		if (owned(f, msgid) || !orphan(f, msgid))
			return 0;
		fsck_problem(f, "body %" G_GUINT64_FORMAT ": no message refers "
			     "to it%s", msgid,
			     f->fix != NULL ? " (removed)" : "");
		if (f->fix != NULL)
			ms_delete_content(f->fix, msgid);
		return 0;
	}
	/* A rendition's bytes: its record is checked (and dropped with
	 * them) by check_rendition(). */
	key_rendition_index(&k, msgid, ((const uint8_t *)key)[8]);
	if (db_get(f->ms->db, KV_INDEX, k.data, k.len, &record) == 0)
		return 0;
	fsck_problem(f, "rendition %u of message id %" G_GUINT64_FORMAT
		     ": bytes without a record%s", ((const uint8_t *)key)[8],
		     msgid, f->fix != NULL ? " (removed)" : "");
	if (f->fix != NULL)
		kv_batch_delete(f->fix, KV_BODIES, key, key_len);
	return 0;
}

int fsck_check_content(struct fsck *f)
{
	struct db *db = f->ms->db;
	GHashTableIter iter;
	gpointer msgid, group;
	int ret;

	g_hash_table_iter_init(&iter, f->by_msgid);
	while (g_hash_table_iter_next(&iter, &msgid, &group))
		check_group(f, *(uint64_t *)msgid, group);
	ret = db_scan(db, KV_INDEX, "I", 1, NULL, 0, check_orphan_content, f);
	if (ret == 0)
		ret = db_scan(db, KV_INDEX, "A", 1, NULL, 0,
			      check_orphan_content, f);
	if (ret == 0)
		ret = db_scan(db, KV_INDEX, "R", 1, NULL, 0, check_rendition,
			      f);
	if (ret == 0)
		ret = db_scan(db, KV_BODIES, "", 0, NULL, 0, check_body, f);
	return ret;
}
