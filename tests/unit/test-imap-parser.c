/* The IMAP command parser and its helpers (sequence sets, SEARCH keys,
 * FETCH items, dates). Every parser input is fed whole, byte by byte and
 * in random splits, and must give the same result each way; inputs sit
 * right before an unmapped page, so that reading past them crashes. */
#include <errno.h>
#include <string.h>
#include <glib.h>

#include "imap-date.h"
#include "imap-fetch-att.h"
#include "imap-parser.h"
#include "imap-search.h"
#include "imap-seqset.h"
#include "guard-page.h"

#define RANDOM_SPLITS 16

enum feed_mode { FEED_WHOLE, FEED_BYTES, FEED_RANDOM };

/* Copies data to end exactly where the unmapped page begins. Larger
 * inputs go to the heap, where ASan watches the end instead. */
static const char *place(const void *data, size_t len, char **heap_r)
{
	*heap_r = NULL;
	if (len > guard_room) {
		*heap_r = g_memdup2(data, len);
		return *heap_r;
	}
	return guard_place(data, len);
}

/* A NUL-terminated string whose NUL is the page's last byte. */
static const char *place_str(const char *str)
{
	return guard_place(str, strlen(str) + 1);
}

static void dump_args(GString *out, const struct imap_arg *args)
{
	for (const struct imap_arg *a = args; a->type != IMAP_ARG_EOL; a++) {
		if (a != args)
			g_string_append_c(out, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
			g_string_append(out, a->v.str);
			break;
		case IMAP_ARG_NIL:
			g_string_append(out, "NIL");
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
			g_string_append_printf(out, "%s{%zu%s}",
				(a->flags & IMAP_ARG_FLAG_LITERAL8) ? "~" : "",
				a->len,
				(a->flags & IMAP_ARG_FLAG_NONSYNC) ? "+" : "");
			for (size_t i = 0; i < a->len; i++) {
				if (a->v.str[i] == '\0')
					g_string_append(out, "\\0");
				else
					g_string_append_c(out, a->v.str[i]);
			}
			g_assert_cmpint(a->v.str[a->len], ==, '\0');
			g_assert_cmpint(!!(a->flags & IMAP_ARG_FLAG_HAS_NUL), ==,
					memchr(a->v.str, 0, a->len) != NULL);
			break;
		case IMAP_ARG_LIST:
			g_string_append_c(out, '(');
			dump_args(out, a->v.list);
			g_assert_cmpint(a->v.list[a->len].type, ==, IMAP_ARG_EOL);
			g_string_append_c(out, ')');
			break;
		case IMAP_ARG_EOL:
			g_assert_not_reached();
		}
	}
}

static void dump_result(GString *out, struct imap_parser *p,
			enum imap_parse_result r)
{
	const struct imap_command *cmd = imap_parser_command(p);
	const char *msg, *tag;
	uint32_t size;
	bool nonsync;

	switch (r) {
	case IMAP_PARSE_DONE:
		g_assert_nonnull(cmd);
		g_string_append_printf(out, "%s %s", cmd->tag, cmd->name);
		if (cmd->count > 0)
			g_string_append_c(out, ' ');
		dump_args(out, cmd->args);
		g_assert_cmpint(cmd->args[cmd->count].type, ==, IMAP_ARG_EOL);
		g_string_append_c(out, '\n');
		break;
	case IMAP_PARSE_NEED_LITERAL_CONTINUATION:
		g_assert_true(imap_parser_literal(p, &size, &nonsync));
		g_assert_false(nonsync);
		g_string_append_printf(out, "+%u\n", size);
		break;
	case IMAP_PARSE_ERROR:
		g_assert_null(cmd);
		g_assert_cmpint(imap_parser_error(p, &msg, &tag), !=,
				IMAP_PARSE_ERROR_NONE);
		g_string_append_printf(out, "BAD %s %s\n",
				       tag != NULL ? tag : "*", msg);
		break;
	case IMAP_PARSE_NEED_MORE:
		g_assert_not_reached();
	}
}

/* Feeds data in the given manner and returns what came out, one line per
 * command, error or continuation request. */
static char *feed(struct imap_parser *p, const char *data, size_t len,
		  enum feed_mode mode)
{
	GString *out = g_string_new(NULL);
	size_t pos = 0;

	while (pos < len) {
		size_t chunk = mode == FEED_WHOLE ? len - pos :
			       mode == FEED_BYTES ? 1 :
			       (size_t)g_test_rand_int_range(1, (gint32)(len - pos) + 1);
		size_t off = 0;

		while (off < chunk) {
			size_t consumed = SIZE_MAX;
			enum imap_parse_result r;

			if (mode == FEED_RANDOM && g_test_rand_bit()) {
				r = imap_parser_feed(p, data + pos + off, 0,
						     &consumed);
				g_assert_cmpint(r, ==, IMAP_PARSE_NEED_MORE);
				g_assert_cmpuint(consumed, ==, 0);
			}
			r = imap_parser_feed(p, data + pos + off, chunk - off,
					     &consumed);
			g_assert_cmpuint(consumed, <=, chunk - off);
			off += consumed;
			if (r == IMAP_PARSE_NEED_MORE)
				g_assert_cmpuint(off, ==, chunk);
			else
				g_assert_cmpuint(consumed, >, 0);
			if (r != IMAP_PARSE_NEED_MORE)
				dump_result(out, p, r);
		}
		pos += chunk;
	}
	return g_string_free(out, FALSE);
}

/* Runs input through fresh parsers every way and checks each result. */
static void check_limits(const char *input, size_t len, const char *expect,
			 const struct imap_parser_limits *limits)
{
	char *heap;
	const char *data = place(input, len, &heap);

	for (int i = 0; i < 2 + RANDOM_SPLITS; i++) {
		enum feed_mode mode = i == 0 ? FEED_WHOLE :
				      i == 1 ? FEED_BYTES : FEED_RANDOM;
		struct imap_parser *p = imap_parser_create(limits);
		char *got = feed(p, data, len, mode);

		if (strcmp(got, expect) != 0)
			g_test_message("input: %.*s", (int)MIN(len, 200), input);
		g_assert_cmpstr(got, ==, expect);
		g_free(got);
		imap_parser_destroy(&p);
		g_assert_null(p);
	}
	g_free(heap);
}

#define CHECK_LIMITS(in, expect, limits) \
	check_limits(in, sizeof(in) - 1, expect, limits)

static void check(const char *input, const char *expect)
{
	struct imap_parser_limits limits;

	imap_parser_limits_auth(&limits);
	check_limits(input, strlen(input), expect, &limits);
}

