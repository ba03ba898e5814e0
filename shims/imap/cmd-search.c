/* SEARCH and UID SEARCH: the whole of RFC 3501's criteria, flags from the
 * map, everything else from the message files. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "imap-commands.h"
#include "imap-mailbox.h"
#include "imap-msgfile.h"
#include "imap-search.h"
#include "imap-seqset.h"
#include "vvm-flags.h"

struct search_msg {
	struct imap_session *s;
	uint32_t seq;
	struct imap_msg *msg;
	struct msgfile mf;
	char *header;          /* the top-level header, lazily */
	int error;             /* the first read error, if any */
};

static const char *msg_header(struct search_msg *m)
{
	struct msg_range range;

	if (m->header != NULL)
		return m->header;
	int ret = msgfile_section(&m->mf, "", true, &range);
	if (ret == 0)
		ret = msgfile_read(&m->mf, range.offset, range.length,
				   &m->header);
	if (ret < 0) {
		m->error = ret;
		m->header = g_strdup("");
	}
	return m->header;
}

/* Case-insensitive substring, ASCII letters folded. */
static bool contains(const char *haystack, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return true;
	for (size_t i = 0; i + n <= len; i++) {
		if (g_ascii_strncasecmp(haystack + i, needle, n) == 0)
			return true;
	}
	return false;
}

static bool header_matches(struct search_msg *m, const char *field,
			   const char *value)
{
	const char *header = msg_header(m);
	char *fields[] = { (char *)field, NULL };
	g_autoptr(GString) found = header_filter(header, strlen(header),
						 fields, false);
	/* Drop the field names so the value alone is searched. */
	size_t skip = strlen(field) + 1;

	if (found->len <= 2)
		return false;
	return contains(found->str + skip, found->len - skip, value);
}

static bool text_matches(struct search_msg *m, bool body_only,
			 const char *value)
{
	struct msg_range range = { 0 };
	uint64_t size;
	g_autofree char *data = NULL;
	int ret = body_only ? msgfile_section(&m->mf, "", false, &range) :
			      msgfile_size(&m->mf, &size);

	if (!body_only)
		range.length = size;
	if (ret == 0)
		ret = msgfile_read(&m->mf, range.offset, range.length, &data);
	if (ret < 0) {
		m->error = ret;
		return false;
	}
	return contains(data, range.length, value);
}

static int64_t day_of(int64_t unix_time)
{
	return unix_time >= 0 ? unix_time / 86400 : (unix_time - 86399) / 86400;
}

static int64_t internal_day(struct search_msg *m)
{
	g_autofree char *value = NULL;

	if (msgfile_xattr(&m->mf, "user.imap.internaldate", &value) < 0)
		return 0;
	return day_of(g_ascii_strtoll(value, NULL, 10));
}

/* The day of the Date header in its own zone ("[Day, ]D Mon YYYY ..."). */
static int64_t sent_day(struct search_msg *m)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char *fields[] = { "Date", NULL };
	const char *header = msg_header(m);
	g_autoptr(GString) date = header_filter(header, strlen(header), fields,
						false);
	const char *p = date->str + MIN(date->len, 5);
	const char *comma = strchr(p, ',');
	unsigned int day, year;
	char month[4];

	if (comma != NULL)
		p = comma + 1;
	if (sscanf(p, " %u %3s %u", &day, month, &year) != 3)
		return 0;
	const char *found = strcasestr(months, month);
	if (found == NULL || strlen(month) != 3 || (found - months) % 3 != 0)
		return 0;
	struct imap_date d = { .year = year < 100 ? year + 1900 : year,
			       .month = (unsigned)(found - months) / 3 + 1,
			       .day = day };
	return day_of(imap_date_to_unix(&d));
}

static bool matches(struct search_msg *m, const struct imap_search_key *key);

static bool all_match(struct search_msg *m, const struct imap_search_key *key)
{
	for (; key != NULL; key = key->next) {
		if (!matches(m, key))
			return false;
	}
	return true;
}

static bool in_set(GArray *set, uint32_t num, uint32_t star)
{
	g_autoptr(GArray) copy = g_array_copy(set);

	imap_seqset_normalize(copy, star);
	return imap_seqset_contains(copy, num);
}

static bool matches_flag(const struct imap_msg *msg, enum imap_search_type t)
{
	switch (t) {
	case IMAP_SEARCH_ANSWERED: return msg->flags & VVM_FLAG_ANSWERED;
	case IMAP_SEARCH_DELETED: return msg->flags & VVM_FLAG_DELETED;
	case IMAP_SEARCH_DRAFT: return msg->flags & VVM_FLAG_DRAFT;
	case IMAP_SEARCH_FLAGGED: return msg->flags & VVM_FLAG_FLAGGED;
	case IMAP_SEARCH_SEEN: return msg->flags & VVM_FLAG_SEEN;
	case IMAP_SEARCH_RECENT: return msg->recent;
	case IMAP_SEARCH_NEW: return msg->recent && !(msg->flags & VVM_FLAG_SEEN);
	case IMAP_SEARCH_OLD: return !msg->recent;
	case IMAP_SEARCH_UNANSWERED: return !(msg->flags & VVM_FLAG_ANSWERED);
	case IMAP_SEARCH_UNDELETED: return !(msg->flags & VVM_FLAG_DELETED);
	case IMAP_SEARCH_UNDRAFT: return !(msg->flags & VVM_FLAG_DRAFT);
	case IMAP_SEARCH_UNFLAGGED: return !(msg->flags & VVM_FLAG_FLAGGED);
	case IMAP_SEARCH_UNSEEN: return !(msg->flags & VVM_FLAG_SEEN);
	default: return false;
	}
}

