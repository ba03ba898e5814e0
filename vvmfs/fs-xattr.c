/* Extended attributes: IMAP state of messages and mailboxes
 * (docs/fs-layout.md); flags and a subscriber's failed-login count are
 * the writable ones. */
#include "fs.h"
#include "vvm-flags.h"

#include <errno.h>
#include <string.h>

static const char *const message_xattrs[] = {
	"user.imap.flags", "user.imap.uid", "user.imap.modseq",
	"user.imap.internaldate", "user.imap.envelope",
	"user.imap.bodystructure", "user.imap.body", "user.imap.sections",
	"user.vvm.context", "user.vvm.duration", "user.vvm.expires",
	"user.vvm.audio", NULL,
};

static const char *const rendition_xattrs[] = {
	"user.imap.envelope", "user.imap.bodystructure", "user.imap.body",
	"user.imap.sections", NULL,
};

static const char *const mailbox_xattrs[] = {
	"user.imap.uidvalidity", "user.imap.uidnext", "user.imap.highestmodseq",
	"user.imap.messages", "user.imap.unseen", "user.vvm.size",
	"user.vvm.quota", "user.vvm.error", NULL,
};

static const char *const pending_xattrs[] = {
	"user.imap.flags", "user.imap.internaldate", "user.imap.uid",
	"user.vvm.error", NULL,
};

static const char *const subscriber_xattrs[] = {
	"user.vvm.quota", "user.vvm.login_failures", NULL,
};

static void format_quota(struct vvmfs *fs, uint32_t sub_id, GString *out,
			 int *ret_r)
{
	struct ms_quota q;

	*ret_r = ms_quota_get(fs->ms, sub_id, &q);
	if (*ret_r < 0)
		return;
	g_string_append_printf(out,
			       "storage_kb %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
			       "\nmessages %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
			       "\nvoice_seconds %" G_GUINT64_FORMAT
			       " %" G_GUINT64_FORMAT
			       "\ngreeting_seconds %" G_GUINT64_FORMAT
			       " %" G_GUINT64_FORMAT "\n",
			       (q.used.bytes + 1023) / 1024, q.limit_kb,
			       q.used.messages, q.limit_messages,
			       q.used.voice_seconds, q.limit_voice_seconds,
			       q.used.greeting_seconds,
			       q.limit_greeting_seconds);
}

static void format_login_failures(struct vvmfs *fs, uint32_t sub_id,
				  GString *out, int *ret_r)
{
	struct ms_login_failures lf;

	*ret_r = ms_login_failures_get(fs->ms, sub_id, &lf);
	if (*ret_r < 0)
		return;
	g_string_append_printf(out, "%" G_GUINT64_FORMAT " %" G_GINT64_FORMAT,
			       lf.count, lf.last);
}

/* The attributes that come from a message's index. */
static int get_index(const struct index *index, const char *name,
		     GString *out)
{
	if (strcmp(name, "user.imap.envelope") == 0)
		g_string_append(out, index->envelope);
	else if (strcmp(name, "user.imap.bodystructure") == 0)
		g_string_append(out, index->bodystructure);
	else if (strcmp(name, "user.imap.body") == 0)
		g_string_append(out, index->body);
	else if (strcmp(name, "user.imap.sections") == 0) {
		g_autofree char *sections = index_sections_format(index);

		g_string_append(out, sections);
	}
	else if (strcmp(name, "user.vvm.context") == 0 &&
		 index->context_text != NULL)
		g_string_append(out, index->context_text);
	else
		return -ENODATA;
	return 0;
}

static int get_message_index(struct vvmfs *fs, const struct ms_message *msg,
			     const char *name, GString *out)
{
	struct index *index = NULL;
	int ret = ms_message_index(fs->ms, msg->msgid, &index);

	if (ret < 0)
		return ret;
	ret = get_index(index, name, out);
	index_free(&index);
	return ret;
}

static int get_message_audio(struct vvmfs *fs, const struct ms_message *msg,
			     GString *out)
{
	g_autoptr(GBytes) audio = NULL;
	int ret = ms_message_audio(fs->ms, msg->msgid, &audio);

	if (ret == 0)
		g_string_append_len(out, g_bytes_get_data(audio, NULL),
				    (gssize)g_bytes_get_size(audio));
	return ret == -ENOENT ? -ENODATA : ret;
}