static void test_syntax(void)
{
	static const struct {
		const char *input, *expect;
	} cases[] = {
		{ "a NOOP\r\n", "a NOOP\n" },
		{ "a noop\n", "a noop\n" },
		{ "\r\n\n\r\na CAPABILITY\r\n", "a CAPABILITY\n" },
		{ "a1 LOGIN user pass\r\na2 LOGOUT\r\n",
		  "a1 LOGIN user pass\na2 LOGOUT\n" },
		{ "a  FETCH  1   (FLAGS  UID )  \r\n", "a FETCH 1 (FLAGS UID)\n" },
		{ "a LOGIN \"us\\\"er\" \"p\\\\ss\"\r\n",
		  "a LOGIN \"us\\\"er\" \"p\\\\ss\"\n" },
		{ "a SELECT \"\"\r\n", "a SELECT \"\"\n" },
		{ "a SELECT \"Gr\xc3\xbc\xc3\x9f\"\r\n",
		  "a SELECT \"Gr\xc3\xbc\xc3\x9f\"\n" },
		{ "a X NIL nil (NIL) NILL\r\n", "a X NIL NIL (NIL) NILL\n" },
		{ "a X () (()) (a (b c) d)\r\n", "a X () (()) (a (b c) d)\n" },
		{ "a LOGIN {4+}\r\nuser {4+}\r\npass\r\n",
		  "a LOGIN {4+}user {4+}pass\n" },
		{ "a X {0}\r\n {0+}\r\n\r\n", "+0\na X {0} {0+}\n" },
		{ "a X ({3+}\r\nabc)\r\n", "a X ({3+}abc)\n" },
		{ "a X {3}\nabc\n", "+3\na X {3}abc\n" },
		{ "a X ~foo ~\r\n", "a X ~foo ~\n" },
		{ "a SELECT [Gmail]/Sent\r\n", "a SELECT [Gmail]/Sent\n" },
		{ "a LIST \"\" %\r\na LIST \"\" INBOX/*\r\n",
		  "a LIST \"\" %\na LIST \"\" INBOX/*\n" },
		{ "a STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted $CNS-Greeting-On)\r\n",
		  "a STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted $CNS-Greeting-On)\n" },
		{ "a FETCH 1 (BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> BODY[] "
		  "BINARY.PEEK[1.2] body[1.MIME] BINARY.SIZE[1])\r\n",
		  "a FETCH 1 (BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> BODY[] "
		  "BINARY.PEEK[1.2] body[1.MIME] BINARY.SIZE[1])\n" },
		{ "a FETCH 1 BODY[HEADER.FIELDS (\"Sub ject\" \"x]\\\"y\")]\r\n",
		  "a FETCH 1 BODY[HEADER.FIELDS (\"Sub ject\" \"x]\\\"y\")]\n" },
		{ "a FETCH 1 FOO[x] BODY[1]x[2]\r\n",
		  "a FETCH 1 FOO[x] BODY[1]x[2]\n" },
		{ "a ID (\"name\" \"vvm\" \"version\" NIL)\r\n",
		  "a ID (\"name\" \"vvm\" \"version\" NIL)\n" },
		{ "a ENABLE CONDSTORE QRESYNC\r\n", "a ENABLE CONDSTORE QRESYNC\n" },
		{ "a UID EXPUNGE 3:5\r\n", "a UID EXPUNGE 3:5\n" },
		{ "a] NOOP\r\n", "a] NOOP\n" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
		check(cases[i].input, cases[i].expect);
	/* NUL bytes need an explicit length. */
	{
		struct imap_parser_limits limits;
		static const char in[] = "a LOGIN {4}\r\nuser {4}\r\np\0ss\r\n";

		imap_parser_limits_auth(&limits);
		check_limits(in, sizeof(in) - 1,
			     "+4\n+4\na LOGIN {4}user {4}p\\0ss\n", &limits);
		static const char in8[] = "a APPEND x ~{3}\r\na\0b\r\n";
		check_limits(in8, sizeof(in8) - 1, "+3\na APPEND x ~{3}a\\0b\n",
			     &limits);
	}
}

static void test_errors(void)
{
	static const struct {
		const char *input, *expect;
	} cases[] = {
		{ "* NOOP\r\nb NOOP\r\n", "BAD * Invalid tag\nb NOOP\n" },
		{ "+ NOOP\r\nb NOOP\r\n", "BAD * Invalid tag\nb NOOP\n" },
		{ " a NOOP\r\n", "BAD * Invalid tag\n" },
		{ "a\r\n", "BAD a Missing command\n" },
		{ "a \r\n", "BAD a Missing command\n" },
		{ "a NO(OP\r\nb NOOP\r\n", "BAD a Invalid command name\nb NOOP\n" },
		{ "a FETCH 1 (FLAGS\r\nb NOOP\r\n", "BAD a Missing ')'\nb NOOP\n" },
		{ "a X )\r\nb NOOP\r\n", "BAD a Unexpected ')'\nb NOOP\n" },
		{ "a X (a))\r\n", "BAD a Unexpected ')'\n" },
		{ "a LOGIN \"foo\r\nb NOOP\r\n",
		  "BAD a Missing '\"' at end of quoted string\nb NOOP\n" },
		{ "a LOGIN \"a\\b\"\r\n", "BAD a Invalid escape in quoted string\n" },
		{ "a LOGIN foo\"bar\"\r\n", "BAD a Missing space between arguments\n" },
		{ "a LOGIN \"foo\"bar\r\n", "BAD a Missing space between arguments\n" },
		{ "a X (a)(b)\r\n", "BAD a Missing space between arguments\n" },
		{ "a X {3}\r\nabc{3}\r\n", "+3\nBAD a Missing space between arguments\n" },
		{ "a X a(b)\r\n", "BAD a Missing space between arguments\n" },
		{ "a FETCH 1 BODY[HEADER\r\nb NOOP\r\n", "BAD a Missing ']'\nb NOOP\n" },
		{ "a FETCH 1 BODY[[]]\r\n", "BAD a Unexpected '['\n" },
		{ "a FETCH 1 BODY[{]\r\n", "BAD a Invalid characters in section\n" },
		{ "a SELECT foo{3}\r\n", "BAD a Invalid '{' in atom\n" },
		{ "a X {abc}\r\n", "BAD a Invalid literal size\n" },
		{ "a X {}\r\n", "BAD a Invalid literal size\n" },
		{ "a X {+}\r\n", "BAD a Invalid literal size\n" },
		{ "a X {3+4}\r\n", "BAD a Invalid literal size\n" },
		{ "a X {3++}\r\n", "BAD a Invalid literal size\n" },
		{ "a X {3}x\r\nb NOOP\r\n", "BAD a Missing CRLF after literal size\nb NOOP\n" },
		{ "a X {3}\rx\r\n", "BAD a Missing LF after literal size\n" },
		{ "a X \x80\r\n", "BAD a Invalid characters\n" },
		{ "a X a\x01\r\n", "BAD a Invalid characters in atom\n" },
		{ "a X a\rb\r\nb NOOP\r\n", "BAD a CR without LF\nb NOOP\n" },
		{ "a X\r\rb NOOP\r\n", "BAD a CR without LF\n" },
		{ "a\x7f NOOP\r\n", "BAD * Invalid tag\n" },
		{ "\ra NOOP\r\nb NOOP\r\n", "BAD * CR without LF\nb NOOP\n" },
		/* Resynchronizing skips the data of a {n+} announced by the
		 * bad line, but a {n} ends the command (the client waits). */
		{ "a X ) {5+}\r\nhe\r\no\r\nb NOOP\r\n", "BAD a Unexpected ')'\nb NOOP\n" },
		{ "a X ) {5}\r\nb NOOP\r\n", "BAD a Unexpected ')'\nb NOOP\n" },
		{ "a X ) ~{2+}\r\n\r\n {1+}\r\n)\r\nb NOOP\r\n",
		  "BAD a Unexpected ')'\nb NOOP\n" },
		{ "a X ) {5+} x\r\nb NOOP\r\n", "BAD a Unexpected ')'\nb NOOP\n" },
		{ "a X ) {5+}\rx\r\nb NOOP\r\n", "BAD a Unexpected ')'\nb NOOP\n" },
		{ "a X {99999999999999999999999+}\r\n",
		  "BAD a Literal too large\n" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
		check(cases[i].input, cases[i].expect);
}

static void test_vvm_commands(void)
{
	static const char *const lines[] = {
		/* As the VVM interface spec writes them. */
		"CNS1 XCHANGE_TUI_PWD PWD=1234 OLD_PWD=5678",
		"CNS2 XCHANGE_VM_LANG LANG=eng",
		"CNS2 XCHANGE_VM_LANG LANG=eng.1",
		"CNS6 XCHANGE_GEN_OPTIONS_STRING OPTIONSSTRING=aaff",
		"CNS3 XCLOSE_NUT",
		"CNS4 XTRANSCRIBE_ UID=1234",
		"CNS4 XTRANSCRIBE UID=1234",
		"CNS5 XTRANSCRIPTION_SERVICE_ STATE=START EXP_DATE=2019-01-25 "
		"SUB_DURATION=12",
		"CNS5 XTRANSCRIPTION_SERVICE STATE=STOP",
		/* The Android (CVVM) dialects. */
		"a CHANGE_TUI_PWD PWD=1234 OLD_PWD=5678",
		"a CLOSE_NUT",
		"a CHANGE_VM_LANG Lang=eng",
		"a GETMETADATA \"\" /private/VVM/GreetingTypesAllowed",
		"a SETMETADATA \"\" (/private/VVM/Accept "
		"\"audio/amr,audio/wav; codec=g711a\")",
		"a GETQUOTA \"\"",
		"a GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX "
		"(/private/VVM/Accept /shared/comment)",
		"a SETMETADATA INBOX (/private/comment NIL)",
	};

	static const char append[] =
		"a APPEND Greetings (\\Seen) \" 1-Feb-2024 13:05:09 +0100\" "
		"{3}\r\nabc\r\n";
	struct imap_parser_limits limits;
	struct imap_parser *p;
	const struct imap_command *cmd;
	const char *str;
	size_t consumed, pos;
	int64_t t;
	int zone;

	for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
		char *in = g_strconcat(lines[i], "\r\n", NULL);
		char *out = g_strconcat(lines[i], "\n", NULL);

		check(in, out);
		g_free(in);
		g_free(out);
	}
	/* APPEND's optional date-time is a quoted string. */
	imap_parser_limits_auth(&limits);
	p = imap_parser_create(&limits);
	g_assert_cmpint(imap_parser_feed(p, append, sizeof(append) - 1,
					 &consumed), ==,
			IMAP_PARSE_NEED_LITERAL_CONTINUATION);
	pos = consumed;
	g_assert_cmpint(imap_parser_feed(p, append + pos,
					 sizeof(append) - 1 - pos, &consumed),
			==, IMAP_PARSE_DONE);
	cmd = imap_parser_command(p);
	g_assert_cmpuint(cmd->count, ==, 4);
	g_assert_true(imap_arg_get_astring(&cmd->args[0], &str));
	g_assert_cmpstr(str, ==, "Greetings");
	g_assert_true(imap_arg_get_string(&cmd->args[2], &str));
	g_assert_cmpint(imap_datetime_parse(str, &t, &zone), ==, 0);
	g_assert_cmpint(t, ==, 1706789109);
	g_assert_cmpint(zone, ==, 60);
	imap_parser_destroy(&p);
}

/* What an Android VVM client sends over one session, and what its
 * commands look like to the code that will execute them. */
static void test_android_session(void)
{
	static const char session[] =
		"1 CAPABILITY\r\n"
		"2 LOGIN \"5551234567\" \"1234\"\r\n"
		"3 SETMETADATA INBOX (/private/VVM/Accept \"audio/amr\")\r\n"
		"4 SELECT \"INBOX\"\r\n"
		"5 UID SEARCH 1:* NOT DELETED\r\n"
		"6 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE "
		"BODY.PEEK[HEADER.FIELDS (DATE FROM TO SUBJECT CONTENT-TYPE "
		"MESSAGE-CONTEXT CONTENT-DURATION X-CNS-GREETING-TYPE)] "
		"BODYSTRUCTURE)\r\n"
		"7 UID FETCH 3 (UID BODY.PEEK[2])\r\n"
		"8 UID STORE 3 +FLAGS.SILENT (\\SEEN)\r\n"
		"9 GETQUOTAROOT INBOX\r\n"
		"10 SELECT Greetings\r\n"
		"11 APPEND Greetings (\\Seen $CNS-Greeting-On) {12}\r\n"
		"Subject: hi\n\r\n"
		"12 UID STORE 1 +FLAGS (\\Deleted)\r\n"
		"13 EXPUNGE\r\n"
		"14 LOGOUT\r\n";
	struct imap_parser_limits limits;
	struct imap_parser *p;
	const struct imap_command *cmd;
	struct imap_fetch_att *att;
	struct imap_search *search;
	const char *str, *error;
	GArray *atts, *set;
	size_t pos = 0, consumed;
	unsigned int n = 0, count;
	char tag[16];
	const struct imap_arg *list;
	enum imap_parse_result r;

	imap_parser_limits_preauth(&limits);
	p = imap_parser_create(&limits);
	while (pos < sizeof(session) - 1) {
		r = imap_parser_feed(p, session + pos, sizeof(session) - 1 - pos,
				     &consumed);
		pos += consumed;
		if (r == IMAP_PARSE_NEED_LITERAL_CONTINUATION)
			continue;
		g_assert_cmpint(r, ==, IMAP_PARSE_DONE);
		cmd = imap_parser_command(p);
		n++;
		g_snprintf(tag, sizeof(tag), "%u", n);
		g_assert_cmpstr(cmd->tag, ==, tag);
		if (imap_command_is(cmd, "LOGIN")) {
			imap_parser_limits_auth(&limits);
			g_assert_cmpint(imap_parser_set_limits(p, &limits), ==, 0);
			g_assert_true(imap_arg_get_astring(&cmd->args[1], &str));
			g_assert_cmpstr(str, ==, "1234");
		} else if (n == 5) {
			g_assert_true(imap_command_is(cmd, "uid"));
			g_assert_true(imap_arg_atom_equals(&cmd->args[0], "search"));
			g_assert_cmpint(imap_search_parse(&cmd->args[1], &search,
							  &error), ==, 0);
			g_assert_cmpint(search->keys->type, ==, IMAP_SEARCH_SEQSET);
			g_assert_cmpint(search->keys->next->type, ==, IMAP_SEARCH_NOT);
			g_assert_cmpint(search->keys->next->u.sub->type, ==,
					IMAP_SEARCH_DELETED);
			imap_search_free(&search);
		} else if (n == 6) {
			g_assert_true(imap_arg_get_atom(&cmd->args[1], &str));
			g_assert_cmpint(imap_seqset_parse(str, &set), ==, 0);
			g_assert_cmpuint(set->len, ==, 1);
			g_array_free(set, TRUE);
			g_assert_cmpint(imap_fetch_atts_parse(&cmd->args[2], &atts,
							      &error), ==, 0);
			g_assert_cmpuint(atts->len, ==, 6);
			att = &g_array_index(atts, struct imap_fetch_att, 4);
			g_assert_cmpint(att->type, ==, IMAP_FETCH_BODY_SECTION);
			g_assert_true(att->peek);
			g_assert_cmpint(att->text, ==, IMAP_SECTION_HEADER_FIELDS);
			g_assert_cmpuint(g_strv_length(att->fields), ==, 8);
			g_assert_cmpstr(att->fields[7], ==, "X-CNS-GREETING-TYPE");
			g_array_free(atts, TRUE);
		} else if (n == 11) {
			g_assert_cmpuint(cmd->count, ==, 3);
			g_assert_true(imap_arg_get_list(&cmd->args[1], &list, &count));
			g_assert_cmpuint(count, ==, 2);
			g_assert_true(imap_arg_get_atom(&list[1], &str));
			g_assert_cmpstr(str, ==, "$CNS-Greeting-On");
			g_assert_cmpuint(cmd->args[2].len, ==, 12);
		}
	}
	g_assert_cmpuint(n, ==, 14);
	imap_parser_destroy(&p);
}

static void test_limits(void)
{
	struct imap_parser_limits limits = {
		.max_line_length = 16,
		.max_literal_size = 10,
		.max_nonsync_literal_size = 4,
		.max_args = 4,
		.max_depth = 2,
	};
	char *big;

	/* 16 bytes of text, CRLF included, literal data not counted. */
	CHECK_LIMITS("a X 1234567890\r\n", "a X 1234567890\n", &limits);
	CHECK_LIMITS("a X 12345678901\r\nb NOOP\r\n",
		     "BAD a Command line too long\nb NOOP\n", &limits);
	CHECK_LIMITS("a X {10}\r\n0123456789 1\r\n",
		     "+10\na X {10}0123456789 1\n", &limits);
	CHECK_LIMITS("a X {4}\r\nabcd {7}\r\n",
		     "+4\nBAD a Literal too large\n", &limits);
	CHECK_LIMITS("a X {4+}\r\nabcd {5+}\r\nhello\r\nb NOOP\r\n",
		     "BAD a Non-synchronizing literal too large\nb NOOP\n",
		     &limits);
	CHECK_LIMITS("a X {11}\r\nb NOOP\r\n",
		     "BAD a Literal too large\nb NOOP\n", &limits);
	CHECK_LIMITS("a X 1 2 3 4\r\n", "a X 1 2 3 4\n", &limits);
	CHECK_LIMITS("a X 1 2 3 4 5\r\n", "BAD a Too many arguments\n", &limits);
	CHECK_LIMITS("a X (1 2) 3\r\n", "a X (1 2) 3\n", &limits);
	CHECK_LIMITS("a X (1 (2))\r\n", "a X (1 (2))\n", &limits);
	CHECK_LIMITS("a X (((1)))\r\n", "BAD a Lists nested too deeply\n",
		     &limits);
	/* A long line ending in a non-synchronizing literal is skipped
	 * together with the literal. */
	CHECK_LIMITS("a X 123456789012 {3+}\r\nabc\r\nb NOOP\r\n",
		     "BAD a Command line too long\nb NOOP\n", &limits);
	/* The refusal comes when the announcement ends, before any data. */
	limits.max_line_length = 4096;
	limits.max_literal_size = 100000;
	big = g_strdup_printf("a APPEND x {5000+}\r\n%05000d\r\nb NOOP\r\n", 0);
	check_limits(big, strlen(big),
		     "BAD a Non-synchronizing literal too large\nb NOOP\n",
		     &limits);
	g_free(big);
	{
		struct imap_parser *p = imap_parser_create(&limits);
		size_t consumed;
		const char *msg, *tag;
		static const char in[] = "a APPEND x {99999999}";

		g_assert_cmpint(imap_parser_feed(p, in, sizeof(in) - 1, &consumed),
				==, IMAP_PARSE_ERROR);
		g_assert_cmpuint(consumed, ==, sizeof(in) - 1);
		g_assert_cmpint(imap_parser_error(p, &msg, &tag), ==,
				IMAP_PARSE_ERROR_LITERAL_TOO_BIG);
		g_assert_cmpstr(tag, ==, "a");
		imap_parser_destroy(&p);
	}
}

static void test_set_limits(void)
{
	struct imap_parser_limits pre, auth, bad = { 0 };
	struct imap_parser *p;
	size_t consumed;
	const char *msg, *tag;
	uint32_t size;
	bool nonsync;

	imap_parser_limits_preauth(&pre);
	imap_parser_limits_auth(&auth);
	g_assert_cmpuint(pre.max_line_length, <, auth.max_line_length);
	g_assert_cmpuint(pre.max_literal_size, <, auth.max_literal_size);
	p = imap_parser_create(&pre);
	g_assert_cmpint(imap_parser_set_limits(p, &bad), ==, -EINVAL);
	g_assert_cmpint(imap_parser_feed(p, "a APPEND x {10000}\r\n", 20,
					 &consumed), ==, IMAP_PARSE_ERROR);
	g_assert_cmpuint(consumed, ==, 18);
	g_assert_cmpint(imap_parser_error(p, &msg, &tag), ==,
			IMAP_PARSE_ERROR_LITERAL_TOO_BIG);
	g_assert_cmpint(imap_parser_feed(p, "\r\n", 2, &consumed), ==,
			IMAP_PARSE_NEED_MORE);
	g_assert_cmpint(imap_parser_feed(p, "a NO", 4, &consumed), ==,
			IMAP_PARSE_NEED_MORE);
	g_assert_cmpint(imap_parser_set_limits(p, &auth), ==, -EBUSY);
	g_assert_cmpint(imap_parser_feed(p, "OP\r\n", 4, &consumed), ==,
			IMAP_PARSE_DONE);
	g_assert_cmpint(imap_parser_set_limits(p, &auth), ==, 0);
	g_assert_cmpint(imap_parser_feed(p, "a APPEND x {10000}\r\n", 20,
					 &consumed), ==,
			IMAP_PARSE_NEED_LITERAL_CONTINUATION);
	g_assert_true(imap_parser_literal(p, &size, &nonsync));
	g_assert_cmpuint(size, ==, 10000);
	g_assert_false(nonsync);
	g_assert_cmpint(imap_parser_set_limits(p, &pre), ==, -EBUSY);
	imap_parser_destroy(&p);
	imap_parser_destroy(&p);
}

/* AUTHENTICATE's continuation lines, then commands again. */
static void test_read_line(void)
{
	static const char too_long[] = "12345678\r\nDONE\r\n";
	static const char in[] = "a AUTHENTICATE DIGEST-MD5\r\n"
				 "dXNlcm5hbWU9ImZvbyI=\r\n\r\nb NOOP\r\n";
	struct imap_parser_limits limits;
	struct imap_parser *p;
	const char *line, *msg, *tag;
	size_t pos = 0, consumed;

	imap_parser_limits_preauth(&limits);
	p = imap_parser_create(&limits);
	g_assert_cmpint(imap_parser_feed(p, in, sizeof(in) - 1, &consumed), ==,
			IMAP_PARSE_DONE);
	pos += consumed;
	/* Byte by byte, as a slow client would send it. */
	for (;;) {
		enum imap_parse_result r = imap_parser_read_line(p, in + pos, 1,
								 &consumed, &line);

		pos += consumed;
		if (r == IMAP_PARSE_DONE)
			break;
		g_assert_cmpint(r, ==, IMAP_PARSE_NEED_MORE);
	}
	g_assert_cmpstr(line, ==, "dXNlcm5hbWU9ImZvbyI=");
	g_assert_cmpint(imap_parser_read_line(p, in + pos, sizeof(in) - 1 - pos,
					      &consumed, &line), ==,
			IMAP_PARSE_DONE);
	g_assert_cmpstr(line, ==, "");
	pos += consumed;
	g_assert_cmpint(imap_parser_feed(p, in + pos, sizeof(in) - 1 - pos,
					 &consumed), ==, IMAP_PARSE_DONE);
	g_assert_cmpstr(imap_parser_command(p)->name, ==, "NOOP");

	/* Too long, then the rest of it is skipped. */
	limits.max_line_length = 8;
	g_assert_cmpint(imap_parser_set_limits(p, &limits), ==, 0);
	g_assert_cmpint(imap_parser_read_line(p, too_long, 16, &consumed,
					      &line), ==, IMAP_PARSE_ERROR);
	g_assert_cmpint(imap_parser_error(p, &msg, &tag), ==,
			IMAP_PARSE_ERROR_LINE_TOO_LONG);
	pos = consumed;
	g_assert_cmpint(imap_parser_read_line(p, &too_long[pos], 16 - pos,
					      &consumed, &line), ==,
			IMAP_PARSE_DONE);
	g_assert_cmpstr(line, ==, "DONE");
	g_assert_cmpint(imap_parser_read_line(p, "12\0\r\n", 5, &consumed,
					      &line), ==, IMAP_PARSE_ERROR);
	imap_parser_destroy(&p);
}

static void test_accessors(void)
{
	static const char in[] = "a X atom NIL \"q\" {2}\r\nl\0 (x) %* ] \\F\r\n";
	struct imap_parser_limits limits;
	struct imap_parser *p;
	const struct imap_command *cmd;
	const struct imap_arg *a, *list;
	const char *str;
	size_t consumed, len;
	unsigned int count;

	imap_parser_limits_auth(&limits);
	p = imap_parser_create(&limits);
	g_assert_cmpint(imap_parser_feed(p, in, 22, &consumed), ==,
			IMAP_PARSE_NEED_LITERAL_CONTINUATION);
	g_assert_cmpint(imap_parser_feed(p, in + 22, sizeof(in) - 23, &consumed),
			==, IMAP_PARSE_DONE);
	cmd = imap_parser_command(p);
	a = cmd->args;
	g_assert_cmpuint(cmd->count, ==, 8);
	g_assert_true(imap_arg_get_astring(&a[0], &str));
	g_assert_cmpstr(str, ==, "atom");
	g_assert_false(imap_arg_get_string(&a[0], &str));
	g_assert_true(imap_arg_get_astring(&a[1], &str));
	g_assert_cmpstr(str, ==, "NIL");
	g_assert_true(imap_arg_get_nstring(&a[1], &str));
	g_assert_null(str);
	g_assert_true(imap_arg_get_nstring(&a[2], &str));
	g_assert_cmpstr(str, ==, "q");
	g_assert_false(imap_arg_get_atom(&a[2], &str));
	g_assert_false(imap_arg_get_string(&a[3], &str));
	g_assert_true(imap_arg_get_data(&a[3], &str, &len));
	g_assert_cmpmem(str, len, "l\0", 2);
	g_assert_true(imap_arg_get_list(&a[4], &list, &count));
	g_assert_cmpuint(count, ==, 1);
	g_assert_true(imap_arg_atom_equals(&list[0], "X"));
	g_assert_false(imap_arg_get_list(&a[0], &list, &count));
	g_assert_false(imap_arg_get_astring(&a[5], &str));
	g_assert_true(imap_arg_get_list_mailbox(&a[5], &str));
	g_assert_true(imap_arg_get_astring(&a[6], &str));
	g_assert_false(imap_arg_get_astring(&a[7], &str));
	g_assert_true(imap_arg_get_atom(&a[7], &str));
	g_assert_cmpstr(str, ==, "\\F");
	g_assert_cmpint(a[8].type, ==, IMAP_ARG_EOL);
	imap_parser_destroy(&p);

	g_assert_true(imap_is_atom_char('a'));
	g_assert_false(imap_is_atom_char(']'));
	g_assert_true(imap_is_astring_char(']'));
	g_assert_false(imap_is_astring_char('%'));
	g_assert_true(imap_is_list_char('%'));
	g_assert_false(imap_is_list_char('('));
}

static void test_numbers(void)
{
	uint32_t n;

	g_assert_cmpint(imap_parse_number(place_str("0"), &n), ==, 0);
	g_assert_cmpuint(n, ==, 0);
	g_assert_cmpint(imap_parse_number(place_str("4294967295"), &n), ==, 0);
	g_assert_cmpuint(n, ==, UINT32_MAX);
	g_assert_cmpint(imap_parse_number(place_str("4294967296"), &n), ==, -EINVAL);
	g_assert_cmpint(imap_parse_number(place_str(""), &n), ==, -EINVAL);
	g_assert_cmpint(imap_parse_number(place_str("-1"), &n), ==, -EINVAL);
	g_assert_cmpint(imap_parse_nz_number(place_str("0"), &n), ==, -EINVAL);
	g_assert_cmpint(imap_parse_nz_number(place_str("01"), &n), ==, -EINVAL);
	g_assert_cmpint(imap_parse_nz_number(place_str("10"), &n), ==, 0);
	g_assert_cmpuint(n, ==, 10);
}

static char *seqset_str(const GArray *set)
{
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < set->len; i++) {
		const struct imap_seq_range *r =
			&g_array_index(set, struct imap_seq_range, i);

		if (i > 0)
			g_string_append_c(out, ',');
		g_string_append_printf(out, "%u:%u", r->first, r->last);
	}
	return g_string_free(out, FALSE);
}

static void test_seqset(void)
{
	static const struct {
		const char *in, *parsed, *normalized;
	} cases[] = {
		{ "1", "1:1", "1:1" },
		{ "1,3:5,7:*", "1:1,3:5,7:0", "1:1,3:5,7:10" },
		{ "*", "0:0", "10:10" },
		{ "*:4", "0:4", "4:10" },
		{ "12:*", "12:0", "10:12" },
		{ "5:3,1,2,4,9:9", "5:3,1:1,2:2,4:4,9:9", "1:5,9:9" },
		{ "4294967295", "4294967295:4294967295", "4294967295:4294967295" },
		{ "1:4294967295,3", "1:4294967295,3:3", "1:4294967295" },
	};
	static const char *const bad[] = {
		"", "0", "01", "1:0", "1,", ",1", "1::2", "1:2:3", "a", "1 2",
		"4294967296", "-1", "1,,2", "**", "1:", "$",
	};
	GArray *set;
	char *s;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_assert_cmpint(imap_seqset_parse(place_str(cases[i].in), &set),
				==, 0);
		s = seqset_str(set);
		g_assert_cmpstr(s, ==, cases[i].parsed);
		g_free(s);
		imap_seqset_normalize(set, 10);
		s = seqset_str(set);
		g_assert_cmpstr(s, ==, cases[i].normalized);
		g_free(s);
		g_array_free(set, TRUE);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		set = NULL;
		g_assert_cmpint(imap_seqset_parse(place_str(bad[i]), &set), ==,
				-EINVAL);
		g_assert_null(set);
	}
	g_assert_cmpint(imap_seqset_parse("2:4,8,10:*", &set), ==, 0);
	imap_seqset_normalize(set, 20);
	g_assert_false(imap_seqset_contains(set, 1));
	g_assert_true(imap_seqset_contains(set, 2));
	g_assert_true(imap_seqset_contains(set, 4));
	g_assert_false(imap_seqset_contains(set, 5));
	g_assert_true(imap_seqset_contains(set, 8));
	g_assert_false(imap_seqset_contains(set, 9));
	g_assert_true(imap_seqset_contains(set, 20));
	g_assert_false(imap_seqset_contains(set, 21));
	g_array_free(set, TRUE);
}

static void test_dates(void)
{
	static const struct {
		const char *in;
		int64_t unix_time;
	} dates[] = {
		{ "1-Jan-1970", 0 },
		{ "01-jan-1970", 0 },
		{ "29-Feb-2024", 1709164800 },
		{ "1-MAR-2000", 951868800 },
		{ "31-Dec-1969", -86400 },
		{ "1-Jan-0000", -62167219200 },
		{ "31-Dec-9999", 253402214400 },
	};
	static const char *const bad_dates[] = {
		"", "29-Feb-2023", "31-Apr-2024", "0-Jan-2024", "32-Jan-2024",
		"1-Foo-2024", "1-Jan-24", "1-Jan-20245", "001-Jan-2024",
		"1 Jan 2024", "1-Jan-2024 ", "\"1-Jan-2024\"", "1-Ja", "1-",
	};
	static const struct {
		const char *in;
		int64_t unix_time;
		int zone;
	} times[] = {
		{ "01-Jan-1970 00:00:00 +0000", 0, 0 },
		{ " 1-Feb-2024 13:05:09 +0100", 1706789109, 60 },
		{ "1-Feb-2024 13:05:09 -0530", 1706812509, -330 },
		{ "31-Dec-2016 23:59:60 +0000", 1483228800, 0 },
	};
	static const char *const bad_times[] = {
		"", "01-Jan-1970", "01-Jan-1970 00:00:00", "01-Jan-1970 24:00:00 +0000",
		"01-Jan-1970 00:60:00 +0000", "01-Jan-1970 00:00:61 +0000",
		"01-Jan-1970 00:00:00 0000", "01-Jan-1970 00:00:00 +2400",
		"01-Jan-1970 00:00:00 +0060", "01-Jan-1970 0:00:00 +0000",
		"01-Jan-1970 00:00:00 +00000", "01-Jan-1970  00:00:00 +0000",
		"01-Jan-1970 00:00:00 +000",
	};
	struct imap_date date;
	int64_t t;
	int zone;

	for (size_t i = 0; i < G_N_ELEMENTS(dates); i++) {
		g_assert_cmpint(imap_date_parse(place_str(dates[i].in), &date), ==, 0);
		g_assert_cmpint(imap_date_to_unix(&date), ==, dates[i].unix_time);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad_dates); i++)
		g_assert_cmpint(imap_date_parse(place_str(bad_dates[i]), &date),
				==, -EINVAL);
	for (size_t i = 0; i < G_N_ELEMENTS(times); i++) {
		g_assert_cmpint(imap_datetime_parse(place_str(times[i].in), &t,
						    &zone), ==, 0);
		g_assert_cmpint(t, ==, times[i].unix_time);
		g_assert_cmpint(zone, ==, times[i].zone);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad_times); i++)
		g_assert_cmpint(imap_datetime_parse(place_str(bad_times[i]), &t,
						    &zone), ==, -EINVAL);
}

