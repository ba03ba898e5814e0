#include "imap-mailbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap-mount.h"
#include "imap-seqset.h"
#include "imap-session.h"
#include "vvm-flags.h"

/* A change feed is a few dozen bytes per message. */
#define CHANGES_MAX (64u * 1024 * 1024)

struct changes {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	GArray *vanished;          /* normalized imap_seq_range, or NULL */
	GArray *msgs;              /* struct imap_msg, in UID order */
};

char *imap_mailbox_dir_name(const char *name)
{
	if (g_ascii_strcasecmp(name, "INBOX") == 0)
		return g_strdup("INBOX");
	if (*name == '\0' || *name == '.' || strchr(name, '/') != NULL ||
	    strcmp(name, "profile") == 0)
		return NULL;
	for (const char *p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL;
	}
	return g_strdup(name);
}

static void changes_clear(struct changes *c)
{
	if (c->vanished != NULL)
		g_array_unref(c->vanished);
	if (c->msgs != NULL)
		g_array_unref(c->msgs);
}

static int parse_u64(const char *text, uint64_t *value_r)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return -EIO;
	*value_r = v;
	return 0;
}

static int parse_header_line(struct changes *c, const char *key,
			     const char *value)
{
	uint64_t v;

	if (strcmp(key, "vanished") == 0) {
		if (c->vanished != NULL || imap_seqset_parse(value, &c->vanished) < 0)
			return -EIO;
		imap_seqset_normalize(c->vanished, G_MAXUINT32);
		return 0;
	}
	if (parse_u64(value, &v) < 0)
		return -EIO;
	if (strcmp(key, "uidvalidity") == 0)
		c->uidvalidity = (uint32_t)v;
	else if (strcmp(key, "uidnext") == 0)
		c->uidnext = (uint32_t)v;
	else if (strcmp(key, "highestmodseq") == 0)
		c->highestmodseq = v;
	else if (strcmp(key, "messages") == 0)
		c->messages = (uint32_t)v;
	/* Keys added by later versions of the feed are ignored. */
	return 0;
}

/* "<uid> <modseq> <flags...>" */
static int parse_msg_line(struct changes *c, char *line)
{
	struct imap_msg msg = { 0 };
	char *modseq = strchr(line, ' ');
	uint64_t v;

	if (modseq == NULL)
		return -EIO;
	*modseq++ = '\0';
	char *flags = strchr(modseq, ' ');
	if (flags != NULL)
		*flags++ = '\0';
	if (parse_u64(line, &v) < 0 || v == 0 || v > G_MAXUINT32)
		return -EIO;
	msg.uid = (uint32_t)v;
	if (parse_u64(modseq, &msg.modseq) < 0)
		return -EIO;
	/* Flags a later vvmfs may add are not this session's to show. */
	char *save = NULL;
	for (char *name = flags != NULL ? strtok_r(flags, " ", &save) : NULL;
	     name != NULL; name = strtok_r(NULL, " ", &save))
		msg.flags |= vvm_flag_from_name(name, strlen(name));
	g_array_append_val(c->msgs, msg);
	return 0;
}

static int read_changes(const struct imap_mailbox *box, uint64_t since,
			struct changes *c)
{
	g_autofree char *path = g_strdup_printf("%s/.changes/%" G_GUINT64_FORMAT,
						box->dir, since);
	g_autofree char *text = NULL;
	size_t len;
	int ret = mount_read_file(path, CHANGES_MAX, &text, &len);

	memset(c, 0, sizeof(*c));
	if (ret < 0)
		return ret;
	c->msgs = g_array_new(FALSE, FALSE, sizeof(struct imap_msg));
	char *next = text;
	while (ret == 0 && *next != '\0') {
		char *line = next;
		char *nl = strchr(line, '\n');
		if (nl == NULL)
			return -EIO;
		*nl = '\0';
		next = nl + 1;
		char *space = strchr(line, ' ');
		if (g_ascii_isdigit(*line))
			ret = parse_msg_line(c, line);
		else if (space != NULL) {
			*space = '\0';
			ret = parse_header_line(c, line, space + 1);
		} else
			ret = -EIO;
	}
	if (ret == 0 && c->uidvalidity == 0)
		ret = -EIO;
	return ret;
}

int imap_mailbox_open(struct imap_session *s, const char *name,
		      bool readonly, struct imap_mailbox **box_r)
{
	g_autofree char *dir_name = imap_mailbox_dir_name(name);
	struct changes c;

	if (dir_name == NULL)
		return -ENOENT;
	struct imap_mailbox *box = g_new0(struct imap_mailbox, 1);
	box->name = g_strdup(dir_name);
	box->dir = imap_path(s, dir_name);
	box->readonly = readonly;
	box->greetings = strcmp(dir_name, "Greetings") == 0;
	int ret = read_changes(box, 0, &c);
	if (ret < 0) {
		changes_clear(&c);
		imap_mailbox_close(&box);
		return ret == -ENOTDIR ? -ENOENT : ret;
	}
	box->uidvalidity = c.uidvalidity;
	box->uidnext = c.uidnext;
	box->highestmodseq = c.highestmodseq;
	box->recent_floor = c.uidnext;
	box->msgs = g_array_ref(c.msgs);
	changes_clear(&c);
	*box_r = box;
	return 0;
}