static int get_message(struct vvmfs *fs, uint64_t id, const char *name,
		       GString *out)
{
	struct ms_message msg;
	int ret = ms_message_get(fs->ms, (uint32_t)(id >> 32), (uint32_t)id,
				 &msg);

	if (ret < 0)
		return ret;
	if (strcmp(name, "user.imap.flags") == 0)
		vvm_flags_format(msg.flags, out);
	else if (strcmp(name, "user.imap.uid") == 0)
		g_string_append_printf(out, "%u", msg.uid);
	else if (strcmp(name, "user.imap.modseq") == 0)
		g_string_append_printf(out, "%" G_GUINT64_FORMAT, msg.modseq);
	else if (strcmp(name, "user.imap.internaldate") == 0)
		g_string_append_printf(out, "%" G_GINT64_FORMAT,
				       msg.internaldate);
	else if (strcmp(name, "user.vvm.duration") == 0 && msg.duration >= 0)
		g_string_append_printf(out, "%" G_GINT64_FORMAT, msg.duration);
	else if (strcmp(name, "user.vvm.expires") == 0 && msg.expires > 0)
		g_string_append_printf(out, "%" G_GINT64_FORMAT, msg.expires);
	else if (strcmp(name, "user.vvm.audio") == 0)
		return get_message_audio(fs, &msg, out);
	else
		return get_message_index(fs, &msg, name, out);
	return 0;
}

static int get_mailbox(struct vvmfs *fs, uint32_t mbox_id, const char *name,
		       GString *out)
{
	struct ms_mailbox mbox;
	g_autofree char *error = NULL;
	int ret = ms_mailbox_get(fs->ms, mbox_id, &mbox);

	if (ret < 0)
		return ret;
	if (strcmp(name, "user.imap.uidvalidity") == 0)
		g_string_append_printf(out, "%u", mbox.uidvalidity);
	else if (strcmp(name, "user.imap.uidnext") == 0)
		g_string_append_printf(out, "%u", mbox.uidnext);
	else if (strcmp(name, "user.imap.highestmodseq") == 0)
		g_string_append_printf(out, "%" G_GUINT64_FORMAT,
				       mbox.highestmodseq);
	else if (strcmp(name, "user.imap.messages") == 0)
		g_string_append_printf(out, "%u", mbox.messages);
	else if (strcmp(name, "user.imap.unseen") == 0)
		g_string_append_printf(out, "%u", mbox.unseen);
	else if (strcmp(name, "user.vvm.size") == 0)
		g_string_append_printf(out, "%" G_GUINT64_FORMAT, mbox.bytes);
	else if (strcmp(name, "user.vvm.quota") == 0)
		format_quota(fs, mbox.sub_id, out, &ret);
	else if (strcmp(name, "user.vvm.error") == 0 &&
		 (error = ms_mailbox_get_error(fs->ms, mbox_id)) != NULL)
		g_string_append(out, error);
	else
		ret = -ENODATA;
	ms_mailbox_clear(&mbox);
	return ret;
}

static int get_pending(struct pending *p, const char *name, GString *out)
{
	int ret = 0;

	g_mutex_lock(&p->lock);
	if (strcmp(name, "user.imap.flags") == 0)
		vvm_flags_format(p->flags, out);
	else if (strcmp(name, "user.imap.internaldate") == 0 &&
		 p->internaldate != 0)
		g_string_append_printf(out, "%" G_GINT64_FORMAT,
				       p->internaldate);
	else if (strcmp(name, "user.imap.uid") == 0 &&
		 p->state == PENDING_COMMITTED)
		g_string_append_printf(out, "%u", p->uid);
	else if (strcmp(name, "user.vvm.error") == 0 && p->reason != NULL)
		g_string_append(out, p->reason);
	else
		ret = -ENODATA;
	g_mutex_unlock(&p->lock);
	return ret;
}

