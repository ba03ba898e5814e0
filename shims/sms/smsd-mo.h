/* Client-originated SMS (spec "STATUS SMS (Client Originated)",
 * "Activate SMS", "Deactivate SMS") applied through the mount: the
 * client's type, port and prefix stored in the profile, the provisioning
 * status changed, and the STATUS answer queued in the outbox, which
 * vvmfs writes in the same commit as the change. */
#ifndef VVM_SMSD_MO_H
#define VVM_SMSD_MO_H

#include <stddef.h>

#include "smsd-config.h"

/* Applies text, received from the number source. Returns 0 once it is
 * applied and its answer queued (or when it deserves none: not a VVM
 * command, a malformed one is answered with an rc= error), or -errno when
 * the mount failed: the SMSC should then deliver it again. Logs what it
 * did. */
int smsd_mo_apply(const struct smsd_config *cfg, const char *source,
		  const char *text, size_t len) G_GNUC_WARN_UNUSED_RESULT;

#endif
