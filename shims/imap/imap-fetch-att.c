/* FETCH items. The section grammar, RFC 3501 section 9:
 *   section      = "[" [section-spec] "]"
 *   section-spec = section-msgtext / (section-part ["." section-text])
 *   section-part = nz-number *("." nz-number)
 *   section-text = section-msgtext / "MIME"
 *   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
 *                     "TEXT"
 * with BINARY taking part numbers only (RFC 3516), and an optional
 * "<" number "." nz-number ">" after the section. */
#include <errno.h>
#include <string.h>

#include "imap-fetch-att.h"

static const struct {
	const char *name;
	enum imap_fetch_att_type type;
} simple_atts[] = {
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "UID", IMAP_FETCH_UID },
	{ "MODSEQ", IMAP_FETCH_MODSEQ },
};

static const struct {
	const char *name;
	enum imap_fetch_att_type type;
	bool peek;
} section_atts[] = {
	{ "BODY", IMAP_FETCH_BODY_SECTION, false },
	{ "BODY.PEEK", IMAP_FETCH_BODY_SECTION, true },
	{ "BINARY", IMAP_FETCH_BINARY, false },
	{ "BINARY.PEEK", IMAP_FETCH_BINARY, true },
	{ "BINARY.SIZE", IMAP_FETCH_BINARY_SIZE, false },
};

static const struct {
	const char *name;
	enum imap_section_text text;
} section_texts[] = {
	/* Longest first, as each is a prefix of the one before. */
	{ "HEADER.FIELDS.NOT", IMAP_SECTION_HEADER_FIELDS_NOT },
	{ "HEADER.FIELDS", IMAP_SECTION_HEADER_FIELDS },
	{ "HEADER", IMAP_SECTION_HEADER },
	{ "TEXT", IMAP_SECTION_TEXT },
	{ "MIME", IMAP_SECTION_MIME },
};

/* Reads a number at *p and moves *p past it; nz rejects 0 and leading
 * zeros, as nz-number does. */
static bool read_number(const char **p, bool nz, uint32_t *num_r)
{
	const char *s = *p;
	uint64_t num = 0;

	if (*s < '0' || *s > '9' || (nz && *s == '0'))
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		num = num * 10 + (uint64_t)(*s - '0');
		if (num > UINT32_MAX)
			return false;
	}
	*p = s;
	*num_r = (uint32_t)num;
	return true;
}

static bool is_field_char(unsigned char c)
{
	/* RFC 5322 ftext: printable US-ASCII except ":". */
	return c >= 33 && c <= 126 && c != ':';
}

/* Reads one header-fld-name, an atom or a quoted string, into field. */
static int read_field(const char **p, GString *field)
{
	const char *s = *p;

	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\\')
				s++;
			if (*s == '\0' || !is_field_char((unsigned char)*s))
				return -EINVAL;
			g_string_append_c(field, *s);
		}
		s++;
	} else {
		/* An astring char that is not "]", which ends the section. */
		for (; *s != ']' && imap_is_astring_char((unsigned char)*s);
		     s++) {
			if (!is_field_char((unsigned char)*s))
				return -EINVAL;
			g_string_append_c(field, *s);
		}
	}
	if (field->len == 0)
		return -EINVAL;
	*p = s;
	return 0;
}

/* header-list: "(" header-fld-name *(SP header-fld-name) ")". */
static int read_header_list(const char **p, struct imap_fetch_att *att)
{
	GPtrArray *fields = g_ptr_array_new_with_free_func(g_free);
	GString *field = g_string_new(NULL);
	const char *s = *p;
	int ret = -EINVAL;

	if (*s++ != '(')
		goto out;
	for (;;) {
		g_string_truncate(field, 0);
		if (read_field(&s, field) < 0)
			goto out;
		g_ptr_array_add(fields, g_strndup(field->str, field->len));
		if (*s == ')')
			break;
		if (*s++ != ' ')
			goto out;
	}
	g_ptr_array_add(fields, NULL);
	att->fields = (char **)g_ptr_array_free(fields, FALSE);
	fields = NULL;
	*p = s + 1;
	ret = 0;
out:
	if (fields != NULL)
		g_ptr_array_free(fields, TRUE);
	g_string_free(field, TRUE);
	return ret;
}

