/* SEARCH keys into a tree. Each key is a table entry naming the kind of
 * argument it takes, so one function per kind of argument does the
 * parsing; NOT, OR and parenthesised groups recurse, to a fixed depth. */
#include <errno.h>
#include <string.h>

#include "imap-search.h"
#include "imap-seqset.h"

enum key_arg {
	ARG_NONE,
	ARG_STRING,
	ARG_KEYWORD,
	ARG_DATE,
	ARG_NUMBER,
	ARG_HEADER,
	ARG_SEQSET,
	ARG_MODSEQ,
	ARG_NOT,
	ARG_OR,
};

static const struct {
	const char *name;
	enum imap_search_type type;
	enum key_arg arg;
} keys[] = {
	{ "ALL", IMAP_SEARCH_ALL, ARG_NONE },
	{ "ANSWERED", IMAP_SEARCH_ANSWERED, ARG_NONE },
	{ "DELETED", IMAP_SEARCH_DELETED, ARG_NONE },
	{ "DRAFT", IMAP_SEARCH_DRAFT, ARG_NONE },
	{ "FLAGGED", IMAP_SEARCH_FLAGGED, ARG_NONE },
	{ "NEW", IMAP_SEARCH_NEW, ARG_NONE },
	{ "OLD", IMAP_SEARCH_OLD, ARG_NONE },
	{ "RECENT", IMAP_SEARCH_RECENT, ARG_NONE },
	{ "SEEN", IMAP_SEARCH_SEEN, ARG_NONE },
	{ "UNANSWERED", IMAP_SEARCH_UNANSWERED, ARG_NONE },
	{ "UNDELETED", IMAP_SEARCH_UNDELETED, ARG_NONE },
	{ "UNDRAFT", IMAP_SEARCH_UNDRAFT, ARG_NONE },
	{ "UNFLAGGED", IMAP_SEARCH_UNFLAGGED, ARG_NONE },
	{ "UNSEEN", IMAP_SEARCH_UNSEEN, ARG_NONE },
	{ "KEYWORD", IMAP_SEARCH_KEYWORD, ARG_KEYWORD },
	{ "UNKEYWORD", IMAP_SEARCH_UNKEYWORD, ARG_KEYWORD },
	{ "BCC", IMAP_SEARCH_BCC, ARG_STRING },
	{ "BODY", IMAP_SEARCH_BODY, ARG_STRING },
	{ "CC", IMAP_SEARCH_CC, ARG_STRING },
	{ "FROM", IMAP_SEARCH_FROM, ARG_STRING },
	{ "SUBJECT", IMAP_SEARCH_SUBJECT, ARG_STRING },
	{ "TEXT", IMAP_SEARCH_TEXT, ARG_STRING },
	{ "TO", IMAP_SEARCH_TO, ARG_STRING },
	{ "HEADER", IMAP_SEARCH_HEADER, ARG_HEADER },
	{ "BEFORE", IMAP_SEARCH_BEFORE, ARG_DATE },
	{ "ON", IMAP_SEARCH_ON, ARG_DATE },
	{ "SINCE", IMAP_SEARCH_SINCE, ARG_DATE },
	{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE, ARG_DATE },
	{ "SENTON", IMAP_SEARCH_SENTON, ARG_DATE },
	{ "SENTSINCE", IMAP_SEARCH_SENTSINCE, ARG_DATE },
	{ "LARGER", IMAP_SEARCH_LARGER, ARG_NUMBER },
	{ "SMALLER", IMAP_SEARCH_SMALLER, ARG_NUMBER },
	{ "MODSEQ", IMAP_SEARCH_MODSEQ, ARG_MODSEQ },
	{ "UID", IMAP_SEARCH_UID, ARG_SEQSET },
	{ "NOT", IMAP_SEARCH_NOT, ARG_NOT },
	{ "OR", IMAP_SEARCH_OR, ARG_OR },
};

struct search_parse {
	const struct imap_arg *arg;  /* the next argument to read */
	const char *error;
};