static bool matches(struct search_msg *m, const struct imap_search_key *key)
{
	struct imap_mailbox *box = m->s->box;
	uint32_t count = imap_mailbox_count(box);
	uint64_t size = 0;
	const char *field = NULL;

	switch (key->type) {
	case IMAP_SEARCH_ALL:
		return true;
	case IMAP_SEARCH_KEYWORD:
	case IMAP_SEARCH_UNKEYWORD: {
		uint32_t flag = vvm_flag_from_name(key->u.str, strlen(key->u.str));
		bool set = flag != 0 && (m->msg->flags & flag);
		return key->type == IMAP_SEARCH_KEYWORD ? set : !set;
	}
	case IMAP_SEARCH_BCC: field = "Bcc"; break;
	case IMAP_SEARCH_CC: field = "Cc"; break;
	case IMAP_SEARCH_FROM: field = "From"; break;
	case IMAP_SEARCH_SUBJECT: field = "Subject"; break;
	case IMAP_SEARCH_TO: field = "To"; break;
	case IMAP_SEARCH_HEADER:
		return header_matches(m, key->u.header.field,
				      key->u.header.value);
	case IMAP_SEARCH_BODY:
		return text_matches(m, true, key->u.str);
	case IMAP_SEARCH_TEXT:
		return text_matches(m, false, key->u.str);
	case IMAP_SEARCH_BEFORE:
		return internal_day(m) < day_of(imap_date_to_unix(&key->u.date));
	case IMAP_SEARCH_ON:
		return internal_day(m) == day_of(imap_date_to_unix(&key->u.date));
	case IMAP_SEARCH_SINCE:
		return internal_day(m) >= day_of(imap_date_to_unix(&key->u.date));
	case IMAP_SEARCH_SENTBEFORE:
		return sent_day(m) < day_of(imap_date_to_unix(&key->u.date));
	case IMAP_SEARCH_SENTON:
		return sent_day(m) == day_of(imap_date_to_unix(&key->u.date));
	case IMAP_SEARCH_SENTSINCE:
		return sent_day(m) >= day_of(imap_date_to_unix(&key->u.date));
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
		if (msgfile_size(&m->mf, &size) < 0)
			return false;
		return key->type == IMAP_SEARCH_LARGER ? size > key->u.size :
							 size < key->u.size;
	case IMAP_SEARCH_MODSEQ:
		return m->msg->modseq >= key->u.modseq;
	case IMAP_SEARCH_SEQSET:
		return in_set(key->u.seqset, m->seq, count);
	case IMAP_SEARCH_UID:
		return in_set(key->u.seqset, m->msg->uid,
			      count > 0 ? imap_mailbox_msg(box, count)->uid : 0);
	case IMAP_SEARCH_NOT:
		return !matches(m, key->u.sub);
	case IMAP_SEARCH_OR:
		return matches(m, key->u.sub) || matches(m, key->u.sub->next);
	case IMAP_SEARCH_AND:
		return all_match(m, key->u.sub);
	default:
		return matches_flag(m->msg, key->type);
	}
	return header_matches(m, field, key->u.str);
}

void imap_search(struct imap_session *s, const struct imap_arg *args)
{
	struct imap_search *search = NULL;
	const char *error;
	bool failed = false;

	if (imap_search_parse(args, &search, &error) < 0) {
		imap_bad(s, "%s", error);
		return;
	}
	if (search->charset != NULL &&
	    g_ascii_strcasecmp(search->charset, "US-ASCII") != 0 &&
	    g_ascii_strcasecmp(search->charset, "UTF-8") != 0) {
		imap_search_free(&search);
		imap_no(s, "[BADCHARSET (US-ASCII UTF-8)] unknown charset");
		return;
	}
	imap_send(s, "* SEARCH");
	for (uint32_t seq = 1; seq <= imap_mailbox_count(s->box); seq++) {
		struct search_msg m = { .s = s, .seq = seq,
					.msg = imap_mailbox_msg(s->box, seq) };
		if (m.msg->expunged)
			continue;
		msgfile_init(&m.mf, s->box, m.msg->uid);
		if (all_match(&m, search->keys))
			imap_send(s, " %u", s->uid_command ? m.msg->uid : seq);
		failed = failed || (m.error < 0 && m.error != -ENOENT);
		msgfile_clear(&m.mf);
		g_free(m.header);
	}
	imap_send(s, "\r\n");
	imap_search_free(&search);
	if (failed)
		imap_no(s, "application error");
	else
		imap_ok(s, "SEARCH completed");
}

void cmd_search(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count == 0) {
		imap_bad(s, "SEARCH needs criteria");
		return;
	}
	imap_search(s, cmd->args);
}
