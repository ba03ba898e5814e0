/* Directories: the root of subscribers, a subscriber's mailboxes and
 * profile, a mailbox's messages. Lookups, listings and the namespace
 * operations (mkdir, rmdir, unlink, rename). */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const outbox_names[] = { ".outbox", "sms", "push" };

static int lookup_root(struct vvmfs *fs, const char *name, fuse_ino_t *ino_r)
{
	uint32_t id;
	int ret;

	if (strcmp(name, ".outbox") == 0) {
		*ino_r = ino_make(INO_OUTBOX, 0);
		return 0;
	}
	ret = ms_subscriber_lookup(fs->ms, name, &id);
	if (ret == 0)
		*ino_r = ino_make(INO_SUB, id);
	return ret;
}

static int lookup_sub(struct vvmfs *fs, uint32_t sub_id, const char *name,
		      fuse_ino_t *ino_r)
{
	uint32_t id;
	int ret;

	if (strcmp(name, "profile") == 0) {
		*ino_r = ino_make(INO_PROFILE_DIR, sub_id);
		return 0;
	}
	/* Hidden from listings, like a mailbox's .changes. */
	if (strcmp(name, ".sessions") == 0) {
		*ino_r = ino_make(INO_SESSIONS_DIR, sub_id);
		return 0;
	}
	ret = ms_mailbox_lookup(fs->ms, sub_id, name, &id);
	if (ret == 0)
		*ino_r = ino_make(INO_MAILBOX, id);
	return ret;
}

static int lookup_profile(uint32_t sub_id, const char *name,
			  fuse_ino_t *ino_r)
{
	const struct vvm_profile_key *key = vvm_profile_key_find(name);

	if (key == NULL)
		return -ENOENT;
	*ino_r = ino_make(INO_PROFILE,
			  (uint64_t)sub_id << 8 | vvm_profile_key_index(key));
	return 0;
}

static int lookup_sessions(uint32_t sub_id, const char *name, fuse_ino_t *ino_r)
{
	int proto = session_proto_find(name);

	if (proto < 0)
		return proto;
	*ino_r = ino_make(INO_SESSION, (uint64_t)sub_id << 8 | (unsigned)proto);
	return 0;
}

static int lookup_mailbox(struct vvmfs *fs, uint32_t mbox_id,
			  const char *name, fuse_ino_t *ino_r)
{
	struct ms_message msg;
	struct dyn_node *node;
	uint32_t uid;
	int ret;

	if (strcmp(name, ".changes") == 0) {
		*ino_r = ino_make(INO_CHANGES_DIR, mbox_id);
		return 0;
	}
	if (strcmp(name, ".rendition") == 0) {
		*ino_r = ino_make(INO_RENDITION_DIR, mbox_id);
		return 0;
	}
	if (fs_parse_uid_name(name, &uid)) {
		ret = ms_message_get(fs->ms, mbox_id, uid, &msg);
		if (ret != -ENOENT) {
			if (ret == 0)
				*ino_r = ino_message(mbox_id, uid);
			return ret;
		}
	}
	node = dyn_pending_lookup(fs, mbox_id, name);
	if (node == NULL)
		return -ENOENT;
	*ino_r = node->ino;
	return 0;
}

/* "<N>" is the change feed since N; "<N>.full" the same with what IMAP
 * FETCH needs of each message (docs/fs-layout.md). */
static int lookup_changes(struct vvmfs *fs, uint32_t mbox_id,
			  const char *name, fuse_ino_t *ino_r)
{
	size_t len = strlen(name);
	bool full = len > 5 && strcmp(name + len - 5, ".full") == 0;
	g_autofree char *number = g_strndup(name, full ? len - 5 : len);
	uint64_t since;

	if (!fs_parse_number(number, &since))
		return -ENOENT;
	*ino_r = dyn_changes_create(fs, mbox_id, since, full)->ino;
	return 0;
}

/* "<uid>.eml": the message as the subscriber's phone gets it. */
static int lookup_rendition(struct vvmfs *fs, uint32_t mbox_id,
			    const char *name, fuse_ino_t *ino_r)
{
	struct index *index = NULL;
	GBytes *content = NULL;
	uint32_t uid;
	int ret;

	if (!fs_parse_uid_name(name, &uid))
		return -ENOENT;
	ret = media_rendition(fs, mbox_id, uid, &content, &index);
	if (ret == 0)
		*ino_r = dyn_rendition_create(fs, mbox_id, content, index)->ino;
	return ret;
}

