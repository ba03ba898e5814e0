/* IMAP strings and the ENVELOPE (RFC 3501 7.4.2). Header values go out as
 * written where they are 7-bit, so RFC 2047 encoded words reach the client
 * untouched; only what GMime had to decode is encoded again. */
#include <string.h>

#include "index-private.h"

gboolean index_is_ascii(const char *str)
{
	for (; *str != '\0'; str++) {
		if ((unsigned char)*str >= 0x80)
			return FALSE;
	}
	return TRUE;
}

void index_append_nstring(GString *out, const char *str)
{
	const char *p;

	if (str == NULL) {
		g_string_append(out, "NIL");
		return;
	}
	/* A quoted string holds 7-bit TEXT-CHARs only (RFC 3501 9). */
	if (!index_is_ascii(str) || strpbrk(str, "\r\n") != NULL) {
		g_string_append_printf(out, "{%zu}\r\n%s", strlen(str), str);
		return;
	}
	g_string_append_c(out, '"');
	for (p = str; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

/* Decoded UTF-8 text (a display name, a decoded subject) as encoded words,
 * so that what was 7-bit in the message stays 7-bit on the wire. */
static void append_utf8_text(GString *out, const char *text)
{
	char *encoded;

	if (index_is_ascii(text) || !g_utf8_validate(text, -1, NULL)) {
		index_append_nstring(out, text);
		return;
	}
	encoded = g_mime_utils_header_encode_text(NULL, text, "utf-8");
	index_append_nstring(out, encoded);
	g_free(encoded);
}

void index_append_text(GString *out, const char *raw)
{
	char *decoded;

	if (raw == NULL || index_is_ascii(raw)) {
		index_append_nstring(out, raw);
		return;
	}
	decoded = g_mime_utils_header_decode_text(NULL, raw);
	append_utf8_text(out, decoded);
	g_free(decoded);
}

static void append_name(GString *out, const char *name)
{
	if (name == NULL || *name == '\0')
		g_string_append(out, "NIL");
	else
		append_utf8_text(out, name);
}

static void append_mailbox(GString *out, InternetAddressMailbox *mailbox)
{
	const char *addr = mailbox->addr;
	char *local;

	g_string_append_c(out, '(');
	append_name(out, internet_address_get_name(INTERNET_ADDRESS(mailbox)));
	g_string_append(out, " NIL ");
	if (mailbox->at < 0) {
		/* No domain: an empty host, since NIL would mark a group. */
		index_append_nstring(out, addr);
		g_string_append(out, " \"\")");
		return;
	}
	local = g_strndup(addr, (gsize)mailbox->at);
	index_append_nstring(out, local);
	g_string_append_c(out, ' ');
	index_append_nstring(out, addr + mailbox->at + 1);
	g_string_append_c(out, ')');
	g_free(local);
}

/* Appends the address structures of the list, groups as the start and end
 * markers of RFC 3501 around their members. */
static void append_addresses(GString *out, InternetAddressList *list)
{
	int i, n = internet_address_list_length(list);

	for (i = 0; i < n; i++) {
		InternetAddress *addr = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_GROUP(addr)) {
			const char *name = internet_address_get_name(addr);

			g_string_append(out, "(NIL NIL ");
			append_utf8_text(out, name != NULL ? name : "");
			g_string_append(out, " NIL)");
			append_addresses(out, internet_address_group_get_members(
						      INTERNET_ADDRESS_GROUP(addr)));
			g_string_append(out, "(NIL NIL NIL NIL)");
		} else {
			append_mailbox(out, INTERNET_ADDRESS_MAILBOX(addr));
		}
	}
}

/* Parses an address header; NULL when absent or holding no address. */
static InternetAddressList *parse_addresses(const char *value)
{
	InternetAddressList *list;

	if (value == NULL)
		return NULL;
	list = internet_address_list_parse(NULL, value);
	if (list != NULL && internet_address_list_length(list) == 0) {
		g_object_unref(list);
		list = NULL;
	}
	return list;
}

static void append_address_list(GString *out, InternetAddressList *list)
{
	if (list == NULL) {
		g_string_append(out, "NIL");
		return;
	}
	g_string_append_c(out, '(');
	append_addresses(out, list);
	g_string_append_c(out, ')');
}

/* Sender and Reply-To default to From when absent or empty. */
static void append_address_field(GString *out, const char *value,
				 InternetAddressList *fallback)
{
	InternetAddressList *list = parse_addresses(value);

	append_address_list(out, list != NULL ? list : fallback);
	if (list != NULL)
		g_object_unref(list);
}

void index_envelope_append(GString *out, const struct index_node *msg)
{
	char *const *hdr = msg->hdr;
	InternetAddressList *from = parse_addresses(hdr[INDEX_HDR_FROM]);

	g_string_append_c(out, '(');
	index_append_nstring(out, hdr[INDEX_HDR_DATE]);
	g_string_append_c(out, ' ');
	index_append_text(out, hdr[INDEX_HDR_SUBJECT]);
	g_string_append_c(out, ' ');
	append_address_list(out, from);
	g_string_append_c(out, ' ');
	append_address_field(out, hdr[INDEX_HDR_SENDER], from);
	g_string_append_c(out, ' ');
	append_address_field(out, hdr[INDEX_HDR_REPLY_TO], from);
	g_string_append_c(out, ' ');
	append_address_field(out, hdr[INDEX_HDR_TO], NULL);
	g_string_append_c(out, ' ');
	append_address_field(out, hdr[INDEX_HDR_CC], NULL);
	g_string_append_c(out, ' ');
	append_address_field(out, hdr[INDEX_HDR_BCC], NULL);
	g_string_append_c(out, ' ');
	index_append_nstring(out, hdr[INDEX_HDR_IN_REPLY_TO]);
	g_string_append_c(out, ' ');
	index_append_nstring(out, hdr[INDEX_HDR_MESSAGE_ID]);
	g_string_append_c(out, ')');
	if (from != NULL)
		g_object_unref(from);
}

gboolean index_envelope_has_from(const struct index_node *msg)
{
	InternetAddressList *from = parse_addresses(msg->hdr[INDEX_HDR_FROM]);

	if (from == NULL)
		return FALSE;
	g_object_unref(from);
	return TRUE;
}
