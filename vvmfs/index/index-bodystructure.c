/* BODYSTRUCTURE and BODY (RFC 3501 7.4.2, grammar in section 9). Both come
 * from one writer: BODY is BODYSTRUCTURE without the extension data. */
#include <string.h>

#include "index-private.h"

static void append_upper(GString *out, const char *str)
{
	char *upper = g_ascii_strup(str, -1);

	index_append_nstring(out, upper);
	g_free(upper);
}

/* A field that is NIL when absent or empty. */
static void append_field(GString *out, const char *value)
{
	index_append_nstring(out, value != NULL && *value != '\0' ? value : NULL);
}

/* GMime hands parameters back decoded (RFC 2231, RFC 2047); one that is
 * not ASCII any more is written again as an RFC 2231 extended value so
 * the structure stays 7-bit. */
static void append_param(GString *out, const char *name, const char *value)
{
	GString *ext;
	char *utf8, *attr;
	const char *p;

	if (index_is_ascii(value)) {
		append_upper(out, name);
		g_string_append_c(out, ' ');
		index_append_nstring(out, value);
		return;
	}
	utf8 = g_utf8_validate(value, -1, NULL) ?
		       g_strdup(value) :
		       g_mime_utils_decode_8bit(NULL, value, strlen(value));
	ext = g_string_new("utf-8''");
	for (p = utf8; *p != '\0'; p++) {
		if (g_ascii_isalnum(*p) || strchr("-._~", *p) != NULL)
			g_string_append_c(ext, *p);
		else
			g_string_append_printf(ext, "%%%02X", (unsigned char)*p);
	}
	attr = g_strconcat(name, "*", NULL);
	append_upper(out, attr);
	g_string_append_c(out, ' ');
	index_append_nstring(out, ext->str);
	g_free(attr);
	g_string_free(ext, TRUE);
	g_free(utf8);
}

/* body-fld-param; a text type without a charset gets the RFC 2046
 * default. */
static void append_params(GString *out, GMimeParamList *list,
			  gboolean text)
{
	int i, n = list != NULL ? g_mime_param_list_length(list) : 0;
	gboolean add_charset = text;

	for (i = 0; i < n && add_charset; i++) {
		GMimeParam *param = g_mime_param_list_get_parameter_at(list, i);

		if (g_ascii_strcasecmp(g_mime_param_get_name(param),
				       "charset") == 0)
			add_charset = FALSE;
	}
	if (n == 0 && !add_charset) {
		g_string_append(out, "NIL");
		return;
	}
	g_string_append_c(out, '(');
	if (add_charset)
		g_string_append(out, "\"CHARSET\" \"US-ASCII\"");
	for (i = 0; i < n; i++) {
		GMimeParam *param = g_mime_param_list_get_parameter_at(list, i);

		if (i > 0 || add_charset)
			g_string_append_c(out, ' ');
		append_param(out, g_mime_param_get_name(param),
			     g_mime_param_get_value(param));
	}
	g_string_append_c(out, ')');
}

static void append_disposition(GString *out, const char *value)
{
	GMimeContentDisposition *disposition;
	const char *type;

	disposition = value != NULL ?
			      g_mime_content_disposition_parse(NULL, value) :
			      NULL;
	type = disposition != NULL ?
		       g_mime_content_disposition_get_disposition(disposition) :
		       NULL;
	if (type == NULL || *type == '\0') {
		g_string_append(out, "NIL");
	} else {
		g_string_append_c(out, '(');
		append_upper(out, type);
		g_string_append_c(out, ' ');
		append_params(out,
			      g_mime_content_disposition_get_parameters(
				      disposition),
			      FALSE);
		g_string_append_c(out, ')');
	}
	if (disposition != NULL)
		g_object_unref(disposition);
}

/* body-fld-lang: the comma-separated tags of Content-Language (RFC 3282),
 * always as a list. */
