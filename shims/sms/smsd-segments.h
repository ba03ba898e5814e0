/* What one outbox entry becomes on the air: the short messages that carry
 * it and the SMPP parameters they go with. Shared by every sender. */
#ifndef VVM_SMSD_SEGMENTS_H
#define VVM_SMSD_SEGMENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "smsd-config.h"
#include "vvm-sms.h"

/* Text SMS: 160 characters of a 7-bit alphabet, or 70 UCS-2 units; a
 * part of a longer one loses 7 of them (3 units) to its UDH. */
#define SMSD_TEXT_SINGLE 160
#define SMSD_TEXT_PART 153
#define SMSD_UCS2_SINGLE 70
#define SMSD_UCS2_PART 67

/* SMPP data_coding of binary and UCS-2 short messages. */
#define SMSD_DC_8BIT 0x04
#define SMSD_DC_UCS2 0x08
/* esm_class with TP-UDHI: the short message starts with a UDH. */
#define SMSD_ESM_UDHI 0x40

struct smsd_out {
	char to[VVM_SMS_ADDR_MAX + 1];
	enum vvm_sms_entry_kind kind;
	uint16_t port;
	GBytes *text;        /* the entry's text, for a command's stdin */
	enum smsd_service service;
	bool replace;
	uint8_t esm_class;
	uint8_t protocol_id;
	uint8_t data_coding;
	GPtrArray *segments; /* GBytes: UDH (if any) and payload */
};

/* Builds what entry goes out as. A SYNC or STATUS to an application port
 * is binary: a UDH with 16-bit port addressing (and concatenation when
 * long), 8-bit data, protocol_id as configured, the annex's 3DES when a
 * key is set. To port 0, and an OTP always, it is visible text: ASCII in
 * the configured data coding, anything else in UCS-2; concatenated with
 * an 8-bit reference ref when long. Returns 0, or -EINVAL/-EMSGSIZE with
 * *reason_r. */
int smsd_out_build(const struct smsd_config *cfg,
		   const struct vvm_sms_entry *entry, uint8_t ref,
		   struct smsd_out **out_r, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;
void smsd_out_destroy(struct smsd_out **out);

#endif
