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
/* Takes a turn to check a password of the subscriber in dir, held in
 * s->login_ticket (vvm_login_attempt). Returns 0, -EACCES while failed
 * attempts lock the subscriber out ([imap] login_failures_max,
 * login_lockout), or -errno when the count cannot be read or written
 * (refuse, never count it as none). */
int imap_login_attempt(struct imap_session *s, const char *dir)
	G_GNUC_WARN_UNUSED_RESULT;
/* The attempt proved right: the failures are forgotten. Returns 0 or
 * -errno. */
int imap_login_attempt_succeeded(struct imap_session *s)
	G_GNUC_WARN_UNUSED_RESULT;
/* The attempt, if one is in flight, failed: counted as a failed login
 * before this returns. */
void imap_login_attempt_failed(struct imap_session *s);
/* The password user must give (the profile key the config names), with
 * a turn to check it taken. Returns 0, -ENOENT for an unknown user,
 * -EACCES while locked out, -EPERM when no password is set, or -errno. */
int imap_login_password(struct imap_session *s, const char *user,
			char **password_r) G_GNUC_WARN_UNUSED_RESULT;
/* A wrong password: counted, then the configured delay. */
void imap_login_failed(struct imap_session *s);
/* Completes a login whose password was right: refuses by status with
 * the spec's text, takes the session slot, drops privileges and enters
 * the authenticated state. On refusal sets the NO reply and returns
 * false. */
bool imap_login_finish(struct imap_session *s, const char *user)
	G_GNUC_WARN_UNUSED_RESULT;

/* The SASL mechanisms offered now, as a NULL-terminated vector. */
char **imap_auth_mechanisms(const struct imap_session *s);

#endif
