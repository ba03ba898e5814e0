/* Entry points of the indexer: checks the bytes, has the tree built, checks
 * what a stored message must carry and turns the tree into struct index. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "index-private.h"

void index_init(void)
{
	static gsize done;

	if (g_once_init_enter(&done)) {
		g_mime_init();
		g_once_init_leave(&done, 1);
	}
}

void index_limits_default(struct index_limits *limits_r)
{
	limits_r->max_size = 64 * 1024 * 1024;
	limits_r->max_depth = 16;
	limits_r->max_parts = 256;
	limits_r->max_header_line = 64 * 1024;
}

static size_t count_byte(const char *p, const char *end, char c)
{
	size_t n = 0;

	while ((p = memchr(p, c, (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

bool index_is_canonical(const void *raw, size_t raw_len)
{
	const char *start = raw, *end = start + raw_len, *lf;

	if (raw_len == 0)
		return true;
	/* Every LF preceded by a CR, and no CR but those. */
	for (lf = memchr(start, '\n', raw_len); lf != NULL;
	     lf = memchr(lf + 1, '\n', (size_t)(end - lf - 1))) {
		if (lf == start || lf[-1] != '\r')
			return false;
	}
	return count_byte(start, end, '\r') == count_byte(start, end, '\n');
}

GBytes *index_canonicalize(const void *raw, size_t raw_len)
{
	const char *p = raw, *end, *run;
	GString *out;

	if (raw_len == 0)
		return g_bytes_new(NULL, 0);
	end = p + raw_len;
	out = g_string_sized_new(raw_len);
	while (p < end) {
		for (run = p; p < end && *p != '\r' && *p != '\n'; p++)
			;
		g_string_append_len(out, run, p - run);
		if (p == end)
			break;
		if (*p == '\r' && p + 1 < end && p[1] == '\n')
			p++;
		p++;
		g_string_append_len(out, "\r\n", 2);
	}
	return g_string_free_to_bytes(out);
}

/* Every offset refers to the canonical form, so anything else is refused
 * rather than guessed at. */
static const char *check_bytes(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		switch (msg[i]) {
		case '\0':
			return "NUL byte in message";
		case '\r':
			if (i + 1 == len || msg[i + 1] != '\n')
				return "bare CR or LF in message";
			i++;
			break;
		case '\n':
			return "bare CR or LF in message";
		default:
			break;
		}
	}
	return NULL;
}

static enum index_context parse_context(const char *value)
{
	static const struct {
		const char *token;
		enum index_context context;
	} contexts[] = {
		{ "voice-message", INDEX_CONTEXT_VOICE },
		{ "video-message", INDEX_CONTEXT_VIDEO },
		{ "fax-message", INDEX_CONTEXT_FAX },
		{ "text-message", INDEX_CONTEXT_TEXT },
		{ "multimedia-message", INDEX_CONTEXT_MULTIMEDIA },
	};
	size_t i;

	if (value == NULL)
		return INDEX_CONTEXT_NONE;
	/* The token may be followed by a comment (RFC 3458 uses CFWS). */
	for (i = 0; i < G_N_ELEMENTS(contexts); i++) {
		if (index_token_is(value, contexts[i].token))
			return contexts[i].context;
	}
	return INDEX_CONTEXT_OTHER;
}

static int64_t parse_date(const char *value)
{
	GDateTime *date = value != NULL ? g_mime_utils_header_decode_date(value) :
					  NULL;
	int64_t t;

	if (date == NULL)
		return 0;
	t = g_date_time_to_unix(date);
	g_date_time_unref(date);
	return t;
}

/* The first audio part with a Content-Duration, outside encapsulated
 * messages (a forwarded message's audio is not this message's). */
static const char *audio_duration(const struct index_node *node)
{
	const char *value = NULL;
	unsigned i;

	if (node->kind == INDEX_NODE_MULTIPART) {
		for (i = 0; i < node->children->len && value == NULL; i++)
			value = audio_duration(
				g_ptr_array_index(node->children, i));
		return value;
	}
	if (node->kind == INDEX_NODE_LEAF &&
	    index_node_type_is(node, "audio", NULL))
		return node->hdr[INDEX_HDR_CONTENT_DURATION];
	return NULL;
}

/* RFC 3803: decimal seconds, nothing else. Not g_ascii_string_to_unsigned():
 * in GLib 2.74 the first call in a process can fail spuriously when it is
 * the one that sets up GLib's C locale, which may leave errno set. */
static bool parse_seconds(const char *text, guint64 *seconds_r)
{
	guint64 n = 0;
	const char *p;

	if (*text == '\0')
		return false;
	for (p = text; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p) || n > (G_MAXINT64 - 9) / 10)
			return false;
		n = n * 10 + (guint64)(*p - '0');
	}
	*seconds_r = n;
	return true;
}

