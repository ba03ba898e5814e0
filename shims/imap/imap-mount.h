/* The logged-in subscriber's profile through the mount. Both return
 * >= 0 on success or -errno as the mount gave it. */
#ifndef VVM_IMAP_MOUNT_H
#define VVM_IMAP_MOUNT_H

#include <glib.h>

#include "vvm-mount.h"

struct imap_session;

/* Notes whether the profile's accept list asks for transcoding. Returns
 * 0, or -errno when the list cannot be read (nothing is noted then). */
int imap_session_read_accept(struct imap_session *s)
	G_GNUC_WARN_UNUSED_RESULT;
/* Notes the accept list the session has just stored. */
void imap_session_set_accept(struct imap_session *s, const char *accept);
/* A profile value of the logged-in subscriber, without its newline. */
int profile_get(const struct imap_session *s, const char *key,
		char **value_r) G_GNUC_WARN_UNUSED_RESULT;
/* Replaces a profile value; -EINVAL when vvmfs refuses it. */
int profile_set(const struct imap_session *s, const char *key,
		const char *value) G_GNUC_WARN_UNUSED_RESULT;

#endif
