/* The MIME scanner: splits a canonical message into header blocks, bodies
 * and parts by its own byte offsets, so every range is exact, and leaves the
 * meaning of header values to GMime. It walks ranges only inside the buffer
 * and trusts nothing but the canonical form index_message() checked. */
#include <errno.h>
#include <string.h>

#include "index-private.h"

static const char *const hdr_names[INDEX_HDR_COUNT] = {
	[INDEX_HDR_DATE] = "Date",
	[INDEX_HDR_SUBJECT] = "Subject",
	[INDEX_HDR_FROM] = "From",
	[INDEX_HDR_SENDER] = "Sender",
	[INDEX_HDR_REPLY_TO] = "Reply-To",
	[INDEX_HDR_TO] = "To",
	[INDEX_HDR_CC] = "Cc",
	[INDEX_HDR_BCC] = "Bcc",
	[INDEX_HDR_IN_REPLY_TO] = "In-Reply-To",
	[INDEX_HDR_MESSAGE_ID] = "Message-ID",
	[INDEX_HDR_CONTENT_TYPE] = "Content-Type",
	[INDEX_HDR_CONTENT_TRANSFER_ENCODING] = "Content-Transfer-Encoding",
	[INDEX_HDR_CONTENT_ID] = "Content-ID",
	[INDEX_HDR_CONTENT_DESCRIPTION] = "Content-Description",
	[INDEX_HDR_CONTENT_DISPOSITION] = "Content-Disposition",
	[INDEX_HDR_CONTENT_LANGUAGE] = "Content-Language",
	[INDEX_HDR_CONTENT_LOCATION] = "Content-Location",
	[INDEX_HDR_CONTENT_MD5] = "Content-MD5",
	[INDEX_HDR_CONTENT_DURATION] = "Content-Duration",
	[INDEX_HDR_MESSAGE_CONTEXT] = "Message-Context",
	[INDEX_HDR_EXPIRES] = "Expires",
};

struct parse_ctx {
	const char *msg;
	const struct index_limits *limits;
	unsigned parts;
	const char *reason;
};

/* A header field being read: where it starts, where its name ends and how
 * long it is once unfolded. */
struct field {
	size_t start;
	size_t name_len;
	size_t end;
	size_t unfolded;
};

static int fail(struct parse_ctx *ctx, const char *reason)
{
	ctx->reason = reason;
	return -EINVAL;
}

/* Returns where the text of the line at pos ends (its CR, or end) and sets
 * *next_r to the start of the following line. */
static size_t line_end(const char *msg, size_t pos, size_t end, size_t *next_r)
{
	const char *nl = memchr(msg + pos, '\n', end - pos);
	size_t lf;

	if (nl == NULL) {
		*next_r = end;
		return end;
	}
	lf = (size_t)(nl - msg);
	*next_r = lf + 1;
	/* The canonical form puts a CR before every LF, but a range may
	 * start right after that CR; never step back out of it. */
	return lf > pos && msg[lf - 1] == '\r' ? lf - 1 : lf;
}

static gboolean is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Copies a field value without its CRLFs (unfolding) or surrounding
 * white space. */
static char *unfold(const char *msg, size_t start, size_t end)
{
	GString *value = g_string_sized_new(end - start);
	size_t i;

	for (i = start; i < end; i++) {
		if (msg[i] != '\r' && msg[i] != '\n')
			g_string_append_c(value, msg[i]);
	}
	g_strstrip(value->str);
	return g_string_free(value, FALSE);
}

static void field_store(struct parse_ctx *ctx, struct index_node *node,
			const struct field *f)
{
	const char *name = ctx->msg + f->start;
	unsigned i;

	for (i = 0; i < INDEX_HDR_COUNT; i++) {
		if (strlen(hdr_names[i]) == f->name_len &&
		    g_ascii_strncasecmp(name, hdr_names[i], f->name_len) == 0)
			break;
	}
	if (i == INDEX_HDR_COUNT || node->hdr[i] != NULL)
		return;
	node->hdr[i] = unfold(ctx->msg, f->start + f->name_len + 1, f->end);
}

/* Length of a valid field name at the start of the line, followed by ':';
 * 0 when the line is no field. */
static size_t field_name_len(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == ':')
			return i;
		if (c < 33 || c > 126)
			return 0;
	}
	return 0;
}

