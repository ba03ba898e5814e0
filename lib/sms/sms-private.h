/* Shared by the SMS encoders and parsers: field syntax checks, so that
 * what is sent and what is accepted are the same rules. */
#ifndef SMS_PRIVATE_H
#define SMS_PRIVATE_H

#include <errno.h>

#include "vvm-sms.h"

/* "DD/MM/YYYY HH:MM +ZZZZ" */
#define SMS_DT_LEN 22

static inline int sms_fail(const char **reason_r, const char *reason)
{
	if (reason_r != NULL)
		*reason_r = reason;
	return -EINVAL;
}

/* Printable ASCII other than space, ';' and '=': what a field value can
 * carry without being mistaken for the message's own punctuation. */
bool sms_is_token_char(char c);
bool sms_is_token(const char *s, size_t len);
/* len 1..max_digits decimal digits (leading zeros allowed) worth at most
 * max; the value goes to *v_r. */
bool sms_parse_uint(const char *s, size_t len, size_t max_digits,
		    uint64_t max, uint64_t *v_r) G_GNUC_WARN_UNUSED_RESULT;
/* An optional '+' then 1..max_digits digits; with dial, '*' and '#' too. */
bool sms_is_number(const char *s, size_t len, size_t max_digits, bool dial);
/* code[.variant]|... where code is 1-3 ASCII letters, variant a digit. */
bool sms_is_lang_list(const char *s, size_t len);
/* An IPv4 or IPv6 literal. */
bool sms_is_ip(const char *s, size_t len);
/* Dot-separated labels of letters, digits and inner hyphens. */
bool sms_is_fqdn(const char *s, size_t len);
/* A client prefix: 1..max token characters. */
bool sms_is_prefix(const char *s, size_t len, size_t max);

/* Writes dt (SMS_DT_LEN characters and a NUL) for time t at UTC offset
 * off. Returns 0 or -EINVAL (offset not in whole minutes or >= 24 h, year
 * outside 1..9999). */
int sms_dt_format(int64_t t, int32_t off, char *buf, size_t size)
	G_GNUC_WARN_UNUSED_RESULT;
/* Parses dt. Returns 0, or -EINVAL for anything but a valid date. */
int sms_dt_parse(const char *s, size_t len, int64_t *t_r, int32_t *off_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* The checks the encoders make, also run by the parser on what it read. */
int sms_sync_check(const struct vvm_sms_sync *sync, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;
int sms_status_check(const struct vvm_sms_status *status, unsigned flags,
		     const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

#endif