static void summary_free(gpointer data)
{
	struct msg_summary *sum = data;

	g_free(sum->envelope);
	g_free(sum->bodystructure);
	g_free(sum->body);
	g_free(sum->sections);
	g_free(sum->header);
	g_free(sum);
}

/* Reads "+ <size> <date> <lengths...>\n<bytes>\n" after a message line. */
static const char *parse_summary(const char *p, const char *end,
				 struct msg_summary **sum_r)
{
	unsigned long long size, lens[5];
	long long date;
	int used = 0;

	if (sscanf(p, "+ %llu %lld %llu %llu %llu %llu %llu\n%n", &size,
		   &date, &lens[0], &lens[1], &lens[2], &lens[3], &lens[4],
		   &used) != 7 || used == 0)
		return NULL;
	p += used;
	unsigned long long total = 1;
	for (int i = 0; i < 5; i++)
		total += lens[i];
	if ((unsigned long long)(end - p) < total || p[total - 1] != '\n')
		return NULL;
	struct msg_summary *sum = g_new0(struct msg_summary, 1);
	char **fields[] = { &sum->envelope, &sum->bodystructure, &sum->body,
			    &sum->sections, &sum->header };
	for (int i = 0; i < 5; i++) {
		*fields[i] = g_strndup(p, lens[i]);
		p += lens[i];
	}
	sum->size = size;
	sum->internaldate = date;
	sum->header_len = lens[4];
	*sum_r = sum;
	return p + 1;
}

static void load_summaries(struct imap_mailbox *box)
{
	g_autofree char *path = g_strdup_printf("%s/.changes/0.full", box->dir);
	g_autofree char *text = NULL;
	size_t len;
	uint32_t uid = 0;

	g_clear_pointer(&box->summaries, g_hash_table_unref);
	box->summaries = g_hash_table_new_full(NULL, NULL, NULL, summary_free);
	box->summaries_modseq = box->highestmodseq;
	if (mount_read_file(path, CHANGES_MAX, &text, &len) < 0)
		return;
	const char *p = text, *end = text + len;
	while (p != NULL && p < end) {
		struct msg_summary *sum;
		if (*p == '+') {
			p = parse_summary(p, end, &sum);
			if (p != NULL && uid != 0)
				g_hash_table_replace(box->summaries,
						     GUINT_TO_POINTER(uid), sum);
			else if (p != NULL)
				summary_free(sum);
			uid = 0;
			continue;
		}
		uid = g_ascii_isdigit(*p) ? (uint32_t)strtoul(p, NULL, 10) : 0;
		p = memchr(p, '\n', (size_t)(end - p));
		if (p != NULL)
			p++;
	}
}

const struct msg_summary *imap_mailbox_summary(struct imap_mailbox *box,
					       uint32_t uid)
{
	struct msg_summary *sum = NULL;

	if (box->summaries != NULL)
		sum = g_hash_table_lookup(box->summaries, GUINT_TO_POINTER(uid));
	if (sum == NULL && (box->summaries == NULL ||
			    box->summaries_modseq < box->highestmodseq)) {
		load_summaries(box);
		sum = g_hash_table_lookup(box->summaries, GUINT_TO_POINTER(uid));
	}
	return sum;
}

void imap_mailbox_close(struct imap_mailbox **boxp)
{
	struct imap_mailbox *box = *boxp;

	if (box == NULL)
		return;
	g_clear_pointer(&box->summaries, g_hash_table_unref);
	g_free(box->name);
	g_free(box->dir);
	if (box->msgs != NULL)
		g_array_unref(box->msgs);
	g_free(box);
	*boxp = NULL;
}

uint32_t imap_mailbox_seq(const struct imap_mailbox *box, uint32_t uid)
{
	const struct imap_msg *msgs = (const struct imap_msg *)box->msgs->data;
	uint32_t lo = 0, hi = box->msgs->len;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < box->msgs->len && msgs[lo].uid == uid ? lo + 1 : 0;
}

char *imap_mailbox_msg_path(const struct imap_mailbox *box, uint32_t uid)
{
	return g_strdup_printf("%s/%u.eml", box->dir, uid);
}

void imap_msg_format_flags(const struct imap_msg *msg, GString *out)
{
	g_string_append_c(out, '(');
	vvm_flags_format(msg->flags, out);
	if (msg->recent)
		g_string_append(out, msg->flags != 0 ? " \\Recent" : "\\Recent");
	g_string_append_c(out, ')');
}

void imap_mailbox_note_flags(struct imap_mailbox *box, uint32_t seq,
			     uint32_t flags, uint64_t modseq)
{
	struct imap_msg *msg = imap_mailbox_msg(box, seq);

	msg->flags = flags;
	if (modseq > msg->modseq)
		msg->modseq = modseq;
}

