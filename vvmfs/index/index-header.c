/* Header fields of a message or of one of its parts, read from the
 * canonical bytes: the one place vvmfs and fsck look a field up, so that
 * both read a folded field, or an audio part, alike. */
#include "index.h"

#include <string.h>

char *index_header_value(const char *header, size_t len, const char *name)
{
	size_t name_len = strlen(name);
	const char *end = header + len, *line = header;

	while (line < end && !(line + 1 < end && line[0] == '\r' &&
			       line[1] == '\n')) {
		const char *eol = g_strstr_len(line, end - line, "\r\n");
		GString *value;

		if (eol == NULL)
			break;
		if ((size_t)(eol - line) <= name_len ||
		    line[name_len] != ':' ||
		    g_ascii_strncasecmp(line, name, name_len) != 0) {
			line = eol + 2;
			continue;
		}
		value = g_string_new_len(line + name_len + 1,
					 eol - line - (gssize)name_len - 1);
		/* Continuation lines start with a space or a tab. */
		while (eol + 2 < end && (eol[2] == ' ' || eol[2] == '\t')) {
			const char *next = g_strstr_len(eol + 2, end - eol - 2,
							"\r\n");

			if (next == NULL)
				break;
			g_string_append_len(value, eol + 2, next - eol - 2);
			eol = next;
		}
		return g_string_free(value, FALSE);
	}
	return NULL;
}

char *index_section_field(const char *msg, const struct index_section *s,
			  const char *name)
{
	return index_header_value(msg + s->header_offset, s->header_length,
				  name);
}

bool index_section_is_audio(const char *msg, const struct index_section *s)
{
	g_autofree char *type = index_section_field(msg, s, "Content-Type");

	if (type == NULL)
		return false;
	g_strstrip(type);
	return g_ascii_strncasecmp(type, "audio/", 6) == 0;
}