static char *fetch_att_str(const struct imap_fetch_att *att)
{
	static const char *const texts[] = {
		"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME",
	};
	GString *out = g_string_new(NULL);

	g_string_append_printf(out, "%d%s[", att->type, att->peek ? "p" : "");
	for (unsigned int i = 0; i < att->part_count; i++)
		g_string_append_printf(out, "%u.", att->parts[i]);
	g_string_append(out, texts[att->text]);
	for (char **f = att->fields; f != NULL && *f != NULL; f++)
		g_string_append_printf(out, "|%s", *f);
	g_string_append_c(out, ']');
	if (att->partial)
		g_string_append_printf(out, "<%u.%u>", att->partial_offset,
				       att->partial_size);
	return g_string_free(out, FALSE);
}

static void test_fetch_att(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "UID", "9[]" },
		{ "flags", "1[]" },
		{ "RFC822.SIZE", "5[]" },
		{ "BODY", "7[]" },
		{ "BodyStructure", "8[]" },
		{ "MODSEQ", "10[]" },
		{ "BODY[]", "11[]" },
		{ "BODY.PEEK[]<0.1024>", "11p[]<0.1024>" },
		{ "body.peek[1.2.3]", "11p[1.2.3.]" },
		{ "BODY[1.MIME]", "11[1.MIME]" },
		{ "BODY[2.HEADER]", "11[2.HEADER]" },
		{ "BODY[TEXT]<10.20>", "11[TEXT]<10.20>" },
		{ "BODY[HEADER.FIELDS (DATE FROM)]", "11[HEADER.FIELDS|DATE|FROM]" },
		{ "BODY[1.HEADER.FIELDS.NOT (\"X-A\" B)]",
		  "11[1.HEADER.FIELDS.NOT|X-A|B]" },
		{ "BINARY[1]", "12[1.]" },
		{ "BINARY.PEEK[]<0.5>", "12p[]<0.5>" },
		{ "BINARY.SIZE[2]", "13[2.]" },
		{ "BODY[4294967295]<4294967295.4294967295>",
		  "11[4294967295.]<4294967295.4294967295>" },
	};
	static const char *const bad[] = {
		"", "FOO", "UID[]", "BODY.PEEK", "BINARY", "BODY[", "BODY[]]",
		"BODY[0]", "BODY[01]", "BODY[1.]", "BODY[MIME]", "BODY[1.FOO]",
		"BODY[HEADERS]", "BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]",
		"BODY[HEADER.FIELDS (A]", "BODY[HEADER.FIELDS (A:B)]",
		"BODY[HEADER.FIELDS (\"\")]", "BODY[HEADER.FIELDS (\"A B\")]",
		"BODY[HEADER.FIELDS (A)x]", "BODY[HEADER.FIELDS(A)]",
		"BODY[HEADER.FIELDS (A  B)]", "BINARY[TEXT]", "BINARY[1.MIME]",
		"BINARY.SIZE[1]<0.1>", "BODY[]<0.0>", "BODY[]<0>", "BODY[]<0.1",
		"BODY[]<0.1>x", "BODY[]x", "BODY[4294967296]", "BODY[\"]",
		"BODY[HEADER.FIELDS (\"A\\",
		("BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22."
		 "23.24.25.26.27.28.29.30.31.32.33]"),
	};
	struct imap_fetch_att att;
	const char *error;
	char *s;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_assert_cmpint(imap_fetch_att_parse(place_str(cases[i].in), &att,
						     &error), ==, 0);
		s = fetch_att_str(&att);
		g_assert_cmpstr(s, ==, cases[i].out);
		g_free(s);
		imap_fetch_att_clear(&att);
		imap_fetch_att_clear(&att);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		error = NULL;
		g_test_message("bad: %s", bad[i]);
		g_assert_cmpint(imap_fetch_att_parse(place_str(bad[i]), &att,
						     &error), ==, -EINVAL);
		g_assert_nonnull(error);
	}
}

