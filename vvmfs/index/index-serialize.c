/* Storage form of struct index: a GVariant "(yv)" holding a format version
 * and the record of that version, so that a reader refuses what it does not
 * know and a later version may change the record freely. Records come back
 * from disk, so they are read as untrusted data and checked before use. */
#include <errno.h>

#include "index-private.h"

#define FORMAT_VERSION 1
/* envelope, bodystructure, body, sections, context, context text,
 * duration, expires, date, size. Strings are bytestrings because literals
 * in the IMAP strings may hold bytes that are not UTF-8. */
#define RECORD_V1 "(^ay^ay^aya(aytttt)y@mayxxxt)"
#define RECORD_V1_TYPE "(ayayaya(aytttt)ymayxxxt)"

GBytes *index_serialize(const struct index *index)
{
	GVariantBuilder sections;
	GVariant *context_text, *record, *top;
	GBytes *bytes;
	guint i;

	g_variant_builder_init(&sections, G_VARIANT_TYPE("a(aytttt)"));
	for (i = 0; i < index->sections->len; i++) {
		const struct index_section *s =
			&g_array_index(index->sections, struct index_section, i);

		g_variant_builder_add(&sections, "(^aytttt)", s->part,
				      s->header_offset, s->header_length,
				      s->body_offset, s->body_length);
	}
	context_text = g_variant_new_maybe(
		G_VARIANT_TYPE_BYTESTRING,
		index->context_text != NULL ?
			g_variant_new_bytestring(index->context_text) :
			NULL);
	record = g_variant_new(RECORD_V1, index->envelope, index->bodystructure,
			       index->body, &sections, (guint8)index->context,
			       context_text, index->duration, index->expires,
			       index->date, index->size);
	top = g_variant_ref_sink(
		g_variant_new("(yv)", (guint8)FORMAT_VERSION, record));
	bytes = g_variant_get_data_as_bytes(top);
	g_variant_unref(top);
	return bytes;
}

static gboolean range_ok(uint64_t offset, uint64_t length, uint64_t size)
{
	return offset <= size && length <= size - offset;
}

/* Reads the sections, refusing ranges outside the message: readers slice
 * the stored bytes with them. */
static int read_sections(struct index *index, GVariantIter *iter)
{
	struct index_section s;

	while (g_variant_iter_next(iter, "(^aytttt)", &s.part, &s.header_offset,
				   &s.header_length, &s.body_offset,
				   &s.body_length)) {
		g_array_append_val(index->sections, s);
		if (!range_ok(s.header_offset, s.header_length, index->size) ||
		    !range_ok(s.body_offset, s.body_length, index->size))
			return -EINVAL;
	}
	if (index->sections->len == 0 ||
	    *g_array_index(index->sections, struct index_section, 0).part !=
		    '\0')
		return -EINVAL;
	return 0;
}

static int read_record_v1(GVariant *record, struct index **index_r)
{
	struct index *index = index_alloc();
	GVariant *context_text, *text;
	GVariantIter *sections;
	guint8 context;
	int ret;

	g_variant_get(record, RECORD_V1, &index->envelope,
		      &index->bodystructure, &index->body, &sections, &context,
		      &context_text, &index->duration, &index->expires,
		      &index->date, &index->size);
	text = g_variant_get_maybe(context_text);
	if (text != NULL) {
		index->context_text = g_variant_dup_bytestring(text, NULL);
		g_variant_unref(text);
	}
	g_variant_unref(context_text);
	index->context = context;
	ret = read_sections(index, sections);
	g_variant_iter_free(sections);
	if (ret == 0 && context > INDEX_CONTEXT_OTHER)
		ret = -EINVAL;
	if (ret < 0) {
		index_free(&index);
		return ret;
	}
	*index_r = index;
	return 0;
}

int index_deserialize(const void *data, size_t len, struct index **index_r)
{
	GBytes *bytes = g_bytes_new(data, len);
	GVariant *top, *record = NULL;
	guint8 version;
	int ret = -EINVAL;

	top = g_variant_ref_sink(
		g_variant_new_from_bytes(G_VARIANT_TYPE("(yv)"), bytes, FALSE));
	g_bytes_unref(bytes);
	/* A corrupt record is not in normal form; GLib would read it with
	 * defaults, we refuse it. */
	if (g_variant_is_normal_form(top)) {
		g_variant_get(top, "(yv)", &version, &record);
		if (version == FORMAT_VERSION &&
		    g_variant_is_of_type(record, G_VARIANT_TYPE(RECORD_V1_TYPE)))
			ret = read_record_v1(record, index_r);
		g_variant_unref(record);
	}
	g_variant_unref(top);
	return ret;
}
