/* AUTH: RFC 4954 framing ("334 " challenges, "*" aborts) around
 * lib/vvm-sasl, and what a successful login sets up. */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "shim-io.h"
#include "smtp-auth.h"
#include "smtp-commands.h"
#include "vvm-login.h"
#include "vvm-sasl.h"

struct auth_lookup {
	struct smtp_session *session;
	int error;                 /* the last lookup's, for the reply */
	char *user;                /* who it was for, for the log */
};

void smtp_login_attempt_failed(struct smtp_session *s)
{
	int ret = vvm_login_attempt_failed(&s->login_ticket);

	if (ret < 0)
		syslog(LOG_ERR, "a failed login was not counted: %s",
		       g_strerror(-ret));
}

static int sasl_lookup(void *context, const char *user, const char *realm,
		       char **password_r)
{
	struct auth_lookup *lookup = context;
	const struct smtp_config *config = lookup->session->config;

	g_free(lookup->user);
	lookup->user = g_strdup(user);
	lookup->error = vvm_login_password(config->mount, "smtp_user",
					   config->password_key,
					   &config->throttle, user,
					   &lookup->session->login_ticket,
					   password_r);
	if (lookup->error == -EPERM) {
		/* No password set: the wrapper refuses an empty one as a
		 * wrong password, which is what it is to the client. */
		*password_r = g_strdup("");
		return 0;
	}
	return lookup->error == -EACCES ? -EIO : lookup->error;
}

char *smtp_auth_mechanisms(const struct smtp_session *s)
{
	GString *mechs = g_string_new("DIGEST-MD5");

	if (s->config->cram_md5)
		g_string_append(mechs, " CRAM-MD5");
	/* Mechanisms that send the password itself wait for TLS. */
	if (shim_io_is_tls(s->io))
		g_string_append(mechs, " SCRAM-SHA-256 PLAIN LOGIN");
	return g_string_free(mechs, FALSE);
}

/* Sends a challenge and reads the client's answer line. */
static char *challenge(void *context, const char *b64)
{
	struct smtp_session *s = context;
	char *line = NULL;

	smtp_reply_quiet(s, "334 %s", b64);
	int ret = smtp_read_line(s, &line);
	if (ret == -EPIPE || ret == -ETIMEDOUT)
		s->state = SMTP_STATE_QUIT;
	else if (ret == -EPROTO)
		smtp_reply(s, "500 5.5.2 Line contains a NUL byte");
	else if (ret < 0)
		smtp_reply(s, "500 5.5.6 Authentication exchange line is too "
			   "long");
	return ret < 0 ? NULL : line;
}

