/* The lexer: a byte-at-a-time state machine, so that input may be split
 * anywhere and nothing is ever read past what the caller passed. Literal
 * sizes are checked when announced, before any of their data arrives. */
#include <string.h>

#include "imap-parser-private.h"

void parser_lit_track(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '{':
		p->lit.stage = LIT_DIGITS;
		p->lit.size = 0;
		p->lit.digits = 0;
		p->lit.nonsync = false;
		break;
	case '+':
		p->lit.stage = p->lit.stage == LIT_DIGITS && p->lit.digits > 0 ?
			LIT_PLUS : LIT_NONE;
		break;
	case '}':
		if ((p->lit.stage == LIT_DIGITS && p->lit.digits > 0) ||
		    p->lit.stage == LIT_PLUS) {
			p->lit.nonsync = p->lit.stage == LIT_PLUS;
			p->lit.stage = LIT_CLOSED;
		} else {
			p->lit.stage = LIT_NONE;
		}
		break;
	case '\r':
		if (p->lit.stage != LIT_CLOSED)
			p->lit.stage = LIT_NONE;
		break;
	default:
		if (c >= '0' && c <= '9' && p->lit.stage == LIT_DIGITS) {
			p->lit.size = p->lit.size > (UINT64_MAX - 9) / 10 ?
				UINT64_MAX : p->lit.size * 10 + (c - '0');
			p->lit.digits++;
		} else {
			p->lit.stage = LIT_NONE;
		}
		break;
	}
}

/* Error recovery: one byte of the rest of a bad line. At its end, the
 * data of a non-synchronizing literal is skipped too, since the client
 * sends it without waiting; a synchronizing one ends the command, as the
 * client waits for a "+" that never comes. */
void parser_skip_byte(struct imap_parser *p, unsigned char c)
{
	if (c != '\n') {
		parser_lit_track(p, c);
		return;
	}
	if (p->lit.stage == LIT_CLOSED && p->lit.nonsync) {
		p->skip_left = p->lit.size;
		p->state = ST_SKIP_LITERAL;
	} else {
		p->state = ST_TAG;
	}
	p->lit.stage = LIT_NONE;
}

enum step parser_fail(struct imap_parser *p, enum imap_parse_error error,
		      const char *msg)
{
	/* Only inside an announcement does lit mean anything yet; the
	 * skipper goes on from there with the offending byte. */
	if (p->state != ST_LITERAL_SIZE && p->state != ST_LITERAL_EOL &&
	    p->state != ST_LITERAL_LF)
		p->lit.stage = LIT_NONE;
	p->error = error;
	p->error_msg = msg;
	p->state = ST_SKIP;
	return STEP_ERROR;
}

static enum step syntax_error(struct imap_parser *p, const char *msg)
{
	return parser_fail(p, IMAP_PARSE_ERROR_SYNTAX, msg);
}

static bool is_ctl_or_8bit(unsigned char c)
{
	return c < 0x20 || c >= 0x7f;
}

/* A new argument may start here: checks the separator and the limit. */
static enum step begin_arg(struct imap_parser *p)
{
	if (p->need_sep)
		return syntax_error(p, "Missing space between arguments");
	if (p->arg_count >= p->limits.max_args)
		return parser_fail(p, IMAP_PARSE_ERROR_TOO_COMPLEX,
				   "Too many arguments");
	p->arg_count++;
	g_string_truncate(p->tok, 0);
	return STEP_NEXT;
}

static void add_token(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg arg = { .type = type, .len = p->tok->len };

	arg.v.str = parser_args_store(p, p->tok->str, p->tok->len);
	parser_args_add(p, &arg);
	p->need_sep = true;
}

static enum step end_of_line(struct imap_parser *p)
{
	if (p->depth > 0)
		return syntax_error(p, "Missing ')'");
	parser_args_finish(p);
	p->state = ST_TAG;
	return STEP_DONE;
}

static enum step start_literal(struct imap_parser *p)
{
	bool sync = !p->lit.nonsync;

	p->lit_size = (uint32_t)p->lit.size;
	p->lit_pos = 0;
	p->lit_flags = (p->lit.nonsync ? IMAP_ARG_FLAG_NONSYNC : 0) |
		       (p->literal8 ? IMAP_ARG_FLAG_LITERAL8 : 0);
	p->lit_data = parser_args_alloc(p, (size_t)p->lit_size + 1);
	p->literal_used += p->lit_size;
	p->lit.stage = LIT_NONE;
	p->state = ST_LITERAL_DATA;
	return sync ? STEP_LITERAL : STEP_NEXT;
}

