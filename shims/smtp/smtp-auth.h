/* SMTP AUTH (RFC 4954) over lib/vvm-sasl, against the subscriber's SMTP
 * credentials (profile smtp_user and [smtp] password). */
#ifndef VVM_SMTP_AUTH_H
#define VVM_SMTP_AUTH_H

#include "smtp-session.h"

/* The mechanisms offered now, space-separated: DIGEST-MD5 (the spec's),
 * CRAM-MD5 by config, and SCRAM-SHA-256, PLAIN and LOGIN once TLS is on. */
char *smtp_auth_mechanisms(const struct smtp_session *s);
/* The password check in flight, if any, failed: counted as a failed
 * login before this returns. */
void smtp_login_attempt_failed(struct smtp_session *s);

#endif
