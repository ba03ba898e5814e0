/* Small reads and writes through the vvmfs mount, for every shim. */
#include "vvm-mount.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib.h>

#define XATTR_MAX (64 * 1024)

int mount_read_file(const char *path, size_t max, char **data_r,
		    size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	GString *buf = g_string_sized_new(4096);
	int ret = 0;
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		if (buf->len + (size_t)n > max) {
			ret = -EFBIG;
			break;
		}
		g_string_append_len(buf, chunk, n);
	}
	close(fd);
	if (ret < 0) {
		g_string_free(buf, TRUE);
		return ret;
	}
	*len_r = buf->len;
	*data_r = g_string_free(buf, FALSE);
	return 0;
}

int mount_check_live(const char *mount)
{
	g_autofree char *root = g_strdup_printf("%s/", mount);
	g_autofree char *outbox = g_strdup_printf("%s/.outbox", mount);
	struct statfs fs;
	struct stat st;

	/* statfs() always reaches the daemon; a stat() may be answered
	 * from the kernel's cache of a mount whose daemon is dead. */
	if (statfs(root, &fs) < 0)
		return -errno;
	if (stat(outbox, &st) < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENODEV;
}

int mount_confirm_absence(const char *mount, int ret)
{
	int live;

	if (ret != -ENOENT && ret != -ENOTDIR)
		return ret;
	live = mount_check_live(mount);
	return live < 0 ? live : ret;
}

int mount_getxattr(const char *path, int fd, const char *name,
		   char **value_r)
{
	size_t size = 256;

	for (;;) {
		char *buf = g_malloc(size + 1);
		ssize_t n = path != NULL ? getxattr(path, name, buf, size) :
					   fgetxattr(fd, name, buf, size);
		if (n >= 0) {
			buf[n] = '\0';
			*value_r = buf;
			return 0;
		}
		int err = errno;
		g_free(buf);
		if (err != ERANGE || size >= XATTR_MAX)
			return -err;
		size *= 16;
	}
}

int mount_getxattr_u64(const char *path, int fd, const char *name,
		       uint64_t *value_r)
{
	g_autofree char *text = NULL;
	guint64 v;
	int ret = mount_getxattr(path, fd, name, &text);

	if (ret < 0)
		return ret;
	/* Digits only: strtoull() would take "-1" for 2^64 - 1. */
	if (!g_ascii_string_to_unsigned(g_strchomp(text), 10, 0, G_MAXUINT64,
					&v, NULL))
		return -EIO;
	*value_r = v;
	return 0;
}

int mount_setxattr(const char *path, int fd, const char *name,
		   const char *value)
{
	int ret = path != NULL ?
		setxattr(path, name, value, strlen(value), 0) :
		fsetxattr(fd, name, value, strlen(value), 0);
	return ret < 0 ? -errno : 0;
}

int profile_get_at(const char *subscriber_dir, const char *key,
		   char **value_r)
{
	g_autofree char *path = g_strdup_printf("%s/profile/%s",
						subscriber_dir, key);
	char *value;
	size_t len;
	int ret = mount_read_file(path, 4096, &value, &len);

	if (ret < 0)
		return ret;
	if (len > 0 && value[len - 1] == '\n')
		value[len - 1] = '\0';
	*value_r = value;
	return 0;
}

int profile_set_at(const char *subscriber_dir, const char *key,
		   const char *value)
{
	g_autofree char *path = g_strdup_printf("%s/profile/%s",
						subscriber_dir, key);
	g_autofree char *line = g_strconcat(value, "\n", NULL);
	size_t len = strlen(line);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;
	int ret;

	if (fd < 0)
		return -errno;
	/* One write(): vvmfs validates each write as the whole value. */
	do {
		n = write(fd, line, len);
	} while (n < 0 && errno == EINTR);
	ret = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}