/* What RFC 5322 and this server require of a top-level message. */
static const char *check_message(const struct index_node *root,
				 int64_t *duration_r)
{
	const char *duration = root->hdr[INDEX_HDR_CONTENT_DURATION];
	guint64 seconds;

	if (root->hdr[INDEX_HDR_FROM] == NULL)
		return "no From header";
	if (!index_envelope_has_from(root))
		return "From header without an address";
	if (root->hdr[INDEX_HDR_DATE] == NULL)
		return "no Date header";
	if (duration == NULL)
		duration = audio_duration(root);
	if (duration == NULL) {
		*duration_r = -1;
		return NULL;
	}
	if (!parse_seconds(duration, &seconds))
		return "bad Content-Duration";
	*duration_r = (int64_t)seconds;
	return NULL;
}

static void section_clear(gpointer data)
{
	struct index_section *section = data;

	g_free(section->part);
}

struct index *index_alloc(void)
{
	struct index *index = g_new0(struct index, 1);

	index->sections = g_array_new(FALSE, TRUE, sizeof(struct index_section));
	g_array_set_clear_func(index->sections, section_clear);
	return index;
}

static void section_add(GArray *sections, char *part,
			const struct index_node *node)
{
	struct index_section section = {
		.part = part,
		.header_offset = node->header_offset,
		.header_length = node->header_length,
		.body_offset = node->body_offset,
		.body_length = node->body_length,
	};

	g_array_append_val(sections, section);
}

static char *child_name(const char *prefix, unsigned n)
{
	return *prefix == '\0' ? g_strdup_printf("%u", n) :
				 g_strdup_printf("%s.%u", prefix, n);
}

static void sections_part(GArray *sections, const struct index_node *part,
			  char *name);

static void sections_children(GArray *sections, const struct index_node *node,
			      const char *prefix)
{
	unsigned i;

	for (i = 0; i < node->children->len; i++)
		sections_part(sections, g_ptr_array_index(node->children, i),
			      child_name(prefix, i + 1));
}

/* A message is named by its section prefix ("" or "N."), see index.h. */
static void sections_message(GArray *sections, const struct index_node *msg,
			     const char *prefix)
{
	section_add(sections,
		    *prefix == '\0' ? g_strdup("") : g_strconcat(prefix, ".", NULL),
		    msg);
	if (msg->kind == INDEX_NODE_MULTIPART)
		sections_children(sections, msg, prefix);
	else
		sections_part(sections, msg, child_name(prefix, 1));
}

/* Takes name; the array owns it from here. */
static void sections_part(GArray *sections, const struct index_node *part,
			  char *name)
{
	section_add(sections, name, part);
	if (part->kind == INDEX_NODE_MULTIPART)
		sections_children(sections, part, name);
	else if (part->kind == INDEX_NODE_MESSAGE)
		sections_message(sections, g_ptr_array_index(part->children, 0),
				 name);
}

static struct index *index_build(const struct index_node *root, size_t len,
				 int64_t duration)
{
	struct index *index = index_alloc();
	GString *str = g_string_new(NULL);

	index_envelope_append(str, root);
	index->envelope = g_strdup(str->str);
	g_string_truncate(str, 0);
	index_bodystructure_append(str, root, TRUE);
	index->bodystructure = g_strdup(str->str);
	g_string_truncate(str, 0);
	index_bodystructure_append(str, root, FALSE);
	index->body = g_string_free(str, FALSE);

	sections_message(index->sections, root, "");
	index->context_text = g_strdup(root->hdr[INDEX_HDR_MESSAGE_CONTEXT]);
	index->context = parse_context(index->context_text);
	index->duration = duration;
	index->expires = parse_date(root->hdr[INDEX_HDR_EXPIRES]);
	index->date = parse_date(root->hdr[INDEX_HDR_DATE]);
	index->size = len;
	return index;
}

int index_message(const void *canonical, size_t len,
		  const struct index_limits *limits, struct index **index_r,
		  const char **reason_r)
{
	struct index_node *root;
	const char *reason;
	int64_t duration;
	int ret;

	index_init();
	if (len == 0) {
		*reason_r = "empty message";
		return -EINVAL;
	}
	if (len > limits->max_size) {
		*reason_r = "message too large";
		return -EFBIG;
	}
	reason = check_bytes(canonical, len);
	if (reason != NULL) {
		*reason_r = reason;
		return -EINVAL;
	}
	ret = index_parse(canonical, len, limits, &root, reason_r);
	if (ret < 0)
		return ret;
	reason = check_message(root, &duration);
	if (reason != NULL) {
		index_node_free(root);
		*reason_r = reason;
		return -EINVAL;
	}
	*index_r = index_build(root, len, duration);
	index_node_free(root);
	return 0;
}

void index_free(struct index **index)
{
	struct index *i = index != NULL ? *index : NULL;

	if (i == NULL)
		return;
	g_free(i->envelope);
	g_free(i->bodystructure);
	g_free(i->body);
	g_array_unref(i->sections);
	g_free(i->context_text);
	g_free(i);
	*index = NULL;
}

char *index_sections_format(const struct index *index)
{
	GString *out = g_string_new(NULL);
	guint i;

	for (i = 0; i < index->sections->len; i++) {
		const struct index_section *s =
			&g_array_index(index->sections, struct index_section, i);

		g_string_append_printf(out,
				       "%s %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
				       " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
				       "\n",
				       *s->part == '\0' ? "." : s->part,
				       s->header_offset, s->header_length,
				       s->body_offset, s->body_length);
	}
	return g_string_free(out, FALSE);
}
