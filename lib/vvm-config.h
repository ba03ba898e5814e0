/* Reading the shared vvm config file (a GLib key file, /etc/vvm/vvm.conf
 * by default) for every shim. A missing or malformed value takes the
 * fallback: each program validates what it must after loading. */
#ifndef VVM_CONFIG_H
#define VVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define VVM_CONFIG_DEFAULT "/etc/vvm/vvm.conf"

/* Loads file, or VVM_CONFIG_DEFAULT when file is NULL and that exists;
 * with neither, an empty key file (every key at its default).
 * Returns 0 and *kf_r, or -ENOENT/-EINVAL with *error_r a new message. */
int vvm_config_open(const char *file, GKeyFile **kf_r, char **error_r);

/* A value with surrounding white space removed, or a copy of fallback
 * (NULL stays NULL). */
char *vvm_config_string(GKeyFile *kf, const char *group, const char *key,
			const char *fallback);
unsigned int vvm_config_uint(GKeyFile *kf, const char *group,
			     const char *key, unsigned int fallback);
bool vvm_config_bool(GKeyFile *kf, const char *group, const char *key,
		     bool fallback);
/* "a,b , c" or "a|b" as a NULL-terminated vector without empty items. */
char **vvm_config_list(GKeyFile *kf, const char *group, const char *key,
		       const char *fallback);
enum vvm_tls_mode {
	VVM_TLS_NONE,      /* no certificate: plain text only */
	VVM_TLS_STARTTLS,  /* plain, STARTTLS offered */
	VVM_TLS_IMPLICIT,  /* TLS from the first byte (993/465 style) */
};

/* A shim's TLS keys in group, each taken from fallback (when not NULL)
 * where group lacks it: tls (none, starttls or implicit; starttls when
 * unset and tls_cert is given), tls_cert and tls_key, which must be
 * readable when TLS is on. Returns 0 and sets the outputs (*cert_r and
 * *key_r new strings or NULL), or -EINVAL/-EACCES with *error_r. */
int vvm_config_tls(GKeyFile *kf, const char *group, const char *fallback,
		   enum vvm_tls_mode *mode_r, char **cert_r, char **key_r,
		   char **error_r);

/* A byte count or other unsigned number that must not silently become
 * its default: a value that is there but not a decimal number is an
 * error. Returns 0 and *value_r (fallback when absent), or -EINVAL with
 * *error_r. */
int vvm_config_u64(GKeyFile *kf, const char *group, const char *key,
		   uint64_t fallback, uint64_t *value_r, char **error_r);

/* This machine's host name, for greetings and SASL realms. */
char *vvm_config_hostname(void);

#endif
