/* libFuzzer target for the IMAP command parser: the input after its
 * first byte is fed in two pieces, split where that byte says, as a
 * server would get it from two reads. Whatever the bytes, nothing may
 * crash, leak or hang, and every command parsed must come out the same
 * when written back in canonical form and parsed again. Every atom,
 * string and list also goes through the sequence-set, FETCH item, SEARCH
 * and date parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "imap-date.h"
#include "imap-fetch-att.h"
#include "imap-parser.h"
#include "imap-search.h"
#include "imap-seqset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct session {
	struct imap_parser *parser;
	unsigned int raw_lines;   /* lines to read outside the grammar */
};

static void serialize_args(GString *out, const struct imap_arg *args)
{
	for (const struct imap_arg *a = args; a->type != IMAP_ARG_EOL; a++) {
		g_string_append_c(out, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			g_string_append(out, a->v.str);
			break;
		case IMAP_ARG_STRING:
			g_string_append_c(out, '"');
			for (size_t i = 0; i < a->len; i++) {
				if (a->v.str[i] == '"' || a->v.str[i] == '\\')
					g_string_append_c(out, '\\');
				g_string_append_c(out, a->v.str[i]);
			}
			g_string_append_c(out, '"');
			break;
		case IMAP_ARG_LITERAL:
			g_string_append_printf(out, "%s{%zu}\r\n",
				(a->flags & IMAP_ARG_FLAG_LITERAL8) ? "~" : "",
				a->len);
			g_string_append_len(out, a->v.str, (gssize)a->len);
			break;
		case IMAP_ARG_LIST:
			g_string_append_c(out, '(');
			serialize_args(out, a->v.list);
			g_string_append_c(out, ')');
			break;
		case IMAP_ARG_EOL:
			abort();
		}
	}
}

static char *serialize(const struct imap_command *cmd, size_t *len_r)
{
	GString *out = g_string_new(cmd->tag);

	g_string_append_printf(out, " %s", cmd->name);
	serialize_args(out, cmd->args);
	g_string_append(out, "\r\n");
	*len_r = out->len;
	return g_string_free(out, FALSE);
}

/* Parses the canonical form again, without limits getting in the way. */
static void check_round_trip(const struct imap_command *cmd)
{
	struct imap_parser_limits limits = {
		.max_line_length = 1u << 24,
		.max_literal_size = 1u << 24,
		.max_nonsync_literal_size = 1u << 24,
		.max_args = 1u << 20,
		.max_depth = 1u << 10,
	};
	struct imap_parser *p = imap_parser_create(&limits);
	size_t len, len2, pos = 0, consumed;
	char *text = serialize(cmd, &len), *text2;
	enum imap_parse_result r;

	do {
		r = imap_parser_feed(p, text + pos, len - pos, &consumed);
		pos += consumed;
	} while (r == IMAP_PARSE_NEED_LITERAL_CONTINUATION);
	if (r != IMAP_PARSE_DONE || pos != len)
		abort();
	text2 = serialize(imap_parser_command(p), &len2);
	if (len != len2 || memcmp(text, text2, len) != 0)
		abort();
	g_free(text);
	g_free(text2);
	imap_parser_destroy(&p);
}

static void check_atom(const char *str)
{
	struct imap_fetch_att att;
	struct imap_date date;
	const char *error;
	GArray *set;
	uint32_t num;

	if (imap_seqset_parse(str, &set) == 0) {
		if (set->len == 0)
			abort();
		imap_seqset_normalize(set, 100);
		(void)imap_seqset_contains(set, 50);
		g_array_free(set, TRUE);
	}
	if (imap_fetch_att_parse(str, &att, &error) == 0) {
		if (att.fields != NULL && att.fields[0] == NULL)
			abort();
		imap_fetch_att_clear(&att);
	} else if (error == NULL) {
		abort();
	}
	if (imap_date_parse(str, &date) == 0)
		(void)imap_date_to_unix(&date);
	(void)imap_parse_number(str, &num);
	(void)imap_parse_nz_number(str, &num);
}

