/* The subscriber profile: which settings exist, their types, defaults and
 * validation. vvmfs enforces it on every write; shims and tools use it to
 * explain a refusal before they write. */
#ifndef VVM_PROFILE_H
#define VVM_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

enum vvm_profile_type {
	VVM_PROFILE_STATUS,   /* one of U P N R B */
	VVM_PROFILE_TOKEN,    /* printable ASCII, no space ; = */
	VVM_PROFILE_DIGITS,   /* a PIN: digits, empty or pin_min..pin_max */
	VVM_PROFILE_TEXT,     /* printable UTF-8, no controls */
	VVM_PROFILE_UINT,     /* decimal, 0..max */
	VVM_PROFILE_BOOL,     /* on | off */
	VVM_PROFILE_MIMELIST, /* type/subtype[;params], comma separated */
};

struct vvm_profile_key {
	const char *name;
	enum vvm_profile_type type;
	bool secret;          /* mode 0600 */
	size_t min_len;
	size_t max_len;
	uint64_t max_value;   /* VVM_PROFILE_UINT */
	/* Default value; NULL means "the subscriber's MSISDN". */
	const char *default_value;
};

/* How many keys there are. */
#define VVM_PROFILE_KEYS 17

/* Limits that come from the deployment's config, not the schema. */
struct vvm_profile_limits {
	unsigned pin_min;
	unsigned pin_max;
};

void vvm_profile_limits_default(struct vvm_profile_limits *limits_r);
/* The limits as [profile] pin_min and pin_max set them (1 to 99, in
 * order), the defaults where absent: the one reader for vvmfs, which
 * enforces them, and the shims, which explain a refusal. Returns 0, or
 * -EINVAL with *error_r naming the key. */
int vvm_profile_limits_load(GKeyFile *kf, struct vvm_profile_limits *limits_r,
			    char **error_r) G_GNUC_WARN_UNUSED_RESULT;

/* All keys, in a fixed order; *count_r gets their number. */
const struct vvm_profile_key *vvm_profile_keys(size_t *count_r);

/* Returns the key named name, or NULL. */
const struct vvm_profile_key *vvm_profile_key_find(const char *name);

/* Returns the index of key in vvm_profile_keys(). */
size_t vvm_profile_key_index(const struct vvm_profile_key *key);

/* Whether a deployment may give every new subscriber its own default for
 * key ([provision] in the config file): not the status, which follows the
 * provisioning state machine, nor the login names (the MSISDN), nor a
 * secret, which must never be shared. */
bool vvm_profile_key_presettable(const struct vvm_profile_key *key);
/* Validates value (len bytes, no trailing newline) for key.
 * Returns 0, or -EINVAL with *reason_r set to a static explanation. */
int vvm_profile_validate(const struct vvm_profile_key *key,
			 const struct vvm_profile_limits *limits,
			 const char *value, size_t len, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* The provisioning state machine (spec "Provisioning Status"): whether a
 * subscriber may go from status `from` to `to`. Staying is always allowed
 * and is no change. Returns 0, or -EINVAL with *reason_r set. */
int vvm_status_transition(char from, char to, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* Whether a subscriber in this status may open IMAP sessions and is sent
 * SYNC notifications: N and R, where the VVM service is active. */
bool vvm_status_active(char status);

#endif
