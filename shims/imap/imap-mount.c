#include "imap-mount.h"

#include <glib.h>

#include "imap-session.h"

void imap_session_set_accept(struct imap_session *s, const char *accept)
{
	g_autofree char *copy = g_strdup(accept != NULL ? accept : "");

	s->transcode = *g_strstrip(copy) != '\0';
}

int imap_session_read_accept(struct imap_session *s)
{
	g_autofree char *accept = NULL;
	int ret = profile_get(s, "accept", &accept);

	if (ret == 0)
		imap_session_set_accept(s, accept);
	return ret;
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