/* The inside of the brackets, up to and past "]". */
static int parse_section(const char **p, struct imap_fetch_att *att,
			 const char **error_r)
{
	const char *s = *p;
	size_t i;

	while (*s >= '0' && *s <= '9') {
		if (att->part_count == IMAP_SECTION_MAX_PARTS) {
			*error_r = "Section nested too deeply";
			return -EINVAL;
		}
		if (!read_number(&s, true, &att->parts[att->part_count++]))
			goto invalid;
		if (*s != '.')
			break;
		if (s[1] < '0' || s[1] > '9') {
			s++;
			if (att->type != IMAP_FETCH_BODY_SECTION)
				goto invalid;
			break;
		}
		s++;
	}
	if (*s != ']') {
		if (att->type != IMAP_FETCH_BODY_SECTION)
			goto invalid;
		for (i = 0; i < G_N_ELEMENTS(section_texts); i++) {
			size_t n = strlen(section_texts[i].name);

			if (g_ascii_strncasecmp(s, section_texts[i].name,
						n) == 0) {
				s += n;
				break;
			}
		}
		if (i == G_N_ELEMENTS(section_texts))
			goto invalid;
		att->text = section_texts[i].text;
		if (att->text == IMAP_SECTION_MIME && att->part_count == 0)
			goto invalid;
		if (att->text == IMAP_SECTION_HEADER_FIELDS ||
		    att->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
			if (*s++ != ' ' || read_header_list(&s, att) < 0)
				goto invalid;
		}
	} else if (att->part_count > 0 && s[-1] == '.') {
		goto invalid;
	}
	if (*s != ']')
		goto invalid;
	*p = s + 1;
	return 0;
invalid:
	*error_r = "Invalid section";
	return -EINVAL;
}

static int parse_partial(const char *s, struct imap_fetch_att *att)
{
	if (*s == '\0')
		return 0;
	if (att->type == IMAP_FETCH_BINARY_SIZE || *s++ != '<' ||
	    !read_number(&s, false, &att->partial_offset) || *s++ != '.' ||
	    !read_number(&s, true, &att->partial_size) || *s++ != '>' ||
	    *s != '\0')
		return -EINVAL;
	att->partial = true;
	return 0;
}

int imap_fetch_att_parse(const char *str, struct imap_fetch_att *att_r,
			 const char **error_r)
{
	struct imap_fetch_att att = { 0 };
	const char *bracket = strchr(str, '[');
	size_t name_len = bracket != NULL ? (size_t)(bracket - str) :
					    strlen(str);
	size_t i;

	for (i = 0; bracket == NULL && i < G_N_ELEMENTS(simple_atts); i++) {
		if (g_ascii_strcasecmp(str, simple_atts[i].name) == 0) {
			att.type = simple_atts[i].type;
			*att_r = att;
			return 0;
		}
	}
	for (i = 0; bracket != NULL && i < G_N_ELEMENTS(section_atts); i++) {
		const char *name = section_atts[i].name;

		if (strlen(name) == name_len &&
		    g_ascii_strncasecmp(str, name, name_len) == 0)
			break;
	}
	if (bracket == NULL || i == G_N_ELEMENTS(section_atts)) {
		*error_r = "Unknown FETCH item";
		return -EINVAL;
	}
	att.type = section_atts[i].type;
	att.peek = section_atts[i].peek;
	bracket++;
	if (parse_section(&bracket, &att, error_r) < 0)
		goto fail;
	if (parse_partial(bracket, &att) < 0) {
		*error_r = "Invalid partial";
		goto fail;
	}
	*att_r = att;
	return 0;
fail:
	imap_fetch_att_clear(&att);
	return -EINVAL;
}

void imap_fetch_att_clear(struct imap_fetch_att *att)
{
	g_strfreev(att->fields);
	att->fields = NULL;
}

static void att_clear_cb(void *att)
{
	imap_fetch_att_clear(att);
}

static const char *const macro_all[] = {
	"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL,
};
static const char *const macro_fast[] = {
	"FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL,
};
static const char *const macro_full[] = {
	"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY", NULL,
};

static int add_att(GArray *atts, const char *str, const char **error_r)
{
	struct imap_fetch_att att;

	if (imap_fetch_att_parse(str, &att, error_r) < 0)
		return -EINVAL;
	g_array_append_val(atts, att);
	return 0;
}

int imap_fetch_atts_parse(const struct imap_arg *arg, GArray **atts_r,
			  const char **error_r)
{
	GArray *atts = g_array_new(FALSE, FALSE, sizeof(struct imap_fetch_att));
	const char *const *macro = NULL;
	const struct imap_arg *list;
	unsigned int count;
	const char *str;
	int ret = 0;

	g_array_set_clear_func(atts, att_clear_cb);
	if (imap_arg_atom_equals(arg, "ALL"))
		macro = macro_all;
	else if (imap_arg_atom_equals(arg, "FAST"))
		macro = macro_fast;
	else if (imap_arg_atom_equals(arg, "FULL"))
		macro = macro_full;
	if (macro != NULL) {
		for (; *macro != NULL; macro++)
			add_att(atts, *macro, error_r);
	} else if (imap_arg_get_atom(arg, &str)) {
		ret = add_att(atts, str, error_r);
	} else if (imap_arg_get_list(arg, &list, &count) && count > 0) {
		for (unsigned int i = 0; i < count && ret == 0; i++) {
			if (!imap_arg_get_atom(&list[i], &str)) {
				*error_r = "Invalid FETCH item";
				ret = -EINVAL;
			} else {
				ret = add_att(atts, str, error_r);
			}
		}
	} else {
		*error_r = "Invalid FETCH items";
		ret = -EINVAL;
	}
	if (ret < 0) {
		g_array_free(atts, TRUE);
		return ret;
	}
	*atts_r = atts;
	return 0;
}
