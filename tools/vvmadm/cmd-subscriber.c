/* Subscribers and their mailboxes as a whole: provision, deprovision,
 * subscribers, mailboxes, quota. */
#include "vvmadm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const mailbox_attrs[] = {
	"user.imap.messages", "user.imap.unseen", "user.imap.uidnext",
	"user.imap.uidvalidity", "user.imap.highestmodseq",
};

/* Subscriber commands that take MSISDN and nothing else: returns the
 * subscriber's directory, or NULL and the exit status. */
static char *sub_dir_arg(struct vvmadm *adm, int argc, char **argv,
			 const GOptionEntry *entries, const char **msisdn_r,
			 int *status_r)
{
	if (!vvmadm_parse_options(adm, &argc, &argv, entries)) {
		*status_r = VVMADM_USAGE;
		return NULL;
	}
	if (argc != 2) {
		*status_r = vvmadm_usage(argv[0]);
		return NULL;
	}
	if (!vvmadm_check_msisdn(argv[1])) {
		*status_r = VVMADM_USAGE;
		return NULL;
	}
	*msisdn_r = argv[1];
	return g_build_filename(adm->mount, argv[1], NULL);
}

int cmd_provision(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *sub_dir = NULL;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	if (argc < 2)
		return vvmadm_usage(argv[0]);
	if (!vvmadm_check_msisdn(argv[1]) ||
	    !vvmadm_check_assignments(argc - 2, argv + 2))
		return VVMADM_USAGE;
	sub_dir = g_build_filename(adm->mount, argv[1], NULL);
	if (mkdir(sub_dir, 0755) < 0) {
		vvmadm_error(errno, NULL, "provision %s", argv[1]);
		return VVMADM_FAILED;
	}
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		int ret;

		*eq = '\0';
		ret = profile_set_at(sub_dir, argv[i], eq + 1);
		if (ret == 0)
			continue;
		if (ret == -EINVAL)
			fprintf(stderr, "vvmadm: set %s: invalid value\n",
				argv[i]);
		else
			vvmadm_error(-ret, NULL, "set %s", argv[i]);
		/* All or nothing, so that the same line can be run again
		 * once it is fixed. The new subscriber holds no message. */
		if (rmdir(sub_dir) < 0)
			vvmadm_error(errno, NULL, "provision %s: undo",
				     argv[1]);
		else
			fprintf(stderr, "vvmadm: provision %s: not "
					"provisioned\n", argv[1]);
		return VVMADM_FAILED;
	}
	return VVMADM_OK;
}

static int purge_mailbox(const char *sub_dir, const char *name)
{
	g_autofree char *dir = g_build_filename(sub_dir, name, NULL);
	g_autoptr(GArray) uids = NULL;
	int ret = vvmadm_list_uids(dir, &uids);

	if (ret < 0) {
		vvmadm_error(-ret, NULL, "purge %s", dir);
		return ret;
	}
	for (guint i = 0; i < uids->len; i++) {
		uint32_t uid = g_array_index(uids, uint32_t, i);
		g_autofree char *path = vvmadm_message_path(dir, uid);

		/* Retention or a client may expunge it first: that is fine. */
		if (unlink(path) < 0 && errno != ENOENT) {
			ret = -errno;
			vvmadm_error(-ret, NULL, "purge %s", path);
			return ret;
		}
	}
	if (!vvmadm_is_special_mailbox(name) && rmdir(dir) < 0 &&
	    errno != ENOENT) {
		ret = -errno;
		vvmadm_error(-ret, NULL, "purge %s", dir);
		return ret;
	}
	return 0;
}

