/* fsck's recovery: what repair does instead of deleting. A body no
 * record refers to (its record lost, its mailbox's record lost, or a
 * reused id's body that fits none of the records that shared it) is a
 * message whose bytes are all there: it gets a new record in its
 * subscriber's Recovered mailbox, with what the body itself says (size,
 * duration, Expires, Date as INTERNALDATE) and no flags. A mailbox whose
 * record does not decode is rebuilt from the name index and its
 * messages. Only what is derived or cached (an index, an audio record,
 * renditions without their message's bytes) is ever removed. */
#include "ms-fsck-private.h"

#include <errno.h>
#include <string.h>

struct mbox_check *fsck_mailbox_add(struct fsck *f, uint32_t id,
				    const struct rec_mailbox *rec)
{
	struct mbox_check *m = g_new0(struct mbox_check, 1);

	m->id = id;
	m->rec = *rec;
	m->computed = *rec;
	m->computed.messages = 0;
	m->computed.unseen = 0;
	m->computed.bytes = 0;
	m->present = m->computed;
	m->changes = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	g_hash_table_insert(f->mailboxes, GUINT_TO_POINTER(id), m);
	return m;
}

/* A UIDVALIDITY above every other, never below the clock, as
 * ms_mailbox_create_locked() takes one. */
static uint32_t new_uidvalidity(struct fsck *f)
{
	int64_t now = g_get_real_time() / G_USEC_PER_SEC;

	f->last_uidvalidity = MAX(f->last_uidvalidity + 1, (uint64_t)now);
	return (uint32_t)MIN(f->last_uidvalidity, G_MAXUINT32);
}

void fsck_rebuild_mailbox(struct fsck *f, uint32_t id)
{
	struct mbox_name *n = g_hash_table_lookup(f->names,
						  GUINT_TO_POINTER(id));
	struct sub_check *s = n != NULL ? g_hash_table_lookup(
		f->subscribers, GUINT_TO_POINTER(n->sub_id)) : NULL;
	struct rec_mailbox rec = { 0 };
	struct mbox_check *m;

	if (s == NULL) {
		fsck_problem(f, "mailbox %u: its record does not decode and no "
			     "name of a subscriber names it; its messages are "
			     "recovered%s", id,
			     f->fix != NULL ? " (record removed)" : "");
		if (f->fix != NULL) {
			struct key k;

			key_mailbox(&k, id);
			kv_batch_delete(f->fix, KV_MAILBOXES, k.data, k.len);
		}
		return;
	}
	rec.sub_id = n->sub_id;
	rec.uidvalidity = new_uidvalidity(f);
	rec.uidnext = 1;
	rec.created = g_get_real_time() / G_USEC_PER_SEC;
	g_strlcpy(rec.name, n->name, sizeof(rec.name));
	m = fsck_mailbox_add(f, id, &rec);
	m->made = true;
	fsck_problem(f, "%s/%s: its mailbox record does not decode%s",
		     s->rec.msisdn, n->name,
		     f->fix != NULL ? " (rebuilt from its messages, with a new "
				      "UIDVALIDITY)" : "");
}

/* The subscriber's Recovered mailbox, made when missing; NULL when no
 * mailbox id is left. */
static struct mbox_check *recovered_mailbox(struct fsck *f, uint32_t sub_id)
{
	struct rec_mailbox rec = { 0 };
	struct mbox_check *m;
	GHashTableIter iter;
	gpointer value;
	uint32_t be_id;
	struct key k;

	g_hash_table_iter_init(&iter, f->mailboxes);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		m = value;
		if (m->rec.sub_id == sub_id &&
		    strcmp(m->rec.name, FSCK_RECOVERED) == 0)
			return m;
	}
	if (f->next_mbox_id >= MS_MAILBOX_ID_MAX)
		return NULL;
	rec.sub_id = sub_id;
	rec.uidvalidity = new_uidvalidity(f);
	rec.uidnext = 1;
	rec.created = g_get_real_time() / G_USEC_PER_SEC;
	g_strlcpy(rec.name, FSCK_RECOVERED, sizeof(rec.name));
	m = fsck_mailbox_add(f, (uint32_t)++f->next_mbox_id, &rec);
	m->made = true;
	key_mailbox_name(&k, sub_id, FSCK_RECOVERED);
	be_id = GUINT32_TO_BE(m->id);
	kv_batch_put(f->fix, KV_MAILBOXES, k.data, k.len, &be_id, 4);
	return m;
}

/* Whose the bytes are: the subscriber its id names (format 2), else that
 * of a record that pointed at it; 0 when neither is known. */
static uint32_t subscriber_of(struct fsck *f, uint64_t msgid)
{
	GArray *group = g_hash_table_lookup(f->by_msgid, &msgid);
	uint32_t sub_id = MSGID_SUBSCRIBER(msgid);

	if (sub_id == 0 && group != NULL) {
		struct fsck_message *m = &g_array_index(
			f->messages, struct fsck_message,
			g_array_index(group, guint, 0));
		struct mbox_check *mb = g_hash_table_lookup(
			f->mailboxes, GUINT_TO_POINTER(m->mbox_id));

		sub_id = mb->rec.sub_id;
	}
	return g_hash_table_contains(f->subscribers, GUINT_TO_POINTER(sub_id))
		? sub_id : 0;
}

