/* libFuzzer target for the indexer: whatever the bytes, canonicalizing,
 * indexing and a serialization round trip must neither crash nor leak, and
 * a record read back must say what was written. Raw bytes also go to the
 * deserializer, which reads records from disk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Skips one IMAP value (NIL, number, quoted string, literal or list) and
 * returns what follows it, or NULL when the syntax is wrong. */
static const char *skip_value(const char *p)
{
	char *end;
	unsigned long n;

	if (*p == '(') {
		for (p++; p != NULL && *p != ')';) {
			p = skip_value(p);
			if (p != NULL && *p == ' ')
				p++;
		}
		return p != NULL ? p + 1 : NULL;
	}
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\\')
				p++;
			if (*p == '\0' || *p == '\r' || *p == '\n' ||
			    (unsigned char)*p >= 0x80)
				return NULL;
		}
		return p + 1;
	}
	if (*p == '{') {
		n = strtoul(p + 1, &end, 10);
		if (end[0] != '}' || end[1] != '\r' || end[2] != '\n' ||
		    strnlen(end + 3, n) != n)
			return NULL;
		return end + 3 + n;
	}
	if (strncmp(p, "NIL", 3) == 0)
		return p + 3;
	n = strtoul(p, &end, 10);
	return end != p ? end : NULL;
}

static void check_syntax(const char *str)
{
	const char *end = str[0] == '(' ? skip_value(str) : NULL;

	if (end == NULL || *end != '\0')
		abort();
}

static void check_round_trip(const struct index *index)
{
	struct index *copy = NULL;
	GBytes *bytes = index_serialize(index);
	gsize len;
	const void *raw = g_bytes_get_data(bytes, &len);
	char *a, *b;

	if (index_deserialize(raw, len, &copy) != 0)
		abort();
	a = index_sections_format(index);
	b = index_sections_format(copy);
	if (strcmp(a, b) != 0 || strcmp(index->envelope, copy->envelope) != 0 ||
	    strcmp(index->bodystructure, copy->bodystructure) != 0 ||
	    strcmp(index->body, copy->body) != 0 ||
	    index->duration != copy->duration || index->size != copy->size)
		abort();
	g_free(a);
	g_free(b);
	index_free(&copy);
	g_bytes_unref(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct index_limits limits;
	struct index *index = NULL;
	const char *reason = NULL;
	GBytes *canonical;
	gsize len;
	const void *msg;

	index_limits_default(&limits);
	canonical = index_canonicalize(data, size);
	msg = g_bytes_get_data(canonical, &len);
	if (index_message(msg, len, &limits, &index, &reason) == 0) {
		check_syntax(index->envelope);
		check_syntax(index->bodystructure);
		check_syntax(index->body);
		check_round_trip(index);
		index_free(&index);
	} else if (reason == NULL || index != NULL) {
		abort();
	}
	g_bytes_unref(canonical);

	if (index_deserialize(data, size, &index) == 0)
		index_free(&index);
	return 0;
}