/* Reads the header block of the entity in [start, end): fills node->hdr and
 * the header and body ranges. Without a blank line the whole range must be
 * header fields (a header-only entity). */
static int parse_header(struct parse_ctx *ctx, struct index_node *node,
			size_t start, size_t end)
{
	const char *msg = ctx->msg;
	struct field f = { .name_len = 0 };
	size_t pos = start, next, eol, header_end = end;

	while (pos < end) {
		eol = line_end(msg, pos, end, &next);
		if (eol == pos) {
			header_end = next;
			break;
		}
		if (is_wsp(msg[pos])) {
			if (f.name_len == 0)
				return fail(ctx, "malformed header line");
			f.unfolded += eol - pos;
		} else {
			if (f.name_len != 0)
				field_store(ctx, node, &f);
			f.start = pos;
			f.name_len = field_name_len(msg + pos, eol - pos);
			if (f.name_len == 0)
				return fail(ctx, "malformed header line");
			f.unfolded = eol - pos;
		}
		if (f.unfolded > ctx->limits->max_header_line)
			return fail(ctx, "header line too long");
		f.end = eol;
		pos = next;
	}
	if (f.name_len != 0)
		field_store(ctx, node, &f);
	node->header_offset = start;
	node->header_length = header_end - start;
	node->body_offset = header_end;
	node->body_length = end - header_end;
	return 0;
}

/* Whether the line is "--boundary" or "--boundary--", maybe followed by
 * white space (RFC 2046 5.1.1). */
static gboolean is_delimiter(const char *line, size_t len, const char *boundary,
			     size_t blen, gboolean *close_r)
{
	size_t i = blen + 2;

	if (len < i || line[0] != '-' || line[1] != '-' ||
	    memcmp(line + 2, boundary, blen) != 0)
		return FALSE;
	*close_r = len - i >= 2 && line[i] == '-' && line[i + 1] == '-';
	if (*close_r)
		i += 2;
	for (; i < len; i++) {
		if (!is_wsp(line[i]))
			return FALSE;
	}
	return TRUE;
}

/* The first line starting at or after the line start pos that begins with
 * "--", or end: only those can be delimiters, and memmem() skips the rest
 * far faster than walking every line. */
static size_t next_dash_line(const char *msg, size_t pos, size_t end)
{
	const char *hit;

	if (end - pos >= 2 && msg[pos] == '-' && msg[pos + 1] == '-')
		return pos;
	hit = memmem(msg + pos, end - pos, "\n--", 3);
	return hit != NULL ? (size_t)(hit - msg) + 1 : end;
}

static uint64_t count_lines(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	uint64_t lines = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	if (len > 0 && text[len - 1] != '\n')
		lines++;
	return lines;
}

static int parse_entity(struct parse_ctx *ctx, struct index_node **node_r,
			size_t start, size_t end, unsigned depth,
			gboolean in_digest);

static int add_child(struct parse_ctx *ctx, struct index_node *parent,
		     size_t start, size_t end, unsigned depth,
		     gboolean in_digest)
{
	struct index_node *child = NULL;
	int ret;

	if (depth > ctx->limits->max_depth)
		return fail(ctx, "MIME nesting too deep");
	ret = parse_entity(ctx, &child, start, end, depth, in_digest);
	if (child != NULL)
		g_ptr_array_add(parent->children, child);
	return ret;
}

/* Splits a multipart body at its delimiter lines. The CRLF before a
 * delimiter belongs to the delimiter, so a part ends before it. */
static int parse_multipart(struct parse_ctx *ctx, struct index_node *node,
			   unsigned depth)
{
	const char *boundary = g_mime_content_type_get_parameter(node->type,
								 "boundary");
	gboolean digest = g_ascii_strcasecmp(
		g_mime_content_type_get_media_subtype(node->type), "digest") == 0;
	size_t pos = node->body_offset, end = pos + node->body_length;
	size_t part_start = 0, blen, eol, next;
	gboolean in_part = FALSE, close;
	int ret;

	if (boundary == NULL || *boundary == '\0')
		return fail(ctx, "multipart without boundary");
	blen = strlen(boundary);
	for (pos = next_dash_line(ctx->msg, pos, end); pos < end;
	     pos = next_dash_line(ctx->msg, next, end)) {
		eol = line_end(ctx->msg, pos, end, &next);
		if (!is_delimiter(ctx->msg + pos, eol - pos, boundary, blen,
				  &close))
			continue;
		if (in_part) {
			ret = add_child(ctx, node, part_start,
					pos > part_start ? pos - 2 : part_start,
					depth + 1, digest);
			if (ret < 0)
				return ret;
		}
		if (close) {
			if (node->children->len == 0)
				return fail(ctx, "multipart without any part");
			return 0;
		}
		part_start = next;
		in_part = TRUE;
	}
	return fail(ctx, "missing closing MIME boundary");
}