static int purge(const char *sub_dir)
{
	g_autoptr(GPtrArray) names = NULL;
	int ret = vvmadm_list_dirs(sub_dir, &names);

	if (ret < 0) {
		vvmadm_error(-ret, NULL, "purge %s", sub_dir);
		return ret;
	}
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];

		if (strcmp(name, "profile") == 0)
			continue;
		ret = purge_mailbox(sub_dir, name);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int cmd_deprovision(struct vvmadm *adm, int argc, char **argv)
{
	gboolean purge_opt = FALSE;
	const GOptionEntry entries[] = {
		{ "purge", 0, 0, G_OPTION_ARG_NONE, &purge_opt,
		  "expunge every message and remove every mailbox first",
		  NULL },
		G_OPTION_ENTRY_NULL
	};
	const char *msisdn = NULL;
	int status = VVMADM_OK;
	g_autofree char *sub_dir = sub_dir_arg(adm, argc, argv, entries,
					       &msisdn, &status);

	if (sub_dir == NULL)
		return status;
	if (purge_opt && purge(sub_dir) < 0)
		return VVMADM_FAILED;
	if (rmdir(sub_dir) < 0) {
		int err = errno;

		vvmadm_error(err, err == ENOTEMPTY ?
			     "its mailboxes hold messages; --purge expunges "
			     "them" : NULL, "deprovision %s", msisdn);
		return VVMADM_FAILED;
	}
	return VVMADM_OK;
}

int cmd_subscribers(struct vvmadm *adm, int argc, char **argv)
{
	g_autoptr(GPtrArray) names = NULL;
	int ret;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	if (argc != 1)
		return vvmadm_usage(argv[0]);
	ret = vvmadm_list_dirs(adm->mount, &names);
	if (ret < 0) {
		vvmadm_error(-ret, NULL, "subscribers %s", adm->mount);
		return VVMADM_FAILED;
	}
	/* Only subscribers: not the views (asterisk/) beside them. */
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];

		if (strspn(name, "0123456789") == strlen(name))
			printf("%s\n", name);
	}
	return VVMADM_OK;
}

static int print_mailbox(const char *sub_dir, const char *name)
{
	g_autofree char *dir = g_build_filename(sub_dir, name, NULL);
	GString *line = g_string_new(name);
	int ret = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(mailbox_attrs) && ret == 0; i++) {
		g_autofree char *value = NULL;

		ret = vvmadm_xattr_get(dir, mailbox_attrs[i], &value);
		if (ret < 0)
			vvmadm_error(-ret, NULL, "%s: %s", dir,
				     mailbox_attrs[i]);
		else
			g_string_append_printf(line, "\t%s", value);
	}
	if (ret == 0)
		printf("%s\n", line->str);
	g_string_free(line, TRUE);
	return ret;
}

int cmd_mailboxes(struct vvmadm *adm, int argc, char **argv)
{
	const char *msisdn = NULL;
	int status = VVMADM_OK;
	g_autofree char *sub_dir = sub_dir_arg(adm, argc, argv, NULL, &msisdn,
					       &status);
	g_autoptr(GPtrArray) names = NULL;
	int ret;

	if (sub_dir == NULL)
		return status;
	ret = vvmadm_list_dirs(sub_dir, &names);
	if (ret < 0) {
		vvmadm_error(-ret, NULL, "mailboxes %s", msisdn);
		return VVMADM_FAILED;
	}
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];

		if (strcmp(name, "profile") != 0 &&
		    print_mailbox(sub_dir, name) < 0)
			status = VVMADM_FAILED;
	}
	return status;
}

int cmd_quota(struct vvmadm *adm, int argc, char **argv)
{
	const char *msisdn = NULL;
	int status = VVMADM_OK;
	g_autofree char *sub_dir = sub_dir_arg(adm, argc, argv, NULL, &msisdn,
					       &status);
	g_autofree char *quota = NULL;
	int ret;

	if (sub_dir == NULL)
		return status;
	ret = vvmadm_xattr_get(sub_dir, "user.vvm.quota", &quota);
	if (ret < 0) {
		vvmadm_error(-ret, NULL, "quota %s", msisdn);
		return VVMADM_FAILED;
	}
	printf("%s\n", quota);
	return VVMADM_OK;
}