/* FETCH's item argument as the parser delivers it. */
static void test_fetch_atts(void)
{
	static const struct {
		const char *cmd;
		int count;   /* -1: refused */
	} cases[] = {
		{ "a FETCH 1 ALL\r\n", 4 },
		{ "a FETCH 1 fast\r\n", 3 },
		{ "a FETCH 1 FULL\r\n", 5 },
		{ "a FETCH 1 UID\r\n", 1 },
		{ "a FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (A B)]<0.5>)\r\n", 2 },
		{ "a FETCH 1 ()\r\n", -1 },
		{ "a FETCH 1 (ALL)\r\n", -1 },
		{ "a FETCH 1 (UID \"FLAGS\")\r\n", -1 },
		{ "a FETCH 1 (UID (FLAGS))\r\n", -1 },
		{ "a FETCH 1 \"UID\"\r\n", -1 },
		{ "a FETCH 1 (UID BODY[X])\r\n", -1 },
	};
	struct imap_parser_limits limits;

	imap_parser_limits_auth(&limits);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct imap_parser *p = imap_parser_create(&limits);
		const char *error = NULL;
		GArray *atts = NULL;
		size_t consumed;

		g_assert_cmpint(imap_parser_feed(p, cases[i].cmd,
						 strlen(cases[i].cmd), &consumed),
				==, IMAP_PARSE_DONE);
		if (cases[i].count < 0) {
			g_assert_cmpint(imap_fetch_atts_parse(
				&imap_parser_command(p)->args[1], &atts, &error),
				==, -EINVAL);
			g_assert_nonnull(error);
			g_assert_null(atts);
		} else {
			g_assert_cmpint(imap_fetch_atts_parse(
				&imap_parser_command(p)->args[1], &atts, &error),
				==, 0);
			g_assert_cmpuint(atts->len, ==, (guint)cases[i].count);
			g_array_free(atts, TRUE);
		}
		imap_parser_destroy(&p);
	}
}

