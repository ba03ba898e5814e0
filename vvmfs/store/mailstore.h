/* The mail store: subscribers, profiles, mailboxes and messages with the
 * rules that make them a VVM mail store (UIDs, UIDVALIDITY, MODSEQ, flags,
 * quotas, expiry, the change feed). vvmfs's FUSE operations are a thin skin
 * over these calls; all state lives in the kv backend.
 *
 * Every function returns >= 0 on success or -errno. Locking is internal. */
#ifndef VVM_MAILSTORE_H
#define VVM_MAILSTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "vvm-profile.h"

struct index;
struct mailstore;

#define MS_MSISDN_MAX 15
/* Mailbox ids fit in 28 bits so that (mailbox, uid) makes an inode number. */
#define MS_MAILBOX_ID_MAX ((1u << 28) - 1)

/* What STATUS SMS tell a client about this deployment (spec "STATUS SMS
 * Description"); the rest comes from the subscriber's profile. */
struct ms_sms_config {
	const char *srv;   /* IMAP/SMTP host */
	const char *tui;   /* TUI access number */
	const char *dn;    /* number clients send MO SMS to */
	unsigned ipt;      /* IMAP port */
	unsigned spt;      /* SMTP port, 0: none */
	const char *lang;  /* languages offered, code|code */
	unsigned g_len;    /* greeting seconds */
	unsigned vs_len;   /* voice signature seconds */
	const char *rs;    /* where to subscribe, sent with st=U; or NULL */
	bool srv_bare;     /* srv without 1:/2: (Android's client) */
	/* client_type patterns (GLib globs) that get srv bare; NULL or
	 * NULL-terminated. */
	const char *const *srv_bare_clients;
};

/* How a store is opened. */
enum ms_open_mode {
	/* For service: made when missing, an older format upgraded (which
	 * refuses a store with damage only fsck --repair can clear). */
	MS_OPEN_SERVE,
	/* fsck: read-only, changed in no way; the format as found. */
	MS_OPEN_CHECK,
	/* fsck --repair: read-write, the format as found; fsck upgrades it
	 * once repaired (ms_format_upgrade()). */
	MS_OPEN_REPAIR,
};

struct ms_options {
	struct vvm_profile_limits profile_limits;
	/* What a new subscriber's profile starts with, by key index
	 * (vvm_profile_key_index); NULL: the schema's default. Validated
	 * values that live as long as the store is open. */
	const char *provision[VVM_PROFILE_KEYS];
	struct ms_sms_config sms;
	enum ms_open_mode mode;
};

/* A pending server-originated SMS, as MOUNT/.outbox/sms/<seq> shows it. */
struct ms_outbox_entry {
	uint64_t seq;
	GBytes *text; /* the entry file's contents */
};

struct ms_subscriber {
	uint32_t id;
	char msisdn[MS_MSISDN_MAX + 1];
	int64_t created;
};

/* Failed logins, for throttling that holds across shim processes. */
struct ms_login_failures {
	uint64_t count;
	int64_t last; /* Unix time of the last one, 0 if none */
};

struct ms_usage {
	uint64_t bytes;
	uint64_t messages;
	uint64_t voice_seconds;
	uint64_t greeting_seconds;
};

struct ms_quota {
	struct ms_usage used;
	/* 0 = unlimited */
	uint64_t limit_kb;
	uint64_t limit_messages;
	uint64_t limit_voice_seconds;
	uint64_t limit_greeting_seconds;
};

struct ms_mailbox {
	uint32_t id;
	uint32_t sub_id;
	char *name;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;
	uint64_t bytes;
	int64_t created;
};

struct ms_message {
	uint32_t uid;
	uint32_t flags;       /* enum vvm_flag bits */
	uint64_t msgid;       /* body and index key; survives moves */
	uint64_t modseq;
	int64_t internaldate;
	uint64_t size;
	int64_t duration;     /* seconds, -1 if none */
	int64_t expires;      /* Unix time, 0 if none */
};

