/* The commit protocol (docs/fs-layout.md): a file written into a mailbox
 * becomes a message when its writer calls fsync() or close(). Parsing and
 * indexing happen here, outside any store lock; the store then assigns the
 * UID and commits durably. */
#include "fs.h"

#include <gmime/gmime.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* PF_EXITING from the kernel's sched.h, documented in proc(5). */
#define PF_EXITING 0x00000004u

/* True when pid is dying of a signal: its files are being closed by the
 * kernel, not by the program, so what it wrote must not be committed. */
bool writer_was_killed(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
	g_autofree char *text = NULL;
	g_auto(GStrv) fields = NULL;
	char *end;
	unsigned long flags;
	long exit_code;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return false;
	/* Fields after the command name, which may hold spaces. */
	end = strrchr(text, ')');
	if (end == NULL || end[1] == '\0')
		return false;
	fields = g_strsplit(end + 2, " ", -1);
	/* fields[0] is field 3 (state): flags is field 9, exit_code 52. */
	if (g_strv_length(fields) < 50)
		return false;
	flags = strtoul(fields[6], NULL, 10);
	exit_code = strtol(fields[49], NULL, 10);
	return (flags & PF_EXITING) != 0 && (exit_code & 0x7f) != 0;
}

static void drop_data(struct pending *p)
{
	g_clear_pointer(&p->data, g_free);
	p->len = 0;
	p->capacity = 0;
}

/* Called with p->lock held. */
static void reject(struct pending *p, int error, const char *reason)
{
	p->state = PENDING_REJECTED;
	p->error = error;
	g_free(p->reason);
	p->reason = g_strdup(reason);
	drop_data(p);
}

static int pending_reserve(struct vvmfs *fs, struct pending *p, size_t size)
{
	size_t capacity;
	uint8_t *data;

	if (size > fs->options.max_message_size) {
		reject(p, EFBIG, "message larger than max_message_size");
		ms_mailbox_set_error(fs->ms, p->mbox_id, p->reason);
		return -EFBIG;
	}
	if (size <= p->capacity)
		return 0;
	capacity = MAX(size, MIN(p->capacity * 2,
				 fs->options.max_message_size));
	data = g_try_realloc(p->data, capacity);
	if (data == NULL)
		return -ENOMEM;
	p->data = data;
	p->capacity = capacity;
	return 0;
}

int pending_write(struct vvmfs *fs, struct pending *p, const char *buf,
		  size_t size, off_t off)
{
	size_t end = (size_t)off + size;
	int ret;

	if (p->state == PENDING_REJECTED)
		return -p->error;
	if (p->state != PENDING_WRITING)
		return -EPERM;
	if (off < 0 || end < size)
		return -EINVAL;
	ret = pending_reserve(fs, p, end);
	if (ret < 0)
		return ret;
	/* A write past the end leaves a hole of zeros, as in any file;
	 * the indexer will refuse the NUL bytes. */
	if ((size_t)off > p->len)
		memset(p->data + p->len, 0, (size_t)off - p->len);
	memcpy(p->data + off, buf, size);
	p->len = MAX(p->len, end);
	return 0;
}

int pending_truncate(struct vvmfs *fs, struct pending *p, off_t size)
{
	int ret;

	if (p->state != PENDING_WRITING)
		return p->state == PENDING_REJECTED ? -p->error : -EPERM;
	if (size < 0)
		return -EINVAL;
	ret = pending_reserve(fs, p, (size_t)size);
	if (ret < 0)
		return ret;
	if ((size_t)size > p->len)
		memset(p->data + p->len, 0, (size_t)size - p->len);
	p->len = (size_t)size;
	return 0;
}

/* The caller's number for SYNC's s field: VVM deposits carry it as the
 * local part of From (spec "From" header reference). NULL when From holds
 * no number, which SYNC sends as a withheld caller. */
