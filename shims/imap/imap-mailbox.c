#include "imap-mailbox.h"

#include <errno.h>
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

/* A number of the change feed, max at most: digits only (strtoull()
 * would take "-1" for 2^64 - 1), else the feed is damaged. */
static int parse_u64(const char *text, uint64_t max, uint64_t *value_r)
{
	guint64 v;

	if (!g_ascii_string_to_unsigned(text, 10, 0, max, &v, NULL))
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
	if (strcmp(key, "highestmodseq") == 0)
		return parse_u64(value, G_MAXUINT64, &c->highestmodseq);
	if (strcmp(key, "uidvalidity") != 0 && strcmp(key, "uidnext") != 0 &&
	    strcmp(key, "messages") != 0)
		return 0; /* keys of later versions of the feed */
	if (parse_u64(value, G_MAXUINT32, &v) < 0)
		return -EIO;
	if (strcmp(key, "uidvalidity") == 0)
		c->uidvalidity = (uint32_t)v;
	else if (strcmp(key, "uidnext") == 0)
		c->uidnext = (uint32_t)v;
	else
		c->messages = (uint32_t)v;
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
	if (parse_u64(line, G_MAXUINT32, &v) < 0 || v == 0)
		return -EIO;
	msg.uid = (uint32_t)v;
	if (parse_u64(modseq, G_MAXUINT64, &msg.modseq) < 0)
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

/* The numbers of a summary's first line, "+ <size> <date> <lengths...>":
 * digits only, each length within the rest of the feed. */
static bool parse_summary_line(char *line, size_t rest, uint64_t *size_r,
			       int64_t *date_r, uint64_t lens[5])
{
	g_auto(GStrv) f = g_strsplit(line, " ", -1);
	guint64 v;
	gint64 date;

	if (g_strv_length(f) != 8 || strcmp(f[0], "+") != 0 ||
	    !g_ascii_string_to_unsigned(f[1], 10, 0, G_MAXUINT64, &v, NULL) ||
	    !g_ascii_string_to_signed(f[2], 10, G_MININT64, G_MAXINT64, &date,
				      NULL))
		return false;
	*size_r = v;
	*date_r = date;
	for (int i = 0; i < 5; i++) {
		if (!g_ascii_string_to_unsigned(f[3 + i], 10, 0, rest, &v,
						NULL))
			return false;
		lens[i] = v;
	}
	return true;
}

/* Reads "+ <size> <date> <lengths...>\n<bytes>\n" after a message line.
 * NULL for a summary that is not one: the cache is then not used for
 * that message, whose attributes come from its file. */
static const char *parse_summary(const char *p, const char *end,
				 struct msg_summary **sum_r)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	uint64_t size, lens[5];
	int64_t date;

	if (nl == NULL)
		return NULL;
	g_autofree char *line = g_strndup(p, (size_t)(nl - p));
	p = nl + 1;
	if (!parse_summary_line(line, (size_t)(end - p), &size, &date, lens))
		return NULL;
	uint64_t total = 1;
	for (int i = 0; i < 5; i++)
		total += lens[i];
	if ((uint64_t)(end - p) < total || p[total - 1] != '\n')
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

/* The UID a message line of the feed starts with, 0 for none. */
static uint32_t line_uid(const char *p, const char *end)
{
	const char *stop = p;
	guint64 uid;

	while (stop < end && g_ascii_isdigit(*stop))
		stop++;
	if (stop == p || stop - p > 10)
		return 0;
	g_autofree char *digits = g_strndup(p, (size_t)(stop - p));
	if (!g_ascii_string_to_unsigned(digits, 10, 1, G_MAXUINT32, &uid,
					NULL))
		return 0;
	return (uint32_t)uid;
}

/* The summaries of 0.full: only a cache, so a feed that cannot be read
 * leaves it empty and each message is read from its file. */
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
		uid = line_uid(p, end);
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