void parser_end_literal(struct imap_parser *p)
{
	struct imap_arg arg = {
		.type = IMAP_ARG_LITERAL,
		.flags = p->lit_flags,
		.len = p->lit_size,
	};

	p->lit_data[p->lit_size] = '\0';
	if (memchr(p->lit_data, '\0', p->lit_size) != NULL)
		arg.flags |= IMAP_ARG_FLAG_HAS_NUL;
	arg.v.str = p->lit_data;
	p->lit_data = NULL;
	parser_args_add(p, &arg);
	p->need_sep = true;
	p->state = ST_ARGS;
}

static enum step step_tag(struct imap_parser *p, unsigned char c)
{
	if (c == '\r' || c == '\n') {
		if (p->tok->len == 0) {
			/* Empty lines between commands are ignored. */
			p->empty_line = true;
			p->state = ST_EOL_LF;
			return STEP_AGAIN;
		}
		p->cmd.tag = parser_args_store(p, p->tok->str, p->tok->len);
		return syntax_error(p, "Missing command");
	}
	if (c == ' ' && p->tok->len > 0) {
		p->cmd.tag = parser_args_store(p, p->tok->str, p->tok->len);
		g_string_truncate(p->tok, 0);
		p->state = ST_CMD;
		return STEP_NEXT;
	}
	if (c == '+' || !imap_is_astring_char(c))
		return syntax_error(p, "Invalid tag");
	g_string_append_c(p->tok, (char)c);
	return STEP_NEXT;
}

static enum step step_cmd(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' && p->tok->len == 0)
		return STEP_NEXT;
	if (c == ' ' || c == '\r' || c == '\n') {
		if (p->tok->len == 0)
			return syntax_error(p, "Missing command");
		p->cmd.name = parser_args_store(p, p->tok->str, p->tok->len);
		p->state = ST_ARGS;
		return STEP_AGAIN;
	}
	if (!imap_is_atom_char(c))
		return syntax_error(p, "Invalid command name");
	g_string_append_c(p->tok, (char)c);
	return STEP_NEXT;
}

static enum step step_args(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		p->need_sep = false;
		return STEP_NEXT;
	case '\r':
	case '\n':
		p->state = ST_EOL_LF;
		return STEP_AGAIN;
	case ')':
		if (p->depth == 0)
			return syntax_error(p, "Unexpected ')'");
		parser_args_close_list(p);
		p->need_sep = true;
		return STEP_NEXT;
	default:
		break;
	}
	if (is_ctl_or_8bit(c))
		return syntax_error(p, "Invalid characters");
	if (begin_arg(p) == STEP_ERROR)
		return STEP_ERROR;
	switch (c) {
	case '(':
		if (p->depth >= p->limits.max_depth)
			return parser_fail(p, IMAP_PARSE_ERROR_TOO_COMPLEX,
					   "Lists nested too deeply");
		parser_args_open_list(p);
		return STEP_NEXT;
	case '"':
		p->state = ST_QUOTED;
		return STEP_NEXT;
	case '{':
		p->literal8 = false;
		parser_lit_track(p, c);
		p->state = ST_LITERAL_SIZE;
		return STEP_NEXT;
	default:
		p->bracket = 0;
		p->state = ST_ATOM;
		return STEP_AGAIN;
	}
}

static bool has_section_prefix(const GString *tok)
{
	static const char *const names[] = {
		"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		if (g_ascii_strcasecmp(tok->str, names[i]) == 0)
			return true;
	}
	return false;
}

/* Inside the brackets of BODY[...]: anything up to "]" but line ends,
 * with quoted header names whose "]" does not count. */
static enum step step_bracket(struct imap_parser *p, unsigned char c)
{
	if (c == '\r' || c == '\n')
		return syntax_error(p, "Missing ']'");
	if (is_ctl_or_8bit(c) || c == '{')
		return syntax_error(p, "Invalid characters in section");
	if (p->bracket_escape)
		p->bracket_escape = false;
	else if (p->bracket_quote && c == '\\')
		p->bracket_escape = true;
	else if (c == '"')
		p->bracket_quote = !p->bracket_quote;
	else if (!p->bracket_quote && c == ']')
		p->bracket = 2;
	else if (!p->bracket_quote && c == '[')
		return syntax_error(p, "Unexpected '['");
	g_string_append_c(p->tok, (char)c);
	return STEP_NEXT;
}

