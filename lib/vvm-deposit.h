/* Depositing a message through the vvmfs mount by the commit protocol
 * (docs/fs-layout.md), for every writer: vvmadm, the shims. */
#ifndef VVM_DEPOSIT_H
#define VVM_DEPOSIT_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

struct vvm_deposit {
	const char *flags;    /* user.imap.flags, NULL or "" for none */
	int64_t internaldate; /* Unix time, 0: let vvmfs use now */
};

/* Commits len bytes into mbox_dir under a temporary name starting with
 * prefix. On success *uid_r is the message's UID, or 0 in the unlikely
 * case that it could not be read back (the message is stored all the
 * same). On failure returns
 * -errno, and *reason_r (may stay NULL) says why: the file's
 * user.vvm.error, or the attribute vvmfs refused; g_free() it. Nothing is
 * stored unless 0 is returned. */
int vvm_deposit(const char *mbox_dir, const char *prefix, const void *bytes,
		size_t len, const struct vvm_deposit *deposit, uint32_t *uid_r,
		char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* write() until all of buf is written. Returns 0 or -errno. */
int vvm_write_all(int fd, const void *buf, size_t len)
	G_GNUC_WARN_UNUSED_RESULT;

#endif
