/* What the deposit check, the stored copy and the DSN builder share. */
#ifndef VVM_SMTP_MESSAGE_PRIVATE_H
#define VVM_SMTP_MESSAGE_PRIVATE_H

#include <stdbool.h>

#include "smtp-message.h"

static inline bool smtp_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Appends s for a header or report field: values that come from the
 * client (HELO, ENVID, ORCPT) may hold any byte, and a line break among
 * them would forge fields, so controls and 8-bit become '?'. */
void smtp_append_printable(GString *out, const char *s);
/* The same as a new string. */
char *smtp_printable(const char *s);

#endif
