#include "imap-login.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "imap-mount.h"
#include "shim-io.h"

#define FAILURES_XATTR "user.vvm.login_failures"

static bool is_msisdn(const char *s, size_t len)
{
	if (len == 0 || len > 15 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return false;
	}
	return true;
}

int imap_login_find(const struct imap_session *s, const char *user,
		    char **dir_r)
{
	const char *at = strchr(user, '@');
	size_t len = at != NULL ? (size_t)(at - user) : strlen(user);

	if (!is_msisdn(user, len))
		return -ENOENT;
	g_autofree char *msisdn = g_strndup(user, len);
	g_autofree char *dir = g_strdup_printf("%s/%s", s->config->mount,
					       msisdn);
	g_autofree char *name = NULL;
	int ret = profile_get_at(dir, "imap_user", &name);
	if (ret == -ENOENT || ret == -ENOTDIR)
		return -ENOENT;
	if (ret < 0)
		return ret;
	if (strcmp(name, user) != 0)
		return -ENOENT;
	*dir_r = g_steal_pointer(&dir);
	return 0;
}

/* "<count> <time of the last failure>", or 0 0 when unreadable. */
static void read_failures(const char *dir, unsigned long long *count_r,
			  unsigned long long *last_r)
{
	g_autofree char *text = NULL;

	*count_r = *last_r = 0;
	if (mount_getxattr(dir, -1, FAILURES_XATTR, &text) < 0 ||
	    sscanf(text, "%llu %llu", count_r, last_r) != 2)
		*count_r = *last_r = 0;
}

int imap_login_attempt(const struct imap_session *s, const char *dir)
{
	unsigned long long count, last;
	unsigned int max = s->config->login_failures_max;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (max == 0)
		return 0;
	read_failures(dir, &count, &last);
	if (count >= max) {
		if ((unsigned long long)now < last + s->config->login_lockout)
			return -EACCES;
		/* The lockout is over: start counting afresh. */
		mount_setxattr(dir, -1, FAILURES_XATTR, "0");
	}
	/* Counting the attempt before the password is checked, and checking
	 * the count after, keeps parallel connections from all getting in
	 * under the limit. */
	int ret = mount_setxattr(dir, -1, FAILURES_XATTR, "+");
	if (ret < 0)
		return ret;
	read_failures(dir, &count, &last);
	return count > max ? -EACCES : 0;
}

void imap_login_attempt_succeeded(const struct imap_session *s,
				  const char *dir)
{
	if (s->config->login_failures_max > 0 &&
	    mount_setxattr(dir, -1, FAILURES_XATTR, "0") < 0)
		syslog(LOG_WARNING, "cannot reset the failed-login count");
}

int imap_login_password(const struct imap_session *s, const char *user,
			char **password_r)
{
	g_autofree char *dir = NULL;
	char *password;
	int ret = imap_login_find(s, user, &dir);

	if (ret < 0)
		return ret;
	ret = imap_login_attempt(s, dir);
	if (ret < 0)
		return ret;
	ret = profile_get_at(dir, s->config->password_key, &password);
	if (ret < 0)
		return ret;
	if (*password == '\0') {
		/* No password set is no way in, not an empty one. */
		g_free(password);
		return -EPERM;
	}
	*password_r = password;
	return 0;
}

void imap_login_failed(const struct imap_session *s)
{
	g_usleep((gulong)s->config->login_failure_delay_ms * 1000);
}

