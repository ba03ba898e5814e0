/* The command table: each command's handler and where it may be used.
 * One file per command or family (cmd-*.c), as in Dovecot's src/imap. */
#ifndef VVM_IMAP_COMMANDS_H
#define VVM_IMAP_COMMANDS_H

#include "imap-parser.h"
#include "imap-session.h"

enum imap_command_flags {
	CMD_NOT_AUTH = 1u << 0,   /* allowed before login */
	CMD_AUTH = 1u << 1,       /* allowed after login */
	CMD_SELECTED = 1u << 2,   /* needs a selected mailbox */
	/* A self-care command: one tagged line with the spec's text and no
	 * untagged updates before it. */
	CMD_SELFCARE = 1u << 3,
};
#define CMD_ANY (CMD_NOT_AUTH | CMD_AUTH)

typedef void imap_command_fn(struct imap_session *s,
			     const struct imap_command *cmd);

struct imap_command_def {
	const char *name;
	imap_command_fn *handler;
	unsigned int flags;
};

/* The definition of name (any case), or NULL. */
const struct imap_command_def *imap_command_find(const char *name);

/* Handlers; args are cmd->args, after the command name. */
imap_command_fn cmd_capability, cmd_noop, cmd_logout, cmd_id, cmd_enable,
	cmd_namespace, cmd_check;
imap_command_fn cmd_starttls, cmd_login, cmd_authenticate;
imap_command_fn cmd_select, cmd_examine, cmd_close, cmd_unselect;
imap_command_fn cmd_list, cmd_lsub, cmd_status;
imap_command_fn cmd_fetch, cmd_store, cmd_search, cmd_expunge, cmd_uid;
imap_command_fn cmd_append, cmd_idle;
imap_command_fn cmd_getquota, cmd_getquotaroot;
imap_command_fn cmd_getmetadata, cmd_setmetadata;
imap_command_fn cmd_xchange_tui_pwd, cmd_xchange_vm_lang,
	cmd_xchange_gen_options, cmd_xclose_nut, cmd_xtranscribe,
	cmd_xtranscription_service;

/* The CAPABILITY list for the session's state, without "* CAPABILITY". */
char *imap_capabilities(const struct imap_session *s);

/* Shared by FETCH, STORE, SEARCH and EXPUNGE and their UID forms. */
void imap_fetch(struct imap_session *s, const struct imap_command *cmd,
		const struct imap_arg *args);
void imap_store(struct imap_session *s, const struct imap_arg *args);
void imap_search(struct imap_session *s, const struct imap_arg *args);
void imap_uid_expunge(struct imap_session *s, const struct imap_arg *args);

/* Unlinks the messages with \Deleted, all or those in only_seqs (sorted
 * sequence numbers), and marks them expunged in the map. Returns 0 or
 * the first -errno. */
int imap_expunge_deleted(struct imap_session *s, const GArray *only_seqs)
	G_GNUC_WARN_UNUSED_RESULT;

/* Turns a message set argument into the sequence numbers it names, as a
 * GArray of uint32_t in ascending order. UIDs when s->uid_command.
 * Returns 0, or -EINVAL for bad syntax. */
int imap_message_set(struct imap_session *s, const char *set,
		     GArray **seqs_r) G_GNUC_WARN_UNUSED_RESULT;

#endif
