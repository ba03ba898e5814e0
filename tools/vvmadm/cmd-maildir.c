/* export (a mailbox into a Maildir) and import (a Maildir or an mbox file
 * into a mailbox). Exported files keep the canonical bytes, so an export
 * imported back gives the same messages, flags and dates. */
#include "vvmadm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const maildir_subdirs[] = { "tmp", "new", "cur" };

struct export {
	const char *mbox_dir;
	const char *maildir;
	struct maildir_keywords kw;
	/* base name -> file name, of what cur/ already holds */
	GHashTable *existing;
	unsigned exported;
	bool reported;        /* the failure was reported already */
};

static int maildir_create(const char *maildir)
{
	if (mkdir(maildir, 0700) < 0 && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < G_N_ELEMENTS(maildir_subdirs); i++) {
		g_autofree char *sub = g_build_filename(maildir,
							maildir_subdirs[i],
							NULL);

		if (mkdir(sub, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	return vvmadm_fsync_dir(maildir);
}

/* Names in cur/ by their base, so that exporting again replaces a file
 * whose flags changed instead of adding a second copy. */
static int existing_read(const char *maildir, GHashTable **existing_r)
{
	g_autofree char *cur = g_build_filename(maildir, "cur", NULL);
	GHashTable *existing;
	DIR *d = opendir(cur);
	struct dirent *de;

	if (d == NULL)
		return -errno;
	existing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 g_free);
	while ((de = readdir(d)) != NULL) {
		const char *colon = strchr(de->d_name, ':');

		if (de->d_name[0] == '.' || colon == NULL)
			continue;
		g_hash_table_replace(existing,
				     g_strndup(de->d_name, colon - de->d_name),
				     g_strdup(de->d_name));
	}
	closedir(d);
	*existing_r = existing;
	return 0;
}

static int write_file(const char *path, GBytes *data, int64_t mtime)
{
	struct timespec times[2] = {
		{ .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)mtime },
	};
	size_t len;
	const char *bytes = g_bytes_get_data(data, &len);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0)
		return -errno;
	ret = vvm_write_all(fd, bytes, len);
	/* The date a Maildir reader takes for INTERNALDATE. */
	if (ret == 0 && futimens(fd, times) < 0)
		ret = -errno;
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

static int export_message(struct export *ex, uint32_t uid)
{
	g_autofree char *path = vvmadm_message_path(ex->mbox_dir, uid);
	g_autofree char *flags = NULL, *info = NULL, *base = NULL;
	g_autofree char *tmp = NULL, *final = NULL;
	g_autoptr(GBytes) data = NULL;
	const char *old;
	struct stat st;
	int ret;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = vvmadm_read_file(path, &data);
	if (ret == 0)
		ret = vvmadm_xattr_get(path, "user.imap.flags", &flags);
	if (ret < 0)
		return ret;
	info = maildir_info_from_flags(flags, &ex->kw);
	if (ex->kw.changed) {
		ret = maildir_keywords_write(ex->maildir, &ex->kw);
		if (ret < 0)
			return ret;
	}
	base = g_strdup_printf("%jd.%u.vvm", (intmax_t)st.st_mtime, uid);
	tmp = g_build_filename(ex->maildir, "tmp", base, NULL);
	final = g_strdup_printf("%s/cur/%s:2,%s", ex->maildir, base, info);
	ret = write_file(tmp, data, st.st_mtime);
	if (ret == 0 && rename(tmp, final) < 0)
		ret = -errno;
	if (ret < 0)
		return ret;
	old = g_hash_table_lookup(ex->existing, base);
	if (old != NULL && strcmp(old, strrchr(final, '/') + 1) != 0) {
		g_autofree char *old_path = g_build_filename(ex->maildir, "cur",
							     old, NULL);

		if (unlink(old_path) < 0 && errno != ENOENT)
			return -errno;
	}
	ex->exported++;
	return 0;
}

static int export_mailbox(struct export *ex)
{
	g_autoptr(GArray) uids = NULL;
	int ret = vvmadm_list_uids(ex->mbox_dir, &uids);

	for (guint i = 0; ret == 0 && i < uids->len; i++) {
		uint32_t uid = g_array_index(uids, uint32_t, i);

		ret = export_message(ex, uid);
		if (ret < 0) {
			vvmadm_error(-ret, NULL, "export %s/%u.eml",
				     ex->mbox_dir, uid);
			ex->reported = true;
		}
	}
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < G_N_ELEMENTS(maildir_subdirs); i++) {
		g_autofree char *sub = g_build_filename(ex->maildir,
							maildir_subdirs[i],
							NULL);

		ret = vvmadm_fsync_dir(sub);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int cmd_export(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *mbox_dir = NULL;
	struct export ex = { 0 };
	struct stat st;
	int ret;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	if (argc != 4)
		return vvmadm_usage(argv[0]);
	if (!vvmadm_check_msisdn(argv[1]) || !vvmadm_check_mailbox(argv[2]))
		return VVMADM_USAGE;
	mbox_dir = g_build_filename(adm->mount, argv[1], argv[2], NULL);
	ex.mbox_dir = mbox_dir;
	ex.maildir = argv[3];
	if (stat(mbox_dir, &st) < 0) {
		vvmadm_error(errno, NULL, "export %s/%s", argv[1], argv[2]);
		return VVMADM_FAILED;
	}
	ret = maildir_create(ex.maildir);
	if (ret == 0)
		ret = maildir_keywords_read(ex.maildir, &ex.kw);
	if (ret == 0)
		ret = existing_read(ex.maildir, &ex.existing);
	if (ret == 0)
		ret = export_mailbox(&ex);
	maildir_keywords_clear(&ex.kw);
	if (ex.existing != NULL)
		g_hash_table_destroy(ex.existing);
	if (ret < 0) {
		if (!ex.reported)
			vvmadm_error(-ret, NULL, "export %s/%s to %s",
				     argv[1], argv[2], argv[3]);
		return VVMADM_FAILED;
	}
	printf("%u messages exported\n", ex.exported);
	return VVMADM_OK;
}

struct import {
	const char *source;
	const char *mbox_dir;
	unsigned imported;
	unsigned failed;
};

/* Deposits one message; a refusal is counted and reported, not fatal. */
static void import_one(struct import *im, const char *what, GBytes *data,
		       const struct vvm_deposit *deposit)
{
	g_autofree char *reason = NULL;
	uint32_t uid;
	int ret = vvm_deposit(im->mbox_dir, "vvmadm", g_bytes_get_data(data, NULL),
			  g_bytes_get_size(data), deposit, &uid, &reason);

	if (ret < 0) {
		vvmadm_error(-ret, reason, "import %s", what);
		im->failed++;
	} else {
		im->imported++;
	}
}

static gint maildir_name_cmp(gconstpointer a, gconstpointer b)
{
	const char *x = strrchr(*(char *const *)a, '/') + 1;
	const char *y = strrchr(*(char *const *)b, '/') + 1;

	/* Natural order keeps "<time>.<uid>" names in UID order. */
	return strverscmp(x, y);
}

static int maildir_collect(const char *maildir, GPtrArray *paths)
{
	for (size_t i = 1; i < G_N_ELEMENTS(maildir_subdirs); i++) {
		g_autofree char *sub = g_build_filename(maildir,
							maildir_subdirs[i],
							NULL);
		DIR *d = opendir(sub);
		struct dirent *de;

		if (d == NULL)
			return -errno;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != '.')
				g_ptr_array_add(paths,
						g_build_filename(sub,
								 de->d_name,
								 NULL));
		}
		closedir(d);
	}
	g_ptr_array_sort(paths, maildir_name_cmp);
	return 0;
}

