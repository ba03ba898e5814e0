/* fsbench: storage benchmarks of vvmfs against a Maildir on ext4.
 *
 *   fsbench provision --dir D --mode vvmfs|maildir --mailboxes M [--base K]
 *                     [--writers N]
 *   fsbench deposit   --dir D --mode vvmfs|maildir --count C --size B
 *                     [--writers N] [--mailboxes M] [--base K]
 *                     [--flags none|varied]
 *   fsbench read      --dir MAILBOXDIR [--drop-caches]
 *   fsbench flags     --dir MAILBOXDIR --mode changes|xattr|maildir
 *                     [--reps R] [--expect N]
 *   fsbench walk      --dir D
 *   fsbench rss       --pid P [--label L]
 *
 * D is the vvmfs mount (mailbox k is D/<31600000000 + K + k>/INBOX) or an
 * ext4 directory (mailbox k is the Maildir D/md<K + k>), 0 <= k < M.
 * Deposit j (0 <= j < C) is made by writer j % N into mailbox j % M. Each subcommand prints
 * one line "RESULT <subcommand> key=value ..." on stdout. Any failed system
 * call aborts the run with a message on stderr and exit status 1: nothing
 * is ever silently counted. Times come from CLOCK_MONOTONIC. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MSISDN_BASE 31600000000ULL
#define READ_CHUNK (128 * 1024)
#define B64_LINE 76

enum mode { MODE_VVMFS, MODE_MAILDIR, MODE_CHANGES, MODE_XATTR };

struct opts {
	const char *dir;
	enum mode mode;
	bool mode_set;
	unsigned writers;
	unsigned mailboxes;
	unsigned base;
	unsigned long count;
	size_t size;
	bool varied_flags;
	bool drop_caches;
	unsigned reps;
	long expect;
	long pid;
	const char *label;
};

static struct opts o = {
	.writers = 1, .mailboxes = 1, .count = 0, .size = 40960,
	.reps = 200, .expect = -1, .pid = -1, .label = "",
};

/* ---- helpers ---------------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("fsbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

/* snprintf that aborts instead of truncating a path. */
static void xfmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void xfmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		die("path or text too long (%s)", fmt);
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

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
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
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static void write_all(int fd, const char *buf, size_t len, const char *path)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write %s: %s", path, strerror(errno));
		}
		if (n == 0)
			die("write %s: wrote 0 bytes", path);
		buf += n;
		len -= (size_t)n;
	}
}

static void mailbox_path(char *buf, size_t len, unsigned k)
{
	int n;

	if (o.mode == MODE_VVMFS)
		n = snprintf(buf, len, "%s/%llu/INBOX", o.dir,
			     MSISDN_BASE + o.base + k);
	else
		n = snprintf(buf, len, "%s/md%u", o.dir, o.base + k);
	if (n < 0 || (size_t)n >= len)
		die("path too long under %s", o.dir);
}

/* ---- message generation ----------------------------------------------- */

static char *b64_block;		/* random base64, B64_LINE chars + CRLF a line */
static size_t b64_lines;

static void make_b64_block(size_t max_size)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char *p;

	b64_lines = max_size / (B64_LINE + 2) + 72;
	b64_block = xmalloc(b64_lines * (B64_LINE + 2));
	p = b64_block;
	for (size_t l = 0; l < b64_lines; l++) {
		for (size_t i = 0; i < B64_LINE; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			*p++ = tbl[x & 63];
		}
		*p++ = '\r';
		*p++ = '\n';
	}
}

/* A VVM voice message (as voice_message() of the integration tests) whose
 * size is `target` bytes give or take a few; unique per id. */
