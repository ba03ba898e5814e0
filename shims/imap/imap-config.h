/* vvm-imapd's settings: the [imap] section of the shared vvm config file,
 * plus the few shared keys it needs ([profile] PIN lengths, [sms]
 * languages). Every key has a default, so a missing file is a valid
 * configuration for a plain-text test deployment. */
#ifndef VVM_IMAP_CONFIG_H
#define VVM_IMAP_CONFIG_H

#include <stdbool.h>

#include "vvm-config.h"
#include "vvm-login.h"
#include "vvm-profile.h"

struct imap_config {
	char *mount;                /* the vvmfs mount point */
	enum vvm_tls_mode tls;
	char *tls_cert;
	char *tls_key;
	/* LOGINDISABLED and no plain-text mechanisms before TLS. */
	bool login_disabled;
	bool cram_md5;              /* offer CRAM-MD5 (needs no TLS) */
	char *hostname;             /* DIGEST-MD5 realm, greeting */
	/* Which profile file holds the IMAP password: imap_password, or
	 * tui_password where the operator logs in with the PIN. */
	char *password_key;
	/* Refuse logins with "mailbox not initialized" while the TUI PIN is
	 * still empty. */
	bool require_tui_init;
	/* client_type prefixes allowed to log in; empty allows any. */
	char **known_clients;
	/* An unprivileged user to run as after login, when started as root,
	 * chrooted into the subscriber's directory. */
	char *run_as;
	unsigned int idle_timeout;    /* seconds; autologout */
	unsigned int login_timeout;   /* seconds before authentication */
	unsigned int idle_poll_ms;    /* IDLE's look at the change feed */
	struct vvm_login_throttle throttle;  /* failed logins */
	unsigned int quota_soft_percent;
	char *greeting_types;         /* /private/VVM/GreetingTypesAllowed */
	struct vvm_profile_limits pins; /* [profile] pin_min, pin_max */
	bool reject_weak_pin;         /* 1111, 1234, 4321 ... */
	char **languages;             /* XCHANGE_VM_LANG accepts these */
};

/* Loads file, or /etc/vvm/vvm.conf if file is NULL and it exists.
 * Returns 0 and fills *config_r, or -errno with *error_r set to a new
 * message. */
int imap_config_load(const char *file, struct imap_config *config_r,
		     char **error_r) G_GNUC_WARN_UNUSED_RESULT;
void imap_config_clear(struct imap_config *config);

#endif
