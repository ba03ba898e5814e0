/* The dynamic inode table: files that exist only in memory (messages being
 * written, change-feed views), counted by the kernel's lookups and freed
 * when it forgets them, as libfuse's passthrough_ll does for all inodes. */
#include "fs.h"

#include <string.h>

static char *pending_key(uint32_t mbox_id, const char *name)
{
	return g_strdup_printf("%u/%s", mbox_id, name);
}

static void pending_free(struct pending *p)
{
	g_mutex_clear(&p->lock);
	g_free(p->name);
	g_free(p->reason);
	g_free(p->data);
	g_free(p);
}

static void dyn_node_free(gpointer data)
{
	struct dyn_node *node = data;

	if (node->pending != NULL)
		pending_free(node->pending);
	if (node->content != NULL)
		g_bytes_unref(node->content);
	if (node->index != NULL)
		index_free(&node->index);
	g_free(node);
}

void fs_handle_track(struct vvmfs *fs, void *handle, GDestroyNotify destroy)
{
	g_mutex_lock(&fs->handles_lock);
	g_hash_table_insert(fs->handles, handle, destroy);
	g_mutex_unlock(&fs->handles_lock);
}

void fs_handle_untrack(struct vvmfs *fs, void *handle)
{
	g_mutex_lock(&fs->handles_lock);
	g_hash_table_remove(fs->handles, handle);
	g_mutex_unlock(&fs->handles_lock);
}

void fs_release_all(struct vvmfs *fs)
{
	GHashTableIter iter;
	gpointer handle, destroy;

	g_mutex_lock(&fs->handles_lock);
	g_hash_table_iter_init(&iter, fs->handles);
	while (g_hash_table_iter_next(&iter, &handle, &destroy)) {
		((GDestroyNotify)destroy)(handle);
		g_hash_table_iter_remove(&iter);
	}
	g_mutex_unlock(&fs->handles_lock);
	/* The kernel is gone: it will forget nothing any more. */
	g_mutex_lock(&fs->dyn_lock);
	g_hash_table_remove_all(fs->pending_by_name);
	g_hash_table_remove_all(fs->dyn_by_ino);
	g_mutex_unlock(&fs->dyn_lock);
}

void dyn_init(struct vvmfs *fs)
{
	g_mutex_init(&fs->handles_lock);
	fs->handles = g_hash_table_new(NULL, NULL);
	g_mutex_init(&fs->dyn_lock);
	fs->dyn_next = 1;
	fs->dyn_by_ino = g_hash_table_new_full(g_int64_hash, g_int64_equal,
					       NULL, dyn_node_free);
	fs->pending_by_name = g_hash_table_new_full(g_str_hash, g_str_equal,
						    g_free, NULL);
}

void dyn_destroy(struct vvmfs *fs)
{
	g_hash_table_destroy(fs->handles);
	g_mutex_clear(&fs->handles_lock);
	g_hash_table_destroy(fs->pending_by_name);
	g_hash_table_destroy(fs->dyn_by_ino);
	g_mutex_clear(&fs->dyn_lock);
}

/* Called with dyn_lock held. */
static struct dyn_node *dyn_add(struct vvmfs *fs, enum dyn_type type,
				uint32_t mbox_id)
{
	struct dyn_node *node = g_new0(struct dyn_node, 1);

	node->ino = ino_make(INO_DYN, fs->dyn_next++);
	node->nlookup = 1;
	node->type = type;
	node->mbox_id = mbox_id;
	g_hash_table_insert(fs->dyn_by_ino, &node->ino, node);
	return node;
}

