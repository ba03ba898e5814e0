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
	/* The whole message with ASCII letters folded, and where its body
	 * starts, read once for all TEXT and BODY keys. */
	char *folded;
	size_t folded_len;
	size_t body_offset;
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

/* Case-insensitive (ASCII) substring: the haystack is already folded. */
static bool contains_folded(const char *haystack, size_t len,
			    const char *needle)
{
	g_autofree char *folded = g_ascii_strdown(needle, -1);
	size_t n = strlen(folded);

	return n == 0 || memmem(haystack, len, folded, n) != NULL;
}

/* Each field named field, its value unfolded, tested on its own. */
static bool header_matches(struct search_msg *m, const char *field,
			   const char *value)
{
	const char *header = msg_header(m);
	char *fields[] = { (char *)field, NULL };
	g_autoptr(GString) found = header_filter(header, strlen(header),
						 fields, false);
	size_t name_len = strlen(field);

	for (const char *p = found->str; *p != '\0' && *p != '\r';) {
		const char *end = p;
		/* A field runs until a line that does not start with WSP. */
		do {
			end = strchr(end, '\n');
			end = end != NULL ? end + 1 : p + strlen(p);
		} while (*end == ' ' || *end == '\t');
		GString *v = g_string_new(NULL);
		for (const char *c = p + name_len + 1; c < end; c++) {
			if (*c != '\r' && *c != '\n')
				g_string_append_c(v, g_ascii_tolower(*c));
		}
		bool hit = contains_folded(v->str, v->len, value);
		g_string_free(v, TRUE);
		if (hit)
			return true;
		p = end;
	}
	return false;
}

static bool text_matches(struct search_msg *m, bool body_only,
			 const char *value)
{
	if (m->folded == NULL) {
		struct msg_range body;
		uint64_t size;
		int ret = msgfile_size(&m->mf, &size);
		if (ret == 0)
			ret = msgfile_section(&m->mf, "", false, &body);
		if (ret == 0)
			ret = msgfile_read(&m->mf, 0, size, &m->folded);
		if (ret < 0) {
			m->error = ret;
			return false;
		}
		for (uint64_t i = 0; i < size; i++)
			m->folded[i] = g_ascii_tolower(m->folded[i]);
		m->folded_len = size;
		m->body_offset = MIN(body.offset, size);
	}
	size_t from = body_only ? m->body_offset : 0;
	return contains_folded(m->folded + from, m->folded_len - from, value);
}

static int64_t day_of(int64_t unix_time)
{
	return unix_time >= 0 ? unix_time / 86400 : (unix_time - 86399) / 86400;
}

/* The INTERNALDATE's day; one that cannot be read sets m->error (the
 * SEARCH fails) rather than reading as 1970. */
static int64_t internal_day(struct search_msg *m)
{
	g_autofree char *value = NULL;
	gint64 t;
	int ret = msgfile_xattr(&m->mf, "user.imap.internaldate", &value);

	if (ret == 0 && !g_ascii_string_to_signed(value, 10, G_MININT64 / 2,
						  G_MAXINT64 / 2, &t, NULL))
		ret = -EIO;
	if (ret < 0) {
		m->error = ret;
		return 0;
	}
	return day_of(t);
}

/* The day of the Date header in its own zone ("[Day, ]D Mon YYYY ..."),
 * or INT64_MIN when it cannot be read, which no SENT* key matches. */
static int64_t sent_day(struct search_msg *m)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char *fields[] = { "Date", NULL };
	const char *header = msg_header(m);
	g_autoptr(GString) date = header_filter(header, strlen(header), fields,
						false);
	const char *p = date->str + MIN(date->len, 5);
	unsigned int day, year;
	char month[4];

	/* A weekday ends at a comma before the first digit; commas later
	 * on belong to comments. */
	const char *digit = strpbrk(p, "0123456789");
	const char *comma = strchr(p, ',');
	if (comma != NULL && digit != NULL && comma < digit)
		p = comma + 1;
	if (sscanf(p, " %u %3s %u", &day, month, &year) != 3 ||
	    strlen(month) != 3)
		return INT64_MIN;
	g_autofree char *lower = g_ascii_strdown(month, -1);
	const char *found = strstr(months, lower);
	if (found == NULL || (found - months) % 3 != 0)
		return INT64_MIN;
	/* RFC 5322 4.3: two-digit years 00-49 are 20xx, 50-99 19xx. */
	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	struct imap_date d = { .year = year,
			       .month = (unsigned)(found - months) / 3 + 1,
			       .day = day };
	if (day < 1 || day > 31 || year > 9999)
		return INT64_MIN;
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

/* Puts every sequence set of the tree in order once, before any message
 * is tested. */
static void normalize_sets(struct imap_search_key *key, uint32_t count,
			   uint32_t max_uid)
{
	for (; key != NULL; key = key->next) {
		if (key->type == IMAP_SEARCH_SEQSET)
			imap_seqset_normalize(key->u.seqset, count);
		else if (key->type == IMAP_SEARCH_UID)
			imap_seqset_normalize(key->u.seqset, max_uid);
		else if (key->type == IMAP_SEARCH_NOT ||
			 key->type == IMAP_SEARCH_OR ||
			 key->type == IMAP_SEARCH_AND)
			normalize_sets(key->u.sub, count, max_uid);
	}
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
	uint64_t size = 0;
	const char *field = NULL;
	int ret;
	int64_t sent = key->type == IMAP_SEARCH_SENTBEFORE ||
		       key->type == IMAP_SEARCH_SENTON ||
		       key->type == IMAP_SEARCH_SENTSINCE ? sent_day(m) : 0;

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
		return sent != INT64_MIN &&
		       sent < day_of(imap_date_to_unix(&key->u.date));
	case IMAP_SEARCH_SENTON:
		return sent == day_of(imap_date_to_unix(&key->u.date));
	case IMAP_SEARCH_SENTSINCE:
		return sent != INT64_MIN &&
		       sent >= day_of(imap_date_to_unix(&key->u.date));
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
		if ((ret = msgfile_size(&m->mf, &size)) < 0) {
			m->error = ret;
			return false;
		}
		return key->type == IMAP_SEARCH_LARGER ? size > key->u.size :
							 size < key->u.size;
	case IMAP_SEARCH_MODSEQ:
		return m->msg->modseq >= key->u.modseq;
	case IMAP_SEARCH_SEQSET:
		return imap_seqset_contains(key->u.seqset, m->seq);
	case IMAP_SEARCH_UID:
		return imap_seqset_contains(key->u.seqset, m->msg->uid);
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
	uint32_t count = imap_mailbox_count(s->box);
	normalize_sets(search->keys, count,
		       count > 0 ? imap_mailbox_msg(s->box, count)->uid : 0);
	imap_send(s, "* SEARCH");
	for (uint32_t seq = 1; seq <= imap_mailbox_count(s->box); seq++) {
		struct search_msg m = { .s = s, .seq = seq,
					.msg = imap_mailbox_msg(s->box, seq) };
		if (m.msg->expunged)
			continue;
		msgfile_init(&m.mf, s->box, m.msg->uid, false);
		msgfile_use_summary(&m.mf, s->box, m.msg->uid);
		if (all_match(&m, search->keys))
			imap_send(s, " %u", s->uid_command ? m.msg->uid : seq);
		failed = failed || (m.error < 0 && m.error != -ENOENT);
		msgfile_clear(&m.mf);
		g_free(m.header);
		g_free(m.folded);
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