static int get_value(struct vvmfs *fs, fuse_ino_t ino, const char *name,
		     GString *out)
{
	struct dyn_node *node;
	int ret = -ENODATA;

	switch (ino_type(ino)) {
	case INO_MESSAGE:
		return get_message(fs, ino_id(ino), name, out);
	case INO_MAILBOX:
		return get_mailbox(fs, (uint32_t)ino_id(ino), name, out);
	case INO_SUB:
		if (strcmp(name, "user.vvm.quota") == 0)
			format_quota(fs, (uint32_t)ino_id(ino), out, &ret);
		else if (strcmp(name, "user.vvm.login_failures") == 0)
			format_login_failures(fs, (uint32_t)ino_id(ino), out,
					      &ret);
		return ret;
	case INO_DYN:
		node = dyn_get(fs, ino);
		if (node != NULL && node->type == DYN_PENDING)
			return get_pending(node->pending, name, out);
		if (node != NULL && node->type == DYN_RENDITION)
			return get_index(node->index, name, out);
		return -ENODATA;
	default:
		return -ENODATA;
	}
}

static void reply_value(fuse_req_t req, const char *data, size_t len,
			size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, data, len);
}

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 size_t size)
{
	g_autoptr(GString) out = g_string_new(NULL);
	int ret = get_value(req_fs(req), ino, name, out);

	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		reply_value(req, out->str, out->len, size);
}

static int set_message_flags(struct vvmfs *fs, fuse_ino_t ino,
			     const char *value, size_t size)
{
	uint64_t id = ino_id(ino);
	uint32_t mbox_id = (uint32_t)(id >> 32);
	enum vvm_flags_op op;
	uint32_t flags;
	const char *bad, *reason = NULL;
	size_t bad_len;
	struct ms_message msg;
	int ret;

	ret = vvm_flags_parse(value, size, &op, &flags, &bad, &bad_len);
	if (ret < 0) {
		g_autofree char *text = g_strdup_printf(
			"unknown flag %.*s", (int)MIN(bad_len, 64), bad);

		ms_mailbox_set_error(fs->ms, mbox_id, text);
		return ret;
	}
	ret = ms_message_store_flags(fs->ms, mbox_id, (uint32_t)id, (int)op,
				     flags, &msg, &reason);
	if (reason != NULL)
		ms_mailbox_set_error(fs->ms, mbox_id, reason);
	return ret;
}

static int set_pending(struct pending *p, const char *name, const char *value,
		       size_t size)
{
	enum vvm_flags_op op;
	uint32_t flags;
	const char *bad;
	size_t bad_len;
	g_autofree char *text = g_strndup(size > 0 ? value : "", size);
	char *end;
	int ret = 0;

	g_mutex_lock(&p->lock);
	if (p->state != PENDING_WRITING) {
		ret = -EPERM;
	} else if (strcmp(name, "user.imap.flags") == 0) {
		ret = vvm_flags_parse(value, size, &op, &flags, &bad, &bad_len);
		if (ret == 0)
			p->flags = vvm_flags_apply(p->flags, op, flags);
	} else if (strcmp(name, "user.imap.internaldate") == 0) {
		gint64 t = g_ascii_strtoll(text, &end, 10);

		if (*end != '\0' && *end != '\n')
			ret = -EINVAL;
		else
			p->internaldate = t;
	} else {
		ret = -EPERM;
	}
	g_mutex_unlock(&p->lock);
	return ret;
}

/* "+" counts a failed login now, "0" forgets them (a good login). */
static int set_login_failures(struct vvmfs *fs, uint32_t sub_id,
			      const char *value, size_t size)
{
	struct ms_login_failures lf;
	bool reset;

	if (size != 1 || (value[0] != '+' && value[0] != '0'))
		return -EINVAL;
	reset = value[0] == '0';
	return ms_login_failures_update(fs->ms, sub_id, reset,
					g_get_real_time() / G_USEC_PER_SEC,
					&lf);
}

/* "STATUS" or "MBU", a newline allowed: queue that notification. */
static int notify(struct vvmfs *fs, uint32_t sub_id, const char *value,
		  size_t size)
{
	static const struct {
		const char *name;
		enum ms_notify what;
	} names[] = {
		{ "STATUS", MS_NOTIFY_STATUS },
		{ "MBU", MS_NOTIFY_MBU },
	};
	const char *reason = NULL;
	int ret;

	if (size > 0 && value[size - 1] == '\n')
		size--;
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		if (strlen(names[i].name) != size ||
		    memcmp(names[i].name, value, size) != 0)
			continue;
		ret = ms_notify(fs->ms, sub_id, names[i].what, &reason);
		if (ret == -EINVAL)
			g_message("no %s for subscriber %u: %s", names[i].name,
				  sub_id, reason);
		return ret;
	}
	return -EINVAL;
}

