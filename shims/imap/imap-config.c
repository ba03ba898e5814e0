#include "imap-config.h"

#include <errno.h>
#include <string.h>
#include <glib.h>

#include "vvm-config.h"

static void load_keys(GKeyFile *kf, struct imap_config *c)
{
	c->mount = vvm_config_string(kf, "imap", "mount", "/srv/vvm/mnt");
	c->login_disabled = vvm_config_bool(kf, "imap", "login_disabled", false);
	c->cram_md5 = vvm_config_bool(kf, "imap", "cram_md5", false);
	c->hostname = vvm_config_string(kf, "imap", "hostname", NULL);
	if (c->hostname == NULL)
		c->hostname = vvm_config_hostname();
	c->password_key = vvm_config_string(kf, "imap", "password", "imap_password");
	c->require_tui_init = vvm_config_bool(kf, "imap", "require_tui_init", false);
	c->known_clients = vvm_config_list(kf, "imap", "known_clients", NULL);
	c->run_as = vvm_config_string(kf, "imap", "user", NULL);
	c->idle_timeout = vvm_config_uint(kf, "imap", "idle_timeout", 30 * 60);
	c->login_timeout = vvm_config_uint(kf, "imap", "login_timeout", 60);
	c->idle_poll_ms = vvm_config_uint(kf, "imap", "idle_poll_ms", 250);
	c->login_failures_max = vvm_config_uint(kf, "imap", "login_failures_max", 5);
	c->login_lockout = vvm_config_uint(kf, "imap", "login_lockout", 300);
	c->login_failure_delay_ms =
		vvm_config_uint(kf, "imap", "login_failure_delay_ms", 1000);
	c->quota_soft_percent = vvm_config_uint(kf, "imap", "quota_soft_percent", 90);
	c->greeting_types = vvm_config_string(kf, "imap", "greeting_types_allowed",
				       "personal,voiceSignature");
	c->pin_min = vvm_config_uint(kf, "profile", "pin_min", 4);
	c->pin_max = vvm_config_uint(kf, "profile", "pin_max", 15);
	c->reject_weak_pin = vvm_config_bool(kf, "imap", "reject_weak_pin", true);
	c->languages = vvm_config_list(kf, "sms", "languages", "eng");
}

static int validate(struct imap_config *c, GKeyFile *kf, char **error_r)
{
	int ret = vvm_config_tls(kf, "imap", NULL, &c->tls, &c->tls_cert,
				 &c->tls_key, error_r);

	if (ret < 0)
		return ret;
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
	g_autoptr(GKeyFile) kf = NULL;
	struct imap_config c = { 0 };
	int ret = vvm_config_open(file, &kf, error_r);

	if (ret < 0)
		return ret;
	load_keys(kf, &c);
	ret = validate(&c, kf, error_r);
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
