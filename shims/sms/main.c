/* vvm-smsd: the VVM SMS interface. It drains MOUNT/.outbox/sms to the
 * SMSC (SMPP 3.4, or a command or an HTTP gateway for small sites) and
 * applies what clients send (STATUS, Activate, Deactivate) through the
 * mount. A long-running daemon, unlike the inetd-style shims: one
 * process serves every subscriber. docs/smsd.md has the whole story. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <glib.h>

#include "smsd-config.h"
#include "smsd-esme.h"
#include "smsd-mo.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGTERM and SIGINT end the loop at its next wait; no SA_RESTART, so
 * a wait in progress ends at once. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

struct options {
	char *config_file;
	gboolean once;
	char *apply_mo;
	gboolean urlencoded;
	gboolean version;
	char **rest;
};

static int parse_options(int argc, char **argv, struct options *opts)
{
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &opts->config_file,
		  "vvm config file (default /etc/vvm/vvm.conf)", "FILE" },
		{ "once", 0, 0, G_OPTION_ARG_NONE, &opts->once,
		  "send what the outbox holds, then exit", NULL },
		{ "apply-mo", 0, 0, G_OPTION_ARG_STRING, &opts->apply_mo,
		  "apply one client SMS from NUMBER (its text is the "
		  "argument that follows) and exit", "NUMBER" },
		{ "urlencoded", 0, 0, G_OPTION_ARG_NONE, &opts->urlencoded,
		  "with --apply-mo: NUMBER and TEXT are URL-encoded, as "
		  "Kannel's sms-service exec passes them", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &opts->version,
		  "print the version and exit", NULL },
		{ G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY,
		  &opts->rest, NULL, NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("- VVM SMS daemon (outbox to SMSC, MO in)");
	g_autoptr(GError) error = NULL;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "vvm-smsd: %s\n", error->message);
		return -1;
	}
	if ((opts->apply_mo != NULL) !=
	    (opts->rest != NULL && g_strv_length(opts->rest) == 1)) {
		fprintf(stderr, "vvm-smsd: --apply-mo NUMBER TEXT, or no "
			"arguments\n");
		return -1;
	}
	return 0;
}

/* One client SMS from the command line. */
static int apply_mo(const struct smsd_config *cfg, const struct options *opts)
{
	g_autofree char *number = opts->urlencoded
		? g_uri_unescape_string(opts->apply_mo, NULL)
		: g_strdup(opts->apply_mo);
	g_autofree char *text = opts->urlencoded
		? g_uri_unescape_string(opts->rest[0], NULL)
		: g_strdup(opts->rest[0]);

	if (number == NULL || text == NULL) {
		fprintf(stderr, "vvm-smsd: --apply-mo: bad URL encoding\n");
		return -EINVAL;
	}
	return smsd_mo_apply(cfg, number, text, strlen(text));
}

static int run(const struct options *opts)
{
	struct smsd_config cfg;
	g_autofree char *error = NULL;
	int ret;

	if (smsd_config_load(opts->config_file, &cfg, &error) < 0) {
		fprintf(stderr, "vvm-smsd: %s\n", error);
		return 1;
	}
	if (opts->apply_mo != NULL) {
		ret = apply_mo(&cfg, opts);
	} else {
		syslog(LOG_NOTICE, "draining %s/.outbox/sms (%s mode)",
		       cfg.mount, cfg.mode == SMSD_MODE_SMPP ? "SMPP"
				  : cfg.mode == SMSD_MODE_COMMAND ? "command"
								  : "http");
		ret = cfg.mode == SMSD_MODE_SMPP
			? smsd_esme_run(&cfg, opts->once, &stop)
			: smsd_simple_run(&cfg, opts->once, &stop);
	}
	smsd_config_clear(&cfg);
	return ret < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options opts = { 0 };
	int ret;

	if (parse_options(argc, argv, &opts) < 0) {
		ret = 2;
	} else if (opts.version) {
		printf("vvm-smsd %s\n", VVM_VERSION);
		ret = 0;
	} else {
		/* A daemon under systemd: its journal takes stderr too. */
		openlog("vvm-smsd", LOG_PID | LOG_PERROR, LOG_DAEMON);
		catch_signals();
		ret = run(&opts);
	}
	g_free(opts.config_file);
	g_free(opts.apply_mo);
	g_strfreev(opts.rest);
	closelog();
	return ret;
}
