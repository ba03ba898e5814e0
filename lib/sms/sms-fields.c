/* Field syntax shared by the encoders and the parsers. */
#include "sms-private.h"

#include <stdio.h>
#include <string.h>

/* Unix times of 0001-01-01 and 9999-12-31 23:59:59 UTC bound what
 * GDateTime represents. A day's margin allows any offset; checking
 * against these first keeps t + off from overflowing. */
#define DT_MIN (-62135596800LL - 86400)
#define DT_MAX (253402300799LL + 86400)

bool sms_is_token_char(char c)
{
	return c > ' ' && c < 0x7f && c != ';' && c != '=';
}

bool sms_is_token(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!sms_is_token_char(s[i]))
			return false;
	}
	return true;
}

bool sms_parse_uint(const char *s, size_t len, size_t max_digits,
		    uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > max_digits)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (!g_ascii_isdigit(s[i]))
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (G_MAXUINT64 - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v > max)
		return false;
	*v_r = v;
	return true;
}

bool sms_is_number(const char *s, size_t len, size_t max_digits, bool dial)
{
	size_t i = 0;

	if (len > 0 && s[0] == '+')
		i++;
	if (len - i == 0 || len - i > max_digits)
		return false;
	for (; i < len; i++) {
		if (g_ascii_isdigit(s[i]))
			continue;
		if (dial && (s[i] == '*' || s[i] == '#'))
			continue;
		return false;
	}
	return true;
}

bool sms_is_lang_list(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return false;
	for (;;) {
		size_t start = i;

		while (i < len && g_ascii_isalpha(s[i]))
			i++;
		if (i == start || i - start > 3)
			return false;
		if (i < len && s[i] == '.') {
			if (i + 1 >= len || !g_ascii_isdigit(s[i + 1]))
				return false;
			i += 2;
		}
		if (i == len)
			return true;
		if (s[i] != '|')
			return false;
		i++;
	}
}

bool sms_is_ip(const char *s, size_t len)
{
	char buf[64];

	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return g_hostname_is_ip_address(buf);
}

bool sms_is_fqdn(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!g_ascii_isalnum(c) && (c != '-' || label == 0))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

bool sms_is_prefix(const char *s, size_t len, size_t max)
{
	return len >= 1 && len <= max && sms_is_token(s, len);
}

int sms_dt_format(int64_t t, int32_t off, char *buf, size_t size)
{
	GDateTime *d;
	int32_t abs_off;

	if (off % 60 != 0 || off <= -24 * 3600 || off >= 24 * 3600 ||
	    t < DT_MIN || t > DT_MAX)
		return -EINVAL;
	abs_off = off < 0 ? -off : off;
	/* The wall-clock time at that offset, read off a UTC date. */
	d = g_date_time_new_from_unix_utc(t + off);
	if (d == NULL)
		return -EINVAL;
	snprintf(buf, size, "%02d/%02d/%04d %02d:%02d %c%02d%02d",
		 g_date_time_get_day_of_month(d), g_date_time_get_month(d),
		 g_date_time_get_year(d), g_date_time_get_hour(d),
		 g_date_time_get_minute(d), off < 0 ? '-' : '+',
		 (int)(abs_off / 3600), (int)(abs_off % 3600 / 60));
	g_date_time_unref(d);
	return 0;
}

static int digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!g_ascii_isdigit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int sms_dt_parse(const char *s, size_t len, int64_t *t_r, int32_t *off_r)
{
	int day, month, year, hour, minute, zh, zm;
	GDateTime *d;
	int32_t off;

	if (len != SMS_DT_LEN || s[2] != '/' || s[5] != '/' || s[10] != ' ' ||
	    s[13] != ':' || s[16] != ' ' || (s[17] != '+' && s[17] != '-'))
		return -EINVAL;
	day = digits(s, 2);
	month = digits(s + 3, 2);
	year = digits(s + 6, 4);
	hour = digits(s + 11, 2);
	minute = digits(s + 14, 2);
	zh = digits(s + 18, 2);
	zm = digits(s + 20, 2);
	if (day < 0 || month < 0 || year < 0 || hour < 0 || minute < 0 ||
	    zh < 0 || zh > 23 || zm < 0 || zm > 59)
		return -EINVAL;
	/* NULL for anything outside the calendar, such as 31/02. */
	d = g_date_time_new_utc(year, month, day, hour, minute, 0);
	if (d == NULL)
		return -EINVAL;
	off = (zh * 60 + zm) * 60;
	if (s[17] == '-')
		off = -off;
	*t_r = g_date_time_to_unix(d) - off;
	*off_r = off;
	g_date_time_unref(d);
	return 0;
}
