#include "smpp-pdu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libsmpp34/smpp34.h>
#include <libsmpp34/smpp34_structs.h>
#include <libsmpp34/smpp34_params.h>

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(GByteArray *out, uint32_t v)
{
	const uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			       (uint8_t)(v >> 8), (uint8_t)v };

	g_byte_array_append(out, b, 4);
}

int smpp_frame(const uint8_t *buf, size_t len, struct smpp_header *hdr_r)
{
	uint32_t length;

	if (len < 4)
		return 0;
	length = be32(buf);
	if (length < SMPP_HEADER_LEN || length > SMPP_PDU_MAX)
		return -EBADMSG;
	if (len < length)
		return 0;
	hdr_r->length = length;
	hdr_r->id = be32(buf + 4);
	hdr_r->status = be32(buf + 8);
	hdr_r->seq = be32(buf + 12);
	return (int)length;
}

void smpp_put_header_only(GByteArray *out, uint32_t id, uint32_t status,
			  uint32_t seq)
{
	put_be32(out, SMPP_HEADER_LEN);
	put_be32(out, id);
	put_be32(out, status);
	put_be32(out, seq);
}

/* Packs the PDU whose struct is pdu (command_id type) onto out. */
static int pack(GByteArray *out, uint32_t type, void *pdu)
{
	uint8_t buf[1024];
	int len = 0;

	if (smpp34_pack(type, buf, (int)sizeof(buf), &len, pdu) != 0 ||
	    len <= 0)
		return -EINVAL;
	g_byte_array_append(out, buf, (guint)len);
	return 0;
}

int smpp_put_bind(GByteArray *out, uint32_t seq,
		  const struct smsd_config *cfg)
{
	bind_transceiver_t b;

	memset(&b, 0, sizeof(b));
	b.command_id = BIND_TRANSCEIVER;
	b.sequence_number = seq;
	g_strlcpy((char *)b.system_id, cfg->system_id, sizeof(b.system_id));
	g_strlcpy((char *)b.password, cfg->password, sizeof(b.password));
	g_strlcpy((char *)b.system_type, cfg->system_type,
		  sizeof(b.system_type));
	b.interface_version = SMPP_VERSION;
	return pack(out, BIND_TRANSCEIVER, &b);
}

/* Segment i as SMPP carries it: its UDH as is, and text of data coding 0
 * as GSM septets, one per octet. */
static GByteArray *short_message(const struct smsd_out *o, guint i)
{
	GBytes *segment = g_ptr_array_index(o->segments, i);
	gsize len;
	const uint8_t *data = g_bytes_get_data(segment, &len);
	size_t udh = (o->esm_class & SMSD_ESM_UDHI) != 0 && len > 0
		     ? MIN((size_t)data[0] + 1, len) : 0;
	GByteArray *sm = g_byte_array_sized_new((guint)len * 2);

	if (o->data_coding != 0) {
		g_byte_array_append(sm, data, (guint)len);
		return sm;
	}
	g_byte_array_append(sm, data, (guint)udh);
	vvm_sms_gsm7_encode((const char *)data + udh, len - udh, sm);
	return sm;
}

int smpp_put_submit(GByteArray *out, uint32_t seq,
		    const struct smsd_config *cfg, const struct smsd_out *o,
		    guint i)
{
	g_autoptr(GByteArray) sm = short_message(o, i);
	submit_sm_t s;

	if (sm->len > sizeof(s.short_message))
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	s.command_id = SUBMIT_SM;
	s.sequence_number = seq;
	g_strlcpy((char *)s.service_type, cfg->service_types[o->service],
		  sizeof(s.service_type));
	s.source_addr_ton = (uint8_t)cfg->source_ton;
	s.source_addr_npi = (uint8_t)cfg->source_npi;
	g_strlcpy((char *)s.source_addr, cfg->source_addr,
		  sizeof(s.source_addr));
	s.dest_addr_ton = (uint8_t)cfg->dest_ton;
	s.dest_addr_npi = (uint8_t)cfg->dest_npi;
	/* The international number without its '+', as TON 1 wants it. */
	g_strlcpy((char *)s.destination_addr,
		  o->to[0] == '+' ? o->to + 1 : o->to,
		  sizeof(s.destination_addr));
	s.esm_class = o->esm_class;
	s.protocol_id = o->protocol_id;
	s.replace_if_present_flag = o->replace ? 1 : 0;
	s.data_coding = o->data_coding;
	s.sm_length = (uint8_t)sm->len;
	memcpy(s.short_message, sm->data, sm->len);
	return pack(out, SUBMIT_SM, &s);
}

void smpp_put_deliver_resp(GByteArray *out, uint32_t seq, uint32_t status)
{
	/* The header and an empty message_id. */
	put_be32(out, SMPP_HEADER_LEN + 1);
	put_be32(out, DELIVER_SM_RESP);
	put_be32(out, status);
	put_be32(out, seq);
	g_byte_array_append(out, (const guint8 *)"", 1);
}

/* The user data as UTF-8: GSM septets (data coding 0, the SMSC default
 * alphabet), UCS-2 big-endian, Latin-1, or bytes taken as they are. */
