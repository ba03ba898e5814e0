#include "vvm-profile.h"

#include <errno.h>
#include <string.h>
#include <glib.h>

#include "vvm-config.h"

#define UINT_KEY(n) { n, VVM_PROFILE_UINT, false, 1, 20, G_MAXUINT64 / 1024, "0" }

/* Lengths and ranges of values that travel in STATUS SMS are the spec's
 * field limits (u 50, pw 30, client prefix 30, pt 0-16999). */
static const struct vvm_profile_key profile_keys[] = {
	{ "status", VVM_PROFILE_STATUS, false, 1, 1, 0, "P" },
	{ "imap_user", VVM_PROFILE_TOKEN, false, 1, 50, 0, NULL },
	{ "imap_password", VVM_PROFILE_TOKEN, true, 0, 30, 0, "" },
	{ "tui_password", VVM_PROFILE_DIGITS, true, 0, 0, 0, "" },
	{ "smtp_user", VVM_PROFILE_TOKEN, false, 0, 64, 0, NULL },
	{ "smtp_password", VVM_PROFILE_TOKEN, true, 0, 64, 0, "" },
	{ "language", VVM_PROFILE_TOKEN, false, 0, 16, 0, "" },
	{ "options", VVM_PROFILE_TEXT, false, 0, 256, 0, "" },
	{ "client_type", VVM_PROFILE_TOKEN, false, 0, 64, 0, "" },
	{ "client_prefix", VVM_PROFILE_TOKEN, false, 1, 30, 0, "//VVM" },
	{ "app_port", VVM_PROFILE_UINT, false, 1, 5, 16999, "0" },
	{ "accept", VVM_PROFILE_MIMELIST, false, 0, 512, 0, "" },
	{ "transcription", VVM_PROFILE_BOOL, false, 2, 3, 0, "off" },
	UINT_KEY("quota_storage_kb"),
	UINT_KEY("quota_messages"),
	UINT_KEY("quota_voice_seconds"),
	UINT_KEY("quota_greeting_seconds"),
};

G_STATIC_ASSERT(G_N_ELEMENTS(profile_keys) == VVM_PROFILE_KEYS);

void vvm_profile_limits_default(struct vvm_profile_limits *limits_r)
{
	limits_r->pin_min = 4;
	limits_r->pin_max = 15;
}

int vvm_profile_limits_load(GKeyFile *kf, struct vvm_profile_limits *limits_r,
			    char **error_r)
{
	const struct vvm_config_number pins[] = {
		{ "profile", "pin_min", &limits_r->pin_min, 4, 1, 99 },
		{ "profile", "pin_max", &limits_r->pin_max, 15, 1, 99 },
	};
	int ret = vvm_config_numbers(kf, pins, G_N_ELEMENTS(pins), error_r);

	if (ret == 0 && limits_r->pin_min > limits_r->pin_max) {
		*error_r = g_strdup("[profile] pin_min/pin_max out of order");
		ret = -EINVAL;
	}
	return ret;
}

const struct vvm_profile_key *vvm_profile_keys(size_t *count_r)
{
	*count_r = G_N_ELEMENTS(profile_keys);
	return profile_keys;
}

const struct vvm_profile_key *vvm_profile_key_find(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(profile_keys); i++) {
		if (strcmp(profile_keys[i].name, name) == 0)
			return &profile_keys[i];
	}
	return NULL;
}

bool vvm_profile_key_presettable(const struct vvm_profile_key *key)
{
	return key->type != VVM_PROFILE_STATUS && !key->secret &&
	       key->default_value != NULL;
}

size_t vvm_profile_key_index(const struct vvm_profile_key *key)
{
	return (size_t)(key - profile_keys);
}

static bool is_token_char(char c)
{
	return c > ' ' && c < 0x7f && c != ';' && c != '=';
}

static int validate_token(const char *value, size_t len,
			  const char **reason_r)
{
	for (size_t i = 0; i < len; i++) {
		if (!is_token_char(value[i])) {
			*reason_r = "only printable ASCII without space, ';' "
				    "and '=' is allowed";
			return -EINVAL;
		}
	}
	return 0;
}

static int validate_text(const char *value, size_t len, const char **reason_r)
{
	if (!g_utf8_validate_len(value, len, NULL)) {
		*reason_r = "not valid UTF-8";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)value[i] < ' ' || value[i] == 0x7f) {
			*reason_r = "control characters are not allowed";
			return -EINVAL;
		}
	}
	return 0;
}

