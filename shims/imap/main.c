/* vvm-imapd: the VVM IMAP interface for one connection, started the
 * inetd way (xinetd, inetd, systemd Accept=yes, systemd-socket-activate
 * --inetd) with the socket on stdin and stdout. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <glib.h>

#include "imap-config.h"
#include "imap-session.h"
#include "shim-listen.h"
#include "shim-io.h"
#include "vvm-sasl.h"

struct options {
	char *config_file;
	gboolean implicit_tls;
	gboolean version;
	char *listen;
	int max_children;
};

static int parse_options(int argc, char **argv, struct options *opts)
{
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &opts->config_file,
		  "vvm config file (default /etc/vvm/vvm.conf)", "FILE" },
		{ "tls", 0, 0, G_OPTION_ARG_NONE, &opts->implicit_tls,
		  "TLS from the first byte (port 993 style)", NULL },
		{ "listen", 0, 0, G_OPTION_ARG_STRING, &opts->listen,
		  "listen on HOST:PORT or a Unix socket path and fork one "
		  "process per connection, instead of inetd", "ADDRESS" },
		{ "max-children", 0, 0, G_OPTION_ARG_INT, &opts->max_children,
		  "with --listen: connections served at once (default 200)",
		  "N" },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &opts->version,
		  "print the version and exit", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("- VVM IMAP shim (socket on stdin/stdout)");
	g_autoptr(GError) error = NULL;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "vvm-imapd: %s\n", error->message);
		return -EINVAL;
	}
	return 0;
}

struct server {
	const struct imap_config *config;
	const struct options *opts;
	/* loaded before serving: by the listener once for every child */
	struct shim_tls *tls;
};

static int run_session(struct shim_io *io, struct shim_tls *tls,
		       void *context)
{
	const struct server *server = context;

	return imap_session_run(server->config, io, tls);
}

/* Serves the connection on stdin/stdout. STARTTLS loads its certificate
 * when a client asks for it; a session that never does pays nothing for
 * TLS. */
static int serve(void *context)
{
	const struct server *server = context;
	const struct imap_config *config = server->config;

	return shim_serve_stdio(server->opts->implicit_tls ||
				config->tls == VVM_TLS_IMPLICIT,
				config->tls_cert, config->tls_key,
				server->tls, run_session, context);
}

/* --listen: what sessions load lazily is loaded once, for every child. */
static void preload(void *context)
{
	struct server *server = context;

	/* A head start only: AUTHENTICATE calls it again, gets the same
	 * result and refuses when it failed. */
	if (vvm_sasl_global_init("imap") < 0)
		syslog(LOG_ERR, "libsasl2 does not start: AUTHENTICATE is "
		       "refused");
	if (server->config->tls != VVM_TLS_NONE)
		server->tls = shim_tls_load(server->config->tls_cert,
					    server->config->tls_key);
}

int main(int argc, char **argv)
{
	struct options opts = { 0 };
	struct imap_config config;
	g_autofree char *error = NULL;
	int status = 1;

	if (parse_options(argc, argv, &opts) < 0)
		return 2;
	if (opts.version) {
		printf("vvm-imapd %s\n", VVM_VERSION);
		return 0;
	}
	/* Connected now: after the chroot there is no /dev/log to connect to. */
	openlog("vvm-imapd", LOG_PID | LOG_NDELAY, LOG_MAIL);
	/* A client that disappears must not kill us mid-commit. */
	signal(SIGPIPE, SIG_IGN);
	if (imap_config_load(opts.config_file, &config, &error) < 0) {
		syslog(LOG_ERR, "%s", error);
		fprintf(stderr, "vvm-imapd: %s\n", error);
		printf("* BYE application error\r\n");
	} else {
		struct server server = { .config = &config, .opts = &opts };
		if (opts.listen != NULL)
			status = shim_listen_main("vvm-imapd", opts.listen,
						  opts.max_children, preload,
						  serve, &server);
		else
			status = serve(&server);
		shim_tls_destroy(&server.tls);
		vvm_sasl_global_done();
		imap_config_clear(&config);
	}
	g_free(opts.config_file);
	g_free(opts.listen);
	closelog();
	return status;
}
