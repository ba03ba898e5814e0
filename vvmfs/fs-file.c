/* Open files: committed messages (read-only, served from the store),
 * messages being written, profile values, change-feed views and session
 * slots. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

/* A .sessions/login ticket: waiting for its turn, checking a password
 * (a failure unless proven right before it is closed), or decided:
 * proven right, or counted as a failure. */
enum login_state {
	LOGIN_WAITING,
	LOGIN_CHECKING,
	LOGIN_DECIDED,
};

enum handle_type {
	HANDLE_CONTENT, /* a message, a change feed: fixed bytes to read */
	HANDLE_PENDING, /* a message being written */
	HANDLE_PROFILE, /* a profile value */
	HANDLE_SESSION, /* a session slot, held while open */
};

struct handle {
	enum handle_type type;
	GBytes *content;
	uint64_t msgid; /* a message whose content is not fetched yet */
	struct dyn_node *node;
	/* HANDLE_PROFILE: the file as it will read after this writer's
	 * writes, i.e. the value and its newline. */
	GMutex lock;
	uint32_t sub_id;
	const struct vvm_profile_key *key;
	GString *text;
	bool truncated;
	bool written; /* a write came, valid or not */
	/* HANDLE_SESSION: sub_id, and the slot until it is given back. */
	enum session_proto proto;
	bool session_held;
	enum login_state login;
};

