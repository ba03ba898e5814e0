/* Who may log in, and what logging in does: the subscriber lookup, the
 * password, the spec's refusals by provisioning status, failed-login
 * throttling kept in vvmfs, the session slot and the privilege drop. */
#ifndef VVM_IMAP_LOGIN_H
#define VVM_IMAP_LOGIN_H

#include <stdbool.h>

#include "imap-session.h"

/* The subscriber directory of login name user: the MSISDN, or the digits
 * before an "@", whose profile imap_user is user. Returns 0 and a new
 * path, -ENOENT for an unknown user, or -errno. */
int imap_login_find(const struct imap_session *s, const char *user,
		    char **dir_r) G_GNUC_WARN_UNUSED_RESULT;
/* Counts one password attempt against the subscriber in dir before it is
 * checked. Returns 0, -EACCES while failed attempts lock the subscriber
 * out ([imap] login_failures_max, login_lockout), or -errno when the count
 * cannot be read or written (refuse, never count it as none). */
int imap_login_attempt(const struct imap_session *s, const char *dir)
	G_GNUC_WARN_UNUSED_RESULT;
/* Takes back the count once an attempt proved right. Returns 0 or
 * -errno. */
int imap_login_attempt_succeeded(const struct imap_session *s,
				 const char *dir) G_GNUC_WARN_UNUSED_RESULT;
/* The password user must give (the profile key the config names), the
 * attempt counted. Returns 0, -ENOENT for an unknown user, -EACCES while
 * locked out, -EPERM when no password is set, or -errno. */
int imap_login_password(const struct imap_session *s, const char *user,
			char **password_r) G_GNUC_WARN_UNUSED_RESULT;
/* Waits the configured delay after a wrong password. */
void imap_login_failed(const struct imap_session *s);
/* Completes a login whose password was right: refuses by status with
 * the spec's text, takes the session slot, drops privileges and enters
 * the authenticated state. On refusal sets the NO reply and returns
 * false. */
bool imap_login_finish(struct imap_session *s, const char *user)
	G_GNUC_WARN_UNUSED_RESULT;

/* The SASL mechanisms offered now, as a NULL-terminated vector. */
char **imap_auth_mechanisms(const struct imap_session *s);

#endif
