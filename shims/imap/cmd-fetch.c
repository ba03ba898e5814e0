/* FETCH and UID FETCH: every data item from the map or from what vvmfs
 * indexed at commit, bodies streamed from the message file. */
#include <errno.h>
#include <string.h>

#include "imap-commands.h"
#include "imap-fetch-att.h"
#include "imap-mailbox.h"
#include "imap-mount.h"
#include "imap-msgfile.h"
#include "shim-io.h"
#include "vvm-flags.h"

#define STREAM_CHUNK (256 * 1024)

struct fetch_ctx {
	struct imap_session *s;
	GArray *atts;
	bool set_seen;        /* an item that is not .PEEK reads the body */
	bool want_flags;
	/* The response so far that is not sent yet: items are added only
	 * once their data is in hand, so a message that vanishes mid-way
	 * leaves no half-written item. */
	GString *line;
	bool started;         /* part of this response already went out */
	unsigned int items;
};

/* "1.2.HEADER.FIELDS (FROM DATE)" as the client asked it, for the
 * response's item name. */
static void append_section_name(GString *out, const struct imap_fetch_att *att)
{
	static const char *const texts[] = {
		[IMAP_SECTION_NONE] = "", [IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT", [IMAP_SECTION_MIME] = "MIME",
	};

	for (unsigned int i = 0; i < att->part_count; i++)
		g_string_append_printf(out, i == 0 ? "%u" : ".%u", att->parts[i]);
	if (att->text != IMAP_SECTION_NONE && att->part_count > 0)
		g_string_append_c(out, '.');
	g_string_append(out, texts[att->text]);
	if (att->fields != NULL) {
		g_string_append(out, " (");
		for (char **f = att->fields; *f != NULL; f++) {
			if (f != att->fields)
				g_string_append_c(out, ' ');
			imap_append_astring(out, *f);
		}
		g_string_append_c(out, ')');
	}
}

static char *part_name(const struct imap_fetch_att *att, bool message)
{
	GString *part = g_string_new(NULL);

	for (unsigned int i = 0; i < att->part_count; i++)
		g_string_append_printf(part, i == 0 ? "%u" : ".%u", att->parts[i]);
	if (message && att->part_count > 0)
		g_string_append_c(part, '.');
	return g_string_free(part, FALSE);
}

/* The bytes a section names: a range of the file, or (HEADER.FIELDS) a
 * filtered copy in *filtered_r. Returns 0, -ENOENT for no such section. */
static int resolve_section(struct msgfile *mf, const struct imap_fetch_att *att,
			   struct msg_range *range_r, GString **filtered_r)
{
	uint64_t size;
	int ret;

	*filtered_r = NULL;
	if (att->part_count == 0 && att->text == IMAP_SECTION_NONE) {
		ret = msgfile_served_size(mf, &size);
		if (ret < 0)
			return ret;
		range_r->offset = 0;
		range_r->length = size;
		return 0;
	}
	bool message = att->text == IMAP_SECTION_HEADER ||
		       att->text == IMAP_SECTION_HEADER_FIELDS ||
		       att->text == IMAP_SECTION_HEADER_FIELDS_NOT ||
		       att->text == IMAP_SECTION_TEXT;
	bool header = att->text != IMAP_SECTION_NONE &&
		      att->text != IMAP_SECTION_TEXT;
	g_autofree char *part = part_name(att, message);
	ret = msgfile_section(mf, part, header, range_r);
	if (ret < 0 || att->fields == NULL)
		return ret;
	g_autofree char *text = NULL;
	ret = msgfile_read(mf, range_r->offset, range_r->length, &text);
	if (ret < 0)
		return ret;
	*filtered_r = header_filter(text, range_r->length, att->fields,
				    att->text == IMAP_SECTION_HEADER_FIELDS_NOT);
	return 0;
}

static void clip_partial(const struct imap_fetch_att *att, uint64_t *offset,
			 uint64_t *length)
{
	if (!att->partial)
		return;
	uint64_t skip = MIN((uint64_t)att->partial_offset, *length);
	*offset += skip;
	*length = MIN(*length - skip, (uint64_t)att->partial_size);
}

/* Starts the next item in the line. */
static GString *item(struct fetch_ctx *ctx)
{
	if (ctx->items++ > 0)
		g_string_append_c(ctx->line, ' ');
	return ctx->line;
}

/* Sends the line so far, before a literal is streamed after it. */
static void send_line(struct fetch_ctx *ctx)
{
	imap_send_data(ctx->s, ctx->line->str, ctx->line->len);
	g_string_truncate(ctx->line, 0);
	ctx->started = true;
}

/* Streams length bytes of the file as a literal after name. The first
 * chunk is read before anything is sent, so a message expunged meanwhile
 * fails cleanly. A failure after that is padded to the announced length,
 * so the client still knows data from responses, and the command ends
 * in NO. */
static int send_file_range(struct fetch_ctx *ctx, struct msgfile *mf,
			   const char *name, uint64_t offset, uint64_t length)
{
	struct imap_session *s = ctx->s;
	uint64_t n = MIN(length, (uint64_t)STREAM_CHUNK);
	g_autofree char *chunk = NULL;
	int ret = length > 0 ? msgfile_read(mf, offset, n, &chunk) : 0;

	if (ret < 0)
		return ret;
	g_string_append_printf(item(ctx), "%s {%" G_GUINT64_FORMAT "}\r\n",
			       name, length);
	send_line(ctx);
	for (;;) {
		imap_send_data(s, chunk, n);
		offset += n;
		length -= n;
		if (length == 0)
			return 0;
		g_clear_pointer(&chunk, g_free);
		n = MIN(length, (uint64_t)STREAM_CHUNK);
		if (msgfile_read(mf, offset, n, &chunk) < 0)
			break;
	}
	static const char spaces[4096] = { [0 ... 4095] = ' ' };
	while (length > 0) {
		n = MIN(length, sizeof(spaces));
		imap_send_data(s, spaces, n);
		length -= n;
	}
	return -EIO;
}

static int send_body_item(struct fetch_ctx *ctx, struct msgfile *mf,
			  const struct imap_fetch_att *att, const char *name)
{
	struct msg_range range;
	g_autoptr(GString) filtered = NULL;
	g_autofree char *full_name = NULL;
	int ret = resolve_section(mf, att, &range, &filtered);

	if (ret == -ENOENT && (mf->fd >= 0 || mf->rendition_fd >= 0 ||
				 mf->summary != NULL)) {
		/* The message is there but has no such part. */
		g_string_append_printf(item(ctx), "%s NIL", name);
		return 0;
	}
	if (ret < 0)
		return ret;
	uint64_t offset = filtered != NULL ? 0 : range.offset;
	uint64_t length = filtered != NULL ? filtered->len : range.length;
	clip_partial(att, &offset, &length);
	full_name = att->partial ?
		g_strdup_printf("%s<%u>", name, att->partial_offset) :
		g_strdup(name);
	if (filtered == NULL)
		return send_file_range(ctx, mf, full_name, offset, length);
	g_string_append_printf(item(ctx), "%s {%" G_GUINT64_FORMAT "}\r\n",
			       full_name, length);
	g_string_append_len(ctx->line, filtered->str + offset, length);
	return 0;
}

static int send_xattr_item(struct fetch_ctx *ctx, struct msgfile *mf,
			   const char *name, const char *xattr)
{
	g_autofree char *value = NULL;
	int ret = msgfile_xattr(mf, xattr, &value);

	if (ret == 0)
		g_string_append_printf(item(ctx), "%s %s", name, value);
	return ret;
}

static int send_internaldate(struct fetch_ctx *ctx, struct msgfile *mf)
{
	g_autofree char *value = NULL;
	gint64 seconds;
	int ret = msgfile_xattr(mf, "user.imap.internaldate", &value);

	if (ret < 0)
		return ret;
	/* Not a number is a mount that failed us, never 1970. */
	if (!g_ascii_string_to_signed(value, 10, G_MININT64, G_MAXINT64,
				      &seconds, NULL))
		return -EIO;
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(seconds);
	if (t == NULL)
		return -EIO;
	g_autofree char *text = g_date_time_format(t, "%d-%b-%Y %H:%M:%S +0000");
	g_string_append_printf(item(ctx), "INTERNALDATE \"%s\"", text);
	return 0;
}

static int send_item(struct fetch_ctx *ctx, uint32_t seq, struct msgfile *mf,
		     const struct imap_fetch_att *att)
{
	struct imap_session *s = ctx->s;
	struct imap_msg *msg = imap_mailbox_msg(s->box, seq);
	g_autoptr(GString) name = g_string_new(NULL);
	struct imap_fetch_att whole = { .type = IMAP_FETCH_BODY_SECTION };
	uint64_t size;
	int ret;

	switch (att->type) {
	case IMAP_FETCH_UID:
		g_string_append_printf(item(ctx), "UID %u", msg->uid);
		return 0;
	case IMAP_FETCH_FLAGS:
		g_string_append(item(ctx), "FLAGS ");
		imap_msg_format_flags(msg, ctx->line);
		return 0;
	case IMAP_FETCH_MODSEQ:
		g_string_append_printf(item(ctx), "MODSEQ (%" G_GUINT64_FORMAT ")",
				       msg->modseq);
		return 0;
	case IMAP_FETCH_INTERNALDATE:
		return send_internaldate(ctx, mf);
	case IMAP_FETCH_RFC822_SIZE:
		ret = msgfile_size(mf, &size);
		if (ret == 0)
			g_string_append_printf(item(ctx), "RFC822.SIZE %"
					       G_GUINT64_FORMAT, size);
		return ret;
	case IMAP_FETCH_ENVELOPE:
		return send_xattr_item(ctx, mf, "ENVELOPE", "user.imap.envelope");
	case IMAP_FETCH_BODYSTRUCTURE:
		return send_xattr_item(ctx, mf, "BODYSTRUCTURE",
				       "user.imap.bodystructure");
	case IMAP_FETCH_BODY:
		return send_xattr_item(ctx, mf, "BODY", "user.imap.body");
	case IMAP_FETCH_RFC822:
		return send_body_item(ctx, mf, &whole, "RFC822");
	case IMAP_FETCH_RFC822_HEADER:
		whole.text = IMAP_SECTION_HEADER;
		return send_body_item(ctx, mf, &whole, "RFC822.HEADER");
	case IMAP_FETCH_RFC822_TEXT:
		whole.text = IMAP_SECTION_TEXT;
		return send_body_item(ctx, mf, &whole, "RFC822.TEXT");
	case IMAP_FETCH_BODY_SECTION:
		g_string_append(name, "BODY[");
		append_section_name(name, att);
		g_string_append_c(name, ']');
		return send_body_item(ctx, mf, att, name->str);
	default:
		return -EOPNOTSUPP;
	}
}

/* Sets \Seen before the body goes out, as a non-PEEK fetch must. */
static void mark_seen(struct fetch_ctx *ctx, uint32_t seq)
{
	struct imap_session *s = ctx->s;
	struct imap_msg *msg = imap_mailbox_msg(s->box, seq);
	g_autofree char *path = imap_mailbox_msg_path(s->box, msg->uid);
	uint64_t modseq = msg->modseq;

	if (s->box->readonly || (msg->flags & VVM_FLAG_SEEN))
		return;
	if (mount_setxattr(path, -1, "user.imap.flags", "+\\Seen") < 0)
		return;
	/* A modseq that cannot be read stays the one the map has: it is
	 * only shown, never checked, and the change feed brings the new
	 * one at the next sync. */
	if (mount_getxattr_u64(path, -1, "user.imap.modseq", &modseq) < 0)
		modseq = msg->modseq;
	imap_mailbox_note_flags(s->box, seq, msg->flags | VVM_FLAG_SEEN,
				modseq);
	ctx->want_flags = true;
}

/* Whether any item needs the message file, not just the map. */
static bool needs_file(const GArray *atts)
{
	for (guint i = 0; i < atts->len; i++) {
		enum imap_fetch_att_type t =
			g_array_index(atts, struct imap_fetch_att, i).type;
		if (t != IMAP_FETCH_UID && t != IMAP_FETCH_FLAGS &&
		    t != IMAP_FETCH_MODSEQ)
			return true;
	}
	return false;
}

/* Answers one message. Returns 0, or -errno: -ENOENT when it is gone,
 * in which case nothing of it was sent unless a literal had started. */
static int fetch_one(struct fetch_ctx *ctx, uint32_t seq)
{
	struct imap_session *s = ctx->s;
	struct imap_msg *msg = imap_mailbox_msg(s->box, seq);
	struct msgfile mf;
	bool flags_sent = false;
	uint64_t size;
	int ret = 0;

	msgfile_init(&mf, s->box, msg->uid, s->transcode);
	if (needs_file(ctx->atts)) {
		msgfile_use_summary(&mf, s->box, msg->uid);
		ret = msgfile_size(&mf, &size);
	}
	if (ret == 0 && ctx->set_seen)
		mark_seen(ctx, seq);
	g_string_printf(ctx->line, "* %u FETCH (", seq);
	ctx->started = false;
	ctx->items = 0;
	if (ret == 0 && s->uid_command)
		g_string_append_printf(item(ctx), "UID %u", msg->uid);
	for (guint i = 0; i < ctx->atts->len && ret == 0; i++) {
		const struct imap_fetch_att *att =
			&g_array_index(ctx->atts, struct imap_fetch_att, i);
		if (att->type == IMAP_FETCH_UID && s->uid_command)
			continue;
		flags_sent = flags_sent || att->type == IMAP_FETCH_FLAGS;
		ret = send_item(ctx, seq, &mf, att);
	}
	if (ret == 0 && ctx->want_flags && !flags_sent) {
		const struct imap_fetch_att flags = { .type = IMAP_FETCH_FLAGS };
		send_item(ctx, seq, &mf, &flags);
	}
	ctx->want_flags = false;
	msgfile_clear(&mf);
	if (ret == 0 || ctx->started) {
		/* After a literal went out the line must be closed, the
		 * failed item left out; EXPUNGEISSUED explains the gap. */
		g_string_append(ctx->line, ")\r\n");
		send_line(ctx);
	}
	return ret;
}

static bool check_atts(struct imap_session *s, GArray *atts, bool *seen_r)
{
	*seen_r = false;
	for (guint i = 0; i < atts->len; i++) {
		const struct imap_fetch_att *att =
			&g_array_index(atts, struct imap_fetch_att, i);
		if (att->type == IMAP_FETCH_BINARY ||
		    att->type == IMAP_FETCH_BINARY_SIZE) {
			imap_bad(s, "BINARY is not supported");
			return false;
		}
		if ((att->type == IMAP_FETCH_BODY_SECTION && !att->peek) ||
		    att->type == IMAP_FETCH_RFC822 ||
		    att->type == IMAP_FETCH_RFC822_TEXT)
			*seen_r = true;
	}
	return true;
}

void imap_fetch(struct imap_session *s, const struct imap_command *cmd,
		const struct imap_arg *args)
{
	const char *set, *error;
	g_autoptr(GArray) seqs = NULL;
	g_autoptr(GArray) atts = NULL;
	g_autoptr(GString) line = g_string_sized_new(1024);
	struct fetch_ctx ctx = { .s = s, .line = line };
	bool gone = false, failed = false;

	if (!imap_arg_get_atom(&args[0], &set) || args[1].type == IMAP_ARG_EOL) {
		imap_bad(s, "FETCH needs a message set and data items");
		return;
	}
	if (args[2].type != IMAP_ARG_EOL) {
		/* CHANGEDSINCE and other modifiers need CONDSTORE. */
		imap_bad(s, "FETCH modifiers are not supported");
		return;
	}
	if (imap_fetch_atts_parse(&args[1], &atts, &error) < 0) {
		imap_bad(s, "%s", error);
		return;
	}
	if (!check_atts(s, atts, &ctx.set_seen))
		return;
	if (imap_message_set(s, set, &seqs) < 0) {
		imap_bad(s, "invalid message set");
		return;
	}
	ctx.atts = atts;
	for (guint i = 0; i < seqs->len && !failed; i++) {
		uint32_t seq = g_array_index(seqs, uint32_t, i);
		int ret = imap_mailbox_msg(s->box, seq)->expunged ? -ENOENT :
								      fetch_one(&ctx, seq);
		if (ret == -ENOENT)
			gone = true;
		else if (ret < 0)
			failed = true;
	}
	if (failed)
		imap_no(s, "application error");
	else if (gone)
		imap_no(s, "[EXPUNGEISSUED] some of the messages no longer "
			   "exist");
	else
		imap_ok(s, "FETCH completed");
}

void cmd_fetch(struct imap_session *s, const struct imap_command *cmd)
{
	imap_fetch(s, cmd, cmd->args);
}