static void check_args(const struct imap_arg *args)
{
	struct imap_search *search;
	const char *error, *str;
	GArray *atts;
	int64_t t;
	int zone;
	size_t len;
	const struct imap_arg *list;
	unsigned int count;

	if (imap_search_parse(args, &search, &error) == 0) {
		if (search->keys == NULL)
			abort();
		imap_search_free(&search);
	}
	for (const struct imap_arg *a = args; a->type != IMAP_ARG_EOL; a++) {
		if (imap_fetch_atts_parse(a, &atts, &error) == 0)
			g_array_free(atts, TRUE);
		if (imap_arg_get_atom(a, &str))
			check_atom(str);
		if (imap_arg_get_string(a, &str) &&
		    imap_datetime_parse(str, &t, &zone) == 0 &&
		    (zone < -1439 || zone > 1439))
			abort();
		(void)imap_arg_get_astring(a, &str);
		(void)imap_arg_get_nstring(a, &str);
		(void)imap_arg_get_list_mailbox(a, &str);
		if (imap_arg_get_data(a, &str, &len) && str[len] != '\0')
			abort();
		if (imap_arg_get_list(a, &list, &count)) {
			if (list[count].type != IMAP_ARG_EOL)
				abort();
			check_args(list);
		}
	}
}

static void handle_command(struct session *s)
{
	const struct imap_command *cmd = imap_parser_command(s->parser);
	struct imap_parser_limits limits;

	if (cmd == NULL || cmd->tag == NULL || cmd->name == NULL)
		abort();
	check_args(cmd->args);
	check_round_trip(cmd);
	if (imap_command_is(cmd, "AUTHENTICATE")) {
		s->raw_lines = 2;
	} else if (imap_command_is(cmd, "IDLE")) {
		s->raw_lines = 1;
	} else if (imap_command_is(cmd, "LOGIN")) {
		/* The server's switch after login, with a smaller literal
		 * limit so that one input cannot take 32 MiB. */
		imap_parser_limits_auth(&limits);
		limits.max_literal_size = 1u << 20;
		if (imap_parser_set_limits(s->parser, &limits) != 0)
			abort();
	}
}

static void feed(struct session *s, const uint8_t *data, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		enum imap_parse_result r;
		const char *msg, *tag, *line;
		size_t consumed = 0;
		bool raw = s->raw_lines > 0, nonsync;
		uint32_t lit_size;

		if (raw) {
			r = imap_parser_read_line(s->parser, data + pos,
						  len - pos, &consumed, &line);
			if (r == IMAP_PARSE_DONE) {
				s->raw_lines--;
				if (strchr(line, '\n') != NULL)
					abort();
			}
		} else {
			r = imap_parser_feed(s->parser, data + pos, len - pos,
					     &consumed);
		}
		if (consumed > len - pos)
			abort();
		pos += consumed;
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			if (pos != len)
				abort();
			break;
		case IMAP_PARSE_DONE:
			if (consumed == 0)
				abort();
			if (!raw)
				handle_command(s);
			break;
		case IMAP_PARSE_NEED_LITERAL_CONTINUATION:
			if (consumed == 0 ||
			    !imap_parser_literal(s->parser, &lit_size,
						 &nonsync) || nonsync)
				abort();
			break;
		case IMAP_PARSE_ERROR:
			if (consumed == 0 ||
			    imap_parser_error(s->parser, &msg, &tag) ==
			    IMAP_PARSE_ERROR_NONE || msg == NULL)
				abort();
			/* A bad SASL line ends the exchange; the next raw
			 * line, if any, begins where that one is skipped. */
			if (raw)
				s->raw_lines--;
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits limits;
	struct session s = { 0 };
	size_t split;

	if (size == 0)
		return 0;
	/* The first byte says where to split the rest. */
	split = (size_t)data[0] * (size - 1) / 256;
	data++;
	size--;
	imap_parser_limits_preauth(&limits);
	s.parser = imap_parser_create(&limits);
	feed(&s, data, split);
	feed(&s, data + split, size - split);
	imap_parser_destroy(&s.parser);
	return 0;
}
