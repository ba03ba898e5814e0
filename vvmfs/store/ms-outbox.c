/* The transactional SMS outbox: every change that a client must hear of
 * (spec "VVM SMS Interface Description") puts its SYNC or STATUS into the
 * same batch as the change, so a notification is never lost and never sent
 * for a change that did not happen. A sender reads the entries from
 * MOUNT/.outbox/sms/ and removes each once the SMSC has accepted it. */
#include "mailstore-private.h"
#include "vvm-sms.h"

#include <errno.h>
#include <string.h>

/* A profile value by name; a read error is an error, never "". */
static int profile_value(struct mailstore *ms, uint32_t sub_id,
			 const char *name, char **value_r)
{
	return ms_profile_get(ms, sub_id, vvm_profile_key_find(name), value_r);
}

/* Adds one entry to batch; it gets its number when the batch is
 * submitted, so that numbers follow the order entries are committed in
 * and the counter on disk is never behind one. */
static void outbox_put_entry(struct kv_batch *batch,
			     const struct vvm_sms_entry *entry)
{
	GString *text = g_string_new(NULL);

	vvm_sms_entry_format(entry, text);
	kv_batch_put_sequenced(batch, KV_OUTBOX, OUTBOX_SEQUENCE,
			       g_string_free_to_bytes(text));
}

/* The entry for a subscriber: to its number, on its application port.
 * Every SYNC and STATUS replaces the last one of its kind on the phone
 * (spec "Server Originated SMS Message Characteristics"). */
static int outbox_put(struct mailstore *ms, struct kv_batch *batch,
		      uint32_t sub_id, enum vvm_sms_entry_kind kind,
		      const GString *text)
{
	struct rec_subscriber sub;
	struct vvm_sms_entry entry = { .kind = kind, .replace = true };
	uint64_t port;
	int ret;

	ret = ms_get_subscriber(ms, sub_id, &sub);
	if (ret == 0)
		ret = ms_profile_uint(ms, sub_id, "app_port", &port);
	if (ret < 0)
		return ret;
	g_strlcpy(entry.to, sub.msisdn, sizeof(entry.to));
	entry.port = (uint16_t)MIN(port, G_MAXUINT16);
	entry.text_len = MIN(text->len, VVM_SMS_TEXT_MAX);
	memcpy(entry.text, text->str, entry.text_len);
	outbox_put_entry(batch, &entry);
	return 0;
}

static int current_status(struct mailstore *ms, uint32_t sub_id, char *st_r)
{
	g_autofree char *status = NULL;
	int ret = profile_value(ms, sub_id, "status", &status);

	if (ret == 0)
		*st_r = status[0];
	return ret;
}

int ms_queue_sync(struct mailstore *ms, struct kv_batch *batch,
		  uint32_t sub_id, const struct ms_sync *sync)
{
	static const enum vvm_sms_event events[] = {
		[MS_SYNC_NEW] = VVM_SMS_EV_NM,
		[MS_SYNC_MAILBOX] = VVM_SMS_EV_MBU,
		[MS_SYNC_GREETING] = VVM_SMS_EV_GU,
	};
	g_autofree char *prefix = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GTimeZone) tz = g_time_zone_new_local();
	struct vvm_sms_sync s = { 0 };
	const char *reason = NULL;
	char st = '\0';
	int ret;

	ret = current_status(ms, sub_id, &st);
	if (ret < 0 || !vvm_status_active(st))
		return ret;
	ret = profile_value(ms, sub_id, "client_prefix", &prefix);
	if (ret < 0)
		return ret;
	s.ev = events[sync->ev];
	s.id = sync->uid;
	s.c = MIN(sync->count, 99999u);
	s.t = sync->type != '\0' ? sync->type : 'v';
	s.s = sync->sender;
	s.dt = sync->time;
	s.dt_offset = vvm_sms_tz_offset(tz, sync->time);
	s.l = (unsigned)CLAMP(sync->length, 0, 99999);
	if (vvm_sms_sync_encode(prefix, &s, text, &reason) < 0) {
		/* A caller number or a date (INTERNALDATE is the client's
		 * word) the codec cannot carry: notify without the number
		 * and with the time of the change rather than not at all. */
		s.s = NULL;
		s.dt = g_get_real_time() / G_USEC_PER_SEC;
		s.dt_offset = vvm_sms_tz_offset(tz, s.dt);
		g_string_truncate(text, 0);
		if (vvm_sms_sync_encode(prefix, &s, text, &reason) < 0)
			return -EINVAL;
	}
	return outbox_put(ms, batch, sub_id, VVM_SMS_ENTRY_SYNC, text);
}

/* The STATUS fields that come from the deployment and the status: what
 * vvmfs makes of [sms]. U is a subscriber with a mailbox but no VVM
 * service: rc says so, with the URL where one subscribes when there is
 * one. */
