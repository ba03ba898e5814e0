#include "schema.h"

#include <errno.h>
#include <string.h>

#define REC_VERSION 1
/* rec_subscriber with login failures */
#define REC_SUBSCRIBER_V2 2
/* rec_subscriber with login failures and the message counter */
#define REC_SUBSCRIBER_V3 3
/* rec_message with the SYNC fields */
#define REC_MESSAGE_V2 2

static void key_put(struct key *k, const void *data, size_t len)
{
	g_assert(k->len + len <= KEY_MAX);
	memcpy(k->data + k->len, data, len);
	k->len += len;
}

static void key_tag(struct key *k, char tag)
{
	k->len = 0;
	key_put(k, &tag, 1);
}

static void key_be32(struct key *k, uint32_t v)
{
	uint32_t be = GUINT32_TO_BE(v);

	key_put(k, &be, 4);
}

static void key_be64(struct key *k, uint64_t v)
{
	uint64_t be = GUINT64_TO_BE(v);

	key_put(k, &be, 8);
}

uint32_t key_get_be32(const uint8_t *p)
{
	uint32_t be;

	memcpy(&be, p, 4);
	return GUINT32_FROM_BE(be);
}

uint64_t key_get_be64(const uint8_t *p)
{
	uint64_t be;

	memcpy(&be, p, 8);
	return GUINT64_FROM_BE(be);
}

void key_subscriber_name(struct key *k, const char *msisdn)
{
	key_tag(k, 'N');
	key_put(k, msisdn, strlen(msisdn));
}

void key_subscriber(struct key *k, uint32_t sub_id)
{
	key_tag(k, 'S');
	key_be32(k, sub_id);
}

void key_profile_prefix(struct key *k, uint32_t sub_id)
{
	key_tag(k, 'P');
	key_be32(k, sub_id);
}

void key_profile(struct key *k, uint32_t sub_id, const char *name)
{
	key_profile_prefix(k, sub_id);
	key_put(k, name, strlen(name));
}

void key_mailbox_name_prefix(struct key *k, uint32_t sub_id)
{
	key_tag(k, 'N');
	key_be32(k, sub_id);
}

void key_mailbox_name(struct key *k, uint32_t sub_id, const char *name)
{
	key_mailbox_name_prefix(k, sub_id);
	key_put(k, name, strlen(name));
}

void key_mailbox(struct key *k, uint32_t mbox_id)
{
	key_tag(k, 'M');
	key_be32(k, mbox_id);
}

void key_message_prefix(struct key *k, uint32_t mbox_id)
{
	k->len = 0;
	key_be32(k, mbox_id);
}

void key_message(struct key *k, uint32_t mbox_id, uint32_t uid)
{
	key_message_prefix(k, mbox_id);
	key_be32(k, uid);
}

void key_index(struct key *k, uint64_t msgid)
{
	key_tag(k, 'I');
	key_be64(k, msgid);
}

void key_change_prefix(struct key *k, uint32_t mbox_id)
{
	key_tag(k, 'C');
	key_be32(k, mbox_id);
}

void key_change(struct key *k, uint32_t mbox_id, uint64_t modseq)
{
	key_change_prefix(k, mbox_id);
	key_be64(k, modseq);
}

void key_expiry(struct key *k, int64_t expires, uint32_t mbox_id,
		uint32_t uid)
{
	key_tag(k, 'E');
	key_be64(k, (uint64_t)expires);
	key_be32(k, mbox_id);
	key_be32(k, uid);
}

void key_body(struct key *k, uint64_t msgid)
{
	k->len = 0;
	key_be64(k, msgid);
}

void key_audio(struct key *k, uint64_t msgid)
{
	key_tag(k, 'A');
	key_be64(k, msgid);
}

void key_rendition_index(struct key *k, uint64_t msgid, uint8_t format)
{
	key_tag(k, 'R');
	key_be64(k, msgid);
	key_put(k, &format, 1);
}

void key_rendition_body(struct key *k, uint64_t msgid, uint8_t format)
{
	key_body(k, msgid);
	key_put(k, &format, 1);
}

void key_outbox(struct key *k, uint64_t seq)
{
	k->len = 0;
	key_be64(k, seq);
}

/* Records: a version byte, then fixed-width little-endian fields, then an
 * optional trailing string. */