/* A right password: the session becomes the subscriber's. */
static void login(struct smtp_session *s, const char *user)
{
	struct vvm_login_policy policy = {
		.known_clients = s->config->known_clients,
		.require_tui_init = s->config->require_tui_init,
	};
	g_autofree char *dir = NULL;
	const char *refusal = NULL;
	char name[64];
	int ret = vvm_login_find(s->config->mount, "smtp_user", user, &dir);

	if (ret == -ENOENT) {
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
		return;
	}
	if (ret == 0)
		ret = vvm_login_refusal(&policy, dir, &refusal);
	if (ret == -EACCES) {
		syslog(LOG_NOTICE, "AUTH refused for %s: %s",
		       vvm_login_loggable(user, name), refusal);
		smtp_reply(s, "535 5.7.1 %s", refusal);
		return;
	}
	if (ret == 0)
		ret = vvm_login_attempt_succeeded(&s->login_ticket);
	if (ret < 0) {
		/* What decides cannot be read: a temporary failure, never a
		 * login on a guess. */
		syslog(LOG_ERR, "AUTH for %s: %s",
		       vvm_login_loggable(user, name), g_strerror(-ret));
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	ret = vvm_login_take_slot(dir, "smtp", &s->session_fd);
	if (ret < 0) {
		syslog(LOG_NOTICE, "AUTH: no session slot: %s",
		       g_strerror(-ret));
		smtp_reply(s, ret == -EUSERS ?
			   "454 4.7.0 Too many sessions for this subscriber" :
			   "454 4.7.0 Temporary authentication failure");
		return;
	}
	s->msisdn = g_path_get_basename(dir);
	syslog(LOG_INFO, "AUTH %s%s", s->msisdn,
	       shim_io_is_tls(s->io) ? " (TLS)" : "");
	smtp_reply(s, "235 2.7.0 Authentication successful");
}

static void refuse(struct smtp_session *s, struct vvm_sasl *sasl,
		   const struct auth_lookup *lookup)
{
	char name[64];

	switch (vvm_sasl_failure(sasl)) {
	case VVM_SASL_UNKNOWN_USER:
	case VVM_SASL_BAD_PASSWORD:
		syslog(LOG_NOTICE, "AUTH failed for %s: %s",
		       vvm_login_loggable(lookup->user, name),
		       vvm_sasl_failure_str(vvm_sasl_failure(sasl)));
		g_usleep((gulong)s->config->throttle.delay_ms * 1000);
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
		break;
	case VVM_SASL_BAD_PROTOCOL:
		smtp_reply(s, "501 5.5.2 Authentication exchange is invalid");
		break;
	case VVM_SASL_SYSTEM:
		if (lookup->error == -EACCES) {
			syslog(LOG_NOTICE, "AUTH for %s: locked out",
			       vvm_login_loggable(lookup->user, name));
			smtp_reply(s, "454 4.7.0 Too many failed "
				   "authentications, try again later");
		} else {
			syslog(LOG_ERR, "AUTH for %s: %s",
			       vvm_login_loggable(lookup->user, name),
			       lookup->error < 0 ? g_strerror(-lookup->error)
						 : "libsasl2 failed");
			smtp_reply(s, "454 4.7.0 Temporary authentication "
				   "failure");
		}
		break;
	case VVM_SASL_NOT_AUTHORIZED:
		smtp_reply(s, "535 5.7.8 Acting as another user is not "
			   "allowed");
		break;
	}
}

static void authenticate(struct smtp_session *s, struct vvm_sasl *sasl,
			 struct auth_lookup *lookup, const char *mech,
			 const char *initial)
{
	enum vvm_sasl_outcome result = vvm_sasl_run(sasl, mech, initial,
						    challenge, s);

	/* Unless the login went through, a password check the exchange
	 * began failed: counted before the reply. */
	if (result != VVM_SASL_AUTHENTICATED)
		smtp_login_attempt_failed(s);
	switch (result) {
	case VVM_SASL_AUTHENTICATED:
		login(s, vvm_sasl_user(sasl));
		smtp_login_attempt_failed(s);
		break;
	case VVM_SASL_REFUSED:
		refuse(s, sasl, lookup);
		break;
	case VVM_SASL_CANCELLED:
		smtp_reply(s, "501 5.7.0 Authentication aborted");
		break;
	case VVM_SASL_NOT_BASE64:
		smtp_reply(s, "501 5.5.2 Cannot decode response");
		break;
	case VVM_SASL_STOPPED:
		break;
	}
}

static bool auth_allowed(struct smtp_session *s, const char *mech)
{
	if (s->lmtp || s->privileges_dropped) {
		smtp_reply(s, "503 5.5.1 Error: authentication not enabled");
		return false;
	}
	if (s->msisdn != NULL) {
		smtp_reply(s, "503 5.5.1 Error: already authenticated");
		return false;
	}
	if (s->state == SMTP_STATE_FRESH || !s->esmtp) {
		smtp_reply(s, "503 5.5.1 Error: send EHLO first");
		return false;
	}
	if (s->state != SMTP_STATE_READY) {
		smtp_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return false;
	}
	if (!shim_io_is_tls(s->io) &&
	    (strcmp(mech, "PLAIN") == 0 || strcmp(mech, "LOGIN") == 0 ||
	     strcmp(mech, "SCRAM-SHA-256") == 0)) {
		smtp_reply(s, "538 5.7.11 Encryption required for requested "
			   "authentication mechanism");
		return false;
	}
	return true;
}

void cmd_auth(struct smtp_session *s, const struct smtp_command *cmd)
{
	struct auth_lookup lookup = { .session = s };
	g_autofree char *mechs = NULL;
	int error;

	if (!auth_allowed(s, cmd->arg))
		return;
	/* libsasl2 loads its plugins here, not for sessions that do not
	 * authenticate. */
	mechs = smtp_auth_mechanisms(s);
	struct vvm_sasl *sasl = NULL;
	if (vvm_sasl_global_init("smtp") == 0)
		sasl = vvm_sasl_create(s->config->hostname, mechs,
				       shim_io_is_tls(s->io) ? 256 : 0,
				       sasl_lookup, &lookup, &error);
	if (sasl == NULL) {
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	if (!vvm_sasl_offers(sasl, cmd->arg))
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
	else
		authenticate(s, sasl, &lookup, cmd->arg, cmd->auth_initial);
	vvm_sasl_destroy(&sasl);
	g_free(lookup.user);
}
