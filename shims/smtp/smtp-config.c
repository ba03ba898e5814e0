#include "smtp-config.h"

#include <errno.h>
#include <string.h>
#include <glib.h>

#include "vvm-login.h"

#define S "smtp"

/* A key of [smtp], else the same key of [imap], else fallback. */
static char *shared_string(GKeyFile *kf, const char *key,
			   const char *fallback)
{
	char *value = vvm_config_string(kf, S, key, NULL);

	return value != NULL ? value :
			       vvm_config_string(kf, "imap", key, fallback);
}

static unsigned int shared_uint(GKeyFile *kf, const char *key,
				unsigned int fallback)
{
	return vvm_config_uint(kf, S, key,
			       vvm_config_uint(kf, "imap", key, fallback));
}

static void load_keys(GKeyFile *kf, struct smtp_config *c)
{
	c->mount = shared_string(kf, "mount", "/srv/vvm/mnt");
	c->hostname = shared_string(kf, "hostname", NULL);
	if (c->hostname == NULL)
		c->hostname = vvm_config_hostname();
	c->cram_md5 = vvm_config_bool(kf, S, "cram_md5", false);
	c->password_key = vvm_config_string(kf, S, "password",
					    "smtp_password");
	c->run_as = shared_string(kf, "user", NULL);
	c->domains = vvm_config_list(kf, S, "domains", NULL);
	c->require_auth = vvm_config_bool(kf, S, "require_auth", true);
	c->enforce_from = vvm_config_bool(kf, S, "enforce_from", true);
	c->dsn = vvm_config_bool(kf, S, "dsn", true);
	c->subject = vvm_config_string(kf, S, "subject", NULL);
	c->postmaster = vvm_config_string(kf, S, "postmaster", NULL);
	c->max_recipients = vvm_config_uint(kf, S, "max_recipients", 50);
	c->max_errors = vvm_config_uint(kf, S, "max_errors", 10);
	c->max_duration = vvm_config_uint(kf, S, "max_duration", 0);
	c->idle_timeout = vvm_config_uint(kf, S, "idle_timeout", 300);
	c->data_timeout = vvm_config_uint(kf, S, "data_timeout", 180);
	c->login_failures_max = shared_uint(kf, "login_failures_max", 5);
	c->login_lockout = shared_uint(kf, "login_lockout", 300);
	c->login_failure_delay_ms =
		shared_uint(kf, "login_failure_delay_ms", 1000);
	c->known_clients = vvm_config_list(kf, S, "known_clients", NULL);
	c->require_tui_init = vvm_config_bool(kf, S, "require_tui_init",
					      false);
}

static int load_checked(GKeyFile *kf, struct smtp_config *c, char **error_r)
{
	int ret = vvm_config_tls(kf, S, "imap", &c->tls, &c->tls_cert,
				 &c->tls_key, error_r);

	if (ret == 0)
		ret = vvm_config_u64(kf, S, "max_message_size",
				     10 * 1024 * 1024, &c->max_message_size,
				     error_r);
	return ret;
}

static int validate(const struct smtp_config *c, char **error_r)
{
	static const char *const keys[] = {
		"smtp_password", "imap_password", "tui_password",
	};
	bool known = false;

	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
		known = known || strcmp(c->password_key, keys[i]) == 0;
	if (!known) {
		*error_r = g_strdup("[smtp] password: smtp_password, "
				    "imap_password or tui_password");
		return -EINVAL;
	}
	/* A message is held in memory, in a GByteArray (guint lengths). */
	if (c->max_message_size == 0 || c->max_message_size > (1u << 30) ||
	    c->max_recipients == 0) {
		*error_r = g_strdup("[smtp] max_message_size must be 1 to "
				    "1073741824, max_recipients positive");
		return -EINVAL;
	}
	if (c->postmaster != NULL &&
	    !vvm_msisdn_valid(c->postmaster, strlen(c->postmaster))) {
		*error_r = g_strdup("[smtp] postmaster: an MSISDN");
		return -EINVAL;
	}
	if (c->subject != NULL && strpbrk(c->subject, "\r\n") != NULL) {
		*error_r = g_strdup("[smtp] subject: one line");
		return -EINVAL;
	}
	return 0;
}

int smtp_config_load(const char *file, struct smtp_config *config_r,
		     char **error_r)
{
	g_autoptr(GKeyFile) kf = NULL;
	struct smtp_config c = { 0 };
	int ret = vvm_config_open(file, &kf, error_r);

	if (ret < 0)
		return ret;
	load_keys(kf, &c);
	ret = load_checked(kf, &c, error_r);
	if (ret == 0)
		ret = validate(&c, error_r);
	if (ret < 0) {
		smtp_config_clear(&c);
		return ret;
	}
	*config_r = c;
	return 0;
}

void smtp_config_clear(struct smtp_config *c)
{
	g_free(c->mount);
	g_free(c->tls_cert);
	g_free(c->tls_key);
	g_free(c->hostname);
	g_free(c->password_key);
	g_free(c->run_as);
	g_strfreev(c->domains);
	g_free(c->subject);
	g_free(c->postmaster);
	g_strfreev(c->known_clients);
	memset(c, 0, sizeof(*c));
}