struct rec_writer {
	GByteArray *buf;
};

static void w_init_version(struct rec_writer *w, guint8 version)
{
	w->buf = g_byte_array_sized_new(64);
	g_byte_array_append(w->buf, &version, 1);
}

static void w_init(struct rec_writer *w)
{
	w_init_version(w, REC_VERSION);
}

static void w_u32(struct rec_writer *w, uint32_t v)
{
	uint32_t le = GUINT32_TO_LE(v);

	g_byte_array_append(w->buf, (guint8 *)&le, 4);
}

static void w_u64(struct rec_writer *w, uint64_t v)
{
	uint64_t le = GUINT64_TO_LE(v);

	g_byte_array_append(w->buf, (guint8 *)&le, 8);
}

static void w_str(struct rec_writer *w, const char *s)
{
	g_byte_array_append(w->buf, (const guint8 *)s, strlen(s));
}

static GBytes *w_finish(struct rec_writer *w)
{
	return g_byte_array_free_to_bytes(w->buf);
}

struct rec_reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

/* Starts reading a record of version min..max; returns its version (the
 * reader is bad if it is outside). */
static unsigned r_init_version(struct rec_reader *r, const void *data,
			       size_t len, unsigned min, unsigned max)
{
	unsigned version = len < 1 ? 0 : ((const uint8_t *)data)[0];

	r->p = data;
	r->left = len;
	r->bad = version < min || version > max;
	if (!r->bad) {
		r->p++;
		r->left--;
	}
	return version;
}

static void r_init(struct rec_reader *r, const void *data, size_t len)
{
	r_init_version(r, data, len, REC_VERSION, REC_VERSION);
}

