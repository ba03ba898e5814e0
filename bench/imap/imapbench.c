/* imapbench: the VVM client's sync cycle against an IMAP server, for
 * comparing vvm-imapd with Dovecot. Driven by run.sh in this directory.
 *
 *   imapbench inetd   --port-file F [--nodelay 1] -- CMD [ARG...]
 *   imapbench deposit --mode vvmfs|maildir --dir D --count C [--id-base K]
 *   imapbench reset   --port P --subs S [--base M] [--password PW]
 *   imapbench run     --port P --clients N --subs S [--base M]
 *                     [--password PW] [--warmup SECS] [--duration SECS]
 *                     [--watch LABEL:PID]...
 *   imapbench idle    --port P --sessions K --subs S [--base M]
 *                     [--password PW] --ppid PID --comm NAME[,NAME...]
 *                     [--daemon PID]... [--settle SECS]
 *
 * inetd: what inetd does, and nothing more: listens on a random free port
 * of 127.0.0.1 (written to F), and for every connection fork()s and
 * exec()s CMD with the socket as stdin and stdout; with --nodelay 1 it sets
 * TCP_NODELAY on the socket first, as systemd's NoDelay=yes does (xinetd
 * and inetd do not). On SIGTERM it prints
 * "RESULT inetd spawned=.. failed=.." on stderr and exits.
 *
 * deposit: C identical VVM voice messages (the shape of voice_message() in
 * tests/integration/conftest.py, an audio/amr part of 10-30 KB base64) into
 * one mailbox: a vvmfs INBOX (create, write, fsync = commit, close) or a
 * Maildir (into cur/ with ":2," as an MDA plus an earlier session would).
 *
 * run: N client threads each loop over sessions; a session is exactly
 *   connect, greeting, LOGIN, SELECT INBOX,
 *   UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS
 *     (FROM TO DATE SUBJECT MESSAGE-CONTEXT CONTENT-DURATION)] BODYSTRUCTURE),
 *   UID FETCH <uid> BODY.PEEK[2], UID STORE <uid> +FLAGS (\Seen), LOGOUT
 * on subscriber (base + i % S) for the i-th session of the whole run. <uid>
 * is the first message the FETCH showed without \Seen (the new message a
 * client plays), else one chosen round robin. Every tagged reply must be OK
 * and every answer the expected shape, or the session counts as an error.
 * Sessions that end inside [warmup, warmup + duration] are counted.
 *
 * reset: one session per subscriber that does UID STORE 1:* -FLAGS.SILENT
 * (\Seen), so every run starts with 50 unseen messages per subscriber.
 *
 * idle: K sessions logged in with INBOX selected, then, while they idle,
 * the Pss and Rss (/proc/PID/smaps_rollup) of every process whose parent is
 * PID and whose name is one of NAMEs (the per-session processes), and of
 * each --daemon PID; then LOGOUT of every session.
 *
 * Each subcommand prints one "RESULT <subcommand> key=value ..." line on
 * stdout. Times come from CLOCK_MONOTONIC. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WATCH 32
#define MAX_LINE 65536
#define N_STEPS 7
#define FETCH_ITEMS                                                          \
	"(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM "  \
	"TO DATE SUBJECT MESSAGE-CONTEXT CONTENT-DURATION)] BODYSTRUCTURE)"

static const char *const step_names[N_STEPS] = {
	"greeting", "login", "select", "fetch_hdr", "fetch_body", "store",
	"logout",
};

struct watch {
	char label[32];
	pid_t pid;
	unsigned long long t0;	/* utime+stime+cutime+cstime, ticks */
};

static struct {
	const char *mode, *dir, *port_file, *password, *comm;
	unsigned long long base;
	unsigned port, clients, subs, count, sessions, id_base, nodelay;
	double warmup, duration, settle;
	pid_t ppid;
	struct watch watch[MAX_WATCH];
	unsigned n_watch;
	pid_t daemons[MAX_WATCH];
	unsigned n_daemons;
	char **cmd;
} o = {
	.base = 31600000000ULL, .password = "s3cret-Pw", .clients = 1,
	.subs = 8, .count = 50, .sessions = 50, .warmup = 2, .duration = 10,
	.settle = 2,
};

/* ---- helpers ---------------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("imapbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		die("out of memory (%zu bytes)", n);
	return p;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)((p / 100.0) * (double)n + 0.999999);
	rank = rank < 1 ? 1 : rank > n ? n : rank;
	return v[rank - 1];
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write: %s", n < 0 ? strerror(errno) : "0 bytes");
		p += n;
		len -= (size_t)n;
	}
}

/* ---- the message ------------------------------------------------------ */

