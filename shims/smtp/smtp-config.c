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

static void load_strings(GKeyFile *kf, struct smtp_config *c)
{
	c->mount = shared_string(kf, "mount", "/srv/vvm/mnt");
	c->hostname = shared_string(kf, "hostname", NULL);
	if (c->hostname == NULL)
		c->hostname = vvm_config_hostname();
	c->password_key = vvm_config_string(kf, S, "password",
					    "smtp_password");
	c->run_as = shared_string(kf, "user", NULL);
	c->domains = vvm_config_list(kf, S, "domains", NULL);
	c->subject = vvm_config_string(kf, S, "subject", NULL);
	c->postmaster = vvm_config_string(kf, S, "postmaster", NULL);
	c->known_clients = vvm_config_list(kf, S, "known_clients", NULL);
}

/* Numbers and switches: one that is there but malformed stops the shim,
 * never reads as its default. */
static int load_numbers(GKeyFile *kf, struct smtp_config *c, char **error_r)
{
	const struct vvm_config_number numbers[] = {
		{ S, "max_recipients", &c->max_recipients, 50, 1, G_MAXUINT },
		/* 0: no limit */
		{ S, "max_errors", &c->max_errors, 10, 0, G_MAXUINT },
		{ S, "max_duration", &c->max_duration, 0, 0, G_MAXUINT },
		{ S, "idle_timeout", &c->idle_timeout, 300, 0, G_MAXUINT },
		{ S, "data_timeout", &c->data_timeout, 180, 0, G_MAXUINT },
	};
	const struct vvm_config_switch switches[] = {
		{ S, "cram_md5", &c->cram_md5, false },
		{ S, "require_auth", &c->require_auth, true },
		{ S, "enforce_from", &c->enforce_from, true },
		{ S, "dsn", &c->dsn, true },
		{ S, "require_tui_init", &c->require_tui_init, false },
	};
	int ret = vvm_config_numbers(kf, numbers, G_N_ELEMENTS(numbers),
				     error_r);

	if (ret == 0)
		ret = vvm_login_throttle_config(kf, S, &c->throttle, error_r);
	if (ret == 0)
		ret = vvm_config_switches(kf, switches, G_N_ELEMENTS(switches),
					  error_r);
	/* A message is held in memory, in a GByteArray (guint lengths). */
	if (ret == 0)
		ret = vvm_config_u64(kf, S, "max_message_size",
				     10 * 1024 * 1024, 1, 1u << 30,
				     &c->max_message_size, error_r);
	return ret;
}

static int load_checked(GKeyFile *kf, struct smtp_config *c, char **error_r)
{
	int ret = vvm_config_tls(kf, S, "imap", &c->tls, &c->tls_cert,
				 &c->tls_key, error_r);

	if (ret == 0)
		ret = load_numbers(kf, c, error_r);
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
	load_strings(kf, &c);
	ret = load_checked(kf, &c, error_r);
	if (ret == 0)
		ret = validate(&c, error_r);
	if (ret < 0) {
		vvm_config_error_in(file, error_r);
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
