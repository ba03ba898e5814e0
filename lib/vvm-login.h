/* Who may log in to a shim, the same for every protocol: the subscriber
 * a login name belongs to, failed-login throttling kept in vvmfs (so that
 * IMAP and SMTP, and every process of each, count together), the spec's
 * refusals by provisioning status, the session slot and the privilege
 * drop. Library code: returns -errno, never logs. */
#ifndef VVM_LOGIN_H
#define VVM_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

/* Whether s[0..len) is an MSISDN as vvmfs names subscribers: 1 to 15
 * digits, the first not 0. */
bool vvm_msisdn_valid(const char *s, size_t len);

/* The subscriber directory under mount of login name user: the MSISDN,
 * or the digits before an "@", whose profile value user_key (imap_user,
 * smtp_user) is user. Returns 0 and a new path, -ENOENT for an unknown
 * user, or -errno (-ENODEV when vvmfs is not mounted on mount). */
int vvm_login_find(const char *mount, const char *user_key, const char *user,
		   char **dir_r) G_GNUC_WARN_UNUSED_RESULT;

struct vvm_login_throttle {
	unsigned int failures_max;  /* 0: no throttling */
	unsigned int lockout;       /* seconds */
	unsigned int delay_ms;      /* before answering a failed attempt */
};

/* The throttle from [imap], each key overridden by section's own (NULL:
 * [imap] alone), so that every shim counts failed logins alike. A key
 * that is there but malformed is an error, never its default. Returns 0
 * or -EINVAL with *error_r set. */
int vvm_login_throttle_config(GKeyFile *kf, const char *section,
			      struct vvm_login_throttle *throttle,
			      char **error_r) G_GNUC_WARN_UNUSED_RESULT;

/* Takes a turn to check a password of the subscriber in dir: a ticket
 * (MOUNT/<msisdn>/.sessions/login) that counts as a failed login unless
 * vvm_login_attempt_succeeded() proves it right, even when the process
 * dies first. Turns are given while failed logins plus the checks in
 * flight stay below the limit, so parallel logins with the right password
 * wait for each other instead of failing, and parallel guesses get no
 * more checks than serial ones. *ticket is the session's: -1, or an
 * earlier attempt left undecided, which counts as failed first. Returns 0
 * and the ticket in *ticket (-1 when throttling is off); -EACCES while
 * failed logins lock the subscriber out or no turn came within 10 s; or
 * -errno: a count that cannot be read or written is an error, never "no
 * failures", so the caller must refuse the login (as a temporary
 * failure). */
int vvm_login_attempt(const struct vvm_login_throttle *throttle,
		      const char *dir, int *ticket) G_GNUC_WARN_UNUSED_RESULT;
/* The attempt proved right: the failures are forgotten and the ticket
 * closed (set to -1). Returns 0 or -errno, which must refuse the login. */
int vvm_login_attempt_succeeded(int *ticket) G_GNUC_WARN_UNUSED_RESULT;
/* The attempt failed or was given up: counted, durably, as a failed login
 * when the ticket closes (set to -1; nothing to do for -1). Returns 0 or
 * -errno when the count could not be written. */
int vvm_login_attempt_failed(int *ticket) G_GNUC_WARN_UNUSED_RESULT;

/* The password user must give for the subscriber user_key names: the
 * profile file password_key, with a turn to check it taken against
 * throttle in *ticket (vvm_login_attempt). Returns 0 and a new
 * string, -ENOENT for an unknown user, -EACCES while locked out, -EPERM
 * when no password is set, or -errno. */
int vvm_login_password(const char *mount, const char *user_key,
		       const char *password_key,
		       const struct vvm_login_throttle *throttle,
		       const char *user, int *ticket, char **password_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* Compares a secret the client sent with the stored one in time that
 * does not depend on where they differ. */
bool vvm_secret_equal(const char *given, const char *stored);
/* user as it may appear in a log: printable ASCII, at most 63 bytes. */
const char *vvm_login_loggable(const char *user, char buf[static 64]);

/* Whether client (a client_type) starts with one of known_clients; any
 * client is known when the list is NULL or empty. */
bool vvm_client_known(char **known_clients, const char *client);

struct vvm_login_policy {
	/* client_type prefixes allowed; NULL or empty allows any */
	char **known_clients;
	/* refuse while the TUI PIN is still empty */
	bool require_tui_init;
};

/* Whether the subscriber in dir may log in by its provisioning status and
 * the policy. Returns 0 when it may; -EACCES with *refusal_r the spec's
 * text when it may not ("service is not provisioned", "service is not
 * activated", "user is blocked", "unknown client", "mailbox not
 * initialized"); or -errno when a value that decides cannot be read
 * (-EIO for a status that is none of the spec's), which must refuse the
 * login as a temporary failure. */
int vvm_login_refusal(const struct vvm_login_policy *policy, const char *dir,
		      const char **refusal_r) G_GNUC_WARN_UNUSED_RESULT;

/* Takes one of the subscriber's protocol ("imap", "smtp") session slots
 * in vvmfs; the kernel gives it back when the process ends, however it
 * ends. Returns 0 and the descriptor to keep open, -EUSERS when all are
 * taken, or -errno. */
int vvm_login_take_slot(const char *dir, const char *protocol, int *fd_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* When running as root: chroot into root, then become run_as (NULL: stay
 * as is), each step fatal. Returns 1 when privileges were dropped, 0 when
 * there was nothing to do, -EPERM for an unknown or root run_as, -EACCES
 * when run_as cannot write root (vvmfs not mounted with owner=run_as), or
 * -errno. */
int vvm_login_drop_privileges(const char *root, const char *run_as)
	G_GNUC_WARN_UNUSED_RESULT;

#endif