static char *make_message(size_t target, unsigned long long id, size_t *len_r)
{
	char head[1024], tail[64];
	int hl, tl;
	size_t rest, full, part, off, len;
	char *msg;

	hl = snprintf(head, sizeof(head),
		      "From: +31600000001@example.net\r\n"
		      "To: 31612345678@example.net\r\n"
		      "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
		      "Subject: voice mail %llu\r\n"
		      "Message-ID: <fsbench-%llu@vvm.test>\r\n"
		      "Message-Context: voice-message\r\n"
		      "Content-Duration: 5\r\n"
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
		      "Content-Duration: 5\r\n"
		      "\r\n", id, id);
	tl = snprintf(tail, sizeof(tail), "--b1--\r\n");
	if (hl < 0 || tl < 0)
		die("snprintf failed");
	rest = target > (size_t)(hl + tl) + 8 ? target - (size_t)(hl + tl) : 8;
	full = rest / (B64_LINE + 2);
	part = rest % (B64_LINE + 2);
	part = part >= 6 ? ((part - 2) & ~(size_t)3) : 0;
	if (full + 1 > b64_lines - 64)
		die("message size %zu too large for the block", target);
	off = (size_t)(id % 64) * (B64_LINE + 2);
	len = (size_t)hl + full * (B64_LINE + 2) + (part ? part + 2 : 0) +
	      (size_t)tl;
	msg = xmalloc(len);
	memcpy(msg, head, (size_t)hl);
	memcpy(msg + hl, b64_block + off, full * (B64_LINE + 2));
	if (part) {
		memcpy(msg + hl + full * (B64_LINE + 2),
		       b64_block + off + full * (B64_LINE + 2), part);
		memcpy(msg + hl + full * (B64_LINE + 2) + part, "\r\n", 2);
	}
	memcpy(msg + len - (size_t)tl, tail, (size_t)tl);
	*len_r = len;
	return msg;
}

/* Flag sets of --flags varied: IMAP form and Maildir info letters. */
static const char *const imap_flags[] = {
	"", "\\Seen", "\\Answered \\Seen", "\\Flagged", "\\Deleted \\Seen",
	"\\Draft", "\\Flagged \\Seen", "\\Seen",
};
static const char *const maildir_flags[] = {
	"", "S", "RS", "F", "ST", "D", "FS", "S",
};
#define N_FLAGSETS (sizeof(imap_flags) / sizeof(imap_flags[0]))

/* ---- provision -------------------------------------------------------- */

struct prov_arg {
	unsigned w;
};