static void status_init(struct vvm_sms_status *s, char st,
			const struct ms_sms_config *cfg,
			const struct vvm_profile_limits *limits)
{
	vvm_sms_status_init(s);
	s->st = st;
	s->rc = st == 'U' ? VVM_SMS_RC_NOT_PROVISIONED : VVM_SMS_RC_SUCCESS;
	s->rs = st == 'U' ? cfg->rs : NULL;
	s->srv = cfg->srv;
	s->tui = cfg->tui;
	s->dn = cfg->dn;
	s->ipt = cfg->ipt;
	s->spt = cfg->spt;
	s->lang = cfg->lang;
	s->g_len = cfg->g_len;
	s->vs_len = cfg->vs_len;
	s->pw_min = limits->pin_min;
	s->pw_max = limits->pin_max;
	s->smtp_u = "0";
	s->smtp_pw = "0";
}

int ms_sms_config_check(const struct ms_sms_config *cfg,
			const struct vvm_profile_limits *limits,
			const char **reason_r)
{
	static const char states[] = { 'N', 'U' };
	g_autoptr(GString) text = g_string_new(NULL);
	struct vvm_sms_status s;

	for (size_t i = 0; i < G_N_ELEMENTS(states); i++) {
		status_init(&s, states[i], cfg, limits);
		s.u = "31612345678";
		s.pw = "";
		g_string_truncate(text, 0);
		if (vvm_sms_status_encode(NULL, &s, 0, text, reason_r) < 0 ||
		    vvm_sms_status_encode(NULL, &s, VVM_SMS_SRV_BARE, text,
					  reason_r) < 0)
			return -EINVAL;
	}
	return 0;
}

/* srv without its 1:/2: for the whole deployment, or for the client
 * types that want it (Android's stock client takes the value as a host
 * name as it is). */
static int srv_bare(struct mailstore *ms, uint32_t sub_id, bool *bare_r)
{
	const struct ms_sms_config *cfg = &ms->options.sms;
	g_autofree char *client = NULL;
	bool bare = cfg->srv_bare;
	int ret;

	if (!bare && cfg->srv_bare_clients != NULL) {
		ret = profile_value(ms, sub_id, "client_type", &client);
		if (ret < 0)
			return ret;
		for (const char *const *p = cfg->srv_bare_clients;
		     *p != NULL && !bare; p++)
			bare = g_pattern_match_simple(*p, client);
	}
	*bare_r = bare;
	return 0;
}

/* The profile values a STATUS carries. */
enum status_value {
	SV_PREFIX, SV_USER, SV_PASSWORD, SV_SMTP_USER, SV_SMTP_PASSWORD,
	SV_TRANSCRIPTION, SV_COUNT
};

static const char *const status_keys[SV_COUNT] = {
	[SV_PREFIX] = "client_prefix",
	[SV_USER] = "imap_user",
	[SV_PASSWORD] = "imap_password",
	[SV_SMTP_USER] = "smtp_user",
	[SV_SMTP_PASSWORD] = "smtp_password",
	[SV_TRANSCRIPTION] = "transcription",
};

static int status_text(struct mailstore *ms, uint32_t sub_id, char st,
		       char **v, GString *text, const char **reason_r)
{
	const struct ms_sms_config *cfg = &ms->options.sms;
	struct vvm_sms_status s;
	bool bare = false;
	int ret = 0;

	for (int i = 0; ret == 0 && i < SV_COUNT; i++)
		ret = profile_value(ms, sub_id, status_keys[i], &v[i]);
	if (ret == 0)
		ret = srv_bare(ms, sub_id, &bare);
	if (ret < 0)
		return ret;
	status_init(&s, st, cfg, &ms->options.profile_limits);
	s.u = v[SV_USER];
	s.pw = v[SV_PASSWORD];
	/* The spec's "0" stands for "no SMTP deposit". */
	s.smtp_u = cfg->spt != 0 && v[SV_SMTP_USER][0] != '\0'
		? v[SV_SMTP_USER] : "0";
	s.smtp_pw = cfg->spt != 0 && v[SV_SMTP_PASSWORD][0] != '\0'
		? v[SV_SMTP_PASSWORD] : "0";
	s.vt = strcmp(v[SV_TRANSCRIPTION], "on") == 0;
	if (vvm_sms_status_encode(v[SV_PREFIX], &s,
				  bare ? VVM_SMS_SRV_BARE : 0, text,
				  reason_r) < 0)
		return -EINVAL;
	return 0;
}

int ms_queue_status(struct mailstore *ms, struct kv_batch *batch,
		    uint32_t sub_id, char st, const char **reason_r)
{
	g_autoptr(GString) text = g_string_new(NULL);
	char *values[SV_COUNT] = { 0 };
	int ret = status_text(ms, sub_id, st, values, text, reason_r);

	for (int i = 0; i < SV_COUNT; i++)
		g_free(values[i]);
	if (ret < 0)
		return ret;
	return outbox_put(ms, batch, sub_id, VVM_SMS_ENTRY_STATUS, text);
}