static void append_language(GString *out, const char *value)
{
	char **tags = g_strsplit(value != NULL ? value : "", ",", -1);
	gboolean first = TRUE;
	unsigned i;

	for (i = 0; tags[i] != NULL; i++) {
		g_strstrip(tags[i]);
		if (*tags[i] == '\0')
			continue;
		g_string_append(out, first ? "(" : " ");
		index_append_nstring(out, tags[i]);
		first = FALSE;
	}
	g_string_append(out, first ? "NIL" : ")");
	g_strfreev(tags);
}

/* The encoding token, without a trailing comment; 7BIT when absent. */
static void append_encoding(GString *out, const char *value)
{
	size_t len = value != NULL ? index_token_length(value) : 0;
	char *encoding = len > 0 ? g_ascii_strup(value, (gssize)len) :
				   g_strdup("7BIT");

	index_append_nstring(out, encoding);
	g_free(encoding);
}

static void append_description(GString *out, const char *value)
{
	if (value == NULL || *value == '\0')
		g_string_append(out, "NIL");
	else
		index_append_text(out, value);
}

/* body-fields */
static void append_fields(GString *out, const struct index_node *node)
{
	char *const *hdr = node->hdr;

	append_params(out, g_mime_content_type_get_parameters(node->type),
		      index_node_type_is(node, "text", NULL));
	g_string_append_c(out, ' ');
	append_field(out, hdr[INDEX_HDR_CONTENT_ID]);
	g_string_append_c(out, ' ');
	append_description(out, hdr[INDEX_HDR_CONTENT_DESCRIPTION]);
	g_string_append_c(out, ' ');
	append_encoding(out, hdr[INDEX_HDR_CONTENT_TRANSFER_ENCODING]);
	g_string_append_printf(out, " %" G_GUINT64_FORMAT, node->body_length);
}

/* The extension data both kinds share: disposition, language, location. */
static void append_extension_tail(GString *out, const struct index_node *node)
{
	g_string_append_c(out, ' ');
	append_disposition(out, node->hdr[INDEX_HDR_CONTENT_DISPOSITION]);
	g_string_append_c(out, ' ');
	append_language(out, node->hdr[INDEX_HDR_CONTENT_LANGUAGE]);
	g_string_append_c(out, ' ');
	append_field(out, node->hdr[INDEX_HDR_CONTENT_LOCATION]);
}

static void append_multipart(GString *out, const struct index_node *node,
			     gboolean extensible)
{
	unsigned i;

	for (i = 0; i < node->children->len; i++)
		index_bodystructure_append(
			out, g_ptr_array_index(node->children, i), extensible);
	g_string_append_c(out, ' ');
	append_upper(out, g_mime_content_type_get_media_subtype(node->type));
	if (!extensible)
		return;
	g_string_append_c(out, ' ');
	append_params(out, g_mime_content_type_get_parameters(node->type),
		      FALSE);
	append_extension_tail(out, node);
}

static void append_single(GString *out, const struct index_node *node,
			  gboolean extensible)
{
	append_upper(out, g_mime_content_type_get_media_type(node->type));
	g_string_append_c(out, ' ');
	append_upper(out, g_mime_content_type_get_media_subtype(node->type));
	g_string_append_c(out, ' ');
	append_fields(out, node);
	if (node->kind == INDEX_NODE_MESSAGE) {
		const struct index_node *msg = g_ptr_array_index(node->children, 0);

		g_string_append_c(out, ' ');
		index_envelope_append(out, msg);
		g_string_append_c(out, ' ');
		index_bodystructure_append(out, msg, extensible);
		g_string_append_printf(out, " %" G_GUINT64_FORMAT, node->lines);
	} else if (index_node_type_is(node, "text", NULL)) {
		g_string_append_printf(out, " %" G_GUINT64_FORMAT, node->lines);
	}
	if (!extensible)
		return;
	g_string_append_c(out, ' ');
	append_field(out, node->hdr[INDEX_HDR_CONTENT_MD5]);
	append_extension_tail(out, node);
}

void index_bodystructure_append(GString *out, const struct index_node *node,
				gboolean extensible)
{
	g_string_append_c(out, '(');
	if (node->kind == INDEX_NODE_MULTIPART)
		append_multipart(out, node, extensible);
	else
		append_single(out, node, extensible);
	g_string_append_c(out, ')');
}
