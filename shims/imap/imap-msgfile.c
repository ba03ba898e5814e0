#include "imap-msgfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap-mailbox.h"
#include "imap-mount.h"

void msgfile_init(struct msgfile *mf, const struct imap_mailbox *box,
		  uint32_t uid, bool rendition)
{
	mf->path = imap_mailbox_msg_path(box, uid);
	mf->fd = -1;
	mf->size = -1;
	mf->sections = NULL;
	mf->summary = NULL;
	mf->rendition_path = rendition
		? g_strdup_printf("%s/.rendition/%u.eml", box->dir, uid) : NULL;
	mf->rendition_fd = -1;
}

void msgfile_use_summary(struct msgfile *mf, struct imap_mailbox *box,
			 uint32_t uid)
{
	mf->summary = imap_mailbox_summary(box, uid);
	if (mf->summary != NULL && mf->sections == NULL &&
	    mf->rendition_path == NULL)
		mf->sections = g_strdup(mf->summary->sections);
}

void msgfile_clear(struct msgfile *mf)
{
	if (mf->fd >= 0)
		close(mf->fd);
	if (mf->rendition_fd >= 0)
		close(mf->rendition_fd);
	g_free(mf->path);
	g_free(mf->rendition_path);
	g_free(mf->sections);
	memset(mf, 0, sizeof(*mf));
	mf->fd = -1;
	mf->rendition_fd = -1;
}

/* The rendition is made (transcoded, or found in vvmfs's cache) when it
 * is looked up, so it is opened only when bytes or structure are asked. */
static int rendition_open(struct msgfile *mf)
{
	if (mf->rendition_fd >= 0)
		return 0;
	mf->rendition_fd = open(mf->rendition_path, O_RDONLY | O_CLOEXEC);
	return mf->rendition_fd < 0 ? -errno : 0;
}

/* Attributes that describe the bytes, which the rendition has its own. */
static bool describes_bytes(const char *name)
{
	return strcmp(name, "user.imap.bodystructure") == 0 ||
	       strcmp(name, "user.imap.body") == 0 ||
	       strcmp(name, "user.imap.sections") == 0;
}

static int msgfile_open(struct msgfile *mf)
{
	if (mf->fd >= 0)
		return 0;
	mf->fd = open(mf->path, O_RDONLY | O_CLOEXEC);
	return mf->fd < 0 ? -errno : 0;
}

int msgfile_size(struct msgfile *mf, uint64_t *size_r)
{
	struct stat st;

	if (mf->summary != NULL) {
		*size_r = mf->summary->size;
		return 0;
	}
	int ret = msgfile_open(mf);

	if (ret < 0)
		return ret;
	if (mf->size < 0) {
		if (fstat(mf->fd, &st) < 0)
			return -errno;
		mf->size = st.st_size;
	}
	*size_r = (uint64_t)mf->size;
	return 0;
}

static const char *summary_xattr(const struct msg_summary *sum,
				 const char *name)
{
	if (strcmp(name, "user.imap.envelope") == 0)
		return sum->envelope;
	if (strcmp(name, "user.imap.bodystructure") == 0)
		return sum->bodystructure;
	if (strcmp(name, "user.imap.body") == 0)
		return sum->body;
	if (strcmp(name, "user.imap.sections") == 0)
		return sum->sections;
	return NULL;
}

int msgfile_served_size(struct msgfile *mf, uint64_t *size_r)
{
	struct stat st;
	int ret;

	if (mf->rendition_path == NULL)
		return msgfile_size(mf, size_r);
	ret = rendition_open(mf);
	if (ret < 0)
		return ret;
	if (fstat(mf->rendition_fd, &st) < 0)
		return -errno;
	*size_r = (uint64_t)st.st_size;
	return 0;
}

