#include "fuzz-peer.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct fuzz_peer {
	int fd;
	const uint8_t *data;  /* what is left to send */
	size_t len;
	GString *out;         /* everything the server sent */
	pthread_t thread;
};

/* Writes the rest of the input and reads replies until the server closes
 * its end. */
static void *peer_run(void *context)
{
	struct fuzz_peer *c = context;
	char buf[16384];

	for (;;) {
		struct pollfd pfd = {
			.fd = c->fd,
			.events = POLLIN | (c->len > 0 ? POLLOUT : 0),
		};
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		if (pfd.revents & POLLOUT) {
			ssize_t n = send(c->fd, c->data, c->len,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				c->data += n;
				c->len -= (size_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* The server is gone: nothing more to send. */
				c->len = 0;
			}
			if (c->len == 0)
				shutdown(c->fd, SHUT_WR);
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n > 0)
				g_string_append_len(c->out, buf, n);
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	return NULL;
}

struct fuzz_peer *fuzz_peer_start(const uint8_t *data, size_t size,
				  int *server_fd_r)
{
	struct fuzz_peer *c = g_new0(struct fuzz_peer, 1);
	int fds[2], bufsize = 1 << 20;

	c->data = data;
	c->len = size;
	c->out = g_string_new(NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		abort();
	/* As much as the kernel allows goes in before the session starts. */
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	while (c->len > 0) {
		ssize_t n = send(fds[0], c->data, c->len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		c->data += n;
		c->len -= (size_t)n;
	}
	if (c->len == 0)
		shutdown(fds[0], SHUT_WR);
	c->fd = fds[0];
	if (pthread_create(&c->thread, NULL, peer_run, c) != 0)
		abort();
	*server_fd_r = fds[1];
	return c;
}

GString *fuzz_peer_finish(struct fuzz_peer *c, int server_fd,
			  const char *echo)
{
	GString *out = c->out;

	close(server_fd);
	pthread_join(c->thread, NULL);
	close(c->fd);
	g_free(c);
	if (getenv(echo) != NULL)
		fwrite(out->str, 1, out->len, stderr);
	return out;
}
