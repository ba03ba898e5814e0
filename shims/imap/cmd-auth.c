/* STARTTLS, LOGIN and AUTHENTICATE. */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "imap-commands.h"
#include "imap-login.h"
#include "shim-io.h"
#include "vvm-login.h"
#include "vvm-sasl.h"

void cmd_starttls(struct imap_session *s, const struct imap_command *cmd)
{
	size_t pending;

	if (cmd->count != 0) {
		imap_bad(s, "STARTTLS takes no arguments");
		return;
	}
	if (s->config->tls == VVM_TLS_NONE || shim_io_is_tls(s->io)) {
		imap_bad(s, "STARTTLS is not available");
		return;
	}
	shim_io_data(s->io, &pending);
	if (pending > 0) {
		/* Commands pipelined behind STARTTLS were sent in clear
		 * text; running them after the handshake would let a man in
		 * the middle inject them (CVE-2011-0411). */
		imap_bad(s, "STARTTLS must be the last command sent in "
			    "clear text");
		return;
	}
	if (s->tls == NULL) {
		g_autofree char *error = NULL;
		if (shim_tls_create(s->config->tls_cert, s->config->tls_key,
				    &s->tls, &error) < 0) {
			syslog(LOG_ERR, "TLS: %s", error);
			imap_no(s, "application error");
			return;
		}
	}
	imap_send(s, "%s OK Begin TLS negotiation now\r\n", s->tag);
	if (!imap_flush(s) || shim_io_start_tls(s->io, s->tls) < 0) {
		syslog(LOG_NOTICE, "TLS handshake failed");
		s->state = IMAP_STATE_LOGOUT;
	}
}

/* Answers a wrong or unusable credential the way the spec words it,
 * and logs it. */
static void refuse(struct imap_session *s, int lookup_error, const char *user)
{
	const char *text;
	char name[64];

	/* Whatever refused it, a password check it began failed. */
	imap_login_attempt_failed(s);
	switch (lookup_error) {
	case -ENOENT:
		text = "unknown user";
		break;
	case -EACCES:
		text = "[UNAVAILABLE] too many failed logins, try again later";
		break;
	case -EPERM:
		imap_login_failed(s);
		text = "invalid password";
		break;
	default:
		/* The mount failed us: a temporary failure, never a guess
		 * at the answer. */
		text = "[UNAVAILABLE] application error";
		syslog(LOG_ERR, "login of %s: %s",
		       vvm_login_loggable(user, name),
		       g_strerror(-lookup_error));
	}
	syslog(LOG_NOTICE, "login refused for %s: %s",
	       vvm_login_loggable(user, name), text);
	imap_no(s, "%s", text);
}

void cmd_login(struct imap_session *s, const struct imap_command *cmd)
{
	const char *user, *password;
	g_autofree char *expected = NULL;

	if (cmd->count != 2 || !imap_arg_get_astring(&cmd->args[0], &user) ||
	    !imap_arg_get_astring(&cmd->args[1], &password)) {
		imap_bad(s, "LOGIN needs a user name and a password");
		return;
	}
	if (s->config->login_disabled && !shim_io_is_tls(s->io)) {
		imap_no(s, "[PRIVACYREQUIRED] LOGIN is disabled before "
			   "STARTTLS");
		return;
	}
	int ret = imap_login_password(s, user, &expected);
	if (ret == 0 && !vvm_secret_equal(password, expected))
		ret = -EPERM;
	if (expected != NULL)
		explicit_bzero(expected, strlen(expected));
	if (ret < 0) {
		refuse(s, ret, user);
		return;
	}
	if (imap_login_finish(s, user))
		imap_ok(s, "LOGIN completed");
	else
		imap_login_attempt_failed(s);
}

/* --- AUTHENTICATE ----------------------------------------------------- */

struct auth_lookup {
	struct imap_session *session;
	int error;                 /* the last lookup's, for the refusal */
	char *user;                /* who it was for */
};

static int sasl_lookup(void *context, const char *user, const char *realm,
		       char **password_r)
{
	struct auth_lookup *lookup = context;

	g_free(lookup->user);
	lookup->user = g_strdup(user);
	lookup->error = imap_login_password(lookup->session, user, password_r);
	if (lookup->error == -EPERM) {
		/* No password set: the wrapper refuses an empty one as a
		 * wrong password, which is what it is to the client. */
		*password_r = g_strdup("");
		return 0;
	}
	return lookup->error == -EACCES ? -EIO : lookup->error;
}

