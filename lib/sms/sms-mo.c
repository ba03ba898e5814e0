/* Parsing of client-originated (MO) SMS: STATUS, Activate, Deactivate.
 *
 * The spec's syntax is "<Command>:pv=..;ct=..;pt=..;<prefix>", case-
 * sensitive. Real clients differ from it in ways we accept on purpose:
 * Verizon's VVM3 client sends a bare "STATUS", others "Status"; protocol
 * 1.1 clients send "Activate:pv=11;ct=..." without pt and prefix;
 * T-Mobile's CVVM client sends "Activate:dt=6" and nothing else.
 *
 * Every refusal carries the rc= to answer with: a request we recognise
 * gets a STATUS st=U with rc 6 (client unknown) when pv or ct is at fault
 * and rc 2 (subscriber error) for any other fault; text that is not a VVM
 * command at all gets no answer, since anyone can send an SMS to the
 * service's number. */
#include "sms-private.h"

#include <string.h>

static int mo_fail(int *rc_r, const char **reason_r, int rc,
		   const char *reason)
{
	if (rc_r != NULL)
		*rc_r = rc;
	return sms_fail(reason_r, reason);
}

static bool is_field_name(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_islower(s[i]) && !g_ascii_isdigit(s[i]) &&
		    s[i] != '_')
			return false;
	}
	return true;
}

static bool name_is(const char *s, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(s, name, len) == 0;
}

/* The client prefix: the last field, bare; a trailing ':' (the spec says
 * the prefix is "always followed by a colon") is not part of it. */
static int parse_prefix(const char *s, size_t len, struct vvm_sms_mo *mo,
			int *rc_r, const char **reason_r)
{
	if (len > 0 && s[len - 1] == ':')
		len--;
	if (!sms_is_prefix(s, len, VVM_SMS_MO_PREFIX_MAX))
		return mo_fail(rc_r, reason_r, VVM_SMS_RC_SUBSCRIBER_ERROR,
			       "prefix: not 1-30 characters without space, "
			       "';' or '='");
	memcpy(mo->prefix, s, len);
	mo->prefix[len] = '\0';
	return 0;
}

static int parse_field(const char *name, size_t name_len, const char *v,
		       size_t len, struct vvm_sms_mo *mo, int *rc_r,
		       const char **reason_r)
{
	uint64_t n;

	if (!is_field_name(name, name_len))
		return mo_fail(rc_r, reason_r, VVM_SMS_RC_SUBSCRIBER_ERROR,
			       "field name not lower case letters, digits "
			       "and '_'");
	if (name_is(name, name_len, "pv")) {
		if (mo->pv != 0)
			goto repeated;
		if (!sms_parse_uint(v, len, 2, 99, &n) || n < 10)
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_CLIENT_UNKNOWN,
				       "pv: not 10-99");
		mo->pv = (unsigned)n;
	} else if (name_is(name, name_len, "ct")) {
		if (mo->ct[0] != '\0')
			goto repeated;
		if (len == 0 || len > VVM_SMS_CT_MAX || !sms_is_token(v, len))
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_CLIENT_UNKNOWN,
				       "ct: not 1-30 characters without "
				       "space, ';' or '='");
		memcpy(mo->ct, v, len);
		mo->ct[len] = '\0';
	} else if (name_is(name, name_len, "pt")) {
		if (mo->pt >= 0)
			goto repeated;
		/* "maximum length = 30 characters", 0 or 1-16999 */
		if (!sms_parse_uint(v, len, 30, 16999, &n))
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_SUBSCRIBER_ERROR,
				       "pt: not 0-16999");
		mo->pt = (int)n;
	} else if (name_is(name, name_len, "dt")) {
		if (mo->dt >= 0)
			goto repeated;
		if (!sms_parse_uint(v, len, 2, 99, &n))
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_SUBSCRIBER_ERROR,
				       "dt: not 0-99");
		mo->dt = (int)n;
	}
	/* Other fields are ignored, as a later protocol version may add
	 * some. */
	return 0;
repeated:
	return mo_fail(rc_r, reason_r, VVM_SMS_RC_SUBSCRIBER_ERROR,
		       "field repeated");
}

static int parse_fields(const char *p, const char *end, struct vvm_sms_mo *mo,
			int *rc_r, const char **reason_r)
{
	for (;;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi != NULL ? semi : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		int ret;

		if (stop == p)
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_SUBSCRIBER_ERROR,
				       "empty field");
		if (eq == NULL && semi != NULL)
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_SUBSCRIBER_ERROR,
				       "field without '=' before the last");
		if (eq == NULL)
			ret = parse_prefix(p, (size_t)(stop - p), mo, rc_r,
					   reason_r);
		else
			ret = parse_field(p, (size_t)(eq - p), eq + 1,
					  (size_t)(stop - eq - 1), mo, rc_r,
					  reason_r);
		if (ret < 0 || semi == NULL)
			return ret;
		p = semi + 1;
	}
}

int vvm_sms_mo_parse(const char *text, size_t len, struct vvm_sms_mo *mo_r,
		     int *rc_r, const char **reason_r)
{
	struct vvm_sms_mo mo = { .pt = -1, .dt = -1 };
	const char *colon;
	size_t name_len;
	int ret;

	if (len == 0)
		return mo_fail(rc_r, reason_r, VVM_SMS_RC_NONE, "empty");
	if (len > VVM_SMS_MO_MAX)
		return mo_fail(rc_r, reason_r, VVM_SMS_RC_NONE,
			       "longer than 255 bytes");
	colon = memchr(text, ':', len);
	name_len = colon != NULL ? (size_t)(colon - text) : len;
	if (name_is(text, name_len, "STATUS"))
		mo.command = VVM_SMS_MO_STATUS;
	else if (name_is(text, name_len, "Activate"))
		mo.command = VVM_SMS_MO_ACTIVATE;
	else if (name_is(text, name_len, "Deactivate"))
		mo.command = VVM_SMS_MO_DEACTIVATE;
	else if (colon == NULL && name_is(text, name_len, "Status"))
		mo.command = VVM_SMS_MO_STATUS;
	else
		return mo_fail(rc_r, reason_r, VVM_SMS_RC_NONE,
			       "not STATUS, Activate or Deactivate (names "
			       "are case-sensitive)");

	if (colon == NULL && mo.command == VVM_SMS_MO_STATUS) {
		*mo_r = mo;
		return 0;
	}
	if (colon == NULL)
		return mo_fail(rc_r, reason_r, VVM_SMS_RC_CLIENT_UNKNOWN,
			       "pv: missing");
	for (size_t i = 0; i < len; i++) {
		if (text[i] < ' ' || text[i] >= 0x7f)
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_SUBSCRIBER_ERROR,
				       "not printable ASCII");
	}
	ret = parse_fields(colon + 1, text + len, &mo, rc_r, reason_r);
	if (ret < 0)
		return ret;

	/* The dt form carries nothing else; pv and ct come from the
	 * subscriber's profile. */
	if (mo.dt < 0) {
		if (mo.pv == 0)
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_CLIENT_UNKNOWN,
				       "pv: missing");
		if (mo.ct[0] == '\0')
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_CLIENT_UNKNOWN,
				       "ct: missing");
		/* pt came with protocol 1.2. */
		if (mo.command != VVM_SMS_MO_DEACTIVATE && mo.pv >= 12 &&
		    mo.pt < 0)
			return mo_fail(rc_r, reason_r,
				       VVM_SMS_RC_SUBSCRIBER_ERROR,
				       "pt: missing (required from pv=12)");
	}
	*mo_r = mo;
	return 0;
}
