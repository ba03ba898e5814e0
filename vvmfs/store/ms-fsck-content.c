/* fsck of message content: every message record points at a body that is
 * its own, with the index the indexer makes of it; a rendition is a cache
 * of its message's audio; content no record refers to is collected for
 * ms-fsck-recover.c.
 *
 * The damage a reused message id left (issue 11): two records point at
 * one body, which holds the bytes of the later deposit, and the index
 * stored with it is that deposit's too; the earlier message's bytes are
 * gone. The record that fits the body (its size, and the duration and
 * Expires of the stored index) keeps it; among several that fit, the
 * later deposit: the higher UID in one mailbox, else the later
 * INTERNALDATE. The others are damaged: repair expunges them rather than
 * show another message's bytes under their UIDs. A single record whose
 * body does not fit is reported and kept: nothing shows that another
 * message took its body. Renditions of a reused id may have been made
 * from either message and are dropped. */
#include "ms-fsck-private.h"

#include <errno.h>
#include <string.h>

/* A message's content as the store holds it. */
struct content {
	GBytes *body;          /* NULL: missing */
	GBytes *stored_bytes;  /* the index stored with it, or NULL */
	struct index *stored;  /* that index, NULL if missing or corrupt */
	struct index *fresh;   /* the body indexed anew; NULL if it is none */
	const char *unparsed;  /* why fresh is NULL */
};

int fsck_index(GBytes *body, struct index **index_r, const char **reason_r)
{
	struct index_limits limits;

	index_limits_default(&limits);
	limits.max_size = MAX(limits.max_size, g_bytes_get_size(body));
	return index_message(g_bytes_get_data(body, NULL),
			     g_bytes_get_size(body), &limits, index_r,
			     reason_r);
}

/* Only a key that is not there is missing; a read error ends the check
 * before anything is decided on it. */
static int content_load(struct fsck *f, uint64_t msgid, struct content *c)
{
	struct key k;
	int ret;

	memset(c, 0, sizeof(*c));
	key_body(&k, msgid);
	ret = db_get(f->ms->db, KV_BODIES, k.data, k.len, &c->body);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	key_index(&k, msgid);
	ret = db_get(f->ms->db, KV_INDEX, k.data, k.len, &c->stored_bytes);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	if (ret == 0 &&
	    index_deserialize(g_bytes_get_data(c->stored_bytes, NULL),
			      g_bytes_get_size(c->stored_bytes),
			      &c->stored) < 0)
		c->stored = NULL;
	if (c->body != NULL && fsck_index(c->body, &c->fresh,
					  &c->unparsed) < 0)
		c->fresh = NULL;
	return 0;
}

static void content_clear(struct content *c)
{
	if (c->body != NULL)
		g_bytes_unref(c->body);
	if (c->stored_bytes != NULL)
		g_bytes_unref(c->stored_bytes);
	index_free(&c->stored);
	index_free(&c->fresh);
}

static struct fsck_message *message_at(struct fsck *f, GArray *group,
				       guint i)
{
	return &g_array_index(f->messages, struct fsck_message,
			      g_array_index(group, guint, i));
}

/* Whether the body is what the record describes: its size, and the
 * duration and Expires of the index stored with the body (written in
 * the same batch), else of the body indexed now. */
static bool fits(const struct fsck_message *m, const struct content *c)
{
	const struct index *facts = c->stored != NULL ? c->stored : c->fresh;

	if (c->body == NULL || m->rec.size != g_bytes_get_size(c->body))
		return false;
	return facts == NULL || (m->rec.duration == facts->duration &&
				 m->rec.expires == facts->expires);
}

/* Whether a was deposited after b. */
static bool later(const struct fsck_message *a, const struct fsck_message *b)
{
	if (a->mbox_id == b->mbox_id)
		return a->uid > b->uid;
	if (a->rec.internaldate != b->rec.internaldate)
		return a->rec.internaldate > b->rec.internaldate;
	return a->mbox_id > b->mbox_id;
}

static void mark_damaged(struct fsck *f, struct fsck_message *m,
			 const struct content *c,
			 const struct fsck_message *owner, guint sharers)
{
	g_autofree char *name = fsck_message_name(f, m);
	g_autofree char *owner_name =
		owner != NULL ? fsck_message_name(f, owner) : NULL;
	g_autofree char *why = NULL;

	if (c->body == NULL)
		why = g_strdup("its body is missing");
	else if (owner != NULL)
		why = g_strdup_printf("its body was overwritten by %s",
				      owner_name);
	else
		why = g_strdup_printf("it shares its body with %u other "
				      "message%s and fits none", sharers - 1,
				      sharers == 2 ? "" : "s");
	m->damaged = true;
	f->damaged++;
	fsck_problem(f, "%s: damaged, %s; what it held cannot be brought "
		     "back%s", name, why, f->fix != NULL ? " (expunged)" : "");
}

