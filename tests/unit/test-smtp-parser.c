/* The SMTP command parser: every verb and parameter, every error reply,
 * the limits at their edge, and the lines real clients (Python's smtplib,
 * swaks) send. Each line is parsed from the end of an exact-size heap
 * buffer, where ASan sees an over-read, and from right before an unmapped
 * page, where anything sees it; neither copy is NUL-terminated and both
 * parses must agree. */
#include <errno.h>
#include <string.h>
#include <glib.h>

#include "guard-page.h"
#include "smtp-parser.h"

#define R_SYNTAX_MAIL "501 5.5.4 Syntax: MAIL FROM:<address>"
#define R_SYNTAX_RCPT "501 5.5.4 Syntax: RCPT TO:<address>"
#define R_BAD_SENDER "501 5.1.7 Bad sender address syntax"
#define R_BAD_RCPT "501 5.1.3 Bad recipient address syntax"
#define R_UNSUPPORTED "555 5.5.4 Unsupported parameter"
#define R_INVALID "501 5.5.4 Invalid parameter value"
#define R_DUPLICATE "501 5.5.4 Duplicate parameter"
#define R_BDAT "501 5.5.4 Syntax: BDAT size [LAST]"
#define R_AUTH "501 5.5.4 Syntax: AUTH mechanism [initial-response]"
#define R_BASE64 "501 5.5.2 Cannot Base64-decode Client responses"
#define R_NUL "500 5.5.2 Line contains a NUL byte"
#define R_TOO_LONG "500 5.5.6 Line too long"

struct fail_case {
	const char *line;
	const char *reply;
};

static bool is_zero(const struct smtp_command *cmd)
{
	return cmd->verb == SMTP_VERB_UNKNOWN && cmd->arg == NULL &&
	       cmd->auth_initial == NULL && cmd->path == NULL &&
	       !cmd->has_size && cmd->size == 0 &&
	       cmd->body == SMTP_BODY_UNSPECIFIED &&
	       cmd->ret == SMTP_RET_UNSPECIFIED && cmd->envid == NULL &&
	       cmd->notify == 0 &&
	       cmd->orcpt_type == NULL && cmd->orcpt == NULL &&
	       cmd->chunk_size == 0 && !cmd->last;
}

static void assert_same(const struct smtp_command *a,
			const struct smtp_command *b)
{
	g_assert_cmpint(a->verb, ==, b->verb);
	g_assert_cmpstr(a->arg, ==, b->arg);
	g_assert_cmpstr(a->auth_initial, ==, b->auth_initial);
	g_assert_cmpstr(a->path, ==, b->path);
	g_assert_cmpint(a->has_size, ==, b->has_size);
	g_assert_cmpuint(a->size, ==, b->size);
	g_assert_cmpint(a->body, ==, b->body);
	g_assert_cmpint(a->ret, ==, b->ret);
	g_assert_cmpstr(a->envid, ==, b->envid);
	g_assert_cmpuint(a->notify, ==, b->notify);
	g_assert_cmpstr(a->orcpt_type, ==, b->orcpt_type);
	g_assert_cmpstr(a->orcpt, ==, b->orcpt);
	g_assert_cmpuint(a->chunk_size, ==, b->chunk_size);
	g_assert_cmpint(a->last, ==, b->last);
}

/* Parses len bytes of data both ways; the heap parse is the result. */
static int parse_n(const char *data, size_t len, struct smtp_command *cmd,
		   const char **reply_r)
{
	size_t alloc = MAX(len, 1);
	char *heap = g_malloc(alloc);
	struct smtp_command guarded;
	const char *guarded_reply = NULL;
	int ret, guarded_ret;

	*reply_r = NULL;
	memcpy(heap + alloc - len, data, len);
	ret = smtp_parse_command(heap + alloc - len, len, cmd, reply_r);
	g_free(heap);
	if (len <= guard_room) {
		guarded_ret = smtp_parse_command(guard_place(data, len), len,
						 &guarded, &guarded_reply);
		g_assert_cmpint(ret, ==, guarded_ret);
		g_assert_cmpstr(*reply_r, ==, guarded_reply);
		assert_same(cmd, &guarded);
		smtp_command_clear(&guarded);
	}
	if (ret == 0) {
		g_assert_null(*reply_r);
	} else {
		g_assert_cmpint(ret, ==, -EINVAL);
		g_assert_nonnull(*reply_r);
		g_assert_true(is_zero(cmd));
	}
	return ret;
}

static void parse_ok(const char *line, struct smtp_command *cmd)
{
	const char *reply;

	if (parse_n(line, strlen(line), cmd, &reply) != 0)
		g_error("\"%s\": %s", line, reply);
}

static void parse_fail_n(const char *line, size_t len, const char *expect)
{
	struct smtp_command cmd;
	const char *reply;

	if (parse_n(line, len, &cmd, &reply) == 0)
		g_error("\"%.*s\" parsed, expected %s", (int)MIN(len, 200),
			line, expect);
	if (strcmp(reply, expect) != 0)
		g_error("\"%.*s\": %s, expected %s", (int)MIN(len, 200), line,
			reply, expect);
	smtp_command_clear(&cmd);
}

static void parse_fail(const char *line, const char *expect)
{
	parse_fail_n(line, strlen(line), expect);
}

static void fail_cases(const struct fail_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		parse_fail(cases[i].line, cases[i].reply);
}

/* The verb and, when expect_arg is not NULL, its arg. */
static void check_verb(const char *line, enum smtp_verb verb,
		       const char *expect_arg)
{
	struct smtp_command cmd;

	parse_ok(line, &cmd);
	g_assert_cmpint(cmd.verb, ==, verb);
	g_assert_cmpstr(cmd.arg, ==, expect_arg);
	g_assert_null(cmd.path);
	smtp_command_clear(&cmd);
}

static void check_path(const char *line, enum smtp_verb verb,
		       const char *expect)
{
	struct smtp_command cmd;

	parse_ok(line, &cmd);
	g_assert_cmpint(cmd.verb, ==, verb);
	g_assert_cmpstr(cmd.path, ==, expect);
	g_assert_null(cmd.arg);
	smtp_command_clear(&cmd);
}

