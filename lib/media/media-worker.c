/* Runs a transcode in vvm-media-worker, a separate process: a plugin that
 * crashes or spins on a hostile file then costs that process only. The
 * worker limits its own memory, CPU time and output size (rlimits, set
 * before it reads a byte); this side kills it past the wall-clock budget.
 * Input, output and the reason for a failure travel in memfds, so no pipe
 * can fill and block either side. */
#include "vvm-media.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_REASON 512

void media_worker_use_registry(GKeyFile *config)
{
	g_autofree char *registry = config != NULL
		? g_key_file_get_string(config, "media", "registry", NULL)
		: NULL;

	if (registry != NULL && *g_strstrip(registry) != '\0')
		g_setenv("GST_REGISTRY_1_0", registry, TRUE);
}

char *media_worker_path(GKeyFile *config)
{
	char *path = config != NULL
		? g_key_file_get_string(config, "media", "worker", NULL)
		: NULL;

	return path != NULL ? path : g_strdup(VVM_MEDIA_WORKER);
}

static int memfd_with(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			close(fd);
			return -err;
		}
		done += (size_t)n;
	}
	return fd;
}

static uint64_t memfd_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) < 0 ? 0 : (uint64_t)st.st_size;
}

/* Reads at most len bytes from offset; NUL-terminated, for text. */
static char *read_memfd(int fd, uint64_t offset, size_t len, size_t *len_r)
{
	char *buf = g_try_malloc(len + 1);
	size_t done = 0;

	if (buf == NULL)
		return NULL;
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done,
				  (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	buf[done] = '\0';
	*len_r = done;
	return buf;
}

/* The worker's reason for failing is the last line it wrote to stderr:
 * a plugin may have printed warnings before it. NULL when there is none. */
static char *read_reason(int fd)
{
	uint64_t size = memfd_size(fd);
	uint64_t offset = size > MAX_REASON ? size - MAX_REASON : 0;
	size_t len;
	g_autofree char *text = read_memfd(fd, offset, size - offset, &len);
	const char *line;

	if (text == NULL)
		return NULL;
	g_strchomp(text);
	line = strrchr(text, '\n');
	line = line != NULL ? line + 1 : text;
	return *line != '\0' ? g_strdup(line) : NULL;
}

static int spawn(const char *worker, char **argv, const int fds[3],
		 pid_t *pid_r)
{
	posix_spawn_file_actions_t actions;
	int ret;

	posix_spawn_file_actions_init(&actions);
	for (int i = 0; i < 3; i++)
		posix_spawn_file_actions_adddup2(&actions, fds[i], i);
	ret = posix_spawn(pid_r, worker, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	return -ret;
}

/* Waits for the worker, killing it past the wall-clock budget. Returns
 * its wait status, or -ETIMEDOUT. */
static int wait_worker(pid_t pid, unsigned wall_seconds)
{
	int pidfd = pidfd_open(pid, 0);
	int status, ret = 0;

	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int64_t deadline = g_get_monotonic_time() +
				   (int64_t)wall_seconds * G_USEC_PER_SEC;

		for (;;) {
			int64_t left = deadline - g_get_monotonic_time();
			int n = left <= 0 ? 0 : poll(&p, 1, (int)(left / 1000 + 1));

			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0) {
				kill(pid, SIGKILL);
				ret = -ETIMEDOUT;
			}
			break;
		}
		close(pidfd);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -ECHILD;
	}
	return ret < 0 ? ret : status;
}

static char **worker_argv(const char *worker, enum media_target target,
			  const struct media_budget *b)
{
	GPtrArray *argv = g_ptr_array_new();

	g_ptr_array_add(argv, g_strdup(worker));
	g_ptr_array_add(argv, g_strdup_printf("--to=%s", media_target_token(target)));
	g_ptr_array_add(argv, g_strdup_printf("--max-output=%" G_GUINT64_FORMAT, b->max_output));
	g_ptr_array_add(argv, g_strdup_printf("--max-duration-ms=%" G_GUINT64_FORMAT, b->max_duration_ms));
	g_ptr_array_add(argv, g_strdup_printf("--wall-seconds=%u", b->wall_seconds));
	g_ptr_array_add(argv, g_strdup_printf("--cpu-seconds=%u", b->cpu_seconds));
	g_ptr_array_add(argv, g_strdup_printf("--memory-mb=%u", b->memory_mb));
	g_ptr_array_add(argv, NULL);
	return (char **)g_ptr_array_free(argv, FALSE);
}