struct dyn_node *dyn_pending_create(struct vvmfs *fs, uint32_t mbox_id,
				    const char *name)
{
	char *key = pending_key(mbox_id, name);
	struct dyn_node *node = NULL;
	struct pending *p;

	g_mutex_lock(&fs->dyn_lock);
	if (g_hash_table_contains(fs->pending_by_name, key)) {
		g_free(key);
		goto out;
	}
	node = dyn_add(fs, DYN_PENDING, mbox_id);
	p = g_new0(struct pending, 1);
	g_mutex_init(&p->lock);
	p->name = g_strdup(name);
	p->mbox_id = mbox_id;
	p->state = PENDING_WRITING;
	p->opened = true;
	node->pending = p;
	g_hash_table_insert(fs->pending_by_name, key, node);
out:
	g_mutex_unlock(&fs->dyn_lock);
	return node;
}

struct dyn_node *dyn_changes_create(struct vvmfs *fs, uint32_t mbox_id,
				    uint64_t since, bool full)
{
	struct dyn_node *node;

	g_mutex_lock(&fs->dyn_lock);
	node = dyn_add(fs, DYN_CHANGES, mbox_id);
	node->since = since;
	node->full = full;
	g_mutex_unlock(&fs->dyn_lock);
	return node;
}

struct dyn_node *dyn_rendition_create(struct vvmfs *fs, uint32_t mbox_id,
				      GBytes *content, struct index *index)
{
	struct dyn_node *node;

	g_mutex_lock(&fs->dyn_lock);
	node = dyn_add(fs, DYN_RENDITION, mbox_id);
	node->content = content;
	node->index = index;
	g_mutex_unlock(&fs->dyn_lock);
	return node;
}

struct dyn_node *dyn_pending_lookup(struct vvmfs *fs, uint32_t mbox_id,
				    const char *name)
{
	g_autofree char *key = pending_key(mbox_id, name);
	struct dyn_node *node;

	g_mutex_lock(&fs->dyn_lock);
	node = g_hash_table_lookup(fs->pending_by_name, key);
	if (node != NULL)
		node->nlookup++;
	g_mutex_unlock(&fs->dyn_lock);
	return node;
}

struct dyn_node *dyn_get(struct vvmfs *fs, fuse_ino_t ino)
{
	struct dyn_node *node;

	g_mutex_lock(&fs->dyn_lock);
	node = g_hash_table_lookup(fs->dyn_by_ino, &ino);
	g_mutex_unlock(&fs->dyn_lock);
	return node;
}

/* Called with dyn_lock held. */
static void unname_locked(struct vvmfs *fs, struct dyn_node *node)
{
	g_autofree char *key = NULL;

	if (node->type != DYN_PENDING)
		return;
	key = pending_key(node->mbox_id, node->pending->name);
	if (g_hash_table_lookup(fs->pending_by_name, key) == node)
		g_hash_table_remove(fs->pending_by_name, key);
}

void dyn_pending_unname(struct vvmfs *fs, struct dyn_node *node)
{
	g_mutex_lock(&fs->dyn_lock);
	unname_locked(fs, node);
	g_mutex_unlock(&fs->dyn_lock);
}

void dyn_forget(struct vvmfs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct dyn_node *node;

	g_mutex_lock(&fs->dyn_lock);
	node = g_hash_table_lookup(fs->dyn_by_ino, &ino);
	if (node != NULL) {
		node->nlookup -= MIN(nlookup, node->nlookup);
		if (node->nlookup == 0) {
			/* Forgotten while never committed: the name goes
			 * with it, and nothing is stored. */
			unname_locked(fs, node);
			g_hash_table_remove(fs->dyn_by_ino, &ino);
		}
	}
	g_mutex_unlock(&fs->dyn_lock);
}

void dyn_pending_foreach(struct vvmfs *fs, uint32_t mbox_id,
			 void (*cb)(void *ctx, const char *name,
				    fuse_ino_t ino),
			 void *ctx)
{
	GHashTableIter iter;
	gpointer value;

	g_mutex_lock(&fs->dyn_lock);
	g_hash_table_iter_init(&iter, fs->pending_by_name);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		struct dyn_node *node = value;

		if (node->mbox_id == mbox_id)
			cb(ctx, node->pending->name, node->ino);
	}
	g_mutex_unlock(&fs->dyn_lock);
}