static void dump_keys(GString *out, const struct imap_search_key *key);

static void dump_key(GString *out, const struct imap_search_key *key)
{
	static const char *const names[] = {
		"ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD",
		"RECENT", "SEEN", "UNANSWERED", "UNDELETED", "UNDRAFT",
		"UNFLAGGED", "UNSEEN", "KEYWORD", "UNKEYWORD", "BCC", "BODY",
		"CC", "FROM", "SUBJECT", "TEXT", "TO", "HEADER", "BEFORE", "ON",
		"SINCE", "SENTBEFORE", "SENTON", "SENTSINCE", "LARGER",
		"SMALLER", "MODSEQ", "SEQ", "UID", "NOT", "OR", "AND",
	};
	char *s;

	g_string_append(out, names[key->type]);
	switch (key->type) {
	case IMAP_SEARCH_KEYWORD ... IMAP_SEARCH_TO:
		g_string_append_printf(out, ":%s", key->u.str);
		break;
	case IMAP_SEARCH_HEADER:
		g_string_append_printf(out, ":%s:%s", key->u.header.field,
				       key->u.header.value);
		break;
	case IMAP_SEARCH_BEFORE ... IMAP_SEARCH_SENTSINCE:
		g_string_append_printf(out, ":%04u-%02u-%02u", key->u.date.year,
				       key->u.date.month, key->u.date.day);
		break;
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
		g_string_append_printf(out, ":%u", key->u.size);
		break;
	case IMAP_SEARCH_MODSEQ:
		g_string_append_printf(out, ":%" G_GUINT64_FORMAT, key->u.modseq);
		break;
	case IMAP_SEARCH_SEQSET:
	case IMAP_SEARCH_UID:
		s = seqset_str(key->u.seqset);
		g_string_append_printf(out, ":%s", s);
		g_free(s);
		break;
	case IMAP_SEARCH_NOT:
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_AND:
		g_string_append_c(out, '(');
		dump_keys(out, key->u.sub);
		g_string_append_c(out, ')');
		break;
	default:
		break;
	}
}