/* The worker's exit status is the errno of media_gst_transcode(); any
 * other status means the program is not (or no longer) the worker. */
static int worker_error(int status)
{
	switch (status) {
	case EINVAL:
	case EFBIG:
	case ENOTSUP:
	case EIO:
	case ENOMEM:
	case ETIMEDOUT:
		return -status;
	default:
		return -ECHILD;
	}
}

/* Turns what the worker left into the result. */
static int collect(const char *worker, int status, const int fds[3],
		   uint64_t max_output, GBytes **out_r, char **reason_r)
{
	size_t len;
	char *text;
	int ret;

	if (status == -ETIMEDOUT) {
		*reason_r = g_strdup("transcoding took longer than the budget");
		return -ETIMEDOUT;
	}
	if (WIFSIGNALED(status)) {
		*reason_r = g_strdup_printf("the media worker died of signal %d (%s)",
					    WTERMSIG(status),
					    WTERMSIG(status) == SIGXCPU
					    ? "CPU budget" : g_strsignal(WTERMSIG(status)));
		return -ECHILD;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		text = read_reason(fds[2]);
		ret = worker_error(WEXITSTATUS(status));
		/* A status the worker does not use: name the program. */
		*reason_r = ret != -ECHILD && text != NULL
			? g_steal_pointer(&text)
			: g_strdup_printf("%s (%s exited with status %d)",
					  text != NULL ? text
						       : "the media worker failed",
					  worker, WEXITSTATUS(status));
		g_free(text);
		return ret;
	}
	/* The worker keeps to the budget; more is a worker that does not. */
	if (memfd_size(fds[1]) > max_output) {
		*reason_r = g_strdup("the media worker's output is larger than the budget");
		return -EFBIG;
	}
	text = read_memfd(fds[1], 0, memfd_size(fds[1]), &len);
	if (text == NULL) {
		*reason_r = g_strdup("cannot read the media worker's output");
		return -EIO;
	}
	*out_r = g_bytes_new_take(text, len);
	return 0;
}

int media_transcode_isolated(const char *worker, const void *data, size_t len,
			     enum media_target target,
			     const struct media_budget *budget, GBytes **out_r,
			     char **reason_r)
{
	struct media_budget b = *budget;
	int fds[3] = { -1, -1, -1 };
	g_auto(GStrv) argv = NULL;
	pid_t pid;
	int ret;

	media_budget_defaults(&b);
	if (len > b.max_input) {
		*reason_r = g_strdup("input larger than the budget");
		return -EFBIG;
	}
	fds[0] = memfd_with("vvm-media-in", data, len);
	fds[1] = memfd_with("vvm-media-out", NULL, 0);
	fds[2] = memfd_with("vvm-media-err", NULL, 0);
	for (int i = 0; i < 3; i++) {
		if (fds[i] < 0) {
			ret = fds[i];
			*reason_r = g_strdup_printf("memfd: %s", g_strerror(-ret));
			goto out;
		}
	}
	lseek(fds[0], 0, SEEK_SET);
	argv = worker_argv(worker, target, &b);
	ret = spawn(worker, argv, fds, &pid);
	if (ret < 0) {
		*reason_r = g_strdup_printf("cannot start %s: %s", worker,
					    g_strerror(-ret));
		ret = -ECHILD;
		goto out;
	}
	ret = collect(worker, wait_worker(pid, b.wall_seconds), fds,
		      b.max_output, out_r, reason_r);
out:
	for (int i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	return ret;
}