/* Writes the record of a recovered message and what goes with it. */
static void relink(struct fsck *f, struct mbox_check *mb, uint64_t msgid,
		   GBytes *body, const struct index *index,
		   const struct orphan *o, struct fsck_message *m_r)
{
	g_autoptr(GBytes) audio = NULL;
	struct fsck_message m = { 0 };
	struct key k;

	m.mbox_id = mb->id;
	m.uid = mb->computed.uidnext;
	mb->computed.uidnext++;
	m.rec.msgid = msgid;
	m.rec.modseq = ++mb->computed.highestmodseq;
	m.rec.internaldate = index->date > 0
		? index->date : g_get_real_time() / G_USEC_PER_SEC;
	m.rec.size = g_bytes_get_size(body);
	m.rec.duration = index->duration;
	m.rec.expires = index->expires;
	ms_put_message(f->fix, m.mbox_id, m.uid, &m.rec);
	ms_put_change(f->fix, m.mbox_id, m.rec.modseq, m.uid, 0,
		      CHANGE_PRESENT);
	if (m.rec.expires > 0) {
		key_expiry(&k, m.rec.expires, m.mbox_id, m.uid);
		kv_batch_put(f->fix, KV_INDEX, k.data, k.len, "", 0);
	}
	key_index(&k, msgid);
	kv_batch_put_bytes(f->fix, KV_INDEX, k.data, k.len,
			   index_serialize(index));
	key_audio(&k, msgid);
	if (o->audio &&
	    (db_get(f->ms->db, KV_INDEX, k.data, k.len, &audio) < 0 ||
	     !fsck_audio_fits(audio, body, index)))
		kv_batch_delete(f->fix, KV_INDEX, k.data, k.len);
	for (guint i = 0; i < o->renditions->len; i++) {
		uint8_t format = g_array_index(o->renditions, uint8_t, i);

		key_rendition_index(&k, msgid, format);
		kv_batch_delete(f->fix, KV_INDEX, k.data, k.len);
		key_rendition_body(&k, msgid, format);
		kv_batch_delete(f->fix, KV_BODIES, k.data, k.len);
	}
	*m_r = m;
}

static int recover_body(struct fsck *f, uint64_t msgid,
			const struct orphan *o)
{
	g_autoptr(GBytes) body = NULL;
	g_autofree char *name = NULL;
	struct index *index = NULL;
	const char *reason = NULL;
	uint32_t sub_id = subscriber_of(f, msgid);
	struct sub_check *s;
	struct mbox_check *mb;
	struct fsck_message m;
	struct key k;
	int ret;

	key_body(&k, msgid);
	ret = db_get(f->ms->db, KV_BODIES, k.data, k.len, &body);
	if (ret < 0)
		return ret;
	if (fsck_index(body, &index, &reason) < 0) {
		fsck_unrepaired(f, "body %" G_GUINT64_FORMAT ": no message "
				"refers to it, and it does not index as one "
				"(%s); kept", msgid, reason);
		return 0;
	}
	s = g_hash_table_lookup(f->subscribers, GUINT_TO_POINTER(sub_id));
	if (sub_id == 0) {
		fsck_unrepaired(f, "body %" G_GUINT64_FORMAT ": no message "
				"refers to it, and no subscriber to give it to; "
				"kept", msgid);
	} else if (f->fix == NULL) {
		fsck_problem(f, "body %" G_GUINT64_FORMAT ": no message refers "
			     "to it; repair recovers it into %s/%s", msgid,
			     s->rec.msisdn, FSCK_RECOVERED);
		f->recovered++;
	} else if ((mb = recovered_mailbox(f, sub_id)) == NULL ||
		   mb->computed.uidnext == G_MAXUINT32) {
		fsck_unrepaired(f, "body %" G_GUINT64_FORMAT ": no message "
				"refers to it, and %s has no room for a "
				"Recovered message; kept", msgid,
				s->rec.msisdn);
	} else {
		relink(f, mb, msgid, body, index, o, &m);
		g_array_append_val(f->messages, m);
		fsck_account(f, &m);
		name = fsck_message_name(f, &m);
		fsck_problem(f, "body %" G_GUINT64_FORMAT ": no message "
			     "referred to it (recovered as %s)", msgid, name);
		f->recovered++;
	}
	index_free(&index);
	return 0;
}

/* What is left of a message whose bytes are gone: derived or cached. */
static void remove_leftovers(struct fsck *f, uint64_t msgid,
			     const struct orphan *o)
{
	g_autoptr(GPtrArray) what = g_ptr_array_new();
	g_autofree char *list = NULL;

	if (o->index)
		g_ptr_array_add(what, "index");
	if (o->audio)
		g_ptr_array_add(what, "audio record");
	if (o->renditions->len > 0)
		g_ptr_array_add(what, "renditions");
	g_ptr_array_add(what, NULL);
	list = g_strjoinv(", ", (char **)what->pdata);
	/* Records pointed at it: they were reported with its damage. */
	if (!g_hash_table_contains(f->by_msgid, &msgid))
		fsck_problem(f, "message id %" G_GUINT64_FORMAT ": the %s of a "
			     "message that is gone%s", msgid, list,
			     f->fix != NULL ? " (removed)" : "");
	if (f->fix != NULL)
		ms_delete_content(f->fix, msgid);
}

int fsck_recover_orphans(struct fsck *f)
{
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	GHashTableIter iter;
	gpointer key;
	int ret = 0;

	/* In id order, so that recovered messages get UIDs in the order
	 * they were deposited. */
	g_hash_table_iter_init(&iter, f->orphans);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_array_append_val(ids, *(uint64_t *)key);
	g_array_sort(ids, ms_cmp_u64);
	for (guint i = 0; ret == 0 && i < ids->len; i++) {
		uint64_t msgid = g_array_index(ids, uint64_t, i);
		const struct orphan *o = g_hash_table_lookup(f->orphans,
							     &msgid);

		if (o->body)
			ret = recover_body(f, msgid, o);
		else
			remove_leftovers(f, msgid, o);
	}
	return ret;
}