void imap_mailbox_send_flags(struct imap_session *s, uint32_t seq)
{
	const struct imap_msg *msg = imap_mailbox_msg(s->box, seq);
	g_autoptr(GString) flags = g_string_new(NULL);

	imap_msg_format_flags(msg, flags);
	if (s->uid_command)
		imap_send(s, "* %u FETCH (UID %u FLAGS %s)\r\n", seq, msg->uid,
			  flags->str);
	else
		imap_send(s, "* %u FETCH (FLAGS %s)\r\n", seq, flags->str);
}

/* Messages the feed names that the map does not hold yet are new. */
static uint32_t apply_changes(struct imap_session *s, struct changes *c)
{
	struct imap_mailbox *box = s->box;
	uint32_t added = 0, recent = 0;

	for (guint i = 0; i < c->msgs->len; i++) {
		struct imap_msg *in = &g_array_index(c->msgs, struct imap_msg, i);
		uint32_t seq = imap_mailbox_seq(box, in->uid);
		if (seq != 0) {
			struct imap_msg *known = imap_mailbox_msg(box, seq);
			bool changed = known->flags != in->flags;
			known->flags = in->flags;
			known->modseq = in->modseq;
			if (changed && !known->expunged)
				imap_mailbox_send_flags(s, seq);
			continue;
		}
		uint32_t count = box->msgs->len;
		if (count > 0 && imap_mailbox_msg(box, count)->uid > in->uid)
			continue;   /* gone again before we saw it */
		in->recent = in->uid >= box->recent_floor;
		recent += in->recent;
		g_array_append_val(box->msgs, *in);
		added++;
	}
	if (added > 0) {
		imap_send(s, "* %u EXISTS\r\n", box->msgs->len);
		if (recent > 0) {
			uint32_t total = 0;
			for (guint i = 0; i < box->msgs->len; i++)
				total += imap_mailbox_msg(box, i + 1)->recent;
			imap_send(s, "* %u RECENT\r\n", total);
		}
	}
	return added;
}

static void mark_vanished(struct imap_mailbox *box, const GArray *vanished)
{
	for (guint i = 0; i < box->msgs->len; i++) {
		struct imap_msg *msg = imap_mailbox_msg(box, i + 1);
		if (imap_seqset_contains(vanished, msg->uid))
			msg->expunged = true;
	}
}

void imap_mailbox_flush_expunges(struct imap_session *s, bool silent)
{
	struct imap_mailbox *box = s->box;

	for (guint seq = box->msgs->len; seq > 0; seq--) {
		if (!imap_mailbox_msg(box, seq)->expunged)
			continue;
		if (!silent)
			imap_send(s, "* %u EXPUNGE\r\n", seq);
		g_array_remove_index(box->msgs, seq - 1);
	}
}

int imap_mailbox_sync(struct imap_session *s, bool allow_expunge)
{
	struct imap_mailbox *box = s->box;
	struct changes c;
	uint64_t modseq, validity;

	/* Two getxattrs tell whether there is anything to read at all (a
	 * re-created mailbox can be back at the same modseq). */
	if (mount_getxattr_u64(box->dir, -1, "user.imap.highestmodseq",
			       &modseq) == 0 && modseq == box->highestmodseq &&
	    mount_getxattr_u64(box->dir, -1, "user.imap.uidvalidity",
			       &validity) == 0 && validity == box->uidvalidity) {
		if (allow_expunge)
			imap_mailbox_flush_expunges(s, false);
		return 0;
	}
	int ret = read_changes(box, box->highestmodseq, &c);
	uint64_t uidvalidity = 0;

	if (ret < 0)
		ret = mount_getxattr_u64(box->dir, -1, "user.imap.uidvalidity",
					 &uidvalidity) == -ENOENT ? -ENOENT : ret;
	else
		uidvalidity = c.uidvalidity;
	if (ret == -ENOENT) {
		/* The mailbox itself went away: all of it is expunged. */
		for (guint i = 0; i < box->msgs->len; i++)
			imap_mailbox_msg(box, i + 1)->expunged = true;
	} else if (uidvalidity != 0 && uidvalidity != box->uidvalidity) {
		/* Deleted and created again: nothing the client holds is
		 * valid, and RFC 3501 has no way to say so but ending. */
		changes_clear(&c);
		imap_send(s, "* BYE mailbox was re-created; select it "
			     "again\r\n");
		s->state = IMAP_STATE_LOGOUT;
		return 0;
	} else if (ret < 0) {
		changes_clear(&c);
		return ret;
	} else {
		/* Expunges first, so the FETCH and EXISTS that follow use
		 * the sequence numbers the client is left with. */
		if (c.vanished != NULL)
			mark_vanished(box, c.vanished);
		if (allow_expunge)
			imap_mailbox_flush_expunges(s, false);
		apply_changes(s, &c);
		box->uidnext = c.uidnext;
		box->highestmodseq = c.highestmodseq;
	}
	changes_clear(&c);
	if (allow_expunge)
		imap_mailbox_flush_expunges(s, false);
	return 0;
}