static void dump_keys(GString *out, const struct imap_search_key *key)
{
	for (; key != NULL; key = key->next) {
		dump_key(out, key);
		if (key->next != NULL)
			g_string_append_c(out, ' ');
	}
}

static void test_search(void)
{
	static const struct {
		const char *args, *out;   /* out NULL: refused */
	} cases[] = {
		{ "1:* NOT DELETED", "SEQ:1:0 NOT(DELETED)" },
		{ "CHARSET UTF-8 ALL", "[UTF-8] ALL" },
		{ "answered Deleted DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED "
		  "UNDELETED UNDRAFT UNFLAGGED UNSEEN",
		  "ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED "
		  "UNDELETED UNDRAFT UNFLAGGED UNSEEN" },
		{ "KEYWORD $CNS-Greeting-On UNKEYWORD $Junk",
		  "KEYWORD:$CNS-Greeting-On UNKEYWORD:$Junk" },
		{ "BCC a CC \"b c\" FROM {3}\r\nx y SUBJECT NIL TEXT t TO u BODY v",
		  "BCC:a CC:b c FROM:x y SUBJECT:NIL TEXT:t TO:u BODY:v" },
		{ "HEADER Message-Context voice-message",
		  "HEADER:Message-Context:voice-message" },
		{ "BEFORE 1-Feb-2024 ON \"29-Feb-2024\" SINCE 01-jan-2000 "
		  "SENTBEFORE 1-Jan-1970 SENTON 2-Jan-1970 SENTSINCE 3-Jan-1970",
		  "BEFORE:2024-02-01 ON:2024-02-29 SINCE:2000-01-01 "
		  "SENTBEFORE:1970-01-01 SENTON:1970-01-02 SENTSINCE:1970-01-03" },
		{ "LARGER 0 SMALLER 4294967295", "LARGER:0 SMALLER:4294967295" },
		{ "UID 1:5,7 2,4:*", "UID:1:5,7:7 SEQ:2:2,4:0" },
		{ "OR SEEN NOT OR FLAGGED DRAFT", "OR(SEEN NOT(OR(FLAGGED DRAFT)))" },
		{ "(SEEN (UNSEEN) ALL) NOT (DELETED)",
		  "AND(SEEN AND(UNSEEN) ALL) NOT(AND(DELETED))" },
		{ "MODSEQ 620162338", "MODSEQ:620162338" },
		{ "MODSEQ \"/flags/\\\\draft\" all 620162338", "MODSEQ:620162338" },
		{ "MODSEQ 9223372036854775807", "MODSEQ:9223372036854775807" },
		{ "", NULL },
		{ "CHARSET", NULL },
		{ "CHARSET UTF-8", NULL },
		{ "FOO", NULL },
		{ "()", NULL },
		{ "\"ALL\"", NULL },
		{ "NOT", NULL },
		{ "OR SEEN", NULL },
		{ "FROM", NULL },
		{ "FROM (a)", NULL },
		{ "HEADER a", NULL },
		{ "BEFORE 30-Feb-2024", NULL },
		{ "BEFORE", NULL },
		{ "LARGER -1", NULL },
		{ "LARGER 4294967296", NULL },
		{ "LARGER \"1\"", NULL },
		{ "UID 0", NULL },
		{ "UID", NULL },
		{ "0", NULL },
		{ "KEYWORD \\Seen", NULL },
		{ "KEYWORD \"x\"", NULL },
		{ "MODSEQ", NULL },
		{ "MODSEQ 9223372036854775808", NULL },
		{ "MODSEQ x", NULL },
		{ "MODSEQ \"/flags/x\" foo 1", NULL },
		{ "MODSEQ \"/flags/x\"", NULL },
		{ "MODSEQ \"/flags/x\" all", NULL },
		{ "(SEEN ())", NULL },
	};
	struct imap_parser_limits limits;

	imap_parser_limits_auth(&limits);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct imap_parser *p = imap_parser_create(&limits);
		char *line = g_strdup_printf("a SEARCH %s\r\n", cases[i].args);
		struct imap_search *search = NULL;
		const char *error = NULL;
		size_t consumed, pos = 0;
		enum imap_parse_result r;

		do {
			r = imap_parser_feed(p, line + pos, strlen(line) - pos,
					     &consumed);
			pos += consumed;
		} while (r == IMAP_PARSE_NEED_LITERAL_CONTINUATION);
		g_assert_cmpint(r, ==, IMAP_PARSE_DONE);
		g_test_message("search: %s", cases[i].args);
		if (cases[i].out == NULL) {
			g_assert_cmpint(imap_search_parse(imap_parser_command(p)->args,
							  &search, &error), ==,
					-EINVAL);
			g_assert_nonnull(error);
			g_assert_null(search);
		} else {
			GString *out = g_string_new(NULL);

			g_assert_cmpint(imap_search_parse(imap_parser_command(p)->args,
							  &search, &error), ==, 0);
			if (search->charset != NULL)
				g_string_append_printf(out, "[%s] ", search->charset);
			dump_keys(out, search->keys);
			g_assert_cmpstr(out->str, ==, cases[i].out);
			g_string_free(out, TRUE);
			imap_search_free(&search);
			g_assert_null(search);
		}
		imap_search_free(&search);
		g_free(line);
		imap_parser_destroy(&p);
	}
}

