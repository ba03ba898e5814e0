/* Session slots: MOUNT/<msisdn>/.sessions/<proto> (docs/fs-layout.md).
 * The spec limits the concurrent IMAP sessions of a subscriber, and each
 * shim process serves one connection, so the processes agree through
 * vvmfs: opening the file takes a slot, closing it gives the slot back.
 * .sessions/login counts password checks in flight the same way, so that
 * parallel logins wait their turn instead of counting as failures. The
 * counts live only in memory, since a restart of vvmfs closes every
 * handle that held them. */
#include "fs.h"

#include <errno.h>
#include <string.h>

static const char *const proto_names[SESSION_PROTOS] = {
	[SESSION_IMAP] = "imap",
	[SESSION_SMTP] = "smtp",
	[SESSION_LOGIN] = "login",
};

struct session_counts {
	unsigned open[SESSION_PROTOS];
	unsigned checking; /* login attempts checking a password now */
};

const char *session_proto_name(enum session_proto proto)
{
	return proto < SESSION_PROTOS ? proto_names[proto] : NULL;
}

int session_proto_find(const char *name)
{
	for (int i = 0; i < SESSION_PROTOS; i++) {
		if (strcmp(name, proto_names[i]) == 0)
			return i;
	}
	return -ENOENT;
}

void sessions_init(struct vvmfs *fs)
{
	g_mutex_init(&fs->sessions_lock);
	fs->sessions = g_hash_table_new_full(NULL, NULL, NULL, g_free);
}

void sessions_destroy(struct vvmfs *fs)
{
	g_hash_table_destroy(fs->sessions);
	g_mutex_clear(&fs->sessions_lock);
}

int sessions_take(struct vvmfs *fs, uint32_t sub_id, enum session_proto proto)
{
	unsigned limit = fs->options.max_sessions[proto];
	struct session_counts *c;
	int ret = 0;

	g_mutex_lock(&fs->sessions_lock);
	c = g_hash_table_lookup(fs->sessions, GUINT_TO_POINTER(sub_id));
	if (c == NULL) {
		c = g_new0(struct session_counts, 1);
		g_hash_table_insert(fs->sessions, GUINT_TO_POINTER(sub_id), c);
	}
	if (limit > 0 && c->open[proto] >= limit)
		ret = -EUSERS;
	else
		c->open[proto]++;
	g_mutex_unlock(&fs->sessions_lock);
	return ret;
}

void sessions_put(struct vvmfs *fs, uint32_t sub_id, enum session_proto proto)
{
	struct session_counts *c;
	bool idle = true;

	g_mutex_lock(&fs->sessions_lock);
	c = g_hash_table_lookup(fs->sessions, GUINT_TO_POINTER(sub_id));
	if (c != NULL && c->open[proto] > 0)
		c->open[proto]--;
	for (int i = 0; c != NULL && i < SESSION_PROTOS; i++)
		idle = idle && c->open[i] == 0;
	idle = idle && (c == NULL || c->checking == 0);
	/* A removed subscriber's entry goes with its last session; its id
	 * is never given again. */
	if (c != NULL && idle)
		g_hash_table_remove(fs->sessions, GUINT_TO_POINTER(sub_id));
	g_mutex_unlock(&fs->sessions_lock);
}

/* Under sessions_lock, so that a failure is never seen both counted and
 * still in flight: sessions_check_end() comes after it is durable. */
int sessions_check_begin(struct vvmfs *fs, uint32_t sub_id, unsigned max)
{
	struct ms_login_failures lf;
	struct session_counts *c;
	int ret;

	g_mutex_lock(&fs->sessions_lock);
	c = g_hash_table_lookup(fs->sessions, GUINT_TO_POINTER(sub_id));
	ret = ms_login_failures_get(fs->ms, sub_id, &lf);
	if (ret == 0 && c == NULL)
		ret = -EIO; /* the ticket's own slot holds the entry */
	if (ret == 0 && lf.count + c->checking >= max)
		ret = -EAGAIN;
	if (ret == 0)
		c->checking++;
	g_mutex_unlock(&fs->sessions_lock);
	return ret;
}

void sessions_check_end(struct vvmfs *fs, uint32_t sub_id)
{
	struct session_counts *c;

	g_mutex_lock(&fs->sessions_lock);
	c = g_hash_table_lookup(fs->sessions, GUINT_TO_POINTER(sub_id));
	if (c != NULL && c->checking > 0)
		c->checking--;
	g_mutex_unlock(&fs->sessions_lock);
}

void sessions_format(struct vvmfs *fs, uint32_t sub_id,
		     enum session_proto proto, GString *out)
{
	struct session_counts *c;
	unsigned open, checking;

	g_mutex_lock(&fs->sessions_lock);
	c = g_hash_table_lookup(fs->sessions, GUINT_TO_POINTER(sub_id));
	open = c != NULL ? c->open[proto] : 0;
	checking = c != NULL ? c->checking : 0;
	g_mutex_unlock(&fs->sessions_lock);
	if (proto == SESSION_LOGIN)
		g_string_append_printf(out, "attempts %u\nchecking %u\n",
				       open, checking);
	else
		g_string_append_printf(out, "sessions %u\nlimit %u\n", open,
				       fs->options.max_sessions[proto]);
}