static void mkdir_ok(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

static void *prov_thread(void *arg)
{
	const struct prov_arg *a = arg;
	char path[4096], sub[4200];

	for (unsigned k = a->w; k < o.mailboxes; k += o.writers) {
		if (o.mode == MODE_VVMFS) {
			xfmt(path, sizeof(path), "%s/%llu", o.dir,
				 MSISDN_BASE + o.base + k);
			mkdir_ok(path);
			xfmt(sub, sizeof(sub), "%s/INBOX", path);
			struct stat st;
			if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
				die("%s missing after provisioning: %s", sub,
				    strerror(errno));
		} else {
			mailbox_path(path, sizeof(path), k);
			mkdir_ok(path);
			xfmt(sub, sizeof(sub), "%s/tmp", path);
			mkdir_ok(sub);
			xfmt(sub, sizeof(sub), "%s/new", path);
			mkdir_ok(sub);
			xfmt(sub, sizeof(sub), "%s/cur", path);
			mkdir_ok(sub);
		}
	}
	return NULL;
}

static void run_threads(void *(*fn)(void *), void *args, size_t argsize)
{
	pthread_t *t = xmalloc(sizeof(*t) * o.writers);
	int err;

	for (unsigned w = 0; w < o.writers; w++) {
		err = pthread_create(&t[w], NULL, fn, (char *)args + w * argsize);
		if (err != 0)
			die("pthread_create: %s", strerror(err));
	}
	for (unsigned w = 0; w < o.writers; w++) {
		err = pthread_join(t[w], NULL);
		if (err != 0)
			die("pthread_join: %s", strerror(err));
	}
	free(t);
}

static int cmd_provision(void)
{
	struct prov_arg *args = xmalloc(sizeof(*args) * o.writers);
	double t0, secs;

	for (unsigned w = 0; w < o.writers; w++)
		args[w].w = w;
	t0 = now();
	run_threads(prov_thread, args, sizeof(*args));
	secs = now() - t0;
	printf("RESULT provision mode=%s mailboxes=%u writers=%u secs=%.3f "
	       "rate=%.1f\n", o.mode == MODE_VVMFS ? "vvmfs" : "maildir",
	       o.mailboxes, o.writers, secs, o.mailboxes / secs);
	free(args);
	return 0;
}

/* ---- deposit ---------------------------------------------------------- */

struct dep_arg {
	unsigned w;
	double *lat;		/* seconds per deposit */
	size_t nlat;
	unsigned long long bytes;
	pthread_barrier_t *start;
};

static void deposit_vvmfs(const char *mbox, unsigned w, unsigned long long j,
			  const char *msg, size_t len, unsigned flagset)
{
	char path[4200], uid[32], err[512];
	ssize_t n;
	int fd;

	xfmt(path, sizeof(path), "%s/fsbench-w%u-%llu.tmp", mbox, w, j);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	write_all(fd, msg, len, path);
	if (o.varied_flags && imap_flags[flagset][0] != '\0' &&
	    fsetxattr(fd, "user.imap.flags", imap_flags[flagset],
		      strlen(imap_flags[flagset]), 0) != 0)
		die("fsetxattr user.imap.flags %s: %s", path, strerror(errno));
	if (fsync(fd) != 0) {
		int e = errno;

		n = fgetxattr(fd, "user.vvm.error", err, sizeof(err) - 1);
		err[n > 0 ? n : 0] = '\0';
		die("fsync %s (deposit rejected): %s; user.vvm.error: %s",
		    path, strerror(e), n > 0 ? err : "(none)");
	}
	n = fgetxattr(fd, "user.imap.uid", uid, sizeof(uid) - 1);
	if (n <= 0)
		die("fgetxattr user.imap.uid %s: %s", path,
		    n < 0 ? strerror(errno) : "empty");
	uid[n] = '\0';
	if (strtoull(uid, NULL, 10) == 0)
		die("%s: bad uid '%s'", path, uid);
	if (close(fd) != 0)
		die("close %s: %s", path, strerror(errno));
}

/* Maildir delivery as an MDA does it: tmp/unique, fsync, rename into new/,
 * fsync the target directory. With --flags varied the message goes to cur/
 * with its flags in the name (":2,FS"), as after an IMAP session saw it. */
static void deposit_maildir(const char *mbox, unsigned w, unsigned long long j,
			    const char *msg, size_t len, unsigned flagset)
{
	static pid_t pid;
	char unique[128], tmp[4400], dst[4400], dir[4300];
	bool cur = o.varied_flags;
	int fd, dfd;

	if (pid == 0)
		pid = getpid();
	xfmt(unique, sizeof(unique), "%lld.P%dQ%uM%llu.fsbench",
		 (long long)time(NULL), (int)pid, w, j);
	xfmt(tmp, sizeof(tmp), "%s/tmp/%s", mbox, unique);
	xfmt(dir, sizeof(dir), "%s/%s", mbox, cur ? "cur" : "new");
	if (cur)
		xfmt(dst, sizeof(dst), "%s/%s:2,%s", dir, unique,
			 maildir_flags[flagset]);
	else
		xfmt(dst, sizeof(dst), "%s/%s", dir, unique);
	fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open %s: %s", tmp, strerror(errno));
	write_all(fd, msg, len, tmp);
	if (fsync(fd) != 0)
		die("fsync %s: %s", tmp, strerror(errno));
	if (close(fd) != 0)
		die("close %s: %s", tmp, strerror(errno));
	if (rename(tmp, dst) != 0)
		die("rename %s -> %s: %s", tmp, dst, strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open %s: %s", dir, strerror(errno));
	if (fsync(dfd) != 0)
		die("fsync %s: %s", dir, strerror(errno));
	if (close(dfd) != 0)
		die("close %s: %s", dir, strerror(errno));
}

static void *dep_thread(void *arg)
{
	struct dep_arg *a = arg;
	char mbox[4096];
	int err;

	/* Messages j = w, w + N, w + 2N, ... go to mailbox j % M. */
	size_t mine = 0;
	for (unsigned long long j = a->w; j < o.count; j += o.writers)
		mine++;
	a->lat = xmalloc(sizeof(double) * mine);
	a->nlat = 0;
	a->bytes = 0;
	err = pthread_barrier_wait(a->start);
	if (err != 0 && err != PTHREAD_BARRIER_SERIAL_THREAD)
		die("pthread_barrier_wait: %s", strerror(err));
	for (unsigned long long j = a->w; j < o.count; j += o.writers) {
		size_t len;
		char *msg = make_message(o.size, j, &len);
		unsigned fs = (unsigned)(j % N_FLAGSETS);
		double t0;

		mailbox_path(mbox, sizeof(mbox), (unsigned)(j % o.mailboxes));
		t0 = now();
		if (o.mode == MODE_VVMFS)
			deposit_vvmfs(mbox, a->w, j, msg, len, fs);
		else
			deposit_maildir(mbox, a->w, j, msg, len, fs);
		a->lat[a->nlat++] = now() - t0;
		a->bytes += len;
		free(msg);
	}
	return NULL;
}

static int cmd_deposit(void)
{
	struct dep_arg *args = xmalloc(sizeof(*args) * o.writers);
	pthread_barrier_t start;
	double t0, secs, *all;
	unsigned long long bytes = 0;
	size_t n = 0;
	int err;

	if (o.count == 0)
		die("deposit: --count is required");
	make_b64_block(o.size);
	err = pthread_barrier_init(&start, NULL, o.writers + 1);
	if (err != 0)
		die("pthread_barrier_init: %s", strerror(err));
	for (unsigned w = 0; w < o.writers; w++) {
		args[w].w = w;
		args[w].start = &start;
	}
	/* The main thread joins the barrier, so the clock starts when every
	 * writer is ready. */
	pthread_t *t = xmalloc(sizeof(*t) * o.writers);
	for (unsigned w = 0; w < o.writers; w++) {
		err = pthread_create(&t[w], NULL, dep_thread, &args[w]);
		if (err != 0)
			die("pthread_create: %s", strerror(err));
	}
	err = pthread_barrier_wait(&start);
	if (err != 0 && err != PTHREAD_BARRIER_SERIAL_THREAD)
		die("pthread_barrier_wait: %s", strerror(err));
	t0 = now();
	for (unsigned w = 0; w < o.writers; w++) {
		err = pthread_join(t[w], NULL);
		if (err != 0)
			die("pthread_join: %s", strerror(err));
	}
	secs = now() - t0;
	all = xmalloc(sizeof(double) * o.count);
	for (unsigned w = 0; w < o.writers; w++) {
		memcpy(all + n, args[w].lat, args[w].nlat * sizeof(double));
		n += args[w].nlat;
		bytes += args[w].bytes;
		free(args[w].lat);
	}
	if (n != o.count)
		die("deposit: %zu deposits done, %lu asked", n, o.count);
	qsort(all, n, sizeof(double), cmp_double);
	printf("RESULT deposit mode=%s writers=%u mailboxes=%u count=%lu "
	       "size=%zu bytes=%llu secs=%.3f rate=%.1f p50_ms=%.2f "
	       "p99_ms=%.2f max_ms=%.2f\n",
	       o.mode == MODE_VVMFS ? "vvmfs" : "maildir", o.writers,
	       o.mailboxes, o.count, o.size, bytes, secs, (double)n / secs,
	       pct(all, n, 50) * 1e3, pct(all, n, 99) * 1e3,
	       all[n - 1] * 1e3);
	pthread_barrier_destroy(&start);
	free(all);
	free(t);
	free(args);
	return 0;
}

/* ---- read ------------------------------------------------------------- */

static char **list_files(const char *dir, size_t *n_r)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL)
		die("opendir %s: %s", dir, strerror(errno));
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				die("readdir %s: %s", dir, strerror(errno));
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				die("out of memory");
		}
		names[n++] = strdup(de->d_name);
		if (names[n - 1] == NULL)
			die("out of memory");
	}
	if (closedir(d) != 0)
		die("closedir %s: %s", dir, strerror(errno));
	*n_r = n;
	return names;
}

