#include "vvm-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int vvm_config_open(const char *file, GKeyFile **kf_r, char **error_r)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;

	if (file == NULL && access(VVM_CONFIG_DEFAULT, F_OK) == 0)
		file = VVM_CONFIG_DEFAULT;
	if (file != NULL &&
	    !g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, &error)) {
		*error_r = g_strdup_printf("%s: %s", file, error->message);
		return error->domain == G_FILE_ERROR ? -ENOENT : -EINVAL;
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

unsigned int vvm_config_uint(GKeyFile *kf, const char *group,
			     const char *key, unsigned int fallback)
{
	g_autoptr(GError) error = NULL;
	guint64 value = g_key_file_get_uint64(kf, group, key, &error);

	if (error != NULL || value > G_MAXUINT)
		return fallback;
	return (unsigned int)value;
}

bool vvm_config_bool(GKeyFile *kf, const char *group, const char *key,
		     bool fallback)
{
	g_autoptr(GError) error = NULL;
	gboolean value = g_key_file_get_boolean(kf, group, key, &error);

	return error != NULL ? fallback : value;
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

int vvm_config_u64(GKeyFile *kf, const char *group, const char *key,
		   uint64_t fallback, uint64_t *value_r, char **error_r)
{
	g_autofree char *text = vvm_config_string(kf, group, key, NULL);
	guint64 value;

	if (text == NULL) {
		*value_r = fallback;
		return 0;
	}
	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &value,
					NULL)) {
		*error_r = g_strdup_printf("[%s] %s: '%s' is not a number",
					   group, key, text);
		return -EINVAL;
	}
	*value_r = value;
	return 0;
}
