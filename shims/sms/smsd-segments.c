#include "smsd-segments.h"

#include <errno.h>
#include <string.h>

/* The SMPP service_type, which decides what replace_if_present replaces:
 * a GU must not replace an NM, nor a SYNC a STATUS. */
static enum smsd_service service_of(const struct vvm_sms_entry *entry)
{
	struct vvm_sms_server_msg *msg = NULL;
	enum smsd_service service = SMSD_SERVICE_INBOX;

	switch (entry->kind) {
	case VVM_SMS_ENTRY_STATUS:
		return SMSD_SERVICE_STATUS;
	case VVM_SMS_ENTRY_OTP:
		return SMSD_SERVICE_OTP;
	case VVM_SMS_ENTRY_SYNC:
		break;
	}
	if (vvm_sms_server_parse(entry->text, entry->text_len, &msg,
				 NULL) == 0 &&
	    msg->sync.ev == VVM_SMS_EV_GU)
		service = SMSD_SERVICE_GREETING;
	vvm_sms_server_msg_destroy(&msg);
	return service;
}

static void put_concat_udh(GByteArray *sm, uint8_t ref, size_t total,
			   size_t seq)
{
	const uint8_t udh[] = { 5, 0x00, 3, ref, (uint8_t)total,
				(uint8_t)seq };

	g_byte_array_append(sm, udh, sizeof(udh));
}

/* How a text is counted on the air, unit by unit. */
enum text_alphabet {
	ALPHABET_OCTETS, /* one octet a character: IA5, Latin-1 */
	ALPHABET_GSM7,   /* ASCII as GSM septets: some take two */
	ALPHABET_UCS2,   /* two octets a unit; a surrogate pair is two */
};

/* What unit i weighs, and whether a part may end after it. */
static size_t unit_weight(enum text_alphabet a, const uint8_t *data,
			  size_t i)
{
	return a == ALPHABET_GSM7 ? vvm_sms_gsm7_length((const char *)data + i,
							 1)
				  : 1;
}

static bool may_end_after(enum text_alphabet a, const uint8_t *data,
			  size_t i)
{
	/* A high surrogate (0xD800-0xDBFF) stays with its pair. */
	return a != ALPHABET_UCS2 || (data[i * 2] & 0xfc) != 0xd8;
}

/* The first unit of each part, when parts hold at most part (weighted)
 * units. */
static GArray *part_starts(enum text_alphabet a, const uint8_t *data,
			   size_t count, size_t part)
{
	GArray *starts = g_array_new(FALSE, FALSE, sizeof(size_t));
	size_t pos = 0;

	while (pos < count) {
		size_t end = pos, weight = 0;

		while (end < count && weight + unit_weight(a, data, end) <= part)
			weight += unit_weight(a, data, end++);
		while (end < count && end > pos + 1 &&
		       !may_end_after(a, data, end - 1))
			end--;
		g_array_append_val(starts, pos);
		pos = end;
	}
	return starts;
}

/* Splits count units (unit octets each) into one short message without a
 * UDH when they weigh at most single, else into parts of at most part
 * with a concatenation UDH (reference ref). */
static int split_text(enum text_alphabet a, const uint8_t *data,
		      size_t count, size_t single, size_t part, uint8_t ref,
		      GPtrArray *segments)
{
	size_t unit = a == ALPHABET_UCS2 ? 2 : 1, weight = 0;
	g_autoptr(GArray) starts = NULL;

	for (size_t i = 0; i < count; i++)
		weight += unit_weight(a, data, i);
	if (weight <= single) {
		g_ptr_array_add(segments, g_bytes_new(data, count * unit));
		return 0;
	}
	starts = part_starts(a, data, count, part);
	if (starts->len > VVM_SMS_SEGMENTS_MAX)
		return -EMSGSIZE;
	for (guint i = 0; i < starts->len; i++) {
		size_t from = g_array_index(starts, size_t, i);
		size_t to = i + 1 < starts->len
			? g_array_index(starts, size_t, i + 1) : count;
		GByteArray *sm = g_byte_array_sized_new(VVM_SMS_OCTETS);

		put_concat_udh(sm, ref, starts->len, i + 1);
		g_byte_array_append(sm, data + from * unit,
				    (guint)((to - from) * unit));
		g_ptr_array_add(segments, g_byte_array_free_to_bytes(sm));
	}
	return 0;
}

