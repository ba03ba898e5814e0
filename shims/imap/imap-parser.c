/* The parser's life cycle and its feeding loop: text goes byte by byte to
 * the lexer (imap-parser-lexer.c), literal data and skipped bytes in bulk.
 * Every byte of command text is counted against max_line_length before
 * the lexer may store it. */
#include <errno.h>
#include <string.h>

#include "imap-parser-private.h"

void imap_parser_limits_preauth(struct imap_parser_limits *limits_r)
{
	limits_r->max_line_length = 8192;
	limits_r->max_literal_size = 8192;
	/* LITERAL+ is advertised: any {n+} within the literal limit. */
	limits_r->max_nonsync_literal_size = 8192;
	limits_r->max_args = 128;
	limits_r->max_depth = 4;
}

void imap_parser_limits_auth(struct imap_parser_limits *limits_r)
{
	limits_r->max_line_length = 65536;
	limits_r->max_literal_size = 32u << 20;
	limits_r->max_nonsync_literal_size = 32u << 20;
	limits_r->max_args = 4096;
	limits_r->max_depth = 32;
}

static bool limits_valid(const struct imap_parser_limits *limits)
{
	return limits->max_line_length > 0 && limits->max_literal_size > 0 &&
	       limits->max_nonsync_literal_size > 0 && limits->max_args > 0 &&
	       limits->max_depth > 0;
}

struct imap_parser *imap_parser_create(const struct imap_parser_limits *limits)
{
	struct imap_parser *p;

	g_return_val_if_fail(limits_valid(limits), NULL);
	p = g_new0(struct imap_parser, 1);
	p->limits = *limits;
	p->tok = g_string_sized_new(256);
	parser_args_init(p);
	return p;
}

void imap_parser_destroy(struct imap_parser **parser)
{
	struct imap_parser *p = *parser;

	if (p == NULL)
		return;
	parser_args_deinit(p);
	g_string_free(p->tok, TRUE);
	g_free(p);
	*parser = NULL;
}

static bool between_commands(const struct imap_parser *p)
{
	return p->finished || (p->state == ST_TAG && p->line_used == 0) ||
	       p->state == ST_SKIP || p->state == ST_SKIP_LITERAL;
}

int imap_parser_set_limits(struct imap_parser *p,
			   const struct imap_parser_limits *limits)
{
	if (!limits_valid(limits))
		return -EINVAL;
	if (!between_commands(p))
		return -EBUSY;
	p->limits = *limits;
	return 0;
}

/* Forgets the previous command, but not an error skip in progress. */
static void command_reset(struct imap_parser *p)
{
	parser_args_reset(p);
	g_string_truncate(p->tok, 0);
	p->finished = false;
	p->line_used = 0;
	p->literal_used = 0;
	p->arg_count = 0;
	p->need_sep = false;
	p->empty_line = false;
	p->saw_cr = false;
	p->error = IMAP_PARSE_ERROR_NONE;
	p->error_msg = NULL;
}