static int import_maildir(struct import *im)
{
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
	struct maildir_keywords kw;
	int ret = maildir_keywords_read(im->source, &kw);

	if (ret == 0)
		ret = maildir_collect(im->source, paths);
	for (guint i = 0; ret == 0 && i < paths->len; i++) {
		const char *path = paths->pdata[i];
		g_autoptr(GString) dropped = g_string_new(NULL);
		g_autofree char *flags = NULL;
		g_autoptr(GBytes) data = NULL;
		struct stat st;
		int err;

		/* Files in new/ have no info part, hence no flags. */
		flags = maildir_flags_from_name(strrchr(path, '/') + 1, &kw,
						dropped);
		if (dropped->len > 0)
			fprintf(stderr, "vvmadm: import %s: keywords left "
					"out: %s\n", path, dropped->str);
		err = stat(path, &st) < 0 ? -errno :
		      vvmadm_read_file(path, &data);
		if (err < 0) {
			vvmadm_error(-err, NULL, "import %s", path);
			im->failed++;
			continue;
		}
		import_one(im, path, data, &(struct vvm_deposit){
			.flags = flags, .internaldate = st.st_mtime });
	}
	maildir_keywords_clear(&kw);
	return ret;
}

static int import_mbox_message(void *ctx, struct vvmadm_mbox_message *msg)
{
	struct import *im = ctx;
	g_autofree char *what = g_strdup_printf("%s:%u", im->source,
						msg->line);

	import_one(im, what, msg->data, &(struct vvm_deposit){
		.flags = msg->flags, .internaldate = msg->internaldate });
	return 0;
}

static int import_mbox(struct import *im)
{
	g_autoptr(GBytes) file = NULL;
	int ret = vvmadm_read_file(im->source, &file);

	if (ret < 0)
		return ret;
	return vvmadm_mbox_split(file, import_mbox_message, im);
}

int cmd_import(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *mbox_dir = NULL;
	struct import im = { 0 };
	struct stat st;
	int ret;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	if (argc != 4)
		return vvmadm_usage(argv[0]);
	if (!vvmadm_check_msisdn(argv[1]) || !vvmadm_check_mailbox(argv[2]))
		return VVMADM_USAGE;
	mbox_dir = g_build_filename(adm->mount, argv[1], argv[2], NULL);
	im.source = argv[3];
	im.mbox_dir = mbox_dir;
	if (stat(mbox_dir, &st) < 0) {
		vvmadm_error(errno, NULL, "import %s/%s", argv[1], argv[2]);
		return VVMADM_FAILED;
	}
	/* A directory is a Maildir; anything else (also "-") an mbox. */
	if (strcmp(im.source, "-") != 0 && stat(im.source, &st) < 0)
		ret = -errno;
	else if (strcmp(im.source, "-") != 0 && S_ISDIR(st.st_mode))
		ret = import_maildir(&im);
	else
		ret = import_mbox(&im);
	if (ret < 0) {
		vvmadm_error(-ret, ret == -EINVAL ? "not an mbox file" : NULL,
			     "import %s", im.source);
		return VVMADM_FAILED;
	}
	printf("%u imported, %u failed\n", im.imported, im.failed);
	return im.failed > 0 ? VVMADM_FAILED : VVMADM_OK;
}