static void drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("open /proc/sys/vm/drop_caches: %s", strerror(errno));
	write_all(fd, "3\n", 2, "/proc/sys/vm/drop_caches");
	if (close(fd) != 0)
		die("close /proc/sys/vm/drop_caches: %s", strerror(errno));
}

static int cmd_read(void)
{
	size_t n;
	char **names;
	char *buf = xmalloc(READ_CHUNK);
	unsigned long long total = 0;
	double t0, secs;

	if (o.drop_caches)
		drop_caches();
	t0 = now();
	names = list_files(o.dir, &n);
	if (n == 0)
		die("read: no files in %s", o.dir);
	for (size_t i = 0; i < n; i++) {
		char path[4400];
		unsigned long long got = 0;
		struct stat st;
		ssize_t r;
		int fd;

		xfmt(path, sizeof(path), "%s/%s", o.dir, names[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		for (;;) {
			r = read(fd, buf, READ_CHUNK);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				die("read %s: %s", path, strerror(errno));
			}
			if (r == 0)
				break;
			got += (unsigned long long)r;
		}
		if (fstat(fd, &st) != 0)
			die("fstat %s: %s", path, strerror(errno));
		if ((unsigned long long)st.st_size != got)
			die("read %s: got %llu bytes, st_size %lld", path, got,
			    (long long)st.st_size);
		if (close(fd) != 0)
			die("close %s: %s", path, strerror(errno));
		total += got;
	}
	secs = now() - t0;
	printf("RESULT read dir=%s files=%zu bytes=%llu cold=%d secs=%.3f "
	       "mbps=%.1f\n", o.dir, n, total, o.drop_caches ? 1 : 0, secs,
	       (double)total / 1e6 / secs);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(buf);
	return 0;
}

/* ---- flags: uid/flag list of a mailbox --------------------------------- */

static long flags_changes(char **buf, size_t *cap)
{
	char path[4200];
	size_t len = 0;
	long lines = 0;
	int fd;

	xfmt(path, sizeof(path), "%s/.changes/0", o.dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t r;

		if (len == *cap) {
			*cap *= 2;
			*buf = realloc(*buf, *cap);
			if (*buf == NULL)
				die("out of memory");
		}
		r = read(fd, *buf + len, *cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("read %s: %s", path, strerror(errno));
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (close(fd) != 0)
		die("close %s: %s", path, strerror(errno));
	/* Count the "<uid> <modseq> <flags>" lines. */
	for (size_t i = 0; i < len; i++)
		if ((i == 0 || (*buf)[i - 1] == '\n') &&
		    (*buf)[i] >= '0' && (*buf)[i] <= '9')
			lines++;
	return lines;
}

static long flags_readdir(bool xattr, const char *sub)
{
	char dir[4200];
	DIR *d;
	struct dirent *de;
	long n = 0;

	if (xattr)
		xfmt(dir, sizeof(dir), "%s", o.dir);
	else
		xfmt(dir, sizeof(dir), "%s/%s", o.dir, sub);
	d = opendir(dir);
	if (d == NULL)
		die("opendir %s: %s", dir, strerror(errno));
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				die("readdir %s: %s", dir, strerror(errno));
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (xattr) {
			char val[256];
			char *end;
			ssize_t r;

			/* uid from the name, flags from the xattr */
			if (strtoul(de->d_name, &end, 10) == 0 ||
			    strcmp(end, ".eml") != 0)
				die("unexpected name %s/%s", dir, de->d_name);
			/* The naive way a script does it: getxattr on
			 * each path. */
			char path[4500];

			xfmt(path, sizeof(path), "%s/%s", dir, de->d_name);
			r = getxattr(path, "user.imap.flags", val,
				     sizeof(val) - 1);
			if (r < 0)
				die("getxattr %s: %s", path, strerror(errno));
			val[r] = '\0';
		} else {
			const char *info = strstr(de->d_name, ":2,");

			/* new/ holds messages without flags */
			if (info == NULL && strcmp(sub, "new") == 0)
				info = ":2,";
			if (info == NULL)
				die("maildir name without flags: %s",
				    de->d_name);
			for (const char *f = info + 3; *f; f++)
				if (*f < 'A' || *f > 'Z')
					die("bad flag in %s", de->d_name);
		}
		n++;
	}
	if (closedir(d) != 0)
		die("closedir %s: %s", dir, strerror(errno));
	return n;
}

static int cmd_flags(void)
{
	double *t = xmalloc(sizeof(double) * o.reps);
	size_t cap = 65536;
	char *buf = xmalloc(cap);
	long lines = -1;
	const char *name = o.mode == MODE_CHANGES ? "changes" :
			   o.mode == MODE_XATTR ? "xattr" : "maildir";

	for (unsigned r = 0; r < o.reps; r++) {
		double t0 = now();
		long got;

		if (o.mode == MODE_CHANGES)
			got = flags_changes(&buf, &cap);
		else if (o.mode == MODE_XATTR)
			got = flags_readdir(true, NULL);
		else	/* an IMAP server scans new/ and cur/ */
			got = flags_readdir(false, "new") +
			      flags_readdir(false, "cur");
		t[r] = now() - t0;
		if (o.expect >= 0 && got != o.expect)
			die("flags %s: %ld messages listed, %ld expected",
			    name, got, o.expect);
		lines = got;
	}
	qsort(t, o.reps, sizeof(double), cmp_double);
	printf("RESULT flags mode=%s messages=%ld reps=%u min_ms=%.3f "
	       "median_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", name, lines,
	       o.reps, t[0] * 1e3, pct(t, o.reps, 50) * 1e3,
	       pct(t, o.reps, 99) * 1e3, t[o.reps - 1] * 1e3);
	free(t);
	free(buf);
	return 0;
}

/* ---- walk: ls -R ---------------------------------------------------- */

static void walk(int parent, const char *name, const char *shown,
		 unsigned long *dirs, unsigned long *files)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		die("open %s: %s", shown, strerror(errno));
	d = fdopendir(fd);
	if (d == NULL)
		die("fdopendir %s: %s", shown, strerror(errno));
	(*dirs)++;
	for (;;) {
		unsigned char type;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				die("readdir %s: %s", shown, strerror(errno));
			break;
		}
		if (de->d_name[0] == '.')
			continue;	/* ls -R shows no dot files */
		type = de->d_type;
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(d), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) != 0)
				die("stat %s/%s: %s", shown, de->d_name,
				    strerror(errno));
			type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
		}
		if (type == DT_DIR) {
			char sub[4096];

			xfmt(sub, sizeof(sub), "%s/%s", shown, de->d_name);
			walk(dirfd(d), de->d_name, sub, dirs, files);
		} else {
			(*files)++;
		}
	}
	if (closedir(d) != 0)
		die("closedir %s: %s", shown, strerror(errno));
}