static void keys_free(struct imap_search_key *key)
{
	while (key != NULL) {
		struct imap_search_key *next = key->next;

		switch (key->type) {
		case IMAP_SEARCH_KEYWORD:
		case IMAP_SEARCH_UNKEYWORD:
		case IMAP_SEARCH_BCC:
		case IMAP_SEARCH_BODY:
		case IMAP_SEARCH_CC:
		case IMAP_SEARCH_FROM:
		case IMAP_SEARCH_SUBJECT:
		case IMAP_SEARCH_TEXT:
		case IMAP_SEARCH_TO:
			g_free(key->u.str);
			break;
		case IMAP_SEARCH_HEADER:
			g_free(key->u.header.field);
			g_free(key->u.header.value);
			break;
		case IMAP_SEARCH_SEQSET:
		case IMAP_SEARCH_UID:
			if (key->u.seqset != NULL)
				g_array_free(key->u.seqset, TRUE);
			break;
		case IMAP_SEARCH_NOT:
		case IMAP_SEARCH_OR:
		case IMAP_SEARCH_AND:
			keys_free(key->u.sub);
			break;
		default:
			break;
		}
		g_free(key);
		key = next;
	}
}

static int fail(struct search_parse *ctx, const char *error)
{
	ctx->error = error;
	return -EINVAL;
}

/* Takes the next argument, or fails when the arguments have run out. */
static const struct imap_arg *next_arg(struct search_parse *ctx)
{
	const struct imap_arg *arg = ctx->arg;

	if (arg->type == IMAP_ARG_EOL) {
		ctx->error = "Missing search argument";
		return NULL;
	}
	ctx->arg++;
	return arg;
}

static int read_astring(struct search_parse *ctx, char **str_r)
{
	const struct imap_arg *arg = next_arg(ctx);
	const char *str;

	if (arg == NULL)
		return -EINVAL;
	if (!imap_arg_get_astring(arg, &str))
		return fail(ctx, "Invalid search string");
	*str_r = g_strdup(str);
	return 0;
}

static int read_keyword(struct search_parse *ctx, char **str_r)
{
	const struct imap_arg *arg = next_arg(ctx);
	const char *str;

	if (arg == NULL)
		return -EINVAL;
	if (!imap_arg_get_atom(arg, &str))
		return fail(ctx, "Invalid keyword");
	for (const char *s = str; *s != '\0'; s++) {
		if (!imap_is_atom_char((unsigned char)*s))
			return fail(ctx, "Invalid keyword");
	}
	*str_r = g_strdup(str);
	return 0;
}

static int read_date(struct search_parse *ctx, struct imap_date *date_r)
{
	const struct imap_arg *arg = next_arg(ctx);
	const char *str;

	if (arg == NULL)
		return -EINVAL;
	if (!imap_arg_get_astring(arg, &str) ||
	    imap_date_parse(str, date_r) < 0)
		return fail(ctx, "Invalid date");
	return 0;
}

static int read_number(struct search_parse *ctx, uint32_t *num_r)
{
	const struct imap_arg *arg = next_arg(ctx);
	const char *str;

	if (arg == NULL)
		return -EINVAL;
	if (!imap_arg_get_atom(arg, &str) || imap_parse_number(str, num_r) < 0)
		return fail(ctx, "Invalid number");
	return 0;
}

static int read_seqset(struct search_parse *ctx, GArray **seqset_r)
{
	const struct imap_arg *arg = next_arg(ctx);
	const char *str;

	if (arg == NULL)
		return -EINVAL;
	if (!imap_arg_get_atom(arg, &str) ||
	    imap_seqset_parse(str, seqset_r) < 0)
		return fail(ctx, "Invalid sequence set");
	return 0;
}

/* RFC 7162: "MODSEQ" [SP entry-name SP entry-type-req] SP
 * mod-sequence-valzer, the value being at most 2^63-1. */
static int read_modseq(struct search_parse *ctx, uint64_t *modseq_r)
{
	const struct imap_arg *arg = next_arg(ctx);
	uint64_t modseq = 0;
	const char *str;

	if (arg != NULL && arg->type == IMAP_ARG_STRING) {
		arg = next_arg(ctx);
		if (arg == NULL)
			return -EINVAL;
		if (!imap_arg_atom_equals(arg, "priv") &&
		    !imap_arg_atom_equals(arg, "shared") &&
		    !imap_arg_atom_equals(arg, "all"))
			return fail(ctx, "Invalid MODSEQ entry type");
		arg = next_arg(ctx);
	}
	if (arg == NULL)
		return -EINVAL;
	if (!imap_arg_get_atom(arg, &str) || *str == '\0')
		return fail(ctx, "Invalid MODSEQ");
	for (; *str != '\0'; str++) {
		uint64_t digit = (uint64_t)(*str - '0');

		if (*str < '0' || *str > '9' ||
		    modseq > ((uint64_t)INT64_MAX - digit) / 10)
			return fail(ctx, "Invalid MODSEQ");
		modseq = modseq * 10 + digit;
	}
	*modseq_r = modseq;
	return 0;
}

