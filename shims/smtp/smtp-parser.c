/* One SMTP/LMTP command line to a struct smtp_command. The line is read
 * through a cursor bounded by its length, never as a C string, so that
 * nothing past it is touched; strings are copied out only once a field
 * is known good. The parse_* helpers return NULL or the reply to send. */
#include <errno.h>
#include <string.h>
#include <glib.h>

#include "smtp-parser.h"

#define SIZE_DIGITS_MAX 20 /* UINT64_MAX has 20 */
#define AUTH_MECH_MAX 20   /* RFC 4954 4: sasl-mech */

#define R_SYNTAX_MAIL "501 5.5.4 Syntax: MAIL FROM:<address>"
#define R_SYNTAX_RCPT "501 5.5.4 Syntax: RCPT TO:<address>"
#define R_BAD_SENDER "501 5.1.7 Bad sender address syntax"
#define R_BAD_RCPT "501 5.1.3 Bad recipient address syntax"
#define R_UNSUPPORTED "555 5.5.4 Unsupported parameter"
#define R_INVALID "501 5.5.4 Invalid parameter value"
#define R_DUPLICATE "501 5.5.4 Duplicate parameter"

struct cursor {
	const char *p;
	const char *end;
};

/* The next byte, or -1 at the end of the line. */
static int peek(const struct cursor *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

static bool eat(struct cursor *c, char ch)
{
	if (c->p == c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

static bool is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

static void skip_blanks(struct cursor *c)
{
	while (is_blank(peek(c)))
		c->p++;
}

/* Takes the run of non-blanks at the cursor, possibly empty. */
static size_t take_word(struct cursor *c, const char **word_r)
{
	*word_r = c->p;
	while (c->p < c->end && !is_blank(*c->p))
		c->p++;
	return (size_t)(c->p - *word_r);
}

static bool word_is(const char *word, size_t len, const char *name)
{
	return len == strlen(name) && g_ascii_strncasecmp(word, name, len) == 0;
}

static bool is_alnum(int ch)
{
	return ch >= 0 && ch <= 0x7f && g_ascii_isalnum(ch);
}

static bool is_graphic(int ch)
{
	return ch >= 33 && ch <= 126;
}

/* RFC 5321 4.1.2 atext (RFC 5322 3.2.3) */
static bool is_atext(int ch)
{
	return is_alnum(ch) ||
	       (is_graphic(ch) && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

/* RFC 5321 4.1.3 dcontent: printable but "[", "\" and "]" */
static bool is_dcontent(int ch)
{
	return (ch >= 33 && ch <= 90) || (ch >= 94 && ch <= 126);
}

static bool all_graphic(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!is_graphic((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* 1 to 20 digits that fit in 64 bits: SIZE=, BDAT. */
static bool parse_u64(const char *s, size_t len, uint64_t *value_r)
{
	uint64_t v = 0;

	if (len == 0 || len > SIZE_DIGITS_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned int d = (unsigned char)s[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*value_r = v;
	return true;
}

static int hex_value(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static char *xtext_decode_n(const char *s, size_t len, size_t max)
{
	char *out = g_malloc(len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '+') {
			if (len - i < 3 || hex_value(s[i + 1]) < 0 ||
			    hex_value(s[i + 2]) < 0)
				goto fail;
			ch = hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]);
			i += 2;
			if (ch == 0)
				goto fail;
		} else if (!is_graphic(ch) || ch == '=') {
			goto fail;
		}
		if (n == max)
			goto fail;
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	return out;
fail:
	g_free(out);
	return NULL;
}

char *smtp_xtext_decode(const char *text, size_t max)
{
	return xtext_decode_n(text, strlen(text), max);
}

char *smtp_xtext_encode(const char *text)
{
	GString *out = g_string_sized_new(strlen(text));

	for (const unsigned char *s = (const unsigned char *)text; *s != '\0';
	     s++) {
		if (is_graphic(*s) && *s != '+' && *s != '=')
			g_string_append_c(out, (char)*s);
		else
			g_string_append_printf(out, "+%02X", *s);
	}
	return g_string_free(out, FALSE);
}

bool smtp_address_split(const char *path, char **local_r, char **domain_r)
{
	size_t len = strlen(path);
	const char *at = strrchr(path, '@');
	const char *bracket = strrchr(path, '[');

	/* An address literal may hold "@" but never "[" (dcontent), so its
	 * last "[" is the domain's start whatever the local part holds. */
	if (len > 0 && path[len - 1] == ']' && bracket != NULL &&
	    bracket > path && bracket[-1] == '@')
		at = bracket - 1;
	if (at == NULL || at == path || at[1] == '\0')
		return false;
	*local_r = g_strndup(path, (size_t)(at - path));
	*domain_r = g_strdup(at + 1);
	return true;
}

/* RFC 3461 4.2 and 4.4: what ENVID and ORCPT carry must be printable
 * US-ASCII, as a DSN copies it decoded into a header field. */
static char *dsn_xtext_decode(const char *s, size_t len, size_t max)
{
	char *text = xtext_decode_n(s, len, max);

	if (text == NULL)
		return NULL;
	for (const char *t = text; *t != '\0'; t++) {
		if (*t < ' ' || *t > '~') {
			g_free(text);
			return NULL;
		}
	}
	return text;
}

/* Dot-string / Quoted-string, RFC 5321 4.1.2. */
static bool scan_local_part(struct cursor *c)
{
	int ch;

	if (!eat(c, '"')) {
		do {
			if (!is_atext(peek(c)))
				return false;
			while (is_atext(peek(c)))
				c->p++;
		} while (eat(c, '.'));
		return true;
	}
	while (!eat(c, '"')) {
		/* qtextSMTP, or after a "\" the rest of a quoted-pairSMTP:
		 * either way printable ASCII or space. */
		eat(c, '\\');
		ch = peek(c);
		if (ch < 32 || ch > 126)
			return false;
		c->p++;
	}
	return true;
}

/* Domain: labels of letters, digits and inner hyphens. */
static bool scan_domain_name(struct cursor *c)
{
	const char *start = c->p;

	do {
		if (!is_alnum(peek(c)))
			return false;
		while (is_alnum(peek(c)) || peek(c) == '-')
			c->p++;
		if (c->p[-1] == '-')
			return false;
	} while (eat(c, '.'));
	return (size_t)(c->p - start) <= SMTP_DOMAIN_MAX;
}

/* Domain or address-literal. The literal's tags and addresses are not
 * checked: "[" 1*dcontent "]" covers every form of RFC 5321 4.1.3. */
static bool scan_domain(struct cursor *c)
{
	const char *start = c->p;

	if (!eat(c, '['))
		return scan_domain_name(c);
	if (!is_dcontent(peek(c)))
		return false;
	while (is_dcontent(peek(c)))
		c->p++;
	return eat(c, ']') && (size_t)(c->p - start) <= SMTP_DOMAIN_MAX;
}

/* A-d-l ":" (a source route, RFC 5321 4.1.2 and appendix C): checked
 * and dropped. */
static bool skip_source_route(struct cursor *c)
{
	do {
		if (!eat(c, '@') || !scan_domain_name(c))
			return false;
	} while (eat(c, ','));
	return eat(c, ':');
}

/* Path, or "<>" for MAIL (null_ok), or "<Postmaster>" for RCPT. */
static bool parse_path(struct cursor *c, bool null_ok, bool postmaster_ok,
		       char **path_r)
{
	const char *start, *at;

	if (!eat(c, '<'))
		return false;
	if (null_ok && eat(c, '>')) {
		*path_r = g_strdup("");
		return true;
	}
	if (peek(c) == '@') {
		if (!skip_source_route(c))
			return false;
		postmaster_ok = false;
	}
	start = c->p;
	if (!scan_local_part(c))
		return false;
	at = c->p;
	if (postmaster_ok && word_is(start, (size_t)(at - start), "postmaster") &&
	    eat(c, '>')) {
		*path_r = g_strdup("postmaster");
		return true;
	}
	if ((size_t)(at - start) > SMTP_LOCAL_PART_MAX || !eat(c, '@') ||
	    !scan_domain(c) || (size_t)(c->p - start) > SMTP_PATH_MAX ||
	    !eat(c, '>'))
		return false;
	*path_r = g_strndup(start, (size_t)(c->p - 1 - start));
	return true;
}

enum param {
	PARAM_SIZE,
	PARAM_BODY,
	PARAM_RET,
	PARAM_ENVID,
	PARAM_AUTH,
	PARAM_NOTIFY,
	PARAM_ORCPT,
};

static const struct {
	const char *keyword;
	enum smtp_verb verb;
} params[] = {
	[PARAM_SIZE] = { "SIZE", SMTP_VERB_MAIL },
	[PARAM_BODY] = { "BODY", SMTP_VERB_MAIL },
	[PARAM_RET] = { "RET", SMTP_VERB_MAIL },
	[PARAM_ENVID] = { "ENVID", SMTP_VERB_MAIL },
	[PARAM_AUTH] = { "AUTH", SMTP_VERB_MAIL },
	[PARAM_NOTIFY] = { "NOTIFY", SMTP_VERB_RCPT },
	[PARAM_ORCPT] = { "ORCPT", SMTP_VERB_RCPT },
};

/* NOTIFY=NEVER / NOTIFY=<SUCCESS, FAILURE, DELAY separated by ","> */
static bool parse_notify(const char *v, size_t len, unsigned int *notify_r)
{
	struct cursor c = { v, v + len };
	unsigned int notify = 0;
	const char *word;
	size_t n;

	if (word_is(v, len, "NEVER")) {
		*notify_r = SMTP_NOTIFY_NEVER;
		return true;
	}
	do {
		word = c.p;
		while (c.p < c.end && *c.p != ',')
			c.p++;
		n = (size_t)(c.p - word);
		if (word_is(word, n, "SUCCESS"))
			notify |= SMTP_NOTIFY_SUCCESS;
		else if (word_is(word, n, "FAILURE"))
			notify |= SMTP_NOTIFY_FAILURE;
		else if (word_is(word, n, "DELAY"))
			notify |= SMTP_NOTIFY_DELAY;
		else
			return false;
	} while (eat(&c, ','));
	*notify_r = notify;
	return true;
}

/* ORCPT=<addr-type>;<xtext>. An empty address is refused: it could not
 * stand for the original recipient. */
static bool parse_orcpt(const char *v, size_t len, struct smtp_command *cmd)
{
	const char *semi = memchr(v, ';', len);
	size_t type_len;

	if (semi == NULL || semi == v || semi == v + len - 1)
		return false;
	type_len = (size_t)(semi - v);
	for (size_t i = 0; i < type_len; i++) {
		if (!is_atext((unsigned char)v[i]))
			return false;
	}
	cmd->orcpt = dsn_xtext_decode(semi + 1, len - type_len - 1,
				      SMTP_ORCPT_MAX);
	if (cmd->orcpt == NULL)
		return false;
	cmd->orcpt_type = g_ascii_strdown(v, (gssize)type_len);
	return true;
}

/* v is NULL when the keyword came without "=". */
static const char *parse_param_value(struct smtp_command *cmd,
				     enum param param, const char *v,
				     size_t len)
{
	char *auth;

	if (v == NULL || len == 0)
		return R_INVALID;
	switch (param) {
	case PARAM_SIZE:
		if (!parse_u64(v, len, &cmd->size))
			return R_INVALID;
		cmd->has_size = true;
		break;
	case PARAM_BODY:
		if (word_is(v, len, "7BIT"))
			cmd->body = SMTP_BODY_7BIT;
		else if (word_is(v, len, "8BITMIME"))
			cmd->body = SMTP_BODY_8BITMIME;
		else if (word_is(v, len, "BINARYMIME"))
			return R_UNSUPPORTED;
		else
			return R_INVALID;
		break;
	case PARAM_RET:
		if (word_is(v, len, "FULL"))
			cmd->ret = SMTP_RET_FULL;
		else if (word_is(v, len, "HDRS"))
			cmd->ret = SMTP_RET_HDRS;
		else
			return R_INVALID;
		break;
	case PARAM_ENVID:
		cmd->envid = dsn_xtext_decode(v, len, SMTP_ENVID_MAX);
		if (cmd->envid == NULL)
			return R_INVALID;
		break;
	case PARAM_AUTH:
		/* RFC 4954 5: the server may ignore it, but it is still
		 * checked as the xtext it must be ("<>" is xtext too). */
		auth = xtext_decode_n(v, len, len);
		if (auth == NULL)
			return R_INVALID;
		g_free(auth);
		break;
	case PARAM_NOTIFY:
		if (!parse_notify(v, len, &cmd->notify))
			return R_INVALID;
		break;
	case PARAM_ORCPT:
		if (!parse_orcpt(v, len, cmd))
			return R_INVALID;
		break;
	}
	return NULL;
}

/* Mail-parameters / Rcpt-parameters, RFC 5321 4.1.2: keyword["=" value]
 * separated by blanks. The cursor is past the path, at a blank or at the
 * end. */
static const char *parse_params(struct cursor *c, struct smtp_command *cmd)
{
	unsigned int seen = 0;
	const char *word, *eq, *reply;
	size_t n, klen, i;

	skip_blanks(c);
	while (c->p < c->end) {
		n = take_word(c, &word);
		skip_blanks(c);
		eq = memchr(word, '=', n);
		klen = eq != NULL ? (size_t)(eq - word) : n;
		for (i = 0; i < G_N_ELEMENTS(params); i++) {
			if (word_is(word, klen, params[i].keyword))
				break;
		}
		if (i == G_N_ELEMENTS(params) || params[i].verb != cmd->verb)
			return R_UNSUPPORTED;
		if ((seen & (1u << i)) != 0)
			return R_DUPLICATE;
		seen |= 1u << i;
		reply = parse_param_value(cmd, (enum param)i,
					  eq != NULL ? eq + 1 : NULL,
					  n - klen - (eq != NULL ? 1 : 0));
		if (reply != NULL)
			return reply;
	}
	return NULL;
}

/* MAIL FROM:<reverse-path> [params] / RCPT TO:<forward-path> [params] */
static const char *parse_mail_rcpt(struct cursor *c, struct smtp_command *cmd)
{
	bool mail = cmd->verb == SMTP_VERB_MAIL;
	const char *syntax_reply = mail ? R_SYNTAX_MAIL : R_SYNTAX_RCPT;
	const char *prefix = mail ? "FROM:" : "TO:";
	size_t plen = strlen(prefix);

	if ((size_t)(c->end - c->p) < plen ||
	    g_ascii_strncasecmp(c->p, prefix, plen) != 0)
		return syntax_reply;
	c->p += plen;
	skip_blanks(c);
	if (c->p == c->end)
		return syntax_reply;
	/* "<a@b>>" or "<a@b>x": the path is what went wrong */
	if (!parse_path(c, mail, !mail, &cmd->path) ||
	    (c->p < c->end && !is_blank(*c->p)))
		return mail ? R_BAD_SENDER : R_BAD_RCPT;
	return parse_params(c, cmd);
}

/* HELO/EHLO/LHLO: one word of printable ASCII. What it names is not
 * checked, as clients send all sorts. */
static const char *parse_hello(struct cursor *c, struct smtp_command *cmd,
			       const char *syntax_reply)
{
	const char *word;
	size_t n = take_word(c, &word);

	if (n == 0 || n > SMTP_DOMAIN_MAX || c->p != c->end ||
	    !all_graphic(word, n))
		return syntax_reply;
	cmd->arg = g_strndup(word, n);
	return NULL;
}

/* BDAT chunk-size [LAST] (RFC 3030 2) */
static const char *parse_bdat(struct cursor *c, struct smtp_command *cmd)
{
	static const char syntax_reply[] = "501 5.5.4 Syntax: BDAT size [LAST]";
	const char *word;
	size_t n = take_word(c, &word);

	if (!parse_u64(word, n, &cmd->chunk_size))
		return syntax_reply;
	skip_blanks(c);
	n = take_word(c, &word);
	if (n > 0) {
		if (!word_is(word, n, "LAST"))
			return syntax_reply;
		cmd->last = true;
	}
	return c->p == c->end ? NULL : syntax_reply;
}

static bool is_base64_char(int ch)
{
	return is_alnum(ch) || ch == '+' || ch == '/';
}

/* RFC 4954 4: base64 in its padded form, so a length divisible by 4 with
 * at most two "=" at the end; len > 0. */
static bool is_base64(const char *s, size_t len)
{
	size_t i = 0;

	if (len % 4 != 0)
		return false;
	while (i < len && is_base64_char((unsigned char)s[i]))
		i++;
	if (len - i > 2)
		return false;
	for (; i < len; i++) {
		if (s[i] != '=')
			return false;
	}
	return true;
}

/* AUTH mechanism [initial-response] (RFC 4954 4) */
static const char *parse_auth(struct cursor *c, struct smtp_command *cmd)
{
	static const char syntax_reply[] =
		"501 5.5.4 Syntax: AUTH mechanism [initial-response]";
	const char *mech, *initial;
	size_t mlen, ilen;

	mlen = take_word(c, &mech);
	if (mlen == 0 || mlen > AUTH_MECH_MAX)
		return syntax_reply;
	for (size_t i = 0; i < mlen; i++) {
		if (!is_alnum((unsigned char)mech[i]) && mech[i] != '-' &&
		    mech[i] != '_')
			return syntax_reply;
	}
	skip_blanks(c);
	ilen = take_word(c, &initial);
	if (c->p != c->end)
		return syntax_reply;
	if (ilen > 0 && !word_is(initial, ilen, "=") &&
	    !is_base64(initial, ilen))
		return "501 5.5.2 Cannot Base64-decode Client responses";
	cmd->arg = g_ascii_strup(mech, (gssize)mlen);
	if (ilen > 0)
		cmd->auth_initial = g_strndup(initial, ilen);
	return NULL;
}

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_VERB_HELO }, { "EHLO", SMTP_VERB_EHLO },
	{ "LHLO", SMTP_VERB_LHLO }, { "MAIL", SMTP_VERB_MAIL },
	{ "RCPT", SMTP_VERB_RCPT }, { "DATA", SMTP_VERB_DATA },
	{ "BDAT", SMTP_VERB_BDAT }, { "RSET", SMTP_VERB_RSET },
	{ "NOOP", SMTP_VERB_NOOP }, { "QUIT", SMTP_VERB_QUIT },
	{ "HELP", SMTP_VERB_HELP }, { "VRFY", SMTP_VERB_VRFY },
	{ "EXPN", SMTP_VERB_EXPN }, { "AUTH", SMTP_VERB_AUTH },
	{ "STARTTLS", SMTP_VERB_STARTTLS },
};

static enum smtp_verb lookup_verb(const char *word, size_t len)
{
	for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
		if (word_is(word, len, verbs[i].name))
			return verbs[i].verb;
	}
	return SMTP_VERB_UNKNOWN;
}

/* The cursor is past the verb and its blanks; trailing blanks are gone. */
static const char *parse_args(struct cursor *c, struct smtp_command *cmd)
{
	switch (cmd->verb) {
	case SMTP_VERB_UNKNOWN:
		break;
	case SMTP_VERB_HELO:
		return parse_hello(c, cmd, "501 5.5.4 Syntax: HELO hostname");
	case SMTP_VERB_EHLO:
		return parse_hello(c, cmd, "501 5.5.4 Syntax: EHLO hostname");
	case SMTP_VERB_LHLO:
		return parse_hello(c, cmd, "501 5.5.4 Syntax: LHLO hostname");
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		return parse_mail_rcpt(c, cmd);
	case SMTP_VERB_BDAT:
		return parse_bdat(c, cmd);
	case SMTP_VERB_AUTH:
		return parse_auth(c, cmd);
	case SMTP_VERB_DATA:
		if (c->p != c->end)
			return "501 5.5.4 Syntax: DATA takes no arguments";
		break;
	case SMTP_VERB_RSET:
		if (c->p != c->end)
			return "501 5.5.4 Syntax: RSET takes no arguments";
		break;
	case SMTP_VERB_QUIT:
		if (c->p != c->end)
			return "501 5.5.4 Syntax: QUIT takes no arguments";
		break;
	case SMTP_VERB_STARTTLS:
		if (c->p != c->end)
			return "501 5.5.4 Syntax: STARTTLS takes no arguments";
		break;
	case SMTP_VERB_NOOP:
	case SMTP_VERB_HELP:
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		if (c->p != c->end)
			cmd->arg = g_strndup(c->p, (size_t)(c->end - c->p));
		break;
	}
	return NULL;
}

int smtp_parse_command(const char *line, size_t len,
		       struct smtp_command *cmd_r, const char **reply_r)
{
	struct smtp_command cmd = { 0 };
	struct cursor c = { line, line + len };
	const char *word, *reply;
	size_t n;

	memset(cmd_r, 0, sizeof(*cmd_r));
	if (len > SMTP_COMMAND_LINE_MAX) {
		*reply_r = "500 5.5.6 Line too long";
		return -EINVAL;
	}
	if (len > 0 && memchr(line, '\0', len) != NULL) {
		*reply_r = "500 5.5.2 Line contains a NUL byte";
		return -EINVAL;
	}
	while (c.end > c.p && is_blank(c.end[-1]))
		c.end--;
	n = take_word(&c, &word);
	cmd.verb = lookup_verb(word, n);
	skip_blanks(&c);
	reply = parse_args(&c, &cmd);
	if (reply != NULL) {
		smtp_command_clear(&cmd);
		*reply_r = reply;
		return -EINVAL;
	}
	*cmd_r = cmd;
	return 0;
}

void smtp_command_clear(struct smtp_command *cmd)
{
	g_free(cmd->arg);
	g_free(cmd->auth_initial);
	g_free(cmd->path);
	g_free(cmd->envid);
	g_free(cmd->orcpt_type);
	g_free(cmd->orcpt);
	memset(cmd, 0, sizeof(*cmd));
}