/* Moves literal data or skipped bytes; returns how many it took. */
static size_t take_bulk(struct imap_parser *p, const unsigned char *in,
			size_t pos, size_t len)
{
	size_t n;

	if (p->state == ST_LITERAL_DATA) {
		n = MIN(len - pos, (size_t)(p->lit_size - p->lit_pos));
		if (n > 0)
			memcpy(p->lit_data + p->lit_pos, in + pos, n);
		p->lit_pos += (uint32_t)n;
		if (p->lit_pos == p->lit_size)
			parser_end_literal(p);
		return n;
	}
	n = (size_t)MIN((uint64_t)(len - pos), p->skip_left);
	p->skip_left -= n;
	if (p->skip_left == 0)
		p->state = ST_SKIP;
	return n;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p,
					const void *data, size_t len,
					size_t *consumed_r)
{
	const unsigned char *in = data;
	size_t pos = 0;

	*consumed_r = 0;
	g_return_val_if_fail(p->state != ST_RAW_LINE, IMAP_PARSE_ERROR);
	if (p->finished)
		command_reset(p);
	for (;;) {
		enum step r;
		unsigned char c;

		/* Before the end-of-input test: a {0} literal ends here. */
		if (p->state == ST_LITERAL_DATA ||
		    p->state == ST_SKIP_LITERAL) {
			pos += take_bulk(p, in, pos, len);
			if (p->state == ST_LITERAL_DATA ||
			    p->state == ST_SKIP_LITERAL)
				break;
			continue;
		}
		if (pos == len)
			break;
		c = in[pos];
		if (p->state == ST_SKIP) {
			parser_skip_byte(p, c);
			pos++;
			continue;
		}
		if (++p->line_used > p->limits.max_line_length)
			r = parser_fail(p, IMAP_PARSE_ERROR_LINE_TOO_LONG,
					"Command line too long");
		else
			r = parser_step(p, c);
		switch (r) {
		case STEP_AGAIN:
			p->line_used--;
			continue;
		case STEP_NEXT:
			pos++;
			continue;
		case STEP_DONE:
			*consumed_r = pos + 1;
			p->finished = true;
			return IMAP_PARSE_DONE;
		case STEP_LITERAL:
			*consumed_r = pos + 1;
			return IMAP_PARSE_NEED_LITERAL_CONTINUATION;
		case STEP_ERROR:
			parser_skip_byte(p, c);
			*consumed_r = pos + 1;
			p->finished = true;
			return IMAP_PARSE_ERROR;
		}
	}
	*consumed_r = pos;
	return IMAP_PARSE_NEED_MORE;
}

enum imap_parse_result imap_parser_read_line(struct imap_parser *p,
					     const void *data, size_t len,
					     size_t *consumed_r,
					     const char **line_r)
{
	const unsigned char *in = data;
	size_t pos = 0;

	*consumed_r = 0;
	g_return_val_if_fail(p->state == ST_RAW_LINE || between_commands(p),
			     IMAP_PARSE_ERROR);
	if (p->finished)
		command_reset(p);
	while (pos < len) {
		unsigned char c;

		if (p->state == ST_SKIP_LITERAL) {
			pos += take_bulk(p, in, pos, len);
			continue;
		}
		c = in[pos++];
		if (p->state == ST_SKIP) {
			parser_skip_byte(p, c);
			continue;
		}
		p->state = ST_RAW_LINE;
		if (c == '\n') {
			if (p->tok->len > 0 &&
			    p->tok->str[p->tok->len - 1] == '\r')
				g_string_truncate(p->tok, p->tok->len - 1);
			p->state = ST_TAG;
			p->finished = true;
			*line_r = p->tok->str;
			*consumed_r = pos;
			return IMAP_PARSE_DONE;
		}
		if (c == '\0' || p->tok->len + 1 >= p->limits.max_line_length) {
			p->state = ST_SKIP;
			p->lit.stage = LIT_NONE;
			p->error = c == '\0' ? IMAP_PARSE_ERROR_SYNTAX :
				IMAP_PARSE_ERROR_LINE_TOO_LONG;
			p->error_msg = c == '\0' ? "NUL in line" :
				"Line too long";
			p->finished = true;
			*consumed_r = pos;
			return IMAP_PARSE_ERROR;
		}
		g_string_append_c(p->tok, (char)c);
	}
	*consumed_r = pos;
	return IMAP_PARSE_NEED_MORE;
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
	return p->have_cmd ? &p->cmd : NULL;
}

enum imap_parse_error imap_parser_error(const struct imap_parser *p,
					const char **message_r,
					const char **tag_r)
{
	*message_r = p->error_msg;
	*tag_r = p->cmd.tag;
	return p->error;
}

bool imap_parser_literal(const struct imap_parser *p, uint32_t *size_r,
			 bool *nonsync_r)
{
	if (p->state != ST_LITERAL_DATA)
		return false;
	*size_r = p->lit_size;
	*nonsync_r = (p->lit_flags & IMAP_ARG_FLAG_NONSYNC) != 0;
	return true;
}
