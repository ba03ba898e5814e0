/* Reading the shared vvm config file (a GLib key file, /etc/vvm/vvm.conf
 * by default) for every program. A missing key takes its fallback; a key
 * that is there but malformed is an error, which stops the program at
 * start: a typo must never silently become a default, which for a limit
 * or a security switch is the permissive value. */
#ifndef VVM_CONFIG_H
#define VVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define VVM_CONFIG_DEFAULT "/etc/vvm/vvm.conf"

/* Loads file, or VVM_CONFIG_DEFAULT when file is NULL and that exists;
 * with neither, an empty key file (every key at its default).
 * Returns 0 and *kf_r, or -ENOENT/-EINVAL with *error_r a new message. */
int vvm_config_open(const char *file, GKeyFile **kf_r, char **error_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* The file vvm_config_open() reads for file: file itself, else
 * VVM_CONFIG_DEFAULT when that exists, else NULL (no file). */
const char *vvm_config_path(const char *file);
/* Puts the file vvm_config_open() read for file before *error, a message
 * of the readers below ("FILE: [group] key: ..."), so that every program
 * names a bad setting the same way. */
void vvm_config_error_in(const char *file, char **error);

/* A value with surrounding white space removed, or a copy of fallback
 * (NULL stays NULL). */
char *vvm_config_string(GKeyFile *kf, const char *group, const char *key,
			const char *fallback);

/* The strict readers. Absent, a key is fallback. Present, it must be
 * what the reader reads, surrounding white space aside: a decimal number
 * of digits only (no sign, no trailing text) from min to max, or a
 * boolean (true, false, 1 or 0, any case). Returns 0 and *value_r, or
 * -EINVAL with *error_r a new message naming the group, the key and the
 * value: "[group] key: 'value' is not a number from min to max". */
int vvm_config_uint(GKeyFile *kf, const char *group, const char *key,
		    unsigned int fallback, unsigned int min, unsigned int max,
		    unsigned int *value_r, char **error_r)
	G_GNUC_WARN_UNUSED_RESULT;
int vvm_config_u64(GKeyFile *kf, const char *group, const char *key,
		   uint64_t fallback, uint64_t min, uint64_t max,
		   uint64_t *value_r, char **error_r) G_GNUC_WARN_UNUSED_RESULT;
int vvm_config_bool(GKeyFile *kf, const char *group, const char *key,
		    bool fallback, bool *value_r, char **error_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Tables of settings, read in order with the readers above; the first
 * error stops the reading. */
struct vvm_config_number {
	const char *group, *key;
	unsigned int *value;
	unsigned int fallback, min, max;
};

struct vvm_config_switch {
	const char *group, *key;
	bool *value;
	bool fallback;
};

int vvm_config_numbers(GKeyFile *kf, const struct vvm_config_number *numbers,
		       size_t count, char **error_r) G_GNUC_WARN_UNUSED_RESULT;
int vvm_config_switches(GKeyFile *kf,
			const struct vvm_config_switch *switches,
			size_t count, char **error_r)
	G_GNUC_WARN_UNUSED_RESULT;

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
		   char **error_r) G_GNUC_WARN_UNUSED_RESULT;

/* This machine's host name, for greetings and SASL realms. */
char *vvm_config_hostname(void);

#endif