static void test_verbs(void)
{
	static const struct {
		const char *line;
		enum smtp_verb verb;
	} cases[] = {
		{ "DATA", SMTP_VERB_DATA },
		{ "data", SMTP_VERB_DATA },
		{ "RSET", SMTP_VERB_RSET },
		{ "rSeT", SMTP_VERB_RSET },
		{ "QUIT", SMTP_VERB_QUIT },
		{ "Quit", SMTP_VERB_QUIT },
		{ "STARTTLS", SMTP_VERB_STARTTLS },
		{ "starttls", SMTP_VERB_STARTTLS },
		{ "NOOP", SMTP_VERB_NOOP },
		{ "HELP", SMTP_VERB_HELP },
		{ "VRFY", SMTP_VERB_VRFY },
		{ "EXPN", SMTP_VERB_EXPN },
		{ "", SMTP_VERB_UNKNOWN },
		{ "   ", SMTP_VERB_UNKNOWN },
		{ " QUIT", SMTP_VERB_UNKNOWN },
		{ "XCLIENT ADDR=192.0.2.1", SMTP_VERB_UNKNOWN },
		{ "MAILFROM:<a@b>", SMTP_VERB_UNKNOWN },
		{ "MAIL:", SMTP_VERB_UNKNOWN },
		{ "QUITX", SMTP_VERB_UNKNOWN },
		{ "QUI", SMTP_VERB_UNKNOWN },
		{ "QUIT\r", SMTP_VERB_UNKNOWN },
		{ "STARTTL", SMTP_VERB_UNKNOWN },
		{ "EHL\xcf", SMTP_VERB_UNKNOWN },
		{ "GET / HTTP/1.1", SMTP_VERB_UNKNOWN },
	};
	struct smtp_command cmd;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		parse_ok(cases[i].line, &cmd);
		g_assert_cmpint(cmd.verb, ==, cases[i].verb);
		/* nothing else is set, for an unknown verb or without
		 * arguments */
		cmd.verb = SMTP_VERB_UNKNOWN;
		g_assert_true(is_zero(&cmd));
		smtp_command_clear(&cmd);
	}
	check_verb("EHLO x", SMTP_VERB_EHLO, "x");
	check_verb("ehlo x", SMTP_VERB_EHLO, "x");
	check_verb("HeLo x", SMTP_VERB_HELO, "x");
	check_verb("lhlo x", SMTP_VERB_LHLO, "x");
	check_verb("bdat 1", SMTP_VERB_BDAT, NULL);
	check_verb("auth plain", SMTP_VERB_AUTH, "PLAIN");
	check_path("mail from:<a@b>", SMTP_VERB_MAIL, "a@b");
	check_path("rcpt to:<a@b>", SMTP_VERB_RCPT, "a@b");
}

static void test_no_args(void)
{
	static const struct fail_case fails[] = {
		{ "DATA x", "501 5.5.4 Syntax: DATA takes no arguments" },
		{ "DATA <a@b>", "501 5.5.4 Syntax: DATA takes no arguments" },
		{ "RSET x", "501 5.5.4 Syntax: RSET takes no arguments" },
		{ "QUIT now", "501 5.5.4 Syntax: QUIT takes no arguments" },
		{ "quit \t x \t", "501 5.5.4 Syntax: QUIT takes no arguments" },
		{ "STARTTLS x",
		  "501 5.5.4 Syntax: STARTTLS takes no arguments" },
		{ "DATA \x01", "501 5.5.4 Syntax: DATA takes no arguments" },
	};

	check_verb("DATA  ", SMTP_VERB_DATA, NULL);
	check_verb("RSET ", SMTP_VERB_RSET, NULL);
	check_verb("RSET \t ", SMTP_VERB_RSET, NULL);
	check_verb("QUIT   ", SMTP_VERB_QUIT, NULL);
	check_verb("QUIT\t", SMTP_VERB_QUIT, NULL);
	check_verb("STARTTLS ", SMTP_VERB_STARTTLS, NULL);
	fail_cases(fails, G_N_ELEMENTS(fails));
}

static void test_hello(void)
{
	static const struct fail_case fails[] = {
		{ "HELO", "501 5.5.4 Syntax: HELO hostname" },
		{ "EHLO", "501 5.5.4 Syntax: EHLO hostname" },
		{ "LHLO", "501 5.5.4 Syntax: LHLO hostname" },
		{ "EHLO   ", "501 5.5.4 Syntax: EHLO hostname" },
		{ "EHLO a b", "501 5.5.4 Syntax: EHLO hostname" },
		{ "HELO a\tb", "501 5.5.4 Syntax: HELO hostname" },
		{ "LHLO a\x01z", "501 5.5.4 Syntax: LHLO hostname" },
		{ "EHLO a\rz", "501 5.5.4 Syntax: EHLO hostname" },
		{ "EHLO h\xc3\xa9", "501 5.5.4 Syntax: EHLO hostname" },
		{ "EHLO a\x7f", "501 5.5.4 Syntax: EHLO hostname" },
	};
	char *name;
	char *line;

	check_verb("EHLO client.example.org", SMTP_VERB_EHLO,
		   "client.example.org");
	check_verb("HELO  client\t", SMTP_VERB_HELO, "client");
	check_verb("LHLO localhost", SMTP_VERB_LHLO, "localhost");
	check_verb("EHLO [192.0.2.1]", SMTP_VERB_EHLO, "[192.0.2.1]");
	check_verb("EHLO [IPv6:2001:db8::1]", SMTP_VERB_EHLO,
		   "[IPv6:2001:db8::1]");
	/* What real clients send besides domains */
	check_verb("EHLO my_host", SMTP_VERB_EHLO, "my_host");
	check_verb("HELO 192.0.2.1", SMTP_VERB_HELO, "192.0.2.1");
	check_verb("EHLO Host-Name.", SMTP_VERB_EHLO, "Host-Name.");
	check_verb("EHLO !\"#<>~", SMTP_VERB_EHLO, "!\"#<>~");
	fail_cases(fails, G_N_ELEMENTS(fails));

	name = g_strnfill(SMTP_DOMAIN_MAX, 'h');
	line = g_strconcat("EHLO ", name, NULL);
	check_verb(line, SMTP_VERB_EHLO, name);
	g_free(line);
	line = g_strconcat("EHLO ", name, "h", NULL);
	parse_fail(line, "501 5.5.4 Syntax: EHLO hostname");
	g_free(line);
	g_free(name);
}

static void test_rest_of_line(void)
{
	check_verb("NOOP", SMTP_VERB_NOOP, NULL);
	check_verb("NOOP   ", SMTP_VERB_NOOP, NULL);
	check_verb("NOOP hello", SMTP_VERB_NOOP, "hello");
	check_verb("noop \t a  b\tc \t", SMTP_VERB_NOOP, "a  b\tc");
	check_verb("HELP", SMTP_VERB_HELP, NULL);
	check_verb("HELP MAIL", SMTP_VERB_HELP, "MAIL");
	check_verb("VRFY", SMTP_VERB_VRFY, NULL);
	check_verb("VRFY <alice@example.org>", SMTP_VERB_VRFY,
		   "<alice@example.org>");
	check_verb("vrfy Alice Smith", SMTP_VERB_VRFY, "Alice Smith");
	check_verb("EXPN", SMTP_VERB_EXPN, NULL);
	check_verb("EXPN staff", SMTP_VERB_EXPN, "staff");
	check_verb("NOOP \xff", SMTP_VERB_NOOP, "\xff");
}

