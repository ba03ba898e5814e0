/* Directory listings. Each opendir takes a snapshot of the names, so that
 * offsets stay meaningful while the directory changes underneath; a
 * rewind to offset 0 takes a new one. */
#include "fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

struct dir_entry {
	char *name;
	fuse_ino_t ino;
	mode_t type;
};

struct dir_listing {
	GArray *entries; /* struct dir_entry */
	bool served;
};

static void entry_clear(gpointer data)
{
	struct dir_entry *e = data;

	g_free(e->name);
}

static void add(struct dir_listing *l, const char *name, fuse_ino_t ino,
		mode_t type)
{
	struct dir_entry e = { g_strdup(name), ino, type };

	g_array_append_val(l->entries, e);
}

static int add_subscriber(void *ctx, const struct ms_subscriber *sub)
{
	add(ctx, sub->msisdn, ino_make(INO_SUB, sub->id), S_IFDIR);
	return 0;
}

static int add_mailbox(void *ctx, const char *name, uint32_t id)
{
	add(ctx, name, ino_make(INO_MAILBOX, id), S_IFDIR);
	return 0;
}

struct message_ctx {
	struct dir_listing *listing;
	uint32_t mbox_id;
};

static int add_message(void *ctx, const struct ms_message *msg)
{
	struct message_ctx *c = ctx;
	char name[24];

	g_snprintf(name, sizeof(name), "%u.eml", msg->uid);
	add(c->listing, name, ino_message(c->mbox_id, msg->uid), S_IFREG);
	return 0;
}

static int add_outbox_entry(void *ctx, uint64_t seq, size_t size)
{
	char name[24];

	g_snprintf(name, sizeof(name), "%" G_GUINT64_FORMAT, seq);
	add(ctx, name, ino_make(INO_OUTBOX_SMS, seq), S_IFREG);
	return 0;
}

static void add_pending(void *ctx, const char *name, fuse_ino_t ino)
{
	add(ctx, name, ino, S_IFREG);
}

static int list_dir(struct vvmfs *fs, fuse_ino_t ino, struct dir_listing *l)
{
	uint64_t id = ino_id(ino);
	struct message_ctx mc = { l, (uint32_t)id };
	size_t count;
	const struct vvm_profile_key *keys;

	g_array_set_size(l->entries, 0);
	add(l, ".", ino, S_IFDIR);
	add(l, "..", FUSE_ROOT_ID, S_IFDIR);
	switch (ino_type(ino)) {
	case INO_ROOT:
		add(l, ".outbox", ino_make(INO_OUTBOX, 0), S_IFDIR);
		return ms_subscriber_list(fs->ms, NULL, add_subscriber, l);
	case INO_SUB:
		add(l, "profile", ino_make(INO_PROFILE_DIR, id), S_IFDIR);
		return ms_mailbox_list(fs->ms, (uint32_t)id, add_mailbox, l);
	case INO_PROFILE_DIR:
		keys = vvm_profile_keys(&count);
		for (size_t i = 0; i < count; i++)
			add(l, keys[i].name,
			    ino_make(INO_PROFILE, id << 8 | i), S_IFREG);
		return 0;
	case INO_MAILBOX:
		dyn_pending_foreach(fs, (uint32_t)id, add_pending, l);
		return ms_message_list(fs->ms, (uint32_t)id, 0, add_message,
				       &mc);
	case INO_OUTBOX:
		if (id == OUTBOX_DIR_SMS)
			return ms_outbox_list(fs->ms, add_outbox_entry, l);
		if (id == 0) {
			add(l, "sms", ino_make(INO_OUTBOX, 1), S_IFDIR);
			add(l, "push", ino_make(INO_OUTBOX, 2), S_IFDIR);
		}
		return 0;
	case INO_CHANGES_DIR:
	case INO_RENDITION_DIR:
		return 0;
	case INO_SESSIONS_DIR:
		for (uint64_t i = 0; i < SESSION_PROTOS; i++)
			add(l, session_proto_name(i),
			    ino_make(INO_SESSION, id << 8 | i), S_IFREG);
		return 0;
	default:
		return -ENOTDIR;
	}
}

static void listing_destroy(gpointer data)
{
	struct dir_listing *l = data;

	g_array_free(l->entries, TRUE);
	g_free(l);
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_listing *l = g_new0(struct dir_listing, 1);
	int ret;

	l->entries = g_array_new(FALSE, FALSE, sizeof(struct dir_entry));
	g_array_set_clear_func(l->entries, entry_clear);
	ret = list_dir(req_fs(req), ino, l);
	if (ret < 0) {
		listing_destroy(l);
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)l;
	fs_handle_track(req_fs(req), l, listing_destroy);
	if (fuse_reply_open(req, fi) != 0) {
		fs_handle_untrack(req_fs(req), l);
		listing_destroy(l);
	}
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct dir_listing *l = (struct dir_listing *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	size_t used = 0;
	int ret;

	if (off == 0 && l->served) {
		ret = list_dir(req_fs(req), ino, l);
		if (ret < 0) {
			fuse_reply_err(req, -ret);
			return;
		}
	}
	l->served = true;
	for (size_t i = (size_t)off; i < l->entries->len; i++) {
		struct dir_entry *e = &g_array_index(l->entries,
						     struct dir_entry, i);
		struct stat st = { .st_ino = e->ino, .st_mode = e->type };
		size_t len = fuse_add_direntry(req, buf + used, size - used,
					       e->name, &st, (off_t)(i + 1));

		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_listing *l = (struct dir_listing *)(uintptr_t)fi->fh;

	fs_handle_untrack(req_fs(req), l);
	listing_destroy(l);
	fuse_reply_err(req, 0);
}