static struct vvm_sasl *sasl_for(struct imap_session *s,
				 struct auth_lookup *lookup)
{
	g_auto(GStrv) mechs = imap_auth_mechanisms(s);
	g_autofree char *list = g_strjoinv(" ", mechs);

	int error;

	return vvm_sasl_create(s->config->hostname, list,
			       shim_io_is_tls(s->io) ? 256 : 0, sasl_lookup,
			       lookup, &error);
}

/* Sends a challenge and reads the client's answer line. */
static char *challenge(void *context, const char *b64)
{
	struct imap_session *s = context;
	const char *line;

	imap_send(s, "+ %s\r\n", b64);
	if (!imap_flush(s)) {
		s->state = IMAP_STATE_LOGOUT;
		return NULL;
	}
	int ret = imap_read_line(s, -1, &line);
	if (ret == -EPIPE || ret == -ETIMEDOUT) {
		s->state = IMAP_STATE_LOGOUT;
		imap_bad(s, "AUTHENTICATE interrupted");
		return NULL;
	}
	if (ret < 0) {
		imap_bad(s, "AUTHENTICATE response line is invalid");
		return NULL;
	}
	return g_strdup(line);
}

static void authenticate(struct imap_session *s, struct vvm_sasl *sasl,
			 struct auth_lookup *lookup, const char *mech,
			 const char *initial)
{
	enum vvm_sasl_outcome result = vvm_sasl_run(sasl, mech, initial,
						    challenge, s);

	if (result == VVM_SASL_AUTHENTICATED &&
	    imap_login_finish(s, vvm_sasl_user(sasl))) {
		imap_ok(s, "AUTHENTICATE completed");
		return;
	}
	/* However the exchange ended, a password check it began failed. */
	imap_login_attempt_failed(s);
	switch (result) {
	case VVM_SASL_AUTHENTICATED:
		return;
	case VVM_SASL_CANCELLED:
		imap_bad(s, "AUTHENTICATE cancelled");
		return;
	case VVM_SASL_NOT_BASE64:
		imap_bad(s, "AUTHENTICATE response is not base64");
		return;
	case VVM_SASL_STOPPED:
		return;
	case VVM_SASL_REFUSED:
		break;
	}
	switch (vvm_sasl_failure(sasl)) {
	case VVM_SASL_UNKNOWN_USER:
		refuse(s, -ENOENT, NULL);
		break;
	case VVM_SASL_BAD_PASSWORD:
		refuse(s, -EPERM, lookup->user);
		break;
	case VVM_SASL_BAD_PROTOCOL:
		imap_bad(s, "AUTHENTICATE exchange is invalid");
		break;
	case VVM_SASL_SYSTEM:
		/* The lookup's error (a lockout, the mount), or libsasl2's
		 * own; an unknown user or a wrong password it reports as
		 * such, not as this. */
		refuse(s, lookup->error < 0 && lookup->error != -ENOENT &&
				  lookup->error != -EPERM ? lookup->error : -EIO,
		       NULL);
		break;
	case VVM_SASL_NOT_AUTHORIZED:
		imap_no(s, "[AUTHORIZATIONFAILED] acting as another user is "
			   "not allowed");
		break;
	}
}

void cmd_authenticate(struct imap_session *s, const struct imap_command *cmd)
{
	const char *mech, *initial = NULL;
	struct auth_lookup lookup = { .session = s };

	if (cmd->count < 1 || cmd->count > 2 ||
	    !imap_arg_get_atom(&cmd->args[0], &mech) ||
	    (cmd->count == 2 && !imap_arg_get_atom(&cmd->args[1], &initial))) {
		imap_bad(s, "AUTHENTICATE needs a mechanism name");
		return;
	}
	/* libsasl2 loads its plugins here, not for sessions that LOGIN. */
	if (vvm_sasl_global_init("imap") < 0) {
		imap_no(s, "application error");
		return;
	}
	struct vvm_sasl *sasl = sasl_for(s, &lookup);
	if (sasl == NULL) {
		imap_no(s, "application error");
		return;
	}
	if (!vvm_sasl_offers(sasl, mech))
		imap_no(s, "[CANNOT] mechanism %s is not available now", mech);
	else
		authenticate(s, sasl, &lookup, mech, initial);
	vvm_sasl_destroy(&sasl);
	g_free(lookup.user);
}