static int validate_uint(const struct vvm_profile_key *key, const char *value,
			 size_t len, const char **reason_r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isdigit(value[i])) {
			*reason_r = "not a decimal number";
			return -EINVAL;
		}
		if (n > (key->max_value - (uint64_t)(value[i] - '0')) / 10) {
			*reason_r = "number out of range";
			return -EINVAL;
		}
		n = n * 10 + (uint64_t)(value[i] - '0');
	}
	return 0;
}

static int validate_pin(const struct vvm_profile_limits *limits,
			const char *value, size_t len, const char **reason_r)
{
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isdigit(value[i])) {
			*reason_r = "a PIN is digits only";
			return -EINVAL;
		}
	}
	if (len != 0 && (len < limits->pin_min || len > limits->pin_max)) {
		*reason_r = "PIN length outside the configured limits";
		return -EINVAL;
	}
	return 0;
}

/* type/subtype[;param...] items separated by commas. */
static int validate_mimelist(const char *value, size_t len,
			     const char **reason_r)
{
	g_autofree char *copy = g_strndup(value, len);
	g_auto(GStrv) items = NULL;

	if (len == 0)
		return 0;
	if (validate_text(value, len, reason_r) < 0)
		return -EINVAL;
	items = g_strsplit(copy, ",", -1);
	for (char **item = items; *item != NULL; item++) {
		char *type = g_strstrip(*item);
		char *params = strchr(type, ';');
		char *slash;

		if (params != NULL)
			*params = '\0';
		g_strstrip(type);
		slash = strchr(type, '/');
		if (slash == NULL || slash == type || slash[1] == '\0' ||
		    strchr(slash + 1, '/') != NULL ||
		    strpbrk(type, " \t") != NULL) {
			*reason_r = "expected MIME types (type/subtype) "
				    "separated by commas";
			return -EINVAL;
		}
	}
	return 0;
}

/* Allowed moves, from the spec's table: the operator provisions (U->P) and
 * removes (any->U); Activate moves P to N or R, Deactivate N or R to P;
 * CLOSE_NUT moves N to R; the operator blocks any provisioned subscriber
 * and unblocks to any provisioned state. A subscriber who is Ready does
 * not go back through the tutorial (R->N). */
static const char *const transitions[] = {
	"UP", "PN", "PR", "NR", "NP", "RP",
	"PB", "NB", "RB", "BP", "BN", "BR",
	"PU", "NU", "RU", "BU",
};

int vvm_status_transition(char from, char to, const char **reason_r)
{
	if (from == to)
		return 0;
	for (size_t i = 0; i < G_N_ELEMENTS(transitions); i++) {
		if (transitions[i][0] == from && transitions[i][1] == to)
			return 0;
	}
	*reason_r = "this provisioning status change is not allowed";
	return -EINVAL;
}

bool vvm_status_active(char status)
{
	return status == 'N' || status == 'R';
}

int vvm_profile_validate(const struct vvm_profile_key *key,
			 const struct vvm_profile_limits *limits,
			 const char *value, size_t len, const char **reason_r)
{
	if (memchr(value, '\0', len) != NULL) {
		*reason_r = "NUL byte in value";
		return -EINVAL;
	}
	if (key->type != VVM_PROFILE_DIGITS &&
	    (len < key->min_len || len > key->max_len)) {
		*reason_r = len < key->min_len ? "value too short"
					       : "value too long";
		return -EINVAL;
	}
	switch (key->type) {
	case VVM_PROFILE_STATUS:
		if (strchr("UPNRB", value[0]) == NULL) {
			*reason_r = "status is one of U, P, N, R, B";
			return -EINVAL;
		}
		return 0;
	case VVM_PROFILE_TOKEN:
		return validate_token(value, len, reason_r);
	case VVM_PROFILE_DIGITS:
		return validate_pin(limits, value, len, reason_r);
	case VVM_PROFILE_TEXT:
		return validate_text(value, len, reason_r);
	case VVM_PROFILE_UINT:
		return validate_uint(key, value, len, reason_r);
	case VVM_PROFILE_BOOL:
		if ((len == 2 && memcmp(value, "on", 2) == 0) ||
		    (len == 3 && memcmp(value, "off", 3) == 0))
			return 0;
		*reason_r = "expected on or off";
		return -EINVAL;
	case VVM_PROFILE_MIMELIST:
		return validate_mimelist(value, len, reason_r);
	}
	*reason_r = "unknown setting type";
	return -EINVAL;
}