/* NOT NOT NOT ... and OR chains stop at a fixed depth instead of
 * recursing as deep as the line is long. */
static void test_search_depth(void)
{
	struct imap_parser_limits limits;
	struct imap_parser *p;
	struct imap_search *search;
	const char *error;
	GString *line = g_string_new("a SEARCH");
	size_t consumed;

	imap_parser_limits_auth(&limits);
	p = imap_parser_create(&limits);
	for (int i = 0; i < IMAP_SEARCH_MAX_DEPTH - 1; i++)
		g_string_append(line, " NOT");
	g_string_append(line, " ALL\r\n");
	g_assert_cmpint(imap_parser_feed(p, line->str, line->len, &consumed), ==,
			IMAP_PARSE_DONE);
	g_assert_cmpint(imap_search_parse(imap_parser_command(p)->args, &search,
					  &error), ==, 0);
	imap_search_free(&search);
	g_string_truncate(line, 0);
	g_string_append(line, "a SEARCH");
	for (int i = 0; i < 1000; i++)
		g_string_append(line, " OR ALL");
	g_string_append(line, " ALL\r\n");
	g_assert_cmpint(imap_parser_feed(p, line->str, line->len, &consumed), ==,
			IMAP_PARSE_DONE);
	g_assert_cmpint(imap_search_parse(imap_parser_command(p)->args, &search,
					  &error), ==, -EINVAL);
	g_assert_cmpstr(error, ==, "Search keys nested too deeply");
	g_string_free(line, TRUE);
	imap_parser_destroy(&p);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	guard_init(1);
	g_test_add_func("/imap-parser/syntax", test_syntax);
	g_test_add_func("/imap-parser/errors", test_errors);
	g_test_add_func("/imap-parser/vvm-commands", test_vvm_commands);
	g_test_add_func("/imap-parser/android-session", test_android_session);
	g_test_add_func("/imap-parser/limits", test_limits);
	g_test_add_func("/imap-parser/set-limits", test_set_limits);
	g_test_add_func("/imap-parser/read-line", test_read_line);
	g_test_add_func("/imap-parser/accessors", test_accessors);
	g_test_add_func("/imap-parser/numbers", test_numbers);
	g_test_add_func("/imap-seqset/parse", test_seqset);
	g_test_add_func("/imap-date/parse", test_dates);
	g_test_add_func("/imap-fetch-att/parse", test_fetch_att);
	g_test_add_func("/imap-fetch-att/items", test_fetch_atts);
	g_test_add_func("/imap-search/parse", test_search);
	g_test_add_func("/imap-search/depth", test_search_depth);
	return g_test_run();
}
