/* Encoding of the server-originated SYNC, STATUS and OTP SMS. Each message is
 * checked whole before a byte is written, so a refused one leaves the
 * caller's buffer as it was. */
#include "sms-private.h"

#include <string.h>

static const char *const event_names[] = {
	[VVM_SMS_EV_NM] = "NM",
	[VVM_SMS_EV_MBU] = "MBU",
	[VVM_SMS_EV_GU] = "GU",
};

static bool is_one_of(char c, const char *allowed)
{
	return c != '\0' && strchr(allowed, c) != NULL;
}

static bool is_token_len(const char *s, size_t min, size_t max)
{
	size_t len;

	if (s == NULL)
		return false;
	len = strlen(s);
	return len >= min && len <= max && sms_is_token(s, len);
}

static int check_prefix(const char *prefix, const char **reason_r)
{
	if (!sms_is_prefix(prefix, strlen(prefix), VVM_SMS_PREFIX_MAX))
		return sms_fail(reason_r, "prefix: 1-64 characters without "
				"space, ';' or '='");
	return 0;
}

int sms_sync_check(const struct vvm_sms_sync *sync, const char **reason_r)
{
	char dt[SMS_DT_LEN + 1];

	if ((unsigned)sync->ev >= G_N_ELEMENTS(event_names))
		return sms_fail(reason_r, "ev: not NM, MBU or GU");
	if (sync->c > 99999)
		return sms_fail(reason_r, "c: more than five digits");
	if (sync->ev != VVM_SMS_EV_NM)
		return 0;
	/* id needs no check: a uint64_t has at most 20 of the 21 digits. */
	if (!is_one_of(sync->t, "vofie"))
		return sms_fail(reason_r, "t: not v, o, f, i or e");
	if (sync->s != NULL && !sms_is_number(sync->s, strlen(sync->s), 29,
					      false))
		return sms_fail(reason_r, "s: not 1-29 digits after an "
				"optional '+'");
	if (sms_dt_format(sync->dt, sync->dt_offset, dt, sizeof(dt)) < 0)
		return sms_fail(reason_r, "dt: offset not in whole minutes "
				"below 24 hours, or year outside 1-9999");
	if (sync->l > 99999)
		return sms_fail(reason_r, "l: more than five digits");
	return 0;
}

int vvm_sms_sync_encode(const char *prefix, const struct vvm_sms_sync *sync,
			GString *out, const char **reason_r)
{
	char dt[SMS_DT_LEN + 1];
	int ret;

	if (prefix == NULL)
		prefix = VVM_SMS_DEFAULT_PREFIX;
	ret = check_prefix(prefix, reason_r);
	if (ret == 0)
		ret = sms_sync_check(sync, reason_r);
	/* Formatted before anything is appended: out stays unchanged on
	 * failure, and dt is never used unwritten. */
	if (ret == 0 && sync->ev == VVM_SMS_EV_NM &&
	    sms_dt_format(sync->dt, sync->dt_offset, dt, sizeof(dt)) < 0)
		ret = sms_fail(reason_r, "dt: out of range");
	if (ret < 0)
		return ret;

	g_string_append_printf(out, "%s:SYNC:ev=%s", prefix,
			       event_names[sync->ev]);
	if (sync->ev == VVM_SMS_EV_NM)
		g_string_append_printf(out, ";id=%" G_GUINT64_FORMAT, sync->id);
	g_string_append_printf(out, ";c=%u", sync->c);
	if (sync->ev != VVM_SMS_EV_NM)
		return 0;
	g_string_append_printf(out, ";t=%c", sync->t);
	if (sync->s != NULL)
		g_string_append_printf(out, ";s=%s", sync->s);
	g_string_append_printf(out, ";dt=%s;l=%u", dt, sync->l);
	return 0;
}

void vvm_sms_status_init(struct vvm_sms_status *status_r)
{
	memset(status_r, 0, sizeof(*status_r));
	status_r->gm = 'N';
	status_r->vtc = 'N';
}

static bool is_reduced(char st)
{
	return st == 'U' || st == 'B';
}

