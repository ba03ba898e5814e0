/* Fuzzes the client (MO) SMS parser: whatever the input, it must either
 * refuse with a reason and an rc the server can answer with, or return a
 * request whose fields hold what the header promises, and whose prefix
 * the server can put in front of its reply. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vvm-sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_token(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s <= ' ' || *s >= 0x7f || *s == ';' || *s == '=')
			return false;
	}
	return true;
}

static void check_ok(const struct vvm_sms_mo *mo)
{
	struct vvm_sms_status st;
	GString *out;

	if (mo->command > VVM_SMS_MO_DEACTIVATE)
		abort();
	if (mo->pv != 0 && (mo->pv < 10 || mo->pv > 99))
		abort();
	if (strlen(mo->ct) > VVM_SMS_CT_MAX || !is_token(mo->ct))
		abort();
	if (strlen(mo->prefix) > VVM_SMS_MO_PREFIX_MAX || !is_token(mo->prefix))
		abort();
	if (mo->pt < -1 || mo->pt > 16999 || mo->dt < -1 || mo->dt > 99)
		abort();
	/* Without the dt form, a request with fields names its client. */
	if (mo->dt < 0 && mo->pv != 0 && mo->ct[0] == '\0')
		abort();

	vvm_sms_status_init(&st);
	st.st = 'U';
	st.rc = VVM_SMS_RC_CLIENT_UNKNOWN;
	out = g_string_new(NULL);
	if (vvm_sms_status_encode(mo->prefix[0] != '\0' ? mo->prefix : NULL,
				  &st, 0, out, NULL) != 0)
		abort();
	g_string_free(out, TRUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vvm_sms_mo mo;
	const char *reason = NULL;
	int rc = 1000;
	int ret;

	ret = vvm_sms_mo_parse((const char *)data, size, &mo, &rc, &reason);
	if (ret == 0) {
		check_ok(&mo);
		return 0;
	}
	if (ret != -EINVAL || reason == NULL)
		abort();
	if (rc != VVM_SMS_RC_NONE && rc != VVM_SMS_RC_SUBSCRIBER_ERROR &&
	    rc != VVM_SMS_RC_CLIENT_UNKNOWN)
		abort();
	return 0;
}