static void test_mail_path(void)
{
	static const struct {
		const char *line;
		const char *path;
	} oks[] = {
		{ "MAIL FROM:<alice@example.org>", "alice@example.org" },
		{ "MAIL FROM: <alice@example.org>", "alice@example.org" },
		{ "MAIL FROM:\t \t<a@b>", "a@b" },
		{ "MAIL  \tFROM:<a@b>  ", "a@b" },
		{ "mail from:<A@B>", "A@B" },
		{ "Mail From:<a@b>", "a@b" },
		{ "MAIL FROM:<>", "" },
		{ "MAIL FROM: <> ", "" },
		{ "MAIL FROM:<first.last+tag@sub-domain.example.org>",
		  "first.last+tag@sub-domain.example.org" },
		{ "MAIL FROM:<!#$%&'*+-/=?^_`{|}~@x>", "!#$%&'*+-/=?^_`{|}~@x" },
		{ "MAIL FROM:<a@1.2.3.4>", "a@1.2.3.4" },
		{ "MAIL FROM:<a@b--c.d9>", "a@b--c.d9" },
		{ "MAIL FROM:<postmaster@example.org>",
		  "postmaster@example.org" },
		/* Source routes are dropped (RFC 5321 4.1.2, C). */
		{ "MAIL FROM:<@a:u@d>", "u@d" },
		{ "MAIL FROM:<@a.example,@b.example:user@d.example>",
		  "user@d.example" },
		/* Quoted local parts stay as sent */
		{ "MAIL FROM:<\"john smith\"@example.org>",
		  "\"john smith\"@example.org" },
		{ "MAIL FROM:<\"a\\\"b\\\\c\"@x>", "\"a\\\"b\\\\c\"@x" },
		{ "MAIL FROM:<\"\"@x>", "\"\"@x" },
		{ "MAIL FROM:<\"a@b>c\"@x>", "\"a@b>c\"@x" },
		{ "MAIL FROM:<\"\\ \"@x>", "\"\\ \"@x" },
		/* Address literals */
		{ "MAIL FROM:<user@[192.0.2.1]>", "user@[192.0.2.1]" },
		{ "MAIL FROM:<user@[IPv6:2001:db8::1]>",
		  "user@[IPv6:2001:db8::1]" },
		{ "MAIL FROM:<user@[x-tag:a@b]>", "user@[x-tag:a@b]" },
	};
	static const struct fail_case fails[] = {
		{ "MAIL", R_SYNTAX_MAIL },
		{ "MAIL   ", R_SYNTAX_MAIL },
		{ "MAIL FROM", R_SYNTAX_MAIL },
		{ "MAIL FROM:", R_SYNTAX_MAIL },
		{ "MAIL FROM:  \t", R_SYNTAX_MAIL },
		{ "MAIL FROM :<a@b>", R_SYNTAX_MAIL },
		{ "MAIL TO:<a@b>", R_SYNTAX_MAIL },
		{ "MAIL <a@b>", R_SYNTAX_MAIL },
		{ "MAIL FRO", R_SYNTAX_MAIL },
		{ "MAIL FROM:<a@b>SIZE=1", R_BAD_SENDER },
		{ "MAIL FROM:<>x", R_BAD_SENDER },
		{ "MAIL FROM:<>>", R_BAD_SENDER },
		{ "MAIL FROM:a@b", R_BAD_SENDER },
		{ "MAIL FROM:\"a\"@b", R_BAD_SENDER },
		{ "MAIL FROM:<", R_BAD_SENDER },
		{ "MAIL FROM:<a@b", R_BAD_SENDER },
		{ "MAIL FROM:<a@b >", R_BAD_SENDER },
		{ "MAIL FROM:< a@b>", R_BAD_SENDER },
		{ "MAIL FROM:<a>", R_BAD_SENDER },
		{ "MAIL FROM:<Postmaster>", R_BAD_SENDER },
		{ "MAIL FROM:<@a>", R_BAD_SENDER },
		{ "MAIL FROM:<a@>", R_BAD_SENDER },
		{ "MAIL FROM:<@b>", R_BAD_SENDER },
		{ "MAIL FROM:<@a:>", R_BAD_SENDER },
		{ "MAIL FROM:<@a:@b>", R_BAD_SENDER },
		{ "MAIL FROM:<@a,b:c@d>", R_BAD_SENDER },
		{ "MAIL FROM:<@a;c@d>", R_BAD_SENDER },
		{ "MAIL FROM:<@a,:c@d>", R_BAD_SENDER },
		{ "MAIL FROM:<@[192.0.2.1]:c@d>", R_BAD_SENDER },
		{ "MAIL FROM:<.a@b>", R_BAD_SENDER },
		{ "MAIL FROM:<a.@b>", R_BAD_SENDER },
		{ "MAIL FROM:<a..b@c>", R_BAD_SENDER },
		{ "MAIL FROM:<a b@c>", R_BAD_SENDER },
		{ "MAIL FROM:<a(b)@c>", R_BAD_SENDER },
		{ "MAIL FROM:<a@b@c>", R_BAD_SENDER },
		{ "MAIL FROM:<a@-b>", R_BAD_SENDER },
		{ "MAIL FROM:<a@b->", R_BAD_SENDER },
		{ "MAIL FROM:<a@b-.c>", R_BAD_SENDER },
		{ "MAIL FROM:<a@b.>", R_BAD_SENDER },
		{ "MAIL FROM:<a@.b>", R_BAD_SENDER },
		{ "MAIL FROM:<a@b..c>", R_BAD_SENDER },
		{ "MAIL FROM:<a@b_c>", R_BAD_SENDER },
		{ "MAIL FROM:<a@[]>", R_BAD_SENDER },
		{ "MAIL FROM:<a@[1.2.3.4>", R_BAD_SENDER },
		{ "MAIL FROM:<a@[a[b]>", R_BAD_SENDER },
		{ "MAIL FROM:<a@[a\\b]>", R_BAD_SENDER },
		{ "MAIL FROM:<a@[a b]>", R_BAD_SENDER },
		{ "MAIL FROM:<a@[1.2.3.4]x>", R_BAD_SENDER },
		{ "MAIL FROM:<\"a@b>", R_BAD_SENDER },
		{ "MAIL FROM:<\"a\"b@c>", R_BAD_SENDER },
		{ "MAIL FROM:<\"a\x01\"@b>", R_BAD_SENDER },
		{ "MAIL FROM:<\"a\\\x01\"@b>", R_BAD_SENDER },
		{ "MAIL FROM:<\"a\\\"@b>", R_BAD_SENDER },
		{ "MAIL FROM:<\"a\x80\"@b>", R_BAD_SENDER },
		{ "MAIL FROM:<j\xc3\xb6rg@example.org>", R_BAD_SENDER },
		{ "MAIL FROM:<a@b\xc3\xa9.org>", R_BAD_SENDER },
		{ "MAIL FROM:<a@[\xc3\xa9]>", R_BAD_SENDER },
		{ "MAIL FROM:<a@b>>", R_BAD_SENDER },
		{ "MAIL FROM:<<a@b>>", R_BAD_SENDER },
		{ "MAIL FROM:<a\t@b>", R_BAD_SENDER },
		{ "MAIL FROM:<a@b\r>", R_BAD_SENDER },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(oks); i++)
		check_path(oks[i].line, SMTP_VERB_MAIL, oks[i].path);
	fail_cases(fails, G_N_ELEMENTS(fails));
}