/* Queues a SYNC MBU for the subscriber's INBOX as it stands. */
static int queue_mbu(struct mailstore *ms, struct kv_batch *batch,
		     uint32_t sub_id)
{
	struct rec_mailbox inbox;
	struct ms_sync sync = { .ev = MS_SYNC_MAILBOX };
	uint32_t inbox_id;
	int ret = ms_mailbox_lookup(ms, sub_id, "INBOX", &inbox_id);

	if (ret == 0)
		ret = ms_get_mailbox(ms, inbox_id, &inbox);
	if (ret < 0)
		return ret;
	sync.count = inbox.unseen;
	sync.time = g_get_real_time() / G_USEC_PER_SEC;
	return ms_queue_sync(ms, batch, sub_id, &sync);
}

int ms_notify(struct mailstore *ms, uint32_t sub_id, enum ms_notify what,
	      const char **reason_r)
{
	GMutex *lock = ms_sub_lock(ms, sub_id);
	struct rec_subscriber sub;
	char st = '\0';
	struct kv_batch *batch = kv_batch_create();
	int ret;

	g_mutex_lock(lock);
	ret = ms_get_subscriber(ms, sub_id, &sub);
	if (ret == 0 && what == MS_NOTIFY_STATUS) {
		ret = current_status(ms, sub_id, &st);
		if (ret == 0)
			ret = ms_queue_status(ms, batch, sub_id, st, reason_r);
	} else if (ret == 0) {
		ret = queue_mbu(ms, batch, sub_id);
	}
	if (ret == 0)
		ret = db_commit(ms->db, &batch);
	kv_batch_destroy(&batch);
	g_mutex_unlock(lock);
	return ret;
}

int ms_outbox_add(struct mailstore *ms, const char *text, size_t len,
		  const char **reason_r)
{
	struct vvm_sms_entry entry;
	struct vvm_sms_server_msg *msg = NULL;
	struct kv_batch *batch;
	int ret = vvm_sms_entry_parse(text, len, &entry, reason_r);

	if (ret < 0)
		return ret;
	/* What the senders pass on as SYNC or STATUS must be one. */
	if (entry.kind != VVM_SMS_ENTRY_OTP) {
		ret = vvm_sms_server_parse(entry.text, entry.text_len, &msg,
					   reason_r);
		if (ret < 0)
			return ret;
		if ((msg->kind == VVM_SMS_SYNC) !=
		    (entry.kind == VVM_SMS_ENTRY_SYNC)) {
			vvm_sms_server_msg_destroy(&msg);
			*reason_r = "kind: the text is the other kind";
			return -EINVAL;
		}
		vvm_sms_server_msg_destroy(&msg);
	}
	batch = kv_batch_create();
	outbox_put_entry(batch, &entry);
	ret = db_commit(ms->db, &batch);
	kv_batch_destroy(&batch);
	return ret;
}

struct list_ctx {
	int (*cb)(void *ctx, uint64_t seq, size_t size);
	void *ctx;
};

static int list_one(void *ctx, const void *key, size_t key_len,
		    const void *value, size_t value_len)
{
	struct list_ctx *c = ctx;

	if (key_len != 8)
		return 0;
	return c->cb(c->ctx, key_get_be64(key), value_len);
}

int ms_outbox_list(struct mailstore *ms,
		   int (*cb)(void *ctx, uint64_t seq, size_t size), void *ctx)
{
	struct list_ctx c = { cb, ctx };

	return db_scan(ms->db, KV_OUTBOX, "", 0, NULL, 0, list_one, &c);
}

int ms_outbox_get(struct mailstore *ms, uint64_t seq, GBytes **text_r)
{
	struct key k;

	key_outbox(&k, seq);
	return db_get(ms->db, KV_OUTBOX, k.data, k.len, text_r);
}

int ms_outbox_remove(struct mailstore *ms, uint64_t seq)
{
	g_autoptr(GBytes) value = NULL;
	struct kv_batch *batch;
	struct key k;
	int ret;

	key_outbox(&k, seq);
	ret = db_get(ms->db, KV_OUTBOX, k.data, k.len, &value);
	if (ret < 0)
		return ret;
	batch = kv_batch_create();
	kv_batch_delete(batch, KV_OUTBOX, k.data, k.len);
	return db_commit(ms->db, &batch);
}

int ms_outbox_remove_many(struct mailstore *ms, const uint64_t *seqs,
			  size_t n)
{
	struct kv_batch *batch = kv_batch_create();
	struct key k;

	/* Deleting a key that is not there is no change: an entry removed
	 * already stays removed. */
	for (size_t i = 0; i < n; i++) {
		key_outbox(&k, seqs[i]);
		kv_batch_delete(batch, KV_OUTBOX, k.data, k.len);
	}
	return db_commit(ms->db, &batch);
}