/* Message id: its audio is 7.5-22.5 KB of bytes after "#!AMR\n", so the
 * base64 part is 10-30 KB; identical for both servers. */
static char *make_message(unsigned id, size_t *len_r)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t alen = 7500 + (size_t)id * 7919 % 15000, blen, off;
	unsigned char *audio = xmalloc(alen);
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)id << 32);
	char head[1024], *msg, *p;
	int hl;

	memcpy(audio, "#!AMR\n", 6);
	for (size_t i = 6; i < alen; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		audio[i] = (unsigned char)x;
	}
	hl = snprintf(head, sizeof(head),
		      "From: +31600000001@example.net\r\n"
		      "To: 31612345678@example.net\r\n"
		      "Date: Sun, 22 Nov 2026 10:%02u:00 +0000\r\n"
		      "Subject: voice mail %u\r\n"
		      "Message-ID: <imapbench-%u@vvm.test>\r\n"
		      "Message-Context: voice-message\r\n"
		      "Content-Duration: %u\r\n"
		      "MIME-Version: 1.0\r\n"
		      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
		      "\r\n"
		      "--b1\r\n"
		      "Content-Type: text/plain; charset=us-ascii\r\n"
		      "\r\n"
		      "You have a voice message.\r\n"
		      "--b1\r\n"
		      "Content-Type: audio/amr\r\n"
		      "Content-Transfer-Encoding: base64\r\n"
		      "Content-Disposition: attachment; filename=\"vm.amr\"\r\n"
		      "Content-Duration: %u\r\n"
		      "\r\n", id % 60, id, id, 5 + id % 20, 5 + id % 20);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		die("message head too long");
	blen = (alen + 2) / 3 * 4;
	msg = xmalloc((size_t)hl + blen + blen / 76 * 2 + 16 + 16);
	memcpy(msg, head, (size_t)hl);
	p = msg + hl;
	off = 0;
	for (size_t i = 0; i < alen; i += 3) {
		uint32_t v = (uint32_t)audio[i] << 16;
		size_t n = alen - i < 3 ? alen - i : 3;

		if (n > 1)
			v |= (uint32_t)audio[i + 1] << 8;
		if (n > 2)
			v |= audio[i + 2];
		*p++ = tbl[(v >> 18) & 63];
		*p++ = tbl[(v >> 12) & 63];
		*p++ = n > 1 ? tbl[(v >> 6) & 63] : '=';
		*p++ = n > 2 ? tbl[v & 63] : '=';
		off += 4;
		if (off == 76 || i + 3 >= alen) {
			*p++ = '\r';
			*p++ = '\n';
			off = 0;
		}
	}
	memcpy(p, "--b1--\r\n", 8);
	p += 8;
	free(audio);
	*len_r = (size_t)(p - msg);
	return msg;
}

static int cmd_deposit(void)
{
	bool vvmfs;

	if (o.mode == NULL || o.dir == NULL)
		die("deposit: --mode and --dir are required");
	vvmfs = strcmp(o.mode, "vvmfs") == 0;
	if (!vvmfs && strcmp(o.mode, "maildir") != 0)
		die("deposit: --mode vvmfs|maildir");
	for (unsigned j = 0; j < o.count; j++) {
		unsigned id = o.id_base + j;
		char path[4096];
		size_t len;
		char *msg = make_message(id, &len);
		int fd;

		if (vvmfs)
			snprintf(path, sizeof(path), "%s/imapbench-%u.tmp",
				 o.dir, id);
		else
			snprintf(path, sizeof(path),
				 "%s/cur/%u.M%uP%d.imapbench:2,",
				 o.dir, 1700000000u + id, id, (int)getpid());
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
			  0600);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		write_all(fd, msg, len);
		if (fsync(fd) != 0)
			die("fsync %s: %s", path, strerror(errno));
		if (close(fd) != 0)
			die("close %s: %s", path, strerror(errno));
		free(msg);
	}
	printf("RESULT deposit mode=%s dir=%s count=%u\n", o.mode, o.dir,
	       o.count);
	return 0;
}

/* ---- inetd ------------------------------------------------------------ */

static volatile sig_atomic_t inetd_stop;
static volatile sig_atomic_t n_failed, n_reaped;

static void on_chld(int sig)
{
	int saved = errno, status;

	(void)sig;
	while (waitpid(-1, &status, WNOHANG) > 0) {
		n_reaped++;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			n_failed++;
	}
	errno = saved;
}

static void on_term(int sig)
{
	(void)sig;
	inetd_stop = 1;
}