static void test_rcpt_path(void)
{
	static const struct {
		const char *line;
		const char *path;
	} oks[] = {
		{ "RCPT TO:<bob@example.org>", "bob@example.org" },
		{ "rcpt to:<bob@example.org>", "bob@example.org" },
		{ "RCPT TO: <bob@example.org>", "bob@example.org" },
		{ "RCPT TO:<Postmaster>", "postmaster" },
		{ "RCPT TO:<POSTMASTER>", "postmaster" },
		{ "RCPT TO:<postmaster>", "postmaster" },
		{ "RCPT TO: <pOstMaster>  ", "postmaster" },
		{ "RCPT TO:<Postmaster@example.org>",
		  "Postmaster@example.org" },
		/* RFC 5321 3.6.1's example */
		{ "RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>",
		  "userc@d.bar.org" },
		{ "RCPT TO:<\"x y\"@[192.0.2.9]>", "\"x y\"@[192.0.2.9]" },
	};
	static const struct fail_case fails[] = {
		{ "RCPT", R_SYNTAX_RCPT },
		{ "RCPT TO", R_SYNTAX_RCPT },
		{ "RCPT TO:", R_SYNTAX_RCPT },
		{ "RCPT FROM:<a@b>", R_SYNTAX_RCPT },
		{ "RCPT T:<a@b>", R_SYNTAX_RCPT },
		{ "RCPT TO:<a@b>x", R_BAD_RCPT },
		{ "RCPT TO:<>", R_BAD_RCPT },
		{ "RCPT TO:<bob>", R_BAD_RCPT },
		{ "RCPT TO:bob@example.org", R_BAD_RCPT },
		{ "RCPT TO:<\"Postmaster\">", R_BAD_RCPT },
		{ "RCPT TO:<@a:Postmaster>", R_BAD_RCPT },
		{ "RCPT TO:<postmasterx>", R_BAD_RCPT },
		{ "RCPT TO:<postmaste>", R_BAD_RCPT },
		{ "RCPT TO:<Postmaster", R_BAD_RCPT },
		{ "RCPT TO:<Postmaster.x>", R_BAD_RCPT },
		{ "RCPT TO:<b\xc3\xb6" "b@example.org>", R_BAD_RCPT },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(oks); i++)
		check_path(oks[i].line, SMTP_VERB_RCPT, oks[i].path);
	fail_cases(fails, G_N_ELEMENTS(fails));
}

/* "MAIL FROM:<" local "@" domain ">" */
static char *mail_line(const char *verb, size_t local_len, char local_c,
		       size_t domain_len)
{
	GString *s = g_string_new(verb);

	for (size_t i = 0; i < local_len; i++)
		g_string_append_c(s, local_c);
	g_string_append_c(s, '@');
	/* labels of 63 "d" separated by dots, never a dot last */
	for (size_t i = 0; i < domain_len; i++)
		g_string_append_c(s, i % 64 == 63 && i + 1 < domain_len ?
				     '.' : 'd');
	g_string_append_c(s, '>');
	return g_string_free(s, FALSE);
}

static void check_mail_limit(size_t local_len, size_t domain_len, bool ok)
{
	static const char *const verbs[] = { "MAIL FROM:<", "RCPT TO:<" };

	for (size_t v = 0; v < G_N_ELEMENTS(verbs); v++) {
		char *line = mail_line(verbs[v], local_len, 'l', domain_len);
		struct smtp_command cmd;

		if (ok) {
			parse_ok(line, &cmd);
			g_assert_cmpuint(strlen(cmd.path), ==,
					 local_len + 1 + domain_len);
			smtp_command_clear(&cmd);
		} else {
			parse_fail(line, v == 0 ? R_BAD_SENDER : R_BAD_RCPT);
		}
		g_free(line);
	}
}

static void test_path_limits(void)
{
	char *line, *literal, *path;
	struct smtp_command cmd;

	check_mail_limit(SMTP_LOCAL_PART_MAX, 10, true);
	check_mail_limit(SMTP_LOCAL_PART_MAX + 1, 10, false);
	check_mail_limit(1, SMTP_DOMAIN_MAX, false); /* path 257 */
	check_mail_limit(10, SMTP_PATH_MAX - 11, true);
	check_mail_limit(10, SMTP_PATH_MAX - 10, false);
	check_mail_limit(SMTP_LOCAL_PART_MAX, SMTP_PATH_MAX - 65, true);
	check_mail_limit(SMTP_LOCAL_PART_MAX, SMTP_PATH_MAX - 64, false);

	/* A quoted local part counts with its quotes. */
	literal = g_strnfill(SMTP_LOCAL_PART_MAX - 2, 'q');
	line = g_strdup_printf("MAIL FROM:<\"%s\"@d>", literal);
	path = g_strdup_printf("\"%s\"@d", literal);
	check_path(line, SMTP_VERB_MAIL, path);
	g_free(path);
	g_free(line);
	line = g_strdup_printf("MAIL FROM:<\"%sq\"@d>", literal);
	parse_fail(line, R_BAD_SENDER);
	g_free(line);
	g_free(literal);

	/* An address literal counts with its brackets; the path limit
	 * would hide the domain one, so it is seen in a source route. */
	literal = g_strnfill(SMTP_DOMAIN_MAX - 2, '1');
	line = g_strdup_printf("MAIL FROM:<u@[%s]>", literal);
	parse_fail(line, R_BAD_SENDER);
	g_free(line);
	g_free(literal);
	literal = g_strnfill(SMTP_PATH_MAX - 4, '1');
	line = g_strdup_printf("MAIL FROM:<u@[%s]>", literal);
	parse_ok(line, &cmd);
	g_assert_cmpuint(strlen(cmd.path), ==, SMTP_PATH_MAX);
	smtp_command_clear(&cmd);
	g_free(line);
	g_free(literal);

	/* Domains in a source route: 255 at most */
	literal = mail_line("", 0, 'x', SMTP_DOMAIN_MAX);
	literal[strlen(literal) - 1] = '\0';
	line = g_strdup_printf("MAIL FROM:<%s:u@d>", literal);
	check_path(line, SMTP_VERB_MAIL, "u@d");
	g_free(line);
	line = g_strdup_printf("MAIL FROM:<%sd:u@d>", literal);
	parse_fail(line, R_BAD_SENDER);
	g_free(line);
	g_free(literal);
}

static void check_mail(const char *line, bool has_size, uint64_t size,
		       enum smtp_body body, enum smtp_ret ret,
		       const char *envid)
{
	struct smtp_command cmd;

	parse_ok(line, &cmd);
	g_assert_cmpint(cmd.verb, ==, SMTP_VERB_MAIL);
	g_assert_cmpint(cmd.has_size, ==, has_size);
	g_assert_cmpuint(cmd.size, ==, size);
	g_assert_cmpint(cmd.body, ==, body);
	g_assert_cmpint(cmd.ret, ==, ret);
	g_assert_cmpstr(cmd.envid, ==, envid);
	g_assert_cmpuint(cmd.notify, ==, 0);
	g_assert_null(cmd.orcpt);
	g_assert_null(cmd.orcpt_type);
	smtp_command_clear(&cmd);
}

