/* SMPP 3.4 PDUs as vvm-smsd sends and receives them: framing, the few
 * encoders an ESME needs (bind and submit_sm packed by libsmpp34), and
 * the MO short message out of a deliver_sm (read here, bounds-checked).
 * No I/O. */
#ifndef VVM_SMPP_PDU_H
#define VVM_SMPP_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "smsd-config.h"
#include "smsd-segments.h"

#define SMPP_HEADER_LEN 16
/* The longest PDU read; longer ones end the connection. What is read is
 * unpacked only for the PDUs an ESME handles. */
#define SMPP_PDU_MAX 65536

struct smpp_header {
	uint32_t length;
	uint32_t id;
	uint32_t status;
	uint32_t seq;
};

/* Finds the first PDU in buf: returns its length with *hdr_r filled, 0
 * when more bytes are needed, -EBADMSG when the length is out of bounds
 * (the stream cannot be resynchronised: close it). */
int smpp_frame(const uint8_t *buf, size_t len, struct smpp_header *hdr_r);

/* Appends a PDU of header only: enquire_link(_resp), unbind(_resp),
 * generic_nack. */
void smpp_put_header_only(GByteArray *out, uint32_t id, uint32_t status,
			  uint32_t seq);
/* Appends the bind_transceiver. Returns 0 or -EINVAL. */
int smpp_put_bind(GByteArray *out, uint32_t seq,
		  const struct smsd_config *cfg);
/* Appends one submit_sm of o: segment i. Returns 0 or -EINVAL. */
int smpp_put_submit(GByteArray *out, uint32_t seq,
		    const struct smsd_config *cfg, const struct smsd_out *o,
		    guint i);
void smpp_put_deliver_resp(GByteArray *out, uint32_t seq, uint32_t status);

/* What a deliver_sm brings. */
struct smpp_mo {
	char source[22];   /* source_addr */
	bool receipt;      /* a delivery receipt: nothing to apply */
	char *text;        /* UTF-8, UDH removed; g_free() */
	size_t len;
};

/* Reads a whole deliver_sm PDU. The text is the short_message (or the
 * message_payload TLV), after its UDH when esm_class says there is one,
 * converted to UTF-8 from UCS-2 (data_coding 8) or Latin-1 (3); other
 * codings are taken as ASCII bytes. Returns 0, or -EBADMSG with
 * *reason_r for a PDU that cannot be one. */
int smpp_deliver_parse(const uint8_t *pdu, size_t len, struct smpp_mo *mo_r,
		       const char **reason_r);
void smpp_mo_clear(struct smpp_mo *mo);

/* A name for the log: "ESME_RTHROTTLED (0x58)". */
const char *smpp_status_name(uint32_t status, char *buf, size_t size);

#endif