static int cmd_inetd(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sigaction chld = { .sa_handler = on_chld,
				  .sa_flags = SA_RESTART | SA_NOCLDSTOP };
	struct sigaction term = { .sa_handler = on_term };
	socklen_t sl = sizeof(sa);
	unsigned long spawned = 0;
	int one = 1, lfd;
	FILE *f;

	if (o.port_file == NULL || o.cmd == NULL || o.cmd[0] == NULL)
		die("inetd: --port-file F -- CMD");
	sigaction(SIGCHLD, &chld, NULL);
	sigaction(SIGTERM, &term, NULL);
	sigaction(SIGINT, &term, NULL);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 1024) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		die("bind/listen: %s", strerror(errno));
	f = fopen(o.port_file, "w");
	if (f == NULL || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 ||
	    fclose(f) != 0)
		die("%s: %s", o.port_file, strerror(errno));
	while (!inetd_stop) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pid_t pid;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept: %s", strerror(errno));
		}
		if (o.nodelay &&
		    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
			die("TCP_NODELAY: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			signal(SIGCHLD, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			if (dup2(c, 0) < 0 || dup2(c, 1) < 0)
				_exit(127);
			execv(o.cmd[0], o.cmd);
			_exit(127);
		}
		spawned++;
		close(c);
	}
	fprintf(stderr, "RESULT inetd spawned=%lu reaped=%d failed=%d\n",
		spawned, (int)n_reaped, (int)n_failed);
	return 0;
}

/* ---- the IMAP client -------------------------------------------------- */

struct conn {
	int fd;
	char buf[MAX_LINE];
	size_t start, end;
	char line[MAX_LINE];	/* the logical line, literals left out */
	size_t llen;
	size_t literal_bytes;	/* bytes of literals in the last line */
	char err[256];
};

static bool conn_fail(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool conn_fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return false;
}

static bool conn_open(struct conn *c, unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 30 };
	int one = 1;

	c->start = c->end = 0;
	c->err[0] = '\0';
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return conn_fail(c, "socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return conn_fail(c, "connect: %s", strerror(errno));
	return true;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static bool conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof(c->buf))
		return conn_fail(c, "line too long");
	do
		n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return conn_fail(c, "read: %s", strerror(errno));
	if (n == 0)
		return conn_fail(c, "connection closed by the server");
	c->end += (size_t)n;
	return true;
}

/* Appends the raw line up to CRLF to c->line; true when a whole line. */
static bool read_raw_line(struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);

		if (nl != NULL) {
			size_t n = (size_t)(nl - (c->buf + c->start)) + 1;

			if (c->llen + n >= sizeof(c->line))
				return conn_fail(c, "response line too long");
			memcpy(c->line + c->llen, c->buf + c->start, n);
			c->llen += n;
			c->start += n;
			while (c->llen > 0 && (c->line[c->llen - 1] == '\n' ||
					       c->line[c->llen - 1] == '\r'))
				c->llen--;
			c->line[c->llen] = '\0';
			return true;
		}
		if (!conn_fill(c))
			return false;
	}
}

static bool skip_bytes(struct conn *c, size_t n)
{
	while (n > 0) {
		size_t have = c->end - c->start;

		if (have == 0) {
			c->start = c->end = 0;
			if (!conn_fill(c))
				return false;
			continue;
		}
		have = have < n ? have : n;
		c->start += have;
		n -= have;
	}
	return true;
}

/* One logical response line: a line ending in {n} is followed by an n-byte
 * literal (skipped, counted) and the rest of the line. */
static bool read_line(struct conn *c)
{
	c->llen = 0;
	c->literal_bytes = 0;
	for (;;) {
		size_t before = c->llen;
		char *lb;
		unsigned long long n;

		if (!read_raw_line(c))
			return false;
		if (c->llen == before || c->line[c->llen - 1] != '}')
			return true;
		lb = memrchr(c->line + before, '{', c->llen - before);
		if (lb == NULL)
			return true;
		n = strtoull(lb + 1, NULL, 10);
		if (!skip_bytes(c, (size_t)n))
			return false;
		c->literal_bytes += (size_t)n;
	}
}

