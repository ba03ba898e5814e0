/* The copy of a deposit that is stored: the trace fields in front and the
 * configured Subject, on the raw bytes, never re-serialized, so what the
 * client sent is kept byte for byte. */
#include <string.h>

#include <gmime/gmime.h>

#include "smtp-message-private.h"

/* RFC 5322 2.1.1: lines SHOULD be no longer than 78 characters. */
#define FOLD_COLUMN 78

/* Appends the field "name: word word ...", folding before a word that
 * would reach FOLD_COLUMN; a word too long for any line stays whole. */
static void append_folded(GString *out, const char *name,
			  char *const *words)
{
	size_t col = strlen(name) + 1, n;
	bool line_empty = true;

	g_string_append_printf(out, "%s:", name);
	for (; *words != NULL; words++) {
		n = strlen(*words);
		if (n > 0 && !line_empty && col + 1 + n >= FOLD_COLUMN) {
			g_string_append(out, "\r\n");
			col = 0;
		}
		g_string_append_printf(out, " %s", *words);
		col += 1 + n;
		line_empty = line_empty && n == 0;
	}
	g_string_append(out, "\r\n");
}

static void append_received(GString *out, const struct smtp_trace *trace)
{
	g_autofree char *helo = trace->helo != NULL ? smtp_printable(trace->helo)
						     : NULL;
	g_autofree char *addr = trace->client_addr != NULL
					? smtp_printable(trace->client_addr)
					: NULL;
	g_autofree char *host = smtp_printable(trace->hostname);
	g_autofree char *protocol = smtp_printable(trace->protocol);
	g_autofree char *id = smtp_printable(trace->id);
	GDateTime *time = g_date_time_new_from_unix_utc(trace->time);
	GPtrArray *clauses = g_ptr_array_new_with_free_func(g_free);

	/* RFC 5321 4.4: the name the client gave, then its address; with
	 * no name, the address stands in as a literal. */
	if (helo != NULL && addr != NULL)
		g_ptr_array_add(clauses,
				g_strdup_printf("from %s (%s)", helo, addr));
	else if (helo != NULL)
		g_ptr_array_add(clauses, g_strdup_printf("from %s", helo));
	else if (addr != NULL)
		g_ptr_array_add(clauses, g_strdup_printf(
			"from [%s%s]", strchr(addr, ':') ? "IPv6:" : "", addr));
	g_ptr_array_add(clauses, g_strdup_printf("by %s", host));
	g_ptr_array_add(clauses, g_strdup_printf("with %s", protocol));
	g_ptr_array_add(clauses, g_strdup_printf("id %s;", id));
	g_ptr_array_add(clauses, g_mime_utils_header_format_date(time));
	g_ptr_array_add(clauses, NULL);
	append_folded(out, "Received", (char *const *)clauses->pdata);
	g_ptr_array_unref(clauses);
	g_date_time_unref(time);
}

static void append_subject(GString *out, const char *subject)
{
	g_autofree char *text = g_strdup(subject);
	g_autofree char *encoded = NULL;
	g_auto(GStrv) words = NULL;
	char *p;

	/* Configuration may hold UTF-8 but never a line break. */
	for (p = text; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	encoded = g_mime_utils_header_encode_text(NULL, text, NULL);
	words = g_strsplit(encoded, " ", -1);
	append_folded(out, "Subject", words);
}

/* Whether the header line starts a Subject field (RFC 5322 4.5.3 allows
 * white space before the colon). */
static bool is_subject(const char *line, size_t len)
{
	size_t i = 7;

	if (len < i || g_ascii_strncasecmp(line, "Subject", i) != 0)
		return false;
	while (i < len && smtp_is_wsp(line[i]))
		i++;
	return i < len && line[i] == ':';
}

/* Copies the header with every Subject field, continuation lines and
 * all, dropped and the new one where the first was (else at the end);
 * every other byte as it came. Returns where the header ended. */
static size_t append_header(GString *out, const char *data, size_t len,
			    const char *subject)
{
	size_t pos = 0, next;
	bool skipping = false, added = false;
	const char *lf;

	while (pos < len && data[pos] != '\r' && data[pos] != '\n') {
		lf = memchr(data + pos, '\n', len - pos);
		next = lf != NULL ? (size_t)(lf - data) + 1 : len;
		if (!smtp_is_wsp(data[pos])) {
			skipping = is_subject(data + pos, next - pos);
			if (skipping && !added) {
				append_subject(out, subject);
				added = true;
			}
		}
		if (!skipping)
			g_string_append_len(out, data + pos, next - pos);
		pos = next;
	}
	if (!added) {
		if (pos > 0 && data[pos - 1] != '\n')
			g_string_append(out, "\r\n");
		append_subject(out, subject);
	}
	return pos;
}

GBytes *smtp_message_stored(const void *data, size_t len,
			    const struct smtp_trace *trace,
			    const char *subject_override)
{
	g_autofree char *path = smtp_printable(trace->return_path);
	GString *out = g_string_sized_new(len + 512);
	size_t pos = 0;

	smtp_message_init();
	g_string_append_printf(out, "Return-Path: <%s>\r\n", path);
	append_received(out, trace);
	if (subject_override != NULL)
		pos = append_header(out, data, len, subject_override);
	g_string_append_len(out, (const char *)data + pos, len - pos);
	return g_string_free_to_bytes(out);
}