static int cmd_walk(void)
{
	unsigned long dirs = 0, files = 0;
	double t0 = now(), secs;

	walk(AT_FDCWD, o.dir, o.dir, &dirs, &files);
	secs = now() - t0;
	printf("RESULT walk dir=%s dirs=%lu files=%lu secs=%.3f\n", o.dir,
	       dirs, files, secs);
	return 0;
}

/* ---- rss ---------------------------------------------------------------- */

static int cmd_rss(void)
{
	char path[64], line[256];
	long rss = -1, hwm = -1, anon = -1, file = -1;
	FILE *f;

	xfmt(path, sizeof(path), "/proc/%ld/status", o.pid);
	f = fopen(path, "re");
	if (f == NULL)
		die("open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "VmRSS: %ld", &rss);
		sscanf(line, "VmHWM: %ld", &hwm);
		sscanf(line, "RssAnon: %ld", &anon);
		sscanf(line, "RssFile: %ld", &file);
	}
	if (ferror(f))
		die("read %s: %s", path, strerror(errno));
	fclose(f);
	if (rss < 0 || hwm < 0)
		die("%s: no VmRSS/VmHWM", path);
	printf("RESULT rss label=%s pid=%ld rss_mb=%.1f hwm_mb=%.1f "
	       "anon_mb=%.1f file_mb=%.1f\n", o.label[0] ? o.label : "-",
	       o.pid, rss / 1024.0, hwm / 1024.0, anon / 1024.0,
	       file / 1024.0);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static unsigned long parse_num(const char *opt, const char *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v)
		die("%s: bad number '%s'", opt, v);
	if (*end == 'K' || *end == 'k')
		n *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		n *= 1024 * 1024, end++;
	if (*end != '\0')
		die("%s: bad number '%s'", opt, v);
	return n;
}