static uint64_t r_take(struct rec_reader *r, size_t n)
{
	uint64_t v = 0;

	if (r->bad || r->left < n) {
		r->bad = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	r->left -= n;
	return v;
}

static uint32_t r_u32(struct rec_reader *r)
{
	return (uint32_t)r_take(r, 4);
}

static uint64_t r_u64(struct rec_reader *r)
{
	return r_take(r, 8);
}

/* The rest of the record as a string into buf (of size). */
static void r_str(struct rec_reader *r, char *buf, size_t size)
{
	if (r->bad || r->left >= size || memchr(r->p, '\0', r->left)) {
		r->bad = true;
		return;
	}
	memcpy(buf, r->p, r->left);
	buf[r->left] = '\0';
	r->left = 0;
}

static int r_done(struct rec_reader *r)
{
	return r->bad || r->left != 0 ? -EINVAL : 0;
}

GBytes *rec_subscriber_encode(const struct rec_subscriber *rec)
{
	struct rec_writer w;

	w_init_version(&w, REC_SUBSCRIBER_V3);
	w_u64(&w, (uint64_t)rec->created);
	w_u64(&w, rec->bytes);
	w_u64(&w, rec->messages);
	w_u64(&w, rec->voice_seconds);
	w_u64(&w, rec->greeting_seconds);
	w_u64(&w, rec->login_failures);
	w_u64(&w, (uint64_t)rec->login_last);
	w_u32(&w, rec->last_msgid);
	w_str(&w, rec->msisdn);
	return w_finish(&w);
}

int rec_subscriber_decode(GBytes *data, struct rec_subscriber *rec_r)
{
	struct rec_reader r;
	gsize len;
	const void *p = g_bytes_get_data(data, &len);
	unsigned version;

	version = r_init_version(&r, p, len, REC_VERSION, REC_SUBSCRIBER_V3);
	rec_r->created = (int64_t)r_u64(&r);
	rec_r->bytes = r_u64(&r);
	rec_r->messages = r_u64(&r);
	rec_r->voice_seconds = r_u64(&r);
	rec_r->greeting_seconds = r_u64(&r);
	rec_r->login_failures = 0;
	rec_r->login_last = 0;
	rec_r->last_msgid = 0;
	if (version >= REC_SUBSCRIBER_V2) {
		rec_r->login_failures = r_u64(&r);
		rec_r->login_last = (int64_t)r_u64(&r);
	}
	if (version >= REC_SUBSCRIBER_V3)
		rec_r->last_msgid = r_u32(&r);
	r_str(&r, rec_r->msisdn, sizeof(rec_r->msisdn));
	return r_done(&r);
}

GBytes *rec_mailbox_encode(const struct rec_mailbox *rec)
{
	struct rec_writer w;

	w_init(&w);
	w_u32(&w, rec->sub_id);
	w_u32(&w, rec->uidvalidity);
	w_u32(&w, rec->uidnext);
	w_u32(&w, rec->messages);
	w_u32(&w, rec->unseen);
	w_u64(&w, rec->highestmodseq);
	w_u64(&w, rec->bytes);
	w_u64(&w, (uint64_t)rec->created);
	w_str(&w, rec->name);
	return w_finish(&w);
}

int rec_mailbox_decode(GBytes *data, struct rec_mailbox *rec_r)
{
	struct rec_reader r;
	gsize len;
	const void *p = g_bytes_get_data(data, &len);

	r_init(&r, p, len);
	rec_r->sub_id = r_u32(&r);
	rec_r->uidvalidity = r_u32(&r);
	rec_r->uidnext = r_u32(&r);
	rec_r->messages = r_u32(&r);
	rec_r->unseen = r_u32(&r);
	rec_r->highestmodseq = r_u64(&r);
	rec_r->bytes = r_u64(&r);
	rec_r->created = (int64_t)r_u64(&r);
	r_str(&r, rec_r->name, sizeof(rec_r->name));
	return r_done(&r);
}

GBytes *rec_message_encode(const struct rec_message *rec)
{
	struct rec_writer w;
	guint8 type = (guint8)rec->sms_type;

	w_init_version(&w, REC_MESSAGE_V2);
	w_u64(&w, rec->msgid);
	w_u32(&w, rec->flags);
	w_u64(&w, rec->modseq);
	w_u64(&w, (uint64_t)rec->internaldate);
	w_u64(&w, rec->size);
	w_u64(&w, (uint64_t)rec->duration);
	w_u64(&w, (uint64_t)rec->expires);
	g_byte_array_append(w.buf, &type, 1);
	w_str(&w, rec->sender);
	return w_finish(&w);
}

int rec_message_decode(const void *data, size_t len, struct rec_message *rec_r)
{
	struct rec_reader r;
	unsigned version;

	version = r_init_version(&r, data, len, REC_VERSION, REC_MESSAGE_V2);
	rec_r->msgid = r_u64(&r);
	rec_r->flags = r_u32(&r);
	rec_r->modseq = r_u64(&r);
	rec_r->internaldate = (int64_t)r_u64(&r);
	rec_r->size = r_u64(&r);
	rec_r->duration = (int64_t)r_u64(&r);
	rec_r->expires = (int64_t)r_u64(&r);
	rec_r->sms_type = '\0';
	rec_r->sender[0] = '\0';
	if (version >= REC_MESSAGE_V2) {
		rec_r->sms_type = (char)r_take(&r, 1);
		r_str(&r, rec_r->sender, sizeof(rec_r->sender));
	}
	return r_done(&r);
}

GBytes *rec_change_encode(const struct rec_change *rec)
{
	struct rec_writer w;
	guint8 kind = rec->kind;

	w_init(&w);
	w_u32(&w, rec->uid);
	w_u32(&w, rec->flags);
	g_byte_array_append(w.buf, &kind, 1);
	return w_finish(&w);
}

int rec_change_decode(const void *data, size_t len, struct rec_change *rec_r)
{
	struct rec_reader r;

	r_init(&r, data, len);
	rec_r->uid = r_u32(&r);
	rec_r->flags = r_u32(&r);
	rec_r->kind = (uint8_t)r_take(&r, 1);
	return r_done(&r);
}

int rec_id_decode(GBytes *value, uint32_t *id_r)
{
	if (g_bytes_get_size(value) != 4)
		return -EIO;
	*id_r = key_get_be32(g_bytes_get_data(value, NULL));
	return 0;
}

GBytes *rec_u64_encode(uint64_t value)
{
	struct rec_writer w;

	w_init(&w);
	w_u64(&w, value);
	return w_finish(&w);
}

int rec_u64_decode(GBytes *data, uint64_t *value_r)
{
	struct rec_reader r;
	gsize len;
	const void *p = g_bytes_get_data(data, &len);

	r_init(&r, p, len);
	*value_r = r_u64(&r);
	return r_done(&r);
}
