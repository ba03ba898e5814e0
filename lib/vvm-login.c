#include "vvm-login.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "vvm-config.h"
#include "vvm-mount.h"

#define FAILURES_XATTR "user.vvm.login_failures"
/* How long an attempt waits for its turn among the checks in flight, and
 * how often it looks. */
#define TURN_WAIT_US (10 * G_USEC_PER_SEC)
#define TURN_POLL_US (20 * 1000)

bool vvm_msisdn_valid(const char *s, size_t len)
{
	if (len == 0 || len > 15 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return false;
	}
	return true;
}

int vvm_login_find(const char *mount, const char *user_key, const char *user,
		   char **dir_r)
{
	const char *at = strchr(user, '@');
	size_t len = at != NULL ? (size_t)(at - user) : strlen(user);

	if (!vvm_msisdn_valid(user, len))
		return -ENOENT;
	g_autofree char *msisdn = g_strndup(user, len);
	g_autofree char *dir = g_strdup_printf("%s/%s", mount, msisdn);
	g_autofree char *name = NULL;
	int ret = mount_confirm_absence(mount,
					profile_get_at(dir, user_key, &name));
	if (ret == -ENOENT || ret == -ENOTDIR)
		return -ENOENT;
	if (ret < 0)
		return ret;
	if (strcmp(name, user) != 0)
		return -ENOENT;
	*dir_r = g_steal_pointer(&dir);
	return 0;
}

int vvm_login_throttle_config(GKeyFile *kf, const char *section,
			      struct vvm_login_throttle *throttle,
			      char **error_r)
{
	const struct vvm_config_number keys[] = {
		{ "imap", "login_failures_max", &throttle->failures_max, 5, 0,
		  G_MAXUINT },
		{ "imap", "login_lockout", &throttle->lockout, 300, 0,
		  G_MAXUINT },
		{ "imap", "login_failure_delay_ms", &throttle->delay_ms, 1000,
		  0, 60000 },
	};
	int ret = vvm_config_numbers(kf, keys, G_N_ELEMENTS(keys), error_r);

	for (size_t i = 0; section && ret == 0 && i < G_N_ELEMENTS(keys); i++)
		ret = vvm_config_uint(kf, section, keys[i].key,
				      *keys[i].value, keys[i].min,
				      keys[i].max, keys[i].value, error_r);
	return ret;
}

/* "<count> <time of the last failure>" as vvmfs keeps it. A count that
 * cannot be read, or reads as anything else, is an error and never "no
 * failures": the throttle fails closed. */
static int read_failures(const char *dir, uint64_t *count_r, int64_t *last_r)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) fields = NULL;
	guint64 count;
	gint64 last;
	int ret = mount_getxattr(dir, -1, FAILURES_XATTR, &text);

	if (ret < 0)
		return ret;
	fields = g_strsplit(g_strchomp(text), " ", -1);
	if (g_strv_length(fields) != 2 ||
	    !g_ascii_string_to_unsigned(fields[0], 10, 0, G_MAXUINT64, &count,
					NULL) ||
	    !g_ascii_string_to_signed(fields[1], 10, 0, G_MAXINT64, &last,
				      NULL))
		return -EIO;
	*count_r = count;
	*last_r = last;
	return 0;
}

/* -EACCES while failed logins lock the subscriber in dir out; once the
 * lockout is over, the count starts afresh. */
static int check_lockout(const struct vvm_login_throttle *throttle,
			 const char *dir)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	uint64_t count;
	int64_t last;
	int ret = read_failures(dir, &count, &last);

	if (ret < 0 || count < throttle->failures_max)
		return ret;
	/* A last failure in the future (a clock set back) still locks out;
	 * the subtraction cannot overflow. */
	if (now - last < (gint64)throttle->lockout)
		return -EACCES;
	return mount_setxattr(dir, -1, FAILURES_XATTR, "0");
}

static int write_ticket(int ticket, const char *text)
{
	return pwrite(ticket, text, strlen(text), 0) < 0 ? -errno : 0;
}

