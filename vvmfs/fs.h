/* vvmfs's FUSE layer: inode numbers, open handles, messages being written,
 * and the operations table. The rules live in store/mailstore.c; this layer
 * maps paths and file operations onto it. */
#ifndef VVM_FS_H
#define VVM_FS_H

#include <fuse_lowlevel.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "index.h"
#include "mailstore.h"
#include "vvm-media.h"

/* Inode numbers encode what they name, so that no table is needed for the
 * persistent objects: the top four bits are the type. Mailbox ids, UIDs and
 * subscriber ids are never reused, so neither are inode numbers. Files that
 * exist only in memory (a message being written, a change-feed view) get a
 * counter from the dynamic table instead. A subscriber's session slots
 * (.sessions/<proto>) are counted in memory but named by the encoding, so
 * that every process looking them up meets the same inode. */
enum ino_type {
	INO_ROOT = 0,
	INO_OUTBOX = 1,        /* id: 0 .outbox, 1 sms, 2 push */
	INO_SUB = 2,           /* id: sub_id */
	INO_PROFILE_DIR = 3,   /* id: sub_id */
	INO_PROFILE = 4,       /* id: sub_id << 8 | key index */
	INO_MAILBOX = 5,       /* id: mbox_id */
	INO_CHANGES_DIR = 6,   /* id: mbox_id */
	INO_MESSAGE = 7,       /* id: mbox_id << 32 | uid */
	INO_DYN = 8,           /* id: dynamic table key */
	INO_OUTBOX_SMS = 9,    /* id: outbox sequence number */
	INO_SESSIONS_DIR = 10, /* id: sub_id */
	INO_SESSION = 11,      /* id: sub_id << 8 | enum session_proto */
	INO_RENDITION_DIR = 12, /* id: mbox_id */
};

#define OUTBOX_DIR_SMS 1

#define INO_ID_MASK ((UINT64_C(1) << 60) - 1)

static inline fuse_ino_t ino_make(enum ino_type type, uint64_t id)
{
	return type == INO_ROOT ? FUSE_ROOT_ID
				: ((uint64_t)type << 60) | (id & INO_ID_MASK);
}

static inline enum ino_type ino_type(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? INO_ROOT : (enum ino_type)(ino >> 60);
}

static inline uint64_t ino_id(fuse_ino_t ino)
{
	return ino & INO_ID_MASK;
}

static inline fuse_ino_t ino_message(uint32_t mbox_id, uint32_t uid)
{
	return ino_make(INO_MESSAGE, (uint64_t)mbox_id << 32 | uid);
}

enum pending_state {
	PENDING_WRITING,
	PENDING_COMMITTED,
	PENDING_REJECTED,
	PENDING_ABANDONED,
};

/* A message being written: it lives in memory until fsync or close commits
 * it, and stays afterwards (until the kernel forgets it) so that the writer
 * can read its UID or the rejection reason from the open file. */
struct pending {
	GMutex lock;
	char *name;
	uint32_t mbox_id;
	uint8_t *data;     /* what was written so far */
	size_t len;
	size_t capacity;
	uint32_t flags;
	int64_t internaldate;
	enum pending_state state;
	bool opened;
	int error;
	char *reason;
	uint32_t uid;
};

enum dyn_type {
	DYN_PENDING,
	DYN_CHANGES,
	DYN_RENDITION,
};

struct dyn_node {
	fuse_ino_t ino;
	uint64_t nlookup;
	enum dyn_type type;
	uint32_t mbox_id;
	uint64_t since;          /* DYN_CHANGES */
	bool full;               /* DYN_CHANGES: <since>.full, with the index */
	struct pending *pending; /* DYN_PENDING */
	GBytes *content;         /* DYN_RENDITION: the message as served */
	struct index *index;     /* DYN_RENDITION: its index */
};

/* The files of MOUNT/<msisdn>/.sessions/: the protocols whose concurrent
 * sessions are counted (and limited by config), and login, the password
 * checks in flight. */
enum session_proto {
	SESSION_IMAP,
	SESSION_SMTP,
	SESSION_LOGIN,
	SESSION_PROTOS
};
/* The protocols [<proto>] max_sessions limits: IMAP and SMTP. */
#define SESSION_LIMITED SESSION_LOGIN

struct vvmfs_options {
	char *config_file;
	uint64_t max_message_size;
	unsigned retention_interval;
	/* Per subscriber and protocol; 0 = unlimited (login: always). */
	unsigned max_sessions[SESSION_PROTOS];
	/* [media]: the transcoding worker and its budget, and whether a
	 * wrong Content-Duration is refused rather than corrected. */
	char *media_worker;
	struct media_budget media_budget;
	bool duration_reject;
};

struct vvmfs {
	struct mailstore *ms;
	struct fuse_session *se;
	struct vvmfs_options options;
	struct index_limits index_limits;
	uid_t uid;
	gid_t gid;
	int64_t started; /* the times of files that have none of their own */

	/* Open file and directory handles -> their destructor, so that those
	 * the kernel never released are freed before the store closes. */
	GMutex handles_lock;
	GHashTable *handles;

	/* sub_id -> struct session_counts: the open session handles. Only
	 * memory: a restart drops every handle anyway. */
	GMutex sessions_lock;
	GHashTable *sessions;

	GMutex dyn_lock;
	uint64_t dyn_next;
	GHashTable *dyn_by_ino;      /* fuse_ino_t -> struct dyn_node */
	GHashTable *pending_by_name; /* "mbox_id/name" -> struct dyn_node */

	GThread *retention_thread;
	GMutex stop_lock;
	GCond stop_cond;
	bool stopping;
};

extern const struct fuse_lowlevel_ops vvmfs_ops;

