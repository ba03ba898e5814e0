#include "imap-commands.h"

#include <string.h>

#include "imap-mailbox.h"
#include "imap-seqset.h"
#include "shim-io.h"

static const struct imap_command_def commands[] = {
	{ "CAPABILITY", cmd_capability, CMD_ANY },
	{ "NOOP", cmd_noop, CMD_ANY },
	{ "LOGOUT", cmd_logout, CMD_ANY },
	{ "ID", cmd_id, CMD_ANY },
	{ "STARTTLS", cmd_starttls, CMD_NOT_AUTH },
	{ "LOGIN", cmd_login, CMD_NOT_AUTH },
	{ "AUTHENTICATE", cmd_authenticate, CMD_NOT_AUTH },
	{ "ENABLE", cmd_enable, CMD_AUTH },
	{ "NAMESPACE", cmd_namespace, CMD_AUTH },
	{ "SELECT", cmd_select, CMD_AUTH },
	{ "EXAMINE", cmd_examine, CMD_AUTH },
	{ "LIST", cmd_list, CMD_AUTH },
	{ "LSUB", cmd_lsub, CMD_AUTH },
	{ "STATUS", cmd_status, CMD_AUTH },
	{ "APPEND", cmd_append, CMD_AUTH },
	{ "IDLE", cmd_idle, CMD_AUTH },
	{ "GETQUOTA", cmd_getquota, CMD_AUTH },
	{ "GETQUOTAROOT", cmd_getquotaroot, CMD_AUTH },
	{ "GETMETADATA", cmd_getmetadata, CMD_AUTH },
	{ "SETMETADATA", cmd_setmetadata, CMD_AUTH },
	{ "CHECK", cmd_check, CMD_AUTH | CMD_SELECTED },
	{ "CLOSE", cmd_close, CMD_AUTH | CMD_SELECTED },
	{ "UNSELECT", cmd_unselect, CMD_AUTH | CMD_SELECTED },
	{ "EXPUNGE", cmd_expunge, CMD_AUTH | CMD_SELECTED },
	{ "FETCH", cmd_fetch, CMD_AUTH | CMD_SELECTED },
	{ "STORE", cmd_store, CMD_AUTH | CMD_SELECTED },
	{ "SEARCH", cmd_search, CMD_AUTH | CMD_SELECTED },
	{ "UID", cmd_uid, CMD_AUTH | CMD_SELECTED },
	/* The self-care commands, and the dialects without the X that
	 * deployed clients send. */
	{ "XCHANGE_TUI_PWD", cmd_xchange_tui_pwd, CMD_AUTH | CMD_SELFCARE },
	{ "CHANGE_TUI_PWD", cmd_xchange_tui_pwd, CMD_AUTH | CMD_SELFCARE },
	{ "XCHANGE_VM_LANG", cmd_xchange_vm_lang, CMD_AUTH | CMD_SELFCARE },
	{ "CHANGE_VM_LANG", cmd_xchange_vm_lang, CMD_AUTH | CMD_SELFCARE },
	{ "XCHANGE_GEN_OPTIONS_STRING", cmd_xchange_gen_options,
	  CMD_AUTH | CMD_SELFCARE },
	{ "XCLOSE_NUT", cmd_xclose_nut, CMD_AUTH | CMD_SELFCARE },
	{ "CLOSE_NUT", cmd_xclose_nut, CMD_AUTH | CMD_SELFCARE },
	{ "XTRANSCRIBE", cmd_xtranscribe, CMD_AUTH | CMD_SELFCARE },
	{ "XTRANSCRIBE_", cmd_xtranscribe, CMD_AUTH | CMD_SELFCARE },
	{ "XTRANSCRIPTION_SERVICE", cmd_xtranscription_service,
	  CMD_AUTH | CMD_SELFCARE },
	{ "XTRANSCRIPTION_SERVICE_", cmd_xtranscription_service,
	  CMD_AUTH | CMD_SELFCARE },
};

const struct imap_command_def *imap_command_find(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (g_ascii_strcasecmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

int imap_message_set(struct imap_session *s, const char *set,
		     GArray **seqs_r)
{
	struct imap_mailbox *box = s->box;
	uint32_t count = imap_mailbox_count(box);
	GArray *ranges;

	if (imap_seqset_parse(set, &ranges) < 0)
		return -EINVAL;
	GArray *seqs = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	if (s->uid_command) {
		uint32_t star = count > 0 ? imap_mailbox_msg(box, count)->uid : 0;
		/* "n:*" includes the last message even when n is beyond it
		 * (RFC 3501 6.4.8). */
		imap_seqset_normalize(ranges, star);
		for (uint32_t seq = 1; seq <= count; seq++) {
			if (imap_seqset_contains(ranges,
						 imap_mailbox_msg(box, seq)->uid))
				g_array_append_val(seqs, seq);
		}
	} else {
		imap_seqset_normalize(ranges, count);
		for (guint i = 0; i < ranges->len; i++) {
			struct imap_seq_range *r =
				&g_array_index(ranges, struct imap_seq_range, i);
			if (r->first == 0 || r->last > count) {
				g_array_unref(ranges);
				g_array_unref(seqs);
				return -ERANGE;
			}
			for (uint32_t seq = r->first; seq <= r->last; seq++)
				g_array_append_val(seqs, seq);
		}
	}
	g_array_unref(ranges);
	*seqs_r = seqs;
	return 0;
}