int vvm_login_attempt(const struct vvm_login_throttle *throttle,
		      const char *dir, int *ticket)
{
	gint64 deadline = g_get_monotonic_time() + TURN_WAIT_US;
	g_autofree char *path = NULL, *check = NULL;
	int fd, ret;

	/* An earlier attempt left undecided is a failure. */
	ret = vvm_login_attempt_failed(ticket);
	if (ret < 0 || throttle->failures_max == 0)
		return ret;
	path = g_strdup_printf("%s/.sessions/login", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	check = g_strdup_printf("check %u", throttle->failures_max);
	for (;;) {
		ret = check_lockout(throttle, dir);
		if (ret == 0)
			ret = write_ticket(fd, check);
		if (ret != -EAGAIN)
			break;
		/* Checks in flight fill the turns: wait for them, as a
		 * serial client would have. */
		if (g_get_monotonic_time() >= deadline) {
			ret = -EACCES;
			break;
		}
		g_usleep(TURN_POLL_US);
	}
	if (ret < 0) {
		/* A ticket that never checked counts nothing. */
		close(fd);
		return ret;
	}
	*ticket = fd;
	return 0;
}

int vvm_login_attempt_succeeded(int *ticket)
{
	int ret = 0;

	if (*ticket < 0)
		return 0;
	ret = write_ticket(*ticket, "ok");
	if (close(*ticket) < 0 && ret == 0)
		ret = -errno;
	*ticket = -1;
	return ret;
}

int vvm_login_attempt_failed(int *ticket)
{
	int ret = 0;

	if (*ticket < 0)
		return 0;
	if (close(*ticket) < 0)
		ret = -errno;
	*ticket = -1;
	return ret;
}

int vvm_login_password(const char *mount, const char *user_key,
		       const char *password_key,
		       const struct vvm_login_throttle *throttle,
		       const char *user, int *ticket, char **password_r)
{
	g_autofree char *dir = NULL;
	char *password;
	int ret = vvm_login_find(mount, user_key, user, &dir);

	if (ret < 0)
		return ret;
	ret = vvm_login_attempt(throttle, dir, ticket);
	if (ret < 0)
		return ret;
	ret = profile_get_at(dir, password_key, &password);
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

bool vvm_secret_equal(const char *given, const char *stored)
{
	size_t lg = strlen(given), ls = strlen(stored);
	unsigned char diff = lg != ls;

	for (size_t i = 0; i < lg; i++)
		diff |= (unsigned char)(given[i] ^ stored[i % (ls + 1)]);
	return diff == 0;
}

const char *vvm_login_loggable(const char *user, char buf[static 64])
{
	size_t i = 0;

	for (; user != NULL && user[i] != '\0' && i < 63; i++)
		buf[i] = g_ascii_isgraph(user[i]) ? user[i] : '?';
	buf[i] = '\0';
	return buf;
}

bool vvm_client_known(char **known_clients, const char *client)
{
	if (known_clients == NULL || known_clients[0] == NULL)
		return true;
	for (char **c = known_clients; *c != NULL; c++) {
		if (g_str_has_prefix(client, *c))
			return true;
	}
	return false;
}

/* The spec's refusal for a provisioning status, NULL for one that may
 * log in, "" for a value that is no status at all. */
static const char *status_refusal(const char *status)
{
	if (strlen(status) != 1)
		return "";
	switch (status[0]) {
	case 'U':
		return "service is not provisioned";
	case 'P':
		return "service is not activated";
	case 'B':
		return "user is blocked";
	case 'N':
	case 'R':
		return NULL;
	default:
		return "";
	}
}

int vvm_login_refusal(const struct vvm_login_policy *policy, const char *dir,
		      const char **refusal_r)
{
	g_autofree char *status = NULL;
	const char *refusal;
	int ret = profile_get_at(dir, "status", &status);

	if (ret < 0)
		return ret;
	refusal = status_refusal(status);
	if (refusal != NULL && *refusal == '\0')
		return -EIO;
	if (refusal == NULL && policy->known_clients != NULL &&
	    policy->known_clients[0] != NULL) {
		g_autofree char *client = NULL;

		ret = profile_get_at(dir, "client_type", &client);
		if (ret < 0)
			return ret;
		if (!vvm_client_known(policy->known_clients, client))
			refusal = "unknown client";
	}
	if (refusal == NULL && policy->require_tui_init) {
		g_autofree char *pin = NULL;

		ret = profile_get_at(dir, "tui_password", &pin);
		if (ret < 0)
			return ret;
		if (*pin == '\0')
			refusal = "mailbox not initialized";
	}
	if (refusal == NULL)
		return 0;
	*refusal_r = refusal;
	return -EACCES;
}

int vvm_login_take_slot(const char *dir, const char *protocol, int *fd_r)
{
	g_autofree char *path = g_strdup_printf("%s/.sessions/%s", dir,
						protocol);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*fd_r = fd;
	return 0;
}

int vvm_login_drop_privileges(const char *root, const char *run_as)
{
	if (run_as == NULL || geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(run_as);
	if (pw == NULL || pw->pw_uid == 0)
		return -EPERM;
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (chdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0)
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
	return 1;
}