static bool send_cmd(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool send_cmd(struct conn *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;
	size_t off = 0;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 2)
		return conn_fail(c, "command too long");
	memcpy(buf + n, "\r\n", 2);
	while (off < (size_t)n + 2) {
		ssize_t w = write(c->fd, buf + off, (size_t)n + 2 - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return conn_fail(c, "write: %s", strerror(errno));
		off += (size_t)w;
	}
	return true;
}

/* What the untagged answers of one command showed. */
struct answer {
	unsigned exists;
	unsigned fetches;
	unsigned *uids;		/* in FETCH order */
	bool *seen;
	unsigned cap;
	size_t literal_bytes;	/* of the counted FETCH answers */
	const char *want;	/* a FETCH answer to count contains this */
	bool bye;
	char last[160];		/* a repeated FETCH answer, for errors */
	unsigned char seqs[1024];	/* FETCH answers by sequence number */
};

static void answer_untagged(struct answer *a, const char *line,
			    size_t literal_bytes)
{
	const char *p;
	char *end;
	unsigned long v;

	if (strncmp(line, "* BYE", 5) == 0) {
		a->bye = true;
		return;
	}
	if (line[0] != '*' || line[1] != ' ' || !isdigit((unsigned char)line[2]))
		return;
	v = strtoul(line + 2, &end, 10);
	if (strcmp(end, " EXISTS") == 0) {
		a->exists = (unsigned)v;
		return;
	}
	if (strncmp(end, " FETCH (", 8) != 0)
		return;
	/* Only the answers to our command: a server may also send
	 * unsolicited FETCH (FLAGS ...) when another session changed flags. */
	if (a->want != NULL && strstr(end, a->want) == NULL)
		return;
	if (a->uids != NULL && a->fetches < a->cap) {
		p = strstr(end, "UID ");
		/* " UID " or "(UID ": not a part of BODY.PEEK names */
		while (p != NULL && p[-1] != ' ' && p[-1] != '(')
			p = strstr(p + 1, "UID ");
		a->uids[a->fetches] = p ? (unsigned)strtoul(p + 4, NULL, 10) : 0;
		p = strstr(end, "FLAGS (");
		a->seen[a->fetches] = false;
		if (p != NULL) {
			const char *rp = strchr(p, ')');
			const char *sp = strstr(p, "\\Seen");

			a->seen[a->fetches] = sp != NULL && rp != NULL &&
					      sp < rp;
		}
	}
	a->fetches++;
	a->literal_bytes += literal_bytes;
	if (v < sizeof(a->seqs) && a->seqs[v]++ > 0)
		snprintf(a->last, sizeof(a->last), "%.*s",
			 (int)(sizeof(a->last) - 1), line);
}

/* Reads until the tagged reply of tag; true when it is OK. */
static bool expect_ok(struct conn *c, const char *tag, struct answer *a)
{
	size_t tl = strlen(tag);

	for (;;) {
		if (!read_line(c))
			return false;
		if (strncmp(c->line, tag, tl) == 0 && c->line[tl] == ' ') {
			if (strncmp(c->line + tl + 1, "OK", 2) != 0)
				return conn_fail(c, "%.200s", c->line);
			return true;
		}
		if (a != NULL)
			answer_untagged(a, c->line, c->literal_bytes);
	}
}

static bool do_login(struct conn *c, unsigned long long user)
{
	if (!send_cmd(c, "a1 LOGIN %llu %s", user, o.password) ||
	    !expect_ok(c, "a1", NULL))
		return false;
	return true;
}

static bool do_select(struct conn *c, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	if (!send_cmd(c, "a2 SELECT INBOX") || !expect_ok(c, "a2", a))
		return false;
	if (a->exists == 0)
		return conn_fail(c, "SELECT: no EXISTS or an empty INBOX");
	return true;
}

static bool do_greeting(struct conn *c)
{
	if (!read_line(c))
		return false;
	if (strncmp(c->line, "* OK", 4) != 0)
		return conn_fail(c, "greeting: %.200s", c->line);
	return true;
}

/* The sync cycle. t[] gets the end time of each step. */
static bool session(struct conn *c, unsigned long long user, unsigned long rr,
		    double t[N_STEPS], bool *changed_r)
{
	struct answer a;
	unsigned uid = 0, n, *uids = NULL;
	bool *seen = NULL;
	int k = 0;
	bool ok = false;

	if (!conn_open(c, o.port) || !do_greeting(c))
		goto out;
	t[k++] = now();
	if (!do_login(c, user))
		goto out;
	t[k++] = now();
	if (!do_select(c, &a))
		goto out;
	t[k++] = now();
	n = a.exists;
	memset(&a, 0, sizeof(a));
	a.cap = n;
	a.want = "BODYSTRUCTURE";
	a.uids = uids = xmalloc(sizeof(*uids) * n);
	a.seen = seen = xmalloc(sizeof(*seen) * n);
	if (!send_cmd(c, "a3 UID FETCH 1:* " FETCH_ITEMS) ||
	    !expect_ok(c, "a3", &a))
		goto out_free;
	if (a.fetches != n) {
		conn_fail(c, "UID FETCH 1:*: %u FETCH answers for %u messages; "
			  "repeated: %s", a.fetches, n, a.last);
		goto out_free;
	}
	if (a.literal_bytes < 100u * n) {
		conn_fail(c, "UID FETCH 1:*: only %zu bytes of headers",
			  a.literal_bytes);
		goto out_free;
	}
	*changed_r = false;
	for (unsigned i = 0; i < n; i++) {
		if (a.uids[i] == 0) {
			conn_fail(c, "UID FETCH 1:*: an answer without UID");
			goto out_free;
		}
		if (!a.seen[i] && uid == 0) {
			uid = a.uids[i];
			*changed_r = true;
		}
	}
	if (uid == 0)
		uid = a.uids[rr % n];
	t[k++] = now();
	memset(&a, 0, sizeof(a));
	a.want = "BODY[2]";
	if (!send_cmd(c, "a4 UID FETCH %u BODY.PEEK[2]", uid) ||
	    !expect_ok(c, "a4", &a))
		goto out_free;
	if (a.fetches != 1 || a.literal_bytes < 10000) {
		conn_fail(c, "UID FETCH %u BODY.PEEK[2]: %u answers, %zu bytes",
			  uid, a.fetches, a.literal_bytes);
		goto out_free;
	}
	t[k++] = now();
	if (!send_cmd(c, "a5 UID STORE %u +FLAGS (\\Seen)", uid) ||
	    !expect_ok(c, "a5", NULL))
		goto out_free;
	t[k++] = now();
	memset(&a, 0, sizeof(a));
	if (!send_cmd(c, "a6 LOGOUT") || !expect_ok(c, "a6", &a))
		goto out_free;
	if (!a.bye) {
		conn_fail(c, "LOGOUT without BYE");
		goto out_free;
	}
	t[k++] = now();
	ok = true;
out_free:
	free(uids);
	free(seen);
out:
	conn_close(c);
	return ok;
}

/* ---- run -------------------------------------------------------------- */

static atomic_ulong next_session;
static atomic_uint errors_printed;

struct worker {
	pthread_t th;
	double t_begin, t_end;	/* the measured window */
	double *lat;		/* whole session, seconds */
	double *step;		/* N_STEPS per session */
	size_t n, cap;
	unsigned long errors, changed, total;
	pthread_barrier_t *barrier;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct conn *c = xmalloc(sizeof(*c));
	int err = pthread_barrier_wait(w->barrier);

	if (err != 0 && err != PTHREAD_BARRIER_SERIAL_THREAD)
		die("pthread_barrier_wait: %s", strerror(err));
	c->fd = -1;
	for (;;) {
		double t0 = now(), t[N_STEPS];
		unsigned long i;
		bool changed = false, ok;

		if (t0 >= w->t_end)
			break;
		i = atomic_fetch_add(&next_session, 1);
		ok = session(c, o.base + i % o.subs, i / o.subs, t, &changed);
		if (ok && t[N_STEPS - 1] > w->t_end)
			break;
		w->total++;
		if (!ok) {
			if (now() >= w->t_begin)
				w->errors++;
			if (atomic_fetch_add(&errors_printed, 1) < 10)
				fprintf(stderr, "imapbench: session of %llu: %s\n",
					o.base + i % o.subs, c->err);
			continue;
		}
		if (t[N_STEPS - 1] < w->t_begin)
			continue;
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 1024;
			w->lat = realloc(w->lat, w->cap * sizeof(double));
			w->step = realloc(w->step,
					  w->cap * N_STEPS * sizeof(double));
			if (w->lat == NULL || w->step == NULL)
				die("out of memory");
		}
		w->lat[w->n] = t[N_STEPS - 1] - t0;
		for (int s = 0; s < N_STEPS; s++)
			w->step[w->n * N_STEPS + s] =
				t[s] - (s == 0 ? t0 : t[s - 1]);
		w->n++;
		w->changed += changed;
	}
	free(c);
	return NULL;
}