static struct handle *handle_get(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

static void handle_destroy(gpointer data)
{
	struct handle *h = data;

	if (h->content != NULL)
		g_bytes_unref(h->content);
	if (h->text != NULL)
		g_string_free(h->text, TRUE);
	g_mutex_clear(&h->lock);
	g_free(h);
}

/* A login ticket closed while checking a password is a failed login,
 * even when its holder died mid-check: counted durably before its check
 * ends, so that no one sees the turn free and the failure uncounted. */
static void login_end(struct vvmfs *fs, struct handle *h)
{
	struct ms_login_failures lf;
	int ret;

	if (h->login != LOGIN_CHECKING)
		return;
	ret = ms_login_failures_update(fs->ms, h->sub_id, false,
				       g_get_real_time() / G_USEC_PER_SEC, &lf);
	if (ret < 0 && ret != -ENOENT)
		g_warning("subscriber %u: a failed login was not counted: %s",
			  h->sub_id, g_strerror(-ret));
	sessions_check_end(fs, h->sub_id);
	h->login = LOGIN_DECIDED;
}

/* Gives the slot back once, at whichever of flush and release comes
 * first. */
static void session_end(struct vvmfs *fs, struct handle *h)
{
	bool held;

	g_mutex_lock(&h->lock);
	held = h->session_held;
	h->session_held = false;
	if (held)
		login_end(fs, h);
	g_mutex_unlock(&h->lock);
	if (held)
		sessions_put(fs, h->sub_id, h->proto);
}

/* "check <max>": a turn to check a password, granted while failed logins
 * plus checks in flight stay below max (EAGAIN: try again later); "ok":
 * the password was right, so the failures are forgotten. */
static int login_write(struct vvmfs *fs, struct handle *h, const char *buf,
		       size_t size)
{
	g_autofree char *text = g_strndup(buf, size);
	guint64 max;
	int ret = -EINVAL;

	g_strchomp(text);
	g_mutex_lock(&h->lock);
	if (g_str_has_prefix(text, "check ") && h->login == LOGIN_WAITING &&
	    g_ascii_string_to_unsigned(text + 6, 10, 1, G_MAXUINT, &max,
				       NULL)) {
		ret = sessions_check_begin(fs, h->sub_id, (unsigned)max);
		if (ret == 0)
			h->login = LOGIN_CHECKING;
	} else if (strcmp(text, "ok") == 0 && h->login == LOGIN_CHECKING) {
		struct ms_login_failures lf;

		ret = ms_login_failures_update(fs->ms, h->sub_id, true,
					       g_get_real_time() /
						       G_USEC_PER_SEC, &lf);
		if (ret == 0) {
			sessions_check_end(fs, h->sub_id);
			h->login = LOGIN_DECIDED;
		}
	}
	g_mutex_unlock(&h->lock);
	return ret;
}

static void handle_free(struct vvmfs *fs, struct handle *h)
{
	if (h->type == HANDLE_SESSION)
		session_end(fs, h);
	fs_handle_untrack(fs, h);
	handle_destroy(h);
}

static struct handle *handle_new(struct vvmfs *fs, enum handle_type type)
{
	struct handle *h = g_new0(struct handle, 1);

	h->type = type;
	g_mutex_init(&h->lock);
	fs_handle_track(fs, h, handle_destroy);
	return h;
}

static bool pending_is_empty(struct pending *p)
{
	bool empty;

	g_mutex_lock(&p->lock);
	empty = p->state == PENDING_WRITING && p->len == 0;
	g_mutex_unlock(&p->lock);
	return empty;
}

static void reply_open(fuse_req_t req, struct fuse_file_info *fi,
		       struct handle *h)
{
	fi->fh = (uint64_t)(uintptr_t)h;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(req_fs(req), h);
}

static bool wants_write(const struct fuse_file_info *fi)
{
	return (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
}

static int open_message(struct vvmfs *fs, fuse_ino_t ino,
			struct fuse_file_info *fi, struct handle **h_r)
{
	uint64_t id = ino_id(ino);
	struct ms_message msg;
	int ret;

	if (wants_write(fi))
		return -EPERM;
	ret = ms_message_get(fs->ms, (uint32_t)(id >> 32), (uint32_t)id, &msg);
	if (ret < 0)
		return ret;
	/* The body is fetched at the first read that reaches us: with the
	 * page cache warm, none does. */
	*h_r = handle_new(fs, HANDLE_CONTENT);
	(*h_r)->msgid = msg.msgid;
	/* Committed messages never change: let the page cache keep them. */
	fi->keep_cache = 1;
	return 0;
}

/* The bytes a content handle reads, fetched once. */
static int handle_content(struct vvmfs *fs, struct handle *h, GBytes **out_r)
{
	int ret = 0;

	g_mutex_lock(&h->lock);
	if (h->content == NULL)
		ret = ms_message_body(fs->ms, h->msgid, &h->content);
	if (ret == 0)
		*out_r = g_bytes_ref(h->content);
	g_mutex_unlock(&h->lock);
	return ret;
}

/* A read from the start takes the counts afresh; later reads continue
 * the text the first one began. */
static int session_content(struct vvmfs *fs, struct handle *h, off_t off,
			   GBytes **out_r)
{
	GString *text;

	g_mutex_lock(&h->lock);
	if (off == 0 || h->content == NULL) {
		text = g_string_sized_new(64);
		sessions_format(fs, h->sub_id, h->proto, text);
		if (h->content != NULL)
			g_bytes_unref(h->content);
		h->content = g_string_free_to_bytes(text);
	}
	*out_r = g_bytes_ref(h->content);
	g_mutex_unlock(&h->lock);
	return 0;
}

static int open_changes(struct vvmfs *fs, fuse_ino_t ino,
			struct fuse_file_info *fi, struct handle **h_r)
{
	struct dyn_node *node = dyn_get(fs, ino);
	GString *text;
	int ret;

	if (node == NULL)
		return -ENOENT;
	if (wants_write(fi))
		return -EACCES;
	text = g_string_sized_new(4096);
	ret = ms_changes(fs->ms, node->mbox_id, node->since, node->full, text);
	if (ret < 0) {
		g_string_free(text, TRUE);
		return ret;
	}
	*h_r = handle_new(fs, HANDLE_CONTENT);
	(*h_r)->content = g_string_free_to_bytes(text);
	fi->direct_io = 1;
	return 0;
}

static int open_rendition(struct vvmfs *fs, struct dyn_node *node,
			  struct fuse_file_info *fi, struct handle **h_r)
{
	if (wants_write(fi))
		return -EACCES;
	*h_r = handle_new(fs, HANDLE_CONTENT);
	(*h_r)->content = g_bytes_ref(node->content);
	fi->direct_io = 1;
	return 0;
}

static int open_outbox(struct vvmfs *fs, fuse_ino_t ino,
			struct fuse_file_info *fi, struct handle **h_r)
{
	GBytes *text;
	int ret;

	/* Entries are read and removed, never changed. */
	if (wants_write(fi))
		return -EPERM;
	ret = ms_outbox_get(fs->ms, ino_id(ino), &text);
	if (ret < 0)
		return ret;
	*h_r = handle_new(fs, HANDLE_CONTENT);
	(*h_r)->content = text;
	fi->direct_io = 1;
	return 0;
}

static int open_pending(struct vvmfs *fs, fuse_ino_t ino,
			struct fuse_file_info *fi, struct handle **h_r)
{
	struct dyn_node *node = dyn_get(fs, ino);
	struct pending *p;
	int ret = 0;

	if (node == NULL)
		return -ENOENT;
	p = node->pending;
	g_mutex_lock(&p->lock);
	/* One writer per message: a second opener could not know when the
	 * first commits. */
	if (p->opened || p->state != PENDING_WRITING)
		ret = -EBUSY;
	else
		p->opened = true;
	g_mutex_unlock(&p->lock);
	if (ret < 0)
		return ret;
	*h_r = handle_new(fs, HANDLE_PENDING);
	(*h_r)->node = node;
	fi->direct_io = 1;
	return 0;
}

static int open_profile(struct vvmfs *fs, fuse_ino_t ino,
			struct fuse_file_info *fi, struct handle **h_r)
{
	uint64_t id = ino_id(ino);
	size_t count;
	const struct vvm_profile_key *keys = vvm_profile_keys(&count);
	g_autofree char *value = NULL;
	struct handle *h;
	int ret;

	if ((id & 0xff) >= count)
		return -ENOENT;
	h = handle_new(fs, HANDLE_PROFILE);
	h->sub_id = (uint32_t)(id >> 8);
	h->key = &keys[id & 0xff];
	ret = ms_profile_get(fs->ms, h->sub_id, h->key, &value);
	if (ret < 0) {
		handle_free(fs, h);
		return ret;
	}
	h->content = g_bytes_new_take(g_strconcat(value, "\n", NULL),
				      strlen(value) + 1);
	h->truncated = (fi->flags & O_TRUNC) != 0;
	h->text = h->truncated ? g_string_new("")
			       : g_string_new_len(value, (gssize)strlen(value));
	if (!h->truncated)
		g_string_append_c(h->text, '\n');
	fi->direct_io = 1;
	*h_r = h;
	return 0;
}

static int open_session(struct vvmfs *fs, fuse_ino_t ino,
			struct fuse_file_info *fi, struct handle **h_r)
{
	uint64_t id = ino_id(ino);
	uint32_t sub_id = (uint32_t)(id >> 8);
	enum session_proto proto = (enum session_proto)(id & 0xff);
	struct ms_subscriber sub;
	int ret;

	if (session_proto_name(proto) == NULL)
		return -ENOENT;
	/* Only a login ticket takes writes, and nothing truncates it. */
	if (wants_write(fi) &&
	    (proto != SESSION_LOGIN || (fi->flags & O_TRUNC)))
		return -EPERM;
	ret = ms_subscriber_get(fs->ms, sub_id, &sub);
	if (ret == 0)
		ret = sessions_take(fs, sub_id, proto);
	if (ret < 0)
		return ret;
	*h_r = handle_new(fs, HANDLE_SESSION);
	(*h_r)->sub_id = sub_id;
	(*h_r)->proto = proto;
	(*h_r)->session_held = true;
	/* Reads show the counts as they are at each read. */
	fi->direct_io = 1;
	return 0;
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vvmfs *fs = req_fs(req);
	struct handle *h = NULL;
	int ret;

	switch (ino_type(ino)) {
	case INO_MESSAGE:
		ret = open_message(fs, ino, fi, &h);
		break;
	case INO_PROFILE:
		ret = open_profile(fs, ino, fi, &h);
		break;
	case INO_OUTBOX_SMS:
		ret = open_outbox(fs, ino, fi, &h);
		break;
	case INO_SESSION:
		ret = open_session(fs, ino, fi, &h);
		break;
	case INO_DYN: {
		struct dyn_node *node = dyn_get(fs, ino);

		ret = node == NULL ? -ENOENT
		      : node->type == DYN_CHANGES ? open_changes(fs, ino, fi, &h)
		      : node->type == DYN_RENDITION ? open_rendition(fs, node, fi, &h)
						    : open_pending(fs, ino, fi, &h);
		break;
	}
	default:
		ret = -EISDIR;
	}
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		reply_open(req, fi, h);
}

void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi)
{
	struct vvmfs *fs = req_fs(req);
	uint32_t mbox_id = (uint32_t)ino_id(parent);
	struct fuse_entry_param e = { 0 };
	struct dyn_node *node;
	struct handle *h;
	uint32_t uid;
	int ret;

	if (ino_type(parent) != INO_MAILBOX) {
		fuse_reply_err(req, EPERM);
		return;
	}
	/* <uid>.eml names are the committed messages': a file being
	 * written under one would clash with the message that gets it. */
	if (name[0] == '.' || fs_parse_uid_name(name, &uid)) {
		fuse_reply_err(req, name[0] == '.' ? EINVAL : EEXIST);
		return;
	}
	node = dyn_pending_create(fs, mbox_id, name);
	if (node == NULL) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	ret = fs_stat(fs, node->ino, &e.attr);
	if (ret < 0) {
		dyn_forget(fs, node->ino, 1);
		fuse_reply_err(req, -ret);
		return;
	}
	e.ino = node->ino;
	e.attr_timeout = 1.0;
	h = handle_new(fs, HANDLE_PENDING);
	h->node = node;
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) != 0) {
		pending_abandon(fs, node);
		dyn_forget(fs, node->ino, 1);
		handle_free(fs, h);
	}
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct handle *h = handle_get(fi);
	struct pending *p;
	GBytes *content = NULL;
	gsize len;
	const char *data;
	int ret;

	if (h->type == HANDLE_PENDING) {
		p = h->node->pending;
		g_mutex_lock(&p->lock);
		if ((size_t)off < p->len)
			fuse_reply_buf(req, (const char *)p->data + off,
				       MIN(size, p->len - (size_t)off));
		else
			fuse_reply_buf(req, NULL, 0);
		g_mutex_unlock(&p->lock);
		return;
	}
	if (h->type == HANDLE_SESSION)
		ret = session_content(req_fs(req), h, off, &content);
	else
		ret = handle_content(req_fs(req), h, &content);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	data = g_bytes_get_data(content, &len);
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, MIN(size, len - (size_t)off));
	g_bytes_unref(content);
}

