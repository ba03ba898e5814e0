#include "shim-listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include <glib.h>

#include "shim-io.h"

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	stopping = 1;
}

/* Only to interrupt accept() when a child ends. */
static void on_child(int sig)
{
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, SOMAXCONN) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static int listen_inet(const char *address)
{
	const char *colon = strrchr(address, ':');
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct addrinfo *ai;
	int fd, one = 1;

	if (colon == NULL)
		return -EINVAL;
	g_autofree char *host = g_strndup(address, colon - address);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host) - 2);
		host[strlen(host) - 2] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		int err = errno;
		freeaddrinfo(ai);
		close(fd);
		return -err;
	}
	freeaddrinfo(ai);
	return fd;
}

int shim_listen_open(const char *address)
{
	return address[0] == '/' ? listen_unix(address) : listen_inet(address);
}

/* Reaps the children that ended; returns how many. */
static unsigned int reap(void)
{
	unsigned int n = 0;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		n++;
	return n;
}

static void serve_child(int listen_fd, int conn, const sigset_t *mask,
			shim_serve_fn *serve, void *context)
{
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	close(listen_fd);
	if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0)
		_exit(1);
	if (conn > 1)
		close(conn);
	_exit(serve(context));
}

/* Whether accept() failed for a reason that passes: the network's errors
 * it hands on (man 2 accept says to retry them), lack of descriptors or
 * memory, a connection gone before it was taken. */
static bool transient(int err)
{
	return err != EBADF && err != EINVAL && err != ENOTSOCK &&
	       err != EOPNOTSUPP && err != EFAULT;
}

int shim_listen_run(int fd, unsigned int max_children, shim_serve_fn *serve,
		    void *context)
{
	struct sigaction stop = { .sa_handler = on_stop };
	struct sigaction child = { .sa_handler = on_child };
	sigset_t block, unblocked;
	unsigned int children = 0;
	int ret = 0;

	/* The signals are blocked except inside ppoll(), so that none can
	 * arrive between the checks below and the wait, and accept() never
	 * blocks (the socket is non-blocking). */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGCHLD, &child, NULL);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	stopping = 0;
	for (;;) {
		unsigned int ended = reap();

		children -= MIN(children, ended);
		if (stopping)
			break;
		/* At the limit, wait for a child to end (SIGCHLD). */
		struct pollfd pfd = {
			.fd = fd, .events = children < max_children ? POLLIN : 0,
		};
		if (ppoll(&pfd, 1, NULL, &unblocked) < 0 ||
		    !(pfd.revents & POLLIN))
			continue;
		int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (conn < 0 && transient(errno)) {
			poll(NULL, 0, 50);
			continue;
		}
		if (conn < 0) {
			ret = -errno;
			break;
		}
		pid_t pid = fork();
		if (pid == 0)
			serve_child(fd, conn, &unblocked, serve, context);
		if (pid > 0)
			children++;
		close(conn);
	}
	sigprocmask(SIG_SETMASK, &unblocked, NULL);
	return ret;
}

int shim_listen_main(const char *name, const char *address, int max_children,
		     void (*preload)(void *context), shim_serve_fn *serve,
		     void *context)
{
	int fd = shim_listen_open(address);

	if (fd < 0) {
		fprintf(stderr, "%s: cannot listen on %s: %s\n", name, address,
			g_strerror(-fd));
		return 1;
	}
	if (preload != NULL)
		preload(context);
	syslog(LOG_INFO, "listening on %s", address);
	int ret = shim_listen_run(fd, max_children > 0 ?
				  (unsigned int)max_children : 200, serve,
				  context);
	close(fd);
	if (ret < 0)
		syslog(LOG_ERR, "accept on %s: %s", address, g_strerror(-ret));
	return ret < 0 ? 1 : 0;
}

struct shim_tls *shim_tls_load(const char *cert_file, const char *key_file)
{
	struct shim_tls *tls = NULL;
	g_autofree char *error = NULL;

	if (cert_file == NULL || key_file == NULL) {
		syslog(LOG_ERR, "TLS: no tls_cert and tls_key");
		return NULL;
	}
	if (shim_tls_create(cert_file, key_file, &tls, &error) < 0) {
		syslog(LOG_ERR, "TLS: %s", error);
		return NULL;
	}
	return tls;
}

int shim_serve_stdio(bool implicit_tls, const char *cert_file,
		     const char *key_file, struct shim_tls *tls,
		     shim_session_fn *session, void *context)
{
	struct shim_io *io = shim_io_create(0, 1);
	struct shim_tls *own = NULL;
	int status = 1;
	int one = 1;

	setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (implicit_tls) {
		if (tls == NULL)
			tls = own = shim_tls_load(cert_file, key_file);
		if (tls == NULL || shim_io_start_tls(io, tls) < 0) {
			syslog(LOG_NOTICE, "TLS handshake failed");
			goto out;
		}
	}
	status = session(io, tls, context);
out:
	shim_io_destroy(&io);
	shim_tls_destroy(&own);
	return status;
}