const char *imap_login_loggable(const char *user, char buf[static 64])
{
	size_t i = 0;

	for (; user != NULL && user[i] != '\0' && i < 63; i++)
		buf[i] = g_ascii_isgraph(user[i]) ? user[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* The spec's refusals, by the profile's provisioning status. */
static const char *status_refusal(const struct imap_session *s,
				  const char *dir)
{
	g_autofree char *status = NULL;

	if (profile_get_at(dir, "status", &status) < 0)
		return "application error";
	switch (status[0]) {
	case 'U':
		return "service is not provisioned";
	case 'P':
		return "service is not activated";
	case 'B':
		return "user is blocked";
	case 'N':
	case 'R':
		break;
	default:
		return "application error";
	}
	if (s->config->known_clients[0] != NULL) {
		g_autofree char *client = NULL;
		bool known = false;
		if (profile_get_at(dir, "client_type", &client) < 0)
			return "application error";
		for (char **c = s->config->known_clients; *c != NULL; c++)
			known = known || g_str_has_prefix(client, *c);
		if (!known)
			return "unknown client";
	}
	if (s->config->require_tui_init) {
		g_autofree char *pin = NULL;
		if (profile_get_at(dir, "tui_password", &pin) < 0)
			return "application error";
		if (*pin == '\0')
			return "mailbox not initialized";
	}
	return NULL;
}

/* Takes one of the subscriber's session slots in vvmfs; the kernel gives
 * it back when this process ends, however it ends. */
static int take_session_slot(struct imap_session *s, const char *dir)
{
	g_autofree char *path = g_strdup_printf("%s/.sessions/imap", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	s->session_fd = fd;
	return 0;
}

/* chroot into the subscriber's directory, then become run_as: each step
 * is fatal to the login if it fails. */
static int drop_privileges(struct imap_session *s, const char *dir)
{
	const char *user = s->config->run_as;

	if (user == NULL || geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL || pw->pw_uid == 0)
		return -EPERM;
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (chdir(dir) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return -errno;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	if (setuid(0) == 0)
		return -EPERM;
	/* vvmfs must report run_as as the owner (its owner= option), or
	 * nothing here could be written: better to refuse the login. */
	if (access("/", W_OK) < 0)
		return -EACCES;
	g_free(s->root);
	s->root = g_strdup("");
	return 0;
}

bool imap_login_finish(struct imap_session *s, const char *user)
{
	g_autofree char *dir = NULL;
	const char *refusal;
	int ret;

	if (imap_login_find(s, user, &dir) < 0) {
		imap_no(s, "unknown user");
		return false;
	}
	refusal = status_refusal(s, dir);
	if (refusal != NULL) {
		char name[64];
		syslog(LOG_NOTICE, "login refused for %s: %s",
		       imap_login_loggable(user, name), refusal);
		imap_no(s, "%s", refusal);
		return false;
	}
	imap_login_attempt_succeeded(s, dir);
	ret = take_session_slot(s, dir);
	if (ret == -EUSERS) {
		imap_no(s, "[INUSE] too many sessions for this mailbox");
		return false;
	}
	if (ret < 0) {
		syslog(LOG_ERR, "cannot take a session slot: %s",
		       g_strerror(-ret));
		imap_no(s, "application error");
		return false;
	}
	s->root = g_strdup(dir);
	s->msisdn = g_path_get_basename(dir);
	ret = drop_privileges(s, dir);
	if (ret < 0) {
		syslog(LOG_ERR, "cannot drop privileges: %s%s", g_strerror(-ret),
		       ret == -EACCES ? " (is vvmfs mounted with owner= "
					"the [imap] user?)" : "");
		imap_no(s, "application error");
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

bool imap_secret_equal(const char *given, const char *stored)
{
	size_t lg = strlen(given), ls = strlen(stored);
	unsigned char diff = lg != ls;

	for (size_t i = 0; i < lg; i++)
		diff |= (unsigned char)(given[i] ^ stored[i % (ls + 1)]);
	return diff == 0;
}

char **imap_auth_mechanisms(const struct imap_session *s)
{
	GPtrArray *mechs = g_ptr_array_new();
	/* Mechanisms that send the password itself wait for TLS. */
	bool plain_ok = shim_io_is_tls(s->io);

	g_ptr_array_add(mechs, g_strdup("DIGEST-MD5"));
	if (s->config->cram_md5)
		g_ptr_array_add(mechs, g_strdup("CRAM-MD5"));
	if (shim_io_is_tls(s->io))
		g_ptr_array_add(mechs, g_strdup("SCRAM-SHA-256"));
	if (plain_ok) {
		g_ptr_array_add(mechs, g_strdup("PLAIN"));
		g_ptr_array_add(mechs, g_strdup("LOGIN"));
	}
	g_ptr_array_add(mechs, NULL);
	return (char **)g_ptr_array_free(mechs, FALSE);
}
