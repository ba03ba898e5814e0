/* The operations table and the session-wide operations. */
#include "fs.h"

#include <errno.h>
#include <sys/statvfs.h>

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* open(O_TRUNC) must reach us as such: a profile value is replaced
	 * only when a valid one is written. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Writes arrive as the writer made them, and are ours at once. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->max_write = 1024 * 1024;
}

void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st = {
		.f_bsize = 65536,
		.f_frsize = 65536,
		.f_namemax = 255,
	};

	fuse_reply_statfs(req, &st);
}

const struct fuse_lowlevel_ops vvmfs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.unlink = fs_unlink,
	.rename = fs_rename,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.create = fs_create,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.fsync = fs_fsync,
	.release = fs_release,
	.getxattr = fs_getxattr,
	.setxattr = fs_setxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
	.statfs = fs_statfs,
};