static int check_srv(const char *srv, unsigned flags, const char **reason_r)
{
	size_t len = srv == NULL ? 0 : strlen(srv);
	size_t max = (flags & VVM_SMS_SRV_BARE) != 0 ? 30 : 28;

	if (len == 0 || len > max ||
	    (!sms_is_ip(srv, len) && !sms_is_fqdn(srv, len)))
		return sms_fail(reason_r, "srv: not an IP address or host name "
				"that fits 30 characters with its 1: or 2:");
	/* Sent bare, an IPv6 address such as 1:2::3 would read back as
	 * the prefix 1: and the address 2::3. */
	if ((flags & VVM_SMS_SRV_BARE) != 0 && len >= 2 && srv[1] == ':' &&
	    (srv[0] == '1' || srv[0] == '2'))
		return sms_fail(reason_r, "srv: a bare address cannot start "
				"with 1: or 2:");
	return 0;
}

int sms_status_check(const struct vvm_sms_status *st, unsigned flags,
		     const char **reason_r)
{
	if (!is_one_of(st->st, "NRPUB"))
		return sms_fail(reason_r, "st: not N, R, P, U or B");
	if (st->rc > 7)
		return sms_fail(reason_r, "rc: not 0-7");
	if (st->rs != NULL && st->rc != VVM_SMS_RC_NOT_PROVISIONED)
		return sms_fail(reason_r, "rs: only sent with rc=5");
	if (st->rs != NULL && !is_token_len(st->rs, 1, 100))
		return sms_fail(reason_r, "rs: not 1-100 characters without "
				"space, ';' or '='");
	if (is_reduced(st->st))
		return 0;
	if (check_srv(st->srv, flags, reason_r) < 0)
		return -EINVAL;
	if (st->tui == NULL || !sms_is_number(st->tui, strlen(st->tui), 16,
					      true))
		return sms_fail(reason_r, "tui: not 1-16 digits, '*' or '#' "
				"after an optional '+'");
	if (st->dn == NULL || strlen(st->dn) > 30 ||
	    !sms_is_number(st->dn, strlen(st->dn), 30, false))
		return sms_fail(reason_r, "dn: not 1-30 characters of digits "
				"after an optional '+'");
	if (st->ipt == 0 || st->ipt > 65535)
		return sms_fail(reason_r, "ipt: not a port 1-65535");
	if (st->spt > 65535)
		return sms_fail(reason_r, "spt: not a port 0-65535");
	if (!is_token_len(st->u, 1, 50))
		return sms_fail(reason_r, "u: not 1-50 characters without "
				"space, ';' or '='");
	if (!is_token_len(st->pw, 0, 30))
		return sms_fail(reason_r, "pw: not 0-30 characters without "
				"space, ';' or '='");
	if (st->lang == NULL || strlen(st->lang) > 36 ||
	    !sms_is_lang_list(st->lang, strlen(st->lang)))
		return sms_fail(reason_r, "lang: not up to 36 characters of "
				"code[.digit] separated by '|'");
	if (st->g_len > 999)
		return sms_fail(reason_r, "g_len: more than three digits");
	if (st->vs_len > 999)
		return sms_fail(reason_r, "vs_len: more than three digits");
	if (st->pw_min > st->pw_max || st->pw_max > 99)
		return sms_fail(reason_r, "pw_len: not min-max within 0-99");
	if (!is_token_len(st->smtp_u, 1, VVM_SMS_SMTP_MAX))
		return sms_fail(reason_r, "smtp_u: not 1-64 characters without "
				"space, ';' or '=' (0 without SMTP)");
	if (!is_token_len(st->smtp_pw, 1, VVM_SMS_SMTP_MAX))
		return sms_fail(reason_r, "smtp_pw: not 1-64 characters without "
				"space, ';' or '=' (0 without SMTP)");
	if (!is_one_of(st->gm, "GVBN"))
		return sms_fail(reason_r, "gm: not G, V, B or N");
	if (!is_one_of(st->vtc, "NDAB"))
		return sms_fail(reason_r, "vtc: not N, D, A or B");
	return 0;
}