static enum step step_atom(struct imap_parser *p, unsigned char c)
{
	if (p->bracket == 1)
		return step_bracket(p, c);
	switch (c) {
	case ' ':
	case ')':
	case '\r':
	case '\n':
		add_token(p, p->tok->len == 3 &&
			  g_ascii_strcasecmp(p->tok->str, "NIL") == 0 ?
			  IMAP_ARG_NIL : IMAP_ARG_ATOM);
		p->state = ST_ARGS;
		return STEP_AGAIN;
	case '{':
		if (p->tok->len == 1 && p->tok->str[0] == '~') {
			p->literal8 = true;
			parser_lit_track(p, c);
			p->state = ST_LITERAL_SIZE;
			return STEP_NEXT;
		}
		return syntax_error(p, "Invalid '{' in atom");
	case '(':
	case '"':
		return syntax_error(p, "Missing space between arguments");
	case '[':
		if (p->bracket == 0 && has_section_prefix(p->tok)) {
			p->bracket = 1;
			p->bracket_quote = false;
			p->bracket_escape = false;
		}
		break;
	default:
		if (is_ctl_or_8bit(c))
			return syntax_error(p, "Invalid characters in atom");
		break;
	}
	g_string_append_c(p->tok, (char)c);
	return STEP_NEXT;
}

static enum step step_quoted(struct imap_parser *p, unsigned char c)
{
	if (p->state == ST_QUOTED_ESC) {
		if (c != '"' && c != '\\')
			return syntax_error(p,
					    "Invalid escape in quoted string");
		p->state = ST_QUOTED;
	} else if (c == '"') {
		add_token(p, IMAP_ARG_STRING);
		p->state = ST_ARGS;
		return STEP_NEXT;
	} else if (c == '\\') {
		p->state = ST_QUOTED_ESC;
		return STEP_NEXT;
	} else if (c == '\r' || c == '\n') {
		return syntax_error(p, "Missing '\"' at end of quoted string");
	} else if (c == '\0') {
		return syntax_error(p, "NUL in quoted string");
	}
	g_string_append_c(p->tok, (char)c);
	return STEP_NEXT;
}

static enum step step_literal_size(struct imap_parser *p, unsigned char c)
{
	uint64_t left = p->limits.max_literal_size - p->literal_used;
	bool nonsync = p->lit.stage == LIT_PLUS;

	if (c >= '0' && c <= '9' && p->lit.stage == LIT_DIGITS) {
		parser_lit_track(p, c);
		return STEP_NEXT;
	}
	if (c == '+' && p->lit.stage == LIT_DIGITS && p->lit.digits > 0) {
		parser_lit_track(p, c);
		return STEP_NEXT;
	}
	if (c != '}' || p->lit.digits == 0)
		return syntax_error(p, "Invalid literal size");
	/* On failure the skipper sees "}" and notes a {n+} to skip. */
	if (p->lit.size > left)
		return parser_fail(p, IMAP_PARSE_ERROR_LITERAL_TOO_BIG,
				   "Literal too large");
	if (nonsync && p->lit.size > p->limits.max_nonsync_literal_size)
		return parser_fail(p, IMAP_PARSE_ERROR_LITERAL_TOO_BIG,
				   "Non-synchronizing literal too large");
	parser_lit_track(p, c);
	p->state = ST_LITERAL_EOL;
	return STEP_NEXT;
}

/* A CR or LF where a line may end: at the end of a command, or of an
 * empty line. */
static enum step step_eol(struct imap_parser *p, unsigned char c)
{
	if (c == '\r' && !p->saw_cr) {
		p->saw_cr = true;
		return STEP_NEXT;
	}
	if (c != '\n')
		return syntax_error(p, "CR without LF");
	p->saw_cr = false;
	if (!p->empty_line)
		return end_of_line(p);
	p->empty_line = false;
	p->line_used = 0;
	p->state = ST_TAG;
	return STEP_NEXT;
}

enum step parser_step(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_TAG:
		return step_tag(p, c);
	case ST_CMD:
		return step_cmd(p, c);
	case ST_ARGS:
		return step_args(p, c);
	case ST_ATOM:
		return step_atom(p, c);
	case ST_QUOTED:
	case ST_QUOTED_ESC:
		return step_quoted(p, c);
	case ST_LITERAL_SIZE:
		return step_literal_size(p, c);
	case ST_LITERAL_EOL:
		if (c == '\r') {
			p->state = ST_LITERAL_LF;
			return STEP_NEXT;
		}
		if (c == '\n')
			return start_literal(p);
		return syntax_error(p, "Missing CRLF after literal size");
	case ST_LITERAL_LF:
		if (c == '\n')
			return start_literal(p);
		return syntax_error(p, "Missing LF after literal size");
	case ST_EOL_LF:
		return step_eol(p, c);
	case ST_LITERAL_DATA:
	case ST_SKIP:
	case ST_SKIP_LITERAL:
	case ST_RAW_LINE:
		break;
	}
	/* The feed loop handles these states itself. */
	g_assert_not_reached();
}

