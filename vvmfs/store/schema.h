/* The store's keys and records: how subscribers, profiles, mailboxes,
 * messages, the change log and the expiry index are laid out in the kv
 * tables. Backend-independent; every multi-byte key field is big-endian so
 * that keys sort numerically, every record field little-endian with a
 * leading version byte.
 *
 *   KV_META         "format"                   -> u64, the store format
 *                   "next_sub_id" "next_mbox_id" "last_uidvalidity"
 *                   "outbox_seq"               -> u64, the last one handed out
 *   KV_SUBSCRIBERS  'N' msisdn                 -> sub_id (u32)
 *                   'S' sub_id                 -> struct rec_subscriber
 *                   'P' sub_id key-name        -> profile value
 *   KV_MAILBOXES    'N' sub_id name            -> mbox_id (u32)
 *                   'M' mbox_id                -> struct rec_mailbox
 *   KV_MESSAGES     mbox_id uid                -> struct rec_message
 *   KV_INDEX        'I' msgid                  -> serialized struct index
 *                   'C' mbox_id modseq         -> struct rec_change
 *                   'E' expires mbox_id uid    -> ""
 *                   'A' msgid                  -> the audio parts (text)
 *                   'R' msgid format           -> a rendition's index
 *   KV_BODIES       msgid                      -> canonical message bytes
 *                   msgid format               -> a rendition's bytes
 *   KV_OUTBOX       seq                        -> outbox entry text
 *
 * Every id is allocated from a counter record written in the same batch
 * as the first record it names, never from the keys already there
 * (docs/design.md, "Ids"). A message id (msgid) is its subscriber's id in
 * the high 32 bits and that subscriber's message counter (rec_subscriber
 * last_msgid) in the low 32; ids below 2^32 were handed out by store
 * format 1 from one store-wide counter. */
#ifndef VVM_SCHEMA_H
#define VVM_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define KEY_MAX 300

struct key {
	uint8_t data[KEY_MAX];
	size_t len;
};

void key_subscriber_name(struct key *k, const char *msisdn);
void key_subscriber(struct key *k, uint32_t sub_id);
void key_profile(struct key *k, uint32_t sub_id, const char *name);
void key_profile_prefix(struct key *k, uint32_t sub_id);
void key_mailbox_name(struct key *k, uint32_t sub_id, const char *name);
void key_mailbox_name_prefix(struct key *k, uint32_t sub_id);
void key_mailbox(struct key *k, uint32_t mbox_id);
void key_message(struct key *k, uint32_t mbox_id, uint32_t uid);
void key_message_prefix(struct key *k, uint32_t mbox_id);
void key_index(struct key *k, uint64_t msgid);
void key_change(struct key *k, uint32_t mbox_id, uint64_t modseq);
void key_change_prefix(struct key *k, uint32_t mbox_id);
void key_expiry(struct key *k, int64_t expires, uint32_t mbox_id,
		uint32_t uid);
void key_body(struct key *k, uint64_t msgid);
void key_audio(struct key *k, uint64_t msgid);
/* A rendition of a message in one format (mailstore.h). */
void key_rendition_index(struct key *k, uint64_t msgid, uint8_t format);
void key_rendition_body(struct key *k, uint64_t msgid, uint8_t format);
void key_outbox(struct key *k, uint64_t seq);

uint32_t key_get_be32(const uint8_t *p);
uint64_t key_get_be64(const uint8_t *p);

/* The store format this vvmfs writes. 1: message ids from the largest
 * body key (store formats before "format" was recorded); 2: message ids
 * per subscriber, outbox numbers from a counter. */
#define STORE_FORMAT 2
#define STORE_FORMAT_KEY "format"
#define OUTBOX_SEQUENCE "outbox_seq"

/* Message ids: (sub_id << 32) | the subscriber's counter. */
#define MSGID_MAKE(sub_id, n) (((uint64_t)(sub_id) << 32) | (uint32_t)(n))
#define MSGID_SUBSCRIBER(msgid) ((uint32_t)((msgid) >> 32))
#define MSGID_COUNTER(msgid) ((uint32_t)(msgid))

/* Version 1 records have no login failures (they read as 0 0), version 2
 * no message counter (it reads as 0); version 3, with both, is the one
 * written. */
struct rec_subscriber {
	int64_t created;
	uint64_t bytes;
	uint64_t messages;
	uint64_t voice_seconds;
	uint64_t greeting_seconds;
	uint64_t login_failures;
	int64_t login_last; /* Unix time of the last failed login */
	uint32_t last_msgid; /* the last message counter handed out */
	char msisdn[16];
};

/* A rendition's record ('R'): a version byte, then what the rendition
 * is; for RENDITION_OWN its serialized index follows, and its bytes are
 * in KV_BODIES. */
#define RENDITION_V1 1
#define RENDITION_ORIGINAL 0   /* the format serves the original */
#define RENDITION_OWN 1        /* own bytes and index */

struct rec_mailbox {
	uint32_t sub_id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t messages;
	uint32_t unseen;
	uint64_t highestmodseq;
	uint64_t bytes;
	int64_t created;
	char name[256];
};

/* The caller's number a SYNC carries: '+' and up to 29 digits. */
#define REC_SENDER_MAX 30

/* Version 1 records have no SYNC fields (they read as type '\0' and no
 * sender); version 2, with them, is the one written. */
struct rec_message {
	uint64_t msgid;
	uint32_t flags;
	uint64_t modseq;
	int64_t internaldate;
	uint64_t size;
	int64_t duration;
	int64_t expires;
	/* What a SYNC NM says of the message wherever it arrives in INBOX
	 * (deposit or move): its t, and its s ("" when withheld). */
	char sms_type;
	char sender[REC_SENDER_MAX + 1];
};

enum change_kind {
	CHANGE_PRESENT = 0,
	CHANGE_EXPUNGED = 1,
};

struct rec_change {
	uint32_t uid;
	uint32_t flags;
	uint8_t kind;
};

GBytes *rec_subscriber_encode(const struct rec_subscriber *rec);
int rec_subscriber_decode(GBytes *data, struct rec_subscriber *rec_r)
	G_GNUC_WARN_UNUSED_RESULT;
GBytes *rec_mailbox_encode(const struct rec_mailbox *rec);
int rec_mailbox_decode(GBytes *data, struct rec_mailbox *rec_r)
	G_GNUC_WARN_UNUSED_RESULT;
GBytes *rec_message_encode(const struct rec_message *rec);
int rec_message_decode(const void *data, size_t len,
		       struct rec_message *rec_r) G_GNUC_WARN_UNUSED_RESULT;
GBytes *rec_change_encode(const struct rec_change *rec);
int rec_change_decode(const void *data, size_t len, struct rec_change *rec_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Name index values: a big-endian id. -EIO if value is not one. */
int rec_id_decode(GBytes *value, uint32_t *id_r) G_GNUC_WARN_UNUSED_RESULT;
GBytes *rec_u64_encode(uint64_t value);
int rec_u64_decode(GBytes *data, uint64_t *value_r) G_GNUC_WARN_UNUSED_RESULT;

#endif