static int parse_key(struct search_parse *ctx, unsigned int depth,
		     struct imap_search_key **key_r);

/* Keys up to the end of args, at least one, chained by next. */
static int parse_keys(struct search_parse *ctx, unsigned int depth,
		      struct imap_search_key **keys_r)
{
	struct imap_search_key *first = NULL, **tail = &first;

	if (ctx->arg->type == IMAP_ARG_EOL)
		return fail(ctx, "Missing search key");
	while (ctx->arg->type != IMAP_ARG_EOL) {
		if (parse_key(ctx, depth, tail) < 0) {
			keys_free(first);
			return -EINVAL;
		}
		tail = &(*tail)->next;
	}
	*keys_r = first;
	return 0;
}

static int parse_group(struct search_parse *ctx, const struct imap_arg *arg,
		       unsigned int depth, struct imap_search_key *key)
{
	struct search_parse sub = { .arg = arg->v.list };

	key->type = IMAP_SEARCH_AND;
	if (parse_keys(&sub, depth, &key->u.sub) < 0)
		return fail(ctx, sub.error);
	return 0;
}

static int parse_arg(struct search_parse *ctx, enum key_arg kind,
		     unsigned int depth, struct imap_search_key *key)
{
	switch (kind) {
	case ARG_NONE:
		return 0;
	case ARG_STRING:
		return read_astring(ctx, &key->u.str);
	case ARG_KEYWORD:
		return read_keyword(ctx, &key->u.str);
	case ARG_DATE:
		return read_date(ctx, &key->u.date);
	case ARG_NUMBER:
		return read_number(ctx, &key->u.size);
	case ARG_HEADER:
		if (read_astring(ctx, &key->u.header.field) < 0)
			return -EINVAL;
		return read_astring(ctx, &key->u.header.value);
	case ARG_SEQSET:
		return read_seqset(ctx, &key->u.seqset);
	case ARG_MODSEQ:
		return read_modseq(ctx, &key->u.modseq);
	case ARG_NOT:
		return parse_key(ctx, depth, &key->u.sub);
	case ARG_OR:
		if (parse_key(ctx, depth, &key->u.sub) < 0)
			return -EINVAL;
		return parse_key(ctx, depth, &key->u.sub->next);
	}
	return fail(ctx, "Unknown search key");
}

static int parse_key(struct search_parse *ctx, unsigned int depth,
		     struct imap_search_key **key_r)
{
	const struct imap_arg *arg = next_arg(ctx);
	struct imap_search_key *key;
	const char *name;
	size_t i;
	int ret;

	if (arg == NULL)
		return -EINVAL;
	if (depth >= IMAP_SEARCH_MAX_DEPTH)
		return fail(ctx, "Search keys nested too deeply");
	key = g_new0(struct imap_search_key, 1);
	if (arg->type == IMAP_ARG_LIST) {
		ret = parse_group(ctx, arg, depth + 1, key);
	} else if (!imap_arg_get_atom(arg, &name)) {
		ret = fail(ctx, "Invalid search key");
	} else {
		for (i = 0; i < G_N_ELEMENTS(keys); i++) {
			if (g_ascii_strcasecmp(name, keys[i].name) == 0)
				break;
		}
		if (i < G_N_ELEMENTS(keys)) {
			key->type = keys[i].type;
			ret = parse_arg(ctx, keys[i].arg, depth + 1, key);
		} else if (imap_seqset_parse(name, &key->u.seqset) == 0) {
			key->type = IMAP_SEARCH_SEQSET;
			ret = 0;
		} else {
			ret = fail(ctx, "Unknown search key");
		}
	}
	if (ret < 0) {
		keys_free(key);
		return ret;
	}
	*key_r = key;
	return 0;
}

int imap_search_parse(const struct imap_arg *args,
		      struct imap_search **search_r, const char **error_r)
{
	struct search_parse ctx = { .arg = args };
	struct imap_search *search = g_new0(struct imap_search, 1);

	if (imap_arg_atom_equals(ctx.arg, "CHARSET")) {
		ctx.arg++;
		if (read_astring(&ctx, &search->charset) < 0)
			goto fail;
	}
	if (parse_keys(&ctx, 0, &search->keys) < 0)
		goto fail;
	*search_r = search;
	return 0;
fail:
	imap_search_free(&search);
	*error_r = ctx.error;
	return -EINVAL;
}

void imap_search_free(struct imap_search **search)
{
	if (*search == NULL)
		return;
	keys_free((*search)->keys);
	g_free((*search)->charset);
	g_free(*search);
	*search = NULL;
}