static void test_mail_params(void)
{
	static const struct fail_case fails[] = {
		{ "MAIL FROM:<a@b> SIZE", R_INVALID },
		{ "MAIL FROM:<a@b> SIZE=", R_INVALID },
		{ "MAIL FROM:<a@b> SIZE=-1", R_INVALID },
		{ "MAIL FROM:<a@b> SIZE=+1", R_INVALID },
		{ "MAIL FROM:<a@b> SIZE=1a", R_INVALID },
		{ "MAIL FROM:<a@b> SIZE=1.5", R_INVALID },
		{ "MAIL FROM:<a@b> SIZE=18446744073709551616", R_INVALID },
		{ "MAIL FROM:<a@b> SIZE=99999999999999999999", R_INVALID },
		{ "MAIL FROM:<a@b> SIZE=000000000000000000001", R_INVALID },
		{ "MAIL FROM:<a@b> SIZE==1", R_INVALID },
		{ "MAIL FROM:<a@b> BODY=BINARYMIME", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> BODY=binarymime", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> BODY=8BIT", R_INVALID },
		{ "MAIL FROM:<a@b> BODY=", R_INVALID },
		{ "MAIL FROM:<a@b> BODY", R_INVALID },
		{ "MAIL FROM:<a@b> RET=NONE", R_INVALID },
		{ "MAIL FROM:<a@b> RET=", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=a+2b", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=a+2", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=a+", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=a+GG", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=a+00", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=a+0D+0A", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=a+7F", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=+C3+A9", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=a=b", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=a\x01", R_INVALID },
		{ "MAIL FROM:<a@b> ENVID=\xc3\xa9", R_INVALID },
		{ "MAIL FROM:<a@b> AUTH", R_INVALID },
		{ "MAIL FROM:<a@b> AUTH=", R_INVALID },
		{ "MAIL FROM:<a@b> AUTH=a+zz", R_INVALID },
		{ "MAIL FROM:<a@b> AUTH=a+00", R_INVALID },
		{ "MAIL FROM:<a@b> NOTIFY=NEVER", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> ORCPT=rfc822;a@b", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> SMTPUTF8", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> FOO=BAR", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> SIZES=1", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> SIZ=1", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> =1", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> SIZE=1 X", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> SIZE=1 SIZE=1", R_DUPLICATE },
		{ "MAIL FROM:<a@b> size=1 SIZE=2", R_DUPLICATE },
		{ "MAIL FROM:<a@b> BODY=7BIT BODY=8BITMIME", R_DUPLICATE },
		{ "MAIL FROM:<a@b> RET=FULL SIZE=1 RET=FULL", R_DUPLICATE },
		{ "MAIL FROM:<a@b> ENVID=x ENVID=x", R_DUPLICATE },
		{ "MAIL FROM:<a@b> AUTH=<> AUTH=<>", R_DUPLICATE },
		/* The first bad one decides. */
		{ "MAIL FROM:<a@b> SIZE=x FOO", R_INVALID },
		{ "MAIL FROM:<a@b> FOO SIZE=x", R_UNSUPPORTED },
		{ "MAIL FROM:<a@b> SIZE=1 SIZE=x", R_DUPLICATE },
	};
	char *line, *value;

	check_mail("MAIL FROM:<a@b>", false, 0, 0, 0, NULL);
	check_mail("MAIL FROM:<a@b> SIZE=0", true, 0, 0, 0, NULL);
	check_mail("MAIL FROM:<a@b> SIZE=123", true, 123, 0, 0, NULL);
	check_mail("MAIL FROM:<a@b> size=0000123", true, 123, 0, 0, NULL);
	check_mail("MAIL FROM:<a@b> SIZE=18446744073709551615", true,
		   UINT64_MAX, 0, 0, NULL);
	check_mail("MAIL FROM:<a@b> SIZE=00000000000000000001", true, 1, 0, 0,
		   NULL);
	check_mail("MAIL FROM:<> SIZE=10", true, 10, 0, 0, NULL);
	check_mail("MAIL FROM:<a@b> BODY=7BIT", false, 0, SMTP_BODY_7BIT, 0,
		   NULL);
	check_mail("MAIL FROM:<a@b> body=8bitmime", false, 0,
		   SMTP_BODY_8BITMIME, 0, NULL);
	check_mail("MAIL FROM:<a@b> RET=FULL", false, 0, 0, SMTP_RET_FULL,
		   NULL);
	check_mail("MAIL FROM:<a@b> Ret=Hdrs", false, 0, 0, SMTP_RET_HDRS,
		   NULL);
	check_mail("MAIL FROM:<a@b> ENVID=QQ+2B1+3D2", false, 0, 0, 0,
		   "QQ+1=2");
	check_mail("MAIL FROM:<a@b> envid=a+20b", false, 0, 0, 0, "a b");
	check_mail("MAIL FROM:<a@b> ENVID=+41", false, 0, 0, 0, "A");
	/* AUTH= is checked and ignored. */
	check_mail("MAIL FROM:<a@b> AUTH=<>", false, 0, 0, 0, NULL);
	check_mail("MAIL FROM:<a@b> auth=e+3Dmc2@example.com", false, 0, 0, 0,
		   NULL);
	check_mail("MAIL FROM:<a@b>  SIZE=5\t\tBODY=8BITMIME RET=HDRS "
		   "ENVID=id1 AUTH=<>  ",
		   true, 5, SMTP_BODY_8BITMIME, SMTP_RET_HDRS, "id1");
	fail_cases(fails, G_N_ELEMENTS(fails));

	/* ENVID: 100 decoded characters, however long encoded */
	value = g_strnfill(SMTP_ENVID_MAX, 'e');
	line = g_strdup_printf("MAIL FROM:<a@b> ENVID=%s", value);
	check_mail(line, false, 0, 0, 0, value);
	g_free(line);
	line = g_strdup_printf("MAIL FROM:<a@b> ENVID=%se", value);
	parse_fail(line, R_INVALID);
	g_free(line);
	g_free(value);
	{
		GString *enc = g_string_new("MAIL FROM:<a@b> ENVID=");

		for (int i = 0; i < SMTP_ENVID_MAX; i++)
			g_string_append(enc, "+41");
		value = g_strnfill(SMTP_ENVID_MAX, 'A');
		check_mail(enc->str, false, 0, 0, 0, value);
		g_string_append(enc, "+41");
		parse_fail(enc->str, R_INVALID);
		g_free(value);
		g_string_free(enc, TRUE);
	}
}

