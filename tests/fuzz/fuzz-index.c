/* libFuzzer target for the indexer: whatever the bytes, canonicalizing,
 * indexing and a serialization round trip must neither crash nor leak, and
 * a record read back must say what was written. Raw bytes also go to the
 * deserializer, which reads records from disk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