static inline struct vvmfs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* fs-attr.c: attributes and entries for every kind of inode. */
int fs_stat(struct vvmfs *fs, fuse_ino_t ino, struct stat *st_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Replies to a lookup-like request with the entry for ino. */
void fs_reply_entry(fuse_req_t req, fuse_ino_t ino);
bool fs_parse_uid_name(const char *name, uint32_t *uid_r);
/* A decimal number without sign or spaces, fitting 64 bits. */
bool fs_parse_number(const char *name, uint64_t *value_r);

/* fs-dyn.c: the dynamic inode table. */
struct dyn_node *dyn_pending_create(struct vvmfs *fs, uint32_t mbox_id,
				    const char *name);
struct dyn_node *dyn_changes_create(struct vvmfs *fs, uint32_t mbox_id,
				    uint64_t since, bool full);
/* Takes content and index. */
struct dyn_node *dyn_rendition_create(struct vvmfs *fs, uint32_t mbox_id,
				      GBytes *content, struct index *index);
/* Looks up and takes a lookup reference (for a lookup reply). */
struct dyn_node *dyn_pending_lookup(struct vvmfs *fs, uint32_t mbox_id,
				    const char *name);
/* Looks up without a reference; valid while the kernel holds one. */
struct dyn_node *dyn_get(struct vvmfs *fs, fuse_ino_t ino);
void dyn_forget(struct vvmfs *fs, fuse_ino_t ino, uint64_t nlookup);
/* Retires a pending file's name: commits and rejections make it vanish. */
void dyn_pending_unname(struct vvmfs *fs, struct dyn_node *node);
/* Calls cb for each pending name in a mailbox. */
void dyn_pending_foreach(struct vvmfs *fs, uint32_t mbox_id,
			 void (*cb)(void *ctx, const char *name,
				    fuse_ino_t ino),
			 void *ctx);
void fs_handle_track(struct vvmfs *fs, void *handle, GDestroyNotify destroy);
void fs_handle_untrack(struct vvmfs *fs, void *handle);
/* At shutdown, before the store closes: frees what is still open and
 * every node the kernel has not forgotten, for either may hold a value
 * that pins the store's memory. */
void fs_release_all(struct vvmfs *fs);
void dyn_init(struct vvmfs *fs);
void dyn_destroy(struct vvmfs *fs);

/* fs-sessions.c: per-subscriber session slots (.sessions/<proto>). */
const char *session_proto_name(enum session_proto proto);
/* The protocol a .sessions file name stands for; -ENOENT if none. */
int session_proto_find(const char *name) G_GNUC_WARN_UNUSED_RESULT;
/* Takes a slot: 0, or -EUSERS when the subscriber already has the limit
 * of sessions of proto open. */
int sessions_take(struct vvmfs *fs, uint32_t sub_id, enum session_proto proto)
	G_GNUC_WARN_UNUSED_RESULT;
/* Gives back a slot that sessions_take() gave. */
void sessions_put(struct vvmfs *fs, uint32_t sub_id, enum session_proto proto);
/* A login attempt's turn to check a password: granted while the
 * subscriber's failed logins plus the checks in flight stay below max.
 * Returns 0, -EAGAIN when it must wait, or -errno. */
int sessions_check_begin(struct vvmfs *fs, uint32_t sub_id, unsigned max)
	G_GNUC_WARN_UNUSED_RESULT;
/* Ends a check sessions_check_begin() granted. */
void sessions_check_end(struct vvmfs *fs, uint32_t sub_id);
/* Appends "sessions <n>\nlimit <limit>\n". */
void sessions_format(struct vvmfs *fs, uint32_t sub_id,
		     enum session_proto proto, GString *out);
void sessions_init(struct vvmfs *fs);
void sessions_destroy(struct vvmfs *fs);

/* fs-commit.c: turning a written file into a committed message. */
/* Writes into a pending file; -EFBIG past max_message_size (which rejects
 * the message), -ENOMEM, -EPERM once committed. Call with p->lock held. */
int pending_write(struct vvmfs *fs, struct pending *p, const char *buf,
		  size_t size, off_t off) G_GNUC_WARN_UNUSED_RESULT;
int pending_truncate(struct vvmfs *fs, struct pending *p, off_t size)
	G_GNUC_WARN_UNUSED_RESULT;
int pending_commit(struct vvmfs *fs, struct dyn_node *node)
	G_GNUC_WARN_UNUSED_RESULT;
/* fs-media.c: the audio in messages. */
/* At commit: measures the audio parts, fills in or corrects their
 * Content-Duration (which may replace *canonical and *index), and sets
 * *audio_r to the record of the audio parts (NULL when there are none).
 * -EINVAL with *reason_r when the config rejects a wrong duration. */
int media_commit(struct vvmfs *fs, GBytes **canonical, struct index **index,
		 GBytes **audio_r, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* The message as the subscriber's phone gets it (the profile's accept),
 * from the rendition cache or made now. */
int media_rendition(struct vvmfs *fs, uint32_t mbox_id, uint32_t uid,
		    GBytes **body_r, struct index **index_r)
	G_GNUC_WARN_UNUSED_RESULT;

void pending_abandon(struct vvmfs *fs, struct dyn_node *node);
bool writer_was_killed(pid_t pid);

/* fs-dir.c, fs-file.c, fs-xattr.c: the operations. */
void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_forget_multi(fuse_req_t req, size_t count,
		     struct fuse_forget_data *forgets);
void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);
void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode);
void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi);
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi);
void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 size_t size);
void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 const char *value, size_t size, int flags);
void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void fs_statfs(fuse_req_t req, fuse_ino_t ino);

#endif
