/* Helpers shared by the commands: error reports, argument checks, reading
 * files and xattrs of the mount, listing mailboxes and messages. */
#include "vvmadm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* An xattr of vvmfs is small; anything bigger is not what we asked for. */
#define XATTR_MAX (1024 * 1024)

void vvmadm_error(int err, const char *reason, const char *fmt, ...)
{
	va_list args;

	fputs("vvmadm: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, ": %s", g_strerror(err));
	if (reason != NULL && *reason != '\0')
		fprintf(stderr, " (%s)", reason);
	fputc('\n', stderr);
}

bool vvmadm_check_msisdn(const char *msisdn)
{
	size_t len = strlen(msisdn);

	/* vvmfs applies the E.164 rules; this only keeps the argument one
	 * harmless path component. */
	if (len == 0 || len > 64 || strspn(msisdn, "0123456789") != len) {
		fprintf(stderr, "vvmadm: '%s' is not an MSISDN "
				"(digits, without '+')\n", msisdn);
		return false;
	}
	return true;
}

bool vvmadm_check_mailbox(const char *mailbox)
{
	if (*mailbox == '\0' || strchr(mailbox, '/') != NULL ||
	    strcmp(mailbox, ".") == 0 || strcmp(mailbox, "..") == 0) {
		fprintf(stderr, "vvmadm: '%s' is not a mailbox name\n",
			mailbox);
		return false;
	}
	return true;
}

bool vvmadm_parse_uid(const char *text, uint32_t *uid_r)
{
	guint64 uid;

	if (!g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT32, &uid,
					NULL)) {
		fprintf(stderr, "vvmadm: '%s' is not a UID\n", text);
		return false;
	}
	*uid_r = (uint32_t)uid;
	return true;
}

bool vvmadm_is_special_mailbox(const char *name)
{
	return strcmp(name, "INBOX") == 0 || strcmp(name, "Greetings") == 0;
}

static int read_fd(int fd, GBytes **data_r)
{
	GByteArray *buf = g_byte_array_new();
	guint8 chunk[65536];
	ssize_t n;

	/* Read to EOF rather than trusting st_size: profile files and pipes
	 * do not have a meaningful one. */
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		g_byte_array_append(buf, chunk, (guint)n);
	}
	if (n < 0) {
		int err = errno;

		g_byte_array_unref(buf);
		return -err;
	}
	*data_r = g_byte_array_free_to_bytes(buf);
	return 0;
}

int vvmadm_read_file(const char *path, GBytes **data_r)
{
	int fd, ret;

	if (strcmp(path, "-") == 0)
		return read_fd(STDIN_FILENO, data_r);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = read_fd(fd, data_r);
	close(fd);
	return ret;
}

/* get() is getxattr() or fgetxattr() bound to its file. */
static int xattr_read(ssize_t (*get)(const void *file, const char *name,
				     void *value, size_t size),
		      const void *file, const char *name, char **value_r)
{
	ssize_t size = get(file, name, NULL, 0);
	char *value;

	for (;;) {
		if (size < 0)
			return -errno;
		if (size > XATTR_MAX)
			return -E2BIG;
		value = g_malloc(size + 1);
		ssize_t got = get(file, name, value, size);
		int err = errno;

		if (got >= 0) {
			value[got] = '\0';
			g_strchomp(value);
			*value_r = value;
			return 0;
		}
		g_free(value);
		/* It grew between the two calls: ask again. */
		if (err != ERANGE)
			return -err;
		size = get(file, name, NULL, 0);
	}
}

static ssize_t path_get(const void *file, const char *name, void *value,
			size_t size)
{
	return getxattr(file, name, value, size);
}

static ssize_t fd_get(const void *file, const char *name, void *value,
		      size_t size)
{
	return fgetxattr(*(const int *)file, name, value, size);
}

int vvmadm_xattr_get(const char *path, const char *name, char **value_r)
{
	return xattr_read(path_get, path, name, value_r);
}

int vvmadm_fxattr_get(int fd, const char *name, char **value_r)
{
	return xattr_read(fd_get, &fd, name, value_r);
}

int vvmadm_xattr_get_u64(const char *path, const char *name, uint64_t *value_r)
{
	g_autofree char *text = NULL;
	guint64 value;
	int ret = vvmadm_xattr_get(path, name, &text);

	if (ret < 0)
		return ret;
	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &value,
					NULL))
		return -EBADMSG;
	*value_r = value;
	return 0;
}

static gint names_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int vvmadm_list_dirs(const char *dir, GPtrArray **names_r)
{
	DIR *d = opendir(dir);
	GPtrArray *names;
	struct dirent *de;

	if (d == NULL)
		return -errno;
	names = g_ptr_array_new_with_free_func(g_free);
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
			    !S_ISDIR(st.st_mode))
				continue;
		} else if (de->d_type != DT_DIR) {
			continue;
		}
		g_ptr_array_add(names, g_strdup(de->d_name));
	}
	closedir(d);
	g_ptr_array_sort(names, names_cmp);
	*names_r = names;
	return 0;
}

static gint uid_cmp(gconstpointer a, gconstpointer b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int vvmadm_list_uids(const char *dir, GArray **uids_r)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	GArray *uids;

	if (d == NULL)
		return -errno;
	uids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long uid;

		/* Temporary names of deposits in flight are not messages. */
		if (!g_ascii_isdigit(de->d_name[0]))
			continue;
		errno = 0;
		uid = strtoul(de->d_name, &end, 10);
		if (errno != 0 || uid == 0 || uid > G_MAXUINT32 ||
		    strcmp(end, ".eml") != 0)
			continue;
		uint32_t uid32 = (uint32_t)uid;
		g_array_append_val(uids, uid32);
	}
	closedir(d);
	g_array_sort(uids, uid_cmp);
	*uids_r = uids;
	return 0;
}

char *vvmadm_message_path(const char *mbox_dir, uint32_t uid)
{
	return g_strdup_printf("%s/%u.eml", mbox_dir, uid);
}