static int lookup_outbox(struct vvmfs *fs, uint64_t id, const char *name,
			 fuse_ino_t *ino_r)
{
	g_autoptr(GBytes) text = NULL;
	uint64_t seq;
	int ret;

	if (id == OUTBOX_DIR_SMS) {
		if (!fs_parse_number(name, &seq))
			return -ENOENT;
		ret = ms_outbox_get(fs->ms, seq, &text);
		if (ret == 0)
			*ino_r = ino_make(INO_OUTBOX_SMS, seq);
		return ret;
	}
	if (id != 0)
		return -ENOENT;
	for (uint64_t i = 1; i < G_N_ELEMENTS(outbox_names); i++) {
		if (strcmp(name, outbox_names[i]) == 0) {
			*ino_r = ino_make(INO_OUTBOX, i);
			return 0;
		}
	}
	return -ENOENT;
}

void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vvmfs *fs = req_fs(req);
	uint64_t id = ino_id(parent);
	fuse_ino_t ino = 0;
	int ret;

	switch (ino_type(parent)) {
	case INO_ROOT:
		ret = lookup_root(fs, name, &ino);
		break;
	case INO_SUB:
		ret = lookup_sub(fs, (uint32_t)id, name, &ino);
		break;
	case INO_PROFILE_DIR:
		ret = lookup_profile((uint32_t)id, name, &ino);
		break;
	case INO_SESSIONS_DIR:
		ret = lookup_sessions((uint32_t)id, name, &ino);
		break;
	case INO_MAILBOX:
		ret = lookup_mailbox(fs, (uint32_t)id, name, &ino);
		break;
	case INO_CHANGES_DIR:
		ret = lookup_changes(fs, (uint32_t)id, name, &ino);
		break;
	case INO_RENDITION_DIR:
		ret = lookup_rendition(fs, (uint32_t)id, name, &ino);
		break;
	case INO_OUTBOX:
		ret = lookup_outbox(fs, id, name, &ino);
		break;
	default:
		ret = -ENOTDIR;
	}
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fs_reply_entry(req, ino);
}

void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (ino_type(ino) == INO_DYN)
		dyn_forget(req_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

void fs_forget_multi(fuse_req_t req, size_t count,
		     struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		if (ino_type(forgets[i].ino) == INO_DYN)
			dyn_forget(req_fs(req), forgets[i].ino,
				   forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

/* The directories every subscriber has that are not mailboxes. */
static bool is_fixed_dir(const char *name)
{
	return strcmp(name, "profile") == 0 || strcmp(name, ".sessions") == 0;
}

void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode)
{
	struct vvmfs *fs = req_fs(req);
	uint32_t id;
	int ret;

	switch (ino_type(parent)) {
	case INO_ROOT:
		ret = ms_subscriber_create(fs->ms, name, &id);
		if (ret == 0)
			fs_reply_entry(req, ino_make(INO_SUB, id));
		break;
	case INO_SUB:
		if (is_fixed_dir(name)) {
			ret = -EEXIST;
			break;
		}
		ret = ms_mailbox_create(fs->ms, (uint32_t)ino_id(parent), name,
					&id);
		if (ret == 0)
			fs_reply_entry(req, ino_make(INO_MAILBOX, id));
		break;
	default:
		/* Mailboxes do not nest; profile and outbox are fixed. */
		ret = -EPERM;
	}
	if (ret < 0)
		fuse_reply_err(req, -ret);
}

void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vvmfs *fs = req_fs(req);
	int ret;

	switch (ino_type(parent)) {
	case INO_ROOT:
		ret = strcmp(name, ".outbox") == 0
			? -EPERM : ms_subscriber_remove(fs->ms, name);
		break;
	case INO_SUB:
		ret = is_fixed_dir(name)
			? -EPERM
			: ms_mailbox_remove(fs->ms, (uint32_t)ino_id(parent),
					    name);
		break;
	default:
		ret = -ENOTDIR;
	}
	fuse_reply_err(req, -ret);
}

void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vvmfs *fs = req_fs(req);
	uint32_t mbox_id = (uint32_t)ino_id(parent);
	struct dyn_node *node;
	uint32_t uid;
	int ret = -ENOENT;

	if (parent == ino_make(INO_OUTBOX, OUTBOX_DIR_SMS)) {
		/* The sender's acknowledgement: the SMSC has the message. */
		uint64_t seq;

		ret = fs_parse_number(name, &seq)
			? ms_outbox_remove(fs->ms, seq) : -ENOENT;
		fuse_reply_err(req, -ret);
		return;
	}
	if (ino_type(parent) != INO_MAILBOX) {
		fuse_reply_err(req, ino_type(parent) == INO_ROOT ||
					    ino_type(parent) == INO_SUB
				    ? EISDIR : EPERM);
		return;
	}
	if (fs_parse_uid_name(name, &uid))
		ret = ms_message_expunge(fs->ms, mbox_id, uid);
	if (ret == -ENOENT) {
		/* Removing a file still being written abandons it. */
		node = dyn_pending_lookup(fs, mbox_id, name);
		if (node != NULL) {
			pending_abandon(fs, node);
			dyn_forget(fs, node->ino, 1);
			ret = 0;
		}
	}
	fuse_reply_err(req, -ret);
}

