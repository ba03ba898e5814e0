#include "imap-config.h"

#include <errno.h>
#include <string.h>
#include <glib.h>

#include "vvm-config.h"
#include "vvm-login.h"

static void load_strings(GKeyFile *kf, struct imap_config *c)
{
	c->mount = vvm_config_string(kf, "imap", "mount", "/srv/vvm/mnt");
	c->hostname = vvm_config_string(kf, "imap", "hostname", NULL);
	if (c->hostname == NULL)
		c->hostname = vvm_config_hostname();
	c->password_key = vvm_config_string(kf, "imap", "password", "imap_password");
	c->known_clients = vvm_config_list(kf, "imap", "known_clients", NULL);
	c->run_as = vvm_config_string(kf, "imap", "user", NULL);
	c->greeting_types = vvm_config_string(kf, "imap", "greeting_types_allowed",
				       "personal,voiceSignature");
	c->languages = vvm_config_list(kf, "sms", "languages", "eng");
}

/* Numbers and switches: one that is there but malformed stops the shim,
 * never reads as its default. */
static int load_numbers(GKeyFile *kf, struct imap_config *c, char **error_r)
{
	const struct vvm_config_number numbers[] = {
		/* 0: no timeout */
		{ "imap", "idle_timeout", &c->idle_timeout, 30 * 60, 0,
		  G_MAXUINT },
		{ "imap", "login_timeout", &c->login_timeout, 60, 0,
		  G_MAXUINT },
		{ "imap", "idle_poll_ms", &c->idle_poll_ms, 250, 1, 60000 },
		{ "imap", "quota_soft_percent", &c->quota_soft_percent, 90, 0,
		  100 },
	};
	const struct vvm_config_switch switches[] = {
		{ "imap", "login_disabled", &c->login_disabled, false },
		{ "imap", "cram_md5", &c->cram_md5, false },
		{ "imap", "require_tui_init", &c->require_tui_init, false },
		{ "imap", "reject_weak_pin", &c->reject_weak_pin, true },
	};
	int ret = vvm_config_numbers(kf, numbers, G_N_ELEMENTS(numbers),
				     error_r);

	if (ret == 0)
		ret = vvm_profile_limits_load(kf, &c->pins, error_r);
	if (ret == 0)
		ret = vvm_login_throttle_config(kf, NULL, &c->throttle,
						error_r);
	if (ret == 0)
		ret = vvm_config_switches(kf, switches, G_N_ELEMENTS(switches),
					  error_r);
	return ret;
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
	load_strings(kf, &c);
	ret = load_numbers(kf, &c, error_r);
	if (ret == 0)
		ret = validate(&c, kf, error_r);
	if (ret < 0) {
		vvm_config_error_in(file, error_r);
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