size_t index_token_length(const char *value)
{
	return strcspn(value, " \t(;");
}

gboolean index_token_is(const char *value, const char *token)
{
	size_t len = index_token_length(value);

	return strlen(token) == len && g_ascii_strncasecmp(value, token, len) == 0;
}

/* RFC 2046 5.2.1: only an identity encoding lets us read the message. */
static gboolean is_identity_encoding(const char *cte)
{
	return cte == NULL || index_token_length(cte) == 0 ||
	       index_token_is(cte, "7bit") || index_token_is(cte, "8bit") ||
	       index_token_is(cte, "binary");
}

static int parse_entity(struct parse_ctx *ctx, struct index_node **node_r,
			size_t start, size_t end, unsigned depth,
			gboolean in_digest)
{
	struct index_node *node;
	const char *ct;
	int ret;

	if (++ctx->parts > ctx->limits->max_parts)
		return fail(ctx, "too many MIME parts");
	node = g_new0(struct index_node, 1);
	*node_r = node;
	ret = parse_header(ctx, node, start, end);
	if (ret < 0)
		return ret;
	ct = node->hdr[INDEX_HDR_CONTENT_TYPE];
	if (ct != NULL)
		node->type = g_mime_content_type_parse(NULL, ct);
	else if (in_digest)
		node->type = g_mime_content_type_new("message", "rfc822");
	else
		node->type = g_mime_content_type_new("text", "plain");

	if (index_node_type_is(node, "multipart", NULL)) {
		node->kind = INDEX_NODE_MULTIPART;
		node->children = g_ptr_array_new();
		return parse_multipart(ctx, node, depth);
	}
	if (index_node_type_is(node, "message", "rfc822")) {
		if (!is_identity_encoding(
			    node->hdr[INDEX_HDR_CONTENT_TRANSFER_ENCODING]))
			return fail(ctx, "encoded message/rfc822 part");
		node->kind = INDEX_NODE_MESSAGE;
		node->lines = count_lines(ctx->msg + node->body_offset,
					  node->body_length);
		node->children = g_ptr_array_new();
		return add_child(ctx, node, node->body_offset, end, depth + 1,
				 FALSE);
	}
	node->kind = INDEX_NODE_LEAF;
	node->lines = count_lines(ctx->msg + node->body_offset,
				  node->body_length);
	return 0;
}

gboolean index_node_type_is(const struct index_node *node, const char *type,
			    const char *subtype)
{
	return g_ascii_strcasecmp(g_mime_content_type_get_media_type(node->type),
				  type) == 0 &&
	       (subtype == NULL ||
		g_ascii_strcasecmp(g_mime_content_type_get_media_subtype(
					   node->type),
				   subtype) == 0);
}

void index_node_free(struct index_node *node)
{
	unsigned i;

	if (node == NULL)
		return;
	for (i = 0; i < INDEX_HDR_COUNT; i++)
		g_free(node->hdr[i]);
	if (node->type != NULL)
		g_object_unref(node->type);
	if (node->children != NULL) {
		for (i = 0; i < node->children->len; i++)
			index_node_free(g_ptr_array_index(node->children, i));
		g_ptr_array_free(node->children, TRUE);
	}
	g_free(node);
}

int index_parse(const char *msg, size_t len, const struct index_limits *limits,
		struct index_node **root_r, const char **reason_r)
{
	struct parse_ctx ctx = { .msg = msg, .limits = limits };
	struct index_node *root = NULL;
	int ret;

	ret = parse_entity(&ctx, &root, 0, len, 0, FALSE);
	if (ret < 0) {
		index_node_free(root);
		*reason_r = ctx.reason;
		return ret;
	}
	*root_r = root;
	return 0;
}
