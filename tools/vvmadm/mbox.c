/* An mbox splitter for mboxrd, which also reads mboxo: a message starts
 * at a "From " line that opens the file or follows an empty line; that
 * empty line belongs to the separator. Lines matching ^>+From  lose one
 * '>'. Flags come from the Status: and X-Status: headers that mutt, Pine
 * and Dovecot write. No I/O here. */
#include "vvmadm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct line {
	const char *text;
	size_t len;           /* with the line end */
	size_t content_len;   /* without "\n" or "\r\n" */
};

enum mbox_flag {
	MBOX_ANSWERED = 1 << 0,
	MBOX_FLAGGED = 1 << 1,
	MBOX_DELETED = 1 << 2,
	MBOX_SEEN = 1 << 3,
	MBOX_DRAFT = 1 << 4,
};

/* In the canonical order of user.imap.flags. */
static const char *const flag_names[] = {
	"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft",
};

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Reads the line at *pos and moves *pos past it. */
static bool line_next(const char *data, size_t len, size_t *pos,
		      struct line *line_r)
{
	const char *start = data + *pos;
	const char *nl;

	if (*pos >= len)
		return false;
	nl = memchr(start, '\n', len - *pos);
	line_r->text = start;
	line_r->len = nl != NULL ? (size_t)(nl - start) + 1 : len - *pos;
	line_r->content_len = nl != NULL ? (size_t)(nl - start) : line_r->len;
	if (nl != NULL && line_r->content_len > 0 &&
	    start[line_r->content_len - 1] == '\r')
		line_r->content_len--;
	*pos += line_r->len;
	return true;
}

static bool is_from_line(const struct line *line)
{
	return line->content_len >= 5 && memcmp(line->text, "From ", 5) == 0;
}

/* The asctime() date of "From sender Thu Nov 22 10:00:00 2026", taken as
 * UTC; 0 if there is none. By hand, because strptime() would want the
 * month names of the locale. */
static int64_t from_line_date(const struct line *line)
{
	g_autofree char *text = g_strndup(line->text, line->content_len);
	char *date = strchr(text + 5, ' ');
	char wday[4], mon[4];
	int day, hour, min, sec, year;
	g_autoptr(GDateTime) dt = NULL;

	if (date == NULL ||
	    sscanf(date, " %3s %3s %d %d:%d:%d %d", wday, mon, &day, &hour,
		   &min, &sec, &year) != 7)
		return 0;
	for (int m = 0; m < 12; m++) {
		if (strcmp(mon, months[m]) == 0) {
			dt = g_date_time_new_utc(year, m + 1, day, hour, min,
						 sec);
			break;
		}
	}
	return dt != NULL ? g_date_time_to_unix(dt) : 0;
}

static unsigned header_flags(const char *value, size_t len, bool x_status)
{
	unsigned flags = 0;

	for (size_t i = 0; i < len; i++) {
		switch (value[i]) {
		case 'R':
			/* Status: R is read; X-Status: has no R. */
			flags |= x_status ? 0 : MBOX_SEEN;
			break;
		case 'A':
			flags |= x_status ? MBOX_ANSWERED : 0;
			break;
		case 'F':
			flags |= x_status ? MBOX_FLAGGED : 0;
			break;
		case 'D':
			flags |= x_status ? MBOX_DELETED : 0;
			break;
		case 'T':
			flags |= x_status ? MBOX_DRAFT : 0;
			break;
		default:
			break;
		}
	}
	return flags;
}

/* Flags from the header of an (unquoted) message. */
static char *message_flags(const GByteArray *msg)
{
	const char *data = (const char *)msg->data;
	GString *out = g_string_new(NULL);
	unsigned flags = 0;
	size_t pos = 0;
	struct line line;

	while (line_next(data, msg->len, &pos, &line) &&
	       line.content_len > 0) {
		if (line.content_len >= 7 &&
		    g_ascii_strncasecmp(line.text, "Status:", 7) == 0)
			flags |= header_flags(line.text + 7,
					      line.content_len - 7, false);
		else if (line.content_len >= 9 &&
			 g_ascii_strncasecmp(line.text, "X-Status:", 9) == 0)
			flags |= header_flags(line.text + 9,
					      line.content_len - 9, true);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(flag_names); i++) {
		if (flags & (1u << i))
			g_string_append_printf(out, "%s%s",
					       out->len ? " " : "",
					       flag_names[i]);
	}
	return g_string_free(out, FALSE);
}

/* Copies data[start..end) without the mboxrd quoting. */
static GByteArray *unquote(const char *data, size_t start, size_t end)
{
	GByteArray *msg = g_byte_array_sized_new((guint)(end - start));
	struct line line;
	size_t pos = start;

	while (line_next(data, end, &pos, &line)) {
		size_t quotes = 0;

		while (quotes < line.content_len && line.text[quotes] == '>')
			quotes++;
		if (quotes > 0 && line.content_len - quotes >= 5 &&
		    memcmp(line.text + quotes, "From ", 5) == 0)
			g_byte_array_append(msg, (const guint8 *)line.text + 1,
					    (guint)line.len - 1);
		else
			g_byte_array_append(msg, (const guint8 *)line.text,
					    (guint)line.len);
	}
	return msg;
}

void vvmadm_mbox_message_clear(struct vvmadm_mbox_message *msg)
{
	g_clear_pointer(&msg->data, g_bytes_unref);
	g_clear_pointer(&msg->flags, g_free);
}

/* Finds the end of the message whose body starts at *pos: leaves *pos at
 * the next From_ line (or the end) and returns where the message ends,
 * counting its lines into *line_no. */
static size_t message_end(const char *data, size_t len, size_t *pos,
			  unsigned *line_no)
{
	size_t empty_start = 0;
	bool prev_empty = false;
	struct line line;

	for (;;) {
		size_t start = *pos;

		if (!line_next(data, len, pos, &line)) {
			/* The writer's empty line after the last message. */
			return prev_empty ? empty_start : len;
		}
		if (prev_empty && is_from_line(&line)) {
			*pos = start;
			return empty_start;
		}
		(*line_no)++;
		prev_empty = line.content_len == 0;
		if (prev_empty)
			empty_start = start;
	}
}

int vvmadm_mbox_split(GBytes *file,
		      int (*cb)(void *ctx, struct vvmadm_mbox_message *msg),
		      void *ctx)
{
	size_t len;
	const char *data = g_bytes_get_data(file, &len);
	unsigned line_no = 0;
	size_t pos = 0;
	struct line from;

	while (line_next(data, len, &pos, &from)) {
		struct vvmadm_mbox_message msg = { 0 };
		size_t start = pos, end;
		GByteArray *bytes;
		int ret;

		if (!is_from_line(&from))
			return -EINVAL;
		msg.line = ++line_no;
		msg.internaldate = from_line_date(&from);
		end = message_end(data, len, &pos, &line_no);
		bytes = unquote(data, start, end);
		msg.flags = message_flags(bytes);
		msg.data = g_byte_array_free_to_bytes(bytes);
		ret = cb(ctx, &msg);
		vvmadm_mbox_message_clear(&msg);
		if (ret != 0)
			return ret;
	}
	return 0;
}
