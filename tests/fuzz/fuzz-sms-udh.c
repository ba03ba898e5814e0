/* Fuzzes the server side of the SMS codec from the phone's point of
 * view: the input is taken as a short message (UDH and payload) and as a
 * bare text. Parsed texts must encode to something that parses to the
 * same encoding; split, encrypted or not, the input must come back whole
 * from its segments. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vvm-sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[VVM_SMS_KEY_LEN] = "fuzz-key-24-bytes-long!";

static void check_text(const uint8_t *data, size_t size)
{
	struct vvm_sms_server_msg *msg = NULL, *again = NULL;
	const char *reason = NULL;
	GString *out, *out2;
	char *code = NULL;
	int ret;

	if (vvm_sms_otp_parse(NULL, (const char *)data, size, &code, NULL) == 0)
		g_free(code);
	ret = vvm_sms_server_parse((const char *)data, size, &msg, &reason);
	if (ret != 0) {
		if (ret != -EINVAL || reason == NULL || msg != NULL)
			abort();
		return;
	}
	out = g_string_new(NULL);
	out2 = g_string_new(NULL);
	if (vvm_sms_server_encode(msg, out, &reason) != 0)
		abort();
	if (vvm_sms_server_parse(out->str, out->len, &again, &reason) != 0)
		abort();
	if (vvm_sms_server_encode(again, out2, &reason) != 0)
		abort();
	if (strcmp(out->str, out2->str) != 0 || again->kind != msg->kind ||
	    again->flags != msg->flags)
		abort();
	vvm_sms_server_msg_destroy(&again);
	vvm_sms_server_msg_destroy(&msg);
	g_string_free(out, TRUE);
	g_string_free(out2, TRUE);
}

static void check_sm(const uint8_t *data, size_t size)
{
	struct vvm_sms_udh udh;
	GByteArray *plain = g_byte_array_new();
	int off = vvm_sms_udh_decode(data, size, &udh, NULL);

	if (off < 0) {
		g_byte_array_unref(plain);
		return;
	}
	if ((size_t)off > size || off < 1)
		abort();
	if (udh.concat && (udh.seq == 0 || udh.seq > udh.total))
		abort();
	check_text(data + off, size - (size_t)off);
	if (vvm_sms_sm_decrypt(key, true, data, size, plain) == 0 &&
	    (plain->len < (guint)off || memcmp(plain->data, data, off) != 0))
		abort();
	g_byte_array_unref(plain);
}

static void check_split(const uint8_t *data, size_t size)
{
	struct vvm_sms_split_opts opts = { 0 };
	GByteArray *joined = g_byte_array_new();
	GPtrArray *segs = NULL;
	int n;

	if (size > 0) {
		opts.ports = (data[0] & 1) != 0;
		opts.key = (data[0] & 2) != 0 ? key : NULL;
		opts.dst_port = (uint16_t)(data[0] * 257);
		opts.ref = data[0];
	}
	n = vvm_sms_split(&opts, data, size, &segs);
	if (n < 0) {
		if (n != -EMSGSIZE)
			abort();
		g_byte_array_unref(joined);
		return;
	}
	for (guint i = 0; i < (guint)n; i++) {
		gsize len;
		const uint8_t *sm = g_bytes_get_data(g_ptr_array_index(segs, i),
						     &len);
		bool udhi = opts.ports || n > 1;
		struct vvm_sms_udh udh = { 0 };
		size_t off = 0;

		if (len > VVM_SMS_OCTETS)
			abort();
		if (udhi) {
			int ret = vvm_sms_udh_decode(sm, len, &udh, NULL);

			if (ret < 1 || udh.ports != opts.ports ||
			    (opts.ports && udh.dst_port != opts.dst_port) ||
			    udh.concat != (n > 1) ||
			    (n > 1 && (udh.seq != i + 1 || udh.total != n ||
				       udh.ref != opts.ref)))
				abort();
			off = (size_t)ret;
		}
		if (opts.key != NULL) {
			GByteArray *plain = g_byte_array_new();

			if (vvm_sms_sm_decrypt(key, udhi, sm, len, plain) != 0)
				abort();
			g_byte_array_append(joined, plain->data + off,
					    plain->len - (guint)off);
			g_byte_array_unref(plain);
		} else {
			g_byte_array_append(joined, sm + off,
					    (guint)(len - off));
		}
	}
	if (joined->len != size ||
	    (size > 0 && memcmp(joined->data, data, size) != 0))
		abort();
	g_ptr_array_unref(segs);
	g_byte_array_unref(joined);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_sm(data, size);
	check_text(data, size);
	check_split(data, size);
	return 0;
}