bool fsck_audio_fits(GBytes *audio, GBytes *body, const struct index *index)
{
	g_autofree char *text = g_strndup(g_bytes_get_data(audio, NULL),
					  g_bytes_get_size(audio));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	const char *msg = g_bytes_get_data(body, NULL);

	for (char **line = lines; *line != NULL; line++) {
		g_auto(GStrv) fields = g_strsplit(*line, " ", 2);
		bool found = false;

		if (**line == '\0')
			continue;
		for (guint i = 0; i < index->sections->len && !found; i++) {
			const struct index_section *s = &g_array_index(
				index->sections, struct index_section, i);

			found = strcmp(s->part, fields[0]) == 0 &&
				index_section_is_audio(msg, s);
		}
		if (!found)
			return false;
	}
	return true;
}

/* The owner's index and audio record must be those of its body. */
static int check_owner(struct fsck *f, uint64_t msgid,
		       const struct fsck_message *owner,
		       const struct content *c)
{
	g_autoptr(GBytes) made = NULL;
	g_autoptr(GBytes) audio = NULL;
	g_autofree char *name = fsck_message_name(f, owner);
	struct key k;
	int ret;

	if (c->fresh == NULL) {
		fsck_unrepaired(f, "%s: its body does not index with this "
				"vvmfs (%s)", name, c->unparsed);
		return 0;
	}
	made = index_serialize(c->fresh);
	key_index(&k, msgid);
	if (c->stored_bytes == NULL || !g_bytes_equal(c->stored_bytes, made)) {
		fsck_problem(f, "%s: its index is %s its body%s", name,
			     c->stored_bytes == NULL ? "missing, not made from"
						     : "not the one made from",
			     f->fix != NULL ? " (made anew)" : "");
		if (f->fix != NULL)
			kv_batch_put_bytes(f->fix, KV_INDEX, k.data, k.len,
					   g_bytes_ref(made));
	}
	key_audio(&k, msgid);
	ret = db_get(f->ms->db, KV_INDEX, k.data, k.len, &audio);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	if (!fsck_audio_fits(audio, c->body, c->fresh)) {
		fsck_problem(f, "%s: its audio record names parts its body does "
			     "not have as audio%s", name,
			     f->fix != NULL ? " (dropped)" : "");
		if (f->fix != NULL)
			kv_batch_delete(f->fix, KV_INDEX, k.data, k.len);
	}
	return 0;
}

/* One message id and the records that point at it. */
static int check_group(struct fsck *f, uint64_t msgid, GArray *group)
{
	struct fsck_message *owner = NULL;
	struct content c;
	int ret = content_load(f, msgid, &c);

	if (ret < 0)
		return ret;
	for (guint i = 0; i < group->len; i++) {
		struct fsck_message *m = message_at(f, group, i);

		if (fits(m, &c) && (owner == NULL || later(m, owner)))
			owner = m;
	}
	if (owner == NULL && group->len == 1 && c.body != NULL) {
		g_autofree char *name = NULL;

		owner = message_at(f, group, 0);
		name = fsck_message_name(f, owner);
		fsck_unrepaired(f, "%s: its record does not describe its body "
				"(%zu bytes; the record says %" G_GUINT64_FORMAT
				")", name, g_bytes_get_size(c.body),
				owner->rec.size);
	}
	for (guint i = 0; i < group->len; i++) {
		struct fsck_message *m = message_at(f, group, i);

		if (m != owner)
			mark_damaged(f, m, &c, owner, group->len);
	}
	if (owner != NULL) {
		g_hash_table_add(f->owned, g_memdup2(&msgid, 8));
		ret = check_owner(f, msgid, owner, &c);
	}
	content_clear(&c);
	return ret;
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

static void orphan_free(gpointer data)
{
	struct orphan *o = data;

	g_array_unref(o->renditions);
	g_free(o);
}

static struct orphan *orphan_of(struct fsck *f, uint64_t msgid)
{
	struct orphan *o = g_hash_table_lookup(f->orphans, &msgid);

	if (o == NULL) {
		o = g_new0(struct orphan, 1);
		o->renditions = g_array_new(FALSE, FALSE, sizeof(uint8_t));
		g_hash_table_insert(f->orphans, g_memdup2(&msgid, 8), o);
	}
	return o;
}

static void orphan_rendition(struct fsck *f, uint64_t msgid, uint8_t format)
{
	struct orphan *o = orphan_of(f, msgid);

	for (guint i = 0; i < o->renditions->len; i++) {
		if (g_array_index(o->renditions, uint8_t, i) == format)
			return;
	}
	g_array_append_val(o->renditions, format);
}

/* A key of a content table that no message id can make. */
static void bad_key(struct fsck *f, enum kv_table table, const void *key,
		    size_t key_len)
{
	fsck_problem(f, "%s table: a key of %zu bytes%s",
		     table == KV_BODIES ? "body" : "index", key_len,
		     f->fix != NULL ? " (removed)" : "");
	if (f->fix != NULL)
		kv_batch_delete(f->fix, table, key, key_len);
}

static int note_index_key(void *ctx, const void *key, size_t key_len,
			  const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	const uint8_t *p = key;
	uint64_t msgid;

	if (key_len != 9) {
		bad_key(f, KV_INDEX, key, key_len);
		return 0;
	}
	msgid = key_get_be64(p + 1);
	fsck_note_msgid(f, msgid);
	if (owned(f, msgid))
		return 0;
	if (p[0] == 'I')
		orphan_of(f, msgid)->index = true;
	else
		orphan_of(f, msgid)->audio = true;
	return 0;
}

/* Whether a rendition's bytes index as its record says. */
static int rendition_whole(struct fsck *f, uint64_t msgid, uint8_t format,
			   const uint8_t *record, size_t len, bool *whole_r)
{
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GBytes) made = NULL;
	struct index *index = NULL;
	const char *reason;
	struct key k;
	int ret;

	*whole_r = false;
	if (format >= MS_RENDITION_FORMATS || len < 2 ||
	    record[0] != RENDITION_V1 || record[1] > RENDITION_OWN)
		return 0;
	if (record[1] == RENDITION_ORIGINAL) {
		*whole_r = len == 2;
		return 0;
	}
	key_rendition_body(&k, msgid, format);
	ret = db_get(f->ms->db, KV_BODIES, k.data, k.len, &body);
	if (ret < 0)
		return ret == -ENOENT ? 0 : ret;
	if (fsck_index(body, &index, &reason) < 0)
		return 0;
	made = index_serialize(index);
	index_free(&index);
	*whole_r = g_bytes_get_size(made) == len - 2 &&
		   memcmp(g_bytes_get_data(made, NULL), record + 2,
			  len - 2) == 0;
	return 0;
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
	const char *dropped = f->fix != NULL ? " (dropped)" : "";
	uint64_t msgid;
	uint8_t format;
	bool whole;
	int ret;

	if (key_len != 10) {
		bad_key(f, KV_INDEX, key, key_len);
		return 0;
	}
	msgid = key_get_be64(p + 1);
	format = p[9];
	fsck_note_msgid(f, msgid);
	if (!owned(f, msgid)) {
		orphan_rendition(f, msgid, format);
		return 0;
	}
	if (shared(f, msgid)) {
		fsck_problem(f, "rendition %u of message id %" G_GUINT64_FORMAT
			     ": made from either message of a reused id%s",
			     format, msgid, dropped);
		drop_rendition(f, msgid, format);
		return 0;
	}
	ret = rendition_whole(f, msgid, format, value, value_len, &whole);
	if (ret < 0)
		return ret;
	if (!whole) {
		fsck_problem(f, "rendition %u of message id %" G_GUINT64_FORMAT
			     ": corrupt or not what its record says%s",
			     format, msgid, dropped);
		drop_rendition(f, msgid, format);
	}
	return 0;
}

