#include "imap-mount.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "imap-session.h"

void imap_session_read_accept(struct imap_session *s)
{
	g_autofree char *accept = NULL;

	s->transcode = profile_get(s, "accept", &accept) == 0 &&
		       *g_strstrip(accept) != '\0';
}

int profile_get(const struct imap_session *s, const char *key,
		char **value_r)
{
	return profile_get_at(s->root, key, value_r);
}

int profile_set(const struct imap_session *s, const char *key,
		const char *value)
{
	g_autofree char *rel = g_strdup_printf("profile/%s", key);
	g_autofree char *path = imap_path(s, rel);
	g_autofree char *line = g_strdup_printf("%s\n", value);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	size_t len = strlen(line);
	ssize_t n;
	do {
		n = write(fd, line, len);
	} while (n < 0 && errno == EINTR);
	int ret = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}
