/* The commit protocol of docs/fs-layout.md, as every writer of the mount
 * follows it: create a new name, write, fsync, read back the UID. */
#include "vvm-deposit.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Tries of a fresh temporary name before giving up. */
#define CREATE_TRIES 100

static int create_temp(const char *mbox_dir, const char *prefix,
		       char **path_r)
{
	static unsigned seq;

	for (int i = 0; i < CREATE_TRIES; i++) {
		char *path = g_strdup_printf("%s/%s-%ld-%u.tmp", mbox_dir,
					     prefix, (long)getpid(), seq++);
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
			      0644);

		if (fd >= 0) {
			*path_r = path;
			return fd;
		}
		g_free(path);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* On failure *reason_r names the attribute vvmfs refused. */
static int set_attributes(int fd, const struct vvm_deposit *deposit,
			  char **reason_r)
{
	if (deposit->flags != NULL && *deposit->flags != '\0' &&
	    fsetxattr(fd, "user.imap.flags", deposit->flags,
		      strlen(deposit->flags), 0) < 0) {
		int err = errno;

		*reason_r = g_strdup_printf("flags '%s' refused",
					    deposit->flags);
		return -err;
	}
	if (deposit->internaldate > 0) {
		char date[32];
		int len = g_snprintf(date, sizeof(date), "%" G_GINT64_FORMAT,
				     deposit->internaldate);

		if (fsetxattr(fd, "user.imap.internaldate", date, len, 0) < 0) {
			int err = errno;

			*reason_r = g_strdup_printf("internaldate %s refused",
						    date);
			return -err;
		}
	}
	return 0;
}

/* An attribute of the open file as a new string. */
static int fd_xattr(int fd, const char *name, char **value_r)
{
	for (size_t size = 256; size <= 65536; size *= 16) {
		char *buf = g_malloc(size + 1);
		ssize_t n = fgetxattr(fd, name, buf, size);

		if (n >= 0) {
			buf[n] = '\0';
			*value_r = buf;
			return 0;
		}
		g_free(buf);
		if (errno != ERANGE)
			return -errno;
	}
	return -E2BIG;
}

int vvm_write_all(int fd, const void *buf, size_t len)
{
	const char *data = buf;

	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_uid(int fd, uint32_t *uid_r)
{
	g_autofree char *text = NULL;
	guint64 uid;
	int ret = fd_xattr(fd, "user.imap.uid", &text);

	if (ret < 0)
		return ret;
	if (!g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT32, &uid, NULL))
		return -EBADMSG;
	*uid_r = (uint32_t)uid;
	return 0;
}

int vvm_deposit(const char *mbox_dir, const char *prefix, const void *bytes,
		size_t len, const struct vvm_deposit *deposit, uint32_t *uid_r,
		char **reason_r)
{
	g_autofree char *path = NULL;
	int fd = create_temp(mbox_dir, prefix, &path);
	int ret;

	if (fd < 0)
		return fd;
	ret = set_attributes(fd, deposit, reason_r);
	if (ret == 0) {
		ret = vvm_write_all(fd, bytes, len);
		if (ret < 0)
			fd_xattr(fd, "user.vvm.error", reason_r);
	}
	if (ret < 0) {
		/* Removing a file still being written abandons it, so the
		 * close() below commits nothing. */
		unlink(path);
		close(fd);
		return ret;
	}
	if (fsync(fd) < 0) {
		ret = -errno;
		/* Rejected: vvmfs has retired the name already. */
		fd_xattr(fd, "user.vvm.error", reason_r);
		close(fd);
		return ret;
	}
	/* After a successful fsync() the message is committed: neither a
	 * UID that cannot be read nor a failing close() can undo that, and
	 * a writer told otherwise would deposit it again. */
	if (read_uid(fd, uid_r) < 0)
		*uid_r = 0;
	close(fd);
	return 0;
}
