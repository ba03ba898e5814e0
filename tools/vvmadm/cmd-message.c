/* Messages one by one: deliver, ls, flags, move, expunge. */
#include "vvmadm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Checks MSISDN and MAILBOX and returns the mailbox directory, or NULL. */
static char *mailbox_dir(struct vvmadm *adm, const char *msisdn,
			 const char *mailbox)
{
	if (!vvmadm_check_msisdn(msisdn) || !vvmadm_check_mailbox(mailbox))
		return NULL;
	return g_build_filename(adm->mount, msisdn, mailbox, NULL);
}

/* Reports a missing mailbox as such, not as a problem of what is moved or
 * delivered into it. */
static bool mailbox_exists(const char *cmd, const char *dir,
			   const char *msisdn, const char *mailbox)
{
	struct stat st;

	if (stat(dir, &st) == 0)
		return true;
	vvmadm_error(errno, NULL, "%s %s/%s", cmd, msisdn, mailbox);
	return false;
}

static int deliver_file(const char *dir, const char *file,
			const struct vvm_deposit *deposit, uint32_t *uid_r)
{
	g_autoptr(GBytes) data = NULL;
	g_autofree char *reason = NULL;
	int ret = vvmadm_read_file(file, &data);

	if (ret < 0) {
		vvmadm_error(-ret, NULL, "deliver %s", file);
		return ret;
	}
	ret = vvm_deposit(dir, "vvmadm", g_bytes_get_data(data, NULL),
			  g_bytes_get_size(data), deposit, uid_r, &reason);
	if (ret < 0)
		vvmadm_error(-ret, reason, "deliver %s", file);
	return ret;
}

int cmd_deliver(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *mailbox = NULL;
	g_autofree char *flags = NULL;
	const GOptionEntry entries[] = {
		{ "mailbox", 0, 0, G_OPTION_ARG_STRING, &mailbox,
		  "the mailbox (default INBOX)", "M" },
		{ "flags", 0, 0, G_OPTION_ARG_STRING, &flags,
		  "flags to deposit with, e.g. '\\Seen \\Flagged'", "FLAGS" },
		G_OPTION_ENTRY_NULL
	};
	struct vvm_deposit deposit = { 0 };
	g_autofree char *dir = NULL;
	int status = VVMADM_OK;

	if (!vvmadm_parse_options(adm, &argc, &argv, entries))
		return VVMADM_USAGE;
	if (argc < 3)
		return vvmadm_usage(argv[0]);
	if (mailbox == NULL)
		mailbox = g_strdup("INBOX");
	dir = mailbox_dir(adm, argv[1], mailbox);
	if (dir == NULL)
		return VVMADM_USAGE;
	if (!mailbox_exists("deliver", dir, argv[1], mailbox))
		return VVMADM_FAILED;
	deposit.flags = flags;
	for (int i = 2; i < argc; i++) {
		uint32_t uid;

		if (deliver_file(dir, argv[i], &deposit, &uid) < 0)
			status = VVMADM_FAILED;
		else
			printf("%s/%s/%u\n", argv[1], mailbox, uid);
	}
	return status;
}

static int print_message(const char *dir, uint32_t uid)
{
	g_autofree char *path = vvmadm_message_path(dir, uid);
	g_autofree char *flags = NULL;
	g_autofree char *date = NULL;
	g_autoptr(GDateTime) dt = NULL;
	struct stat st;
	int ret;

	if (stat(path, &st) < 0) {
		/* Expunged since the directory was read. */
		return errno == ENOENT ? 0 : -errno;
	}
	ret = vvmadm_xattr_get(path, "user.imap.flags", &flags);
	if (ret < 0)
		return ret;
	/* A committed message's mtime is its INTERNALDATE. */
	dt = g_date_time_new_from_unix_utc(st.st_mtime);
	date = dt != NULL ? g_date_time_format_iso8601(dt) : g_strdup("-");
	printf("%u\t%jd\t%s\t%s\n", uid, (intmax_t)st.st_size, date, flags);
	return 0;
}

int cmd_ls(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *dir = NULL;
	g_autoptr(GArray) uids = NULL;
	int status = VVMADM_OK;
	int ret;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	if (argc < 2 || argc > 3)
		return vvmadm_usage(argv[0]);
	dir = mailbox_dir(adm, argv[1], argc == 3 ? argv[2] : "INBOX");
	if (dir == NULL)
		return VVMADM_USAGE;
	ret = vvmadm_list_uids(dir, &uids);
	if (ret < 0) {
		vvmadm_error(-ret, NULL, "ls %s/%s", argv[1],
			     argc == 3 ? argv[2] : "INBOX");
		return VVMADM_FAILED;
	}
	for (guint i = 0; i < uids->len; i++) {
		uint32_t uid = g_array_index(uids, uint32_t, i);

		ret = print_message(dir, uid);
		if (ret < 0) {
			vvmadm_error(-ret, NULL, "ls %u", uid);
			status = VVMADM_FAILED;
		}
	}
	return status;
}