/* Stores the profile text as it stands, minus its newline. Called with
 * h->lock held. */
static int profile_store(struct vvmfs *fs, struct handle *h)
{
	const char *reason = NULL;
	size_t len = h->text->len;
	int ret;

	if (len > 0 && h->text->str[len - 1] == '\n')
		len--;
	ret = ms_profile_set(fs->ms, h->sub_id, h->key, h->text->str, len,
			     &reason);
	if (ret == -EINVAL)
		g_message("refused profile/%s for subscriber %u: %s",
			  h->key->name, h->sub_id, reason);
	return ret;
}

static int profile_write(struct vvmfs *fs, struct handle *h, const char *buf,
			 size_t size, off_t off)
{
	g_autoptr(GString) before = NULL;
	int ret;

	/* Profile values are tiny; refuse a write that could not be one. */
	if (off < 0 || (size_t)off + size > 4096)
		return -EINVAL;
	g_mutex_lock(&h->lock);
	before = g_string_new_len(h->text->str, (gssize)h->text->len);
	if ((size_t)off > h->text->len) {
		gsize end = h->text->len;

		/* A hole reads as NULs, which no value accepts. */
		g_string_set_size(h->text, (gsize)off);
		memset(h->text->str + end, 0, (gsize)off - end);
	}
	g_string_overwrite_len(h->text, (gsize)off, buf, (gssize)size);
	ret = profile_store(fs, h);
	if (ret < 0)
		g_string_assign(h->text, before->str);
	h->written = true;
	g_mutex_unlock(&h->lock);
	return ret;
}