/* utime+stime+cutime+cstime of pid in clock ticks; ULLONG_MAX when the
 * process is gone. */
static unsigned long long proc_ticks(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long long v[4];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ULLONG_MAX;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return ULLONG_MAX;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime */
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			  "%llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3]) != 4)
		die("parse %s", path);
	return v[0] + v[1] + v[2] + v[3];
}

static double cpu_secs(const struct rusage *r)
{
	return (double)r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 +
	       (double)r->ru_stime.tv_sec + r->ru_stime.tv_usec / 1e6;
}

static int cmd_run(void)
{
	struct worker *w = xmalloc(sizeof(*w) * o.clients);
	pthread_barrier_t barrier;
	struct rusage r0, r1;
	double start, t_begin, t_end, *all, *steps, secs, client_cpu;
	unsigned long errors = 0, changed = 0, total = 0;
	size_t n = 0;
	long hz = sysconf(_SC_CLK_TCK);

	if (o.port == 0)
		die("run: --port is required");
	pthread_barrier_init(&barrier, NULL, o.clients + 1);
	start = now() + 0.05;
	t_begin = start + o.warmup;
	t_end = t_begin + o.duration;
	for (unsigned i = 0; i < o.clients; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].t_begin = t_begin;
		w[i].t_end = t_end;
		w[i].barrier = &barrier;
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			die("pthread_create");
	}
	pthread_barrier_wait(&barrier);
	/* CPU counters at the start of the window */
	while (now() < t_begin)
		usleep((useconds_t)((t_begin - now()) * 1e6) + 1);
	getrusage(RUSAGE_SELF, &r0);
	for (unsigned i = 0; i < o.n_watch; i++)
		o.watch[i].t0 = proc_ticks(o.watch[i].pid);
	while (now() < t_end)
		usleep((useconds_t)((t_end - now()) * 1e6) + 1);
	getrusage(RUSAGE_SELF, &r1);
	secs = now() - t_begin;
	client_cpu = cpu_secs(&r1) - cpu_secs(&r0);
	unsigned long long dt[MAX_WATCH];
	unsigned lost = 0;
	for (unsigned i = 0; i < o.n_watch; i++) {
		unsigned long long t1 = proc_ticks(o.watch[i].pid);

		if (t1 == ULLONG_MAX || o.watch[i].t0 == ULLONG_MAX) {
			dt[i] = 0;
			lost++;
		} else {
			dt[i] = t1 - o.watch[i].t0;
		}
	}
	for (unsigned i = 0; i < o.clients; i++) {
		pthread_join(w[i].th, NULL);
		n += w[i].n;
	}
	all = xmalloc(sizeof(double) * (n + 1));
	steps = xmalloc(sizeof(double) * (n + 1) * N_STEPS);
	n = 0;
	for (unsigned i = 0; i < o.clients; i++) {
		memcpy(all + n, w[i].lat, w[i].n * sizeof(double));
		memcpy(steps + n * N_STEPS, w[i].step,
		       w[i].n * N_STEPS * sizeof(double));
		n += w[i].n;
		errors += w[i].errors;
		changed += w[i].changed;
		total += w[i].total;
		free(w[i].lat);
		free(w[i].step);
	}
	/* per-step medians, before all[] is sorted */
	double step_p50[N_STEPS];
	double *col = xmalloc(sizeof(double) * (n + 1));
	for (int s = 0; s < N_STEPS; s++) {
		for (size_t i = 0; i < n; i++)
			col[i] = steps[i * N_STEPS + s];
		qsort(col, n, sizeof(double), cmp_double);
		step_p50[s] = pct(col, n, 50);
	}
	qsort(all, n, sizeof(double), cmp_double);
	printf("RESULT run port=%u clients=%u subs=%u secs=%.3f sessions=%zu "
	       "rate=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%lu "
	       "stores_changed=%lu client_cpu_pct=%.1f",
	       o.port, o.clients, o.subs, secs, n, (double)n / secs,
	       pct(all, n, 50) * 1e3, pct(all, n, 99) * 1e3,
	       n ? all[n - 1] * 1e3 : 0.0, errors, changed,
	       100.0 * client_cpu / secs);
	for (int s = 0; s < N_STEPS; s++)
		printf(" %s_ms=%.3f", step_names[s], step_p50[s] * 1e3);
	/* CPU of watched processes (self + reaped children) per session,
	 * summed by label */
	for (unsigned i = 0; i < o.n_watch; i++) {
		bool first = true;
		double sum = 0;

		for (unsigned j = 0; j < o.n_watch; j++) {
			if (strcmp(o.watch[j].label, o.watch[i].label) != 0)
				continue;
			if (j < i)
				first = false;
			sum += (double)dt[j] / (double)hz;
		}
		if (first)
			printf(" cpu_%s_pct=%.1f cpu_%s_ms_per_session=%.3f",
			       o.watch[i].label, 100.0 * sum / secs,
			       o.watch[i].label, n ? sum * 1e3 / (double)n : 0);
	}
	printf(" client_cpu_ms_per_session=%.3f watch_lost=%u\n",
	       n ? client_cpu * 1e3 / (double)n : 0, lost);
	free(col);
	free(steps);
	free(all);
	free(w);
	pthread_barrier_destroy(&barrier);
	return errors == 0 && n > 0 ? 0 : 3;
}

