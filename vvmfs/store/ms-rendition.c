/* The rendition cache (mailstore.h): a transcoded copy of a message per
 * format, kept beside the message's content under the same msgid so that
 * whatever removes the content removes the renditions too. */
#include "mailstore-private.h"

#include <errno.h>

void ms_delete_content(struct kv_batch *batch, uint64_t msgid)
{
	struct key k;

	key_body(&k, msgid);
	kv_batch_delete(batch, KV_BODIES, k.data, k.len);
	key_index(&k, msgid);
	kv_batch_delete(batch, KV_INDEX, k.data, k.len);
	key_audio(&k, msgid);
	kv_batch_delete(batch, KV_INDEX, k.data, k.len);
	for (uint8_t f = 0; f < MS_RENDITION_FORMATS; f++) {
		key_rendition_index(&k, msgid, f);
		kv_batch_delete(batch, KV_INDEX, k.data, k.len);
		key_rendition_body(&k, msgid, f);
		kv_batch_delete(batch, KV_BODIES, k.data, k.len);
	}
}

int ms_rendition_get(struct mailstore *ms, uint64_t msgid, uint8_t format,
		     GBytes **body_r, GBytes **index_r)
{
	g_autoptr(GBytes) record = NULL;
	const uint8_t *r;
	size_t len;
	struct key k;
	int ret;

	if (format >= MS_RENDITION_FORMATS)
		return -EINVAL;
	key_rendition_index(&k, msgid, format);
	ret = db_get_durable(ms->db, KV_INDEX, k.data, k.len, &record);
	if (ret < 0)
		return ret;
	r = g_bytes_get_data(record, &len);
	if (len < 2 || r[0] != RENDITION_V1)
		return -EIO;
	*body_r = NULL;
	*index_r = NULL;
	if (r[1] == RENDITION_ORIGINAL)
		return 0;
	key_rendition_body(&k, msgid, format);
	ret = db_get_durable(ms->db, KV_BODIES, k.data, k.len, body_r);
	if (ret < 0)
		return ret == -ENOENT ? -EIO : ret;
	*index_r = g_bytes_new_from_bytes(record, 2, len - 2);
	return 0;
}

int ms_rendition_put(struct mailstore *ms, uint32_t mbox_id, uint32_t uid,
		     uint64_t msgid, uint8_t format, GBytes *body,
		     GBytes *index)
{
	struct rec_mailbox mbox;
	struct rec_message msg;
	struct kv_batch *batch;
	GByteArray *record;
	GMutex *lock;
	int64_t ticket;
	struct key k;
	uint8_t head[2] = { RENDITION_V1, body != NULL ? RENDITION_OWN
						       : RENDITION_ORIGINAL };
	int ret;

	if (format >= MS_RENDITION_FORMATS)
		return -EINVAL;
	ret = ms_lock_mailbox(ms, mbox_id, &mbox, &lock);
	if (ret < 0)
		return ret;
	/* Under the mailbox lock an expunge cannot slip in between. */
	ret = ms_get_message(ms, mbox_id, uid, &msg);
	if (ret == 0 && msg.msgid != msgid)
		ret = -ENOENT;
	if (ret < 0) {
		g_mutex_unlock(lock);
		return ret;
	}
	record = g_byte_array_new();
	g_byte_array_append(record, head, sizeof(head));
	batch = kv_batch_create();
	if (body != NULL) {
		g_byte_array_append(record, g_bytes_get_data(index, NULL),
				    (guint)g_bytes_get_size(index));
		key_rendition_body(&k, msgid, format);
		kv_batch_put_bytes(batch, KV_BODIES, k.data, k.len,
				   g_bytes_ref(body));
	}
	key_rendition_index(&k, msgid, format);
	kv_batch_put_bytes(batch, KV_INDEX, k.data, k.len,
			   g_byte_array_free_to_bytes(record));
	ticket = db_submit(ms->db, &batch);
	g_mutex_unlock(lock);
	return ticket < 0 ? (int)ticket : db_wait(ms->db, ticket);
}
