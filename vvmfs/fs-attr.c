/* Attributes of every kind of inode, and the entries lookups reply with. */
#include "fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* How long the kernel may trust what we tell it. Names of directories
 * (subscribers, mailboxes, profile) only change through requests the kernel
 * sees, and their attributes are fixed, so both are kept. Committed
 * messages never change, so their attributes are kept too; but a name in a
 * mailbox can come to mean another message without a request for that name
 * (a move reuses the name it was given, a commit retires a temporary one),
 * so names of files there are asked for afresh. Profile values change
 * size at any time. */
#define STABLE_TIMEOUT 60.0

static double attr_timeout(fuse_ino_t ino)
{
	switch (ino_type(ino)) {
	case INO_PROFILE:
	case INO_OUTBOX_SMS:
		return 0;
	case INO_DYN:
		/* A file being written changes only by its writer's writes,
		 * after which the kernel drops what it cached itself. */
		return 1.0;
	default:
		return STABLE_TIMEOUT;
	}
}

static double entry_timeout(fuse_ino_t ino)
{
	switch (ino_type(ino)) {
	case INO_MESSAGE:
	case INO_DYN:
	case INO_OUTBOX_SMS:
		return 0;
	default:
		return STABLE_TIMEOUT;
	}
}

bool fs_parse_number(const char *name, uint64_t *value_r)
{
	uint64_t n = 0;
	const char *p;

	if (*name == '\0' || strlen(name) > 20)
		return false;
	for (p = name; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p) || n > (G_MAXUINT64 - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*value_r = n;
	return true;
}

bool fs_parse_uid_name(const char *name, uint32_t *uid_r)
{
	uint64_t uid = 0;
	const char *p = name;

	if (*p == '0' || !g_ascii_isdigit(*p))
		return false;
	for (; g_ascii_isdigit(*p); p++) {
		uid = uid * 10 + (uint64_t)(*p - '0');
		if (uid > G_MAXUINT32)
			return false;
	}
	if (strcmp(p, ".eml") != 0)
		return false;
	*uid_r = (uint32_t)uid;
	return true;
}

static void stat_dir(struct stat *st, mode_t mode)
{
	st->st_mode = S_IFDIR | mode;
	st->st_nlink = 2;
}

static void stat_file(struct stat *st, mode_t mode, uint64_t size)
{
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
}

static void stat_time(struct stat *st, int64_t t)
{
	st->st_mtim.tv_sec = t;
	st->st_ctim.tv_sec = t;
	st->st_atim.tv_sec = t;
}

static int stat_profile(struct vvmfs *fs, uint64_t id, struct stat *st)
{
	size_t count;
	const struct vvm_profile_key *keys = vvm_profile_keys(&count);
	size_t index = id & 0xff;
	g_autofree char *value = NULL;
	int ret;

	if (index >= count)
		return -ENOENT;
	ret = ms_profile_get(fs->ms, (uint32_t)(id >> 8), &keys[index], &value);
	if (ret < 0)
		return ret;
	stat_file(st, keys[index].secret ? 0600 : 0644, strlen(value) + 1);
	return 0;
}

static int stat_mailbox(struct vvmfs *fs, uint32_t mbox_id, struct stat *st)
{
	struct ms_mailbox mbox;
	int ret = ms_mailbox_get(fs->ms, mbox_id, &mbox);

	if (ret < 0)
		return ret;
	stat_dir(st, 0755);
	stat_time(st, mbox.created);
	ms_mailbox_clear(&mbox);
	return 0;
}

static int stat_message(struct vvmfs *fs, uint64_t id, struct stat *st)
{
	struct ms_message msg;
	int ret = ms_message_get(fs->ms, (uint32_t)(id >> 32), (uint32_t)id,
				 &msg);

	if (ret < 0)
		return ret;
	/* The kernel lets only a writer set user.* attributes, so the
	 * owner's write bit is what allows a shim that is not root to store
	 * flags; writing the contents is refused all the same (EPERM). */
	stat_file(st, 0644, msg.size);
	stat_time(st, msg.internaldate);
	return 0;
}

static int stat_dyn(struct vvmfs *fs, fuse_ino_t ino, struct stat *st)
{
	struct dyn_node *node = dyn_get(fs, ino);
	struct pending *p;

	if (node == NULL)
		return -ENOENT;
	if (node->type == DYN_CHANGES) {
		stat_file(st, 0444, 0);
		return 0;
	}
	if (node->type == DYN_RENDITION) {
		stat_file(st, 0444, g_bytes_get_size(node->content));
		return 0;
	}
	p = node->pending;
	g_mutex_lock(&p->lock);
	stat_file(st, 0644, p->len);
	g_mutex_unlock(&p->lock);
	return 0;
}

static int stat_outbox(struct vvmfs *fs, uint64_t seq, struct stat *st)
{
	g_autoptr(GBytes) text = NULL;
	int ret = ms_outbox_get(fs->ms, seq, &text);

	if (ret == 0)
		stat_file(st, 0644, g_bytes_get_size(text));
	return ret;
}

int fs_stat(struct vvmfs *fs, fuse_ino_t ino, struct stat *st_r)
{
	uint64_t id = ino_id(ino);
	struct ms_subscriber sub;
	int ret = 0;

	memset(st_r, 0, sizeof(*st_r));
	st_r->st_ino = ino;
	st_r->st_uid = fs->uid;
	st_r->st_gid = fs->gid;
	st_r->st_blksize = 65536;
	stat_time(st_r, fs->started);
	switch (ino_type(ino)) {
	case INO_ROOT:
	case INO_OUTBOX:
		stat_dir(st_r, 0755);
		break;
	case INO_SUB:
	case INO_PROFILE_DIR:
		ret = ms_subscriber_get(fs->ms, (uint32_t)id, &sub);
		stat_dir(st_r, 0755);
		stat_time(st_r, ret == 0 ? sub.created : 0);
		break;
	case INO_SESSIONS_DIR:
		ret = ms_subscriber_get(fs->ms, (uint32_t)id, &sub);
		stat_dir(st_r, 0555);
		stat_time(st_r, ret == 0 ? sub.created : 0);
		break;
	case INO_SESSION:
		/* Opening one takes a session; its contents are made at
		 * each read, so it has no size of its own. */
		ret = session_proto_name(id & 0xff) == NULL
			      ? -ENOENT
			      : ms_subscriber_get(fs->ms, (uint32_t)(id >> 8),
						  &sub);
		stat_file(st_r, (id & 0xff) == SESSION_LOGIN ? 0644 : 0444, 0);
		stat_time(st_r, ret == 0 ? sub.created : 0);
		break;
	case INO_PROFILE:
		ret = stat_profile(fs, id, st_r);
		break;
	case INO_MAILBOX:
		ret = stat_mailbox(fs, (uint32_t)id, st_r);
		break;
	case INO_CHANGES_DIR:
	case INO_RENDITION_DIR:
		stat_dir(st_r, 0555);
		break;
	case INO_MESSAGE:
		ret = stat_message(fs, id, st_r);
		break;
	case INO_DYN:
		ret = stat_dyn(fs, ino, st_r);
		break;
	case INO_OUTBOX_SMS:
		ret = stat_outbox(fs, id, st_r);
		break;
	default:
		ret = -ENOENT;
	}
	return ret;
}

void fs_reply_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = { 0 };
	int ret = fs_stat(req_fs(req), ino, &e.attr);

	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	e.ino = ino;
	e.attr_timeout = attr_timeout(ino);
	e.entry_timeout = entry_timeout(ino);
	if (fuse_reply_entry(req, &e) != 0 && ino_type(ino) == INO_DYN)
		dyn_forget(req_fs(req), ino, 1);
}

void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int ret = fs_stat(req_fs(req), ino, &st);

	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, attr_timeout(ino));
}