static void usage(void)
{
	fputs("usage:\n"
	      "  fsbench provision --dir D --mode vvmfs|maildir --mailboxes M"
	      " [--base K] [--writers N]\n"
	      "  fsbench deposit --dir D --mode vvmfs|maildir --count C"
	      " [--size B] [--writers N] [--mailboxes M] [--base K]\n"
	      "      [--flags none|varied]\n"
	      "  fsbench read --dir MAILBOX [--drop-caches]\n"
	      "  fsbench flags --dir MAILBOX --mode changes|xattr|maildir"
	      " [--reps R] [--expect N]\n"
	      "  fsbench walk --dir D\n"
	      "  fsbench rss --pid P [--label L]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--drop-caches") == 0) {
			o.drop_caches = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--dir") == 0) {
			o.dir = v;
		} else if (strcmp(a, "--mode") == 0) {
			o.mode_set = true;
			if (strcmp(v, "vvmfs") == 0)
				o.mode = MODE_VVMFS;
			else if (strcmp(v, "maildir") == 0)
				o.mode = MODE_MAILDIR;
			else if (strcmp(v, "changes") == 0)
				o.mode = MODE_CHANGES;
			else if (strcmp(v, "xattr") == 0)
				o.mode = MODE_XATTR;
			else
				usage();
		} else if (strcmp(a, "--writers") == 0) {
			o.writers = (unsigned)parse_num(a, v);
		} else if (strcmp(a, "--base") == 0) {
			o.base = (unsigned)parse_num(a, v);
		} else if (strcmp(a, "--mailboxes") == 0) {
			o.mailboxes = (unsigned)parse_num(a, v);
		} else if (strcmp(a, "--count") == 0) {
			o.count = parse_num(a, v);
		} else if (strcmp(a, "--size") == 0) {
			o.size = parse_num(a, v);
		} else if (strcmp(a, "--flags") == 0) {
			if (strcmp(v, "varied") == 0)
				o.varied_flags = true;
			else if (strcmp(v, "none") != 0)
				usage();
		} else if (strcmp(a, "--reps") == 0) {
			o.reps = (unsigned)parse_num(a, v);
		} else if (strcmp(a, "--expect") == 0) {
			o.expect = (long)parse_num(a, v);
		} else if (strcmp(a, "--pid") == 0) {
			o.pid = (long)parse_num(a, v);
		} else if (strcmp(a, "--label") == 0) {
			o.label = v;
		} else {
			usage();
		}
	}
	if (o.writers == 0 || o.mailboxes == 0 || o.reps == 0)
		die("--writers, --mailboxes and --reps must be > 0");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "rss") == 0) {
		if (o.pid <= 0)
			usage();
		return cmd_rss();
	}
	if (o.dir == NULL)
		usage();
	if (strcmp(cmd, "provision") == 0 && o.mode_set &&
	    o.mode <= MODE_MAILDIR)
		return cmd_provision();
	if (strcmp(cmd, "deposit") == 0 && o.mode_set &&
	    o.mode <= MODE_MAILDIR)
		return cmd_deposit();
	if (strcmp(cmd, "read") == 0)
		return cmd_read();
	if (strcmp(cmd, "flags") == 0 && o.mode_set && o.mode != MODE_VVMFS) {
		if (o.mode == MODE_MAILDIR || o.mode == MODE_XATTR ||
		    o.mode == MODE_CHANGES)
			return cmd_flags();
	}
	if (strcmp(cmd, "walk") == 0)
		return cmd_walk();
	usage();
}
