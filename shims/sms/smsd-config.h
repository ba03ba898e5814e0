/* vvm-smsd's settings: the [smsd] section of the shared vvm config file
 * (the mount and known_clients fall back to [imap]'s). docs/smsd.md
 * lists every key; each has a default but the SMSC's address. */
#ifndef VVM_SMSD_CONFIG_H
#define VVM_SMSD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "vvm-sms.h"

enum smsd_mode {
	SMSD_MODE_SMPP,    /* an ESME bound as a transceiver to the SMSC */
	SMSD_MODE_COMMAND, /* a program run per outbox entry */
	SMSD_MODE_HTTP,    /* Kannel-style sendsms GET per short message */
};

/* SMPP's service_type per kind of message: replace_if_present replaces
 * a pending message of the same type only, so each kind has its own. */
enum smsd_service {
	SMSD_SERVICE_INBOX,    /* SYNC NM and MBU */
	SMSD_SERVICE_GREETING, /* SYNC GU */
	SMSD_SERVICE_STATUS,   /* STATUS */
	SMSD_SERVICE_OTP,      /* OTP */
	SMSD_SERVICES,
};

struct smsd_config {
	char *mount;
	enum smsd_mode mode;
	unsigned poll_ms;           /* outbox scan interval when idle */
	unsigned retry_max_s;       /* longest wait before a refused entry
				     * is tried again */
	/* What goes out. */
	char *source_addr;          /* the VVM service's number */
	unsigned source_ton, source_npi, dest_ton, dest_npi;
	unsigned protocol_id;       /* binary SMS: 64, type 0 */
	unsigned text_data_coding;  /* text SMS of ASCII: 1 (IA5) */
	unsigned src_port;          /* UDH source port */
	char *service_types[SMSD_SERVICES];
	bool encrypt;               /* the annex's 3DES on binary SMS */
	uint8_t key[VVM_SMS_KEY_LEN];
	char **known_clients;       /* Activate's ct must match one, if set */
	/* SMPP. */
	char *smsc_host;
	unsigned smsc_port;
	char *system_id;
	char *password;
	char *system_type;
	unsigned window;            /* submit_sm awaiting their resp */
	unsigned enquire_link_s;
	unsigned response_timeout_s;
	unsigned reconnect_min_s, reconnect_max_s;
	/* command mode. */
	char *command;
	unsigned command_timeout_s;
	/* http mode. */
	char *http_url;
	char *http_username;
	char *http_password;
	unsigned http_timeout_s;
};

/* Loads file, or /etc/vvm/vvm.conf when file is NULL and it exists.
 * Returns 0 and fills *config_r, or -errno with *error_r a new message
 * naming the bad key. */
int smsd_config_load(const char *file, struct smsd_config *config_r,
		     char **error_r) G_GNUC_WARN_UNUSED_RESULT;
void smsd_config_clear(struct smsd_config *config);

#endif
