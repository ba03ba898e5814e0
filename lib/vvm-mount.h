/* Small reads and writes through the vvmfs mount: profile values,
 * extended attributes and whole virtual files. Every function returns
 * >= 0 on success or -errno as the mount gave it. Library code: nothing
 * here logs; allocation failure aborts. */
#ifndef VVM_MOUNT_H
#define VVM_MOUNT_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* Reads a whole file of at most max bytes into a new NUL-terminated
 * buffer. */
int mount_read_file(const char *path, size_t max, char **data_r,
		    size_t *len_r) G_GNUC_WARN_UNUSED_RESULT;
/* An extended attribute of path (or of fd when path is NULL) as a new
 * NUL-terminated string. */
int mount_getxattr(const char *path, int fd, const char *name,
		   char **value_r) G_GNUC_WARN_UNUSED_RESULT;
/* A decimal attribute. */
int mount_getxattr_u64(const char *path, int fd, const char *name,
		       uint64_t *value_r) G_GNUC_WARN_UNUSED_RESULT;
int mount_setxattr(const char *path, int fd, const char *name,
		   const char *value) G_GNUC_WARN_UNUSED_RESULT;

/* Whether mount is a live vvmfs mount: a file system that answers
 * statfs() (a vvmfs that died leaves ENOTCONN) and whose root holds
 * .outbox/, which a bare mount point does not. Returns 0, -ENODEV when
 * vvmfs is not mounted there, or -errno. A shim must then refuse with a
 * temporary failure, for every subscriber would otherwise read as
 * unknown: a permanent one. */
int mount_check_live(const char *mount) G_GNUC_WARN_UNUSED_RESULT;
/* ret, a lookup's result under mount, unless it says a file is absent
 * (-ENOENT, -ENOTDIR) while vvmfs is not mounted there: then
 * mount_check_live()'s error. Nothing is absent that vvmfs was not there
 * to ask about. */
int mount_confirm_absence(const char *mount, int ret)
	G_GNUC_WARN_UNUSED_RESULT;

/* A profile value of the subscriber in subscriber_dir, without its
 * newline. */
int profile_get_at(const char *subscriber_dir, const char *key,
		   char **value_r) G_GNUC_WARN_UNUSED_RESULT;
/* Writes a profile value (its newline added) in one write(), which vvmfs
 * validates and commits: -EINVAL for a value the key does not take. */
int profile_set_at(const char *subscriber_dir, const char *key,
		   const char *value) G_GNUC_WARN_UNUSED_RESULT;

#endif
