/* The 3GPP TS 23.040 user data header (9.2.3.24) of binary VVM SMS:
 * application port addressing so that the phone hands the message to the
 * VVM client rather than the inbox, and concatenation for texts longer
 * than one SMS. */
#include "sms-private.h"

#include <string.h>

#define IEI_CONCAT8 0x00
#define IEI_PORTS8 0x04
#define IEI_PORTS16 0x05
#define IEI_CONCAT16 0x08

/* IEI, length, then the data: 2 + 4 and 2 + 3 octets. */
#define IE_PORTS16_LEN 6
#define IE_CONCAT8_LEN 5

/* The most plaintext that fits avail octets: as is, or encrypted, where
 * PKCS#5 always adds 1-8 octets up to a multiple of 8. */
static size_t capacity(size_t avail, bool encrypt)
{
	return encrypt ? avail / 8 * 8 - 1 : avail;
}

static void put_udh(GByteArray *sm, const struct vvm_sms_split_opts *opts,
		    size_t count, size_t seq)
{
	uint8_t udh[1 + IE_PORTS16_LEN + IE_CONCAT8_LEN];
	size_t n = 1;

	if (opts->ports) {
		udh[n++] = IEI_PORTS16;
		udh[n++] = 4;
		udh[n++] = (uint8_t)(opts->dst_port >> 8);
		udh[n++] = (uint8_t)opts->dst_port;
		udh[n++] = (uint8_t)(opts->src_port >> 8);
		udh[n++] = (uint8_t)opts->src_port;
	}
	if (count > 1) {
		udh[n++] = IEI_CONCAT8;
		udh[n++] = 3;
		udh[n++] = opts->ref;
		udh[n++] = (uint8_t)count;
		udh[n++] = (uint8_t)seq;
	}
	udh[0] = (uint8_t)(n - 1);
	g_byte_array_append(sm, udh, (guint)n);
}

int vvm_sms_split(const struct vvm_sms_split_opts *opts, const uint8_t *data,
		  size_t len, GPtrArray **segments_r)
{
	bool encrypt = opts->key != NULL;
	/* The UDH: its length octet and elements, or nothing at all. */
	size_t udh_one = opts->ports ? 1 + IE_PORTS16_LEN : 0;
	size_t udh_many = 1 + IE_CONCAT8_LEN +
			  (opts->ports ? IE_PORTS16_LEN : 0);
	size_t cap, count;
	GPtrArray *segments;

	cap = capacity(VVM_SMS_OCTETS - udh_one, encrypt);
	if (len <= cap) {
		count = 1;
	} else {
		cap = capacity(VVM_SMS_OCTETS - udh_many, encrypt);
		if (len > cap * VVM_SMS_SEGMENTS_MAX)
			return -EMSGSIZE;
		count = (len + cap - 1) / cap;
	}

	segments = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_bytes_unref);
	for (size_t i = 0; i < count; i++) {
		size_t off = i * cap, n = MIN(cap, len - off);
		GByteArray *sm = g_byte_array_sized_new(VVM_SMS_OCTETS);

		if (opts->ports || count > 1)
			put_udh(sm, opts, count, i + 1);
		if (encrypt) {
			int ret = vvm_sms_des3_encrypt(opts->key, data + off, n,
						       sm);

			if (ret < 0) {
				g_byte_array_unref(sm);
				g_ptr_array_unref(segments);
				return ret;
			}
		} else if (n > 0) {
			g_byte_array_append(sm, data + off, (guint)n);
		}
		g_ptr_array_add(segments, g_byte_array_free_to_bytes(sm));
	}
	*segments_r = segments;
	return (int)count;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* One information element; d points at its iedl octets of data. */
static int decode_ie(uint8_t iei, const uint8_t *d, size_t iedl,
		     struct vvm_sms_udh *udh, const char **reason_r)
{
	switch (iei) {
	case IEI_CONCAT8:
	case IEI_CONCAT16: {
		size_t ref_len = iei == IEI_CONCAT8 ? 1 : 2;

		if (iedl != ref_len + 2)
			return sms_fail(reason_r, "concatenation element of "
					"the wrong length");
		/* TS 23.040: an element with no parts, or a part number
		 * outside 1..total, is ignored. */
		if (d[ref_len] == 0 || d[ref_len + 1] == 0 ||
		    d[ref_len + 1] > d[ref_len])
			return 0;
		udh->concat = true;
		udh->ref = ref_len == 1 ? d[0] : be16(d);
		udh->total = d[ref_len];
		udh->seq = d[ref_len + 1];
		return 0;
	}
	case IEI_PORTS8:
		if (iedl != 2)
			return sms_fail(reason_r, "8-bit port element of the "
					"wrong length");
		udh->ports = true;
		udh->dst_port = d[0];
		udh->src_port = d[1];
		return 0;
	case IEI_PORTS16:
		if (iedl != 4)
			return sms_fail(reason_r, "16-bit port element of the "
					"wrong length");
		udh->ports = true;
		udh->dst_port = be16(d);
		udh->src_port = be16(d + 2);
		return 0;
	default:
		return 0;
	}
}

int vvm_sms_udh_decode(const uint8_t *sm, size_t len, struct vvm_sms_udh *udh_r,
		       const char **reason_r)
{
	struct vvm_sms_udh udh = { 0 };
	size_t end, i = 1;

	if (len == 0)
		return sms_fail(reason_r, "empty short message");
	end = 1 + (size_t)sm[0];
	if (end > len)
		return sms_fail(reason_r, "UDH longer than the message");
	while (i < end) {
		size_t iedl;
		int ret;

		if (end - i < 2)
			return sms_fail(reason_r, "information element cut "
					"short");
		iedl = sm[i + 1];
		if (iedl > end - i - 2)
			return sms_fail(reason_r, "information element runs "
					"past the UDH");
		ret = decode_ie(sm[i], sm + i + 2, iedl, &udh, reason_r);
		if (ret < 0)
			return ret;
		i += 2 + iedl;
	}
	*udh_r = udh;
	return (int)end;
}
