#include "imap-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#define DEFAULT_CONFIG "/etc/vvm/vvm.conf"

static char *get_string(GKeyFile *kf, const char *group, const char *key,
			const char *fallback)
{
	char *value = g_key_file_get_string(kf, group, key, NULL);

	if (value != NULL)
		return g_strstrip(value);
	return fallback != NULL ? g_strdup(fallback) : NULL;
}

static unsigned int get_uint(GKeyFile *kf, const char *group, const char *key,
			     unsigned int fallback)
{
	g_autoptr(GError) error = NULL;
	guint64 value = g_key_file_get_uint64(kf, group, key, &error);

	if (error != NULL || value > G_MAXUINT)
		return fallback;
	return (unsigned int)value;
}

static bool get_bool(GKeyFile *kf, const char *group, const char *key,
		     bool fallback)
{
	g_autoptr(GError) error = NULL;
	gboolean value = g_key_file_get_boolean(kf, group, key, &error);

	return error != NULL ? fallback : value;
}

/* "a,b , c" or "a|b" into a NULL-terminated vector without empty items. */
static char **get_list(GKeyFile *kf, const char *group, const char *key,
		       const char *fallback)
{
	g_autofree char *text = get_string(kf, group, key, fallback);
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

static int parse_tls_mode(const char *text, enum imap_tls_mode *mode_r)
{
	if (text == NULL || strcmp(text, "none") == 0)
		*mode_r = IMAP_TLS_NONE;
	else if (strcmp(text, "starttls") == 0)
		*mode_r = IMAP_TLS_STARTTLS;
	else if (strcmp(text, "implicit") == 0)
		*mode_r = IMAP_TLS_IMPLICIT;
	else
		return -EINVAL;
	return 0;
}

static void load_keys(GKeyFile *kf, struct imap_config *c)
{
	char hostname[256] = "localhost";

	gethostname(hostname, sizeof(hostname) - 1);
	c->mount = get_string(kf, "imap", "mount", "/srv/vvm/mnt");
	c->tls_cert = get_string(kf, "imap", "tls_cert", NULL);
	c->tls_key = get_string(kf, "imap", "tls_key", NULL);
	c->login_disabled = get_bool(kf, "imap", "login_disabled", false);
	c->cram_md5 = get_bool(kf, "imap", "cram_md5", false);
	c->hostname = get_string(kf, "imap", "hostname", hostname);
	c->password_key = get_string(kf, "imap", "password", "imap_password");
	c->require_tui_init = get_bool(kf, "imap", "require_tui_init", false);
	c->known_clients = get_list(kf, "imap", "known_clients", NULL);
	c->run_as = get_string(kf, "imap", "user", NULL);
	c->idle_timeout = get_uint(kf, "imap", "idle_timeout", 30 * 60);
	c->login_timeout = get_uint(kf, "imap", "login_timeout", 60);
	c->idle_poll_ms = get_uint(kf, "imap", "idle_poll_ms", 250);
	c->login_failures_max = get_uint(kf, "imap", "login_failures_max", 5);
	c->login_lockout = get_uint(kf, "imap", "login_lockout", 300);
	c->login_failure_delay_ms =
		get_uint(kf, "imap", "login_failure_delay_ms", 1000);
	c->quota_soft_percent = get_uint(kf, "imap", "quota_soft_percent", 90);
	c->greeting_types = get_string(kf, "imap", "greeting_types_allowed",
				       "personal,voiceSignature");
	c->pin_min = get_uint(kf, "profile", "pin_min", 4);
	c->pin_max = get_uint(kf, "profile", "pin_max", 15);
	c->reject_weak_pin = get_bool(kf, "imap", "reject_weak_pin", true);
	c->languages = get_list(kf, "sms", "languages", "eng");
}

static int validate(struct imap_config *c, GKeyFile *kf, char **error_r)
{
	g_autofree char *tls = get_string(kf, "imap", "tls", NULL);

	if (tls == NULL && c->tls_cert != NULL)
		tls = g_strdup("starttls");
	if (parse_tls_mode(tls, &c->tls) < 0) {
		*error_r = g_strdup_printf("[imap] tls: '%s' is not none, "
					   "starttls or implicit", tls);
		return -EINVAL;
	}
	if (c->tls != IMAP_TLS_NONE &&
	    (c->tls_cert == NULL || c->tls_key == NULL)) {
		*error_r = g_strdup("[imap] tls needs tls_cert and tls_key");
		return -EINVAL;
	}
	if (c->tls != IMAP_TLS_NONE && (access(c->tls_cert, R_OK) < 0 ||
					access(c->tls_key, R_OK) < 0)) {
		*error_r = g_strdup_printf("[imap] cannot read %s or %s",
					   c->tls_cert, c->tls_key);
		return -EACCES;
	}
	if (strcmp(c->password_key, "imap_password") != 0 &&
	    strcmp(c->password_key, "tui_password") != 0) {
		*error_r = g_strdup("[imap] password: imap_password or "
				    "tui_password");
		return -EINVAL;
	}
	if (c->pin_min == 0 || c->pin_min > c->pin_max) {
		*error_r = g_strdup("[profile] pin_min/pin_max out of order");
		return -EINVAL;
	}
	if (c->idle_poll_ms == 0)
		c->idle_poll_ms = 250;
	return 0;
}

int imap_config_load(const char *file, struct imap_config *config_r,
		     char **error_r)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;
	struct imap_config c = { 0 };

	if (file == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		file = DEFAULT_CONFIG;
	if (file != NULL &&
	    !g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, &error)) {
		*error_r = g_strdup_printf("%s: %s", file, error->message);
		return error->domain == G_FILE_ERROR ? -ENOENT : -EINVAL;
	}
	load_keys(kf, &c);
	int ret = validate(&c, kf, error_r);
	if (ret < 0) {
		imap_config_clear(&c);
		return ret;
	}
	*config_r = c;
	return 0;
}

void imap_config_clear(struct imap_config *c)
{
	g_free(c->mount);
	g_free(c->tls_cert);
	g_free(c->tls_key);
	g_free(c->hostname);
	g_free(c->password_key);
	g_strfreev(c->known_clients);
	g_free(c->run_as);
	g_free(c->greeting_types);
	g_strfreev(c->languages);
	memset(c, 0, sizeof(*c));
}
