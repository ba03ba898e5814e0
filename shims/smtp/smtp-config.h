/* vvm-smtpd's settings: the [smtp] section of the shared vvm config file
 * (the mount, TLS keys and login throttling fall back to [imap]'s, so one
 * deployment names them once). Every key has a default. */
#ifndef VVM_SMTP_CONFIG_H
#define VVM_SMTP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "vvm-config.h"
#include "vvm-login.h"

struct smtp_config {
	char *mount;
	enum vvm_tls_mode tls;
	char *tls_cert;
	char *tls_key;
	char *hostname;            /* greeting, DIGEST-MD5 realm, Received */
	bool cram_md5;
	/* Which profile file AUTH checks: smtp_password (the spec's
	 * smtp_pw), imap_password or tui_password. */
	char *password_key;
	char *run_as;
	/* Recipient domains served; empty: any. */
	char **domains;
	bool require_auth;         /* MAIL only after AUTH (not in LMTP) */
	bool enforce_from;         /* From must be the authenticated number */
	bool dsn;                  /* deposit DSNs in the sender's INBOX */
	char *subject;             /* Subject override, or NULL */
	char *postmaster;          /* the MSISDN postmaster reaches, or NULL */
	uint64_t max_message_size; /* bytes, SIZE */
	unsigned int max_recipients;
	unsigned int max_errors;
	unsigned int max_duration; /* seconds of voice, 0: any */
	unsigned int idle_timeout; /* seconds between commands */
	unsigned int data_timeout; /* seconds between data blocks */
	struct vvm_login_throttle throttle;  /* failed logins */
	char **known_clients;
	bool require_tui_init;
};

/* Loads file, or /etc/vvm/vvm.conf when file is NULL and it exists.
 * Returns 0 and fills *config_r, or -errno with *error_r a new message. */
int smtp_config_load(const char *file, struct smtp_config *config_r,
		     char **error_r) G_GNUC_WARN_UNUSED_RESULT;
void smtp_config_clear(struct smtp_config *config);

#endif