/* ftruncate(fd, 0) on a profile file: as O_TRUNC, nothing is stored until
 * a value is written or the file is closed. */
static int profile_truncate(struct fuse_file_info *fi, off_t size)
{
	struct handle *h = fi != NULL ? handle_get(fi) : NULL;

	if (size != 0)
		return -EINVAL;
	if (h == NULL)
		return 0;
	g_mutex_lock(&h->lock);
	g_string_truncate(h->text, 0);
	h->truncated = true;
	h->written = false;
	g_mutex_unlock(&h->lock);
	return 0;
}

void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi)
{
	struct vvmfs *fs = req_fs(req);
	struct handle *h = handle_get(fi);
	struct pending *p;
	int ret;

	switch (h->type) {
	case HANDLE_PENDING:
		p = h->node->pending;
		g_mutex_lock(&p->lock);
		ret = pending_write(fs, p, buf, size, off);
		g_mutex_unlock(&p->lock);
		break;
	case HANDLE_PROFILE:
		ret = profile_write(fs, h, buf, size, off);
		break;
	case HANDLE_SESSION:
		ret = h->proto == SESSION_LOGIN ? login_write(fs, h, buf, size)
						: -EPERM;
		break;
	default:
		ret = -EPERM;
	}
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vvmfs *fs = req_fs(req);
	struct handle *h = handle_get(fi);
	int ret = 0;

	/* The first close() ends a session: it comes synchronously with the
	 * close, and from the kernel when the holder dies, even of SIGKILL,
	 * whereas RELEASE is sent later and could refuse a client that
	 * reconnects at once. */
	if (h->type == HANDLE_SESSION) {
		session_end(fs, h);
		fuse_reply_err(req, 0);
		return;
	}
	/* A shell's `> file` closes a duplicate before writing anything:
	 * only a close after data was written commits. */
	if (h->type == HANDLE_PENDING && pending_is_empty(h->node->pending)) {
		fuse_reply_err(req, 0);
		return;
	}
	if (h->type == HANDLE_PENDING) {
		if (writer_was_killed(fuse_req_ctx(req)->pid))
			pending_abandon(fs, h->node);
		else
			ret = pending_commit(fs, h->node);
		/* Closing after an abandon (unlink) is not an error. */
		if (ret == -ENOENT)
			ret = 0;
	}
	fuse_reply_err(req, -ret);
}

