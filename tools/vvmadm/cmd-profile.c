/* get and set: the profile files of a subscriber, and login_failures (the
 * subscriber's user.vvm.login_failures), which an operator resets to let a
 * locked-out subscriber in again. vvmfs validates every write; a refused
 * value leaves the stored one as it was. */
#include "vvmadm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define LOGIN_FAILURES "login_failures"
#define LOGIN_FAILURES_XATTR "user.vvm.login_failures"

static bool key_valid(const char *key, size_t len)
{
	return len > 0 && memchr(key, '/', len) == NULL &&
	       !(len == 1 && key[0] == '.') &&
	       !(len == 2 && key[0] == '.' && key[1] == '.');
}

bool vvmadm_check_assignments(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (eq == NULL || !key_valid(argv[i], eq - argv[i])) {
			fprintf(stderr, "vvmadm: '%s' is not KEY=VALUE\n",
				argv[i]);
			return false;
		}
	}
	return true;
}


/* Reads one profile value; *secret_r tells whether it is a secret. */
static int profile_read(const char *profile_dir, const char *key,
			char **value_r, bool *secret_r)
{
	g_autofree char *path = g_build_filename(profile_dir, key, NULL);
	GBytes *data;
	struct stat st;
	size_t len;
	int ret;

	if (stat(path, &st) < 0)
		return -errno;
	ret = vvmadm_read_file(path, &data);
	if (ret < 0)
		return ret;
	char *value = g_bytes_unref_to_data(data, &len);
	value = g_realloc(value, len + 1);
	if (len > 0 && value[len - 1] == '\n')
		len--;
	value[len] = '\0';
	*value_r = value;
	/* The contract marks secrets by their mode alone: 0600. */
	*secret_r = (st.st_mode & 0077) == 0;
	return 0;
}

static int get_one(const char *profile_dir, const char *key, bool secrets)
{
	g_autofree char *value = NULL;
	bool secret;
	int ret;

	if (!key_valid(key, strlen(key))) {
		fprintf(stderr, "vvmadm: '%s' is not a profile key\n", key);
		return VVMADM_USAGE;
	}
	ret = profile_read(profile_dir, key, &value, &secret);
	if (ret < 0) {
		vvmadm_error(-ret, NULL, "get %s", key);
		return VVMADM_FAILED;
	}
	if (secret && !secrets) {
		fprintf(stderr, "vvmadm: get %s: a secret, shown only with "
				"--secrets\n", key);
		return VVMADM_FAILED;
	}
	printf("%s\n", value);
	return VVMADM_OK;
}

/* Every key in the order vvmfs lists them; secrets only when asked. */
static int get_all(const char *profile_dir, bool secrets)
{
	DIR *d = opendir(profile_dir);
	int status = VVMADM_OK;
	struct dirent *de;

	if (d == NULL) {
		vvmadm_error(errno, NULL, "get %s", profile_dir);
		return VVMADM_FAILED;
	}
	while ((de = readdir(d)) != NULL) {
		g_autofree char *value = NULL;
		bool secret;
		int ret;

		if (de->d_name[0] == '.')
			continue;
		ret = profile_read(profile_dir, de->d_name, &value, &secret);
		if (ret < 0) {
			vvmadm_error(-ret, NULL, "get %s", de->d_name);
			status = VVMADM_FAILED;
			continue;
		}
		if (!secret || secrets)
			printf("%s=%s\n", de->d_name, value);
	}
	closedir(d);
	return status;
}

/* "<count> <time of the last>", as vvmfs gives it. */
static int get_login_failures(struct vvmadm *adm, const char *msisdn)
{
	g_autofree char *sub_dir = g_build_filename(adm->mount, msisdn, NULL);
	g_autofree char *value = NULL;
	int ret = vvmadm_xattr_get(sub_dir, LOGIN_FAILURES_XATTR, &value);

	if (ret < 0) {
		vvmadm_error(-ret, NULL, "get %s", LOGIN_FAILURES);
		return VVMADM_FAILED;
	}
	printf("%s\n", value);
	return VVMADM_OK;
}

/* vvmfs takes 0 (reset) and + (one more); -EINVAL for anything else. */
static int set_login_failures(const char *sub_dir, const char *value)
{
	size_t len = strlen(value);

	return setxattr(sub_dir, LOGIN_FAILURES_XATTR, value, len, 0) < 0
		       ? -errno
		       : 0;
}

int cmd_get(struct vvmadm *adm, int argc, char **argv)
{
	gboolean secrets = FALSE;
	const GOptionEntry entries[] = {
		{ "secrets", 0, 0, G_OPTION_ARG_NONE, &secrets,
		  "also show passwords and PINs", NULL },
		G_OPTION_ENTRY_NULL
	};
	g_autofree char *profile_dir = NULL;

	if (!vvmadm_parse_options(adm, &argc, &argv, entries))
		return VVMADM_USAGE;
	if (argc < 2 || argc > 3)
		return vvmadm_usage(argv[0]);
	if (!vvmadm_check_msisdn(argv[1]))
		return VVMADM_USAGE;
	if (argc == 3 && strcmp(argv[2], LOGIN_FAILURES) == 0)
		return get_login_failures(adm, argv[1]);
	profile_dir = g_build_filename(adm->mount, argv[1], "profile", NULL);
	if (argc == 3)
		return get_one(profile_dir, argv[2], secrets);
	return get_all(profile_dir, secrets);
}

int cmd_set(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *sub_dir = NULL;
	int status = VVMADM_OK;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	if (argc < 3)
		return vvmadm_usage(argv[0]);
	if (!vvmadm_check_msisdn(argv[1]) ||
	    !vvmadm_check_assignments(argc - 2, argv + 2))
		return VVMADM_USAGE;
	sub_dir = g_build_filename(adm->mount, argv[1], NULL);
	/* Each value stands alone: a refused one does not stop the rest. */
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		int ret;

		*eq = '\0';
		if (strcmp(argv[i], LOGIN_FAILURES) == 0)
			ret = set_login_failures(sub_dir, eq + 1);
		else
			ret = profile_set_at(sub_dir, argv[i], eq + 1);
		if (ret == -EINVAL) {
			fprintf(stderr, "vvmadm: set %s: invalid value\n",
				argv[i]);
			status = VVMADM_FAILED;
		} else if (ret < 0) {
			vvmadm_error(-ret, NULL, "set %s", argv[i]);
			status = VVMADM_FAILED;
		}
	}
	return status;
}