static char *decode_text(const uint8_t *data, size_t len, uint8_t coding,
			 size_t *len_r)
{
	char *text = NULL;
	gsize out = 0;

	if (coding == SMSD_DC_UCS2) {
		g_autofree gunichar2 *u = g_new0(gunichar2, len / 2 + 1);
		glong written = 0;

		for (size_t i = 0; i + 1 < len; i += 2)
			u[i / 2] = (gunichar2)(data[i] << 8 | data[i + 1]);
		text = g_utf16_to_utf8(u, (glong)(len / 2), NULL, &written,
				       NULL);
		out = (gsize)written;
	} else if (coding == 3) {
		text = g_convert((const char *)data, (gssize)len, "UTF-8",
				 "ISO-8859-1", NULL, &out, NULL);
	} else if (coding == 0) {
		text = vvm_sms_gsm7_decode(data, len, &out);
	}
	if (text == NULL) {
		text = g_strndup((const char *)data, len);
		out = strlen(text);
	}
	*len_r = out;
	return text;
}

/* A bounds-checked reader over one PDU. */
struct reader {
	const uint8_t *p;
	const uint8_t *end;
	bool ok;
};

static uint8_t take_u8(struct reader *r)
{
	if (r->p >= r->end) {
		r->ok = false;
		return 0;
	}
	return *r->p++;
}

static uint16_t take_u16(struct reader *r)
{
	uint16_t hi = take_u8(r);

	return (uint16_t)(hi << 8 | take_u8(r));
}

static const uint8_t *take(struct reader *r, size_t n)
{
	const uint8_t *at = r->p;

	if ((size_t)(r->end - r->p) < n) {
		r->ok = false;
		return NULL;
	}
	r->p += n;
	return at;
}

/* A C-Octet string of at most size bytes, its NUL included. */
static void take_cstring(struct reader *r, char *out, size_t size)
{
	size_t room = MIN(size, (size_t)(r->end - r->p));
	const uint8_t *nul = memchr(r->p, 0, room);

	if (nul == NULL) {
		r->ok = false;
		return;
	}
	if (out != NULL)
		memcpy(out, r->p, (size_t)(nul - r->p) + 1);
	r->p = nul + 1;
}

/* The optional part: TLVs tiling the rest of the PDU. The text may be in
 * message_payload instead of short_message. */
static void take_tlvs(struct reader *r, const uint8_t **payload_r,
		      size_t *payload_len_r)
{
	while (r->ok && r->p < r->end) {
		uint16_t tag = take_u16(r);
		uint16_t len = take_u16(r);
		const uint8_t *value = take(r, len);

		if (r->ok && tag == TLVID_message_payload) {
			*payload_r = value;
			*payload_len_r = len;
		}
	}
}

/* SMPP 3.4 section 4.6.1, read here rather than by libsmpp34, whose
 * unpack leaks what it allocated for a malformed TLV: an SMSC's bad PDU
 * must not cost memory. */
int smpp_deliver_parse(const uint8_t *pdu, size_t len, struct smpp_mo *mo_r,
		       const char **reason_r)
{
	struct reader r = { pdu + SMPP_HEADER_LEN, pdu + len,
			    len >= SMPP_HEADER_LEN };
	char source[21];
	uint8_t esm_class, data_coding, sm_length;
	const uint8_t *data, *payload = NULL;
	size_t n, payload_len = 0;
	struct vvm_sms_udh udh;
	int skip = 0;

	take_cstring(&r, NULL, 6);          /* service_type */
	take(&r, 2);                        /* source TON, NPI */
	take_cstring(&r, source, sizeof(source));
	take(&r, 2);                        /* destination TON, NPI */
	take_cstring(&r, NULL, 21);         /* destination_addr */
	esm_class = take_u8(&r);
	take(&r, 2);                        /* protocol_id, priority_flag */
	take_cstring(&r, NULL, 17);         /* schedule_delivery_time */
	take_cstring(&r, NULL, 17);         /* validity_period */
	take(&r, 2);                        /* registered_delivery, replace */
	data_coding = take_u8(&r);
	take(&r, 1);                        /* sm_default_msg_id */
	sm_length = take_u8(&r);
	data = take(&r, sm_length);
	take_tlvs(&r, &payload, &payload_len);
	if (!r.ok) {
		*reason_r = "deliver_sm does not hold together";
		return -EBADMSG;
	}
	n = sm_length;
	if (n == 0 && payload != NULL) {
		data = payload;
		n = payload_len;
	}
	if ((esm_class & SMSD_ESM_UDHI) != 0) {
		skip = vvm_sms_udh_decode(data, n, &udh, reason_r);
		if (skip < 0)
			return -EBADMSG;
	}
	memset(mo_r, 0, sizeof(*mo_r));
	g_strlcpy(mo_r->source, source, sizeof(mo_r->source));
	/* Message type bits 2-5: 0001 is an SMSC delivery receipt. */
	mo_r->receipt = (esm_class & 0x3c) == 0x04;
	mo_r->text = decode_text(data + skip, n - (size_t)skip, data_coding,
				 &mo_r->len);
	return 0;
}

void smpp_mo_clear(struct smpp_mo *mo)
{
	g_free(mo->text);
	memset(mo, 0, sizeof(*mo));
}

const char *smpp_status_name(uint32_t status, char *buf, size_t size)
{
	char name[256] = "";

	str_command_status(status, name);
	snprintf(buf, size, "%s (0x%02x)", name[0] != '\0' ? name : "error",
		 status);
	return buf;
}