static void rename_message(fuse_req_t req, uint32_t src, const char *name,
			   uint32_t dst, const char *newname)
{
	struct vvmfs *fs = req_fs(req);
	struct ms_message msg;
	struct dyn_node *node;
	uint32_t uid, target_uid, new_uid;
	const char *reason = NULL;
	int ret;

	if (!fs_parse_uid_name(name, &uid)) {
		/* Only committed messages move; a file being written has
		 * no place in the store yet. */
		node = dyn_pending_lookup(fs, src, name);
		if (node != NULL)
			dyn_forget(fs, node->ino, 1);
		fuse_reply_err(req, node != NULL ? EBUSY : ENOENT);
		return;
	}
	if (src == dst) {
		fuse_reply_err(req, EPERM);
		return;
	}
	/* The target name is not kept, but it must not hide another file. */
	if (fs_parse_uid_name(newname, &target_uid)) {
		ret = ms_message_get(fs->ms, dst, target_uid, &msg);
		if (ret != -ENOENT) {
			fuse_reply_err(req, ret == 0 ? EEXIST : -ret);
			return;
		}
	}
	node = dyn_pending_lookup(fs, dst, newname);
	if (node != NULL) {
		dyn_forget(fs, node->ino, 1);
		fuse_reply_err(req, EEXIST);
		return;
	}
	ret = ms_message_move(fs->ms, src, uid, dst, &new_uid, &reason);
	if (reason != NULL)
		ms_mailbox_set_error(fs->ms, dst, reason);
	fuse_reply_err(req, -ret);
}

void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct vvmfs *fs = req_fs(req);
	struct ms_mailbox src, dst;
	int ret;

	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (ino_type(parent) == INO_SUB &&
	    (strcmp(name, ".sessions") == 0 ||
	     strcmp(newname, ".sessions") == 0)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (ino_type(parent) == INO_SUB && parent == newparent) {
		ret = ms_mailbox_rename(fs->ms, (uint32_t)ino_id(parent), name,
					newname);
		fuse_reply_err(req, -ret);
		return;
	}
	if (ino_type(parent) == INO_SUB && ino_type(newparent) == INO_SUB) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	if (ino_type(parent) != INO_MAILBOX ||
	    ino_type(newparent) != INO_MAILBOX) {
		fuse_reply_err(req, EPERM);
		return;
	}
	ret = ms_mailbox_get(fs->ms, (uint32_t)ino_id(parent), &src);
	if (ret == 0) {
		ret = ms_mailbox_get(fs->ms, (uint32_t)ino_id(newparent), &dst);
		if (ret == 0) {
			if (dst.sub_id != src.sub_id)
				ret = -EXDEV;
			ms_mailbox_clear(&dst);
		}
		ms_mailbox_clear(&src);
	}
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	rename_message(req, (uint32_t)ino_id(parent), name,
		       (uint32_t)ino_id(newparent), newname);
}
