/* vvmadm: administration of a vvm deployment through the vvmfs mount.
 *
 * Everything but fsck works with plain POSIX calls and xattrs on the mount,
 * under the rules of docs/fs-layout.md, exactly as any other client does.
 * Commands return an exit status: VVMADM_OK, VVMADM_FAILED when the
 * operation was refused or failed, VVMADM_USAGE for a usage error.
 * Helpers return >= 0 on success or -errno. */
#ifndef VVMADM_H
#define VVMADM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "vvm-deposit.h"
#include "vvm-mount.h"

enum vvmadm_status {
	VVMADM_OK = 0,
	VVMADM_FAILED = 1,
	VVMADM_USAGE = 2,
	VVMADM_ERROR = 2,     /* fsck could not check at all */
};

struct vvmadm {
	char *mount_arg;      /* -m, as given */
	const char *mount;    /* the mount point in use */
};

struct vvmadm_command {
	const char *name;
	const char *args;     /* the positional arguments, for usage */
	const char *summary;
	int (*run)(struct vvmadm *adm, int argc, char **argv);
};

/* main.c */
/* Parses the options of one command (and the global ones, which may
 * follow the command name too) in place: on return argv[1..argc-1] are
 * its positional arguments. Returns false (after printing why) on a usage
 * error. entries may be NULL. */
bool vvmadm_parse_options(struct vvmadm *adm, int *argc, char ***argv,
			  const GOptionEntry *entries);
/* Prints the usage line of the command named argv0 to stderr and returns
 * VVMADM_USAGE, or, asked for help, to stdout and returns VVMADM_OK. */
int vvmadm_usage(const char *argv0);
int vvmadm_help(const char *argv0);

/* util.c */
void vvmadm_error(int err, const char *reason, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
/* Checks that an argument is a subscriber (digits only) or a mailbox name
 * (one path component) before it is joined to the mount path; prints the
 * problem and returns false otherwise. */
bool vvmadm_check_msisdn(const char *msisdn);
bool vvmadm_check_mailbox(const char *mailbox);
/* Parses a UID (1..2^32-1); prints the problem and returns false otherwise. */
bool vvmadm_parse_uid(const char *text, uint32_t *uid_r);
bool vvmadm_is_special_mailbox(const char *name);
/* Reads a whole file ("-" is standard input) into *data_r. */
int vvmadm_read_file(const char *path, GBytes **data_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Writes all of buf, retrying short writes and EINTR. */
/* Reads an xattr of a path or an open file, without a trailing newline. */
int vvmadm_xattr_get(const char *path, const char *name, char **value_r)
	G_GNUC_WARN_UNUSED_RESULT;
int vvmadm_fxattr_get(int fd, const char *name, char **value_r)
	G_GNUC_WARN_UNUSED_RESULT;
int vvmadm_xattr_get_u64(const char *path, const char *name, uint64_t *value_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* Lists the names in dir that are directories (dirs) or that end in .eml
 * and start with a UID (uids, sorted ascending). Dot names are skipped. */
int vvmadm_list_dirs(const char *dir, GPtrArray **names_r)
	G_GNUC_WARN_UNUSED_RESULT;
int vvmadm_list_uids(const char *dir, GArray **uids_r)
	G_GNUC_WARN_UNUSED_RESULT;
char *vvmadm_message_path(const char *mbox_dir, uint32_t uid);

/* maildir.c */
#define MAILDIR_KEYWORDS_MAX 26
/* A dovecot-keywords file: names[i] is the keyword of letter 'a' + i. */
struct maildir_keywords {
	char *names[MAILDIR_KEYWORDS_MAX];
	bool changed;         /* a keyword was added since read or write */
};
void maildir_keywords_clear(struct maildir_keywords *kw);
/* A missing file is no keyword at all. */
int maildir_keywords_read(const char *maildir, struct maildir_keywords *kw)
	G_GNUC_WARN_UNUSED_RESULT;
int maildir_keywords_write(const char *maildir, struct maildir_keywords *kw)
	G_GNUC_WARN_UNUSED_RESULT;
/* The info letters ("DFRST" then keyword letters) of a user.imap.flags
 * value; keywords without a letter yet are given one in kw. */
char *maildir_info_from_flags(const char *flags, struct maildir_keywords *kw);
/* The user.imap.flags value of a Maildir file name. Keywords vvmfs does
 * not store are left out and appended to dropped. */
char *maildir_flags_from_name(const char *name,
			      const struct maildir_keywords *kw,
			      GString *dropped);
int vvmadm_fsync_dir(const char *path) G_GNUC_WARN_UNUSED_RESULT;

/* mbox.c */
struct vvmadm_mbox_message {
	GBytes *data;         /* the message, From_ line and quoting removed */
	int64_t internaldate; /* from the From_ line, 0 if it has none */
	char *flags;          /* from Status: and X-Status:, may be "" */
	unsigned line;        /* line of the From_ line in the file */
};
void vvmadm_mbox_message_clear(struct vvmadm_mbox_message *msg);
/* Splits an mboxrd (also mboxo) file. Calls cb for each message in order
 * until it returns nonzero, which is then returned. -EINVAL if the file
 * does not start with a From_ line. */
int vvmadm_mbox_split(GBytes *file,
		      int (*cb)(void *ctx, struct vvmadm_mbox_message *msg),
		      void *ctx) G_GNUC_WARN_UNUSED_RESULT;

/* The commands */
int cmd_provision(struct vvmadm *adm, int argc, char **argv);
int cmd_deprovision(struct vvmadm *adm, int argc, char **argv);
int cmd_subscribers(struct vvmadm *adm, int argc, char **argv);
int cmd_mailboxes(struct vvmadm *adm, int argc, char **argv);
int cmd_quota(struct vvmadm *adm, int argc, char **argv);
int cmd_get(struct vvmadm *adm, int argc, char **argv);
int cmd_set(struct vvmadm *adm, int argc, char **argv);
int cmd_deliver(struct vvmadm *adm, int argc, char **argv);
int cmd_ls(struct vvmadm *adm, int argc, char **argv);
int cmd_flags(struct vvmadm *adm, int argc, char **argv);
int cmd_move(struct vvmadm *adm, int argc, char **argv);
int cmd_expunge(struct vvmadm *adm, int argc, char **argv);
int cmd_export(struct vvmadm *adm, int argc, char **argv);
int cmd_import(struct vvmadm *adm, int argc, char **argv);
int cmd_fsck(struct vvmadm *adm, int argc, char **argv);
int cmd_media(struct vvmadm *adm, int argc, char **argv);
int cmd_sms(struct vvmadm *adm, int argc, char **argv);

/* cmd-profile.c, shared with provision */
/* Splits KEY=VALUE arguments; prints the bad one and returns false. */
bool vvmadm_check_assignments(int argc, char **argv);

#endif