static int enqueue(struct vvmfs *fs, const char *value, size_t size)
{
	const char *reason = NULL;
	int ret = ms_outbox_add(fs->ms, value, size, &reason);

	if (ret == -EINVAL)
		g_message("refused an outbox entry: %s", reason);
	return ret;
}

/* Sequence numbers separated by spaces or newlines, at most one xattr's
 * worth: remove those entries in one commit. */
static int remove_entries(struct vvmfs *fs, const char *value, size_t size)
{
	g_autofree char *text = g_strndup(value, size);
	g_auto(GStrv) words = g_strsplit_set(text, " \n", -1);
	g_autoptr(GArray) seqs = g_array_new(FALSE, FALSE, sizeof(uint64_t));

	for (char **w = words; *w != NULL; w++) {
		uint64_t seq;

		if (**w == '\0')
			continue;
		if (!fs_parse_number(*w, &seq))
			return -EINVAL;
		g_array_append_val(seqs, seq);
	}
	if (seqs->len == 0)
		return -EINVAL;
	return ms_outbox_remove_many(fs->ms, (const uint64_t *)seqs->data,
				     seqs->len);
}

static bool is_ours(const char *name)
{
	return g_str_has_prefix(name, "user.imap.") ||
	       g_str_has_prefix(name, "user.vvm.");
}

void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 const char *value, size_t size, int flags)
{
	struct vvmfs *fs = req_fs(req);
	struct dyn_node *node;
	int ret;

	if (!is_ours(name)) {
		/* Other attributes (cp -a's, say) have nowhere to live. */
		ret = -ENOTSUP;
	} else if (ino_type(ino) == INO_MESSAGE &&
		   strcmp(name, "user.imap.flags") == 0) {
		ret = set_message_flags(fs, ino, value, size);
	} else if (ino_type(ino) == INO_SUB &&
		   strcmp(name, "user.vvm.login_failures") == 0) {
		ret = set_login_failures(fs, (uint32_t)ino_id(ino), value,
					 size);
	} else if (ino_type(ino) == INO_SUB &&
		   strcmp(name, "user.vvm.notify") == 0) {
		ret = notify(fs, (uint32_t)ino_id(ino), value, size);
	} else if (ino == ino_make(INO_OUTBOX, OUTBOX_DIR_SMS) &&
		   strcmp(name, "user.vvm.enqueue") == 0) {
		ret = enqueue(fs, value, size);
	} else if (ino == ino_make(INO_OUTBOX, OUTBOX_DIR_SMS) &&
		   strcmp(name, "user.vvm.remove") == 0) {
		ret = remove_entries(fs, value, size);
	} else if (ino_type(ino) == INO_DYN &&
		   (node = dyn_get(fs, ino)) != NULL &&
		   node->type == DYN_PENDING) {
		ret = set_pending(node->pending, name, value, size);
	} else {
		ret = -EPERM;
	}
	fuse_reply_err(req, -ret);
}

void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct vvmfs *fs = req_fs(req);
	const char *const *names = NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GString) value = g_string_new(NULL);

	switch (ino_type(ino)) {
	case INO_MESSAGE:
		names = message_xattrs;
		break;
	case INO_MAILBOX:
		names = mailbox_xattrs;
		break;
	case INO_SUB:
		names = subscriber_xattrs;
		break;
	case INO_DYN: {
		struct dyn_node *node = dyn_get(fs, ino);

		names = node != NULL && node->type == DYN_RENDITION
			? rendition_xattrs : pending_xattrs;
		break;
	}
	default:
		break;
	}
	/* List only the attributes that have a value now. */
	for (; names != NULL && *names != NULL; names++) {
		g_string_truncate(value, 0);
		if (get_value(fs, ino, *names, value) == 0)
			g_string_append_len(out, *names,
					    (gssize)strlen(*names) + 1);
	}
	reply_value(req, out->str, out->len, size);
}

void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, is_ours(name) ? EPERM : ENODATA);
}