static void check_rcpt(const char *line, unsigned int notify,
		       const char *orcpt_type, const char *orcpt)
{
	struct smtp_command cmd;

	parse_ok(line, &cmd);
	g_assert_cmpint(cmd.verb, ==, SMTP_VERB_RCPT);
	g_assert_cmpuint(cmd.notify, ==, notify);
	g_assert_cmpstr(cmd.orcpt_type, ==, orcpt_type);
	g_assert_cmpstr(cmd.orcpt, ==, orcpt);
	g_assert_false(cmd.has_size);
	g_assert_null(cmd.envid);
	smtp_command_clear(&cmd);
}

static void test_rcpt_params(void)
{
	static const struct fail_case fails[] = {
		{ "RCPT TO:<a@b> NOTIFY", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=SUCCESS,NEVER", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=NEVER,NEVER", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=SUCCESS,", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=,SUCCESS", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=SUCCESS,,DELAY", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=SOMETIMES", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=SUCCESS;DELAY", R_INVALID },
		{ "RCPT TO:<a@b> NOTIFY=NEVERX", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT=", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT=rfc822", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT=;a@b", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT=rfc822;", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT=rf(c;a@b", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT=rf.c;a@b", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT=rfc822;a+0Ab", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT=rfc822;a+2x", R_INVALID },
		{ "RCPT TO:<a@b> ORCPT=rfc822;a=b", R_INVALID },
		{ "RCPT TO:<a@b> SIZE=1", R_UNSUPPORTED },
		{ "RCPT TO:<a@b> BODY=7BIT", R_UNSUPPORTED },
		{ "RCPT TO:<a@b> RET=FULL", R_UNSUPPORTED },
		{ "RCPT TO:<a@b> ENVID=x", R_UNSUPPORTED },
		{ "RCPT TO:<a@b> AUTH=<>", R_UNSUPPORTED },
		{ "RCPT TO:<a@b> XRCPTFORWARD=x", R_UNSUPPORTED },
		{ "RCPT TO:<a@b> NOTIFY=NEVER notify=NEVER", R_DUPLICATE },
		{ "RCPT TO:<a@b> ORCPT=rfc822;x ORCPT=rfc822;x", R_DUPLICATE },
		{ "RCPT TO:<a@b> NOTIFY=BAD NOTIFY=NEVER", R_INVALID },
	};
	const unsigned int all = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
				 SMTP_NOTIFY_DELAY;
	char *line, *value;
	GString *enc;

	check_rcpt("RCPT TO:<a@b>", 0, NULL, NULL);
	check_rcpt("RCPT TO:<a@b> NOTIFY=NEVER", SMTP_NOTIFY_NEVER, NULL, NULL);
	check_rcpt("RCPT TO:<a@b> notify=never", SMTP_NOTIFY_NEVER, NULL, NULL);
	check_rcpt("RCPT TO:<a@b> NOTIFY=SUCCESS", SMTP_NOTIFY_SUCCESS, NULL,
		   NULL);
	check_rcpt("RCPT TO:<a@b> NOTIFY=FAILURE", SMTP_NOTIFY_FAILURE, NULL,
		   NULL);
	check_rcpt("RCPT TO:<a@b> NOTIFY=DELAY", SMTP_NOTIFY_DELAY, NULL, NULL);
	check_rcpt("RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE,DELAY", all, NULL,
		   NULL);
	check_rcpt("RCPT TO:<a@b> NOTIFY=delay,Success,FAILURE", all, NULL,
		   NULL);
	check_rcpt("RCPT TO:<a@b> NOTIFY=DELAY,DELAY", SMTP_NOTIFY_DELAY, NULL,
		   NULL);
	check_rcpt("RCPT TO:<a@b> ORCPT=rfc822;bob+40example.org", 0, "rfc822",
		   "bob@example.org");
	check_rcpt("RCPT TO:<a@b> orcpt=RFC822;Bob@Example.org", 0, "rfc822",
		   "Bob@Example.org");
	check_rcpt("RCPT TO:<a@b> ORCPT=X-Local_Type;a+20b+3Bc", 0,
		   "x-local_type", "a b;c");
	check_rcpt("RCPT TO:<Postmaster> NOTIFY=FAILURE,DELAY "
		   "ORCPT=rfc822;postmaster",
		   SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, "rfc822",
		   "postmaster");
	fail_cases(fails, G_N_ELEMENTS(fails));

	/* ORCPT: 500 decoded characters */
	value = g_strnfill(SMTP_ORCPT_MAX, 'o');
	line = g_strdup_printf("RCPT TO:<a@b> ORCPT=rfc822;%s", value);
	check_rcpt(line, 0, "rfc822", value);
	g_free(line);
	line = g_strdup_printf("RCPT TO:<a@b> ORCPT=rfc822;%so", value);
	parse_fail(line, R_INVALID);
	g_free(line);
	g_free(value);
	enc = g_string_new("RCPT TO:<a@b> ORCPT=rfc822;");
	for (int i = 0; i < SMTP_ORCPT_MAX; i++)
		g_string_append(enc, "+2B");
	value = g_strnfill(SMTP_ORCPT_MAX, '+');
	check_rcpt(enc->str, 0, "rfc822", value);
	g_string_append(enc, "+2B");
	parse_fail(enc->str, R_INVALID);
	g_free(value);
	g_string_free(enc, TRUE);
}

static void check_bdat(const char *line, uint64_t size, bool last)
{
	struct smtp_command cmd;

	parse_ok(line, &cmd);
	g_assert_cmpint(cmd.verb, ==, SMTP_VERB_BDAT);
	g_assert_cmpuint(cmd.chunk_size, ==, size);
	g_assert_cmpint(cmd.last, ==, last);
	g_assert_null(cmd.arg);
	smtp_command_clear(&cmd);
}

static void test_bdat(void)
{
	static const struct fail_case fails[] = {
		{ "BDAT", R_BDAT },
		{ "BDAT  ", R_BDAT },
		{ "BDAT LAST", R_BDAT },
		{ "BDAT x", R_BDAT },
		{ "BDAT -1", R_BDAT },
		{ "BDAT +1", R_BDAT },
		{ "BDAT 0x10", R_BDAT },
		{ "BDAT 1LAST", R_BDAT },
		{ "BDAT 1 LAS", R_BDAT },
		{ "BDAT 1 LASTX", R_BDAT },
		{ "BDAT 1 LAST x", R_BDAT },
		{ "BDAT 1 2", R_BDAT },
		{ "BDAT 18446744073709551616", R_BDAT },
		{ "BDAT 000000000000000000001 LAST", R_BDAT },
	};

	check_bdat("BDAT 0", 0, false);
	check_bdat("BDAT 1000", 1000, false);
	check_bdat("BDAT 1000 LAST", 1000, true);
	check_bdat("bdat 5 last", 5, true);
	check_bdat("BDAT 0 LAST", 0, true);
	check_bdat("BDAT\t7\t Last \t", 7, true);
	check_bdat("BDAT 18446744073709551615 LAST", UINT64_MAX, true);
	fail_cases(fails, G_N_ELEMENTS(fails));
}

static void check_auth(const char *line, const char *mech,
		       const char *initial)
{
	struct smtp_command cmd;

	parse_ok(line, &cmd);
	g_assert_cmpint(cmd.verb, ==, SMTP_VERB_AUTH);
	g_assert_cmpstr(cmd.arg, ==, mech);
	g_assert_cmpstr(cmd.auth_initial, ==, initial);
	smtp_command_clear(&cmd);
}

static void test_auth(void)
{
	static const struct fail_case fails[] = {
		{ "AUTH", R_AUTH },
		{ "AUTH  ", R_AUTH },
		{ "AUTH PL@IN", R_AUTH },
		{ "AUTH PLAIN.X", R_AUTH },
		{ "AUTH PLAIN AAAA BBBB", R_AUTH },
		{ "AUTH PLAIN = =", R_AUTH },
		{ "AUTH ABCDEFGHIJKLMNOPQRSTU", R_AUTH },
		{ "AUTH PL\xc3\x80IN", R_AUTH },
		{ "AUTH PLAIN abc", R_BASE64 },
		{ "AUTH PLAIN ab=c", R_BASE64 },
		{ "AUTH PLAIN a===", R_BASE64 },
		{ "AUTH PLAIN ====", R_BASE64 },
		{ "AUTH PLAIN ==", R_BASE64 },
		{ "AUTH PLAIN QQ==QQ==", R_BASE64 },
		{ "AUTH PLAIN QQ-_", R_BASE64 },
		{ "AUTH PLAIN QQ\x80=", R_BASE64 },
	};
	GString *big;

	check_auth("AUTH PLAIN", "PLAIN", NULL);
	check_auth("AUTH LOGIN  ", "LOGIN", NULL);
	check_auth("auth plain AGFsaWNlAHNlY3JldA==",
		   "PLAIN", "AGFsaWNlAHNlY3JldA==");
	check_auth("AUTH PLAIN =", "PLAIN", "=");
	check_auth("AUTH LOGIN YWxpY2U=", "LOGIN", "YWxpY2U=");
	check_auth("AUTH X QUJD", "X", "QUJD");
	check_auth("AUTH X Q+/=", "X", "Q+/=");
	check_auth("AUTH cram-md5", "CRAM-MD5", NULL);
	check_auth("AUTH scram-sha-256", "SCRAM-SHA-256", NULL);
	check_auth("AUTH x_y-2\t\tQUJD\t", "X_Y-2", "QUJD");
	check_auth("AUTH ABCDEFGHIJKLMNOPQRST", "ABCDEFGHIJKLMNOPQRST", NULL);
	fail_cases(fails, G_N_ELEMENTS(fails));

	/* RFC 4954 4's 12288 octets hold a long initial response. */
	big = g_string_new("AUTH PLAIN ");
	while (big->len + 4 <= SMTP_COMMAND_LINE_MAX)
		g_string_append(big, "QUJD");
	check_auth(big->str, "PLAIN", big->str + strlen("AUTH PLAIN "));
	g_string_free(big, TRUE);
}

static void test_line(void)
{
	static const char nul1[] = "NOOP \0x";
	static const char nul2[] = "MAIL FROM:<a@b>\0";
	static const char nul3[] = "\0";
	char *line = g_malloc(SMTP_COMMAND_LINE_MAX + 1);
	struct smtp_command cmd;
	const char *reply;

	parse_fail_n(nul1, sizeof(nul1) - 1, R_NUL);
	parse_fail_n(nul2, sizeof(nul2) - 1, R_NUL);
	parse_fail_n(nul3, sizeof(nul3) - 1, R_NUL);
	parse_fail_n("MAIL FROM:<a@b>\0 SIZE=1", 23, R_NUL);

	/* exactly the limit, then one more */
	memset(line, 'x', SMTP_COMMAND_LINE_MAX + 1);
	memcpy(line, "NOOP ", 5);
	g_assert_cmpint(parse_n(line, SMTP_COMMAND_LINE_MAX, &cmd, &reply), ==,
			0);
	g_assert_cmpint(cmd.verb, ==, SMTP_VERB_NOOP);
	g_assert_cmpuint(strlen(cmd.arg), ==, SMTP_COMMAND_LINE_MAX - 5);
	smtp_command_clear(&cmd);
	parse_fail_n(line, SMTP_COMMAND_LINE_MAX + 1, R_TOO_LONG);
	/* too long wins over NUL */
	line[10] = '\0';
	parse_fail_n(line, SMTP_COMMAND_LINE_MAX + 1, R_TOO_LONG);
	g_free(line);

	/* no NUL-termination needed, even at length 0 */
	g_assert_cmpint(smtp_parse_command("QUITX", 4, &cmd, &reply), ==, 0);
	g_assert_cmpint(cmd.verb, ==, SMTP_VERB_QUIT);
	smtp_command_clear(&cmd);
	g_assert_cmpint(smtp_parse_command("QUIT", 0, &cmd, &reply), ==, 0);
	g_assert_cmpint(cmd.verb, ==, SMTP_VERB_UNKNOWN);
}

/* What Python's smtplib sends (SMTP and LMTP classes) */
static void test_smtplib(void)
{
	check_verb("ehlo client.example.org", SMTP_VERB_EHLO,
		   "client.example.org");
	check_verb("ehlo [127.0.1.1]", SMTP_VERB_EHLO, "[127.0.1.1]");
	check_verb("helo client", SMTP_VERB_HELO, "client");
	check_verb("lhlo client", SMTP_VERB_LHLO, "client");
	check_mail("mail FROM:<a@b> size=123", true, 123, 0, 0, NULL);
	check_mail("mail FROM:<a@b> size=123 BODY=8BITMIME", true, 123,
		   SMTP_BODY_8BITMIME, 0, NULL);
	check_mail("mail FROM:<> size=42", true, 42, 0, 0, NULL);
	check_mail("mail FROM:<a@b> RET=HDRS ENVID=x+2By", false, 0, 0,
		   SMTP_RET_HDRS, "x+y");
	check_rcpt("rcpt TO:<a@b>", 0, NULL, NULL);
	check_rcpt("rcpt TO:<a@b> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a@b",
		   SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY, "rfc822", "a@b");
	check_verb("data", SMTP_VERB_DATA, NULL);
	check_bdat("BDAT 5 LAST", 5, true);
	check_verb("rset", SMTP_VERB_RSET, NULL);
	check_verb("noop", SMTP_VERB_NOOP, NULL);
	check_verb("vrfy a@b", SMTP_VERB_VRFY, "a@b");
	check_verb("expn list", SMTP_VERB_EXPN, "list");
	check_verb("help", SMTP_VERB_HELP, NULL);
	check_verb("help mail", SMTP_VERB_HELP, "mail");
	check_verb("STARTTLS", SMTP_VERB_STARTTLS, NULL);
	check_auth("AUTH PLAIN AGEAYg==", "PLAIN", "AGEAYg==");
	check_auth("AUTH CRAM-MD5", "CRAM-MD5", NULL);
	check_auth("AUTH LOGIN YQ==", "LOGIN", "YQ==");
	check_verb("quit", SMTP_VERB_QUIT, NULL);
}

/* What swaks sends: upper-case verbs, no space after the colon */
static void test_swaks(void)
{
	check_verb("EHLO swaks.example", SMTP_VERB_EHLO, "swaks.example");
	check_verb("HELO swaks.example", SMTP_VERB_HELO, "swaks.example");
	check_verb("LHLO swaks.example", SMTP_VERB_LHLO, "swaks.example");
	check_verb("STARTTLS", SMTP_VERB_STARTTLS, NULL);
	check_auth("AUTH PLAIN AHVzZXIAcGFzcw==", "PLAIN",
		   "AHVzZXIAcGFzcw==");
	check_auth("AUTH LOGIN", "LOGIN", NULL);
	check_auth("AUTH CRAM-MD5", "CRAM-MD5", NULL);
	check_path("MAIL FROM:<user@host.example>", SMTP_VERB_MAIL,
		   "user@host.example");
	check_path("MAIL FROM:<>", SMTP_VERB_MAIL, "");
	check_path("RCPT TO:<rcpt@host.example>", SMTP_VERB_RCPT,
		   "rcpt@host.example");
	check_mail("MAIL FROM:<user@host.example> SIZE=1234", true, 1234, 0,
		   0, NULL);
	check_verb("DATA", SMTP_VERB_DATA, NULL);
	check_bdat("BDAT 312 LAST", 312, true);
	check_verb("RSET", SMTP_VERB_RSET, NULL);
	check_verb("QUIT", SMTP_VERB_QUIT, NULL);
}

static void check_decode(const char *text, size_t max, const char *expect)
{
	char *got = smtp_xtext_decode(text, max);

	g_assert_cmpstr(got, ==, expect);
	g_free(got);
}

static void check_encode(const char *text, const char *expect)
{
	char *got = smtp_xtext_encode(text);
	char *back = smtp_xtext_decode(got, strlen(text));

	g_assert_cmpstr(got, ==, expect);
	g_assert_cmpstr(back, ==, text);
	g_free(got);
	g_free(back);
}

static void test_xtext(void)
{
	static const char *const bad[] = {
		"+", "+4", "+4g", "+4a", "a+", "a b", "a=b", "+00", "a+00b",
		"\x80", "a\x01", "+G0", "++41", "\x7f",
	};
	char all[256];
	char *enc, *dec;

	check_decode("", 10, "");
	check_decode("abc", 10, "abc");
	check_decode("a+2Bb+3D", 10, "a+b=");
	check_decode("+41", 10, "A");
	check_decode("+FF+80", 10, "\xff\x80");
	check_decode("+0D+0A", 10, "\r\n");
	check_decode("!\"#~", 10, "!\"#~");
	check_decode("abc", 3, "abc");
	check_decode("abcd", 3, NULL);
	check_decode("+41+42", 2, "AB");
	check_decode("+41+42", 1, NULL);
	check_decode("", 0, "");
	check_decode("a", 0, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		check_decode(bad[i], 100, NULL);

	check_encode("", "");
	check_encode("abc", "abc");
	check_encode("a+b=c d", "a+2Bb+3Dc+20d");
	check_encode("\x01\x7f\xff", "+01+7F+FF");
	check_encode("<a@b>", "<a@b>");
	check_encode("\t\r\n", "+09+0D+0A");

	/* every byte but NUL, there and back */
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	enc = smtp_xtext_encode(all);
	for (const char *s = enc; *s != '\0'; s++)
		g_assert_true(*s > ' ' && *s < 0x7f && *s != '=');
	dec = smtp_xtext_decode(enc, 255);
	g_assert_cmpstr(dec, ==, all);
	g_free(dec);
	dec = smtp_xtext_decode(enc, 254);
	g_assert_null(dec);
	g_free(enc);
}

static void check_split(const char *path, const char *local,
			const char *domain)
{
	char *l = (char *)"untouched", *d = (char *)"untouched";
	bool ok = smtp_address_split(path, &l, &d);

	if (local == NULL) {
		g_assert_false(ok);
		g_assert_cmpstr(l, ==, "untouched");
		g_assert_cmpstr(d, ==, "untouched");
		return;
	}
	g_assert_true(ok);
	g_assert_cmpstr(l, ==, local);
	g_assert_cmpstr(d, ==, domain);
	g_free(l);
	g_free(d);
}

static void test_address_split(void)
{
	check_split("alice@example.org", "alice", "example.org");
	check_split("a@b", "a", "b");
	check_split("\"x@y\"@z", "\"x@y\"", "z");
	check_split("u@[192.0.2.1]", "u", "[192.0.2.1]");
	check_split("u@[tag:a@b]", "u", "[tag:a@b]");
	check_split("\"a@[x]\"@[tag:a@b]", "\"a@[x]\"", "[tag:a@b]");
	check_split("\"a@[x]\"@d", "\"a@[x]\"", "d");
	check_split("", NULL, NULL);
	check_split("postmaster", NULL, NULL);
	check_split("@b", NULL, NULL);
	check_split("a@", NULL, NULL);
	check_split("@", NULL, NULL);
	/* not from the parser, but split all the same */
	check_split("a@b]", "a", "b]");
	check_split("[a@b]", "[a", "b]");
	check_split("a[b]", NULL, NULL);
}

static void test_clear(void)
{
	struct smtp_command cmd = { 0 };

	smtp_command_clear(&cmd);
	g_assert_true(is_zero(&cmd));
	parse_ok("RCPT TO:<a@b> NOTIFY=NEVER ORCPT=rfc822;a@b", &cmd);
	smtp_command_clear(&cmd);
	g_assert_true(is_zero(&cmd));
	smtp_command_clear(&cmd);
	g_assert_true(is_zero(&cmd));
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	guard_init(1);

	g_test_add_func("/smtp-parser/verbs", test_verbs);
	g_test_add_func("/smtp-parser/no-args", test_no_args);
	g_test_add_func("/smtp-parser/hello", test_hello);
	g_test_add_func("/smtp-parser/rest-of-line", test_rest_of_line);
	g_test_add_func("/smtp-parser/mail-path", test_mail_path);
	g_test_add_func("/smtp-parser/rcpt-path", test_rcpt_path);
	g_test_add_func("/smtp-parser/path-limits", test_path_limits);
	g_test_add_func("/smtp-parser/mail-params", test_mail_params);
	g_test_add_func("/smtp-parser/rcpt-params", test_rcpt_params);
	g_test_add_func("/smtp-parser/bdat", test_bdat);
	g_test_add_func("/smtp-parser/auth", test_auth);
	g_test_add_func("/smtp-parser/line", test_line);
	g_test_add_func("/smtp-parser/smtplib", test_smtplib);
	g_test_add_func("/smtp-parser/swaks", test_swaks);
	g_test_add_func("/smtp-xtext/codec", test_xtext);
	g_test_add_func("/smtp-address/split", test_address_split);
	g_test_add_func("/smtp-parser/clear", test_clear);
	return g_test_run();
}