/* ---- reset ------------------------------------------------------------ */

static int cmd_reset(void)
{
	struct conn *c = xmalloc(sizeof(*c));
	struct answer a;

	for (unsigned k = 0; k < o.subs; k++) {
		if (!conn_open(c, o.port) || !do_greeting(c) ||
		    !do_login(c, o.base + k) || !do_select(c, &a) ||
		    !send_cmd(c, "a3 UID STORE 1:* -FLAGS.SILENT (\\Seen)") ||
		    !expect_ok(c, "a3", NULL) || !send_cmd(c, "a4 LOGOUT") ||
		    !expect_ok(c, "a4", NULL))
			die("reset of %llu: %s", o.base + k, c->err);
		if (a.exists != o.count)
			die("reset of %llu: %u messages, %u expected",
			    o.base + k, a.exists, o.count);
		conn_close(c);
	}
	printf("RESULT reset subs=%u\n", o.subs);
	free(c);
	return 0;
}

/* ---- idle ------------------------------------------------------------- */

struct mem {
	unsigned long long rss, pss, uss;	/* kB */
};

static bool read_mem(pid_t pid, struct mem *m)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long v;

		if (sscanf(line, "Rss: %llu", &v) == 1)
			m->rss += v;
		else if (sscanf(line, "Pss: %llu", &v) == 1)
			m->pss += v;
		else if (sscanf(line, "Private_Clean: %llu", &v) == 1 ||
			 sscanf(line, "Private_Dirty: %llu", &v) == 1)
			m->uss += v;
	}
	fclose(f);
	return true;
}

