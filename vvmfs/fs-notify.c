/* Tells the kernel about names that vanished without a request for them
 * (a commit retiring a temporary name, a retention purge), so that its
 * caches drop them. (Kernels before 5.3 also raised IN_DELETE for these;
 * later ones do not, see docs/fs-layout.md.)
 *
 * Notifications go out from their own thread: libfuse forbids sending them
 * from a request handler that may hold the directory lock they need. */
#include "fs.h"

struct notification {
	fuse_ino_t parent;
	fuse_ino_t child;
	char *name; /* NULL: stop */
};

static gpointer notify_main(gpointer data)
{
	struct vvmfs *fs = data;

	for (;;) {
		struct notification *n = g_async_queue_pop(fs->notify_queue);

		if (n->name == NULL) {
			g_free(n);
			break;
		}
		/* -ENOENT only means the kernel had not cached the name. */
		fuse_lowlevel_notify_delete(fs->se, n->parent, n->child,
					    n->name, strlen(n->name));
		g_free(n->name);
		g_free(n);
	}
	return NULL;
}

void notify_start(struct vvmfs *fs)
{
	fs->notify_queue = g_async_queue_new();
	fs->notify_thread = g_thread_new("vvmfs-notify", notify_main, fs);
}

void notify_stop(struct vvmfs *fs)
{
	g_async_queue_push(fs->notify_queue, g_new0(struct notification, 1));
	g_thread_join(fs->notify_thread);
	g_async_queue_unref(fs->notify_queue);
}

void notify_deleted(struct vvmfs *fs, fuse_ino_t parent, fuse_ino_t child,
		    const char *name)
{
	struct notification *n = g_new(struct notification, 1);

	n->parent = parent;
	n->child = child;
	n->name = g_strdup(name);
	g_async_queue_push(fs->notify_queue, n);
}