/* No option parsing here: "-\Seen" is an argument, not an option. */
int cmd_flags(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *dir = NULL;
	g_autofree char *path = NULL;
	g_autofree char *flags = NULL;
	uint32_t uid;
	int ret;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 ||
			 strcmp(argv[1], "--help") == 0))
		return vvmadm_help(argv[0]);
	if (argc < 4)
		return vvmadm_usage(argv[0]);
	dir = mailbox_dir(adm, argv[1], argv[2]);
	if (dir == NULL || !vvmadm_parse_uid(argv[3], &uid))
		return VVMADM_USAGE;
	path = vvmadm_message_path(dir, uid);
	if (argc > 4) {
		int first = strcmp(argv[4], "--") == 0 ? 5 : 4;
		g_autofree char *value = g_strjoinv(" ", argv + first);

		if (setxattr(path, "user.imap.flags", value, strlen(value),
			     0) < 0) {
			int err = errno;
			g_autofree char *reason = err != EINVAL ? NULL :
				g_strdup_printf("'%s' refused", value);

			vvmadm_error(err, reason, "flags %s/%u", argv[2], uid);
			return VVMADM_FAILED;
		}
	}
	ret = vvmadm_xattr_get(path, "user.imap.flags", &flags);
	if (ret < 0) {
		vvmadm_error(-ret, NULL, "flags %s/%u", argv[2], uid);
		return VVMADM_FAILED;
	}
	printf("%s\n", flags);
	return VVMADM_OK;
}

/* What tells a message apart when its new UID must be found. */
struct fingerprint {
	off_t size;
	time_t internaldate;
	char *envelope;
};

static int fingerprint_get(const char *path, struct fingerprint *fp_r)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	/* Size and date alone still tell most messages apart. */
	if (vvmadm_xattr_get(path, "user.imap.envelope", &fp_r->envelope) < 0)
		fp_r->envelope = NULL;
	fp_r->size = st.st_size;
	fp_r->internaldate = st.st_mtime;
	return 0;
}

/* vvmfs gives a moved message the next UID of the target, but rename()
 * cannot return it: look among the UIDs allocated during the move for the
 * message that has the same size, date and envelope. Returns 0 if none. */
static uint32_t moved_uid(const char *dir, uint64_t first, uint64_t next,
			  const struct fingerprint *fp)
{
	for (uint64_t uid = first; uid < next && uid <= G_MAXUINT32; uid++) {
		g_autofree char *path = vvmadm_message_path(dir, (uint32_t)uid);
		struct fingerprint cand = { 0 };
		bool same;

		if (fingerprint_get(path, &cand) < 0)
			continue;
		same = cand.size == fp->size &&
		       cand.internaldate == fp->internaldate &&
		       g_strcmp0(cand.envelope, fp->envelope) == 0;
		g_free(cand.envelope);
		if (same)
			return (uint32_t)uid;
	}
	return 0;
}

int cmd_move(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *from = NULL, *to = NULL, *src = NULL, *dst = NULL;
	struct fingerprint fp = { 0 };
	uint64_t first, next;
	uint32_t uid;
	int ret;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	if (argc != 5)
		return vvmadm_usage(argv[0]);
	from = mailbox_dir(adm, argv[1], argv[2]);
	to = mailbox_dir(adm, argv[1], argv[4]);
	if (from == NULL || to == NULL || !vvmadm_parse_uid(argv[3], &uid))
		return VVMADM_USAGE;
	if (!mailbox_exists("move", to, argv[1], argv[4]))
		return VVMADM_FAILED;
	src = vvmadm_message_path(from, uid);
	/* The target name is ignored but must not exist: pick one no
	 * message can have. */
	dst = g_strdup_printf("%s/vvmadm-move-%ld.tmp", to, (long)getpid());
	ret = fingerprint_get(src, &fp);
	if (ret == 0)
		ret = vvmadm_xattr_get_u64(to, "user.imap.uidnext", &first);
	if (ret == 0 && rename(src, dst) < 0)
		ret = -errno;
	if (ret < 0) {
		vvmadm_error(-ret, NULL, "move %s/%u", argv[2], uid);
		g_free(fp.envelope);
		return VVMADM_FAILED;
	}
	if (vvmadm_xattr_get_u64(to, "user.imap.uidnext", &next) < 0)
		next = first;
	uid = moved_uid(to, first, next, &fp);
	g_free(fp.envelope);
	if (uid == 0) {
		fprintf(stderr, "vvmadm: move: moved to %s, but its new UID "
				"was not found\n", argv[4]);
		printf("%s/%s\n", argv[1], argv[4]);
	} else {
		printf("%s/%s/%u\n", argv[1], argv[4], uid);
	}
	return VVMADM_OK;
}

int cmd_expunge(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *dir = NULL;
	int status = VVMADM_OK;
	uint32_t uid;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	if (argc < 4)
		return vvmadm_usage(argv[0]);
	dir = mailbox_dir(adm, argv[1], argv[2]);
	if (dir == NULL)
		return VVMADM_USAGE;
	for (int i = 3; i < argc; i++) {
		if (!vvmadm_parse_uid(argv[i], &uid))
			return VVMADM_USAGE;
	}
	for (int i = 3; i < argc; i++) {
		g_autofree char *path = NULL;

		vvmadm_parse_uid(argv[i], &uid);
		path = vvmadm_message_path(dir, uid);
		if (unlink(path) < 0) {
			vvmadm_error(errno, NULL, "expunge %s/%u", argv[2],
				     uid);
			status = VVMADM_FAILED;
		}
	}
	return status;
}