static int note_body(void *ctx, const void *key, size_t key_len,
		     const void *value, size_t value_len)
{
	struct fsck *f = ctx;
	g_autoptr(GBytes) record = NULL;
	uint64_t msgid;
	uint8_t format;
	struct key k;
	int ret;

	if (key_len != 8 && key_len != 9) {
		bad_key(f, KV_BODIES, key, key_len);
		return 0;
	}
	msgid = key_get_be64(key);
	fsck_note_msgid(f, msgid);
	if (key_len == 8) {
		if (!owned(f, msgid))
			orphan_of(f, msgid)->body = true;
		return 0;
	}
	format = ((const uint8_t *)key)[8];
	if (!owned(f, msgid)) {
		orphan_rendition(f, msgid, format);
		return 0;
	}
	/* A rendition's bytes: check_rendition() judges them with their
	 * record, and drops them with it. */
	key_rendition_index(&k, msgid, format);
	ret = db_get(f->ms->db, KV_INDEX, k.data, k.len, &record);
	if (ret != -ENOENT)
		return ret;
	fsck_problem(f, "rendition %u of message id %" G_GUINT64_FORMAT
		     ": bytes without a record%s", format, msgid,
		     f->fix != NULL ? " (removed)" : "");
	if (f->fix != NULL)
		kv_batch_delete(f->fix, KV_BODIES, key, key_len);
	return 0;
}

int fsck_check_content(struct fsck *f)
{
	struct db *db = f->ms->db;
	GHashTableIter iter;
	gpointer msgid, group;
	int ret = 0;

	f->orphans = g_hash_table_new_full(g_int64_hash, g_int64_equal,
					   g_free, orphan_free);
	g_hash_table_iter_init(&iter, f->by_msgid);
	while (ret == 0 && g_hash_table_iter_next(&iter, &msgid, &group))
		ret = check_group(f, *(uint64_t *)msgid, group);
	if (ret == 0)
		ret = db_scan(db, KV_INDEX, "I", 1, NULL, 0, note_index_key, f);
	if (ret == 0)
		ret = db_scan(db, KV_INDEX, "A", 1, NULL, 0, note_index_key, f);
	if (ret == 0)
		ret = db_scan(db, KV_INDEX, "R", 1, NULL, 0, check_rendition,
			      f);
	if (ret == 0)
		ret = db_scan(db, KV_BODIES, "", 0, NULL, 0, note_body, f);
	return ret;
}
