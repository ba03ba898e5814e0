#include "vvm-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

const char *vvm_config_path(const char *file)
{
	if (file == NULL && access(VVM_CONFIG_DEFAULT, F_OK) == 0)
		return VVM_CONFIG_DEFAULT;
	return file;
}

void vvm_config_error_in(const char *file, char **error)
{
	const char *path = vvm_config_path(file);
	char *message;

	if (path == NULL)
		return;
	message = g_strdup_printf("%s: %s", path, *error);
	g_free(*error);
	*error = message;
}

/* A string value GLib cannot read (not UTF-8) would read as absent,
 * i.e. as its default, through every string reader: refuse the file
 * instead, naming the first such key. (An unknown escape is read with
 * its backslash kept, so it is no absent value.) */
static int check_strings(GKeyFile *kf, char **error_r)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

	for (char **g = groups; *g != NULL; g++) {
		g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);

		for (char **k = keys; k != NULL && *k != NULL; k++) {
			g_autofree char *value =
				g_key_file_get_string(kf, *g, *k, NULL);

			/* The value is not shown: it may be a secret. */
			if (value == NULL) {
				*error_r = g_strdup_printf(
					"[%s] %s: the value is not valid "
					"UTF-8", *g, *k);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int vvm_config_open(const char *file, GKeyFile **kf_r, char **error_r)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;
	int ret;

	file = vvm_config_path(file);
	if (file != NULL &&
	    !g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, &error)) {
		*error_r = g_strdup_printf("%s: %s", file, error->message);
		return error->domain == G_FILE_ERROR ? -ENOENT : -EINVAL;
	}
	ret = check_strings(kf, error_r);
	if (ret < 0) {
		vvm_config_error_in(file, error_r);
		return ret;
	}
	*kf_r = g_steal_pointer(&kf);
	return 0;
}

char *vvm_config_string(GKeyFile *kf, const char *group, const char *key,
			const char *fallback)
{
	char *value = g_key_file_get_string(kf, group, key, NULL);

	if (value != NULL)
		return g_strstrip(value);
	return g_strdup(fallback);
}

/* The raw text of a key, stripped; NULL when the key is absent. The raw
 * value, not g_key_file_get_string()'s: that one is NULL also for a
 * value it cannot read, which must not pass for absent. */
static char *raw_value(GKeyFile *kf, const char *group, const char *key)
{
	char *value = g_key_file_get_value(kf, group, key, NULL);

	return value != NULL ? g_strstrip(value) : NULL;
}

int vvm_config_u64(GKeyFile *kf, const char *group, const char *key,
		   uint64_t fallback, uint64_t min, uint64_t max,
		   uint64_t *value_r, char **error_r)
{
	g_autofree char *text = raw_value(kf, group, key);
	guint64 value;

	if (text == NULL) {
		*value_r = fallback;
		return 0;
	}
	/* g_ascii_string_to_unsigned() takes no sign, no space and no
	 * trailing text, only digits. */
	if (!g_ascii_string_to_unsigned(text, 10, min, max, &value, NULL)) {
		*error_r = g_strdup_printf("[%s] %s: '%s' is not a number "
					   "from %" G_GUINT64_FORMAT
					   " to %" G_GUINT64_FORMAT,
					   group, key, text, (guint64)min,
					   (guint64)max);
		return -EINVAL;
	}
	*value_r = value;
	return 0;
}

int vvm_config_uint(GKeyFile *kf, const char *group, const char *key,
		    unsigned int fallback, unsigned int min, unsigned int max,
		    unsigned int *value_r, char **error_r)
{
	uint64_t value;
	int ret = vvm_config_u64(kf, group, key, fallback, min, max, &value,
				 error_r);

	if (ret < 0)
		return ret;
	*value_r = (unsigned int)value;
	return 0;
}