int msgfile_xattr(struct msgfile *mf, const char *name, char **value_r)
{
	if (mf->rendition_path != NULL && describes_bytes(name)) {
		int ret = rendition_open(mf);

		return ret < 0 ? ret : mount_getxattr(NULL, mf->rendition_fd,
						      name, value_r);
	}
	if (mf->summary != NULL) {
		const char *value = summary_xattr(mf->summary, name);
		if (value != NULL) {
			*value_r = g_strdup(value);
			return 0;
		}
		if (strcmp(name, "user.imap.internaldate") == 0) {
			*value_r = g_strdup_printf("%" G_GINT64_FORMAT,
						   mf->summary->internaldate);
			return 0;
		}
	}
	int ret = msgfile_open(mf);

	return ret < 0 ? ret : mount_getxattr(NULL, mf->fd, name, value_r);
}

int msgfile_read(struct msgfile *mf, uint64_t offset, uint64_t len,
		 char **data_r)
{
	if (mf->rendition_path == NULL && mf->summary != NULL &&
	    offset + len <= mf->summary->header_len && offset <= offset + len) {
		*data_r = g_strndup(mf->summary->header + offset, len);
		return 0;
	}
	int ret = mf->rendition_path != NULL ? rendition_open(mf)
					     : msgfile_open(mf);
	int fd = mf->rendition_path != NULL ? mf->rendition_fd : mf->fd;

	if (ret < 0)
		return ret;
	char *buf = g_try_malloc(len + 1);
	if (buf == NULL)
		return -ENOMEM;
	uint64_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done,
				  (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			g_free(buf);
			return -err;
		}
		done += (uint64_t)n;
	}
	buf[len] = '\0';
	*data_r = buf;
	return 0;
}

int msgfile_section(struct msgfile *mf, const char *part, bool header,
		    struct msg_range *range_r)
{
	const char *want = *part == '\0' ? "." : part;
	size_t want_len = strlen(want);

	if (mf->sections == NULL) {
		int ret = msgfile_xattr(mf, "user.imap.sections",
					&mf->sections);
		if (ret < 0)
			return ret;
	}
	for (const char *line = mf->sections; *line != '\0';) {
		const char *end = strchrnul(line, '\n');
		if (strncmp(line, want, want_len) == 0 &&
		    line[want_len] == ' ') {
			g_autofree char *text = g_strndup(
				line + want_len + 1,
				(size_t)(end - line) - want_len - 1);
			g_auto(GStrv) f = g_strsplit(text, " ", -1);
			guint64 v[4];

			/* Digits only: a range read from anything else
			 * would serve the wrong bytes. */
			if (g_strv_length(f) != 4)
				return -EIO;
			for (int i = 0; i < 4; i++) {
				if (!g_ascii_string_to_unsigned(
					    f[i], 10, 0, G_MAXUINT64, &v[i],
					    NULL))
					return -EIO;
			}
			range_r->offset = header ? v[0] : v[2];
			range_r->length = header ? v[1] : v[3];
			return 0;
		}
		line = *end == '\n' ? end + 1 : end;
	}
	return -ENOENT;
}

static bool field_listed(const char *name, size_t len, char **fields)
{
	for (char **f = fields; *f != NULL; f++) {
		if (strlen(*f) == len && g_ascii_strncasecmp(*f, name, len) == 0)
			return true;
	}
	return false;
}

GString *header_filter(const char *header, size_t len, char **fields,
		       bool exclude)
{
	GString *out = g_string_sized_new(256);
	const char *p = header, *end = header + len;

	while (p < end) {
		const char *line_end = memchr(p, '\n', (size_t)(end - p));
		const char *field_end = line_end != NULL ? line_end + 1 : end;
		if (field_end - p <= 2 && (*p == '\r' || *p == '\n'))
			break;  /* the blank line ending the header */
		/* A field runs on over continuation lines. */
		while (field_end < end && (*field_end == ' ' || *field_end == '\t')) {
			const char *next = memchr(field_end, '\n',
						  (size_t)(end - field_end));
			field_end = next != NULL ? next + 1 : end;
		}
		const char *colon = memchr(p, ':', (size_t)(field_end - p));
		if (colon != NULL) {
			size_t name_len = (size_t)(colon - p);
			while (name_len > 0 && (p[name_len - 1] == ' ' ||
						p[name_len - 1] == '\t'))
				name_len--;
			if (field_listed(p, name_len, fields) != exclude)
				g_string_append_len(out, p, field_end - p);
		}
		p = field_end;
	}
	g_string_append(out, "\r\n");
	return out;
}
