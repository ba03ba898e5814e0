#include "imap-login.h"

#include <errno.h>
#include <syslog.h>
#include <unistd.h>

#include "imap-mount.h"
#include "shim-io.h"
#include "vvm-login.h"

int imap_login_find(const struct imap_session *s, const char *user,
		    char **dir_r)
{
	return vvm_login_find(s->config->mount, "imap_user", user, dir_r);
}

int imap_login_attempt(struct imap_session *s, const char *dir)
{
	return vvm_login_attempt(&s->config->throttle, dir, &s->login_ticket);
}

int imap_login_attempt_succeeded(struct imap_session *s)
{
	return vvm_login_attempt_succeeded(&s->login_ticket);
}

void imap_login_attempt_failed(struct imap_session *s)
{
	int ret = vvm_login_attempt_failed(&s->login_ticket);

	if (ret < 0)
		syslog(LOG_ERR, "a failed login was not counted: %s",
		       g_strerror(-ret));
}

int imap_login_password(struct imap_session *s, const char *user,
			char **password_r)
{
	return vvm_login_password(s->config->mount, "imap_user",
				  s->config->password_key,
				  &s->config->throttle, user, &s->login_ticket,
				  password_r);
}

void imap_login_failed(struct imap_session *s)
{
	imap_login_attempt_failed(s);
	g_usleep((gulong)s->config->throttle.delay_ms * 1000);
}

bool imap_login_finish(struct imap_session *s, const char *user)
{
	struct vvm_login_policy policy = {
		.known_clients = s->config->known_clients,
		.require_tui_init = s->config->require_tui_init,
	};
	g_autofree char *dir = NULL;
	const char *refusal = NULL;
	char name[64];
	int ret = imap_login_find(s, user, &dir);

	if (ret == -ENOENT) {
		imap_no(s, "unknown user");
		return false;
	}
	if (ret < 0) {
		imap_no_unavailable(s, "cannot look the user up", ret);
		return false;
	}
	ret = vvm_login_refusal(&policy, dir, &refusal);
	if (ret == -EACCES) {
		syslog(LOG_NOTICE, "login refused for %s: %s",
		       vvm_login_loggable(user, name), refusal);
		imap_no(s, "%s", refusal);
		return false;
	}
	if (ret < 0) {
		imap_no_unavailable(s, "cannot read the provisioning status",
				       ret);
		return false;
	}
	ret = imap_login_attempt_succeeded(s);
	if (ret < 0) {
		imap_no_unavailable(s, "cannot reset the failed-login count",
				    ret);
		return false;
	}
	ret = vvm_login_take_slot(dir, "imap", &s->session_fd);
	if (ret == -EUSERS) {
		imap_no(s, "[INUSE] too many sessions for this mailbox");
		return false;
	}
	if (ret < 0) {
		imap_no_unavailable(s, "cannot take a session slot", ret);
		return false;
	}
	s->msisdn = g_path_get_basename(dir);
	/* The subscriber's directory becomes the root. */
	ret = vvm_login_drop_privileges(dir, s->config->run_as);
	if (ret < 0) {
		syslog(LOG_ERR, "cannot drop privileges: %s%s", g_strerror(-ret),
		       ret == -EACCES ? " (is vvmfs mounted with owner= "
					"the [imap] user?)" : "");
		imap_no(s, "application error");
		s->state = IMAP_STATE_LOGOUT;
		return false;
	}
	s->root = ret > 0 ? g_strdup("") : g_steal_pointer(&dir);
	/* Privileges are dropped: a refusal from here on ends the
	 * connection. */
	ret = imap_session_read_accept(s);
	if (ret < 0) {
		imap_no_unavailable(s, "cannot read the accept list", ret);
		s->state = IMAP_STATE_LOGOUT;
		return false;
	}
	struct imap_parser_limits limits;
	imap_parser_limits_auth(&limits);
	imap_parser_set_limits(s->parser, &limits);
	s->state = IMAP_STATE_AUTH;
	syslog(LOG_INFO, "login %s%s", s->msisdn,
	       shim_io_is_tls(s->io) ? " (TLS)" : "");
	return true;
}

char **imap_auth_mechanisms(const struct imap_session *s)
{
	GPtrArray *mechs = g_ptr_array_new();
	/* Mechanisms that send the password itself wait for TLS. */
	bool tls = shim_io_is_tls(s->io);

	g_ptr_array_add(mechs, g_strdup("DIGEST-MD5"));
	if (s->config->cram_md5)
		g_ptr_array_add(mechs, g_strdup("CRAM-MD5"));
	if (tls) {
		g_ptr_array_add(mechs, g_strdup("SCRAM-SHA-256"));
		g_ptr_array_add(mechs, g_strdup("PLAIN"));
		g_ptr_array_add(mechs, g_strdup("LOGIN"));
	}
	g_ptr_array_add(mechs, NULL);
	return (char **)g_ptr_array_free(mechs, FALSE);
}