static bool is_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return false;
	}
	return true;
}

static int build_text(const struct smsd_config *cfg,
		      const struct vvm_sms_entry *entry, uint8_t ref,
		      struct smsd_out *out)
{
	g_autofree gunichar2 *utf16 = NULL;
	g_autofree uint8_t *ucs2 = NULL;
	glong units = 0;

	out->protocol_id = 0;
	if (is_ascii(entry->text, entry->text_len)) {
		/* The short messages hold the ASCII; the SMPP layer turns it
		 * into septets for data_coding 0 (an HTTP gateway does so
		 * itself). */
		out->data_coding = (uint8_t)cfg->text_data_coding;
		return split_text(out->data_coding == 0 ? ALPHABET_GSM7
							: ALPHABET_OCTETS,
				  (const uint8_t *)entry->text,
				  entry->text_len, SMSD_TEXT_SINGLE,
				  SMSD_TEXT_PART, ref, out->segments);
	}
	utf16 = g_utf8_to_utf16(entry->text, (glong)entry->text_len, NULL,
				&units, NULL);
	if (utf16 == NULL)
		return -EINVAL;
	/* UCS-2 on the air is big-endian. */
	ucs2 = g_malloc((size_t)units * 2);
	for (glong i = 0; i < units; i++) {
		ucs2[2 * i] = (uint8_t)(utf16[i] >> 8);
		ucs2[2 * i + 1] = (uint8_t)utf16[i];
	}
	out->data_coding = SMSD_DC_UCS2;
	return split_text(ALPHABET_UCS2, ucs2, (size_t)units,
			  SMSD_UCS2_SINGLE, SMSD_UCS2_PART, ref, out->segments);
}

static int build_binary(const struct smsd_config *cfg,
			const struct vvm_sms_entry *entry, uint8_t ref,
			struct smsd_out *out)
{
	struct vvm_sms_split_opts opts = {
		.ports = true,
		.dst_port = entry->port,
		.src_port = (uint16_t)cfg->src_port,
		.ref = ref,
		.key = cfg->encrypt ? cfg->key : NULL,
	};
	GPtrArray *segments = NULL;
	int ret = vvm_sms_split(&opts, (const uint8_t *)entry->text,
				entry->text_len, &segments);

	if (ret < 0)
		return ret;
	out->protocol_id = (uint8_t)cfg->protocol_id;
	out->data_coding = SMSD_DC_8BIT;
	for (guint i = 0; i < segments->len; i++)
		g_ptr_array_add(out->segments,
				g_bytes_ref(g_ptr_array_index(segments, i)));
	g_ptr_array_unref(segments);
	return 0;
}

int smsd_out_build(const struct smsd_config *cfg,
		   const struct vvm_sms_entry *entry, uint8_t ref,
		   struct smsd_out **out_r, const char **reason_r)
{
	struct smsd_out *out = g_new0(struct smsd_out, 1);
	bool binary = entry->port != 0 && entry->kind != VVM_SMS_ENTRY_OTP;
	int ret;

	g_strlcpy(out->to, entry->to, sizeof(out->to));
	out->kind = entry->kind;
	out->port = entry->port;
	out->text = g_bytes_new(entry->text, entry->text_len);
	out->service = service_of(entry);
	out->replace = entry->replace;
	out->segments = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_bytes_unref);
	ret = binary ? build_binary(cfg, entry, ref, out)
		     : build_text(cfg, entry, ref, out);
	if (ret < 0) {
		*reason_r = ret == -EMSGSIZE ? "too long for 255 short messages"
					     : "text not encodable";
		smsd_out_destroy(&out);
		return ret;
	}
	out->esm_class = binary || out->segments->len > 1 ? SMSD_ESM_UDHI : 0;
	*out_r = out;
	return 0;
}

void smsd_out_destroy(struct smsd_out **out)
{
	if (*out == NULL)
		return;
	g_ptr_array_unref((*out)->segments);
	g_bytes_unref((*out)->text);
	g_clear_pointer(out, g_free);
}
