/* Outbox entries: one pending server-originated SMS as vvmfs keeps it and
 * MOUNT/.outbox/sms/<seq> shows it (docs/fs-layout.md). vvmfs writes them,
 * the senders read them; both go through these two functions so that the
 * format has one definition. */
#include "sms-private.h"

#include <string.h>

static const char *const kind_names[] = {
	[VVM_SMS_ENTRY_SYNC] = "SYNC",
	[VVM_SMS_ENTRY_STATUS] = "STATUS",
	[VVM_SMS_ENTRY_OTP] = "OTP",
};

const char *vvm_sms_entry_kind_name(enum vvm_sms_entry_kind kind)
{
	return kind_names[kind];
}

void vvm_sms_entry_format(const struct vvm_sms_entry *entry, GString *out)
{
	g_string_append_printf(out, "to %s\nport %u\nkind %s\nreplace %d\ntext ",
			       entry->to, entry->port,
			       kind_names[entry->kind], entry->replace ? 1 : 0);
	g_string_append_len(out, entry->text, (gssize)entry->text_len);
	g_string_append_c(out, '\n');
}

/* Takes the line "<name> <value>\n" at *pos; the value goes to *value_r
 * and *len_r. */
static bool take_line(const char *data, size_t len, size_t *pos,
		      const char *name, const char **value_r, size_t *len_r)
{
	size_t n = strlen(name);
	const char *start = data + *pos, *nl;

	if (len - *pos < n + 1 || memcmp(start, name, n) != 0 ||
	    start[n] != ' ')
		return false;
	start += n + 1;
	nl = memchr(start, '\n', (size_t)(data + len - start));
	if (nl == NULL)
		return false;
	*value_r = start;
	*len_r = (size_t)(nl - start);
	*pos = (size_t)(nl + 1 - data);
	return true;
}

static bool parse_kind(const char *s, size_t len, enum vvm_sms_entry_kind *r)
{
	for (size_t i = 0; i < G_N_ELEMENTS(kind_names); i++) {
		if (strlen(kind_names[i]) == len &&
		    memcmp(kind_names[i], s, len) == 0) {
			*r = (enum vvm_sms_entry_kind)i;
			return true;
		}
	}
	return false;
}

/* SYNC and STATUS are one line of printable ASCII; an OTP is visible
 * text, so UTF-8 and line breaks are allowed, other controls are not. */
static bool text_fits(enum vvm_sms_entry_kind kind, const char *s, size_t len)
{
	if (len == 0 || len > VVM_SMS_TEXT_MAX)
		return false;
	if (kind == VVM_SMS_ENTRY_OTP) {
		if (!g_utf8_validate(s, (gssize)len, NULL))
			return false;
		for (size_t i = 0; i < len; i++) {
			if ((unsigned char)s[i] < 0x20 && s[i] != '\n')
				return false;
		}
		return true;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	}
	return true;
}

int vvm_sms_entry_parse(const char *data, size_t len,
			struct vvm_sms_entry *entry_r, const char **reason_r)
{
	struct vvm_sms_entry e = { 0 };
	const char *v;
	size_t pos = 0, n;
	uint64_t port;

	if (!take_line(data, len, &pos, "to", &v, &n) ||
	    !sms_is_number(v, n, VVM_SMS_ADDR_MAX, false) ||
	    n > VVM_SMS_ADDR_MAX)
		return sms_fail(reason_r, "to: not a phone number");
	memcpy(e.to, v, n);
	if (!take_line(data, len, &pos, "port", &v, &n) ||
	    !sms_parse_uint(v, n, 5, 65535, &port))
		return sms_fail(reason_r, "port: not 0-65535");
	e.port = (uint16_t)port;
	if (!take_line(data, len, &pos, "kind", &v, &n) ||
	    !parse_kind(v, n, &e.kind))
		return sms_fail(reason_r, "kind: not SYNC, STATUS or OTP");
	if (!take_line(data, len, &pos, "replace", &v, &n) || n != 1 ||
	    (v[0] != '0' && v[0] != '1'))
		return sms_fail(reason_r, "replace: not 0 or 1");
	e.replace = v[0] == '1';
	/* The text runs to the end, less the entry's final newline. */
	if (len - pos < 5 || memcmp(data + pos, "text ", 5) != 0)
		return sms_fail(reason_r, "text: missing");
	pos += 5;
	n = len - pos;
	if (n > 0 && data[len - 1] == '\n')
		n--;
	if (!text_fits(e.kind, data + pos, n))
		return sms_fail(reason_r, "text: empty, too long or not printable");
	memcpy(e.text, data + pos, n);
	e.text_len = n;
	*entry_r = e;
	return 0;
}
