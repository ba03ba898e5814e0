/* The logged-in subscriber's profile through the mount. Both return
 * >= 0 on success or -errno as the mount gave it. */
#ifndef VVM_IMAP_MOUNT_H
#define VVM_IMAP_MOUNT_H

#include "vvm-mount.h"

struct imap_session;

/* A profile value of the logged-in subscriber, without its newline. */
/* Notes whether the profile's accept list asks for transcoding. */
void imap_session_read_accept(struct imap_session *s);
int profile_get(const struct imap_session *s, const char *key,
		char **value_r);
/* Replaces a profile value; -EINVAL when vvmfs refuses it. */
int profile_set(const struct imap_session *s, const char *key,
		const char *value);

#endif