/* What a deposit carries besides its bytes. */
struct ms_deposit {
	GBytes *canonical;          /* the canonical message */
	GBytes *index;              /* its index, from index_serialize() */
	GBytes *audio;              /* its audio parts (ms_message_audio), or NULL */
	int64_t duration;           /* from the index; -1 if none */
	int64_t expires;            /* from the index; 0 if none */
	uint32_t flags;
	int64_t internaldate;       /* 0: now */
	const char *sender;         /* caller number for SYNC, NULL: withheld */
	char sms_type;              /* SYNC t: v voice, o video, f fax */
};

/* Defaults: the profile's, and an SMS config for a single host. */
void ms_options_default(struct ms_options *options_r);

/* -EBUSY when another process has the store open; -EUCLEAN for an older
 * store format that fsck --repair must clear before vvmfs upgrades it. */
int mailstore_open(const char *dir, const struct ms_options *options,
		   struct mailstore **ms_r, char **error_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Upgrades a store opened MS_OPEN_REPAIR to the current format, as an
 * open for service would. Errors as mailstore_open(). */
int ms_format_upgrade(struct mailstore *ms, char **error_r)
	G_GNUC_WARN_UNUSED_RESULT;
void mailstore_close(struct mailstore **ms);

/* Subscribers */
bool ms_msisdn_valid(const char *name);
/* A new subscriber with INBOX, Greetings and the profile values of
 * options.provision, all in one commit. */
int ms_subscriber_create(struct mailstore *ms, const char *msisdn,
			 uint32_t *id_r) G_GNUC_WARN_UNUSED_RESULT;
/* -ENOTEMPTY while any of its mailboxes holds a message. */
int ms_subscriber_remove(struct mailstore *ms, const char *msisdn)
	G_GNUC_WARN_UNUSED_RESULT;
int ms_subscriber_lookup(struct mailstore *ms, const char *msisdn,
			 uint32_t *id_r) G_GNUC_WARN_UNUSED_RESULT;
int ms_subscriber_get(struct mailstore *ms, uint32_t id,
		      struct ms_subscriber *sub_r) G_GNUC_WARN_UNUSED_RESULT;
/* Calls cb for each subscriber with msisdn > after (NULL: all), in order,
 * until cb returns nonzero. */
int ms_subscriber_list(struct mailstore *ms, const char *after,
		       int (*cb)(void *ctx, const struct ms_subscriber *sub),
		       void *ctx) G_GNUC_WARN_UNUSED_RESULT;
int ms_quota_get(struct mailstore *ms, uint32_t sub_id,
		 struct ms_quota *quota_r) G_GNUC_WARN_UNUSED_RESULT;
/* The failed-login count as durably stored; -ENOENT without subscriber. */
int ms_login_failures_get(struct mailstore *ms, uint32_t sub_id,
			  struct ms_login_failures *lf_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Counts one more failed login at now, or (reset) clears the count to
 * 0 0. Durable when it returns 0; touches nothing else (no modseq, no
 * SMS). -ENOENT without subscriber, -EIO. */
int ms_login_failures_update(struct mailstore *ms, uint32_t sub_id,
			     bool reset, int64_t now,
			     struct ms_login_failures *lf_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* Profile: values are validated here with vvm_profile_validate(). */
int ms_profile_get(struct mailstore *ms, uint32_t sub_id,
		   const struct vvm_profile_key *key, char **value_r)
	G_GNUC_WARN_UNUSED_RESULT;
int ms_profile_set(struct mailstore *ms, uint32_t sub_id,
		   const struct vvm_profile_key *key, const char *value,
		   size_t len, const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* Mailboxes */
bool ms_mailbox_name_valid(const char *name);
bool ms_mailbox_is_special(const char *name); /* INBOX, Greetings */
int ms_mailbox_create(struct mailstore *ms, uint32_t sub_id,
		      const char *name, uint32_t *id_r)
	G_GNUC_WARN_UNUSED_RESULT;
int ms_mailbox_remove(struct mailstore *ms, uint32_t sub_id,
		      const char *name) G_GNUC_WARN_UNUSED_RESULT;
int ms_mailbox_rename(struct mailstore *ms, uint32_t sub_id,
		      const char *from, const char *to)
	G_GNUC_WARN_UNUSED_RESULT;
int ms_mailbox_lookup(struct mailstore *ms, uint32_t sub_id,
		      const char *name, uint32_t *id_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Fills *mbox_r; free its name with ms_mailbox_clear(). */
int ms_mailbox_get(struct mailstore *ms, uint32_t id,
		   struct ms_mailbox *mbox_r) G_GNUC_WARN_UNUSED_RESULT;
void ms_mailbox_clear(struct ms_mailbox *mbox);
int ms_mailbox_list(struct mailstore *ms, uint32_t sub_id,
		    int (*cb)(void *ctx, const char *name, uint32_t id),
		    void *ctx) G_GNUC_WARN_UNUSED_RESULT;
/* The last rejection in a mailbox, for user.vvm.error. */
void ms_mailbox_set_error(struct mailstore *ms, uint32_t mbox_id,
			  const char *reason);
char *ms_mailbox_get_error(struct mailstore *ms, uint32_t mbox_id);

/* Messages */
int ms_message_get(struct mailstore *ms, uint32_t mbox_id, uint32_t uid,
		   struct ms_message *msg_r) G_GNUC_WARN_UNUSED_RESULT;
/* Calls cb for each message with uid > after_uid in uid order. */
int ms_message_list(struct mailstore *ms, uint32_t mbox_id,
		    uint32_t after_uid,
		    int (*cb)(void *ctx, const struct ms_message *msg),
		    void *ctx) G_GNUC_WARN_UNUSED_RESULT;
/* Commits a message durably. Returns 0 and *uid_r, or -EDQUOT (with
 * *reason_r naming the quota), -ENOENT, -EINVAL, -EIO. */
int ms_message_deposit(struct mailstore *ms, uint32_t mbox_id,
		       const struct ms_deposit *deposit, uint32_t *uid_r,
		       const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;
/* Changes flags; a no-op change keeps the modseq. -EINVAL with *reason_r
 * for a flag this mailbox does not allow. */
int ms_message_store_flags(struct mailstore *ms, uint32_t mbox_id,
			   uint32_t uid, int op, uint32_t flags,
			   struct ms_message *msg_r, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;
int ms_message_expunge(struct mailstore *ms, uint32_t mbox_id, uint32_t uid)
	G_GNUC_WARN_UNUSED_RESULT;
/* IMAP MOVE within one subscriber: -EXDEV across subscribers, -EDQUOT
 * (with *reason_r) when the target's kind of seconds would go over. */
int ms_message_move(struct mailstore *ms, uint32_t src_mbox, uint32_t uid,
		    uint32_t dst_mbox, uint32_t *new_uid_r,
		    const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;
int ms_message_body(struct mailstore *ms, uint64_t msgid, GBytes **body_r)
	G_GNUC_WARN_UNUSED_RESULT;
int ms_message_index(struct mailstore *ms, uint64_t msgid,
		     struct index **index_r) G_GNUC_WARN_UNUSED_RESULT;
/* What the commit found of the message's audio parts, as vvmfs wrote it
 * (fs-media.c); -ENOENT when it has none. */
int ms_message_audio(struct mailstore *ms, uint64_t msgid, GBytes **audio_r)
	G_GNUC_WARN_UNUSED_RESULT;

#define MS_RENDITION_FORMATS 8
/* ms-rendition.c: the cache of a message's renditions, one per format
 * (0 .. MS_RENDITION_FORMATS - 1). They go with the message's content
 * (expunge, not move) and are not counted in any quota. */
/* Returns 0 with the rendition's bytes and serialized index, or with
 * *body_r NULL when the original is what that format serves; -ENOENT
 * when nothing is cached. */
int ms_rendition_get(struct mailstore *ms, uint64_t msgid, uint8_t format,
		     GBytes **body_r, GBytes **index_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Caches a rendition (body NULL: serve the original) of the message uid
 * of mbox_id, if that is still msgid: a rendition made while the
 * message was expunged is dropped, not left behind. */
int ms_rendition_put(struct mailstore *ms, uint32_t mbox_id, uint32_t uid,
		     uint64_t msgid, uint8_t format, GBytes *body,
		     GBytes *index) G_GNUC_WARN_UNUSED_RESULT;

/* The SMS outbox: entries are written in the same batch as the change
 * they announce, and removed by the sender once the SMSC took them. */
int ms_outbox_list(struct mailstore *ms,
		   int (*cb)(void *ctx, uint64_t seq, size_t size), void *ctx)
	G_GNUC_WARN_UNUSED_RESULT;
int ms_outbox_get(struct mailstore *ms, uint64_t seq, GBytes **text_r)
	G_GNUC_WARN_UNUSED_RESULT;
int ms_outbox_remove(struct mailstore *ms, uint64_t seq)
	G_GNUC_WARN_UNUSED_RESULT;
/* Removes those of the n entries that are there, in one commit: a sender
 * retiring what the SMSC accepted pays one WAL sync for many. */
int ms_outbox_remove_many(struct mailstore *ms, const uint64_t *seqs,
			  size_t n) G_GNUC_WARN_UNUSED_RESULT;
/* Queues an entry given whole (vvm_sms_entry_parse()'s format): an answer
 * to a number that is no subscriber, an administrator's message. A SYNC
 * or STATUS text must be one the codec parses. -EINVAL with *reason_r. */
int ms_outbox_add(struct mailstore *ms, const char *text, size_t len,
		  const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* Whether STATUS SMS can be made with these deployment settings: a
 * value the codec refuses would make every status change fail. Returns 0
 * or -EINVAL with *reason_r naming the field. */
int ms_sms_config_check(const struct ms_sms_config *cfg,
			const struct vvm_profile_limits *limits,
			const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* Notifications asked for by name (MOUNT/<msisdn>'s user.vvm.notify). */
enum ms_notify {
	MS_NOTIFY_STATUS, /* STATUS with the current status: a client's
			   * STATUS query, an Activate that changed none */
	MS_NOTIFY_MBU,    /* SYNC ev=MBU: a TUI session ended */
};
/* Queues the notification in a batch of its own. A SYNC is queued only
 * while the status is active, as every SYNC. */
int ms_notify(struct mailstore *ms, uint32_t sub_id, enum ms_notify what,
	      const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* Appends the change feed of a mailbox since modseq (docs/fs-layout.md);
 * full adds each listed message's size, INTERNALDATE, index strings and
 * header block. */
int ms_changes(struct mailstore *ms, uint32_t mbox_id, uint64_t since,
	       bool full, GString *out) G_GNUC_WARN_UNUSED_RESULT;

/* Expunges up to max messages whose Expires is <= now; returns how many. */
int ms_expire(struct mailstore *ms, int64_t now, unsigned max)
	G_GNUC_WARN_UNUSED_RESULT;

char *ms_stats(struct mailstore *ms);

/* Offline check of a store no vvmfs has open: every message's content
 * against its record, counters against messages, UIDNEXT against UIDs,
 * quota sums, the change log, the expiry index, id counters against ids;
 * with repair, what can be fixed is fixed in one batch and a format 1
 * store upgraded. Appends findings to report. Returns the number of
 * problems found, and in *unrepaired_r (may be NULL) how many of them
 * repair leaves as they are; or -errno (-EBUSY: the store is in use). */
int mailstore_fsck(const char *dir, bool repair, GString *report,
		   int *unrepaired_r) G_GNUC_WARN_UNUSED_RESULT;

#endif
