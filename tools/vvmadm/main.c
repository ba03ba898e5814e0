/* vvmadm's entry: global options, the command table and dispatch. */
#include "vvmadm.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct vvmadm_command commands[] = {
	{ "provision", "MSISDN [KEY=VALUE...]",
	  "create a subscriber and set profile values", cmd_provision },
	{ "deprovision", "MSISDN [--purge]",
	  "remove a subscriber (--purge: and all its messages)",
	  cmd_deprovision },
	{ "get", "MSISDN [KEY]", "print profile values", cmd_get },
	{ "set", "MSISDN KEY=VALUE...", "change profile values", cmd_set },
	{ "subscribers", "", "list the subscribers", cmd_subscribers },
	{ "mailboxes", "MSISDN", "list mailboxes and their counters",
	  cmd_mailboxes },
	{ "ls", "MSISDN [MAILBOX]", "list the messages of a mailbox", cmd_ls },
	{ "quota", "MSISDN", "print quota usage and limits", cmd_quota },
	{ "deliver", "MSISDN FILE... [--mailbox M] [--flags FLAGS]",
	  "deposit messages", cmd_deliver },
	{ "flags", "MSISDN MAILBOX UID [+|-]FLAGS...",
	  "replace, add or remove flags", cmd_flags },
	{ "move", "MSISDN FROM UID TO", "move a message to another mailbox",
	  cmd_move },
	{ "expunge", "MSISDN MAILBOX UID...", "expunge messages", cmd_expunge },
	{ "export", "MSISDN MAILBOX MAILDIR", "copy a mailbox into a Maildir",
	  cmd_export },
	{ "import", "MSISDN MAILBOX SOURCE",
	  "deposit the messages of a Maildir or an mbox file", cmd_import },
	{ "fsck", "STORE_DIR [--repair]",
	  "check (and repair) an unmounted store", cmd_fsck },
	{ "media", "info FILE... | convert FILE --to TYPE [-o OUT]",
	  "describe voice files, or transcode one to a format vvm serves",
	  cmd_media },
	{ "sms", "decode TEXT | decode --hex HEX [--key K] | encode TEXT "
	  "[--port P] | send-status MSISDN",
	  "decode and encode VVM SMS, queue a STATUS for a subscriber",
	  cmd_sms },
};

/* GOption stores into these; main() owns the one struct vvmadm. */
static struct vvmadm vvmadm;

static const GOptionEntry global_options[] = {
	{ "mount", 'm', 0, G_OPTION_ARG_FILENAME, &vvmadm.mount_arg,
	  "the vvmfs mount point (default: $VVM_MOUNT, else ./var/mnt)",
	  "DIR" },
	G_OPTION_ENTRY_NULL
};

static const struct vvmadm_command *command_find(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

static void mount_resolve(struct vvmadm *adm)
{
	const char *env = getenv("VVM_MOUNT");

	if (adm->mount_arg != NULL)
		adm->mount = adm->mount_arg;
	else if (env != NULL && *env != '\0')
		adm->mount = env;
	else
		adm->mount = "./var/mnt";
}

bool vvmadm_parse_options(struct vvmadm *adm, int *argc, char ***argv,
			  const GOptionEntry *entries)
{
	const struct vvmadm_command *cmd = command_find((*argv)[0]);
	g_autoptr(GError) error = NULL;
	g_autofree char *params = g_strdup_printf("%s %s", cmd->name,
						  cmd->args);
	GOptionContext *ctx = g_option_context_new(params);
	bool ok;

	g_option_context_set_summary(ctx, cmd->summary);
	g_option_context_add_main_entries(ctx, global_options, NULL);
	if (entries != NULL)
		g_option_context_add_main_entries(ctx, entries, NULL);
	ok = g_option_context_parse(ctx, argc, argv, &error);
	if (!ok)
		fprintf(stderr, "vvmadm: %s: %s\n", cmd->name, error->message);
	g_option_context_free(ctx);
	mount_resolve(adm);
	return ok;
}

static void usage_print(FILE *out, const char *argv0)
{
	const struct vvmadm_command *cmd = command_find(argv0);

	fprintf(out, "usage: vvmadm [-m DIR] %s %s\n", cmd->name, cmd->args);
}

int vvmadm_usage(const char *argv0)
{
	usage_print(stderr, argv0);
	return VVMADM_USAGE;
}

int vvmadm_help(const char *argv0)
{
	usage_print(stdout, argv0);
	return VVMADM_OK;
}

static char *commands_describe(void)
{
	GString *out = g_string_new("Commands:\n");

	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
		g_string_append_printf(out, "  %-12s %s\n    %s\n",
				       commands[i].name, commands[i].args,
				       commands[i].summary);
	}
	g_string_append(out, "\n'vvmadm COMMAND --help' shows the options "
			     "of a command.");
	return g_string_free(out, FALSE);
}

int main(int argc, char **argv)
{
	const struct vvmadm_command *cmd;
	g_autoptr(GError) error = NULL;
	g_autofree char *description = commands_describe();
	GOptionContext *ctx;
	bool ok;

	setlocale(LC_ALL, "");
	g_set_prgname("vvmadm");

	/* Stop at the command name: what follows belongs to the command. */
	ctx = g_option_context_new("COMMAND [ARGS...]");
	g_option_context_set_strict_posix(ctx, TRUE);
	g_option_context_add_main_entries(ctx, global_options, NULL);
	g_option_context_set_description(ctx, description);
	ok = g_option_context_parse(ctx, &argc, &argv, &error);
	if (!ok)
		fprintf(stderr, "vvmadm: %s\n", error->message);
	g_option_context_free(ctx);
	if (!ok)
		return VVMADM_USAGE;
	if (argc < 2) {
		fprintf(stderr, "usage: vvmadm [-m DIR] COMMAND [ARGS...]; "
				"'vvmadm --help' lists the commands\n");
		return VVMADM_USAGE;
	}
	cmd = command_find(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "vvmadm: unknown command '%s'\n", argv[1]);
		return VVMADM_USAGE;
	}
	mount_resolve(&vvmadm);
	return cmd->run(&vvmadm, argc - 1, argv + 1);
}