void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi)
{
	struct handle *h = handle_get(fi);
	int ret = 0;

	if (h->type == HANDLE_PENDING)
		ret = pending_commit(req_fs(req), h->node);
	fuse_reply_err(req, -ret);
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = handle_get(fi);
	struct pending *p;

	if (h->type == HANDLE_PROFILE && h->truncated && !h->written) {
		/* `: > file` wrote nothing: the value becomes empty, if
		 * empty is valid. There is no one left to tell otherwise. */
		profile_store(req_fs(req), h);
	}
	if (h->type == HANDLE_PENDING) {
		/* No commit came (the writer died, or wrote nothing and
		 * never called fsync): nothing is stored. */
		pending_abandon(req_fs(req), h->node);
		p = h->node->pending;
		g_mutex_lock(&p->lock);
		p->opened = false;
		g_mutex_unlock(&p->lock);
	}
	handle_free(req_fs(req), h);
	fuse_reply_err(req, 0);
}

void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi)
{
	struct vvmfs *fs = req_fs(req);
	struct dyn_node *node;
	struct stat st;
	int ret = 0;

	switch (ino_type(ino)) {
	case INO_MESSAGE:
		/* Immutable: no truncation, no times, no modes. */
		ret = -EPERM;
		break;
	case INO_DYN:
		node = dyn_get(fs, ino);
		if (node == NULL || node->type != DYN_PENDING) {
			ret = node == NULL ? -ENOENT : -EPERM;
		} else if (to_set & FUSE_SET_ATTR_SIZE) {
			g_mutex_lock(&node->pending->lock);
			ret = pending_truncate(fs, node->pending,
					       attr->st_size);
			g_mutex_unlock(&node->pending->lock);
		}
		break;
	case INO_PROFILE:
		if (to_set & FUSE_SET_ATTR_SIZE)
			ret = profile_truncate(fi, attr->st_size);
		break;
	case INO_SESSION:
		if (to_set & FUSE_SET_ATTR_SIZE)
			ret = -EPERM;
		break;
	default:
		break;
	}
	/* Other attribute changes are accepted and have no effect: owners,
	 * modes and times of the tree are vvmfs's, not the caller's. */
	if (ret == 0)
		ret = fs_stat(fs, ino, &st);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, 0);
}
