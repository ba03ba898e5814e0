/* The client side of a whole-session fuzzer (after Dovecot's
 * fuzz-smtp-server.c): the input goes into one end of a socketpair, the
 * session under test serves the other end as its stdin and stdout, and a
 * helper thread writes whatever did not fit and collects the replies. */
#ifndef VVM_FUZZ_PEER_H
#define VVM_FUZZ_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

struct fuzz_peer;

/* Writes as much of data as the socket takes before the session starts
 * (for inputs up to the server's read chunk a run is then reproducible),
 * closes the client's writing side once all is sent, and starts the
 * helper thread. *server_fd_r is the session's end. Aborts on failure. */
struct fuzz_peer *fuzz_peer_start(const uint8_t *data, size_t size,
				  int *server_fd_r);

/* After the session returned: closes the server's end, waits for the
 * helper and returns everything the server sent (g_string_free() it).
 * With the environment variable echo set, the conversation also goes to
 * stderr. */
GString *fuzz_peer_finish(struct fuzz_peer *peer, int server_fd,
			  const char *echo);

#endif
