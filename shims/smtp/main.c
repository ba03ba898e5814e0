/* vvm-smtpd: VVM message deposit over SMTP (or LMTP for an MTA) for one
 * connection, started the inetd way with the socket on stdin and
 * stdout. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <syslog.h>
#include <glib.h>

#include "shim-io.h"
#include "shim-listen.h"
#include "smtp-config.h"
#include "smtp-message.h"
#include "smtp-session.h"
#include "vvm-sasl.h"

struct options {
	char *config_file;
	gboolean implicit_tls;
	gboolean lmtp;
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
		  "TLS from the first byte (port 465 style)", NULL },
		{ "lmtp", 0, 0, G_OPTION_ARG_NONE, &opts->lmtp,
		  "speak LMTP (RFC 2033) to an MTA", NULL },
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
		g_option_context_new("- VVM SMTP shim (socket on stdin/stdout)");
	g_autoptr(GError) error = NULL;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "vvm-smtpd: %s\n", error->message);
		return -1;
	}
	return 0;
}

/* The peer's address for Received and the log, or NULL (a pipe, a Unix
 * socket). */
static char *peer_address(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char text[INET6_ADDRSTRLEN];

	if (getpeername(0, (struct sockaddr *)&ss, &len) < 0)
		return NULL;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
			  text, sizeof(text));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
			  text, sizeof(text));
	else
		return NULL;
	return g_strdup(text);
}

struct server {
	const struct smtp_config *config;
	const struct options *opts;
	/* loaded before serving: by the listener once for every child */
	struct shim_tls *tls;
};

static int run_session(struct shim_io *io, struct shim_tls *tls,
		       void *context)
{
	const struct server *server = context;
	g_autofree char *peer = peer_address();

	return smtp_session_run(server->config, io, tls, server->opts->lmtp,
				peer);
}

/* Serves the connection on stdin/stdout. */
static int serve(void *context)
{
	const struct server *server = context;
	const struct smtp_config *config = server->config;

	return shim_serve_stdio(server->opts->implicit_tls ||
				config->tls == VVM_TLS_IMPLICIT,
				config->tls_cert, config->tls_key,
				server->tls, run_session, context);
}

/* --listen: what every session would load is loaded once, for every
 * child. */
static void preload(void *context)
{
	struct server *server = context;

	smtp_message_init();
	/* A head start only: AUTH calls it again, gets the same result and
	 * refuses when it failed. */
	if (!server->opts->lmtp && vvm_sasl_global_init("smtp") < 0)
		syslog(LOG_ERR, "libsasl2 does not start: AUTH is refused");
	if (server->config->tls != VVM_TLS_NONE)
		server->tls = shim_tls_load(server->config->tls_cert,
					    server->config->tls_key);
}

int main(int argc, char **argv)
{
	struct options opts = { 0 };
	struct smtp_config config;
	g_autofree char *error = NULL;
	int status = 1;

	if (parse_options(argc, argv, &opts) < 0)
		return 2;
	if (opts.version) {
		printf("vvm-smtpd %s\n", VVM_VERSION);
		return 0;
	}
	/* Connected now: after the chroot there is no /dev/log. */
	openlog(opts.lmtp ? "vvm-lmtpd" : "vvm-smtpd", LOG_PID | LOG_NDELAY,
		LOG_MAIL);
	/* A client that disappears must not kill us mid-commit. */
	signal(SIGPIPE, SIG_IGN);
	if (smtp_config_load(opts.config_file, &config, &error) < 0) {
		syslog(LOG_ERR, "%s", error);
		fprintf(stderr, "vvm-smtpd: %s\n", error);
		printf("421 4.3.0 Service not available: configuration "
		       "error\r\n");
	} else {
		struct server server = { .config = &config, .opts = &opts };
		if (opts.listen != NULL)
			status = shim_listen_main("vvm-smtpd", opts.listen,
						  opts.max_children, preload,
						  serve, &server);
		else
			status = serve(&server);
		shim_tls_destroy(&server.tls);
		vvm_sasl_global_done();
		smtp_config_clear(&config);
	}
	g_free(opts.config_file);
	g_free(opts.listen);
	closelog();
	return status;
}