static char *sender_number(const char *msg, size_t len)
{
	g_autofree char *from = index_header_value(msg, len, "From");
	InternetAddressList *list;
	InternetAddress *addr;
	char *number = NULL;
	const char *at, *mailbox;

	if (from == NULL)
		return NULL;
	list = internet_address_list_parse(NULL, from);
	if (list == NULL)
		return NULL;
	addr = internet_address_list_length(list) > 0
		? internet_address_list_get_address(list, 0) : NULL;
	if (addr != NULL && INTERNET_ADDRESS_IS_MAILBOX(addr)) {
		mailbox = internet_address_mailbox_get_addr(
			INTERNET_ADDRESS_MAILBOX(addr));
		at = strchr(mailbox, '@');
		number = g_strndup(mailbox, at != NULL ? (gsize)(at - mailbox)
						       : strlen(mailbox));
		for (const char *c = number + (number[0] == '+'); ; c++) {
			if (*c == '\0' && c > number + (number[0] == '+'))
				break;
			if (!g_ascii_isdigit(*c)) {
				g_clear_pointer(&number, g_free);
				break;
			}
		}
	}
	g_object_unref(list);
	return number;
}

static char sms_type(enum index_context context)
{
	switch (context) {
	case INDEX_CONTEXT_VIDEO:
		return 'o';
	case INDEX_CONTEXT_FAX:
		return 'f';
	default:
		return 'v';
	}
}

static int deposit(struct vvmfs *fs, struct pending *p, const char **reason_r)
{
	g_autoptr(GBytes) canonical = NULL;
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GBytes) audio = NULL;
	g_autofree char *sender = NULL;
	struct index *index = NULL;
	struct ms_deposit d = { 0 };
	int ret;

	if (p->len == 0) {
		*reason_r = "empty message";
		return -EINVAL;
	}
	if (index_is_canonical(p->data, p->len)) {
		/* Already CRLF (as shims write): store the buffer itself. */
		canonical = g_bytes_new_take(p->data, p->len);
		p->data = NULL;
		p->len = p->capacity = 0;
	} else {
		canonical = index_canonicalize(p->data, p->len);
	}
	ret = index_message(g_bytes_get_data(canonical, NULL),
			    g_bytes_get_size(canonical), &fs->index_limits,
			    &index, reason_r);
	if (ret == 0)
		ret = media_commit(fs, &canonical, &index, &audio, reason_r);
	if (ret < 0) {
		index_free(&index);
		return ret;
	}
	blob = index_serialize(index);
	d.canonical = canonical;
	d.index = blob;
	d.audio = audio;
	d.duration = index->duration;
	d.expires = index->expires;
	d.flags = p->flags;
	d.internaldate = p->internaldate;
	sender = sender_number(g_bytes_get_data(canonical, NULL),
			       g_bytes_get_size(canonical));
	d.sender = sender;
	d.sms_type = sms_type(index->context);
	index_free(&index);
	ret = ms_message_deposit(fs->ms, p->mbox_id, &d, &p->uid, reason_r);
	if (ret == -ENOENT)
		*reason_r = "mailbox no longer exists";
	else if (ret == -EIO && *reason_r == NULL)
		*reason_r = "store failure";
	return ret;
}

int pending_commit(struct vvmfs *fs, struct dyn_node *node)
{
	struct pending *p = node->pending;
	const char *reason = NULL;
	int ret = 0;

	g_mutex_lock(&p->lock);
	switch (p->state) {
	case PENDING_COMMITTED:
		g_mutex_unlock(&p->lock);
		return 0;
	case PENDING_ABANDONED:
		g_mutex_unlock(&p->lock);
		return -ENOENT;
	case PENDING_REJECTED:
		/* Refused while being written (too large). */
		ret = -p->error;
		break;
	case PENDING_WRITING:
		ret = deposit(fs, p, &reason);
		if (ret == 0) {
			p->state = PENDING_COMMITTED;
			drop_data(p);
			break;
		}
		reject(p, -ret, reason != NULL ? reason : g_strerror(-ret));
		ms_mailbox_set_error(fs->ms, p->mbox_id, p->reason);
		g_message("rejected %s in mailbox %u: %s", p->name, p->mbox_id,
			  p->reason);
		break;
	}
	g_mutex_unlock(&p->lock);
	/* Either way the temporary name is gone: the message is now
	 * <uid>.eml, or nothing. The kernel asks again for names in a
	 * mailbox (fs-attr.c), so it needs no telling. */
	dyn_pending_unname(fs, node);
	return ret;
}

void pending_abandon(struct vvmfs *fs, struct dyn_node *node)
{
	struct pending *p = node->pending;
	bool was_writing;

	g_mutex_lock(&p->lock);
	was_writing = p->state == PENDING_WRITING;
	if (was_writing) {
		p->state = PENDING_ABANDONED;
		drop_data(p);
	}
	g_mutex_unlock(&p->lock);
	if (was_writing)
		dyn_pending_unname(fs, node);
}