/* comm and ppid of pid from /proc/PID/stat */
static bool proc_comm(pid_t pid, char *comm, size_t len, pid_t *ppid_r)
{
	char path[64], buf[1024], *lp, *rp;
	ssize_t n;
	int fd, ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (lp == NULL || rp == NULL || sscanf(rp + 2, "%*c %d", &ppid) != 1)
		return false;
	*rp = '\0';
	snprintf(comm, len, "%s", lp + 1);
	*ppid_r = ppid;
	return true;
}

static bool comm_wanted(const char *comm)
{
	size_t l = strlen(comm);
	const char *p = o.comm;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ',');
		size_t pl = e ? (size_t)(e - p) : strlen(p);

		if (pl == l && strncmp(p, comm, l) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static int cmd_idle(void)
{
	struct conn *c = xmalloc(sizeof(*c) * o.sessions);
	struct mem sess = { 0 }, dmn = { 0 };
	char names[1024] = "";
	unsigned procs = 0;
	DIR *d;
	struct dirent *de;
	struct answer a;

	if (o.port == 0 || o.ppid == 0 || o.comm == NULL)
		die("idle: --port, --ppid and --comm are required");
	for (unsigned i = 0; i < o.sessions; i++) {
		if (!conn_open(&c[i], o.port) || !do_greeting(&c[i]) ||
		    !do_login(&c[i], o.base + i % o.subs) ||
		    !do_select(&c[i], &a))
			die("idle session %u: %s", i, c[i].err);
	}
	usleep((useconds_t)(o.settle * 1e6));
	d = opendir("/proc");
	if (d == NULL)
		die("opendir /proc: %s", strerror(errno));
	/* counts by name */
	struct { char name[32]; unsigned n; } seen[8];
	unsigned n_seen = 0;
	while ((de = readdir(d)) != NULL) {
		char comm[64];
		pid_t pid, ppid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (!proc_comm(pid, comm, sizeof(comm), &ppid) ||
		    ppid != o.ppid || !comm_wanted(comm))
			continue;
		if (!read_mem(pid, &sess))
			continue;
		procs++;
		unsigned k;
		for (k = 0; k < n_seen; k++)
			if (strcmp(seen[k].name, comm) == 0)
				break;
		if (k == n_seen && n_seen < 8) {
			snprintf(seen[k].name, sizeof(seen[k].name), "%s", comm);
			seen[k].n = 0;
			n_seen++;
		}
		if (k < n_seen)
			seen[k].n++;
	}
	closedir(d);
	for (unsigned k = 0; k < n_seen; k++) {
		size_t l = strlen(names);

		snprintf(names + l, sizeof(names) - l, "%s%s:%u",
			 k ? "," : "", seen[k].name, seen[k].n);
	}
	for (unsigned i = 0; i < o.n_daemons; i++)
		if (!read_mem(o.daemons[i], &dmn))
			die("smaps_rollup of daemon %d", (int)o.daemons[i]);
	for (unsigned i = 0; i < o.sessions; i++) {
		if (!send_cmd(&c[i], "a9 LOGOUT") || !expect_ok(&c[i], "a9", NULL))
			die("idle session %u LOGOUT: %s", i, c[i].err);
		conn_close(&c[i]);
	}
	printf("RESULT idle sessions=%u procs=%u by_name=%s "
	       "pss_kb_per_session=%.0f rss_kb_per_session=%.0f "
	       "uss_kb_per_session=%.0f daemons=%u daemon_pss_kb=%llu "
	       "daemon_rss_kb=%llu\n",
	       o.sessions, procs, names[0] ? names : "-",
	       (double)sess.pss / o.sessions, (double)sess.rss / o.sessions,
	       (double)sess.uss / o.sessions, o.n_daemons, dmn.pss, dmn.rss);
	free(c);
	return procs >= o.sessions ? 0 : 3;
}

/* ---- options ---------------------------------------------------------- */

static unsigned long parse_num(const char *s, const char *opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		die("%s: bad number '%s'", opt, s);
	return v;
}

int main(int argc, char **argv)
{
	const char *sub;

	if (argc < 2)
		die("usage: imapbench inetd|deposit|reset|run|idle [options]");
	sub = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--") == 0) {
			o.cmd = argv + i + 1;
			break;
		}
		if (v == NULL)
			die("%s needs a value", a);
		i++;
		if (strcmp(a, "--mode") == 0)
			o.mode = v;
		else if (strcmp(a, "--dir") == 0)
			o.dir = v;
		else if (strcmp(a, "--port-file") == 0)
			o.port_file = v;
		else if (strcmp(a, "--password") == 0)
			o.password = v;
		else if (strcmp(a, "--comm") == 0)
			o.comm = v;
		else if (strcmp(a, "--base") == 0)
			o.base = strtoull(v, NULL, 10);
		else if (strcmp(a, "--port") == 0)
			o.port = (unsigned)parse_num(v, a);
		else if (strcmp(a, "--clients") == 0)
			o.clients = (unsigned)parse_num(v, a);
		else if (strcmp(a, "--subs") == 0)
			o.subs = (unsigned)parse_num(v, a);
		else if (strcmp(a, "--count") == 0)
			o.count = (unsigned)parse_num(v, a);
		else if (strcmp(a, "--id-base") == 0)
			o.id_base = (unsigned)parse_num(v, a);
		else if (strcmp(a, "--nodelay") == 0)
			o.nodelay = (unsigned)parse_num(v, a);
		else if (strcmp(a, "--sessions") == 0)
			o.sessions = (unsigned)parse_num(v, a);
		else if (strcmp(a, "--ppid") == 0)
			o.ppid = (pid_t)parse_num(v, a);
		else if (strcmp(a, "--warmup") == 0)
			o.warmup = atof(v);
		else if (strcmp(a, "--duration") == 0)
			o.duration = atof(v);
		else if (strcmp(a, "--settle") == 0)
			o.settle = atof(v);
		else if (strcmp(a, "--daemon") == 0) {
			if (o.n_daemons == MAX_WATCH)
				die("too many --daemon");
			o.daemons[o.n_daemons++] = (pid_t)parse_num(v, a);
		} else if (strcmp(a, "--watch") == 0) {
			const char *colon = strchr(v, ':');
			struct watch *w = &o.watch[o.n_watch];

			if (o.n_watch == MAX_WATCH || colon == NULL ||
			    (size_t)(colon - v) >= sizeof(w->label))
				die("--watch LABEL:PID");
			memcpy(w->label, v, (size_t)(colon - v));
			w->label[colon - v] = '\0';
			w->pid = (pid_t)parse_num(colon + 1, a);
			o.n_watch++;
		} else
			die("unknown option %s", a);
	}
	if (o.clients == 0 || o.subs == 0 || o.sessions == 0)
		die("--clients, --subs and --sessions must be > 0");
	if (strcmp(sub, "inetd") == 0)
		return cmd_inetd();
	if (strcmp(sub, "deposit") == 0)
		return cmd_deposit();
	if (strcmp(sub, "reset") == 0)
		return cmd_reset();
	if (strcmp(sub, "run") == 0)
		return cmd_run();
	if (strcmp(sub, "idle") == 0)
		return cmd_idle();
	die("unknown subcommand %s", sub);
}
