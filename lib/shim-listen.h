/* A standalone mode for the inetd-style shims: listen, and for each
 * connection fork a child that serves it on stdin/stdout exactly as
 * inetd's would. What every session needs (GMime, libsasl2's plugins, the
 * config) is loaded once, before the first fork, instead of by every
 * exec; each connection is still its own process, confined and dropped
 * on its own, so a crash or a compromise ends with that connection. */
#ifndef SHIM_LISTEN_H
#define SHIM_LISTEN_H

#include <stdbool.h>
#include <glib.h>

struct shim_io;
struct shim_tls;

/* Serves the connection on fds 0 and 1 in the child; returns its exit
 * status. */
typedef int shim_serve_fn(void *context);

/* Opens address: "HOST:PORT" (IPv4 or [IPv6]) or an absolute Unix socket
 * path (replaced if it exists, mode 0666: restrict its directory).
 * Returns the listening descriptor or -errno. */
int shim_listen_open(const char *address) G_GNUC_WARN_UNUSED_RESULT;

/* Accepts on fd until SIGTERM or SIGINT, forking one child per connection
 * (at most max_children at once; more wait in the backlog). Children are
 * reaped as they end. Returns 0 after a signal, -errno if accepting
 * fails for good. */
int shim_listen_run(int fd, unsigned int max_children, shim_serve_fn *serve,
		    void *context) G_GNUC_WARN_UNUSED_RESULT;

/* The whole standalone mode of program name: opens address (a failure
 * goes to stderr), calls preload (may be NULL) to load what every child
 * needs, logs that it listens and serves until SIGTERM or SIGINT, with
 * max_children (200 when not positive). Logs to syslog, as library code
 * otherwise does not: this is a program's main loop. Returns the exit
 * status, 0 after a signal. */
int shim_listen_main(const char *name, const char *address, int max_children,
		     void (*preload)(void *context), shim_serve_fn *serve,
		     void *context) G_GNUC_WARN_UNUSED_RESULT;

/* Loads a certificate chain and key for TLS, logging why not (syslog).
 * Returns the context or NULL. */
struct shim_tls *shim_tls_load(const char *cert_file, const char *key_file)
	G_GNUC_WARN_UNUSED_RESULT;

/* A protocol session over io; tls is the context for STARTTLS (NULL: the
 * session loads one when asked). Returns the exit status. */
typedef int shim_session_fn(struct shim_io *io, struct shim_tls *tls,
			    void *context);

/* Serves the connection on stdin/stdout the same way in both launch
 * modes: TCP_NODELAY (replies are written whole, so Nagle's algorithm
 * would only hold the last segment back), TLS from the first byte when
 * implicit_tls (with tls, else loaded from cert_file and key_file), then
 * session. Returns the session's status, or 1 when implicit TLS fails
 * (logged). A context loaded here is freed here; tls is the caller's. */
int shim_serve_stdio(bool implicit_tls, const char *cert_file,
		     const char *key_file, struct shim_tls *tls,
		     shim_session_fn *session, void *context)
	G_GNUC_WARN_UNUSED_RESULT;

#endif
