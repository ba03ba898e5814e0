/* Fuzzes what vvm-smsd reads from the SMSC: the input is a byte stream of
 * SMPP PDUs. Framing must never report a PDU longer than the bytes, each
 * deliver_sm must unpack (libsmpp34) or be refused with a reason, and the
 * MO text it yields must go through the client-command parser. The
 * entry parser gets the input too, as an outbox file. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libsmpp34/smpp34.h>

#include "smpp-pdu.h"
#include "vvm-sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_deliver(const uint8_t *pdu, size_t len)
{
	struct smpp_mo mo;
	struct vvm_sms_mo command;
	const char *reason = NULL;
	int rc;

	if (smpp_deliver_parse(pdu, len, &mo, &reason) != 0) {
		if (reason == NULL)
			abort();
		return;
	}
	if (mo.text == NULL || strlen(mo.source) >= sizeof(mo.source))
		abort();
	/* Parsed, or refused with a reason: nothing else. */
	reason = NULL;
	int ret = vvm_sms_mo_parse(mo.text, mo.len, &command, &rc, &reason);
	if (ret != 0 && (ret != -EINVAL || reason == NULL))
		abort();
	smpp_mo_clear(&mo);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vvm_sms_entry entry;
	struct smpp_header h;
	size_t pos = 0;
	int len;

	while ((len = smpp_frame(data + pos, size - pos, &h)) > 0) {
		if ((size_t)len > size - pos || h.length != (uint32_t)len)
			abort();
		if (h.id == DELIVER_SM)
			check_deliver(data + pos, (size_t)len);
		pos += (size_t)len;
	}
	if (len < 0 && len != -EBADMSG)
		abort();
	int ret = vvm_sms_entry_parse((const char *)data, size, &entry, NULL);
	if (ret != 0 && ret != -EINVAL)
		abort();
	return 0;
}
