/* The senders of vvm-smsd, one per mode: each drains the outbox until
 * *stop is set (or, with once, until the outbox is empty and every short
 * message answered). Each returns 0, or -1 after logging why it cannot
 * go on. */
#ifndef VVM_SMSD_ESME_H
#define VVM_SMSD_ESME_H

#include <signal.h>
#include <stdbool.h>

#include "smsd-config.h"

/* smsd-esme.c: SMPP 3.4, bound as a transceiver: submit_sm out,
 * deliver_sm (MO) in. */
int smsd_esme_run(const struct smsd_config *cfg, bool once,
		  volatile sig_atomic_t *stop);

/* smsd-simple.c: the command and http modes, one entry at a time. */
int smsd_simple_run(const struct smsd_config *cfg, bool once,
		    volatile sig_atomic_t *stop);

/* Waits ms, or less when a signal comes. Every wait of the senders is at
 * most [smsd] poll_ms, which bounds how late a stop signal is seen. */
void smsd_sleep(int ms);

#endif
