#include "imap-mount.h"

#include <glib.h>

#include "imap-session.h"

void imap_session_read_accept(struct imap_session *s)
{
	g_autofree char *accept = NULL;

	s->transcode = profile_get(s, "accept", &accept) == 0 &&
		       *g_strstrip(accept) != '\0';
}

int profile_get(const struct imap_session *s, const char *key,
		char **value_r)
{
	return profile_get_at(s->root, key, value_r);
}

int profile_set(const struct imap_session *s, const char *key,
		const char *value)
{
	return profile_set_at(s->root, key, value);
}