int vvm_sms_status_encode(const char *prefix, const struct vvm_sms_status *st,
			  unsigned flags, GString *out, const char **reason_r)
{
	int ret;

	if (prefix == NULL)
		prefix = VVM_SMS_DEFAULT_PREFIX;
	ret = check_prefix(prefix, reason_r);
	if (ret == 0)
		ret = sms_status_check(st, flags, reason_r);
	if (ret < 0)
		return ret;

	if ((flags & VVM_SMS_ST_QUOTED) != 0)
		g_string_append_printf(out, "%s:STATUS:st=\"%c\"", prefix,
				       st->st);
	else
		g_string_append_printf(out, "%s:STATUS:st=%c", prefix, st->st);
	g_string_append_printf(out, ";rc=%u", st->rc);
	if (st->rs != NULL)
		g_string_append_printf(out, ";rs=%s", st->rs);
	if (is_reduced(st->st))
		return 0;
	g_string_append(out, ";srv=");
	if ((flags & VVM_SMS_SRV_BARE) == 0)
		g_string_append(out, sms_is_ip(st->srv, strlen(st->srv)) ?
				"1:" : "2:");
	g_string_append_printf(out, "%s;tui=%s;dn=%s;ipt=%u;spt=%u;u=%s;pw=%s"
			       ";lang=%s;g_len=%u;vs_len=%u;pw_len=%u-%u"
			       ";smtp_u=%s;smtp_pw=%s",
			       st->srv, st->tui, st->dn, st->ipt, st->spt,
			       st->u, st->pw, st->lang, st->g_len, st->vs_len,
			       st->pw_min, st->pw_max, st->smtp_u,
			       st->smtp_pw);
	/* pm and gm are "sent only for new provisioning status". */
	if (st->st == 'N')
		g_string_append_printf(out, ";pm=%c;gm=%c", st->pm ? 'Y' : 'N',
				       st->gm);
	g_string_append_printf(out, ";vtc=%c;vt=%c", st->vtc,
			       st->vt ? '1' : '0');
	return 0;
}

int32_t vvm_sms_tz_offset(GTimeZone *tz, int64_t t)
{
	int interval = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, t);

	return g_time_zone_get_offset(tz, interval);
}

static bool is_otp_code(const char *s, size_t len)
{
	if (len < 4 || len > 38)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isalnum(s[i]))
			return false;
	}
	return true;
}

/* Splits tmpl at its one placeholder into the lengths before and after. */
static int otp_template(const char *tmpl, size_t *head_r, size_t *tail_r,
			const char **reason_r)
{
	size_t len = strlen(tmpl), ph = strlen(VVM_SMS_OTP_PLACEHOLDER);
	const char *at = strstr(tmpl, VVM_SMS_OTP_PLACEHOLDER);

	if (len > VVM_SMS_OTP_TEMPLATE_MAX || !g_utf8_validate(tmpl, -1, NULL))
		return sms_fail(reason_r, "OTP template: not UTF-8 of at most "
				"480 bytes");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tmpl[i];

		if ((c < ' ' && c != '\n') || c == 0x7f)
			return sms_fail(reason_r, "OTP template: control "
					"character other than newline");
	}
	if (at == NULL || strstr(at + ph, VVM_SMS_OTP_PLACEHOLDER) != NULL)
		return sms_fail(reason_r, "OTP template: needs {code} exactly "
				"once");
	*head_r = (size_t)(at - tmpl);
	*tail_r = len - *head_r - ph;
	return 0;
}

int vvm_sms_otp_encode(const char *tmpl, const char *code, GString *out,
		       const char **reason_r)
{
	size_t head, tail;
	int ret;

	if (tmpl == NULL)
		tmpl = VVM_SMS_OTP_DEFAULT_TEMPLATE;
	ret = otp_template(tmpl, &head, &tail, reason_r);
	if (ret < 0)
		return ret;
	if (!is_otp_code(code, strlen(code)))
		return sms_fail(reason_r, "OTP code: not 4-38 letters or "
				"digits");
	g_string_append_len(out, tmpl, (gssize)head);
	g_string_append(out, code);
	g_string_append_len(out, tmpl + strlen(tmpl) - tail, (gssize)tail);
	return 0;
}

int vvm_sms_otp_parse(const char *tmpl, const char *text, size_t len,
		      char **code_r, const char **reason_r)
{
	size_t head, tail;
	const char *tail_text;
	int ret;

	if (tmpl == NULL)
		tmpl = VVM_SMS_OTP_DEFAULT_TEMPLATE;
	ret = otp_template(tmpl, &head, &tail, reason_r);
	if (ret < 0)
		return ret;
	tail_text = tmpl + strlen(tmpl) - tail;
	if (len < head + tail || memcmp(text, tmpl, head) != 0 ||
	    memcmp(text + len - tail, tail_text, tail) != 0)
		return sms_fail(reason_r, "OTP: text does not match the "
				"template");
	if (!is_otp_code(text + head, len - head - tail))
		return sms_fail(reason_r, "OTP code: not 4-38 letters or "
				"digits");
	*code_r = g_strndup(text + head, len - head - tail);
	return 0;
}
