/* RFC 3501 character classes and the argument accessors that apply them:
 * the lexer is lenient so that one tree fits every command, and the exact
 * rule for each kind of argument is checked here, when a command asks. */
#include <errno.h>
#include <string.h>
#include <glib.h>

#include "imap-parser.h"

bool imap_is_atom_char(unsigned char c)
{
	/* CHAR except atom-specials: "(" ")" "{" SP CTL list-wildcards
	 * quoted-specials resp-specials. */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

bool imap_is_astring_char(unsigned char c)
{
	return c == ']' || imap_is_atom_char(c);
}

bool imap_is_list_char(unsigned char c)
{
	return c == '%' || c == '*' || imap_is_astring_char(c);
}

static bool all_chars(const char *str, size_t len, bool (*is)(unsigned char))
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is((unsigned char)str[i]))
			return false;
	}
	return true;
}

bool imap_command_is(const struct imap_command *cmd, const char *name)
{
	return cmd->name != NULL && g_ascii_strcasecmp(cmd->name, name) == 0;
}

bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
		return false;
	*str_r = arg->v.str;
	return true;
}

bool imap_arg_atom_equals(const struct imap_arg *arg, const char *name)
{
	const char *str;

	return imap_arg_get_atom(arg, &str) &&
	       g_ascii_strcasecmp(str, name) == 0;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_STRING && arg->type != IMAP_ARG_LITERAL)
		return false;
	if ((arg->flags & IMAP_ARG_FLAG_HAS_NUL) != 0)
		return false;
	*str_r = arg->v.str;
	return true;
}

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r)
{
	if ((arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) &&
	    all_chars(arg->v.str, arg->len, imap_is_astring_char)) {
		*str_r = arg->v.str;
		return true;
	}
	return imap_arg_get_string(arg, str_r);
}

bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		return true;
	}
	return imap_arg_get_string(arg, str_r);
}

bool imap_arg_get_list_mailbox(const struct imap_arg *arg, const char **str_r)
{
	if ((arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) &&
	    all_chars(arg->v.str, arg->len, imap_is_list_char)) {
		*str_r = arg->v.str;
		return true;
	}
	return imap_arg_get_string(arg, str_r);
}

bool imap_arg_get_data(const struct imap_arg *arg, const char **data_r,
		       size_t *len_r)
{
	if (arg->type != IMAP_ARG_STRING && arg->type != IMAP_ARG_LITERAL)
		return false;
	*data_r = arg->v.str;
	*len_r = arg->len;
	return true;
}

bool imap_arg_get_list(const struct imap_arg *arg,
		       const struct imap_arg **list_r, unsigned int *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->v.list;
	*count_r = (unsigned int)arg->len;
	return true;
}

int imap_parse_number(const char *str, uint32_t *num_r)
{
	uint64_t num = 0;

	if (*str == '\0')
		return -EINVAL;
	for (; *str != '\0'; str++) {
		if (*str < '0' || *str > '9')
			return -EINVAL;
		num = num * 10 + (uint64_t)(*str - '0');
		if (num > UINT32_MAX)
			return -EINVAL;
	}
	*num_r = (uint32_t)num;
	return 0;
}

int imap_parse_nz_number(const char *str, uint32_t *num_r)
{
	uint32_t num;

	/* nz-number = digit-nz *DIGIT: no leading zero either. */
	if (*str == '0' || imap_parse_number(str, &num) < 0)
		return -EINVAL;
	*num_r = num;
	return 0;
}