int vvm_config_bool(GKeyFile *kf, const char *group, const char *key,
		    bool fallback, bool *value_r, char **error_r)
{
	g_autofree char *text = raw_value(kf, group, key);

	if (text == NULL) {
		*value_r = fallback;
		return 0;
	}
	/* What g_key_file_get_boolean() reads, in any case. */
	if (g_ascii_strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0) {
		*value_r = true;
	} else if (g_ascii_strcasecmp(text, "false") == 0 ||
		   strcmp(text, "0") == 0) {
		*value_r = false;
	} else {
		*error_r = g_strdup_printf("[%s] %s: '%s' is not true or "
					   "false", group, key, text);
		return -EINVAL;
	}
	return 0;
}

int vvm_config_numbers(GKeyFile *kf, const struct vvm_config_number *numbers,
		       size_t count, char **error_r)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < count; i++)
		ret = vvm_config_uint(kf, numbers[i].group, numbers[i].key,
				      numbers[i].fallback, numbers[i].min,
				      numbers[i].max, numbers[i].value,
				      error_r);
	return ret;
}

int vvm_config_switches(GKeyFile *kf,
			const struct vvm_config_switch *switches,
			size_t count, char **error_r)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < count; i++)
		ret = vvm_config_bool(kf, switches[i].group, switches[i].key,
				      switches[i].fallback, switches[i].value,
				      error_r);
	return ret;
}

char **vvm_config_list(GKeyFile *kf, const char *group, const char *key,
		       const char *fallback)
{
	g_autofree char *text = vvm_config_string(kf, group, key, fallback);
	GPtrArray *items = g_ptr_array_new();

	if (text != NULL) {
		g_auto(GStrv) parts = g_strsplit_set(text, ",|", -1);
		for (char **p = parts; *p != NULL; p++) {
			g_strstrip(*p);
			if (**p != '\0')
				g_ptr_array_add(items, g_strdup(*p));
		}
	}
	g_ptr_array_add(items, NULL);
	return (char **)g_ptr_array_free(items, FALSE);
}

char *vvm_config_hostname(void)
{
	char hostname[256] = "localhost";

	gethostname(hostname, sizeof(hostname) - 1);
	return g_strdup(hostname);
}

static int parse_tls_mode(const char *text, enum vvm_tls_mode *mode_r)
{
	if (text == NULL || strcmp(text, "none") == 0)
		*mode_r = VVM_TLS_NONE;
	else if (strcmp(text, "starttls") == 0)
		*mode_r = VVM_TLS_STARTTLS;
	else if (strcmp(text, "implicit") == 0)
		*mode_r = VVM_TLS_IMPLICIT;
	else
		return -EINVAL;
	return 0;
}

/* key of group, else of fallback (when not NULL). */
static char *string_or(GKeyFile *kf, const char *group, const char *fallback,
		       const char *key)
{
	char *value = vvm_config_string(kf, group, key, NULL);

	if (value == NULL && fallback != NULL)
		value = vvm_config_string(kf, fallback, key, NULL);
	return value;
}

int vvm_config_tls(GKeyFile *kf, const char *group, const char *fallback,
		   enum vvm_tls_mode *mode_r, char **cert_r, char **key_r,
		   char **error_r)
{
	g_autofree char *tls = string_or(kf, group, fallback, "tls");
	g_autofree char *cert = string_or(kf, group, fallback, "tls_cert");
	g_autofree char *key = string_or(kf, group, fallback, "tls_key");
	enum vvm_tls_mode mode;

	if (tls == NULL && cert != NULL)
		tls = g_strdup("starttls");
	if (parse_tls_mode(tls, &mode) < 0) {
		*error_r = g_strdup_printf("[%s] tls: '%s' is not none, "
					   "starttls or implicit", group, tls);
		return -EINVAL;
	}
	if (mode != VVM_TLS_NONE && (cert == NULL || key == NULL)) {
		*error_r = g_strdup_printf("[%s] tls needs tls_cert and "
					   "tls_key", group);
		return -EINVAL;
	}
	if (mode != VVM_TLS_NONE &&
	    (access(cert, R_OK) < 0 || access(key, R_OK) < 0)) {
		*error_r = g_strdup_printf("[%s] cannot read %s or %s", group,
					   cert, key);
		return -EACCES;
	}
	*mode_r = mode;
	*cert_r = g_steal_pointer(&cert);
	*key_r = g_steal_pointer(&key);
	return 0;
}
